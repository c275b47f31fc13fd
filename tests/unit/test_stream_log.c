/* The stream log (src/stream/log.h): format, reads, index, recovery, retention, and crash
 * tests through injected io tables (a shadow io that loses unsynced data, failing and short
 * writes, failing fsyncs), plus a sync thread racing appends and reads. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "stream/log.h"
#include "test.h"

/* The portable CRC32C in log.c (internal; the hardware path must agree with it). */
uint32_t ll__crc32c_sw(uint32_t crc, const void *buf, size_t len);

/* ---- helpers ----------------------------------------------------------------------------- */

static char *mktmp(void) {
  char t[] = "/tmp/ll-log-test-XXXXXX";
  CHECK(mkdtemp(t) != NULL);
  return strdup(t);
}

static char *join(const char *dir, const char *name) {
  char *p = malloc(strlen(dir) + strlen(name) + 2);
  sprintf(p, "%s/%s", dir, name);
  return p;
}

static void rmtmp(char *t) {
  ll_err_t err = LL_ERR_INIT;
  CHECK_INTEQ(ll_log_destroy(t, &err), 0);
  CHECK(access(t, F_OK) < 0 && errno == ENOENT);
  free(t);
}

static char *seg_file(const char *dir, uint64_t base, const char *ext) {
  char name[64];
  snprintf(name, sizeof name, "%020" PRIu64 ".%s", base, ext);
  return join(dir, name);
}

/* Sorted bases of the files "<20 digits>.<ext>" in dir; returns how many (at most max). */
static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}
static size_t list_bases(const char *dir, const char *ext, uint64_t *out, size_t max) {
  DIR *d = opendir(dir);
  CHECK(d != NULL);
  size_t n = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    size_t l = strlen(de->d_name);
    if (l != 21 + strlen(ext) || strcmp(de->d_name + 21, ext) != 0) continue;
    CHECK(n < max);
    out[n++] = strtoull(de->d_name, NULL, 10);
  }
  closedir(d);
  qsort(out, n, sizeof *out, cmp_u64);
  return n;
}

static off_t file_size(const char *path) {
  struct stat st;
  CHECK(stat(path, &st) == 0);
  return st.st_size;
}

static void flip_byte(const char *path, off_t off) {
  int fd = open(path, O_RDWR);
  CHECK(fd >= 0);
  unsigned char c;
  CHECK(pread(fd, &c, 1, off) == 1);
  c ^= 0x5a;
  CHECK(pwrite(fd, &c, 1, off) == 1);
  close(fd);
}

static void append_bytes(const char *path, const void *buf, size_t n) {
  int fd = open(path, O_WRONLY | O_APPEND);
  CHECK(fd >= 0);
  CHECK(write(fd, buf, n) == (ssize_t)n);
  close(fd);
}

static uint8_t *read_file(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return NULL;
  off_t sz = lseek(fd, 0, SEEK_END);
  uint8_t *b = malloc((size_t)sz + 1);
  CHECK(pread(fd, b, (size_t)sz, 0) == sz);
  close(fd);
  *len = (size_t)sz;
  return b;
}

static uint64_t mix(uint64_t x) { /* splitmix64 */
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static uint64_t rng_state = 1;
static uint64_t rnd(void) { return mix(rng_state++); }

/* Deterministic record contents from (seq, salt): a short key (sometimes empty), binary data
 * with zero bytes (sometimes empty). */
#define GEN_DMAX 700
typedef struct gen {
  uint8_t key[32];
  size_t klen;
  uint8_t data[GEN_DMAX];
  size_t dlen;
} gen_t;

static void gen(uint64_t seq, uint32_t salt, size_t dmax, gen_t *g) {
  uint64_t h = mix(seq * 1000003u + salt);
  g->klen = h % 17;
  g->dlen = dmax ? (h >> 8) % (dmax + 1) : 0;
  for (size_t i = 0; i < g->klen; i++) g->key[i] = (uint8_t)('a' + (mix(h + i) % 26));
  for (size_t i = 0; i < g->dlen; i++) g->data[i] = i % 5 == 0 ? 0 : (uint8_t)mix(h ^ (i * 7919));
}

static int64_t default_ms(uint64_t seq) { return (int64_t)(seq / 3) * 10; }

static uint64_t append_gen(ll_log_t *log, uint64_t seq, uint32_t salt, size_t dmax, int64_t ms) {
  gen_t g;
  gen(seq, salt, dmax, &g);
  uint64_t got = 0;
  ll_err_t err = LL_ERR_INIT;
  int r = ll_log_append(log, ms, g.key, g.klen, g.data, g.dlen, &got, &err);
  if (r != 0) fprintf(stderr, "append: %s\n", err.msg);
  CHECK_INTEQ(r, 0);
  CHECK_INTEQ(got, seq);
  return got;
}

/* Checks records as read: contiguous from `next`, contents per gen (salt per seq from salts[]
 * when given), arrival per ms[] or default_ms. */
typedef struct chk {
  uint64_t next;
  const uint32_t *salts;
  uint32_t salt;
  const int64_t *ms;
  size_t dmax;
  size_t n, bytes, stop_after;
} chk_t;

static int check_cb(void *ud, const ll_log_record_t *rec) {
  chk_t *c = ud;
  CHECK_INTEQ(rec->seq, c->next);
  gen_t g;
  /* With salts[], contents come from a per-append id alone (numbers get reused by crashes). */
  if (c->salts) gen(0, c->salts[rec->seq], c->dmax, &g);
  else gen(rec->seq, c->salt, c->dmax, &g);
  CHECK_INTEQ(rec->arrival_ms, c->ms ? c->ms[rec->seq] : default_ms(rec->seq));
  CHECK_INTEQ(rec->key_len, g.klen);
  CHECK_INTEQ(rec->data_len, g.dlen);
  CHECK(g.klen == 0 || memcmp(rec->key, g.key, g.klen) == 0);
  CHECK(g.dlen == 0 || memcmp(rec->data, g.data, g.dlen) == 0);
  c->next++;
  c->n++;
  c->bytes += rec->key_len + rec->data_len;
  return c->stop_after && c->n == c->stop_after;
}

/* Reads [from, ...] with limits and checks; returns the count and sets *next. */
static size_t read_check(ll_log_t *log, uint64_t from, uint64_t upto, size_t maxr, size_t maxb,
                         chk_t c, uint64_t expect_first, uint64_t *next) {
  ll_err_t err = LL_ERR_INIT;
  c.next = expect_first;
  c.n = c.bytes = 0;
  uint64_t nx = 12345;
  int r = ll_log_read(log, from, upto, maxr, maxb, check_cb, &c, &nx, &err);
  if (r != 0) fprintf(stderr, "read: %s\n", err.msg);
  CHECK_INTEQ(r, 0);
  if (c.n) CHECK_INTEQ(nx, c.next);
  if (next) *next = nx;
  return c.n;
}

/* Reads and checks every retained record. */
static void check_all(ll_log_t *log, chk_t c) {
  uint64_t first = ll_log_first_seq(log), last = ll_log_last_seq(log), next;
  size_t n = read_check(log, 0, UINT64_MAX, SIZE_MAX, SIZE_MAX, c, first ? first : 0, &next);
  if (first == 0) {
    CHECK_INTEQ(n, 0);
  } else {
    CHECK_INTEQ(n, last - first + 1);
    CHECK_INTEQ(next, last + 1);
  }
}

static ll_log_t *open_log(const char *dir, uint64_t first, const ll_log_opts_t *o) {
  ll_log_t *log = NULL;
  ll_err_t err = LL_ERR_INIT;
  int r = ll_log_open(dir, first, o, &log, &err);
  if (r != 0) fprintf(stderr, "open: %s\n", err.msg);
  CHECK_INTEQ(r, 0);
  CHECK(log != NULL);
  return log;
}

static uint64_t sync_ok(ll_log_t *log) {
  ll_err_t err = LL_ERR_INIT;
  uint64_t d = 0;
  int r = ll_log_sync(log, &d, &err);
  if (r != 0) fprintf(stderr, "sync: %s\n", err.msg);
  CHECK_INTEQ(r, 0);
  CHECK_INTEQ(d, ll_log_durable_seq(log));
  return d;
}

/* ---- CRC --------------------------------------------------------------------------------- */

LL_TEST(stream_log_crc32c_check_value_and_paths_agree) {
  CHECK_INTEQ(ll_crc32c(0, "123456789", 9), 0xE3069283u);
  CHECK_INTEQ(ll__crc32c_sw(0, "123456789", 9), 0xE3069283u);
  CHECK_INTEQ(ll_crc32c(0, "", 0), 0);
  /* Running value: two pieces give the CRC of the whole. */
  CHECK_INTEQ(ll_crc32c(ll_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
  /* 32 zero bytes: a published CRC32C test vector (RFC 3720, B.4). */
  uint8_t z[32] = {0};
  CHECK_INTEQ(ll_crc32c(0, z, 32), 0x8A9136AAu);
  uint8_t buf[1100];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)mix(i);
  for (size_t off = 0; off < 8; off++)
    for (size_t len = 0; len + off <= sizeof buf; len += len < 80 ? 1 : 37) {
      uint32_t a = ll_crc32c(0, buf + off, len), b = ll__crc32c_sw(0, buf + off, len);
      CHECK_INTEQ(a, b);
      uint32_t c = ll_crc32c(0x12345678u, buf + off, len), d = ll__crc32c_sw(0x12345678u, buf + off, len);
      CHECK_INTEQ(c, d);
      size_t h = len / 3;
      CHECK_INTEQ(ll_crc32c(ll__crc32c_sw(0, buf + off, h), buf + off + h, len - h), a);
    }
}

/* ---- basics ------------------------------------------------------------------------------ */

typedef struct copy {
  uint64_t seq;
  int64_t ms;
  uint8_t *key, *data;
  size_t klen, dlen;
} copy_t;
typedef struct copies {
  copy_t v[64];
  size_t n;
} copies_t;

static int copy_cb(void *ud, const ll_log_record_t *rec) {
  copies_t *c = ud;
  CHECK(c->n < 64);
  copy_t *x = &c->v[c->n++];
  x->seq = rec->seq;
  x->ms = rec->arrival_ms;
  x->klen = rec->key_len;
  x->dlen = rec->data_len;
  x->key = malloc(x->klen + 1);
  x->data = malloc(x->dlen + 1);
  memcpy(x->key, rec->key, x->klen);
  memcpy(x->data, rec->data, x->dlen);
  return 0;
}

static void copies_free(copies_t *c) {
  for (size_t i = 0; i < c->n; i++) {
    free(c->v[i].key);
    free(c->v[i].data);
  }
  c->n = 0;
}

LL_TEST(stream_log_round_trips_keys_and_binary_data) {
  char *tmp = mktmp();
  char *dir = join(tmp, "a/b/shard"); /* created with its parents */
  ll_log_t *log = open_log(dir, 1, NULL);
  CHECK_INTEQ(ll_log_first_seq(log), 0);
  CHECK_INTEQ(ll_log_last_seq(log), 0);
  CHECK_INTEQ(ll_log_durable_seq(log), 0);

  size_t big = 3u << 20; /* bigger than the reader's chunk */
  uint8_t *bigdata = malloc(big);
  for (size_t i = 0; i < big; i++) bigdata[i] = (uint8_t)mix(i);
  char *bigkey = malloc(LL_LOG_KEY_MAX);
  memset(bigkey, 'k', LL_LOG_KEY_MAX);
  struct {
    const void *key;
    size_t klen;
    const void *data;
    size_t dlen;
  } in[] = {
      {"pk", 2, "hello", 5},
      {"", 0, "\0\1\2\0\377", 5},
      {"k\0ey", 4, NULL, 0},
      {NULL, 0, NULL, 0},
      {bigkey, LL_LOG_KEY_MAX, bigdata, big},
      {"z", 1, bigdata, 1000},
  };
  size_t nin = sizeof in / sizeof in[0];
  ll_err_t err = LL_ERR_INIT;
  for (size_t i = 0; i < nin; i++) {
    uint64_t seq = 0;
    CHECK_INTEQ(ll_log_append(log, 1000 + (int64_t)i, in[i].key, in[i].klen, in[i].data,
                              in[i].dlen, &seq, &err), 0);
    CHECK_INTEQ(seq, i + 1);
  }
  /* Too large: a key over 65535 bytes, a body over LL_LOG_RECORD_MAX. The log goes on. */
  uint64_t seq = 0;
  CHECK_INTEQ(ll_log_append(log, 2000, bigkey, LL_LOG_KEY_MAX + 1u, "x", 1, &seq, &err), -1);
  CHECK_INTEQ(err.code, EMSGSIZE);
  uint8_t *huge = calloc(1, LL_LOG_RECORD_MAX);
  CHECK_INTEQ(ll_log_append(log, 2000, "k", 1, huge, LL_LOG_RECORD_MAX - 18, &seq, &err), -1);
  CHECK_INTEQ(err.code, EMSGSIZE);
  CHECK_INTEQ(ll_log_append(log, 2000, NULL, 0, huge, LL_LOG_RECORD_MAX - 18, &seq, &err), 0);
  CHECK_INTEQ(seq, nin + 1);
  free(huge);
  CHECK_INTEQ(ll_log_first_seq(log), 1);
  CHECK_INTEQ(ll_log_last_seq(log), nin + 1);

  for (int pass = 0; pass < 2; pass++) {
    copies_t c = {.n = 0};
    uint64_t next = 0;
    CHECK_INTEQ(ll_log_read(log, 1, nin, 100, SIZE_MAX, copy_cb, &c, &next, &err), 0);
    CHECK_INTEQ(c.n, nin);
    CHECK_INTEQ(next, nin + 1);
    for (size_t i = 0; i < nin; i++) {
      CHECK_INTEQ(c.v[i].seq, i + 1);
      CHECK_INTEQ(c.v[i].ms, 1000 + (int64_t)i);
      CHECK_INTEQ(c.v[i].klen, in[i].klen);
      CHECK_INTEQ(c.v[i].dlen, in[i].dlen);
      CHECK(in[i].klen == 0 || memcmp(c.v[i].key, in[i].key, in[i].klen) == 0);
      CHECK(in[i].dlen == 0 || memcmp(c.v[i].data, in[i].data, in[i].dlen) == 0);
    }
    copies_free(&c);
    /* The same after a clean reopen. */
    CHECK_INTEQ(sync_ok(log), nin + 1);
    ll_log_close(log);
    log = open_log(dir, 1, NULL);
    CHECK_INTEQ(ll_log_last_seq(log), nin + 1);
    CHECK_INTEQ(ll_log_durable_seq(log), nin + 1);
  }
  ll_log_close(log);
  free(bigdata);
  free(bigkey);
  free(dir);
  rmtmp(tmp);
}

LL_TEST(stream_log_numbers_from_first_seq) {
  char *tmp = mktmp();
  ll_log_t *log = open_log(tmp, 1000, NULL);
  CHECK_INTEQ(ll_log_first_seq(log), 0);
  CHECK_INTEQ(ll_log_last_seq(log), 0);
  CHECK_INTEQ(ll_log_seq_at_time(log, 0), 1000);
  chk_t c = {.salt = 1, .dmax = 50};
  uint64_t next;
  CHECK_INTEQ(read_check(log, 1, UINT64_MAX, 10, SIZE_MAX, c, 0, &next), 0);
  CHECK_INTEQ(next, 1000); /* an empty log's reads start at the number to come */
  CHECK_INTEQ(read_check(log, 2000, UINT64_MAX, 10, SIZE_MAX, c, 0, &next), 0);
  CHECK_INTEQ(next, 2000);
  for (uint64_t s = 1000; s < 1010; s++) append_gen(log, s, 1, 50, default_ms(s));
  CHECK_INTEQ(ll_log_first_seq(log), 1000);
  CHECK_INTEQ(ll_log_last_seq(log), 1009);
  CHECK_INTEQ(read_check(log, 1, UINT64_MAX, 100, SIZE_MAX, c, 1000, &next), 10);
  sync_ok(log);
  ll_log_close(log);
  /* first_seq matters only to an empty log. */
  log = open_log(tmp, 1, NULL);
  CHECK_INTEQ(ll_log_first_seq(log), 1000);
  append_gen(log, 1010, 1, 50, default_ms(1010));
  ll_log_close(log);
  ll_err_t err = LL_ERR_INIT;
  CHECK_INTEQ(ll_log_open(tmp, 0, NULL, &log, &err), -1);
  rmtmp(tmp);
}

/* ---- many segments: read limits, next_seq, seq_at_time ----------------------------------- */

LL_TEST(stream_log_reads_across_segments_with_limits) {
  char *tmp = mktmp();
  ll_log_opts_t o = {.segment_bytes = 600, .index_every = 100};
  ll_log_t *log = open_log(tmp, 1, &o);
  const uint64_t N = 1500;
  chk_t c = {.salt = 7, .dmax = 120};
  for (uint64_t s = 1; s <= N; s++) append_gen(log, s, 7, 120, default_ms(s));
  uint64_t bases[4096];
  size_t nseg = list_bases(tmp, "log", bases, 4096);
  CHECK(nseg > 50);
  check_all(log, c);

  uint64_t next;
  /* from_seq older than the first retained, and 0, start at the first. */
  CHECK_INTEQ(read_check(log, 0, UINT64_MAX, 5, SIZE_MAX, c, 1, &next), 5);
  CHECK_INTEQ(next, 6);
  /* Beyond the last: nothing, next_seq = from_seq. */
  CHECK_INTEQ(read_check(log, N + 1, UINT64_MAX, 5, SIZE_MAX, c, 0, &next), 0);
  CHECK_INTEQ(next, N + 1);
  CHECK_INTEQ(read_check(log, N + 50, UINT64_MAX, 5, SIZE_MAX, c, 0, &next), 0);
  CHECK_INTEQ(next, N + 50);
  /* upto */
  CHECK_INTEQ(read_check(log, 10, 20, 100, SIZE_MAX, c, 10, &next), 11);
  CHECK_INTEQ(next, 21);
  CHECK_INTEQ(read_check(log, 10, 9, 100, SIZE_MAX, c, 0, &next), 0);
  CHECK_INTEQ(next, 10);
  CHECK_INTEQ(read_check(log, 10, 0, 100, SIZE_MAX, c, 0, &next), 0);
  CHECK_INTEQ(next, 10);
  /* max_records 0 reads nothing */
  CHECK_INTEQ(read_check(log, 10, UINT64_MAX, 0, SIZE_MAX, c, 0, &next), 0);
  CHECK_INTEQ(next, 10);
  /* max_bytes: the first record always; then while the total stays within. */
  CHECK_INTEQ(read_check(log, 1, UINT64_MAX, 100, 0, c, 1, &next), 1);
  CHECK_INTEQ(next, 2);
  for (int t = 0; t < 300; t++) {
    uint64_t from = 1 + rnd() % (N + 5);
    size_t maxb = rnd() % 2000, maxr = 1 + rnd() % 40;
    uint64_t upto = rnd() % 4 ? UINT64_MAX : from + rnd() % 50;
    /* Expected, by brute force over gen(). */
    size_t en = 0, eb = 0;
    uint64_t s = from;
    for (; s <= N && s <= upto && en < maxr; s++) {
      gen_t g;
      gen(s, 7, 120, &g);
      size_t sz = g.klen + g.dlen;
      if (en > 0 && eb + sz > maxb) break;
      en++;
      eb += sz;
    }
    chk_t cc = c;
    CHECK_INTEQ(read_check(log, from, upto, maxr, maxb, cc, from, &next), en);
    CHECK_INTEQ(next, en ? from + en : from);
  }
  /* The callback stops early, after its record. */
  chk_t stop = c;
  stop.stop_after = 3;
  CHECK_INTEQ(read_check(log, 700, UINT64_MAX, 100, SIZE_MAX, stop, 700, &next), 3);
  CHECK_INTEQ(next, 703);
  stop.stop_after = 1;
  CHECK_INTEQ(read_check(log, N, UINT64_MAX, 100, SIZE_MAX, stop, N, &next), 1);
  CHECK_INTEQ(next, N + 1);
  /* Paging through with next_seq. */
  uint64_t from = 0;
  size_t total = 0;
  for (;;) {
    size_t n = read_check(log, from, UINT64_MAX, 17, 900, c, from ? from : 1, &next);
    if (!n) break;
    total += n;
    from = next;
  }
  CHECK_INTEQ(total, N);
  CHECK_INTEQ(from, N + 1);

  /* seq_at_time: the first seq whose arrival >= ms (arrivals repeat: seq/3*10). */
  for (int64_t ms = -20; ms <= default_ms(N) + 30; ms += 3) {
    uint64_t want = N + 1;
    for (uint64_t s2 = 1; s2 <= N; s2++)
      if (default_ms(s2) >= ms) {
        want = s2;
        break;
      }
    CHECK_INTEQ(ll_log_seq_at_time(log, ms), want);
  }
  ll_log_close(log);
  rmtmp(tmp);
}

/* ---- index files ------------------------------------------------------------------------- */

LL_TEST(stream_log_reopen_uses_and_rebuilds_index_files) {
  char *tmp = mktmp();
  ll_log_opts_t o = {.segment_bytes = 2000, .index_every = 150};
  ll_log_t *log = open_log(tmp, 1, &o);
  const uint64_t N = 800;
  chk_t c = {.salt = 3, .dmax = 200};
  for (uint64_t s = 1; s <= N; s++) append_gen(log, s, 3, 200, default_ms(s));
  CHECK_INTEQ(sync_ok(log), N);
  ll_log_close(log); /* writes the .idx of every sealed (and synced) segment */

  uint64_t logs[1024], idxs[1024];
  size_t nlogs = list_bases(tmp, "log", logs, 1024), nidx = list_bases(tmp, "idx", idxs, 1024);
  CHECK(nlogs > 10);
  CHECK_INTEQ(nidx, nlogs - 1); /* not the active segment */
  for (size_t i = 0; i < nidx; i++) CHECK_INTEQ(idxs[i], logs[i]);

  /* Damage three: removed, one flipped byte, cut short. */
  size_t victims[3] = {1, nidx / 2, nidx - 1};
  uint8_t *orig[3];
  size_t origlen[3];
  for (int v = 0; v < 3; v++) {
    char *p = seg_file(tmp, idxs[victims[v]], "idx");
    orig[v] = read_file(p, &origlen[v]);
    CHECK(orig[v] != NULL);
    if (v == 0) CHECK(unlink(p) == 0);
    if (v == 1) flip_byte(p, 30);
    if (v == 2) CHECK(truncate(p, (off_t)origlen[v] - 5) == 0);
    free(p);
  }
  log = open_log(tmp, 1, &o);
  CHECK_INTEQ(ll_log_first_seq(log), 1);
  CHECK_INTEQ(ll_log_last_seq(log), N);
  CHECK_INTEQ(ll_log_durable_seq(log), N);
  check_all(log, c);
  for (int v = 0; v < 3; v++) { /* rebuilt, byte for byte */
    char *p = seg_file(tmp, idxs[victims[v]], "idx");
    size_t len;
    uint8_t *now = read_file(p, &len);
    CHECK(now != NULL);
    CHECK_INTEQ(len, origlen[v]);
    CHECK(memcmp(now, orig[v], len) == 0);
    free(now);
    free(orig[v]);
    free(p);
  }
  for (int64_t ms = 0; ms <= default_ms(N); ms += 7) {
    uint64_t want = (uint64_t)(ms + 9) / 10 * 3;
    if (want == 0) want = 1;
    CHECK_INTEQ(ll_log_seq_at_time(log, ms), want);
  }
  /* A stray .idx without a segment goes; appends go on. */
  char *stray = seg_file(tmp, 999999, "idx");
  int fd = open(stray, O_CREAT | O_WRONLY, 0644);
  CHECK(fd >= 0);
  close(fd);
  for (uint64_t s = N + 1; s <= N + 50; s++) append_gen(log, s, 3, 200, default_ms(s));
  sync_ok(log);
  ll_log_close(log);
  log = open_log(tmp, 1, &o);
  CHECK(access(stray, F_OK) < 0);
  CHECK_INTEQ(ll_log_last_seq(log), N + 50);
  check_all(log, c);
  ll_log_close(log);
  free(stray);
  rmtmp(tmp);
}

LL_TEST(stream_log_distrusts_a_stale_index_file) {
  /* A well-formed .idx (good crc32c, its last entry a good record) that stops short of the
   * segment's end, as one left from before the segment grew would: open must not believe
   * it, or the next segment would look like it does not follow on. */
  char *tmp = mktmp();
  ll_log_opts_t o = {.segment_bytes = 3000, .index_every = 100};
  ll_log_t *log = open_log(tmp, 1, &o);
  chk_t c = {.salt = 12, .dmax = 100};
  for (uint64_t s = 1; s <= 200; s++) append_gen(log, s, 12, 100, default_ms(s));
  sync_ok(log);
  ll_log_close(log);
  uint64_t b[64];
  CHECK(list_bases(tmp, "idx", b, 64) >= 2);
  char *p = seg_file(tmp, b[0], "idx");
  size_t len;
  uint8_t *idx = read_file(p, &len);
  size_t n = (len - 4) / 24;
  CHECK(n >= 4);
  size_t keep = n / 2; /* entries 0..keep-1: each one a record start */
  uint32_t crc = ll_crc32c(0, idx, keep * 24);
  for (int i = 0; i < 4; i++) idx[keep * 24 + (size_t)i] = (uint8_t)(crc >> (8 * i));
  int fd = open(p, O_WRONLY | O_TRUNC);
  CHECK(fd >= 0);
  CHECK(write(fd, idx, keep * 24 + 4) == (ssize_t)(keep * 24 + 4));
  close(fd);
  log = open_log(tmp, 1, &o);
  CHECK_INTEQ(ll_log_last_seq(log), 200);
  check_all(log, c);
  ll_log_close(log);
  size_t len2;
  uint8_t *again = read_file(p, &len2);
  CHECK_INTEQ(len2, len); /* rebuilt whole */
  free(again);
  free(idx);
  free(p);
  rmtmp(tmp);
}

/* ---- recovery ---------------------------------------------------------------------------- */

static size_t rec_len(uint64_t seq, uint32_t salt, size_t dmax) {
  gen_t g;
  gen(seq, salt, dmax, &g);
  return 8 + 18 + g.klen + g.dlen;
}

LL_TEST(stream_log_recovers_torn_tails) {
  /* Each way of damaging the tail: the synced records stay, the damaged tail goes, appends
   * continue from the right number. */
  for (int how = 0; how < 6; how++) {
    char *tmp = mktmp();
    ll_log_opts_t o = {.segment_bytes = 1u << 20};
    ll_log_t *log = open_log(tmp, 1, &o);
    chk_t c = {.salt = 5, .dmax = 300};
    for (uint64_t s = 1; s <= 20; s++) append_gen(log, s, 5, 300, default_ms(s));
    CHECK_INTEQ(sync_ok(log), 20);
    for (uint64_t s = 21; s <= 25; s++) append_gen(log, s, 5, 300, default_ms(s));
    ll_log_close(log);
    char *seg = seg_file(tmp, 1, "log");
    off_t sz = file_size(seg);
    size_t last = rec_len(25, 5, 300);
    uint64_t want_last = 24;
    uint8_t zeros[4096] = {0};
    switch (how) {
    case 0: CHECK(truncate(seg, sz - 3) == 0); break;                        /* cut in data */
    case 1: CHECK(truncate(seg, sz - (off_t)last + 5) == 0); break;           /* cut in header */
    case 2: flip_byte(seg, sz - 1); break;                                     /* CRC wrong */
    case 3: flip_byte(seg, sz - (off_t)last + 1); break;                       /* length wrong */
    case 4: append_bytes(seg, zeros, sizeof zeros); want_last = 25; break;     /* zero tail */
    case 5: /* a bad record mid-way after the synced ones: everything from it goes */
      flip_byte(seg, sz - (off_t)last - (off_t)rec_len(24, 5, 300) - (off_t)rec_len(23, 5, 300) + 12);
      want_last = 22;
      break;
    }
    log = open_log(tmp, 1, &o);
    CHECK_INTEQ(ll_log_last_seq(log), want_last);
    CHECK_INTEQ(ll_log_durable_seq(log), want_last);
    check_all(log, c);
    for (uint64_t s = want_last + 1; s <= 30; s++) append_gen(log, s, 5, 300, default_ms(s));
    check_all(log, c);
    ll_log_close(log);
    log = open_log(tmp, 1, &o);
    CHECK_INTEQ(ll_log_last_seq(log), 30);
    check_all(log, c);
    ll_log_close(log);
    free(seg);
    rmtmp(tmp);
  }
}

LL_TEST(stream_log_recovery_keeps_a_consistent_prefix_across_segments) {
  /* A sealed segment whose tail was lost (and that has no .idx: it was never durable) means
   * nothing after it was acknowledged: the later segments go. */
  char *tmp = mktmp();
  ll_log_opts_t o = {.segment_bytes = 1500, .index_every = 100};
  ll_log_t *log = open_log(tmp, 1, &o);
  chk_t c = {.salt = 9, .dmax = 150};
  for (uint64_t s = 1; s <= 200; s++) append_gen(log, s, 9, 150, default_ms(s));
  ll_log_close(log); /* no sync: no .idx files */
  uint64_t b[256];
  size_t n = list_bases(tmp, "log", b, 256);
  CHECK(n > 6);
  CHECK_INTEQ(list_bases(tmp, "idx", b + 128, 128), 0);
  char *victim = seg_file(tmp, b[3], "log");
  size_t cut = rec_len(b[3], 9, 150) + 10; /* keep the first record and a fragment */
  CHECK(truncate(victim, (off_t)cut) == 0);
  log = open_log(tmp, 1, &o);
  CHECK_INTEQ(ll_log_last_seq(log), b[3]);
  CHECK_INTEQ(list_bases(tmp, "log", b + 128, 128), 4);
  CHECK_INTEQ(file_size(victim), (off_t)rec_len(b[3], 9, 150));
  check_all(log, c);
  /* Sealed segments were scanned and are durable now: they have their .idx. */
  CHECK_INTEQ(list_bases(tmp, "idx", b + 128, 128), 3);
  for (uint64_t s = b[3] + 1; s <= 300; s++) append_gen(log, s, 9, 150, default_ms(s));
  sync_ok(log);
  ll_log_close(log);
  log = open_log(tmp, 1, &o);
  CHECK_INTEQ(ll_log_last_seq(log), 300);
  check_all(log, c);
  ll_log_close(log);
  free(victim);
  rmtmp(tmp);
}

LL_TEST(stream_log_read_reports_a_damaged_record) {
  char *tmp = mktmp();
  ll_log_opts_t o = {.segment_bytes = 3000, .index_every = 200};
  ll_log_t *log = open_log(tmp, 1, &o);
  for (uint64_t s = 1; s <= 100; s++) append_gen(log, s, 2, 100, default_ms(s));
  sync_ok(log);
  ll_log_close(log);
  /* Damage the data of the 3rd record of the first (sealed, indexed) segment. */
  char *seg = seg_file(tmp, 1, "log");
  flip_byte(seg, (off_t)(rec_len(1, 2, 100) + rec_len(2, 2, 100) + 5)); /* its CRC */
  log = open_log(tmp, 1, &o); /* trusts the .idx: no scan */
  chk_t c = {.salt = 2, .dmax = 100};
  uint64_t next = 0;
  CHECK_INTEQ(read_check(log, 1, UINT64_MAX, 2, SIZE_MAX, c, 1, &next), 2);
  ll_err_t err = LL_ERR_INIT;
  c.next = 1;
  CHECK_INTEQ(ll_log_read(log, 1, UINT64_MAX, 100, SIZE_MAX, check_cb, &c, &next, &err), -1);
  CHECK_INTEQ(err.code, EBADMSG);
  CHECK_INTEQ(next, 3);
  CHECK_INTEQ(read_check(log, 4, UINT64_MAX, 5, SIZE_MAX, c, 4, &next), 5);
  ll_log_close(log);
  free(seg);
  rmtmp(tmp);
}

/* ---- retention and destroy --------------------------------------------------------------- */

LL_TEST(stream_log_trims_whole_old_segments) {
  char *tmp = mktmp();
  ll_log_opts_t o = {.segment_bytes = 1000, .index_every = 100};
  ll_log_t *log = open_log(tmp, 1, &o);
  chk_t c = {.salt = 4, .dmax = 100};
  const uint64_t N = 400;
  for (uint64_t s = 1; s <= N; s++) append_gen(log, s, 4, 100, default_ms(s));
  sync_ok(log);
  ll_log_close(log);
  log = open_log(tmp, 1, &o);
  uint64_t b[512];
  size_t n = list_bases(tmp, "log", b, 512);
  CHECK(n > 10);
  ll_err_t err = LL_ERR_INIT;
  CHECK_INTEQ(ll_log_trim_before(log, -5, &err), 0);
  /* Segment i's newest record is b[i+1]-1: trimming before its arrival + 1 removes 0..i. */
  int64_t ms = default_ms(b[3] - 1) + 1;
  int removed = ll_log_trim_before(log, ms, &err);
  size_t expect = 0;
  while (expect + 1 < n && default_ms(b[expect + 1] - 1) < ms) expect++;
  CHECK_INTEQ(removed, expect);
  CHECK(removed >= 3);
  CHECK_INTEQ(ll_log_first_seq(log), b[expect]);
  for (size_t i = 0; i < expect; i++) {
    char *p = seg_file(tmp, b[i], "log"), *q = seg_file(tmp, b[i], "idx");
    CHECK(access(p, F_OK) < 0 && access(q, F_OK) < 0);
    free(p);
    free(q);
  }
  uint64_t next;
  CHECK_INTEQ(read_check(log, 1, UINT64_MAX, 3, SIZE_MAX, c, b[expect], &next), 3);
  CHECK_INTEQ(next, b[expect] + 3);
  check_all(log, c);
  CHECK_INTEQ(ll_log_seq_at_time(log, 0), b[expect]);
  sync_ok(log);
  /* Never the current segment, even when everything is older. */
  removed = ll_log_trim_before(log, INT64_MAX, &err);
  CHECK_INTEQ(removed, (int)(n - expect - 1));
  CHECK_INTEQ(list_bases(tmp, "log", b, 512), 1);
  CHECK_INTEQ(ll_log_first_seq(log), b[0]);
  CHECK_INTEQ(ll_log_last_seq(log), N);
  check_all(log, c);
  append_gen(log, N + 1, 4, 100, default_ms(N + 1));
  sync_ok(log);
  ll_log_close(log);
  log = open_log(tmp, 1, &o);
  CHECK_INTEQ(ll_log_first_seq(log), b[0]);
  CHECK_INTEQ(ll_log_last_seq(log), N + 1);
  check_all(log, c);
  ll_log_close(log);
  rmtmp(tmp);
}

LL_TEST(stream_log_destroy_removes_everything) {
  char *tmp = mktmp();
  char *dir = join(tmp, "shard");
  ll_log_opts_t o = {.segment_bytes = 500};
  ll_log_t *log = open_log(dir, 1, &o);
  for (uint64_t s = 1; s <= 50; s++) append_gen(log, s, 1, 100, default_ms(s));
  sync_ok(log);
  ll_log_close(log);
  char *sub = join(dir, "junk");
  CHECK(mkdir(sub, 0755) == 0);
  char *f = join(sub, "f");
  int fd = open(f, O_CREAT | O_WRONLY, 0644);
  CHECK(fd >= 0);
  close(fd);
  ll_err_t err = LL_ERR_INIT;
  CHECK_INTEQ(ll_log_destroy(dir, &err), 0);
  CHECK(access(dir, F_OK) < 0 && errno == ENOENT);
  CHECK_INTEQ(ll_log_destroy(dir, &err), 0); /* already gone */
  free(f);
  free(sub);
  free(dir);
  rmtmp(tmp);
}

/* ---- crash tests: a shadow io that loses what was not fsynced ---------------------------- */

/* Every regular file's contents live in memory (shared by all its fds, like the page cache)
 * and reach the real file only on fsync: closing the last fd drops unsynced changes (a power
 * loss), unless flush_on_close. scatter() models a crash during writeback: a random subset of
 * the unsynced 512-byte sectors reaches the disk. Directory operations are immediate. */
typedef struct sfile {
  char *path; /* NULL once unlinked */
  int refs;
  uint8_t *data;
  size_t len, cap;
  bool dirty;
  struct sfile *next;
} sfile_t;

#define SIM_FDS 4096
typedef struct sim {
  sfile_t *files;
  sfile_t *byfd[SIM_FDS];
  bool flush_on_close;
  long fsyncs;
} sim_t;

static void sf_reserve(sfile_t *f, size_t n) {
  if (n <= f->cap) return;
  size_t c = f->cap ? f->cap : 4096;
  while (c < n) c *= 2;
  f->data = realloc(f->data, c);
  f->cap = c;
}

static void sf_setlen(sfile_t *f, size_t n) {
  sf_reserve(f, n);
  if (n > f->len) memset(f->data + f->len, 0, n - f->len);
  f->len = n;
}

static int sim_open(void *ud, const char *path, int flags, mode_t mode) {
  sim_t *s = ud;
  int fd = open(path, flags & ~O_TRUNC, mode);
  if (fd < 0 || (flags & O_DIRECTORY)) return fd;
  CHECK(fd < SIM_FDS);
  sfile_t *f = s->files;
  while (f && (!f->path || strcmp(f->path, path) != 0)) f = f->next;
  if (!f) {
    f = calloc(1, sizeof *f);
    f->path = strdup(path);
    int rfd = open(path, O_RDONLY); /* fd itself may be write-only */
    CHECK(rfd >= 0);
    struct stat st;
    CHECK(fstat(rfd, &st) == 0);
    sf_setlen(f, (size_t)st.st_size);
    CHECK(pread(rfd, f->data, f->len, 0) == (ssize_t)f->len);
    close(rfd);
    f->next = s->files;
    s->files = f;
  }
  if (flags & O_TRUNC) {
    f->len = 0;
    f->dirty = true;
  }
  f->refs++;
  s->byfd[fd] = f;
  return fd;
}

static ssize_t sim_pwrite(void *ud, int fd, const void *buf, size_t n, off_t off) {
  sim_t *s = ud;
  sfile_t *f = s->byfd[fd];
  if (!f) return pwrite(fd, buf, n, off);
  if ((size_t)off + n > f->len) sf_setlen(f, (size_t)off + n);
  memcpy(f->data + off, buf, n);
  f->dirty = true;
  return (ssize_t)n;
}

static ssize_t sim_pread(void *ud, int fd, void *buf, size_t n, off_t off) {
  sim_t *s = ud;
  sfile_t *f = s->byfd[fd];
  if (!f) return pread(fd, buf, n, off);
  if ((size_t)off >= f->len) return 0;
  if (n > f->len - (size_t)off) n = f->len - (size_t)off;
  memcpy(buf, f->data + off, n);
  return (ssize_t)n;
}

/* Writes f's contents to the disk (through a fd of its own: the caller's may be read-only).
 * An unlinked file's contents matter to no one. */
static void sim_flush(sfile_t *f) {
  f->dirty = false;
  if (!f->path) return;
  int fd = open(f->path, O_WRONLY);
  CHECK(fd >= 0);
  CHECK(pwrite(fd, f->data, f->len, 0) == (ssize_t)f->len);
  CHECK(ftruncate(fd, (off_t)f->len) == 0);
  close(fd);
}

static int sim_fsync(void *ud, int fd) {
  sim_t *s = ud;
  s->fsyncs++;
  if (s->byfd[fd] && s->byfd[fd]->dirty) sim_flush(s->byfd[fd]);
  return 0; /* the real fsync is beside the point here (and slow) */
}

static int sim_ftruncate(void *ud, int fd, off_t len) {
  sim_t *s = ud;
  sfile_t *f = s->byfd[fd];
  if (!f) return ftruncate(fd, len);
  sf_setlen(f, (size_t)len);
  f->dirty = true;
  return 0;
}

static int sim_close(void *ud, int fd) {
  sim_t *s = ud;
  sfile_t *f = s->byfd[fd];
  if (f) {
    if (s->flush_on_close && f->dirty) sim_flush(f);
    s->byfd[fd] = NULL;
    if (--f->refs == 0) {
      sfile_t **pp = &s->files;
      while (*pp != f) pp = &(*pp)->next;
      *pp = f->next;
      free(f->path);
      free(f->data);
      free(f);
    }
  }
  return close(fd);
}

static int sim_unlink(void *ud, const char *path) {
  sim_t *s = ud;
  if (unlink(path) < 0) return -1;
  for (sfile_t *f = s->files; f; f = f->next)
    if (f->path && strcmp(f->path, path) == 0) {
      free(f->path);
      f->path = NULL;
    }
  return 0;
}

/* A crash in the middle of writeback: each unsynced sector reaches the disk with p = 1/2,
 * and so does a shrink of the file. */
static void sim_scatter(sim_t *s) {
  for (sfile_t *f = s->files; f; f = f->next) {
    if (!f->path || !f->dirty) continue;
    int fd = open(f->path, O_RDWR);
    CHECK(fd >= 0);
    struct stat st;
    CHECK(fstat(fd, &st) == 0);
    size_t rlen = (size_t)st.st_size;
    uint8_t *disk = calloc(1, rlen + 1);
    CHECK(pread(fd, disk, rlen, 0) == (ssize_t)rlen);
    if (f->len < rlen && rnd() % 2) CHECK(ftruncate(fd, (off_t)f->len) == 0);
    for (size_t at = 0; at < f->len; at += 512) {
      size_t n = f->len - at < 512 ? f->len - at : 512;
      bool differs = at + n > rlen || memcmp(disk + at, f->data + at, n) != 0;
      if (differs && rnd() % 2) CHECK(pwrite(fd, f->data + at, n, (off_t)at) == (ssize_t)n);
    }
    free(disk);
    close(fd);
  }
}

static const ll_log_io_t *sim_io(sim_t *s) {
  static ll_log_io_t io;
  io = (ll_log_io_t){sim_open, sim_pwrite, sim_pread, sim_fsync, sim_ftruncate, sim_close,
                     sim_unlink, s};
  return &io;
}

/* The number the next append gets, by asking an empty read (it starts at the first retained
 * record, or at the number to come when the log is empty). */
static uint64_t next_number(ll_log_t *log) {
  if (ll_log_last_seq(log) && ll_log_first_seq(log)) return ll_log_last_seq(log) + 1;
  uint64_t next = 0;
  ll_err_t err = LL_ERR_INIT;
  chk_t c = {0};
  CHECK_INTEQ(ll_log_read(log, 0, UINT64_MAX, 1, SIZE_MAX, check_cb, &c, &next, &err), 0);
  CHECK_INTEQ(c.n, 0);
  return next;
}

LL_TEST(stream_log_crash_keeps_every_synced_record) {
  /* Random appends, syncs, reads, trims, crashes (losing unsynced data, or a random part of
   * it) and clean closes. After every reopen: every record a completed sync covered (and not
   * trimmed) is there with its contents, in order; nothing but a prefix of what was appended;
   * and no new record ever reuses an acknowledged number. */
  char *tmp = mktmp();
  sim_t *sim = calloc(1, sizeof *sim);
  ll_log_opts_t o = {.io = sim_io(sim), .segment_bytes = 1500, .index_every = 120};
  enum { MAXSEQ = 100000 };
  uint32_t *ids = calloc(MAXSEQ, sizeof *ids); /* contents of each seq: gen(0, id) */
  int64_t *mss = calloc(MAXSEQ, sizeof *mss);
  uint32_t id = 0;
  uint64_t acked = 0;         /* highest seq a completed sync (or a recovery) made durable */
  uint64_t trimmed_below = 1; /* retention removed every record below this */
  uint64_t appended = 0;      /* highest seq appended since the last reopen (or found by it) */
  int64_t now = 0;
  rng_state = 42;
  ll_log_t *log = open_log(tmp, 1, &o);
  chk_t c = {.salts = ids, .ms = mss, .dmax = 250};
  int crashes = 0, scatters = 0, cleans = 0;
  for (int round = 0; round < 600; round++) {
    unsigned op = (unsigned)(rnd() % 100);
    ll_err_t err = LL_ERR_INIT;
    if (op < 50) {
      for (int k = 1 + (int)(rnd() % 6); k > 0; k--) {
        uint64_t want = next_number(log), seq = 0;
        now += (int64_t)(rnd() % 3);
        gen_t g;
        gen(0, ++id, 250, &g);
        CHECK_INTEQ(ll_log_append(log, now, g.key, g.klen, g.data, g.dlen, &seq, &err), 0);
        CHECK_INTEQ(seq, want);
        CHECK(seq > acked && seq >= trimmed_below && seq < MAXSEQ);
        ids[seq] = id;
        mss[seq] = now;
        appended = seq;
      }
    } else if (op < 65) {
      uint64_t d = sync_ok(log);
      CHECK_INTEQ(d, ll_log_last_seq(log));
      CHECK(d >= acked);
      acked = d;
    } else if (op < 75) {
      uint64_t first = ll_log_first_seq(log), last = ll_log_last_seq(log);
      if (first) {
        uint64_t from = first + rnd() % (last - first + 1), next;
        size_t maxr = 1 + rnd() % 30;
        size_t n = read_check(log, from, UINT64_MAX, maxr, SIZE_MAX, c, from, &next);
        CHECK_INTEQ(n, last - from + 1 < maxr ? last - from + 1 : maxr);
      }
    } else if (op < 80) {
      int64_t ms = now - (int64_t)(rnd() % 60);
      int n = ll_log_trim_before(log, ms, &err);
      CHECK(n >= 0);
      uint64_t first = ll_log_first_seq(log);
      if (n > 0 && first) {
        CHECK(first > trimmed_below);
        CHECK(mss[first - 1] < ms);
      }
      trimmed_below = first ? first : next_number(log);
      check_all(log, c);
    } else {
      /* A crash (unsynced data lost, or a random part of it kept), or a clean close. */
      int kind = (int)(rnd() % 3);
      if (kind == 1) sim_scatter(sim);
      sim->flush_on_close = kind == 2;
      crashes += kind == 0;
      scatters += kind == 1;
      cleans += kind == 2;
      ll_log_close(log);
      sim->flush_on_close = false;
      CHECK(sim->files == NULL); /* every fd closed */
      log = open_log(tmp, 1, &o);
      uint64_t first = ll_log_first_seq(log), last = ll_log_last_seq(log);
      CHECK_INTEQ(ll_log_durable_seq(log), last);
      CHECK(last <= appended);
      if (kind == 2) CHECK_INTEQ(last, appended);
      CHECK(first == 0 || first >= trimmed_below);
      if (acked >= trimmed_below) { /* every acknowledged, retained record is there */
        CHECK_INTEQ(first, trimmed_below);
        CHECK(last >= acked);
      }
      check_all(log, c);
      CHECK(next_number(log) > acked);
      /* What recovery kept is durable now, hence as good as acknowledged. */
      if (last > acked) acked = last;
      appended = last;
      if (!first) trimmed_below = next_number(log);
    }
  }
  CHECK(crashes > 5 && scatters > 5 && cleans > 5);
  ll_log_close(log);
  CHECK(sim->files == NULL);
  free(sim);
  free(ids);
  free(mss);
  rmtmp(tmp);
}

/* ---- failing writes and fsyncs ----------------------------------------------------------- */

/* Real system calls, with failures on demand for segment files (.log) and the directory. */
typedef struct fio {
  int fail_pwrite;   /* the next n pwrites to a segment fail with ENOSPC */
  int short_pwrite;  /* the next n pwrites to a segment write half and return that */
  int fail_ftruncate;
  int fail_open;     /* the next n opens of a segment file fail with EMFILE */
  int fail_fsync_at; /* the fsync call with this number (1-based, counted from reset) fails */
  int fail_dir_fsync;
  int fsyncs, dir_fsyncs, opens, closes, log_pwrites;
  bool islog[SIM_FDS], isdir[SIM_FDS];
} fio_t;

static bool ends_with(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && strcmp(s + a - b, suf) == 0;
}

static int f_open(void *ud, const char *path, int flags, mode_t mode) {
  fio_t *f = ud;
  if (ends_with(path, ".log") && f->fail_open > 0) {
    f->fail_open--;
    errno = EMFILE;
    return -1;
  }
  int fd = open(path, flags, mode);
  if (fd >= 0) {
    CHECK(fd < SIM_FDS);
    f->opens++;
    f->islog[fd] = ends_with(path, ".log");
    f->isdir[fd] = (flags & O_DIRECTORY) != 0;
  }
  return fd;
}
static ssize_t f_pwrite(void *ud, int fd, const void *buf, size_t n, off_t off) {
  fio_t *f = ud;
  if (f->islog[fd]) f->log_pwrites++;
  if (f->islog[fd] && f->fail_pwrite > 0) {
    f->fail_pwrite--;
    errno = ENOSPC;
    return -1;
  }
  if (f->islog[fd] && f->short_pwrite > 0) {
    f->short_pwrite--;
    return pwrite(fd, buf, n / 2, off);
  }
  return pwrite(fd, buf, n, off);
}
static ssize_t f_pread(void *ud, int fd, void *buf, size_t n, off_t off) {
  return pread(fd, buf, n, off);
}
static int f_fsync(void *ud, int fd) {
  fio_t *f = ud;
  f->fsyncs++;
  if (f->isdir[fd]) {
    f->dir_fsyncs++;
    if (f->fail_dir_fsync > 0) {
      f->fail_dir_fsync--;
      errno = EIO;
      return -1;
    }
  }
  if (f->fsyncs == f->fail_fsync_at) {
    errno = EIO;
    return -1;
  }
  return fsync(fd);
}
static int f_ftruncate(void *ud, int fd, off_t len) {
  fio_t *f = ud;
  if (f->fail_ftruncate > 0) {
    f->fail_ftruncate--;
    errno = EIO;
    return -1;
  }
  return ftruncate(fd, len);
}
static int f_close(void *ud, int fd) {
  fio_t *f = ud;
  f->closes++;
  f->islog[fd] = f->isdir[fd] = false;
  return close(fd);
}
static int f_unlink(void *ud, const char *path) { return unlink(path); }

static ll_log_io_t fio_io(fio_t *f) {
  return (ll_log_io_t){f_open, f_pwrite, f_pread, f_fsync, f_ftruncate, f_close, f_unlink, f};
}

static void append_fails(ll_log_t *log, uint64_t as_seq, int code) {
  gen_t g;
  gen(as_seq, 8, 400, &g);
  g.dlen = 400; /* a big one, so half of it is longer than the next record */
  uint64_t seq = 777, last = ll_log_last_seq(log);
  ll_err_t err = LL_ERR_INIT;
  CHECK_INTEQ(ll_log_append(log, default_ms(as_seq), g.key, g.klen, g.data, g.dlen, &seq, &err),
              -1);
  CHECK_INTEQ(err.code, code);
  CHECK(strstr(err.msg, ".log") != NULL);
  CHECK_INTEQ(seq, 777);
  CHECK_INTEQ(ll_log_last_seq(log), last);
}

LL_TEST(stream_log_failed_and_short_writes_leave_the_log_usable) {
  char *tmp = mktmp();
  fio_t *f = calloc(1, sizeof *f);
  ll_log_io_t io = fio_io(f);
  ll_log_opts_t o = {.io = &io, .segment_bytes = 1200, .index_every = 100};
  ll_log_t *log = open_log(tmp, 1, &o);
  chk_t c = {.salt = 8, .dmax = 60};
  uint64_t s = 1;
  for (; s <= 10; s++) append_gen(log, s, 8, 60, default_ms(s));

  f->fail_pwrite = 1;
  append_fails(log, s, ENOSPC);
  append_gen(log, s, 8, 60, default_ms(s)), s++;
  char *seg1 = seg_file(tmp, 1, "log");
  off_t before = file_size(seg1);
  f->short_pwrite = 1;
  append_fails(log, s, EIO);
  CHECK_INTEQ(file_size(seg1), before); /* the half record was cut off */
  append_gen(log, s, 8, 60, default_ms(s)), s++;
  check_all(log, c);

  /* Short write and the cut fails too: the next record overwrites the fragment. */
  f->short_pwrite = 1;
  f->fail_ftruncate = 1;
  append_fails(log, s, EIO);
  CHECK(file_size(seg1) > before);
  append_gen(log, s, 8, 60, default_ms(s)), s++;
  check_all(log, c);

  /* Failing to start a new segment, then failing the first write into one. */
  for (;;) {
    uint64_t b[64];
    size_t n = list_bases(tmp, "log", b, 64);
    char *act = seg_file(tmp, b[n - 1], "log");
    off_t sz = file_size(act);
    free(act);
    if (sz >= 1200) break;
    append_gen(log, s, 8, 60, default_ms(s)), s++;
  }
  f->fail_open = 1;
  append_fails(log, s, EMFILE);
  f->fail_pwrite = 1;
  append_fails(log, s, ENOSPC);
  append_gen(log, s, 8, 60, default_ms(s)), s++;
  check_all(log, c);
  for (int i = 0; i < 60; i++) {
    if (i % 7 == 3) {
      f->fail_pwrite = 1;
      append_fails(log, s, ENOSPC);
    }
    append_gen(log, s, 8, 60, default_ms(s)), s++;
  }
  check_all(log, c);
  CHECK_INTEQ(sync_ok(log), s - 1);
  ll_log_close(log);
  CHECK_INTEQ(f->opens, f->closes);
  log = open_log(tmp, 1, NULL);
  CHECK_INTEQ(ll_log_last_seq(log), s - 1);
  check_all(log, c);
  ll_log_close(log);

  /* The fragment left by a failed cut, at the very end, is dropped by recovery. */
  log = open_log(tmp, 1, &o);
  f->short_pwrite = 1;
  f->fail_ftruncate = 1;
  append_fails(log, s, EIO);
  ll_log_close(log);
  log = open_log(tmp, 1, &o);
  CHECK_INTEQ(ll_log_last_seq(log), s - 1);
  append_gen(log, s, 8, 60, default_ms(s)), s++;
  check_all(log, c);
  ll_log_close(log);
  CHECK_INTEQ(f->opens, f->closes);
  free(seg1);
  free(f);
  rmtmp(tmp);
}

LL_TEST(stream_log_failed_fsync_does_not_advance_durable_seq) {
  char *tmp = mktmp();
  fio_t *f = calloc(1, sizeof *f);
  ll_log_io_t io = fio_io(f);
  ll_log_opts_t o = {.io = &io, .segment_bytes = 800, .index_every = 100};
  ll_log_t *log = open_log(tmp, 1, &o);
  chk_t c = {.salt = 6, .dmax = 60};
  uint64_t s = 1;
  for (; s <= 5; s++) append_gen(log, s, 6, 60, default_ms(s));
  ll_err_t err = LL_ERR_INIT;
  uint64_t d = 99;
  f->fsyncs = 0;
  f->fail_fsync_at = 1;
  CHECK_INTEQ(ll_log_sync(log, &d, &err), -1);
  CHECK_INTEQ(err.code, EIO);
  CHECK_INTEQ(d, 0);
  CHECK_INTEQ(ll_log_durable_seq(log), 0);
  CHECK_INTEQ(sync_ok(log), 5);
  CHECK_INTEQ(sync_ok(log), 5); /* nothing new: nothing to do */

  /* Segments sealed since the last sync: each failing fsync in turn (segments, the active
   * one, the directory) leaves durable_seq where it was; the next sync covers everything. */
  for (int which = 1; which <= 4; which++) {
    uint64_t from = s;
    while (s < from + 40) append_gen(log, s, 6, 60, default_ms(s)), s++;
    uint64_t was = ll_log_durable_seq(log);
    f->fsyncs = 0;
    f->fail_fsync_at = which;
    d = 0;
    CHECK_INTEQ(ll_log_sync(log, &d, &err), -1);
    CHECK_INTEQ(d, was);
    CHECK_INTEQ(ll_log_durable_seq(log), was);
    f->fail_fsync_at = 0;
    /* Still readable, and appends go on between the failed sync and the retry. */
    check_all(log, c);
    append_gen(log, s, 6, 60, default_ms(s)), s++;
    CHECK_INTEQ(sync_ok(log), s - 1);
  }
  /* A failed directory fsync is retried by the next sync. */
  for (int i = 0; i < 30; i++) append_gen(log, s, 6, 60, default_ms(s)), s++;
  f->fail_dir_fsync = 1;
  f->dir_fsyncs = 0;
  uint64_t was = ll_log_durable_seq(log);
  CHECK_INTEQ(ll_log_sync(log, &d, &err), -1);
  CHECK_INTEQ(ll_log_durable_seq(log), was);
  CHECK_INTEQ(f->dir_fsyncs, 1);
  CHECK_INTEQ(sync_ok(log), s - 1);
  CHECK_INTEQ(f->dir_fsyncs, 2);
  ll_log_close(log);
  CHECK_INTEQ(f->opens, f->closes); /* sealed fds closed once synced, the rest at close */
  log = open_log(tmp, 1, NULL);
  CHECK_INTEQ(ll_log_last_seq(log), s - 1);
  check_all(log, c);
  ll_log_close(log);
  free(f);
  rmtmp(tmp);
}

/* ---- a sync thread racing appends, rolls, reads and trims -------------------------------- */

typedef struct racer {
  ll_log_t *log;
  int stop;
  long syncs;
} racer_t;

static void *sync_loop(void *arg) {
  racer_t *r = arg;
  uint64_t prev = 0;
  while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
    ll_err_t err = LL_ERR_INIT;
    uint64_t d = 0;
    CHECK_INTEQ(ll_log_sync(r->log, &d, &err), 0);
    CHECK(d >= prev);
    prev = d;
    r->syncs++;
  }
  return NULL;
}

LL_TEST(stream_log_sync_thread_races_appends_and_reads) {
  char *tmp = mktmp();
  ll_log_opts_t o = {.segment_bytes = 4096, .index_every = 512};
  ll_log_t *log = open_log(tmp, 1, &o);
  racer_t r = {.log = log};
  pthread_t th;
  CHECK(pthread_create(&th, NULL, sync_loop, &r) == 0);
  chk_t c = {.salt = 11, .dmax = 200};
  uint64_t prev = 0;
  const uint64_t N = 20000;
  rng_state = 7;
  for (uint64_t s = 1; s <= N; s++) {
    append_gen(log, s, 11, 200, default_ms(s));
    uint64_t d = ll_log_durable_seq(log);
    CHECK(d >= prev && d <= s);
    prev = d;
    if (s % 97 == 0) {
      uint64_t first = ll_log_first_seq(log);
      uint64_t from = first + rnd() % (s - first + 1), next;
      size_t n = read_check(log, from, UINT64_MAX, 50, SIZE_MAX, c, from, &next);
      CHECK_INTEQ(n, s - from + 1 < 50 ? s - from + 1 : 50);
    }
    if (s % 3001 == 0) {
      ll_err_t err = LL_ERR_INIT;
      CHECK(ll_log_trim_before(log, default_ms(s - 2000), &err) >= 0);
    }
  }
  __atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
  CHECK(pthread_join(th, NULL) == 0);
  CHECK(r.syncs > 0);
  CHECK_INTEQ(sync_ok(log), N);
  check_all(log, c);
  ll_log_close(log);
  log = open_log(tmp, 1, &o);
  CHECK_INTEQ(ll_log_last_seq(log), N);
  check_all(log, c);
  ll_log_close(log);
  rmtmp(tmp);
}

/* ll_log_append_many: one write for the batch, numbered in order, all or nothing. */
LL_TEST(stream_log_append_many_is_all_or_nothing) {
  char *tmp = mktmp();
  fio_t *f = calloc(1, sizeof *f);
  ll_log_io_t io = fio_io(f);
  ll_log_opts_t o = {.io = &io, .segment_bytes = 2000, .index_every = 100};
  ll_log_t *log = open_log(tmp, 1, &o);
  chk_t c = {.salt = 9, .dmax = 80};
  uint64_t s = 1;
  for (int round = 0; round < 12; round++) {
    gen_t g[7];
    ll_log_entry_t es[7];
    size_t n = 1 + (size_t)round % 7;
    for (size_t i = 0; i < n; i++) {
      gen(s + i, 9, 80, &g[i]);
      es[i] = (ll_log_entry_t){default_ms(s + i), g[i].key, g[i].klen, g[i].data, g[i].dlen};
    }
    uint64_t first = 0, last = ll_log_last_seq(log);
    int writes = f->log_pwrites;
    ll_err_t err = LL_ERR_INIT;
    if (round % 4 == 2) { /* a failed and a short write: nothing of the batch is there */
      f->fail_pwrite = 1;
      CHECK_INTEQ(ll_log_append_many(log, es, n, &first, &err), -1);
      CHECK_INTEQ(err.code, ENOSPC);
      f->short_pwrite = 1;
      CHECK_INTEQ(ll_log_append_many(log, es, n, &first, &err), -1);
      CHECK_INTEQ(err.code, EIO);
      CHECK_INTEQ(ll_log_last_seq(log), last);
      writes = f->log_pwrites;
    }
    CHECK_INTEQ(ll_log_append_many(log, es, n, &first, &err), 0);
    CHECK_INTEQ(f->log_pwrites, writes + 1); /* the whole batch in one write */
    CHECK_INTEQ(first, s);
    CHECK_INTEQ(ll_log_last_seq(log), s + n - 1);
    s += n;
  }
  check_all(log, c);
  CHECK_INTEQ(sync_ok(log), s - 1);
  ll_log_close(log);
  log = open_log(tmp, 1, NULL); /* and recovery finds them all, in order */
  CHECK_INTEQ(ll_log_last_seq(log), s - 1);
  check_all(log, c);
  ll_log_close(log);
  free(f);
  rmtmp(tmp);
}

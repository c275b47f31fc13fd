/* One shard's log (see log.h for the contract and the on-disk format).
 *
 * Shape of the implementation:
 *  - segs[] holds one seg_t per segment file, oldest first; the last one is the active segment
 *    (appended to), the others are sealed. Sequence numbers are contiguous across segments:
 *    segs[i+1]->base == segs[i]->last + 1 (ll_log_open enforces it; see recovery below).
 *  - Each segment keeps a sparse in-memory index (seq, arrival_ms, offset): its first record,
 *    then a record about every index_every bytes, and once sealed its last record too. Reads
 *    and time lookups binary-search the segments, then the entries, then scan forward.
 *  - Durability and the .idx files: a sealed segment's .idx is written only once a sync has
 *    made the whole segment durable (durable_seq >= its last seq), or at open after recovery
 *    has fsynced it. So a .idx on disk is proof that the data it describes was durable, and
 *    open may trust it (after checking its crc32c, its last record and that the next segment
 *    starts right after it) instead of scanning the segment.
 *  - Recovery: a completed sync fsyncs every segment written before it, so a record lost in a
 *    crash means no record after it was ever acknowledged. Open therefore keeps the longest
 *    intact prefix: it scans the newest segment (and any sealed one without a usable .idx),
 *    truncates at the first bad record, and removes the segments that no longer follow on.
 *
 * Threads: only ll_log_sync runs off the loop thread. The fields under `mu` are the ones it
 * shares with the loop thread; everything else (segs, buffers, read fds) is the loop's. */
#include "stream/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"

#define HDR_SZ 8u         /* u32 body_len | u32 crc32c(body) */
#define BODY_FIXED 18u    /* u64 seq | i64 arrival_ms | u16 key_len */
#define IDX_ENT_SZ 24u    /* u64 seq | i64 arrival_ms | u64 offset */
#define READ_CHUNK 65536u /* bytes a reader asks for at a time */
#define BUF_KEEP (1u << 20) /* reusable buffers larger than this are freed after use */
#define MAX_READ_FDS 16u  /* sealed segments kept open for reading (least recently used closed) */
#define IDX_FILE_MAX (256u << 20) /* a larger .idx is damaged */
#define NAME_DIGITS 20

typedef struct idx_ent {
  uint64_t seq;
  int64_t ms;
  uint64_t off;
} idx_ent_t;

typedef struct seg {
  uint64_t base;     /* first seq: the file's name */
  uint64_t last;     /* newest record's seq; base - 1 while empty */
  int64_t last_ms;   /* newest record's arrival (when not empty) */
  uint64_t last_off; /* newest record's offset (when not empty) */
  uint64_t size;     /* bytes of whole records; the next record goes here */
  /* Active segment: its write fd (the same number as log->active_fd; handed to the sync's
   * pending list when the segment is sealed). Sealed: a read-only fd opened on demand, or -1. */
  int fd;
  uint64_t used;     /* read tick, to close the least recently used read fd */
  bool idx_done;     /* sealed: .idx written (or given up on: it is only a cache) */
  idx_ent_t *ents;   /* owned */
  size_t nents, capents;
} seg_t;

struct ll_log {
  char *dir; /* owned */
  ll_log_io_t io;
  uint64_t seg_bytes;
  uint32_t index_every;
  int dir_fd;

  seg_t **segs; /* owned; oldest first, the last is the active segment */
  size_t nsegs, capsegs;
  uint64_t next_seq; /* the seq the next append gets */
  unsigned nread_fds;
  uint64_t tick;

  uint8_t *wbuf; /* owned: one record being assembled by ll_log_append */
  size_t wcap;
  uint8_t *rbuf; /* owned: the reader's window */
  size_t rcap;

  pthread_mutex_t mu;
  /* Under mu (written by the loop thread, read by ll_log_sync): */
  uint64_t last_seq;  /* last appended (0 when none) */
  int active_fd;      /* the active segment's write fd */
  bool active_dirty;  /* the active segment was written since the last sync took it */
  bool dir_dirty;     /* a segment was created or removed since the last sync took it */
  int *pending;       /* owned, and so are the fds: sealed segments not yet fsynced; only a
                       * sync closes them (after fsyncing), or ll_log_close */
  size_t npending, cappending;
  /* Written by ll_log_sync under mu with an atomic store; read anywhere with an atomic load. */
  uint64_t durable_seq;
};

/* ---- little helpers ---------------------------------------------------------------------- */

static void put_u16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static void put_u32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint16_t get_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get_u64(const uint8_t *p) {
  return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static const char *ename(int e) {
  const char *s = strerrorname_np(e);
  return s ? s : "unknown error";
}

/* -1 with err, as the public functions return (ll_err_set itself returns -code). */
#define FAIL(err, code, ...) (ll_err_set((err), (code), __VA_ARGS__), -1)

static char *seg_path(const ll_log_t *log, uint64_t base, const char *ext) {
  return ll_sprintf("%s/%0*" PRIu64 ".%s", log->dir, NAME_DIGITS, base, ext);
}

/* The io table's calls, retried on EINTR; 0 / byte count, or -errno. */
static int io_open(ll_log_t *log, const char *path, int flags, mode_t mode) {
  int fd;
  do fd = log->io.open(log->io.ud, path, flags | O_CLOEXEC, mode);
  while (fd < 0 && errno == EINTR);
  return fd < 0 ? -errno : fd;
}
static ssize_t io_pwrite(ll_log_t *log, int fd, const void *buf, size_t n, uint64_t off) {
  ssize_t w;
  do w = log->io.pwrite(log->io.ud, fd, buf, n, (off_t)off);
  while (w < 0 && errno == EINTR);
  return w < 0 ? -errno : w;
}
static ssize_t io_pread(ll_log_t *log, int fd, void *buf, size_t n, uint64_t off) {
  ssize_t r;
  do r = log->io.pread(log->io.ud, fd, buf, n, (off_t)off);
  while (r < 0 && errno == EINTR);
  return r < 0 ? -errno : r;
}
static int io_fsync(ll_log_t *log, int fd) {
  int r;
  do r = log->io.fsync(log->io.ud, fd);
  while (r < 0 && errno == EINTR);
  return r < 0 ? -errno : 0;
}
static int io_ftruncate(ll_log_t *log, int fd, uint64_t len) {
  int r;
  do r = log->io.ftruncate(log->io.ud, fd, (off_t)len);
  while (r < 0 && errno == EINTR);
  return r < 0 ? -errno : 0;
}
/* close is not retried: on Linux the fd is gone even when close reports EINTR. */
static void io_close(ll_log_t *log, int fd) {
  if (fd >= 0) log->io.close(log->io.ud, fd);
}
static int io_unlink(ll_log_t *log, const char *path) {
  return log->io.unlink(log->io.ud, path) < 0 ? -errno : 0;
}

static int def_open(void *ud, const char *path, int flags, mode_t mode) {
  return open(path, flags, mode);
}
static ssize_t def_pwrite(void *ud, int fd, const void *buf, size_t n, off_t off) {
  return pwrite(fd, buf, n, off);
}
static ssize_t def_pread(void *ud, int fd, void *buf, size_t n, off_t off) {
  return pread(fd, buf, n, off);
}
static int def_fsync(void *ud, int fd) { return fsync(fd); }
static int def_ftruncate(void *ud, int fd, off_t len) { return ftruncate(fd, len); }
static int def_close(void *ud, int fd) { return close(fd); }
static int def_unlink(void *ud, const char *path) { return unlink(path); }

static const ll_log_io_t default_io = {def_open, def_pwrite, def_pread, def_fsync,
                                       def_ftruncate, def_close, def_unlink, NULL};

static void grow(void *pp, size_t *cap, size_t need, size_t elsz) {
  if (need <= *cap) return;
  size_t c = *cap ? *cap : 8;
  while (c < need) c *= 2;
  *(void **)pp = ll_realloc(*(void **)pp, c * elsz);
  *cap = c;
}

static void seg_add_ent(seg_t *s, uint64_t seq, int64_t ms, uint64_t off) {
  grow(&s->ents, &s->capents, s->nents + 1, sizeof *s->ents);
  s->ents[s->nents++] = (idx_ent_t){seq, ms, off};
}

/* Records a record just written or found at off in the in-memory index and the segment. */
static void seg_note(ll_log_t *log, seg_t *s, uint64_t seq, int64_t ms, uint64_t off,
                     uint64_t len) {
  if (s->nents == 0 || off - s->ents[s->nents - 1].off >= log->index_every)
    seg_add_ent(s, seq, ms, off);
  s->last = seq;
  s->last_ms = ms;
  s->last_off = off;
  s->size = off + len;
}

/* A sealed segment's last index entry is its last record (the .idx relies on it). */
static void seg_seal(seg_t *s) {
  if (s->last >= s->base && s->ents[s->nents - 1].seq != s->last)
    seg_add_ent(s, s->last, s->last_ms, s->last_off);
}

static seg_t *seg_new(uint64_t base) {
  seg_t *s = ll_calloc(1, sizeof *s);
  s->base = base;
  s->last = base - 1;
  s->fd = -1;
  return s;
}

static seg_t *active(const ll_log_t *log) { return log->segs[log->nsegs - 1]; }
static bool seg_empty(const seg_t *s) { return s->last < s->base; }

static void push_seg(ll_log_t *log, seg_t *s) {
  grow(&log->segs, &log->capsegs, log->nsegs + 1, sizeof *log->segs);
  log->segs[log->nsegs++] = s;
}

/* Closes a sealed segment's read fd. */
static void seg_close_read(ll_log_t *log, seg_t *s) {
  if (s->fd < 0) return;
  io_close(log, s->fd);
  s->fd = -1;
  log->nread_fds--;
}

static void seg_free(seg_t *s) {
  if (!s) return;
  free(s->ents);
  free(s);
}

/* An fd to read segment s from: the active segment's write fd, or a sealed segment's read fd
 * (opened now if needed, closing the least recently used one beyond MAX_READ_FDS). */
static int seg_read_fd(ll_log_t *log, seg_t *s) {
  s->used = ++log->tick;
  if (s->fd >= 0) return s->fd;
  if (log->nread_fds >= MAX_READ_FDS) {
    seg_t *lru = NULL;
    for (size_t i = 0; i + 1 < log->nsegs; i++)
      if (log->segs[i]->fd >= 0 && (!lru || log->segs[i]->used < lru->used)) lru = log->segs[i];
    if (lru) seg_close_read(log, lru);
  }
  ll_autofree char *path = seg_path(log, s->base, "log");
  int fd = io_open(log, path, O_RDONLY, 0);
  if (fd < 0) return fd;
  s->fd = fd;
  log->nread_fds++;
  return fd;
}

static void shrink(uint8_t **buf, size_t *cap) {
  if (*cap <= BUF_KEEP) return;
  free(*buf);
  *buf = NULL;
  *cap = 0;
}

/* ---- reading records --------------------------------------------------------------------- */

/* A forward reader over one segment: a window of log->rbuf holding file bytes [boff, boff+blen),
 * parsing at pos. end bounds the reads (the segment's known size, or UINT64_MAX while scanning
 * a segment of unknown length). */
typedef struct rd {
  ll_log_t *log;
  int fd;
  uint64_t end;
  uint64_t boff;
  size_t blen, pos;
} rd_t;

static void rd_init(rd_t *r, ll_log_t *log, int fd, uint64_t off, uint64_t end) {
  *r = (rd_t){log, fd, end, off, 0, 0};
}

static uint64_t rd_off(const rd_t *r) { return r->boff + r->pos; }

/* Makes n bytes at the position available in the window. Returns how many are (n, or fewer
 * when end or the end of the file comes first), or -errno. */
static ssize_t rd_need(rd_t *r, size_t n) {
  size_t have = r->blen - r->pos;
  if (have >= n) return (ssize_t)n;
  ll_log_t *log = r->log;
  uint64_t off = rd_off(r);
  size_t want = n > READ_CHUNK ? n : READ_CHUNK;
  if (log->rcap < want) {
    /* grow (keeping the unread bytes) */
    uint8_t *nb = ll_malloc(want);
    if (have) memcpy(nb, log->rbuf + r->pos, have);
    free(log->rbuf);
    log->rbuf = nb;
    log->rcap = want;
  } else if (have && r->pos) {
    memmove(log->rbuf, log->rbuf + r->pos, have);
  }
  r->boff = off;
  r->pos = 0;
  r->blen = have;
  uint64_t limit = r->end - off < log->rcap ? r->end - off : log->rcap; /* bytes worth reading */
  while (r->blen < n && r->blen < limit) {
    ssize_t got = io_pread(log, r->fd, log->rbuf + r->blen, (size_t)limit - r->blen,
                           off + r->blen);
    if (got < 0) return got;
    if (got == 0) break;
    r->blen += (size_t)got;
  }
  return (ssize_t)(r->blen < n ? r->blen : n);
}

enum { REC_OK = 1, REC_END = 0 }; /* otherwise -errno; -EBADMSG: damaged or torn record */

/* Parses the record at the reader's position, expected to carry seq `expect`, and moves past
 * it. check_crc: verify the body's CRC (skipped for records a read only steps over).
 * REC_END: the segment ends cleanly here; -EBADMSG: a bad length, CRC or seq, or a record cut
 * short (by end, or by the end of the file while scanning); other -errno: the read failed. */
static int rd_record(rd_t *r, uint64_t expect, bool check_crc, ll_log_record_t *rec,
                     uint64_t *rec_len) {
  /* Scanning (end unknown), the file ending is the end, or a torn record when mid-record.
   * Reading a segment of known size, the file ending early is an I/O error (EIO), and a
   * length that runs past the segment's end a damaged record. */
  bool scanning = r->end == UINT64_MAX;
  uint64_t off = rd_off(r);
  if (!scanning && off + HDR_SZ > r->end) return off == r->end ? REC_END : -EBADMSG;
  ssize_t got = rd_need(r, HDR_SZ);
  if (got < 0) return (int)got;
  if (got == 0 && scanning) return REC_END;
  if ((size_t)got < HDR_SZ) return scanning ? -EBADMSG : -EIO;
  const uint8_t *h = r->log->rbuf + r->pos;
  uint32_t body_len = get_u32(h), crc = get_u32(h + 4);
  if (body_len < BODY_FIXED || body_len > LL_LOG_RECORD_MAX) return -EBADMSG;
  if (!scanning && off + HDR_SZ + body_len > r->end) return -EBADMSG;
  got = rd_need(r, HDR_SZ + body_len);
  if (got < 0) return (int)got;
  if ((size_t)got < HDR_SZ + body_len) return scanning ? -EBADMSG : -EIO;
  const uint8_t *b = r->log->rbuf + r->pos + HDR_SZ;
  if (check_crc && ll_crc32c(0, b, body_len) != crc) return -EBADMSG;
  uint16_t key_len = get_u16(b + 16);
  if (get_u64(b) != expect || key_len > body_len - BODY_FIXED) return -EBADMSG;
  rec->seq = expect;
  rec->arrival_ms = (int64_t)get_u64(b + 8);
  rec->key = b + BODY_FIXED;
  rec->key_len = key_len;
  rec->data = b + BODY_FIXED + key_len;
  rec->data_len = body_len - BODY_FIXED - key_len;
  *rec_len = HDR_SZ + body_len;
  r->pos += HDR_SZ + body_len;
  return REC_OK;
}

/* The segment holding seq (the last one whose base <= seq); seq >= segs[0]->base. */
static size_t seg_find(const ll_log_t *log, uint64_t seq) {
  size_t lo = 0, hi = log->nsegs; /* answer in [lo, hi) */
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (log->segs[mid]->base <= seq) lo = mid;
    else hi = mid;
  }
  return lo;
}

/* The last index entry at or before seq (entry 0 is the segment's first record). */
static const idx_ent_t *ent_find_seq(const seg_t *s, uint64_t seq) {
  size_t lo = 0, hi = s->nents;
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->ents[mid].seq <= seq) lo = mid;
    else hi = mid;
  }
  return &s->ents[lo];
}

/* ---- .idx files -------------------------------------------------------------------------- */

/* Writes s's .idx (best effort: it is a cache, rebuilt at open when missing or damaged). */
static void write_idx(ll_log_t *log, seg_t *s) {
  s->idx_done = true;
  size_t sz = s->nents * IDX_ENT_SZ + 4;
  uint8_t *buf = ll_malloc(sz);
  for (size_t i = 0; i < s->nents; i++) {
    put_u64(buf + i * IDX_ENT_SZ, s->ents[i].seq);
    put_u64(buf + i * IDX_ENT_SZ + 8, (uint64_t)s->ents[i].ms);
    put_u64(buf + i * IDX_ENT_SZ + 16, s->ents[i].off);
  }
  put_u32(buf + sz - 4, ll_crc32c(0, buf, sz - 4));
  ll_autofree char *path = seg_path(log, s->base, "idx");
  int fd = io_open(log, path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    ssize_t w = io_pwrite(log, fd, buf, sz, 0);
    io_close(log, fd);
    if (w != (ssize_t)sz) io_unlink(log, path);
  }
  free(buf);
}

/* Writes the .idx of the sealed segments a sync has made durable. They are a suffix of the
 * sealed segments (seals and syncs both go in order), so this stops at the first one done. */
static void flush_idx(ll_log_t *log) {
  uint64_t durable = __atomic_load_n(&log->durable_seq, __ATOMIC_ACQUIRE);
  size_t i = log->nsegs - 1;
  while (i > 0 && !log->segs[i - 1]->idx_done) i--;
  for (; i + 1 < log->nsegs && log->segs[i]->last <= durable; i++) write_idx(log, log->segs[i]);
}

/* Loads s's .idx if it is intact and agrees with the segment: crc32c, first entry at offset 0
 * with seq base, increasing entries, a last entry that is a valid record (which gives the
 * segment's size), and next_base right after that record. 0, or -1 when s must be scanned. */
static int load_idx(ll_log_t *log, seg_t *s, uint64_t next_base) {
  ll_autofree char *path = seg_path(log, s->base, "idx");
  int fd = io_open(log, path, O_RDONLY, 0);
  if (fd < 0) return -1;
  uint8_t *buf = NULL;
  size_t len = 0, cap = 0;
  int rc = -1;
  for (;;) {
    grow(&buf, &cap, len + READ_CHUNK, 1);
    ssize_t r = io_pread(log, fd, buf + len, cap - len, len);
    if (r < 0) goto out;
    if (r == 0) break;
    len += (size_t)r;
    if (len > IDX_FILE_MAX) goto out;
  }
  if (len < IDX_ENT_SZ + 4 || (len - 4) % IDX_ENT_SZ) goto out;
  size_t n = (len - 4) / IDX_ENT_SZ;
  if (ll_crc32c(0, buf, len - 4) != get_u32(buf + len - 4)) goto out;
  s->nents = 0;
  for (size_t i = 0; i < n; i++) {
    const uint8_t *e = buf + i * IDX_ENT_SZ;
    idx_ent_t ent = {get_u64(e), (int64_t)get_u64(e + 8), get_u64(e + 16)};
    if (i == 0 ? ent.seq != s->base || ent.off != 0
               : ent.seq <= s->ents[i - 1].seq || ent.off <= s->ents[i - 1].off)
      goto out;
    seg_add_ent(s, ent.seq, ent.ms, ent.off);
  }
  const idx_ent_t *lastent = &s->ents[n - 1];
  if (lastent->seq + 1 != next_base) goto out;
  /* The last record must be there and whole. */
  int sfd = seg_read_fd(log, s);
  if (sfd < 0) goto out;
  rd_t r;
  rd_init(&r, log, sfd, lastent->off, UINT64_MAX);
  ll_log_record_t rec;
  uint64_t rec_len;
  if (rd_record(&r, lastent->seq, true, &rec, &rec_len) != REC_OK || rec.arrival_ms != lastent->ms)
    goto out;
  s->last = lastent->seq;
  s->last_ms = lastent->ms;
  s->last_off = lastent->off;
  s->size = lastent->off + rec_len;
  s->idx_done = true;
  rc = 0;
out:
  if (rc < 0) s->nents = 0;
  io_close(log, fd);
  free(buf);
  return rc;
}

/* ---- open / recovery --------------------------------------------------------------------- */

/* mkdir -p; *created: the last component was made (its parent needs an fsync). 0 or -errno. */
static int mkdirs(const char *path, bool *created) {
  *created = false;
  ll_autofree char *p = ll_strdup(path);
  for (char *s = p + 1; *s; s++) {
    if (*s != '/') continue;
    *s = '\0';
    if (mkdir(p, 0755) < 0 && errno != EEXIST) return -errno;
    *s = '/';
  }
  if (mkdir(p, 0755) == 0) *created = true;
  else if (errno != EEXIST) return -errno;
  return 0;
}

/* Makes a new directory's entry durable in its parent. */
static int fsync_parent(ll_log_t *log, const char *path) {
  ll_autofree char *p = ll_strdup(path);
  size_t n = strlen(p);
  while (n > 1 && p[n - 1] == '/') p[--n] = '\0';
  char *slash = strrchr(p, '/');
  const char *parent = !slash ? "." : slash == p ? "/" : (*slash = '\0', p);
  int fd = io_open(log, parent, O_RDONLY | O_DIRECTORY, 0);
  if (fd < 0) return fd;
  int r = io_fsync(log, fd);
  io_close(log, fd);
  return r;
}

/* "<20 digits>.<ext>" -> its number; false for any other name. */
static bool parse_name(const char *name, const char *ext, uint64_t *base) {
  size_t n = strlen(name);
  if (n != NAME_DIGITS + 1 + strlen(ext) || name[NAME_DIGITS] != '.' ||
      strcmp(name + NAME_DIGITS + 1, ext) != 0)
    return false;
  uint64_t v = 0;
  for (int i = 0; i < NAME_DIGITS; i++) {
    if (name[i] < '0' || name[i] > '9') return false;
    unsigned d = (unsigned)(name[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *base = v;
  return v > 0;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

typedef struct names {
  uint64_t *logs, *idxs; /* owned, sorted */
  size_t nlogs, nidxs, caplogs, capidxs;
} names_t;

static int list_dir(const char *dir, names_t *nm) {
  DIR *d = opendir(dir);
  if (!d) return -errno;
  struct dirent *de;
  while ((errno = 0, de = readdir(d))) {
    uint64_t v;
    if (parse_name(de->d_name, "log", &v)) {
      grow(&nm->logs, &nm->caplogs, nm->nlogs + 1, sizeof *nm->logs);
      nm->logs[nm->nlogs++] = v;
    } else if (parse_name(de->d_name, "idx", &v)) {
      grow(&nm->idxs, &nm->capidxs, nm->nidxs + 1, sizeof *nm->idxs);
      nm->idxs[nm->nidxs++] = v;
    }
  }
  int e = errno;
  closedir(d);
  if (e) return -e;
  if (nm->nlogs) qsort(nm->logs, nm->nlogs, sizeof *nm->logs, cmp_u64);
  if (nm->nidxs) qsort(nm->idxs, nm->nidxs, sizeof *nm->idxs, cmp_u64);
  return 0;
}

/* Removes a file, ENOENT being fine. */
static int remove_file(ll_log_t *log, uint64_t base, const char *ext, ll_err_t *err) {
  ll_autofree char *path = seg_path(log, base, ext);
  int r = io_unlink(log, path);
  if (r < 0 && r != -ENOENT) return FAIL(err, -r, "removing %s: %s", path, ename(-r));
  return 0;
}

/* Scans segment s (open read-write as fd) from its start, indexing every good record; cuts
 * the file at the first damaged or torn one and fsyncs it, so what open found is durable
 * before anything is appended after it. 0, or -1 with err. */
static int scan_segment(ll_log_t *log, seg_t *s, int fd, ll_err_t *err) {
  ll_autofree char *path = seg_path(log, s->base, "log");
  rd_t r;
  rd_init(&r, log, fd, 0, UINT64_MAX);
  int rc;
  for (uint64_t seq = s->base;; seq++) {
    ll_log_record_t rec;
    uint64_t len, off = rd_off(&r);
    rc = rd_record(&r, seq, true, &rec, &len);
    if (rc != REC_OK) break;
    seg_note(log, s, seq, rec.arrival_ms, off, len);
  }
  if (rc < 0 && rc != -EBADMSG) return FAIL(err, -rc, "reading %s: %s", path, ename(-rc));
  if (rc == -EBADMSG && (rc = io_ftruncate(log, fd, s->size)) < 0)
    return FAIL(err, -rc, "truncating the torn tail of %s: %s", path, ename(-rc));
  if ((rc = io_fsync(log, fd)) < 0) return FAIL(err, -rc, "fsync %s: %s", path, ename(-rc));
  return 0;
}

/* Loads the segments found on disk (bases, sorted), recovering as the header says: sealed ones
 * from their .idx when usable, else by scanning; the newest always by scanning. Segments that
 * do not follow on from the ones before (lost in a crash) are removed. */
static int load_segments(ll_log_t *log, const uint64_t *bases, size_t n, ll_err_t *err) {
  for (size_t i = 0; i < n; i++) {
    if (log->nsegs && bases[i] != active(log)->last + 1) {
      /* A record before bases[i] was lost, so nothing from here on was ever acknowledged. */
      for (size_t j = i; j < n; j++)
        if (remove_file(log, bases[j], "idx", err) < 0 || remove_file(log, bases[j], "log", err) < 0)
          return -1;
      log->dir_dirty = true;
      break;
    }
    seg_t *s = seg_new(bases[i]);
    push_seg(log, s);
    if (i + 1 < n && load_idx(log, s, bases[i + 1]) == 0) continue;
    seg_close_read(log, s);
    ll_autofree char *path = seg_path(log, s->base, "log");
    int fd = io_open(log, path, O_RDWR, 0);
    if (fd < 0) return FAIL(err, -fd, "opening %s: %s", path, ename(-fd));
    int rc = scan_segment(log, s, fd, err);
    io_close(log, fd);
    if (rc < 0) return -1;
    if (i + 1 < n && s->last + 1 == bases[i + 1]) { /* stays sealed: durable now, so indexed */
      seg_seal(s);
      write_idx(log, s);
    }
  }
  /* The newest segment becomes the active one: write fd, and no .idx (that is for sealed
   * segments; a stale one must not describe a segment that goes on growing). */
  seg_t *a = active(log);
  seg_close_read(log, a);
  a->idx_done = false;
  ll_autofree char *ipath = seg_path(log, a->base, "idx");
  if (io_unlink(log, ipath) == 0) log->dir_dirty = true;
  return 0;
}

static void log_free(ll_log_t *log) {
  for (size_t i = 0; i < log->nsegs; i++) {
    if (log->segs[i]->fd >= 0) io_close(log, log->segs[i]->fd);
    seg_free(log->segs[i]);
  }
  for (size_t i = 0; i < log->npending; i++) io_close(log, log->pending[i]);
  if (log->dir_fd >= 0) io_close(log, log->dir_fd);
  pthread_mutex_destroy(&log->mu);
  free(log->segs);
  free(log->pending);
  free(log->wbuf);
  free(log->rbuf);
  free(log->dir);
  free(log);
}

static int create_segment(ll_log_t *log, uint64_t base, ll_err_t *err) {
  ll_autofree char *path = seg_path(log, base, "log");
  int fd = io_open(log, path, O_RDWR | O_CREAT | O_EXCL, 0644);
  if (fd < 0) return FAIL(err, -fd, "creating %s: %s", path, ename(-fd));
  return fd;
}

int ll_log_open(const char *dir, uint64_t first_seq, const ll_log_opts_t *opts, ll_log_t **out,
                ll_err_t *err) {
  *out = NULL;
  if (first_seq == 0) return FAIL(err, EINVAL, "opening log %s: first_seq must be >= 1", dir);
  ll_log_t *log = ll_calloc(1, sizeof *log);
  log->dir = ll_strdup(dir);
  log->io = opts && opts->io ? *opts->io : default_io;
  log->seg_bytes = opts && opts->segment_bytes ? opts->segment_bytes : 64u << 20;
  log->index_every = opts && opts->index_every ? opts->index_every : 4096;
  log->dir_fd = -1;
  log->active_fd = -1;
  pthread_mutex_init(&log->mu, NULL);
  names_t nm = {0};
  int r;
  bool created;
  if ((r = mkdirs(dir, &created)) < 0) {
    ll_err_set(err, -r, "creating %s: %s", dir, ename(-r));
    goto fail;
  }
  if (created && (r = fsync_parent(log, dir)) < 0) {
    ll_err_set(err, -r, "fsync the parent of %s: %s", dir, ename(-r));
    goto fail;
  }
  if ((r = io_open(log, dir, O_RDONLY | O_DIRECTORY, 0)) < 0) {
    ll_err_set(err, -r, "opening %s: %s", dir, ename(-r));
    goto fail;
  }
  log->dir_fd = r;
  if ((r = list_dir(dir, &nm)) < 0) {
    ll_err_set(err, -r, "listing %s: %s", dir, ename(-r));
    goto fail;
  }
  if (nm.nlogs == 0) {
    int fd = create_segment(log, first_seq, err);
    if (fd < 0) goto fail;
    seg_t *s = seg_new(first_seq);
    s->fd = fd;
    push_seg(log, s);
    log->dir_dirty = true;
  } else {
    if (load_segments(log, nm.logs, nm.nlogs, err) < 0) goto fail;
    seg_t *a = active(log);
    ll_autofree char *path = seg_path(log, a->base, "log");
    if ((r = io_open(log, path, O_RDWR, 0)) < 0) {
      ll_err_set(err, -r, "opening %s: %s", path, ename(-r));
      goto fail;
    }
    a->fd = r;
  }
  /* .idx files without their segment (trimmed or removed in a crash). */
  for (size_t i = 0, j = 0; i < nm.nidxs; i++) {
    while (j < nm.nlogs && nm.logs[j] < nm.idxs[i]) j++;
    if (j == nm.nlogs || nm.logs[j] != nm.idxs[i]) {
      if (remove_file(log, nm.idxs[i], "idx", err) < 0) goto fail;
      log->dir_dirty = true;
    }
  }
  /* What recovery found is durable from here on (scan_segment fsynced what it read). */
  if (log->dir_dirty && (r = io_fsync(log, log->dir_fd)) < 0) {
    ll_err_set(err, -r, "fsync %s: %s", dir, ename(-r));
    goto fail;
  }
  log->dir_dirty = false;
  seg_t *a = active(log);
  log->active_fd = a->fd;
  log->next_seq = a->last + 1;
  log->last_seq = seg_empty(log->segs[0]) ? 0 : a->last;
  log->durable_seq = log->last_seq;
  free(nm.logs);
  free(nm.idxs);
  shrink(&log->rbuf, &log->rcap);
  *out = log;
  return 0;
fail:
  free(nm.logs);
  free(nm.idxs);
  ll_err_wrap(err, "opening log %s", dir);
  log_free(log);
  return -1;
}

void ll_log_close(ll_log_t *log) {
  if (!log) return;
  flush_idx(log);
  log_free(log);
}

/* ---- appending --------------------------------------------------------------------------- */

/* Seals the active segment and starts a new one at next_seq. The old write fd goes to the
 * sync's pending list: it must stay open until a sync has fsynced it. */
static int roll(ll_log_t *log, ll_err_t *err) {
  int fd = create_segment(log, log->next_seq, err);
  if (fd < 0) return -1;
  seg_t *old = active(log);
  seg_seal(old);
  seg_t *s = seg_new(log->next_seq);
  s->fd = fd;
  push_seg(log, s);
  pthread_mutex_lock(&log->mu);
  grow(&log->pending, &log->cappending, log->npending + 1, sizeof *log->pending);
  log->pending[log->npending++] = old->fd;
  log->active_fd = fd;
  log->active_dirty = false; /* the old segment's writes are covered by its pending entry */
  log->dir_dirty = true;
  pthread_mutex_unlock(&log->mu);
  old->fd = -1; /* reads reopen it read-only */
  return 0;
}

int ll_log_append(ll_log_t *log, int64_t arrival_ms, const void *key, size_t key_len,
                  const void *data, size_t data_len, uint64_t *seq, ll_err_t *err) {
  ll_log_entry_t e = {arrival_ms, key, key_len, data, data_len};
  return ll_log_append_many(log, &e, 1, seq, err);
}

int ll_log_append_many(ll_log_t *log, const ll_log_entry_t *es, size_t n, uint64_t *first_seq,
                       ll_err_t *err) {
  size_t len = 0;
  for (size_t i = 0; i < n; i++) {
    if (es[i].key_len > LL_LOG_KEY_MAX || es[i].data_len > LL_LOG_RECORD_MAX ||
        BODY_FIXED + es[i].key_len + es[i].data_len > LL_LOG_RECORD_MAX)
      return FAIL(err, EMSGSIZE, "appending to %s: record of %zu bytes (key %zu) too large",
                  log->dir, BODY_FIXED + es[i].key_len + es[i].data_len, es[i].key_len);
    len += HDR_SZ + BODY_FIXED + es[i].key_len + es[i].data_len;
  }
  if (n == 0) {
    *first_seq = log->next_seq;
    return 0;
  }
  flush_idx(log);
  seg_t *s = active(log);
  if (s->size >= log->seg_bytes && !seg_empty(s)) {
    if (roll(log, err) < 0) return ll_err_wrap(err, "appending to %s", log->dir), -1;
    s = active(log);
  }
  if (log->wcap < len) {
    free(log->wbuf);
    log->wbuf = ll_malloc(len);
    log->wcap = len;
  }
  /* every record of the batch in one buffer, written with one pwrite */
  uint8_t *p = log->wbuf;
  for (size_t i = 0; i < n; i++) {
    const ll_log_entry_t *e = &es[i];
    uint32_t body_len = (uint32_t)(BODY_FIXED + e->key_len + e->data_len);
    uint8_t *b = p + HDR_SZ;
    put_u64(b, log->next_seq + i);
    put_u64(b + 8, (uint64_t)e->arrival_ms);
    put_u16(b + 16, (uint16_t)e->key_len);
    if (e->key_len) memcpy(b + BODY_FIXED, e->key, e->key_len);
    if (e->data_len) memcpy(b + BODY_FIXED + e->key_len, e->data, e->data_len);
    put_u32(p, body_len);
    put_u32(p + 4, ll_crc32c(0, b, body_len));
    p += HDR_SZ + body_len;
  }
  ssize_t w = io_pwrite(log, s->fd, log->wbuf, len, s->size);
  if (w != (ssize_t)len) {
    /* Cut off whatever part landed, so the next record goes right after the last good one.
     * Should the cut fail too, the next append overwrites the fragment from the same offset
     * and recovery drops any leftover beyond it (its CRC or seq cannot match). */
    io_ftruncate(log, s->fd, s->size);
    ll_autofree char *path = seg_path(log, s->base, "log");
    if (w < 0) return FAIL(err, (int)-w, "appending to %s: %s", path, ename((int)-w));
    return FAIL(err, EIO, "appending to %s: short write (%zd of %zu bytes)", path, w, len);
  }
  uint64_t off = s->size;
  for (size_t i = 0; i < n; i++) {
    uint64_t rl = HDR_SZ + BODY_FIXED + es[i].key_len + es[i].data_len;
    seg_note(log, s, log->next_seq + i, es[i].arrival_ms, off, rl);
    off += rl;
  }
  *first_seq = log->next_seq;
  log->next_seq += n;
  pthread_mutex_lock(&log->mu);
  log->last_seq = log->next_seq - 1;
  log->active_dirty = true;
  pthread_mutex_unlock(&log->mu);
  shrink(&log->wbuf, &log->wcap);
  return 0;
}

/* ---- sync -------------------------------------------------------------------------------- */

int ll_log_sync(ll_log_t *log, uint64_t *durable_seq, ll_err_t *err) {
  /* Take what needs fsyncing under the lock, fsync without it (appends go on meanwhile), then
   * publish the new durable_seq. Every record <= target was written before the snapshot, to a
   * segment that is either the active one (fsynced if dirty), sealed since the last sync (in
   * the pending list taken here), or already fsynced by an earlier sync. The active fd cannot
   * be closed meanwhile: a roll moves it to the pending list, which only a sync drains. */
  pthread_mutex_lock(&log->mu);
  uint64_t target = log->last_seq;
  int *fds = log->pending;
  size_t nfds = log->npending;
  log->pending = NULL;
  log->npending = log->cappending = 0;
  int afd = log->active_dirty ? log->active_fd : -1;
  bool dir = log->dir_dirty;
  log->active_dirty = log->dir_dirty = false;
  pthread_mutex_unlock(&log->mu);

  int r = 0;
  const char *what = "segment";
  for (size_t i = 0; i < nfds && r == 0; i++) r = io_fsync(log, fds[i]);
  if (r == 0 && afd >= 0) r = io_fsync(log, afd);
  if (r == 0 && dir) {
    what = "directory";
    r = io_fsync(log, log->dir_fd);
  }

  pthread_mutex_lock(&log->mu);
  if (r == 0) {
    if (target > log->durable_seq) __atomic_store_n(&log->durable_seq, target, __ATOMIC_RELEASE);
  } else {
    /* Give everything back for the next sync to retry: the taken fds go first (older). */
    if (nfds) {
      size_t n = nfds + log->npending;
      int *all = ll_malloc(n * sizeof *all);
      memcpy(all, fds, nfds * sizeof *all);
      if (log->npending) memcpy(all + nfds, log->pending, log->npending * sizeof *all);
      free(log->pending);
      log->pending = all;
      log->npending = log->cappending = n;
    }
    if (afd >= 0) log->active_dirty = true;
    if (dir) log->dir_dirty = true;
  }
  uint64_t d = log->durable_seq;
  pthread_mutex_unlock(&log->mu);

  if (r == 0)
    for (size_t i = 0; i < nfds; i++) io_close(log, fds[i]);
  free(fds);
  if (durable_seq) *durable_seq = d;
  if (r < 0) return FAIL(err, -r, "syncing log %s: fsync %s: %s", log->dir, what, ename(-r));
  return 0;
}

/* ---- queries ----------------------------------------------------------------------------- */

uint64_t ll_log_first_seq(const ll_log_t *log) {
  return seg_empty(log->segs[0]) ? 0 : log->segs[0]->base;
}

uint64_t ll_log_last_seq(const ll_log_t *log) { return log->last_seq; }

uint64_t ll_log_durable_seq(const ll_log_t *log) {
  return __atomic_load_n(&log->durable_seq, __ATOMIC_ACQUIRE);
}

uint64_t ll_log_seq_at_time(ll_log_t *log, int64_t ms) {
  /* The first segment whose newest record is at or after ms holds the answer (arrival times
   * never decrease, so no earlier segment has one). Only the active segment can be empty. */
  size_t lo = 0, hi = log->nsegs;
  if (seg_empty(active(log))) hi--;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (log->segs[mid]->last_ms < ms) lo = mid + 1;
    else hi = mid;
  }
  uint64_t found = log->next_seq;
  if (lo == log->nsegs || seg_empty(log->segs[lo])) return found;
  seg_t *s = log->segs[lo];
  /* The last entry before ms: the answer comes after it (or is the first record). */
  size_t elo = 0, ehi = s->nents;
  while (elo < ehi) {
    size_t mid = elo + (ehi - elo) / 2;
    if (s->ents[mid].ms < ms) elo = mid + 1;
    else ehi = mid;
  }
  if (elo == 0) return s->base;
  const idx_ent_t *e = &s->ents[elo - 1];
  int fd = seg_read_fd(log, s);
  found = e->seq + 1; /* best effort should the segment not read back */
  if (fd >= 0) {
    rd_t r;
    rd_init(&r, log, fd, e->off, s->size);
    for (uint64_t seq = e->seq; seq <= s->last; seq++) {
      ll_log_record_t rec;
      uint64_t len;
      if (rd_record(&r, seq, false, &rec, &len) != REC_OK) break;
      if (rec.arrival_ms >= ms) {
        found = seq;
        break;
      }
    }
  }
  shrink(&log->rbuf, &log->rcap);
  return found;
}

int ll_log_read(ll_log_t *log, uint64_t from_seq, uint64_t upto, size_t max_records,
                size_t max_bytes, ll_log_read_cb cb, void *ud, uint64_t *next_seq, ll_err_t *err) {
  uint64_t start = from_seq > log->segs[0]->base ? from_seq : log->segs[0]->base;
  uint64_t seq = start;
  int rc = 0;
  if (max_records == 0 || start > upto || start >= log->next_seq) goto done;
  size_t si = seg_find(log, start), n = 0, bytes = 0;
  const idx_ent_t *e = ent_find_seq(log->segs[si], start);
  uint64_t off = e->off;
  seq = e->seq;
  for (; si < log->nsegs; si++, off = 0) {
    seg_t *s = log->segs[si];
    if (seg_empty(s)) break;
    int fd = seg_read_fd(log, s);
    ll_autofree char *path = NULL;
    if (fd < 0) {
      path = seg_path(log, s->base, "log");
      rc = FAIL(err, -fd, "reading log: opening %s: %s", path, ename(-fd));
      goto done;
    }
    rd_t r;
    rd_init(&r, log, fd, off, s->size);
    while (seq <= s->last) {
      if (seq >= start && seq > upto) goto done;
      ll_log_record_t rec;
      uint64_t len;
      int k = rd_record(&r, seq, seq >= start, &rec, &len);
      if (k != REC_OK) {
        if (k == REC_END) k = -EIO;
        path = seg_path(log, s->base, "log");
        rc = FAIL(err, -k, "reading record %" PRIu64 " from %s at offset %" PRIu64 ": %s", seq,
                  path, rd_off(&r), k == -EBADMSG ? "damaged record" : ename(-k));
        goto done;
      }
      if (seq < start) {
        seq++;
        continue;
      }
      size_t sz = rec.key_len + rec.data_len;
      if (n > 0 && (sz > max_bytes || bytes > max_bytes - sz)) goto done;
      n++;
      bytes += sz;
      seq++;
      if (cb(ud, &rec) != 0 || n == max_records) goto done;
    }
  }
done:
  shrink(&log->rbuf, &log->rcap);
  if (next_seq) *next_seq = seq;
  return rc;
}

/* ---- retention --------------------------------------------------------------------------- */

int ll_log_trim_before(ll_log_t *log, int64_t ms, ll_err_t *err) {
  flush_idx(log);
  size_t n = 0;
  int rc = 0;
  /* Sealed segments are never empty, and their newest arrivals never decrease. An unsynced
   * segment's write fd stays on the pending list: the next sync still fsyncs (harmlessly) and
   * closes it. */
  while (n + 1 < log->nsegs && log->segs[n]->last_ms < ms) {
    seg_t *s = log->segs[n];
    if (remove_file(log, s->base, "idx", err) < 0 || remove_file(log, s->base, "log", err) < 0) {
      rc = -1;
      break;
    }
    seg_close_read(log, s);
    seg_free(s);
    n++;
  }
  if (n) {
    memmove(log->segs, log->segs + n, (log->nsegs - n) * sizeof *log->segs);
    log->nsegs -= n;
    pthread_mutex_lock(&log->mu);
    log->dir_dirty = true;
    pthread_mutex_unlock(&log->mu);
  }
  if (rc < 0) return ll_err_wrap(err, "trimming log %s", log->dir), -1;
  return (int)n;
}

/* rm -rf below the directory open as dfd (closed here). 0 or -errno. */
static int rm_tree_at(int dfd) {
  DIR *d = fdopendir(dfd);
  if (!d) {
    int e = errno;
    close(dfd);
    return -e;
  }
  int rc = 0;
  struct dirent *de;
  while ((errno = 0, de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    if (unlinkat(dfd, de->d_name, 0) == 0) continue;
    if (errno != EISDIR && errno != EPERM) {
      rc = -errno;
      break;
    }
    int sub = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0 || (rc = rm_tree_at(sub)) < 0 || unlinkat(dfd, de->d_name, AT_REMOVEDIR) < 0) {
      if (!rc) rc = -errno;
      break;
    }
  }
  if (!rc && errno) rc = -errno;
  closedir(d);
  return rc;
}

int ll_log_destroy(const char *dir, ll_err_t *err) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return 0;
  int r = fd < 0 ? -errno : rm_tree_at(fd);
  if (r == 0 && rmdir(dir) < 0 && errno != ENOENT) r = -errno;
  if (r < 0) return FAIL(err, -r, "removing log %s: %s", dir, ename(-r));
  return 0;
}

/* AWS Signature Version 4. The canonical request is never materialised: its bytes stream into a
 * SHA-256 context as they are produced, so verification allocates nothing unless a request has
 * unusually many query parameters, path segments or signed headers (then scratch comes from the
 * heap, sized to the input). About 1.6 µs per verification of a typical Lambda Invoke.
 *
 * HMAC-SHA256 is written here over the SHA256_* primitives instead of OpenSSL's one-shot HMAC():
 * in OpenSSL 3 every HMAC() call fetches the algorithm from the provider and allocates a context
 * (about 2 µs each on the dev VM), and one signature needs five of them. The SHA256_* functions
 * are deprecated in OpenSSL 3 but still provided; OPENSSL_SUPPRESS_DEPRECATED must precede every
 * OpenSSL header. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include "auth/sigv4.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/encoding.h"
#include "core/mem.h"

#define ALGORITHM "AWS4-HMAC-SHA256"
#define TERMINATOR "aws4_request"

/* A byte range. */
typedef struct span {
  const char *p;
  size_t len;
} span_t;

/* ---- small byte helpers ---------------------------------------------------------------- */

static inline unsigned char lower(unsigned char c) {
  return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* RFC 3986 unreserved: A-Z a-z 0-9 - _ . ~ */
static inline bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

/* The whitespace Python's str.split() knows in ASCII (botocore trims header values with it). */
static inline bool space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int hexval(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static bool span_eq(span_t s, const char *lit) {
  size_t n = strlen(lit);
  return s.len == n && memcmp(s.p, lit, n) == 0;
}

static bool span_ieq(const char *a, size_t alen, const char *b, size_t blen) {
  if (alen != blen) return false;
  for (size_t i = 0; i < alen; i++)
    if (lower((unsigned char)a[i]) != lower((unsigned char)b[i])) return false;
  return true;
}

/* Byte order, a prefix first (Python's string order on the ASCII botocore produces). */
static int span_cmp(span_t a, span_t b) {
  int c = memcmp(a.p, b.p, a.len < b.len ? a.len : b.len);
  if (c) return c;
  return a.len < b.len ? -1 : a.len > b.len;
}

/* Scratch memory: the stack buffer when it is big enough, else the heap. */
static void *scratch(void *stack_buf, size_t stack_sz, size_t need) {
  return need <= stack_sz ? stack_buf : ll_malloc(need ? need : 1);
}

static void scratch_free(void *p, void *stack_buf) {
  if (p != stack_buf) free(p);
}

/* ---- SHA-256 sink and HMAC-SHA256 -------------------------------------------------------- */

/* Collects small writes (single encoded bytes) before handing them to SHA-256. */
typedef struct sink {
  SHA256_CTX sha;
  size_t n;
  unsigned char buf[256];
} sink_t;

static void sink_flush(sink_t *s) {
  if (s->n) SHA256_Update(&s->sha, s->buf, s->n);
  s->n = 0;
}

static void sink_write(sink_t *s, const void *p, size_t len) {
  if (len > sizeof s->buf - s->n) {
    sink_flush(s);
    if (len > sizeof s->buf) {
      SHA256_Update(&s->sha, p, len);
      return;
    }
  }
  memcpy(s->buf + s->n, p, len);
  s->n += len;
}

static inline void sink_putc(sink_t *s, unsigned char c) {
  if (s->n == sizeof s->buf) sink_flush(s);
  s->buf[s->n++] = c;
}

static void sink_puts(sink_t *s, const char *str) { sink_write(s, str, strlen(str)); }

/* Percent-encodes every byte but the unreserved ones, upper-case hex. */
static void sink_encode(sink_t *s, const char *p, size_t len) {
  static const char digits[] = "0123456789ABCDEF";
  for (size_t i = 0; i < len;) {
    size_t run = i;
    while (run < len && unreserved((unsigned char)p[run])) run++;
    if (run > i) {
      sink_write(s, p + i, run - i);
      i = run;
      continue;
    }
    unsigned char c = (unsigned char)p[i++];
    sink_putc(s, '%');
    sink_putc(s, (unsigned char)digits[c >> 4]);
    sink_putc(s, (unsigned char)digits[c & 15]);
  }
}

typedef struct hmac {
  SHA256_CTX inner, outer;
} hmac_t;

/* RFC 2104 with B = 64. The key is prefix + key (the prefix saves the caller a concatenation:
 * kSecret = "AWS4" + secret). */
static void hmac_init(hmac_t *h, const char *prefix, const void *key, size_t key_len) {
  unsigned char k[64] = {0}, pad[64];
  size_t plen = prefix ? strlen(prefix) : 0;
  if (plen + key_len > sizeof k) {
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, prefix, plen);
    SHA256_Update(&c, key, key_len);
    SHA256_Final(k, &c);
    OPENSSL_cleanse(&c, sizeof c);
  } else {
    if (plen) memcpy(k, prefix, plen);
    memcpy(k + plen, key, key_len);
  }
  for (size_t i = 0; i < 64; i++) pad[i] = k[i] ^ 0x36;
  SHA256_Init(&h->inner);
  SHA256_Update(&h->inner, pad, 64);
  for (size_t i = 0; i < 64; i++) pad[i] = k[i] ^ 0x5c;
  SHA256_Init(&h->outer);
  SHA256_Update(&h->outer, pad, 64);
  OPENSSL_cleanse(k, sizeof k);
  OPENSSL_cleanse(pad, sizeof pad);
}

static void hmac_update(hmac_t *h, const void *p, size_t len) { SHA256_Update(&h->inner, p, len); }

static void hmac_final(hmac_t *h, unsigned char out[32]) {
  unsigned char d[32];
  SHA256_Final(d, &h->inner);
  SHA256_Update(&h->outer, d, 32);
  SHA256_Final(out, &h->outer);
}

static void hmac(const void *key, size_t key_len, const char *msg, unsigned char out[32]) {
  hmac_t h;
  hmac_init(&h, NULL, key, key_len);
  hmac_update(&h, msg, strlen(msg));
  hmac_final(&h, out);
}

/* kSigning for (secret, date, region, service). The last one is remembered per thread: a daemon
 * sees the same scope on request after request, and the four HMACs are most of the cost. */
static void signing_key(const char *secret, const char date8[8], const char *region,
                        const char *service, unsigned char out[32]) {
  static _Thread_local struct {
    bool valid;
    char secret[129], date8[8], region[64], service[64];
    unsigned char key[32];
  } cache;
  size_t slen = strlen(secret), rlen = strlen(region), svlen = strlen(service);
  bool cacheable =
      slen < sizeof cache.secret && rlen < sizeof cache.region && svlen < sizeof cache.service;
  if (cacheable && cache.valid && memcmp(cache.date8, date8, 8) == 0 &&
      strcmp(cache.region, region) == 0 && strcmp(cache.service, service) == 0 &&
      strlen(cache.secret) == slen && CRYPTO_memcmp(cache.secret, secret, slen) == 0) {
    memcpy(out, cache.key, 32);
    return;
  }
  unsigned char k[32];
  hmac_t h;
  hmac_init(&h, "AWS4", secret, slen);
  hmac_update(&h, date8, 8);
  hmac_final(&h, k);
  hmac(k, 32, region, k);
  hmac(k, 32, service, k);
  hmac(k, 32, TERMINATOR, k);
  memcpy(out, k, 32);
  if (cacheable) {
    cache.valid = true;
    memcpy(cache.secret, secret, slen + 1);
    memcpy(cache.date8, date8, 8);
    memcpy(cache.region, region, rlen + 1);
    memcpy(cache.service, service, svlen + 1);
    memcpy(cache.key, k, 32);
  }
  OPENSSL_cleanse(k, sizeof k);
}

/* ---- canonical request ------------------------------------------------------------------- */

/* The canonical URI of a non-S3 service: botocore's remove_dot_segments (empty and "."
 * segments dropped, ".." pops, leading '/' kept, trailing '/' kept unless nothing is left), then
 * every byte of each segment percent-encoded, so the wire's "%3A" becomes "%253A". */
static void write_normalized_uri(sink_t *s, const char *path, size_t len) {
  if (len == 0) {
    sink_putc(s, '/');
    return;
  }
  size_t nmax = 1;
  for (const char *p = path, *end = path + len; (p = memchr(p, '/', (size_t)(end - p))); p++)
    nmax++;
  span_t segs_buf[64];
  span_t *segs = scratch(segs_buf, sizeof segs_buf, nmax * sizeof *segs);
  size_t n = 0, start = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i < len && path[i] != '/') continue;
    span_t seg = {path + start, i - start};
    start = i + 1;
    if (seg.len == 0 || span_eq(seg, ".")) continue;
    if (span_eq(seg, "..")) {
      if (n) n--;
      continue;
    }
    segs[n++] = seg;
  }
  bool first = path[0] == '/', last = path[len - 1] == '/' && n;
  if (!first && !n) sink_putc(s, '/'); /* a relative path with nothing left (botocore: "") */
  if (first) sink_putc(s, '/');
  for (size_t i = 0; i < n; i++) {
    if (i) sink_putc(s, '/');
    sink_encode(s, segs[i].p, segs[i].len);
  }
  if (last) sink_putc(s, '/');
  scratch_free(segs, segs_buf);
}

/* The byte at p[*i] percent-decoded: "%41" is 'A' and moves *i to its last digit; a '%' not
 * followed by two hex digits stays literal, and so does '+'. */
static unsigned char decode_at(const char *p, size_t len, size_t *i) {
  unsigned char c = (unsigned char)p[*i];
  if (c == '%' && *i + 2 < len && hexval((unsigned char)p[*i + 1]) >= 0 &&
      hexval((unsigned char)p[*i + 2]) >= 0) {
    c = (unsigned char)(hexval((unsigned char)p[*i + 1]) << 4 | hexval((unsigned char)p[*i + 2]));
    *i += 2;
  }
  return c;
}

/* Percent-decodes p (see decode_at) into out, which must hold len bytes. Returns the length. */
static size_t unquote(const char *p, size_t len, char *out) {
  size_t o = 0;
  for (size_t i = 0; i < len; i++) out[o++] = (char)decode_at(p, len, &i);
  return o;
}

/* Percent-decodes p (see decode_at) and percent-encodes the result into out, which must hold
 * 3 * len bytes. Returns the length. */
static size_t requote(const char *p, size_t len, char *out) {
  static const char digits[] = "0123456789ABCDEF";
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = decode_at(p, len, &i);
    if (unreserved(c)) {
      out[o++] = (char)c;
    } else {
      out[o++] = '%';
      out[o++] = digits[c >> 4];
      out[o++] = digits[c & 15];
    }
  }
  return o;
}

typedef struct qpair {
  span_t key, value;
} qpair_t;

static int qpair_cmp(const void *a, const void *b) {
  const qpair_t *x = a, *y = b;
  int c = span_cmp(x->key, y->key);
  return c ? c : span_cmp(x->value, y->value);
}

/* The next non-empty '&'-separated piece of q[*pos..len), split at its first '=' (the value
 * empty when there is none), as on the wire; false when none is left. */
static bool next_pair(const char *q, size_t len, size_t *pos, span_t *key, span_t *value) {
  while (*pos < len) {
    const char *piece = q + *pos, *amp = memchr(piece, '&', len - *pos);
    size_t plen = amp ? (size_t)(amp - piece) : len - *pos;
    *pos += plen + 1;
    if (plen == 0) continue;
    const char *eq = memchr(piece, '=', plen);
    size_t klen = eq ? (size_t)(eq - piece) : plen;
    *key = (span_t){piece, klen};
    *value = eq ? (span_t){eq + 1, plen - klen - 1} : (span_t){piece + plen, 0};
    return true;
  }
  return false;
}

/* The canonical query: pairs split on '&' (empty pieces ignored) and the first '=', key and value
 * re-encoded, X-Amz-Signature dropped, sorted by key then value, joined with '&'. */
static void write_canonical_query(sink_t *s, const char *q, size_t len) {
  if (len == 0) return;
  size_t npairs = 1;
  for (const char *p = q, *end = q + len; (p = memchr(p, '&', (size_t)(end - p))); p++) npairs++;
  qpair_t pairs_buf[32];
  char text_buf[1024];
  qpair_t *pairs = scratch(pairs_buf, sizeof pairs_buf, npairs * sizeof *pairs);
  char *text = scratch(text_buf, sizeof text_buf, 3 * len);
  size_t n = 0, used = 0, pos = 0;
  span_t key, value;
  while (next_pair(q, len, &pos, &key, &value)) {
    qpair_t *pr = &pairs[n];
    pr->key.p = text + used;
    pr->key.len = requote(key.p, key.len, text + used);
    used += pr->key.len;
    pr->value.p = text + used;
    pr->value.len = requote(value.p, value.len, text + used);
    used += pr->value.len;
    /* Encoding is one-to-one, so the encoded key equals this literal iff the decoded one does. */
    if (span_eq(pr->key, "X-Amz-Signature")) continue;
    n++;
  }
  if (n > 1) qsort(pairs, n, sizeof *pairs, qpair_cmp);
  for (size_t i = 0; i < n; i++) {
    if (i) sink_putc(s, '&');
    sink_write(s, pairs[i].key.p, pairs[i].key.len);
    sink_putc(s, '=');
    sink_write(s, pairs[i].value.p, pairs[i].value.len);
  }
  scratch_free(text, text_buf);
  scratch_free(pairs, pairs_buf);
}

/* A header value trimmed, with each internal whitespace run collapsed to one space. */
static void write_trimmed(sink_t *s, const char *v, size_t len) {
  size_t i = 0;
  while (i < len && space((unsigned char)v[i])) i++;
  while (i < len) {
    size_t word = i;
    while (i < len && !space((unsigned char)v[i])) i++;
    sink_write(s, v + word, i - word);
    while (i < len && space((unsigned char)v[i])) i++;
    if (i < len) sink_putc(s, ' ');
  }
}

/* SHA-256 of the canonical request, with the signed header names in the order given (their
 * values joined in arrival order; a name with no header contributes an empty value). */
static void canonical_request_hash(const ll_sigv4_request_t *req, bool s3, const span_t *names,
                                   size_t nnames, unsigned char out[32]) {
  sink_t s;
  SHA256_Init(&s.sha);
  s.n = 0;
  sink_puts(&s, req->method);
  sink_putc(&s, '\n');
  if (s3)
    sink_write(&s, req->path_len ? req->path : "/", req->path_len ? req->path_len : 1);
  else
    write_normalized_uri(&s, req->path, req->path_len);
  sink_putc(&s, '\n');
  write_canonical_query(&s, req->query, req->query_len);
  sink_putc(&s, '\n');
  for (size_t i = 0; i < nnames; i++) {
    for (size_t j = 0; j < names[i].len; j++) sink_putc(&s, lower((unsigned char)names[i].p[j]));
    sink_putc(&s, ':');
    bool first = true;
    for (size_t j = 0; j < req->nheaders; j++) {
      const ll_kv_t *h = &req->headers[j];
      if (!span_ieq(h->name, h->name_len, names[i].p, names[i].len)) continue;
      if (!first) sink_putc(&s, ',');
      first = false;
      write_trimmed(&s, h->value, h->value_len);
    }
    sink_putc(&s, '\n');
  }
  sink_putc(&s, '\n');
  for (size_t i = 0; i < nnames; i++) {
    if (i) sink_putc(&s, ';');
    for (size_t j = 0; j < names[i].len; j++) sink_putc(&s, lower((unsigned char)names[i].p[j]));
  }
  sink_putc(&s, '\n');
  sink_puts(&s, req->payload_hash);
  sink_flush(&s);
  SHA256_Final(out, &s.sha);
}

/* hex(HMAC(kSigning, StringToSign)) into out[65]. */
static void compute_signature(const ll_sigv4_request_t *req, const span_t *names, size_t nnames,
                              const char *secret, const char *region, const char *service,
                              const char *amz_date, char out[65]) {
  ll_assert(req->method && req->payload_hash && (req->path || !req->path_len) &&
            (req->query || !req->query_len) && (req->headers || !req->nheaders));
  unsigned char d[32], key[32];
  char hex[65];
  canonical_request_hash(req, strcmp(service, "s3") == 0, names, nnames, d);
  ll_hex(d, 32, hex);
  signing_key(secret, amz_date, region, service, key);
  hmac_t h;
  hmac_init(&h, NULL, key, 32);
  hmac_update(&h, ALGORITHM "\n", sizeof ALGORITHM);
  hmac_update(&h, amz_date, 16);
  hmac_update(&h, "\n", 1);
  hmac_update(&h, amz_date, 8);
  hmac_update(&h, "/", 1);
  hmac_update(&h, region, strlen(region));
  hmac_update(&h, "/", 1);
  hmac_update(&h, service, strlen(service));
  hmac_update(&h, "/" TERMINATOR "\n", sizeof TERMINATOR + 1);
  hmac_update(&h, hex, 64);
  hmac_final(&h, d);
  ll_hex(d, 32, out);
  OPENSSL_cleanse(key, sizeof key);
}

void ll_sigv4_signing_key(const char *secret, const char date8[8], const char *region,
                          const char *service, unsigned char out[32]) {
  signing_key(secret, date8, region, service, out);
}

/* ---- aws-chunked payload signatures ------------------------------------------------------ */

#define EMPTY_SHA256_HEX "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* hex(HMAC(key, prefix "\n" amz_date "\n" scope "\n" prev_sig "\n" middle hex(digest))) into
 * out[65]: the StringToSign of a chunk or of the trailer. */
static void stream_signature(const unsigned char key[32], const char *prefix,
                             const char amz_date[16], const char *scope, const char prev_sig[64],
                             const char *middle, const unsigned char digest[32], char out[65]) {
  char hex[65];
  unsigned char d[32];
  hmac_t h;
  hmac_init(&h, NULL, key, 32);
  hmac_update(&h, prefix, strlen(prefix));
  hmac_update(&h, "\n", 1);
  hmac_update(&h, amz_date, 16);
  hmac_update(&h, "\n", 1);
  hmac_update(&h, scope, strlen(scope));
  hmac_update(&h, "\n", 1);
  hmac_update(&h, prev_sig, 64);
  hmac_update(&h, "\n", 1);
  hmac_update(&h, middle, strlen(middle));
  ll_hex(digest, 32, hex);
  hmac_update(&h, hex, 64);
  hmac_final(&h, d);
  ll_hex(d, 32, out);
}

void ll_sigv4_chunk_signature(const unsigned char key[32], const char amz_date[16],
                              const char *scope, const char prev_sig[64],
                              const unsigned char chunk_sha256[32], char out[65]) {
  stream_signature(key, ALGORITHM "-PAYLOAD", amz_date, scope, prev_sig, EMPTY_SHA256_HEX "\n",
                   chunk_sha256, out);
}

void ll_sigv4_trailer_signature(const unsigned char key[32], const char amz_date[16],
                                const char *scope, const char prev_sig[64],
                                const unsigned char trailer_sha256[32], char out[65]) {
  stream_signature(key, ALGORITHM "-TRAILER", amz_date, scope, prev_sig, "", trailer_sha256, out);
}

/* ---- dates ------------------------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static unsigned days_in_month(unsigned y, unsigned m) {
  static const unsigned char n[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : n[m - 1];
}

/* Parses n decimal digits; -1 when one is not a digit. */
static int digits(const char *p, int n) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (p[i] < '0' || p[i] > '9') return -1;
    v = v * 10 + (p[i] - '0');
  }
  return v;
}

static bool civil_to_time(int y, int mo, int d, int h, int mi, int s, int64_t *out) {
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 ||
      s > 60 || (unsigned)d > days_in_month((unsigned)y, (unsigned)mo))
    return false;
  *out = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + s;
  return true;
}

/* yyyymmddTHHMMSSZ */
static bool parse_amz_date(const char *v, size_t len, int64_t *out) {
  if (len != 16 || v[8] != 'T' || v[15] != 'Z') return false;
  return civil_to_time(digits(v, 4), digits(v + 4, 2), digits(v + 6, 2), digits(v + 9, 2),
                       digits(v + 11, 2), digits(v + 13, 2), out);
}

/* RFC 1123: "Sun, 06 Nov 1994 08:49:37 GMT" */
static bool parse_http_date(const char *v, size_t len, int64_t *out) {
  static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  if (len != 29 || v[3] != ',' || v[4] != ' ' || v[7] != ' ' || v[11] != ' ' || v[16] != ' ' ||
      v[19] != ':' || v[22] != ':' || memcmp(v + 25, " GMT", 4) != 0)
    return false;
  int mo = 0;
  for (int i = 0; i < 12; i++)
    if (memcmp(v + 8, months + 3 * i, 3) == 0) mo = i + 1;
  return civil_to_time(digits(v + 12, 4), mo, digits(v + 5, 2), digits(v + 17, 2),
                       digits(v + 20, 2), digits(v + 23, 2), out);
}

void ll_sigv4_amz_date(time_t t, char out[17]) {
  int64_t v = (int64_t)t;
  if (v < 0) v = 0;
  if (v > INT64_C(253402300799)) v = INT64_C(253402300799); /* 9999-12-31T23:59:59Z */
  int64_t z = v / 86400 + 719468;
  unsigned sod = (unsigned)(v % 86400);
  /* H. Hinnant's civil_from_days (z >= 0 here). */
  int64_t era = z / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  unsigned d = doy - (153 * mp + 2) / 5 + 1;
  unsigned m = mp < 10 ? mp + 3 : mp - 9;
  unsigned y = (unsigned)(yoe + era * 400) + (m <= 2);
  unsigned f[6] = {y, m, d, sod / 3600, sod / 60 % 60, sod % 60};
  static const int width[6] = {4, 2, 2, 2, 2, 2};
  char *o = out;
  for (int i = 0; i < 6; i++) {
    if (i == 3) *o++ = 'T';
    for (int k = width[i] - 1; k >= 0; k--, f[i] /= 10) o[k] = (char)('0' + f[i] % 10);
    o += width[i];
  }
  *o++ = 'Z';
  *o = '\0';
}

/* ---- verification ------------------------------------------------------------------------ */

static int vfail(ll_sigv4_result_t *res, int status, const char *code, const char *s3_code,
                 const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

static int vfail(ll_sigv4_result_t *res, int status, const char *code, const char *s3_code,
                 const char *fmt, va_list ap) {
  res->status = status;
  res->code = code;
  res->s3_code = s3_code;
  vsnprintf(res->message, sizeof res->message, fmt, ap);
  return -1;
}

/* Sets the failure in res; returns -1. */
static int fail(ll_sigv4_result_t *res, int status, const char *code, const char *s3_code,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail(ll_sigv4_result_t *res, int status, const char *code, const char *s3_code,
                const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfail(res, status, code, s3_code, fmt, ap);
  va_end(ap);
  return -1;
}

/* A malformed Authorization header (or date): 400 for every service. */
static int malformed(ll_sigv4_result_t *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int malformed(ll_sigv4_result_t *res, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfail(res, 400, "IncompleteSignatureException", "AuthorizationHeaderMalformed", fmt, ap);
  va_end(ap);
  return -1;
}

static void copy_span(char *dst, size_t dst_sz, span_t s) {
  size_t n = s.len < dst_sz - 1 ? s.len : dst_sz - 1;
  memcpy(dst, s.p, n);
  dst[n] = '\0';
}

/* Splits s at each `sep` into out[] (at most max pieces); returns the number of pieces. */
static size_t split(span_t s, char sep, span_t *out, size_t max) {
  size_t n = 0, start = 0;
  for (size_t i = 0; i <= s.len; i++) {
    if (i < s.len && s.p[i] != sep) continue;
    if (n < max) out[n] = (span_t){s.p + start, i - start};
    n++;
    start = i + 1;
  }
  return n;
}

/* The Authorization header's parts. */
typedef struct auth_parts {
  span_t credential, signed_headers, signature;
  bool has_credential, has_signed_headers, has_signature;
} auth_parts_t;

#define AUTHZ_ECHO_MAX 300 /* how much of the header an error message repeats */

/* A header's value without surrounding spaces and tabs (the HTTP parser trims them already;
 * other callers may not). */
static span_t header_value(const ll_kv_t *h) {
  span_t v = {h->value, h->value_len};
  while (v.len && (v.p[0] == ' ' || v.p[0] == '\t')) v.p++, v.len--;
  while (v.len && (v.p[v.len - 1] == ' ' || v.p[v.len - 1] == '\t')) v.len--;
  return v;
}

static int parse_authorization(span_t auth, auth_parts_t *ap, ll_sigv4_result_t *res) {
  const char *v = auth.p, *end = v + auth.len;
  int elen = auth.len < AUTHZ_ECHO_MAX ? (int)auth.len : AUTHZ_ECHO_MAX;
  const size_t plen = sizeof ALGORITHM; /* with the space after it */
  if (auth.len < plen || memcmp(v, ALGORITHM " ", plen) != 0)
    return malformed(res,
                     "Unsupported Authorization Type: the Authorization header must start "
                     "with '" ALGORITHM " '. Authorization=%.*s",
                     elen, v);
  for (const char *p = v + plen; p < end;) {
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    const char *comma = memchr(p, ',', (size_t)(end - p));
    const char *e = comma ? comma : end;
    span_t part = {p, (size_t)(e - p)};
    while (part.len && (part.p[part.len - 1] == ' ' || part.p[part.len - 1] == '\t')) part.len--;
    p = comma ? comma + 1 : end;
    if (!part.len) continue;
    const char *eq = memchr(part.p, '=', part.len);
    if (!eq)
      return malformed(res,
                       "'%.*s' not a valid key=value pair (missing equal-sign) in "
                       "Authorization header: '%.*s'.",
                       part.len < 100 ? (int)part.len : 100, part.p, elen, v);
    span_t name = {part.p, (size_t)(eq - part.p)}, val = {eq + 1, part.len - name.len - 1};
    if (span_eq(name, "Credential") && !ap->has_credential)
      ap->credential = val, ap->has_credential = true;
    else if (span_eq(name, "SignedHeaders") && !ap->has_signed_headers)
      ap->signed_headers = val, ap->has_signed_headers = true;
    else if (span_eq(name, "Signature") && !ap->has_signature)
      ap->signature = val, ap->has_signature = true;
  }
  if (!ap->has_credential || !ap->has_signature || !ap->has_signed_headers) {
    char msg[sizeof res->message];
    size_t n = 0;
    static const char *const names[3] = {"Credential", "Signature", "SignedHeaders"};
    bool missing[3] = {!ap->has_credential, !ap->has_signature, !ap->has_signed_headers};
    msg[0] = '\0';
    for (int i = 0; i < 3; i++)
      if (missing[i])
        n += (size_t)snprintf(msg + n, sizeof msg - n,
                              "Authorization header requires '%s' parameter. ", names[i]);
    return malformed(res, "%sAuthorization=%.*s", msg, elen, v);
  }
  return 0;
}

/* A malformed X-Amz-* query parameter of a presigned URL: 400 for every service. */
static int query_malformed(ll_sigv4_result_t *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int query_malformed(ll_sigv4_result_t *res, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfail(res, 400, "IncompleteSignatureException", "AuthorizationQueryParametersError", fmt, ap);
  va_end(ap);
  return -1;
}

/* The signature's parts, from the Authorization header or from a presigned URL's query
 * (percent-decoded there), and how the request time is to be checked. */
typedef struct auth_in {
  bool query;                                 /* a presigned URL (X-Amz-* parameters) */
  span_t credential, signed_headers, signature;
  span_t authz;                               /* header: the Authorization value, for messages */
  const ll_kv_t *amz_date, *http_date;        /* header: X-Amz-Date, else Date (or neither) */
  span_t query_date;                          /* query: X-Amz-Date */
  int max_skew_s;                             /* header: allowed clock skew either way */
  int64_t expires;                            /* query: X-Amz-Expires, seconds */
} auth_in_t;

#define QUERY_MAX_EXPIRES 604800 /* a week */
#define QUERY_MAX_EARLY 900      /* a presigned URL may be dated this far in the future */

/* Credential=AKID/yyyymmdd/region/service/aws4_request into res; the pieces in scope[5]. */
static int parse_credential(const auth_in_t *in, span_t scope[5], ll_sigv4_result_t *res) {
  span_t cred = in->credential;
  size_t n = split(cred, '/', scope, 5);
  if (n >= 1) copy_span(res->access_key, sizeof res->access_key, scope[0]);
  if (n == 5 && !span_eq(scope[4], TERMINATOR)) {
    int tlen = scope[4].len < 64 ? (int)scope[4].len : 64;
    if (in->query)
      return query_malformed(res,
                             "Error parsing the X-Amz-Credential parameter; incorrect terminal "
                             "\"%.*s\". This endpoint uses \"" TERMINATOR "\".",
                             tlen, scope[4].p);
    return malformed(
        res, "Credential should be scoped with a valid terminator: '" TERMINATOR "', not '%.*s'.",
        tlen, scope[4].p);
  }
  if (n != 5 || scope[0].len == 0 || scope[1].len != 8 || digits(scope[1].p, 8) < 0 ||
      scope[2].len == 0 || scope[2].len >= sizeof res->region || scope[3].len == 0 ||
      scope[3].len >= sizeof res->service) {
    int clen = cred.len < 200 ? (int)cred.len : 200;
    if (in->query)
      return query_malformed(res,
                             "Error parsing the X-Amz-Credential parameter; the Credential is "
                             "mal-formed; expecting "
                             "\"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/" TERMINATOR
                             "\". X-Amz-Credential=%.*s",
                             clen, cred.p);
    return malformed(res,
                     "The authorization header is malformed; the Credential is mal-formed; "
                     "expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/" TERMINATOR
                     "\". Credential=%.*s",
                     clen, cred.p);
  }
  copy_span(res->region, sizeof res->region, scope[2]);
  copy_span(res->service, sizeof res->service, scope[3]);
  return 0;
}

/* The request time into *t and res->amz_date: X-Amz-Date wins over Date (header auth), or the
 * X-Amz-Date parameter (presigned URL). */
static int parse_request_time(const auth_in_t *in, int64_t *t, ll_sigv4_result_t *res) {
  if (in->query) {
    span_t d = in->query_date;
    if (!parse_amz_date(d.p, d.len, t))
      return query_malformed(res,
                             "X-Amz-Date must be in the ISO8601 Long Format "
                             "\"yyyyMMdd'T'HHmmss'Z'\". Got '%.*s'.",
                             d.len < 64 ? (int)d.len : 64, d.p);
    memcpy(res->amz_date, d.p, 16);
  } else if (in->amz_date) {
    span_t d = header_value(in->amz_date);
    if (!parse_amz_date(d.p, d.len, t))
      return malformed(res,
                       "X-Amz-Date must be in the ISO-8601 basic format yyyyMMdd'T'HHmmss'Z'. "
                       "Got '%.*s'.",
                       d.len < 64 ? (int)d.len : 64, d.p);
    memcpy(res->amz_date, d.p, 16);
  } else if (in->http_date) {
    span_t d = header_value(in->http_date);
    if (!parse_http_date(d.p, d.len, t))
      return malformed(res,
                       "Date must be in the RFC 1123 format 'EEE, dd MMM yyyy HH:mm:ss GMT'. "
                       "Got '%.*s'.",
                       d.len < 64 ? (int)d.len : 64, d.p);
    ll_sigv4_amz_date((time_t)*t, res->amz_date);
  } else {
    return malformed(res,
                     "Authorization header requires existence of either a 'X-Amz-Date' or a "
                     "'Date' header. Authorization=%.*s",
                     in->authz.len < AUTHZ_ECHO_MAX ? (int)in->authz.len : AUTHZ_ECHO_MAX,
                     in->authz.p);
  }
  return 0;
}

static void skew_text(int max_skew_s, char *out, size_t sz) {
  if (max_skew_s % 60 == 0)
    snprintf(out, sz, "%d min.", max_skew_s / 60);
  else
    snprintf(out, sz, "%d sec.", max_skew_s);
}

/* Header auth: the request time must lie within max_skew_s of now. */
static int check_skew(int64_t t, time_t now, int max_skew_s, bool s3, ll_sigv4_result_t *res) {
  if (max_skew_s < 0) max_skew_s = 0;
  int64_t n64 = (int64_t)now;
  if (t >= n64 - max_skew_s && t <= n64 + max_skew_s) return 0;
  char edge[17], nowtxt[17], sk[32];
  bool past = t < n64 - max_skew_s;
  ll_sigv4_amz_date((time_t)(past ? n64 - max_skew_s : n64 + max_skew_s), edge);
  ll_sigv4_amz_date(now, nowtxt);
  skew_text(max_skew_s, sk, sizeof sk);
  if (s3)
    return fail(res, 403, "InvalidSignatureException", "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.");
  if (past)
    return fail(res, 403, "InvalidSignatureException", "RequestTimeTooSkewed",
                "Signature expired: %s is now earlier than %s (%s - %s)", res->amz_date, edge,
                nowtxt, sk);
  return fail(res, 403, "InvalidSignatureException", "RequestTimeTooSkewed",
              "Signature not yet current: %s is still later than %s (%s + %s)", res->amz_date,
              edge, nowtxt, sk);
}

/* Presigned URL: valid from QUERY_MAX_EARLY before X-Amz-Date to X-Amz-Expires after it. */
static int check_expiry(int64_t t, time_t now, int64_t expires, ll_sigv4_result_t *res) {
  int64_t n64 = (int64_t)now;
  if (t > n64 + QUERY_MAX_EARLY)
    return fail(res, 403, "InvalidSignatureException", "AccessDenied",
                "Request is not valid yet");
  if (n64 > t + expires)
    return fail(res, 403, "InvalidSignatureException", "AccessDenied", "Request has expired");
  return 0;
}

/* Everything both forms check once their parts are found: the credential scope, the date, the
 * key, the time, the signed headers and the signature itself, in that order. */
static int verify_auth(const ll_sigv4_request_t *req, const auth_in_t *in,
                       ll_sigv4_secret_fn secret_fn, void *ud, time_t now,
                       ll_sigv4_result_t *res) {
  copy_span(res->signature, sizeof res->signature, in->signature);
  span_t scope[5];
  if (parse_credential(in, scope, res) < 0) return -1;
  bool s3 = strcmp(res->service, "s3") == 0;

  int64_t t;
  if (parse_request_time(in, &t, res) < 0) return -1;
  if (memcmp(scope[1].p, res->amz_date, 8) != 0) {
    if (in->query)
      return query_malformed(res,
                             "Invalid credential date. Date is not the same as X-Amz-Date: "
                             "'%.8s' != '%.8s'.",
                             scope[1].p, res->amz_date);
    return fail(res, 403, "InvalidSignatureException", "AuthorizationHeaderMalformed",
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
                "from HTTP: '%.8s' != '%.8s', from '%s'.",
                scope[1].p, res->amz_date, res->amz_date);
  }

  const char *secret =
      scope[0].len < sizeof res->access_key ? secret_fn(ud, res->access_key) : NULL;
  if (!secret)
    return fail(res, 403, "UnrecognizedClientException", "InvalidAccessKeyId", "%s",
                s3 ? "The AWS Access Key Id you provided does not exist in our records."
                   : "The security token included in the request is invalid.");

  if ((in->query ? check_expiry(t, now, in->expires, res)
                 : check_skew(t, now, in->max_skew_s, s3, res)) < 0)
    return -1;

  /* Signed headers: host must be one, and each must be present. */
  span_t names_buf[32];
  size_t nnames = split(in->signed_headers, ';', NULL, 0);
  span_t *names = scratch(names_buf, sizeof names_buf, nnames * sizeof *names);
  split(in->signed_headers, ';', names, nnames);
  int rc = 0;
  bool has_host = false;
  for (size_t i = 0; i < nnames; i++)
    if (span_ieq(names[i].p, names[i].len, "host", 4)) has_host = true;
  if (!has_host) {
    rc = fail(res, 403, "InvalidSignatureException", "SignatureDoesNotMatch",
              "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
    goto out;
  }
  for (size_t i = 0; i < nnames; i++) {
    bool found = false;
    for (size_t j = 0; j < req->nheaders && !found; j++)
      found = span_ieq(req->headers[j].name, req->headers[j].name_len, names[i].p, names[i].len);
    if (!found) {
      rc = fail(res, 403, "InvalidSignatureException", "SignatureDoesNotMatch",
                "The request is missing the header '%.*s', which SignedHeaders names.",
                names[i].len < 100 ? (int)names[i].len : 100, names[i].p);
      goto out;
    }
  }

  char want[65];
  compute_signature(req, names, nnames, secret, res->region, res->service, res->amz_date, want);
  if (in->signature.len != 64 || CRYPTO_memcmp(want, in->signature.p, 64) != 0)
    rc = fail(res, 403, "InvalidSignatureException", "SignatureDoesNotMatch", "%s",
              s3 ? "The request signature we calculated does not match the signature you "
                   "provided. Check your key and signing method."
                 : "The request signature we calculated does not match the signature you "
                   "provided. Check your AWS Secret Access Key and signing method. Consult the "
                   "service documentation for details.");
out:
  scratch_free(names, names_buf);
  return rc;
}

int ll_sigv4_verify(const ll_sigv4_request_t *req, ll_sigv4_secret_fn secret_fn, void *ud,
                    time_t now, int max_skew_s, ll_sigv4_result_t *res) {
  memset(res, 0, sizeof *res);
  const ll_kv_t *auth_h = ll_kv_find(req->headers, req->nheaders, "authorization");
  if (!auth_h)
    return fail(res, 403, "MissingAuthenticationTokenException", "AccessDenied",
                "Missing Authentication Token");
  auth_in_t in = {.authz = header_value(auth_h), .max_skew_s = max_skew_s};
  auth_parts_t ap = {0};
  if (parse_authorization(in.authz, &ap, res) < 0) return -1;
  in.credential = ap.credential;
  in.signed_headers = ap.signed_headers;
  in.signature = ap.signature;
  in.amz_date = ll_kv_find(req->headers, req->nheaders, "x-amz-date");
  in.http_date = in.amz_date ? NULL : ll_kv_find(req->headers, req->nheaders, "date");
  return verify_auth(req, &in, secret_fn, ud, now, res);
}

/* The presigned URL's parameters, in the order AWS's message names them. */
enum { Q_ALGORITHM, Q_CREDENTIAL, Q_SIGNATURE, Q_DATE, Q_SIGNED_HEADERS, Q_EXPIRES, NQ };
static const char *const query_params[NQ] = {
    "X-Amz-Algorithm", "X-Amz-Credential",    "X-Amz-Signature",
    "X-Amz-Date",      "X-Amz-SignedHeaders", "X-Amz-Expires",
};

/* Finds the X-Amz-* authentication parameters in the raw query: the first pair of each name
 * (compared percent-decoded), its value percent-decoded into text, which must hold len
 * bytes. */
static void find_query_params(const char *q, size_t len, char *text, span_t val[NQ],
                              bool has[NQ]) {
  size_t used = 0, pos = 0;
  span_t key, value;
  while (next_pair(q, len, &pos, &key, &value)) {
    if (key.len >= 3 * 32) continue; /* longer than any name below, even percent-encoded */
    char name[3 * 32];
    size_t nlen = unquote(key.p, key.len, name);
    for (int k = 0; k < NQ; k++) {
      if (has[k] || nlen != strlen(query_params[k]) || memcmp(name, query_params[k], nlen) != 0)
        continue;
      has[k] = true;
      val[k].p = text + used;
      val[k].len = unquote(value.p, value.len, text + used);
      used += val[k].len;
      break;
    }
  }
}

int ll_sigv4_verify_query(const ll_sigv4_request_t *req, ll_sigv4_secret_fn secret_fn, void *ud,
                          time_t now, ll_sigv4_result_t *res) {
  memset(res, 0, sizeof *res);
  ll_assert(req->query || !req->query_len);
  char text_buf[1024];
  char *text = scratch(text_buf, sizeof text_buf, req->query_len);
  span_t val[NQ] = {{0}};
  bool has[NQ] = {0};
  find_query_params(req->query, req->query_len, text, val, has);
  int rc = -1;

  char missing[160];
  size_t n = 0;
  missing[0] = '\0';
  for (int k = 0; k < NQ; k++)
    if (!has[k])
      n += (size_t)snprintf(missing + n, sizeof missing - n, "%s%s", n ? ", " : "",
                            query_params[k]);
  if (n) {
    query_malformed(res,
                    "Query-string authentication version 4 requires the X-Amz-Algorithm, "
                    "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and "
                    "X-Amz-Expires parameters. Missing: %s.",
                    missing);
    goto out;
  }
  if (!span_eq(val[Q_ALGORITHM], ALGORITHM)) {
    query_malformed(res, "X-Amz-Algorithm only supports \"" ALGORITHM "\"");
    goto out;
  }

  /* X-Amz-Expires: decimal seconds, 0 to a week. */
  span_t e = val[Q_EXPIRES];
  bool negative = e.len && e.p[0] == '-';
  int64_t expires = 0;
  bool number = e.len > (size_t)negative;
  for (size_t i = negative; i < e.len && number; i++) {
    number = e.p[i] >= '0' && e.p[i] <= '9';
    if (expires <= QUERY_MAX_EXPIRES) expires = expires * 10 + (e.p[i] - '0');
  }
  if (!number) {
    query_malformed(res, "X-Amz-Expires should be a number");
    goto out;
  }
  if (negative && expires) {
    query_malformed(res, "X-Amz-Expires must be non-negative");
    goto out;
  }
  if (expires > QUERY_MAX_EXPIRES) {
    query_malformed(res, "X-Amz-Expires must be less than a week (in seconds) that is 604800");
    goto out;
  }

  auth_in_t in = {
      .query = true,
      .credential = val[Q_CREDENTIAL],
      .signed_headers = val[Q_SIGNED_HEADERS],
      .signature = val[Q_SIGNATURE],
      .query_date = val[Q_DATE],
      .expires = expires,
  };
  rc = verify_auth(req, &in, secret_fn, ud, now, res);
out:
  scratch_free(text, text_buf);
  return rc;
}

/* ---- signing ----------------------------------------------------------------------------- */

static int name_cmp(const void *a, const void *b) {
  const span_t *x = a, *y = b;
  size_t n = x->len < y->len ? x->len : y->len;
  for (size_t i = 0; i < n; i++) {
    int c = lower((unsigned char)x->p[i]) - lower((unsigned char)y->p[i]);
    if (c) return c;
  }
  return x->len < y->len ? -1 : x->len > y->len;
}

/* Appends to a bounded output; remembers overflow instead of writing past the end. */
typedef struct out {
  char *p;
  size_t len, sz;
  bool overflow;
} out_t;

static void out_write(out_t *o, const char *p, size_t len) {
  if (o->overflow || len >= o->sz - o->len) {
    o->overflow = true;
    return;
  }
  memcpy(o->p + o->len, p, len);
  o->len += len;
  o->p[o->len] = '\0';
}

static void out_puts(out_t *o, const char *s) { out_write(o, s, strlen(s)); }

int ll_sigv4_sign(const ll_sigv4_request_t *req, const char *access_key, const char *secret,
                  const char *region, const char *service, const char *amz_date, char *out,
                  size_t out_sz) {
  ll_assert(amz_date && strlen(amz_date) == 16);
  /* SignedHeaders: every header name, lower-cased, sorted, each once. */
  span_t names_buf[32];
  span_t *names = scratch(names_buf, sizeof names_buf, req->nheaders * sizeof *names);
  for (size_t i = 0; i < req->nheaders; i++)
    names[i] = (span_t){req->headers[i].name, req->headers[i].name_len};
  if (req->nheaders > 1) qsort(names, req->nheaders, sizeof *names, name_cmp);
  size_t nnames = 0;
  for (size_t i = 0; i < req->nheaders; i++)
    if (!nnames || name_cmp(&names[nnames - 1], &names[i]) != 0) names[nnames++] = names[i];

  char sig[65];
  compute_signature(req, names, nnames, secret, region, service, amz_date, sig);

  out_t o = {out, 0, out_sz, out_sz == 0};
  if (out_sz) out[0] = '\0';
  out_puts(&o, ALGORITHM " Credential=");
  out_puts(&o, access_key);
  out_write(&o, "/", 1);
  out_write(&o, amz_date, 8);
  out_write(&o, "/", 1);
  out_puts(&o, region);
  out_write(&o, "/", 1);
  out_puts(&o, service);
  out_puts(&o, "/" TERMINATOR ", SignedHeaders=");
  for (size_t i = 0; i < nnames; i++) {
    if (i) out_write(&o, ";", 1);
    for (size_t j = 0; j < names[i].len; j++) {
      char c = (char)lower((unsigned char)names[i].p[j]);
      out_write(&o, &c, 1);
    }
  }
  out_puts(&o, ", Signature=");
  out_write(&o, sig, 64);
  scratch_free(names, names_buf);
  if (o.overflow) {
    if (out_sz) out[0] = '\0';
    return -1;
  }
  return 0;
}

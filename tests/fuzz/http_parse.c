/* libFuzzer target for the HTTP/1.1 request parser (src/http/parser.c).
 *
 * The input is a byte stream from a client: possibly several pipelined requests. It is parsed
 * the way the server's loop does (after HEAD and BODY call again with what remains, after DONE
 * reset and go on) three times — whole, in pieces whose sizes come from a PRNG seeded with a
 * hash of the input, and byte by byte — checking the calling convention of parser.h on every
 * call with abort(), and the three runs must produce the same digest of events, heads, body
 * bytes and errors. Limits, too, are derived from the input hash so the 413/414/431 paths are
 * reached with small inputs. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FNV_OFFSET 14695981039346656037ull
#define FNV_PRIME 1099511628211ull

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const unsigned char *s = p;
  for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * FNV_PRIME;
  return h;
}

static uint64_t fnv_u64(uint64_t h, uint64_t v) { return fnv(h, &v, sizeof v); }

static uint64_t fnv_str(uint64_t h, const char *s) { return fnv(h, s, strlen(s) + 1); }

static void check_fields(const ll_http_head_t *h, size_t from) {
  if (h->nheaders > LL_HTTP_MAX_HEADERS || h->ntrailers > h->nheaders) abort();
  for (size_t i = from; i < h->nheaders; i++) {
    const ll_kv_t *kv = &h->headers[i];
    if (!kv->name || !kv->value || kv->name_len == 0) abort();
    if (strlen(kv->name) != kv->name_len || strlen(kv->value) != kv->value_len) abort();
    if (memchr(kv->name, ':', kv->name_len) || memchr(kv->name, ' ', kv->name_len)) abort();
    if (kv->value_len &&
        (kv->value[0] == ' ' || kv->value[0] == '\t' || kv->value[kv->value_len - 1] == ' ' ||
         kv->value[kv->value_len - 1] == '\t'))
      abort();
  }
}

static uint64_t digest_fields(uint64_t d, const ll_http_head_t *h, size_t from) {
  for (size_t i = from; i < h->nheaders; i++) {
    d = fnv(d, h->headers[i].name, h->headers[i].name_len + 1);
    d = fnv(d, h->headers[i].value, h->headers[i].value_len + 1);
  }
  return d;
}

static void check_head(const ll_http_head_t *h, const ll_http_limits_t *lim) {
  if (!h->method || !h->target || !h->path || !h->query) abort();
  if (!h->method[0] || strchr(h->method, ' ')) abort();
  if (strcmp(h->target, "*") == 0) {
    if (strcmp(h->method, "OPTIONS") != 0 || strcmp(h->path, "*") != 0) abort();
  } else if (h->target[0] != '/' || h->path[0] != '/') {
    abort();
  }
  /* target == path ["?" query] */
  size_t pn = strlen(h->path);
  if (strncmp(h->target, h->path, pn) != 0) abort();
  if (h->target[pn] == '?' ? strcmp(h->target + pn + 1, h->query) != 0
                           : h->target[pn] != '\0' || h->query[0] != '\0')
    abort();
  if (h->version_minor != 0 && h->version_minor != 1) abort();
  if (h->ntrailers != 0) abort();
  check_fields(h, 0);
  if (h->content_length < -1) abort();
  if (h->chunked && (h->content_length >= 0 || h->version_minor != 1)) abort();
  if (lim->max_body_bytes && h->content_length > 0 &&
      (uint64_t)h->content_length > lim->max_body_bytes)
    abort();
  if (h->version_minor == 1 && !ll_http_header(h, "host")) abort();
}

static uint64_t xorshift(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

/* Parses in[0..size) fed in pieces: all at once when seed is 0, one byte at a time when it is
 * 1, else sizes from a PRNG seeded with it. Returns the digest of what the parser reported. */
static uint64_t run(const uint8_t *in, size_t size, const ll_http_limits_t *lim, uint64_t seed) {
  ll_http_parser_t p;
  ll_http_parser_init(&p, lim);
  uint64_t d = FNV_OFFSET, rng = seed, body = 0;
  size_t off = 0;
  bool stop = false, in_message = false;
  do {
    size_t len = size - off;
    if (seed == 1) {
      len = len ? 1 : 0;
    } else if (seed) {
      uint64_t r = xorshift(&rng);
      size_t k = r % 8 == 0 ? (size_t)(r >> 8) % 2048 + 1 : (size_t)(r >> 8) % 16 + 1;
      if (k < len) len = k;
    }
    const char *s = (const char *)in + off;
    off += len;
    /* HEAD and BODY consume at least a byte, DONE comes once per message: bounded calls. */
    size_t max_calls = 2 * len + 4;
    for (size_t calls = 0; !stop; calls++) {
      if (calls > max_calls) abort();
      size_t used = SIZE_MAX;
      ll_http_event_t ev;
      int r = ll_http_parse(&p, s, len, &used, &ev);
      if (used > len) abort();
      const ll_http_head_t *h = &p.head;
      switch (r) {
        case LL_HTTP_NEED_MORE:
          if (used != len) abort();
          break;
        case LL_HTTP_HEAD:
          if (in_message || used == 0) abort();
          check_head(h, lim);
          d = fnv_u64(d, 'H');
          d = fnv_str(fnv_str(fnv_str(fnv_str(d, h->method), h->target), h->path), h->query);
          d = fnv_u64(d, (uint64_t)h->content_length);
          d = fnv_u64(d, (uint64_t)(h->version_minor | h->chunked << 1 | h->keep_alive << 2 |
                                    h->expect_continue << 3));
          d = digest_fields(d, h, 0);
          in_message = true;
          body = 0;
          break;
        case LL_HTTP_BODY:
          if (!in_message || ev.len == 0 || ev.data + ev.len != s + used) abort();
          body += ev.len;
          if (!h->chunked && body > (uint64_t)h->content_length) abort();
          if (lim->max_body_bytes && body > lim->max_body_bytes) abort();
          d = fnv(d, ev.data, ev.len); /* the same whatever the pieces */
          break;
        case LL_HTTP_DONE:
          if (!in_message) abort();
          if (!h->chunked &&
              (used != 0 || body != (uint64_t)(h->content_length > 0 ? h->content_length : 0)))
            abort();
          if (!h->chunked && h->ntrailers) abort();
          check_fields(h, h->nheaders - h->ntrailers);
          d = fnv_u64(fnv_u64(d, 'D'), body);
          d = digest_fields(d, h, h->nheaders - h->ntrailers);
          ll_http_parser_reset(&p);
          in_message = false;
          break;
        case LL_HTTP_ERROR: {
          if (used != 0 || !ev.message) abort();
          switch (ev.status) {
            case 400:
            case 413:
            case 414:
            case 431:
            case 501:
            case 505:
              break;
            default:
              abort();
          }
          ll_http_event_t ev2;
          size_t used2 = SIZE_MAX;
          if (ll_http_parse(&p, s, len, &used2, &ev2) != LL_HTTP_ERROR || used2 != 0 ||
              ev2.status != ev.status || ev2.message != ev.message)
            abort();
          d = fnv_str(fnv_u64(fnv_u64(d, 'E'), (uint64_t)ev.status), ev.message);
          stop = true;
          break;
        }
        default:
          abort();
      }
      if (r == LL_HTTP_NEED_MORE) break;
      s += used;
      len -= used;
    }
  } while (off < size && !stop);
  d = fnv_u64(d, in_message);
  ll_http_parser_free(&p);
  return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint64_t h = fnv(FNV_OFFSET, data, size);
  ll_http_limits_t lim = {0, 0};
  if (h % 4 == 1) {
    lim.max_head_bytes = 16 + (size_t)(h >> 8) % 1024;
  } else if (h % 4 == 2) {
    lim.max_body_bytes = 1 + (h >> 8) % 256;
  } else if (h % 4 == 3) {
    lim.max_head_bytes = 16 + (size_t)(h >> 8) % 1024;
    lim.max_body_bytes = 1 + (h >> 20) % 256;
  }
  uint64_t whole = run(data, size, &lim, 0);
  if (run(data, size, &lim, h | 2) != whole) abort();
  if (run(data, size, &lim, 1) != whole) abort();
  return 0;
}

#include "core/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

void ll_buf_reserve(ll_buf_t *b, size_t extra) {
  size_t need = b->len + extra + 1;
  if (need <= b->cap) return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need) cap *= 2;
  b->data = ll_realloc(b->data, cap);
  b->cap = cap;
}

void ll_buf_append(ll_buf_t *b, const void *p, size_t len) {
  ll_buf_reserve(b, len);
  if (len) memcpy(b->data + b->len, p, len);
  b->len += len;
  b->data[b->len] = '\0';
}

void ll_buf_puts(ll_buf_t *b, const char *s) { ll_buf_append(b, s, strlen(s)); }

void ll_buf_printf(ll_buf_t *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  ll_assert(n >= 0);
  ll_buf_reserve(b, (size_t)n);
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void ll_buf_put_u64(ll_buf_t *b, uint64_t n) {
  char tmp[20];
  size_t i = sizeof tmp;
  do {
    tmp[--i] = (char)('0' + n % 10);
    n /= 10;
  } while (n);
  ll_buf_append(b, tmp + i, sizeof tmp - i);
}

void ll_buf_cat(ll_buf_t *b, ...) {
  va_list ap;
  va_start(ap, b);
  for (const char *s; (s = va_arg(ap, const char *));) ll_buf_append(b, s, strlen(s));
  va_end(ap);
}

void ll_buf_consume(ll_buf_t *b, size_t n) {
  ll_assert(n <= b->len);
  if (n == 0) return;
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
  b->data[b->len] = '\0';
}

void ll_buf_reset(ll_buf_t *b) {
  b->len = 0;
  if (b->data) b->data[0] = '\0';
}

void ll_buf_free(ll_buf_t *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

char *ll_buf_steal(ll_buf_t *b, size_t *len) {
  if (!b->data) ll_buf_reserve(b, 0), b->data[0] = '\0';
  char *p = b->data;
  if (len) *len = b->len;
  b->data = NULL;
  b->len = b->cap = 0;
  return p;
}

void ll_buf_json_string(ll_buf_t *b, const char *s, size_t len) {
  static const char hex[] = "0123456789abcdef";
  ll_buf_reserve(b, len + 2);
  b->data[b->len++] = '"';
  /* Runs of characters that need no escape are copied whole (the common case: ARNs, keys). */
  size_t run = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c != '"' && c != '\\' && c >= 0x20) continue;
    ll_buf_append(b, s + run, i - run);
    run = i + 1;
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      ll_buf_append(b, e, 2);
    } else {
      char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      ll_buf_append(b, e, 6);
    }
  }
  ll_buf_append(b, s + run, len - run);
  ll_buf_append(b, "\"", 1);
}

void ll_buf_put_seconds(ll_buf_t *b, int64_t ms) {
  char t[32];
  int n = snprintf(t, sizeof t, "%lld.%03lld", (long long)(ms / 1000), (long long)(ms % 1000));
  ll_buf_append(b, t, (size_t)n);
}

/* A growable byte buffer. Always NUL-terminated past `len` so text can be used as a C string. */
#ifndef LL_CORE_BUF_H
#define LL_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct ll_buf {
  char *data; /* owned; NULL until the first append */
  size_t len;
  size_t cap;
} ll_buf_t;

#define LL_BUF_INIT {NULL, 0, 0}

void ll_buf_reserve(ll_buf_t *b, size_t extra);
void ll_buf_append(ll_buf_t *b, const void *p, size_t len);
void ll_buf_puts(ll_buf_t *b, const char *s);
void ll_buf_printf(ll_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends the decimal form of n (no printf on hot paths). */
void ll_buf_put_u64(ll_buf_t *b, uint64_t n);
/* Appends s[0..len) as a quoted JSON string ('"', '\\' and control characters escaped; other
 * bytes, UTF-8 included, as they are). */
void ll_buf_json_string(ll_buf_t *b, const char *s, size_t len);
/* Appends epoch milliseconds as seconds with three decimals ("1764774000.123"). */
void ll_buf_put_seconds(ll_buf_t *b, int64_t ms);
/* Appends the NUL-terminated strings given, up to a NULL: ll_buf_cat(b, "a", s, "\r\n", NULL). */
void ll_buf_cat(ll_buf_t *b, ...) __attribute__((sentinel));
/* Drops the first n bytes (n <= len). */
void ll_buf_consume(ll_buf_t *b, size_t n);
void ll_buf_reset(ll_buf_t *b);
void ll_buf_free(ll_buf_t *b);
/* Hands the bytes to the caller (who frees them) and leaves b empty. */
char *ll_buf_steal(ll_buf_t *b, size_t *len);

#endif

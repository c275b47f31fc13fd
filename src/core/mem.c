#include "core/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t sz) {
  fprintf(stderr, "lambdalite: out of memory allocating %zu bytes\n", sz);
  abort();
}

void *ll_malloc(size_t sz) {
  void *p = malloc(sz ? sz : 1);
  if (!p) oom(sz);
  return p;
}

void *ll_calloc(size_t n, size_t sz) {
  void *p = calloc(n ? n : 1, sz ? sz : 1);
  if (!p) oom(n * sz);
  return p;
}

void *ll_realloc(void *p, size_t sz) {
  void *q = realloc(p, sz ? sz : 1);
  if (!q) oom(sz);
  return q;
}

char *ll_strdup(const char *s) { return ll_strndup(s, strlen(s)); }

char *ll_strndup(const char *s, size_t len) {
  char *p = ll_malloc(len + 1);
  memcpy(p, s, len);
  p[len] = '\0';
  return p;
}

char *ll_sprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  ll_assert(n >= 0);
  char *p = ll_malloc((size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}

void ll__assert_fail(const char *expr, const char *file, int line) {
  fprintf(stderr, "lambdalite: assertion failed: %s (%s:%d)\n", expr, file, line);
  abort();
}

void ll__freep(void *pp) { free(*(void **)pp); }

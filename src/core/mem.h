/* Allocation wrappers: allocation failure aborts the process (Redis zmalloc, crun xmalloc).
 * Callers never check for NULL. */
#ifndef LL_CORE_MEM_H
#define LL_CORE_MEM_H

#include <stddef.h>

void *ll_malloc(size_t sz);
void *ll_calloc(size_t n, size_t sz);
void *ll_realloc(void *p, size_t sz);
char *ll_strdup(const char *s);
char *ll_strndup(const char *s, size_t len);
/* printf into a fresh heap string; never NULL. */
char *ll_sprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Always-on assertion with file and line (Redis serverAssert). */
#define ll_assert(cond) \
  ((cond) ? (void)0 : ll__assert_fail(#cond, __FILE__, __LINE__))
void ll__assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));

/* __attribute__((cleanup)) helpers: `ll_autofree char *s = ...;` frees s at scope end. */
void ll__freep(void *pp);
#define ll_autofree __attribute__((cleanup(ll__freep)))

#endif

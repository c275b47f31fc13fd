/* The in-house unit test harness (libuv test/runner.c is the model).
 *
 *   LL_TEST(parses_chunked_body) { CHECK(...); CHECK_STREQ(a, b); }
 *
 * Tests register themselves (constructor attribute), so a new tests/unit/test_*.c file needs no
 * central list. Each test runs in a forked child with a timeout; a failed CHECK exits the child
 * with status 1, `LL_SKIP("why")` exits 77 (skipped, e.g. needs root). */
#ifndef LL_TEST_H
#define LL_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*ll_test_fn)(void);
void ll__test_register(const char *name, ll_test_fn fn, const char *file);

#define LL_TEST(name)                                                          \
  static void name(void);                                                      \
  __attribute__((constructor)) static void name##__reg(void) {                 \
    ll__test_register(#name, name, __FILE__);                                  \
  }                                                                            \
  static void name(void)

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)

#define CHECK_STREQ(a, b)                                                          \
  do {                                                                             \
    const char *a_ = (a), *b_ = (b);                                               \
    if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                       \
      fprintf(stderr, "%s:%d: CHECK_STREQ(%s, %s) failed:\n  got:  %s\n  want: %s\n", \
              __FILE__, __LINE__, #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
      exit(1);                                                                     \
    }                                                                              \
  } while (0)

#define CHECK_INTEQ(a, b)                                                          \
  do {                                                                             \
    long long a_ = (long long)(a), b_ = (long long)(b);                            \
    if (a_ != b_) {                                                                \
      fprintf(stderr, "%s:%d: CHECK_INTEQ(%s, %s) failed: %lld != %lld\n",         \
              __FILE__, __LINE__, #a, #b, a_, b_);                                 \
      exit(1);                                                                     \
    }                                                                              \
  } while (0)

#define LL_SKIP(why)                                          \
  do {                                                        \
    fprintf(stderr, "skip: %s\n", why);                       \
    exit(77);                                                 \
  } while (0)

#endif

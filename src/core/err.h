/* The error rule (docs/errors.md): low-level calls return 0 or -errno; multi-step work fills an
 * ll_err_t and each layer adds context on the way up; only the top prints. */
#ifndef LL_CORE_ERR_H
#define LL_CORE_ERR_H

typedef struct ll_err {
  int code;      /* errno-style, or 0 when unset */
  char msg[512]; /* "creating function: writing code: ENOSPC" */
} ll_err_t;

#define LL_ERR_INIT {0, {0}}

/* Sets the error (replacing any previous one) and returns -1 (or -code when code > 0). */
int ll_err_set(ll_err_t *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prepends "context: " to the message; returns -1 like ll_err_set. */
int ll_err_wrap(ll_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

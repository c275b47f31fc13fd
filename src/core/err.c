#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int ll_err_set(ll_err_t *err, int code, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->code = code;
  }
  return code > 0 ? -code : -1;
}

int ll_err_wrap(ll_err_t *err, const char *fmt, ...) {
  if (!err) return -1;
  char ctx[256], old[sizeof err->msg];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ctx, sizeof ctx, fmt, ap);
  va_end(ap);
  memcpy(old, err->msg, sizeof old);
  snprintf(err->msg, sizeof err->msg, "%s: %s", ctx, old);
  return err->code > 0 ? -err->code : -1;
}

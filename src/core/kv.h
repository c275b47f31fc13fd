/* A name/value pair of byte ranges (not NUL-terminated): HTTP headers, query parameters.
 * The bytes belong to whoever filled the pair; a kv never owns them. */
#ifndef LL_CORE_KV_H
#define LL_CORE_KV_H

#include <stddef.h>

typedef struct ll_kv {
  const char *name;
  size_t name_len;
  const char *value;
  size_t value_len;
} ll_kv_t;

/* Case-insensitive lookup of `name` in kv[0..n); NULL when absent. */
const ll_kv_t *ll_kv_find(const ll_kv_t *kv, size_t n, const char *name);

#endif

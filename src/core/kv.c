#include "core/kv.h"

#include <string.h>
#include <strings.h>

const ll_kv_t *ll_kv_find(const ll_kv_t *kv, size_t n, const char *name) {
  size_t len = strlen(name);
  for (size_t i = 0; i < n; i++)
    if (kv[i].name_len == len && strncasecmp(kv[i].name, name, len) == 0) return &kv[i];
  return NULL;
}

/* libFuzzer target: AttributeValue validation (src/table/value.c) on any JSON. Whatever
 * validates must be left as one typed value, validate again unchanged (normalization is
 * idempotent), equal its own copy, and have a size; scalars compare equal to themselves and
 * have keys. Errors always come with a message. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "table/value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
  if (!v) return 0;
  char why[256] = "";
  bool item = json_is_object(v) && size && data[0] == '{' && size > 1 && data[1] == ' ';
  int rc = item ? ll_av_validate_item(v, why, sizeof why) : ll_av_validate(v, why, sizeof why);
  if (rc != 0) {
    if ((rc != LL_AV_EVALIDATION && rc != LL_AV_ESERIALIZATION) || !why[0]) abort();
    json_decref(v);
    return 0;
  }
  json_t *copy = json_deep_copy(v);
  int again =
      item ? ll_av_validate_item(copy, why, sizeof why) : ll_av_validate(copy, why, sizeof why);
  if (again != 0 || !json_equal(v, copy)) abort();
  if (item) {
    (void)ll_av_item_size(v);
  } else {
    ll_av_type_t t = ll_av_type(v);
    if (t == LL_AV_INVALID || !ll_av_equal(v, copy)) abort();
    json_t *wrapped = json_pack("{sO}", "a", v);
    if (ll_av_item_size(wrapped) < 1) abort();
    json_decref(wrapped);
    if (t == LL_AV_S || t == LL_AV_N || t == LL_AV_B) {
      int c = 1;
      if (ll_av_compare(v, copy, &c) != 0 || c != 0) abort();
      uint8_t *k = NULL;
      (void)ll_av_key_bytes(v, &k);
      if (!k) abort();
      free(k);
    }
  }
  json_decref(copy);
  json_decref(v);
  return 0;
}

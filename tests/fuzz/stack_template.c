/* libFuzzer target: the stack engine's template checks and intrinsic functions
 * (src/stack/stack.c ll__stack_check, resolve.c) on any JSON: whatever is refused has a
 * message; whatever passes is resolved, resource by resource in the order found, against a
 * lookup that knows every resource checked so far. Must never crash or leak. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stack/stack_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_t *known;

static const char *ref(void *ud, const char *lid) { return json_object_get(known, lid) ? lid : NULL; }
static json_t *att(void *ud, const char *lid, const char *attr) {
  return json_object_get(json_object_get(known, lid), attr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *tpl = json_loadb((const char *)data, size, 0, NULL);
  if (!tpl) return 0;
  json_t *order = NULL;
  ll_err_t err = LL_ERR_INIT;
  if (ll__stack_check(tpl, &order, &err) < 0) {
    if (!err.msg[0]) abort();
    json_decref(tpl);
    return 0;
  }
  known = json_object();
  ll_stack_lookup_t l = {ref, att, NULL, "us-east-1", "000000000000", "fz", "arn:fz"};
  size_t i;
  json_t *id;
  json_array_foreach(order, i, id) {
    const char *lid = json_string_value(id);
    json_t *r = json_object_get(json_object_get(tpl, "Resources"), lid), *out = NULL;
    ll_err_t e2 = LL_ERR_INIT;
    if (ll__stack_resolve(json_object_get(r, "Properties"), &l, &out, &e2) < 0 && !e2.msg[0]) abort();
    json_decref(out);
    json_object_set_new(known, lid, json_pack("{s:s,s:s,s:s}", "Arn", "arn:x", "StreamArn", "arn:y", "Id", "z"));
  }
  json_t *outs = NULL;
  ll_err_t e3 = LL_ERR_INIT;
  if (ll__stack_resolve(json_object_get(tpl, "Outputs"), &l, &outs, &e3) < 0 && !e3.msg[0]) abort();
  json_decref(outs);
  json_decref(known);
  known = NULL;
  json_decref(order);
  json_decref(tpl);
  return 0;
}

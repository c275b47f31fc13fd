/* libFuzzer target: DynamoDB's expression parser and evaluators (src/table/expr.c). The first
 * byte picks the kind (ConditionExpression, FilterExpression, KeyConditionExpression,
 * UpdateExpression, ProjectionExpression); the rest is the expression text, parsed with a fixed
 * set of #names and :values. What parses is evaluated against a fixed item: the condition (and
 * the key condition against a hash+range schema), the update on a copy, the projection. It must
 * never crash, leak, or leave a refused expression without a message. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "table/expr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *NAMES = "{\"#n\":\"name\",\"#a\":\"a\",\"#dot\":\"a.b\",\"#i\":\"[1]\"}";
static const char *VALUES =
    "{\":s\":{\"S\":\"ab\"},\":n\":{\"N\":\"1\"},\":big\":{\"N\":\"9.9999999999999999999999999999999999999E+125\"},"
    "\":b\":{\"B\":\"YQ==\"},\":ss\":{\"SS\":[\"a\",\"b\"]},\":ns\":{\"NS\":[\"1\",\"2\"]},"
    "\":bs\":{\"BS\":[\"YQ==\"]},\":l\":{\"L\":[{\"S\":\"x\"}]},\":m\":{\"M\":{\"k\":{\"N\":\"2\"}}},"
    "\":t\":{\"S\":\"N\"},\":bool\":{\"BOOL\":false},\":null\":{\"NULL\":true}}";
static const char *ITEM =
    "{\"id\":{\"S\":\"k\"},\"sk\":{\"N\":\"5\"},\"name\":{\"S\":\"abc\"},\"a\":{\"M\":{\"b\":{\"L\":[{\"N\":\"1\"},"
    "{\"M\":{\"c\":{\"S\":\"d\"}}}]},\"n\":{\"N\":\"9.9999999999999999999999999999999999999E+125\"}}},"
    "\"ss\":{\"SS\":[\"a\"]},\"ns\":{\"NS\":[\"3\"]},\"bs\":{\"BS\":[\"Yg==\"]},\"l\":{\"L\":[{\"S\":\"x\"},{\"L\":[]}]},"
    "\"t\":{\"BOOL\":true},\"z\":{\"NULL\":true},\"a.b\":{\"B\":\"YWJj\"}}";

static json_t *names, *values, *item;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  if (!names) {
    names = json_loads(NAMES, 0, NULL);
    values = json_loads(VALUES, 0, NULL);
    item = json_loads(ITEM, 0, NULL);
    if (!names || !values || !item) abort();
  }
  ll_expr_kind_t kind = (ll_expr_kind_t)(data[0] % 5);
  char *text = malloc(size);
  memcpy(text, data + 1, size - 1);
  text[size - 1] = '\0';
  ll_expr_ctx_t ctx = {.names = names, .values = values};
  char why[512];
  ll_expr_t *e = ll_expr_parse(kind, text, &ctx, why, sizeof why);
  free(text);
  if (!e) {
    if (!why[0]) abort(); /* refused without a message */
    ll_expr_ctx_done(&ctx);
    return 0;
  }
  ll_expr_unused(&ctx, why, sizeof why);
  bool out;
  switch (kind) {
  case LL_EXPR_CONDITION:
  case LL_EXPR_FILTER:
    ll_expr_condition(e, item, &out, why, sizeof why);
    ll_expr_condition(e, NULL, &out, why, sizeof why);
    break;
  case LL_EXPR_KEY_CONDITION: {
    ll_key_cond_t kc;
    ll_expr_condition(e, item, &out, why, sizeof why);
    ll_expr_key_condition(e, "id", "sk", &kc, why, sizeof why);
    ll_expr_key_condition(e, "id", NULL, &kc, why, sizeof why);
    break;
  }
  case LL_EXPR_UPDATE: {
    json_t *copy = json_deep_copy(item), *before = json_deep_copy(item);
    const char *const *roots;
    size_t n = ll_expr_update_roots(e, &roots);
    for (size_t i = 0; i < n; i++)
      if (!roots[i]) abort();
    if (ll_expr_update(e, copy, why, sizeof why) < 0 && !json_equal(copy, before)) abort(); /* changed on error */
    json_t *empty = json_object();
    ll_expr_update(e, empty, why, sizeof why);
    json_decref(empty);
    json_decref(copy);
    json_decref(before);
    break;
  }
  case LL_EXPR_PROJECTION: {
    json_t *p = ll_expr_project(e, item);
    if (!json_is_object(p)) abort();
    json_decref(p);
    break;
  }
  }
  ll_expr_free(e);
  ll_expr_ctx_done(&ctx);
  return 0;
}

/* libFuzzer target: DynamoDB numbers (src/table/value.c). The input is one number, or two
 * separated by the first '\n'. Whatever parses must format to text that parses back to the same
 * value and formats identically (with the same key); two numbers' keys must order (memcmp, then
 * length, as SQLite compares BLOBs) like ll_num_cmp; sums must be exact: a + b - b == a whenever
 * a + b succeeds, a + b == b + a, and a - b has the sign of ll_num_cmp(a, b). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "table/value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sgn(int x) { return (x > 0) - (x < 0); }

static int key_cmp(const ll_num_t *a, const ll_num_t *b) {
  uint8_t ka[LL_NUM_KEY_MAX], kb[LL_NUM_KEY_MAX];
  size_t la = ll_num_key(a, ka), lb = ll_num_key(b, kb);
  int c = memcmp(ka, kb, la < lb ? la : lb);
  return c ? sgn(c) : (la > lb) - (la < lb);
}

/* The representation's invariants and the text round trip. */
static void check_one(const ll_num_t *a) {
  if (a->n > LL_NUM_DIGITS) abort();
  if (a->n == 0 && (a->neg || a->exp != 0)) abort();
  if (a->n && (a->d[0] < '1' || a->d[0] > '9' || a->d[a->n - 1] == '0')) abort();
  char text[LL_NUM_TEXT_MAX], again[LL_NUM_TEXT_MAX];
  ll_num_format(a, text);
  if (strlen(text) >= LL_NUM_TEXT_MAX) abort();
  ll_num_t b;
  const char *why;
  if (ll_num_parse(text, strlen(text), &b, &why) != 0) abort();
  if (ll_num_cmp(a, &b) != 0 || key_cmp(a, &b) != 0) abort();
  ll_num_format(&b, again);
  if (strcmp(text, again) != 0) abort();
  /* the AttributeValue path normalizes to the same text */
  json_t *v = json_pack("{s:s}", "N", text);
  char msg[256];
  if (ll_av_validate(v, msg, sizeof msg) != 0) abort();
  if (strcmp(json_string_value(json_object_get(v, "N")), text) != 0) abort();
  json_decref(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  const char *nl = memchr(s, '\n', size);
  size_t la = nl ? (size_t)(nl - s) : size;
  ll_num_t a, b, c, d, zero;
  const char *why = NULL;
  memset(&zero, 0, sizeof zero);
  if (ll_num_parse(s, la, &a, &why) != 0) {
    if (!why) abort();
    return 0;
  }
  check_one(&a);
  if (ll_num_add(&a, &zero, &c, &why) != 0 || ll_num_cmp(&a, &c) != 0) abort();
  if (ll_num_sub(&a, &a, &c, &why) != 0 || c.n != 0) abort();
  if (!nl || ll_num_parse(nl + 1, size - la - 1, &b, &why) != 0) return 0;
  check_one(&b);
  int cmp = ll_num_cmp(&a, &b);
  if (sgn(cmp) != -sgn(ll_num_cmp(&b, &a)) || sgn(cmp) != key_cmp(&a, &b)) abort();
  int rc_ab = ll_num_add(&a, &b, &c, &why);
  if (ll_num_add(&b, &a, &d, &why) != rc_ab || (rc_ab == 0 && ll_num_cmp(&c, &d) != 0)) abort();
  if (rc_ab == 0) {
    check_one(&c);
    if (ll_num_sub(&c, &b, &d, &why) != 0 || ll_num_cmp(&d, &a) != 0) abort();
  }
  if (ll_num_sub(&a, &b, &c, &why) == 0) {
    check_one(&c);
    if (sgn(c.n == 0 ? 0 : c.neg ? -1 : 1) != sgn(cmp)) abort();
    if (ll_num_add(&c, &b, &d, &why) != 0 || ll_num_cmp(&d, &a) != 0) abort();
  }
  return 0;
}

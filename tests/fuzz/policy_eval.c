/* libFuzzer target: IAM identity-policy parsing and evaluation (src/auth/policy.c). The input
 * is "POLICY-JSON\0ACTION\0RESOURCE" (missing parts default to "s3:GetObject" and an S3 object
 * ARN). What parses is evaluated without a context and with a fixed one whose keys cover every
 * operator family and policy variables. It must never crash, leak, read out of bounds, or
 * refuse a policy without a message. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const CTX[][2] = {
    {"aws:SecureTransport", "false"},
    {"aws:SourceIp", "10.1.2.3"},
    {"aws:SourceIp", "2001:db8::1"},
    {"aws:SourceArn", "arn:aws:sns:us-east-1:123456789012:topic"},
    {"aws:CurrentTime", "2020-01-01T00:00:00Z"},
    {"aws:EpochTime", "1577836800"},
    {"aws:username", "alice"},
    {"aws:TagKeys", "env"},
    {"aws:TagKeys", "team"},
    {"s3:prefix", "home/alice/"},
    {"s3:max-keys", "10"},
    {"k:empty", ""},
    {"k:star", "*"},
};

static size_t ctx_fn(const char *key, const char **values, size_t max, void *ud) {
  size_t n = 0;
  (void)ud;
  for (size_t i = 0; i < sizeof CTX / sizeof CTX[0]; i++)
    if (strcasecmp(CTX[i][0], key) == 0 && n < max) values[n++] = CTX[i][1];
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *buf = malloc(size + 3);
  memcpy(buf, data, size);
  buf[size] = buf[size + 1] = buf[size + 2] = '\0';
  const char *doc = buf;
  size_t doclen = strlen(doc);
  const char *action = doclen < size ? buf + doclen + 1 : "s3:GetObject";
  const char *resource = action + strlen(action) + 1;
  if (resource > buf + size) resource = "arn:aws:s3:::bucket/home/alice/k";
  json_t *docs = json_loadb(doc, doclen, JSON_DECODE_ANY, NULL);
  if (!docs) {
    free(buf);
    return 0;
  }
  ll_policy_t *p = NULL;
  char why[256];
  why[0] = '\0';
  if (ll_policy_parse(docs, &p, why, sizeof why) < 0) {
    if (p || !why[0]) abort(); /* refused without a message, or with a policy */
  } else {
    ll_policy_decision_t d1 = ll_policy_eval(p, action, resource, NULL, NULL);
    ll_policy_decision_t d2 = ll_policy_eval(p, action, resource, ctx_fn, NULL);
    ll_policy_decision_t d3 = ll_policy_eval(p, "dynamodb:PutItem", "*", ctx_fn, NULL);
    if (d1 > LL_POLICY_EXPLICIT_DENY || d2 > LL_POLICY_EXPLICIT_DENY ||
        d3 > LL_POLICY_EXPLICIT_DENY)
      abort();
    /* Evaluation is a pure function of its inputs. */
    if (ll_policy_eval(p, action, resource, ctx_fn, NULL) != d2) abort();
    ll_policy_unref(ll_policy_ref(p));
    ll_policy_unref(p);
  }
  json_decref(docs);
  free(buf);
  return 0;
}

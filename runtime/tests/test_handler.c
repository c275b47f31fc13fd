/* A function that exercises the liblambdalite-runtime API, driven by fake_api.py.
 *
 * The payload names what to do: "info", "fail-plain", "fail-escape", "apichecks",
 * "big-printf", "empty"; anything else is echoed. With TEST_INIT_FAIL=1 it reports an init
 * error instead of serving. Exit status: 42 = init error reported; otherwise it tells how
 * ll_runtime_main() returned: 10 -EINVAL, 11 -EIO, 12 -EPROTO, 13 anything else.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lambdalite_runtime.h"

#define BIG_LINES 100000

static void json_or_null(ll_response *out, const char *s) {
  if (s) {
    ll_response_json_string(out, s, strlen(s));
  } else {
    ll_response_printf(out, "null");
  }
}

static int info(const ll_invocation *in, ll_response *out) {
  ll_response_printf(out, "{\"request_id\":");
  json_or_null(out, in->request_id);
  ll_response_printf(out, ",\"function_arn\":");
  json_or_null(out, in->function_arn);
  ll_response_printf(out, ",\"trace_id\":");
  json_or_null(out, in->trace_id);
  ll_response_printf(out, ",\"trace_env\":");
  json_or_null(out, getenv("_X_AMZN_TRACE_ID"));
  ll_response_printf(out, ",\"client_context\":");
  json_or_null(out, in->client_context);
  ll_response_printf(out, ",\"cognito_identity\":");
  json_or_null(out, in->cognito_identity);
  return ll_response_printf(out, ",\"deadline_ms\":%lld,\"remaining_ms\":%lld,\"payload_len\":%zu}",
                            in->deadline_ms, ll_remaining_ms(in), in->payload_len);
}

#define CHECK(cond) \
  do { \
    if (!(cond)) return ll_response_error(out, "CheckFailed", #cond), 1; \
  } while (0)

/* In-process checks of the response API. The body ends up as  abc-12"q\""|""|ok  (fake_api.py
 * checks it); a failed check becomes error CheckFailed naming the check. */
static int apichecks(const ll_invocation *in, ll_response *out) {
  CHECK(in->payload[in->payload_len] == '\0');
  CHECK(ll_response_set(NULL, "x", 1) == -EINVAL);
  CHECK(ll_response_set(out, NULL, 1) == -EINVAL);
  CHECK(ll_response_printf(NULL, "x") == -EINVAL);
  CHECK(ll_response_json_string(NULL, "x", 1) == -EINVAL);
  CHECK(ll_response_error(NULL, "a", "b") == -EINVAL);
  CHECK(ll_response_set(out, "replaced", 8) == 0);
  CHECK(ll_response_set(out, NULL, 0) == 0);              /* set replaces ... */
  CHECK(ll_response_printf(out, "%s-%d", "abc", 12) == 0); /* ... printf appends */
  CHECK(ll_response_printf(out, "%s", "") == 0);
  CHECK(ll_response_json_string(out, "q\"", 2) == 0);
  CHECK(ll_response_printf(out, "|") == 0);
  CHECK(ll_response_json_string(out, NULL, 0) == 0);
  CHECK(ll_response_printf(out, "|ok") == 0);
  return 0;
}

static int handle(const ll_invocation *in, ll_response *out) {
  const char *p = in->payload;
  if (strcmp(p, "info") == 0) return info(in, out);
  if (strcmp(p, "fail-plain") == 0) {
    ll_response_printf(out, "partial output that must not be posted");
    return 7;
  }
  if (strcmp(p, "fail-escape") == 0) {
    ll_response_set(out, "discarded", 9); /* the error replaces it */
    ll_response_error(out, "Bad\r\nType\x01",
                      "quote\" back\\ nl\n tab\t ctl\x01\x1f del\x7f bad\xff\xc0\xaf "
                      "sur\xed\xa0\x80 ok\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 cut\xe2\x82");
    CHECK(ll_response_set(out, "x", 1) == -EALREADY);
    CHECK(ll_response_printf(out, "x") == -EALREADY);
    return 0; /* an error set by ll_response_error wins over a 0 return */
  }
  if (strcmp(p, "apichecks") == 0) return apichecks(in, out);
  if (strcmp(p, "big-printf") == 0) {
    for (int i = 0; i < BIG_LINES; i++) ll_response_printf(out, "%09d\n", i);
    return 0;
  }
  if (strcmp(p, "empty") == 0) return 0;
  return ll_response_set(out, in->payload, in->payload_len);
}

int main(void) {
  const char *init_fail = getenv("TEST_INIT_FAIL");
  if (init_fail && strcmp(init_fail, "1") == 0) {
    int r = ll_runtime_init_error("Init.Failed", "could not \"init\"\n");
    return r == 0 ? 42 : 2;
  }
  int r = ll_runtime_main(handle);
  return r == -EINVAL ? 10 : r == -EIO ? 11 : r == -EPROTO ? 12 : 13;
}

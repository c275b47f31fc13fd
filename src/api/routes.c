/* The main listener's routing: Lambda's REST paths, then POST / for the JSON protocols, which
 * name their operation in X-Amz-Target ("Logs_20140328.FilterLogEvents"). Later services
 * (Kinesis, DynamoDB) add their prefix here. */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "api/lambda.h"

static void json_target(ll_http_req_t *req) {
  const ll_kv_t *t = ll_http_header(req->head, "x-amz-target");
  char target[128] = "";
  if (t && t->value_len < sizeof target) {
    memcpy(target, t->value, t->value_len);
    target[t->value_len] = '\0';
  }
  const char *dot = strchr(target, '.');
  if (dot && strncmp(target, "Logs_20140328.", 14) == 0) {
    ll_api_logs_dispatch(req, dot + 1);
    return;
  }
  ll_api_error(req, LL_PROTO_JSON, 400, "UnknownOperationException",
               "Unknown operation %s: this endpoint serves Lambda and CloudWatch Logs "
               "(Logs_20140328.*)",
               target[0] ? target : "(no X-Amz-Target header)");
}

static const ll_http_route_t json_routes[] = {
    {"POST", "/", json_target, 16u << 20, "JsonTarget"},
    {NULL, NULL, NULL, 0, NULL},
};

const ll_http_route_t *const ll_api_tables[] = {ll_lambda_routes, json_routes, NULL};

void ll_api_not_found(ll_http_req_t *req) {
  ll_api_error(req, LL_PROTO_REST_JSON, 404, "UnknownOperationException",
               "Unknown operation: %s %s", req->head->method, req->head->path);
}

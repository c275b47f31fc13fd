/* The main listener's routing: Lambda's REST paths, then POST / for the JSON protocols, which
 * name their operation in X-Amz-Target ("Logs_20140328.FilterLogEvents",
 * "Kinesis_20131202.PutRecord"). Later services (DynamoDB) add their prefix here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "stream/esm.h"
#include "stream/stream.h"
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
  if (dot && strncmp(target, "Kinesis_20131202.", 17) == 0) {
    ll_api_kinesis_dispatch(req, dot + 1);
    return;
  }
  if (dot && strncmp(target, "DynamoDB_20120810.", 18) == 0) {
    ll_api_dynamodb_dispatch(req, dot + 1);
    return;
  }
  ll_api_error(req, LL_PROTO_JSON, 400, "UnknownOperationException",
               "Unknown operation %s: this endpoint serves Lambda, Kinesis (Kinesis_20131202.*), "
               "DynamoDB (DynamoDB_20120810.*) and CloudWatch Logs (Logs_20140328.*)",
               target[0] ? target : "(no X-Amz-Target header)");
}

/* GET /lambdalite/v1/info (signed like the Lambda API): what this daemon is and what isolation
 * is in force, for `lambdalite info`. */
static void info(ll_http_req_t *req) {
  if (ll_api_authenticate(req, LL_PROTO_REST_JSON) < 0) return;
  ll_api_ctx_t *ctx = req->listener_data;
  ll_function_t **fns;
  size_t n = ll_function_list(ctx->engine, &fns);
  free(fns);
  json_t *mechanisms = json_array();
  for (const char *p = ctx->sandbox_summary ? ctx->sandbox_summary : ""; *p;) {
    size_t len = strcspn(p, "\n");
    if (len) json_array_append_new(mechanisms, json_stringn(p, len));
    p += len + (p[len] == '\n');
  }
  json_t *doc = json_pack("{s:s,s:s,s:s,s:s,s:i,s:{s:b,s:o,s:i}}", "version", LL_VERSION, "listen",
                          ctx->listen ? ctx->listen : "", "dataDir",
                          ll_engine_data_dir(ctx->engine), "region", ll_engine_region(ctx->engine),
                          "functions", (int)n, "sandbox", "enabled", ctx->sandbox, "mechanisms",
                          mechanisms, "warmPoolReady", ll_engine_pool_ready(ctx->engine));
  json_object_set_new(doc, "inFlight", json_integer(ll_engine_inflight(ctx->engine)));
  json_object_set_new(doc, "asyncQueued", json_integer((json_int_t)ll_engine_async_queued(ctx->engine)));
  json_object_set_new(doc, "memory",
                      json_pack("{s:I,s:I}", "budgetMB",
                                (json_int_t)ll_engine_memory_budget_mb(ctx->engine), "inUseMB",
                                (json_int_t)ll_engine_memory_in_use_mb(ctx->engine)));
  ll_stream_t **streams;
  size_t nstreams = ll_stream_list(ctx->streams, &streams);
  free(streams);
  json_object_set_new(doc, "streams", json_integer((json_int_t)nstreams));
  json_object_set_new(doc, "eventSourceMappings", ll_esms_info(ctx->esms));
  ll_api_json(req, 200, doc, NULL);
}

static const ll_http_route_t json_routes[] = {
    {"POST", "/", json_target, 16u << 20, "JsonTarget"},
    {"GET", "/lambdalite/v1/info", info, 0, "Info"},
    {NULL, NULL, NULL, 0, NULL},
};

const ll_http_route_t *const ll_api_tables[] = {ll_s3_routes, ll_lambda_routes, ll_esm_routes,
                                                 ll_stack_routes, json_routes, NULL};

void ll_api_not_found(ll_http_req_t *req) {
  ll_api_error(req, LL_PROTO_REST_JSON, 404, "UnknownOperationException",
               "Unknown operation: %s %s", req->head->method, req->head->path);
}

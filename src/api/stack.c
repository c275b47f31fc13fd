/* Stacks over HTTP (lambdalite's own paths, signed like the Lambda API; what `lambdalite
 * deploy / remove / info` call):
 *   POST   /lambdalite/v1/stacks/{name}   body: a template; answers with the stack's events as
 *                                         they happen, one JSON object a line (NDJSON), ending
 *                                         with {"Summary": {...}[, "Error": {...}]}
 *   DELETE /lambdalite/v1/stacks/{name}[?EmptyBuckets=LogicalId,...]   the same for a remove
 *   GET    /lambdalite/v1/stacks/{name}   the stack (ll_stack_describe)
 *   GET    /lambdalite/v1/stacks          every stack
 * A template the engine refuses gets 400 ValidationError before anything streams. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/mem.h"
#include "stack/stack.h"

#define REST LL_PROTO_REST_JSON

typedef struct stack_call {
  ll_http_req_t *req;
  bool started;
} stack_call_t;

static void start(stack_call_t *c) {
  if (c->started) return;
  c->started = true;
  ll_http_stream_start(c->req, 200, "Content-Type: application/x-ndjson\r\n");
}

static void send_line(stack_call_t *c, json_t *doc) {
  start(c);
  char *line = json_dumps(doc, JSON_COMPACT);
  size_t len = strlen(line);
  line = ll_realloc(line, len + 2);
  line[len] = '\n';
  line[len + 1] = 0;
  ll_http_stream_chunk(c->req, line, len + 1);
  json_decref(doc);
}

static void on_event(void *ud, const ll_stack_event_t *ev) {
  json_t *doc = json_pack("{s:s,s:s,s:s,s:s?,s:s?,s:I}", "LogicalResourceId", ev->logical_id,
                          "ResourceType", ev->type, "ResourceStatus", ev->status,
                          "PhysicalResourceId", ev->physical_id, "ResourceStatusReason",
                          ev->reason, "Timestamp", (json_int_t)0);
  json_object_del(doc, "Timestamp");
  send_line(ud, doc);
}

static void on_done(void *ud, json_t *summary, const ll_err_t *err) {
  stack_call_t *c = ud;
  json_t *doc = json_pack("{s:O}", "Summary", summary);
  if (err) json_object_set_new(doc, "Error", json_pack("{s:s}", "message", err->msg));
  send_line(c, doc);
  ll_http_stream_end(c->req);
  free(c);
}

static ll_stacks_t *stacks_of(ll_http_req_t *req) { return ((ll_api_ctx_t *)req->listener_data)->stacks; }

/* CloudFormation answers a refused template, a missing stack and a busy one alike: 400
 * ValidationError with the reason. */
static void refuse(ll_http_req_t *req, const ll_err_t *err) {
  ll_api_error(req, REST, 400, "ValidationError", "%s", err->msg);
}

static void deploy(ll_http_req_t *req) {
  if (ll_api_authenticate(req, REST) < 0) return;
  json_error_t jerr;
  json_t *tpl = json_loadb(req->body.data ? req->body.data : "", req->body.len, 0, &jerr);
  if (!json_is_object(tpl)) {
    json_decref(tpl);
    ll_api_error(req, REST, 400, "ValidationError", "Template format error: JSON not well-formed. (line %d, column %d: %s)",
                 jerr.line, jerr.column, jerr.text);
    return;
  }
  stack_call_t *c = ll_calloc(1, sizeof *c);
  c->req = req;
  ll_err_t err = LL_ERR_INIT;
  int rc = ll_stack_deploy(stacks_of(req), req->params[0], tpl, on_event, on_done, c, &err);
  json_decref(tpl);
  if (rc < 0) {
    free(c);
    refuse(req, &err);
  }
}

static void remove_stack(ll_http_req_t *req) {
  if (ll_api_authenticate(req, REST) < 0) return;
  char *empty = ll_api_query_param(req, "EmptyBuckets");
  const char *list[33] = {0};
  size_t n = 0;
  for (char *save = NULL, *t = empty ? strtok_r(empty, ",", &save) : NULL; t && n < 32;
       t = strtok_r(NULL, ",", &save))
    list[n++] = t;
  stack_call_t *c = ll_calloc(1, sizeof *c);
  c->req = req;
  ll_err_t err = LL_ERR_INIT;
  int rc = ll_stack_remove(stacks_of(req), req->params[0], list, on_event, on_done, c, &err);
  free(empty);
  if (rc < 0) {
    free(c);
    refuse(req, &err);
  }
}

static void describe(ll_http_req_t *req) {
  if (ll_api_authenticate(req, REST) < 0) return;
  json_t *d = ll_stack_describe(stacks_of(req), req->params[0]);
  if (!d) {
    ll_api_error(req, REST, 400, "ValidationError", "Stack with id %s does not exist", req->params[0]);
    return;
  }
  ll_api_json(req, 200, d, NULL);
}

static void list(ll_http_req_t *req) {
  if (ll_api_authenticate(req, REST) < 0) return;
  ll_api_json(req, 200, json_pack("{s:o}", "Stacks", ll_stack_list(stacks_of(req))), NULL);
}

const ll_http_route_t ll_stack_routes[] = {
    {"POST", "/lambdalite/v1/stacks/{}", deploy, 64u << 20, "DeployStack"},
    {"DELETE", "/lambdalite/v1/stacks/{}", remove_stack, 0, "RemoveStack"},
    {"GET", "/lambdalite/v1/stacks/{}", describe, 0, "DescribeStack"},
    {"GET", "/lambdalite/v1/stacks", list, 0, "ListStacks"},
    {NULL, NULL, NULL, 0, NULL},
};

/* The Lambda Runtime API (2018-06-01) of one instance: a listener on 127.0.0.1 whose only client
 * is that instance, so the listener itself says who is calling. Status codes and bodies as
 * aws-wire-contract.md §1 (and the Runtime Interface Emulator) have them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/mem.h"
#include "core/sockowner.h"

#define JSON_HDR "Content-Type: application/json\r\n"

static void rt_json(ll_http_req_t *req, int status, const char *type, const char *msg) {
  char *body = type ? ll_sprintf("{\"errorMessage\":\"%s\",\"errorType\":\"%s\"}", msg, type)
                    : ll_strdup("{\"status\":\"OK\"}");
  ll_http_respond(req, status, JSON_HDR, body, strlen(body));
}

static void rt_status(ll_http_req_t *req, enum ll_rt_status st) {
  switch (st) {
    case LL_RT_ACCEPTED: rt_json(req, 202, NULL, NULL); break;
    case LL_RT_INVALID_ID: rt_json(req, 400, "InvalidRequestID", "Invalid request ID"); break;
    case LL_RT_INVALID_STATE:
      rt_json(req, 403, "InvalidStateTransition",
              "State transition from Running to Running failed for runtime. Error: State "
              "transition is not allowed");
      break;
    case LL_RT_TOO_LARGE:
      rt_json(req, 413, "RequestEntityTooLarge",
              "Exceeded maximum allowed payload size (6291556 bytes).");
      break;
  }
}

/* ---- GET /runtime/invocation/next -------------------------------------------------------- */

static void deliver(void *w, const ll_invocation_view_t *v) {
  ll_http_req_t *req = w;
  ll_http_req_on_abort(req, NULL, NULL);
  ll_buf_t h = LL_BUF_INIT;
  ll_buf_reserve(&h, 512);
  ll_buf_cat(&h, "Content-Type: ", v->content_type, "\r\nLambda-Runtime-Aws-Request-Id: ",
             v->request_id, "\r\nLambda-Runtime-Deadline-Ms: ", NULL);
  ll_buf_put_u64(&h, (uint64_t)v->deadline_ms);
  ll_buf_cat(&h, "\r\nLambda-Runtime-Invoked-Function-Arn: ", v->invoked_arn,
             "\r\nLambda-Runtime-Trace-Id: ", v->trace_id, "\r\n", NULL);
  if (v->client_context)
    ll_buf_cat(&h, "Lambda-Runtime-Client-Context: ", v->client_context, "\r\n", NULL);
  char *body = ll_malloc(v->len + 1);
  memcpy(body, v->payload, v->len);
  ll_http_respond(req, 200, h.data, body, v->len);
  ll_buf_free(&h);
}

static void next_aborted(ll_http_req_t *req, void *ud) {
  ll_instance_next_cancel(ud, req);
  ll_http_respond(req, 500, NULL, NULL, 0); /* frees req; nobody is there to read it */
}

static void next(ll_http_req_t *req) {
  ll_instance_t *inst = req->listener_data;
  ll_http_req_on_abort(req, next_aborted, inst);
  ll_instance_next(inst, deliver, req);
}

/* ---- results ----------------------------------------------------------------------------- */

static char *header_copy(ll_http_req_t *req, const char *name, char *buf, size_t sz) {
  const ll_kv_t *kv = ll_http_header(req->head, name);
  if (!kv || kv->value_len >= sz) return NULL;
  memcpy(buf, kv->value, kv->value_len);
  buf[kv->value_len] = '\0';
  return buf;
}

static void response(ll_http_req_t *req) {
  ll_instance_t *inst = req->listener_data;
  char ctype[256];
  const char *ct = header_copy(req, "content-type", ctype, sizeof ctype);
  const char *mode = ll_http_header(req->head, "lambda-runtime-function-response-mode")
                         ? header_copy(req, "lambda-runtime-function-response-mode", (char[32]){0}, 32)
                         : NULL;
  if (mode && strcmp(mode, "streaming") != 0) {
    rt_json(req, 400, "InvalidFunctionResponseMode", "Invalid function response mode");
    return;
  }
  rt_status(req, ll_instance_response(inst, req->params[0], req->body.data ? req->body.data : "",
                                      req->body.len, ct ? ct : "application/json",
                                      req->body_too_large));
}

static void error(ll_http_req_t *req) {
  ll_instance_t *inst = req->listener_data;
  char type[256];
  const char *t = header_copy(req, "lambda-runtime-function-error-type", type, sizeof type);
  rt_status(req, ll_instance_error(inst, req->params[0], req->body.data ? req->body.data : "",
                                   req->body_too_large ? 0 : req->body.len, t));
}

static void init_error(ll_http_req_t *req) {
  ll_instance_t *inst = req->listener_data;
  char type[256];
  const char *t = header_copy(req, "lambda-runtime-function-error-type", type, sizeof type);
  rt_status(req, ll_instance_init_error(inst, req->body.data ? req->body.data : "",
                                        req->body_too_large ? 0 : req->body.len, t));
}

static void not_found(ll_http_req_t *req) {
  rt_json(req, 404, "NotFound", "Unknown Runtime API path");
}

static const ll_http_route_t routes[] = {
    {"GET", "/2018-06-01/runtime/invocation/next", next, 0, "Next"},
    {"POST", "/2018-06-01/runtime/invocation/{}/response", response, LL_RESPONSE_MAX, "Response"},
    {"POST", "/2018-06-01/runtime/invocation/{}/error", error, LL_RESPONSE_MAX, "Error"},
    {"POST", "/2018-06-01/runtime/init/error", init_error, LL_RESPONSE_MAX, "InitError"},
    {NULL, NULL, NULL, 0, NULL},
};
static const ll_http_route_t *const tables[] = {routes, NULL};

/* On the host's network any local process could reach an instance's port: only the
 * instance's own processes (its sandbox's host uid) get in. */
static bool only_the_instance(void *ud, uv_tcp_t *conn) {
  ll_instance_t *inst = ud;
  uid_t got;
  struct sockaddr_in local, peer;
  int len = sizeof local;
  if (uv_tcp_getsockname(conn, (struct sockaddr *)&local, &len) < 0) return false;
  len = sizeof peer;
  if (uv_tcp_getpeername(conn, (struct sockaddr *)&peer, &len) < 0) return false;
  if (local.sin_family != AF_INET || peer.sin_family != AF_INET) return false;
  if (ll_tcp_peer_uid(&local, &peer, &got) < 0) return false;
  return ll_instance_peer_allowed(ll_instance_engine(inst), inst, got);
}

int ll_api_runtime_open(void *ud, ll_instance_t *inst, int fd, int *port, void **handle) {
  ll_api_ctx_t *ctx = ud;
  ll_http_listener_t *l;
  int r = fd >= 0 ? ll_http_listen_fd(ctx->loop, fd, tables, not_found, inst, &l)
                  : ll_http_listen(ctx->loop, "127.0.0.1", 0, tables, not_found, inst, &l, port);
  if (r < 0) return r;
  if (fd < 0) ll_http_listener_filter(l, only_the_instance); /* its own netns needs no check */
  *handle = l;
  return 0;
}

void ll_api_runtime_close(void *ud, void *handle) { ll_http_listener_close(handle); }

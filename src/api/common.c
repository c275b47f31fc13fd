#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "auth/sigv4.h"
#include "core/encoding.h"
#include "core/mem.h"
#include "core/random.h"

#define MAX_SKEW_S (15 * 60)

void ll_api_request_id(char out[37]) { ll_uuid4(out); }

void ll_api_empty(ll_http_req_t *req, int status) {
  char rid[37], hdr[80];
  ll_api_request_id(rid);
  snprintf(hdr, sizeof hdr, "x-amzn-RequestId: %s\r\n", rid);
  ll_http_respond(req, status, hdr, NULL, 0);
}

void ll_api_json(ll_http_req_t *req, int status, json_t *doc, const char *content_type) {
  char *body = doc ? json_dumps(doc, JSON_COMPACT) : ll_strdup("");
  json_decref(doc);
  char rid[37];
  ll_api_request_id(rid);
  char hdr[256];
  snprintf(hdr, sizeof hdr, "Content-Type: %s\r\nx-amzn-RequestId: %s\r\n",
           content_type ? content_type : "application/json", rid);
  ll_http_respond(req, status, hdr, body, strlen(body));
}

void ll_api_raw_json(ll_http_req_t *req, int status, ll_buf_t *body, const char *content_type) {
  char rid[37];
  ll_api_request_id(rid);
  char hdr[256];
  snprintf(hdr, sizeof hdr, "Content-Type: %s\r\nx-amzn-RequestId: %s\r\n",
           content_type ? content_type : "application/json", rid);
  size_t len;
  char *data = ll_buf_steal(body, &len);
  if (!data) data = ll_strdup("");
  ll_http_respond(req, status, hdr, data, len);
}

void ll_api_error(ll_http_req_t *req, enum ll_api_proto proto, int status, const char *code,
                  const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  char rid[37];
  ll_api_request_id(rid);
  json_t *doc;
  char hdr[320];
  if (proto == LL_PROTO_REST_JSON) {
    doc = json_pack("{s:s,s:s}", "Type", status >= 500 ? "Service" : "User", "message", msg);
    snprintf(hdr, sizeof hdr,
             "Content-Type: application/json\r\nx-amzn-ErrorType: %s\r\nx-amzn-RequestId: %s\r\n",
             code, rid);
  } else {
    doc = json_pack("{s:s,s:s}", "__type", code, "message", msg);
    snprintf(hdr, sizeof hdr, "Content-Type: application/x-amz-json-1.1\r\nx-amzn-RequestId: %s\r\n",
             rid);
  }
  char *body = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  ll_http_respond(req, status, hdr, body, strlen(body));
}

void ll_api_engine_error(ll_http_req_t *req, const ll_err_t *err) {
  int status = 500;
  const char *code = "ServiceException";
  switch (err->code) {
    case LL_E_NOT_FOUND: status = 404, code = "ResourceNotFoundException"; break;
    case LL_E_CONFLICT: status = 409, code = "ResourceConflictException"; break;
    case LL_E_INVALID_PARAM: status = 400, code = "InvalidParameterValueException"; break;
    case LL_E_INVALID_ZIP: status = 400, code = "InvalidParameterValueException"; break;
    case LL_E_TOO_LARGE: status = 400, code = "InvalidParameterValueException"; break;
    case LL_E_PRECONDITION: status = 412, code = "PreconditionFailedException"; break;
    case LL_E_VALIDATION: status = 400, code = "ValidationException"; break;
  }
  /* AWS reports constraint violations as ValidationException. */
  if (err->code == LL_E_INVALID_PARAM && strncmp(err->msg, "1 validation error", 18) == 0)
    code = "ValidationException";
  ll_api_error(req, LL_PROTO_REST_JSON, status, code, "%s", err->msg);
}

const char *ll_api_region(const ll_http_req_t *req) {
  return req->app ? (const char *)req->app
                  : ll_engine_region(((ll_api_ctx_t *)req->listener_data)->engine);
}

static const char *secret_of(void *ud, const char *access_key) { return ll_api_secret(ud, access_key); }

void ll_api_sigv4_request(const ll_http_head_t *h, const char *payload_hash,
                          ll_sigv4_request_t *out) {
  *out = (ll_sigv4_request_t){
      .method = h->method,
      .path = h->path,
      .path_len = strlen(h->path),
      .query = h->query,
      .query_len = strlen(h->query),
      .headers = h->headers,
      .nheaders = h->nheaders - h->ntrailers,
      .payload_hash = payload_hash,
  };
}

int ll_api_authenticate(ll_http_req_t *req, enum ll_api_proto proto) {
  ll_api_ctx_t *ctx = req->listener_data;
  const ll_http_head_t *h = req->head;
  char hash[65];
  const ll_kv_t *given = ll_http_header(h, "x-amz-content-sha256");
  char given_buf[80];
  if (given && given->value_len < sizeof given_buf) {
    memcpy(given_buf, given->value, given->value_len);
    given_buf[given->value_len] = '\0';
  } else {
    given = NULL;
  }
  if (!given) ll_sha256_hex(req->body.data ? req->body.data : "", req->body.len, hash);
  ll_sigv4_request_t sr;
  ll_api_sigv4_request(h, given ? given_buf : hash, &sr);
  ll_sigv4_result_t res;
  memset(&res, 0, sizeof res);
  if (ll_sigv4_verify(&sr, secret_of, ctx, time(NULL), MAX_SKEW_S, &res) == 0) {
    ll_api_ident_t *id = ll_calloc(1, sizeof *id);
    snprintf(id->region, sizeof id->region, "%s", res.region);
    snprintf(id->access_key, sizeof id->access_key, "%s", res.access_key);
    free(req->app);
    req->app = id;
    if (ll_api_token_problem(req, id->access_key) < 0) {
      ll_api_error(req, proto, 403, "UnrecognizedClientException",
                   "The security token included in the request is invalid.");
      return -1;
    }
    return proto == LL_PROTO_REST_JSON ? ll__api_authorize_route(req) : 0;
  }
  ll_api_error(req, proto, res.status ? res.status : 403,
               res.code ? res.code : "InvalidSignatureException", "%s", res.message);
  return -1;
}

/* Parses the JSON body; answers 400 and returns NULL when it is not a JSON object. */
json_t *ll_api_body_json(ll_http_req_t *req) {
  json_error_t jerr;
  json_t *doc = json_loadb(req->body.data ? req->body.data : "", req->body.len, 0, &jerr);
  if (!json_is_object(doc)) {
    json_decref(doc);
    ll_api_error(req, LL_PROTO_REST_JSON, 400, "InvalidRequestContentException",
                 "Could not parse request body into json: %s", jerr.text);
    return NULL;
  }
  return doc;
}

char *ll_api_query_param(ll_http_req_t *req, const char *key) {
  size_t kl = strlen(key);
  for (const char *q = req->head->query; q && *q;) {
    size_t n = strcspn(q, "&");
    if (n > kl && strncmp(q, key, kl) == 0 && q[kl] == '=') return ll_http_pct_decode(q + kl + 1, n - kl - 1);
    q += n;
    if (*q == '&') q++;
  }
  return NULL;
}

json_t *ll_api_json11_body(ll_http_req_t *req) {
  json_error_t jerr;
  json_t *in = json_loadb(req->body.data ? req->body.data : "{}", req->body.len ? req->body.len : 2,
                          0, &jerr);
  if (json_is_object(in)) return in;
  json_decref(in);
  ll_api_error(req, LL_PROTO_JSON, 400, "SerializationException", "Could not parse request body: %s",
               jerr.text);
  return NULL;
}

/* The daemon's wire surfaces. Each module (lambda.c, logs.c, runtime.c) turns HTTP requests
 * into engine calls and engine results into AWS's wire shapes; common.c holds what they share
 * (SigV4 checks, error shapes, JSON answers). */
#ifndef LL_API_API_H
#define LL_API_API_H

#include <jansson.h>
#include <stdbool.h>

#define LL_VERSION "0.1.0"

#include "core/buf.h"
#include "engine/engine.h"
#include "http/router.h"
#include "http/server.h"

/* The stores the handlers reach (their headers are included where they are used). */
typedef struct ll_streams ll_streams_t;
typedef struct ll_esms ll_esms_t;
typedef struct ll_objstore ll_objstore_t;
typedef struct ll_tables ll_tables_t;
typedef struct ll_stacks ll_stacks_t;
typedef struct ll_creds ll_creds_t;
struct ll_sigv4_request;

/* What every API handler reaches through req->listener_data. */
typedef struct ll_api_ctx {
  ll_engine_t *engine;
  ll_streams_t *streams;        /* Kinesis-style streams */
  ll_esms_t *esms;              /* event source mappings */
  ll_objstore_t *objects;       /* S3-style buckets and objects */
  ll_tables_t *tables;          /* DynamoDB-style tables */
  ll_stacks_t *stacks;          /* deployed templates (src/stack) */
  ll_creds_t *creds;            /* temporary credentials of function instances */
  double time_scale;            /* serve's --async-time-scale (credential lifetimes; 1) */
  uv_loop_t *loop;
  const char *listen;           /* "127.0.0.1:4566" */
  bool sandbox;                 /* instances run in sandboxes */
  const char *sandbox_summary;  /* what the sandbox probe found, one mechanism a line */
} ll_api_ctx_t;

/* The route tables of the main listener (Lambda REST paths, and POST / dispatched by
 * X-Amz-Target), NULL-terminated, and its answer for everything else. */
extern const ll_http_route_t *const ll_api_tables[];
void ll_api_not_found(ll_http_req_t *req);

/* S3 (s3.c): its requests are told apart by their signature's service or virtual host, so its
 * table comes first. */
extern const ll_http_route_t ll_s3_routes[];

/* Stacks (stack.c): deploy, remove and describe templates. */
extern const ll_http_route_t ll_stack_routes[];

/* CloudWatch Logs (logs.c) and Kinesis (kinesis.c): answer one JSON 1.1 action. */
void ll_api_logs_dispatch(ll_http_req_t *req, const char *action);
void ll_api_kinesis_dispatch(ll_http_req_t *req, const char *action);
/* DynamoDB (dynamodb.c): one JSON 1.0 action. */
void ll_api_dynamodb_dispatch(ll_http_req_t *req, const char *action);

/* The Runtime API endpoint of one instance (runtime.c): the engine's open/close hooks. */
int ll_api_runtime_open(void *ud, ll_instance_t *inst, int fd, int *port, void **handle);
void ll_api_runtime_close(void *ud, void *handle);

/* ---- shared helpers (common.c) ----------------------------------------------------------- */

enum ll_api_proto {
  LL_PROTO_REST_JSON, /* Lambda: x-amzn-ErrorType header + {"Type","message"} */
  LL_PROTO_JSON,      /* JSON 1.0/1.1 (Logs, Kinesis, DynamoDB): {"__type","message"} */
};

/* The request as SigV4 sees it, into out: h's method, path, query and headers (its trailers
 * left out) with payload_hash (borrowed). */
void ll_api_sigv4_request(const ll_http_head_t *h, const char *payload_hash,
                          struct ll_sigv4_request *out);
/* Verifies the request's SigV4 signature against the engine's keys. On failure answers req
 * (403/400 in the protocol's shape) and returns -1; the caller must not touch req then. On
 * success the region of the credential scope is remembered for ll_api_region. */
int ll_api_authenticate(ll_http_req_t *req, enum ll_api_proto proto);
/* The region the request was signed for (ARNs in answers use it), or the engine's default
 * before authentication. */
const char *ll_api_region(const ll_http_req_t *req);

/* Who signed a request of the JSON and REST protocols (req->app after ll_api_authenticate;
 * the region first, where ll_api_region reads it; S3 keeps its own, region first too). */
typedef struct ll_api_ident {
  char region[64];
  char access_key[129];
} ll_api_ident_t;

/* ---- identities and permissions (iam.c) -------------------------------------------------- */

/* The secret of an access key: the daemon's own keys, then the live temporary credentials of
 * function instances; NULL when neither knows it. */
const char *ll_api_secret(ll_api_ctx_t *ctx, const char *access_key);
/* After its signature verified: a temporary key must come with its session token
 * (X-Amz-Security-Token header, or query parameter of a presigned URL). 0, or -1 when the
 * token is missing or wrong (the caller answers: UnrecognizedClientException, S3 InvalidToken). */
int ll_api_token_problem(ll_http_req_t *req, const char *access_key);
/* Whether access_key may perform action ("dynamodb:PutItem") on resource (an ARN, or "*"):
 * the daemon's keys always may; a temporary key as its role's policies say. 0, or -1 with IAM's
 * message in msg. */
int ll_api_permitted(ll_http_req_t *req, const char *access_key, const char *action,
                     const char *resource, char *msg, size_t sz);
/* The same for the request's own signer (JSON and REST protocols); when denied answers 403
 * AccessDeniedException and returns -1. */
int ll_api_authorize(ll_http_req_t *req, enum ll_api_proto proto, const char *action,
                     const char *resource);
/* Whether the request's signer is a temporary credential (its calls are checked). */
bool ll_api_restricted(const ll_http_req_t *req);
/* Lambda's REST routes: the action the route stands for ("lambda:InvokeFunction") on the
 * function, layer or mapping it names (ll_api_authenticate calls it). */
int ll__api_authorize_route(ll_http_req_t *req);
/* The engine's credential hooks (ll_engine_set_credentials; ud is the ll_api_ctx_t). */
int ll_api_creds_mint(void *ud, const ll_function_t *fn, ll_instance_creds_t *out);
void ll_api_creds_revoke(void *ud, const char *access_key);

/* Answers with an AWS error: status, code (e.g. "ResourceNotFoundException"), message. */
void ll_api_error(ll_http_req_t *req, enum ll_api_proto proto, int status, const char *code,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Maps an engine error (LL_E_*) to the Lambda error it stands for and answers with it. */
void ll_api_engine_error(ll_http_req_t *req, const ll_err_t *err);
/* Answers with a JSON document (stolen reference). content_type NULL = application/json. */
void ll_api_json(ll_http_req_t *req, int status, json_t *doc, const char *content_type);
/* Answers with JSON text already built (taken from body, which is left empty). */
void ll_api_raw_json(ll_http_req_t *req, int status, ll_buf_t *body, const char *content_type);
/* Answers with an empty body and a fresh x-amzn-RequestId (204 deletes, 202 async, DryRun). */
void ll_api_empty(ll_http_req_t *req, int status);
/* The request's JSON body (new reference); answers 400 InvalidRequestContentException and
 * returns NULL when it is not a JSON object (REST JSON shape). */
json_t *ll_api_body_json(ll_http_req_t *req);
/* The body of a JSON 1.0/1.1 request (new reference; an empty body is {}); answers 400
 * SerializationException and returns NULL when it is not a JSON object. */
json_t *ll_api_json11_body(ll_http_req_t *req);
/* The percent-decoded value of query parameter key (heap), or NULL when absent. */
char *ll_api_query_param(ll_http_req_t *req, const char *key);
/* A fresh request id. */
void ll_api_request_id(char out[37]);

#endif

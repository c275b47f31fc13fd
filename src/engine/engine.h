/* The engine: functions, layers, instances, invocations and their logs. It knows no wire
 * format: api/ modules translate HTTP into these calls, and the Runtime API endpoint of each
 * instance is opened through a hook that main.c wires to api/runtime.c.
 *
 * Everything here runs on the daemon's one libuv loop; blocking work (zip extraction) goes to
 * the loop's thread pool. Errors come back in an ll_err_t whose code is one of LL_E_* below
 * (or an errno for system failures), with a message in AWS's words. */
#ifndef LL_ENGINE_ENGINE_H
#define LL_ENGINE_ENGINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/err.h"

enum {
  LL_E_NOT_FOUND = 1001,   /* ResourceNotFoundException */
  LL_E_CONFLICT,           /* ResourceConflictException */
  LL_E_INVALID_PARAM,      /* InvalidParameterValueException */
  LL_E_INVALID_ZIP,        /* InvalidZipFileException-style problems with the code */
  LL_E_TOO_LARGE,          /* RequestEntityTooLargeException (code size limits) */
  LL_E_PRECONDITION,       /* PreconditionFailedException (RevisionId mismatch) */
  LL_E_THROTTLED_RESERVED, /* 429 ReservedFunctionConcurrentInvocationLimitExceeded */
  LL_E_THROTTLED_ACCOUNT,  /* 429 ConcurrentInvocationLimitExceeded */
  LL_E_INTERNAL,           /* ServiceException */
  LL_E_VALIDATION,         /* ValidationException (a field outside its constraints) */
};

typedef struct ll_engine ll_engine_t;
typedef struct ll_function ll_function_t;
typedef struct ll_instance ll_instance_t;

/* Limits as AWS has them (../shared/reference/aws-wire-contract.md §2.2). */
#define LL_SYNC_PAYLOAD_MAX 6291456u      /* sync invoke request */
#define LL_ASYNC_PAYLOAD_MAX 1048576u     /* async invoke request (1 MB since 2025) */
#define LL_RESPONSE_MAX 6291556u          /* function response (6 MiB + 100) */
#define LL_ZIP_MAX 52428800u              /* direct zip upload */
#define LL_UNZIPPED_MAX 262144000u        /* code + layers unzipped */
#define LL_LOG_TAIL_MAX 4096u             /* X-Amz-Log-Result */

typedef struct ll_engine_config {
  const char *data_dir;
  const char *region;        /* "us-east-1" */
  const char *account;       /* "000000000000" */
  double idle_timeout_s;     /* idle instances are stopped after this long; 0 = after each use */
  int max_instances;         /* per function: more concurrent invocations wait for one */
  int concurrency_limit;     /* the account's concurrent executions (AWS default 1000) */
  bool sandbox;              /* run instances in sandboxes (src/sandbox; probe it first) */
  bool cpu_hard;             /* CPU proportional to memory as a hard cap (Lambda's throttling);
                                else as a weight (spare CPU is used) */
  bool network_none;         /* sandboxed instances get an empty network namespace; their
                                Runtime API is 127.0.0.1:9001 inside it */
  double async_time_scale;   /* multiplies the async queue's clock — AWS's retry delays and
                                MaximumEventAgeInSeconds — (1; tests shrink it) */
  int warm_pool;             /* sandboxes kept prepared per memory/tmp size for cold starts
                                (sandbox on; 0 = none) */
  int64_t memory_budget_mb;  /* the MemorySize of all live instances together stays under it;
                                0 = the machine's memory less a reserve */
  /* Opens the Runtime API endpoint of a new instance — on 127.0.0.1 with a port of its own
   * (returned in *port), or, when fd >= 0, on that listening socket (made inside the instance's
   * network namespace) — and returns a handle for close_endpoint. Closing must abort any
   * request parked on it. */
  int (*open_endpoint)(void *ud, ll_instance_t *inst, int fd, int *port, void **handle);
  void (*close_endpoint)(void *ud, void *handle);
  void *endpoint_ud;
} ll_engine_config_t;

int ll_engine_open(uv_loop_t *loop, const ll_engine_config_t *cfg, ll_engine_t **out,
                   ll_err_t *err);
/* Stops every instance (SIGKILL to their process groups), fails queued invocations, closes the
 * metadata store. Frees the engine once the loop has closed its handles: run the loop until it
 * is empty after calling this. */
void ll_engine_close(ll_engine_t *e);
const char *ll_engine_region(const ll_engine_t *e);
const char *ll_engine_account(const ll_engine_t *e);
const char *ll_engine_data_dir(const ll_engine_t *e);
/* The URL functions reach the daemon's APIs at ("http://127.0.0.1:4566"): given to them as
 * AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_S3 (copied; set once the listener is bound). */
void ll_engine_set_api_endpoint(ll_engine_t *e, const char *url);

/* ---- credentials (SigV4 keys kept in the metadata store) ---------------------------------- */

/* The secret of access_key, or NULL. The development pair test/test exists in a fresh data
 * directory; *dev_key_enabled tells whether it is still enabled. */
const char *ll_engine_secret(ll_engine_t *e, const char *access_key);
bool ll_engine_dev_key_enabled(ll_engine_t *e);
/* Credentials of an instance, from the daemon's IAM side (set once by the daemon): mint fills
 * a temporary key, secret and session token (heap, the engine frees it) bound to the function's
 * role and returns 0, or returns -1 when it has none for that role (the instance then gets the
 * development pair while that is enabled). revoke is called with the key when the instance
 * ends, so a credential lives exactly as long as its instance; an instance is not given an
 * event it could not finish (its Timeout) before its credential expires: it is retired, and
 * the next instance gets a fresh one. */
typedef struct ll_instance_creds {
  char access_key[32];
  char secret[64];
  char *session_token;
  int64_t expires_ms; /* wall clock: the instance is retired before then (rotation) */
} ll_instance_creds_t;
typedef int (*ll_creds_mint_fn)(void *ud, const ll_function_t *fn, ll_instance_creds_t *out);
typedef void (*ll_creds_revoke_fn)(void *ud, const char *access_key);
void ll_engine_set_credentials(ll_engine_t *e, ll_creds_mint_fn mint, ll_creds_revoke_fn revoke,
                               void *ud);

/* ---- functions ------------------------------------------------------------------------- */

/* What a function is configured with; JSON-shaped so the Lambda API, the CLI and stacks share
 * one validation. Fields follow CreateFunction's names: FunctionName, Runtime, Role, Handler,
 * Description, Timeout, MemorySize, Environment{Variables}, Layers[], Architectures,
 * EphemeralStorage{Size}, TracingConfig{Mode}, Tags. */
struct ll_function {
  int refs;
  char *name;
  char *arn;               /* unqualified */
  json_t *config;          /* owned: the settable fields, validated */
  int memory_mb;
  int timeout_s;
  char code_sha256[48];    /* base64 SHA-256 of the zip */
  int64_t code_size;
  char revision_id[37];
  int64_t last_modified_ms;
  char *code_dir;          /* owned: extracted code (LAMBDA_TASK_ROOT) */
  char *opt_dir;           /* owned: layers merged in order (/opt of the function's view) */
  uint64_t generation;     /* bumps on every change; instances of older ones retire */
  int reserved;            /* ReservedConcurrentExecutions, -1 when unset */
  int inflight;            /* invocations accepted and not yet complete */
  bool deleted;
  struct ll_sched_fn *sched; /* owned: scheduler state */
};

ll_function_t *ll_function_find(ll_engine_t *e, const char *name);
/* Functions sorted by name; the array is the caller's to free, the functions are borrowed. */
size_t ll_function_list(ll_engine_t *e, ll_function_t ***out);
void ll_function_ref(ll_function_t *fn);
void ll_function_unref(ll_function_t *fn);

/* Called when an asynchronous management call finishes: fn is the function (borrowed) or NULL
 * with err set. */
typedef void (*ll_function_cb)(void *ud, ll_function_t *fn, const ll_err_t *err);

/* Creates a function from a CreateFunction-shaped config and zip bytes (owned, freed here).
 * Validation errors are reported synchronously (-1, err set, cb not called); otherwise the
 * zip is extracted off the loop and cb fires later. */
int ll_function_create(ll_engine_t *e, json_t *config, uint8_t *zip, size_t zip_len,
                       ll_function_cb cb, void *ud, ll_err_t *err);
int ll_function_update_code(ll_engine_t *e, const char *name, uint8_t *zip, size_t zip_len,
                            const char *revision_id, ll_function_cb cb, void *ud, ll_err_t *err);
/* Merges the given fields into the configuration (synchronous). */
int ll_function_update_config(ll_engine_t *e, const char *name, json_t *changes,
                              ll_function_t **out, ll_err_t *err);
int ll_function_delete(ll_engine_t *e, const char *name, ll_err_t *err);
/* Sets (reserved >= 0) or clears (-1) the function's reserved concurrency, which caps it and is
 * taken from the account's pool; the pool keeps at least 100 unreserved (AWS's rule). */
int ll_function_set_concurrency(ll_engine_t *e, const char *name, int reserved, ll_err_t *err);
/* The memory budget for instances, and how much of it live instances take (MB). */
int64_t ll_engine_memory_budget_mb(const ll_engine_t *e);
int64_t ll_engine_memory_in_use_mb(const ll_engine_t *e);
/* Sandboxes prepared in the warm pool, ready for cold starts. */
int ll_engine_pool_ready(const ll_engine_t *e);
/* The account's concurrency limit, and what of it no function has reserved. */
int ll_engine_concurrency_limit(const ll_engine_t *e);
/* Invocations accepted and not yet complete, across every function. */
int ll_engine_inflight(const ll_engine_t *e);
int ll_engine_unreserved_concurrency(const ll_engine_t *e);
/* The function's Environment.Variables (borrowed JSON object, never NULL). */
json_t *ll_function_env(const ll_function_t *fn);
/* Total code size of all functions (GetAccountSettings). */
int64_t ll_functions_total_code_size(ll_engine_t *e);

/* ---- layers ---------------------------------------------------------------------------- */

typedef struct ll_layer_version {
  char *name;
  int version;
  char *arn;            /* layer ARN without version */
  char *version_arn;    /* ...:N */
  json_t *info;         /* owned: Description, CompatibleRuntimes, LicenseInfo, CodeSha256,
                           CodeSize, CreatedDate, CompatibleArchitectures */
  char *dir;            /* owned: extracted content */
} ll_layer_version_t;

typedef void (*ll_layer_cb)(void *ud, ll_layer_version_t *lv, const ll_err_t *err);
int ll_layer_publish(ll_engine_t *e, const char *name, json_t *info, uint8_t *zip, size_t zip_len,
                     ll_layer_cb cb, void *ud, ll_err_t *err);
/* Finds name+version (version <= 0: latest); NULL when absent. */
ll_layer_version_t *ll_layer_find(ll_engine_t *e, const char *name, int version);
/* Parses a layer version ARN (arn:aws:lambda:r:a:layer:name:N) and finds it. */
ll_layer_version_t *ll_layer_find_arn(ll_engine_t *e, const char *arn);
/* Every version of every layer (or of `name` when non-NULL), newest version first. */
size_t ll_layer_list(ll_engine_t *e, const char *name, ll_layer_version_t ***out);
int ll_layer_delete(ll_engine_t *e, const char *name, int version);

/* ---- invocations ----------------------------------------------------------------------- */

enum ll_invoke_status {
  LL_INVOKE_OK,             /* body = the function's response */
  LL_INVOKE_FUNCTION_ERROR, /* body = the error JSON (X-Amz-Function-Error: Unhandled) */
  LL_INVOKE_GONE,           /* the function was deleted while the invocation waited */
  LL_INVOKE_THROTTLED,      /* it waited too long for memory to start an instance in (429) */
};

typedef struct ll_invoke_result {
  enum ll_invoke_status status;
  const char *body;           /* borrowed for the callback's duration */
  size_t len;
  const char *content_type;   /* of the response, "application/json" by default */
  const char *request_id;
  const char *log_tail;       /* last LL_LOG_TAIL_MAX bytes of the log, when asked for */
  size_t log_tail_len;
} ll_invoke_result_t;

typedef void (*ll_invoke_cb)(void *ud, const ll_invoke_result_t *res);

typedef struct ll_invoke_opts {
  bool want_log_tail;
  bool async;                 /* Event: no caller waits; cb may be NULL */
  const char *invoked_arn;    /* the ARN the caller used (qualified); NULL = the function's */
  const char *trace_header;   /* caller's X-Amzn-Trace-Id, or NULL */
  const char *client_context; /* decoded JSON, or NULL */
  const char *content_type;   /* of the payload; NULL = application/json */
} ll_invoke_opts_t;

/* Starts an invocation of fn with payload (owned, freed by the engine). Fills request_id
 * (the id the caller sees as x-amzn-RequestId) and calls cb exactly once on completion.
 * A synchronous invocation beyond the function's reserved concurrency or the account's
 * unreserved pool is refused at once: -1 with err LL_E_THROTTLED_* (cb not called). Async
 * events are never throttled here: they wait their turn. */
int ll_invoke(ll_engine_t *e, ll_function_t *fn, char *payload, size_t len,
              const ll_invoke_opts_t *opts, ll_invoke_cb cb, void *ud, char request_id[37],
              ll_err_t *err);

/* Queues an Event invocation durably (it survives kill -9) and returns once it is written;
 * it runs when fn has concurrency to spare, with AWS's retries, event age limit and
 * destinations (the function's EventInvokeConfig). Fills request_id. */
int ll_invoke_async(ll_engine_t *e, ll_function_t *fn, const char *payload, size_t len,
                    const char *trace_header, char request_id[37], ll_err_t *err);
/* Events waiting or running. */
size_t ll_engine_async_queued(ll_engine_t *e);
/* Destinations that are not functions (a Kinesis stream ARN): the module that owns them sends
 * the invocation record there (key: the event's request id, a stream's partition key). With
 * payload NULL the call only checks that arn names one (0, or -1 with err saying why not).
 * Set once by the daemon; NULL: functions only. */
typedef int (*ll_destination_fn)(void *ud, const char *arn, const char *key, const char *payload,
                                 size_t len, ll_err_t *err);
void ll_engine_set_destination(ll_engine_t *e, ll_destination_fn fn, void *ud);
/* Sets (cfg, validated: MaximumRetryAttempts 0-2, MaximumEventAgeInSeconds 60-21600,
 * DestinationConfig with function ARNs, or streams through ll_engine_set_destination) or, with cfg NULL, deletes the function's
 * EventInvokeConfig; merge adds cfg's fields to the existing ones. */
int ll_function_set_event_invoke_config(ll_engine_t *e, const char *name, json_t *cfg, bool merge,
                                        ll_err_t *err);

/* ---- the Runtime API, from the engine's side (api/runtime.c calls these) ---------------- */

typedef struct ll_invocation_view {
  const char *request_id;
  int64_t deadline_ms;
  const char *invoked_arn;
  const char *trace_id;
  const char *client_context; /* or NULL */
  const char *payload;
  size_t len;
  const char *content_type;
} ll_invocation_view_t;

/* Whether a connection from host uid `uid` may use the instance's Runtime API: its own
 * processes only. A plain process runs as the daemon's user: anyone local may then. While the
 * sandbox is still being made (its program may already be connecting) any sandbox uid that
 * belongs to no other live instance may. */
bool ll_instance_peer_allowed(ll_engine_t *e, const ll_instance_t *inst, uid_t uid);
ll_engine_t *ll_instance_engine(const ll_instance_t *inst);

/* The runtime asks for its next event. deliver(w, view) fires once, now or when an event is
 * assigned; the view is valid during the call only. */
void ll_instance_next(ll_instance_t *inst, void (*deliver)(void *w, const ll_invocation_view_t *v),
                      void *w);
/* The parked /next went away (connection closed) before an event came. */
void ll_instance_next_cancel(ll_instance_t *inst, void *w);

enum ll_rt_status {
  LL_RT_ACCEPTED,       /* 202 */
  LL_RT_INVALID_ID,     /* 400 InvalidRequestID */
  LL_RT_INVALID_STATE,  /* 403 InvalidStateTransition */
  LL_RT_TOO_LARGE,      /* 413 RequestEntityTooLarge (the caller gets Function.ResponseSizeTooLarge) */
};
/* A result for request_id: body (borrowed, copied) of len bytes; too_large when the body was
 * over LL_RESPONSE_MAX and dropped. */
enum ll_rt_status ll_instance_response(ll_instance_t *inst, const char *request_id,
                                       const char *body, size_t len, const char *content_type,
                                       bool too_large);
/* A function error for request_id; error_type from Lambda-Runtime-Function-Error-Type or NULL. */
enum ll_rt_status ll_instance_error(ll_instance_t *inst, const char *request_id, const char *body,
                                    size_t len, const char *error_type);
/* The runtime failed to initialize. */
enum ll_rt_status ll_instance_init_error(ll_instance_t *inst, const char *body, size_t len,
                                         const char *error_type);

#endif

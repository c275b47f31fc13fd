/* liblambdalite-runtime: write AWS-Lambda-style functions in C.
 *
 * A function is an executable named `bootstrap` whose main() calls ll_runtime_main() with a
 * handler. The runtime talks to the platform over the Lambda Runtime API (HTTP/1.1, version
 * 2018-06-01) at $AWS_LAMBDA_RUNTIME_API: it fetches an event (GET /runtime/invocation/next),
 * calls the handler, posts the result (POST .../{id}/response or .../{id}/error) and loops.
 *
 *   static int handle(const ll_invocation *in, ll_response *out) {
 *     return ll_response_set(out, in->payload, in->payload_len);
 *   }
 *   int main(void) { return ll_runtime_main(handle) ? 1 : 0; }
 *
 * Errors: every function returns 0 on success or a negative errno value. Allocation failure
 * aborts the process. The library is single-threaded: call it from one thread only.
 * Link: liblambdalite-runtime.a; nothing else but libc (no libcurl: the HTTP client is built in).
 */
#ifndef LAMBDALITE_RUNTIME_H
#define LAMBDALITE_RUNTIME_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One invocation, as delivered by /next. Every pointer is owned by the runtime and valid only
 * until the handler returns; copy what must outlive it. */
typedef struct ll_invocation {
  const char *request_id;       /* Lambda-Runtime-Aws-Request-Id; never NULL */
  const char *function_arn;     /* Lambda-Runtime-Invoked-Function-Arn; "" when absent */
  const char *trace_id;         /* Lambda-Runtime-Trace-Id, or NULL; also in $_X_AMZN_TRACE_ID */
  const char *client_context;   /* Lambda-Runtime-Client-Context JSON, or NULL */
  const char *cognito_identity; /* Lambda-Runtime-Cognito-Identity JSON, or NULL */
  long long deadline_ms;        /* Lambda-Runtime-Deadline-Ms (Unix epoch milliseconds) */
  const char *payload;          /* the event bytes, NUL-terminated too (payload[payload_len]) */
  size_t payload_len;
} ll_invocation;

/* The handler's result: response bytes, or a function error. Owned by the runtime, reused
 * between invocations, emptied before each handler call. */
typedef struct ll_response ll_response;

/* Replaces the response body with a copy of data[0..len). Returns 0, or -EINVAL if out is NULL
 * (or data is NULL with len > 0), or -EALREADY after ll_response_error(). */
int ll_response_set(ll_response *out, const void *data, size_t len);

/* Appends printf-formatted text to the response body. Returns 0, -EINVAL, or -EALREADY after
 * ll_response_error(). */
int ll_response_printf(ll_response *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends s[0..len) as a quoted JSON string: `"`, `\` and control characters are escaped and
 * invalid UTF-8 becomes U+FFFD, so the result is always valid JSON. Same returns as above. */
int ll_response_json_string(ll_response *out, const char *s, size_t len);

/* Marks the invocation failed, whatever the handler returns: the runtime posts
 * {"errorMessage":..,"errorType":..,"stackTrace":[]} to /error, with header
 * Lambda-Runtime-Function-Error-Type: error_type. Replaces any body set so far; a later call
 * replaces the error. NULL error_type means "Runtime.HandlerError", NULL message "". The strings
 * are copied. Returns 0, or -EINVAL if out is NULL. */
int ll_response_error(ll_response *out, const char *error_type, const char *error_message);

/* Milliseconds left before the invocation's deadline (negative once it has passed). */
long long ll_remaining_ms(const ll_invocation *in);

/* Called once per invocation. Return 0 for success (the body is posted to /response), or
 * non-zero for failure: the error set with ll_response_error() is posted, or, if none was set,
 * errorType "Runtime.HandlerError". Before the result is posted the runtime flushes stdout. */
typedef int (*ll_handler)(const ll_invocation *in, ll_response *out);

/* Runs the invocation loop: GET /next -> handler -> POST /response or /error, forever, over
 * one keep-alive connection (reopened, and the request resent once, if the platform closed it
 * while idle). Never returns while the Runtime API works. Returns -EINVAL if
 * AWS_LAMBDA_RUNTIME_API is unset or not host:port, -EIO if its host does not resolve, or -EIO /
 * -EPROTO after an unrecoverable Runtime API failure: /next failed 3 times in a row (transport
 * error, malformed answer, or a status other than 200), a result could not be sent, or a post
 * was answered 500. Other non-202 answers to a post (400, 403, 413) are logged to stderr and the
 * loop goes on. The caller should exit non-zero. */
int ll_runtime_main(ll_handler handler);

/* Reports a failed initialisation: posts the error JSON (as for ll_response_error) to
 * /runtime/init/error. Call it before ll_runtime_main(), then exit non-zero. Returns 0 when the
 * platform answered 202, -EINVAL without a usable AWS_LAMBDA_RUNTIME_API, -EIO or -EPROTO
 * otherwise. */
int ll_runtime_init_error(const char *error_type, const char *error_message);

/* Writes data (len bytes, in one PUT) as bucket/key through the daemon's S3 API with the
 * function's credentials. 0, or -1 with err ("PUT answered 403 AccessDenied"). */
int ll_s3_put(const char *bucket, const char *key, const void *data, size_t len, char *err,
              size_t errsz);

/* Calls the daemon's JSON APIs with the function's credentials (AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION) at AWS_ENDPOINT_URL: POSTs body (len
 * bytes of JSON) with X-Amz-Target target ("Kinesis_20131202.PutRecords",
 * "DynamoDB_20120810.BatchWriteItem"), signed with SigV4 for service ("kinesis", "dynamodb").
 * Returns the HTTP status (200: success; else *out holds the AWS error JSON) with *out the
 * answer's body (malloc'ed, NUL-terminated; the caller frees it) and *out_len, or -1 with err
 * when the daemon could not be reached. One connection is kept and reused between calls. */
int ll_aws_json(const char *service, const char *target, const char *body, size_t len, char **out,
                size_t *out_len, char *err, size_t errsz);

#ifdef __cplusplus
}
#endif

/* ---- S3: streaming reads of objects ------------------------------------------------------ */

/* Called with each piece of the object as it arrives (len > 0); returns 0 to go on, anything
 * else to stop (ll_s3_get_stream then returns that value). */
typedef int (*ll_s3_data_fn)(void *ud, const char *data, size_t len);

/* Streams the object bucket/key from the S3 endpoint the platform gives functions
 * (AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL; plain http://), signed with SigV4 with the
 * function's credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) for
 * AWS_REGION: on_data sees it in pieces of at most 64 KiB, so an object of any size is read in
 * constant memory. Returns 0 once the whole object was delivered, a callback's non-zero value,
 * or -1 with a message in err (errsz bytes): the status and S3's error code ("GET answered 404
 * NoSuchKey"), or what failed on the way. Blocking; one connection per call. */
int ll_s3_get_stream(const char *bucket, const char *key, ll_s3_data_fn on_data, void *ud,
                     char *err, size_t errsz);

#endif

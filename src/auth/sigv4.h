/* AWS Signature Version 4: signing (CLI, benchmarks) and verification (daemon) of the
 * Authorization header and of presigned URLs, and the signatures of aws-chunked payloads
 * (src/api/awschunked.c), written here on purpose (ARCHITECTURE.md) and checked against AWS's
 * published test vectors (tests/unit/test_sigv4.c) and fuzzed (tests/fuzz/sigv4_auth.c).
 *
 * Canonical request rules (../shared/reference/aws-wire-contract.md §8.4): the canonical URI is
 * the wire path encoded once more after removing dot segments and collapsing '/' runs for every
 * service except "s3", which uses the wire path as is; the canonical query sorts the
 * re-encoded pairs; only the headers named in SignedHeaders take part; the payload hash is the
 * caller's (hex SHA-256 of the body, or a literal such as UNSIGNED-PAYLOAD). */
#ifndef LL_AUTH_SIGV4_H
#define LL_AUTH_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "core/kv.h"

/* The request as it arrived (or as it will be sent). Byte ranges need not be NUL-terminated. */
typedef struct ll_sigv4_request {
  const char *method;
  const char *path; size_t path_len;   /* raw wire path without '?query' ("/" when empty) */
  const char *query; size_t query_len; /* raw query string without '?', may be empty */
  const ll_kv_t *headers; size_t nheaders;
  const char *payload_hash;            /* 64 hex chars or a literal (UNSIGNED-PAYLOAD, ...) */
} ll_sigv4_request_t;

/* What verification learned, and why it failed. */
typedef struct ll_sigv4_result {
  char access_key[129];
  char region[64];
  char service[64];
  char signature[65];   /* the client's signature (seed for aws-chunked payload signatures) */
  char amz_date[17];    /* yyyymmddTHHMMSSZ */
  /* On failure: the HTTP status (403, or 400 for a malformed header), the AWS error code for
   * JSON/REST-JSON services and the one S3 uses, and a message naming what was wrong. */
  int status;
  const char *code;     /* "MissingAuthenticationTokenException", "InvalidSignatureException",
                           "UnrecognizedClientException", "IncompleteSignatureException" */
  const char *s3_code;  /* "AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId",
                           "AuthorizationHeaderMalformed", "RequestTimeTooSkewed" */
  char message[512];
} ll_sigv4_result_t;

/* Looks up the secret for an access key; returns the NUL-terminated secret or NULL when the key
 * is unknown. The string must stay valid until ll_sigv4_verify returns. */
typedef const char *(*ll_sigv4_secret_fn)(void *ud, const char *access_key);

/* Verifies the Authorization header (AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
 * Signature=...) of req at wall time `now`, allowing `max_skew_s` seconds of clock skew against
 * X-Amz-Date (or Date). Returns 0 when the signature is valid; otherwise -1 with res->status,
 * res->code, res->s3_code and res->message set. res->access_key/region/service are filled as far
 * as the header could be parsed. Constant-time signature comparison. */
int ll_sigv4_verify(const ll_sigv4_request_t *req, ll_sigv4_secret_fn secret_fn, void *ud,
                    time_t now, int max_skew_s, ll_sigv4_result_t *res);

/* Verifies a presigned URL (query-string authentication): req->query carries
 * X-Amz-Algorithm=AWS4-HMAC-SHA256, X-Amz-Credential (percent-encoded: AKID%2F20130524%2F...),
 * X-Amz-Date, X-Amz-Expires (seconds, at most 604800), X-Amz-SignedHeaders, X-Amz-Signature
 * and perhaps X-Amz-Security-Token (signed like any other parameter); the first of each name
 * counts. The canonical request is built as for header auth (the canonical query leaves
 * X-Amz-Signature out) with req->payload_hash: the caller passes "UNSIGNED-PAYLOAD" unless the
 * query carries X-Amz-Content-Sha256. The URL is valid from 15 minutes before X-Amz-Date until
 * X-Amz-Expires seconds after it.
 *
 * Returns 0 when valid, with res filled as by ll_sigv4_verify; otherwise -1 with res->status,
 * code, s3_code and message, checked in this order:
 *   400 AuthorizationQueryParametersError  a parameter is missing (the message names which),
 *       X-Amz-Algorithm is not AWS4-HMAC-SHA256, X-Amz-Expires is not a number, negative or
 *       over a week, X-Amz-Credential or X-Amz-Date is malformed, or the two dates differ
 *       (code IncompleteSignatureException)
 *   403 InvalidAccessKeyId                 unknown key (UnrecognizedClientException)
 *   403 AccessDenied "Request is not valid yet" / "Request has expired"
 *                                          (InvalidSignatureException)
 *   403 SignatureDoesNotMatch              host not signed, a signed header absent, or the
 *                                          signature differs (InvalidSignatureException) */
int ll_sigv4_verify_query(const ll_sigv4_request_t *req, ll_sigv4_secret_fn secret_fn, void *ud,
                          time_t now, ll_sigv4_result_t *res);

/* Signs req: computes the Authorization header value for the given credentials, region and
 * service, with SignedHeaders = every header in req->headers (names lower-cased and sorted; the
 * caller includes host and x-amz-date, and must not include headers a proxy may change).
 * amz_date is "yyyymmddTHHMMSSZ". Writes the value into out (NUL-terminated); returns 0, or -1
 * if out_sz is too small. */
int ll_sigv4_sign(const ll_sigv4_request_t *req, const char *access_key, const char *secret,
                  const char *region, const char *service, const char *amz_date, char *out,
                  size_t out_sz);

/* Formats `t` as yyyymmddTHHMMSSZ into out[17]. */
void ll_sigv4_amz_date(time_t t, char out[17]);

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date8), region), service), "aws4_request")
 * into out: the key every signature of a request's scope is made with (remembered per thread,
 * so asking again for the same scope is cheap). date8 is yyyymmdd, not NUL-terminated. */
void ll_sigv4_signing_key(const char *secret, const char date8[8], const char *region,
                          const char *service, unsigned char out[32]);

/* aws-chunked payload signatures (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER], see
 * https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html). key is the signing
 * key of the request's scope; amz_date its X-Amz-Date (16 characters, no NUL needed); scope is
 * "yyyymmdd/region/s3/aws4_request"; prev_sig the previous signature in lower-case hex (the
 * request's own Authorization signature for the first chunk, then each chunk's). out receives
 * the lower-case hex signature, NUL-terminated.
 *
 * A chunk's: StringToSign = "AWS4-HMAC-SHA256-PAYLOAD\n" amz_date "\n" scope "\n" prev_sig "\n"
 * hex(SHA-256("")) "\n" hex(chunk_sha256), chunk_sha256 being the SHA-256 of the chunk's data
 * (of nothing for the final 0-size chunk). */
void ll_sigv4_chunk_signature(const unsigned char key[32], const char amz_date[16],
                              const char *scope, const char prev_sig[64],
                              const unsigned char chunk_sha256[32], char out[65]);
/* The trailer's (x-amz-trailer-signature): StringToSign = "AWS4-HMAC-SHA256-TRAILER\n" amz_date
 * "\n" scope "\n" prev_sig "\n" hex(trailer_sha256), prev_sig being the final chunk's signature
 * and trailer_sha256 the SHA-256 of the trailing header lines each as "name:value\n". */
void ll_sigv4_trailer_signature(const unsigned char key[32], const char amz_date[16],
                                const char *scope, const char prev_sig[64],
                                const unsigned char trailer_sha256[32], char out[65]);

#endif

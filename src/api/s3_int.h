/* The S3 API's private parts, shared by s3.c (routing, authentication, errors, buckets,
 * listings, notification configuration, DeleteObjects) and s3_object.c (objects and multipart
 * uploads: bodies streamed to and from the store). */
#ifndef LL_API_S3_INT_H
#define LL_API_S3_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/md5.h> /* deprecated in OpenSSL 3: includers define OPENSSL_SUPPRESS_DEPRECATED */
#include <openssl/sha.h>

#include "api/api.h"
#include "api/awschunked.h"
#include "core/buf.h"
#include "core/checksum.h"
#include "objstore/store.h"

#define LL_S3_PUT_MAX (5ull << 30)   /* PutObject and UploadPart: 5 GB */
#define LL_S3_SMALL_BODY (4u << 20)  /* bodies of the other operations (XML documents) */

/* What the dispatcher learned of a request: its bucket and key (virtual-host or path style),
 * who signed it and how its payload is protected. Lives in req->app (one block, freed with
 * req); region comes first, where ll_api_region looks. */
typedef struct ll_s3_req {
  char region[64];             /* of the signature's scope */
  char bucket[64];             /* "" for service-level requests (ListBuckets) */
  char key[LL_OS_KEY_MAX + 1]; /* decoded; "" for bucket-level requests */
  char access_key[129];
  char amz_date[17];
  char scope[128];             /* yyyymmdd/region/s3/aws4_request */
  char signature[65];          /* the request's own (seed of aws-chunked chunk signatures) */
  char payload_hash[80];       /* x-amz-content-sha256 as sent, "UNSIGNED-PAYLOAD" for URLs */
  char request_id[17];
  bool presigned;
} ll_s3_req_t;

static inline ll_s3_req_t *ll__s3(ll_http_req_t *req) { return req->app; }
static inline ll_api_ctx_t *ll__s3_ctx(ll_http_req_t *req) { return req->listener_data; }

/* Answers with S3's XML error: <Error><Code>code</Code><Message>...</Message> plus the bucket
 * or key when the request names one, <RequestId>, and x-amz-request-id. */
void ll__s3_error(ll_http_req_t *req, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Maps a store error (LL_OS_*) to S3's error and answers with it. */
void ll__s3_store_error(ll_http_req_t *req, const ll_err_t *err);
/* Answers 200 with an XML document (body taken from b, left empty), plus extra headers. */
void ll__s3_xml(ll_http_req_t *req, ll_buf_t *b, const char *headers);
/* Starts an XML answer: the declaration and the root's opening tag with S3's namespace. */
void ll__s3_xml_open(ll_buf_t *b, const char *root);
/* Appends the common response headers (x-amz-request-id, x-amz-id-2) to h. */
void ll__s3_ids(ll_http_req_t *req, ll_buf_t *h);
/* ISO 8601 with milliseconds ("2026-12-03T17:10:56.000Z") and RFC 1123 (Last-Modified). */
void ll__s3_iso_time(int64_t ms, char out[32]);
void ll__s3_http_time(int64_t ms, char out[40]);

/* The request's body, whole, for the operations whose bodies are small XML documents:
 * reads it (decoding aws-chunked, checking x-amz-content-sha256) and calls done with it, or
 * answers the error itself (too large, digest mismatch, client gone: done is not called). */
typedef void (*ll__s3_body_fn)(ll_http_req_t *req, ll_buf_t *body);
void ll__s3_read_small_body(ll_http_req_t *req, ll__s3_body_fn done);

/* A request body on its way in: aws-chunked decoding (when the payload hash says STREAMING-*),
 * the declared length, and what the client said the bytes must hash to — x-amz-content-sha256,
 * Content-MD5, an x-amz-checksum-* header or trailer. feed decodes and hands the data to a
 * sink; hash must see every byte the sink got (the caller may do it on a worker); verify, at
 * the end, answers the error when something does not match. */
typedef struct ll__s3_intake {
  bool chunked, done, failed;
  ll_awschunked_t dec;
  uint64_t decoded_length;     /* UINT64_MAX when unknown (chunked without a declared length) */
  uint64_t decoded;
  bool sha_payload;            /* x-amz-content-sha256 is a digest to check */
  SHA256_CTX sha;
  bool has_md5;                /* Content-MD5 to check */
  bool md5_given;              /* the caller hands verify the body's MD5 (no hashing here) */
  uint8_t md5_want[16];
  MD5_CTX md5;
  ll_ck_alg_t ck_alg;          /* LL_CK_NONE when the client sent no checksum */
  bool ck_in_trailer;
  ll_checksum_t ck;
  char ck_want[LL_CK_B64_MAX], ck_got[LL_CK_B64_MAX];
  int status;                  /* failed: the status, S3's error code and message */
  const char *code;
  char msg[256];
} ll__s3_intake_t;
/* -1 when the headers are wrong (answered). */
int ll__s3_intake_init(ll_http_req_t *req, ll__s3_intake_t *in);
/* -1 (and in->failed, code, msg) when the body is malformed. */
int ll__s3_intake_feed(ll__s3_intake_t *in, const char *p, size_t len,
                       void (*sink)(void *ud, const char *p, size_t len), void *ud);
void ll__s3_intake_hash(ll__s3_intake_t *in, const void *p, size_t len);
/* -1 when answered. md5: the body's MD5 when in->md5_given, else NULL. */
int ll__s3_intake_verify(ll_http_req_t *req, ll__s3_intake_t *in, const uint8_t *md5);

/* s3_object.c: the object operations, each answering req. */
void ll__s3_put_object(ll_http_req_t *req);     /* PutObject, UploadPart, CopyObject */
void ll__s3_get_object(ll_http_req_t *req);     /* GetObject, HeadObject */
void ll__s3_delete_object(ll_http_req_t *req);  /* DeleteObject, AbortMultipartUpload */
void ll__s3_post_object(ll_http_req_t *req);    /* CreateMultipartUpload, CompleteMultipartUpload */
void ll__s3_list_parts(ll_http_req_t *req);     /* ListParts (GET ?uploadId) */
void ll__s3_list_uploads(ll_http_req_t *req);   /* ListMultipartUploads (GET bucket?uploads) */

/* Fires the bucket's notifications for an object event (after the change is durable; before
 * the client hears of it). */
void ll__s3_notify(ll_api_ctx_t *ctx, const ll_s3_req_t *s, const char *remote,
                   const char *event, const char *key, uint64_t size, const char *etag,
                   uint64_t seq);

/* The value of a query parameter (decoded, heap) or NULL; whether the query has key at all
 * (with or without a value: "?uploads", "?delete"). */
char *ll__s3_query(ll_http_req_t *req, const char *key);
bool ll__s3_has_query(ll_http_req_t *req, const char *key);
/* A header's value as a NUL-terminated heap copy, or NULL. */
char *ll__s3_header(ll_http_req_t *req, const char *name);

#endif

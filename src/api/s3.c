/* S3's REST/XML API, the part that is not object bytes (s3_object.c has those): telling S3
 * requests from the other services' on the same port, virtual-host and path addressing, SigV4
 * in header and query (presigned) form, S3's XML errors, buckets, listings, notification
 * configurations and DeleteObjects.
 *
 * Every S3 route streams its body (stream_body): the object operations pipe it to the store,
 * the others read their small XML document through ll__s3_read_small_body. */
/* Before any OpenSSL header: the request intake (s3_int.h) uses SHA256_* and MD5_*. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/awschunked.h"
#include "api/s3_int.h"
#include "api/xml.h"
#include "auth/sigv2.h"
#include "auth/sigv4.h"
#include "core/checksum.h"
#include "core/clock.h"
#include "core/encoding.h"
#include "core/mem.h"
#include "core/random.h"
#include "objstore/notify.h"

#define S3_NS "http://s3.amazonaws.com/doc/2006-03-01/"
#define MAX_SKEW_S (15 * 60)

/* ---- telling S3 requests apart ------------------------------------------------------------- */

/* The Host header without its port, into out; "" when absent. */
static void host_name(const ll_http_head_t *h, char *out, size_t sz) {
  const ll_kv_t *host = ll_http_header(h, "host");
  size_t n = host ? host->value_len : 0;
  const char *v = host ? host->value : "";
  if (n && v[0] != '[') {
    const char *colon = memchr(v, ':', n);
    if (colon) n = (size_t)(colon - v);
  }
  if (n >= sz) n = 0;
  for (size_t i = 0; i < n; i++) out[i] = (char)(v[i] >= 'A' && v[i] <= 'Z' ? v[i] + 32 : v[i]);
  out[n] = '\0';
}

/* The bucket a virtual-hosted request names in its Host: "b.s3.localhost", "b.localhost",
 * "b.s3.us-east-1.amazonaws.com", "b.s3.amazonaws.com". False for path style (an address,
 * "localhost", any other name). */
static bool host_bucket(const ll_http_head_t *h, char bucket[64]) {
  char host[256];
  host_name(h, host, sizeof host);
  const char *cut = strstr(host, ".s3.");
  if (!cut) cut = strstr(host, ".s3-");
  size_t n = strlen(host);
  if (!cut && n > 10 && strcmp(host + n - 10, ".localhost") == 0) cut = host + n - 10;
  if (!cut || cut == host || (size_t)(cut - host) >= 64) return false;
  memcpy(bucket, host, (size_t)(cut - host));
  bucket[cut - host] = '\0';
  return true;
}

/* S3's requests are the ones signed for the "s3" service (header or query) or addressed to a
 * bucket's virtual host; everything else on the port is Lambda's, Kinesis's, Logs'. */
static bool s3_accept(const ll_http_head_t *h) {
  const ll_kv_t *auth = ll_http_header(h, "authorization");
  if (auth) return memmem(auth->value, auth->value_len, "/s3/aws4_request", 16) != NULL;
  if (strstr(h->query, "X-Amz-Credential=")) return strcasestr(h->query, "%2Fs3%2Faws4_request") != NULL;
  if (ll_sigv2_is_query_auth(h->query)) return true; /* only S3 has SigV2 presigned URLs */
  char b[64];
  return host_bucket(h, b);
}

/* ---- small helpers ------------------------------------------------------------------------- */

char *ll__s3_header(ll_http_req_t *req, const char *name) {
  const ll_kv_t *h = req->head ? ll_http_header(req->head, name) : NULL;
  if (!h) return NULL;
  char *v = ll_malloc(h->value_len + 1);
  memcpy(v, h->value, h->value_len);
  v[h->value_len] = '\0';
  return v;
}

/* The raw value of key in the query (not decoded) and its length; NULL when absent. A key with
 * no '=' has an empty value. */
static const char *query_raw(const char *q, const char *key, size_t *len) {
  size_t kl = strlen(key);
  while (q && *q) {
    size_t n = strcspn(q, "&");
    if (n >= kl && strncmp(q, key, kl) == 0 && (n == kl || q[kl] == '=')) {
      *len = n == kl ? 0 : n - kl - 1;
      return n == kl ? q + n : q + kl + 1;
    }
    q += n;
    if (*q == '&') q++;
  }
  return NULL;
}

bool ll__s3_has_query(ll_http_req_t *req, const char *key) {
  size_t n;
  return query_raw(req->head->query, key, &n) != NULL;
}

/* Query values may use '+' for spaces (form encoding, which some clients send). */
char *ll__s3_query(ll_http_req_t *req, const char *key) {
  size_t n;
  const char *v = query_raw(req->head->query, key, &n);
  if (!v) return NULL;
  char *copy = ll_malloc(n + 1);
  for (size_t i = 0; i < n; i++) copy[i] = v[i] == '+' ? ' ' : v[i];
  char *out = ll_http_pct_decode(copy, n);
  free(copy);
  return out ? out : ll_strdup("");
}

void ll__s3_iso_time(int64_t ms, char out[32]) { ll_format_iso_ms(ms, out, 32); }

void ll__s3_http_time(int64_t ms, char out[40]) { ll_format_http_date((time_t)(ms / 1000), out, 40); }

void ll__s3_ids(ll_http_req_t *req, ll_buf_t *h) {
  ll_s3_req_t *s = ll__s3(req);
  ll_buf_cat(h, "x-amz-request-id: ", s->request_id, "\r\nx-amz-id-2: ", s->request_id, "\r\n",
             NULL);
}

void ll__s3_xml_open(ll_buf_t *b, const char *root) {
  ll_buf_cat(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<", root, " xmlns=\"" S3_NS "\">",
             NULL);
}

void ll__s3_xml(ll_http_req_t *req, ll_buf_t *b, const char *headers) {
  ll_buf_t h = LL_BUF_INIT;
  ll_buf_puts(&h, "Content-Type: application/xml\r\n");
  ll__s3_ids(req, &h);
  if (headers) ll_buf_puts(&h, headers);
  size_t len;
  char *body = ll_buf_steal(b, &len);
  ll_http_respond(req, 200, h.data, body ? body : ll_strdup(""), body ? len : 0);
  ll_buf_free(&h);
}

void ll__s3_error(ll_http_req_t *req, int status, const char *code, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  ll_s3_req_t *s = ll__s3(req);
  ll_buf_t b = LL_BUF_INIT;
  ll_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>");
  ll_xml_put_elem(&b, "Code", code);
  ll_xml_put_elem(&b, "Message", msg);
  if (s->key[0] && strcmp(code, "NoSuchKey") == 0) ll_xml_put_elem(&b, "Key", s->key);
  if (s->bucket[0] && (strncmp(code, "NoSuchBucket", 12) == 0 || strncmp(code, "Bucket", 6) == 0))
    ll_xml_put_elem(&b, "BucketName", s->bucket);
  if (strcmp(code, "NoSuchUpload") == 0) {
    char *id = req->head ? ll__s3_query(req, "uploadId") : NULL;
    if (id) ll_xml_put_elem(&b, "UploadId", id);
    free(id);
  }
  ll_xml_put_elem(&b, "RequestId", s->request_id);
  ll_xml_put_elem(&b, "HostId", s->request_id);
  ll_buf_puts(&b, "</Error>");
  ll_buf_t h = LL_BUF_INIT;
  ll_buf_puts(&h, "Content-Type: application/xml\r\n");
  ll__s3_ids(req, &h);
  size_t len;
  char *body = ll_buf_steal(&b, &len);
  ll_http_respond(req, status, h.data, body, len);
  ll_buf_free(&h);
}

void ll__s3_store_error(ll_http_req_t *req, const ll_err_t *err) {
  switch (err->code) {
    case LL_OS_NO_BUCKET:
      ll__s3_error(req, 404, "NoSuchBucket", "The specified bucket does not exist");
      return;
    case LL_OS_NO_KEY:
      ll__s3_error(req, 404, "NoSuchKey", "The specified key does not exist.");
      return;
    case LL_OS_EXISTS:
      ll__s3_error(req, 409, "BucketAlreadyOwnedByYou", "%s", err->msg);
      return;
    case LL_OS_NOT_EMPTY:
      ll__s3_error(req, 409, "BucketNotEmpty", "%s", err->msg);
      return;
    case LL_OS_NO_UPLOAD:
      ll__s3_error(req, 404, "NoSuchUpload",
                   "The specified upload does not exist. The upload ID may be invalid, or the "
                   "upload may have been aborted or completed.");
      return;
    case LL_OS_INVALID_PART: ll__s3_error(req, 400, "InvalidPart", "%s", err->msg); return;
    case LL_OS_PART_ORDER: ll__s3_error(req, 400, "InvalidPartOrder", "%s", err->msg); return;
    case LL_OS_TOO_SMALL: ll__s3_error(req, 400, "EntityTooSmall", "%s", err->msg); return;
    case LL_OS_INVALID:
      if (strstr(err->msg, "bucket name"))
        ll__s3_error(req, 400, "InvalidBucketName", "%s", err->msg);
      else if (strstr(err->msg, "too long"))
        ll__s3_error(req, 400, "KeyTooLongError", "%s", err->msg);
      else
        ll__s3_error(req, 400, "InvalidArgument", "%s", err->msg);
      return;
    default:
      ll__s3_error(req, 500, "InternalError", "We encountered an internal error: %s", err->msg);
  }
}

/* ---- authentication ------------------------------------------------------------------------ */

static const char *secret_of(void *ud, const char *access_key) { return ll_api_secret(ud, access_key); }

static bool is_hex64(const char *s) {
  size_t n = strlen(s);
  if (n != 64) return false;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
  return true;
}

/* The payload hashes S3 takes in x-amz-content-sha256 besides a hex digest. */
static const char *const payload_literals[] = {
    "UNSIGNED-PAYLOAD",
    "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
    NULL,
};

/* Verifies the request's signature (header or query form); fills the ll_s3_req_t. On failure
 * answers with S3's error and returns -1. */
static int s3_authenticate(ll_http_req_t *req) {
  ll_s3_req_t *s = ll__s3(req);
  ll_api_ctx_t *ctx = ll__s3_ctx(req);
  const ll_http_head_t *h = req->head;
  bool query_auth = strstr(h->query, "X-Amz-Credential=") || strstr(h->query, "X-Amz-Algorithm=");
  bool v2 = !query_auth && ll_sigv2_is_query_auth(h->query);
  const ll_kv_t *auth = ll_http_header(h, "authorization");
  if (!auth && !query_auth && !v2) {
    ll__s3_error(req, 403, "AccessDenied",
                 "Access Denied: anonymous requests are not served; sign the request (SigV4) or "
                 "use a presigned URL");
    return -1;
  }
  if (v2) {
    snprintf(s->payload_hash, sizeof s->payload_hash, "UNSIGNED-PAYLOAD");
    s->presigned = true;
  } else if (query_auth) {
    size_t n;
    const char *v = query_raw(h->query, "X-Amz-Content-Sha256", &n);
    snprintf(s->payload_hash, sizeof s->payload_hash, "%.*s", v ? (int)n : 16,
             v ? v : "UNSIGNED-PAYLOAD");
    s->presigned = true;
  } else {
    const ll_kv_t *ph = ll_http_header(h, "x-amz-content-sha256");
    if (!ph) {
      ll__s3_error(req, 400, "InvalidRequest",
                   "Missing required header for this request: x-amz-content-sha256");
      return -1;
    }
    snprintf(s->payload_hash, sizeof s->payload_hash, "%.*s",
             ph->value_len < sizeof s->payload_hash ? (int)ph->value_len : 0, ph->value);
    bool known = is_hex64(s->payload_hash);
    for (const char *const *l = payload_literals; !known && *l; l++)
      known = strcmp(s->payload_hash, *l) == 0;
    if (!known) {
      if (strncmp(s->payload_hash, "STREAMING-AWS4-ECDSA", 20) == 0)
        ll__s3_error(req, 501, "NotImplemented",
                     "SigV4a (%s) is not supported here; sign with SigV4 (AWS4-HMAC-SHA256)",
                     s->payload_hash);
      else
        ll__s3_error(req, 400, "InvalidArgument",
                     "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
                     "STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, "
                     "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.");
      return -1;
    }
  }
  ll_sigv4_request_t sr;
  ll_api_sigv4_request(h, s->payload_hash, &sr);
  ll_sigv4_result_t res;
  int rc = v2           ? ll_sigv2_verify_query(&sr, secret_of, ctx, time(NULL), &res)
           : query_auth ? ll_sigv4_verify_query(&sr, secret_of, ctx, time(NULL), &res)
                        : ll_sigv4_verify(&sr, secret_of, ctx, time(NULL), MAX_SKEW_S, &res);
  if (rc < 0) {
    ll__s3_error(req, res.status ? res.status : 403, res.s3_code ? res.s3_code : "AccessDenied",
                 "%s", res.message);
    return -1;
  }
  snprintf(s->region, sizeof s->region, "%s",
           res.region[0] ? res.region : ll_engine_region(ctx->engine));
  snprintf(s->access_key, sizeof s->access_key, "%s", res.access_key);
  memcpy(s->amz_date, res.amz_date, sizeof s->amz_date);
  memcpy(s->signature, res.signature, sizeof s->signature);
  snprintf(s->scope, sizeof s->scope, "%.8s/%s/s3/aws4_request", res.amz_date, res.region);
  if (ll_api_token_problem(req, s->access_key) < 0) {
    ll__s3_error(req, 400, "InvalidToken", "The provided token is malformed or otherwise invalid.");
    return -1;
  }
  return 0;
}

/* The IAM action of a request (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html). */
static const char *s3_action(ll_http_req_t *req) {
  ll_s3_req_t *s = ll__s3(req);
  const char *m = req->head->method;
  bool get = !strcmp(m, "GET") || !strcmp(m, "HEAD"), put = !strcmp(m, "PUT"),
       del = !strcmp(m, "DELETE"), post = !strcmp(m, "POST");
  if (!s->bucket[0]) return "s3:ListAllMyBuckets";
  if (!s->key[0]) {
    if (ll__s3_has_query(req, "notification"))
      return get ? "s3:GetBucketNotification" : "s3:PutBucketNotification";
    if (ll__s3_has_query(req, "location")) return "s3:GetBucketLocation";
    if (ll__s3_has_query(req, "uploads")) return "s3:ListBucketMultipartUploads";
    if (post && ll__s3_has_query(req, "delete")) return "s3:DeleteObject";
    if (ll__s3_has_query(req, "policy"))
      return get ? "s3:GetBucketPolicy" : del ? "s3:DeleteBucketPolicy" : "s3:PutBucketPolicy";
    return get ? "s3:ListBucket" : put ? "s3:CreateBucket" : del ? "s3:DeleteBucket" : "s3:ListBucket";
  }
  if (ll__s3_has_query(req, "uploadId"))
    return get ? "s3:ListMultipartUploadParts" : del ? "s3:AbortMultipartUpload" : "s3:PutObject";
  return get ? "s3:GetObject" : del ? "s3:DeleteObject" : "s3:PutObject";
}

/* With a temporary credential: the action on the bucket or object (and s3:GetObject on a copy's
 * source); answers S3's AccessDenied when the role does not allow it. */
static int s3_authorized(ll_http_req_t *req) {
  ll_s3_req_t *s = ll__s3(req);
  ll_api_ctx_t *ctx = ll__s3_ctx(req);
  if (!ctx->creds || ll_engine_secret(ctx->engine, s->access_key)) return 0;
  const char *action = s3_action(req);
  bool object_level = s->key[0] || strcmp(action, "s3:DeleteObject") == 0;
  char res[LL_OS_KEY_MAX + 128], msg[2400];
  if (!s->bucket[0])
    snprintf(res, sizeof res, "*");
  else if (object_level)
    snprintf(res, sizeof res, "arn:aws:s3:::%s/%s", s->bucket, s->key[0] ? s->key : "*");
  else
    snprintf(res, sizeof res, "arn:aws:s3:::%s", s->bucket);
  int rc = ll_api_permitted(req, s->access_key, action, res, msg, sizeof msg);
  char *src = rc == 0 ? ll__s3_header(req, "x-amz-copy-source") : NULL;
  if (src) {
    char *dec = ll_http_pct_decode(src, strlen(src));
    const char *p = dec ? dec : src;
    if (*p == '/') p++;
    snprintf(res, sizeof res, "arn:aws:s3:::%.*s", (int)strcspn(p, "?"), p);
    rc = ll_api_permitted(req, s->access_key, "s3:GetObject", res, msg, sizeof msg);
    free(dec);
    free(src);
  }
  if (rc < 0) ll__s3_error(req, 403, "AccessDenied", "%s", msg);
  return rc;
}

/* ---- request bodies ------------------------------------------------------------------------ */

int ll__s3_intake_init(ll_http_req_t *req, ll__s3_intake_t *in) {
  ll_s3_req_t *s = ll__s3(req);
  memset(in, 0, sizeof *in);
  in->decoded_length = UINT64_MAX;
  char *dl = ll__s3_header(req, "x-amz-decoded-content-length");
  char *enc = ll__s3_header(req, "content-encoding");
  bool streaming = strncmp(s->payload_hash, "STREAMING-", 10) == 0;
  int rc = 0;
  if (dl) {
    char *end;
    unsigned long long v = strtoull(dl, &end, 10);
    if (!*dl || *end) {
      ll__s3_error(req, 400, "InvalidArgument", "x-amz-decoded-content-length is not a number: %s", dl);
      rc = -1;
    }
    in->decoded_length = v;
  }
  if (rc == 0 && streaming) {
    ll_awschunked_cfg_t cfg = {
        .signed_chunks = strncmp(s->payload_hash, "STREAMING-AWS4-HMAC", 19) == 0,
        .trailer = strstr(s->payload_hash, "-TRAILER") != NULL,
        .decoded_length = in->decoded_length,
    };
    if (cfg.signed_chunks) {
      const char *secret = ll_api_secret(ll__s3_ctx(req), s->access_key);
      ll_sigv4_signing_key(secret ? secret : "", s->amz_date, s->region, "s3", cfg.key);
      memcpy(cfg.amz_date, s->amz_date, sizeof cfg.amz_date);
      snprintf(cfg.scope, sizeof cfg.scope, "%s", s->scope);
      memcpy(cfg.seed_signature, s->signature, sizeof cfg.seed_signature);
    }
    if (in->decoded_length == UINT64_MAX && !cfg.trailer) {
      ll__s3_error(req, 411, "MissingContentLength",
                   "You must provide the x-amz-decoded-content-length HTTP header with %s",
                   s->payload_hash);
      rc = -1;
    } else {
      ll_awschunked_init(&in->dec, &cfg);
      in->chunked = true;
    }
  } else if (rc == 0 && req->head->content_length < 0 && !req->head->chunked) {
    in->decoded_length = 0;
  } else if (rc == 0 && req->head->content_length >= 0) {
    in->decoded_length = (uint64_t)req->head->content_length;
  }
  (void)enc;
  /* The checksum the client sent or will send in its trailer. */
  for (size_t i = 0; rc == 0 && i < req->head->nheaders; i++) {
    const ll_kv_t *kv = &req->head->headers[i];
    ll_ck_alg_t a = ll_checksum_header_alg(kv->name, kv->name_len);
    if (a != LL_CK_NONE) {
      in->ck_alg = a;
      snprintf(in->ck_want, sizeof in->ck_want, "%.*s",
               kv->value_len < sizeof in->ck_want ? (int)kv->value_len : 0, kv->value);
    }
  }
  char *tr = ll__s3_header(req, "x-amz-trailer");
  if (rc == 0 && tr) {
    ll_ck_alg_t a = ll_checksum_header_alg(tr, strlen(tr));
    if (a == LL_CK_NONE) {
      ll__s3_error(req, 400, "InvalidRequest",
                   "x-amz-trailer names %s: only the x-amz-checksum-* trailers are supported", tr);
      rc = -1;
    }
    in->ck_alg = a;
    in->ck_in_trailer = true;
  }
  if (rc == 0 && in->ck_alg) ll_checksum_init(&in->ck, in->ck_alg);
  char *md5 = ll__s3_header(req, "content-md5");
  if (rc == 0 && md5) {
    size_t n = 0;
    if (!ll_base64_decode_to(md5, strlen(md5), in->md5_want, &n) || n != 16) {
      ll__s3_error(req, 400, "InvalidDigest", "The Content-MD5 you specified was invalid.");
      rc = -1;
    }
    in->has_md5 = true;
    MD5_Init(&in->md5);
  }
  in->sha_payload = is_hex64(s->payload_hash);
  if (in->sha_payload) SHA256_Init(&in->sha);
  free(md5);
  free(tr);
  free(dl);
  free(enc);
  return rc;
}

int ll__s3_intake_feed(ll__s3_intake_t *in, const char *p, size_t len,
                       void (*sink)(void *ud, const char *p, size_t len), void *ud) {
  if (in->failed) return -1;
  if (!in->chunked) {
    in->decoded += len;
    if (in->decoded_length != UINT64_MAX && in->decoded > in->decoded_length) {
      in->failed = true;
      snprintf(in->msg, sizeof in->msg, "the body is longer than its declared length");
      in->status = 400;
      in->code = "IncompleteBody";
      return -1;
    }
    sink(ud, p, len);
    return 0;
  }
  while (len || !in->done) {
    size_t used = 0;
    ll_awschunked_event_t ev = {0};
    int r = ll_awschunked_feed(&in->dec, p, len, &used, &ev);
    p += used;
    len -= used;
    if (r == LL_AC_NEED_MORE) return 0;
    if (r == LL_AC_ERROR) {
      in->failed = true;
      in->status = ev.status ? ev.status : 400;
      in->code = ev.code ? ev.code : "InvalidRequest";
      snprintf(in->msg, sizeof in->msg, "%s", ev.message ? ev.message : "malformed aws-chunked body");
      return -1;
    }
    if (r == LL_AC_DATA) {
      in->decoded += ev.len;
      sink(ud, ev.data, ev.len);
    } else if (r == LL_AC_TRAILER) {
      ll_ck_alg_t a = ll_checksum_header_alg(ev.name, ev.name_len);
      if (a != LL_CK_NONE && a == in->ck_alg)
        snprintf(in->ck_want, sizeof in->ck_want, "%.*s",
                 ev.len < sizeof in->ck_want ? (int)ev.len : 0, ev.data);
    } else if (r == LL_AC_DONE) {
      in->done = true;
      if (len) {
        in->failed = true;
        in->status = 400;
        in->code = "InvalidRequest";
        snprintf(in->msg, sizeof in->msg, "bytes follow the end of the aws-chunked body");
        return -1;
      }
      return 0;
    }
  }
  return 0;
}

void ll__s3_intake_hash(ll__s3_intake_t *in, const void *p, size_t len) {
  if (in->ck_alg) ll_checksum_update(&in->ck, p, len);
  if (in->sha_payload) SHA256_Update(&in->sha, p, len);
  if (in->has_md5 && !in->md5_given) MD5_Update(&in->md5, p, len);
}

int ll__s3_intake_verify(ll_http_req_t *req, ll__s3_intake_t *in, const uint8_t *given_md5) {
  ll_s3_req_t *s = ll__s3(req);
  if (in->failed) {
    ll__s3_error(req, in->status, in->code, "%s", in->msg);
    return -1;
  }
  ll_awschunked_event_t ev = {0};
  if (in->chunked && !in->done && ll_awschunked_end(&in->dec, &ev) == LL_AC_ERROR) {
    ll__s3_error(req, ev.status ? ev.status : 400, ev.code ? ev.code : "IncompleteBody", "%s",
                 ev.message ? ev.message : "the aws-chunked body ended early");
    return -1;
  }
  if ((in->chunked && !in->done) ||
      (in->decoded_length != UINT64_MAX && in->decoded != in->decoded_length)) {
    ll__s3_error(req, 400, "IncompleteBody",
                 "You did not provide the number of bytes specified by the Content-Length HTTP "
                 "header");
    return -1;
  }
  if (in->sha_payload) {
    uint8_t d[32];
    char hex[65];
    SHA256_Final(d, &in->sha);
    in->sha_payload = false;
    ll_hex(d, 32, hex);
    if (strcmp(hex, s->payload_hash) != 0) {
      ll__s3_error(req, 400, "XAmzContentSHA256Mismatch",
                   "The provided 'x-amz-content-sha256' header does not match what was computed. "
                   "ClientComputedContentSHA256: %s, S3ComputedContentSHA256: %s",
                   s->payload_hash, hex);
      return -1;
    }
  }
  uint8_t md5[16];
  if (in->has_md5 && given_md5)
    memcpy(md5, given_md5, 16);
  else if (in->has_md5)
    MD5_Final(md5, &in->md5);
  if (in->has_md5 && memcmp(md5, in->md5_want, 16) != 0) {
    ll__s3_error(req, 400, "BadDigest",
                 "The Content-MD5 you specified did not match what we received.");
    return -1;
  }
  if (in->ck_alg) {
    ll_checksum_final_b64(&in->ck, in->ck_got);
    if (in->ck_in_trailer && !in->ck_want[0]) {
      ll__s3_error(req, 400, "InvalidRequest", "The trailer %s named in x-amz-trailer never came",
                   ll_checksum_header(in->ck_alg));
      return -1;
    }
    if (strcmp(in->ck_got, in->ck_want) != 0) {
      ll__s3_error(req, 400, "BadDigest", "The %s you specified did not match the calculated checksum.",
                   ll_checksum_name(in->ck_alg));
      return -1;
    }
  }
  return 0;
}

/* Small bodies: collected whole (the limit is a few MiB), then checked. */
typedef struct small_body {
  ll__s3_intake_t in;
  ll_buf_t body;
  ll__s3_body_fn done;
} small_body_t;

static void small_sink(void *ud, const char *p, size_t len) {
  small_body_t *sb = ud;
  if (sb->body.len + len > LL_S3_SMALL_BODY) {
    sb->in.failed = true;
    sb->in.status = 400;
    sb->in.code = "MaxMessageLengthExceeded";
    snprintf(sb->in.msg, sizeof sb->in.msg, "Your request was too big (over %u bytes).",
             LL_S3_SMALL_BODY);
    return;
  }
  ll_buf_append(&sb->body, p, len);
}

static void small_free(small_body_t *sb) {
  ll_buf_free(&sb->body);
  ll_awschunked_free(&sb->in.dec);
  free(sb);
}

static void small_data(ll_http_req_t *req, const char *p, size_t len, void *ud) {
  small_body_t *sb = ud;
  if (ll__s3_intake_feed(&sb->in, p, len, small_sink, sb) < 0 || sb->in.failed) {
    ll_http_req_on_abort(req, NULL, NULL);
    ll__s3_error(req, sb->in.status, sb->in.code, "%s", sb->in.msg);
    small_free(sb);
  }
}

static void small_end(ll_http_req_t *req, void *ud) {
  small_body_t *sb = ud;
  ll_http_req_on_abort(req, NULL, NULL);
  ll__s3_intake_hash(&sb->in, sb->body.data ? sb->body.data : "", sb->body.len);
  if (ll__s3_intake_verify(req, &sb->in, NULL) == 0) sb->done(req, &sb->body);
  small_free(sb);
}

static void small_abort(ll_http_req_t *req, void *ud) {
  small_free(ud);
  ll_http_respond(req, 400, NULL, NULL, 0); /* dropped: the client has gone */
}

void ll__s3_read_small_body(ll_http_req_t *req, ll__s3_body_fn done) {
  if (req->head->content_length > (int64_t)LL_S3_SMALL_BODY * 2) {
    ll__s3_error(req, 400, "MaxMessageLengthExceeded", "Your request was too big (over %u bytes).",
                 LL_S3_SMALL_BODY);
    return;
  }
  small_body_t *sb = ll_calloc(1, sizeof *sb);
  sb->done = done;
  if (ll__s3_intake_init(req, &sb->in) < 0) {
    small_free(sb);
    return;
  }
  ll_http_req_on_abort(req, small_abort, sb);
  ll_http_body_read(req, small_data, small_end, sb);
}

/* ---- buckets ------------------------------------------------------------------------------- */

static ll_objstore_t *store(ll_http_req_t *req) { return ll__s3_ctx(req)->objects; }

static void list_buckets(ll_http_req_t *req) {
  ll_bucket_info_t *bs;
  size_t n = ll_bucket_list(store(req), &bs);
  ll_buf_t b = LL_BUF_INIT;
  ll__s3_xml_open(&b, "ListAllMyBucketsResult");
  ll_buf_puts(&b, "<Owner><ID>");
  ll_buf_puts(&b, ll_engine_account(ll__s3_ctx(req)->engine));
  ll_buf_puts(&b, "</ID><DisplayName>lambdalite</DisplayName></Owner><Buckets>");
  for (size_t i = 0; i < n; i++) {
    char t[32];
    ll__s3_iso_time(bs[i].created_ms, t);
    ll_buf_puts(&b, "<Bucket>");
    ll_xml_put_elem(&b, "Name", bs[i].name);
    ll_xml_put_elem(&b, "CreationDate", t);
    ll_buf_puts(&b, "</Bucket>");
  }
  ll_buf_puts(&b, "</Buckets></ListAllMyBucketsResult>");
  free(bs);
  ll__s3_xml(req, &b, NULL);
}

static void create_bucket_body(ll_http_req_t *req, ll_buf_t *body) {
  ll_s3_req_t *s = ll__s3(req);
  char region[64];
  snprintf(region, sizeof region, "%s", s->region);
  if (body->len) {
    char why[256];
    ll_xml_doc_t *doc = ll_xml_parse(body->data, body->len, why, sizeof why);
    if (!doc) {
      ll__s3_error(req, 400, "MalformedXML",
                   "The XML you provided was not well-formed or did not validate against our "
                   "published schema (%s)",
                   why);
      return;
    }
    const char *lc = ll_xml_child_trimmed(ll_xml_root(doc), "LocationConstraint");
    if (lc && *lc) snprintf(region, sizeof region, "%s", lc);
    ll_xml_free(doc);
  }
  ll_err_t err = LL_ERR_INIT;
  if (ll_bucket_create(store(req), s->bucket, region, &err) < 0) {
    ll__s3_store_error(req, &err);
    return;
  }
  ll_buf_t h = LL_BUF_INIT;
  ll__s3_ids(req, &h);
  ll_buf_cat(&h, "Location: /", s->bucket, "\r\n", NULL);
  ll_http_respond(req, 200, h.data, NULL, 0);
  ll_buf_free(&h);
}

static void delete_bucket(ll_http_req_t *req) {
  ll_err_t err = LL_ERR_INIT;
  if (ll_bucket_delete(store(req), ll__s3(req)->bucket, &err) < 0) {
    ll__s3_store_error(req, &err);
    return;
  }
  ll_buf_t h = LL_BUF_INIT;
  ll__s3_ids(req, &h);
  ll_http_respond(req, 204, h.data, NULL, 0);
  ll_buf_free(&h);
}

/* 0 with *info, or answers NoSuchBucket and returns -1. */
static int need_bucket(ll_http_req_t *req, ll_bucket_info_t *info) {
  ll_err_t err = LL_ERR_INIT;
  if (ll_bucket_get(store(req), ll__s3(req)->bucket, info, &err) == 0) return 0;
  ll__s3_store_error(req, &err);
  return -1;
}

static void head_bucket(ll_http_req_t *req) {
  ll_bucket_info_t info;
  if (need_bucket(req, &info) < 0) return;
  ll_buf_t h = LL_BUF_INIT;
  ll__s3_ids(req, &h);
  ll_buf_cat(&h, "x-amz-bucket-region: ", info.region, "\r\n", NULL);
  ll_http_respond_head(req, 200, h.data, 0);
  ll_buf_free(&h);
}

static void bucket_location(ll_http_req_t *req) {
  ll_bucket_info_t info;
  if (need_bucket(req, &info) < 0) return;
  ll_buf_t b = LL_BUF_INIT;
  ll_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint xmlns=\"" S3_NS "\">");
  /* us-east-1 is the empty constraint, as S3 answers it */
  if (strcmp(info.region, "us-east-1") != 0) ll_xml_put_text(&b, info.region, strlen(info.region));
  ll_buf_puts(&b, "</LocationConstraint>");
  ll__s3_xml(req, &b, NULL);
}

static void bucket_versioning(ll_http_req_t *req) {
  ll_bucket_info_t info;
  if (need_bucket(req, &info) < 0) return;
  ll_buf_t b = LL_BUF_INIT;
  ll__s3_xml_open(&b, "VersioningConfiguration");
  ll_buf_puts(&b, "</VersioningConfiguration>");
  ll__s3_xml(req, &b, NULL);
}

/* ---- listings ------------------------------------------------------------------------------ */

/* Appends <name>value</name>, URL-encoding value when the client asked for encoding-type=url
 * (botocore always does, and decodes). S3 encodes as form data: space as '+'. */
static void put_key_elem(ll_buf_t *b, const char *name, const char *value, bool url) {
  if (!url) {
    ll_xml_put_elem(b, name, value);
    return;
  }
  static const char hex[] = "0123456789ABCDEF";
  ll_buf_t e = LL_BUF_INIT;
  for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
    unsigned char c = *p;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~' || c == '/') {
      ll_buf_append(&e, (const char *)p, 1);
    } else {
      char t[3] = {'%', hex[c >> 4], hex[c & 15]};
      ll_buf_append(&e, t, 3);
    }
  }
  ll_xml_put_elem(b, name, e.data ? e.data : "");
  ll_buf_free(&e);
}

static void list_objects(ll_http_req_t *req, bool v2) {
  ll_s3_req_t *s = ll__s3(req);
  char *prefix = ll__s3_query(req, "prefix"), *delim = ll__s3_query(req, "delimiter");
  char *enc = ll__s3_query(req, "encoding-type"), *maxs = ll__s3_query(req, "max-keys");
  char *token = v2 ? ll__s3_query(req, "continuation-token") : NULL;
  char *start = ll__s3_query(req, v2 ? "start-after" : "marker");
  char *fetch_owner = v2 ? ll__s3_query(req, "fetch-owner") : NULL;
  bool url = enc && strcmp(enc, "url") == 0;
  long max = 1000;
  char *end = NULL;
  if (maxs) max = strtol(maxs, &end, 10);
  if (enc && !url) {
    ll__s3_error(req, 400, "InvalidArgument", "Invalid Encoding Method specified in Request");
  } else if (maxs && (!*maxs || *end || max < 0)) {
    ll__s3_error(req, 400, "InvalidArgument", "Provided max-keys not an integer or within integer range");
  } else {
    if (max > 1000) max = 1000;
    /* The continuation token is the key to go on after, base64 (opaque to clients). */
    char *after = NULL;
    bool bad_token = false;
    if (token) {
      size_t n = 0;
      uint8_t *d = ll_base64_decode(token, strlen(token), &n);
      if (!d) {
        bad_token = true;
      } else {
        after = ll_malloc(n + 1);
        memcpy(after, d, n);
        after[n] = '\0';
        free(d);
      }
    }
    const char *from = after ? after : start;
    if (from && start && strcmp(start, from) > 0) from = start;
    ll_obj_listing_t l = {0};
    ll_err_t err = LL_ERR_INIT;
    if (bad_token) {
      ll__s3_error(req, 400, "InvalidArgument", "The continuation token provided is incorrect");
    } else if (ll_obj_list(store(req), s->bucket, prefix, delim && *delim ? delim : NULL, from,
                           (size_t)max, &l, &err) < 0) {
      ll__s3_store_error(req, &err);
    } else {
      ll_buf_t b = LL_BUF_INIT;
      ll__s3_xml_open(&b, "ListBucketResult");
      ll_xml_put_elem(&b, "Name", s->bucket);
      put_key_elem(&b, "Prefix", prefix ? prefix : "", url);
      if (v2) {
        if (token) ll_xml_put_elem(&b, "ContinuationToken", token);
        if (start) put_key_elem(&b, "StartAfter", start, url);
        ll_buf_printf(&b, "<KeyCount>%zu</KeyCount>", l.nobjects + l.nprefixes);
      } else {
        put_key_elem(&b, "Marker", start ? start : "", url);
        if (l.truncated && l.next && delim && *delim) put_key_elem(&b, "NextMarker", l.next, url);
      }
      ll_buf_printf(&b, "<MaxKeys>%ld</MaxKeys>", max);
      if (delim && *delim) put_key_elem(&b, "Delimiter", delim, url);
      if (url) ll_xml_put_elem(&b, "EncodingType", "url");
      ll_buf_printf(&b, "<IsTruncated>%s</IsTruncated>", l.truncated ? "true" : "false");
      if (v2 && l.truncated && l.next) {
        char *t = ll_base64_encode(l.next, strlen(l.next));
        ll_xml_put_elem(&b, "NextContinuationToken", t);
        free(t);
      }
      bool owner = !v2 || (fetch_owner && strcmp(fetch_owner, "true") == 0);
      const char *account = ll_engine_account(ll__s3_ctx(req)->engine);
      for (size_t i = 0; i < l.nobjects; i++) {
        const ll_obj_entry_t *o = &l.objects[i];
        char t[32];
        ll__s3_iso_time(o->modified_ms, t);
        ll_buf_puts(&b, "<Contents>");
        put_key_elem(&b, "Key", o->key, url);
        ll_xml_put_elem(&b, "LastModified", t);
        ll_xml_put_elem(&b, "ETag", o->etag);
        ll_buf_printf(&b, "<Size>%llu</Size>", (unsigned long long)o->size);
        if (owner)
          ll_buf_cat(&b, "<Owner><ID>", account, "</ID><DisplayName>lambdalite</DisplayName></Owner>",
                     NULL);
        ll_buf_puts(&b, "<StorageClass>STANDARD</StorageClass></Contents>");
      }
      for (size_t i = 0; i < l.nprefixes; i++) {
        ll_buf_puts(&b, "<CommonPrefixes>");
        put_key_elem(&b, "Prefix", l.prefixes[i], url);
        ll_buf_puts(&b, "</CommonPrefixes>");
      }
      ll_buf_puts(&b, "</ListBucketResult>");
      ll_obj_listing_free(&l);
      ll__s3_xml(req, &b, NULL);
    }
    free(after);
  }
  free(prefix);
  free(delim);
  free(enc);
  free(maxs);
  free(token);
  free(start);
  free(fetch_owner);
}

/* ---- notification configuration ------------------------------------------------------------ */

/* NotificationConfiguration XML -> the JSON the store keeps:
 * [{"Id","FunctionArn","Events":[...],"Prefix","Suffix"}]. NULL with why on a bad document. */
static json_t *parse_notification(ll_http_req_t *req, const ll_xml_node_t *root, char *why,
                                  size_t sz) {
  json_t *list = json_array();
  for (const ll_xml_node_t *c = root->first_child; c; c = c->next) {
    if (strcmp(c->name, "TopicConfiguration") == 0 || strcmp(c->name, "QueueConfiguration") == 0 ||
        strcmp(c->name, "EventBridgeConfiguration") == 0) {
      snprintf(why, sz, "%s is not supported here: there is no SNS, SQS or EventBridge; use "
                        "CloudFunctionConfiguration/LambdaFunctionConfiguration", c->name);
      goto bad;
    }
    if (strcmp(c->name, "CloudFunctionConfiguration") != 0 &&
        strcmp(c->name, "LambdaFunctionConfiguration") != 0)
      continue;
    const char *arn = ll_xml_child_trimmed(c, "CloudFunction");
    if (!arn) arn = ll_xml_child_trimmed(c, "Function");
    if (!arn || !*arn) {
      snprintf(why, sz, "a LambdaFunctionConfiguration needs its Function (the function's ARN)");
      goto bad;
    }
    const char *fname = strstr(arn, ":function:") ? strstr(arn, ":function:") + 10 : arn;
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)strcspn(fname, ":"), fname);
    ll_function_t *fn = ll_function_find(ll__s3_ctx(req)->engine, name);
    if (!fn) {
      snprintf(why, sz, "Unable to validate the following destination configurations: the "
                        "function %s does not exist",
               arn);
      goto bad;
    }
    json_t *events = json_array();
    for (const ll_xml_node_t *e = ll_xml_child(c, "Event"); e; e = ll_xml_next(e)) {
      if (!ll_notify_event_known(e->trimmed)) {
        json_decref(events);
        snprintf(why, sz, "The event is not supported for notifications: %s", e->trimmed);
        goto bad;
      }
      json_array_append_new(events, json_string(e->trimmed));
    }
    if (!json_array_size(events)) {
      json_decref(events);
      snprintf(why, sz, "a LambdaFunctionConfiguration needs at least one Event");
      goto bad;
    }
    const char *id = ll_xml_child_trimmed(c, "Id");
    char gen[40];
    if (!id || !*id) {
      ll_uuid4(gen);
      id = gen;
    }
    json_t *cfg = json_pack("{s:s,s:s,s:o}", "Id", id, "FunctionArn", arn, "Events", events);
    const ll_xml_node_t *key = ll_xml_child(ll_xml_child(c, "Filter"), "S3Key");
    for (const ll_xml_node_t *r = ll_xml_child(key, "FilterRule"); r; r = ll_xml_next(r)) {
      const char *n = ll_xml_child_trimmed(r, "Name"), *v = ll_xml_child_text(r, "Value");
      const char *which = n && strcasecmp(n, "prefix") == 0   ? "Prefix"
                          : n && strcasecmp(n, "suffix") == 0 ? "Suffix"
                                                              : NULL;
      if (!which || !v || json_object_get(cfg, which)) {
        json_decref(cfg);
        snprintf(why, sz, which ? "Cannot specify more than one %s rule in a filter."
                                : "FilterRule names must be prefix or suffix (got %s)",
                 which ? which : (n ? n : "none"));
        goto bad;
      }
      json_object_set_new(cfg, which, json_string(v));
    }
    json_array_append_new(list, cfg);
  }
  return list;
bad:
  json_decref(list);
  return NULL;
}

static void put_notification_body(ll_http_req_t *req, ll_buf_t *body) {
  char why[512] = "";
  ll_xml_doc_t *doc = ll_xml_parse(body->data ? body->data : "", body->len, why, sizeof why);
  json_t *cfg = doc ? parse_notification(req, ll_xml_root(doc), why, sizeof why) : NULL;
  ll_xml_free(doc);
  if (!cfg) {
    bool malformed = !doc;
    ll__s3_error(req, 400, malformed ? "MalformedXML" : "InvalidArgument", "%s%s",
                 malformed ? "The XML you provided was not well-formed or did not validate "
                             "against our published schema: "
                           : "",
                 why);
    return;
  }
  char *text = json_dumps(cfg, JSON_COMPACT);
  json_decref(cfg);
  ll_err_t err = LL_ERR_INIT;
  int rc = ll_bucket_set_notification(store(req), ll__s3(req)->bucket, text, &err);
  free(text);
  if (rc < 0) {
    ll__s3_store_error(req, &err);
    return;
  }
  ll_buf_t h = LL_BUF_INIT;
  ll__s3_ids(req, &h);
  ll_http_respond(req, 200, h.data, NULL, 0);
  ll_buf_free(&h);
}

static void get_notification(ll_http_req_t *req) {
  char *text = NULL;
  ll_err_t err = LL_ERR_INIT;
  if (ll_bucket_get_notification(store(req), ll__s3(req)->bucket, &text, &err) < 0) {
    ll__s3_store_error(req, &err);
    return;
  }
  json_t *cfg = text ? json_loads(text, 0, NULL) : NULL;
  free(text);
  ll_buf_t b = LL_BUF_INIT;
  ll__s3_xml_open(&b, "NotificationConfiguration");
  size_t i;
  json_t *c;
  json_array_foreach(cfg, i, c) {
    ll_buf_puts(&b, "<CloudFunctionConfiguration>");
    ll_xml_put_elem(&b, "Id", json_string_value(json_object_get(c, "Id")));
    ll_xml_put_elem(&b, "CloudFunction", json_string_value(json_object_get(c, "FunctionArn")));
    size_t j;
    json_t *e;
    json_array_foreach(json_object_get(c, "Events"), j, e) ll_xml_put_elem(&b, "Event", json_string_value(e));
    const char *pre = json_string_value(json_object_get(c, "Prefix"));
    const char *suf = json_string_value(json_object_get(c, "Suffix"));
    if (pre || suf) {
      ll_buf_puts(&b, "<Filter><S3Key>");
      if (pre) {
        ll_buf_puts(&b, "<FilterRule><Name>Prefix</Name>");
        ll_xml_put_elem(&b, "Value", pre);
        ll_buf_puts(&b, "</FilterRule>");
      }
      if (suf) {
        ll_buf_puts(&b, "<FilterRule><Name>Suffix</Name>");
        ll_xml_put_elem(&b, "Value", suf);
        ll_buf_puts(&b, "</FilterRule>");
      }
      ll_buf_puts(&b, "</S3Key></Filter>");
    }
    ll_buf_puts(&b, "</CloudFunctionConfiguration>");
  }
  json_decref(cfg);
  ll_buf_puts(&b, "</NotificationConfiguration>");
  ll__s3_xml(req, &b, NULL);
}

/* ---- DeleteObjects ------------------------------------------------------------------------- */

static void delete_objects_body(ll_http_req_t *req, ll_buf_t *body) {
  ll_s3_req_t *s = ll__s3(req);
  char why[256];
  ll_xml_doc_t *doc = ll_xml_parse(body->data ? body->data : "", body->len, why, sizeof why);
  const ll_xml_node_t *root = doc ? ll_xml_root(doc) : NULL;
  if (!root || strcmp(root->name, "Delete") != 0) {
    ll_xml_free(doc);
    ll__s3_error(req, 400, "MalformedXML",
                 "The XML you provided was not well-formed or did not validate against our "
                 "published schema");
    return;
  }
  size_t n = 0;
  for (const ll_xml_node_t *o = ll_xml_child(root, "Object"); o; o = ll_xml_next(o)) n++;
  if (n > 1000) {
    ll_xml_free(doc);
    ll__s3_error(req, 400, "MalformedXML", "DeleteObjects takes at most 1000 keys (got %zu)", n);
    return;
  }
  ll_bucket_info_t info;
  if (need_bucket(req, &info) < 0) {
    ll_xml_free(doc);
    return;
  }
  const char *quiet = ll_xml_child_trimmed(root, "Quiet");
  bool q = quiet && strcmp(quiet, "true") == 0;
  ll_buf_t b = LL_BUF_INIT;
  ll__s3_xml_open(&b, "DeleteResult");
  for (const ll_xml_node_t *o = ll_xml_child(root, "Object"); o; o = ll_xml_next(o)) {
    const char *key = ll_xml_child_text(o, "Key");
    ll_err_t err = LL_ERR_INIT;
    bool existed = false;
    uint64_t seq = 0;
    if (!key || !*key) {
      ll_buf_puts(&b, "<Error><Key></Key><Code>InvalidArgument</Code><Message>a key is empty</Message></Error>");
    } else if (ll_obj_delete(store(req), s->bucket, key, &existed, &seq, &err) < 0) {
      ll_buf_puts(&b, "<Error>");
      ll_xml_put_elem(&b, "Key", key);
      ll_xml_put_elem(&b, "Code", "InternalError");
      ll_xml_put_elem(&b, "Message", err.msg);
      ll_buf_puts(&b, "</Error>");
    } else {
      if (existed)
        ll__s3_notify(ll__s3_ctx(req), s, req->remote, "ObjectRemoved:Delete", key, 0, NULL, seq);
      if (!q) {
        ll_buf_puts(&b, "<Deleted>");
        ll_xml_put_elem(&b, "Key", key);
        ll_buf_puts(&b, "</Deleted>");
      }
    }
  }
  ll_buf_puts(&b, "</DeleteResult>");
  ll_xml_free(doc);
  ll__s3_xml(req, &b, NULL);
}

/* ---- dispatch ------------------------------------------------------------------------------ */

static void not_implemented(ll_http_req_t *req, const char *what) {
  ll__s3_error(req, 501, "NotImplemented",
               "A header or query you provided implies functionality that is not implemented "
               "here (%s)",
               what);
}

/* Subresources S3 has and lambdalite does not serve. */
static const char *unsupported_subresource(ll_http_req_t *req) {
  static const char *const names[] = {
      "acl", "policy", "cors", "lifecycle", "website", "tagging", "encryption", "replication",
      "logging", "object-lock", "retention", "legal-hold", "torrent", "restore", "select",
      "accelerate", "requestPayment", "analytics", "inventory", "metrics", "intelligent-tiering",
      "ownershipControls", "publicAccessBlock", "policyStatus", "attributes", "versions",
      NULL,
  };
  for (const char *const *n = names; *n; n++)
    if (ll__s3_has_query(req, *n)) return *n;
  return NULL;
}

static void bucket_op(ll_http_req_t *req) {
  const char *m = req->head->method;
  const char *sub = unsupported_subresource(req);
  if (sub && strcmp(sub, "versions") == 0 && strcmp(m, "GET") == 0) sub = NULL, m = "GET";
  if (sub) {
    not_implemented(req, sub);
  } else if (strcmp(m, "PUT") == 0) {
    if (ll__s3_has_query(req, "notification")) {
      ll_bucket_info_t info;
      if (need_bucket(req, &info) == 0) ll__s3_read_small_body(req, put_notification_body);
    } else if (ll__s3_has_query(req, "versioning")) {
      not_implemented(req, "versioning");
    } else {
      const char *why = ll_bucket_name_problem(ll__s3(req)->bucket);
      if (why)
        ll__s3_error(req, 400, "InvalidBucketName", "The specified bucket is not valid: %s", why);
      else
        ll__s3_read_small_body(req, create_bucket_body);
    }
  } else if (strcmp(m, "DELETE") == 0) {
    delete_bucket(req);
  } else if (strcmp(m, "HEAD") == 0) {
    head_bucket(req);
  } else if (strcmp(m, "POST") == 0 && ll__s3_has_query(req, "delete")) {
    ll__s3_read_small_body(req, delete_objects_body);
  } else if (strcmp(m, "GET") == 0) {
    if (ll__s3_has_query(req, "notification"))
      get_notification(req);
    else if (ll__s3_has_query(req, "location"))
      bucket_location(req);
    else if (ll__s3_has_query(req, "versioning"))
      bucket_versioning(req);
    else if (ll__s3_has_query(req, "uploads"))
      ll__s3_list_uploads(req);
    else {
      char *lt = ll__s3_query(req, "list-type");
      bool v2 = lt && strcmp(lt, "2") == 0;
      free(lt);
      list_objects(req, v2);
    }
  } else {
    ll__s3_error(req, 405, "MethodNotAllowed",
                 "The specified method is not allowed against this resource.");
  }
}

static void object_op(ll_http_req_t *req) {
  const char *m = req->head->method;
  const char *sub = unsupported_subresource(req);
  if (sub) {
    not_implemented(req, sub);
  } else if (strcmp(m, "PUT") == 0) {
    ll__s3_put_object(req);
  } else if (strcmp(m, "GET") == 0 && ll__s3_has_query(req, "uploadId")) {
    ll__s3_list_parts(req);
  } else if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) {
    ll__s3_get_object(req);
  } else if (strcmp(m, "DELETE") == 0) {
    ll__s3_delete_object(req);
  } else if (strcmp(m, "POST") == 0) {
    ll__s3_post_object(req);
  } else {
    ll__s3_error(req, 405, "MethodNotAllowed",
                 "The specified method is not allowed against this resource.");
  }
}

static void s3_dispatch(ll_http_req_t *req) {
  ll_s3_req_t *s = ll_calloc(1, sizeof *s);
  free(req->app);
  req->app = s;
  uint8_t id[8];
  ll_random_bytes(id, sizeof id);
  for (int i = 0; i < 8; i++) snprintf(s->request_id + 2 * i, 3, "%02X", id[i]);
  const ll_http_head_t *h = req->head;
  /* Bucket and key: from the Host (virtual-hosted style) or the path's first segment. The key
   * is the rest of the path, percent-decoded, a trailing '/' kept. */
  const char *path = h->path[0] == '/' ? h->path + 1 : h->path;
  const char *key_start = path;
  if (!host_bucket(h, s->bucket)) {
    size_t n = strcspn(path, "/");
    char *b = ll_http_pct_decode(path, n);
    if (!b || strlen(b) >= sizeof s->bucket) {
      free(b);
      ll__s3_error(req, 400, "InvalidBucketName", "The specified bucket is not valid.");
      return;
    }
    strcpy(s->bucket, b);
    free(b);
    key_start = path[n] == '/' ? path + n + 1 : path + n;
  }
  if (*key_start) {
    char *k = ll_http_pct_decode(key_start, strlen(key_start));
    if (!k) {
      ll__s3_error(req, 400, "InvalidURI", "Couldn't parse the specified URI.");
      return;
    }
    if (strlen(k) > LL_OS_KEY_MAX) {
      free(k);
      ll__s3_error(req, 400, "KeyTooLongError", "Your key is too long");
      return;
    }
    strcpy(s->key, k);
    free(k);
  }
  if (s3_authenticate(req) < 0 || s3_authorized(req) < 0) return;
  if (!s->bucket[0]) {
    if (strcmp(h->method, "GET") == 0)
      list_buckets(req);
    else
      ll__s3_error(req, 405, "MethodNotAllowed",
                   "The specified method is not allowed against this resource.");
  } else if (!s->key[0]) {
    bucket_op(req);
  } else {
    object_op(req);
  }
}

const ll_http_route_t ll_s3_routes[] = {
    {"*", "/", s3_dispatch, UINT64_MAX, "S3", .stream_body = true, .accept = s3_accept},
    {"*", "/{+}", s3_dispatch, UINT64_MAX, "S3", .stream_body = true, .accept = s3_accept},
    {NULL, NULL, NULL, 0, NULL},
};

/* SigV2 query authentication (sigv2.h). */
#include "auth/sigv2.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/encoding.h"
#include "core/mem.h"

/* The sub-resources S3 signs in a V2 canonical resource (botocore's HmacV1Auth list). */
static const char *const signed_subresources[] = {
    "accelerate", "acl", "analytics", "cors", "defaultObjectAcl", "delete", "inventory",
    "lifecycle", "location", "logging", "metrics", "notification", "object-lock", "partNumber",
    "policy", "replication", "requestPayment", "response-cache-control",
    "response-content-disposition", "response-content-encoding", "response-content-language",
    "response-content-type", "response-expires", "restore", "select", "select-type",
    "storageClass", "tagging", "torrent", "uploadId", "uploads", "versionId", "versioning",
    "versions", "website", NULL,
};

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Percent-decodes p[0..len) into a heap string (a bad escape stays as it is). */
static char *decode(const char *p, size_t len) {
  char *out = ll_malloc(len + 1);
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    if (p[i] == '%' && i + 2 < len && hexval(p[i + 1]) >= 0 && hexval(p[i + 2]) >= 0) {
      out[o++] = (char)(hexval(p[i + 1]) << 4 | hexval(p[i + 2]));
      i += 2;
    } else {
      out[o++] = p[i];
    }
  }
  out[o] = '\0';
  return out;
}

/* The decoded value of key in the query, or NULL. */
static char *param(const ll_sigv4_request_t *req, const char *key) {
  size_t kl = strlen(key);
  const char *q = req->query, *end = req->query + req->query_len;
  while (q < end) {
    const char *amp = memchr(q, '&', (size_t)(end - q));
    size_t n = amp ? (size_t)(amp - q) : (size_t)(end - q);
    if (n > kl && memcmp(q, key, kl) == 0 && q[kl] == '=') return decode(q + kl + 1, n - kl - 1);
    q += n + 1;
  }
  return NULL;
}

bool ll_sigv2_is_query_auth(const char *query) {
  return strstr(query, "AWSAccessKeyId=") && strstr(query, "Signature=");
}

static const ll_kv_t *header(const ll_sigv4_request_t *req, const char *name) {
  return ll_kv_find(req->headers, req->nheaders, name);
}

typedef struct sub {
  const char *key;
  char *value; /* decoded; NULL for a bare key */
} sub_t;

static int sub_cmp(const void *a, const void *b) {
  return strcmp(((const sub_t *)a)->key, ((const sub_t *)b)->key);
}

static int fail(ll_sigv4_result_t *res, int status, const char *code, const char *s3_code,
                const char *msg) {
  res->status = status;
  res->code = code;
  res->s3_code = s3_code;
  snprintf(res->message, sizeof res->message, "%s", msg);
  return -1;
}

int ll_sigv2_verify_query(const ll_sigv4_request_t *req, ll_sigv4_secret_fn secret_fn, void *ud,
                          time_t now, ll_sigv4_result_t *res) {
  memset(res, 0, sizeof *res);
  char *akid = param(req, "AWSAccessKeyId"), *expires = param(req, "Expires");
  char *sig = param(req, "Signature");
  int rc = 0;
  char *end = NULL;
  long long exp = expires ? strtoll(expires, &end, 10) : 0;
  const char *secret = NULL;
  if (!akid || !expires || !sig) {
    rc = fail(res, 403, "MissingAuthenticationTokenException", "AccessDenied",
              "Query-string authentication requires the Signature, Expires and AWSAccessKeyId "
              "parameters");
  } else if (!*expires || *end) {
    rc = fail(res, 403, "InvalidSignatureException", "AccessDenied",
              "Invalid date (should be seconds since epoch): Expires");
  } else if ((long long)now > exp) {
    rc = fail(res, 403, "InvalidSignatureException", "AccessDenied", "Request has expired");
  } else if (!(secret = strlen(akid) < sizeof res->access_key ? secret_fn(ud, akid) : NULL)) {
    rc = fail(res, 403, "UnrecognizedClientException", "InvalidAccessKeyId",
              "The AWS Access Key Id you provided does not exist in our records.");
  }
  if (akid) snprintf(res->access_key, sizeof res->access_key, "%s", akid);
  if (rc == 0) {
    ll_buf_t s = LL_BUF_INIT;
    const ll_kv_t *md5 = header(req, "content-md5"), *ct = header(req, "content-type");
    ll_buf_cat(&s, req->method, "\n", NULL);
    if (md5) ll_buf_append(&s, md5->value, md5->value_len);
    ll_buf_puts(&s, "\n");
    if (ct) ll_buf_append(&s, ct->value, ct->value_len);
    ll_buf_cat(&s, "\n", expires, "\n", NULL);
    /* x-amz-* headers, lower-cased and sorted (each name once, values joined by ',') */
    const ll_kv_t **amz = ll_calloc(req->nheaders + 1, sizeof *amz);
    size_t na = 0;
    for (size_t i = 0; i < req->nheaders; i++)
      if (req->headers[i].name_len > 6 && strncasecmp(req->headers[i].name, "x-amz-", 6) == 0)
        amz[na++] = &req->headers[i];
    for (size_t i = 1; i < na; i++) /* insertion sort: a handful at most */
      for (size_t j = i; j > 0 && strncasecmp(amz[j - 1]->name, amz[j]->name, 64) > 0; j--) {
        const ll_kv_t *t = amz[j];
        amz[j] = amz[j - 1];
        amz[j - 1] = t;
      }
    for (size_t i = 0; i < na; i++) {
      for (size_t k = 0; k < amz[i]->name_len; k++) {
        char c = amz[i]->name[k];
        ll_buf_append(&s, &(char){(char)(c >= 'A' && c <= 'Z' ? c + 32 : c)}, 1);
      }
      ll_buf_puts(&s, ":");
      ll_buf_append(&s, amz[i]->value, amz[i]->value_len);
      ll_buf_puts(&s, "\n");
    }
    free(amz);
    ll_buf_append(&s, req->path, req->path_len);
    sub_t subs[16];
    size_t ns = 0;
    for (const char *const *k = signed_subresources; *k && ns < 16; k++) {
      size_t kl = strlen(*k);
      const char *q = req->query, *qe = req->query + req->query_len;
      while (q < qe) {
        const char *amp = memchr(q, '&', (size_t)(qe - q));
        size_t n = amp ? (size_t)(amp - q) : (size_t)(qe - q);
        if (n >= kl && memcmp(q, *k, kl) == 0 && (n == kl || q[kl] == '=')) {
          subs[ns++] = (sub_t){*k, n == kl ? NULL : decode(q + kl + 1, n - kl - 1)};
          break;
        }
        q += n + 1;
      }
    }
    qsort(subs, ns, sizeof *subs, sub_cmp);
    for (size_t i = 0; i < ns; i++) {
      ll_buf_cat(&s, i ? "&" : "?", subs[i].key, NULL);
      if (subs[i].value) ll_buf_cat(&s, "=", subs[i].value, NULL);
      free(subs[i].value);
    }
    unsigned char mac[20];
    unsigned int ml = sizeof mac;
    HMAC(EVP_sha1(), secret, (int)strlen(secret), (const unsigned char *)s.data, s.len, mac, &ml);
    ll_buf_free(&s);
    char *want = ll_base64_encode(mac, ml);
    if (strlen(sig) != strlen(want) || CRYPTO_memcmp(sig, want, strlen(want)) != 0)
      rc = fail(res, 403, "InvalidSignatureException", "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. "
                "Check your key and signing method.");
    free(want);
  }
  free(akid);
  free(expires);
  free(sig);
  return rc;
}

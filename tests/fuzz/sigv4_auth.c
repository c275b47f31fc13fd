/* libFuzzer target for src/auth/sigv4.c.
 *
 * Input, split on '\n':
 *   line 0  flags: first byte picks the service (s3 / lambda / service / kinesis) and whether
 *           the fixed Host and X-Amz-Date headers are added
 *   line 1  Authorization header value
 *   line 2  path
 *   line 3  query
 *   line 4+ headers "name:value" (at most MAX_FUZZ_HEADERS)
 *
 * 1. ll_sigv4_verify on the request as given, with a fixed secret lookup, and the query-string
 *    forms on its query (ll_sigv4_verify_query, and SigV2's ll_sigv2_verify_query of
 *    src/auth/sigv2.c): must not crash, and failures must say why in the documented shape.
 * 2. Round trip: the same path, query and headers (names reduced to valid tokens, without
 *    Authorization, Host and the date headers) plus Host and X-Amz-Date are signed, and the
 *    signed request must verify. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/sigv2.h"
#include "auth/sigv4.h"

#define MAX_FUZZ_HEADERS 16
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define NOW ((time_t)1440938160) /* 20150830T123600Z */
#define AMZ_DATE "20150830T123600Z"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *secret_of(void *ud, const char *ak) {
  (void)ud;
  if (strcmp(ak, "AKIDEXAMPLE") == 0) return SECRET;
  if (strcmp(ak, "S3RVER") == 0) return "S3RVER";
  return NULL;
}

/* RFC 9110 tchar */
static int is_token(const char *p, size_t len) {
  if (len == 0) return 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)p[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          (c && strchr("!#$%&'*+-.^_`|~", c))))
      return 0;
  }
  return 1;
}

static int named(const ll_kv_t *h, const char *name) {
  return h->name_len == strlen(name) && strncasecmp(h->name, name, h->name_len) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 1 << 16) return 0;
  char *text = malloc(size + 1);
  memcpy(text, data, size);
  text[size] = '\0';

  /* Lines (by length, so NUL bytes inside them survive). */
  const char *line[4 + MAX_FUZZ_HEADERS];
  size_t len[4 + MAX_FUZZ_HEADERS], nlines = 0;
  for (size_t start = 0; start <= size && nlines < 4 + MAX_FUZZ_HEADERS;) {
    const char *nl = memchr(text + start, '\n', size - start);
    size_t end = nl ? (size_t)(nl - text) : size;
    line[nlines] = text + start;
    len[nlines++] = end - start;
    start = end + 1;
    if (!nl) break;
  }
  for (size_t i = nlines; i < 4; i++) line[i] = "", len[i] = 0;
  if (nlines < 4) nlines = 4;

  unsigned flags = len[0] ? (unsigned char)line[0][0] : 0;
  static const char *const services[] = {"s3", "lambda", "service", "kinesis"};
  const char *service = services[flags & 3];
  int add_fixed = !(flags & 4);

  ll_kv_t h[MAX_FUZZ_HEADERS + 4];
  size_t nh = 0;
  if (add_fixed) {
    h[nh++] = (ll_kv_t){"Host", 4, "example.amazonaws.com", 21};
    h[nh++] = (ll_kv_t){"X-Amz-Date", 10, AMZ_DATE, 16};
  }
  h[nh++] = (ll_kv_t){"Authorization", 13, line[1], len[1]};
  for (size_t i = 4; i < nlines; i++) {
    const char *colon = memchr(line[i], ':', len[i]);
    size_t nlen = colon ? (size_t)(colon - line[i]) : len[i];
    h[nh++] = (ll_kv_t){line[i], nlen, colon ? colon + 1 : "", colon ? len[i] - nlen - 1 : 0};
  }

  ll_sigv4_request_t req = {
      .method = "GET",
      .path = line[2],
      .path_len = len[2],
      .query = line[3],
      .query_len = len[3],
      .headers = h,
      .nheaders = nh,
      .payload_hash = "UNSIGNED-PAYLOAD",
  };
  ll_sigv4_result_t res;
  if (ll_sigv4_verify(&req, secret_of, NULL, NOW, 900, &res) != 0) {
    if (res.status != 400 && res.status != 403) abort();
    if (!res.code || !res.s3_code || !memchr(res.message, '\0', sizeof res.message)) abort();
  }
  if (ll_sigv4_verify_query(&req, secret_of, NULL, NOW, &res) != 0) {
    if (res.status != 400 && res.status != 403) abort();
    if (!res.code || !res.s3_code || !memchr(res.message, '\0', sizeof res.message)) abort();
  }
  if (ll_sigv2_verify_query(&req, secret_of, NULL, NOW, &res) != 0) {
    if (res.status != 403 || !res.code || !res.s3_code) abort();
    if (!memchr(res.message, '\0', sizeof res.message)) abort();
  }

  /* Round trip. */
  ll_kv_t s[MAX_FUZZ_HEADERS + 4];
  size_t ns = 0;
  s[ns++] = (ll_kv_t){"Host", 4, "example.amazonaws.com", 21};
  s[ns++] = (ll_kv_t){"X-Amz-Date", 10, AMZ_DATE, 16};
  for (size_t i = 0; i < nh; i++) {
    if (!is_token(h[i].name, h[i].name_len) || named(&h[i], "authorization") ||
        named(&h[i], "host") || named(&h[i], "x-amz-date") || named(&h[i], "date"))
      continue;
    s[ns++] = h[i];
  }
  req.headers = s;
  req.nheaders = ns;
  size_t out_sz = 256 + size;
  char *authz = malloc(out_sz);
  if (ll_sigv4_sign(&req, "AKIDEXAMPLE", SECRET, "us-east-1", service, AMZ_DATE, authz, out_sz) !=
      0)
    abort();
  s[ns++] = (ll_kv_t){"Authorization", 13, authz, strlen(authz)};
  req.nheaders = ns;
  if (ll_sigv4_verify(&req, secret_of, NULL, NOW, 900, &res) != 0) {
    fprintf(stderr, "round trip failed: %s\n  %s\n", res.message, authz);
    abort();
  }
  if (strcmp(res.service, service) != 0 || strcmp(res.amz_date, AMZ_DATE) != 0) abort();
  free(authz);
  free(text);
  return 0;
}

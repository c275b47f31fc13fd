/* SigV4 signing and verification (src/auth/sigv4.h).
 *
 * Vectors:
 *  - AWS's published aws-sig-v4-test-suite, as vendored by botocore in
 *    tests/unit/auth/aws4_testsuite/<name>/<name>.{req,creq,authz} (boto/botocore@0e6e2404b);
 *    the same requests and signatures appear in awslabs/aws-c-auth
 *    tests/aws-signing-test-suite/v4/<name>/. Each test names its directory.
 *  - Requests the AWS CLI and boto3 really sent (the *.log files in ../shared/reference/captures).
 *  - A few requests signed by botocore 1.43.11 itself (SigV4Auth / S3SigV4Auth, the clock fixed
 *    at 20261124T115307Z), for the cases the suite lacks: a Lambda ARN path, a query with
 *    spaces and repeated keys, and a path S3 and the other services canonicalize differently. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/sigv4.h"
#include "core/encoding.h"
#include "core/kv.h"
#include "test.h"

#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_NOW ((time_t)1440938160) /* 20150830T123600Z */
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const char *secret_of(void *ud, const char *ak) {
  (void)ud;
  if (strcmp(ak, "AKIDEXAMPLE") == 0) return SUITE_SECRET;
  if (strcmp(ak, "S3RVER") == 0) return "S3RVER"; /* the s3rver default the S3 captures used */
  if (strcmp(ak, "AKIDLONGSECRET") == 0)
    return "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef-long";
  return NULL;
}

/* ---- a request written as on the wire -------------------------------------------------- */

#define MAX_H 64

typedef struct treq {
  char *text; /* owned copy the kvs point into */
  char method[16];
  ll_kv_t h[MAX_H];
  char payload[65];
  ll_sigv4_request_t r;
} treq_t;

/* Parses "METHOD target HTTP/1.1\nName:value\n...\n\nbody" (the suite's .req form; a line that
 * starts with a space continues the previous header value, joined by '\n'). The payload hash is
 * the SHA-256 of the body unless payload_hash is given. */
static treq_t *parse_req(const char *wire, const char *payload_hash) {
  treq_t *t = calloc(1, sizeof *t);
  t->text = strdup(wire);
  char *body = strstr(t->text, "\n\n");
  if (body) {
    *body = '\0';
    body += 2;
  }
  char *line = t->text, *nl = strchr(line, '\n');
  if (nl) *nl = '\0';
  /* The target may contain spaces (get-space): method up to the first space, version after the
   * last. */
  char *sp1 = strchr(line, ' '), *sp2 = strrchr(line, ' ');
  CHECK(sp1 && sp2 && sp1 < sp2);
  snprintf(t->method, sizeof t->method, "%.*s", (int)(sp1 - line), line);
  char *target = sp1 + 1;
  size_t tlen = (size_t)(sp2 - target);
  char *q = memchr(target, '?', tlen);
  t->r.method = t->method;
  t->r.path = target;
  t->r.path_len = q ? (size_t)(q - target) : tlen;
  t->r.query = q ? q + 1 : "";
  t->r.query_len = q ? tlen - t->r.path_len - 1 : 0;
  size_t n = 0;
  for (line = nl ? nl + 1 : NULL; line && *line; line = nl ? nl + 1 : NULL) {
    nl = strchr(line, '\n');
    size_t len = nl ? (size_t)(nl - line) : strlen(line);
    if (line[0] == ' ' && n) { /* obs-fold continuation */
      t->h[n - 1].value_len = (size_t)(line + len - t->h[n - 1].value);
      continue;
    }
    char *colon = memchr(line, ':', len);
    CHECK(colon && n < MAX_H);
    t->h[n++] =
        (ll_kv_t){line, (size_t)(colon - line), colon + 1, (size_t)(line + len - colon - 1)};
  }
  t->r.headers = t->h;
  t->r.nheaders = n;
  if (payload_hash)
    snprintf(t->payload, sizeof t->payload, "%s", payload_hash);
  else
    ll_sha256_hex(body ? body : "", body ? strlen(body) : 0, t->payload);
  t->r.payload_hash = t->payload;
  return t;
}

static void add_header(treq_t *t, const char *name, const char *value) {
  CHECK(t->r.nheaders < MAX_H);
  t->h[t->r.nheaders++] = (ll_kv_t){name, strlen(name), value, strlen(value)};
}

/* Removes every header called name (case-insensitive). */
static void drop_header(treq_t *t, const char *name) {
  size_t o = 0;
  for (size_t i = 0; i < t->r.nheaders; i++)
    if (!(t->h[i].name_len == strlen(name) && strncasecmp(t->h[i].name, name, strlen(name)) == 0))
      t->h[o++] = t->h[i];
  t->r.nheaders = o;
}

static void free_req(treq_t *t) {
  free(t->text);
  free(t);
}

static int verify(treq_t *t, time_t now, int skew, ll_sigv4_result_t *res) {
  return ll_sigv4_verify(&t->r, secret_of, NULL, now, skew, res);
}

/* The signature part of an Authorization value. */
static const char *sig_of(const char *authz) {
  const char *s = strstr(authz, "Signature=");
  return s ? s + 10 : "";
}

/* A suite vector: signing req (all its headers) gives authz exactly, the signed request
 * verifies, and the same request with one signature digit changed does not. */
static void check_suite(const char *wire, const char *authz) {
  treq_t *t = parse_req(wire, NULL);
  char out[512];
  CHECK_INTEQ(ll_sigv4_sign(&t->r, "AKIDEXAMPLE", SUITE_SECRET, "us-east-1", "service",
                            "20150830T123600Z", out, sizeof out),
              0);
  CHECK_STREQ(out, authz);

  add_header(t, "Authorization", authz);
  ll_sigv4_result_t res;
  int rc = verify(t, SUITE_NOW, 900, &res);
  if (rc != 0) fprintf(stderr, "verify: %d %s %s\n", res.status, res.code, res.message);
  CHECK_INTEQ(rc, 0);
  CHECK_STREQ(res.access_key, "AKIDEXAMPLE");
  CHECK_STREQ(res.region, "us-east-1");
  CHECK_STREQ(res.service, "service");
  CHECK_STREQ(res.amz_date, "20150830T123600Z");
  CHECK_STREQ(res.signature, sig_of(authz));

  char bad[512];
  snprintf(bad, sizeof bad, "%s", authz);
  char *last = bad + strlen(bad) - 1;
  *last = *last == '0' ? '1' : '0';
  t->h[t->r.nheaders - 1].value = bad;
  CHECK_INTEQ(verify(t, SUITE_NOW, 900, &res), -1);
  CHECK_INTEQ(res.status, 403);
  CHECK_STREQ(res.code, "InvalidSignatureException");
  CHECK_STREQ(res.s3_code, "SignatureDoesNotMatch");
  free_req(t);
}

#define AUTHZ(sh, sig)                                                                \
  "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, " \
  "SignedHeaders=" sh ", Signature=" sig

/* ---- the published suite ----------------------------------------------------------------- */

/* get-vanilla/get-vanilla (also the expected result of get-vanilla-query) */
LL_TEST(sigv4_suite_get_vanilla) {
  check_suite(
      "GET / HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
      AUTHZ("host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"));
}

/* get-vanilla-empty-query-key/get-vanilla-empty-query-key */
LL_TEST(sigv4_suite_get_vanilla_empty_query_key) {
  check_suite(
      "GET /?Param1=value1 HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
      AUTHZ("host;x-amz-date", "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"));
}

/* get-vanilla-query-order-key-case/get-vanilla-query-order-key-case */
LL_TEST(sigv4_suite_get_vanilla_query_order_key_case) {
  check_suite(
      "GET /?Param2=value2&Param1=value1 HTTP/1.1\nHost:example.amazonaws.com\n"
      "X-Amz-Date:20150830T123600Z",
      AUTHZ("host;x-amz-date", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"));
}

/* get-vanilla-query-order-key/get-vanilla-query-order-key (same key: "Value1" < "value2") */
LL_TEST(sigv4_suite_get_vanilla_query_order_key) {
  check_suite(
      "GET /?Param1=value2&Param1=Value1 HTTP/1.1\nHost:example.amazonaws.com\n"
      "X-Amz-Date:20150830T123600Z",
      AUTHZ("host;x-amz-date", "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1"));
}

/* get-vanilla-query-order-value/get-vanilla-query-order-value */
LL_TEST(sigv4_suite_get_vanilla_query_order_value) {
  check_suite(
      "GET /?Param1=value2&Param1=value1 HTTP/1.1\nHost:example.amazonaws.com\n"
      "X-Amz-Date:20150830T123600Z",
      AUTHZ("host;x-amz-date", "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"));
}

/* get-vanilla-query-order-encoded/get-vanilla-query-order-encoded (sorted by key, not by
 * "key=value": Param before Param-3) */
LL_TEST(sigv4_suite_get_vanilla_query_order_encoded) {
  check_suite(
      "GET /?Param-3=Value3&Param=Value2&%E1%88%B4=Value1 HTTP/1.1\nHost:example.amazonaws.com\n"
      "X-Amz-Date:20150830T123600Z",
      AUTHZ("host;x-amz-date", "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac"));
}

/* get-vanilla-query-unreserved/get-vanilla-query-unreserved */
LL_TEST(sigv4_suite_get_vanilla_query_unreserved) {
  check_suite(
      "GET /?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
      "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz HTTP/1.1\n"
      "Host:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
      AUTHZ("host;x-amz-date", "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"));
}

/* get-vanilla-utf8-query/get-vanilla-utf8-query (raw UTF-8 U+1234 in the query) */
LL_TEST(sigv4_suite_get_vanilla_utf8_query) {
  check_suite(
      "GET /?\xe1\x88\xb4=bar HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
      AUTHZ("host;x-amz-date", "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"));
}

/* get-utf8/get-utf8 (raw UTF-8 in the path) */
LL_TEST(sigv4_suite_get_utf8) {
  check_suite(
      "GET /\xe1\x88\xb4 HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
      AUTHZ("host;x-amz-date", "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"));
}

/* get-unreserved/get-unreserved */
LL_TEST(sigv4_suite_get_unreserved) {
  check_suite(
      "GET /-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz HTTP/1.1\n"
      "Host:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
      AUTHZ("host;x-amz-date", "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"));
}

/* get-header-key-duplicate/get-header-key-duplicate */
LL_TEST(sigv4_suite_get_header_key_duplicate) {
  check_suite(
      "GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value2\nMy-Header1:value2\n"
      "My-Header1:value1\nX-Amz-Date:20150830T123600Z",
      AUTHZ("host;my-header1;x-amz-date",
            "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"));
}

/* get-header-value-order/get-header-value-order */
LL_TEST(sigv4_suite_get_header_value_order) {
  check_suite(
      "GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value4\nMy-Header1:value1\n"
      "My-Header1:value3\nMy-Header1:value2\nX-Amz-Date:20150830T123600Z",
      AUTHZ("host;my-header1;x-amz-date",
            "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"));
}

/* get-header-value-trim/get-header-value-trim */
LL_TEST(sigv4_suite_get_header_value_trim) {
  check_suite(
      "GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1: value1\n"
      "My-Header2: \"a   b   c\"\nX-Amz-Date:20150830T123600Z",
      AUTHZ("host;my-header1;my-header2;x-amz-date",
            "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"));
}

/* get-header-value-multiline/get-header-value-multiline (obs-fold lines kept with their '\n') */
LL_TEST(sigv4_suite_get_header_value_multiline) {
  check_suite(
      "GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value1\n  value2\n     value3\n"
      "X-Amz-Date:20150830T123600Z",
      AUTHZ("host;my-header1;x-amz-date",
            "cfd34249e4b1c8d6b91ef74165d41a32e5fab3306300901bb65a51a73575eefd"));
}

/* get-vanilla-with-session-token/get-vanilla-with-session-token (the .req omits the token the
 * .creq signs; it is added here as the .sreq and aws-c-auth's request show it) */
LL_TEST(sigv4_suite_get_vanilla_with_session_token) {
  check_suite(
      "GET / HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\n"
      "X-Amz-Security-Token:6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267",
      AUTHZ("host;x-amz-date;x-amz-security-token",
            "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"));
}

/* normalize-path/get-relative/get-relative */
LL_TEST(sigv4_suite_normalize_get_relative) {
  check_suite(
      "GET /example/.. HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
      AUTHZ("host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"));
}

/* normalize-path/get-relative-relative/get-relative-relative */
LL_TEST(sigv4_suite_normalize_get_relative_relative) {
  check_suite(
      "GET /example1/example2/../.. HTTP/1.1\nHost:example.amazonaws.com\n"
      "X-Amz-Date:20150830T123600Z",
      AUTHZ("host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"));
}

/* normalize-path/get-slash/get-slash */
LL_TEST(sigv4_suite_normalize_get_slash) {
  check_suite(
      "GET // HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
      AUTHZ("host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"));
}

/* normalize-path/get-slash-dot-slash/get-slash-dot-slash */
LL_TEST(sigv4_suite_normalize_get_slash_dot_slash) {
  check_suite(
      "GET /./ HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
      AUTHZ("host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"));
}

/* normalize-path/get-slash-pointless-dot/get-slash-pointless-dot */
LL_TEST(sigv4_suite_normalize_get_slash_pointless_dot) {
  check_suite(
      "GET /./example HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
      AUTHZ("host;x-amz-date", "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5"));
}

/* normalize-path/get-slashes/get-slashes */
LL_TEST(sigv4_suite_normalize_get_slashes) {
  check_suite(
      "GET //example// HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
      AUTHZ("host;x-amz-date", "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"));
}

/* normalize-path/get-space/get-space */
LL_TEST(sigv4_suite_normalize_get_space) {
  check_suite(
      "GET /example space/ HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
      AUTHZ("host;x-amz-date", "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"));
}

/* normalize-path/get-special-character/get-special-character */
LL_TEST(sigv4_suite_normalize_get_special_character) {
  check_suite(
      "GET /example/$delete HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
      AUTHZ("host;x-amz-date", "a853c9b21b528b19643d00910d35b83a10c366a10833ceefb45edd6c80e40f27"));
}

/* post-vanilla/post-vanilla (also post-header-key-case, post-sts-header-after) */
LL_TEST(sigv4_suite_post_vanilla) {
  check_suite(
      "POST / HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
      AUTHZ("host;x-amz-date", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"));
}

/* post-vanilla-query/post-vanilla-query (also post-vanilla-empty-query-value) */
LL_TEST(sigv4_suite_post_vanilla_query) {
  check_suite(
      "POST /?Param1=value1 HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
      AUTHZ("host;x-amz-date", "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"));
}

/* post-header-key-sort/post-header-key-sort */
LL_TEST(sigv4_suite_post_header_key_sort) {
  check_suite(
      "POST / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value1\n"
      "X-Amz-Date:20150830T123600Z",
      AUTHZ("host;my-header1;x-amz-date",
            "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"));
}

/* post-header-value-case/post-header-value-case */
LL_TEST(sigv4_suite_post_header_value_case) {
  check_suite(
      "POST / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:VALUE1\n"
      "X-Amz-Date:20150830T123600Z",
      AUTHZ("host;my-header1;x-amz-date",
            "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"));
}

/* post-sts-token/post-sts-header-before/post-sts-header-before */
LL_TEST(sigv4_suite_post_sts_header_before) {
  check_suite(
      "POST / HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\n"
      "X-Amz-Security-Token:AQoDYXdzEPT//////////"
      "wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKW"
      "HGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZa"
      "mpKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPk"
      "UL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==",
      AUTHZ("host;x-amz-date;x-amz-security-token",
            "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"));
}

/* post-x-www-form-urlencoded/post-x-www-form-urlencoded (body hash 9095672b...) */
LL_TEST(sigv4_suite_post_x_www_form_urlencoded) {
  check_suite(
      "POST / HTTP/1.1\nContent-Type:application/x-www-form-urlencoded\n"
      "Host:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\n\nParam1=value1",
      AUTHZ("content-type;host;x-amz-date",
            "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"));
}

/* post-x-www-form-urlencoded-parameters/post-x-www-form-urlencoded-parameters */
LL_TEST(sigv4_suite_post_x_www_form_urlencoded_parameters) {
  check_suite(
      "POST / HTTP/1.1\nContent-Type:application/x-www-form-urlencoded; charset=utf8\n"
      "Host:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\n\nParam1=value1",
      AUTHZ("content-type;host;x-amz-date",
            "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe"));
}

/* ---- real captures ----------------------------------------------------------------------- */

/* A captured request (headers as sent, Authorization included) verifies at its own time, and
 * fails with one byte of the body changed. */
static void check_capture(const char *wire, const char *body, time_t now) {
  char hash[65];
  ll_sha256_hex(body, strlen(body), hash);
  treq_t *t = parse_req(wire, hash);
  ll_sigv4_result_t res;
  int rc = verify(t, now, 900, &res);
  if (rc != 0) fprintf(stderr, "verify: %d %s %s\n", res.status, res.code, res.message);
  CHECK_INTEQ(rc, 0);
  CHECK(res.status == 0 && res.code == NULL);
  free_req(t);

  char *other = strdup(body);
  other[0] ^= 1;
  ll_sha256_hex(other, strlen(other), hash);
  t = parse_req(wire, hash);
  CHECK_INTEQ(verify(t, now, 900, &res), -1);
  CHECK_STREQ(res.code, "InvalidSignatureException");
  free(other);
  free_req(t);
}

/* cli-lambda-invoke.log: aws lambda invoke (aws-cli/2.9.19) */
LL_TEST(sigv4_capture_cli_lambda_invoke) {
  check_capture(
      "POST /2015-03-31/functions/bench-dev-echo/invocations HTTP/1.1\n"
      "Host: 127.0.0.1:8099\n"
      "Accept-Encoding: identity\n"
      "User-Agent: aws-cli/2.9.19 Python/3.11.2 Linux/6.18.44-fc-v595 source/x86_64.debian.12 "
      "prompt/off command/lambda.invoke\n"
      "X-Amz-Date: 20261124T115307Z\n"
      "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/lambda/"
      "aws4_request, SignedHeaders=host;x-amz-date, "
      "Signature=a8c30fac711a98bbffad3955d1afeab6e5c58bb90646cf11782c29d06279cacc\n"
      "Content-Length: 2",
      "{}", 1795521187);
}

/* boto3-deb-lambda-invoke.log: boto3 1.26.27 Lambda Invoke (lower-case "host" header) */
LL_TEST(sigv4_capture_boto3_lambda_invoke) {
  check_capture(
      "POST /2015-03-31/functions/bench-dev-echo/invocations HTTP/1.1\n"
      "Accept-Encoding: identity\n"
      "User-Agent: Boto3/1.26.27 Python/3.11.2 Linux/6.18.44-fc-v595 awscrt/1.0.0.dev0 "
      "Botocore/1.29.27\n"
      "host: 127.0.0.1:8099\n"
      "X-Amz-Date: 20261124T115322Z\n"
      "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/lambda/"
      "aws4_request, SignedHeaders=host;x-amz-date, "
      "Signature=999cec6c5aecb0a39919f4bcb3f54e71742b9ff584c0f1d784bd18c765c6036f\n"
      "amz-sdk-invocation-id: 0d2f3ae9-667f-4300-9124-8c9afb8d8905\n"
      "amz-sdk-request: attempt=1\n"
      "Content-Length: 7",
      "{\"x\":1}", 1795521202);
}

/* cli-kinesis-put-record.log: aws kinesis put-record */
LL_TEST(sigv4_capture_cli_kinesis_put_record) {
  check_capture(
      "POST / HTTP/1.1\n"
      "Host: 127.0.0.1:8099\n"
      "Accept-Encoding: identity\n"
      "X-Amz-Target: Kinesis_20131202.PutRecord\n"
      "Content-Type: application/x-amz-json-1.1\n"
      "User-Agent: aws-cli/2.9.19 Python/3.11.2 Linux/6.18.44-fc-v595 source/x86_64.debian.12 "
      "prompt/off command/kinesis.put-record\n"
      "X-Amz-Date: 20261124T115310Z\n"
      "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/kinesis/"
      "aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
      "Signature=5071422cf1ad8e5b15ed60749450f8814c82d62f7617d666dd8a0b5ea68f0f69\n"
      "Content-Length: 64",
      "{\"StreamName\": \"cap\", \"Data\": \"aGVsbG8=\", \"PartitionKey\": \"pk1\"}", 1795521190);
}

/* S3 captures carry X-Amz-Content-SHA256, which is the payload hash; the secret is "S3RVER". */
static void check_s3_capture(const char *wire, time_t now) {
  treq_t *t = parse_req(wire, NULL);
  const ll_kv_t *h = ll_kv_find(t->h, t->r.nheaders, "x-amz-content-sha256");
  CHECK(h && h->value_len == 65 && h->value[0] == ' ');
  memcpy(t->payload, h->value + 1, 64);
  ll_sigv4_result_t res;
  int rc = verify(t, now, 900, &res);
  if (rc != 0) fprintf(stderr, "verify: %d %s %s\n", res.status, res.code, res.message);
  CHECK_INTEQ(rc, 0);
  CHECK_STREQ(res.service, "s3");
  CHECK_STREQ(res.access_key, "S3RVER");
  free_req(t);
}

/* cli-s3api-put-object-small.log */
LL_TEST(sigv4_capture_s3api_put_object) {
  check_s3_capture(
      "PUT /cap/small2.txt HTTP/1.1\n"
      "Host: 127.0.0.1:8099\n"
      "Accept-Encoding: identity\n"
      "User-Agent: aws-cli/2.9.19 Python/3.11.2 Linux/6.18.44-fc-v595 source/x86_64.debian.12 "
      "prompt/off command/s3api.put-object\n"
      "Content-MD5: m8rr/2JgTkr5HSe0dKMRyA==\n"
      "Expect: 100-continue\n"
      "X-Amz-Date: 20261124T115315Z\n"
      "X-Amz-Content-SHA256: f2bf60168438cf59abbf5f57346d92996f8c21fd139636f4981cdac3945a8173\n"
      "Authorization: AWS4-HMAC-SHA256 Credential=S3RVER/20261124/us-east-1/s3/aws4_request, "
      "SignedHeaders=content-md5;host;x-amz-content-sha256;x-amz-date, "
      "Signature=cb2d6445b8e428925afe0dd0c503314becba72b0ee0f1e4d99be3f628fa98c03\n"
      "Content-Length: 136",
      1795521195);
}

/* cli-s3-cp-20MB.log request 1: CreateMultipartUpload, the bare key "?uploads" */
LL_TEST(sigv4_capture_s3_create_multipart_upload) {
  check_s3_capture(
      "POST /cap/big20m.bin?uploads HTTP/1.1\n"
      "Host: 127.0.0.1:8099\n"
      "Accept-Encoding: identity\n"
      "Content-Type: application/octet-stream\n"
      "User-Agent: aws-cli/2.9.19 Python/3.11.2 Linux/6.18.44-fc-v595 source/x86_64.debian.12 "
      "prompt/off command/s3.cp\n"
      "X-Amz-Date: 20261124T115313Z\n"
      "X-Amz-Content-SHA256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
      "Authorization: AWS4-HMAC-SHA256 Credential=S3RVER/20261124/us-east-1/s3/aws4_request, "
      "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, "
      "Signature=7d51d20fd691d2632a74bdee0bb053e77017c514b834d39644fc00d98ed552e8\n"
      "Content-Length: 0",
      1795521193);
}

/* cli-s3-cp-20MB.log request 2: UploadPart, query keys out of order (partNumber < uploadId) */
LL_TEST(sigv4_capture_s3_upload_part) {
  check_s3_capture(
      "PUT /cap/big20m.bin?uploadId=3110cb9167476d3724220942926b999e&partNumber=3 HTTP/1.1\n"
      "Host: 127.0.0.1:8099\n"
      "Accept-Encoding: identity\n"
      "User-Agent: aws-cli/2.9.19 Python/3.11.2 Linux/6.18.44-fc-v595 source/x86_64.debian.12 "
      "prompt/off command/s3.cp\n"
      "Content-MD5: w8F4t4XL4GGhvIBs1Ngs/w==\n"
      "Expect: 100-continue\n"
      "X-Amz-Date: 20261124T115313Z\n"
      "X-Amz-Content-SHA256: a74f4085b1fa11685df3b352c58a21ae9ef5bd9b279f5e0616a34a829cb3b684\n"
      "Authorization: AWS4-HMAC-SHA256 Credential=S3RVER/20261124/us-east-1/s3/aws4_request, "
      "SignedHeaders=content-md5;host;x-amz-content-sha256;x-amz-date, "
      "Signature=61f96a7a380f518e707fe643d1d74825f49723f340ea5563ca510de172f77f0c\n"
      "Content-Length: 4194304",
      1795521193);
}

/* ---- botocore-signed requests (see the top of the file) -------------------------------- */

#define NOW26 ((time_t)1795521187) /* 20261124T115307Z */

/* Signs wire (its headers) for service and expects authz; then verifies authz. */
static void check_botocore(const char *wire, const char *payload, const char *service,
                           const char *authz) {
  treq_t *t = parse_req(wire, payload);
  char out[512];
  CHECK_INTEQ(ll_sigv4_sign(&t->r, "AKIDEXAMPLE", SUITE_SECRET, "us-east-1", service,
                            "20261124T115307Z", out, sizeof out),
              0);
  CHECK_STREQ(out, authz);
  add_header(t, "Authorization", authz);
  ll_sigv4_result_t res;
  int rc = verify(t, NOW26, 900, &res);
  if (rc != 0) fprintf(stderr, "verify: %d %s %s\n", res.status, res.code, res.message);
  CHECK_INTEQ(rc, 0);
  free_req(t);
}

/* Canonical URI /2015-03-31/functions/arn%253Aaws%253Alambda%253Aus-east-1%253A123456789012
 * %253Afunction%253Amy-fn/invocations: the wire's %3A encoded again. */
LL_TEST(sigv4_botocore_lambda_arn_path) {
  char body[65];
  ll_sha256_hex("{}", 2, body);
  check_botocore(
      "POST /2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3A"
      "my-fn/invocations HTTP/1.1\nHost: 127.0.0.1:8099\nX-Amz-Date: 20261124T115307Z",
      body, "lambda",
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/lambda/aws4_request, "
      "SignedHeaders=host;x-amz-date, "
      "Signature=3f630974980f2d0471a6c309e08208fd0b825d96f0d4f575d77c3cd0f76ea625");
}

/* Canonical query a=1&b=a%20b&b=two%20words&c=x%2By&flag= */
LL_TEST(sigv4_botocore_query_spaces_and_repeated_keys) {
  check_botocore(
      "GET /2015-03-31/functions/?b=two%20words&a=1&b=a%20b&flag&c=x%2By HTTP/1.1\n"
      "Host: 127.0.0.1:8099\nX-Amz-Date: 20261124T115307Z",
      EMPTY_SHA, "lambda",
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/lambda/aws4_request, "
      "SignedHeaders=host;x-amz-date, "
      "Signature=19705ea30199f26aa6fd63208ee23f3882919fbf469a83d1429a14079a7bda63");
}

/* S3: canonical URI /bucket/a%3Ab//c/../d.txt, the wire path untouched. */
LL_TEST(sigv4_botocore_s3_path_as_is) {
  check_botocore(
      "GET /bucket/a%3Ab//c/../d.txt HTTP/1.1\nHost: 127.0.0.1:8099\n"
      "X-Amz-Date: 20261124T115307Z\nX-Amz-Content-SHA256: " EMPTY_SHA,
      EMPTY_SHA, "s3",
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/s3/aws4_request, "
      "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
      "Signature=532abeda87b576f15064bcbd074be4880c95c596ea2c42a3499109ce1a04a924");
}

/* The same path for another service: /bucket/a%253Ab/d.txt (normalized, encoded again). */
LL_TEST(sigv4_botocore_non_s3_path_normalized) {
  check_botocore(
      "GET /bucket/a%3Ab//c/../d.txt HTTP/1.1\nHost: 127.0.0.1:8099\n"
      "X-Amz-Date: 20261124T115307Z",
      EMPTY_SHA, "lambda",
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/lambda/aws4_request, "
      "SignedHeaders=host;x-amz-date, "
      "Signature=69c0630fd21a48263e383423bff4d13e2468664ba67c528809b9677aeb48b0ab");
}

/* ---- an independent reference: the signing chain over OpenSSL's HMAC ------------------------ */

static void ref_signature(const char *creq, const char *secret, const char *amz_date,
                          const char *region, const char *service, char out[65]) {
  char hash[65], sts[512], key[256];
  unsigned char k[32];
  ll_sha256_hex(creq, strlen(creq), hash);
  snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n%.8s/%s/%s/aws4_request\n%s", amz_date, amz_date,
           region, service, hash);
  snprintf(key, sizeof key, "AWS4%s", secret);
  ll_hmac_sha256(key, strlen(key), amz_date, 8, k);
  ll_hmac_sha256(k, 32, region, strlen(region), k);
  ll_hmac_sha256(k, 32, service, strlen(service), k);
  ll_hmac_sha256(k, 32, "aws4_request", 12, k);
  ll_hmac_sha256(k, 32, sts, strlen(sts), k);
  ll_hex(k, 32, out);
}

/* The botocore expectations above follow from these canonical requests, and a secret longer
 * than the 64-byte HMAC block (hashed first) signs like OpenSSL's HMAC. */
LL_TEST(sigv4_reference_canonical_requests) {
  char want[65];
  ref_signature(
      "GET\n/bucket/a%3Ab//c/../d.txt\n\nhost:127.0.0.1:8099\nx-amz-content-sha256:" EMPTY_SHA
      "\nx-amz-date:20261124T115307Z\n\nhost;x-amz-content-sha256;x-amz-date\n" EMPTY_SHA,
      SUITE_SECRET, "20261124T115307Z", "us-east-1", "s3", want);
  CHECK_STREQ(want, "532abeda87b576f15064bcbd074be4880c95c596ea2c42a3499109ce1a04a924");
  ref_signature(
      "GET\n/2015-03-31/functions/\na=1&b=a%20b&b=two%20words&c=x%2By&flag=\n"
      "host:127.0.0.1:8099\nx-amz-date:20261124T115307Z\n\nhost;x-amz-date\n" EMPTY_SHA,
      SUITE_SECRET, "20261124T115307Z", "us-east-1", "lambda", want);
  CHECK_STREQ(want, "19705ea30199f26aa6fd63208ee23f3882919fbf469a83d1429a14079a7bda63");

  const char *long_secret = secret_of(NULL, "AKIDLONGSECRET");
  CHECK(strlen(long_secret) + 4 > 64);
  ref_signature(
      "GET\n/a%2520b\n\nhost:h\nx-amz-date:20261124T115307Z\n\nhost;x-amz-date\n" EMPTY_SHA,
      long_secret, "20261124T115307Z", "eu-west-1", "dynamodb", want);
  treq_t *t = parse_req("GET /a%20b HTTP/1.1\nhost:h\nx-amz-date:20261124T115307Z", EMPTY_SHA);
  char out[512], expect[512];
  CHECK_INTEQ(ll_sigv4_sign(&t->r, "AKIDLONGSECRET", long_secret, "eu-west-1", "dynamodb",
                            "20261124T115307Z", out, sizeof out),
              0);
  snprintf(expect, sizeof expect,
           "AWS4-HMAC-SHA256 Credential=AKIDLONGSECRET/20261124/eu-west-1/dynamodb/aws4_request, "
           "SignedHeaders=host;x-amz-date, Signature=%s",
           want);
  CHECK_STREQ(out, expect);
  free_req(t);
}

/* ---- round trips ------------------------------------------------------------------------- */

/* Signs t's headers for service at amz_date, adds the Authorization header, verifies at now. */
static int sign_and_verify(treq_t *t, const char *ak, const char *secret, const char *service,
                           const char *amz_date, time_t now, int skew, char *authz, size_t sz,
                           ll_sigv4_result_t *res) {
  CHECK_INTEQ(ll_sigv4_sign(&t->r, ak, secret, "us-east-1", service, amz_date, authz, sz), 0);
  add_header(t, "Authorization", authz);
  return ll_sigv4_verify(&t->r, secret_of, NULL, now, skew, res);
}

LL_TEST(sigv4_round_trip_paths_and_queries) {
  static const char *const targets[] = {
      "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af/"
      "invocations?Qualifier=%24LATEST",
      "/a/./b/../c//d/?x=two%20words&x=a+b&y&z=&x=%zz%4",
      "/?%E1%88%B4=%e1%88%b4&&=&a=b=c",
      "",
      "/..",
      "/a b/\xff/%2F?list-type=2&prefix=a%2Fb&delimiter=%2F",
  };
  static const char *const services[] = {"lambda", "s3", "kinesis"};
  for (size_t i = 0; i < sizeof targets / sizeof *targets; i++) {
    for (size_t j = 0; j < 3; j++) {
      char wire[512];
      snprintf(wire, sizeof wire,
               "GET %s HTTP/1.1\nHost: localhost:4566\nX-Amz-Date: 20261124T115307Z\n"
               "X-Amz-Target:  a  b \nx-amz-meta-k: 1\nX-Amz-Meta-K: 2",
               *targets[i] ? targets[i] : "/");
      treq_t *t = parse_req(wire, "UNSIGNED-PAYLOAD");
      if (!*targets[i]) t->r.path_len = 0; /* an empty path signs as "/" */
      char authz[512];
      ll_sigv4_result_t res;
      int rc = sign_and_verify(t, "AKIDEXAMPLE", SUITE_SECRET, services[j], "20261124T115307Z",
                               NOW26, 300, authz, sizeof authz, &res);
      if (rc) fprintf(stderr, "%s %s: %s\n", targets[i], services[j], res.message);
      CHECK_INTEQ(rc, 0);
      CHECK(strstr(authz, "SignedHeaders=host;x-amz-date;x-amz-meta-k;x-amz-target,"));
      free_req(t);
    }
  }
}

/* '+' in a raw query is a literal plus (%2B), never a space (%20); X-Amz-Signature is not part
 * of the canonical query; the encoded-key order puts "%2B" before "A". */
LL_TEST(sigv4_query_plus_and_signature_param) {
  char a[65], b[65];
  treq_t *t = parse_req("GET /?k=a+b HTTP/1.1\nhost:h\nx-amz-date:20261124T115307Z", EMPTY_SHA);
  treq_t *u = parse_req("GET /?k=a%2Bb HTTP/1.1\nhost:h\nx-amz-date:20261124T115307Z", EMPTY_SHA);
  treq_t *v = parse_req("GET /?k=a%20b HTTP/1.1\nhost:h\nx-amz-date:20261124T115307Z", EMPTY_SHA);
  treq_t *w = parse_req(
      "GET /?X-Amz-Signature=abc&k=a%2bb HTTP/1.1\nhost:h\nx-amz-date:20261124T115307Z", EMPTY_SHA);
  char out[4][512];
  treq_t *all[4] = {t, u, v, w};
  for (int i = 0; i < 4; i++)
    CHECK_INTEQ(ll_sigv4_sign(&all[i]->r, "AKIDEXAMPLE", SUITE_SECRET, "us-east-1", "lambda",
                              "20261124T115307Z", out[i], sizeof out[i]),
                0);
  CHECK_STREQ(out[0], out[1]);
  CHECK(strcmp(out[0], out[2]) != 0);
  CHECK_STREQ(out[0], out[3]);
  ref_signature(
      "GET\n/\nk=a%2Bb\nhost:h\nx-amz-date:20261124T115307Z\n\nhost;x-amz-date\n" EMPTY_SHA,
      SUITE_SECRET, "20261124T115307Z", "us-east-1", "lambda", a);
  CHECK_STREQ(sig_of(out[0]), a);
  ref_signature(
      "GET\n/\nk=a%20b\nhost:h\nx-amz-date:20261124T115307Z\n\nhost;x-amz-date\n" EMPTY_SHA,
      SUITE_SECRET, "20261124T115307Z", "us-east-1", "lambda", b);
  CHECK_STREQ(sig_of(out[2]), b);
  for (int i = 0; i < 4; i++) free_req(all[i]);
}

/* Requests far beyond every stack buffer: many path segments, query pairs and headers, and a
 * 100 KB header value. */
LL_TEST(sigv4_round_trip_huge_request) {
  size_t plen = 30000, qlen = 60000;
  char *path = malloc(plen + 1), *query = malloc(qlen + 1), *big = malloc(100001);
  for (size_t i = 0; i < plen; i++) path[i] = i % 3 == 0 ? '/' : (i % 7 == 0 ? '.' : 'a');
  path[plen] = '\0';
  size_t q = 0;
  for (int i = 0; q + 20 < qlen; i++) q += (size_t)sprintf(query + q, "k%d=v%%20%d&", i % 97, i);
  query[q] = '\0';
  memset(big, 'x', 100000);
  for (size_t i = 0; i < 100000; i += 10) big[i] = ' ';
  big[100000] = '\0';
  static const char *const services[] = {"lambda", "s3"};
  for (int s = 0; s < 2; s++) {
    ll_kv_t h[200];
    char names[200][16];
    size_t n = 0;
    h[n++] = (ll_kv_t){"Host", 4, "h", 1};
    h[n++] = (ll_kv_t){"X-Amz-Date", 10, "20261124T115307Z", 16};
    h[n++] = (ll_kv_t){"X-Big", 5, big, 100000};
    while (n < 190) {
      snprintf(names[n], sizeof names[n], "x-h%zu", n % 150);
      h[n] = (ll_kv_t){names[n], strlen(names[n]), "v", 1};
      n++;
    }
    ll_sigv4_request_t r = {"PUT", path, plen, query, q, h, n, EMPTY_SHA};
    char *authz = malloc(8192);
    CHECK_INTEQ(ll_sigv4_sign(&r, "AKIDEXAMPLE", SUITE_SECRET, "us-east-1", services[s],
                              "20261124T115307Z", authz, 8192),
                0);
    h[n++] = (ll_kv_t){"Authorization", 13, authz, strlen(authz)};
    r.nheaders = n;
    ll_sigv4_result_t res;
    int rc = ll_sigv4_verify(&r, secret_of, NULL, NOW26, 60, &res);
    if (rc) fprintf(stderr, "%s\n", res.message);
    CHECK_INTEQ(rc, 0);
    /* Too small an output buffer: -1 and an empty string, never an overflow. */
    char small[100];
    CHECK_INTEQ(ll_sigv4_sign(&r, "AKIDEXAMPLE", SUITE_SECRET, "us-east-1", services[s],
                              "20261124T115307Z", small, sizeof small),
                -1);
    CHECK_STREQ(small, "");
    free(authz);
  }
  free(path);
  free(query);
  free(big);
}

/* The RFC 1123 Date header stands in for X-Amz-Date. */
LL_TEST(sigv4_date_header_instead_of_x_amz_date) {
  treq_t *t =
      parse_req("POST /x HTTP/1.1\nHost: h\nDate: Tue, 24 Nov 2026 11:53:07 GMT", EMPTY_SHA);
  char authz[512];
  ll_sigv4_result_t res;
  CHECK_INTEQ(sign_and_verify(t, "AKIDEXAMPLE", SUITE_SECRET, "lambda", "20261124T115307Z",
                              NOW26 + 30, 300, authz, sizeof authz, &res),
              0);
  CHECK_STREQ(res.amz_date, "20261124T115307Z");
  CHECK(strstr(authz, "SignedHeaders=date;host,"));
  free_req(t);
}

/* ---- failures ---------------------------------------------------------------------------- */

#define VANILLA "GET / HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\n"
#define VANILLA_SIG "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"

/* Verifies VANILLA plus extra header lines at SUITE_NOW; expects failure with status and code. */
static void expect_fail(const char *extra, int status, const char *code, const char *s3_code,
                        const char *msg_part, ll_sigv4_result_t *res) {
  char wire[2048];
  snprintf(wire, sizeof wire, VANILLA "%s", extra);
  treq_t *t = parse_req(wire, EMPTY_SHA);
  CHECK_INTEQ(verify(t, SUITE_NOW, 900, res), -1);
  if (!strstr(res->message, msg_part))
    fprintf(stderr, "message: %s\nwant part: %s\n", res->message, msg_part);
  CHECK(strstr(res->message, msg_part) != NULL);
  CHECK_INTEQ(res->status, status);
  CHECK_STREQ(res->code, code);
  CHECK_STREQ(res->s3_code, s3_code);
  free_req(t);
}

LL_TEST(sigv4_fail_missing_authorization) {
  ll_sigv4_result_t res;
  expect_fail("", 403, "MissingAuthenticationTokenException", "AccessDenied",
              "Missing Authentication Token", &res);
  CHECK_STREQ(res.message, "Missing Authentication Token");
}

LL_TEST(sigv4_fail_malformed_authorization) {
  ll_sigv4_result_t res;
  expect_fail("authorization: Bearer abc", 400, "IncompleteSignatureException",
              "AuthorizationHeaderMalformed", "Authorization=Bearer abc", &res);
  expect_fail("Authorization: AWS4-HMAC-SHA256", 400, "IncompleteSignatureException",
              "AuthorizationHeaderMalformed", "AWS4-HMAC-SHA256", &res);
  expect_fail(
      "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
      "aws4_request, SignedHeaders=host;x-amz-date",
      400, "IncompleteSignatureException", "AuthorizationHeaderMalformed",
      "Authorization header requires 'Signature' parameter. Authorization=AWS4-HMAC-SHA256 "
      "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
      "SignedHeaders=host;x-amz-date",
      &res);
  CHECK(strstr(res.message, "'Credential'") == NULL);
  expect_fail("Authorization: AWS4-HMAC-SHA256 Signature=" VANILLA_SIG, 400,
              "IncompleteSignatureException", "AuthorizationHeaderMalformed",
              "Authorization header requires 'Credential' parameter. Authorization header "
              "requires 'SignedHeaders' parameter. Authorization=",
              &res);
  expect_fail(
      "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
      "aws4_request, SignedHeaders, Signature=" VANILLA_SIG,
      400, "IncompleteSignatureException", "AuthorizationHeaderMalformed",
      "'SignedHeaders' not a valid key=value pair (missing equal-sign)", &res);
}

LL_TEST(sigv4_fail_bad_credential_scope) {
  ll_sigv4_result_t res;
  expect_fail(
      "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/"
      "aws4_request, SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG,
      400, "IncompleteSignatureException", "AuthorizationHeaderMalformed",
      "the Credential is mal-formed", &res);
  CHECK_STREQ(res.access_key, "AKIDEXAMPLE");
  expect_fail(
      "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
      "aws4_requesx, SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG,
      400, "IncompleteSignatureException", "AuthorizationHeaderMalformed",
      "Credential should be scoped with a valid terminator: 'aws4_request', not "
      "'aws4_requesx'.",
      &res);
  expect_fail(
      "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/2015083/us-east-1/service/"
      "aws4_request, SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG,
      400, "IncompleteSignatureException", "AuthorizationHeaderMalformed",
      "the Credential is mal-formed", &res);
  expect_fail(
      "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
      "aws4_request/x, SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG,
      400, "IncompleteSignatureException", "AuthorizationHeaderMalformed",
      "the Credential is mal-formed", &res);
}

LL_TEST(sigv4_fail_unknown_access_key) {
  ll_sigv4_result_t res;
  expect_fail(
      "Authorization: AWS4-HMAC-SHA256 Credential=AKIDNOBODY/20150830/us-east-1/service/"
      "aws4_request, SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG,
      403, "UnrecognizedClientException", "InvalidAccessKeyId",
      "The security token included in the request is invalid.", &res);
  CHECK_STREQ(res.access_key, "AKIDNOBODY");
  expect_fail(
      "Authorization: AWS4-HMAC-SHA256 Credential=AKIDNOBODY/20150830/us-east-1/s3/"
      "aws4_request, SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG,
      403, "UnrecognizedClientException", "InvalidAccessKeyId",
      "The AWS Access Key Id you provided does not exist in our records.", &res);
}

LL_TEST(sigv4_fail_dates) {
  ll_sigv4_result_t res;
  treq_t *t = parse_req(
      "GET / HTTP/1.1\nHost:example.amazonaws.com\n"
      "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
      "aws4_request, SignedHeaders=host;x-amz-date, Signature=" VANILLA_SIG,
      EMPTY_SHA);
  CHECK_INTEQ(verify(t, SUITE_NOW, 900, &res), -1);
  CHECK_INTEQ(res.status, 400);
  CHECK_STREQ(res.code, "IncompleteSignatureException");
  CHECK(strstr(res.message, "requires existence of either a 'X-Amz-Date' or a 'Date' header"));
  add_header(t, "X-Amz-Date", "2015-08-30T12:36:00Z");
  CHECK_INTEQ(verify(t, SUITE_NOW, 900, &res), -1);
  CHECK_INTEQ(res.status, 400);
  CHECK(strstr(res.message, "'2015-08-30T12:36:00Z'"));
  drop_header(t, "x-amz-date");
  add_header(t, "X-Amz-Date", "20150230T123600Z"); /* February 30th */
  CHECK_INTEQ(verify(t, SUITE_NOW, 900, &res), -1);
  CHECK_INTEQ(res.status, 400);
  drop_header(t, "x-amz-date");
  add_header(t, "X-Amz-Date", "20150831T003600Z");
  CHECK_INTEQ(verify(t, SUITE_NOW, 900000, &res), -1);
  CHECK_INTEQ(res.status, 403);
  CHECK_STREQ(res.code, "InvalidSignatureException");
  CHECK_STREQ(res.message,
              "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
              "from HTTP: '20150830' != '20150831', from '20150831T003600Z'.");
  drop_header(t, "x-amz-date");
  add_header(t, "Date", "30 Aug 2015 12:36:00");
  CHECK_INTEQ(verify(t, SUITE_NOW, 900, &res), -1);
  CHECK_INTEQ(res.status, 400);
  free_req(t);
}

/* Signs a vanilla request dated amz_date and verifies it at now with 5 minutes of skew. */
static int skewed(const char *service, const char *amz_date, time_t now, ll_sigv4_result_t *res) {
  treq_t *t = parse_req("GET / HTTP/1.1\nHost: h", EMPTY_SHA);
  add_header(t, "X-Amz-Date", amz_date);
  char authz[512];
  int rc = sign_and_verify(t, "AKIDEXAMPLE", SUITE_SECRET, service, amz_date, now, 300, authz,
                           sizeof authz, res);
  free_req(t);
  return rc;
}

LL_TEST(sigv4_fail_skew) {
  const time_t now = 1369354200; /* 20130524T001000Z */
  ll_sigv4_result_t res;
  CHECK_INTEQ(skewed("lambda", "20130524T000000Z", now, &res), -1);
  CHECK_INTEQ(res.status, 403);
  CHECK_STREQ(res.code, "InvalidSignatureException");
  CHECK_STREQ(res.s3_code, "RequestTimeTooSkewed");
  CHECK_STREQ(res.message,
              "Signature expired: 20130524T000000Z is now earlier than 20130524T000500Z "
              "(20130524T001000Z - 5 min.)");
  CHECK_INTEQ(skewed("lambda", "20130524T002000Z", now, &res), -1);
  CHECK_STREQ(res.message,
              "Signature not yet current: 20130524T002000Z is still later than 20130524T001500Z "
              "(20130524T001000Z + 5 min.)");
  CHECK_INTEQ(skewed("s3", "20130524T000459Z", now, &res), -1);
  CHECK_STREQ(res.s3_code, "RequestTimeTooSkewed");
  CHECK_STREQ(res.message,
              "The difference between the request time and the current time is too large.");
  /* The edges are inside. */
  CHECK_INTEQ(skewed("lambda", "20130524T000500Z", now, &res), 0);
  CHECK_INTEQ(skewed("s3", "20130524T001500Z", now, &res), 0);
}

LL_TEST(sigv4_fail_signed_headers) {
  ll_sigv4_result_t res;
  expect_fail(
      "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
      "aws4_request, SignedHeaders=x-amz-date, Signature=" VANILLA_SIG,
      403, "InvalidSignatureException", "SignatureDoesNotMatch",
      "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.", &res);
  expect_fail(
      "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
      "aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=" VANILLA_SIG,
      403, "InvalidSignatureException", "SignatureDoesNotMatch", "'my-header1'", &res);
  /* Present but not signed: fine (User-Agent, Expect, ...). */
  treq_t *t = parse_req(
      VANILLA "User-Agent: x\nAuthorization: " AUTHZ("host;x-amz-date", VANILLA_SIG), EMPTY_SHA);
  CHECK_INTEQ(verify(t, SUITE_NOW, 900, &res), 0);
  free_req(t);
}

LL_TEST(sigv4_fail_signature_mismatch) {
  ll_sigv4_result_t res;
  /* A signed header's value changed after signing. */
  expect_fail("My-Header1: x\nAuthorization: " AUTHZ("host;my-header1;x-amz-date", VANILLA_SIG),
              403, "InvalidSignatureException", "SignatureDoesNotMatch",
              "The request signature we calculated does not match the signature you provided. "
              "Check your AWS Secret Access Key and signing method. Consult the service "
              "documentation for details.",
              &res);
  CHECK_STREQ(res.signature, VANILLA_SIG);
  /* Upper-case hex, a short signature, a long one. */
  expect_fail(
      "Authorization: " AUTHZ("host;x-amz-date",
                              "5FA00FA31553B73EBF1942676E86291E8372FF2A2260956D9B8AAE1D763FBF31"),
      403, "InvalidSignatureException", "SignatureDoesNotMatch", "does not match", &res);
  expect_fail("Authorization: " AUTHZ("host;x-amz-date", "5fa00f"), 403,
              "InvalidSignatureException", "SignatureDoesNotMatch", "does not match", &res);
  expect_fail("Authorization: " AUTHZ("host;x-amz-date", VANILLA_SIG "00"), 403,
              "InvalidSignatureException", "SignatureDoesNotMatch", "does not match", &res);

  /* S3 wording; the wrong secret. */
  treq_t *t = parse_req("GET /b/k HTTP/1.1\nHost: h\nX-Amz-Date: 20150830T123600Z", EMPTY_SHA);
  char authz[512];
  CHECK_INTEQ(sign_and_verify(t, "AKIDEXAMPLE", "not-the-secret", "s3", "20150830T123600Z",
                              SUITE_NOW, 900, authz, sizeof authz, &res),
              -1);
  CHECK_INTEQ(res.status, 403);
  CHECK_STREQ(res.s3_code, "SignatureDoesNotMatch");
  CHECK_STREQ(res.message,
              "The request signature we calculated does not match the signature you provided. "
              "Check your key and signing method.");
  free_req(t);
}

/* The per-thread signing-key cache must not confuse secrets, dates, regions or services. */
LL_TEST(sigv4_signing_key_cache_keys_on_everything) {
  ll_sigv4_result_t res;
  for (int round = 0; round < 3; round++) {
    static const char *const secrets[] = {SUITE_SECRET, "other", SUITE_SECRET};
    static const char *const services[] = {"service", "service", "servicf"};
    for (int i = 0; i < 3; i++) {
      treq_t *t = parse_req(VANILLA, EMPTY_SHA);
      char authz[512];
      CHECK_INTEQ(ll_sigv4_sign(&t->r, "AKIDEXAMPLE", secrets[i], "us-east-1", services[i],
                                "20150830T123600Z", authz, sizeof authz),
                  0);
      CHECK_INTEQ(strcmp(authz, AUTHZ("host;x-amz-date", VANILLA_SIG)) == 0, i == 0);
      add_header(t, "Authorization", authz);
      CHECK_INTEQ(verify(t, SUITE_NOW, 900, &res), i == 1 ? -1 : 0);
      free_req(t);
    }
  }
}

LL_TEST(sigv4_amz_date_formats_utc) {
  char d[17];
  ll_sigv4_amz_date(0, d);
  CHECK_STREQ(d, "19700101T000000Z");
  ll_sigv4_amz_date(SUITE_NOW, d);
  CHECK_STREQ(d, "20150830T123600Z");
  ll_sigv4_amz_date(1709251199, d);
  CHECK_STREQ(d, "20240229T235959Z");
  ll_sigv4_amz_date(1795521187, d);
  CHECK_STREQ(d, "20261124T115307Z");
  ll_sigv4_amz_date(951782400, d); /* 2000-02-29, a 400-year leap day */
  CHECK_STREQ(d, "20000229T000000Z");
}

/* ---- signing key and aws-chunked signatures ---------------------------------------------- */

/* AWS's S3 examples (sigv4-streaming.html, sigv4-streaming-trailers.html,
 * sigv4-query-string-auth.html): this key, 20130524T000000Z, us-east-1. */
#define S3_EXAMPLE_AKID "AKIAIOSFODNN7EXAMPLE"
#define S3_EXAMPLE_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define S3_EXAMPLE_SCOPE "20130524/us-east-1/s3/aws4_request"
#define S3_EXAMPLE_DATE "20130524T000000Z"
#define S3_EXAMPLE_NOW ((time_t)1369353600) /* 20130524T000000Z */

static const char *s3_example_secret(void *ud, const char *ak) {
  (void)ud;
  return strcmp(ak, S3_EXAMPLE_AKID) == 0 ? S3_EXAMPLE_SECRET : NULL;
}

static void example_key(unsigned char key[32]) {
  ll_sigv4_signing_key(S3_EXAMPLE_SECRET, "20130524", "us-east-1", "s3", key);
}

LL_TEST(sigv4_signing_key_of_the_s3_examples) {
  unsigned char key[32];
  char hex[65];
  example_key(key);
  ll_hex(key, 32, hex);
  /* python3: the four HMACs with hmac/hashlib */
  CHECK_STREQ(hex, "dbb893acc010964918f1fd433add87c70e8b0db6be30c1fbeafefa5ec6ba8378");
  /* Not confused by the per-thread cache. */
  ll_sigv4_signing_key(S3_EXAMPLE_SECRET, "20130525", "us-east-1", "s3", key);
  ll_hex(key, 32, hex);
  CHECK(strcmp(hex, "dbb893acc010964918f1fd433add87c70e8b0db6be30c1fbeafefa5ec6ba8378") != 0);
}

/* sigv4-streaming.html: 65536 'a' in chunks of 64 KiB, 1 KiB and the final 0 bytes. */
LL_TEST(sigv4_chunk_signatures_of_the_aws_example) {
  unsigned char key[32], d[32];
  example_key(key);
  char *a = malloc(65536);
  memset(a, 'a', 65536);
  char s1[65], s2[65], s3[65];
  ll_sha256(a, 65536, d);
  ll_sigv4_chunk_signature(key, S3_EXAMPLE_DATE, S3_EXAMPLE_SCOPE,
                           "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9", d,
                           s1);
  CHECK_STREQ(s1, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648");
  ll_sha256(a, 1024, d);
  ll_sigv4_chunk_signature(key, S3_EXAMPLE_DATE, S3_EXAMPLE_SCOPE, s1, d, s2);
  CHECK_STREQ(s2, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497");
  ll_sha256("", 0, d);
  ll_sigv4_chunk_signature(key, S3_EXAMPLE_DATE, S3_EXAMPLE_SCOPE, s2, d, s3);
  CHECK_STREQ(s3, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9");
  free(a);
}

/* sigv4-streaming-trailers.html: the same body with the seed of a ...-PAYLOAD-TRAILER request
 * and the trailer x-amz-checksum-crc32c:sOO8/Q== (the signatures as awsdocs show them; the
 * trailer's also checked with python3). */
LL_TEST(sigv4_trailer_signature_of_the_aws_example) {
  unsigned char key[32], d[32];
  example_key(key);
  char *a = malloc(65536);
  memset(a, 'a', 65536);
  char s1[65], s2[65], s3[65], ts[65];
  ll_sha256(a, 65536, d);
  ll_sigv4_chunk_signature(key, S3_EXAMPLE_DATE, S3_EXAMPLE_SCOPE,
                           "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e", d,
                           s1);
  CHECK_STREQ(s1, "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2");
  ll_sha256(a, 1024, d);
  ll_sigv4_chunk_signature(key, S3_EXAMPLE_DATE, S3_EXAMPLE_SCOPE, s1, d, s2);
  CHECK_STREQ(s2, "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7");
  ll_sha256("", 0, d);
  ll_sigv4_chunk_signature(key, S3_EXAMPLE_DATE, S3_EXAMPLE_SCOPE, s2, d, s3);
  CHECK_STREQ(s3, "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992");
  const char *trailer = "x-amz-checksum-crc32c:sOO8/Q==\n";
  ll_sha256(trailer, strlen(trailer), d);
  ll_sigv4_trailer_signature(key, S3_EXAMPLE_DATE, S3_EXAMPLE_SCOPE, s3, d, ts);
  CHECK_STREQ(ts, "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435");
  free(a);
}

/* ---- presigned URLs ---------------------------------------------------------------------- */

/* sigv4-query-string-auth.html: GET /test.txt, valid for 86400 s. */
#define PRESIGN_Q                                                                          \
  "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-" \
  "east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-"     \
  "SignedHeaders=host"
#define PRESIGN_SIG "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"

static int verify_url(const char *path, const char *query, time_t now, ll_sigv4_result_t *res) {
  ll_kv_t h[] = {{"Host", 4, "examplebucket.s3.amazonaws.com", 30}};
  ll_sigv4_request_t r = {
      .method = "GET",
      .path = path,
      .path_len = strlen(path),
      .query = query,
      .query_len = strlen(query),
      .headers = h,
      .nheaders = 1,
      .payload_hash = "UNSIGNED-PAYLOAD",
  };
  return ll_sigv4_verify_query(&r, s3_example_secret, NULL, now, res);
}

static void expect_url_fail(const char *query, time_t now, int status, const char *code,
                            const char *s3_code, const char *message_part) {
  ll_sigv4_result_t res;
  int rc = verify_url("/test.txt", query, now, &res);
  if (rc == 0 || res.status != status || strcmp(res.s3_code, s3_code) != 0 ||
      strcmp(res.code, code) != 0 || !strstr(res.message, message_part))
    fprintf(stderr, "query %s\n  got %d %d %s %s: %s\n", query, rc, res.status, res.code,
            res.s3_code, res.message);
  CHECK_INTEQ(rc, -1);
  CHECK_INTEQ(res.status, status);
  CHECK_STREQ(res.code, code);
  CHECK_STREQ(res.s3_code, s3_code);
  CHECK(strstr(res.message, message_part));
}

LL_TEST(sigv4_presigned_aws_example) {
  ll_sigv4_result_t res;
  CHECK_INTEQ(verify_url("/test.txt", PRESIGN_Q "&X-Amz-Signature=" PRESIGN_SIG,
                         S3_EXAMPLE_NOW + 3600, &res),
              0);
  CHECK_STREQ(res.access_key, S3_EXAMPLE_AKID);
  CHECK_STREQ(res.region, "us-east-1");
  CHECK_STREQ(res.service, "s3");
  CHECK_STREQ(res.amz_date, S3_EXAMPLE_DATE);
  CHECK_STREQ(res.signature, PRESIGN_SIG);
  /* Parameter order does not matter, nor where the signature is. */
  CHECK_INTEQ(verify_url("/test.txt",
                         "X-Amz-Signature=" PRESIGN_SIG "&X-Amz-SignedHeaders=host&X-Amz-Expires="
                         "86400&X-Amz-Date=20130524T000000Z&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE"
                         "%2f20130524%2fus-east-1%2fs3%2faws4_request&X-Amz-Algorithm=AWS4-HMAC-"
                         "SHA256",
                         S3_EXAMPLE_NOW, &res),
              0);
}

LL_TEST(sigv4_presigned_expiry_and_not_yet_valid) {
  const char *q = PRESIGN_Q "&X-Amz-Signature=" PRESIGN_SIG;
  ll_sigv4_result_t res;
  /* Valid from 15 minutes early to the last second of X-Amz-Expires, both edges inside. */
  CHECK_INTEQ(verify_url("/test.txt", q, S3_EXAMPLE_NOW + 86400, &res), 0);
  CHECK_INTEQ(verify_url("/test.txt", q, S3_EXAMPLE_NOW - 900, &res), 0);
  expect_url_fail(q, S3_EXAMPLE_NOW + 86401, 403, "InvalidSignatureException", "AccessDenied",
                  "Request has expired");
  expect_url_fail(q, S3_EXAMPLE_NOW - 901, 403, "InvalidSignatureException", "AccessDenied",
                  "Request is not valid yet");
}

LL_TEST(sigv4_presigned_missing_parameters) {
  static const char *const names[] = {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date",
                                      "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"};
  const char *full = PRESIGN_Q "&X-Amz-Signature=" PRESIGN_SIG;
  for (size_t i = 0; i < 6; i++) {
    /* The query without names[i]=... */
    char q[1024], missing[64];
    const char *at = strstr(full, names[i]);
    const char *end = strchr(at, '&');
    size_t pre = (size_t)(at - full);
    snprintf(q, sizeof q, "%.*s%s", (int)(end ? pre : pre ? pre - 1 : 0), full,
             end ? end + 1 : "");
    snprintf(missing, sizeof missing, "Missing: %s.", names[i]);
    expect_url_fail(q, S3_EXAMPLE_NOW, 400, "IncompleteSignatureException",
                    "AuthorizationQueryParametersError",
                    "Query-string authentication version 4 requires the X-Amz-Algorithm, "
                    "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and "
                    "X-Amz-Expires parameters.");
    expect_url_fail(q, S3_EXAMPLE_NOW, 400, "IncompleteSignatureException",
                    "AuthorizationQueryParametersError", missing);
  }
  expect_url_fail("", S3_EXAMPLE_NOW, 400, "IncompleteSignatureException",
                  "AuthorizationQueryParametersError",
                  "Missing: X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, "
                  "X-Amz-SignedHeaders, X-Amz-Expires.");
  /* A name only counts exactly (case and all). */
  expect_url_fail("x-amz-algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a&X-Amz-Date=d&"
                  "X-Amz-Expires=1&X-Amz-SignedHeaders=host&X-Amz-Signature=s",
                  S3_EXAMPLE_NOW, 400, "IncompleteSignatureException",
                  "AuthorizationQueryParametersError", "Missing: X-Amz-Algorithm.");
}

/* The query with one parameter's value replaced. */
static void with_param(char *out, size_t sz, const char *name, const char *value) {
  const char *full = PRESIGN_Q "&X-Amz-Signature=" PRESIGN_SIG;
  const char *at = strstr(full, name);
  CHECK(at);
  const char *eq = strchr(at, '='), *end = strchr(at, '&');
  snprintf(out, sz, "%.*s%s%s", (int)(eq + 1 - full), full, value, end ? end : "");
}

LL_TEST(sigv4_presigned_malformed_parameters) {
  char q[1024];
  with_param(q, sizeof q, "X-Amz-Algorithm", "AWS4-HMAC-SHA1");
  expect_url_fail(q, S3_EXAMPLE_NOW, 400, "IncompleteSignatureException",
                  "AuthorizationQueryParametersError",
                  "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"");
  with_param(q, sizeof q, "X-Amz-Expires", "604801");
  expect_url_fail(q, S3_EXAMPLE_NOW, 400, "IncompleteSignatureException",
                  "AuthorizationQueryParametersError",
                  "X-Amz-Expires must be less than a week (in seconds) that is 604800");
  with_param(q, sizeof q, "X-Amz-Expires", "99999999999999999999999");
  expect_url_fail(q, S3_EXAMPLE_NOW, 400, "IncompleteSignatureException",
                  "AuthorizationQueryParametersError", "less than a week");
  with_param(q, sizeof q, "X-Amz-Expires", "12a");
  expect_url_fail(q, S3_EXAMPLE_NOW, 400, "IncompleteSignatureException",
                  "AuthorizationQueryParametersError", "X-Amz-Expires should be a number");
  with_param(q, sizeof q, "X-Amz-Expires", "");
  expect_url_fail(q, S3_EXAMPLE_NOW, 400, "IncompleteSignatureException",
                  "AuthorizationQueryParametersError", "X-Amz-Expires should be a number");
  with_param(q, sizeof q, "X-Amz-Expires", "-5");
  expect_url_fail(q, S3_EXAMPLE_NOW, 400, "IncompleteSignatureException",
                  "AuthorizationQueryParametersError", "X-Amz-Expires must be non-negative");
  with_param(q, sizeof q, "X-Amz-Credential", "AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1");
  expect_url_fail(q, S3_EXAMPLE_NOW, 400, "IncompleteSignatureException",
                  "AuthorizationQueryParametersError",
                  "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed");
  with_param(q, sizeof q, "X-Amz-Credential",
             "AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_reques");
  expect_url_fail(q, S3_EXAMPLE_NOW, 400, "IncompleteSignatureException",
                  "AuthorizationQueryParametersError", "incorrect terminal \"aws4_reques\"");
  with_param(q, sizeof q, "X-Amz-Date", "2013-05-24T00:00:00Z");
  expect_url_fail(q, S3_EXAMPLE_NOW, 400, "IncompleteSignatureException",
                  "AuthorizationQueryParametersError", "X-Amz-Date must be in the ISO8601");
  with_param(q, sizeof q, "X-Amz-Date", "20130525T000000Z");
  expect_url_fail(q, S3_EXAMPLE_NOW, 400, "IncompleteSignatureException",
                  "AuthorizationQueryParametersError",
                  "Invalid credential date. Date is not the same as X-Amz-Date");
  with_param(q, sizeof q, "X-Amz-Credential",
             "AKIDNOBODY%2F20130524%2Fus-east-1%2Fs3%2Faws4_request");
  expect_url_fail(q, S3_EXAMPLE_NOW, 403, "UnrecognizedClientException", "InvalidAccessKeyId",
                  "The AWS Access Key Id you provided does not exist in our records.");
}

LL_TEST(sigv4_presigned_tampered) {
  char q[1024];
  const char *msg = "The request signature we calculated does not match the signature you "
                    "provided. Check your key and signing method.";
  /* A longer validity, a changed signature, an added parameter, another path, a short
   * signature, host not signed. */
  with_param(q, sizeof q, "X-Amz-Expires", "86401");
  expect_url_fail(q, S3_EXAMPLE_NOW, 403, "InvalidSignatureException", "SignatureDoesNotMatch",
                  msg);
  with_param(q, sizeof q, "X-Amz-Signature",
             "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d405");
  expect_url_fail(q, S3_EXAMPLE_NOW, 403, "InvalidSignatureException", "SignatureDoesNotMatch",
                  msg);
  expect_url_fail(PRESIGN_Q "&X-Amz-Signature=" PRESIGN_SIG "&versionId=1", S3_EXAMPLE_NOW, 403,
                  "InvalidSignatureException", "SignatureDoesNotMatch", msg);
  with_param(q, sizeof q, "X-Amz-Signature", "aeeed9");
  expect_url_fail(q, S3_EXAMPLE_NOW, 403, "InvalidSignatureException", "SignatureDoesNotMatch",
                  msg);
  ll_sigv4_result_t res;
  CHECK_INTEQ(verify_url("/test.txt2", PRESIGN_Q "&X-Amz-Signature=" PRESIGN_SIG,
                         S3_EXAMPLE_NOW, &res),
              -1);
  CHECK_STREQ(res.s3_code, "SignatureDoesNotMatch");
  with_param(q, sizeof q, "X-Amz-SignedHeaders", "x-amz-date");
  expect_url_fail(q, S3_EXAMPLE_NOW, 403, "InvalidSignatureException", "SignatureDoesNotMatch",
                  "'Host' or ':authority' must be a 'SignedHeader'");
  with_param(q, sizeof q, "X-Amz-SignedHeaders", "host%3Bx-amz-meta-a");
  expect_url_fail(q, S3_EXAMPLE_NOW, 403, "InvalidSignatureException", "SignatureDoesNotMatch",
                  "missing the header 'x-amz-meta-a'");
}

/* A presigned URL made with ll_sigv4_sign (its signature over the canonical request with the
 * X-Amz-* parameters in the query is the URL's), with a session token, a second signed header
 * and a percent-encoded key, verifies; the same with the token changed does not. */
LL_TEST(sigv4_presigned_round_trip) {
  const char *query =
      "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-"
      "east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=300&X-Amz-Security-"
      "Token=IQoJb3JpZ2luX2VjE%2Bq%2F%3D&X-Amz-SignedHeaders=host%3Bx-amz-meta-colour&"
      "response-content-type=text%2Fplain";
  const char *path = "/bucket/a%20key%2Bwith%2Fodd%20bytes";
  ll_kv_t h[] = {{"Host", 4, "localhost:4566", 14}, {"x-amz-meta-colour", 17, "blue", 4}};
  ll_sigv4_request_t r = {
      .method = "PUT",
      .path = path,
      .path_len = strlen(path),
      .query = query,
      .query_len = strlen(query),
      .headers = h,
      .nheaders = 2,
      .payload_hash = "UNSIGNED-PAYLOAD",
  };
  char authz[512];
  CHECK_INTEQ(ll_sigv4_sign(&r, S3_EXAMPLE_AKID, S3_EXAMPLE_SECRET, "us-east-1", "s3",
                            S3_EXAMPLE_DATE, authz, sizeof authz),
              0);
  CHECK(strstr(authz, "SignedHeaders=host;x-amz-meta-colour,"));
  char url[1024];
  snprintf(url, sizeof url, "%s&X-Amz-Signature=%s", query, sig_of(authz));
  r.query = url;
  r.query_len = strlen(url);
  ll_sigv4_result_t res;
  int rc = ll_sigv4_verify_query(&r, s3_example_secret, NULL, S3_EXAMPLE_NOW + 300, &res);
  if (rc) fprintf(stderr, "%s\n", res.message);
  CHECK_INTEQ(rc, 0);
  CHECK_STREQ(res.signature, sig_of(authz));
  CHECK_INTEQ(ll_sigv4_verify_query(&r, s3_example_secret, NULL, S3_EXAMPLE_NOW + 301, &res), -1);
  CHECK_STREQ(res.message, "Request has expired");
  char *tok = strstr(url, "IQoJ");
  tok[0] = 'X';
  CHECK_INTEQ(ll_sigv4_verify_query(&r, s3_example_secret, NULL, S3_EXAMPLE_NOW, &res), -1);
  CHECK_STREQ(res.s3_code, "SignatureDoesNotMatch");
  tok[0] = 'I';
  h[1].value = "red";
  h[1].value_len = 3;
  CHECK_INTEQ(ll_sigv4_verify_query(&r, s3_example_secret, NULL, S3_EXAMPLE_NOW, &res), -1);
  CHECK_STREQ(res.s3_code, "SignatureDoesNotMatch");
}

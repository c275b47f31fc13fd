/* The aws-chunked decoder (src/api/awschunked.h).
 *
 * Vectors: AWS's documented examples (sigv4-streaming.html: 65536 + 1024 bytes of 'a' and the
 * final chunk, signed; sigv4-streaming-trailers.html: the same with a signed
 * x-amz-checksum-crc32c trailer), a body as botocore's AwsChunkedWrapper writes it
 * (botocore/httpchecksum.py, STREAMING-UNSIGNED-PAYLOAD-TRAILER: "<hex>\r\n<data>\r\n" ...
 * "0\r\nx-amz-checksum-crc32:<b64>\r\n\r\n"), and bodies signed here with
 * ll_sigv4_chunk_signature / ll_sigv4_trailer_signature (themselves checked against AWS's
 * numbers in test_sigv4.c). Every body is also fed in pieces of 1, 2, 3, ... bytes and must
 * decode exactly as when fed at once. */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/awschunked.h"
#include "auth/sigv4.h"
#include "core/buf.h"
#include "core/checksum.h"
#include "core/encoding.h"
#include "test.h"

#define EX_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define EX_DATE "20130524T000000Z"
#define EX_SCOPE "20130524/us-east-1/s3/aws4_request"
#define EX_SEED "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
#define EX_SEED_TRAILER "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"

/* ---- configurations ---------------------------------------------------------------------- */

static ll_awschunked_cfg_t unsigned_cfg(bool trailer, uint64_t decoded_length) {
  ll_awschunked_cfg_t c = {.trailer = trailer, .decoded_length = decoded_length};
  return c;
}

static ll_awschunked_cfg_t signed_cfg(bool trailer, const char *seed, uint64_t decoded_length) {
  ll_awschunked_cfg_t c = {.signed_chunks = true, .trailer = trailer,
                           .decoded_length = decoded_length};
  ll_sigv4_signing_key(EX_SECRET, "20130524", "us-east-1", "s3", c.key);
  snprintf(c.amz_date, sizeof c.amz_date, "%s", EX_DATE);
  snprintf(c.scope, sizeof c.scope, "%s", EX_SCOPE);
  snprintf(c.seed_signature, sizeof c.seed_signature, "%s", seed);
  return c;
}

/* ---- running the decoder ----------------------------------------------------------------- */

typedef struct result {
  int rc; /* LL_AC_DONE or LL_AC_ERROR */
  ll_buf_t data;
  size_t ntrailers;
  char names[LL_AC_MAX_TRAILERS][64], values[LL_AC_MAX_TRAILERS][256];
  size_t consumed; /* input bytes consumed when DONE came */
  int status;
  char code[64], message[512];
} result_t;

static void result_free(result_t *r) { ll_buf_free(&r->data); }

static void record_error(result_t *r, const ll_awschunked_event_t *ev) {
  CHECK(ev->code && ev->message && (ev->status == 400 || ev->status == 403));
  r->rc = LL_AC_ERROR;
  r->status = ev->status;
  snprintf(r->code, sizeof r->code, "%s", ev->code);
  snprintf(r->message, sizeof r->message, "%s", ev->message);
}

/* Feeds body[0..len) in pieces of `step` bytes (0: all at once), checking the event contract
 * on every call, then ll_awschunked_end when the input ran out before DONE or ERROR; checks
 * that the outcome is sticky. */
static void run(const ll_awschunked_cfg_t *cfg, const char *body, size_t len, size_t step,
                result_t *r) {
  memset(r, 0, sizeof *r);
  r->data = (ll_buf_t)LL_BUF_INIT;
  ll_awschunked_t d;
  ll_awschunked_init(&d, cfg);
  ll_awschunked_event_t ev;
  bool finished = false;
  for (size_t off = 0; !finished && off < len;) {
    size_t n = step && step < len - off ? step : len - off;
    const char *p = body + off;
    size_t left = n;
    for (;;) {
      size_t used = 12345;
      int rc = ll_awschunked_feed(&d, p, left, &used, &ev);
      CHECK(used <= left);
      if (rc == LL_AC_NEED_MORE) {
        CHECK_INTEQ(used, left);
        break;
      }
      if (rc == LL_AC_DATA) {
        CHECK(ev.len > 0 && ev.data >= p && ev.data + ev.len == p + used);
        ll_buf_append(&r->data, ev.data, ev.len);
        /* Never more data than the body has bytes. */
        CHECK(r->data.len <= len);
      } else if (rc == LL_AC_TRAILER) {
        CHECK(r->ntrailers < LL_AC_MAX_TRAILERS);
        CHECK(ev.name && ev.name[ev.name_len] == '\0' && ev.data[ev.len] == '\0');
        snprintf(r->names[r->ntrailers], 64, "%.*s", (int)ev.name_len, ev.name);
        snprintf(r->values[r->ntrailers], 256, "%.*s", (int)ev.len, ev.data);
        r->ntrailers++;
      } else if (rc == LL_AC_DONE) {
        r->rc = LL_AC_DONE;
        r->consumed = (size_t)(p - body) + used;
        finished = true;
        break;
      } else {
        CHECK_INTEQ(rc, LL_AC_ERROR);
        CHECK_INTEQ(used, 0);
        record_error(r, &ev);
        finished = true;
        break;
      }
      p += used;
      left -= used;
    }
    off += n;
  }
  if (!finished) {
    /* The input is over: pull what is left (trailers), then ask whether it was complete. */
    size_t used;
    int rc;
    while ((rc = ll_awschunked_feed(&d, NULL, 0, &used, &ev)) == LL_AC_TRAILER) {
      snprintf(r->names[r->ntrailers], 64, "%.*s", (int)ev.name_len, ev.name);
      snprintf(r->values[r->ntrailers], 256, "%.*s", (int)ev.len, ev.data);
      r->ntrailers++;
    }
    CHECK(rc != LL_AC_DATA);
    if (rc == LL_AC_DONE) {
      r->rc = LL_AC_DONE;
      r->consumed = len;
    } else if (rc == LL_AC_ERROR) {
      record_error(r, &ev);
    } else {
      rc = ll_awschunked_end(&d, &ev);
      if (rc == LL_AC_DONE) {
        r->rc = LL_AC_DONE;
        r->consumed = len;
      } else {
        CHECK_INTEQ(rc, LL_AC_ERROR);
        record_error(r, &ev);
      }
    }
  }
  /* Sticky: feeding more and ending give the same answer, consuming nothing. */
  size_t used;
  CHECK_INTEQ(ll_awschunked_feed(&d, "0\r\n\r\n", 5, &used, &ev), r->rc);
  CHECK_INTEQ(used, 0);
  if (r->rc == LL_AC_ERROR) CHECK_STREQ(ev.message, r->message);
  CHECK_INTEQ(ll_awschunked_end(&d, &ev), r->rc);
  if (r->rc == LL_AC_ERROR) CHECK_STREQ(ev.code, r->code);
  ll_awschunked_free(&d);
}

/* run() at once and in pieces of 1, 2, 3, 5, 7, 64 and 1000 bytes: the same outcome each
 * time (data, trailers, error), returned in *r. */
static void run_all(const ll_awschunked_cfg_t *cfg, const char *body, size_t len, result_t *r) {
  static const size_t steps[] = {1, 2, 3, 5, 7, 64, 1000};
  run(cfg, body, len, 0, r);
  for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
    if (len > 100000 && steps[s] < 64) continue; /* the big bodies: see the signed example */
    result_t o;
    run(cfg, body, len, steps[s], &o);
    if (o.rc != r->rc || strcmp(o.message, r->message) != 0)
      fprintf(stderr, "step %zu: %d %s / at once: %d %s\n", steps[s], o.rc, o.message, r->rc,
              r->message);
    CHECK_INTEQ(o.rc, r->rc);
    CHECK_STREQ(o.code, r->code);
    CHECK_STREQ(o.message, r->message);
    CHECK_INTEQ(o.data.len, r->data.len);
    CHECK(!r->data.len || memcmp(o.data.data, r->data.data, r->data.len) == 0);
    CHECK_INTEQ(o.ntrailers, r->ntrailers);
    for (size_t i = 0; i < r->ntrailers; i++) {
      CHECK_STREQ(o.names[i], r->names[i]);
      CHECK_STREQ(o.values[i], r->values[i]);
    }
    if (r->rc == LL_AC_DONE) CHECK_INTEQ(o.consumed, r->consumed);
    result_free(&o);
  }
}

/* Expects body to fail with code and a message containing part; returns the data released
 * before the error. */
static size_t expect_error(const ll_awschunked_cfg_t *cfg, const char *body, size_t len,
                           int status, const char *code, const char *part) {
  result_t r;
  run_all(cfg, body, len, &r);
  if (r.rc != LL_AC_ERROR || strcmp(r.code, code) != 0 || !strstr(r.message, part))
    fprintf(stderr, "body '%.*s'\n  got %d %s: %s\n", len < 200 ? (int)len : 200, body, r.rc,
            r.code, r.message);
  CHECK_INTEQ(r.rc, LL_AC_ERROR);
  CHECK_INTEQ(r.status, status);
  CHECK_STREQ(r.code, code);
  CHECK(strstr(r.message, part));
  size_t n = r.data.len;
  result_free(&r);
  return n;
}

static void expect_body(const ll_awschunked_cfg_t *cfg, const char *body, const char *data) {
  result_t r;
  run_all(cfg, body, strlen(body), &r);
  if (r.rc != LL_AC_DONE) fprintf(stderr, "%s: %s\n", r.code, r.message);
  CHECK_INTEQ(r.rc, LL_AC_DONE);
  CHECK_INTEQ(r.consumed, strlen(body));
  CHECK_INTEQ(r.data.len, strlen(data));
  CHECK(!r.data.len || memcmp(r.data.data, data, r.data.len) == 0);
  result_free(&r);
}

/* ---- building bodies --------------------------------------------------------------------- */

/* An aws-chunked body of data cut into chunks of `chunk` bytes, signed with cfg when
 * cfg->signed_chunks, with the trailers "name:value" lines (NULL-terminated list; signed with
 * an x-amz-trailer-signature line when cfg->signed_chunks) when cfg->trailer. */
static void build(ll_buf_t *b, const ll_awschunked_cfg_t *cfg, const char *data, size_t len,
                  size_t chunk, const char *const *trailers) {
  char prev[65], sig[65], head[128];
  unsigned char d[32];
  snprintf(prev, sizeof prev, "%s", cfg->seed_signature);
  for (size_t off = 0, n;; off += n) {
    n = len - off < chunk ? len - off : chunk;
    if (cfg->signed_chunks) {
      ll_sha256(data + off, n, d);
      ll_sigv4_chunk_signature(cfg->key, cfg->amz_date, cfg->scope, prev, d, sig);
      snprintf(head, sizeof head, "%zx;chunk-signature=%s\r\n", n, sig);
      memcpy(prev, sig, 65);
    } else {
      snprintf(head, sizeof head, "%zx\r\n", n);
    }
    ll_buf_append(b, head, strlen(head));
    if (n == 0) break;
    ll_buf_append(b, data + off, n);
    ll_buf_append(b, "\r\n", 2);
  }
  if (cfg->trailer) {
    ll_buf_t canon;
    canon = (ll_buf_t)LL_BUF_INIT;
    for (size_t i = 0; trailers && trailers[i]; i++) {
      ll_buf_append(b, trailers[i], strlen(trailers[i]));
      ll_buf_append(b, "\r\n", 2);
      ll_buf_append(&canon, trailers[i], strlen(trailers[i]));
      ll_buf_append(&canon, "\n", 1);
    }
    if (cfg->signed_chunks) {
      ll_sha256(canon.data, canon.len, d);
      ll_sigv4_trailer_signature(cfg->key, cfg->amz_date, cfg->scope, prev, d, sig);
      snprintf(head, sizeof head, "x-amz-trailer-signature:%s\r\n", sig);
      ll_buf_append(b, head, strlen(head));
    }
    ll_buf_free(&canon);
  }
  ll_buf_append(b, "\r\n", 2);
}

/* The body of AWS's signed examples: 65536 + 1024 bytes of 'a', then the final chunk, with
 * the signatures the documentation shows. */
static void aws_example(ll_buf_t *b, const char *sig1, const char *sig2, const char *sig3) {
  char head[128];
  char *a = malloc(65536);
  memset(a, 'a', 65536);
  snprintf(head, sizeof head, "10000;chunk-signature=%s\r\n", sig1);
  ll_buf_append(b, head, strlen(head));
  ll_buf_append(b, a, 65536);
  snprintf(head, sizeof head, "\r\n400;chunk-signature=%s\r\n", sig2);
  ll_buf_append(b, head, strlen(head));
  ll_buf_append(b, a, 1024);
  snprintf(head, sizeof head, "\r\n0;chunk-signature=%s\r\n", sig3);
  ll_buf_append(b, head, strlen(head));
  free(a);
}

#define EX_SIG1 "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
#define EX_SIG2 "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
#define EX_SIG3 "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"

/* ---- the documented examples -------------------------------------------------------------- */

LL_TEST(awschunked_aws_signed_example) {
  ll_awschunked_cfg_t cfg = signed_cfg(false, EX_SEED, 66560);
  ll_buf_t b;
  b = (ll_buf_t)LL_BUF_INIT;
  aws_example(&b, EX_SIG1, EX_SIG2, EX_SIG3);
  ll_buf_append(&b, "\r\n", 2);
  result_t r;
  run_all(&cfg, b.data, b.len, &r);
  if (r.rc != LL_AC_DONE) fprintf(stderr, "%s\n", r.message);
  CHECK_INTEQ(r.rc, LL_AC_DONE);
  CHECK_INTEQ(r.consumed, b.len);
  CHECK_INTEQ(r.data.len, 66560);
  for (size_t i = 0; i < r.data.len; i++) CHECK(r.data.data[i] == 'a');
  result_free(&r);
  /* Byte by byte too (run_all skips the small steps for bodies this big). */
  run(&cfg, b.data, b.len, 1, &r);
  CHECK_INTEQ(r.rc, LL_AC_DONE);
  CHECK_INTEQ(r.data.len, 66560);
  result_free(&r);

  /* Without x-amz-decoded-content-length. */
  cfg.decoded_length = UINT64_MAX;
  run(&cfg, b.data, b.len, 0, &r);
  CHECK_INTEQ(r.rc, LL_AC_DONE);
  result_free(&r);
  cfg.decoded_length = 66560;

  /* One byte of data changed, in either chunk: the chunk's data is released, then the error,
   * before anything of the next chunk. */
  size_t first = strlen("10000;chunk-signature=" EX_SIG1 "\r\n");
  b.data[first + 100] = 'b';
  CHECK_INTEQ(expect_error(&cfg, b.data, b.len, 403, "SignatureDoesNotMatch",
                           "The chunk-signature of chunk 1 (65536 bytes at offset 0"),
              65536);
  b.data[first + 100] = 'a';
  size_t second = first + 65536 + strlen("\r\n400;chunk-signature=" EX_SIG2 "\r\n");
  b.data[second + 1023] = 'A';
  CHECK_INTEQ(expect_error(&cfg, b.data, b.len, 403, "SignatureDoesNotMatch",
                           "The chunk-signature of chunk 2 (1024 bytes at offset 65536"),
              66560);
  b.data[second + 1023] = 'a';

  /* One hex digit of each signature changed. */
  static const char *const sigs[3][3] = {
      {"ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288649", EX_SIG2, EX_SIG3},
      {EX_SIG1, "1055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497", EX_SIG3},
      {EX_SIG1, EX_SIG2, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449dfa"},
  };
  static const size_t released[3] = {65536, 66560, 66560};
  for (int k = 0; k < 3; k++) {
    ll_buf_t t;
    t = (ll_buf_t)LL_BUF_INIT;
    aws_example(&t, sigs[k][0], sigs[k][1], sigs[k][2]);
    ll_buf_append(&t, "\r\n", 2);
    char part[64];
    snprintf(part, sizeof part, "The chunk-signature of chunk %d", k + 1);
    CHECK_INTEQ(expect_error(&cfg, t.data, t.len, 403, "SignatureDoesNotMatch", part),
                released[k]);
    ll_buf_free(&t);
  }

  /* Another seed (another request's signature), another key. */
  ll_awschunked_cfg_t other = signed_cfg(false, EX_SEED_TRAILER, 66560);
  expect_error(&other, b.data, b.len, 403, "SignatureDoesNotMatch", "chunk 1");
  other = cfg;
  other.key[0] ^= 1;
  expect_error(&other, b.data, b.len, 403, "SignatureDoesNotMatch", "chunk 1");
  /* The unsigned decoder refuses the signed body. */
  other = unsigned_cfg(false, 66560);
  expect_error(&other, b.data, b.len, 400, "InvalidRequest",
               "an unsigned aws-chunked body carries no chunk-signature");
  ll_buf_free(&b);
}

/* sigv4-streaming-trailers.html: the same data, a ...-PAYLOAD-TRAILER seed and a CRC32C
 * trailer, whose value is the CRC32C of the data. */
LL_TEST(awschunked_aws_signed_trailer_example) {
  ll_awschunked_cfg_t cfg = signed_cfg(true, EX_SEED_TRAILER, 66560);
  ll_buf_t b;
  b = (ll_buf_t)LL_BUF_INIT;
  aws_example(&b, "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
              "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
              "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992");
  size_t base = b.len;
  const char *tail = "x-amz-checksum-crc32c:sOO8/Q==\r\n"
                     "x-amz-trailer-signature:"
                     "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n";
  ll_buf_append(&b, tail, strlen(tail));
  result_t r;
  run_all(&cfg, b.data, b.len, &r);
  if (r.rc != LL_AC_DONE) fprintf(stderr, "%s\n", r.message);
  CHECK_INTEQ(r.rc, LL_AC_DONE);
  CHECK_INTEQ(r.consumed, b.len);
  CHECK_INTEQ(r.data.len, 66560);
  CHECK_INTEQ(r.ntrailers, 1);
  CHECK_STREQ(r.names[0], "x-amz-checksum-crc32c");
  CHECK_STREQ(r.values[0], "sOO8/Q==");
  /* What the S3 layer will do with it. */
  ll_checksum_t ck;
  char b64[LL_CK_B64_MAX];
  ll_checksum_init(&ck, ll_checksum_header_alg(r.names[0], strlen(r.names[0])));
  ll_checksum_update(&ck, r.data.data, r.data.len);
  ll_checksum_final_b64(&ck, b64);
  CHECK_STREQ(b64, r.values[0]);
  result_free(&r);

  /* The trailer's value changed; the signature line dropped; a line after it. */
  b.len = base;
  const char *bad = "x-amz-checksum-crc32c:sOO8/Q=A\r\n"
                    "x-amz-trailer-signature:"
                    "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n";
  ll_buf_append(&b, bad, strlen(bad));
  expect_error(&cfg, b.data, b.len, 403, "SignatureDoesNotMatch",
               "The x-amz-trailer-signature does not match");
  b.len = base;
  ll_buf_append(&b, "x-amz-checksum-crc32c:sOO8/Q==\r\n\r\n", 34);
  expect_error(&cfg, b.data, b.len, 400, "MalformedTrailerError",
               "must end with an x-amz-trailer-signature line");
  b.len = base;
  ll_buf_append(&b, tail, strlen(tail) - 2);
  ll_buf_append(&b, "x-amz-meta-a:b\r\n\r\n", 18);
  expect_error(&cfg, b.data, b.len, 400, "MalformedTrailerError",
               "comes after x-amz-trailer-signature, which must be the last");
  b.len = base;
  ll_buf_append(&b, "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:D81F\r\n\r\n", 64);
  expect_error(&cfg, b.data, b.len, 400, "MalformedTrailerError",
               "x-amz-trailer-signature must be 64 lower-case hexadecimal digits, not 'D81F'");
  ll_buf_free(&b);
}

/* ---- unsigned bodies as botocore writes them --------------------------------------------- */

/* AwsChunkedWrapper._make_chunk: b"%s\r\n%s\r\n" % (hex_len, raw_chunk) per chunk, then
 * b"0\r\n%s:%s\r\n\r\n" % (name, checksum) (or b"0\r\n\r\n" without a checksum). */
LL_TEST(awschunked_botocore_unsigned_trailer) {
  char data[1024];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (char)(i * 7 + 3);
  ll_checksum_t ck;
  char b64[LL_CK_B64_MAX];
  ll_checksum_init(&ck, LL_CK_CRC32);
  ll_checksum_update(&ck, data, sizeof data);
  ll_checksum_final_b64(&ck, b64);

  ll_buf_t b;
  b = (ll_buf_t)LL_BUF_INIT;
  ll_buf_append(&b, "400\r\n", 5);
  ll_buf_append(&b, data, sizeof data);
  ll_buf_append(&b, "\r\n0\r\nx-amz-checksum-crc32:", 26);
  ll_buf_append(&b, b64, strlen(b64));
  ll_buf_append(&b, "\r\n\r\n", 4);
  ll_awschunked_cfg_t cfg = unsigned_cfg(true, sizeof data);
  result_t r;
  run_all(&cfg, b.data, b.len, &r);
  CHECK_INTEQ(r.rc, LL_AC_DONE);
  CHECK_INTEQ(r.consumed, b.len);
  CHECK_INTEQ(r.data.len, sizeof data);
  CHECK(memcmp(r.data.data, data, sizeof data) == 0);
  CHECK_INTEQ(r.ntrailers, 1);
  CHECK_STREQ(r.names[0], "x-amz-checksum-crc32");
  CHECK_STREQ(r.values[0], b64);
  result_free(&r);
  /* The declared length need not be there (HTTP chunked without the header). */
  cfg.decoded_length = UINT64_MAX;
  run_all(&cfg, b.data, b.len, &r);
  CHECK_INTEQ(r.rc, LL_AC_DONE);
  result_free(&r);
  ll_buf_free(&b);

  /* No checksum: "0\r\n\r\n"; an empty object. */
  cfg = unsigned_cfg(true, 3);
  expect_body(&cfg, "3\r\nabc\r\n0\r\n\r\n", "abc");
  cfg = unsigned_cfg(true, 0);
  expect_body(&cfg, "0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", "");
  expect_body(&cfg, "0\r\n\r\n", "");
}

/* botocore's 1 MiB chunks, several of them, and the last one short. */
LL_TEST(awschunked_botocore_megabyte_chunks) {
  size_t len = (5u << 20) / 2 + 5;
  char *data = malloc(len);
  for (size_t i = 0; i < len; i++) data[i] = (char)(i ^ (i >> 9));
  ll_awschunked_cfg_t cfg = unsigned_cfg(true, len);
  static const char *const tr[] = {"x-amz-checksum-crc64nvme:whatever", NULL};
  ll_buf_t b;
  b = (ll_buf_t)LL_BUF_INIT;
  build(&b, &cfg, data, len, 1u << 20, tr);
  CHECK(memcmp(b.data, "100000\r\n", 8) == 0);
  result_t r;
  run_all(&cfg, b.data, b.len, &r);
  CHECK_INTEQ(r.rc, LL_AC_DONE);
  CHECK_INTEQ(r.data.len, len);
  CHECK(memcmp(r.data.data, data, len) == 0);
  CHECK_STREQ(r.values[0], "whatever");
  result_free(&r);
  ll_buf_free(&b);
  free(data);
}

/* Bodies signed here: several chunk sizes, with and without trailers. */
LL_TEST(awschunked_signed_round_trips) {
  char data[5000];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (char)(i * 31 + 1);
  static const size_t chunks[] = {1, 7, 4096, 5000, 8192};
  static const char *const tr[] = {"x-amz-checksum-crc32:AAAAAA==", "x-amz-meta-colour:blue",
                                   NULL};
  for (int trailer = 0; trailer < 2; trailer++)
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
      ll_awschunked_cfg_t cfg = signed_cfg(trailer, EX_SEED, sizeof data);
      ll_buf_t b;
      b = (ll_buf_t)LL_BUF_INIT;
      build(&b, &cfg, data, sizeof data, chunks[c], tr);
      result_t r;
      run_all(&cfg, b.data, b.len, &r);
      if (r.rc != LL_AC_DONE) fprintf(stderr, "%s\n", r.message);
      CHECK_INTEQ(r.rc, LL_AC_DONE);
      CHECK_INTEQ(r.consumed, b.len);
      CHECK_INTEQ(r.data.len, sizeof data);
      CHECK(memcmp(r.data.data, data, sizeof data) == 0);
      CHECK_INTEQ(r.ntrailers, trailer ? 2 : 0);
      if (trailer) CHECK_STREQ(r.values[1], "blue");
      result_free(&r);
      ll_buf_free(&b);
    }
}

/* A trailer as a client may space or capitalise it: the name comes out lower-cased, the value
 * trimmed, and the signature covers exactly that ("name:value\n"). */
LL_TEST(awschunked_trailer_normalised) {
  ll_awschunked_cfg_t cfg = unsigned_cfg(true, 3);
  result_t r;
  const char *body = "3\r\nabc\r\n0\r\nX-Amz-Checksum-CRC32: \t AAAAAA== \r\nX-A:\r\n\r\n";
  run_all(&cfg, body, strlen(body), &r);
  CHECK_INTEQ(r.rc, LL_AC_DONE);
  CHECK_INTEQ(r.ntrailers, 2);
  CHECK_STREQ(r.names[0], "x-amz-checksum-crc32");
  CHECK_STREQ(r.values[0], "AAAAAA==");
  CHECK_STREQ(r.names[1], "x-a");
  CHECK_STREQ(r.values[1], "");
  result_free(&r);

  cfg = signed_cfg(true, EX_SEED, 3);
  static const char *const tr[] = {"x-amz-checksum-crc32:AAAAAA==", NULL};
  ll_buf_t b;
  b = (ll_buf_t)LL_BUF_INIT;
  build(&b, &cfg, "abc", 3, 3, tr);
  char *line = strstr(b.data, "x-amz-checksum-crc32:");
  ll_buf_t spaced;
  spaced = (ll_buf_t)LL_BUF_INIT;
  ll_buf_append(&spaced, b.data, (size_t)(line - b.data));
  ll_buf_append(&spaced, "X-Amz-Checksum-Crc32:  AAAAAA==", 31);
  ll_buf_append(&spaced, line + 29, b.len - (size_t)(line + 29 - b.data));
  run_all(&cfg, spaced.data, spaced.len, &r);
  if (r.rc != LL_AC_DONE) fprintf(stderr, "%s\n", r.message);
  CHECK_INTEQ(r.rc, LL_AC_DONE);
  result_free(&r);
  ll_buf_free(&spaced);
  ll_buf_free(&b);
}

/* ---- the contract ------------------------------------------------------------------------ */

/* Each event at its time: DATA pieces never span chunks; DONE consumes the final CRLF and
 * nothing after it; a chunk's data comes before its signature is judged. */
LL_TEST(awschunked_event_boundaries) {
  ll_awschunked_cfg_t cfg = unsigned_cfg(false, 5);
  ll_awschunked_t d;
  ll_awschunked_init(&d, &cfg);
  ll_awschunked_event_t ev;
  size_t used;
  const char *body = "2\r\nab\r\n3\r\ncde\r\n0\r\n\r\nNEXT";
  const char *p = body;
  CHECK_INTEQ(ll_awschunked_feed(&d, p, strlen(p), &used, &ev), LL_AC_DATA);
  CHECK_INTEQ(used, 5);
  CHECK(ev.data == p + 3 && ev.len == 2);
  p += used;
  CHECK_INTEQ(ll_awschunked_feed(&d, p, strlen(p), &used, &ev), LL_AC_DATA);
  CHECK_INTEQ(used, 8);
  CHECK(ev.data == p + 5 && ev.len == 3 && memcmp(ev.data, "cde", 3) == 0);
  p += used;
  CHECK_INTEQ(ll_awschunked_feed(&d, p, strlen(p), &used, &ev), LL_AC_DONE);
  CHECK_INTEQ(used, 7); /* "\r\n" "0\r\n" "\r\n" */
  p += used;
  CHECK_STREQ(p, "NEXT");
  CHECK_INTEQ(ll_awschunked_feed(&d, p, strlen(p), &used, &ev), LL_AC_DONE);
  CHECK_INTEQ(used, 0);
  CHECK_INTEQ(ll_awschunked_end(&d, &ev), LL_AC_DONE);
  ll_awschunked_free(&d);

  /* Partial lines are kept: NEED_MORE consumes everything. */
  ll_awschunked_init(&d, &cfg);
  CHECK_INTEQ(ll_awschunked_feed(&d, "2\r", 2, &used, &ev), LL_AC_NEED_MORE);
  CHECK_INTEQ(used, 2);
  CHECK_INTEQ(ll_awschunked_feed(&d, "\na", 2, &used, &ev), LL_AC_DATA);
  CHECK_INTEQ(used, 2);
  CHECK(ev.len == 1 && ev.data[0] == 'a');
  CHECK_INTEQ(ll_awschunked_feed(&d, NULL, 0, &used, &ev), LL_AC_NEED_MORE);
  CHECK_INTEQ(ll_awschunked_end(&d, &ev), LL_AC_ERROR);
  CHECK_STREQ(ev.code, "IncompleteBody");
  CHECK_STREQ(ev.message,
              "The aws-chunked body ended in chunk 1, after 1 of its 2 bytes (1 of the 5 bytes "
              "x-amz-decoded-content-length declares).");
  ll_awschunked_free(&d);

  /* Trailers come after the whole body, each on its own call consuming nothing. */
  cfg = unsigned_cfg(true, 0);
  ll_awschunked_init(&d, &cfg);
  body = "0\r\na:1\r\nb:2\r\n\r\n";
  CHECK_INTEQ(ll_awschunked_feed(&d, body, strlen(body), &used, &ev), LL_AC_TRAILER);
  CHECK_INTEQ(used, strlen(body));
  CHECK(ev.name_len == 1 && ev.name[0] == 'a' && ev.len == 1 && ev.data[0] == '1');
  CHECK_INTEQ(ll_awschunked_feed(&d, NULL, 0, &used, &ev), LL_AC_TRAILER);
  CHECK_INTEQ(used, 0);
  CHECK(ev.name[0] == 'b' && ev.data[0] == '2');
  const char *b_name = ev.name;
  CHECK_INTEQ(ll_awschunked_feed(&d, NULL, 0, &used, &ev), LL_AC_DONE);
  CHECK_STREQ(b_name, "b"); /* still valid until free */
  ll_awschunked_free(&d);

  /* A signed chunk's data is released; the next call (even with no input) judges it. */
  cfg = signed_cfg(false, EX_SEED, 1);
  ll_awschunked_init(&d, &cfg);
  body = "1;chunk-signature=" EX_SIG1 "\r\nx";
  CHECK_INTEQ(ll_awschunked_feed(&d, body, strlen(body), &used, &ev), LL_AC_DATA);
  CHECK(ev.len == 1 && ev.data[0] == 'x');
  CHECK_INTEQ(ll_awschunked_feed(&d, NULL, 0, &used, &ev), LL_AC_ERROR);
  CHECK_STREQ(ev.code, "SignatureDoesNotMatch");
  CHECK_INTEQ(ev.status, 403);
  ll_awschunked_free(&d);
}

/* Every proper prefix of a body is incomplete, and says where it stopped. */
LL_TEST(awschunked_every_truncation_is_incomplete) {
  char data[40];
  memset(data, 'z', sizeof data);
  static const char *const tr[] = {
      "x-amz-checksum-sha256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", NULL};
  for (int mode = 0; mode < 4; mode++) {
    ll_awschunked_cfg_t cfg = mode & 1 ? signed_cfg(mode & 2, EX_SEED, sizeof data)
                                       : unsigned_cfg(mode & 2, sizeof data);
    ll_buf_t b;
    b = (ll_buf_t)LL_BUF_INIT;
    build(&b, &cfg, data, sizeof data, 16, tr);
    for (size_t n = 0; n < b.len; n++) {
      result_t r;
      run(&cfg, b.data, n, 0, &r);
      if (r.rc != LL_AC_ERROR) fprintf(stderr, "mode %d prefix %zu: done\n", mode, n);
      CHECK_INTEQ(r.rc, LL_AC_ERROR);
      CHECK_STREQ(r.code, "IncompleteBody");
      CHECK_INTEQ(r.status, 400);
      CHECK(strstr(r.message, n ? "The aws-chunked body ended " : "is empty"));
      result_free(&r);
    }
    result_t r;
    run(&cfg, b.data, b.len, 0, &r);
    CHECK_INTEQ(r.rc, LL_AC_DONE);
    result_free(&r);
    ll_buf_free(&b);
  }
}

/* ---- every error ------------------------------------------------------------------------- */

LL_TEST(awschunked_errors_chunk_framing) {
  ll_awschunked_cfg_t u = unsigned_cfg(false, UINT64_MAX);
  expect_error(&u, "zz\r\nhello\r\n0\r\n\r\n", 16, 400, "InvalidRequest",
               "The size line of chunk 1 does not start with a hexadecimal chunk size: 'zz'.");
  expect_error(&u, "\r\n", 2, 400, "InvalidRequest", "does not start with a hexadecimal");
  expect_error(&u, " 3\r\nabc\r\n0\r\n\r\n", 15, 400, "InvalidRequest",
               "does not start with a hexadecimal");
  expect_error(&u, "3 \r\nabc\r\n0\r\n\r\n", 15, 400, "InvalidRequest", "Unexpected ' '");
  expect_error(&u, "00000000000000003\r\nabc\r\n0\r\n\r\n", 30, 400, "InvalidRequest",
               "The size of chunk 1 has more than 16 hexadecimal digits");
  expect_body(&u, "0000000000000003\r\nabc\r\n0000000000000000\r\n\r\n", "abc");
  expect_body(&u, "A\r\n0123456789\r\n0\r\n\r\n", "0123456789");
  expect_error(&u, "ffffffffffffffff\r\n", 18, 400, "InvalidRequest", "past 2^64 - 2 bytes");
  expect_error(&u, "3\nabc\r\n0\r\n\r\n", 12, 400, "InvalidRequest",
               "The size line of chunk 1 ends in a bare LF instead of CRLF: '3'.");
  expect_error(&u, "3\r\nabc\r\n0\n\r\n", 12, 400, "InvalidRequest",
               "The size line of chunk 2 ends in a bare LF");
  expect_error(&u, "3\r\nabcd\r\n0\r\n\r\n", 14, 400, "InvalidRequest",
               "The 3 bytes of data of chunk 1 are not followed by CRLF (got 'd'): the chunk "
               "size is wrong.");
  expect_error(&u, "3\r\nabc\r\r\n0\r\n\r\n", 15, 400, "InvalidRequest", "(got '\\x0d')");
  expect_error(&u, "3\r\nabc\n0\r\n\r\n", 12, 400, "InvalidRequest", "(got '\\x0a')");
  expect_error(&u, "3\r\nabc\r\n\r\n0\r\n\r\n", 15, 400, "InvalidRequest",
               "The size line of chunk 2 does not start");
  expect_error(&u, "3;x=y\r\nabc\r\n0\r\n\r\n", 18, 400, "InvalidRequest",
               "Unexpected ';x=y' after the size of chunk 1");
  /* Without x-amz-trailer, the body ends right after the last chunk. */
  expect_error(&u, "0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", 36, 400, "InvalidRequest",
               "The last (0-size) chunk must be followed by CRLF, not 'x' (trailing headers "
               "come only with the x-amz-trailer header).");
  expect_error(&u, "0\r\n\n", 4, 400, "InvalidRequest", "not '\\x0a'");

  /* The size line limit: 4096 bytes with its CRLF. */
  ll_buf_t b;
  b = (ll_buf_t)LL_BUF_INIT;
  ll_buf_append(&b, "3;", 2);
  for (int i = 0; i < LL_AC_LINE_MAX - 4; i++) ll_buf_append(&b, "x", 1);
  ll_buf_append(&b, "\r\nabc\r\n0\r\n\r\n", 12);
  expect_error(&u, b.data, b.len, 400, "InvalidRequest", "Unexpected ';xxxx");
  b.len = 0;
  ll_buf_append(&b, "3;", 2);
  for (int i = 0; i < LL_AC_LINE_MAX - 3; i++) ll_buf_append(&b, "x", 1);
  ll_buf_append(&b, "\r\nabc\r\n0\r\n\r\n", 12);
  expect_error(&u, b.data, b.len, 400, "InvalidRequest",
               "The size line of chunk 1 is longer than 4096 bytes: '3;xxxx");
  ll_buf_free(&b);

  /* Signed: exactly ";chunk-signature=<64 lower-case hex>". */
  ll_awschunked_cfg_t s = signed_cfg(false, EX_SEED, UINT64_MAX);
  expect_error(&s, "3\r\nabc\r\n", 8, 400, "InvalidRequest",
               "The size of chunk 1 must be followed by ';chunk-signature=' and 64 lower-case "
               "hexadecimal digits (a signed aws-chunked body), not ''.");
  expect_error(&s, "3;chunk-signature=abc\r\nabc\r\n", 28, 400, "InvalidRequest",
               "not ';chunk-signature=abc'");
  expect_error(&s,
               "3;chunk-signature=AD80C730A21E5B8D04586A2213DD63B9A0E99E0E2307B0ADE35A65485A288648"
               "\r\nabc\r\n",
               90, 400, "InvalidRequest", "lower-case");
  expect_error(&s,
               "3;chunk-signature=" EX_SIG1 ";x\r\nabc\r\n", 92, 400, "InvalidRequest",
               "must be followed by ';chunk-signature='");
  expect_error(&s, "3;Chunk-Signature=" EX_SIG1 "\r\nabc\r\n", 90, 400, "InvalidRequest",
               "must be followed by ';chunk-signature='");
  expect_error(&s, "0;chunk-signature=" EX_SIG1 "\r\n\r\n", 86, 403, "SignatureDoesNotMatch",
               "The chunk-signature of chunk 1 (0 bytes at offset 0");
}

LL_TEST(awschunked_errors_decoded_length) {
  ll_awschunked_cfg_t u = unsigned_cfg(false, 4);
  expect_error(&u, "3\r\nabc\r\n0\r\n\r\n", 13, 400, "IncompleteBody",
               "The aws-chunked body carries 3 bytes of data, but x-amz-decoded-content-length "
               "is 4.");
  /* Too much: refused at the size line, before its data. */
  u = unsigned_cfg(false, 2);
  CHECK_INTEQ(expect_error(&u, "3\r\nabc\r\n0\r\n\r\n", 13, 400, "IncompleteBody",
                           "Chunk 1 of 3 bytes takes the data past x-amz-decoded-content-length, "
                           "2 bytes (0 before it)."),
              0);
  u = unsigned_cfg(false, 4);
  CHECK_INTEQ(expect_error(&u, "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n", 21, 400, "IncompleteBody",
                           "Chunk 2 of 3 bytes takes the data past"),
              3);
  u = unsigned_cfg(false, 0);
  expect_error(&u, "1\r\na\r\n0\r\n\r\n", 11, 400, "IncompleteBody", "Chunk 1 of 1 bytes");
  u = unsigned_cfg(true, 3);
  expect_error(&u, "", 0, 400, "IncompleteBody",
               "The aws-chunked body is empty: it has no chunk (0 of the 3 bytes "
               "x-amz-decoded-content-length declares).");
  u = unsigned_cfg(false, UINT64_MAX);
  expect_error(&u, "3\r\nab", 5, 400, "IncompleteBody",
               "The aws-chunked body ended in chunk 1, after 2 of its 3 bytes.");
  expect_error(&u, "3\r\nabc\r", 7, 400, "IncompleteBody",
               "ended after the data of chunk 1, before its CRLF");
  expect_error(&u, "3\r\nabc\r\n", 8, 400, "IncompleteBody",
               "ended before its last (0-size) chunk.");
  expect_error(&u, "3\r\nabc\r\n0", 9, 400, "IncompleteBody",
               "ended before its last (0-size) chunk, inside a chunk-size line");
  expect_error(&u, "3\r\nabc\r\n0\r\n", 11, 400, "IncompleteBody",
               "ended before the CRLF after its last (0-size) chunk");
  u = unsigned_cfg(true, UINT64_MAX);
  expect_error(&u, "3\r\nabc\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n", 42, 400,
               "IncompleteBody", "ended in its trailer, before the empty line that closes it");
}

LL_TEST(awschunked_errors_trailer) {
  ll_awschunked_cfg_t u = unsigned_cfg(true, 0);
#define T(s) "0\r\n" s, strlen("0\r\n" s)
  expect_error(&u, T("x-amz-checksum-crc32\r\n\r\n"), 400, "MalformedTrailerError",
               "The trailer line 'x-amz-checksum-crc32' is not name:value.");
  expect_error(&u, T(":AAAAAA==\r\n\r\n"), 400, "MalformedTrailerError",
               "does not start with a header name");
  expect_error(&u, T(" x-amz-checksum-crc32:AAAAAA==\r\n\r\n"), 400, "MalformedTrailerError",
               "does not start with a header name");
  expect_error(&u, T("x-amz checksum:AAAAAA==\r\n\r\n"), 400, "MalformedTrailerError",
               "does not start with a header name");
  expect_error(&u, T("a:b\x01" "c\r\n\r\n"), 400, "MalformedTrailerError",
               "The value of the trailer line 'a:b\\x01c' has a control character.");
  expect_error(&u, T("a:b\rc\r\n\r\n"), 400, "MalformedTrailerError", "control character");
  expect_error(&u, T("a:b\n\r\n"), 400, "MalformedTrailerError",
               "A trailer line ends in a bare LF instead of CRLF: 'a:b'.");
  expect_error(&u, T("\n"), 400, "MalformedTrailerError", "bare LF");
  expect_error(&u, T("x-amz-checksum-crc32:AAAAAA==\r\nX-Amz-Checksum-CRC32:AAAAAA==\r\n\r\n"),
               400, "MalformedTrailerError",
               "The trailer names 'x-amz-checksum-crc32' twice.");
  expect_error(&u,
               T("x-amz-trailer-signature:"
                 "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n"),
               400, "MalformedTrailerError",
               "x-amz-trailer-signature in the trailer of an unsigned aws-chunked body");
#undef T

  /* 16 trailers are fine, a 17th is not. */
  ll_buf_t b;
  b = (ll_buf_t)LL_BUF_INIT;
  ll_buf_append(&b, "0\r\n", 3);
  for (int i = 0; i < LL_AC_MAX_TRAILERS; i++) {
    char line[32];
    snprintf(line, sizeof line, "x-amz-meta-%d:%d\r\n", i, i);
    ll_buf_append(&b, line, strlen(line));
  }
  size_t sixteen = b.len;
  ll_buf_append(&b, "\r\n", 2);
  result_t r;
  run_all(&u, b.data, b.len, &r);
  CHECK_INTEQ(r.rc, LL_AC_DONE);
  CHECK_INTEQ(r.ntrailers, 16);
  CHECK_STREQ(r.names[15], "x-amz-meta-15");
  result_free(&r);
  b.len = sixteen;
  ll_buf_append(&b, "x-amz-meta-x:y\r\n\r\n", 18);
  expect_error(&u, b.data, b.len, 400, "MalformedTrailerError",
               "The trailer has more than 16 headers; the 17th is 'x-amz-meta-x'.");

  /* 16 KiB of trailer lines, the final CRLF included, and not a byte more. */
  b.len = 0;
  ll_buf_append(&b, "0\r\nx-amz-meta-big:", 18);
  size_t value = LL_AC_TRAILER_MAX - strlen("x-amz-meta-big:") - 4;
  for (size_t i = 0; i < value; i++) ll_buf_append(&b, "v", 1);
  ll_buf_append(&b, "\r\n\r\n", 4);
  run(&u, b.data, b.len, 0, &r);
  CHECK_INTEQ(r.rc, LL_AC_DONE);
  CHECK_INTEQ(strlen(r.values[0]), 255); /* truncated by the test's copy */
  result_free(&r);
  b.len = 0;
  ll_buf_append(&b, "0\r\nx-amz-meta-big:", 18);
  for (size_t i = 0; i < value + 1; i++) ll_buf_append(&b, "v", 1);
  ll_buf_append(&b, "\r\n\r\n", 4);
  expect_error(&u, b.data, b.len, 400, "MalformedTrailerError",
               "The trailer is longer than 16384 bytes.");
  /* ...however the lines are cut: 15 lines of 1100 bytes go over. */
  b.len = 0;
  ll_buf_append(&b, "0\r\n", 3);
  for (int i = 0; i < 15; i++) {
    ll_buf_printf(&b, "x-amz-meta-%02d:", i);
    for (int k = 0; k < 1100 - 14 - 2; k++) ll_buf_append(&b, "v", 1);
    ll_buf_append(&b, "\r\n", 2);
  }
  ll_buf_append(&b, "\r\n", 2);
  expect_error(&u, b.data, b.len, 400, "MalformedTrailerError",
               "The trailer is longer than 16384 bytes.");
  ll_buf_free(&b);

  /* Signed trailer mode: the signature line is required, last, and lower-case hex. */
  ll_awschunked_cfg_t s = signed_cfg(true, EX_SEED, 0);
  static const char *const none[] = {NULL};
  b = (ll_buf_t)LL_BUF_INIT;
  build(&b, &s, "", 0, 1, none);
  result_t ok;
  run_all(&s, b.data, b.len, &ok);
  CHECK_INTEQ(ok.rc, LL_AC_DONE); /* no trailing header but the signature: fine */
  CHECK_INTEQ(ok.ntrailers, 0);
  result_free(&ok);
  char *sig = strstr(b.data, "x-amz-trailer-signature:");
  size_t head = (size_t)(sig - b.data);
  b.len = head;
  ll_buf_append(&b, "\r\n", 2);
  expect_error(&s, b.data, b.len, 400, "MalformedTrailerError",
               "The trailer of a signed aws-chunked body must end with an "
               "x-amz-trailer-signature line.");
  ll_buf_free(&b);
}

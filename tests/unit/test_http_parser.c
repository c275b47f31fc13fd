/* HTTP/1.1 request parser (src/http/parser.h). Most tests compare a transcript of the events
 * with the expected one, and every input is fed three ways — whole, byte by byte, and in 3-byte
 * pieces — which must give the same transcript. */
#include <stdbool.h>
#include <string.h>

#include "core/buf.h"
#include "http/parser.h"
#include "test.h"

static void describe_fields(ll_buf_t *out, const ll_http_head_t *h, size_t from, size_t to,
                            const char *prefix) {
  for (size_t i = from; i < to; i++) {
    const ll_kv_t *kv = &h->headers[i];
    CHECK(kv->name[kv->name_len] == '\0' && kv->value[kv->value_len] == '\0');
    ll_buf_printf(out, "  %s%.*s: %.*s\n", prefix, (int)kv->name_len, kv->name, (int)kv->value_len,
                  kv->value);
  }
}

/* Feeds in[0..len) to a fresh parser in pieces of `step` bytes (0: all at once) the way a server
 * loop does — after HEAD and BODY call again with what remains, after DONE reset and go on —
 * checking the calling convention of every call, and writes the events to out: HEAD with the
 * head and its fields, BODY with the bytes of consecutive BODY events, DONE with the trailers,
 * ERROR with status and message. */
static void transcript(ll_buf_t *out, const char *in, size_t len, const ll_http_limits_t *lim,
                       size_t step) {
  ll_http_parser_t p;
  ll_http_parser_init(&p, lim);
  ll_buf_reset(out);
  ll_buf_puts(out, "");
  bool in_body = false, stop = false;
  size_t off = 0, nheaders = 0;
  do {
    size_t n = step && len - off > step ? step : len - off;
    const char *data = in + off;
    size_t dlen = n;
    off += n;
    for (int calls = 0; !stop; calls++) {
      CHECK(calls < 100000);
      size_t used = 12345;
      ll_http_event_t ev;
      int r = ll_http_parse(&p, data, dlen, &used, &ev);
      CHECK(used <= dlen);
      if (r == LL_HTTP_NEED_MORE) {
        CHECK(used == dlen);
        break;
      }
      if (r != LL_HTTP_BODY && in_body) {
        ll_buf_puts(out, "\n");
        in_body = false;
      }
      data += used;
      dlen -= used;
      const ll_http_head_t *h = &p.head;
      switch (r) {
        case LL_HTTP_HEAD:
          CHECK(used > 0);
          ll_buf_printf(out, "HEAD %s %s path=%s query=%s v1.%d cl=%lld chunked=%d ka=%d 100=%d\n",
                        h->method, h->target, h->path, h->query, h->version_minor,
                        (long long)h->content_length, h->chunked, h->keep_alive,
                        h->expect_continue);
          CHECK(h->ntrailers == 0 && h->nheaders <= LL_HTTP_MAX_HEADERS);
          describe_fields(out, h, 0, h->nheaders, "");
          nheaders = h->nheaders;
          break;
        case LL_HTTP_BODY:
          CHECK(ev.len > 0 && ev.data + ev.len == data);
          if (!in_body) ll_buf_puts(out, "BODY ");
          ll_buf_append(out, ev.data, ev.len);
          in_body = true;
          break;
        case LL_HTTP_DONE:
          CHECK(h->nheaders == nheaders + h->ntrailers);
          ll_buf_puts(out, "DONE\n");
          describe_fields(out, h, nheaders, h->nheaders, "T ");
          ll_http_parser_reset(&p);
          break;
        case LL_HTTP_ERROR: {
          ll_buf_printf(out, "ERROR %d %s\n", ev.status, ev.message);
          CHECK(used == 0);
          ll_http_event_t ev2;
          CHECK_INTEQ(ll_http_parse(&p, "x", 1, &used, &ev2), LL_HTTP_ERROR);
          CHECK(used == 0 && ev2.status == ev.status && ev2.message == ev.message);
          stop = true;
          break;
        }
        default:
          CHECK(!"unknown event");
      }
    }
  } while (off < len && !stop);
  if (in_body) ll_buf_puts(out, "\n");
  ll_http_parser_free(&p);
}

/* The transcript of in[0..len), checked to be the same whole, byte by byte and in pieces. */
static const char *parse_n(const char *in, size_t len, const ll_http_limits_t *lim) {
  static ll_buf_t whole, piece;
  transcript(&whole, in, len, lim, 0);
  const size_t steps[] = {1, 3};
  for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
    transcript(&piece, in, len, lim, steps[i]);
    if (strcmp(piece.data, whole.data) != 0)
      fprintf(stderr, "fed in %zu-byte pieces:\n%s\nfed whole:\n%s\n", steps[i], piece.data,
              whole.data);
    CHECK_STREQ(piece.data, whole.data);
  }
  return whole.data;
}

static const char *parse(const char *in) { return parse_n(in, strlen(in), NULL); }

static const char *parse_lim(const char *in, size_t max_head, uint64_t max_body) {
  ll_http_limits_t lim = {max_head, max_body};
  return parse_n(in, strlen(in), &lim);
}

static bool ends_with(const char *s, const char *tail) {
  size_t n = strlen(s), t = strlen(tail);
  return n >= t && strcmp(s + n - t, tail) == 0;
}

/* The transcript of in ends with the error "STATUS message". */
#define CHECK_ERROR(in, want) CHECK_ERROR_T(parse(in), want)
#define CHECK_ERROR_T(got, want)                                                         \
  do {                                                                                   \
    const char *got_ = (got);                                                            \
    if (!ends_with(got_, "ERROR " want "\n"))                                            \
      fprintf(stderr, "%s:%d: want ERROR %s, got:\n%s", __FILE__, __LINE__, want, got_); \
    CHECK(ends_with(got_, "ERROR " want "\n"));                                          \
  } while (0)

#define GET_HOST "GET / HTTP/1.1\r\nHost: h\r\n"

LL_TEST(http_parser_simple_get) {
  CHECK_STREQ(parse("GET /hello HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n"),
              "HEAD GET /hello path=/hello query= v1.1 cl=-1 chunked=0 ka=1 100=0\n"
              "  Host: example.com\n"
              "  Accept: */*\n"
              "DONE\n");
}

LL_TEST(http_parser_post_content_length_body_aws_cli_invoke) {
  /* tests/fuzz/corpus/http_parse/cli-lambda-invoke, from a capture of the AWS CLI. */
  const char *in =
      "POST /2015-03-31/functions/bench-dev-echo/invocations HTTP/1.1\r\n"
      "Host: 127.0.0.1:8099\r\n"
      "Accept-Encoding: identity\r\n"
      "User-Agent: aws-cli/2.9.19 Python/3.11.2 Linux/6.18.44-fc-v595 source/x86_64.debian.12 "
      "prompt/off command/lambda.invoke\r\n"
      "X-Amz-Date: 20261124T115307Z\r\n"
      "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/lambda/"
      "aws4_request, SignedHeaders=host;x-amz-date, "
      "Signature=a8c30fac711a98bbffad3955d1afeab6e5c58bb90646cf11782c29d06279cacc\r\n"
      "Content-Length: 2\r\n"
      "\r\n"
      "{}";
  CHECK_STREQ(parse(in),
              "HEAD POST /2015-03-31/functions/bench-dev-echo/invocations "
              "path=/2015-03-31/functions/bench-dev-echo/invocations query= v1.1 cl=2 chunked=0 "
              "ka=1 100=0\n"
              "  Host: 127.0.0.1:8099\n"
              "  Accept-Encoding: identity\n"
              "  User-Agent: aws-cli/2.9.19 Python/3.11.2 Linux/6.18.44-fc-v595 "
              "source/x86_64.debian.12 prompt/off command/lambda.invoke\n"
              "  X-Amz-Date: 20261124T115307Z\n"
              "  Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/"
              "lambda/aws4_request, SignedHeaders=host;x-amz-date, "
              "Signature=a8c30fac711a98bbffad3955d1afeab6e5c58bb90646cf11782c29d06279cacc\n"
              "  Content-Length: 2\n"
              "BODY {}\n"
              "DONE\n");
}

LL_TEST(http_parser_chunked_with_extensions_and_trailers) {
  const char *in =
      "PUT /b/k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n"
      "Content-Encoding: aws-chunked\r\n\r\n"
      "5;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n"
      "hello\r\n"
      "6 ; a=b;c=\"d e\"\r\n world\r\n"
      "A\r\n0123456789\r\n"
      "000;chunk-signature=0000\r\n"
      "x-amz-checksum-crc32: sOO8/Q==\r\n"
      "X-Other: \t v \r\n"
      "\r\n";
  CHECK_STREQ(parse(in),
              "HEAD PUT /b/k path=/b/k query= v1.1 cl=-1 chunked=1 ka=1 100=0\n"
              "  Host: h\n"
              "  Transfer-Encoding: Chunked\n"
              "  Content-Encoding: aws-chunked\n"
              "BODY hello world0123456789\n"
              "DONE\n"
              "  T x-amz-checksum-crc32: sOO8/Q==\n"
              "  T X-Other: v\n");
  CHECK_STREQ(parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
              "HEAD POST / path=/ query= v1.1 cl=-1 chunked=1 ka=1 100=0\n"
              "  Host: h\n"
              "  Transfer-Encoding: chunked\n"
              "DONE\n");
}

LL_TEST(http_parser_trailers_found_by_lookup_and_head_does_not_move) {
  ll_buf_t in = LL_BUF_INIT;
  ll_buf_puts(&in,
              "POST /p?q=1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
              "3\r\nabc\r\n0\r\n");
  for (int i = 0; i < 100; i++) ll_buf_printf(&in, "X-T-%d: %0100d\r\n", i, i);
  ll_buf_puts(&in, "\r\n");

  ll_http_parser_t p;
  ll_http_parser_init(&p, NULL);
  size_t used, off = 0;
  ll_http_event_t ev;
  CHECK_INTEQ(ll_http_parse(&p, in.data, in.len, &used, &ev), LL_HTTP_HEAD);
  const char *method = p.head.method, *path = p.head.path, *host = p.head.headers[0].value;
  off += used;
  CHECK_INTEQ(ll_http_parse(&p, in.data + off, in.len - off, &used, &ev), LL_HTTP_BODY);
  CHECK_INTEQ(ev.len, 3);
  off += used;
  CHECK(ll_http_header(&p.head, "x-t-0") == NULL); /* trailers appear with DONE */
  /* Trailers fed byte by byte so the trailer storage grows many times. */
  int r = LL_HTTP_NEED_MORE;
  while (off < in.len && r == LL_HTTP_NEED_MORE) {
    r = ll_http_parse(&p, in.data + off, 1, &used, &ev);
    off += used;
  }
  CHECK_INTEQ(r, LL_HTTP_DONE);
  CHECK_INTEQ(off, in.len);
  CHECK(p.head.method == method && p.head.path == path && p.head.headers[0].value == host);
  CHECK_STREQ(method, "POST");
  CHECK_STREQ(path, "/p");
  CHECK_STREQ(host, "h");
  CHECK_INTEQ(p.head.ntrailers, 100);
  CHECK_INTEQ(p.head.nheaders, 102);
  const ll_kv_t *kv = ll_http_header(&p.head, "X-T-99");
  CHECK(kv != NULL && kv->value_len == 100 && kv->value[99] == '9');
  ll_http_parser_free(&p);
  ll_buf_free(&in);
}

LL_TEST(http_parser_pipelined_requests) {
  const char *in =
      "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
      "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz"
      "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "2\r\nAB\r\n0\r\n\r\n"
      "\r\n" /* a stray CRLF after a body, tolerated before the next request */
      "GET /d HTTP/1.0\r\n\r\n"
      "GET /e HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n";
  CHECK_STREQ(parse(in),
              "HEAD GET /a path=/a query= v1.1 cl=-1 chunked=0 ka=1 100=0\n"
              "  Host: h\n"
              "DONE\n"
              "HEAD POST /b path=/b query= v1.1 cl=3 chunked=0 ka=1 100=0\n"
              "  Host: h\n"
              "  Content-Length: 3\n"
              "BODY xyz\n"
              "DONE\n"
              "HEAD POST /c path=/c query= v1.1 cl=-1 chunked=1 ka=1 100=0\n"
              "  Host: h\n"
              "  Transfer-Encoding: chunked\n"
              "BODY AB\n"
              "DONE\n"
              "HEAD GET /d path=/d query= v1.0 cl=-1 chunked=0 ka=0 100=0\n"
              "DONE\n"
              "HEAD GET /e path=/e query= v1.1 cl=0 chunked=0 ka=1 100=0\n"
              "  Host: h\n"
              "  Content-Length: 0\n"
              "DONE\n");
}

LL_TEST(http_parser_never_consumes_past_the_message) {
  const char *get = GET_HOST "\r\n";
  const char *post = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\n";
  const char *chunked = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  ll_buf_t in = LL_BUF_INIT;
  ll_buf_printf(&in, "%s%sbody%s4\r\nabcd\r\n0\r\n\r\nNEXT", get, post, chunked);
  ll_http_parser_t p;
  ll_http_parser_init(&p, NULL);
  size_t used, off = 0;
  ll_http_event_t ev;
  CHECK_INTEQ(ll_http_parse(&p, in.data, in.len, &used, &ev), LL_HTTP_HEAD);
  CHECK_INTEQ(used, strlen(get));
  off += used;
  CHECK_INTEQ(ll_http_parse(&p, in.data + off, in.len - off, &used, &ev), LL_HTTP_DONE);
  CHECK_INTEQ(used, 0);
  ll_http_parser_reset(&p);
  CHECK_INTEQ(ll_http_parse(&p, in.data + off, in.len - off, &used, &ev), LL_HTTP_HEAD);
  CHECK_INTEQ(used, strlen(post));
  off += used;
  CHECK_INTEQ(ll_http_parse(&p, in.data + off, in.len - off, &used, &ev), LL_HTTP_BODY);
  CHECK(used == 4 && ev.len == 4 && ev.data == in.data + off); /* no copy, one BODY */
  off += used;
  CHECK_INTEQ(ll_http_parse(&p, in.data + off, in.len - off, &used, &ev), LL_HTTP_DONE);
  CHECK_INTEQ(used, 0);
  ll_http_parser_reset(&p);
  CHECK_INTEQ(ll_http_parse(&p, in.data + off, in.len - off, &used, &ev), LL_HTTP_HEAD);
  off += used;
  CHECK_INTEQ(ll_http_parse(&p, in.data + off, in.len - off, &used, &ev), LL_HTTP_BODY);
  CHECK(used == 7 && ev.len == 4 && ev.data == in.data + off + 3);
  off += used;
  CHECK_INTEQ(ll_http_parse(&p, in.data + off, in.len - off, &used, &ev), LL_HTTP_DONE);
  CHECK_INTEQ(used, strlen("\r\n0\r\n\r\n"));
  off += used;
  CHECK_STREQ(in.data + off, "NEXT");
  ll_http_parser_free(&p);
  ll_buf_free(&in);
}

LL_TEST(http_parser_done_comes_even_with_len_zero) {
  ll_http_parser_t p;
  ll_http_parser_init(&p, NULL);
  size_t used;
  ll_http_event_t ev;
  CHECK_INTEQ(ll_http_parse(&p, NULL, 0, &used, &ev), LL_HTTP_NEED_MORE);
  const char *get = GET_HOST "\r\n";
  CHECK_INTEQ(ll_http_parse(&p, get, strlen(get), &used, &ev), LL_HTTP_HEAD);
  CHECK_INTEQ(ll_http_parse(&p, NULL, 0, &used, &ev), LL_HTTP_DONE);
  CHECK_INTEQ(used, 0);
  CHECK_INTEQ(ll_http_parse(&p, "GET", 3, &used, &ev), LL_HTTP_DONE); /* until reset */
  CHECK_INTEQ(used, 0);
  ll_http_parser_reset(&p);
  const char *post = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n";
  CHECK_INTEQ(ll_http_parse(&p, post, strlen(post), &used, &ev), LL_HTTP_HEAD);
  CHECK_INTEQ(ll_http_parse(&p, NULL, 0, &used, &ev), LL_HTTP_NEED_MORE);
  CHECK_INTEQ(ll_http_parse(&p, "a", 1, &used, &ev), LL_HTTP_BODY);
  CHECK_INTEQ(ll_http_parse(&p, "bc", 2, &used, &ev), LL_HTTP_BODY);
  CHECK(used == 1 && ev.len == 1 && ev.data[0] == 'b');
  CHECK_INTEQ(ll_http_parse(&p, NULL, 0, &used, &ev), LL_HTTP_DONE);
  ll_http_parser_free(&p);
}

LL_TEST(http_parser_expect_continue) {
  CHECK(strstr(parse("PUT /k HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n"
                     "\r\nx"),
               " 100=1\n"));
  CHECK(strstr(parse(GET_HOST "expect: 100-continue\r\n\r\n"), " 100=1\n"));
  CHECK(strstr(parse(GET_HOST "Expect:\r\n\r\n"), " 100=0\n"));
  CHECK(strstr(parse(GET_HOST "Expect: 200-ok\r\n\r\n"), " 100=0\n"));
  CHECK(strstr(parse("GET / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n"), " 100=0\n"));
}

LL_TEST(http_parser_keep_alive_rules) {
  CHECK(strstr(parse(GET_HOST "\r\n"), " ka=1 "));
  CHECK(strstr(parse(GET_HOST "Connection: close\r\n\r\n"), " ka=0 "));
  CHECK(strstr(parse(GET_HOST "Connection: Upgrade, CLOSE\r\n\r\n"), " ka=0 "));
  CHECK(strstr(parse(GET_HOST "Connection: keep-alive\r\nConnection: Close\r\n\r\n"), " ka=0 "));
  CHECK(strstr(parse(GET_HOST "Connection: closed\r\n\r\n"), " ka=1 "));
  CHECK(strstr(parse(GET_HOST "Connection: a,\tclose\t, b\r\n\r\n"), " ka=0 "));
  CHECK(strstr(parse("GET / HTTP/1.0\r\n\r\n"), " ka=0 "));
  CHECK(strstr(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), " ka=1 "));
  CHECK(strstr(parse("GET / HTTP/1.0\r\nConnection: foo ,keep-alive\r\n\r\n"), " ka=1 "));
  CHECK(strstr(parse("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"), " ka=0 "));
}

LL_TEST(http_parser_absolute_form_target) {
  CHECK(strstr(parse("GET http://example.com:8080/a/b?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n"),
               "HEAD GET /a/b?x=1 path=/a/b query=x=1 v1.1"));
  CHECK(strstr(parse("GET HTTPS://[::1]:9 HTTP/1.1\r\nHost: h\r\n\r\n"),
               "HEAD GET / path=/ query= v1.1"));
  CHECK(strstr(parse("GET http://h?q HTTP/1.1\r\nHost: h\r\n\r\n"),
               "HEAD GET /?q path=/ query=q v1.1"));
  CHECK_ERROR("GET http://u:pw@h/ HTTP/1.1\r\nHost: h\r\n\r\n",
              "400 invalid authority in request-target");
  CHECK_ERROR("GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n",
              "400 invalid authority in request-target");
  CHECK_ERROR("GET http:// HTTP/1.1\r\nHost: h\r\n\r\n", "400 invalid request-target");
  CHECK_ERROR("GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n", "400 invalid request-target");
  CHECK_ERROR("CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n", "400 invalid request-target");
}

LL_TEST(http_parser_query_split) {
  CHECK(strstr(parse("GET /a%20b/c?x=1&y HTTP/1.1\r\nHost: h\r\n\r\n"),
               "HEAD GET /a%20b/c?x=1&y path=/a%20b/c query=x=1&y v1.1"));
  CHECK(strstr(parse("GET /? HTTP/1.1\r\nHost: h\r\n\r\n"), "HEAD GET /? path=/ query= v1.1"));
  CHECK(strstr(parse("GET /a?b?c=/ HTTP/1.1\r\nHost: h\r\n\r\n"),
               "HEAD GET /a?b?c=/ path=/a query=b?c=/ v1.1"));
  CHECK(
      strstr(parse("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"), "HEAD OPTIONS * path=* query= v1.1"));
  CHECK_ERROR("GET * HTTP/1.1\r\nHost: h\r\n\r\n",
              "400 asterisk-form request-target without OPTIONS");
  CHECK_ERROR("GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n", "400 invalid request-target");
}

LL_TEST(http_parser_lf_only_lines) {
  CHECK_STREQ(parse("\nPOST /x?y HTTP/1.1\nHost: h\nTransfer-Encoding: chunked\nA: b\r\n\n"
                    "3;e=f\nabc\n0\nT: 1\n\n"
                    "GET / HTTP/1.1\nHost: h\n\n"),
              "HEAD POST /x?y path=/x query=y v1.1 cl=-1 chunked=1 ka=1 100=0\n"
              "  Host: h\n"
              "  Transfer-Encoding: chunked\n"
              "  A: b\n"
              "BODY abc\n"
              "DONE\n"
              "  T T: 1\n"
              "HEAD GET / path=/ query= v1.1 cl=-1 chunked=0 ka=1 100=0\n"
              "  Host: h\n"
              "DONE\n");
}

LL_TEST(http_parser_empty_lines_before_request_line) {
  CHECK(strstr(parse("\r\n\r\n\n\r\n" GET_HOST "\r\n"), "HEAD GET /"));
  CHECK_ERROR("\r\n\r\n\n\r\n\r\n" GET_HOST "\r\n", "400 too many empty lines before request line");
}

LL_TEST(http_parser_request_line_errors) {
  CHECK_ERROR(" GET / HTTP/1.1\r\nHost: h\r\n\r\n", "400 invalid method");
  CHECK_ERROR("G(T / HTTP/1.1\r\nHost: h\r\n\r\n", "400 invalid method");
  CHECK_ERROR("GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", "400 invalid method");
  CHECK_ERROR("GET\r\n\r\n", "400 invalid method");
  CHECK_ERROR("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", "400 invalid request-target");
  CHECK_ERROR("GET /\r\n\r\n", "400 invalid request-target");
  CHECK_ERROR("GET x HTTP/1.1\r\nHost: h\r\n\r\n", "400 invalid request-target");
  CHECK_ERROR("GET /\x7f HTTP/1.1\r\nHost: h\r\n\r\n", "400 invalid request-target");
  CHECK_ERROR("GET /\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", "400 invalid request-target");
  CHECK_ERROR("GET /\r HTTP/1.1\r\nHost: h\r\n\r\n", "400 invalid request-target");
  CHECK_ERROR("GET / HTTP/1.1 \r\nHost: h\r\n\r\n", "400 invalid HTTP version");
  CHECK_ERROR("GET / HTTP/1.1\r\r\nHost: h\r\n\r\n", "400 invalid HTTP version");
  CHECK_ERROR("GET / http/1.1\r\nHost: h\r\n\r\n", "400 invalid HTTP version");
  CHECK_ERROR("GET / HTTP/1.10\r\nHost: h\r\n\r\n", "400 invalid HTTP version");
  CHECK_ERROR("GET / HTTP/11\r\nHost: h\r\n\r\n", "400 invalid HTTP version");
  CHECK_ERROR("GET / HTTP/x.1\r\nHost: h\r\n\r\n", "400 invalid HTTP version");
  CHECK_ERROR("GET / HTTP/-.1\r\nHost: h\r\n\r\n", "400 invalid HTTP version");
  CHECK_ERROR("GET / HTTP/1-1\r\nHost: h\r\n\r\n", "400 invalid HTTP version");
  CHECK_ERROR("GET / HTTP/1.x\r\nHost: h\r\n\r\n", "400 invalid HTTP version");
  CHECK_ERROR("GET / HTTP/1./\r\nHost: h\r\n\r\n", "400 invalid HTTP version");
  CHECK_ERROR("GET / HTTP/2.0\r\nHost: h\r\n\r\n", "505 HTTP version not supported");
  CHECK_ERROR("GET / HTTP/1.2\r\nHost: h\r\n\r\n", "505 HTTP version not supported");
  CHECK_ERROR("GET / HTTP/0.9\r\n\r\n", "505 HTTP version not supported");
  /* Reported as soon as the request line is complete, before the headers arrive. */
  CHECK_STREQ(parse("GET / HTTP/3.0\r\n"), "ERROR 505 HTTP version not supported\n");
}

LL_TEST(http_parser_nul_and_control_characters_rejected) {
  static const char nul_method[] = "G\0T / HTTP/1.1\r\nHost: h\r\n\r\n";
  static const char nul_target[] = "GET /\0 HTTP/1.1\r\nHost: h\r\n\r\n";
  static const char nul_name[] = "GET / HTTP/1.1\r\nHost: h\r\nX\0: v\r\n\r\n";
  static const char nul_value[] = "GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n";
  static const char nul_chunk[] =
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
      "\r\n1;a\0\r\nx\r\n0\r\n\r\n";
  CHECK_ERROR_T(parse_n(nul_method, sizeof nul_method - 1, NULL), "400 invalid method");
  CHECK_ERROR_T(parse_n(nul_target, sizeof nul_target - 1, NULL), "400 invalid request-target");
  CHECK_ERROR_T(parse_n(nul_name, sizeof nul_name - 1, NULL), "400 invalid header name");
  CHECK_ERROR_T(parse_n(nul_value, sizeof nul_value - 1, NULL), "400 invalid header value");
  CHECK_ERROR_T(parse_n(nul_chunk, sizeof nul_chunk - 1, NULL), "400 invalid chunk extension");
  CHECK_ERROR(GET_HOST "X: a\001b\r\n\r\n", "400 invalid header value");
  CHECK_ERROR(GET_HOST "X: a\x7f\r\n\r\n", "400 invalid header value");
  CHECK_ERROR(GET_HOST "X: a\rb\r\n\r\n", "400 invalid header value");
  CHECK_ERROR(GET_HOST "X: a\r\r\n\r\n", "400 invalid header value");
  CHECK_ERROR(GET_HOST "\r\r\n", "400 invalid header name");
  /* obs-text and HTAB inside values are allowed (RFC 9110 section 5.5). */
  CHECK(strstr(parse(GET_HOST "X: caf\xc3\xa9\tau lait\r\n\r\n"), "  X: caf\xc3\xa9\tau lait\n"));
}

LL_TEST(http_parser_long_values_checked_at_every_offset) {
  /* Values are checked 8 bytes at a time: put the byte at every position of a long value. */
  const unsigned char bad[] = {0x00, 0x01, 0x0d, 0x1f, 0x7f}; /* (LF would end the line) */
  const unsigned char good[] = {'\t', ' ', 0x20, 0x7e, 0x80, 0xff};
  for (size_t pos = 0; pos < 40; pos++) {
    char in[128];
    int n = snprintf(in, sizeof in, GET_HOST "X: a%040dz\r\n\r\n", 0);
    for (size_t i = 0; i < sizeof bad; i++) {
      in[strlen(GET_HOST) + 4 + pos] = (char)bad[i];
      CHECK_ERROR_T(parse_n(in, (size_t)n, NULL), "400 invalid header value");
    }
    for (size_t i = 0; i < sizeof good; i++) {
      in[strlen(GET_HOST) + 4 + pos] = (char)good[i];
      CHECK(strstr(parse_n(in, (size_t)n, NULL), "DONE\n"));
    }
  }
}

LL_TEST(http_parser_header_errors) {
  CHECK_ERROR(GET_HOST "X-A : v\r\n\r\n", "400 invalid header name");
  CHECK_ERROR(GET_HOST "X A: v\r\n\r\n", "400 invalid header name");
  CHECK_ERROR(GET_HOST ": v\r\n\r\n", "400 invalid header name");
  CHECK_ERROR(GET_HOST "X(A): v\r\n\r\n", "400 invalid header name");
  CHECK_ERROR(GET_HOST "NoColon\r\n\r\n", "400 missing colon in header line");
  CHECK_ERROR(GET_HOST "X-A: v\r\n  folded\r\n\r\n", "400 obsolete line folding");
  CHECK_ERROR(GET_HOST "X-A: v\r\n\tfolded\r\n\r\n", "400 obsolete line folding");
  CHECK_ERROR("GET / HTTP/1.1\r\n Host: h\r\n\r\n", "400 obsolete line folding");
}

LL_TEST(http_parser_header_values_trimmed_and_lookup_case_insensitive) {
  const char *in = GET_HOST "X-A: \t v a l \t\r\nEmpty:\r\nSpaces:   \r\nx-a: second\r\n\r\n";
  CHECK(strstr(parse(in), "  X-A: v a l\n  Empty: \n  Spaces: \n  x-a: second\n"));
  ll_http_parser_t p;
  ll_http_parser_init(&p, NULL);
  size_t used;
  ll_http_event_t ev;
  CHECK_INTEQ(ll_http_parse(&p, in, strlen(in), &used, &ev), LL_HTTP_HEAD);
  const ll_kv_t *kv = ll_http_header(&p.head, "x-A");
  CHECK(kv && kv->value_len == 5);
  CHECK_STREQ(kv->value, "v a l"); /* NUL-terminated too */
  CHECK_STREQ(kv->name, "X-A");
  CHECK(ll_http_header(&p.head, "HOST") == &p.head.headers[0]);
  CHECK(ll_http_header(&p.head, "empty")->value_len == 0);
  CHECK(ll_http_header(&p.head, "X-") == NULL);
  CHECK(ll_http_header(&p.head, "Content-Length") == NULL);
  ll_http_parser_free(&p);
}

LL_TEST(http_parser_host_rules) {
  CHECK_ERROR("GET / HTTP/1.1\r\nX: y\r\n\r\n", "400 missing Host header");
  CHECK_ERROR(GET_HOST "host: h\r\n\r\n", "400 multiple Host headers");
  CHECK_ERROR("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", "400 invalid Host header");
  CHECK_ERROR("GET / HTTP/1.1\r\nHost: u@h\r\n\r\n", "400 invalid Host header");
  CHECK(strstr(parse("GET / HTTP/1.1\r\nHost:\r\n\r\n"), "HEAD GET /"));
  CHECK(strstr(parse("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"), "HEAD GET /"));
  CHECK(strstr(parse("GET / HTTP/1.0\r\n\r\n"), "HEAD GET /"));
}

LL_TEST(http_parser_content_length_errors) {
#define POST_CL "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: "
  CHECK_ERROR(POST_CL "abc\r\n\r\n", "400 invalid Content-Length");
  CHECK_ERROR(POST_CL "-1\r\n\r\n", "400 invalid Content-Length");
  CHECK_ERROR(POST_CL "+1\r\n\r\n", "400 invalid Content-Length");
  CHECK_ERROR(POST_CL "0x10\r\n\r\n", "400 invalid Content-Length");
  CHECK_ERROR(POST_CL "1 2\r\n\r\n", "400 invalid Content-Length");
  CHECK_ERROR(POST_CL "\r\n\r\n", "400 invalid Content-Length");
  CHECK_ERROR(POST_CL ",\r\n\r\n", "400 invalid Content-Length");
  CHECK_ERROR(POST_CL "9223372036854775808\r\n\r\n", "400 Content-Length too large");
  CHECK_ERROR(POST_CL "99999999999999999999999\r\n\r\n", "400 Content-Length too large");
  CHECK_ERROR(POST_CL "5, 6\r\n\r\n", "400 conflicting Content-Length values");
  CHECK_ERROR(POST_CL "5\r\nContent-Length: 6\r\n\r\n", "400 conflicting Content-Length values");
  CHECK_STREQ(parse(POST_CL "3\r\ncontent-length: 003\r\nContent-Length: 3, 3\r\n\r\nabc"),
              "HEAD POST / path=/ query= v1.1 cl=3 chunked=0 ka=1 100=0\n"
              "  Host: h\n"
              "  Content-Length: 3\n"
              "  content-length: 003\n"
              "  Content-Length: 3, 3\n"
              "BODY abc\n"
              "DONE\n");
  /* The largest value is accepted and its body awaited. */
  const char *max = parse(POST_CL "9223372036854775807\r\n\r\nab");
  CHECK(strstr(max, " cl=9223372036854775807 ") && ends_with(max, "BODY ab\n"));
#undef POST_CL
}

LL_TEST(http_parser_transfer_encoding_rules) {
#define POST_H "POST / HTTP/1.1\r\nHost: h\r\n"
  CHECK_ERROR(POST_H "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
              "400 Content-Length and Transfer-Encoding both present");
  CHECK_ERROR(POST_H "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
              "400 Content-Length and Transfer-Encoding both present");
  CHECK_ERROR(POST_H "Transfer-Encoding: gzip\r\n\r\n", "501 unsupported Transfer-Encoding");
  CHECK_ERROR(POST_H "Transfer-Encoding: gzip, chunked\r\n\r\n",
              "501 unsupported Transfer-Encoding");
  CHECK_ERROR(POST_H "Transfer-Encoding: chunked, identity\r\n\r\n",
              "501 unsupported Transfer-Encoding");
  CHECK_ERROR(POST_H "Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n",
              "501 unsupported Transfer-Encoding");
  CHECK_ERROR(POST_H "Transfer-Encoding: chunked;q=1\r\n\r\n", "501 unsupported Transfer-Encoding");
  CHECK_ERROR(POST_H "Transfer-Encoding: chunked, chunked\r\n\r\n",
              "400 chunked applied more than once");
  CHECK_ERROR(POST_H "Transfer-Encoding: chunked\r\nTransfer-Encoding: CHUNKED\r\n\r\n",
              "400 chunked applied more than once");
  CHECK_ERROR(POST_H "Transfer-Encoding:\r\n\r\n", "400 empty Transfer-Encoding");
  CHECK_ERROR(POST_H "Transfer-Encoding: , \r\n\r\n", "400 empty Transfer-Encoding");
  CHECK_ERROR("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
              "400 Transfer-Encoding in HTTP/1.0 request");
  CHECK(strstr(parse(POST_H "Transfer-Encoding: ,CHUNKED , \r\n\r\n0\r\n\r\n"), "chunked=1"));
#undef POST_H
}

LL_TEST(http_parser_chunked_errors) {
#define CH "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
  CHECK_ERROR(CH "x\r\n", "400 invalid chunk size");
  CHECK_ERROR(CH "\r\n", "400 invalid chunk size");
  CHECK_ERROR(CH ";a\r\n", "400 invalid chunk size");
  CHECK_ERROR(CH "-1\r\n", "400 invalid chunk size");
  CHECK_ERROR(CH "5x\r\n", "400 invalid chunk size");
  CHECK_ERROR(CH "0x5\r\n", "400 invalid chunk size");
  CHECK_ERROR(CH "5 \r\nhello\r\n", "400 invalid chunk extension");
  CHECK_ERROR(CH "5\rhello\r\n", "400 bare CR in chunk line");
  CHECK_ERROR(CH "5\r\nhelloX\r\n", "400 missing CRLF after chunk data");
  CHECK_ERROR(CH "5\r\nhello\rX", "400 missing CRLF after chunk data");
  CHECK_ERROR(CH "10000000000000000\r\n", "400 chunk size too large");
  CHECK_ERROR(CH "8000000000000000\r\n", "400 chunk size too large");
  CHECK(ends_with(parse(CH "7fffffffffffffff\r\nab"), "BODY ab\n")); /* the largest size */
  CHECK_ERROR(CH "1\r\nx\r\n7fffffffffffffff\r\n", "400 chunk size too large");
  CHECK_ERROR(CH "1\r\nx\r\n0\r\nBad Name: x\r\n\r\n", "400 invalid header name");
  CHECK_ERROR(CH "1\r\nx\r\n0\r\nA: x\r\n folded\r\n\r\n", "400 obsolete line folding");
  /* Both a long extension and a long run of leading zeros are bounded. */
  ll_buf_t in = LL_BUF_INIT;
  ll_buf_puts(&in, CH "1;x=");
  for (int i = 0; i < 4100; i++) ll_buf_puts(&in, "a");
  CHECK_ERROR_T(parse(in.data), "400 chunk line too long");
  ll_buf_reset(&in);
  ll_buf_puts(&in, CH);
  for (int i = 0; i < 4100; i++) ll_buf_puts(&in, "0");
  CHECK_ERROR_T(parse(in.data), "400 chunk line too long");
  ll_buf_free(&in);
  /* Whitespace before an extension and quoted strings in it are fine. */
  CHECK(strstr(parse(CH "3 \t;a=\"x;\\\" y\"\r\nabc\r\n0\r\n\r\n"), "BODY abc\nDONE\n"));
  CHECK(strstr(parse(CH "3\t;a\r\nabc\r\n0\r\n\r\n"), "BODY abc\nDONE\n"));
#undef CH
}

LL_TEST(http_parser_limits) {
  /* Request line alone longer than max_head_bytes: 414; reported before it ends. */
  CHECK_STREQ(parse_lim("GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 32, 0),
              "ERROR 414 request line too long\n");
  CHECK_STREQ(
      parse_lim("GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: h\r\n\r\n", 32, 0),
      "ERROR 414 request line too long\n");
  /* Head over the limit: 431; exactly at the limit: fine. */
  const char *get = "GET / HTTP/1.1\r\nHost: h\r\nX: 12345\r\n\r\n"; /* 37 bytes */
  CHECK_INTEQ(strlen(get), 37);
  CHECK(strstr(parse_lim(get, 37, 0), "HEAD GET /"));
  CHECK_STREQ(parse_lim(get, 36, 0), "ERROR 431 request header fields too large\n");
  /* The default is 64 KiB. */
  ll_buf_t in = LL_BUF_INIT;
  ll_buf_puts(&in, GET_HOST "X: ");
  while (in.len < 64 * 1024) ll_buf_puts(&in, "0123456789");
  ll_buf_puts(&in, "\r\n\r\n");
  CHECK_STREQ(parse(in.data), "ERROR 431 request header fields too large\n");
  /* At most LL_HTTP_MAX_HEADERS fields. */
  ll_buf_reset(&in);
  ll_buf_puts(&in, GET_HOST);
  for (int i = 1; i < LL_HTTP_MAX_HEADERS; i++) ll_buf_printf(&in, "X-%d: %d\r\n", i, i);
  ll_buf_puts(&in, "\r\n");
  CHECK(strstr(parse(in.data), "  X-127: 127\nDONE\n"));
  in.len -= 2;
  ll_buf_puts(&in, "One-Too-Many: x\r\n\r\n");
  CHECK_STREQ(parse(in.data), "ERROR 431 too many header fields\n");
  /* Trailers share both limits with the head. */
  ll_buf_reset(&in);
  ll_buf_puts(&in, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n");
  for (int i = 2; i < LL_HTTP_MAX_HEADERS; i++) ll_buf_printf(&in, "T-%d: %d\r\n", i, i);
  ll_buf_puts(&in, "\r\n");
  CHECK(strstr(parse(in.data), "  T T-127: 127\n"));
  in.len -= 2;
  ll_buf_puts(&in, "One-Too-Many: x\r\n\r\n");
  CHECK_ERROR_T(parse(in.data), "431 too many trailer fields");
  const char *tr =
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\nT: 12345678\r\n\r\n"; /* head 56 bytes, trailers 15 */
  CHECK(strstr(parse_lim(tr, 56 + 15, 0), "  T T: 12345678\n"));
  CHECK_ERROR_T(parse_lim(tr, 56 + 14, 0), "431 trailer fields too large");
  ll_buf_free(&in);
}

LL_TEST(http_parser_body_limit) {
  const char *cl =
      "PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n";
  CHECK(strstr(parse_lim(cl, 0, 10), "HEAD PUT /"));
  /* Over the limit: 413 instead of HEAD, before any body byte (and before 100 Continue). */
  CHECK_STREQ(parse_lim(cl, 0, 9), "ERROR 413 body too large\n");
  const char *ch =
      "PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "4\r\nabcd\r\n6\r\nefghij\r\n0\r\n\r\n";
  CHECK(ends_with(parse_lim(ch, 0, 10), "BODY abcdefghij\nDONE\n"));
  /* The running total goes over at the second chunk-size line, before its data. */
  CHECK(ends_with(parse_lim(ch, 0, 9), "BODY abcd\nERROR 413 body too large\n"));
  CHECK(ends_with(parse_lim("PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "00000000000000000000000000000000000000000000000000000000000000001",
                            0, 1),
                  "  Transfer-Encoding: chunked\n"));
  CHECK(ends_with(parse_lim("PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "00000000000000000000000000000000000000000000000000000000000000010",
                            0, 15),
                  "ERROR 413 body too large\n"));
}

LL_TEST(http_parser_aws_cli_s3_put_with_expect_continue) {
  const char *in =
      "PUT /cap/small.txt HTTP/1.1\r\n"
      "Host: 127.0.0.1:8099\r\n"
      "Accept-Encoding: identity\r\n"
      "Content-Type: text/plain\r\n"
      "Content-MD5: m8rr/2JgTkr5HSe0dKMRyA==\r\n"
      "Expect: 100-continue\r\n"
      "X-Amz-Content-SHA256: f2bf60168438cf59abbf5f57346d92996f8c21fd139636f4981cdac3945a8173\r\n"
      "Content-Length: 5\r\n"
      "\r\n"
      "A5LYu";
  CHECK(ends_with(parse(in),
                  " 100=1\n"
                  "  Host: 127.0.0.1:8099\n"
                  "  Accept-Encoding: identity\n"
                  "  Content-Type: text/plain\n"
                  "  Content-MD5: m8rr/2JgTkr5HSe0dKMRyA==\n"
                  "  Expect: 100-continue\n"
                  "  X-Amz-Content-SHA256: "
                  "f2bf60168438cf59abbf5f57346d92996f8c21fd139636f4981cdac3945a8173\n"
                  "  Content-Length: 5\n"
                  "BODY A5LYu\n"
                  "DONE\n"));
}

LL_TEST(http_parser_reset_reuses_storage) {
  const char *in =
      "POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nHost: h\r\n"
      "Content-Length: 0\r\n\r\n";
  ll_http_parser_t p;
  ll_http_parser_init(&p, NULL);
  size_t used;
  ll_http_event_t ev;
  const char *store = NULL;
  for (int i = 0; i < 3; i++) {
    CHECK_INTEQ(ll_http_parse(&p, in, strlen(in), &used, &ev), LL_HTTP_HEAD);
    CHECK_INTEQ(ll_http_parse(&p, NULL, 0, &used, &ev), LL_HTTP_DONE);
    if (i) CHECK(p.head.method == store); /* same storage, no new allocation */
    store = p.head.method;
    ll_http_parser_reset(&p);
  }
  ll_http_parser_free(&p);
}

/* The HTTP server on a real loop: a client thread talks to a listener over loopback while the
 * test's loop serves it. Covers what the end-to-end suite cannot reach easily: streamed
 * (chunked) responses, answers given later from a timer, client aborts, and the idle and head
 * timeouts. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/mem.h"
#include "http/router.h"
#include "http/server.h"
#include "test.h"

static uv_loop_t *loop;
static uv_async_t done_async;
static ll_http_listener_t *listener;
static int port;
static int aborts;

/* ---- handlers ---------------------------------------------------------------------------- */

static void stream(ll_http_req_t *req) {
  ll_http_stream_start(req, 200, "Content-Type: text/plain\r\n");
  ll_http_stream_chunk(req, ll_strdup("hello "), 6);
  ll_http_stream_chunk(req, ll_strdup("streamed "), 9);
  ll_http_stream_chunk(req, ll_strdup("world"), 5);
  ll_http_stream_end(req);
}

static void on_later(uv_timer_t *t) {
  ll_http_req_t *req = t->data;
  ll_http_respond(req, 200, NULL, ll_strdup("later"), 5);
  uv_close((uv_handle_t *)t, (uv_close_cb)free);
}

static void later(ll_http_req_t *req) {
  uv_timer_t *t = ll_calloc(1, sizeof *t);
  uv_timer_init(loop, t);
  t->data = req;
  uv_timer_start(t, on_later, 50, 0);
}

static void hang_aborted(ll_http_req_t *req, void *ud) {
  aborts++;
  ll_http_respond(req, 500, NULL, NULL, 0); /* frees it; nobody reads */
}

static void hang(ll_http_req_t *req) { ll_http_req_on_abort(req, hang_aborted, NULL); }

static void echo(ll_http_req_t *req) {
  if (req->body_too_large) {
    ll_http_respond(req, 413, NULL, NULL, 0);
    return;
  }
  size_t len;
  char *body = ll_buf_steal(&req->body, &len);
  ll_http_respond(req, 200, NULL, body, len);
}

/* /upload takes its body as a stream, pausing after every piece and resuming from a timer (a
 * slow disk), and answers with the byte count and a checksum; /refuse answers before reading. */
typedef struct upload {
  uv_timer_t timer; /* first: closing it frees the whole */
  uint64_t n, sum;
  ll_http_req_t *req;
} upload_t;

static void upload_resume(uv_timer_t *t) { ll_http_body_resume(((upload_t *)t->data)->req); }

static void upload_data(ll_http_req_t *req, const char *p, size_t len, void *ud) {
  upload_t *u = ud;
  for (size_t i = 0; i < len; i++) u->sum = u->sum * 31 + (unsigned char)p[i];
  u->n += len;
  ll_http_body_pause(req);
  uv_timer_start(&u->timer, upload_resume, 1, 0);
}

static void upload_end(ll_http_req_t *req, void *ud) {
  upload_t *u = ud;
  char *body = ll_sprintf("%llu %llu", (unsigned long long)u->n, (unsigned long long)u->sum);
  ll_http_respond(req, 200, NULL, body, strlen(body));
  uv_close((uv_handle_t *)&u->timer, (uv_close_cb)free);
}

static void upload(ll_http_req_t *req) {
  upload_t *u = ll_calloc(1, sizeof *u);
  u->req = req;
  uv_timer_init(loop, &u->timer);
  u->timer.data = u;
  ll_http_body_read(req, upload_data, upload_end, u);
}

static void refuse(ll_http_req_t *req) { ll_http_respond(req, 403, NULL, ll_strdup("no"), 2); }

static void not_found(ll_http_req_t *req) { ll_http_respond(req, 404, NULL, NULL, 0); }

static const ll_http_route_t routes[] = {
    {"GET", "/stream", stream, 0, "Stream"},
    {"GET", "/later", later, 0, "Later"},
    {"GET", "/hang", hang, 0, "Hang"},
    {"POST", "/echo", echo, 1024, "Echo"},
    {"PUT", "/upload", upload, 1ull << 40, "Upload", .stream_body = true},
    {"PUT", "/refuse", refuse, 1ull << 40, "Refuse", .stream_body = true},
    {NULL, NULL, NULL, 0, NULL},
};
static const ll_http_route_t *const tables[] = {routes, NULL};

/* ---- harness: the loop in this thread, the client in another ------------------------------ */

static void on_done(uv_async_t *a) {
  ll_http_listener_close(listener);
  uv_close((uv_handle_t *)a, NULL);
}

static void run_with_client(void *(*client)(void *)) {
  loop = uv_default_loop();
  CHECK(ll_http_listen(loop, "127.0.0.1", 0, tables, not_found, NULL, &listener, &port) == 0);
  uv_async_init(loop, &done_async, on_done);
  pthread_t t;
  pthread_create(&t, NULL, client, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
  pthread_join(t, NULL);
  CHECK(uv_loop_close(loop) == 0); /* every handle was closed */
}

static int dial(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
  return fd;
}

/* Reads until the peer closes or `want` appears; returns what was read (heap). */
static char *read_until(int fd, const char *want) {
  ll_buf_t b = LL_BUF_INIT;
  char chunk[4096];
  for (;;) {
    if (want && b.data && strstr(b.data, want)) break;
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n <= 0) break;
    ll_buf_append(&b, chunk, (size_t)n);
  }
  if (!b.data) ll_buf_puts(&b, "");
  return ll_buf_steal(&b, NULL);
}

static void send_all(int fd, const char *s) { CHECK(write(fd, s, strlen(s)) == (ssize_t)strlen(s)); }

/* ---- tests ------------------------------------------------------------------------------- */

static void *stream_client(void *arg) {
  int fd = dial();
  send_all(fd, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  char *got = read_until(fd, "0\r\n\r\n");
  CHECK(strstr(got, "HTTP/1.1 200 OK\r\n"));
  CHECK(strstr(got, "Transfer-Encoding: chunked\r\n"));
  CHECK(strstr(got, "\r\n\r\n6\r\nhello \r\n9\r\nstreamed \r\n5\r\nworld\r\n0\r\n\r\n"));
  free(got);
  /* the connection is still usable afterwards */
  send_all(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nping");
  got = read_until(fd, "ping");
  CHECK(strstr(got, "Content-Length: 4\r\n"));
  free(got);
  close(fd);
  uv_async_send(&done_async);
  return arg;
}

LL_TEST(http_server_streams_chunked_responses) { run_with_client(stream_client); }

static void *later_client(void *arg) {
  int fd = dial();
  /* pipelined: the first is answered later from a timer, the second must wait its turn */
  send_all(fd, "GET /later HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\nHost: x\r\n"
               "Content-Length: 5\r\n\r\nafter");
  char *got = read_until(fd, "after");
  char *a = strstr(got, "later"), *b = strstr(got, "after");
  CHECK(a && b && a < b);
  free(got);
  close(fd);
  uv_async_send(&done_async);
  return arg;
}

LL_TEST(http_server_answers_pipelined_requests_in_order_even_when_late) {
  run_with_client(later_client);
}

static void *abort_client(void *arg) {
  int fd = dial();
  send_all(fd, "GET /hang HTTP/1.1\r\nHost: x\r\n\r\n");
  usleep(100 * 1000);
  close(fd); /* gone while the handler still holds the request */
  usleep(100 * 1000);
  uv_async_send(&done_async);
  return arg;
}

LL_TEST(http_server_tells_the_handler_when_the_client_goes) {
  aborts = 0;
  run_with_client(abort_client);
  CHECK_INTEQ(aborts, 1);
}

static void *idle_client(void *arg) {
  int fd = dial();
  char *got = read_until(fd, NULL); /* returns when the server closes */
  CHECK_STREQ(got, "");             /* closed without a word: nothing was asked */
  free(got);
  close(fd);
  fd = dial();
  send_all(fd, "GET /stream HTTP/1.1\r\nHo"); /* a head that never completes */
  got = read_until(fd, NULL);
  CHECK(strstr(got, "HTTP/1.1 408 Request Timeout\r\n"));
  CHECK(strstr(got, "Connection: close\r\n"));
  free(got);
  close(fd);
  uv_async_send(&done_async);
  return arg;
}

LL_TEST(http_server_closes_idle_connections_and_times_out_slow_heads) {
  ll_http_settings.idle_timeout_ms = 100;
  ll_http_settings.head_timeout_ms = 100;
  run_with_client(idle_client);
}

static void *limits_client(void *arg) {
  int fd = dial();
  send_all(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\nExpect: 100-continue\r\n\r\n");
  char *got = read_until(fd, NULL);
  /* the route allows 1024 bytes: refused before the body is sent, no 100 Continue */
  CHECK(strstr(got, "HTTP/1.1 413 Payload Too Large\r\n"));
  CHECK(!strstr(got, "100 Continue"));
  free(got);
  close(fd);
  uv_async_send(&done_async);
  return arg;
}

LL_TEST(http_server_refuses_oversized_bodies_before_100_continue) { run_with_client(limits_client); }

/* A body streamed in pieces the handler paces (chunked and with a length), the 100 Continue
 * sent only once the handler reads, and early answers: the rest of a small body is drained and
 * the connection kept, a client still waiting for 100 Continue gets the answer and a close. */
static void *upload_client(void *arg) {
  int fd = dial();
  char big[200001];
  uint64_t sum = 0;
  for (size_t i = 0; i < sizeof big - 1; i++) {
    big[i] = (char)('a' + i % 26);
    sum = sum * 31 + (unsigned char)big[i];
  }
  big[sizeof big - 1] = '\0';
  char want[64];
  snprintf(want, sizeof want, "200000 %llu", (unsigned long long)sum);
  send_all(fd, "PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\nExpect: 100-continue\r\n\r\n");
  char *got = read_until(fd, "100 Continue\r\n\r\n");
  CHECK(strstr(got, "HTTP/1.1 100 Continue\r\n"));
  free(got);
  send_all(fd, big);
  got = read_until(fd, want);
  CHECK(strstr(got, "HTTP/1.1 200 OK\r\n") && strstr(got, want));
  free(got);
  /* chunked, on the same connection */
  send_all(fd, "PUT /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  uint64_t s5 = 0;
  for (const char *p = "abcde"; *p; p++) s5 = s5 * 31 + (unsigned char)*p;
  snprintf(want, sizeof want, "5 %llu", (unsigned long long)s5);
  got = read_until(fd, want);
  CHECK(strstr(got, want));
  free(got);
  /* answered before the body: a small body is drained, the connection stays */
  send_all(fd, "PUT /refuse HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  send_all(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nping");
  got = read_until(fd, "ping");
  CHECK(strstr(got, "HTTP/1.1 403 Forbidden\r\n") && strstr(got, "\r\n\r\nping"));
  free(got);
  /* a client waiting for 100 Continue gets the answer instead, and the connection closes */
  send_all(fd, "PUT /refuse HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\nExpect: 100-continue\r\n\r\n");
  got = read_until(fd, NULL);
  CHECK(strstr(got, "HTTP/1.1 403 Forbidden\r\n") && strstr(got, "Connection: close\r\n"));
  CHECK(!strstr(got, "100 Continue"));
  free(got);
  close(fd);
  uv_async_send(&done_async);
  return arg;
}

LL_TEST(http_server_streams_request_bodies_with_backpressure) { run_with_client(upload_client); }

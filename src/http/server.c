#include "http/server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/mem.h"
#include "http/router.h"

ll_http_settings_t ll_http_settings = {
    .max_head_bytes = 64 * 1024,
    .idle_timeout_ms = 60 * 1000,
    .head_timeout_ms = 30 * 1000,
};

/* Bodies larger than this are not even drained when a route refuses them: the connection is
 * answered and closed at once. */
#define DISCARD_CAP (256ull << 20)
/* Unparsed input kept while a request waits for its answer, before reading pauses. */
#define MAX_BUFFERED_INPUT (1u << 20)
/* A streamed body left unread when its request is answered early: drained up to this to keep
 * the connection, else the connection closes after the answer. */
#define DISCARD_KEEP (1u << 20)

enum conn_state { READING_HEAD, READING_BODY, WAITING_RESPONSE, CLOSED };

struct ll_http_listener {
  uv_tcp_t tcp;
  const ll_http_route_t *const *tables;
  ll_http_handler_fn not_found;
  void *ud;
  bool (*accept)(void *ud, uv_tcp_t *conn); /* or NULL */
  ll_http_conn_t *conns; /* doubly linked list of live connections */
  int refs;              /* 1 for the socket + 1 per connection */
  bool closing;
};

struct ll_http_conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  ll_http_listener_t *listener;
  ll_http_conn_t *prev, *next;
  ll_http_parser_t parser;
  ll_buf_t in; /* received bytes not yet parsed */
  ll_http_req_t *req;
  enum conn_state state;
  int handles_open;
  int writes_pending;
  bool keep_alive;       /* of the current request */
  bool close_after_write;
  bool in_process;       /* process() is on the stack: answer without recursing */
  bool reading;
  bool started;          /* bytes of the next request have arrived (the parser holds them) */
  /* A request of a stream_body route: its handler holds req while the body is read. */
  bool body_stream;
  bool body_paused;      /* the handler has not asked for (more of) the body yet */
  bool discard;          /* answered before its body was read: drop the rest of the body */
  bool continue_sent;
  uint64_t body_received;
  char remote[64];
};

typedef struct wreq {
  uv_write_t w;
  ll_http_conn_t *conn;
  char *hdr;  /* owned */
  char *body; /* owned */
} wreq_t;

static void conn_close(ll_http_conn_t *c);
static void process(ll_http_conn_t *c);
static void listener_unref(ll_http_listener_t *l);
static void start_reading(ll_http_conn_t *c);
static void on_timer(uv_timer_t *t);

const char *ll_http_status_text(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

/* The Date header, formatted once per second. */
static const char *date_now(void) {
  static char cached[40];
  static time_t cached_at;
  time_t now = time(NULL);
  if (now != cached_at) {
    ll_format_http_date(now, cached, sizeof cached);
    cached_at = now;
  }
  return cached;
}

/* ---- requests ---------------------------------------------------------------------------- */

static void req_free(ll_http_req_t *req) {
  ll_buf_free(&req->body);
  free(req->app);
  for (int i = 0; i < LL_HTTP_MAX_PARAMS; i++) free(req->params[i]);
  free(req);
}

void ll_http_req_on_abort(ll_http_req_t *req, void (*cb)(ll_http_req_t *, void *), void *ud) {
  req->on_abort = cb;
  req->abort_ud = ud;
}

/* ---- writing ----------------------------------------------------------------------------- */

static void on_write(uv_write_t *w, int status) {
  wreq_t *wr = (wreq_t *)w;
  ll_http_conn_t *c = wr->conn;
  free(wr->hdr);
  free(wr->body);
  free(wr);
  c->writes_pending--;
  if (status < 0 || (c->close_after_write && c->writes_pending == 0)) {
    conn_close(c);
    return;
  }
  ll_http_req_t *req = c->req;
  if (req && req->on_drain &&
      uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) < LL_HTTP_DRAIN_BELOW) {
    void (*cb)(ll_http_req_t *, void *) = req->on_drain;
    req->on_drain = NULL;
    cb(req, req->drain_ud);
  }
}

static void conn_write(ll_http_conn_t *c, char *hdr, size_t hdr_len, char *body, size_t len) {
  if (c->state == CLOSED) {
    free(hdr);
    free(body);
    return;
  }
  uv_buf_t bufs[2];
  unsigned n = 0;
  if (hdr_len) bufs[n++] = uv_buf_init(hdr, (unsigned)hdr_len);
  if (len) bufs[n++] = uv_buf_init(body, (unsigned)len);
  /* Most answers fit the socket buffer: write them now, without a write request and the
   * epoll changes libuv makes for one; queue only what the kernel did not take. */
  if (c->writes_pending == 0) {
    int r = uv_try_write((uv_stream_t *)&c->tcp, bufs, n);
    size_t done = r > 0 ? (size_t)r : 0;
    if (r < 0 && r != UV_EAGAIN) {
      free(hdr);
      free(body);
      conn_close(c);
      return;
    }
    if (done == hdr_len + len) {
      free(hdr);
      free(body);
      if (c->close_after_write) conn_close(c);
      return;
    }
    /* drop the part already written from the buffers */
    for (unsigned i = 0; i < n && done; i++) {
      size_t take = done < bufs[i].len ? done : bufs[i].len;
      bufs[i].base += take;
      bufs[i].len -= (unsigned)take;
      done -= take;
    }
  }
  wreq_t *wr = ll_calloc(1, sizeof *wr);
  wr->conn = c;
  wr->hdr = hdr;
  wr->body = body;
  c->writes_pending++;
  int r = uv_write(&wr->w, (uv_stream_t *)&c->tcp, bufs, n, on_write);
  if (r < 0) {
    c->writes_pending--;
    free(hdr);
    free(body);
    free(wr);
    conn_close(c);
  }
}

static char *format_head(ll_http_conn_t *c, int status, const char *headers, int64_t clen,
                         bool chunked, size_t *out_len) {
  ll_buf_t b = LL_BUF_INIT;
  ll_buf_reserve(&b, 256 + (headers ? strlen(headers) : 0));
  ll_buf_puts(&b, "HTTP/1.1 ");
  ll_buf_put_u64(&b, (uint64_t)status);
  ll_buf_cat(&b, " ", ll_http_status_text(status), "\r\nDate: ", date_now(), "\r\n", NULL);
  if (chunked) {
    ll_buf_puts(&b, "Transfer-Encoding: chunked\r\n");
  } else if (clen >= 0) {
    ll_buf_puts(&b, "Content-Length: ");
    ll_buf_put_u64(&b, (uint64_t)clen);
    ll_buf_puts(&b, "\r\n");
  }
  if (!c->keep_alive)
    ll_buf_puts(&b, "Connection: close\r\n");
  else if (c->req && c->req->head->version_minor == 0)
    ll_buf_puts(&b, "Connection: keep-alive\r\n");
  if (headers) ll_buf_puts(&b, headers);
  ll_buf_puts(&b, "\r\n");
  return ll_buf_steal(&b, out_len);
}

/* The answer to c's current request is fully queued: get ready for the next one. */
static void request_finished(ll_http_conn_t *c) {
  ll_http_req_t *req = c->req;
  c->req = NULL;
  req_free(req);
  if (!c->keep_alive) {
    c->state = WAITING_RESPONSE; /* parse nothing more */
    c->body_stream = false;
    c->close_after_write = true;
    if (c->writes_pending == 0) conn_close(c);
    return;
  }
  if (c->discard) { /* the rest of the body goes first */
    c->body_paused = false;
    if (!c->in_process) process(c);
    return;
  }
  c->body_stream = false;
  ll_http_parser_reset(&c->parser);
  c->started = false;
  c->state = READING_HEAD;
  if (!c->in_process) process(c);
}

/* Common entry of every answer: returns the live connection, or NULL (and frees req) when the
 * client has gone. */
static ll_http_conn_t *answer_target(ll_http_req_t *req) {
  ll_http_conn_t *c = req->conn;
  if (!c) {
    req_free(req);
    return NULL;
  }
  req->on_drain = NULL;
  if (c->body_stream && !req->body_done) {
    /* Answered before its body was read: drop the rest, keeping the connection only when
     * that is cheap and the client is not waiting for "100 Continue" (it will not send). */
    const ll_http_head_t *h = req->head;
    bool waiting = h->expect_continue && !c->continue_sent;
    bool small = h->content_length >= 0 &&
                 (uint64_t)h->content_length - c->body_received <= DISCARD_KEEP;
    if (waiting || !small)
      c->keep_alive = false;
    else
      c->discard = true;
  }
  return c;
}

void ll_http_respond(ll_http_req_t *req, int status, const char *headers, char *body,
                     size_t len) {
  ll_http_conn_t *c = answer_target(req);
  if (!c) {
    free(body);
    return;
  }
  ll_assert(!req->streaming);
  bool head_only = strcmp(req->head->method, "HEAD") == 0;
  size_t hl;
  char *hdr = format_head(c, status, headers, (int64_t)len, false, &hl);
  if (head_only) {
    free(body);
    body = NULL;
    len = 0;
  }
  conn_write(c, hdr, hl, body, len);
  request_finished(c);
}

void ll_http_respond_head(ll_http_req_t *req, int status, const char *headers,
                          int64_t content_length) {
  ll_http_conn_t *c = answer_target(req);
  if (!c) return;
  size_t hl;
  char *hdr = format_head(c, status, headers, content_length, false, &hl);
  conn_write(c, hdr, hl, NULL, 0);
  request_finished(c);
}

static void stream_begin(ll_http_req_t *req, int status, const char *headers, int64_t clen) {
  req->streaming = true;
  req->fixed_length = clen >= 0;
  ll_http_conn_t *c = req->conn;
  if (!c) return;
  if (c->body_stream && !req->body_done) c->keep_alive = false; /* (answer_target's rule) */
  size_t hl;
  char *hdr = format_head(c, status, headers, clen, clen < 0, &hl);
  conn_write(c, hdr, hl, NULL, 0);
}

void ll_http_stream_start(ll_http_req_t *req, int status, const char *headers) {
  stream_begin(req, status, headers, -1);
}

void ll_http_stream_start_length(ll_http_req_t *req, int status, const char *headers,
                                 uint64_t content_length) {
  stream_begin(req, status, headers, (int64_t)content_length);
}

void ll_http_stream_chunk(ll_http_req_t *req, char *data, size_t len) {
  ll_http_conn_t *c = req->conn;
  if (!c || len == 0) {
    free(data);
    return;
  }
  if (req->fixed_length) {
    conn_write(c, NULL, 0, data, len);
    return;
  }
  char *hdr = ll_sprintf("%zx\r\n", len);
  conn_write(c, hdr, strlen(hdr), data, len);
  conn_write(c, NULL, 0, ll_strdup("\r\n"), 2);
}

void ll_http_stream_end(ll_http_req_t *req) {
  ll_http_conn_t *c = answer_target(req);
  if (!c) return;
  if (!req->fixed_length) conn_write(c, NULL, 0, ll_strdup("0\r\n\r\n"), 5);
  request_finished(c);
}

size_t ll_http_write_queue(const ll_http_req_t *req) {
  return req->conn ? uv_stream_get_write_queue_size((uv_stream_t *)&req->conn->tcp) : 0;
}

void ll_http_req_on_drain(ll_http_req_t *req, void (*cb)(ll_http_req_t *, void *), void *ud) {
  if (ll_http_write_queue(req) < LL_HTTP_DRAIN_BELOW || !req->conn) {
    if (req->conn) cb(req, ud);
    return;
  }
  req->on_drain = cb;
  req->drain_ud = ud;
}

void ll_http_body_read(ll_http_req_t *req,
                       void (*on_data)(ll_http_req_t *, const char *, size_t, void *),
                       void (*on_end)(ll_http_req_t *, void *), void *ud) {
  req->on_body = on_data;
  req->on_body_end = on_end;
  req->body_ud = ud;
  ll_http_conn_t *c = req->conn;
  if (!c) return;
  ll_assert(c->body_stream && c->req == req);
  if (req->head->expect_continue && !c->continue_sent) {
    c->continue_sent = true;
    conn_write(c, ll_strdup("HTTP/1.1 100 Continue\r\n\r\n"), 25, NULL, 0);
  }
  ll_http_body_resume(req);
}

void ll_http_body_pause(ll_http_req_t *req) {
  if (req->conn) req->conn->body_paused = true;
}

void ll_http_body_resume(ll_http_req_t *req) {
  ll_http_conn_t *c = req->conn;
  if (!c || !c->body_paused || !req->on_body) return;
  c->body_paused = false;
  if (!c->in_process) process(c);
}

/* An error found while reading the request: answer with a small JSON body and close. */
/* A client that opened with the HTTP/2 connection preface (the AWS SDK for JavaScript v3 does,
 * even over http://) could not read an HTTP/1.1 answer: it gets HTTP/2's own refusal instead —
 * an empty SETTINGS frame (the server preface) and GOAWAY with HTTP_1_1_REQUIRED (RFC 9113
 * §5.4.1, error 0xd) whose debug data says what to do. */
static bool h2_refuse(ll_http_conn_t *c) {
  static const char preface[] = "PRI * HTTP/2.0\r\n";
  if (c->in.len < sizeof preface - 1 || memcmp(c->in.data, preface, sizeof preface - 1) != 0)
    return false;
  static const char why[] =
      "lambdalite speaks HTTP/1.1 only: give the client an HTTP/1.1 handler (AWS SDK for "
      "JavaScript v3: requestHandler: new NodeHttpHandler())";
  size_t dl = sizeof why - 1, n = 9 + 9 + 8 + dl;
  char *f = ll_malloc(n);
  memset(f, 0, 18 + 8);
  f[3] = 0x4;                      /* SETTINGS, length 0, stream 0 */
  f[9] = (char)((8 + dl) >> 16);   /* GOAWAY: length, type 0x7, flags 0, stream 0 */
  f[10] = (char)((8 + dl) >> 8);
  f[11] = (char)(8 + dl);
  f[12] = 0x7;
  f[25] = 0x0d;                    /* last stream 0; error code HTTP_1_1_REQUIRED */
  memcpy(f + 26, why, dl);
  conn_write(c, f, n, NULL, 0);
  return true;
}

static bool handler_holds_req(const ll_http_conn_t *c) {
  return c->state == WAITING_RESPONSE || c->body_stream;
}

/* The connection is done with its current request (a protocol error, or it closes): a request
 * still being read goes, one its handler holds is cut loose from the connection — its abort
 * callback, when it has one, answers (and so frees) it; otherwise the handler's answer will. */

static void drop_req(ll_http_conn_t *c, bool handler_holds) {
  ll_http_req_t *req = c->req;
  c->req = NULL;
  c->body_stream = false;
  if (!req) return;
  req->conn = NULL;
  req->head = NULL; /* the parser that owns it goes away with the connection */
  req->on_drain = NULL;
  if (!handler_holds)
    req_free(req);
  else if (req->on_abort)
    req->on_abort(req, req->abort_ud);
}

static void protocol_error(ll_http_conn_t *c, int status, const char *message) {
  c->keep_alive = false;
  if (status == 505 && h2_refuse(c)) {
    drop_req(c, handler_holds_req(c));
    c->state = WAITING_RESPONSE;
    c->close_after_write = true;
    if (c->writes_pending == 0) conn_close(c);
    return;
  }
  char *body = ll_sprintf("{\"message\":\"%s\"}", message);
  size_t hl;
  char *hdr = format_head(c, status, "Content-Type: application/json\r\n", (int64_t)strlen(body),
                          false, &hl);
  conn_write(c, hdr, hl, body, strlen(body));
  drop_req(c, handler_holds_req(c));
  c->state = WAITING_RESPONSE; /* parse nothing more */
  c->close_after_write = true;
  if (c->writes_pending == 0) conn_close(c);
}

/* ---- reading ----------------------------------------------------------------------------- */

/* Input is held, unparsed: a request waits for its answer, or a streamed body for its handler
 * (a disk that is slow to take an upload is not the client's fault: no timeout then). */
static bool holding(const ll_http_conn_t *c) {
  return c->state == WAITING_RESPONSE || (c->body_stream && c->body_paused);
}

static void timer_restart(ll_http_conn_t *c) {
  if (c->state == CLOSED) return;
  if (holding(c)) {
    uv_timer_stop(&c->timer);
    return;
  }
  uint64_t ms = (c->state == READING_HEAD && !c->started) ? ll_http_settings.idle_timeout_ms
                                                           : ll_http_settings.head_timeout_ms;
  uv_timer_start(&c->timer, on_timer, ms, 0);
}

static void on_timer(uv_timer_t *t) {
  ll_http_conn_t *c = t->data;
  if (c->state == READING_HEAD && !c->started)
    conn_close(c);
  else if (c->state != WAITING_RESPONSE)
    protocol_error(c, 408, "request not received in time");
}

static void dispatch(ll_http_conn_t *c) {
  ll_http_req_t *req = c->req;
  c->state = WAITING_RESPONSE;
  uv_timer_stop(&c->timer);
  if (req->route)
    req->route->handler(req);
  else
    c->listener->not_found(req);
}

static const ll_http_route_t *route_find(const ll_http_listener_t *l, const ll_http_head_t *h,
                                         char *params[LL_HTTP_MAX_PARAMS]) {
  for (const ll_http_route_t *const *t = l->tables; *t; t++) {
    const ll_http_route_t *r = ll_http_route_match(*t, h->method, h->path, params);
    if (r && (!r->accept || r->accept(h))) return r;
    for (int i = 0; r && i < LL_HTTP_MAX_PARAMS; i++) {
      free(params[i]);
      params[i] = NULL;
    }
  }
  return NULL;
}

static void on_head(ll_http_conn_t *c) {
  const ll_http_head_t *h = &c->parser.head;
  ll_http_req_t *req = ll_calloc(1, sizeof *req);
  req->head = h;
  req->conn = c;
  req->listener_data = c->listener->ud;
  req->start_ns = ll_mono_ns();
  memcpy(req->remote, c->remote, sizeof req->remote);
  req->route = route_find(c->listener, h, req->params);
  c->req = req;
  c->keep_alive = h->keep_alive;
  c->state = READING_BODY;
  uint64_t max = req->route ? req->route->max_body : (1u << 20);
  if (req->route && req->route->stream_body) {
    c->body_stream = true;
    c->body_paused = true; /* until the handler asks for the body */
    c->discard = c->continue_sent = false;
    c->body_received = 0;
    req->body_too_large = h->content_length >= 0 && (uint64_t)h->content_length > max;
    uv_timer_stop(&c->timer);
    req->route->handler(req);
    return;
  }
  if (h->content_length >= 0 && (uint64_t)h->content_length > max) {
    req->body_too_large = true;
    if (h->expect_continue || (uint64_t)h->content_length > DISCARD_CAP) {
      /* The client waits for our word (or the body is absurd): answer now and close. */
      c->keep_alive = false;
      dispatch(c);
      return;
    }
  } else if (h->expect_continue) {
    conn_write(c, ll_strdup("HTTP/1.1 100 Continue\r\n\r\n"), 25, NULL, 0);
  }
  if (h->content_length > 0) ll_buf_reserve(&req->body, (size_t)h->content_length);
}

static void on_body(ll_http_conn_t *c, const char *p, size_t len) {
  ll_http_req_t *req = c->req;
  if (c->body_stream) {
    c->body_received += len;
    if (!c->discard) req->on_body(req, p, len, req->body_ud);
    return;
  }
  uint64_t max = req->route ? req->route->max_body : (1u << 20);
  if (!req->body_too_large && req->body.len + len > max) {
    req->body_too_large = true;
    ll_buf_free(&req->body);
  }
  if (req->body_too_large) {
    req->body.len += len; /* count only */
    if (req->body.len > DISCARD_CAP) {
      c->keep_alive = false;
      req->body.len = 0;
      dispatch(c);
    }
    return;
  }
  ll_buf_append(&req->body, p, len);
}

/* The end of a streamed body: its handler hears of it, or (answered early) the connection
 * moves on to the next request. */
static void body_done(ll_http_conn_t *c) {
  if (c->discard) {
    c->discard = false;
    c->body_stream = false;
    ll_http_parser_reset(&c->parser);
    c->started = false;
    c->state = READING_HEAD;
    return;
  }
  ll_http_req_t *req = c->req;
  req->body_done = true;
  c->state = WAITING_RESPONSE;
  uv_timer_stop(&c->timer);
  req->on_body_end(req, req->body_ud);
}

/* Parses as much of c->in as the connection's state allows and dispatches complete requests. */
static void process(ll_http_conn_t *c) {
  c->in_process = true;
  size_t off = 0;
  while ((c->state == READING_HEAD || c->state == READING_BODY) && !holding(c)) {
    size_t used = 0;
    ll_http_event_t ev = {0};
    int r = ll_http_parse(&c->parser, c->in.data + off, c->in.len - off, &used, &ev);
    off += used;
    if (used) c->started = true;
    if (r == LL_HTTP_NEED_MORE) break;
    if (r == LL_HTTP_ERROR) {
      protocol_error(c, ev.status, ev.message ? ev.message : "malformed request");
      break;
    }
    if (r == LL_HTTP_HEAD) {
      on_head(c);
    } else if (r == LL_HTTP_BODY) {
      on_body(c, ev.data, ev.len);
    } else if (r == LL_HTTP_DONE && c->body_stream) {
      body_done(c);
    } else if (r == LL_HTTP_DONE) {
      if (c->req->body_too_large) c->req->body.len = 0;
      dispatch(c);
    }
  }
  if (c->state != CLOSED) {
    ll_buf_consume(&c->in, off);
    timer_restart(c);
    /* Pause reading while input is held and too much is already buffered. */
    if (!c->reading && !(holding(c) && c->in.len > MAX_BUFFERED_INPUT)) start_reading(c);
  }
  c->in_process = false;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  ll_http_conn_t *c = h->data;
  ll_buf_reserve(&c->in, 64 * 1024);
  buf->base = c->in.data + c->in.len;
  buf->len = c->in.cap - c->in.len - 1;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  ll_http_conn_t *c = s->data;
  if (n < 0) {
    conn_close(c);
    return;
  }
  if (n == 0) return;
  c->in.len += (size_t)n;
  c->in.data[c->in.len] = '\0';
  if ((c->state == READING_HEAD || c->state == READING_BODY) && !holding(c)) {
    process(c);
  } else if (holding(c) && c->in.len > MAX_BUFFERED_INPUT) {
    uv_read_stop(s);
    c->reading = false;
  }
}

static void start_reading(ll_http_conn_t *c) {
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  c->reading = true;
}

/* ---- connection lifecycle ---------------------------------------------------------------- */

static void on_conn_handle_closed(uv_handle_t *h) {
  ll_http_conn_t *c = h->data;
  if (--c->handles_open > 0) return;
  ll_http_parser_free(&c->parser);
  ll_buf_free(&c->in);
  ll_http_listener_t *l = c->listener;
  free(c);
  listener_unref(l);
}

static void conn_close(ll_http_conn_t *c) {
  if (c->state == CLOSED) return;
  bool holds = handler_holds_req(c);
  c->state = CLOSED;
  ll_http_listener_t *l = c->listener;
  if (c->prev)
    c->prev->next = c->next;
  else
    l->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  drop_req(c, holds);
  uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
  uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
}

static void on_connection(uv_stream_t *server, int status) {
  ll_http_listener_t *l = server->data;
  if (status < 0 || l->closing) return;
  ll_http_conn_t *c = ll_calloc(1, sizeof *c);
  uv_tcp_init(server->loop, &c->tcp);
  uv_timer_init(server->loop, &c->timer);
  c->tcp.data = c->timer.data = c;
  c->handles_open = 2;
  c->listener = l;
  l->refs++;
  c->next = l->conns;
  if (l->conns) l->conns->prev = c;
  l->conns = c;
  ll_http_limits_t limits = {.max_head_bytes = ll_http_settings.max_head_bytes};
  ll_http_parser_init(&c->parser, &limits);
  if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
    conn_close(c);
    return;
  }
  if (l->accept && !l->accept(l->ud, &c->tcp)) {
    conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  struct sockaddr_storage ss;
  int len = sizeof ss;
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
    char ip[48] = "?";
    int port = 0;
    if (ss.ss_family == AF_INET) {
      uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
      port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    } else if (ss.ss_family == AF_INET6) {
      uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip);
      port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    snprintf(c->remote, sizeof c->remote, "%s:%d", ip, port);
  }
  start_reading(c);
  timer_restart(c);
}

/* ---- listeners --------------------------------------------------------------------------- */

static void listener_unref(ll_http_listener_t *l) {
  if (--l->refs == 0) free(l);
}

static void on_listener_closed(uv_handle_t *h) { listener_unref(h->data); }

static ll_http_listener_t *listener_new(uv_loop_t *loop, const ll_http_route_t *const *tables,
                                        ll_http_handler_fn not_found, void *ud) {
  ll_http_listener_t *l = ll_calloc(1, sizeof *l);
  l->tables = tables;
  l->not_found = not_found;
  l->ud = ud;
  l->refs = 1;
  uv_tcp_init(loop, &l->tcp);
  l->tcp.data = l;
  return l;
}

/* Listens on l's socket (bound or opened by the caller); on failure closes l, returns -errno. */
static int listener_start(ll_http_listener_t *l, int r) {
  if (r == 0) r = uv_listen((uv_stream_t *)&l->tcp, 511, on_connection);
  if (r < 0) uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
  return r;
}

int ll_http_listen(uv_loop_t *loop, const char *host, int port,
                   const ll_http_route_t *const *tables,
                   ll_http_handler_fn not_found, void *ud, ll_http_listener_t **out,
                   int *port_out) {
  struct sockaddr_storage ss;
  int r = strchr(host, ':') ? uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss)
                            : uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
  if (r < 0) return r;
  ll_http_listener_t *l = listener_new(loop, tables, not_found, ud);
  r = listener_start(l, uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0));
  if (r < 0) return r;
  if (port_out) {
    int len = sizeof ss;
    uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&ss, &len);
    *port_out = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
  }
  *out = l;
  return 0;
}

int ll_http_listen_fd(uv_loop_t *loop, int fd, const ll_http_route_t *const *tables,
                      ll_http_handler_fn not_found, void *ud, ll_http_listener_t **out) {
  ll_http_listener_t *l = listener_new(loop, tables, not_found, ud);
  int r = listener_start(l, uv_tcp_open(&l->tcp, fd));
  if (r < 0) return r;
  *out = l;
  return 0;
}

void ll_http_listener_filter(ll_http_listener_t *l, bool (*accept)(void *ud, uv_tcp_t *conn)) {
  l->accept = accept;
}

void ll_http_listener_close(ll_http_listener_t *l) {
  if (l->closing) return;
  l->closing = true;
  while (l->conns) conn_close(l->conns);
  uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
}

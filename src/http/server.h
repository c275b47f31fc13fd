/* HTTP/1.1 server on the libuv loop: listeners, keep-alive connections, requests routed by a
 * table (router.h), responses written in order (pipelining-safe), idle and header timeouts.
 *
 * One request at a time per connection: while a request waits for its response (an invoke
 * waiting for its function, a runtime's long-polled /next) later pipelined bytes stay buffered,
 * unparsed. A handler answers exactly once, now or later, with ll_http_respond() or the
 * streaming calls; the request stays valid until then even if the client goes away (the answer
 * is then dropped), so callbacks that finish later never hold a dangling request. */
#ifndef LL_HTTP_SERVER_H
#define LL_HTTP_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/buf.h"
#include "http/parser.h"

typedef struct ll_http_listener ll_http_listener_t;
typedef struct ll_http_conn ll_http_conn_t;
typedef struct ll_http_req ll_http_req_t;
typedef struct ll_http_route ll_http_route_t;

#define LL_HTTP_MAX_PARAMS 4

struct ll_http_req {
  const ll_http_head_t *head;  /* the parsed head, owned by the connection: NULL once the
                                  client has gone, so copy at dispatch what later steps need */
  ll_buf_t body;               /* owned: the whole de-chunked body */
  bool body_too_large;         /* body exceeded the route's max_body; it was discarded */
  char *params[LL_HTTP_MAX_PARAMS]; /* owned: percent-decoded {} segments of the route */
  const ll_http_route_t *route;
  void *listener_data;         /* the ud given to ll_http_listen */
  char remote[64];             /* peer address "127.0.0.1:5555" */
  uint64_t start_ns;           /* when the head arrived (monotonic) */
  void *app;                   /* the handler's own per-request data; free()d with the request */
  /* private */
  ll_http_conn_t *conn;        /* NULL once the client has gone */
  void (*on_abort)(ll_http_req_t *req, void *ud);
  void *abort_ud;
  bool streaming;              /* a streamed response was started */
  bool fixed_length;           /* ... with a Content-Length: its chunks go out unframed */
  void (*on_drain)(ll_http_req_t *req, void *ud);
  void *drain_ud;
  /* streamed request bodies (routes with stream_body) */
  void (*on_body)(ll_http_req_t *req, const char *data, size_t len, void *ud);
  void (*on_body_end)(ll_http_req_t *req, void *ud);
  void *body_ud;
  bool body_done;              /* the whole body has been delivered */
};

typedef void (*ll_http_handler_fn)(ll_http_req_t *req);

/* Creates a listener on host:port (port 0 picks a free one) that routes with `tables` (a
 * NULL-terminated list of route tables, tried in order; see router.h). `not_found` answers
 * requests that no route matches. Returns 0 or -errno; the bound port is in *port_out when
 * non-NULL. */
int ll_http_listen(uv_loop_t *loop, const char *host, int port,
                   const ll_http_route_t *const *tables,
                   ll_http_handler_fn not_found, void *ud, ll_http_listener_t **out,
                   int *port_out);
/* As ll_http_listen, on a socket already bound and listening (fd is taken over; closed by
 * ll_http_listener_close). */
int ll_http_listen_fd(uv_loop_t *loop, int fd, const ll_http_route_t *const *tables,
                      ll_http_handler_fn not_found, void *ud, ll_http_listener_t **out);
/* Installs a check run on every accepted connection: connections it refuses are closed at
 * once, unanswered. */
void ll_http_listener_filter(ll_http_listener_t *l, bool (*accept)(void *ud, uv_tcp_t *conn));
/* Stops accepting and closes every connection of the listener; requests still pending are
 * kept until their handlers answer (the answer is dropped). Frees the listener at the end of
 * the loop turn. */
void ll_http_listener_close(ll_http_listener_t *l);

/* Answers req with status, extra headers (preformatted "Name: value\r\n" lines or NULL) and a
 * body of len bytes; takes ownership of `body` (heap, freed after writing; may be NULL when len
 * is 0). Content-Length, Date and Connection are added here. Frees req. */
void ll_http_respond(ll_http_req_t *req, int status, const char *headers, char *body, size_t len);
/* As ll_http_respond but without a body for HEAD requests or 204/304: Content-Length is taken
 * from content_length when >= 0. */
void ll_http_respond_head(ll_http_req_t *req, int status, const char *headers,
                          int64_t content_length);

/* Streaming response with chunked transfer coding: start, then any number of chunks (owned
 * buffers, freed after writing), then end (which frees req). ll_http_write_queue tells how many
 * bytes wait to be written, so a producer can pause (backpressure). */
void ll_http_stream_start(ll_http_req_t *req, int status, const char *headers);
/* As ll_http_stream_start with a Content-Length instead of chunked coding: the chunks that
 * follow are the body's bytes as they are and must add up to content_length. */
void ll_http_stream_start_length(ll_http_req_t *req, int status, const char *headers,
                                 uint64_t content_length);
void ll_http_stream_chunk(ll_http_req_t *req, char *data, size_t len);
void ll_http_stream_end(ll_http_req_t *req);
size_t ll_http_write_queue(const ll_http_req_t *req);
/* Fires cb once, when the bytes waiting to be written next drop below LL_HTTP_DRAIN_BELOW (at
 * once, from a later loop turn, if they are below it already; never after the request is
 * answered or aborted). A producer streaming a large body writes until ll_http_write_queue()
 * reaches its limit, then waits for this. */
#define LL_HTTP_DRAIN_BELOW (256u << 10)
void ll_http_req_on_drain(ll_http_req_t *req, void (*cb)(ll_http_req_t *req, void *ud), void *ud);

/* Streamed request bodies (routes with stream_body). The handler runs as soon as the head has
 * arrived; nothing of the body is read until it calls ll_http_body_read, which sends
 * "100 Continue" when the client asked for it and then delivers the de-chunked body: on_data
 * with each piece (valid only during the call: copy what you keep), then on_end once, after
 * which the handler answers when it likes. Either callback may answer at once, and on_data may
 * pause delivery (ll_http_body_pause) until the handler catches up (ll_http_body_resume): the
 * connection then stops reading, so the client's own flow control holds the rest (a slow disk
 * never makes the daemon buffer a large upload).
 * Answering before the body has been read (an error) drops the rest of the body: up to
 * 1 MiB of it is read and discarded to keep the connection, else the connection closes after
 * the answer. A client that goes away fires the on_abort callback as for any request. */
void ll_http_body_read(ll_http_req_t *req,
                       void (*on_data)(ll_http_req_t *req, const char *data, size_t len, void *ud),
                       void (*on_end)(ll_http_req_t *req, void *ud), void *ud);
void ll_http_body_pause(ll_http_req_t *req);
void ll_http_body_resume(ll_http_req_t *req);

/* Registers a callback fired (once) if the client disconnects before the request is answered.
 * The callback must still answer req (any ll_http_respond frees it). */
void ll_http_req_on_abort(ll_http_req_t *req, void (*cb)(ll_http_req_t *req, void *ud), void *ud);

/* Server-wide settings (defaults shown). */
typedef struct ll_http_settings {
  size_t max_head_bytes;    /* 64 KiB: larger heads get 431 */
  uint64_t idle_timeout_ms; /* 60 s: keep-alive connections with no request are closed */
  uint64_t head_timeout_ms; /* 30 s: a head that does not complete in time gets 408 */
} ll_http_settings_t;
extern ll_http_settings_t ll_http_settings;

const char *ll_http_status_text(int status);

#endif

/* HTTP/1.1 request parser: incremental, pull-style, strict (RFC 9112), written here on purpose
 * (ARCHITECTURE.md: no maintained C parser is packaged for Debian 12) and fuzzed
 * (tests/fuzz/http_parse.c).
 *
 * The caller feeds bytes as they arrive and gets one event per call:
 *
 *   ll_http_parser_t p; ll_http_parser_init(&p, &limits);
 *   for (;;) {
 *     size_t used; ll_http_event_t ev;
 *     int r = ll_http_parse(&p, data, len, &used, &ev);   // never consumes past one event
 *     data += used; len -= used;
 *     switch (r) { case LL_HTTP_NEED_MORE: ...read more...; case LL_HTTP_HEAD: ...p.head...;
 *                  case LL_HTTP_BODY: ...ev.data/ev.len...; case LL_HTTP_DONE: ...;
 *                  case LL_HTTP_ERROR: ...ev.status, ev.message...; }
 *   }
 *
 * After LL_HTTP_DONE the parser is ready for the next request on the same connection
 * (keep-alive, pipelining): call ll_http_parser_reset() first; the bytes after the message are
 * left unconsumed for the next ll_http_parse() call. After LL_HTTP_ERROR the connection must be
 * answered with ev.status and closed; further calls keep returning the same error.
 *
 * Exactly when each event comes (the server's loop must follow this):
 *  - After HEAD or BODY, call again with the remaining bytes even when none remain (len 0):
 *    the message may be complete without further input.
 *  - HEAD consumes the head up to and including its empty line, nothing of the body.
 *  - Content-Length body: each call returns one BODY of min(len, bytes still due) bytes. The
 *    call after the one that returned the last body byte returns DONE and consumes nothing
 *    (len may be 0). No body (no Content-Length and no Transfer-Encoding, or Content-Length 0):
 *    HEAD, then DONE on the next call, again consuming nothing.
 *  - Chunked body: a call consumes chunk framing and returns one BODY with the chunk data
 *    available in the input (one BODY never spans two chunks); DONE is returned by the call
 *    that consumes the end of the message (the empty line after the last chunk and trailers).
 *  - BODY: ev.data + ev.len == data + *used (the body bytes are the last ones consumed).
 *  - NEED_MORE: always *used == len (partial lines are kept inside the parser).
 *  - ERROR: *used is 0. DONE again without ll_http_parser_reset(): DONE again, *used 0.
 *
 * Ownership: the head (method, target, header names and values) is copied into the parser's
 * own storage and stays valid until ll_http_parser_reset()/ll_http_parser_free() (trailers do
 * not move it). Everything in the head is also NUL-terminated, header names and values too.
 * Body bytes (LL_HTTP_BODY) point into the caller's input buffer and are valid only until that
 * buffer changes. The storage is kept across ll_http_parser_reset(), so a connection allocates
 * only while its largest head so far grows. */
#ifndef LL_HTTP_PARSER_H
#define LL_HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/kv.h"

enum {
  LL_HTTP_NEED_MORE = 0, /* all input consumed; call again with more bytes */
  LL_HTTP_HEAD = 1,      /* request line + headers parsed: p->head is filled */
  LL_HTTP_BODY = 2,      /* a piece of decoded body (de-chunked) in ev->data/ev->len */
  LL_HTTP_DONE = 3,      /* message complete (incl. chunked trailers, appended to head.headers) */
  LL_HTTP_ERROR = -1,    /* malformed or over a limit: ev->status (400, 413, 414, 431, 501, 505) */
};

#define LL_HTTP_MAX_HEADERS 128

typedef struct ll_http_limits {
  size_t max_head_bytes;  /* request line + headers (+ trailers); over it -> 431 (414 for the
                             request line alone). Default 64 KiB when 0. */
  uint64_t max_body_bytes; /* declared Content-Length or running de-chunked total; over it
                              -> 413. 0 = no limit (the server applies per-route limits). */
} ll_http_limits_t;

typedef struct ll_http_head {
  const char *method;       /* "GET", "POST", ... as sent (token, case-sensitive) */
  const char *target;       /* request-target as sent, e.g. "/a%20b/c?x=1&y"; "*" (OPTIONS);
                               absolute-form "http://h/p?q" is reduced to "/p?q" */
  const char *path;         /* target up to '?' (still percent-encoded); NUL-terminated copy */
  const char *query;        /* after '?', "" when none; NUL-terminated copy */
  int version_minor;        /* 1 for HTTP/1.1, 0 for HTTP/1.0 */
  ll_kv_t headers[LL_HTTP_MAX_HEADERS]; /* in arrival order; values trimmed of OWS; trailers
                                           are appended when DONE is returned */
  size_t nheaders;
  size_t ntrailers;         /* the last ntrailers entries of headers[] came in the chunked trailer */
  int64_t content_length;   /* -1 when absent */
  bool chunked;             /* Transfer-Encoding: chunked (must be the final coding) */
  bool keep_alive;          /* per version default and Connection: close / keep-alive */
  bool expect_continue;     /* Expect: 100-continue (HTTP/1.1 only: 1.0 ignores it) */
} ll_http_head_t;

typedef struct ll_http_event {
  const char *data; /* LL_HTTP_BODY: decoded body bytes (point into the input) */
  size_t len;
  int status;          /* LL_HTTP_ERROR: the status to answer with */
  const char *message; /* LL_HTTP_ERROR: static text naming what was wrong */
} ll_http_event_t;

typedef struct ll_http_parser {
  ll_http_head_t head;
  /* private below: state machine */
  ll_http_limits_t limits;
  ll_buf_t store;  /* owned: request line, header lines, path/query copies; kept across reset */
  ll_buf_t tstore; /* owned: trailer lines, apart so that head pointers never move */
  struct {
    int state;
    int error_status;
    const char *error_message;
    size_t line_start;   /* offset of the line being read in store or tstore */
    size_t head_bytes;   /* wire bytes of head (+ trailers) so far, against max_head_bytes */
    size_t nempty;       /* empty lines skipped before the request line */
    size_t nfields;      /* header (+ trailer) fields parsed so far */
    size_t nhost;        /* Host fields seen */
    size_t method_off, target_off, path_off, query_off; /* offsets in store */
    uint64_t body_left;  /* Content-Length remaining or current chunk remaining */
    uint64_t body_total; /* declared chunk sizes so far */
    uint64_t chunk_size; /* chunk-size being read */
    size_t chunk_line_len;
    bool request_line, te, conn_close, conn_keep_alive, expect_continue;
  } m;                            /* per message: zeroed by ll_http_parser_reset() */
  size_t field_off[LL_HTTP_MAX_HEADERS][2]; /* name and value offsets of head.headers[i] */
} ll_http_parser_t;

/* Readies p for the first request of a connection; limits may be NULL (all defaults). */
void ll_http_parser_init(ll_http_parser_t *p, const ll_http_limits_t *limits);
/* Prepares for the next message on the same connection; keeps the limits. */
void ll_http_parser_reset(ll_http_parser_t *p);
/* Releases the storage; p may be initialized again afterwards. */
void ll_http_parser_free(ll_http_parser_t *p);

/* Consumes at most up to the end of one event from data[0..len); sets *used to the bytes
 * consumed and returns the event (see above). */
int ll_http_parse(ll_http_parser_t *p, const char *data, size_t len, size_t *used,
                  ll_http_event_t *ev);

/* Case-insensitive header lookup in head->headers; NULL when absent. */
const ll_kv_t *ll_http_header(const ll_http_head_t *head, const char *name);

#endif

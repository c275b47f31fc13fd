/* Decoder of `Content-Encoding: aws-chunked` request bodies (S3 streaming uploads):
 * incremental, pull-style, strict, written for untrusted bytes and fuzzed
 * (tests/fuzz/aws_chunked.c). It knows nothing of HTTP: the caller feeds it the request body
 * (already de-chunked when the request also came with Transfer-Encoding: chunked) and acts on
 * x-amz-content-sha256, x-amz-trailer and x-amz-decoded-content-length itself.
 *
 * The four forms (x-amz-content-sha256 -> cfg):
 *   STREAMING-UNSIGNED-PAYLOAD-TRAILER        trailer                  (botocore, AWS CLI v2)
 *   STREAMING-AWS4-HMAC-SHA256-PAYLOAD        signed_chunks            (SDK for Java, MinIO)
 *   STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER signed_chunks + trailer
 *   unsigned without trailer                  neither (accepted, though no SDK sends it)
 * On the wire (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html):
 *   chunk     = hex-size [";chunk-signature=" 64-hex] CRLF data CRLF      (size > 0)
 *   last      = "0" [";chunk-signature=" 64-hex] CRLF
 *   body      = *chunk last CRLF                                  (without trailer)
 *             | *chunk last *(name ":" value CRLF)
 *                    ["x-amz-trailer-signature:" 64-hex CRLF] CRLF (with trailer)
 * The chunk signature is there exactly when signed_chunks is set, and the trailer signature
 * exactly when both flags are (it must then be the last trailer line). Hex sizes take either
 * case; signatures are lower-case hex.
 *
 * Usage:
 *   ll_awschunked_t d; ll_awschunked_init(&d, &cfg);
 *   for each piece of the body (p, len):
 *     for (;;) {
 *       size_t used; ll_awschunked_event_t ev;
 *       int r = ll_awschunked_feed(&d, p, len, &used, &ev);   // at most one event per call
 *       p += used; len -= used;
 *       if (r == LL_AC_NEED_MORE) break;                   // read more of the body
 *       if (r == LL_AC_DATA) ...store ev.data/ev.len...;
 *       if (r == LL_AC_TRAILER) ...ev.name = ev.data...;
 *       if (r == LL_AC_DONE) ...body complete...; if (r == LL_AC_ERROR) ...answer ev.status...;
 *     }
 *   at the end of the body: ll_awschunked_end(&d, &ev) says whether it was complete;
 *   ll_awschunked_free(&d);
 *
 * Exactly when each event comes:
 *  - NEED_MORE: everything given was consumed (*used == len); partial lines are kept inside.
 *  - DATA: decoded bytes of one chunk, as many as the input holds (never more than the chunk
 *    has left, never spanning two chunks, never empty). The call consumes the framing before
 *    them; the data bytes are the last ones consumed: ev.data + ev.len == p + *used. Data is
 *    released as it arrives, before the chunk's signature can be checked: the caller must
 *    treat everything as provisional until DONE (an upload is committed only then).
 *  - After DATA or TRAILER, call again even when no input remains (len 0).
 *  - Signed chunks: the call after the one that returned a chunk's last data byte checks its
 *    signature and returns ERROR (SignatureDoesNotMatch) if it is wrong, before consuming
 *    anything more. The final 0-size chunk's signature, and x-amz-decoded-content-length
 *    against the data total, are checked by the call that consumes the last chunk's size line;
 *    a chunk that would take the total past x-amz-decoded-content-length is refused by the call
 *    that consumes its size line, before any of its data is released.
 *  - TRAILER: one trailing header, name in ev.name/ev.name_len (lower-cased), value in
 *    ev.data/ev.len (surrounding spaces and tabs removed); both NUL-terminated, pointing into
 *    the decoder's storage, valid until ll_awschunked_free. Trailers are held back until the
 *    whole body has been consumed (and, signed, the trailer signature verified): the call that
 *    consumes the body's final CRLF returns the first TRAILER, or DONE when there are none;
 *    the remaining TRAILERs and then DONE follow, each consuming nothing. The
 *    x-amz-trailer-signature line is checked here, never returned.
 *  - DONE: the body is complete and every signature checked. Bytes after the body are not
 *    consumed (the caller decides: a body must end there). Calls after DONE return DONE again
 *    with *used 0.
 *  - ERROR: *used is 0; ev.status (400 or 403), ev.code (S3's error code) and ev.message
 *    (naming what was wrong; valid until ll_awschunked_free) say why. The error is sticky:
 *    every later call, ll_awschunked_end included, returns it again.
 *
 * Errors (ev.code):
 *   403 SignatureDoesNotMatch  a chunk-signature or the x-amz-trailer-signature is wrong
 *   400 IncompleteBody         the data total differs from x-amz-decoded-content-length, or
 *                              the body ended early (ll_awschunked_end)
 *   400 InvalidRequest         chunk framing: a size line that is not hex, has more than 16
 *                              digits, is longer than LL_AC_LINE_MAX, lacks or has a
 *                              chunk-signature against cfg, data not followed by CRLF, a bare
 *                              LF, bytes after the last chunk where CRLF belongs, sizes adding
 *                              up past 2^64 - 2
 *   400 MalformedTrailerError  a trailer line that is not name:value, over LL_AC_TRAILER_MAX
 *                              bytes or LL_AC_MAX_TRAILERS lines, a name twice, the signature
 *                              line missing (signed), present (unsigned) or not last
 *
 * Memory: the decoder allocates only once trailers begin (one LL_AC_TRAILER_MAX buffer);
 * ll_awschunked_free releases it. Threads: a decoder is used by one thread at a time. */
#ifndef LL_API_AWSCHUNKED_H
#define LL_API_AWSCHUNKED_H

#include <openssl/sha.h> /* SHA256_CTX; see core/checksum.h on OPENSSL_SUPPRESS_DEPRECATED */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LL_AC_LINE_MAX 4096     /* a chunk-size line, CRLF included */
#define LL_AC_TRAILER_MAX 16384 /* all trailer lines, CRLFs and the signature line included */
#define LL_AC_MAX_TRAILERS 16   /* trailing headers, the signature line not counted */

typedef struct ll_awschunked_cfg {
  bool signed_chunks;      /* STREAMING-AWS4-HMAC-SHA256-PAYLOAD(-TRAILER): every chunk carries
                              ;chunk-signature=<64 hex>, verified */
  bool trailer;            /* the -TRAILER forms (x-amz-trailer header present): trailing headers
                              after the 0 chunk; with signed_chunks a final
                              x-amz-trailer-signature:<64 hex> line is verified */
  unsigned char key[32];   /* signing key of the request's scope (signed_chunks only; see
                              ll_sigv4_signing_key) */
  char amz_date[17];       /* the request's X-Amz-Date (signed_chunks only) */
  char scope[128];         /* "yyyymmdd/region/s3/aws4_request" (signed_chunks only) */
  char seed_signature[65]; /* the request's Authorization signature (signed_chunks only) */
  uint64_t decoded_length; /* x-amz-decoded-content-length, or UINT64_MAX when absent; the data
                              total must equal it */
} ll_awschunked_cfg_t;

enum {
  LL_AC_NEED_MORE = 0, /* all input consumed; call again with more */
  LL_AC_DATA = 1,      /* decoded bytes in ev.data/ev.len (pointing into the input) */
  LL_AC_TRAILER = 2,   /* a trailing header: ev.name/ev.name_len, value in ev.data/ev.len */
  LL_AC_DONE = 3,      /* body complete, every signature checked */
  LL_AC_ERROR = -1,    /* malformed, over a limit, or a signature wrong: ev.status/code/message */
};

typedef struct ll_awschunked_event {
  const char *data; /* DATA: decoded bytes (into the input); TRAILER: the value */
  size_t len;
  const char *name; /* TRAILER: the name, lower-cased */
  size_t name_len;
  int status;          /* ERROR: 400 or 403 */
  const char *code;    /* ERROR: S3's error code ("SignatureDoesNotMatch", "IncompleteBody",
                          "InvalidRequest", "MalformedTrailerError"); static */
  const char *message; /* ERROR: what was wrong */
} ll_awschunked_event_t;

typedef struct ll_awschunked {
  /* private below: state machine */
  ll_awschunked_cfg_t cfg;
  int state;
  uint64_t nchunk;     /* the chunk being decoded, from 1 */
  uint64_t chunk_size; /* its size and what is left of its data */
  uint64_t chunk_left;
  uint64_t total;      /* data bytes so far */
  size_t crlf;         /* bytes of an expected CRLF seen */
  char line[LL_AC_LINE_MAX]; /* the chunk-size line being read */
  size_t line_len;
  char chunk_sig[65];  /* signed: the current chunk's signature, and the previous one's */
  char prev_sig[65];
  SHA256_CTX sha;      /* signed: the current chunk's data, then the trailer lines */
  char *tbuf;          /* owned: trailer lines (LL_AC_TRAILER_MAX bytes) once trailers begin */
  size_t tlen, tline;  /* bytes in tbuf; where the current trailer line starts */
  struct {
    size_t name, name_len, value, value_len; /* offsets into tbuf */
  } trailers[LL_AC_MAX_TRAILERS];
  size_t ntrailers, nemitted;
  bool trailer_signed; /* signed: the x-amz-trailer-signature line was seen and verified */
  int err_status;
  const char *err_code;
  char err_msg[384];
} ll_awschunked_t;

/* Readies d (uninitialized or freed) for one body; cfg is copied. With cfg->signed_chunks,
 * amz_date must be 16 characters and seed_signature 64. */
void ll_awschunked_init(ll_awschunked_t *d, const ll_awschunked_cfg_t *cfg);
/* Consumes at most up to the end of one event from p[0..len) (p may be NULL when len is 0);
 * sets *used to the bytes consumed and returns the event (see above). */
int ll_awschunked_feed(ll_awschunked_t *d, const char *p, size_t len, size_t *used,
                       ll_awschunked_event_t *ev);
/* The body ended (the request has no more bytes): LL_AC_DONE when feed had consumed the whole
 * body (trailers not yet pulled are still pulled with feed), else LL_AC_ERROR IncompleteBody
 * naming where it stopped, which becomes the sticky error; a previous error is returned
 * again. */
int ll_awschunked_end(ll_awschunked_t *d, ll_awschunked_event_t *ev);
/* Releases the trailer storage and wipes the key; d may be initialized again afterwards. */
void ll_awschunked_free(ll_awschunked_t *d);

#endif

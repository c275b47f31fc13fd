/* aws-chunked body decoder (see awschunked.h for the contract and the grammar).
 *
 * One state per place in the grammar; feed() loops through states until one produces an
 * event or the input runs out. Lines (chunk sizes, trailers) are copied into the decoder as
 * they arrive, so the input may be cut anywhere; chunk data is never copied: DATA points into
 * the caller's input. SHA-256 of a signed chunk's data runs as the data passes, and the
 * chunk's signature is compared once its last byte has been released. Every error is a call
 * to fail() with S3's code and a message that names the rule broken.
 *
 * OPENSSL_SUPPRESS_DEPRECATED must precede every OpenSSL header: SHA256_* are deprecated in
 * OpenSSL 3 but need no allocation per chunk. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include "api/awschunked.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sigv4.h"
#include "core/mem.h"

enum {
  ST_SIZE,       /* reading a chunk-size line */
  ST_DATA,       /* chunk_left bytes of data to release */
  ST_DATA_END,   /* data complete: check the chunk's signature */
  ST_DATA_CRLF,  /* the CRLF after the data */
  ST_FINAL_CRLF, /* without trailer: the CRLF after the last chunk */
  ST_TRAILER,    /* reading trailer lines */
  ST_EMIT,       /* body consumed: handing out the trailers */
  ST_DONE,
  ST_ERROR,
};

#define TRAILER_SIG "x-amz-trailer-signature"

/* ---- errors ------------------------------------------------------------------------------ */

static int fail(ll_awschunked_t *d, size_t *used, ll_awschunked_event_t *ev, int status,
                const char *code, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Reports the decoder's (sticky) error in ev; returns LL_AC_ERROR. */
static int report_error(const ll_awschunked_t *d, size_t *used, ll_awschunked_event_t *ev) {
  if (used) *used = 0;
  memset(ev, 0, sizeof *ev);
  ev->status = d->err_status;
  ev->code = d->err_code;
  ev->message = d->err_msg;
  return LL_AC_ERROR;
}

/* Records the error (the decoder stays in it) and reports it; returns LL_AC_ERROR. */
static int fail(ll_awschunked_t *d, size_t *used, ll_awschunked_event_t *ev, int status,
                const char *code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(d->err_msg, sizeof d->err_msg, fmt, ap);
  va_end(ap);
  d->state = ST_ERROR;
  d->err_status = status;
  d->err_code = code;
  return report_error(d, used, ev);
}

/* Up to 40 bytes of p for a message: printable ASCII as is, other bytes as \xNN. */
static const char *echo(const char *p, size_t len, char out[256]) {
  size_t o = 0, n = len < 40 ? len : 40;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c >= 0x20 && c < 0x7f && c != '\\')
      out[o++] = (char)c;
    else
      o += (size_t)snprintf(out + o, 5, "\\x%02x", c);
  }
  if (n < len) memcpy(out + o, "...", 3), o += 3;
  out[o] = '\0';
  return out;
}

/* ---- small helpers ----------------------------------------------------------------------- */

static int hexval(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* 64 lower-case hex digits. */
static bool is_sig(const char *p, size_t len) {
  if (len != 64) return false;
  for (size_t i = 0; i < 64; i++)
    if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) return false;
  return true;
}

/* RFC 9110 tchar */
static bool is_tchar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c && strchr("!#$%&'*+-.^_`|~", c));
}

enum { LINE_MORE, LINE_DONE, LINE_LONG };

/* Appends input from p[*i..len) to buf[*blen..cap) up to and including the next LF. Returns
 * LINE_DONE when the LF arrived (*i just past it), LINE_MORE when the input ran out first
 * (*i == len), LINE_LONG when the line will not fit. */
static int take_line(char *buf, size_t *blen, size_t cap, const char *p, size_t len, size_t *i) {
  if (*i == len) return LINE_MORE; /* p may be NULL */
  const char *lf = memchr(p + *i, '\n', len - *i);
  size_t n = lf ? (size_t)(lf - (p + *i)) + 1 : len - *i;
  if (n > cap - *blen) { /* keep what fits, so messages show the same however input came */
    memcpy(buf + *blen, p + *i, cap - *blen);
    *blen = cap;
    return LINE_LONG;
  }
  memcpy(buf + *blen, p + *i, n);
  *blen += n;
  *i += n;
  return lf ? LINE_DONE : LINE_MORE;
}

/* Expects the rest of a CRLF at p[*i..len): true when complete, false when more input is
 * needed; *bad set when another byte came. */
static bool take_crlf(ll_awschunked_t *d, const char *p, size_t len, size_t *i, bool *bad) {
  *bad = false;
  while (d->crlf < 2 && *i < len) {
    if (p[*i] != "\r\n"[d->crlf]) {
      *bad = true;
      return false;
    }
    d->crlf++;
    (*i)++;
  }
  return d->crlf == 2;
}

/* The expected signature of a chunk whose data SHA-256 is in d->sha. */
static void chunk_sig(ll_awschunked_t *d, char out[65]) {
  unsigned char digest[32];
  SHA256_Final(digest, &d->sha);
  ll_sigv4_chunk_signature(d->cfg.key, d->cfg.amz_date, d->cfg.scope, d->prev_sig, digest, out);
}

static int sig_mismatch(ll_awschunked_t *d, size_t *used, ll_awschunked_event_t *ev) {
  return fail(d, used, ev, 403, "SignatureDoesNotMatch",
              "The chunk-signature of chunk %llu (%llu bytes at offset %llu of the decoded "
              "data) does not match the signature we calculated. Check your key and signing "
              "method.",
              (unsigned long long)d->nchunk, (unsigned long long)d->chunk_size,
              (unsigned long long)(d->total - d->chunk_size));
}

/* ---- chunk-size lines -------------------------------------------------------------------- */

/* Parses the complete size line in d->line (CRLF included) and moves to the chunk's data, or
 * past the last chunk. */
static int size_line(ll_awschunked_t *d, size_t *used, ll_awschunked_event_t *ev) {
  char e[256];
  d->nchunk++;
  if (d->line_len < 2 || d->line[d->line_len - 2] != '\r')
    return fail(d, used, ev, 400, "InvalidRequest",
                "The size line of chunk %llu ends in a bare LF instead of CRLF: '%s'.",
                (unsigned long long)d->nchunk, echo(d->line, d->line_len - 1, e));
  const char *l = d->line;
  size_t n = d->line_len - 2, nd = 0;
  uint64_t size = 0;
  while (nd < n && hexval((unsigned char)l[nd]) >= 0) {
    if (nd < 16) size = size << 4 | (uint64_t)hexval((unsigned char)l[nd]);
    nd++;
  }
  if (nd == 0)
    return fail(d, used, ev, 400, "InvalidRequest",
                "The size line of chunk %llu does not start with a hexadecimal chunk size: "
                "'%s'.",
                (unsigned long long)d->nchunk, echo(l, n, e));
  if (nd > 16)
    return fail(d, used, ev, 400, "InvalidRequest",
                "The size of chunk %llu has more than 16 hexadecimal digits: '%s'.",
                (unsigned long long)d->nchunk, echo(l, nd, e));

  /* What follows the size: ";chunk-signature=<sig>" exactly when signed, else nothing. */
  static const char ext[] = ";chunk-signature=";
  const char *rest = l + nd;
  size_t rlen = n - nd;
  if (d->cfg.signed_chunks) {
    if (rlen != sizeof ext - 1 + 64 || memcmp(rest, ext, sizeof ext - 1) != 0 ||
        !is_sig(rest + sizeof ext - 1, 64))
      return fail(d, used, ev, 400, "InvalidRequest",
                  "The size of chunk %llu must be followed by ';chunk-signature=' and 64 "
                  "lower-case hexadecimal digits (a signed aws-chunked body), not '%s'.",
                  (unsigned long long)d->nchunk, echo(rest, rlen, e));
    memcpy(d->chunk_sig, rest + sizeof ext - 1, 64);
    d->chunk_sig[64] = '\0';
  } else if (rlen) {
    return fail(d, used, ev, 400, "InvalidRequest",
                "Unexpected '%s' after the size of chunk %llu: an unsigned aws-chunked body "
                "carries no chunk-signature or other extension.",
                echo(rest, rlen, e), (unsigned long long)d->nchunk);
  }
  d->line_len = 0;

  uint64_t want = d->cfg.decoded_length;
  if (size == 0) { /* the last chunk */
    d->chunk_size = 0;
    if (d->cfg.signed_chunks) {
      char sig[65];
      SHA256_Init(&d->sha);
      chunk_sig(d, sig);
      if (CRYPTO_memcmp(sig, d->chunk_sig, 64) != 0) return sig_mismatch(d, used, ev);
      memcpy(d->prev_sig, d->chunk_sig, 65);
    }
    if (want != UINT64_MAX && d->total != want)
      return fail(d, used, ev, 400, "IncompleteBody",
                  "The aws-chunked body carries %llu bytes of data, but "
                  "x-amz-decoded-content-length is %llu.",
                  (unsigned long long)d->total, (unsigned long long)want);
    if (d->cfg.trailer) {
      if (!d->tbuf) d->tbuf = ll_malloc(LL_AC_TRAILER_MAX);
      d->tlen = d->tline = 0;
      if (d->cfg.signed_chunks) SHA256_Init(&d->sha);
      d->state = ST_TRAILER;
    } else {
      d->crlf = 0;
      d->state = ST_FINAL_CRLF;
    }
    return 0;
  }
  if (want != UINT64_MAX && size > want - d->total)
    return fail(d, used, ev, 400, "IncompleteBody",
                "Chunk %llu of %llu bytes takes the data past x-amz-decoded-content-length, "
                "%llu bytes (%llu before it).",
                (unsigned long long)d->nchunk, (unsigned long long)size,
                (unsigned long long)want, (unsigned long long)d->total);
  if (size > UINT64_MAX - 1 - d->total) /* UINT64_MAX itself means "no declared length" */
    return fail(d, used, ev, 400, "InvalidRequest",
                "Chunk %llu of %llu bytes takes the data past 2^64 - 2 bytes.",
                (unsigned long long)d->nchunk, (unsigned long long)size);
  d->chunk_size = d->chunk_left = size;
  if (d->cfg.signed_chunks) SHA256_Init(&d->sha);
  d->state = ST_DATA;
  return 0;
}

/* ---- trailer lines ----------------------------------------------------------------------- */

static int bad_trailer(ll_awschunked_t *d, size_t *used, ll_awschunked_event_t *ev,
                       const char *fmt, const char *what) {
  char e[256];
  return fail(d, used, ev, 400, "MalformedTrailerError", fmt, echo(what, strlen(what), e));
}

/* Parses the complete trailer line at d->tbuf[d->tline..d->tlen) (CRLF included): a trailing
 * header is recorded (NUL-terminated in place), the signature line checked, the empty line
 * ends the trailer. */
static int trailer_line(ll_awschunked_t *d, size_t *used, ll_awschunked_event_t *ev) {
  char e[256];
  char *l = d->tbuf + d->tline;
  size_t n = d->tlen - d->tline;
  if (n < 2 || l[n - 2] != '\r')
    return fail(d, used, ev, 400, "MalformedTrailerError",
                "A trailer line ends in a bare LF instead of CRLF: '%s'.", echo(l, n - 1, e));
  n -= 2;
  d->tline = d->tlen;

  if (n == 0) { /* the end of the trailer */
    if (d->cfg.signed_chunks && !d->trailer_signed)
      return fail(d, used, ev, 400, "MalformedTrailerError",
                  "The trailer of a signed aws-chunked body must end with an "
                  "x-amz-trailer-signature line.");
    d->state = ST_EMIT;
    return 0;
  }
  if (d->trailer_signed)
    return fail(d, used, ev, 400, "MalformedTrailerError",
                "The trailer line '%s' comes after x-amz-trailer-signature, which must be the "
                "last.",
                echo(l, n, e));
  char *colon = memchr(l, ':', n);
  if (!colon)
    return fail(d, used, ev, 400, "MalformedTrailerError",
                "The trailer line '%s' is not name:value.", echo(l, n, e));
  size_t nlen = (size_t)(colon - l), v = nlen + 1, vend = n;
  bool token = nlen > 0;
  for (size_t i = 0; i < nlen && token; i++) token = is_tchar((unsigned char)l[i]);
  if (!token)
    return fail(d, used, ev, 400, "MalformedTrailerError",
                "The trailer line '%s' does not start with a header name.", echo(l, n, e));
  while (v < vend && (l[v] == ' ' || l[v] == '\t')) v++;
  while (vend > v && (l[vend - 1] == ' ' || l[vend - 1] == '\t')) vend--;
  for (size_t i = v; i < vend; i++) {
    unsigned char c = (unsigned char)l[i];
    if ((c < 0x20 && c != '\t') || c == 0x7f)
      return fail(d, used, ev, 400, "MalformedTrailerError",
                  "The value of the trailer line '%s' has a control character.", echo(l, n, e));
  }
  for (size_t i = 0; i < nlen; i++)
    if (l[i] >= 'A' && l[i] <= 'Z') l[i] = (char)(l[i] + 32);
  l[nlen] = '\0';
  l[vend] = '\0'; /* over a trailing space or the CR */
  const char *name = l, *value = l + v;
  size_t vlen = vend - v;

  if (nlen == sizeof TRAILER_SIG - 1 && memcmp(name, TRAILER_SIG, nlen) == 0) {
    if (!d->cfg.signed_chunks)
      return bad_trailer(d, used, ev,
                         "x-amz-trailer-signature in the trailer of an unsigned aws-chunked "
                         "body: '%s'.",
                         value);
    if (!is_sig(value, vlen))
      return bad_trailer(d, used, ev,
                         "x-amz-trailer-signature must be 64 lower-case hexadecimal digits, "
                         "not '%s'.",
                         value);
    unsigned char digest[32];
    char want[65];
    SHA256_Final(digest, &d->sha);
    ll_sigv4_trailer_signature(d->cfg.key, d->cfg.amz_date, d->cfg.scope, d->prev_sig, digest,
                               want);
    if (CRYPTO_memcmp(want, value, 64) != 0)
      return fail(d, used, ev, 403, "SignatureDoesNotMatch",
                  "The x-amz-trailer-signature does not match the signature we calculated over "
                  "the trailer. Check your key and signing method.");
    d->trailer_signed = true;
    return 0;
  }
  for (size_t k = 0; k < d->ntrailers; k++)
    if (d->trailers[k].name_len == nlen && memcmp(d->tbuf + d->trailers[k].name, name, nlen) == 0)
      return bad_trailer(d, used, ev, "The trailer names '%s' twice.", name);
  if (d->ntrailers == LL_AC_MAX_TRAILERS)
    return bad_trailer(d, used, ev, "The trailer has more than 16 headers; the 17th is '%s'.",
                       name);
  d->trailers[d->ntrailers].name = (size_t)(name - d->tbuf);
  d->trailers[d->ntrailers].name_len = nlen;
  d->trailers[d->ntrailers].value = (size_t)(value - d->tbuf);
  d->trailers[d->ntrailers].value_len = vlen;
  d->ntrailers++;
  if (d->cfg.signed_chunks) { /* what the trailer signature covers: "name:value\n" each */
    SHA256_Update(&d->sha, name, nlen);
    SHA256_Update(&d->sha, ":", 1);
    SHA256_Update(&d->sha, value, vlen);
    SHA256_Update(&d->sha, "\n", 1);
  }
  return 0;
}

/* ---- the decoder ------------------------------------------------------------------------- */

void ll_awschunked_init(ll_awschunked_t *d, const ll_awschunked_cfg_t *cfg) {
  memset(d, 0, sizeof *d);
  d->cfg = *cfg;
  d->cfg.amz_date[sizeof d->cfg.amz_date - 1] = '\0';
  d->cfg.scope[sizeof d->cfg.scope - 1] = '\0';
  d->cfg.seed_signature[sizeof d->cfg.seed_signature - 1] = '\0';
  if (cfg->signed_chunks) {
    ll_assert(strlen(d->cfg.amz_date) == 16 && strlen(d->cfg.seed_signature) == 64);
    memcpy(d->prev_sig, d->cfg.seed_signature, 65);
  }
  d->state = ST_SIZE;
}

void ll_awschunked_free(ll_awschunked_t *d) {
  free(d->tbuf);
  d->tbuf = NULL;
  OPENSSL_cleanse(d->cfg.key, sizeof d->cfg.key);
  OPENSSL_cleanse(&d->sha, sizeof d->sha);
}

int ll_awschunked_feed(ll_awschunked_t *d, const char *p, size_t len, size_t *used,
                       ll_awschunked_event_t *ev) {
  memset(ev, 0, sizeof *ev);
  *used = 0;
  size_t i = 0;
  bool bad;
  char e[256];
  for (;;) {
    switch (d->state) {
    case ST_SIZE: {
      int r = take_line(d->line, &d->line_len, sizeof d->line, p, len, &i);
      if (r == LINE_LONG)
        return fail(d, used, ev, 400, "InvalidRequest",
                    "The size line of chunk %llu is longer than %d bytes: '%s'.",
                    (unsigned long long)d->nchunk + 1, LL_AC_LINE_MAX, echo(d->line, 40, e));
      if (r == LINE_MORE) {
        *used = len;
        return LL_AC_NEED_MORE;
      }
      if (size_line(d, used, ev) < 0) return LL_AC_ERROR;
      break;
    }

    case ST_DATA: {
      if (i == len) {
        *used = len;
        return LL_AC_NEED_MORE;
      }
      size_t n = len - i < d->chunk_left ? len - i : (size_t)d->chunk_left;
      if (d->cfg.signed_chunks) SHA256_Update(&d->sha, p + i, n);
      d->chunk_left -= n;
      d->total += n;
      if (d->chunk_left == 0) d->state = ST_DATA_END;
      ev->data = p + i;
      ev->len = n;
      *used = i + n;
      return LL_AC_DATA;
    }

    case ST_DATA_END:
      if (d->cfg.signed_chunks) {
        char sig[65];
        chunk_sig(d, sig);
        if (CRYPTO_memcmp(sig, d->chunk_sig, 64) != 0) return sig_mismatch(d, used, ev);
        memcpy(d->prev_sig, d->chunk_sig, 65);
      }
      d->crlf = 0;
      d->state = ST_DATA_CRLF;
      break;

    case ST_DATA_CRLF:
      if (!take_crlf(d, p, len, &i, &bad)) {
        if (bad)
          return fail(d, used, ev, 400, "InvalidRequest",
                      "The %llu bytes of data of chunk %llu are not followed by CRLF (got "
                      "'%s'): the chunk size is wrong.",
                      (unsigned long long)d->chunk_size, (unsigned long long)d->nchunk,
                      echo(p + i, 1, e));
        *used = len;
        return LL_AC_NEED_MORE;
      }
      d->state = ST_SIZE;
      break;

    case ST_FINAL_CRLF:
      if (!take_crlf(d, p, len, &i, &bad)) {
        if (bad)
          return fail(d, used, ev, 400, "InvalidRequest",
                      "The last (0-size) chunk must be followed by CRLF, not '%s' (trailing "
                      "headers come only with the x-amz-trailer header).",
                      echo(p + i, 1, e));
        *used = len;
        return LL_AC_NEED_MORE;
      }
      d->state = ST_DONE;
      *used = i;
      return LL_AC_DONE;

    case ST_TRAILER: {
      int r = take_line(d->tbuf, &d->tlen, LL_AC_TRAILER_MAX, p, len, &i);
      if (r == LINE_LONG)
        return fail(d, used, ev, 400, "MalformedTrailerError",
                    "The trailer is longer than %d bytes.", LL_AC_TRAILER_MAX);
      if (r == LINE_MORE) {
        *used = len;
        return LL_AC_NEED_MORE;
      }
      if (trailer_line(d, used, ev) < 0) return LL_AC_ERROR;
      break;
    }

    case ST_EMIT:
      *used = i;
      if (d->nemitted < d->ntrailers) {
        const char *b = d->tbuf;
        ev->name = b + d->trailers[d->nemitted].name;
        ev->name_len = d->trailers[d->nemitted].name_len;
        ev->data = b + d->trailers[d->nemitted].value;
        ev->len = d->trailers[d->nemitted].value_len;
        d->nemitted++;
        return LL_AC_TRAILER;
      }
      d->state = ST_DONE;
      return LL_AC_DONE;

    case ST_DONE:
      *used = i;
      return LL_AC_DONE;

    default: /* ST_ERROR */
      return report_error(d, used, ev);
    }
  }
}

int ll_awschunked_end(ll_awschunked_t *d, ll_awschunked_event_t *ev) {
  memset(ev, 0, sizeof *ev);
  char where[160], declared[96] = "";
  unsigned long long k = (unsigned long long)d->nchunk;
  switch (d->state) {
  case ST_EMIT:
  case ST_DONE: return LL_AC_DONE;
  case ST_ERROR: return report_error(d, NULL, ev);
  case ST_SIZE:
    if (d->nchunk == 0 && d->line_len == 0)
      snprintf(where, sizeof where, "The aws-chunked body is empty: it has no chunk");
    else
      snprintf(where, sizeof where,
               "The aws-chunked body ended before its last (0-size) chunk%s",
               d->line_len ? ", inside a chunk-size line" : "");
    break;
  case ST_DATA:
    snprintf(where, sizeof where,
             "The aws-chunked body ended in chunk %llu, after %llu of its %llu bytes", k,
             (unsigned long long)(d->chunk_size - d->chunk_left),
             (unsigned long long)d->chunk_size);
    break;
  case ST_DATA_END:
  case ST_DATA_CRLF:
    snprintf(where, sizeof where,
             "The aws-chunked body ended after the data of chunk %llu, before its CRLF", k);
    break;
  case ST_FINAL_CRLF:
    snprintf(where, sizeof where,
             "The aws-chunked body ended before the CRLF after its last (0-size) chunk");
    break;
  default: /* ST_TRAILER */
    snprintf(where, sizeof where,
             "The aws-chunked body ended in its trailer, before the empty line that closes it");
    break;
  }
  if (d->cfg.decoded_length != UINT64_MAX)
    snprintf(declared, sizeof declared,
             " (%llu of the %llu bytes x-amz-decoded-content-length declares)",
             (unsigned long long)d->total, (unsigned long long)d->cfg.decoded_length);
  return fail(d, NULL, ev, 400, "IncompleteBody", "%s%s.", where, declared);
}

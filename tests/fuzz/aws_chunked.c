/* libFuzzer target for src/api/awschunked.c.
 *
 * Input: a 4-byte header, then the rest.
 *   byte 0   flags: bit 0 signed_chunks, bit 1 trailer, bit 2 decoded_length is bytes 2-3
 *            (little-endian; else absent), bit 6 round trip (below)
 *   byte 1   the piece size the body is fed in (0: all at once); in a round trip, also the
 *            chunk size (1 + byte 1)
 *   bytes 2-3 decoded_length when bit 2 is set
 *
 * Decode (bit 6 clear): the rest is an aws-chunked body. Fed in pieces and all at once, with
 * the event contract checked on every call (awschunked.h): never a crash, never more DATA
 * than input, DATA pointing into the input, NEED_MORE consuming everything, ERROR consuming
 * nothing and carrying a status, code and message, DONE only with the declared length, errors
 * and DONE sticky; and both ways of feeding give the same outcome and the same bytes. In signed
 * mode nearly every input fails a signature, so the checks there are the crash-free ones.
 *
 * Round trip (bit 6 set): the rest is data. It is encoded here as aws-chunked in the form the
 * flags pick (signed with the signing functions of src/auth/sigv4.c, with a CRC32 trailer), and
 * decoding it must give DONE, the same data, the trailer, and consume the whole body. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/awschunked.h"
#include "auth/sigv4.h"
#include "core/buf.h"
#include "core/checksum.h"
#include "core/encoding.h"

#define DATE "20130524T000000Z"
#define SCOPE "20130524/us-east-1/s3/aws4_request"
#define SEED "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c)                                                   \
  do {                                                               \
    if (!(c)) {                                                      \
      fprintf(stderr, "%s:%d: REQUIRE(%s) failed\n", __FILE__, __LINE__, #c); \
      abort();                                                       \
    }                                                                \
  } while (0)

typedef struct outcome {
  int rc;       /* LL_AC_DONE or LL_AC_ERROR, or LL_AC_NEED_MORE when the input ended first */
  ll_buf_t out; /* DATA bytes */
  size_t ntrailers, consumed;
  char last_trailer[LL_AC_TRAILER_MAX + 1];
  char message[512];
} outcome_t;

/* Feeds body in pieces of step bytes (0: at once), checking the contract. */
static void decode(const ll_awschunked_cfg_t *cfg, const char *body, size_t len, size_t step,
                   outcome_t *o) {
  memset(o, 0, sizeof *o);
  o->out = (ll_buf_t)LL_BUF_INIT;
  o->rc = LL_AC_NEED_MORE;
  ll_awschunked_t d;
  ll_awschunked_init(&d, cfg);
  ll_awschunked_event_t ev;
  size_t used;
  for (size_t off = 0; o->rc == LL_AC_NEED_MORE && off <= len;) {
    size_t n = step && step < len - off ? step : len - off;
    const char *p = body + off;
    size_t left = n;
    for (;;) {
      int rc = ll_awschunked_feed(&d, p, left, &used, &ev);
      REQUIRE(used <= left);
      if (rc == LL_AC_NEED_MORE) {
        REQUIRE(used == left);
        break;
      }
      if (rc == LL_AC_DATA) {
        REQUIRE(ev.len > 0 && ev.data >= p && ev.data + ev.len == p + used);
        ll_buf_append(&o->out, ev.data, ev.len);
        REQUIRE(o->out.len <= len); /* never more DATA than input */
      } else if (rc == LL_AC_TRAILER) {
        REQUIRE(ev.name && ev.name_len && ev.name[ev.name_len] == '\0');
        REQUIRE(ev.data && ev.data[ev.len] == '\0' && ev.len <= LL_AC_TRAILER_MAX);
        o->ntrailers++;
        REQUIRE(o->ntrailers <= LL_AC_MAX_TRAILERS);
        memcpy(o->last_trailer, ev.data, ev.len + 1);
      } else if (rc == LL_AC_DONE) {
        o->rc = rc;
        o->consumed = (size_t)(p - body) + used;
        break;
      } else {
        REQUIRE(rc == LL_AC_ERROR && used == 0);
        REQUIRE(ev.code && ev.message && (ev.status == 400 || ev.status == 403));
        REQUIRE(memchr(ev.message, '\0', 384));
        snprintf(o->message, sizeof o->message, "%s %s", ev.code, ev.message);
        o->rc = rc;
        break;
      }
      p += used;
      left -= used;
    }
    if (off == len) break;
    off += n;
  }
  if (o->rc == LL_AC_NEED_MORE) {
    /* The input ran out before DONE (feed always reports DONE itself): incomplete. */
    o->rc = ll_awschunked_end(&d, &ev);
    REQUIRE(o->rc == LL_AC_ERROR && strcmp(ev.code, "IncompleteBody") == 0 && ev.status == 400);
    snprintf(o->message, sizeof o->message, "%s %s", ev.code, ev.message);
  }
  if (o->rc == LL_AC_DONE && cfg->decoded_length != UINT64_MAX)
    REQUIRE(o->out.len == cfg->decoded_length);
  /* Sticky. */
  int again = ll_awschunked_feed(&d, "0\r\n\r\n", 5, &used, &ev);
  REQUIRE(used == 0 && again == o->rc);
  ll_awschunked_free(&d);
}

static void encode(ll_buf_t *b, const ll_awschunked_cfg_t *cfg, const char *data, size_t len,
                   size_t chunk, const char *trailer) {
  char prev[65], sig[65], head[128];
  unsigned char dg[32];
  memcpy(prev, cfg->seed_signature, 65);
  for (size_t off = 0, n;; off += n) {
    n = len - off < chunk ? len - off : chunk;
    if (cfg->signed_chunks) {
      ll_sha256(data + off, n, dg);
      ll_sigv4_chunk_signature(cfg->key, cfg->amz_date, cfg->scope, prev, dg, sig);
      memcpy(prev, sig, 65);
      snprintf(head, sizeof head, "%zx;chunk-signature=%s\r\n", n, sig);
    } else {
      snprintf(head, sizeof head, "%zX\r\n", n);
    }
    ll_buf_puts(b, head);
    if (!n) break;
    ll_buf_append(b, data + off, n);
    ll_buf_puts(b, "\r\n");
  }
  if (cfg->trailer) {
    ll_buf_cat(b, trailer, "\r\n", NULL);
    if (cfg->signed_chunks) {
      char canon[128];
      snprintf(canon, sizeof canon, "%s\n", trailer);
      ll_sha256(canon, strlen(canon), dg);
      ll_sigv4_trailer_signature(cfg->key, cfg->amz_date, cfg->scope, prev, dg, sig);
      ll_buf_cat(b, "x-amz-trailer-signature:", sig, "\r\n", NULL);
    }
  }
  ll_buf_puts(b, "\r\n");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 4 || size > (1u << 18)) return 0;
  unsigned flags = data[0];
  ll_awschunked_cfg_t cfg = {
      .signed_chunks = flags & 1,
      .trailer = (flags >> 1) & 1,
      .decoded_length = flags & 4 ? (uint64_t)data[2] | (uint64_t)data[3] << 8 : UINT64_MAX,
  };
  ll_sigv4_signing_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1", "s3",
                       cfg.key);
  memcpy(cfg.amz_date, DATE, sizeof DATE);
  memcpy(cfg.scope, SCOPE, sizeof SCOPE);
  memcpy(cfg.seed_signature, SEED, sizeof SEED);
  const char *rest = (const char *)data + 4;
  size_t len = size - 4, step = data[1];

  if (flags & 0x40) { /* round trip */
    cfg.decoded_length = flags & 4 ? len : UINT64_MAX;
    ll_checksum_t ck;
    char b64[LL_CK_B64_MAX], trailer[64];
    ll_checksum_init(&ck, LL_CK_CRC32);
    ll_checksum_update(&ck, rest, len);
    ll_checksum_final_b64(&ck, b64);
    snprintf(trailer, sizeof trailer, "x-amz-checksum-crc32:%s", b64);
    ll_buf_t body = LL_BUF_INIT;
    encode(&body, &cfg, rest, len, 1 + step, trailer);
    outcome_t o;
    decode(&cfg, body.data, body.len, step, &o);
    if (o.rc != LL_AC_DONE) fprintf(stderr, "round trip: %s\n", o.message);
    REQUIRE(o.rc == LL_AC_DONE && o.consumed == body.len);
    REQUIRE(o.out.len == len && (!len || memcmp(o.out.data, rest, len) == 0));
    REQUIRE(o.ntrailers == (cfg.trailer ? 1u : 0u));
    if (cfg.trailer) REQUIRE(strcmp(o.last_trailer, b64) == 0);
    ll_buf_free(&o.out);
    ll_buf_free(&body);
    return 0;
  }

  outcome_t a, b;
  decode(&cfg, rest, len, 0, &a);
  decode(&cfg, rest, len, step ? step : 1, &b);
  REQUIRE(a.rc == b.rc && a.ntrailers == b.ntrailers && strcmp(a.message, b.message) == 0);
  REQUIRE(a.out.len == b.out.len && (!a.out.len || memcmp(a.out.data, b.out.data, a.out.len) == 0));
  if (a.rc == LL_AC_DONE) REQUIRE(a.consumed == b.consumed && a.consumed <= len);
  ll_buf_free(&a.out);
  ll_buf_free(&b.out);
  return 0;
}

/* nqueens: the Kinesis article's search, fanned out through a stream.
 *
 * A record is a set of mutually non-attacking squares of an N x N board ("N:" and the set as 48
 * hex digits, 192 bits: N <= 13). For each set of its batch the function makes every set with
 * one more square — a compatible square of lower index than the set's lowest, so each set is
 * made exactly once — puts the new sets back on the stream (PutRecords) and writes the complete
 * ones (N squares) to the table (BatchWriteItem, keyed by the set, so a batch delivered twice
 * writes nothing new). Known totals: N=8 gives 118,969 sets in all (the empty one included) and
 * 92 solutions; N=10, 7,535,369 and 724.
 *
 * GRAIN (environment, default 1): a set with fewer than GRAIN squares left to place is searched
 * here, below it, instead of being fanned out: GRAIN=1 is the article's one square per record.
 *
 * Events: the mapping's Kinesis batch; {"seed": N} puts the empty set of an N x N board.
 * Environment: STREAM_NAME, TABLE_NAME (the serverless.yml sets them with Ref).
 * The calls go through ll_aws_json with the function's own role credentials. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lambdalite_runtime.h"

#define WORDS 3
#define MAX_N 13
#define PUT_MAX 500   /* records per PutRecords */
#define WRITE_MAX 25  /* items per BatchWriteItem */

typedef struct set {
  uint64_t w[WORDS];
} set_t;

static int n_board;
static set_t attacks[MAX_N * MAX_N]; /* squares a queen on each square attacks (itself too) */
static const char *stream, *table;
static int grain = 1;

static bool has(const set_t *s, int b) { return s->w[b / 64] >> (b % 64) & 1; }
static void add(set_t *s, int b) { s->w[b / 64] |= 1ull << (b % 64); }
static int count(const set_t *s) {
  int c = 0;
  for (int i = 0; i < WORDS; i++) c += __builtin_popcountll(s->w[i]);
  return c;
}
static int lowest(const set_t *s, int none) {
  for (int i = 0; i < WORDS; i++)
    if (s->w[i]) return i * 64 + __builtin_ctzll(s->w[i]);
  return none;
}

static void board(int n) {
  if (n == n_board) return;
  n_board = n;
  for (int a = 0; a < n * n; a++) {
    memset(&attacks[a], 0, sizeof attacks[a]);
    for (int b = 0; b < n * n; b++) {
      int r = a / n, c = a % n, r2 = b / n, c2 = b % n;
      if (r == r2 || c == c2 || r - c == r2 - c2 || r + c == r2 + c2) add(&attacks[a], b);
    }
  }
}

/* The squares below the set's lowest that no queen of it attacks. */
static set_t candidates(const set_t *s) {
  set_t free = {{0}};
  int low = lowest(s, n_board * n_board);
  for (int b = 0; b < low; b++) add(&free, b);
  for (int q = low; q < n_board * n_board; q++)
    if (has(s, q))
      for (int i = 0; i < WORDS; i++) free.w[i] &= ~attacks[q].w[i];
  return free;
}

static void to_hex(const set_t *s, char out[WORDS * 16 + 1]) {
  for (int i = 0; i < WORDS; i++) snprintf(out + 16 * i, 17, "%016llx", (unsigned long long)s->w[WORDS - 1 - i]);
}

static bool from_text(const char *t, size_t len, int *n, set_t *s) {
  char buf[80];
  if (len >= sizeof buf) return false;
  memcpy(buf, t, len);
  buf[len] = 0;
  char *colon = strchr(buf, ':');
  if (!colon || strlen(colon + 1) != WORDS * 16) return false;
  *n = atoi(buf);
  if (*n < 1 || *n > MAX_N) return false;
  for (int i = 0; i < WORDS; i++) {
    char word[17];
    memcpy(word, colon + 1 + 16 * i, 16);
    word[16] = 0;
    s->w[WORDS - 1 - i] = strtoull(word, NULL, 16);
  }
  return true;
}

/* ---- base64 ---------------------------------------------------------------------------------- */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t b64_encode(const char *in, size_t n, char *out) {
  size_t o = 0;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)(unsigned char)in[i] << 16 | (i + 1 < n ? (uint32_t)(unsigned char)in[i + 1] << 8 : 0) |
                 (i + 2 < n ? (unsigned char)in[i + 2] : 0);
    out[o++] = B64[v >> 18 & 63];
    out[o++] = B64[v >> 12 & 63];
    out[o++] = i + 1 < n ? B64[v >> 6 & 63] : '=';
    out[o++] = i + 2 < n ? B64[v & 63] : '=';
  }
  out[o] = 0;
  return o;
}

static size_t b64_decode(const char *in, size_t n, char *out) {
  size_t o = 0;
  uint32_t v = 0;
  int bits = 0;
  for (size_t i = 0; i < n && in[i] != '='; i++) {
    const char *p = strchr(B64, in[i]);
    if (!p || !in[i]) continue;
    v = v << 6 | (uint32_t)(p - B64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (char)(v >> bits & 0xff);
    }
  }
  return o;
}

/* ---- output batches ---------------------------------------------------------------------------- */

typedef struct outbox {
  char *puts;       /* the PutRecords body being built */
  size_t plen, pcap;
  int nput;
  char *writes;     /* the BatchWriteItem body being built */
  size_t wlen, wcap;
  int nwrite;
  long emitted, solutions;
  char err[512];
} outbox_t;

static void append(char **b, size_t *len, size_t *cap, const char *s) {
  size_t n = strlen(s);
  if (*len + n + 1 > *cap) {
    *cap = (*len + n + 1) * 2;
    *b = realloc(*b, *cap);
    if (!*b) abort();
  }
  memcpy(*b + *len, s, n + 1);
  *len += n;
}

/* 0 when the call succeeded; else -1 with o->err. */
static int call(outbox_t *o, const char *service, const char *target, const char *body, size_t len,
                const char *must_contain) {
  char *resp = NULL;
  size_t rlen = 0;
  int status = ll_aws_json(service, target, body, len, &resp, &rlen, o->err, sizeof o->err);
  int rc = 0;
  if (status != 200) {
    if (status > 0) snprintf(o->err, sizeof o->err, "%s answered %d: %.400s", target, status, resp ? resp : "");
    rc = -1;
  } else if (must_contain && !strstr(resp, must_contain)) {
    snprintf(o->err, sizeof o->err, "%s did not do it all: %.400s", target, resp);
    rc = -1;
  }
  free(resp);
  return rc;
}

static int flush_puts(outbox_t *o) {
  if (!o->nput) return 0;
  append(&o->puts, &o->plen, &o->pcap, "]}");
  int rc = call(o, "kinesis", "Kinesis_20131202.PutRecords", o->puts, o->plen, "\"FailedRecordCount\":0");
  o->plen = 0;
  o->nput = 0;
  return rc;
}

static int flush_writes(outbox_t *o) {
  if (!o->nwrite) return 0;
  append(&o->writes, &o->wlen, &o->wcap, "]}}");
  int rc = call(o, "dynamodb", "DynamoDB_20120810.BatchWriteItem", o->writes, o->wlen, "\"UnprocessedItems\":{}");
  o->wlen = 0;
  o->nwrite = 0;
  return rc;
}

static int emit(outbox_t *o, const set_t *s) {
  char hexs[WORDS * 16 + 1], text[80], data[120], rec[300];
  to_hex(s, hexs);
  int tl = snprintf(text, sizeof text, "%d:%s", n_board, hexs);
  b64_encode(text, (size_t)tl, data);
  if (!o->nput) {
    o->plen = 0;
    append(&o->puts, &o->plen, &o->pcap, "{\"StreamName\":\"");
    append(&o->puts, &o->plen, &o->pcap, stream);
    append(&o->puts, &o->plen, &o->pcap, "\",\"Records\":[");
  }
  snprintf(rec, sizeof rec, "%s{\"Data\":\"%s\",\"PartitionKey\":\"%s\"}", o->nput ? "," : "", data, hexs);
  append(&o->puts, &o->plen, &o->pcap, rec);
  o->emitted++;
  return ++o->nput == PUT_MAX ? flush_puts(o) : 0;
}

static int solved(outbox_t *o, const set_t *s) {
  char hexs[WORDS * 16 + 1], item[300];
  to_hex(s, hexs);
  if (!o->nwrite) {
    o->wlen = 0;
    append(&o->writes, &o->wlen, &o->wcap, "{\"RequestItems\":{\"");
    append(&o->writes, &o->wlen, &o->wcap, table);
    append(&o->writes, &o->wlen, &o->wcap, "\":[");
  }
  snprintf(item, sizeof item, "%s{\"PutRequest\":{\"Item\":{\"key\":{\"S\":\"%d:%s\"},\"n\":{\"N\":\"%d\"}}}}",
           o->nwrite ? "," : "", n_board, hexs, n_board);
  append(&o->writes, &o->wlen, &o->wcap, item);
  o->solutions++;
  return ++o->nwrite == WRITE_MAX ? flush_writes(o) : 0;
}

/* Every completion of s, searched here (grain mode below the threshold): depth first, the
 * candidates carried down (a child's are its parent's below the new square, less what that
 * square attacks), so a node costs a few word operations. */
static int search_below(outbox_t *o, const set_t *s, set_t free, int k) {
  if (k == n_board) return solved(o, s);
  for (int i = WORDS - 1; i >= 0; i--) {
    while (free.w[i]) {
      int bit = 63 - __builtin_clzll(free.w[i]);
      int b = i * 64 + bit;
      free.w[i] &= ~(1ull << bit);
      set_t child = *s, cfree = free;
      add(&child, b);
      for (int j = 0; j < WORDS; j++) cfree.w[j] &= ~attacks[b].w[j];
      for (int j = i + 1; j < WORDS; j++) cfree.w[j] = 0;
      cfree.w[i] &= bit ? (1ull << bit) - 1 : 0;
      if (search_below(o, &child, cfree, k + 1) < 0) return -1;
    }
  }
  return 0;
}

static int extend(outbox_t *o, const set_t *s) {
  int k = count(s);
  if (k == n_board) return 0; /* written to the table when it was made */
  if (n_board - k < grain) return search_below(o, s, candidates(s), k);
  set_t c = candidates(s);
  for (int b = 0; b < n_board * n_board; b++) {
    if (!has(&c, b)) continue;
    set_t child = *s;
    add(&child, b);
    if (emit(o, &child) < 0) return -1;
    if (k + 1 == n_board && solved(o, &child) < 0) return -1;
  }
  return 0;
}

static int handle(const ll_invocation *in, ll_response *out) {
  static outbox_t o;
  o.emitted = o.solutions = 0;
  o.nput = o.nwrite = 0;
  o.err[0] = 0;
  const char *seed = strstr(in->payload, "\"seed\"");
  if (seed) {
    const char *v = strchr(seed, ':');
    int n = v ? atoi(v + 1) : 0;
    if (n < 1 || n > MAX_N) return ll_response_error(out, "InvalidEvent", "seed wants a board size 1..13");
    board(n);
    set_t empty = {{0}};
    if (emit(&o, &empty) < 0 || flush_puts(&o) < 0) return ll_response_error(out, "StreamError", o.err);
    return ll_response_printf(out, "{\"seeded\":%d}", n);
  }
  long sets = 0;
  for (const char *p = in->payload; (p = strstr(p, "\"data\":\"")); sets++) {
    p += 8;
    size_t len = strcspn(p, "\"");
    char text[120];
    int n;
    set_t s;
    if (len > 160 || !from_text(text, b64_decode(p, len, text), &n, &s))
      return ll_response_error(out, "InvalidRecord", "a record that is not N:HEXSET");
    board(n);
    if (extend(&o, &s) < 0) return ll_response_error(out, "SearchError", o.err);
    p += len;
  }
  if (flush_puts(&o) < 0 || flush_writes(&o) < 0) return ll_response_error(out, "SearchError", o.err);
  return ll_response_printf(out, "{\"sets\":%ld,\"emitted\":%ld,\"solutions\":%ld}", sets, o.emitted,
                            o.solutions);
}

int main(void) {
  stream = getenv("STREAM_NAME");
  table = getenv("TABLE_NAME");
  const char *g = getenv("GRAIN");
  if (g && atoi(g) > 0) grain = atoi(g);
  if (!stream || !table)
    return ll_runtime_init_error("Runtime.ConfigError", "STREAM_NAME and TABLE_NAME must be set") ? 1 : 1;
  return ll_runtime_main(handle) ? 1 : 0;
}

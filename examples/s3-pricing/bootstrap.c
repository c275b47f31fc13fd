/* s3-pricing: the white paper's pricing pipeline. Each upload of a parameter file to the bucket
 * invokes this function with S3's event; it streams the object (ll_s3_get_stream: never the
 * whole file in memory), parses each line "spot strike time rate vol" with a hand-written
 * decimal parser, prices the calls with Black-Scholes in blocks of 1024 (a loop the compiler
 * vectorizes), writes the prices back as prices/<key> (one a line, 6 decimals) and records a
 * summary item {key, rows, sum, elapsed_ms} in the table TABLE_NAME.
 * Built with liblambdalite-runtime; gen.c writes the parameter files. `bootstrap --local FILE...`
 * runs the same parser and pricer on local files (bench/pricing's baseline). */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lambdalite_runtime.h"

#define BLOCK 1024

static double cnd(double x) { /* A&S 26.2.17, as the paper's q code */
  double l = fabs(x), k = 1.0 / (1.0 + .2316419 * l);
  double poly = k * (.31938153 + k * (-.356563782 + k * (1.781477937 + k * (-1.821255978 + k * 1.330274429))));
  double w = 1.0 - exp(-l * l / 2.0) * 0.3989422804014327 * poly;
  return x < 0 ? 1.0 - w : w;
}

typedef struct pricer {
  double s[BLOCK], x[BLOCK], t[BLOCK], r[BLOCK], v[BLOCK];
  int n;
  char line[256]; /* a line split between two pieces of the object */
  size_t line_len;
  char *out;      /* the prices, "%.6f\n" each */
  size_t out_len, out_cap;
  long rows, bad;
  double sum;
} pricer_t;

/* A decimal "[-]ddd[.ddd]" at *p; advances p. */
static double parse_decimal(const char **p, const char *end) {
  const char *q = *p;
  while (q < end && *q == ' ') q++;
  bool neg = q < end && *q == '-';
  if (neg) q++;
  uint64_t m = 0;
  int frac = 0;
  while (q < end && *q >= '0' && *q <= '9') m = m * 10 + (uint64_t)(*q++ - '0');
  if (q < end && *q == '.') {
    q++;
    while (q < end && *q >= '0' && *q <= '9' && frac < 18) m = m * 10 + (uint64_t)(*q++ - '0'), frac++;
    while (q < end && *q >= '0' && *q <= '9') q++;
  }
  static const double p10[19] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
                                 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18};
  *p = q;
  double d = (double)m / p10[frac];
  return neg ? -d : d;
}

static void emit_price(pricer_t *pr, double price) {
  if (pr->out_len + 32 > pr->out_cap) {
    pr->out_cap = pr->out_cap ? pr->out_cap * 2 : 1 << 20;
    pr->out = realloc(pr->out, pr->out_cap);
    if (!pr->out) abort();
  }
  /* fixed point, 6 decimals, rounded half away from zero */
  double a = fabs(price) * 1e6 + 0.5;
  uint64_t f = (uint64_t)a, whole = f / 1000000, frac = f % 1000000;
  char tmp[32];
  int n = 0;
  do tmp[n++] = (char)('0' + whole % 10), whole /= 10; while (whole);
  char *o = pr->out + pr->out_len;
  if (price < 0 && f) *o++ = '-';
  while (n) *o++ = tmp[--n];
  *o++ = '.';
  for (int i = 5; i >= 0; i--) o[i] = (char)('0' + frac % 10), frac /= 10;
  o += 6;
  *o++ = '\n';
  pr->out_len = (size_t)(o - pr->out);
}

static void price_block(pricer_t *pr) {
  double out[BLOCK];
  for (int i = 0; i < pr->n; i++) { /* no branches but cnd's sign: the compiler vectorizes */
    double sq = pr->v[i] * sqrt(pr->t[i]);
    double d1 = (log(pr->s[i] / pr->x[i]) + (pr->r[i] + pr->v[i] * pr->v[i] / 2.0) * pr->t[i]) / sq;
    out[i] = pr->s[i] * cnd(d1) - pr->x[i] * exp(-pr->r[i] * pr->t[i]) * cnd(d1 - sq);
  }
  for (int i = 0; i < pr->n; i++) {
    pr->sum += out[i];
    emit_price(pr, out[i]);
  }
  pr->rows += pr->n;
  pr->n = 0;
}

static void one_line(pricer_t *pr, const char *p, const char *end) {
  if (p == end) return;
  double v[5];
  for (int k = 0; k < 5; k++) v[k] = parse_decimal(&p, end);
  if (v[0] <= 0 || v[1] <= 0 || v[2] <= 0 || v[4] <= 0) {
    pr->bad++;
    return;
  }
  int i = pr->n++;
  pr->s[i] = v[0], pr->x[i] = v[1], pr->t[i] = v[2], pr->r[i] = v[3], pr->v[i] = v[4];
  if (pr->n == BLOCK) price_block(pr);
}

static int on_data(void *ud, const char *data, size_t len) {
  pricer_t *pr = ud;
  const char *p = data, *end = data + len;
  if (pr->line_len) { /* finish the line the last piece cut */
    const char *nl = memchr(p, '\n', len);
    size_t take = nl ? (size_t)(nl - p) : len;
    if (pr->line_len + take >= sizeof pr->line) take = sizeof pr->line - 1 - pr->line_len;
    memcpy(pr->line + pr->line_len, p, take);
    pr->line_len += take;
    if (!nl) return 0;
    one_line(pr, pr->line, pr->line + pr->line_len);
    pr->line_len = 0;
    p = nl + 1;
  }
  for (const char *nl; p < end && (nl = memchr(p, '\n', (size_t)(end - p))); p = nl + 1) one_line(pr, p, nl);
  if (p < end) {
    size_t rest = (size_t)(end - p) < sizeof pr->line ? (size_t)(end - p) : sizeof pr->line - 1;
    memcpy(pr->line, p, rest);
    pr->line_len = rest;
  }
  return 0;
}

/* The string value after "name": inside the object that follows "in": copied, URL-decoded. */
static bool event_string(const char *json, const char *in, const char *name, char *out, size_t sz, bool url) {
  const char *p = strstr(json, in);
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":\"", name);
  p = p ? strstr(p, pat) : NULL;
  if (!p) return false;
  p += strlen(pat);
  size_t o = 0;
  for (; *p && *p != '"' && o + 1 < sz; p++) {
    if (url && *p == '+') out[o++] = ' ';
    else if (url && *p == '%' && p[1] && p[2]) {
      char hx[3] = {p[1], p[2], 0};
      out[o++] = (char)strtol(hx, NULL, 16);
      p += 2;
    } else out[o++] = *p;
  }
  out[o] = 0;
  return true;
}

static int handle(const ll_invocation *in, ll_response *out) {
  char bucket[256], key[1024], err[512];
  if (!event_string(in->payload, "\"bucket\"", "name", bucket, sizeof bucket, false) ||
      !event_string(in->payload, "\"object\"", "key", key, sizeof key, true))
    return ll_response_error(out, "InvalidEvent", "not an S3 event (Records[0].s3.bucket.name, .object.key)");
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  static pricer_t pr;
  free(pr.out);
  memset(&pr, 0, sizeof pr);
  if (ll_s3_get_stream(bucket, key, on_data, &pr, err, sizeof err) < 0) return ll_response_error(out, "S3Error", err);
  if (pr.line_len) one_line(&pr, pr.line, pr.line + pr.line_len);
  if (pr.n) price_block(&pr);
  char outkey[1100];
  snprintf(outkey, sizeof outkey, "prices/%s", key);
  if (ll_s3_put(bucket, outkey, pr.out ? pr.out : "", pr.out_len, err, sizeof err) < 0)
    return ll_response_error(out, "S3Error", err);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
  const char *table = getenv("TABLE_NAME");
  char body[2048], *resp = NULL;
  size_t rlen;
  snprintf(body, sizeof body,
           "{\"TableName\":\"%s\",\"Item\":{\"key\":{\"S\":\"%s\"},\"rows\":{\"N\":\"%ld\"},"
           "\"sum\":{\"N\":\"%.6f\"},\"bad\":{\"N\":\"%ld\"},\"elapsed_ms\":{\"N\":\"%ld\"}}}",
           table ? table : "", key, pr.rows, pr.sum, pr.bad, ms);
  int st = ll_aws_json("dynamodb", "DynamoDB_20120810.PutItem", body, strlen(body), &resp, &rlen, err, sizeof err);
  if (st != 200) {
    if (st > 0) snprintf(err, sizeof err, "PutItem answered %d: %.300s", st, resp ? resp : "");
    free(resp);
    return ll_response_error(out, "TableError", err);
  }
  free(resp);
  return ll_response_printf(out, "{\"key\":\"%s\",\"rows\":%ld,\"sum\":%.6f,\"elapsed_ms\":%ld}", key,
                            pr.rows, pr.sum, ms);
}

/* `bootstrap --local FILE...`: the same parser and pricer straight on files, no platform (the
 * baseline of bench/pricing); prints "rows sum" per file. */
static int local(int n, char **paths) {
  static char buf[65536];
  static pricer_t pr;
  for (int i = 0; i < n; i++) {
    FILE *f = fopen(paths[i], "rb");
    if (!f) {
      perror(paths[i]);
      return 1;
    }
    free(pr.out);
    memset(&pr, 0, sizeof pr);
    for (size_t got; (got = fread(buf, 1, sizeof buf, f)) > 0;) on_data(&pr, buf, got);
    fclose(f);
    if (pr.line_len) one_line(&pr, pr.line, pr.line + pr.line_len);
    if (pr.n) price_block(&pr);
    printf("%s %ld %.6f\n", paths[i], pr.rows, pr.sum);
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--local") == 0) return local(argc - 2, argv + 2);
  return ll_runtime_main(handle) ? 1 : 0;
}

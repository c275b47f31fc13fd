/* The strict PutRecord(s) body scanner (put_scan.h). */
#include <stdlib.h>
#include <string.h>

#include "api/put_scan.h"
#include "core/mem.h"

typedef struct cur {
  const char *p, *end;
} cur_t;

static void ws(cur_t *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static bool eat(cur_t *c, char ch) {
  ws(c);
  if (c->p < c->end && *c->p == ch) {
    c->p++;
    return true;
  }
  return false;
}

/* A string of printable ASCII without escapes; false for anything else. */
static bool plain_string(cur_t *c, ll_scan_str_t *out) {
  ws(c);
  if (c->p >= c->end || *c->p != '"') return false;
  const char *s = ++c->p;
  const char *q = memchr(s, '"', (size_t)(c->end - s));
  if (!q) return false;
  /* branch-free over the whole string, so the compiler can vectorise it */
  unsigned bad = 0;
  for (const unsigned char *u = (const unsigned char *)s; u < (const unsigned char *)q; u++)
    bad |= (unsigned)(*u < 0x20) | (unsigned)(*u >= 0x7f) | (unsigned)(*u == '\\');
  if (bad) return false;
  out->p = s;
  out->len = (size_t)(q - s);
  c->p = q + 1;
  return true;
}

static bool key_is(const ll_scan_str_t *k, const char *name) {
  return k->len == strlen(name) && memcmp(k->p, name, k->len) == 0;
}

/* One member "key": "string" of an object whose fields are the record's (and, at the top of a
 * PutRecord body, the stream's): stores it where it belongs; false for an unknown key. */
static bool record_member(const ll_scan_str_t *k, const ll_scan_str_t *v, ll_scan_rec_t *r) {
  if (key_is(k, "Data")) r->data = *v;
  else if (key_is(k, "PartitionKey")) r->key = *v;
  else if (key_is(k, "ExplicitHashKey")) r->hash = *v;
  else return false;
  return true;
}

static bool stream_member(const ll_scan_str_t *k, const ll_scan_str_t *v, ll_put_scan_t *out) {
  if (key_is(k, "StreamName")) out->stream_name = *v;
  else if (key_is(k, "StreamARN")) out->stream_arn = *v;
  else return false;
  return true;
}

/* {"Data": ..., ...} inside the Records array. */
static bool record_object(cur_t *c, ll_scan_rec_t *r) {
  memset(r, 0, sizeof *r);
  if (!eat(c, '{')) return false;
  if (eat(c, '}')) return true;
  do {
    ll_scan_str_t k, v;
    if (!plain_string(c, &k) || !eat(c, ':') || !plain_string(c, &v) || !record_member(&k, &v, r))
      return false;
  } while (eat(c, ','));
  return eat(c, '}');
}

static bool records_array(cur_t *c, ll_put_scan_t *out, size_t *cap) {
  if (!eat(c, '[')) return false;
  /* repeated "Records": the last wins */
  out->n = 0;
  out->has_records = true;
  if (eat(c, ']')) return true;
  do {
    if (out->n == *cap) {
      *cap = *cap ? *cap * 2 : 64;
      out->recs = ll_realloc(out->recs, *cap * sizeof *out->recs);
    }
    if (!record_object(c, &out->recs[out->n])) return false;
    out->n++;
  } while (eat(c, ','));
  return eat(c, ']');
}

int ll_put_scan(const char *body, size_t len, bool batch, ll_put_scan_t *out) {
  memset(out, 0, sizeof *out);
  cur_t c = {body, body + len};
  size_t cap = 0;
  ll_scan_rec_t top = {{0}, {0}, {0}};
  bool ok = eat(&c, '{');
  if (ok && !eat(&c, '}')) {
    do {
      ll_scan_str_t k, v;
      if (!plain_string(&c, &k) || !eat(&c, ':')) {
        ok = false;
        break;
      }
      if (batch && key_is(&k, "Records")) {
        ok = records_array(&c, out, &cap);
      } else {
        ok = plain_string(&c, &v) &&
             (stream_member(&k, &v, out) || (!batch && record_member(&k, &v, &top)));
      }
    } while (ok && eat(&c, ','));
    ok = ok && eat(&c, '}');
  }
  ws(&c);
  if (!ok || c.p != c.end) {
    ll_put_scan_free(out);
    return -1;
  }
  if (!batch) {
    out->recs = ll_malloc(sizeof *out->recs);
    out->recs[0] = top;
    out->n = 1;
  }
  return 0;
}

void ll_put_scan_free(ll_put_scan_t *s) {
  free(s->recs);
  memset(s, 0, sizeof *s);
}

/* IAM identity-policy parsing and evaluation (contract in policy.h).
 *
 * Parsing turns the JSON into flat arrays of statements with everything eval needs already
 * decided: actions lower-cased, condition operators resolved to a table row, numbers, dates and
 * CIDRs converted, key names canonicalised, and a flag on every string that holds a policy
 * variable. Eval then walks the statements with no allocation: wildcard matching is the greedy
 * star-backtracking matcher (O(len(pattern) * len(subject)) at worst, never exponential), and
 * policy variables are substituted into a stack buffer. */
#include "auth/policy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"

/* ---- condition operators ---- */

typedef enum {
  CT_STRING,    /* exact, case-sensitive */
  CT_STRING_CI, /* exact, case-insensitive */
  CT_LIKE,      /* * and ? wildcards, case-sensitive */
  CT_NUMERIC,
  CT_DATE,
  CT_BOOL,
  CT_BINARY,
  CT_IP,
  CT_ARN, /* component-wise wildcard match */
  CT_NULL
} cond_type_t;

typedef enum { CMP_EQ, CMP_LT, CMP_LE, CMP_GT, CMP_GE } cmp_t;

typedef struct op_def {
  const char *name;
  cond_type_t type;
  cmp_t cmp;
  bool negated; /* the operator is the complement of its positive form (StringNotEquals, ...) */
} op_def_t;

static const op_def_t OPS[] = {
    {"StringEquals", CT_STRING, CMP_EQ, false},
    {"StringNotEquals", CT_STRING, CMP_EQ, true},
    {"StringEqualsIgnoreCase", CT_STRING_CI, CMP_EQ, false},
    {"StringNotEqualsIgnoreCase", CT_STRING_CI, CMP_EQ, true},
    {"StringLike", CT_LIKE, CMP_EQ, false},
    {"StringNotLike", CT_LIKE, CMP_EQ, true},
    {"NumericEquals", CT_NUMERIC, CMP_EQ, false},
    {"NumericNotEquals", CT_NUMERIC, CMP_EQ, true},
    {"NumericLessThan", CT_NUMERIC, CMP_LT, false},
    {"NumericLessThanEquals", CT_NUMERIC, CMP_LE, false},
    {"NumericGreaterThan", CT_NUMERIC, CMP_GT, false},
    {"NumericGreaterThanEquals", CT_NUMERIC, CMP_GE, false},
    {"DateEquals", CT_DATE, CMP_EQ, false},
    {"DateNotEquals", CT_DATE, CMP_EQ, true},
    {"DateLessThan", CT_DATE, CMP_LT, false},
    {"DateLessThanEquals", CT_DATE, CMP_LE, false},
    {"DateGreaterThan", CT_DATE, CMP_GT, false},
    {"DateGreaterThanEquals", CT_DATE, CMP_GE, false},
    {"Bool", CT_BOOL, CMP_EQ, false},
    {"BinaryEquals", CT_BINARY, CMP_EQ, false},
    {"IpAddress", CT_IP, CMP_EQ, false},
    {"NotIpAddress", CT_IP, CMP_EQ, true},
    {"ArnEquals", CT_ARN, CMP_EQ, false},
    {"ArnLike", CT_ARN, CMP_EQ, false},
    {"ArnNotEquals", CT_ARN, CMP_EQ, true},
    {"ArnNotLike", CT_ARN, CMP_EQ, true},
    {"Null", CT_NULL, CMP_EQ, false},
};

/* Keys handed to ctx in their documented spelling whatever case the policy uses. */
static const char *const KNOWN_KEYS[] = {
    "aws:CurrentTime", "aws:EpochTime", "aws:MultiFactorAuthAge", "aws:MultiFactorAuthPresent",
    "aws:PrincipalAccount", "aws:PrincipalArn", "aws:PrincipalType", "aws:PrincipalTag",
    "aws:RequestedRegion", "aws:RequestTag", "aws:ResourceTag", "aws:SecureTransport",
    "aws:SourceAccount", "aws:SourceArn", "aws:SourceIp", "aws:SourceVpc", "aws:SourceVpce",
    "aws:TagKeys", "aws:TokenIssueTime", "aws:UserAgent", "aws:userid", "aws:username",
    "aws:Referer", "aws:CalledVia", "aws:ViaAWSService", "aws:PrincipalOrgID", "s3:prefix",
    "s3:delimiter", "s3:max-keys", "s3:x-amz-acl", "s3:x-amz-server-side-encryption",
    "dynamodb:LeadingKeys", "dynamodb:Attributes", "dynamodb:Select",
    "dynamodb:ReturnValues", "lambda:FunctionArn", "iam:PassedToService",
};

enum { SET_NONE, SET_ANY, SET_ALL };

/* ---- parsed form ---- */

typedef struct pol_val {
  char *s;       /* owned: the policy value as a string */
  bool var;      /* s holds a policy variable (String/Arn operators, Version 2012-10-17) */
  bool truth;    /* Null: "true" */
  double num;    /* Numeric */
  int64_t ms;    /* Date: milliseconds since the epoch */
  int family;    /* IpAddress: 4 or 6 */
  unsigned bits; /* IpAddress: prefix length */
  uint8_t ip[16];
} pol_val_t;

typedef struct pol_cond {
  const op_def_t *op;
  bool if_exists;
  int set;         /* SET_NONE, SET_ANY, SET_ALL */
  char *key;       /* owned: the key as passed to ctx */
  pol_val_t *vals; /* owned, nvals >= 1 */
  size_t nvals;
} pol_cond_t;

typedef struct pol_pat {
  char *s;  /* owned */
  bool var; /* holds a policy variable */
} pol_pat_t;

typedef struct pol_stmt {
  bool deny;
  bool not_action, not_resource;
  char **actions; /* owned, lower-cased patterns */
  size_t nactions;
  pol_pat_t *resources; /* owned */
  size_t nresources;
  pol_cond_t *conds; /* owned */
  size_t nconds;
} pol_stmt_t;

struct ll_policy {
  int refs;
  pol_stmt_t *stmts; /* owned */
  size_t nstmts;
};

/* ---- small helpers ---- */

static inline unsigned char lc(unsigned char c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

static int fail(char *why, size_t sz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t sz, const char *fmt, ...) {
  if (sz) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sz, fmt, ap);
    va_end(ap);
  }
  return -1;
}

enum { WF_FOLD = 1, WF_ESC = 2 };

/* Matches subject s[0..sn) against pattern p[0..pn) with * (any run, possibly empty) and ? (any
 * one byte). WF_FOLD compares ASCII case-insensitively; WF_ESC makes "\c" a literal c (only
 * patterns built by subst() are escaped). The classic greedy algorithm: remember the last star
 * and, on a mismatch, let it swallow one more byte; no recursion. */
static bool wild(const char *p, size_t pn, const char *s, size_t sn, unsigned flags) {
  size_t pi = 0, si = 0, star_p = SIZE_MAX, star_s = 0;
  while (si < sn) {
    if (pi < pn && p[pi] == '*') {
      while (pi < pn && p[pi] == '*') pi++;
      star_p = pi;
      star_s = si;
      continue;
    }
    if (pi < pn) {
      unsigned char pc = (unsigned char)p[pi];
      size_t adv = 1;
      bool any = pc == '?';
      if ((flags & WF_ESC) && pc == '\\' && pi + 1 < pn) {
        pc = (unsigned char)p[pi + 1];
        adv = 2;
        any = false;
      }
      unsigned char sc = (unsigned char)s[si];
      if (any || pc == sc || ((flags & WF_FOLD) && lc(pc) == lc(sc))) {
        pi += adv;
        si++;
        continue;
      }
    }
    if (star_p == SIZE_MAX) return false;
    pi = star_p;
    si = ++star_s;
  }
  while (pi < pn && p[pi] == '*') pi++;
  return pi == pn;
}

/* Splits an ARN (or an ARN pattern; escaped pairs skipped when esc) into its six components:
 * five ':'-delimited, the sixth the rest. False when it has fewer. */
static bool arn_split(const char *s, size_t n, bool esc, const char *start[6], size_t len[6]) {
  size_t k = 0, from = 0;
  for (size_t i = 0; i < n && k < 5; i++) {
    if (esc && s[i] == '\\' && i + 1 < n) {
      i++;
      continue;
    }
    if (s[i] == ':') {
      start[k] = s + from;
      len[k] = i - from;
      k++;
      from = i + 1;
    }
  }
  if (k < 5) return false;
  start[5] = s + from;
  len[5] = n - from;
  return true;
}

/* ArnEquals/ArnLike: each component matched on its own (wildcards do not span ':' except in
 * the resource part); a pattern with fewer than six components matches as a whole. */
static bool arn_match(const char *pat, size_t pn, const char *s, size_t sn, unsigned flags) {
  const char *ps[6], *ss[6];
  size_t pl[6], sl[6];
  if (!arn_split(pat, pn, flags & WF_ESC, ps, pl)) return wild(pat, pn, s, sn, flags);
  if (!arn_split(s, sn, false, ss, sl)) return false;
  for (int i = 0; i < 6; i++)
    if (!wild(ps[i], pl[i], ss[i], sl[i], flags)) return false;
  return true;
}

/* ---- policy variables ---- */

/* key in its documented spelling when it is a well-known key, else key itself. */
static const char *known_key(const char *key) {
  for (size_t i = 0; i < sizeof KNOWN_KEYS / sizeof KNOWN_KEYS[0]; i++)
    if (strcasecmp(KNOWN_KEYS[i], key) == 0) return KNOWN_KEYS[i];
  return key;
}

/* Parses "${...}" at s (s[0..1] == "${"): sets the key range or the escaped literal, and the
 * default value range ("${key, 'dflt'}"); returns the length of the whole variable, or 0 when s
 * does not start a variable. */
static size_t var_parse(const char *s, const char **key, size_t *klen, const char **dflt,
                        size_t *dlen, char *literal) {
  const char *close = strchr(s + 2, '}');
  if (!close) return 0;
  const char *in = s + 2;
  size_t n = (size_t)(close - in);
  *literal = 0;
  *dflt = NULL;
  *dlen = 0;
  if (n == 1 && (in[0] == '*' || in[0] == '?' || in[0] == '$')) {
    *literal = in[0];
    return n + 3;
  }
  const char *comma = memchr(in, ',', n);
  size_t kn = comma ? (size_t)(comma - in) : n;
  while (kn && in[kn - 1] == ' ') kn--;
  if (kn == 0) return 0;
  for (size_t i = 0; i < kn; i++) {
    unsigned char c = (unsigned char)in[i];
    if (!isalnum(c) && c != ':' && c != '_' && c != '-' && c != '/' && c != '.') return 0;
  }
  if (comma) {
    const char *d = comma + 1;
    while (d < close && *d == ' ') d++;
    const char *e = close;
    while (e > d && e[-1] == ' ') e--;
    if (e - d < 2 || *d != '\'' || e[-1] != '\'') return 0;
    *dflt = d + 1;
    *dlen = (size_t)(e - d - 2);
  }
  *key = in;
  *klen = kn;
  return n + 3;
}

static bool has_var(const char *s) {
  for (const char *p = strstr(s, "${"); p; p = strstr(p + 2, "${")) {
    const char *k, *d;
    size_t kl, dl;
    char lit;
    if (var_parse(p, &k, &kl, &d, &dl, &lit)) return true;
  }
  return false;
}

typedef struct sbuf {
  char *p;
  size_t len, cap;
  bool over;
} sbuf_t;

static void sb_put(sbuf_t *b, const char *s, size_t n, bool esc) {
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (esc && (c == '*' || c == '?' || c == '\\')) {
      if (b->len + 1 >= b->cap) {
        b->over = true;
        return;
      }
      b->p[b->len++] = '\\';
    }
    if (b->len + 1 >= b->cap) {
      b->over = true;
      return;
    }
    b->p[b->len++] = c;
  }
}

/* Substitutes the policy variables of s into out[0..cap) through ctx. esc: the result is a
 * wildcard pattern, so substituted text (and the original's backslashes) is escaped and stays
 * literal; otherwise the result is a literal string. Returns its length, or -1 when a variable
 * has no value and no default, or the result does not fit. */
static long subst(const char *s, char *out, size_t cap, bool esc, ll_policy_ctx_fn ctx, void *ud) {
  sbuf_t b = {out, 0, cap, false};
  while (*s) {
    const char *k, *d;
    size_t kl, dl, vn = 0;
    char lit;
    if (s[0] == '$' && s[1] == '{' && (vn = var_parse(s, &k, &kl, &d, &dl, &lit))) {
      if (lit) {
        sb_put(&b, &lit, 1, esc);
      } else {
        char key[128];
        if (kl >= sizeof key) return -1;
        memcpy(key, k, kl);
        key[kl] = '\0';
        const char *vals[1] = {NULL};
        size_t n = ctx ? ctx(known_key(key), vals, 1, ud) : 0;
        if (n >= 1 && vals[0])
          sb_put(&b, vals[0], strlen(vals[0]), esc);
        else if (d)
          sb_put(&b, d, dl, esc);
        else
          return -1;
      }
      s += vn;
      continue;
    }
    if (esc && *s == '\\') sb_put(&b, "\\", 1, true); /* a literal backslash in the original */
    else if (b.len + 1 < b.cap) b.p[b.len++] = *s;
    else b.over = true;
    s++;
  }
  if (b.over) return -1;
  out[b.len] = '\0';
  return (long)b.len;
}

/* ---- values: numbers, dates, addresses ---- */

static bool parse_number(const char *s, double *out) {
  if (!*s) return false;
  for (const char *p = s; *p; p++)
    if (!isdigit((unsigned char)*p) && !strchr("+-.eE", *p)) return false;
  char *end;
  double v = strtod(s, &end);
  if (*end) return false;
  *out = v;
  return true;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static bool digits(const char **p, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (!isdigit((unsigned char)(*p)[i])) return false;
    v = v * 10 + ((*p)[i] - '0');
  }
  *p += n;
  *out = v;
  return true;
}

/* ISO 8601 (YYYY-MM-DD[Thh:mm[:ss[.fff]]][Z|+hh:mm|-hh:mm|+hhmm]) or epoch seconds (possibly
 * fractional) into milliseconds since the epoch. */
static bool parse_date(const char *s, int64_t *ms) {
  size_t n = strlen(s);
  if (n == 0) return false;
  if (strspn(s, "0123456789") == n || (strspn(s, "0123456789.") == n && strchr(s, '.'))) {
    if (n > 15) return false;
    double v = strtod(s, NULL);
    *ms = (int64_t)(v * 1000.0);
    return true;
  }
  const char *p = s;
  int y, mo, d, h = 0, mi = 0, se = 0, frac = 0;
  if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
      !digits(&p, 2, &d))
    return false;
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return false;
  int64_t off = 0;
  if (*p == 'T' || *p == 't' || *p == ' ') {
    p++;
    if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi)) return false;
    if (*p == ':') {
      p++;
      if (!digits(&p, 2, &se)) return false;
      if (*p == '.' || *p == ',') {
        p++;
        int nd = 0;
        while (isdigit((unsigned char)*p)) {
          if (nd < 3) frac = frac * 10 + (*p - '0');
          nd++;
          p++;
        }
        if (nd == 0) return false;
        for (; nd < 3; nd++) frac *= 10;
      }
    }
    if (h > 24 || mi > 59 || se > 60) return false;
    if (*p == 'Z' || *p == 'z') {
      p++;
    } else if (*p == '+' || *p == '-') {
      int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
      if (!digits(&p, 2, &oh)) return false;
      if (*p == ':') p++;
      if (*p && !digits(&p, 2, &om)) return false;
      off = sign * (oh * 3600 + om * 60);
    }
  }
  if (*p) return false;
  int64_t secs = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se;
  *ms = (secs - off) * 1000 + frac;
  return true;
}

/* An address into 16 bytes; IPv4 (and IPv4-mapped IPv6) as family 4 in ip[0..4). */
static bool parse_addr(const char *s, size_t n, uint8_t ip[16], int *family) {
  char tmp[64];
  if (n >= sizeof tmp) return false;
  memcpy(tmp, s, n);
  tmp[n] = '\0';
  if (inet_pton(AF_INET, tmp, ip) == 1) {
    *family = 4;
    return true;
  }
  if (inet_pton(AF_INET6, tmp, ip) == 1) {
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(ip, mapped, 12) == 0) {
      memmove(ip, ip + 12, 4);
      *family = 4;
    } else {
      *family = 6;
    }
    return true;
  }
  return false;
}

static bool parse_cidr(const char *s, pol_val_t *v) {
  const char *slash = strchr(s, '/');
  size_t n = slash ? (size_t)(slash - s) : strlen(s);
  if (!parse_addr(s, n, v->ip, &v->family)) return false;
  unsigned max = v->family == 4 ? 32 : 128;
  v->bits = max;
  if (slash) {
    const char *b = slash + 1;
    if (!*b || strlen(b) > 3 || strspn(b, "0123456789") != strlen(b)) return false;
    v->bits = (unsigned)atoi(b);
    if (v->bits > max) return false;
  }
  return true;
}

static bool cidr_contains(const pol_val_t *c, const uint8_t ip[16], int family) {
  if (family != c->family) return false;
  unsigned full = c->bits / 8, rest = c->bits % 8;
  if (memcmp(ip, c->ip, full) != 0) return false;
  if (rest) {
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    if ((ip[full] & mask) != (c->ip[full] & mask)) return false;
  }
  return true;
}

/* ---- freeing ---- */

static void stmt_free(pol_stmt_t *st) {
  for (size_t i = 0; i < st->nactions; i++) free(st->actions[i]);
  free(st->actions);
  for (size_t i = 0; i < st->nresources; i++) free(st->resources[i].s);
  free(st->resources);
  for (size_t i = 0; i < st->nconds; i++) {
    pol_cond_t *c = &st->conds[i];
    free(c->key);
    for (size_t j = 0; j < c->nvals; j++) free(c->vals[j].s);
    free(c->vals);
  }
  free(st->conds);
}

static void policy_free(ll_policy_t *p) {
  for (size_t i = 0; i < p->nstmts; i++) stmt_free(&p->stmts[i]);
  free(p->stmts);
  free(p);
}

ll_policy_t *ll_policy_ref(ll_policy_t *p) {
  if (p) __atomic_fetch_add(&p->refs, 1, __ATOMIC_RELAXED);
  return p;
}

void ll_policy_unref(ll_policy_t *p) {
  if (p && __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) == 0) policy_free(p);
}

/* ---- parsing ---- */

typedef struct parse_ctx {
  char *why;
  size_t sz;
  char where[64]; /* "Statement[1]" or "Policy[2].Statement[1]" */
  bool vars;      /* Version 2012-10-17: policy variables are substituted */
} parse_ctx_t;

/* A string or a list of strings (at least one) into a fresh array. */
static int string_list(parse_ctx_t *pc, const json_t *v, const char *elem, char ***out,
                       size_t *n) {
  *out = NULL;
  *n = 0;
  if (json_is_string(v)) {
    *out = ll_malloc(sizeof(char *));
    (*out)[0] = ll_strdup(json_string_value(v));
    *n = 1;
    return 0;
  }
  if (!json_is_array(v))
    return fail(pc->why, pc->sz, "%s.%s: must be a string or a list of strings", pc->where, elem);
  if (json_array_size(v) == 0)
    return fail(pc->why, pc->sz, "%s.%s: must not be empty", pc->where, elem);
  size_t i;
  json_t *e;
  json_array_foreach(v, i, e) {
    if (!json_is_string(e)) {
      for (size_t j = 0; j < *n; j++) free((*out)[j]);
      free(*out);
      *out = NULL;
      *n = 0;
      return fail(pc->why, pc->sz, "%s.%s[%zu]: must be a string", pc->where, elem, i);
    }
  }
  *out = ll_malloc(json_array_size(v) * sizeof(char *));
  json_array_foreach(v, i, e) { (*out)[(*n)++] = ll_strdup(json_string_value(e)); }
  return 0;
}

static bool valid_action(const char *a) {
  if (strcmp(a, "*") == 0) return true;
  const char *colon = strchr(a, ':');
  if (!colon || colon == a || !colon[1] || strchr(colon + 1, ':')) return false;
  for (const char *p = a; p < colon; p++)
    if (!isalnum((unsigned char)*p) && *p != '-' && *p != '*' && *p != '?') return false;
  for (const char *p = colon + 1; *p; p++)
    if (isspace((unsigned char)*p)) return false;
  return true;
}

static int parse_actions(parse_ctx_t *pc, pol_stmt_t *st, const json_t *v, const char *elem) {
  if (string_list(pc, v, elem, &st->actions, &st->nactions) < 0) return -1;
  for (size_t i = 0; i < st->nactions; i++) {
    char *a = st->actions[i];
    if (!valid_action(a))
      return fail(pc->why, pc->sz, "%s.%s: an action is service:Name, got \"%.100s\"", pc->where,
                  elem, a);
    for (char *p = a; *p; p++) *p = (char)lc((unsigned char)*p);
  }
  return 0;
}

static int parse_resources(parse_ctx_t *pc, pol_stmt_t *st, const json_t *v, const char *elem) {
  char **list;
  size_t n;
  if (string_list(pc, v, elem, &list, &n) < 0) return -1;
  st->resources = ll_calloc(n, sizeof(pol_pat_t));
  st->nresources = n;
  for (size_t i = 0; i < n; i++) {
    st->resources[i].s = list[i];
    st->resources[i].var = pc->vars && has_var(list[i]);
  }
  free(list);
  for (size_t i = 0; i < n; i++) {
    const char *r = st->resources[i].s;
    if (strcmp(r, "*") != 0 && strncmp(r, "arn:", 4) != 0)
      return fail(pc->why, pc->sz, "%s.%s: a resource is an ARN or \"*\", got \"%.100s\"",
                  pc->where, elem, r);
  }
  return 0;
}

/* "ForAnyValue:StringLikeIfExists" -> its table row, set and IfExists; NULL when unknown. */
static const op_def_t *lookup_op(const char *name, int *set, bool *if_exists) {
  *set = SET_NONE;
  *if_exists = false;
  if (strncasecmp(name, "ForAnyValue:", 12) == 0) {
    *set = SET_ANY;
    name += 12;
  } else if (strncasecmp(name, "ForAllValues:", 13) == 0) {
    *set = SET_ALL;
    name += 13;
  }
  size_t n = strlen(name);
  if (n > 8 && strcasecmp(name + n - 8, "IfExists") == 0) {
    *if_exists = true;
    n -= 8;
  }
  for (size_t i = 0; i < sizeof OPS / sizeof OPS[0]; i++)
    if (strlen(OPS[i].name) == n && strncasecmp(OPS[i].name, name, n) == 0) return &OPS[i];
  return NULL;
}

static char *canonical_key(const char *key) { return ll_strdup(known_key(key)); }

/* A condition value as a string: JSON strings as they are, numbers and booleans spelled. */
static char *value_string(const json_t *v) {
  if (json_is_string(v)) return ll_strdup(json_string_value(v));
  if (json_is_integer(v)) return ll_sprintf("%lld", (long long)json_integer_value(v));
  if (json_is_real(v)) return ll_sprintf("%.17g", json_real_value(v));
  if (json_is_true(v)) return ll_strdup("true");
  if (json_is_false(v)) return ll_strdup("false");
  return NULL;
}

static int parse_value(parse_ctx_t *pc, const pol_cond_t *c, const char *opname, pol_val_t *v) {
  switch (c->op->type) {
  case CT_NUMERIC:
    if (!parse_number(v->s, &v->num))
      return fail(pc->why, pc->sz, "%s.Condition.%s.%s: \"%.100s\" is not a number", pc->where,
                  opname, c->key, v->s);
    break;
  case CT_DATE:
    if (!parse_date(v->s, &v->ms))
      return fail(pc->why, pc->sz, "%s.Condition.%s.%s: \"%.100s\" is not a date", pc->where,
                  opname, c->key, v->s);
    break;
  case CT_IP:
    if (!parse_cidr(v->s, v))
      return fail(pc->why, pc->sz, "%s.Condition.%s.%s: \"%.100s\" is not an IP address or CIDR",
                  pc->where, opname, c->key, v->s);
    break;
  case CT_NULL:
    if (strcasecmp(v->s, "true") == 0) v->truth = true;
    else if (strcasecmp(v->s, "false") == 0) v->truth = false;
    else
      return fail(pc->why, pc->sz, "%s.Condition.%s.%s: must be true or false, got \"%.100s\"",
                  pc->where, opname, c->key, v->s);
    break;
  case CT_STRING:
  case CT_STRING_CI:
  case CT_LIKE:
  case CT_ARN:
    v->var = pc->vars && has_var(v->s);
    break;
  case CT_BOOL:
  case CT_BINARY:
    break;
  }
  return 0;
}

static int parse_conditions(parse_ctx_t *pc, pol_stmt_t *st, const json_t *cond) {
  if (!json_is_object(cond))
    return fail(pc->why, pc->sz, "%s.Condition: must be an object", pc->where);
  size_t total = 0;
  const char *opname;
  json_t *keys;
  json_object_foreach((json_t *)cond, opname, keys) {
    int set;
    bool ifx;
    const op_def_t *op = lookup_op(opname, &set, &ifx);
    if (!op)
      return fail(pc->why, pc->sz, "%s.Condition: unknown condition operator \"%.100s\"",
                  pc->where, opname);
    if (op->type == CT_NULL && ifx)
      return fail(pc->why, pc->sz, "%s.Condition: \"%.100s\": Null takes no IfExists", pc->where,
                  opname);
    if (!json_is_object(keys) || json_object_size(keys) == 0)
      return fail(pc->why, pc->sz, "%s.Condition.%.100s: must map condition keys to values",
                  pc->where, opname);
    total += json_object_size(keys);
  }
  st->conds = ll_calloc(total, sizeof(pol_cond_t));
  json_object_foreach((json_t *)cond, opname, keys) {
    const char *key;
    json_t *vals;
    json_object_foreach(keys, key, vals) {
      pol_cond_t *c = &st->conds[st->nconds++];
      c->op = lookup_op(opname, &c->set, &c->if_exists);
      c->key = canonical_key(key);
      size_t n = json_is_array(vals) ? json_array_size(vals) : 1;
      if (n == 0)
        return fail(pc->why, pc->sz, "%s.Condition.%.100s.%.100s: must have a value", pc->where,
                    opname, key);
      c->vals = ll_calloc(n, sizeof(pol_val_t));
      for (size_t i = 0; i < n; i++) {
        const json_t *e = json_is_array(vals) ? json_array_get(vals, i) : vals;
        pol_val_t *v = &c->vals[c->nvals];
        v->s = value_string(e);
        if (!v->s)
          return fail(pc->why, pc->sz,
                      "%s.Condition.%.100s.%.100s: a value is a string, number or boolean",
                      pc->where, opname, key);
        c->nvals++;
        if (parse_value(pc, c, opname, v) < 0) return -1;
      }
    }
  }
  return 0;
}

static int parse_statement(parse_ctx_t *pc, pol_stmt_t *st, const json_t *s) {
  if (!json_is_object(s)) return fail(pc->why, pc->sz, "%s: must be an object", pc->where);
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)s, k, v) {
    if (strcmp(k, "Principal") == 0 || strcmp(k, "NotPrincipal") == 0)
      return fail(pc->why, pc->sz, "%s: %s is not allowed in an identity policy", pc->where, k);
    if (strcmp(k, "Sid") && strcmp(k, "Effect") && strcmp(k, "Action") &&
        strcmp(k, "NotAction") && strcmp(k, "Resource") && strcmp(k, "NotResource") &&
        strcmp(k, "Condition"))
      return fail(pc->why, pc->sz, "%s: unknown element \"%.100s\"", pc->where, k);
  }
  const json_t *sid = json_object_get(s, "Sid");
  if (sid && !json_is_string(sid))
    return fail(pc->why, pc->sz, "%s.Sid: must be a string", pc->where);
  const json_t *eff = json_object_get(s, "Effect");
  const char *e = json_string_value(eff);
  if (!e || (strcmp(e, "Allow") != 0 && strcmp(e, "Deny") != 0))
    return fail(pc->why, pc->sz, "%s.Effect: must be Allow or Deny", pc->where);
  st->deny = strcmp(e, "Deny") == 0;

  const json_t *act = json_object_get(s, "Action"), *nact = json_object_get(s, "NotAction");
  if (act && nact)
    return fail(pc->why, pc->sz, "%s: Action and NotAction cannot both be present", pc->where);
  if (!act && !nact)
    return fail(pc->why, pc->sz, "%s: a statement needs Action or NotAction", pc->where);
  st->not_action = nact != NULL;
  if (parse_actions(pc, st, act ? act : nact, act ? "Action" : "NotAction") < 0) return -1;

  const json_t *res = json_object_get(s, "Resource"), *nres = json_object_get(s, "NotResource");
  if (res && nres)
    return fail(pc->why, pc->sz, "%s: Resource and NotResource cannot both be present",
                pc->where);
  if (!res && !nres)
    return fail(pc->why, pc->sz, "%s: a statement needs Resource or NotResource", pc->where);
  st->not_resource = nres != NULL;
  if (parse_resources(pc, st, res ? res : nres, res ? "Resource" : "NotResource") < 0) return -1;

  const json_t *cond = json_object_get(s, "Condition");
  if (cond && parse_conditions(pc, st, cond) < 0) return -1;
  return 0;
}

/* Appends the statements of one document to p. */
static int parse_doc(parse_ctx_t *pc, ll_policy_t *p, const json_t *doc, const char *prefix) {
  if (!json_is_object(doc))
    return fail(pc->why, pc->sz, "%sa policy document is a JSON object", prefix);
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)doc, k, v) {
    if (strcmp(k, "Version") && strcmp(k, "Id") && strcmp(k, "Statement"))
      return fail(pc->why, pc->sz, "%sunknown policy element \"%.100s\"", prefix, k);
  }
  const json_t *ver = json_object_get(doc, "Version");
  const char *vs = json_string_value(ver);
  if (ver && (!vs || (strcmp(vs, "2012-10-17") != 0 && strcmp(vs, "2008-10-17") != 0)))
    return fail(pc->why, pc->sz, "%sVersion: must be 2012-10-17 or 2008-10-17", prefix);
  pc->vars = vs && strcmp(vs, "2012-10-17") == 0;
  const json_t *stmts = json_object_get(doc, "Statement");
  if (!stmts) return fail(pc->why, pc->sz, "%sStatement: missing", prefix);
  if (!json_is_array(stmts) && !json_is_object(stmts))
    return fail(pc->why, pc->sz, "%sStatement: must be a statement or a list of statements",
                prefix);
  size_t n = json_is_array(stmts) ? json_array_size(stmts) : 1;
  p->stmts = ll_realloc(p->stmts, (p->nstmts + n) * sizeof(pol_stmt_t));
  for (size_t i = 0; i < n; i++) {
    const json_t *s = json_is_array(stmts) ? json_array_get(stmts, i) : stmts;
    snprintf(pc->where, sizeof pc->where, "%sStatement[%zu]", prefix, i);
    pol_stmt_t *st = &p->stmts[p->nstmts++];
    memset(st, 0, sizeof *st);
    if (parse_statement(pc, st, s) < 0) return -1;
  }
  return 0;
}

int ll_policy_parse(const json_t *docs, ll_policy_t **out, char *why, size_t sz) {
  *out = NULL;
  if (sz) why[0] = '\0';
  if (!json_is_array(docs) && !json_is_object(docs))
    return fail(why, sz, "policy: must be a list of policy documents");
  ll_policy_t *p = ll_calloc(1, sizeof *p);
  p->refs = 1;
  parse_ctx_t pc = {.why = why, .sz = sz};
  size_t n = json_is_array(docs) ? json_array_size(docs) : 1;
  for (size_t i = 0; i < n; i++) {
    char prefix[32] = "";
    if (n > 1) snprintf(prefix, sizeof prefix, "Policy[%zu].", i);
    const json_t *doc = json_is_array(docs) ? json_array_get(docs, i) : docs;
    if (parse_doc(&pc, p, doc, prefix) < 0) {
      policy_free(p);
      return -1;
    }
  }
  *out = p;
  return 0;
}

/* ---- evaluation ---- */

#define SUBST_MAX 4096

static bool action_match(const pol_stmt_t *st, const char *action, size_t alen) {
  bool any = false;
  for (size_t i = 0; i < st->nactions && !any; i++)
    any = wild(st->actions[i], strlen(st->actions[i]), action, alen, WF_FOLD);
  return any != st->not_action;
}

/* 1 matches, 0 does not, -1 a variable could not be resolved. */
static int pattern_match(const pol_pat_t *pat, const char *s, size_t sn, ll_policy_ctx_fn ctx,
                         void *ud) {
  if (!pat->var) return wild(pat->s, strlen(pat->s), s, sn, 0);
  char buf[SUBST_MAX];
  long n = subst(pat->s, buf, sizeof buf, true, ctx, ud);
  if (n < 0) return -1;
  return wild(buf, (size_t)n, s, sn, WF_ESC);
}

static bool resource_match(const pol_stmt_t *st, const char *res, ll_policy_ctx_fn ctx,
                           void *ud) {
  size_t rn = strlen(res);
  bool any = false;
  for (size_t i = 0; i < st->nresources && !any; i++) {
    int m = pattern_match(&st->resources[i], res, rn, ctx, ud);
    if (m < 0 && st->not_resource) return false; /* cannot tell: the statement does not apply */
    any = m == 1;
  }
  return any != st->not_resource;
}

static bool cmp_num(cmp_t cmp, double a, double b) {
  switch (cmp) {
  case CMP_EQ: return a == b;
  case CMP_LT: return a < b;
  case CMP_LE: return a <= b;
  case CMP_GT: return a > b;
  case CMP_GE: return a >= b;
  }
  return false;
}

/* Whether context value s matches policy value v under c's positive operator. */
static bool value_match(const pol_cond_t *c, const pol_val_t *v, const char *s,
                        ll_policy_ctx_fn ctx, void *ud) {
  const char *pv = v->s;
  char buf[SUBST_MAX];
  long pn = -1;
  cond_type_t t = c->op->type;
  if (v->var) {
    pn = subst(v->s, buf, sizeof buf, t == CT_LIKE || t == CT_ARN, ctx, ud);
    if (pn < 0) return false;
    pv = buf;
  }
  unsigned esc = v->var ? WF_ESC : 0;
  switch (t) {
  case CT_STRING:
  case CT_BINARY: return strcmp(pv, s) == 0;
  case CT_STRING_CI: return strcasecmp(pv, s) == 0;
  case CT_BOOL: return strcasecmp(pv, s) == 0;
  case CT_LIKE: return wild(pv, pn >= 0 ? (size_t)pn : strlen(pv), s, strlen(s), esc);
  case CT_ARN: return arn_match(pv, pn >= 0 ? (size_t)pn : strlen(pv), s, strlen(s), esc);
  case CT_NUMERIC: {
    double x;
    return parse_number(s, &x) && cmp_num(c->op->cmp, x, v->num);
  }
  case CT_DATE: {
    int64_t ms;
    return parse_date(s, &ms) && cmp_num(c->op->cmp, (double)ms, (double)v->ms);
  }
  case CT_IP: {
    uint8_t ip[16];
    int fam;
    return parse_addr(s, strlen(s), ip, &fam) && cidr_contains(v, ip, fam);
  }
  case CT_NULL: return false;
  }
  return false;
}

/* One context value against the condition: matches some policy value (negated operators: none). */
static bool one_value(const pol_cond_t *c, const char *s, ll_policy_ctx_fn ctx, void *ud) {
  bool any = false;
  for (size_t i = 0; i < c->nvals && !any; i++) any = value_match(c, &c->vals[i], s, ctx, ud);
  return any != c->op->negated;
}

static bool cond_match(const pol_cond_t *c, ll_policy_ctx_fn ctx, void *ud) {
  const char *vals[LL_POLICY_MAX_VALUES];
  size_t n = ctx ? ctx(c->key, vals, LL_POLICY_MAX_VALUES, ud) : 0;
  if (n > LL_POLICY_MAX_VALUES) n = LL_POLICY_MAX_VALUES;
  if (c->op->type == CT_NULL) {
    for (size_t i = 0; i < c->nvals; i++)
      if (c->vals[i].truth == (n == 0)) return true;
    return false;
  }
  if (n == 0) {
    if (c->if_exists || c->set == SET_ALL) return true;
    if (c->set == SET_ANY) return false;
    return c->op->negated; /* absent: positive operators fail, negated ones hold */
  }
  /* Without a set prefix a positive operator needs one context value to match, a negated one
   * needs every value to match none of the policy values: ForAnyValue and ForAllValues. */
  int set = c->set != SET_NONE ? c->set : (c->op->negated ? SET_ALL : SET_ANY);
  for (size_t i = 0; i < n; i++) {
    bool m = one_value(c, vals[i] ? vals[i] : "", ctx, ud);
    if (set == SET_ANY && m) return true;
    if (set == SET_ALL && !m) return false;
  }
  return set == SET_ALL;
}

ll_policy_decision_t ll_policy_eval(const ll_policy_t *p, const char *action, const char *resource,
                                    ll_policy_ctx_fn ctx, void *ud) {
  if (!p || !action || !resource) return LL_POLICY_IMPLICIT_DENY;
  size_t alen = strlen(action);
  ll_policy_decision_t d = LL_POLICY_IMPLICIT_DENY;
  for (size_t i = 0; i < p->nstmts; i++) {
    const pol_stmt_t *st = &p->stmts[i];
    if (!st->deny && d == LL_POLICY_ALLOW) continue; /* already allowed: only a Deny can change it */
    if (!action_match(st, action, alen)) continue;
    if (!resource_match(st, resource, ctx, ud)) continue;
    bool ok = true;
    for (size_t j = 0; j < st->nconds && ok; j++) ok = cond_match(&st->conds[j], ctx, ud);
    if (!ok) continue;
    if (st->deny) return LL_POLICY_EXPLICIT_DENY;
    d = LL_POLICY_ALLOW;
  }
  return d;
}

/* serverless.yml -> CloudFormation template (see sls.h).
 *
 * Three passes over one in-memory tree:
 *   1. libfyaml's document -> our own node tree (yn_t), keeping the 1-based line of every node
 *      and key (libfyaml 0.7 has no node start marks, so a collection takes the line of its key,
 *      or of its first child), turning short-form tags (!Ref, !GetAtt, ...) into long forms and
 *      typing plain scalars with the YAML 1.2 core schema. Aliases are expanded here, under a
 *      node budget, so an alias bomb is an error and not an out-of-memory.
 *   2. Serverless variables are resolved in place (${self:..} resolves its target first, so a
 *      chain is resolved once; the depth limit catches cycles).
 *   3. Each section is checked key by key while the template is built; then every reference in
 *      the user's parts (provider, functions, layers, resources) is checked against the final
 *      Resources, and the dependency graph against cycles.
 * Every node and string of a compile lives in one arena (ctx_t.allocs), freed at the end, so error
 * paths just return. */
#include "stack/sls.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libfyaml.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"
#include "stack/types.h"

#define MAX_NODES 200000     /* nodes in the tree, aliases and variable copies included */
#define MAX_DEPTH 64         /* nesting of collections */
#define MAX_VAR_DEPTH 10     /* variables resolving through variables */
#define MAX_FILE (1u << 20)  /* bytes read by ${file(..)} and ll_sls_compile */
#define ACCOUNT_ID "000000000000"

/* ---- nodes and the arena ------------------------------------------------------------------ */

typedef enum { YN_NULL, YN_BOOL, YN_INT, YN_REAL, YN_STR, YN_MAP, YN_SEQ } yk_t;

typedef struct yn yn_t;
struct yn {
  yk_t k;
  int line;       /* 1-based */
  const char *s;  /* scalars: the text as written ("" for null) */
  long long i;
  double d;
  bool b;
  size_t n, cap;
  const char **keys; /* maps */
  int *klines;       /* maps: line of each key */
  yn_t **v;          /* maps: values; sequences: items */
};

typedef struct role_ref {
  const char *id, *path;
  int line;
} role_ref_t;

typedef struct ctx {
  const char *disp, *base_dir, *base_real;
  ll_sls_opts_t opts;
  ll_err_t *err;
  void **allocs;
  size_t nallocs, capallocs;
  long nodes;
  int line_override; /* nonzero while converting a ${file()}: every node gets the variable's line */
  yn_t *root;
  int var_depth;
  char **warnings;
  size_t nwarnings;
  const char *service, *stage, *region;
  json_t *res, *reslines; /* template Resources; logical id -> line */
  json_t *functions;
  json_t *kinesis_arns, *dest_stmts;
  ll_sls_artifact_t *arts;
  size_t narts;
  role_ref_t *roles;
  size_t nroles;
  bool need_role;
} ctx_t;

static void *ar(ctx_t *c, size_t sz) {
  if (c->nallocs == c->capallocs) {
    c->capallocs = c->capallocs ? c->capallocs * 2 : 256;
    c->allocs = ll_realloc(c->allocs, c->capallocs * sizeof *c->allocs);
  }
  void *p = ll_calloc(1, sz);
  c->allocs[c->nallocs++] = p;
  return p;
}

static char *ar_strndup(ctx_t *c, const char *s, size_t len) {
  char *p = ar(c, len + 1);
  memcpy(p, s, len);
  return p;
}

static char *ar_strdup(ctx_t *c, const char *s) { return ar_strndup(c, s, strlen(s)); }

static char *ar_sprintf(ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *ar_sprintf(ctx_t *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *p = ar(c, (size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}

static const char *kpath(ctx_t *c, const char *parent, const char *key) {
  return parent && *parent ? ar_sprintf(c, "%s.%s", parent, key) : key;
}

static const char *ipath(ctx_t *c, const char *parent, size_t i) {
  return ar_sprintf(c, "%s[%zu]", parent, i);
}

/* "serverless.yml:LINE: PATH: message"; returns -1. */
static int fail(ctx_t *c, int line, const char *path, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(ctx_t *c, int line, const char *path, const char *fmt, ...) {
  char msg[sizeof c->err->msg];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (path && *path)
    ll_err_set(c->err, EINVAL, "%s:%d: %s: %s", c->disp, line, path, msg);
  else
    ll_err_set(c->err, EINVAL, "%s:%d: %s", c->disp, line, msg);
  return -1;
}

static yn_t *yn_new(ctx_t *c, yk_t k, int line) {
  yn_t *n = ar(c, sizeof *n);
  n->k = k;
  n->line = c->line_override ? c->line_override : line;
  n->s = "";
  return n;
}

static void yn_push(ctx_t *c, yn_t *m, const char *key, int kline, yn_t *v) {
  if (m->n == m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 4;
    yn_t **nv = ar(c, cap * sizeof *nv);
    if (m->n) memcpy(nv, m->v, m->n * sizeof *nv);
    m->v = nv;
    if (m->k == YN_MAP) {
      const char **nk = ar(c, cap * sizeof *nk);
      int *nl = ar(c, cap * sizeof *nl);
      if (m->n) {
        memcpy(nk, m->keys, m->n * sizeof *nk);
        memcpy(nl, m->klines, m->n * sizeof *nl);
      }
      m->keys = nk;
      m->klines = nl;
    }
    m->cap = cap;
  }
  if (m->k == YN_MAP) {
    m->keys[m->n] = key;
    m->klines[m->n] = c->line_override ? c->line_override : kline;
  }
  m->v[m->n++] = v;
}

static long yn_index(const yn_t *m, const char *key) {
  if (!m || m->k != YN_MAP) return -1;
  for (size_t i = 0; i < m->n; i++)
    if (strcmp(m->keys[i], key) == 0) return (long)i;
  return -1;
}

static yn_t *yn_get(const yn_t *m, const char *key) {
  long i = yn_index(m, key);
  return i < 0 ? NULL : m->v[i];
}

static int yn_kline(const yn_t *m, const char *key) {
  long i = yn_index(m, key);
  return i < 0 ? (m ? m->line : 0) : m->klines[i];
}

static bool yn_scalar(const yn_t *n) { return n && n->k != YN_MAP && n->k != YN_SEQ && n->k != YN_NULL; }

static yn_t *yn_str(ctx_t *c, const char *s, int line) {
  yn_t *n = yn_new(c, YN_STR, line);
  n->s = ar_strdup(c, s);
  return n;
}

static int count_node(ctx_t *c, int line) {
  if (++c->nodes > MAX_NODES)
    return fail(c, line, NULL, "document too large (more than %d nodes after expanding aliases and variables)", MAX_NODES);
  return 0;
}

static int yn_copy(ctx_t *c, const yn_t *n, yn_t **out) {
  if (count_node(c, n->line) < 0) return -1;
  yn_t *m = yn_new(c, n->k, n->line);
  m->s = n->s;
  m->i = n->i;
  m->d = n->d;
  m->b = n->b;
  for (size_t i = 0; i < n->n; i++) {
    yn_t *v;
    if (yn_copy(c, n->v[i], &v) < 0) return -1;
    yn_push(c, m, n->k == YN_MAP ? n->keys[i] : NULL, n->k == YN_MAP ? n->klines[i] : 0, v);
  }
  *out = m;
  return 0;
}

/* YAML 1.2 core schema for plain scalars; anything else is a string. */
static void type_plain(yn_t *n) {
  const char *s = n->s;
  size_t len = strlen(s);
  if (len == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0) {
    n->k = YN_NULL;
    return;
  }
  if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0) {
    n->k = YN_BOOL;
    n->b = true;
    return;
  }
  if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0) {
    n->k = YN_BOOL;
    n->b = false;
    return;
  }
  const char *p = s;
  int base = 10;
  if (p[0] == '0' && p[1] == 'o') {
    base = 8;
    p += 2;
  } else if (p[0] == '0' && p[1] == 'x') {
    base = 16;
    p += 2;
  } else if (*p == '-' || *p == '+') {
    p++;
  }
  bool digits = *p != '\0';
  for (const char *q = p; *q; q++)
    if (!(base == 16 ? isxdigit((unsigned char)*q) : base == 8 ? (*q >= '0' && *q <= '7') : isdigit((unsigned char)*q)))
      digits = false;
  if (digits) {
    errno = 0;
    long long v = strtoll(base == 10 ? s : p, NULL, base);
    if (errno == 0) {
      n->k = YN_INT;
      n->i = v;
      return;
    }
    n->k = YN_REAL;
    n->d = strtod(s, NULL);
    return;
  }
  /* floats: [-+]? ( . [0-9]+ | [0-9]+ ( . [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? and .inf/.nan */
  p = s;
  if (*p == '-' || *p == '+') p++;
  if (strcmp(p, ".inf") == 0 || strcmp(p, ".Inf") == 0 || strcmp(p, ".INF") == 0 || strcmp(s, ".nan") == 0 ||
      strcmp(s, ".NaN") == 0 || strcmp(s, ".NAN") == 0) {
    n->k = YN_REAL;
    n->d = p[1] == 'n' || p[1] == 'N' ? NAN : (s[0] == '-' ? -INFINITY : INFINITY);
    return;
  }
  size_t int_digits = 0, frac_digits = 0;
  while (isdigit((unsigned char)*p)) p++, int_digits++;
  if (*p == '.') {
    p++;
    while (isdigit((unsigned char)*p)) p++, frac_digits++;
  }
  if (int_digits + frac_digits == 0) return;
  if (int_digits == 0 && frac_digits == 0) return;
  if (*p == 'e' || *p == 'E') {
    p++;
    if (*p == '-' || *p == '+') p++;
    if (!isdigit((unsigned char)*p)) return;
    while (isdigit((unsigned char)*p)) p++;
  }
  if (*p) return;
  n->k = YN_REAL;
  n->d = strtod(s, NULL);
}

/* ---- YAML -> nodes ------------------------------------------------------------------------ */

/* Offset of the first byte that is not part of valid UTF-8 (or is NUL), or len. */
static size_t utf8_bad(const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s, *e = p + len;
  while (p < e) {
    unsigned char b = *p;
    size_t n = b < 0x80 ? 0 : (b & 0xe0) == 0xc0 ? 1 : (b & 0xf0) == 0xe0 ? 2 : (b & 0xf8) == 0xf0 ? 3 : 9;
    if (b == 0 || n == 9 || (size_t)(e - p) < n + 1) break;
    if (n == 1 && b < 0xc2) break;
    bool cont = true;
    for (size_t i = 1; i <= n; i++) cont &= (p[i] & 0xc0) == 0x80;
    if (!cont) break;
    if (n == 2) {
      unsigned cp = ((b & 0x0fu) << 12) | ((p[1] & 0x3fu) << 6) | (p[2] & 0x3fu);
      if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)) break;
    }
    if (n == 3) {
      unsigned cp = ((b & 0x07u) << 18) | ((p[1] & 0x3fu) << 12) | ((p[2] & 0x3fu) << 6) | (p[3] & 0x3fu);
      if (cp < 0x10000 || cp > 0x10ffff) break;
    }
    p += n + 1;
  }
  return (size_t)(p - (const unsigned char *)s);
}

static bool utf8_ok(const char *s, size_t len) { return utf8_bad(s, len) == len; }

static int tok_line(struct fy_token *t) {
  const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;
  return m ? m->line + 1 : 0;
}

/* The line a node starts on, or hint when libfyaml cannot tell (empty collections). */
static int first_line(struct fy_node *fn, int hint, int depth) {
  if (!fn || depth > MAX_DEPTH) return hint;
  int l = tok_line(fy_node_get_tag_token(fn));
  if (l) return l;
  if (fy_node_get_type(fn) == FYNT_SCALAR) {
    l = tok_line(fy_node_get_scalar_token(fn));
    return l ? l : hint;
  }
  if (fy_node_get_type(fn) == FYNT_MAPPING) {
    void *it = NULL;
    struct fy_node_pair *p = fy_node_mapping_iterate(fn, &it);
    return p ? first_line(fy_node_pair_key(p), hint, depth + 1) : hint;
  }
  void *it = NULL;
  struct fy_node *item = fy_node_sequence_iterate(fn, &it);
  return item ? first_line(item, hint, depth + 1) : hint;
}

static const struct {
  const char *tag, *fn;
} short_forms[] = {
    {"!Ref", "Ref"},         {"!GetAtt", "Fn::GetAtt"}, {"!Sub", "Fn::Sub"},     {"!Join", "Fn::Join"},
    {"!Select", "Fn::Select"}, {"!GetAZs", "Fn::GetAZs"}, {"!Split", "Fn::Split"}, {"!Base64", "Fn::Base64"},
};
static const char *const unsupported_fns[] = {"ImportValue", "If",  "Equals", "And",       "Or",     "Not",
                                              "Condition",   "FindInMap", "Cidr", "Transform", "Length", "ToJsonString",
                                              NULL};

static int conv(ctx_t *c, struct fy_node *fn, int hint, const char *path, int depth, yn_t **out);

static int conv_map(ctx_t *c, struct fy_node *fn, int line, const char *path, int depth, yn_t **out) {
  yn_t *m = yn_new(c, YN_MAP, line);
  yn_t *merges[16];
  int merge_lines[16], nmerges = 0;
  void *it = NULL;
  struct fy_node_pair *p;
  while ((p = fy_node_mapping_iterate(fn, &it))) {
    struct fy_node *kn = fy_node_pair_key(p), *vn = fy_node_pair_value(p);
    if (kn && fy_node_is_alias(kn)) kn = fy_node_resolve_alias(kn);
    int kline = first_line(kn, line, 0);
    if (!kn || fy_node_get_type(kn) != FYNT_SCALAR) return fail(c, kline, path, "mapping keys must be strings");
    size_t klen = 0;
    const char *ks = fy_node_get_scalar(kn, &klen);
    if (!utf8_ok(ks ? ks : "", klen)) return fail(c, kline, path, "a key is not valid UTF-8 text");
    char *key = ar_strndup(c, ks ? ks : "", klen);
    const char *cpath = kpath(c, path, key);
    yn_t *v;
    bool plain = fy_node_get_style(kn) == FYNS_PLAIN;
    if (conv(c, vn, kline, cpath, depth + 1, &v) < 0) return -1;
    if (plain && strcmp(key, "<<") == 0) { /* merge key: applied after the explicit keys */
      if (nmerges == 16) return fail(c, kline, path, "too many merge keys");
      merges[nmerges] = v;
      merge_lines[nmerges++] = kline;
      continue;
    }
    yn_push(c, m, key, kline, v);
  }
  for (int i = 0; i < nmerges; i++) {
    yn_t *src = merges[i];
    size_t nsrc = src->k == YN_SEQ ? src->n : 1;
    for (size_t j = 0; j < nsrc; j++) {
      yn_t *s = src->k == YN_SEQ ? src->v[j] : src;
      if (s->k != YN_MAP) return fail(c, merge_lines[i], path, "<<: a merge key needs a mapping or a list of mappings");
      for (size_t k = 0; k < s->n; k++)
        if (yn_index(m, s->keys[k]) < 0) yn_push(c, m, s->keys[k], s->klines[k], s->v[k]);
    }
  }
  *out = m;
  return 0;
}

static int conv(ctx_t *c, struct fy_node *fn, int hint, const char *path, int depth, yn_t **out) {
  if (count_node(c, hint) < 0) return -1;
  if (depth > MAX_DEPTH) return fail(c, hint, path, "nested too deep (more than %d levels)", MAX_DEPTH);
  if (!fn) { /* "key:" with nothing after it */
    *out = yn_new(c, YN_NULL, hint);
    return 0;
  }
  if (fy_node_is_alias(fn)) {
    struct fy_node *t = fy_node_resolve_alias(fn);
    if (!t) return fail(c, first_line(fn, hint, 0), path, "alias to an unknown anchor");
    return conv(c, t, hint, path, depth + 1, out);
  }
  size_t tlen = 0;
  const char *tag = fy_node_get_tag(fn, &tlen);
  char tagbuf[64] = "";
  if (tag) snprintf(tagbuf, sizeof tagbuf, "%.*s", (int)(tlen < 63 ? tlen : 63), tag);
  int tline = tag ? tok_line(fy_node_get_tag_token(fn)) : 0;
  const char *wrap = NULL;
  bool force_str = false;
  if (tag) {
    if (!tline) tline = hint;
    for (size_t i = 0; i < sizeof short_forms / sizeof short_forms[0]; i++)
      if (strcmp(tagbuf, short_forms[i].tag) == 0) wrap = short_forms[i].fn;
    for (size_t i = 0; !wrap && unsupported_fns[i]; i++)
      if (tagbuf[0] == '!' && strcmp(tagbuf + 1, unsupported_fns[i]) == 0)
        return fail(c, tline, path, "%s is not supported", tagbuf);
    if (!wrap) {
      static const char yaml_tag[] = "tag:yaml.org,2002:";
      if (strcmp(tagbuf, "!") == 0 || strcmp(tagbuf, "tag:yaml.org,2002:str") == 0)
        force_str = true;
      else if (strncmp(tagbuf, yaml_tag, sizeof yaml_tag - 1) != 0 ||
               (strcmp(tagbuf + sizeof yaml_tag - 1, "int") != 0 && strcmp(tagbuf + sizeof yaml_tag - 1, "float") != 0 &&
                strcmp(tagbuf + sizeof yaml_tag - 1, "bool") != 0 && strcmp(tagbuf + sizeof yaml_tag - 1, "null") != 0 &&
                strcmp(tagbuf + sizeof yaml_tag - 1, "map") != 0 && strcmp(tagbuf + sizeof yaml_tag - 1, "seq") != 0))
        return fail(c, tline, path, "unknown tag %s", tagbuf);
    }
  }
  yn_t *n = NULL;
  int line = tline ? tline : hint;
  switch (fy_node_get_type(fn)) {
  case FYNT_SCALAR: {
    size_t len = 0;
    const char *s = fy_node_get_scalar(fn, &len);
    int sl = tok_line(fy_node_get_scalar_token(fn));
    n = yn_new(c, YN_STR, tline ? tline : sl ? sl : hint);
    if (!utf8_ok(s ? s : "", len)) return fail(c, n->line, path, "not valid UTF-8 text");
    n->s = ar_strndup(c, s ? s : "", len);
    if (!wrap && !force_str && fy_node_get_style(fn) == FYNS_PLAIN) type_plain(n);
    break;
  }
  case FYNT_MAPPING:
    if (conv_map(c, fn, line, path, depth, &n) < 0) return -1;
    break;
  default: {
    n = yn_new(c, YN_SEQ, line);
    void *it = NULL;
    struct fy_node *item;
    size_t i = 0;
    while ((item = fy_node_sequence_iterate(fn, &it))) {
      yn_t *v;
      if (conv(c, item, first_line(item, line, 0), ipath(c, path, i++), depth + 1, &v) < 0) return -1;
      yn_push(c, n, NULL, 0, v);
    }
    break;
  }
  }
  if (wrap) {
    if (strcmp(wrap, "Ref") == 0 && n->k != YN_STR) return fail(c, line, path, "!Ref needs a logical id");
    if (strcmp(wrap, "Fn::GetAtt") == 0 && n->k == YN_STR) { /* !GetAtt res.attr -> [res, attr] */
      const char *dot = strchr(n->s, '.');
      if (!dot || dot == n->s || !dot[1]) return fail(c, line, path, "!GetAtt %s: needs resource.attribute", n->s);
      yn_t *seq = yn_new(c, YN_SEQ, line);
      yn_push(c, seq, NULL, 0, yn_str(c, ar_strndup(c, n->s, (size_t)(dot - n->s)), line));
      yn_push(c, seq, NULL, 0, yn_str(c, dot + 1, line));
      n = seq;
    }
    yn_t *m = yn_new(c, YN_MAP, line);
    yn_push(c, m, wrap, line, n);
    n = m;
  }
  *out = n;
  return 0;
}

/* Parses text (the first document) into *out. On a syntax error fills *eline and emsg. */
static int parse_yaml(ctx_t *c, const char *text, size_t len, yn_t **out, int *eline, char *emsg, size_t emsgsz) {
  /* YAML here is UTF-8; checked first also because libfyaml 0.7.12 can loop forever on some
   * invalid bytes inside a directive (found by tests/fuzz/sls_compile). */
  size_t good = utf8_bad(text, len);
  if (good < len) {
    int line = 1;
    for (size_t i = 0; i < good; i++) line += text[i] == '\n';
    *eline = line;
    snprintf(emsg, emsgsz, "not valid UTF-8 text");
    return 1;
  }
  struct fy_diag_cfg dc;
  fy_diag_cfg_default(&dc);
  dc.fp = NULL;
  dc.colorize = false;
  struct fy_diag *diag = fy_diag_create(&dc);
  if (!diag) abort();
  fy_diag_set_collect_errors(diag, true);
  struct fy_parse_cfg pc = {.flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG | FYPCF_DEFAULT_VERSION_1_2, .diag = diag};
  struct fy_document *doc = fy_document_build_from_string(&pc, text, len);
  int rc = 0;
  if (!doc || fy_diag_got_error(diag)) {
    void *it = NULL;
    struct fy_diag_error *e = fy_diag_errors_iterate(diag, &it);
    *eline = e ? e->line : 1;
    snprintf(emsg, emsgsz, "%s", e && e->msg ? e->msg : "invalid YAML");
    if (*eline < 1) *eline = 1;
    rc = 1;
  } else {
    struct fy_node *root = fy_document_root(doc);
    rc = conv(c, root, first_line(root, 1, 0), "", 0, out);
  }
  if (doc) fy_document_destroy(doc);
  fy_diag_destroy(diag);
  return rc;
}

/* ---- nodes -> JSON ------------------------------------------------------------------------ */

static json_t *yn_json(const yn_t *n) {
  switch (n->k) {
  case YN_NULL: return json_null();
  case YN_BOOL: return json_boolean(n->b);
  case YN_INT: return json_integer(n->i);
  case YN_REAL: return isfinite(n->d) ? json_real(n->d) : json_string(n->s);
  case YN_STR: return json_string(n->s); /* valid UTF-8: checked when parsed */
  case YN_MAP: {
    json_t *o = json_object();
    for (size_t i = 0; i < n->n; i++) json_object_set_new(o, n->keys[i], yn_json(n->v[i]));
    return o;
  }
  case YN_SEQ: {
    json_t *a = json_array();
    for (size_t i = 0; i < n->n; i++) json_array_append_new(a, yn_json(n->v[i]));
    return a;
  }
  }
  return json_null();
}

static int json_yn(ctx_t *c, json_t *j, int line, int depth, yn_t **out) {
  if (count_node(c, line) < 0) return -1;
  if (depth > MAX_DEPTH) return fail(c, line, NULL, "JSON nested too deep");
  yn_t *n;
  switch (json_typeof(j)) {
  case JSON_OBJECT: {
    n = yn_new(c, YN_MAP, line);
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v) {
      yn_t *cv;
      if (json_yn(c, v, line, depth + 1, &cv) < 0) return -1;
      yn_push(c, n, ar_strdup(c, k), line, cv);
    }
    break;
  }
  case JSON_ARRAY: {
    n = yn_new(c, YN_SEQ, line);
    size_t i;
    json_t *v;
    json_array_foreach(j, i, v) {
      yn_t *cv;
      if (json_yn(c, v, line, depth + 1, &cv) < 0) return -1;
      yn_push(c, n, NULL, 0, cv);
    }
    break;
  }
  case JSON_STRING: n = yn_str(c, json_string_value(j), line); break;
  case JSON_INTEGER:
    n = yn_new(c, YN_INT, line);
    n->i = json_integer_value(j);
    n->s = ar_sprintf(c, "%lld", n->i);
    break;
  case JSON_REAL:
    n = yn_new(c, YN_REAL, line);
    n->d = json_real_value(j);
    n->s = ar_sprintf(c, "%.17g", n->d);
    break;
  case JSON_TRUE:
  case JSON_FALSE:
    n = yn_new(c, YN_BOOL, line);
    n->b = json_is_true(j);
    n->s = n->b ? "true" : "false";
    break;
  default: n = yn_new(c, YN_NULL, line); break;
  }
  *out = n;
  return 0;
}

/* ---- names and suggestions ---------------------------------------------------------------- */

char *ll_sls_normalize_name(const char *name) {
  size_t len = 0;
  for (const char *p = name; *p; p++) len += *p == '-' ? 4 : *p == '_' ? 10 : 1;
  char *out = ll_malloc(len + 1), *q = out;
  for (const char *p = name; *p; p++) {
    if (*p == '-') {
      memcpy(q, "Dash", 4);
      q += 4;
    } else if (*p == '_') {
      memcpy(q, "Underscore", 10);
      q += 10;
    } else {
      *q++ = *p;
    }
  }
  *q = '\0';
  if (out[0] >= 'a' && out[0] <= 'z') out[0] = (char)(out[0] - 'a' + 'A');
  return out;
}

static const char *norm(ctx_t *c, const char *name) {
  char *s = ll_sls_normalize_name(name);
  const char *r = ar_strdup(c, s);
  free(s);
  return r;
}

/* Serverless's normalizeNameToAlphaNumericOnly: non-alphanumerics dropped, first letter upper. */
static const char *alnum(ctx_t *c, const char *name) {
  char *s = ar(c, strlen(name) + 1), *q = s;
  for (const char *p = name; *p; p++)
    if (isalnum((unsigned char)*p)) *q++ = *p;
  if (s[0] >= 'a' && s[0] <= 'z') s[0] = (char)(s[0] - 'a' + 'A');
  return s;
}

static size_t edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 64 || lb > 64) return 1000;
  size_t row[65];
  for (size_t j = 0; j <= lb; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t prev = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t cur = row[j];
      size_t sub = prev + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
      size_t best = row[j] + 1 < row[j - 1] + 1 ? row[j] + 1 : row[j - 1] + 1;
      row[j] = sub < best ? sub : best;
      prev = cur;
    }
  }
  return row[lb];
}

static bool close_enough(const char *a, const char *b, size_t d) {
  size_t len = strlen(a) > strlen(b) ? strlen(a) : strlen(b);
  return d <= 2 ? d * 3 <= len + 1 : d * 4 <= len;
}

static const char *suggest_list(const char *word, const char *const *cands) {
  const char *best = NULL;
  size_t bd = 1000;
  for (size_t i = 0; cands && cands[i]; i++) {
    size_t d = edit_distance(word, cands[i]);
    if (d < bd) bd = d, best = cands[i];
  }
  return best && close_enough(word, best, bd) ? best : NULL;
}

static const char *suggest_json(const char *word, json_t *obj) {
  const char *best = NULL, *k;
  size_t bd = 1000;
  json_t *v;
  json_object_foreach(obj, k, v) {
    size_t d = edit_distance(word, k);
    if (d < bd) bd = d, best = k;
  }
  return best && close_enough(word, best, bd) ? best : NULL;
}

/* ---- key checks --------------------------------------------------------------------------- */

static void warn(ctx_t *c, const char *msg) {
  c->warnings = ll_realloc(c->warnings, (c->nwarnings + 1) * sizeof *c->warnings);
  c->warnings[c->nwarnings++] = ll_strdup(msg);
}

/* An unknown key: an error, or with allow_unknown a warning (returns 0, the caller skips it). */
static int unknown_key(ctx_t *c, int line, const char *path, const char *key, const char *const *known) {
  const char *s = suggest_list(key, known);
  char hint[160] = "";
  if (s) snprintf(hint, sizeof hint, " (did you mean %s?)", s);
  const char *full = kpath(c, path, key);
  if (c->opts.allow_unknown) {
    char *w = ar_sprintf(c, "%s:%d: %s: unknown key%s, ignored", c->disp, line, full, hint);
    warn(c, w);
    return 0;
  }
  return fail(c, line, full, "unknown key%s", hint);
}

typedef struct unsup {
  const char *key, *why;
} unsup_t;

/* Checks m is a mapping whose keys are all in known; keys in unsup are errors with their reason. */
static int check_map(ctx_t *c, const yn_t *m, const char *path, const char *const *known, const unsup_t *unsup) {
  if (!m || m->k != YN_MAP) return fail(c, m ? m->line : 0, path, "must be a mapping");
  for (size_t i = 0; i < m->n; i++) {
    bool ok = false;
    for (size_t j = 0; known[j] && !ok; j++) ok = strcmp(known[j], m->keys[i]) == 0;
    if (ok) continue;
    for (size_t j = 0; unsup && unsup[j].key; j++)
      if (strcmp(unsup[j].key, m->keys[i]) == 0) return fail(c, m->klines[i], kpath(c, path, m->keys[i]), "%s", unsup[j].why);
    if (unknown_key(c, m->klines[i], path, m->keys[i], known) < 0) return -1;
  }
  return 0;
}

/* Typed getters: absent (or null) keys leave *out alone and return 0. */
static int get_str(ctx_t *c, const yn_t *m, const char *key, const char *path, const char **out) {
  yn_t *v = yn_get(m, key);
  if (!v || v->k == YN_NULL) return 0;
  if (!yn_scalar(v)) return fail(c, yn_kline(m, key), kpath(c, path, key), "must be a string");
  *out = v->s;
  return 0;
}

static int get_int(ctx_t *c, const yn_t *m, const char *key, const char *path, long long *out, bool *present) {
  yn_t *v = yn_get(m, key);
  if (present) *present = false;
  if (!v || v->k == YN_NULL) return 0;
  long long x;
  if (v->k == YN_INT) {
    x = v->i;
  } else {
    char *end;
    errno = 0;
    x = v->k == YN_STR ? strtoll(v->s, &end, 10) : 0;
    if (v->k != YN_STR || !v->s[0] || *end || errno) return fail(c, v->line, kpath(c, path, key), "must be an integer");
  }
  *out = x;
  if (present) *present = true;
  return 0;
}

static int get_bool(ctx_t *c, const yn_t *m, const char *key, const char *path, bool *out, bool *present) {
  yn_t *v = yn_get(m, key);
  if (present) *present = false;
  if (!v || v->k == YN_NULL) return 0;
  if (v->k == YN_BOOL) *out = v->b;
  else if (v->k == YN_STR && (strcmp(v->s, "true") == 0 || strcmp(v->s, "false") == 0)) *out = v->s[0] == 't';
  else return fail(c, v->line, kpath(c, path, key), "must be true or false");
  if (present) *present = true;
  return 0;
}

/* A list of strings (or a single string) as a JSON array. */
static int get_strlist(ctx_t *c, const yn_t *m, const char *key, const char *path, json_t **out) {
  yn_t *v = yn_get(m, key);
  *out = NULL;
  if (!v || v->k == YN_NULL) return 0;
  json_t *a = json_array();
  if (yn_scalar(v)) {
    json_array_append_new(a, json_string(v->s));
  } else if (v->k == YN_SEQ) {
    for (size_t i = 0; i < v->n; i++) {
      if (!yn_scalar(v->v[i])) {
        json_decref(a);
        return fail(c, v->v[i]->line, ipath(c, kpath(c, path, key), i), "must be a string");
      }
      json_array_append_new(a, json_string(v->v[i]->s));
    }
  } else {
    json_decref(a);
    return fail(c, v->line, kpath(c, path, key), "must be a list of strings");
  }
  *out = a;
  return 0;
}

/* A value that may be a string or an intrinsic function ({Ref: ..}, {Fn::GetAtt: ..}, ...). */
static bool is_intrinsic(const yn_t *v) {
  return v && v->k == YN_MAP && v->n == 1 && (strcmp(v->keys[0], "Ref") == 0 || strncmp(v->keys[0], "Fn::", 4) == 0);
}

static json_t *str_or_intrinsic(const yn_t *v) {
  if (yn_scalar(v)) return json_string(v->s);
  if (is_intrinsic(v)) return yn_json(v);
  return NULL;
}

/* ---- variables ---------------------------------------------------------------------------- */

static int resolve(ctx_t *c, yn_t **slot, const char *path);

/* Whether "${" at p-2 opens a Serverless variable: "source:" (not "AWS::") or "file(". Other
 * ${...} (CloudFormation's Fn::Sub references) are left alone. */
static bool var_start(const char *p) {
  if (strncmp(p, "file(", 5) == 0) return true;
  const char *q = p;
  if (!isalpha((unsigned char)*q)) return false;
  while (isalnum((unsigned char)*q)) q++;
  return q[0] == ':' && q[1] != ':';
}

/* Index of the '}' closing the "${" at s[0..1], or -1. */
static long var_end(const char *s) {
  int depth = 0;
  char quote = 0;
  for (long i = 0; s[i]; i++) {
    if (quote) {
      if (s[i] == quote) quote = 0;
      continue;
    }
    if (s[i] == '\'' || s[i] == '"') {
      if (depth > 0) quote = s[i];
    } else if (s[i] == '$' && s[i + 1] == '{') {
      depth++;
      i++;
    } else if (s[i] == '}') {
      if (--depth == 0) return i;
    }
  }
  return -1;
}

static char *trim(ctx_t *c, const char *s, size_t len) {
  while (len && isspace((unsigned char)*s)) s++, len--;
  while (len && isspace((unsigned char)s[len - 1])) len--;
  return ar_strndup(c, s, len);
}

/* Looks up a dotted path (numeric segments index lists) under root, resolving variables on the
 * way: 1 with *out, 0 when absent, -1 on error. */
static int lookup_path(ctx_t *c, yn_t **rootslot, const char *addr, const char *path, yn_t ***out) {
  yn_t **slot = rootslot;
  const char *p = addr;
  while (*p) {
    const char *dot = strchr(p, '.');
    size_t len = dot ? (size_t)(dot - p) : strlen(p);
    char *seg = ar_strndup(c, p, len);
    /* only the nodes on the way: resolving a whole ancestor would re-enter the variable being
     * resolved right now */
    if ((*slot)->k == YN_STR && resolve(c, slot, path) < 0) return -1;
    yn_t *n = *slot;
    if (n->k == YN_MAP) {
      long i = yn_index(n, seg);
      if (i < 0) return 0;
      slot = &n->v[i];
    } else if (n->k == YN_SEQ) {
      char *end;
      unsigned long i = strtoul(seg, &end, 10);
      if (!*seg || *end || i >= n->n) return 0;
      slot = &n->v[i];
    } else {
      return 0;
    }
    p = dot ? dot + 1 : p + len;
  }
  *out = slot;
  return 1;
}

static int resolve_str(ctx_t *c, yn_t *n, const char *path, yn_t **out);

static const char *env_get(ctx_t *c, const char *name) {
  return c->opts.getenv ? c->opts.getenv(name, c->opts.getenv_ud) : getenv(name);
}

static const char *stage_of(ctx_t *c, const char *path, int *rc);
static const char *region_of(ctx_t *c, const char *path, int *rc);

static int read_file(const char *full, char **out, size_t *len, int *eno) {
  int fd = open(full, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *eno = errno;
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)MAX_FILE) {
    *eno = S_ISDIR(st.st_mode) ? EISDIR : S_ISREG(st.st_mode) ? EFBIG : EINVAL;
    close(fd);
    return -1;
  }
  char *buf = ll_malloc((size_t)st.st_size + 1);
  size_t got = 0;
  while (got < (size_t)st.st_size) {
    ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  buf[got] = '\0';
  *out = buf;
  *len = got;
  return 0;
}

/* ${file(path)} / ${file(path):a.b}: 1 with *val, 0 when the key path is absent, -1 on error. */
static int var_file(ctx_t *c, const char *expr, const char *whole, int line, const char *path, yn_t **val) {
  const char *close = strchr(expr, ')');
  if (!close) return fail(c, line, path, "%s: file( without )", whole);
  char *fname = trim(c, expr + 5, (size_t)(close - expr - 5));
  size_t fl = strlen(fname);
  if (fl >= 2 && (fname[0] == '\'' || fname[0] == '"') && fname[fl - 1] == fname[0]) fname = ar_strndup(c, fname + 1, fl - 2);
  const char *addr = NULL;
  if (close[1] == ':') addr = trim(c, close + 2, strlen(close + 2));
  else if (close[1]) return fail(c, line, path, "%s: unexpected text after file(...)", whole);
  const char *full = fname[0] == '/' ? fname : ar_sprintf(c, "%s/%s", c->base_dir, fname);
  char *text;
  size_t len;
  int eno;
  if (read_file(full, &text, &len, &eno) < 0) return fail(c, line, path, "%s: cannot read %s: %s", whole, fname, strerror(eno));
  size_t nl = strlen(fname);
  bool is_json = nl > 5 && strcmp(fname + nl - 5, ".json") == 0;
  bool is_yaml = (nl > 4 && strcmp(fname + nl - 4, ".yml") == 0) || (nl > 5 && strcmp(fname + nl - 5, ".yaml") == 0);
  yn_t *tree = NULL;
  int saved = c->line_override;
  c->line_override = line;
  int rc = 0;
  if (is_json) {
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY, &je);
    if (!j) rc = fail(c, line, path, "%s: %s:%d: %s", whole, fname, je.line, je.text);
    else {
      rc = json_yn(c, j, line, 0, &tree);
      json_decref(j);
    }
  } else if (is_yaml) {
    int eline = 0;
    char emsg[256];
    rc = parse_yaml(c, text, len, &tree, &eline, emsg, sizeof emsg);
    if (rc > 0) rc = fail(c, line, path, "%s: %s:%d: %s", whole, fname, eline, emsg);
    if (rc == 0 && !tree) tree = yn_new(c, YN_NULL, line);
  } else if (!utf8_ok(text, len)) {
    rc = fail(c, line, path, "%s: %s is not UTF-8 text", whole, fname);
  } else {
    tree = yn_str(c, text, line);
  }
  c->line_override = saved;
  free(text);
  if (rc < 0) return -1;
  yn_t **slot = &tree;
  if (resolve(c, slot, path) < 0) return -1;
  if (addr && *addr) {
    int found = lookup_path(c, &tree, addr, path, &slot);
    if (found <= 0) return found;
  }
  *val = *slot;
  return 1;
}

/* One source ("self:a.b", "env:X", "opt:stage", ...): 1 found (*val), 0 not found, -1 error. */
static int var_source(ctx_t *c, const char *expr, const char *whole, int line, const char *path, yn_t **val) {
  if (strncmp(expr, "file(", 5) == 0) return var_file(c, expr, whole, line, path, val);
  const char *colon = strchr(expr, ':');
  if (!colon || !var_start(expr)) return fail(c, line, path, "%s: cannot parse variable", whole);
  char *src = ar_strndup(c, expr, (size_t)(colon - expr));
  const char *addr = colon + 1;
  if (strcmp(src, "self") == 0) {
    if (!*addr) return fail(c, line, path, "%s: ${self:} needs a key path", whole);
    yn_t **slot;
    int found = lookup_path(c, &c->root, addr, addr, &slot);
    if (found <= 0) return found;
    if (resolve(c, slot, addr) < 0) return -1;
    *val = *slot;
    return 1;
  }
  const char *s = NULL;
  int rc = 0;
  if (strcmp(src, "opt") == 0) {
    if (strcmp(addr, "stage") == 0) s = c->opts.stage;
    else if (strcmp(addr, "region") == 0) s = c->opts.region;
  } else if (strcmp(src, "env") == 0) {
    s = env_get(c, addr);
  } else if (strcmp(src, "sls") == 0) {
    if (strcmp(addr, "stage") != 0) return fail(c, line, path, "%s: only ${sls:stage} is supported", whole);
    s = stage_of(c, path, &rc);
  } else if (strcmp(src, "aws") == 0) {
    if (strcmp(addr, "region") == 0) s = region_of(c, path, &rc);
    else if (strcmp(addr, "accountId") == 0) s = ACCOUNT_ID;
    else return fail(c, line, path, "%s: only ${aws:region} and ${aws:accountId} are supported", whole);
  } else {
    return fail(c, line, path, "%s: variable source %s is not supported", whole, src);
  }
  if (rc < 0) return -1;
  if (!s) return 0;
  *val = yn_str(c, s, line);
  return 1;
}

/* Evaluates the inside of ${...}: a source with fallbacks separated by commas. */
static int var_eval(ctx_t *c, const char *inner, const char *whole, int line, const char *path, yn_t **val) {
  if (++c->var_depth > MAX_VAR_DEPTH) {
    c->var_depth--;
    return fail(c, line, path, "%s: variable recursion too deep", whole);
  }
  int rc = 0;
  const char *p = inner;
  while (rc == 0) {
    /* the next part, up to a comma outside quotes and nested ${} */
    const char *q = p;
    int depth = 0;
    char quote = 0;
    for (; *q; q++) {
      if (quote) {
        if (*q == quote) quote = 0;
      } else if (*q == '\'' || *q == '"') {
        quote = *q;
      } else if (q[0] == '$' && q[1] == '{') {
        depth++;
        q++;
      } else if (*q == '}') {
        depth--;
      } else if (*q == ',' && depth == 0) {
        break;
      }
    }
    char *part = trim(c, p, (size_t)(q - p));
    size_t pl = strlen(part);
    if (pl >= 2 && (part[0] == '\'' || part[0] == '"') && part[pl - 1] == part[0]) {
      *val = yn_str(c, ar_strndup(c, part + 1, pl - 2), line);
      rc = 1;
    } else if (pl == 0) {
      rc = fail(c, line, path, "%s: empty variable", whole);
    } else if (part[0] == '$' && part[1] == '{' && var_end(part) == (long)pl - 1) {
      rc = var_eval(c, ar_strndup(c, part + 2, pl - 3), part, line, path, val) < 0 ? -1 : 1;
    } else if (!var_start(part)) { /* a literal fallback: a number, true/false */
      yn_t *n = yn_str(c, part, line);
      type_plain(n);
      if (n->k == YN_STR || n->k == YN_NULL) rc = fail(c, line, path, "%s: cannot parse variable source %s", whole, part);
      else {
        *val = n;
        rc = 1;
      }
    } else {
      if (strstr(part, "${")) { /* ${self:custom.${opt:stage}}: the address has variables */
        yn_t *tmp = yn_str(c, part, line), *r;
        if (resolve_str(c, tmp, path, &r) < 0) {
          rc = -1;
          break;
        }
        if (!yn_scalar(r)) {
          rc = fail(c, line, path, "%s: a variable inside an address must be a string", whole);
          break;
        }
        part = (char *)r->s;
      }
      rc = var_source(c, part, whole, line, path, val);
    }
    if (rc != 0 || !*q) break;
    p = q + 1;
  }
  c->var_depth--;
  if (rc == 0) return fail(c, line, path, "%s: cannot resolve variable", whole);
  return rc < 0 ? -1 : 0;
}

static void sb_add(ctx_t *c, char **buf, size_t *len, size_t *cap, const char *s, size_t n) {
  if (*len + n + 1 > *cap) {
    size_t nc = (*len + n + 1) * 2;
    char *nb = ar(c, nc);
    if (*len) memcpy(nb, *buf, *len);
    *buf = nb;
    *cap = nc;
  }
  memcpy(*buf + *len, s, n);
  *len += n;
  (*buf)[*len] = '\0';
}

/* Substitutes the variables of a string node: a whole-value variable keeps its type. */
static int resolve_str(ctx_t *c, yn_t *n, const char *path, yn_t **out) {
  const char *s = n->s;
  char *buf = NULL;
  size_t len = 0, cap = 0;
  bool any = false;
  for (size_t i = 0; s[i];) {
    if (s[i] == '$' && s[i + 1] == '{' && var_start(s + i + 2)) {
      long e = var_end(s + i);
      if (e < 0) return fail(c, n->line, path, "%s: unterminated variable", s + i);
      char *whole = ar_strndup(c, s + i, (size_t)e + 1);
      char *inner = ar_strndup(c, s + i + 2, (size_t)e - 2);
      yn_t *v;
      if (var_eval(c, inner, whole, n->line, path, &v) < 0) return -1;
      if (i == 0 && s[e + 1] == '\0') { /* the whole value */
        yn_t *cp;
        if (yn_copy(c, v, &cp) < 0) return -1;
        *out = cp;
        return 0;
      }
      if (!yn_scalar(v)) return fail(c, n->line, path, "%s: a variable inside a string must resolve to a string or number", whole);
      sb_add(c, &buf, &len, &cap, v->s, strlen(v->s));
      i += (size_t)e + 1;
      any = true;
    } else {
      sb_add(c, &buf, &len, &cap, s + i, 1);
      i++;
    }
  }
  if (!any) {
    *out = n;
    return 0;
  }
  yn_t *r = yn_str(c, buf, n->line);
  *out = r;
  return 0;
}

static int resolve(ctx_t *c, yn_t **slot, const char *path) {
  yn_t *n = *slot;
  if (n->k == YN_STR && strstr(n->s, "${")) {
    yn_t *r;
    if (resolve_str(c, n, path, &r) < 0) return -1;
    *slot = r;
    return 0;
  }
  for (size_t i = 0; (n->k == YN_MAP || n->k == YN_SEQ) && i < n->n; i++) {
    const char *cp = n->k == YN_MAP ? kpath(c, path, n->keys[i]) : ipath(c, path, i);
    if (resolve(c, &n->v[i], cp) < 0) return -1;
  }
  return 0;
}

static const char *provider_str(ctx_t *c, const char *key, const char *path, int *rc) {
  *rc = 0;
  long pi = yn_index(c->root, "provider");
  if (pi < 0 || c->root->v[pi]->k != YN_MAP) return NULL;
  yn_t *prov = c->root->v[pi];
  long si = yn_index(prov, key);
  if (si < 0) return NULL;
  if (resolve(c, &prov->v[si], path) < 0) {
    *rc = -1;
    return NULL;
  }
  return yn_scalar(prov->v[si]) ? prov->v[si]->s : NULL;
}

static const char *stage_of(ctx_t *c, const char *path, int *rc) {
  *rc = 0;
  if (c->opts.stage) return c->opts.stage;
  const char *s = provider_str(c, "stage", path, rc);
  return s ? s : "dev";
}

static const char *region_of(ctx_t *c, const char *path, int *rc) {
  *rc = 0;
  if (c->opts.region) return c->opts.region;
  const char *s = provider_str(c, "region", path, rc);
  return s ? s : "us-east-1";
}

/* ---- template pieces ---------------------------------------------------------------------- */

static json_t *ref(const char *id) { return json_pack("{s:s}", "Ref", id); }
static json_t *getatt(const char *id, const char *attr) { return json_pack("{s:[ss]}", "Fn::GetAtt", id, attr); }

static void add_res(ctx_t *c, json_t *dst, const char *id, json_t *r, int line) {
  json_object_set_new(dst, id, r);
  json_object_set_new(c->reslines, id, json_integer(line));
}

static json_t *deployment_bucket(void) {
  return json_pack("{s:s,s:{s:{s:[{s:{s:s}}]}}}", "Type", "AWS::S3::Bucket", "Properties", "BucketEncryption",
                   "ServerSideEncryptionConfiguration", "ServerSideEncryptionByDefault", "SSEAlgorithm", "AES256");
}

static json_t *deployment_bucket_policy(void) {
  json_t *arn_objs = json_pack("{s:[s,[s,{s:s},s,{s:s},s]]}", "Fn::Join", "", "arn:", "Ref", "AWS::Partition", ":s3:::", "Ref",
                               "ServerlessDeploymentBucket", "/*");
  json_t *arn_bucket =
      json_pack("{s:[s,[s,{s:s},s,{s:s}]]}", "Fn::Join", "", "arn:", "Ref", "AWS::Partition", ":s3:::", "Ref", "ServerlessDeploymentBucket");
  return json_pack("{s:s,s:{s:{s:s},s:{s:[{s:s,s:s,s:s,s:[oo],s:{s:{s:b}}}]}}}", "Type", "AWS::S3::BucketPolicy", "Properties",
                   "Bucket", "Ref", "ServerlessDeploymentBucket", "PolicyDocument", "Statement", "Action", "s3:*", "Effect", "Deny",
                   "Principal", "*", "Resource", arn_objs, arn_bucket, "Condition", "Bool", "aws:SecureTransport", 0);
}

static json_t *code_object(ctx_t *c, const char *bucket) {
  return json_pack("{s:o,s:s}", "S3Bucket", bucket ? json_string(bucket) : ref("ServerlessDeploymentBucket"), "S3Key", "");
}

static void append_unique(json_t *arr, json_t *v) {
  size_t i;
  json_t *x;
  json_array_foreach(arr, i, x) if (json_equal(x, v)) {
    json_decref(v);
    return;
  }
  json_array_append_new(arr, v);
}

static char **dup_patterns(json_t *arr) {
  size_t n = arr ? json_array_size(arr) : 0;
  char **p = ll_calloc(n + 1, sizeof *p);
  for (size_t i = 0; i < n; i++) p[i] = ll_strdup(json_string_value(json_array_get(arr, i)));
  return p;
}

static void add_artifact(ctx_t *c, const char *id, const char *path, bool is_dir, json_t *patterns) {
  c->arts = ll_realloc(c->arts, (c->narts + 1) * sizeof *c->arts);
  ll_sls_artifact_t *a = &c->arts[c->narts++];
  a->logical_id = ll_strdup(id);
  a->path = ll_strdup(path);
  a->is_dir = is_dir;
  a->patterns = dup_patterns(patterns);
  a->code = NULL; /* set from the final template */
}

/* A path relative to the service dir, resolved to a real path; *eno on failure. */
static char *real_rel(ctx_t *c, const char *p, int *eno) {
  const char *full = p[0] == '/' ? p : ar_sprintf(c, "%s/%s", c->base_real, p);
  char *r = realpath(full, NULL);
  if (!r) {
    *eno = errno;
    return NULL;
  }
  char *out = ar_strdup(c, r);
  free(r);
  return out;
}

static int patterns_into(ctx_t *c, const yn_t *pkg, const char *path, json_t *dst) {
  json_t *l;
  if (get_strlist(c, pkg, "patterns", path, &l) < 0) return -1;
  if (l) {
    json_array_extend(dst, l);
    json_decref(l);
  }
  return 0;
}

/* ---- provider ----------------------------------------------------------------------------- */

typedef struct prov {
  const yn_t *n;
  const char *runtime, *arch, *bucket;
  long long memory, timeout, retention;
  bool has_retention;
  const yn_t *env, *layers, *tags, *role;
  json_t *statements; /* user IAM statements, in order */
} prov_t;

static int statements_into(ctx_t *c, const yn_t *list, const char *path, json_t *dst) {
  if (!list || list->k == YN_NULL) return 0;
  if (list->k != YN_SEQ) return fail(c, list->line, path, "must be a list of IAM statements");
  for (size_t i = 0; i < list->n; i++) {
    if (list->v[i]->k != YN_MAP) return fail(c, list->v[i]->line, ipath(c, path, i), "must be an IAM statement mapping");
    json_array_append_new(dst, yn_json(list->v[i]));
  }
  return 0;
}

static int do_provider(ctx_t *c, const yn_t *p, prov_t *pv) {
  static const char *const known[] = {"name", "runtime", "region", "stage", "memorySize", "timeout", "environment", "iam",
                                      "iamRoleStatements", "layers", "architecture", "logRetentionInDays", "deploymentBucket",
                                      "tags", "versionFunctions", "role", NULL};
  memset(pv, 0, sizeof *pv);
  pv->memory = 1024;
  pv->timeout = 6;
  pv->statements = json_array();
  if (!p) return fail(c, 1, "provider", "missing (provider.name: aws is required)");
  if (check_map(c, p, "provider", known, NULL) < 0) return -1;
  pv->n = p;
  const char *name = NULL;
  if (get_str(c, p, "name", "provider", &name) < 0) return -1;
  if (!name) return fail(c, p->line, "provider.name", "missing (only aws is supported)");
  if (strcmp(name, "aws") != 0) return fail(c, yn_kline(p, "name"), "provider.name", "%s: only aws is supported", name);
  if (get_str(c, p, "runtime", "provider", &pv->runtime) < 0 || get_int(c, p, "memorySize", "provider", &pv->memory, NULL) < 0 ||
      get_int(c, p, "timeout", "provider", &pv->timeout, NULL) < 0 ||
      get_int(c, p, "logRetentionInDays", "provider", &pv->retention, &pv->has_retention) < 0 ||
      get_str(c, p, "architecture", "provider", &pv->arch) < 0)
    return -1;
  bool vf;
  if (get_bool(c, p, "versionFunctions", "provider", &vf, NULL) < 0) return -1; /* accepted; versions are never emitted */
  if (pv->arch && strcmp(pv->arch, "x86_64") != 0 && strcmp(pv->arch, "arm64") != 0)
    return fail(c, yn_kline(p, "architecture"), "provider.architecture", "%s: must be x86_64 or arm64", pv->arch);
  yn_t *db = yn_get(p, "deploymentBucket");
  if (db && db->k == YN_MAP) {
    static const char *const dbk[] = {"name", NULL};
    if (check_map(c, db, "provider.deploymentBucket", dbk, NULL) < 0 ||
        get_str(c, db, "name", "provider.deploymentBucket", &pv->bucket) < 0)
      return -1;
  } else if (db && yn_scalar(db)) {
    pv->bucket = db->s;
  } else if (db && db->k != YN_NULL) {
    return fail(c, yn_kline(p, "deploymentBucket"), "provider.deploymentBucket", "must be a bucket name");
  }
  pv->env = yn_get(p, "environment");
  if (pv->env && pv->env->k != YN_MAP && pv->env->k != YN_NULL)
    return fail(c, yn_kline(p, "environment"), "provider.environment", "must be a mapping");
  pv->tags = yn_get(p, "tags");
  if (pv->tags && pv->tags->k != YN_MAP && pv->tags->k != YN_NULL) return fail(c, yn_kline(p, "tags"), "provider.tags", "must be a mapping");
  pv->layers = yn_get(p, "layers");
  pv->role = yn_get(p, "role");
  if (statements_into(c, yn_get(p, "iamRoleStatements"), "provider.iamRoleStatements", pv->statements) < 0) return -1;
  yn_t *iam = yn_get(p, "iam");
  if (iam && iam->k != YN_NULL) {
    static const char *const iamk[] = {"role", NULL};
    if (check_map(c, iam, "provider.iam", iamk, NULL) < 0) return -1;
    yn_t *role = yn_get(iam, "role");
    if (role && (yn_scalar(role) || is_intrinsic(role))) {
      pv->role = role;
    } else if (role && role->k == YN_MAP) {
      static const char *const rk[] = {"statements", NULL};
      if (check_map(c, role, "provider.iam.role", rk, NULL) < 0) return -1;
      if (statements_into(c, yn_get(role, "statements"), "provider.iam.role.statements", pv->statements) < 0) return -1;
    } else if (role && role->k != YN_NULL) {
      return fail(c, yn_kline(iam, "role"), "provider.iam.role", "must be a role or a mapping with statements");
    }
  }
  return 0;
}

/* ---- events ------------------------------------------------------------------------------- */

typedef struct fnctx {
  const char *key, *norm, *fid, *fullname, *path;
  int line;
  bool default_role;
  int nschedule, nexisting;
  json_t *events; /* generated event resources, in order */
} fnctx_t;

static json_t *permission(const char *fid, const char *principal, json_t *source_arn) {
  return json_pack("{s:s,s:{s:o,s:s,s:s,s:o}}", "Type", "AWS::Lambda::Permission", "Properties", "FunctionName",
                   getatt(fid, "Arn"), "Action", "lambda:InvokeFunction", "Principal", principal, "SourceArn", source_arn);
}

static int ev_schedule(ctx_t *c, fnctx_t *f, const yn_t *ev, int line, const char *path) {
  static const char *const known[] = {"rate", "enabled", "input", "inputPath", "name", "description", NULL};
  const yn_t *rates = ev;
  bool enabled = true;
  const char *name = NULL, *desc = NULL, *input_path = NULL;
  json_t *input = NULL;
  if (ev->k == YN_MAP) {
    if (check_map(c, ev, path, known, NULL) < 0) return -1;
    rates = yn_get(ev, "rate");
    if (!rates) return fail(c, line, kpath(c, path, "rate"), "missing");
    if (get_bool(c, ev, "enabled", path, &enabled, NULL) < 0 || get_str(c, ev, "name", path, &name) < 0 ||
        get_str(c, ev, "description", path, &desc) < 0 || get_str(c, ev, "inputPath", path, &input_path) < 0)
      return -1;
    yn_t *in = yn_get(ev, "input");
    if (in && in->k == YN_MAP) {
      json_t *j = yn_json(in);
      char *s = json_dumps(j, JSON_COMPACT);
      json_decref(j);
      input = json_string(s ? s : "{}");
      free(s);
    } else if (in && yn_scalar(in)) {
      input = json_string(in->s);
    } else if (in && in->k != YN_NULL) {
      return fail(c, yn_kline(ev, "input"), kpath(c, path, "input"), "must be a string or a mapping");
    }
  }
  size_t nr = rates->k == YN_SEQ ? rates->n : 1;
  int rc = 0;
  for (size_t i = 0; i < nr && rc == 0; i++) {
    const yn_t *r = rates->k == YN_SEQ ? rates->v[i] : rates;
    const char *rpath = ev->k == YN_MAP ? kpath(c, path, "rate") : path;
    if (rates->k == YN_SEQ) rpath = ipath(c, rpath, i);
    if (!yn_scalar(r) || r->k != YN_STR) {
      rc = fail(c, r->line, rpath, "must be rate(...) or cron(...)");
      break;
    }
    size_t rl = strlen(r->s);
    if ((strncmp(r->s, "rate(", 5) != 0 && strncmp(r->s, "cron(", 5) != 0) || r->s[rl - 1] != ')') {
      rc = fail(c, r->line, rpath, "%s: must be rate(...) or cron(...)", r->s);
      break;
    }
    int idx = ++f->nschedule;
    const char *rid = ar_sprintf(c, "%sEventsRuleSchedule%d", f->norm, idx);
    json_t *target = json_pack("{s:o,s:s}", "Arn", getatt(f->fid, "Arn"), "Id", ar_sprintf(c, "%sSchedule", f->key));
    if (input) json_object_set(target, "Input", input);
    if (input_path) json_object_set_new(target, "InputPath", json_string(input_path));
    json_t *props = json_pack("{s:s,s:s,s:[o]}", "ScheduleExpression", r->s, "State", enabled ? "ENABLED" : "DISABLED", "Targets", target);
    if (name) json_object_set_new(props, "Name", json_string(name));
    if (desc) json_object_set_new(props, "Description", json_string(desc));
    add_res(c, f->events, rid, json_pack("{s:s,s:o}", "Type", "AWS::Events::Rule", "Properties", props), line);
    add_res(c, f->events, ar_sprintf(c, "%sLambdaPermissionEventsRuleSchedule%d", f->norm, idx),
            permission(f->fid, "events.amazonaws.com", getatt(rid, "Arn")), line);
  }
  json_decref(input);
  return rc;
}

/* s3 rules: [{prefix: x}, {suffix: y}] */
static int s3_rules(ctx_t *c, const yn_t *ev, const char *path, json_t **filter_rules, json_t **custom_rules) {
  *filter_rules = json_array();
  *custom_rules = json_array();
  const yn_t *rules = ev->k == YN_MAP ? yn_get(ev, "rules") : NULL;
  if (!rules || rules->k == YN_NULL) return 0;
  const char *rp = kpath(c, path, "rules");
  if (rules->k != YN_SEQ) return fail(c, yn_kline(ev, "rules"), rp, "must be a list of {prefix: ..} or {suffix: ..}");
  for (size_t i = 0; i < rules->n; i++) {
    const yn_t *r = rules->v[i];
    const char *ip = ipath(c, rp, i);
    static const char *const rk[] = {"prefix", "suffix", NULL};
    if (r->k != YN_MAP || r->n != 1) return fail(c, r->line, ip, "must be {prefix: ..} or {suffix: ..}");
    if (check_map(c, r, ip, rk, NULL) < 0) return -1;
    if (r->n != 1 || yn_index(r, "prefix") + yn_index(r, "suffix") != -1) continue; /* an ignored unknown key */
    if (!yn_scalar(r->v[0])) return fail(c, r->klines[0], kpath(c, ip, r->keys[0]), "must be a string");
    bool prefix = strcmp(r->keys[0], "prefix") == 0;
    json_array_append_new(*filter_rules, json_pack("{s:s,s:s}", "Name", r->keys[0], "Value", r->v[0]->s));
    json_array_append_new(*custom_rules, json_pack("{s:s}", prefix ? "Prefix" : "Suffix", r->v[0]->s));
  }
  return 0;
}

static int ev_s3(ctx_t *c, fnctx_t *f, const yn_t *ev, int line, const char *path) {
  static const char *const known[] = {"bucket", "event", "rules", "existing", "forceDeploy", NULL};
  const char *bucket = NULL, *event = "s3:ObjectCreated:*";
  bool existing = false, force;
  if (yn_scalar(ev)) {
    bucket = ev->s;
  } else {
    if (check_map(c, ev, path, known, NULL) < 0) return -1;
    yn_t *b = yn_get(ev, "bucket");
    if (!b) return fail(c, line, kpath(c, path, "bucket"), "missing");
    if (!yn_scalar(b)) return fail(c, yn_kline(ev, "bucket"), kpath(c, path, "bucket"), "must be a bucket name");
    bucket = b->s;
    if (get_str(c, ev, "event", path, &event) < 0 || get_bool(c, ev, "existing", path, &existing, NULL) < 0 ||
        get_bool(c, ev, "forceDeploy", path, &force, NULL) < 0) /* forceDeploy: accepted, nothing to force */
      return -1;
  }
  if (!bucket[0]) return fail(c, line, path, "bucket name is empty");
  json_t *frules, *crules;
  int rc = s3_rules(c, ev, path, &frules, &crules);
  if (rc < 0) goto out;
  if (existing) {
    /* Serverless adds a custom-resource Lambda and its role; the daemon implements Custom::S3
     * itself, so there is no ServiceToken and no CustomDashresource... function. */
    const char *id = ar_sprintf(c, "%sCustomS3%d", f->norm, ++f->nexisting);
    json_t *r = json_pack("{s:s,s:[s],s:{s:s,s:s,s:[{s:s,s:O}]}}", "Type", "Custom::S3", "DependsOn", f->fid, "Properties",
                          "FunctionName", f->fullname, "BucketName", bucket, "BucketConfigs", "Event", event, "Rules", crules);
    add_res(c, f->events, id, r, line);
    goto out;
  }
  const char *bid = ar_sprintf(c, "S3Bucket%s", alnum(c, bucket));
  const char *pid = ar_sprintf(c, "%sLambdaPermission%sS3", f->norm, alnum(c, bucket));
  json_t *b = json_object_get(c->res, bid);
  if (!b) {
    b = json_pack("{s:s,s:{s:s,s:{s:[]}},s:[]}", "Type", "AWS::S3::Bucket", "Properties", "BucketName", bucket,
                  "NotificationConfiguration", "LambdaConfigurations", "DependsOn");
    add_res(c, c->res, bid, b, line);
  } else {
    const char *have = json_string_value(json_object_get(json_object_get(b, "Properties"), "BucketName"));
    if (!have || strcmp(have, bucket) != 0)
      { rc = fail(c, line, path, "bucket %s has the same logical id %s as bucket %s", bucket, bid, have ? have : "?"); goto out; }
  }
  json_t *lc = json_pack("{s:s,s:o}", "Event", event, "Function", getatt(f->fid, "Arn"));
  if (json_array_size(frules)) json_object_set_new(lc, "Filter", json_pack("{s:{s:O}}", "S3Key", "Rules", frules));
  json_array_append_new(json_object_get(json_object_get(json_object_get(b, "Properties"), "NotificationConfiguration"), "LambdaConfigurations"), lc);
  json_t *deps = json_object_get(b, "DependsOn");
  append_unique(deps, json_string(pid));
  if (!json_object_get(f->events, pid) && !json_object_get(c->res, pid)) {
    json_t *p = permission(f->fid, "s3.amazonaws.com",
                           json_pack("{s:[s,[s,{s:s},s]]}", "Fn::Join", "", "arn:", "Ref", "AWS::Partition", ar_sprintf(c, ":s3:::%s", bucket)));
    json_object_set_new(json_object_get(p, "Properties"), "SourceAccount", ref("AWS::AccountId"));
    add_res(c, f->events, pid, p, line);
  }
out:
  json_decref(frules);
  json_decref(crules);
  return rc;
}

/* The stream name Serverless puts in the mapping's logical id. */
static const char *stream_name(ctx_t *c, const yn_t *arn) {
  if (yn_scalar(arn)) {
    const char *slash = strchr(arn->s, '/');
    if (!slash) return arn->s;
    const char *end = strchr(slash + 1, '/');
    return ar_strndup(c, slash + 1, end ? (size_t)(end - slash - 1) : strlen(slash + 1));
  }
  const yn_t *v = arn->v[0];
  if (strcmp(arn->keys[0], "Fn::GetAtt") == 0 && v->k == YN_SEQ && v->n > 0 && yn_scalar(v->v[0])) return v->v[0]->s;
  if (strcmp(arn->keys[0], "Ref") == 0 && yn_scalar(v)) return v->s;
  if (strcmp(arn->keys[0], "Fn::Join") == 0 && v->k == YN_SEQ && v->n == 2 && v->v[1]->k == YN_SEQ && v->v[1]->n > 0 &&
      yn_scalar(v->v[1]->v[v->v[1]->n - 1])) {
    const char *last = v->v[1]->v[v->v[1]->n - 1]->s, *slash = strrchr(last, '/');
    return slash ? slash + 1 : last;
  }
  return "";
}

static int ev_stream(ctx_t *c, fnctx_t *f, const yn_t *ev, int line, const char *path) {
  static const char *const known[] = {"arn", "type", "batchSize", "startingPosition", "startingPositionTimestamp", "batchWindow",
                                      "maximumRetryAttempts", "maximumRecordAgeInSeconds", "bisectBatchOnFunctionError",
                                      "parallelizationFactor", "functionResponseType", "destinations", "enabled", NULL};
  const yn_t *arn = ev;
  const char *type = NULL;
  if (ev->k == YN_MAP && !is_intrinsic(ev)) {
    if (check_map(c, ev, path, known, NULL) < 0) return -1;
    arn = yn_get(ev, "arn");
    if (!arn) return fail(c, line, kpath(c, path, "arn"), "missing");
    if (get_str(c, ev, "type", path, &type) < 0) return -1;
  }
  const char *apath = arn == ev ? path : kpath(c, path, "arn");
  int aline = arn == ev ? line : yn_kline(ev, "arn");
  if (!yn_scalar(arn) && !is_intrinsic(arn)) return fail(c, aline, apath, "must be a stream ARN or an intrinsic function");
  if (!type && yn_scalar(arn)) { /* arn:aws:kinesis:... */
    const char *p = strchr(arn->s, ':');
    p = p ? strchr(p + 1, ':') : NULL;
    const char *q = p ? strchr(p + 1, ':') : NULL;
    type = q ? ar_strndup(c, p + 1, (size_t)(q - p - 1)) : "";
  }
  if (!type) return fail(c, line, kpath(c, path, "type"), "missing (needed when arn is not a literal ARN): kinesis");
  if (strcmp(type, "dynamodb") == 0) return fail(c, line, path, "dynamodb streams are not supported yet");
  if (strcmp(type, "kinesis") != 0) return fail(c, line, kpath(c, path, "type"), "%s: must be kinesis", type);
  long long batch = 10;
  bool enabled = true;
  const char *start = "TRIM_HORIZON", *frt = NULL;
  json_t *props = json_object();
  int rc = 0;
  if (ev != arn) {
    long long v;
    bool has, b;
    if ((rc = get_int(c, ev, "batchSize", path, &batch, NULL)) < 0 || (rc = get_bool(c, ev, "enabled", path, &enabled, NULL)) < 0 ||
        (rc = get_str(c, ev, "startingPosition", path, &start)) < 0 || (rc = get_str(c, ev, "functionResponseType", path, &frt)) < 0)
      goto out;
    if (strcmp(start, "TRIM_HORIZON") != 0 && strcmp(start, "LATEST") != 0 && strcmp(start, "AT_TIMESTAMP") != 0) {
      rc = fail(c, yn_kline(ev, "startingPosition"), kpath(c, path, "startingPosition"), "%s: must be TRIM_HORIZON, LATEST or AT_TIMESTAMP", start);
      goto out;
    }
    if ((rc = get_int(c, ev, "startingPositionTimestamp", path, &v, &has)) < 0) goto out;
    if (has) json_object_set_new(props, "StartingPositionTimestamp", json_integer(v));
    else if (strcmp(start, "AT_TIMESTAMP") == 0) {
      rc = fail(c, line, kpath(c, path, "startingPositionTimestamp"), "missing (needed with AT_TIMESTAMP)");
      goto out;
    }
    static const struct { const char *key, *prop; } ints[] = {
        {"batchWindow", "MaximumBatchingWindowInSeconds"}, {"maximumRetryAttempts", "MaximumRetryAttempts"},
        {"maximumRecordAgeInSeconds", "MaximumRecordAgeInSeconds"}, {"parallelizationFactor", "ParallelizationFactor"}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
      if ((rc = get_int(c, ev, ints[i].key, path, &v, &has)) < 0) goto out;
      if (has) json_object_set_new(props, ints[i].prop, json_integer(v));
    }
    if ((rc = get_bool(c, ev, "bisectBatchOnFunctionError", path, &b, &has)) < 0) goto out;
    if (has) json_object_set_new(props, "BisectBatchOnFunctionError", json_boolean(b));
    if (frt) {
      if (strcmp(frt, "ReportBatchItemFailures") != 0) {
        rc = fail(c, yn_kline(ev, "functionResponseType"), kpath(c, path, "functionResponseType"), "%s: must be ReportBatchItemFailures", frt);
        goto out;
      }
      json_object_set_new(props, "FunctionResponseTypes", json_pack("[s]", frt));
    }
    yn_t *dest = yn_get(ev, "destinations");
    if (dest && dest->k != YN_NULL) {
      const char *dp = kpath(c, path, "destinations");
      static const char *const dk[] = {"onFailure", NULL}, *const ok[] = {"arn", "type", NULL};
      if ((rc = check_map(c, dest, dp, dk, NULL)) < 0) goto out;
      yn_t *of = yn_get(dest, "onFailure");
      const char *op = kpath(c, dp, "onFailure"), *dtype = NULL;
      yn_t *darn = of;
      if (of && of->k == YN_MAP && !is_intrinsic(of)) {
        if ((rc = check_map(c, of, op, ok, NULL)) < 0 || (rc = get_str(c, of, "type", op, &dtype)) < 0) goto out;
        darn = yn_get(of, "arn");
        if (!darn) {
          rc = fail(c, of->line, kpath(c, op, "arn"), "missing");
          goto out;
        }
      }
      if (darn) {
        json_t *dj = str_or_intrinsic(darn);
        if (!dj) {
          rc = fail(c, darn->line, op, "must be an ARN or an intrinsic function");
          goto out;
        }
        if (!dtype && yn_scalar(darn)) dtype = strstr(darn->s, ":sns:") ? "sns" : strstr(darn->s, ":sqs:") ? "sqs" : NULL;
        if (!dtype || (strcmp(dtype, "sns") != 0 && strcmp(dtype, "sqs") != 0)) {
          json_decref(dj);
          rc = fail(c, darn->line, kpath(c, op, "type"), "must be sns or sqs");
          goto out;
        }
        json_object_set_new(props, "DestinationConfig", json_pack("{s:{s:O}}", "OnFailure", "Destination", dj));
        if (f->default_role) {
          json_t *acts = strcmp(dtype, "sns") == 0 ? json_pack("[s]", "sns:Publish") : json_pack("[ss]", "sqs:ListQueues", "sqs:SendMessage");
          append_unique(c->dest_stmts, json_pack("{s:s,s:o,s:[o]}", "Effect", "Allow", "Action", acts, "Resource", dj));
        } else {
          json_decref(dj);
        }
      }
    }
  }
  const char *id = ar_sprintf(c, "%sEventSourceMappingKinesis%s", f->norm, alnum(c, stream_name(c, arn)));
  if (json_object_get(f->events, id)) {
    rc = fail(c, line, path, "a second mapping from this stream to this function (%s)", id);
    goto out;
  }
  json_t *arnj = str_or_intrinsic(arn);
  json_t *esm = json_pack("{s:s,s:{s:I,s:b,s:O,s:o,s:s}}", "Type", "AWS::Lambda::EventSourceMapping", "Properties", "BatchSize",
                          (json_int_t)batch, "Enabled", enabled, "EventSourceArn", arnj, "FunctionName", getatt(f->fid, "Arn"),
                          "StartingPosition", start);
  json_object_update(json_object_get(esm, "Properties"), props);
  if (f->default_role) {
    json_object_set_new(esm, "DependsOn", json_pack("[s]", "IamRoleLambdaExecution"));
    append_unique(c->kinesis_arns, json_incref(arnj));
  }
  json_decref(arnj);
  add_res(c, f->events, id, esm, line);
out:
  json_decref(props);
  return rc;
}

static const char *const event_types[] = {"stream", "s3", "schedule", NULL};
static const char *const unsupported_events[] = {
    "http",   "httpApi",  "sqs",  "sns",   "alb",    "websocket", "cloudwatchLog", "cloudwatchEvent", "eventBridge",
    "alexaSkill", "alexaSmartHome", "iot", "iotFleetProvisioning", "cognitoUserPool", "msk", "kafka", "activemq",
    "rabbitmq", "cloudFront", NULL};

static int do_events(ctx_t *c, fnctx_t *f, const yn_t *events, const char *path) {
  if (!events || events->k == YN_NULL) return 0;
  if (events->k != YN_SEQ) return fail(c, events->line, path, "must be a list");
  for (size_t i = 0; i < events->n; i++) {
    const yn_t *e = events->v[i];
    const char *ip = ipath(c, path, i);
    if (e->k != YN_MAP || e->n != 1) return fail(c, e->line, ip, "an event is a mapping with one key (stream, s3, schedule)");
    const char *type = e->keys[0], *tp = kpath(c, ip, type);
    int line = e->klines[0];
    for (size_t j = 0; unsupported_events[j]; j++)
      if (strcmp(type, unsupported_events[j]) == 0) {
        if (strcmp(type, "http") == 0 || strcmp(type, "httpApi") == 0)
          return fail(c, line, tp, "%s events are not supported yet (the HTTP trigger is not built)", type);
        return fail(c, line, tp, "%s events are not supported yet", type);
      }
    const yn_t *v = e->v[0];
    int rc;
    if (strcmp(type, "stream") == 0) rc = ev_stream(c, f, v, line, tp);
    else if (strcmp(type, "s3") == 0) rc = ev_s3(c, f, v, line, tp);
    else if (strcmp(type, "schedule") == 0) rc = (yn_scalar(v) || v->k == YN_MAP) ? ev_schedule(c, f, v, line, tp) : fail(c, line, tp, "must be rate(...), cron(...) or a mapping");
    else rc = unknown_key(c, line, ip, type, event_types);
    if (rc < 0) return -1;
  }
  return 0;
}

/* ---- functions and layers ----------------------------------------------------------------- */

static int env_into(ctx_t *c, const yn_t *env, const char *path, json_t *vars) {
  if (!env || env->k == YN_NULL) return 0;
  if (env->k != YN_MAP) return fail(c, env->line, path, "must be a mapping");
  for (size_t i = 0; i < env->n; i++) {
    json_t *v = str_or_intrinsic(env->v[i]);
    if (!v) return fail(c, env->klines[i], kpath(c, path, env->keys[i]), "must be a string or an intrinsic function");
    json_object_set_new(vars, env->keys[i], v);
  }
  return 0;
}

static int tags_into(ctx_t *c, const yn_t *tags, const char *path, json_t *obj) {
  if (!tags || tags->k == YN_NULL) return 0;
  if (tags->k != YN_MAP) return fail(c, tags->line, path, "must be a mapping");
  for (size_t i = 0; i < tags->n; i++) {
    json_t *v = str_or_intrinsic(tags->v[i]);
    if (!v) return fail(c, tags->klines[i], kpath(c, path, tags->keys[i]), "must be a string");
    json_object_set_new(obj, tags->keys[i], v);
  }
  return 0;
}

static int layers_json(ctx_t *c, const yn_t *l, const char *path, json_t **out) {
  *out = NULL;
  if (!l || l->k == YN_NULL) return 0;
  if (l->k != YN_SEQ) return fail(c, l->line, path, "must be a list of layer ARNs");
  json_t *a = json_array();
  for (size_t i = 0; i < l->n; i++) {
    json_t *v = str_or_intrinsic(l->v[i]);
    if (!v) {
      json_decref(a);
      return fail(c, l->v[i]->line, ipath(c, path, i), "must be a layer ARN or {Ref: XLambdaLayer}");
    }
    json_array_append_new(a, v);
  }
  *out = a;
  return 0;
}

typedef struct svcpkg {
  const char *artifact;
  int artifact_line;
  bool individually;
  json_t *patterns;
} svcpkg_t;

static int do_function(ctx_t *c, const prov_t *pv, const svcpkg_t *sp, const char *key, int kline, const yn_t *fn,
                       json_t *loggroups, json_t *fns, json_t *events) {
  static const char *const known[] = {"handler", "runtime", "memorySize", "timeout", "environment", "layers", "reservedConcurrency",
                                      "description", "name", "package", "role", "events", "tags", "architecture", NULL};
  static const unsup_t unsup[] = {{"url", "url: not supported yet"},
                                  {"destinations", "function destinations are not supported yet"},
                                  {"maximumRetryAttempts", "not supported yet (async invoke config)"},
                                  {"maximumEventAge", "not supported yet (async invoke config)"},
                                  {"image", "container images are not supported"},
                                  {NULL, NULL}};
  const char *path = kpath(c, "functions", key);
  if (!fn || fn->k != YN_MAP) return fail(c, kline, path, "must be a mapping");
  if (check_map(c, fn, path, known, unsup) < 0) return -1;
  fnctx_t f = {.key = key, .norm = norm(c, key), .path = path, .line = kline, .events = events};
  f.fid = ar_sprintf(c, "%sLambdaFunction", f.norm);
  const char *handler = NULL, *runtime = pv->runtime, *desc = NULL, *name = NULL, *arch = pv->arch;
  long long mem = pv->memory, timeout = pv->timeout, reserved = 0;
  bool has_reserved = false;
  if (get_str(c, fn, "handler", path, &handler) < 0 || get_str(c, fn, "runtime", path, &runtime) < 0 ||
      get_str(c, fn, "description", path, &desc) < 0 || get_str(c, fn, "name", path, &name) < 0 ||
      get_str(c, fn, "architecture", path, &arch) < 0 || get_int(c, fn, "memorySize", path, &mem, NULL) < 0 ||
      get_int(c, fn, "timeout", path, &timeout, NULL) < 0 || get_int(c, fn, "reservedConcurrency", path, &reserved, &has_reserved) < 0)
    return -1;
  if (!handler) return fail(c, kline, kpath(c, path, "handler"), "missing");
  if (!runtime) return fail(c, kline, kpath(c, path, "runtime"), "missing (set provider.runtime or %s.runtime)", path);
  if (arch && strcmp(arch, "x86_64") != 0 && strcmp(arch, "arm64") != 0)
    return fail(c, yn_kline(fn, "architecture"), kpath(c, path, "architecture"), "%s: must be x86_64 or arm64", arch);
  f.fullname = name ? name : ar_sprintf(c, "%s-%s-%s", c->service, c->stage, key);
  if (json_object_get(fns, f.fid))
    return fail(c, kline, path, "its logical id %s is the same as another function's", f.fid);

  /* role: the function's, else the provider's, else IamRoleLambdaExecution */
  const yn_t *role = yn_get(fn, "role");
  const char *rpath = kpath(c, path, "role");
  int rline = yn_kline(fn, "role");
  if (!role || role->k == YN_NULL) {
    role = pv->role;
    rpath = "provider.role";
    rline = pv->role ? pv->role->line : 0;
  }
  json_t *rolej;
  if (!role || role->k == YN_NULL) {
    f.default_role = true;
    c->need_role = true;
    rolej = getatt("IamRoleLambdaExecution", "Arn");
  } else if (yn_scalar(role) && strncmp(role->s, "arn:", 4) == 0) {
    rolej = json_string(role->s);
  } else if (yn_scalar(role)) {
    c->roles = ll_realloc(c->roles, (c->nroles + 1) * sizeof *c->roles);
    c->roles[c->nroles++] = (role_ref_t){role->s, rpath, rline};
    rolej = getatt(role->s, "Arn");
  } else if (is_intrinsic(role)) {
    rolej = yn_json(role);
  } else {
    return fail(c, rline, rpath, "must be a role ARN, a role's logical id or an intrinsic function");
  }

  json_t *lg = json_pack("{s:s,s:{s:s}}", "Type", "AWS::Logs::LogGroup", "Properties", "LogGroupName",
                         ar_sprintf(c, "/aws/lambda/%s", f.fullname));
  if (pv->has_retention) json_object_set_new(json_object_get(lg, "Properties"), "RetentionInDays", json_integer(pv->retention));
  add_res(c, loggroups, ar_sprintf(c, "%sLogGroup", f.norm), lg, kline);

  json_t *code = code_object(c, pv->bucket);
  json_t *props = json_pack("{s:o,s:s,s:s,s:s,s:I,s:I}", "Code", code, "Handler", handler, "Runtime", runtime, "FunctionName",
                            f.fullname, "MemorySize", (json_int_t)mem, "Timeout", (json_int_t)timeout);
  if (desc) json_object_set_new(props, "Description", json_string(desc));
  json_t *vars = json_object();
  int rc = env_into(c, pv->env, "provider.environment", vars);
  if (rc == 0) rc = env_into(c, yn_get(fn, "environment"), kpath(c, path, "environment"), vars);
  if (json_object_size(vars)) json_object_set_new(props, "Environment", json_pack("{s:O}", "Variables", vars));
  json_decref(vars);
  json_t *layers = NULL;
  if (rc == 0 && yn_get(fn, "layers")) rc = layers_json(c, yn_get(fn, "layers"), kpath(c, path, "layers"), &layers);
  else if (rc == 0) rc = layers_json(c, pv->layers, "provider.layers", &layers);
  if (layers) json_object_set_new(props, "Layers", layers);
  if (has_reserved) json_object_set_new(props, "ReservedConcurrentExecutions", json_integer(reserved));
  if (arch) json_object_set_new(props, "Architectures", json_pack("[s]", arch));
  json_t *tags = json_object();
  if (rc == 0) rc = tags_into(c, pv->tags, "provider.tags", tags);
  if (rc == 0) rc = tags_into(c, yn_get(fn, "tags"), kpath(c, path, "tags"), tags);
  if (json_object_size(tags)) {
    json_t *arr = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(tags, k, v) json_array_append_new(arr, json_pack("{s:s,s:O}", "Key", k, "Value", v));
    json_object_set_new(props, "Tags", arr);
  }
  json_decref(tags);
  json_object_set_new(props, "Role", rolej);
  add_res(c, fns, f.fid, json_pack("{s:s,s:o,s:[s]}", "Type", "AWS::Lambda::Function", "Properties", props, "DependsOn",
                                   ar_sprintf(c, "%sLogGroup", f.norm)),
          kline);
  if (rc < 0) return -1;
  json_object_set_new(c->functions, key, json_pack("{s:s,s:s}", "logical_id", f.fid, "name", f.fullname));

  /* code */
  const char *artifact = sp->artifact;
  int aline = sp->artifact_line;
  const char *apath = "package.artifact";
  bool individually = sp->individually;
  json_t *patterns = json_pack("[sssssss]", "!.git/**", "!.gitignore", "!.DS_Store", "!npm-debug.log", "!.serverless/**",
                               "!.serverless_plugins/**", ar_sprintf(c, "!%s", c->disp));
  json_array_extend(patterns, sp->patterns);
  yn_t *pkg = yn_get(fn, "package");
  const char *pp = kpath(c, path, "package");
  if (pkg && pkg->k != YN_NULL) {
    static const char *const pk[] = {"artifact", "patterns", "individually", NULL};
    bool ind = false, has_ind = false;
    if (check_map(c, pkg, pp, pk, NULL) < 0 || get_bool(c, pkg, "individually", pp, &ind, &has_ind) < 0) rc = -1;
    if (has_ind) individually = ind;
    const char *fa = NULL;
    if (rc == 0 && get_str(c, pkg, "artifact", pp, &fa) < 0) rc = -1;
    if (fa) {
      artifact = fa;
      aline = yn_kline(pkg, "artifact");
      apath = kpath(c, pp, "artifact");
    }
    if (rc == 0 && individually) rc = patterns_into(c, pkg, pp, patterns);
  }
  json_array_append_new(patterns, json_string("!.serverless/**"));
  if (rc == 0) {
    if (artifact) {
      int eno;
      char *real = real_rel(c, artifact, &eno);
      if (!real) rc = fail(c, aline, apath, "%s: %s", artifact, strerror(eno));
      else add_artifact(c, f.fid, real, false, NULL);
    } else {
      add_artifact(c, f.fid, c->base_real, true, patterns);
    }
  }
  json_decref(patterns);
  if (rc < 0) return -1;
  return do_events(c, &f, yn_get(fn, "events"), kpath(c, path, "events"));
}

static int do_layer(ctx_t *c, const prov_t *pv, const char *key, int kline, const yn_t *l, json_t *dst, json_t *outputs) {
  static const char *const known[] = {"path", "name", "description", "compatibleRuntimes", "compatibleArchitectures",
                                      "licenseInfo", "retain", "package", NULL};
  const char *path = kpath(c, "layers", key);
  if (!l || l->k != YN_MAP) return fail(c, kline, path, "must be a mapping");
  if (check_map(c, l, path, known, NULL) < 0) return -1;
  const char *dir = NULL, *name = key, *desc = NULL, *license = NULL, *artifact = NULL;
  bool retain = false;
  json_t *runtimes = NULL, *archs = NULL, *patterns = json_array();
  int rc = 0;
  yn_t *pkg = yn_get(l, "package");
  const char *pp = kpath(c, path, "package");
  if (get_str(c, l, "path", path, &dir) < 0 || get_str(c, l, "name", path, &name) < 0 || get_str(c, l, "description", path, &desc) < 0 ||
      get_str(c, l, "licenseInfo", path, &license) < 0 || get_bool(c, l, "retain", path, &retain, NULL) < 0 ||
      get_strlist(c, l, "compatibleRuntimes", path, &runtimes) < 0 || get_strlist(c, l, "compatibleArchitectures", path, &archs) < 0)
    rc = -1;
  if (rc == 0 && pkg && pkg->k != YN_NULL) {
    static const char *const pk[] = {"artifact", "patterns", NULL};
    if (check_map(c, pkg, pp, pk, NULL) < 0 || get_str(c, pkg, "artifact", pp, &artifact) < 0 || patterns_into(c, pkg, pp, patterns) < 0)
      rc = -1;
  }
  const char *id = ar_sprintf(c, "%sLambdaLayer", norm(c, key));
  if (rc == 0) {
    int eno;
    if (artifact) {
      char *real = real_rel(c, artifact, &eno);
      if (!real) rc = fail(c, yn_kline(pkg, "artifact"), kpath(c, pp, "artifact"), "%s: %s", artifact, strerror(eno));
      else add_artifact(c, id, real, false, NULL);
    } else if (!dir) {
      rc = fail(c, kline, kpath(c, path, "path"), "missing (a directory, or package.artifact)");
    } else {
      char *real = real_rel(c, dir, &eno);
      struct stat st;
      if (!real) rc = fail(c, yn_kline(l, "path"), kpath(c, path, "path"), "%s: %s", dir, strerror(eno));
      else if (stat(real, &st) < 0 || !S_ISDIR(st.st_mode)) rc = fail(c, yn_kline(l, "path"), kpath(c, path, "path"), "%s: not a directory", dir);
      else add_artifact(c, id, real, true, patterns);
    }
  }
  if (rc == 0) {
    json_t *props = json_pack("{s:o,s:s}", "Content", code_object(c, pv->bucket), "LayerName", name);
    if (desc) json_object_set_new(props, "Description", json_string(desc));
    if (runtimes) json_object_set(props, "CompatibleRuntimes", runtimes);
    if (archs) json_object_set(props, "CompatibleArchitectures", archs);
    if (license) json_object_set_new(props, "LicenseInfo", json_string(license));
    json_t *r = json_pack("{s:s,s:o}", "Type", "AWS::Lambda::LayerVersion", "Properties", props);
    if (retain) json_object_set_new(r, "DeletionPolicy", json_string("Retain"));
    add_res(c, dst, id, r, kline);
    const char *oid = ar_sprintf(c, "%sQualifiedArn", id);
    json_object_set_new(outputs, oid, json_pack("{s:s,s:o,s:{s:s}}", "Description", "Current Lambda layer version", "Value", ref(id),
                                                "Export", "Name", ar_sprintf(c, "sls-%s-%s-%s", c->service, c->stage, oid)));
  }
  json_decref(runtimes);
  json_decref(archs);
  json_decref(patterns);
  return rc;
}

/* ---- IAM role ----------------------------------------------------------------------------- */

static json_t *iam_role(ctx_t *c, const prov_t *pv, json_t *fns) {
  const char *prefix = ar_sprintf(c, "%s-%s", c->service, c->stage);
  json_t *create = json_pack("[o]", json_pack("{s:s}", "Fn::Sub", ar_sprintf(c, "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/%s*:*", prefix)));
  json_t *put = json_pack("[o]", json_pack("{s:s}", "Fn::Sub", ar_sprintf(c, "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/%s*:*:*", prefix)));
  /* functions with a custom name do not match the service prefix */
  const char *k;
  json_t *v;
  json_object_foreach(fns, k, v) {
    const char *fname = json_string_value(json_object_get(json_object_get(v, "Properties"), "FunctionName"));
    if (fname && strncmp(fname, prefix, strlen(prefix)) != 0) {
      json_array_append_new(create, json_pack("{s:s}", "Fn::Sub", ar_sprintf(c, "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/%s:*", fname)));
      json_array_append_new(put, json_pack("{s:s}", "Fn::Sub", ar_sprintf(c, "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/%s:*:*", fname)));
    }
  }
  json_t *stmts = json_pack("[{s:s,s:[sss],s:o},{s:s,s:[s],s:o}]", "Effect", "Allow", "Action", "logs:CreateLogStream",
                            "logs:CreateLogGroup", "logs:TagResource", "Resource", create, "Effect", "Allow", "Action", "logs:PutLogEvents",
                            "Resource", put);
  json_array_extend(stmts, pv->statements);
  if (json_array_size(c->kinesis_arns))
    json_array_append_new(stmts, json_pack("{s:s,s:[ssss],s:O}", "Effect", "Allow", "Action", "kinesis:GetRecords", "kinesis:GetShardIterator",
                                           "kinesis:DescribeStream", "kinesis:ListStreams", "Resource", c->kinesis_arns));
  json_array_extend(stmts, c->dest_stmts);
  return json_pack("{s:s,s:{s:{s:s,s:[{s:s,s:{s:[s]},s:[s]}]},s:[{s:{s:[s,[sss]]},s:{s:s,s:o}}],s:s,s:{s:[s,[ss{s:s}s]]}}}",
                   "Type", "AWS::IAM::Role", "Properties", "AssumeRolePolicyDocument", "Version", "2012-10-17", "Statement", "Effect",
                   "Allow", "Principal", "Service", "lambda.amazonaws.com", "Action", "sts:AssumeRole", "Policies", "PolicyName",
                   "Fn::Join", "-", c->service, c->stage, "lambda", "PolicyDocument", "Version", "2012-10-17", "Statement", stmts,
                   "Path", "/", "RoleName", "Fn::Join", "-", c->service, c->stage, "Ref", "AWS::Region", "lambdaRole");
}

/* ---- user resources ----------------------------------------------------------------------- */

static void deep_merge(json_t *dst, json_t *src) {
  const char *k;
  json_t *v;
  json_object_foreach(src, k, v) {
    json_t *d = json_object_get(dst, k);
    if (json_is_object(d) && json_is_object(v)) deep_merge(d, v);
    else json_object_set(dst, k, v);
  }
}

static int type_list(char *buf, size_t sz) {
  size_t off = 0;
  for (const ll_stack_type_t *t = ll_stack_types; t->name; t++) {
    int n = snprintf(buf + off, sz - off, "%s%s", off ? ", " : "", t->name);
    if (n < 0 || (size_t)n >= sz - off) break;
    off += (size_t)n;
  }
  return 0;
}

static int do_resources_map(ctx_t *c, const yn_t *rs, const char *path, json_t *outputs) {
  if (!rs || rs->k == YN_NULL) return 0;
  static const char *const known[] = {"Resources", "Outputs", NULL};
  static const unsup_t unsup[] = {{"Conditions", "conditions are not supported yet"},
                                  {"Parameters", "parameters are not supported yet"},
                                  {"Mappings", "mappings are not supported yet"},
                                  {"Transform", "transforms are not supported"},
                                  {NULL, NULL}};
  if (check_map(c, rs, path, known, unsup) < 0) return -1;
  const yn_t *r = yn_get(rs, "Resources");
  const char *rp = kpath(c, path, "Resources");
  if (r && r->k != YN_NULL) {
    if (r->k != YN_MAP) return fail(c, yn_kline(rs, "Resources"), rp, "must be a mapping of logical id to resource");
    static const char *const rk[] = {"Type", "Properties", "DependsOn", "DeletionPolicy", "UpdateReplacePolicy", "Metadata", NULL};
    static const unsup_t ru[] = {{"Condition", "conditions are not supported yet"}, {NULL, NULL}};
    for (size_t i = 0; i < r->n; i++) {
      const char *id = r->keys[i], *ip = kpath(c, rp, id);
      const yn_t *res = r->v[i];
      for (const char *p = id; *p; p++)
        if (!isalnum((unsigned char)*p)) return fail(c, r->klines[i], ip, "a logical id must be alphanumeric");
      if (!*id) return fail(c, r->klines[i], ip, "empty logical id");
      if (check_map(c, res, ip, rk, ru) < 0) return -1;
      json_t *have = json_object_get(c->res, id);
      const char *type = NULL;
      if (get_str(c, res, "Type", ip, &type) < 0) return -1;
      if (!type && !have) return fail(c, r->klines[i], kpath(c, ip, "Type"), "missing");
      if (type && !ll_stack_type_find(type)) {
        char list[400];
        type_list(list, sizeof list);
        return fail(c, yn_kline(res, "Type"), kpath(c, ip, "Type"), "%s is not supported (supported: %s)", type, list);
      }
      const yn_t *props = yn_get(res, "Properties");
      if (props && props->k != YN_MAP && props->k != YN_NULL)
        return fail(c, yn_kline(res, "Properties"), kpath(c, ip, "Properties"), "must be a mapping");
      const yn_t *deps = yn_get(res, "DependsOn");
      if (deps && !yn_scalar(deps) && deps->k != YN_SEQ && deps->k != YN_NULL)
        return fail(c, yn_kline(res, "DependsOn"), kpath(c, ip, "DependsOn"), "must be a logical id or a list of them");
      json_t *j = yn_json(res);
      if (json_is_null(json_object_get(j, "Properties"))) json_object_del(j, "Properties");
      if (have) {
        const char *ht = json_string_value(json_object_get(have, "Type"));
        if (type && ht && strcmp(type, ht) != 0) {
          json_decref(j);
          return fail(c, yn_kline(res, "Type"), kpath(c, ip, "Type"), "%s: %s is generated as a %s", type, id, ht);
        }
        deep_merge(have, j);
        json_decref(j);
      } else {
        add_res(c, c->res, id, j, r->klines[i]);
      }
    }
  }
  const yn_t *o = yn_get(rs, "Outputs");
  const char *op = kpath(c, path, "Outputs");
  if (o && o->k != YN_NULL) {
    if (o->k != YN_MAP) return fail(c, yn_kline(rs, "Outputs"), op, "must be a mapping");
    static const char *const ok[] = {"Value", "Description", "Export", NULL};
    static const unsup_t ou[] = {{"Condition", "conditions are not supported yet"}, {NULL, NULL}};
    for (size_t i = 0; i < o->n; i++) {
      const char *ip = kpath(c, op, o->keys[i]);
      if (check_map(c, o->v[i], ip, ok, ou) < 0) return -1;
      if (!yn_get(o->v[i], "Value")) return fail(c, o->klines[i], kpath(c, ip, "Value"), "missing");
      json_object_set_new(outputs, o->keys[i], yn_json(o->v[i]));
    }
  }
  return 0;
}

/* ---- reference checks --------------------------------------------------------------------- */

static bool is_pseudo(const char *id) {
  static const char *const pseudo[] = {"AWS::Region", "AWS::AccountId", "AWS::Partition", "AWS::StackName",
                                       "AWS::StackId", "AWS::URLSuffix", "AWS::NoValue", "AWS::NotificationARNs", NULL};
  for (size_t i = 0; pseudo[i]; i++)
    if (strcmp(pseudo[i], id) == 0) return true;
  return false;
}

static int missing_ref(ctx_t *c, int line, const char *path, const char *what, const char *id) {
  const char *s = suggest_json(id, c->res);
  char hint[200] = "";
  if (s) snprintf(hint, sizeof hint, " (did you mean %s?)", s);
  if (strncmp(id, "AWS::", 5) == 0) return fail(c, line, path, "%s refers to %s, which is not a pseudo parameter", what, id);
  return fail(c, line, path, "%s refers to %s, which is not a resource of this stack%s", what, id, hint);
}

static int check_getatt(ctx_t *c, int line, const char *path, const char *id, const char *attr, const char *how) {
  json_t *r = json_object_get(c->res, id);
  if (!r) return missing_ref(c, line, path, how, id);
  const char *tn = json_string_value(json_object_get(r, "Type"));
  const ll_stack_type_t *t = ll_stack_type_find(tn);
  if (!t) return 0; /* checked where the resource is defined */
  if (ll_stack_type_has_attr(t, attr)) return 0;
  char list[200] = "";
  size_t off = 0;
  for (const char *const *a = t->attrs; *a && off < sizeof list; a++)
    off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", off ? ", " : "", *a);
  if (!list[0]) snprintf(list, sizeof list, "none");
  return fail(c, line, path, "Fn::GetAtt [%s, %s]: %s has no attribute %s (it has: %s)", id, attr, tn, attr, list);
}

static int check_ref_id(ctx_t *c, int line, const char *path, const char *id, const char *how) {
  if (is_pseudo(id) || json_object_get(c->res, id)) return 0;
  return missing_ref(c, line, path, how, id);
}

/* The ${X} and ${X.Attr} references of a Fn::Sub string; names in vars are the Sub's own. */
static int check_sub(ctx_t *c, int line, const char *path, const char *s, const yn_t *vars) {
  for (const char *p = strstr(s, "${"); p; p = strstr(p, "${")) {
    p += 2;
    if (*p == '!') continue;
    const char *e = strchr(p, '}');
    if (!e) return 0;
    char *name = trim(c, p, (size_t)(e - p));
    p = e + 1;
    if (vars && yn_index(vars, name) >= 0) continue;
    if (is_pseudo(name)) continue;
    char *dot = strchr(name, '.');
    if (dot) {
      *dot = '\0';
      if (check_getatt(c, line, path, name, dot + 1, "Fn::Sub") < 0) return -1;
    } else if (check_ref_id(c, line, path, name, "Fn::Sub") < 0) {
      return -1;
    }
  }
  return 0;
}

static int check_refs(ctx_t *c, const yn_t *n, const char *path, int depth) {
  if (depth > MAX_DEPTH * 2) return 0;
  if (n->k == YN_MAP && n->n == 1) {
    const char *k = n->keys[0];
    const yn_t *v = n->v[0];
    if (strcmp(k, "Ref") == 0) {
      if (!yn_scalar(v)) return fail(c, n->line, path, "Ref needs a logical id");
      return check_ref_id(c, n->line, path, v->s, "Ref");
    }
    if (strcmp(k, "Fn::GetAtt") == 0) {
      const char *id, *attr;
      if (yn_scalar(v) && strchr(v->s, '.')) {
        char *dup = ar_strdup(c, v->s), *dot = strchr(dup, '.');
        *dot = '\0';
        id = dup;
        attr = dot + 1;
      } else if (v->k == YN_SEQ && v->n == 2 && yn_scalar(v->v[0]) && yn_scalar(v->v[1])) {
        id = v->v[0]->s;
        attr = v->v[1]->s;
      } else {
        return fail(c, n->line, path, "Fn::GetAtt needs [logicalId, attribute]");
      }
      return check_getatt(c, n->line, path, id, attr, "Fn::GetAtt");
    }
    if (strcmp(k, "Fn::Sub") == 0) {
      if (yn_scalar(v)) return check_sub(c, n->line, path, v->s, NULL);
      if (v->k == YN_SEQ && v->n == 2 && yn_scalar(v->v[0]) && v->v[1]->k == YN_MAP) {
        if (check_sub(c, n->line, path, v->v[0]->s, v->v[1]) < 0) return -1;
        return check_refs(c, v->v[1], path, depth + 1);
      }
      return fail(c, n->line, path, "Fn::Sub needs a string or [string, {variables}]");
    }
    for (size_t i = 0; unsupported_fns[i]; i++)
      if (strncmp(k, "Fn::", 4) == 0 && strcmp(k + 4, unsupported_fns[i]) == 0) return fail(c, n->line, path, "%s is not supported", k);
  }
  for (size_t i = 0; (n->k == YN_MAP || n->k == YN_SEQ) && i < n->n; i++) {
    const char *cp = n->k == YN_MAP ? kpath(c, path, n->keys[i]) : ipath(c, path, i);
    if (check_refs(c, n->v[i], cp, depth + 1) < 0) return -1;
  }
  return 0;
}

/* Logical ids a resource depends on: DependsOn, Ref, Fn::GetAtt, Fn::Sub. */
static void deps_of(json_t *j, json_t *out, int depth) {
  if (depth > 200) return;
  if (json_is_object(j)) {
    json_t *r = json_object_get(j, "Ref");
    if (json_object_size(j) == 1 && json_is_string(r)) {
      json_object_set_new(out, json_string_value(r), json_true());
      return;
    }
    json_t *g = json_object_get(j, "Fn::GetAtt");
    if (json_object_size(j) == 1 && json_is_array(g) && json_is_string(json_array_get(g, 0))) {
      json_object_set_new(out, json_string_value(json_array_get(g, 0)), json_true());
      return;
    }
    json_t *s = json_object_get(j, "Fn::Sub");
    if (json_object_size(j) == 1 && s) {
      const char *str = json_string_value(json_is_array(s) ? json_array_get(s, 0) : s);
      for (const char *p = str ? strstr(str, "${") : NULL; p; p = strstr(p, "${")) {
        p += 2;
        const char *e = strpbrk(p, ".}");
        if (!e || *p == '!') continue;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(e - p < 255 ? e - p : 255), p);
        json_object_set_new(out, name, json_true());
      }
      if (json_is_array(s)) deps_of(json_array_get(s, 1), out, depth + 1);
      return;
    }
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v) deps_of(v, out, depth + 1);
  } else if (json_is_array(j)) {
    size_t i;
    json_t *v;
    json_array_foreach(j, i, v) deps_of(v, out, depth + 1);
  }
}

static int resource_line(ctx_t *c, const char *id) { return (int)json_integer_value(json_object_get(c->reslines, id)); }

/* DFS over the dependency graph; state: 1 on the stack, 2 done. */
static int dfs(ctx_t *c, json_t *graph, json_t *state, const char *id, const char **stack, int depth) {
  json_object_set_new(state, id, json_integer(1));
  stack[depth] = id;
  json_t *deps = json_object_get(graph, id);
  const char *d;
  json_t *v;
  json_object_foreach(deps, d, v) {
    if (!json_object_get(graph, d)) continue;
    json_int_t st = json_integer_value(json_object_get(state, d));
    if (st == 1) {
      int from = depth;
      while (from > 0 && strcmp(stack[from], d) != 0) from--;
      char cyc[400] = "";
      size_t off = 0;
      for (int i = from; i <= depth && off < sizeof cyc; i++) off += (size_t)snprintf(cyc + off, sizeof cyc - off, "%s -> ", stack[i]);
      if (off < sizeof cyc) snprintf(cyc + off, sizeof cyc - off, "%s", d);
      const char *first = stack[from];
      return fail(c, resource_line(c, first), kpath(c, "resources.Resources", first), "dependency cycle: %s", cyc);
    }
    if (st == 0 && depth + 1 < 4096 && dfs(c, graph, state, d, stack, depth + 1) < 0) return -1;
  }
  json_object_set_new(state, id, json_integer(2));
  return 0;
}

static int check_graph(ctx_t *c, const yn_t *user_res) {
  json_t *graph = json_object();
  const char *id;
  json_t *r;
  int rc = 0;
  json_object_foreach(c->res, id, r) {
    json_t *deps = json_object();
    deps_of(json_object_get(r, "Properties"), deps, 0);
    json_t *dep = json_object_get(r, "DependsOn");
    if (json_is_string(dep)) json_object_set_new(deps, json_string_value(dep), json_true());
    size_t i;
    json_t *v;
    json_array_foreach(dep, i, v) if (json_is_string(v)) json_object_set_new(deps, json_string_value(v), json_true());
    json_object_set_new(graph, id, deps);
  }
  /* DependsOn of the user's resources must name resources */
  for (size_t i = 0; user_res && user_res->k == YN_MAP && i < user_res->n && rc == 0; i++) {
    const yn_t *d = yn_get(user_res->v[i], "DependsOn");
    const char *dp = kpath(c, kpath(c, "resources.Resources", user_res->keys[i]), "DependsOn");
    for (size_t j = 0; d && (yn_scalar(d) || d->k == YN_SEQ) && j < (d->k == YN_SEQ ? d->n : 1) && rc == 0; j++) {
      const yn_t *x = d->k == YN_SEQ ? d->v[j] : d;
      if (!yn_scalar(x)) rc = fail(c, x->line, dp, "must be a logical id");
      else if (!json_object_get(c->res, x->s)) rc = missing_ref(c, x->line, dp, "DependsOn", x->s);
    }
  }
  json_t *state = json_object();
  const char **stack = ll_calloc(4097, sizeof *stack);
  json_object_foreach(c->res, id, r) {
    if (rc < 0) break;
    if (json_integer_value(json_object_get(state, id)) == 0) rc = dfs(c, graph, state, id, stack, 0);
  }
  free(stack);
  json_decref(state);
  json_decref(graph);
  return rc;
}

/* ---- the compile -------------------------------------------------------------------------- */

static int compile(ctx_t *c, const char *text, size_t len, ll_sls_result_t *out) {
  int eline = 0;
  char emsg[256];
  yn_t *root = NULL;
  int rc = parse_yaml(c, text, len, &root, &eline, emsg, sizeof emsg);
  if (rc > 0) return fail(c, eline, NULL, "%s", emsg);
  if (rc < 0) return -1;
  if (!root || root->k != YN_MAP) return fail(c, root ? root->line : 1, NULL, "a serverless.yml must be a mapping");
  c->root = root;
  if (resolve(c, &c->root, "") < 0) return -1;
  root = c->root;
  if (root->k != YN_MAP) return fail(c, root->line, NULL, "a serverless.yml must be a mapping");

  static const char *const top[] = {"service", "frameworkVersion", "provider", "functions", "layers", "resources", "custom",
                                    "package", "plugins", "configValidationMode", "useDotenv", "variablesResolutionMode", NULL};
  if (check_map(c, root, "", top, NULL) < 0) return -1;
  const yn_t *plugins = yn_get(root, "plugins");
  if (plugins && plugins->k != YN_NULL && !(plugins->k == YN_SEQ && plugins->n == 0))
    return fail(c, yn_kline(root, "plugins"), "plugins", "plugins are not supported");
  const yn_t *svc = yn_get(root, "service");
  if (svc && svc->k == YN_MAP) {
    static const char *const sk[] = {"name", NULL};
    if (check_map(c, svc, "service", sk, NULL) < 0) return -1;
    svc = yn_get(svc, "name");
  }
  if (!svc || !yn_scalar(svc) || !svc->s[0]) return fail(c, svc ? svc->line : 1, "service", "missing (the service name)");
  c->service = svc->s;
  for (const char *p = c->service; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '-')
      return fail(c, svc->line, "service", "%s: only letters, digits and '-' are allowed", c->service);
  rc = 0;
  c->stage = stage_of(c, "provider.stage", &rc);
  if (rc == 0) c->region = region_of(c, "provider.region", &rc);
  if (rc < 0) return -1;

  prov_t pv;
  rc = do_provider(c, yn_get(root, "provider"), &pv);
  json_t *loggroups = json_object(), *fns = json_object(), *events = json_object(), *layers = json_object(), *outputs = json_object();
  svcpkg_t sp = {.patterns = json_array()};
  const yn_t *pkg = yn_get(root, "package");
  if (rc == 0 && pkg && pkg->k != YN_NULL) {
    static const char *const pk[] = {"patterns", "individually", "artifact", "excludeDevDependencies", NULL};
    bool edd;
    if (check_map(c, pkg, "package", pk, NULL) < 0 || get_bool(c, pkg, "individually", "package", &sp.individually, NULL) < 0 ||
        get_str(c, pkg, "artifact", "package", &sp.artifact) < 0 || patterns_into(c, pkg, "package", sp.patterns) < 0 ||
        get_bool(c, pkg, "excludeDevDependencies", "package", &edd, NULL) < 0)
      rc = -1;
    sp.artifact_line = yn_kline(pkg, "artifact");
  }
  if (rc == 0 && !pv.bucket) {
    add_res(c, c->res, "ServerlessDeploymentBucket", deployment_bucket(), 1);
    add_res(c, c->res, "ServerlessDeploymentBucketPolicy", deployment_bucket_policy(), 1);
  }
  json_object_set_new(outputs, "ServerlessDeploymentBucketName",
                      json_pack("{s:o,s:{s:s}}", "Value", pv.bucket ? json_string(pv.bucket) : ref("ServerlessDeploymentBucket"), "Export",
                                "Name", ar_sprintf(c, "sls-%s-%s-ServerlessDeploymentBucketName", c->service, c->stage)));
  const yn_t *ls = yn_get(root, "layers");
  if (rc == 0 && ls && ls->k != YN_NULL && ls->k != YN_MAP) rc = fail(c, yn_kline(root, "layers"), "layers", "must be a mapping");
  for (size_t i = 0; rc == 0 && ls && ls->k == YN_MAP && i < ls->n; i++)
    rc = do_layer(c, &pv, ls->keys[i], ls->klines[i], ls->v[i], layers, outputs);
  size_t nlayer_arts = c->narts;
  const yn_t *fs = yn_get(root, "functions");
  if (rc == 0 && fs && fs->k != YN_NULL && fs->k != YN_MAP) rc = fail(c, yn_kline(root, "functions"), "functions", "must be a mapping");
  for (size_t i = 0; rc == 0 && fs && fs->k == YN_MAP && i < fs->n; i++)
    rc = do_function(c, &pv, &sp, fs->keys[i], fs->klines[i], fs->v[i], loggroups, fns, events);
  if (rc == 0) {
    /* Resources in Serverless's order: deployment bucket, layers, log groups, role, functions,
     * events (S3 buckets for events are already in c->res, after the deployment bucket) */
    json_t *ordered = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(c->res, k, v) if (strncmp(k, "ServerlessDeployment", 20) == 0) json_object_set(ordered, k, v);
    json_object_update(ordered, layers);
    json_object_update(ordered, loggroups);
    if (c->need_role) {
      add_res(c, ordered, "IamRoleLambdaExecution", iam_role(c, &pv, fns), pv.n ? pv.n->line : 1);
    }
    json_object_update(ordered, fns);
    json_object_update(ordered, events);
    json_object_foreach(c->res, k, v) if (!json_object_get(ordered, k)) json_object_set(ordered, k, v);
    json_decref(c->res);
    c->res = ordered;
  }
  json_decref(loggroups);
  json_decref(fns);
  json_decref(events);
  json_decref(layers);
  json_decref(pv.statements);
  json_decref(sp.patterns);

  const yn_t *res = yn_get(root, "resources");
  const yn_t *user_res = NULL;
  if (rc == 0 && res && res->k == YN_SEQ) { /* resources: [ ${file(a.yml)}, {...} ] */
    for (size_t i = 0; rc == 0 && i < res->n; i++) rc = do_resources_map(c, res->v[i], ipath(c, "resources", i), outputs);
  } else if (rc == 0 && res) {
    rc = do_resources_map(c, res, "resources", outputs);
    user_res = yn_get(res, "Resources");
  }
  /* references: the user's parts, against the final template */
  static const char *const checked[] = {"provider", "functions", "layers", "resources", NULL};
  for (size_t i = 0; rc == 0 && checked[i]; i++) {
    const yn_t *n = yn_get(root, checked[i]);
    if (n) rc = check_refs(c, n, checked[i], 0);
  }
  for (size_t i = 0; rc == 0 && i < c->nroles; i++) {
    json_t *r = json_object_get(c->res, c->roles[i].id);
    if (!r) rc = missing_ref(c, c->roles[i].line, c->roles[i].path, "role", c->roles[i].id);
    else if (strcmp(json_string_value(json_object_get(r, "Type")) ? json_string_value(json_object_get(r, "Type")) : "", "AWS::IAM::Role") != 0)
      rc = fail(c, c->roles[i].line, c->roles[i].path, "%s is not an AWS::IAM::Role", c->roles[i].id);
  }
  if (rc == 0 && res && res->k == YN_SEQ) {
    for (size_t i = 0; rc == 0 && i < res->n; i++)
      if (res->v[i]->k == YN_MAP) rc = check_graph(c, yn_get(res->v[i], "Resources"));
  } else if (rc == 0) {
    rc = check_graph(c, user_res);
  }
  if (rc < 0) {
    json_decref(outputs);
    return -1;
  }

  out->template = json_pack("{s:s,s:s,s:O,s:o}", "AWSTemplateFormatVersion", "2010-09-09", "Description",
                            "The AWS CloudFormation template for this Serverless application", "Resources", c->res, "Outputs", outputs);
  /* function artifacts first, then layers (they were collected layers first) */
  ll_sls_artifact_t *arts = ll_calloc(c->narts + 1, sizeof *arts);
  size_t n = 0;
  for (size_t i = nlayer_arts; i < c->narts; i++) arts[n++] = c->arts[i];
  for (size_t i = 0; i < nlayer_arts; i++) arts[n++] = c->arts[i];
  for (size_t i = 0; i < n; i++) {
    json_t *props = json_object_get(json_object_get(c->res, arts[i].logical_id), "Properties");
    arts[i].code = json_object_get(props, i < c->narts - nlayer_arts ? "Code" : "Content");
  }
  free(c->arts);
  c->arts = NULL;
  out->artifacts = arts;
  out->nartifacts = n;
  c->narts = 0;
  out->service = ll_strdup(c->service);
  out->stage = ll_strdup(c->stage);
  out->region = ll_strdup(c->region);
  out->stack_name = ll_sprintf("%s-%s", c->service, c->stage);
  out->functions = json_incref(c->functions);
  out->warnings = c->warnings;
  out->nwarnings = c->nwarnings;
  c->warnings = NULL;
  c->nwarnings = 0;
  return 0;
}

static void free_artifacts(ll_sls_artifact_t *a, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(a[i].logical_id);
    free(a[i].path);
    for (char **p = a[i].patterns; p && *p; p++) free(*p);
    free(a[i].patterns);
  }
  free(a);
}

int ll_sls_compile_text(const char *text, size_t len, const char *display_name, const char *base_dir,
                        const ll_sls_opts_t *opts, ll_sls_result_t *out, ll_err_t *err) {
  memset(out, 0, sizeof *out);
  ll_err_t scratch = LL_ERR_INIT;
  ctx_t c = {.disp = display_name ? display_name : "serverless.yml", .base_dir = base_dir ? base_dir : ".", .err = err ? err : &scratch};
  if (opts) c.opts = *opts;
  c.err->code = 0;
  c.err->msg[0] = '\0';
  char *real = realpath(c.base_dir, NULL);
  if (!real) {
    ll_err_set(c.err, errno, "%s: %s", c.base_dir, strerror(errno));
    return -1;
  }
  c.base_real = ar_strdup(&c, real);
  free(real);
  c.res = json_object();
  c.reslines = json_object();
  c.functions = json_object();
  c.kinesis_arns = json_array();
  c.dest_stmts = json_array();
  int rc = compile(&c, text, len, out);
  if (rc < 0) {
    ll_sls_result_free(out);
    if (!c.err->msg[0]) ll_err_set(c.err, EINVAL, "%s: invalid", c.disp);
  }
  json_decref(c.res);
  json_decref(c.reslines);
  json_decref(c.functions);
  json_decref(c.kinesis_arns);
  json_decref(c.dest_stmts);
  free_artifacts(c.arts, c.narts);
  free(c.roles);
  for (size_t i = 0; i < c.nwarnings; i++) free(c.warnings[i]);
  free(c.warnings);
  for (size_t i = 0; i < c.nallocs; i++) free(c.allocs[i]);
  free(c.allocs);
  return rc < 0 ? -1 : 0;
}

int ll_sls_compile(const char *path, const ll_sls_opts_t *opts, ll_sls_result_t *out, ll_err_t *err) {
  memset(out, 0, sizeof *out);
  char *text;
  size_t len;
  int eno;
  if (read_file(path, &text, &len, &eno) < 0) {
    ll_err_set(err, eno, "%s: %s", path, strerror(eno));
    return -1;
  }
  const char *slash = strrchr(path, '/');
  char *dir = slash ? ll_strndup(path, slash == path ? 1 : (size_t)(slash - path)) : ll_strdup(".");
  int rc = ll_sls_compile_text(text, len, slash ? slash + 1 : path, dir, opts, out, err);
  free(dir);
  free(text);
  return rc;
}

void ll_sls_result_free(ll_sls_result_t *r) {
  json_decref(r->template);
  free(r->service);
  free(r->stage);
  free(r->region);
  free(r->stack_name);
  free_artifacts(r->artifacts, r->nartifacts);
  for (size_t i = 0; i < r->nwarnings; i++) free(r->warnings[i]);
  free(r->warnings);
  json_decref(r->functions);
  memset(r, 0, sizeof *r);
}

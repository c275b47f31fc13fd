/* Intrinsic functions and pseudo parameters (stack_int.h), as CloudFormation evaluates them:
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/encoding.h"
#include "core/mem.h"
#include "stack/stack_int.h"

static const char *const pseudo[] = {"AWS::AccountId", "AWS::NotificationARNs", "AWS::NoValue",
                                     "AWS::Partition", "AWS::Region",          "AWS::StackId",
                                     "AWS::StackName", "AWS::URLSuffix",       NULL};

bool ll__stack_pseudo(const char *name) {
  for (const char *const *p = pseudo; name && *p; p++)
    if (strcmp(*p, name) == 0) return true;
  return false;
}

/* The single key of an intrinsic-function object ({"Ref": ...}), or NULL. */
static const char *fn_name(const json_t *v) {
  if (!json_is_object(v) || json_object_size(v) != 1) return NULL;
  const char *k = json_object_iter_key(json_object_iter((json_t *)v));
  return strcmp(k, "Ref") == 0 || strncmp(k, "Fn::", 4) == 0 ? k : NULL;
}

/* ${...} references of a Fn::Sub string: calls fn(ud, name, len) for each (not ${!...}). */
static int sub_vars(const char *s, int (*fn)(void *ud, const char *name, size_t len), void *ud) {
  for (const char *p = s; (p = strstr(p, "${"));) {
    const char *end = strchr(p + 2, '}');
    if (!end) break;
    if (p[2] != '!') {
      int rc = fn(ud, p + 2, (size_t)(end - p - 2));
      if (rc) return rc;
    }
    p = end + 1;
  }
  return 0;
}

typedef struct refs_walk {
  ll_stack_ref_fn fn;
  void *ud;
  const json_t *vars; /* Fn::Sub's own variable map: its names are not resources */
} refs_walk_t;

static int sub_ref(void *ud, const char *name, size_t len) {
  refs_walk_t *w = ud;
  char buf[512];
  snprintf(buf, sizeof buf, "%.*s", (int)len, name);
  if (w->vars && json_object_get(w->vars, buf)) return 0;
  if (ll__stack_pseudo(buf)) return 0;
  char *dot = strchr(buf, '.');
  if (dot) *dot = 0;
  return w->fn(w->ud, buf, dot ? dot + 1 : NULL);
}

static int refs(const json_t *v, refs_walk_t *w) {
  const char *f = fn_name(v);
  if (f) {
    json_t *a = json_object_get(v, f);
    if (strcmp(f, "Ref") == 0) {
      const char *t = json_string_value(a);
      return t && !ll__stack_pseudo(t) ? w->fn(w->ud, t, NULL) : 0;
    }
    if (strcmp(f, "Fn::GetAtt") == 0) {
      if (json_is_array(a) && json_is_string(json_array_get(a, 0)) &&
          json_is_string(json_array_get(a, 1)))
        return w->fn(w->ud, json_string_value(json_array_get(a, 0)),
                     json_string_value(json_array_get(a, 1)));
      if (json_is_string(a)) { /* "Resource.Attr" */
        char buf[512];
        snprintf(buf, sizeof buf, "%s", json_string_value(a));
        char *dot = strchr(buf, '.');
        if (dot) *dot = 0;
        return w->fn(w->ud, buf, dot ? dot + 1 : "");
      }
      return 0;
    }
    if (strcmp(f, "Fn::Sub") == 0) {
      const char *s = json_string_value(json_is_array(a) ? json_array_get(a, 0) : a);
      const json_t *vars = json_is_array(a) ? json_array_get(a, 1) : NULL;
      refs_walk_t inner = {w->fn, w->ud, vars};
      int rc = s ? sub_vars(s, sub_ref, &inner) : 0;
      if (rc || !vars) return rc;
      return refs(vars, w);
    }
  }
  if (json_is_object(v)) {
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x) {
      int rc = refs(x, w);
      if (rc) return rc;
    }
  } else if (json_is_array(v)) {
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
      int rc = refs(x, w);
      if (rc) return rc;
    }
  }
  return 0;
}

int ll__stack_refs(const json_t *v, ll_stack_ref_fn fn, void *ud) {
  refs_walk_t w = {fn, ud, NULL};
  return refs(v, &w);
}

/* ---- resolution ------------------------------------------------------------------------------ */

static int pseudo_value(const char *name, const ll_stack_lookup_t *l, json_t **out) {
  if (strcmp(name, "AWS::NoValue") == 0) {
    *out = NULL;
    return 0;
  }
  const char *v = strcmp(name, "AWS::Region") == 0      ? l->region
                  : strcmp(name, "AWS::AccountId") == 0 ? l->account
                  : strcmp(name, "AWS::Partition") == 0 ? "aws"
                  : strcmp(name, "AWS::StackName") == 0 ? l->stack_name
                  : strcmp(name, "AWS::StackId") == 0   ? l->stack_id
                  : strcmp(name, "AWS::URLSuffix") == 0 ? "amazonaws.com"
                                                        : NULL;
  *out = v ? json_string(v) : json_array(); /* AWS::NotificationARNs: none */
  return 0;
}

static int ref_value(const char *name, const ll_stack_lookup_t *l, json_t **out, ll_err_t *err) {
  if (ll__stack_pseudo(name)) return pseudo_value(name, l, out);
  const char *phys = l->ref(l->ud, name);
  if (!phys)
    return ll_err_set(err, LL_STACK_INVALID,
                      "Template format error: Unresolved resource dependencies [%s] in the "
                      "Resources block of the template", name);
  *out = json_string(phys);
  return 0;
}

static int getatt_value(const char *res, const char *attr, const ll_stack_lookup_t *l,
                        json_t **out, ll_err_t *err) {
  json_t *v = l->getatt(l->ud, res, attr);
  if (!v)
    return ll_err_set(err, LL_STACK_INVALID,
                      "Template error: resource %s does not support attribute type %s in "
                      "Fn::GetAtt", res, attr);
  *out = json_incref(v);
  return 0;
}

/* A resolved value as text for Fn::Join and Fn::Sub (strings, numbers and booleans). */
static bool as_text(const json_t *v, ll_buf_t *b) {
  if (json_is_string(v)) {
    ll_buf_puts(b, json_string_value(v));
  } else if (json_is_integer(v)) {
    ll_buf_printf(b, "%lld", (long long)json_integer_value(v));
  } else if (json_is_real(v)) {
    ll_buf_printf(b, "%.17g", json_real_value(v));
  } else if (json_is_boolean(v)) {
    ll_buf_puts(b, json_is_true(v) ? "true" : "false");
  } else {
    return false;
  }
  return true;
}

static int resolve(const json_t *v, const ll_stack_lookup_t *l, json_t **out, ll_err_t *err,
                   int depth);

static int sub_string(const char *s, const json_t *vars, const ll_stack_lookup_t *l, json_t **out,
                      ll_err_t *err, int depth) {
  ll_buf_t b = LL_BUF_INIT;
  for (const char *p = s; *p;) {
    const char *open = strstr(p, "${");
    const char *end = open ? strchr(open + 2, '}') : NULL;
    if (!open || !end) {
      ll_buf_puts(&b, p);
      break;
    }
    ll_buf_append(&b, p, (size_t)(open - p));
    p = end + 1;
    if (open[2] == '!') { /* ${!Literal} is the text ${Literal} */
      ll_buf_puts(&b, "${");
      ll_buf_append(&b, open + 3, (size_t)(end - open - 3) + 1);
      continue;
    }
    char name[512];
    snprintf(name, sizeof name, "%.*s", (int)(end - open - 2), open + 2);
    json_t *val = NULL;
    int rc;
    json_t *given = vars ? json_object_get(vars, name) : NULL;
    char *dot = strchr(name, '.');
    if (given) {
      rc = resolve(given, l, &val, err, depth + 1);
    } else if (dot && !ll__stack_pseudo(name)) {
      *dot = 0;
      rc = getatt_value(name, dot + 1, l, &val, err);
    } else {
      rc = ref_value(name, l, &val, err);
    }
    if (rc < 0) {
      ll_buf_free(&b);
      return -1;
    }
    bool ok = val && as_text(val, &b);
    json_decref(val);
    if (!ok) {
      ll_buf_free(&b);
      return ll_err_set(err, LL_STACK_INVALID,
                        "Template error: variable ${%.*s} in Fn::Sub must resolve to a string",
                        (int)(end - open - 2), open + 2);
    }
  }
  ll_buf_append(&b, "", 1);
  *out = json_string(b.data);
  ll_buf_free(&b);
  return 0;
}

static int bad_fn(ll_err_t *err, const char *f, const char *what) {
  return ll_err_set(err, LL_STACK_INVALID, "Template error: %s %s", f, what);
}

static int resolve_fn(const char *f, const json_t *a, const ll_stack_lookup_t *l, json_t **out,
                      ll_err_t *err, int depth) {
  if (strcmp(f, "Ref") == 0) {
    if (!json_is_string(a)) return bad_fn(err, "Ref", "takes the name of a resource or parameter");
    return ref_value(json_string_value(a), l, out, err);
  }
  if (strcmp(f, "Fn::GetAtt") == 0) {
    if (json_is_string(a)) {
      char buf[512];
      snprintf(buf, sizeof buf, "%s", json_string_value(a));
      char *dot = strchr(buf, '.');
      if (!dot) return bad_fn(err, "Fn::GetAtt", "takes \"Resource.Attribute\" or [Resource, Attribute]");
      *dot = 0;
      return getatt_value(buf, dot + 1, l, out, err);
    }
    if (!json_is_array(a) || json_array_size(a) != 2 || !json_is_string(json_array_get(a, 0)) ||
        !json_is_string(json_array_get(a, 1)))
      return bad_fn(err, "Fn::GetAtt", "takes [Resource, Attribute]");
    return getatt_value(json_string_value(json_array_get(a, 0)),
                        json_string_value(json_array_get(a, 1)), l, out, err);
  }
  if (strcmp(f, "Fn::Sub") == 0) {
    const json_t *s = json_is_array(a) ? json_array_get(a, 0) : a;
    const json_t *vars = json_is_array(a) ? json_array_get(a, 1) : NULL;
    if (!json_is_string(s) || (json_is_array(a) && (json_array_size(a) != 2 || !json_is_object(vars))))
      return bad_fn(err, "Fn::Sub", "takes a string or [string, {variables}]");
    return sub_string(json_string_value(s), vars, l, out, err, depth);
  }
  /* The rest take resolved arguments. */
  json_t *args = NULL;
  if (resolve(a, l, &args, err, depth + 1) < 0) return -1;
  int rc = 0;
  if (strcmp(f, "Fn::Join") == 0) {
    json_t *d = json_array_get(args, 0), *list = json_array_get(args, 1);
    if (!json_is_array(args) || json_array_size(args) != 2 || !json_is_string(d) ||
        !json_is_array(list)) {
      rc = bad_fn(err, "Fn::Join", "takes [delimiter, [values]]");
    } else {
      ll_buf_t b = LL_BUF_INIT;
      for (size_t i = 0; i < json_array_size(list) && rc == 0; i++) {
        if (i) ll_buf_puts(&b, json_string_value(d));
        if (!as_text(json_array_get(list, i), &b))
          rc = bad_fn(err, "Fn::Join", "values must be strings");
      }
      ll_buf_append(&b, "", 1);
      if (rc == 0) *out = json_string(b.data);
      ll_buf_free(&b);
    }
  } else if (strcmp(f, "Fn::Select") == 0) {
    json_t *ix = json_array_get(args, 0), *list = json_array_get(args, 1);
    long long i = json_is_integer(ix) ? json_integer_value(ix)
                  : json_is_string(ix) ? strtoll(json_string_value(ix), NULL, 10) : -1;
    if (!json_is_array(args) || json_array_size(args) != 2 || !json_is_array(list))
      rc = bad_fn(err, "Fn::Select", "takes [index, [values]]");
    else if (i < 0 || (size_t)i >= json_array_size(list))
      rc = bad_fn(err, "Fn::Select", "cannot select nonexistent value at index");
    else
      *out = json_incref(json_array_get(list, (size_t)i));
  } else if (strcmp(f, "Fn::Split") == 0) {
    json_t *d = json_array_get(args, 0), *s = json_array_get(args, 1);
    if (!json_is_array(args) || json_array_size(args) != 2 || !json_is_string(d) ||
        !json_is_string(s) || !*json_string_value(d)) {
      rc = bad_fn(err, "Fn::Split", "takes [delimiter, string]");
    } else {
      json_t *list = json_array();
      const char *delim = json_string_value(d), *p = json_string_value(s);
      size_t dl = strlen(delim);
      for (const char *q; (q = strstr(p, delim)); p = q + dl)
        json_array_append_new(list, json_stringn(p, (size_t)(q - p)));
      json_array_append_new(list, json_string(p));
      *out = list;
    }
  } else if (strcmp(f, "Fn::GetAZs") == 0) {
    const char *r = json_string_value(args);
    if (!r) {
      rc = bad_fn(err, "Fn::GetAZs", "takes a region name or \"\"");
    } else {
      if (!*r) r = l->region;
      *out = json_array();
      for (char z = 'a'; z <= 'c'; z++) json_array_append_new(*out, json_sprintf("%s%c", r, z));
    }
  } else if (strcmp(f, "Fn::Base64") == 0) {
    const char *s = json_string_value(args);
    if (!s) {
      rc = bad_fn(err, "Fn::Base64", "takes a string");
    } else {
      char *enc = ll_base64_encode((const unsigned char *)s, strlen(s));
      *out = json_string(enc);
      free(enc);
    }
  } else {
    rc = ll_err_set(err, LL_STACK_INVALID,
                    "Template error: %s is not supported yet (supported: Ref, Fn::GetAtt, "
                    "Fn::Sub, Fn::Join, Fn::Select, Fn::Split, Fn::GetAZs, Fn::Base64)", f);
  }
  json_decref(args);
  return rc;
}

static int resolve(const json_t *v, const ll_stack_lookup_t *l, json_t **out, ll_err_t *err,
                   int depth) {
  if (depth > 64) return ll_err_set(err, LL_STACK_INVALID, "Template error: nested too deeply");
  const char *f = fn_name(v);
  if (f) return resolve_fn(f, json_object_get(v, f), l, out, err, depth);
  if (json_is_object(v)) {
    json_t *o = json_object();
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x) {
      json_t *r;
      if (resolve(x, l, &r, err, depth + 1) < 0) {
        json_decref(o);
        return -1;
      }
      if (r) json_object_set_new(o, k, r);
    }
    *out = o;
    return 0;
  }
  if (json_is_array(v)) {
    json_t *a = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
      json_t *r;
      if (resolve(x, l, &r, err, depth + 1) < 0) {
        json_decref(a);
        return -1;
      }
      if (r) json_array_append_new(a, r);
    }
    *out = a;
    return 0;
  }
  *out = json_incref((json_t *)v);
  return 0;
}

int ll__stack_resolve(const json_t *v, const ll_stack_lookup_t *l, json_t **out, ll_err_t *err) {
  return resolve(v, l, out, err, 0);
}

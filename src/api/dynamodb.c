/* DynamoDB's API (JSON 1.0, X-Amz-Target: DynamoDB_20120810.<Action>): tables and items on
 * src/table (storage), src/table/value (numbers, AttributeValues) and src/table/expr
 * (condition, update, key-condition and projection expressions). Every write that reads first
 * (conditions, updates, ReturnValues) runs in one SQLite transaction, so concurrent writers
 * never lose an update. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "api/api.h"
#include "core/clock.h"
#include "core/mem.h"
#include "core/random.h"
#include "table/expr.h"
#include "table/schema.h"
#include "table/table.h"
#include "table/value.h"

#define TYPE_PREFIX "com.amazonaws.dynamodb.v20120810#"
#define PAGE_BYTES (1u << 20) /* Query and Scan stop after 1 MB of items, as DynamoDB */

/* ---- answers ------------------------------------------------------------------------------- */

static void answer(ll_http_req_t *req, int status, char *body, size_t len) {
  char rid[37], hdr[256];
  ll_api_request_id(rid);
  /* DynamoDB signs its answers with a CRC32 that botocore checks when present */
  snprintf(hdr, sizeof hdr,
           "Content-Type: application/x-amz-json-1.0\r\nx-amzn-RequestId: %s\r\nx-amz-crc32: %lu\r\n",
           rid, crc32(0L, (const Bytef *)body, (uInt)len));
  ll_http_respond(req, status, hdr, body, len);
}

static void ddb_json(ll_http_req_t *req, json_t *doc) {
  char *body = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  answer(req, 200, body, strlen(body));
}

static void ddb_error_doc(ll_http_req_t *req, int status, const char *code, json_t *extra,
                          const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void ddb_error_doc(ll_http_req_t *req, int status, const char *code, json_t *extra,
                          const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  char type[160];
  snprintf(type, sizeof type, "%s%s", strchr(code, '#') ? "" : TYPE_PREFIX, code);
  json_t *doc = json_pack("{s:s,s:s}", "__type", type, "message", msg);
  if (extra) json_object_update(doc, extra);
  json_decref(extra);
  char *body = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  answer(req, status, body, strlen(body));
}

#define ddb_error(req, status, code, ...) ddb_error_doc(req, status, code, NULL, __VA_ARGS__)
#define validation(req, ...) ddb_error(req, 400, "ValidationException", __VA_ARGS__)

static ll_tables_t *tables(ll_http_req_t *req) { return ((ll_api_ctx_t *)req->listener_data)->tables; }

static void store_error(ll_http_req_t *req, const ll_err_t *err) {
  if (err->code == LL_TB_NOT_FOUND)
    ddb_error(req, 400, "ResourceNotFoundException", "%s", err->msg);
  else if (err->code == LL_TB_EXISTS)
    ddb_error(req, 400, "ResourceInUseException", "%s", err->msg);
  else
    ddb_error(req, 500, "InternalServerError", "%s", err->msg);
}

/* ---- tables -------------------------------------------------------------------------------- */

/* The table named in the body, or answers (ValidationException / ResourceNotFoundException). */
static int need_table(ll_http_req_t *req, json_t *in, ll_table_info_t *info) {
  const char *name = json_string_value(json_object_get(in, "TableName"));
  if (!name) {
    validation(req, "1 validation error detected: Value null at 'tableName' failed to satisfy "
                    "constraint: Member must not be null");
    return -1;
  }
  if (!ll_table_name_ok(name)) {
    validation(req, "1 validation error detected: Value '%s' at 'tableName' failed to satisfy "
                    "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ "
                    "and have length between 3 and 255", name);
    return -1;
  }
  ll_err_t err = LL_ERR_INIT;
  if (ll_table_get(tables(req), name, info, &err) < 0) {
    ddb_error(req, 400, "ResourceNotFoundException", "Requested resource not found");
    return -1;
  }
  return 0;
}

/* The stored description with the live counts. */
static json_t *described(ll_http_req_t *req, const ll_table_info_t *info) {
  json_t *d = json_deep_copy(info->desc);
  int64_t items, bytes;
  ll_table_counts(tables(req), info->id, &items, &bytes);
  json_object_set_new(d, "ItemCount", json_integer(items));
  json_object_set_new(d, "TableSizeBytes", json_integer(bytes));
  return d;
}

static void create_table(ll_http_req_t *req, json_t *in) {
  ll_api_ctx_t *ctx = req->listener_data;
  json_t *d = NULL;
  ll_err_t err = LL_ERR_INIT;
  if (ll_table_create_from(tables(req), in, ll_api_region(req), ll_engine_account(ctx->engine), &d,
                           &err) < 0) {
    if (err.code == LL_TB_VALIDATION)
      validation(req, "%s", err.msg);
    else
      store_error(req, &err);
    return;
  }
  json_t *out = json_deep_copy(d);
  json_object_set_new(out, "ItemCount", json_integer(0));
  json_object_set_new(out, "TableSizeBytes", json_integer(0));
  json_decref(d);
  ddb_json(req, json_pack("{s:o}", "TableDescription", out));
}

static void describe_table(ll_http_req_t *req, json_t *in) {
  ll_table_info_t info;
  if (need_table(req, in, &info) < 0) return;
  ddb_json(req, json_pack("{s:o}", "Table", described(req, &info)));
  ll_table_info_free(&info);
}

static void delete_table(ll_http_req_t *req, json_t *in) {
  ll_table_info_t info;
  if (need_table(req, in, &info) < 0) return;
  json_t *d = described(req, &info);
  json_object_set_new(d, "TableStatus", json_string("DELETING"));
  ll_err_t err = LL_ERR_INIT;
  if (ll_table_delete(tables(req), info.name, &err) < 0) {
    json_decref(d);
    store_error(req, &err);
  } else {
    ddb_json(req, json_pack("{s:o}", "TableDescription", d));
  }
  ll_table_info_free(&info);
}

static void update_table(ll_http_req_t *req, json_t *in) {
  ll_table_info_t info;
  if (need_table(req, in, &info) < 0) return;
  ll_table_info_free(&info);
  ll_err_t err = LL_ERR_INIT;
  if (ll_table_update_from(tables(req), in, &err) < 0) {
    if (err.code == LL_TB_VALIDATION)
      validation(req, "%s", err.msg);
    else
      store_error(req, &err);
    return;
  }
  if (need_table(req, in, &info) < 0) return;
  ddb_json(req, json_pack("{s:o}", "TableDescription", described(req, &info)));
  ll_table_info_free(&info);
}

static void list_tables(ll_http_req_t *req, json_t *in) {
  json_t *lim = json_object_get(in, "Limit");
  json_int_t limit = lim ? json_integer_value(lim) : 100;
  if (lim && (limit < 1 || limit > 100)) {
    validation(req, "1 validation error detected: Value '%lld' at 'limit' failed to satisfy "
                    "constraint: Member must have value less than or equal to 100",
               (long long)limit);
    return;
  }
  char **names;
  bool more;
  size_t n = ll_table_list(tables(req), json_string_value(json_object_get(in, "ExclusiveStartTableName")),
                           (size_t)limit, &names, &more);
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++) json_array_append_new(arr, json_string(names[i]));
  json_t *out = json_pack("{s:o}", "TableNames", arr);
  if (more && n) json_object_set_new(out, "LastEvaluatedTableName", json_string(names[n - 1]));
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  ddb_json(req, out);
}

/* ---- keys ---------------------------------------------------------------------------------- */

/* A primary key's encoded bytes (owned). */
typedef struct key {
  uint8_t *hk, *rk;
  ll_item_key_t k;
} key_t_;

static void key_free(key_t_ *k) {
  free(k->hk);
  free(k->rk);
  k->hk = k->rk = NULL;
}

/* Encodes the key attributes of obj (an item, or a Key with exactly the key attributes when
 * exact). 0, or -1 with DynamoDB's message in why. */
static int encode_key(const ll_table_info_t *info, json_t *obj, bool exact, key_t_ *out, char *why,
                      size_t sz) {
  memset(out, 0, sizeof *out);
  const char *names[2] = {info->hash, info->range};
  char types[2] = {info->hash_type, info->range_type};
  size_t nkeys = info->range[0] ? 2 : 1;
  if (exact && json_object_size(obj) != nkeys) {
    snprintf(why, sz, "The provided key element does not match the schema");
    return -1;
  }
  for (size_t i = 0; i < nkeys; i++) {
    json_t *v = json_object_get(obj, names[i]);
    if (!v) {
      if (exact)
        snprintf(why, sz, "The provided key element does not match the schema");
      else
        snprintf(why, sz, "One or more parameter values were invalid: Missing the key %s in the item",
                 names[i]);
      key_free(out);
      return -1;
    }
    ll_av_type_t t = ll_av_type(v);
    char want[2] = {types[i], 0};
    if (t == LL_AV_INVALID || strcmp(ll_av_type_name(t), want) != 0) {
      snprintf(why, sz,
               "One or more parameter values were invalid: Type mismatch for key %s expected: %s "
               "actual: %s",
               names[i], want, t == LL_AV_INVALID ? "?" : ll_av_type_name(t));
      key_free(out);
      return -1;
    }
    const char *s = json_string_value(json_object_get(v, want));
    if (s && !*s) {
      snprintf(why, sz,
               "One or more parameter values are not valid. The AttributeValue for a key attribute "
               "cannot contain an empty %s value. Key: %s",
               types[i] == 'B' ? "binary" : "string", names[i]);
      key_free(out);
      return -1;
    }
    uint8_t *bytes = NULL;
    size_t len = ll_av_key_bytes(v, &bytes);
    if (i == 0)
      out->hk = bytes, out->k.hk = bytes, out->k.hk_len = len;
    else
      out->rk = bytes, out->k.rk = bytes, out->k.rk_len = len;
  }
  if (!out->k.hk) out->k.hk = (const uint8_t *)"";
  return 0;
}

/* The key attributes of item (new reference). */
static json_t *key_of(const ll_table_info_t *info, const json_t *item) {
  json_t *k = json_object();
  json_object_set(k, info->hash, json_object_get(item, info->hash));
  if (info->range[0]) json_object_set(k, info->range, json_object_get(item, info->range));
  return k;
}

/* Answers a failed ll_av_validate(_item) (rc < 0): a value of the wrong JSON kind is
 * DynamoDB's SerializationException, the rest ValidationException. True when answered. */
static bool av_invalid(ll_http_req_t *req, int rc, const char *why) {
  if (rc == LL_AV_ESERIALIZATION)
    ddb_error(req, 400, "SerializationException", "%s", why);
  else if (rc < 0)
    validation(req, "%s", why);
  return rc < 0;
}

/* ---- expressions --------------------------------------------------------------------------- */

/* The expressions of one request, parsed against its names and values. */
typedef struct exprs {
  ll_expr_ctx_t ctx;
  ll_expr_t *cond, *update, *proj, *filter, *keycond;
} exprs_t;

static void exprs_free(exprs_t *x) {
  ll_expr_free(x->cond);
  ll_expr_free(x->update);
  ll_expr_free(x->proj);
  ll_expr_free(x->filter);
  ll_expr_free(x->keycond);
  ll_expr_ctx_done(&x->ctx);
}

/* Parses the expressions of in that are present (fields by name), then checks that every
 * ExpressionAttributeNames/Values entry was used. -1 (answered) on an error. */
static int parse_exprs(ll_http_req_t *req, json_t *in, exprs_t *x) {
  memset(x, 0, sizeof *x);
  json_t *values = json_object_get(in, "ExpressionAttributeValues");
  x->ctx.names = json_object_get(in, "ExpressionAttributeNames");
  x->ctx.values = values;
  char why[1024];
  const char *k;
  json_t *v;
  json_object_foreach(values, k, v) {
    if (av_invalid(req, ll_av_validate(v, why, sizeof why), why)) return -1;
  }
  static const struct {
    const char *field;
    ll_expr_kind_t kind;
    size_t off;
  } fields[] = {
      {"ConditionExpression", LL_EXPR_CONDITION, offsetof(exprs_t, cond)},
      {"UpdateExpression", LL_EXPR_UPDATE, offsetof(exprs_t, update)},
      {"ProjectionExpression", LL_EXPR_PROJECTION, offsetof(exprs_t, proj)},
      {"FilterExpression", LL_EXPR_FILTER, offsetof(exprs_t, filter)},
      {"KeyConditionExpression", LL_EXPR_KEY_CONDITION, offsetof(exprs_t, keycond)},
  };
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    json_t *t = json_object_get(in, fields[i].field);
    if (!t) continue;
    if (!json_is_string(t)) {
      validation(req, "%s must be a string", fields[i].field);
      return -1;
    }
    ll_expr_t *e = ll_expr_parse(fields[i].kind, json_string_value(t), &x->ctx, why, sizeof why);
    if (!e) {
      validation(req, "%s", why);
      return -1;
    }
    *(ll_expr_t **)((char *)x + fields[i].off) = e;
  }
  if (ll_expr_unused(&x->ctx, why, sizeof why) < 0) {
    validation(req, "%s", why);
    return -1;
  }
  return 0;
}

/* ---- item writes --------------------------------------------------------------------------- */

/* One write of PutItem, DeleteItem, UpdateItem or a transaction's part, checked and applied
 * inside the caller's transaction. */
typedef enum { W_PUT, W_DELETE, W_UPDATE, W_CHECK } wkind_t;

typedef struct write {
  wkind_t kind;
  ll_table_info_t info;
  key_t_ key;
  json_t *item;      /* W_PUT: the new item */
  exprs_t x;
  json_t *old, *new_; /* after apply: the item before and after (new references or NULL) */
} write_t;

static void write_free(write_t *w) {
  ll_table_info_free(&w->info);
  key_free(&w->key);
  json_decref(w->item);
  json_decref(w->old);
  json_decref(w->new_);
  exprs_free(&w->x);
}

/* Prepares a write from its request fields: validates the table, key, item and expressions.
 * -1 (answered) on an error. */
static int write_prepare(ll_http_req_t *req, json_t *in, wkind_t kind, write_t *w) {
  memset(w, 0, sizeof *w);
  w->kind = kind;
  if (need_table(req, in, &w->info) < 0) return -1;
  char why[1024];
  if (parse_exprs(req, in, &w->x) < 0) return -1;
  if (kind == W_PUT) {
    json_t *item = json_object_get(in, "Item");
    if (!json_is_object(item)) {
      validation(req, "1 validation error detected: Value null at 'item' failed to satisfy "
                      "constraint: Member must not be null");
      return -1;
    }
    w->item = json_deep_copy(item);
    if (av_invalid(req, ll_av_validate_item(w->item, why, sizeof why), why)) return -1;
    if (ll_av_item_size(w->item) > LL_AV_ITEM_MAX) {
      validation(req, "Item size has exceeded the maximum allowed size");
      return -1;
    }
    if (encode_key(&w->info, w->item, false, &w->key, why, sizeof why) < 0) {
      validation(req, "%s", why);
      return -1;
    }
  } else {
    json_t *key = json_object_get(in, "Key");
    if (!json_is_object(key)) {
      validation(req, "1 validation error detected: Value null at 'key' failed to satisfy "
                      "constraint: Member must not be null");
      return -1;
    }
    json_t *k = json_deep_copy(key);
    int rc = ll_av_validate_item(k, why, sizeof why);
    if (av_invalid(req, rc, why)) {
      json_decref(k);
      return -1;
    }
    rc = encode_key(&w->info, k, true, &w->key, why, sizeof why);
    json_decref(k);
    if (rc < 0) {
      validation(req, "%s", why);
      return -1;
    }
    if (kind == W_UPDATE) w->item = json_deep_copy(key); /* what a new item starts as */
  }
  if (kind == W_UPDATE && w->x.update) {
    const char *const *roots;
    size_t n = ll_expr_update_roots(w->x.update, &roots);
    for (size_t i = 0; i < n; i++) {
      if (strcmp(roots[i], w->info.hash) == 0 || (w->info.range[0] && strcmp(roots[i], w->info.range) == 0)) {
        validation(req, "One or more parameter values were invalid: Cannot update attribute %s. "
                        "This attribute is part of the key", roots[i]);
        return -1;
      }
    }
  }
  if (kind == W_CHECK && !w->x.cond) {
    validation(req, "1 validation error detected: Value null at 'conditionExpression' failed to "
                    "satisfy constraint: Member must not be null");
    return -1;
  }
  return 0;
}

/* Reads the current item, checks the condition and applies the write (inside a transaction).
 * Returns 0, 1 when the condition failed (w->old holds the item), or -1 with why (a
 * ValidationException of the update, or storage). */
static int write_apply(ll_tables_t *t, write_t *w, char *why, size_t sz, bool *storage) {
  ll_err_t err = LL_ERR_INIT;
  *storage = false;
  if (ll_item_get(t, w->info.id, &w->key.k, &w->old, &err) < 0) {
    snprintf(why, sz, "%s", err.msg);
    *storage = true;
    return -1;
  }
  if (w->x.cond) {
    bool ok = false;
    if (ll_expr_condition(w->x.cond, w->old, &ok, why, sz) < 0) return -1;
    if (!ok) return 1;
  }
  switch (w->kind) {
    case W_CHECK: return 0;
    case W_PUT:
      w->new_ = json_incref(w->item);
      break;
    case W_DELETE:
      if (!w->old) return 0;
      if (ll_item_delete(t, w->info.id, &w->key.k, &err) < 0) {
        snprintf(why, sz, "%s", err.msg);
        *storage = true;
        return -1;
      }
      return 0;
    case W_UPDATE: /* an update of a missing item creates it from its key */
      w->new_ = json_deep_copy(w->old ? w->old : w->item);
      break;
  }
  if (w->kind == W_UPDATE) {
    if (w->x.update && ll_expr_update(w->x.update, w->new_, why, sz) < 0) return -1;
    if (ll_av_item_size(w->new_) > LL_AV_ITEM_MAX) {
      snprintf(why, sz, "Item size to update has exceeded the maximum allowed size");
      return -1;
    }
  }
  if (ll_item_put(t, w->info.id, &w->key.k, w->new_, &err) < 0) {
    snprintf(why, sz, "%s", err.msg);
    *storage = true;
    return -1;
  }
  return 0;
}

/* ReturnValues of a write: NONE, ALL_OLD, UPDATED_OLD, ALL_NEW, UPDATED_NEW. */
static json_t *returned(const write_t *w, const char *rv) {
  if (!rv || strcmp(rv, "NONE") == 0) return NULL;
  const json_t *src = strstr(rv, "OLD") ? w->old : w->new_;
  if (!src) return NULL;
  if (strncmp(rv, "ALL_", 4) == 0) return json_deep_copy(src);
  json_t *out = json_object();
  const char *const *roots;
  size_t n = w->x.update ? ll_expr_update_roots(w->x.update, &roots) : 0;
  for (size_t i = 0; i < n; i++) {
    json_t *v = json_object_get(src, roots[i]);
    if (v) json_object_set(out, roots[i], v);
  }
  return out;
}

static bool valid_return_values(wkind_t kind, const char *rv) {
  if (!rv) return true;
  static const char *const all[] = {"NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW", NULL};
  for (int i = 0; all[i]; i++)
    if (strcmp(rv, all[i]) == 0) return kind == W_UPDATE || i < 2;
  return false;
}

/* PutItem, DeleteItem, UpdateItem. */
static void single_write(ll_http_req_t *req, json_t *in, wkind_t kind) {
  const char *rv = json_string_value(json_object_get(in, "ReturnValues"));
  if (!valid_return_values(kind, rv)) {
    validation(req, "ReturnValues can only be ALL_OLD or NONE%s", kind == W_UPDATE ? ", UPDATED_OLD, ALL_NEW, UPDATED_NEW" : "");
    return;
  }
  write_t w;
  if (write_prepare(req, in, kind, &w) < 0) {
    write_free(&w);
    return;
  }
  ll_tables_t *t = tables(req);
  ll_err_t err = LL_ERR_INIT;
  char why[1024];
  bool storage;
  if (ll_tables_begin(t, &err) < 0) {
    store_error(req, &err);
    write_free(&w);
    return;
  }
  int rc = write_apply(t, &w, why, sizeof why, &storage);
  if (rc == 0 && ll_tables_commit(t, &err) < 0) rc = -2;
  if (rc != 0) ll_tables_rollback(t);
  if (rc == 1) {
    const char *rvf = json_string_value(json_object_get(in, "ReturnValuesOnConditionCheckFailure"));
    json_t *extra = rvf && strcmp(rvf, "ALL_OLD") == 0 && w.old ? json_pack("{s:O}", "Item", w.old) : NULL;
    ddb_error_doc(req, 400, "ConditionalCheckFailedException", extra, "The conditional request failed");
  } else if (rc == -1 && !storage) {
    validation(req, "%s", why);
  } else if (rc < 0) {
    ddb_error(req, 500, "InternalServerError", "%s", rc == -2 ? err.msg : why);
  } else {
    json_t *out = json_object();
    json_t *attrs = returned(&w, rv);
    if (attrs) json_object_set_new(out, "Attributes", attrs);
    ddb_json(req, out);
  }
  write_free(&w);
}

static void put_item(ll_http_req_t *req, json_t *in) { single_write(req, in, W_PUT); }
static void delete_item(ll_http_req_t *req, json_t *in) { single_write(req, in, W_DELETE); }
static void update_item(ll_http_req_t *req, json_t *in) { single_write(req, in, W_UPDATE); }

/* ---- reads --------------------------------------------------------------------------------- */

static void get_item(ll_http_req_t *req, json_t *in) {
  write_t w; /* the same preparation: table, key, expressions */
  if (write_prepare(req, in, W_DELETE, &w) < 0) {
    write_free(&w);
    return;
  }
  json_t *item = NULL;
  ll_err_t err = LL_ERR_INIT;
  if (ll_item_get(tables(req), w.info.id, &w.key.k, &item, &err) < 0) {
    store_error(req, &err);
  } else {
    json_t *out = json_object();
    if (item) json_object_set_new(out, "Item", w.x.proj ? ll_expr_project(w.x.proj, item) : json_incref(item));
    json_decref(item);
    ddb_json(req, out);
  }
  write_free(&w);
}

/* A page of Query or Scan results. */
typedef struct page {
  const ll_table_info_t *info;
  exprs_t *x;
  json_t *items;       /* NULL for Select COUNT */
  size_t count, scanned, limit, bytes;
  json_t *last;        /* the key of the last item evaluated, when the page stopped early */
  char why[512];
  bool failed;
} page_t;

static bool page_add(void *ud, const ll_item_key_t *k, json_t *item) {
  page_t *p = ud;
  p->scanned++;
  bool keep = true;
  if (p->x->filter && ll_expr_condition(p->x->filter, item, &keep, p->why, sizeof p->why) < 0) {
    p->failed = true;
    json_decref(item);
    return false;
  }
  if (keep) {
    p->count++;
    if (p->items) json_array_append_new(p->items, p->x->proj ? ll_expr_project(p->x->proj, item) : json_incref(item));
  }
  p->bytes += ll_av_item_size(item);
  bool more = !(p->limit && p->scanned >= p->limit) && p->bytes < PAGE_BYTES;
  if (!more) {
    json_decref(p->last);
    p->last = key_of(p->info, item);
  }
  json_decref(item);
  return more;
}

/* Limit, Select and ExclusiveStartKey of Query and Scan; -1 when answered. */
static int page_setup(ll_http_req_t *req, json_t *in, const ll_table_info_t *info, exprs_t *x,
                      page_t *p, key_t_ *start, bool *has_start) {
  memset(p, 0, sizeof *p);
  p->info = info;
  p->x = x;
  json_t *lim = json_object_get(in, "Limit");
  if (lim && json_integer_value(lim) < 1) {
    validation(req, "1 validation error detected: Value '%lld' at 'limit' failed to satisfy "
                    "constraint: Member must have value greater than or equal to 1",
               (long long)json_integer_value(lim));
    return -1;
  }
  p->limit = lim ? (size_t)json_integer_value(lim) : 0;
  json_t *esk = json_object_get(in, "ExclusiveStartKey");
  *has_start = esk != NULL;
  char why[512];
  if (esk) {
    json_t *k = json_deep_copy(esk);
    int rc = ll_av_validate_item(k, why, sizeof why);
    if (rc == 0) rc = encode_key(info, k, true, start, why, sizeof why);
    json_decref(k);
    if (rc < 0) {
      validation(req, "The provided starting key is invalid: %s", why);
      return -1;
    }
  }
  const char *select = json_string_value(json_object_get(in, "Select"));
  p->items = select && strcmp(select, "COUNT") == 0 ? NULL : json_array(); /* the last step */
  return 0;
}

static void page_answer(ll_http_req_t *req, page_t *p) {
  if (p->failed) {
    json_decref(p->items);
    json_decref(p->last);
    validation(req, "%s", p->why);
    return;
  }
  json_t *out = json_pack("{s:I,s:I}", "Count", (json_int_t)p->count, "ScannedCount", (json_int_t)p->scanned);
  if (p->items) json_object_set_new(out, "Items", p->items);
  if (p->last) json_object_set_new(out, "LastEvaluatedKey", p->last);
  ddb_json(req, out);
}

static void query(ll_http_req_t *req, json_t *in) {
  ll_table_info_t info;
  if (need_table(req, in, &info) < 0) return;
  exprs_t x;
  page_t p = {0};
  key_t_ start = {0}, hk = {0}, lo = {0}, hi = {0};
  bool has_start = false;
  char why[512];
  ll_key_cond_t kc;
  if (parse_exprs(req, in, &x) < 0) goto out;
  if (!x.keycond) {
    validation(req, "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.");
    goto out;
  }
  if (ll_expr_key_condition(x.keycond, info.hash, info.range[0] ? info.range : NULL, &kc, why, sizeof why) < 0) {
    validation(req, "%s", why);
    goto out;
  }
  if (page_setup(req, in, &info, &x, &p, &start, &has_start) < 0) goto out;
  {
    /* the partition key and the bounds, encoded as stored */
    ll_table_info_t hinfo = info;
    hinfo.range[0] = '\0';
    json_t *hobj = json_pack("{s:O}", info.hash, kc.hash_value);
    int rc = encode_key(&hinfo, hobj, true, &hk, why, sizeof why);
    json_decref(hobj);
    ll_item_range_t r = {.reverse = json_is_false(json_object_get(in, "ScanIndexForward"))};
    ll_table_info_t rinfo = info; /* encode range values as a one-key "table" */
    snprintf(rinfo.hash, sizeof rinfo.hash, "%s", info.range);
    rinfo.hash_type = info.range_type;
    rinfo.range[0] = '\0';
    const json_t *bounds[2] = {kc.lo, kc.hi};
    key_t_ *enc[2] = {&lo, &hi};
    for (int i = 0; rc == 0 && i < 2; i++) {
      if (!bounds[i]) continue;
      json_t *o = json_pack("{s:O}", info.range, (json_t *)bounds[i]);
      rc = encode_key(&rinfo, o, true, enc[i], why, sizeof why);
      json_decref(o);
    }
    if (rc < 0) {
      validation(req, "One or more parameter values were invalid: Condition parameter type does not match schema type");
      goto out;
    }
    switch (kc.op) {
      case LL_KC_NONE: break;
      case LL_KC_EQ:
        r.lo = r.hi = lo.k.hk, r.lo_len = r.hi_len = lo.k.hk_len, r.lo_incl = r.hi_incl = true;
        break;
      case LL_KC_LT: r.hi = lo.k.hk, r.hi_len = lo.k.hk_len; break;
      case LL_KC_LE: r.hi = lo.k.hk, r.hi_len = lo.k.hk_len, r.hi_incl = true; break;
      case LL_KC_GT: r.lo = lo.k.hk, r.lo_len = lo.k.hk_len; break;
      case LL_KC_GE: r.lo = lo.k.hk, r.lo_len = lo.k.hk_len, r.lo_incl = true; break;
      case LL_KC_BETWEEN:
        r.lo = lo.k.hk, r.lo_len = lo.k.hk_len, r.lo_incl = true;
        r.hi = hi.k.hk, r.hi_len = hi.k.hk_len, r.hi_incl = true;
        break;
      case LL_KC_BEGINS: r.prefix = lo.k.hk, r.prefix_len = lo.k.hk_len; break;
    }
    if (has_start) r.start = start.k.rk ? start.k.rk : (const uint8_t *)"", r.start_len = start.k.rk_len;
    ll_err_t err = LL_ERR_INIT;
    if (ll_item_query(tables(req), info.id, hk.k.hk, hk.k.hk_len, &r, page_add, &p, &err) < 0) {
      json_decref(p.items);
      json_decref(p.last);
      store_error(req, &err);
      goto out;
    }
    page_answer(req, &p);
  }
out:
  exprs_free(&x);
  key_free(&start);
  key_free(&hk);
  key_free(&lo);
  key_free(&hi);
  ll_table_info_free(&info);
}

static void scan(ll_http_req_t *req, json_t *in) {
  ll_table_info_t info;
  if (need_table(req, in, &info) < 0) return;
  exprs_t x;
  page_t p = {0};
  key_t_ start = {0};
  bool has_start = false;
  json_t *segj = json_object_get(in, "Segment"), *totj = json_object_get(in, "TotalSegments");
  json_int_t seg = json_integer_value(segj), total = totj ? json_integer_value(totj) : 1;
  if (parse_exprs(req, in, &x) < 0) goto out;
  if ((segj != NULL) != (totj != NULL)) {
    validation(req, "The TotalSegments parameter is required but was not present in the request when Segment parameter is present");
    goto out;
  }
  if (total < 1 || total > 1000000 || seg < 0 || seg >= total) {
    validation(req, "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: %lld is out of bounds of TotalSegments: %lld",
               (long long)seg, (long long)total);
    goto out;
  }
  if (page_setup(req, in, &info, &x, &p, &start, &has_start) < 0) goto out;
  {
    ll_err_t err = LL_ERR_INIT;
    if (ll_item_scan(tables(req), info.id, has_start ? &start.k : NULL, (int)seg, (int)total, page_add, &p, &err) < 0) {
      json_decref(p.items);
      json_decref(p.last);
      store_error(req, &err);
      goto out;
    }
    page_answer(req, &p);
  }
out:
  exprs_free(&x);
  key_free(&start);
  ll_table_info_free(&info);
}

/* ---- batches and transactions ----------------------------------------------------------------- */

static void batch_get(ll_http_req_t *req, json_t *in) {
  json_t *ri = json_object_get(in, "RequestItems");
  size_t total = 0;
  const char *tn;
  json_t *spec;
  json_object_foreach(ri, tn, spec) total += json_array_size(json_object_get(spec, "Keys"));
  if (!json_is_object(ri) || total == 0) {
    validation(req, "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1");
    return;
  }
  if (total > 100) {
    validation(req, "Too many items requested for the BatchGetItem call");
    return;
  }
  json_t *responses = json_object();
  json_object_foreach(ri, tn, spec) {
    json_t *tin = json_deep_copy(spec);
    json_object_set_new(tin, "TableName", json_string(tn));
    ll_table_info_t info;
    exprs_t x;
    if (need_table(req, tin, &info) < 0) {
      json_decref(tin);
      json_decref(responses);
      return;
    }
    int rc = parse_exprs(req, tin, &x);
    json_t *items = json_array();
    size_t i;
    json_t *k;
    json_array_foreach(json_object_get(spec, "Keys"), i, k) {
      if (rc < 0) break;
      key_t_ key;
      char why[512];
      json_t *kc = json_deep_copy(k);
      rc = ll_av_validate_item(kc, why, sizeof why);
      if (rc == 0) rc = encode_key(&info, kc, true, &key, why, sizeof why);
      json_decref(kc);
      if (rc < 0) {
        validation(req, "%s", why);
        break;
      }
      json_t *item = NULL;
      ll_err_t err = LL_ERR_INIT;
      ll_item_get(tables(req), info.id, &key.k, &item, &err);
      key_free(&key);
      if (item) json_array_append_new(items, x.proj ? ll_expr_project(x.proj, item) : json_incref(item));
      json_decref(item);
    }
    exprs_free(&x);
    ll_table_info_free(&info);
    json_decref(tin);
    if (rc < 0) {
      json_decref(items);
      json_decref(responses);
      return;
    }
    json_object_set_new(responses, tn, items);
  }
  ddb_json(req, json_pack("{s:o,s:{}}", "Responses", responses, "UnprocessedKeys"));
}

/* The writes of BatchWriteItem or TransactWriteItems, all prepared first (every validation
 * before anything changes), then applied in one transaction. */
typedef struct batch {
  write_t *w;
  size_t n;
} batch_t;

static void batch_free(batch_t *b) {
  for (size_t i = 0; i < b->n; i++) write_free(&b->w[i]);
  free(b->w);
}

/* Whether two prepared writes name the same item. */
static bool same_item(const write_t *a, const write_t *b) {
  return a->info.id == b->info.id && a->key.k.hk_len == b->key.k.hk_len &&
         a->key.k.rk_len == b->key.k.rk_len && memcmp(a->key.k.hk, b->key.k.hk, a->key.k.hk_len) == 0 &&
         (!a->key.k.rk_len || memcmp(a->key.k.rk, b->key.k.rk, a->key.k.rk_len) == 0);
}

/* Whether two writes of b name the same item (DynamoDB refuses such batches). */
static bool batch_has_duplicates(const batch_t *b) {
  for (size_t i = 0; i < b->n; i++)
    for (size_t j = i + 1; j < b->n; j++)
      if (same_item(&b->w[i], &b->w[j])) return true;
  return false;
}

static int batch_add(ll_http_req_t *req, batch_t *b, size_t cap, json_t *in, wkind_t kind) {
  if (b->n == cap) return 0;
  write_t *w = &b->w[b->n];
  if (write_prepare(req, in, kind, w) < 0) {
    write_free(w);
    return -1;
  }
  b->n++;
  return 0;
}

static void batch_write(ll_http_req_t *req, json_t *in) {
  json_t *ri = json_object_get(in, "RequestItems");
  size_t total = 0;
  const char *tn;
  json_t *list;
  json_object_foreach(ri, tn, list) total += json_array_size(list);
  if (!json_is_object(ri) || total == 0) {
    validation(req, "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1");
    return;
  }
  if (total > 25) {
    validation(req, "1 validation error detected: Value at 'requestItems' failed to satisfy "
                    "constraint: Map value must satisfy constraint: [Member must have length less "
                    "than or equal to 25, Member must have length greater than or equal to 1]");
    return;
  }
  batch_t b = {ll_calloc(total, sizeof *b.w), 0};
  json_object_foreach(ri, tn, list) {
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r) {
      json_t *put = json_object_get(r, "PutRequest"), *del = json_object_get(r, "DeleteRequest");
      json_t *one = json_deep_copy(put ? put : del);
      if (!one || (put && del)) {
        json_decref(one);
        batch_free(&b);
        validation(req, "A WriteRequest must contain exactly one of PutRequest or DeleteRequest");
        return;
      }
      json_object_set_new(one, "TableName", json_string(tn));
      int rc = batch_add(req, &b, total, one, put ? W_PUT : W_DELETE);
      json_decref(one);
      if (rc < 0) {
        batch_free(&b);
        return;
      }
    }
  }
  if (batch_has_duplicates(&b)) {
    batch_free(&b);
    validation(req, "Provided list of item keys contains duplicates");
    return;
  }
  ll_tables_t *t = tables(req);
  ll_err_t err = LL_ERR_INIT;
  char why[512];
  bool storage;
  int rc = ll_tables_begin(t, &err);
  for (size_t i = 0; rc == 0 && i < b.n; i++) rc = write_apply(t, &b.w[i], why, sizeof why, &storage);
  if (rc == 0 && ll_tables_commit(t, &err) < 0) rc = -1;
  if (rc != 0) {
    ll_tables_rollback(t);
    ddb_error(req, 500, "InternalServerError", "%s", why);
  } else {
    ddb_json(req, json_pack("{s:{}}", "UnprocessedItems"));
  }
  batch_free(&b);
}

static void transact_write(ll_http_req_t *req, json_t *in) {
  json_t *items = json_object_get(in, "TransactItems");
  size_t n = json_array_size(items);
  if (n == 0 || n > 100) {
    validation(req, "1 validation error detected: Value '[...]' at 'transactItems' failed to "
                    "satisfy constraint: Member must have length less than or equal to 100");
    return;
  }
  batch_t b = {ll_calloc(n, sizeof *b.w), 0};
  static const struct {
    const char *name;
    wkind_t kind;
  } kinds[] = {{"Put", W_PUT}, {"Delete", W_DELETE}, {"Update", W_UPDATE}, {"ConditionCheck", W_CHECK}};
  size_t i;
  json_t *ti;
  json_array_foreach(items, i, ti) {
    json_t *op = NULL;
    wkind_t kind = W_PUT;
    for (size_t k = 0; k < 4; k++)
      if ((op = json_object_get(ti, kinds[k].name))) {
        kind = kinds[k].kind;
        break;
      }
    if (!op || json_object_size(ti) != 1) {
      batch_free(&b);
      validation(req, "TransactItems can only contain one of Check, Put, Update or Delete");
      return;
    }
    if (batch_add(req, &b, n, op, kind) < 0) {
      batch_free(&b);
      return;
    }
  }
  if (batch_has_duplicates(&b)) {
    batch_free(&b);
    validation(req, "Transaction request cannot include multiple operations on one item");
    return;
  }
  ll_tables_t *t = tables(req);
  ll_err_t err = LL_ERR_INIT;
  char why[512];
  bool storage = false;
  int *result = ll_calloc(b.n, sizeof *result);
  bool failed = false, broken = false;
  int rc = ll_tables_begin(t, &err);
  for (size_t a = 0; rc == 0 && a < b.n; a++) {
    result[a] = write_apply(t, &b.w[a], why, sizeof why, &storage);
    if (result[a] == 1) failed = true;
    if (result[a] < 0) broken = true;
    if (result[a] < 0) break;
  }
  if (rc == 0 && !failed && !broken && ll_tables_commit(t, &err) < 0) broken = true, snprintf(why, sizeof why, "%s", err.msg);
  if (rc < 0 || failed || broken) ll_tables_rollback(t);
  if (rc < 0) {
    store_error(req, &err);
  } else if (broken && !storage) {
    validation(req, "%s", why);
  } else if (broken) {
    ddb_error(req, 500, "InternalServerError", "%s", why);
  } else if (failed) {
    json_t *reasons = json_array();
    char codes[2048] = "";
    size_t off = 0;
    for (size_t a = 0; a < b.n; a++) {
      bool f = result[a] == 1;
      json_t *r = f ? json_pack("{s:s,s:s}", "Code", "ConditionalCheckFailed", "Message", "The conditional request failed")
                    : json_pack("{s:s}", "Code", "None");
      json_array_append_new(reasons, r);
      off += (size_t)snprintf(codes + off, sizeof codes - off, "%s%s", a ? ", " : "", f ? "ConditionalCheckFailed" : "None");
      if (off >= sizeof codes) off = sizeof codes - 1;
    }
    ddb_error_doc(req, 400, "TransactionCanceledException", json_pack("{s:o}", "CancellationReasons", reasons),
                  "Transaction cancelled, please refer cancellation reasons for specific reasons [%s]", codes);
  } else {
    ddb_json(req, json_object());
  }
  free(result);
  batch_free(&b);
}

/* ---- dispatch ------------------------------------------------------------------------------ */

static const struct {
  const char *name;
  void (*fn)(ll_http_req_t *req, json_t *in);
} actions[] = {
    {"BatchGetItem", batch_get},     {"BatchWriteItem", batch_write},
    {"CreateTable", create_table},   {"DeleteItem", delete_item},
    {"DeleteTable", delete_table},   {"DescribeTable", describe_table},
    {"GetItem", get_item},           {"ListTables", list_tables},
    {"PutItem", put_item},           {"Query", query},
    {"Scan", scan},                  {"TransactWriteItems", transact_write},
    {"UpdateItem", update_item},     {"UpdateTable", update_table},
};

static const char *str(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

/* With a temporary credential: the action on every table the request names. */
static int authorized(ll_http_req_t *req, const char *action, json_t *in) {
  if (!ll_api_restricted(req)) return 0;
  ll_api_ctx_t *ctx = req->listener_data;
  json_t *names = json_array();
  if (str(in, "TableName")) json_array_append_new(names, json_string(str(in, "TableName")));
  const char *k;
  json_t *v;
  json_object_foreach(json_object_get(in, "RequestItems"), k, v) json_array_append_new(names, json_string(k));
  size_t i;
  json_t *t;
  json_array_foreach(json_object_get(in, "TransactItems"), i, t) {
    json_object_foreach(t, k, v) if (str(v, "TableName")) json_array_append_new(names, json_string(str(v, "TableName")));
  }
  char act[96], res[400], msg[1200];
  snprintf(act, sizeof act, "dynamodb:%s", action);
  int rc = 0;
  if (json_array_size(names) == 0) {
    snprintf(res, sizeof res, "arn:aws:dynamodb:%s:%s:table/*", ll_api_region(req), ll_engine_account(ctx->engine));
    rc = ll_api_permitted(req, ((ll_api_ident_t *)req->app)->access_key, act, res, msg, sizeof msg);
  }
  json_array_foreach(names, i, t) {
    if (rc < 0) break;
    snprintf(res, sizeof res, "arn:aws:dynamodb:%s:%s:table/%s", ll_api_region(req),
             ll_engine_account(ctx->engine), json_string_value(t));
    rc = ll_api_permitted(req, ((ll_api_ident_t *)req->app)->access_key, act, res, msg, sizeof msg);
  }
  json_decref(names);
  if (rc < 0) ddb_error(req, 400, "com.amazon.coral.service#AccessDeniedException", "%s", msg);
  return rc;
}

void ll_api_dynamodb_dispatch(ll_http_req_t *req, const char *action) {
  if (ll_api_authenticate(req, LL_PROTO_JSON) < 0) return;
  for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++) {
    if (strcmp(actions[i].name, action) != 0) continue;
    json_error_t jerr;
    json_t *in = json_loadb(req->body.data ? req->body.data : "{}", req->body.len ? req->body.len : 2, 0, &jerr);
    if (!json_is_object(in)) {
      json_decref(in);
      ddb_error(req, 400, "SerializationException", "Could not parse request body: %s", jerr.text);
      return;
    }
    if (authorized(req, action, in) == 0) actions[i].fn(req, in);
    json_decref(in);
    return;
  }
  ddb_error(req, 400, "UnknownOperationException", "Unknown operation DynamoDB_20120810.%s", action);
}

/* Tables on SQLite (table.h). */
#include "table/table.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/mem.h"

struct ll_tables {
  sqlite3 *db;
  /* statements of the hot paths, prepared once */
  sqlite3_stmt *get, *put, *del;
  bool in_tx;
  /* Every table read so far (their rows change only through this module): an item request
   * then needs no SQLite read and no JSON parse to know its table. */
  ll_table_info_t *cache;
  size_t ncache;
};

static ll_table_info_t *cached(ll_tables_t *t, const char *name) {
  for (size_t i = 0; i < t->ncache; i++)
    if (strcmp(t->cache[i].name, name) == 0) return &t->cache[i];
  return NULL;
}

static void uncache(ll_tables_t *t, const char *name) {
  ll_table_info_t *c = cached(t, name);
  if (!c) return;
  ll_table_info_free(c);
  *c = t->cache[--t->ncache];
}

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS tables(id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL,"
    "  hash TEXT NOT NULL, hash_type TEXT NOT NULL, range TEXT NOT NULL, range_type TEXT NOT NULL,"
    "  desc TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS items(tid INTEGER NOT NULL, seg INTEGER NOT NULL, hk BLOB NOT NULL,"
    "  rk BLOB NOT NULL, item TEXT NOT NULL, PRIMARY KEY(tid, hk, rk)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS items_scan ON items(tid, seg, hk, rk);";

static int db_fail(ll_tables_t *t, ll_err_t *err, const char *what) {
  return ll_err_set(err, LL_TB_INTERNAL, "tables: %s: %s", what, sqlite3_errmsg(t->db));
}

static int prepare(ll_tables_t *t, const char *sql, sqlite3_stmt **out) {
  return sqlite3_prepare_v2(t->db, sql, -1, out, NULL) == SQLITE_OK ? 0 : -1;
}

int ll_tables_open(const char *data_dir, ll_tables_t **out, ll_err_t *err) {
  ll_tables_t *t = ll_calloc(1, sizeof *t);
  char *dir = ll_sprintf("%s/tables", data_dir);
  char *path = ll_sprintf("%s/tables.db", dir);
  char *msg = NULL;
  int rc = -1;
  if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
    ll_err_set(err, errno, "creating %s: %s", dir, strerror(errno));
  } else if (sqlite3_open(path, &t->db) != SQLITE_OK ||
             sqlite3_exec(t->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
    ll_err_set(err, LL_TB_INTERNAL, "tables %s: %s", path, msg ? msg : sqlite3_errmsg(t->db));
  } else if (prepare(t, "SELECT item FROM items WHERE tid = ?1 AND hk = ?2 AND rk = ?3", &t->get) ||
             prepare(t, "INSERT OR REPLACE INTO items(tid, seg, hk, rk, item) VALUES(?1, ?2, ?3, ?4, ?5)",
                     &t->put) ||
             prepare(t, "DELETE FROM items WHERE tid = ?1 AND hk = ?2 AND rk = ?3", &t->del)) {
    db_fail(t, err, "preparing statements");
  } else {
    sqlite3_busy_timeout(t->db, 5000);
    rc = 0;
  }
  sqlite3_free(msg);
  free(dir);
  free(path);
  if (rc < 0) {
    ll_tables_close(t);
    return -1;
  }
  *out = t;
  return 0;
}

void ll_tables_close(ll_tables_t *t) {
  if (!t) return;
  for (size_t i = 0; i < t->ncache; i++) ll_table_info_free(&t->cache[i]);
  free(t->cache);
  sqlite3_finalize(t->get);
  sqlite3_finalize(t->put);
  sqlite3_finalize(t->del);
  if (t->db) sqlite3_close(t->db);
  free(t);
}

/* ---- tables ---------------------------------------------------------------------------------- */

void ll_table_info_free(ll_table_info_t *info) {
  json_decref(info->desc);
  info->desc = NULL;
}

int ll_table_create(ll_tables_t *t, const ll_table_info_t *info, ll_err_t *err) {
  sqlite3_stmt *q;
  if (prepare(t, "INSERT INTO tables(name, hash, hash_type, range, range_type, desc) "
                 "VALUES(?1, ?2, ?3, ?4, ?5, ?6)", &q))
    return db_fail(t, err, "creating a table");
  char ht[2] = {info->hash_type, 0}, rt[2] = {info->range_type, 0};
  char *desc = json_dumps(info->desc, JSON_COMPACT);
  sqlite3_bind_text(q, 1, info->name, -1, SQLITE_STATIC);
  sqlite3_bind_text(q, 2, info->hash, -1, SQLITE_STATIC);
  sqlite3_bind_text(q, 3, ht, -1, SQLITE_STATIC);
  sqlite3_bind_text(q, 4, info->range, -1, SQLITE_STATIC);
  sqlite3_bind_text(q, 5, rt, -1, SQLITE_STATIC);
  sqlite3_bind_text(q, 6, desc, -1, SQLITE_STATIC);
  int r = sqlite3_step(q);
  int rc = 0;
  if (r == SQLITE_CONSTRAINT)
    rc = ll_err_set(err, LL_TB_EXISTS, "Table already exists: %s", info->name);
  else if (r != SQLITE_DONE)
    rc = db_fail(t, err, "creating a table");
  sqlite3_finalize(q);
  free(desc);
  return rc;
}

int ll_table_get(ll_tables_t *t, const char *name, ll_table_info_t *out, ll_err_t *err) {
  ll_table_info_t *c = cached(t, name);
  if (c) {
    *out = *c;
    out->desc = json_incref(c->desc);
    return 0;
  }
  sqlite3_stmt *q;
  if (prepare(t, "SELECT id, hash, hash_type, range, range_type, desc FROM tables WHERE name = ?1", &q))
    return db_fail(t, err, "reading a table");
  sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
  int rc = 0;
  if (sqlite3_step(q) == SQLITE_ROW) {
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", name);
    out->id = sqlite3_column_int64(q, 0);
    snprintf(out->hash, sizeof out->hash, "%s", (const char *)sqlite3_column_text(q, 1));
    out->hash_type = ((const char *)sqlite3_column_text(q, 2))[0];
    snprintf(out->range, sizeof out->range, "%s", (const char *)sqlite3_column_text(q, 3));
    out->range_type = ((const char *)sqlite3_column_text(q, 4))[0];
    out->desc = json_loads((const char *)sqlite3_column_text(q, 5), 0, NULL);
    if (!out->desc) out->desc = json_object();
    t->cache = ll_realloc(t->cache, (t->ncache + 1) * sizeof *t->cache);
    t->cache[t->ncache] = *out;
    json_incref(out->desc);
    t->ncache++;
  } else {
    rc = ll_err_set(err, LL_TB_NOT_FOUND, "Requested resource not found: Table: %s not found", name);
  }
  sqlite3_finalize(q);
  return rc;
}

int ll_table_set_desc(ll_tables_t *t, const char *name, json_t *desc, ll_err_t *err) {
  sqlite3_stmt *q;
  if (prepare(t, "UPDATE tables SET desc = ?2 WHERE name = ?1", &q))
    return db_fail(t, err, "updating a table");
  char *text = json_dumps(desc, JSON_COMPACT);
  sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_text(q, 2, text, -1, SQLITE_STATIC);
  int rc = sqlite3_step(q) == SQLITE_DONE ? 0 : db_fail(t, err, "updating a table");
  uncache(t, name);
  if (rc == 0 && sqlite3_changes(t->db) == 0)
    rc = ll_err_set(err, LL_TB_NOT_FOUND, "Requested resource not found: Table: %s not found", name);
  sqlite3_finalize(q);
  free(text);
  return rc;
}

int ll_table_delete(ll_tables_t *t, const char *name, ll_err_t *err) {
  ll_table_info_t info;
  if (ll_table_get(t, name, &info, err) < 0) return -1;
  ll_table_info_free(&info);
  uncache(t, name);
  char *sql = ll_sprintf("BEGIN; DELETE FROM items WHERE tid = %lld; DELETE FROM tables WHERE id = %lld; COMMIT;",
                         (long long)info.id, (long long)info.id);
  char *msg = NULL;
  int rc = 0;
  if (sqlite3_exec(t->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    rc = ll_err_set(err, LL_TB_INTERNAL, "tables: deleting %s: %s", name, msg ? msg : "?");
    sqlite3_exec(t->db, "ROLLBACK", NULL, NULL, NULL);
  }
  sqlite3_free(msg);
  free(sql);
  return rc;
}

size_t ll_table_list(ll_tables_t *t, const char *after, size_t max, char ***names, bool *more) {
  sqlite3_stmt *q;
  *names = ll_calloc(max + 1, sizeof **names);
  *more = false;
  size_t n = 0;
  if (prepare(t, "SELECT name FROM tables WHERE name > ?1 ORDER BY name LIMIT ?2", &q)) return 0;
  sqlite3_bind_text(q, 1, after ? after : "", -1, SQLITE_STATIC);
  sqlite3_bind_int64(q, 2, (sqlite3_int64)max + 1);
  while (sqlite3_step(q) == SQLITE_ROW) {
    if (n == max) {
      *more = true;
      break;
    }
    (*names)[n++] = ll_strdup((const char *)sqlite3_column_text(q, 0));
  }
  sqlite3_finalize(q);
  return n;
}

void ll_table_counts(ll_tables_t *t, int64_t id, int64_t *items, int64_t *bytes) {
  sqlite3_stmt *q;
  *items = *bytes = 0;
  if (prepare(t, "SELECT count(*), coalesce(sum(length(item)), 0) FROM items WHERE tid = ?1", &q)) return;
  sqlite3_bind_int64(q, 1, id);
  if (sqlite3_step(q) == SQLITE_ROW) {
    *items = sqlite3_column_int64(q, 0);
    *bytes = sqlite3_column_int64(q, 1);
  }
  sqlite3_finalize(q);
}

/* ---- items ----------------------------------------------------------------------------------- */

/* The scan segment a partition key belongs to: FNV-1a of its bytes, 31 bits. */
static int64_t seg_of(const uint8_t *hk, size_t len) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < len; i++) h = (h ^ hk[i]) * 16777619u;
  return (int64_t)(h & 0x7fffffff);
}

static void bind_key(sqlite3_stmt *q, int first, const ll_item_key_t *k) {
  sqlite3_bind_blob(q, first, k->hk, (int)k->hk_len, SQLITE_STATIC);
  sqlite3_bind_blob(q, first + 1, k->rk_len ? (const void *)k->rk : "", (int)k->rk_len, SQLITE_STATIC);
}

int ll_item_get(ll_tables_t *t, int64_t table, const ll_item_key_t *k, json_t **item,
                ll_err_t *err) {
  sqlite3_stmt *q = t->get;
  sqlite3_reset(q);
  sqlite3_bind_int64(q, 1, table);
  bind_key(q, 2, k);
  *item = NULL;
  int r = sqlite3_step(q);
  if (r == SQLITE_ROW) {
    *item = json_loadb((const char *)sqlite3_column_text(q, 0), (size_t)sqlite3_column_bytes(q, 0), 0, NULL);
    if (!*item) r = SQLITE_CORRUPT;
  }
  sqlite3_reset(q);
  if (r != SQLITE_ROW && r != SQLITE_DONE) return db_fail(t, err, "reading an item");
  return 0;
}

int ll_item_put(ll_tables_t *t, int64_t table, const ll_item_key_t *k, const json_t *item,
                ll_err_t *err) {
  char *text = json_dumps(item, JSON_COMPACT);
  sqlite3_stmt *q = t->put;
  sqlite3_reset(q);
  sqlite3_bind_int64(q, 1, table);
  sqlite3_bind_int64(q, 2, seg_of(k->hk, k->hk_len));
  sqlite3_bind_blob(q, 3, k->hk, (int)k->hk_len, SQLITE_STATIC);
  sqlite3_bind_blob(q, 4, k->rk_len ? (const void *)k->rk : "", (int)k->rk_len, SQLITE_STATIC);
  sqlite3_bind_text(q, 5, text, -1, SQLITE_STATIC);
  int r = sqlite3_step(q);
  sqlite3_reset(q);
  free(text);
  return r == SQLITE_DONE ? 0 : db_fail(t, err, "writing an item");
}

int ll_item_delete(ll_tables_t *t, int64_t table, const ll_item_key_t *k, ll_err_t *err) {
  sqlite3_stmt *q = t->del;
  sqlite3_reset(q);
  sqlite3_bind_int64(q, 1, table);
  bind_key(q, 2, k);
  int r = sqlite3_step(q);
  sqlite3_reset(q);
  return r == SQLITE_DONE ? 0 : db_fail(t, err, "deleting an item");
}

int ll_tables_begin(ll_tables_t *t, ll_err_t *err) {
  ll_assert(!t->in_tx);
  if (sqlite3_exec(t->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
    return db_fail(t, err, "beginning a transaction");
  t->in_tx = true;
  return 0;
}

int ll_tables_commit(ll_tables_t *t, ll_err_t *err) {
  ll_assert(t->in_tx);
  t->in_tx = false;
  if (sqlite3_exec(t->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) return 0;
  int rc = db_fail(t, err, "committing");
  sqlite3_exec(t->db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

void ll_tables_rollback(ll_tables_t *t) {
  if (!t->in_tx) return;
  t->in_tx = false;
  sqlite3_exec(t->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Steps q, handing each row (hk, rk, item in columns 0..2) to fn until it says stop. */
static int run(ll_tables_t *t, sqlite3_stmt *q, ll_item_fn fn, void *ud, ll_err_t *err) {
  int r;
  while ((r = sqlite3_step(q)) == SQLITE_ROW) {
    ll_item_key_t k = {sqlite3_column_blob(q, 0), (size_t)sqlite3_column_bytes(q, 0),
                       sqlite3_column_blob(q, 1), (size_t)sqlite3_column_bytes(q, 1)};
    json_t *item = json_loadb((const char *)sqlite3_column_text(q, 2),
                              (size_t)sqlite3_column_bytes(q, 2), 0, NULL);
    if (!item) {
      r = SQLITE_CORRUPT;
      break;
    }
    if (!fn(ud, &k, item)) {
      r = SQLITE_DONE;
      break;
    }
  }
  int rc = r == SQLITE_DONE ? 0 : db_fail(t, err, "reading items");
  sqlite3_finalize(q);
  return rc;
}

int ll_item_query(ll_tables_t *t, int64_t table, const uint8_t *hk, size_t hk_len,
                  const ll_item_range_t *r, ll_item_fn fn, void *ud, ll_err_t *err) {
  /* Conditions: ?3 lower bound, ?4 upper bound, ?5 prefix (as a range: prefix <= rk and rk
   * starts with it), ?6 the start key. */
  char sql[512];
  int n = snprintf(sql, sizeof sql, "SELECT hk, rk, item FROM items WHERE tid = ?1 AND hk = ?2");
  if (r->lo) n += snprintf(sql + n, sizeof sql - (size_t)n, " AND rk %s ?3", r->lo_incl ? ">=" : ">");
  if (r->hi) n += snprintf(sql + n, sizeof sql - (size_t)n, " AND rk %s ?4", r->hi_incl ? "<=" : "<");
  if (r->prefix)
    n += snprintf(sql + n, sizeof sql - (size_t)n, " AND rk >= ?5 AND substr(rk, 1, length(?5)) = ?5");
  if (r->start) n += snprintf(sql + n, sizeof sql - (size_t)n, " AND rk %s ?6", r->reverse ? "<" : ">");
  snprintf(sql + n, sizeof sql - (size_t)n, " ORDER BY rk %s", r->reverse ? "DESC" : "ASC");
  sqlite3_stmt *q;
  if (prepare(t, sql, &q)) return db_fail(t, err, "querying");
  sqlite3_bind_int64(q, 1, table);
  sqlite3_bind_blob(q, 2, hk, (int)hk_len, SQLITE_STATIC);
  if (r->lo) sqlite3_bind_blob(q, 3, r->lo, (int)r->lo_len, SQLITE_STATIC);
  if (r->hi) sqlite3_bind_blob(q, 4, r->hi, (int)r->hi_len, SQLITE_STATIC);
  if (r->prefix) sqlite3_bind_blob(q, 5, r->prefix_len ? (const void *)r->prefix : "", (int)r->prefix_len, SQLITE_STATIC);
  if (r->start) sqlite3_bind_blob(q, 6, r->start_len ? (const void *)r->start : "", (int)r->start_len, SQLITE_STATIC);
  return run(t, q, fn, ud, err);
}

int ll_item_scan(ll_tables_t *t, int64_t table, const ll_item_key_t *start, int segment,
                 int total, ll_item_fn fn, void *ud, ll_err_t *err) {
  char sql[512];
  int n = snprintf(sql, sizeof sql, "SELECT hk, rk, item FROM items WHERE tid = ?1");
  if (start) n += snprintf(sql + n, sizeof sql - (size_t)n, " AND (seg, hk, rk) > (?2, ?3, ?4)");
  if (total > 1) n += snprintf(sql + n, sizeof sql - (size_t)n, " AND seg %% ?5 = ?6");
  snprintf(sql + n, sizeof sql - (size_t)n, " ORDER BY seg, hk, rk");
  sqlite3_stmt *q;
  if (prepare(t, sql, &q)) return db_fail(t, err, "scanning");
  sqlite3_bind_int64(q, 1, table);
  if (start) {
    sqlite3_bind_int64(q, 2, seg_of(start->hk, start->hk_len));
    bind_key(q, 3, start);
  }
  if (total > 1) {
    sqlite3_bind_int(q, 5, total);
    sqlite3_bind_int(q, 6, segment);
  }
  return run(t, q, fn, ud, err);
}

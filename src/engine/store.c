/* The metadata store: functions, layers and credentials in SQLite (WAL) under data_dir/meta.db.
 * Records are JSON documents (the engine's own shape), keyed by name. Writes are small and
 * synchronous on the loop; SQLite's WAL keeps them to one fsync each. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "engine/engine_int.h"

static const char *schema =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS functions(name TEXT PRIMARY KEY, doc TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS layers(name TEXT NOT NULL, version INTEGER NOT NULL,"
    "  doc TEXT NOT NULL, PRIMARY KEY(name, version));"
    "CREATE TABLE IF NOT EXISTS credentials(access_key TEXT PRIMARY KEY, secret TEXT NOT NULL,"
    "  development INTEGER NOT NULL DEFAULT 0, enabled INTEGER NOT NULL DEFAULT 1);"
    "INSERT OR IGNORE INTO credentials(access_key, secret, development) VALUES('test','test',1);";

static int exec(ll_engine_t *e, const char *sql, ll_err_t *err) {
  char *msg = NULL;
  if (sqlite3_exec(e->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    ll_err_set(err, LL_E_INTERNAL, "metadata store: %s", msg ? msg : "unknown error");
    sqlite3_free(msg);
    return -1;
  }
  return 0;
}

static int load_credentials(ll_engine_t *e) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(e->db,
                         "SELECT access_key, secret, development FROM credentials WHERE enabled",
                         -1, &st, NULL) != SQLITE_OK)
    return -1;
  while (sqlite3_step(st) == SQLITE_ROW) {
    e->keys = ll_realloc(e->keys, (e->nkeys + 1) * sizeof *e->keys);
    e->secrets = ll_realloc(e->secrets, (e->nkeys + 1) * sizeof *e->secrets);
    e->keys[e->nkeys] = ll_strdup((const char *)sqlite3_column_text(st, 0));
    e->secrets[e->nkeys] = ll_strdup((const char *)sqlite3_column_text(st, 1));
    if (sqlite3_column_int(st, 2)) e->dev_key_enabled = true;
    e->nkeys++;
  }
  sqlite3_finalize(st);
  return 0;
}

static int load_docs(ll_engine_t *e, const char *sql, bool layers, ll_err_t *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(e->db, sql, -1, &st, NULL) != SQLITE_OK)
    return ll_err_set(err, LL_E_INTERNAL, "metadata store: %s", sqlite3_errmsg(e->db));
  while (sqlite3_step(st) == SQLITE_ROW) {
    json_error_t jerr;
    json_t *rec = json_loads((const char *)sqlite3_column_text(st, 0), 0, &jerr);
    if (!rec) continue; /* a damaged record is skipped, never fatal */
    if (layers) {
      ll_layer_version_t *lv = ll__layer_from_record(e, rec);
      if (lv) ll__layer_insert(e, lv);
    } else {
      ll_function_t *fn = ll__function_from_record(e, rec);
      if (fn) {
        ll__function_prune(e, fn);
        ll__function_insert(e, fn);
      }
    }
    json_decref(rec);
  }
  sqlite3_finalize(st);
  return 0;
}

int ll__store_open(ll_engine_t *e, ll_err_t *err) {
  char *path = ll_sprintf("%s/meta.db", e->data_dir);
  int r = sqlite3_open_v2(path, &e->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
  if (r != SQLITE_OK) {
    ll_err_set(err, LL_E_INTERNAL, "opening %s: %s", path, sqlite3_errstr(r));
    free(path);
    return -1;
  }
  free(path);
  sqlite3_busy_timeout(e->db, 5000);
  if (exec(e, schema, err) < 0) return -1;
  if (load_credentials(e) < 0) return ll_err_set(err, LL_E_INTERNAL, "loading credentials");
  if (load_docs(e, "SELECT doc FROM layers ORDER BY name, version", true, err) < 0) return -1;
  return load_docs(e, "SELECT doc FROM functions ORDER BY name", false, err);
}

void ll__store_close(ll_engine_t *e) {
  if (e->db) sqlite3_close(e->db);
  e->db = NULL;
}

static int put(ll_engine_t *e, const char *sql, const char *name, int version, json_t *doc,
               ll_err_t *err) {
  char *text = json_dumps(doc, JSON_COMPACT);
  sqlite3_stmt *st;
  int r = sqlite3_prepare_v2(e->db, sql, -1, &st, NULL);
  if (r == SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
    if (version > 0) sqlite3_bind_int(st, 3, version);
    r = sqlite3_step(st);
    sqlite3_finalize(st);
  }
  free(text);
  if (r != SQLITE_DONE)
    return ll_err_set(err, LL_E_INTERNAL, "metadata store: %s", sqlite3_errmsg(e->db));
  return 0;
}

/* The record of a function: its configuration plus what the engine derived. */
int ll__store_save_function(ll_engine_t *e, const ll_function_t *fn, ll_err_t *err) {
  json_t *rec = json_pack("{s:O,s:s,s:I,s:s,s:I,s:s,s:s,s:I,s:i}", "Config", fn->config,
                          "CodeSha256", fn->code_sha256, "CodeSize", (json_int_t)fn->code_size,
                          "RevisionId", fn->revision_id, "LastModified",
                          (json_int_t)fn->last_modified_ms, "CodeDir", fn->code_dir, "OptDir",
                          fn->opt_dir, "Generation", (json_int_t)fn->generation, "Reserved",
                          fn->reserved);
  int r = put(e, "INSERT OR REPLACE INTO functions(name, doc) VALUES(?1, ?2)", fn->name, 0, rec,
              err);
  json_decref(rec);
  return r;
}

int ll__store_delete_function(ll_engine_t *e, const char *name) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(e->db, "DELETE FROM functions WHERE name = ?1", -1, &st, NULL) != SQLITE_OK)
    return -1;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  int r = sqlite3_step(st);
  sqlite3_finalize(st);
  return r == SQLITE_DONE ? 0 : -1;
}

int ll__store_save_layer(ll_engine_t *e, const ll_layer_version_t *lv, ll_err_t *err) {
  json_t *rec = json_pack("{s:s,s:i,s:O,s:s}", "Name", lv->name, "Version", lv->version, "Info",
                          lv->info, "Dir", lv->dir);
  int r = put(e, "INSERT OR REPLACE INTO layers(name, doc, version) VALUES(?1, ?2, ?3)", lv->name,
              lv->version, rec, err);
  json_decref(rec);
  return r;
}

int ll__store_delete_layer(ll_engine_t *e, const char *name, int version) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(e->db, "DELETE FROM layers WHERE name = ?1 AND version = ?2", -1, &st,
                         NULL) != SQLITE_OK)
    return -1;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 2, version);
  int r = sqlite3_step(st);
  sqlite3_finalize(st);
  return r == SQLITE_DONE ? 0 : -1;
}

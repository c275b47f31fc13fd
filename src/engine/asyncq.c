/* Asynchronous invocations (X-Amz-Invocation-Type: Event), as AWS processes them
 * (aws-wire-contract.md §4): every event is written to the metadata database before the caller
 * gets its 202, so it survives kill -9 and restart; it is then run when the function has
 * concurrency to spare; a function error is retried MaximumRetryAttempts times (default 2,
 * about 1 and 2 minutes apart), throttles are retried with backoff, an event older than
 * MaximumEventAgeInSeconds is dropped; the outcome goes to the OnSuccess / OnFailure
 * destination (another function, or a stream through ll_engine_set_destination) as AWS's
 * invocation record.
 *
 * Why SQLite and not the stream log: events are few per function compared with stream records,
 * each needs its own attempt count and due time, and deletion on success is per event — a
 * table with an index on due time is the natural shape, and WAL keeps each enqueue to one
 * append. Delivery is at least once: an event running when the daemon dies runs again. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/mem.h"
#include "core/random.h"
#include "engine/engine_int.h"

#define PUMP_MS 100
#define BATCH 64

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS async_events(id INTEGER PRIMARY KEY, request_id TEXT NOT NULL,"
    "  function TEXT NOT NULL, payload BLOB NOT NULL, trace TEXT, created_ms INTEGER NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0, next_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS async_due ON async_events(next_ms);";

/* One event being run. */
typedef struct running {
  ll_engine_t *e;
  int64_t id;
  char request_id[37];
  char *function;
  char *payload; /* owned copy for the destination record */
  size_t len;
  int attempts; /* including this one */
  int64_t created_ms;
} running_t;

static json_t *invoke_config(const ll_function_t *fn) {
  return json_object_get(fn->config, "EventInvokeConfig");
}

static int max_retries(const ll_function_t *fn) {
  json_t *v = json_object_get(invoke_config(fn), "MaximumRetryAttempts");
  return json_is_integer(v) ? (int)json_integer_value(v) : 2;
}

static int64_t max_age_ms(const ll_engine_t *e, const ll_function_t *fn) {
  json_t *v = json_object_get(invoke_config(fn), "MaximumEventAgeInSeconds");
  return (int64_t)((double)(json_is_integer(v) ? json_integer_value(v) : 21600) * 1000 *
                   e->cfg.async_time_scale);
}

static bool in_flight(ll_engine_t *e, int64_t id) {
  for (size_t i = 0; i < e->async_nrunning; i++)
    if (e->async_running[i] == id) return true;
  return false;
}

static void mark_running(ll_engine_t *e, int64_t id, bool on) {
  if (on) {
    e->async_running = ll_realloc(e->async_running, (e->async_nrunning + 1) * sizeof(int64_t));
    e->async_running[e->async_nrunning++] = id;
    return;
  }
  for (size_t i = 0; i < e->async_nrunning; i++) {
    if (e->async_running[i] != id) continue;
    e->async_running[i] = e->async_running[--e->async_nrunning];
    return;
  }
}

static void exec_sql(ll_engine_t *e, const char *sql, int64_t a, int64_t b, int64_t c) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(e->db, sql, -1, &st, NULL) != SQLITE_OK) return;
  sqlite3_bind_int64(st, 1, a);
  sqlite3_bind_int64(st, 2, b);
  sqlite3_bind_int64(st, 3, c);
  sqlite3_step(st);
  sqlite3_finalize(st);
}

static int64_t insert(ll_engine_t *e, const char *request_id, const char *fn, const void *payload,
                      size_t len, const char *trace, int64_t now, ll_err_t *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(e->db,
                         "INSERT INTO async_events(request_id, function, payload, trace, "
                         "created_ms, next_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?5)",
                         -1, &st, NULL) != SQLITE_OK)
    return ll_err_set(err, LL_E_INTERNAL, "queueing the event: %s", sqlite3_errmsg(e->db));
  sqlite3_bind_text(st, 1, request_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, fn, -1, SQLITE_STATIC);
  sqlite3_bind_blob(st, 3, payload, (int)len, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, trace ? trace : "", -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 5, now);
  int r = sqlite3_step(st);
  sqlite3_finalize(st);
  if (r != SQLITE_DONE)
    return ll_err_set(err, LL_E_INTERNAL, "queueing the event: %s", sqlite3_errmsg(e->db));
  return sqlite3_last_insert_rowid(e->db);
}

static void pump(ll_engine_t *e);
static void on_pump(uv_timer_t *t);

int ll_invoke_async(ll_engine_t *e, ll_function_t *fn, const char *payload, size_t len,
                    const char *trace_header, char request_id[37], ll_err_t *err) {
  ll_uuid4(request_id);
  if (insert(e, request_id, fn->name, payload, len, trace_header, ll_wall_ms(), err) < 0) return -1;
  /* Pump at the next loop turn: every event queued in this turn shares one pump. */
  uv_timer_start(&e->async_timer, on_pump, 0, PUMP_MS);
  return 0;
}

/* ---- outcomes and destinations ----------------------------------------------------------- */

void ll_engine_set_destination(ll_engine_t *e, ll_destination_fn fn, void *ud) {
  e->destination = fn;
  e->destination_ud = ud;
}

/* Sends AWS's invocation record to the destination: a function (as an event of its own), or
 * what the destination hook knows (a stream). */
static void to_destination(ll_engine_t *e, const ll_function_t *fn, const char *which,
                           const running_t *r, const char *condition, const char *function_error,
                           const char *response, size_t response_len) {
  json_t *dest = json_object_get(json_object_get(json_object_get(invoke_config(fn),
                                                                 "DestinationConfig"),
                                                 which),
                                 "Destination");
  const char *arn = json_string_value(dest);
  if (!arn) return;
  const char *target = strstr(arn, ":function:");
  ll_function_t *to = NULL;
  if (target) {
    char name[160];
    snprintf(name, sizeof name, "%.*s", (int)strcspn(target + 10, ":"), target + 10);
    if (!(to = ll_function_find(e, name))) return;
  } else if (!e->destination) {
    return;
  }
  char ts[40];
  ll_format_iso_ms(ll_wall_ms(), ts, sizeof ts);
  json_t *req_payload = json_loadb(r->payload, r->len, JSON_DECODE_ANY, NULL);
  json_t *resp_payload = response ? json_loadb(response, response_len, JSON_DECODE_ANY, NULL) : NULL;
  json_t *resp_ctx = json_pack("{s:i,s:s}", "statusCode", 200, "executedVersion", "$LATEST");
  if (function_error) json_object_set_new(resp_ctx, "functionError", json_string(function_error));
  json_t *rec = json_pack("{s:s,s:s,s:{s:s,s:o,s:s,s:i},s:o,s:o,s:o}", "version", "1.0",
                          "timestamp", ts, "requestContext", "requestId", r->request_id,
                          "functionArn", json_sprintf("%s:$LATEST", fn->arn), "condition",
                          condition, "approximateInvokeCount", r->attempts, "requestPayload",
                          req_payload ? req_payload : json_null(), "responseContext", resp_ctx,
                          "responsePayload", resp_payload ? resp_payload : json_null());
  char *body = json_dumps(rec, JSON_COMPACT);
  json_decref(rec);
  char rid[37];
  ll_err_t err = LL_ERR_INIT;
  int rc = to ? ll_invoke_async(e, to, body, strlen(body), NULL, rid, &err)
              : e->destination(e->destination_ud, arn, r->request_id, body, strlen(body), &err);
  if (rc < 0)
    fprintf(stderr, "lambdalite: %s of %s: sending to %s: %s\n", which, fn->name, arn, err.msg);
  free(body);
}

static void running_free(running_t *r) {
  free(r->function);
  free(r->payload);
  free(r);
}

/* Milliseconds until attempt n+1 of a failed event: AWS waits about a minute before the second
 * attempt and two before the third; --async-time-scale shrinks that (and the age limit) for
 * tests. */
static int64_t retry_delay_ms(const ll_engine_t *e, int attempts) {
  double base = attempts <= 1 ? 60000 : 120000;
  return (int64_t)(base * e->cfg.async_time_scale);
}

static void on_done(void *ud, const ll_invoke_result_t *res) {
  running_t *r = ud;
  ll_engine_t *e = r->e;
  mark_running(e, r->id, false);
  ll_function_t *fn = ll_function_find(e, r->function);
  if (!fn || res->status == LL_INVOKE_GONE || e->closing) {
    if (!e->closing) exec_sql(e, "DELETE FROM async_events WHERE id = ?1", r->id, 0, 0);
    running_free(r);
    return;
  }
  if (res->status == LL_INVOKE_THROTTLED) { /* no memory to run it: later, not an attempt */
    exec_sql(e, "UPDATE async_events SET next_ms = ?2 WHERE id = ?1", r->id, ll_wall_ms() + 1000,
             0);
    running_free(r);
    return;
  }
  if (res->status == LL_INVOKE_OK) {
    exec_sql(e, "DELETE FROM async_events WHERE id = ?1", r->id, 0, 0);
    to_destination(e, fn, "OnSuccess", r, "Success", NULL, res->body, res->len);
  } else if (r->attempts > max_retries(fn)) {
    exec_sql(e, "DELETE FROM async_events WHERE id = ?1", r->id, 0, 0);
    to_destination(e, fn, "OnFailure", r, "RetriesExhausted", "Unhandled", res->body, res->len);
  } else {
    exec_sql(e, "UPDATE async_events SET attempts = ?2, next_ms = ?3 WHERE id = ?1", r->id,
             r->attempts, ll_wall_ms() + retry_delay_ms(e, r->attempts));
  }
  running_free(r);
  uv_timer_start(&e->async_timer, on_pump, 0, PUMP_MS); /* more may be due */
}

/* ---- the pump ---------------------------------------------------------------------------- */

/* Starts every due event whose function has concurrency to spare. */
static void pump(ll_engine_t *e) {
  if (e->closing || !e->db) return;
  int64_t now = ll_wall_ms();
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(e->db,
                         "SELECT id, request_id, function, payload, trace, created_ms, attempts "
                         "FROM async_events WHERE next_ms <= ?1 ORDER BY next_ms, id LIMIT ?2",
                         -1, &st, NULL) != SQLITE_OK)
    return;
  sqlite3_bind_int64(st, 1, now);
  sqlite3_bind_int(st, 2, BATCH + (int)e->async_nrunning);
  const ll_function_t *full[8]; /* functions found throttled in this pass: skip their events */
  size_t nfull = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(st, 0);
    if (in_flight(e, id)) continue;
    const char *fname = (const char *)sqlite3_column_text(st, 2);
    ll_function_t *fn = ll_function_find(e, fname);
    bool skip = false;
    for (size_t i = 0; i < nfull && !skip; i++) skip = full[i] == fn;
    if (skip) continue;
    if (!fn) { /* the function is gone: so is its event */
      exec_sql(e, "DELETE FROM async_events WHERE id = ?1", id, 0, 0);
      continue;
    }
    running_t *r = ll_calloc(1, sizeof *r);
    r->e = e;
    r->id = id;
    snprintf(r->request_id, sizeof r->request_id, "%s", (const char *)sqlite3_column_text(st, 1));
    r->function = ll_strdup(fname);
    r->len = (size_t)sqlite3_column_bytes(st, 3);
    r->payload = ll_malloc(r->len + 1);
    if (r->len) memcpy(r->payload, sqlite3_column_blob(st, 3), r->len);
    r->created_ms = sqlite3_column_int64(st, 5);
    r->attempts = sqlite3_column_int(st, 6) + 1;
    if (fn->reserved == 0) { /* AWS: straight to the failure destination, no retries */
      exec_sql(e, "DELETE FROM async_events WHERE id = ?1", id, 0, 0);
      r->attempts = 0;
      to_destination(e, fn, "OnFailure", r, "ZeroReservedConcurrency", NULL, NULL, 0);
      running_free(r);
      continue;
    }
    if (now - r->created_ms > max_age_ms(e, fn)) {
      exec_sql(e, "DELETE FROM async_events WHERE id = ?1", id, 0, 0);
      r->attempts--;
      to_destination(e, fn, "OnFailure", r, "EventAgeExceeded", NULL, NULL, 0);
      running_free(r);
      continue;
    }
    char *payload = ll_malloc(r->len + 1);
    memcpy(payload, r->payload, r->len);
    const char *trace = (const char *)sqlite3_column_text(st, 4);
    ll_invoke_opts_t opts = {.trace_header = trace && trace[0] ? trace : NULL};
    char rid[37];
    ll_err_t err = LL_ERR_INIT;
    mark_running(e, id, true);
    if (ll_invoke(e, fn, payload, r->len, &opts, on_done, r, rid, &err) < 0) {
      /* throttled: back off (1 s doubling, at most 5 min) and try again */
      mark_running(e, id, false);
      if (nfull < sizeof full / sizeof full[0]) full[nfull++] = fn;
      int64_t backoff = (int64_t)(1000 * pow(2, r->attempts - 1 > 8 ? 8 : r->attempts - 1));
      if (backoff > 300000) backoff = 300000;
      exec_sql(e, "UPDATE async_events SET next_ms = ?2 WHERE id = ?1", id, now + backoff, 0);
      running_free(r);
    }
  }
  sqlite3_finalize(st);
}

static void on_pump(uv_timer_t *t) { pump(t->data); }

int ll__asyncq_open(ll_engine_t *e, ll_err_t *err) {
  char *msg = NULL;
  if (sqlite3_exec(e->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
    ll_err_set(err, LL_E_INTERNAL, "async queue: %s", msg ? msg : "?");
    sqlite3_free(msg);
    return -1;
  }
  if (e->cfg.async_time_scale <= 0) e->cfg.async_time_scale = 1;
  uv_timer_init(e->loop, &e->async_timer);
  e->async_timer.data = e;
  uv_timer_start(&e->async_timer, on_pump, 0, PUMP_MS);
  uv_unref((uv_handle_t *)&e->async_timer);
  return 0;
}

size_t ll_engine_async_queued(ll_engine_t *e) {
  sqlite3_stmt *st;
  size_t n = 0;
  if (e->db && sqlite3_prepare_v2(e->db, "SELECT count(*) FROM async_events", -1, &st, NULL) == SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW) n = (size_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  return n;
}

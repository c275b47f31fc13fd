/* Streams over shard logs: metadata in SQLite, records in log.c, group commit on the loop. */
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/clock.h"
#include "core/mem.h"
#include "core/random.h"
#include "stream/log.h"
#include "stream/stream.h"

#define RETENTION_CHECK_MS 60000

/* One put waiting for its records to be durable. */
typedef struct put {
  struct put *next;
  ll_stream_t *st;
  ll_put_result_t *results;
  size_t n;
  ll_put_cb cb;
  void *ud;
  int status;
  bool ready; /* durable (or failed): answer at the next loop turn */
} put_t;

typedef struct sync_job {
  uv_work_t work;
  ll_streams_t *ss;
  ll_stream_t *st;
  ll_shard_t *sh;
  int rc;
  uint64_t durable;
  ll_err_t err;
} sync_job_t;

struct ll_streams {
  uv_loop_t *loop;
  char *dir;
  char *region, *account;
  ll_fsync_mode_t mode;
  sqlite3 *db;
  ll_stream_t **streams; /* sorted by name */
  size_t n;
  put_t *puts; /* waiting, oldest first */
  uv_prepare_t committer;
  uv_timer_t retention;
  ll_records_cb on_records;
  void *on_records_ud;
  int handles; /* open handles + syncs in flight: freed at 0 after close */
  bool closing;
};

/* ---- 128-bit numbers ------------------------------------------------------------------------- */

void ll_u128_format(ll_u128 v, char out[40]) {
  char tmp[40];
  int i = 0;
  do {
    tmp[i++] = (char)('0' + (int)(v % 10));
    v /= 10;
  } while (v);
  for (int j = 0; j < i; j++) out[j] = tmp[i - 1 - j];
  out[i] = '\0';
}

bool ll_u128_parse(const char *s, size_t len, ll_u128 *out) {
  if (len == 0 || len > 39 || (len > 1 && s[0] == '0')) return false;
  ll_u128 v = 0, max = ~(ll_u128)0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    unsigned d = (unsigned)(s[i] - '0');
    if (v > (max - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

ll_u128 ll_stream_key_hash(const char *key, size_t len) {
  /* one digest context for the loop thread: EVP_Digest would make and free one per key */
  static _Thread_local EVP_MD_CTX *ctx;
  static _Thread_local EVP_MD *md5; /* fetched once: EVP_md5() looks it up (under a lock) each time */
  if (!ctx) {
    ctx = EVP_MD_CTX_new();
    md5 = EVP_MD_fetch(NULL, "MD5", NULL);
  }
  unsigned char md[16];
  unsigned int mdlen = 0;
  EVP_DigestInit_ex(ctx, md5, NULL);
  EVP_DigestUpdate(ctx, key, len);
  EVP_DigestFinal_ex(ctx, md, &mdlen);
  ll_u128 v = 0;
  for (int i = 0; i < 16; i++) v = (v << 8) | md[i];
  return v;
}

/* ---- metadata -------------------------------------------------------------------------------- */

static json_t *stream_doc(const ll_stream_t *st) {
  json_t *shards = json_array();
  for (size_t i = 0; i < st->nshards; i++) {
    const ll_shard_t *sh = st->shards[i];
    char a[40], b[40];
    ll_u128_format(sh->hash_start, a);
    ll_u128_format(sh->hash_end, b);
    json_array_append_new(shards, json_pack("{s:s,s:i,s:s,s:s,s:I}", "ShardId", sh->id, "Index",
                                            sh->index, "Start", a, "End", b, "StartSeq",
                                            (json_int_t)sh->start_seq));
  }
  return json_pack("{s:s,s:s,s:s,s:I,s:i,s:b,s:O,s:o}", "StreamName", st->name, "StreamARN",
                   st->arn, "DirId", st->dir_id, "Created", (json_int_t)st->created_ms,
                   "RetentionHours", st->retention_hours, "OnDemand", st->on_demand, "Tags",
                   st->tags, "Shards", shards);
}

static int save(ll_streams_t *ss, const ll_stream_t *st, ll_err_t *err) {
  json_t *doc = stream_doc(st);
  char *text = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  sqlite3_stmt *q;
  int rc = sqlite3_prepare_v2(ss->db, "INSERT OR REPLACE INTO streams(name, doc) VALUES(?1, ?2)", -1,
                              &q, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(q, 1, st->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, text, -1, SQLITE_STATIC);
    rc = sqlite3_step(q) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    sqlite3_finalize(q);
  }
  free(text);
  if (rc != SQLITE_OK)
    return ll_err_set(err, LL_SE_INTERNAL, "saving stream %s: %s", st->name, sqlite3_errmsg(ss->db));
  return 0;
}

static char *shard_dir(const ll_streams_t *ss, const ll_stream_t *st, const ll_shard_t *sh) {
  return ll_sprintf("%s/%s/%s", ss->dir, st->dir_id, sh->id);
}

static void stream_free(ll_stream_t *st) {
  for (size_t i = 0; i < st->nshards; i++) {
    if (st->shards[i]->log) ll_log_close(st->shards[i]->log);
    free(st->shards[i]);
  }
  free(st->shards);
  json_decref(st->tags);
  free(st->name);
  free(st->arn);
  free(st->dir_id);
  free(st);
}

static int last_arrival(void *ud, const ll_log_record_t *r) {
  ((ll_shard_t *)ud)->last_arrival_ms = r->arrival_ms;
  return 0;
}

static int open_logs(ll_streams_t *ss, ll_stream_t *st, ll_err_t *err) {
  for (size_t i = 0; i < st->nshards; i++) {
    ll_shard_t *sh = st->shards[i];
    char *dir = shard_dir(ss, st, sh);
    int rc = ll_log_open(dir, sh->start_seq, NULL, &sh->log, err);
    free(dir);
    if (rc < 0) return ll_err_wrap(err, "stream %s, %s", st->name, sh->id);
    sh->durable_only = ss->mode != LL_FSYNC_NEVER;
    /* what was there at start was synced or is gone: all of it is durable now */
    uint64_t durable, last = ll_log_last_seq(sh->log);
    if (last && ll_log_sync(sh->log, &durable, err) < 0) return ll_err_wrap(err, "stream %s", st->name);
    sh->last_arrival_ms = 0;
    uint64_t next;
    if (last) ll_log_read(sh->log, last, last, 1, 0, last_arrival, sh, &next, err);
  }
  return 0;
}

static ll_stream_t *stream_from_doc(json_t *doc) {
  ll_stream_t *st = ll_calloc(1, sizeof *st);
  st->name = ll_strdup(json_string_value(json_object_get(doc, "StreamName")));
  st->arn = ll_strdup(json_string_value(json_object_get(doc, "StreamARN")));
  st->dir_id = ll_strdup(json_string_value(json_object_get(doc, "DirId")));
  st->created_ms = json_integer_value(json_object_get(doc, "Created"));
  st->retention_hours = (int)json_integer_value(json_object_get(doc, "RetentionHours"));
  st->on_demand = json_is_true(json_object_get(doc, "OnDemand"));
  st->tags = json_incref(json_object_get(doc, "Tags"));
  if (!json_is_object(st->tags)) {
    json_decref(st->tags);
    st->tags = json_object();
  }
  json_t *shards = json_object_get(doc, "Shards");
  st->nshards = json_array_size(shards);
  st->shards = ll_calloc(st->nshards ? st->nshards : 1, sizeof *st->shards);
  for (size_t i = 0; i < st->nshards; i++) {
    json_t *s = json_array_get(shards, i);
    ll_shard_t *sh = ll_calloc(1, sizeof *sh);
    snprintf(sh->id, sizeof sh->id, "%s", json_string_value(json_object_get(s, "ShardId")));
    sh->index = (int)json_integer_value(json_object_get(s, "Index"));
    const char *a = json_string_value(json_object_get(s, "Start"));
    const char *b = json_string_value(json_object_get(s, "End"));
    if (!a || !b || !ll_u128_parse(a, strlen(a), &sh->hash_start) ||
        !ll_u128_parse(b, strlen(b), &sh->hash_end)) {
      free(sh);
      st->nshards = i;
      stream_free(st);
      return NULL;
    }
    sh->start_seq = (uint64_t)json_integer_value(json_object_get(s, "StartSeq"));
    if (sh->start_seq == 0) sh->start_seq = 1;
    st->shards[i] = sh;
  }
  if (!st->name || !st->arn || !st->dir_id) {
    stream_free(st);
    return NULL;
  }
  return st;
}

static int cmp_stream(const void *a, const void *b) {
  return strcmp((*(ll_stream_t *const *)a)->name, (*(ll_stream_t *const *)b)->name);
}

static void insert(ll_streams_t *ss, ll_stream_t *st) {
  ss->streams = ll_realloc(ss->streams, (ss->n + 1) * sizeof *ss->streams);
  ss->streams[ss->n++] = st;
  qsort(ss->streams, ss->n, sizeof *ss->streams, cmp_stream);
}

/* ---- group commit ---------------------------------------------------------------------------- */

static void stream_unref(ll_streams_t *ss, ll_stream_t *st) {
  if (--st->refs > 0 || !st->deleted) return;
  char *dir = ll_sprintf("%s/%s", ss->dir, st->dir_id);
  for (size_t i = 0; i < st->nshards; i++) {
    ll_log_close(st->shards[i]->log);
    st->shards[i]->log = NULL;
  }
  ll_err_t err = LL_ERR_INIT;
  for (size_t i = 0; i < st->nshards; i++) {
    char *sd = shard_dir(ss, st, st->shards[i]);
    ll_log_destroy(sd, &err);
    free(sd);
  }
  rmdir(dir);
  free(dir);
  stream_free(st);
}

static void streams_free(ll_streams_t *ss) {
  for (size_t i = 0; i < ss->n; i++) stream_free(ss->streams[i]);
  free(ss->streams);
  if (ss->db) sqlite3_close(ss->db);
  free(ss->dir);
  free(ss->region);
  free(ss->account);
  free(ss);
}

static void streams_unref(ll_streams_t *ss) {
  if (--ss->handles == 0) streams_free(ss);
}

static uint64_t visible_seq(const ll_streams_t *ss, const ll_shard_t *sh) {
  (void)ss;
  return ll_shard_last_seq(sh);
}

/* Whether every record of the put is durable. */
static bool put_durable(const ll_streams_t *ss, const put_t *p) {
  for (size_t i = 0; i < p->n; i++)
    if (!p->results[i].error && visible_seq(ss, p->results[i].shard) < p->results[i].seq) return false;
  return true;
}

/* Answers the puts that are ready, in order. */
static void answer_ready(ll_streams_t *ss) {
  put_t **pp = &ss->puts;
  while (*pp) {
    put_t *p = *pp;
    if (!p->ready && !p->status && put_durable(ss, p)) p->ready = true;
    if (!p->ready) {
      pp = &p->next;
      continue;
    }
    *pp = p->next;
    p->cb(p->ud, p->status, p->results, p->n);
    ll_stream_t *st = p->st;
    free(p->results);
    free(p);
    stream_unref(ss, st);
  }
}

static void start_sync(ll_streams_t *ss, ll_stream_t *st, ll_shard_t *sh);

/* Tells the observer about every shard whose records became visible. */
static void tell_fresh(ll_streams_t *ss) {
  for (size_t i = 0; i < ss->n; i++)
    for (size_t k = 0; k < ss->streams[i]->nshards; k++) {
      ll_shard_t *sh = ss->streams[i]->shards[k];
      if (!sh->fresh) continue;
      sh->fresh = false;
      if (ss->on_records) ss->on_records(ss->on_records_ud, ss->streams[i], sh);
    }
}

static void sync_work(uv_work_t *w) {
  sync_job_t *j = w->data;
  j->rc = ll_log_sync(j->sh->log, &j->durable, &j->err);
}

static void sync_done(uv_work_t *w, int status) {
  sync_job_t *j = w->data;
  ll_streams_t *ss = j->ss;
  ll_shard_t *sh = j->sh;
  sh->syncing = false;
  if (j->rc == 0 && status == 0 && !j->st->deleted && !ss->closing) sh->fresh = true;
  if (j->rc < 0 || status < 0) {
    /* The puts waiting on this shard's unsynced records fail; later syncs retry. */
    fprintf(stderr, "lambdalite: stream %s, %s: %s\n", j->st->name, sh->id,
            j->rc < 0 ? j->err.msg : "sync cancelled");
    for (put_t *p = ss->puts; p; p = p->next)
      for (size_t i = 0; i < p->n && !p->ready; i++)
        if (p->results[i].shard == sh && p->results[i].seq > ll_log_durable_seq(sh->log)) {
          p->status = EIO;
          p->ready = true;
        }
  }
  if (sh->dirty && !ss->closing && !j->st->deleted) start_sync(ss, j->st, sh);
  answer_ready(ss);
  if (!ss->closing) tell_fresh(ss);
  stream_unref(ss, j->st);
  free(j);
  streams_unref(ss);
}

static void start_sync(ll_streams_t *ss, ll_stream_t *st, ll_shard_t *sh) {
  sync_job_t *j = ll_calloc(1, sizeof *j);
  j->ss = ss;
  j->st = st;
  j->sh = sh;
  j->work.data = j;
  sh->dirty = false;
  sh->syncing = true;
  st->refs++;
  ss->handles++;
  uv_queue_work(ss->loop, &j->work, sync_work, sync_done);
}

/* Before the loop waits: one sync per shard written since (batch), and the answers that are
 * due (never / always). */
static void on_prepare(uv_prepare_t *h) {
  ll_streams_t *ss = h->data;
  if (ss->mode == LL_FSYNC_BATCH)
    for (size_t i = 0; i < ss->n; i++)
      for (size_t k = 0; k < ss->streams[i]->nshards; k++) {
        ll_shard_t *sh = ss->streams[i]->shards[k];
        if (sh->dirty && !sh->syncing) start_sync(ss, ss->streams[i], sh);
      }
  answer_ready(ss);
  tell_fresh(ss);
  if (!ss->puts) uv_prepare_stop(h);
}

/* ---- retention ------------------------------------------------------------------------------- */

static void on_retention(uv_timer_t *t) {
  ll_streams_t *ss = t->data;
  int64_t now = ll_wall_ms();
  for (size_t i = 0; i < ss->n; i++) {
    ll_stream_t *st = ss->streams[i];
    for (size_t k = 0; k < st->nshards; k++) {
      ll_err_t err = LL_ERR_INIT;
      if (ll_log_trim_before(st->shards[k]->log, now - (int64_t)st->retention_hours * 3600000, &err) < 0)
        fprintf(stderr, "lambdalite: stream %s, %s: retention: %s\n", st->name, st->shards[k]->id,
                err.msg);
    }
  }
}

/* ---- open / close ---------------------------------------------------------------------------- */

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=FULL;"
    "CREATE TABLE IF NOT EXISTS streams(name TEXT PRIMARY KEY, doc TEXT NOT NULL);";

int ll_streams_open(uv_loop_t *loop, const char *data_dir, ll_fsync_mode_t mode, const char *region,
                    const char *account, ll_streams_t **out, ll_err_t *err) {
  ll_streams_t *ss = ll_calloc(1, sizeof *ss);
  ss->loop = loop;
  ss->mode = mode;
  ss->region = ll_strdup(region);
  ss->account = ll_strdup(account);
  ss->dir = ll_sprintf("%s/streams", data_dir);
  ss->handles = 1;
  if (mkdir(ss->dir, 0700) < 0 && errno != EEXIST) {
    ll_err_set(err, errno, "creating %s: %s", ss->dir, strerror(errno));
    goto fail;
  }
  char *db = ll_sprintf("%s/streams.db", ss->dir);
  int rc = sqlite3_open(db, &ss->db);
  free(db);
  char *msg = NULL;
  if (rc != SQLITE_OK || sqlite3_exec(ss->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
    ll_err_set(err, LL_SE_INTERNAL, "streams metadata: %s", msg ? msg : sqlite3_errmsg(ss->db));
    sqlite3_free(msg);
    goto fail;
  }
  sqlite3_busy_timeout(ss->db, 5000);
  sqlite3_stmt *q;
  if (sqlite3_prepare_v2(ss->db, "SELECT doc FROM streams", -1, &q, NULL) == SQLITE_OK) {
    while (sqlite3_step(q) == SQLITE_ROW) {
      json_t *doc = json_loads((const char *)sqlite3_column_text(q, 0), 0, NULL);
      ll_stream_t *st = doc ? stream_from_doc(doc) : NULL;
      json_decref(doc);
      if (!st) continue; /* a damaged record is skipped, never fatal */
      if (open_logs(ss, st, err) < 0) {
        sqlite3_finalize(q);
        stream_free(st);
        goto fail;
      }
      insert(ss, st);
    }
    sqlite3_finalize(q);
  }
  uv_prepare_init(loop, &ss->committer);
  ss->committer.data = ss;
  uv_timer_init(loop, &ss->retention);
  ss->retention.data = ss;
  uv_timer_start(&ss->retention, on_retention, RETENTION_CHECK_MS, RETENTION_CHECK_MS);
  uv_unref((uv_handle_t *)&ss->retention);
  ss->handles = 2;
  *out = ss;
  return 0;
fail:
  streams_free(ss);
  return -1;
}

static void on_handle_closed(uv_handle_t *h) { streams_unref(h->data); }

void ll_streams_close(ll_streams_t *ss) {
  ss->closing = true;
  for (put_t *p = ss->puts; p; p = p->next)
    if (!p->ready && !put_durable(ss, p)) {
      p->status = ECANCELED;
      p->ready = true;
    }
  answer_ready(ss);
  uv_close((uv_handle_t *)&ss->committer, on_handle_closed);
  uv_close((uv_handle_t *)&ss->retention, on_handle_closed);
}

ll_fsync_mode_t ll_streams_fsync_mode(const ll_streams_t *ss) { return ss->mode; }
const char *ll_streams_account(const ll_streams_t *ss) { return ss->account; }

void ll_streams_on_records(ll_streams_t *ss, ll_records_cb cb, void *ud) {
  ss->on_records = cb;
  ss->on_records_ud = ud;
}
const char *ll_streams_region(const ll_streams_t *ss) { return ss->region; }

/* ---- management ------------------------------------------------------------------------------ */

ll_stream_t *ll_stream_find(ll_streams_t *ss, const char *name) {
  size_t lo = 0, hi = ss->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = strcmp(ss->streams[mid]->name, name);
    if (c == 0) return ss->streams[mid];
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

size_t ll_stream_list(ll_streams_t *ss, ll_stream_t ***out) {
  *out = ll_calloc(ss->n ? ss->n : 1, sizeof **out);
  if (ss->n) memcpy(*out, ss->streams, ss->n * sizeof **out);
  return ss->n;
}

ll_shard_t *ll_stream_shard(ll_stream_t *st, const char *shard_id) {
  for (size_t i = 0; i < st->nshards; i++)
    if (strcmp(st->shards[i]->id, shard_id) == 0) return st->shards[i];
  return NULL;
}

int ll_streams_total_shards(const ll_streams_t *ss) {
  size_t n = 0;
  for (size_t i = 0; i < ss->n; i++) n += ss->streams[i]->nshards;
  return (int)n;
}

int ll_stream_create(ll_streams_t *ss, const char *name, int shard_count, bool on_demand,
                     json_t *tags, ll_err_t *err) {
  if (ll_stream_find(ss, name))
    return ll_err_set(err, LL_SE_IN_USE, "Stream %s under account %s already exists.", name,
                      ss->account);
  if (on_demand) shard_count = LL_STREAM_ON_DEMAND_SHARDS;
  if (shard_count < 1)
    return ll_err_set(err, LL_SE_INVALID, "ShardCount must be at least 1 (got %d).", shard_count);
  int total = ll_streams_total_shards(ss);
  if (total + shard_count > LL_STREAM_MAX_SHARDS)
    return ll_err_set(err, LL_SE_LIMIT,
                      "This request would exceed the shard limit for the account %s in %s. "
                      "Current shard count for the account: %d. Limit: %d. Number of additional "
                      "shards that would have resulted from this request: %d.",
                      ss->account, ss->region, total, LL_STREAM_MAX_SHARDS, shard_count);
  ll_stream_t *st = ll_calloc(1, sizeof *st);
  st->name = ll_strdup(name);
  st->arn = ll_sprintf("arn:aws:kinesis:%s:%s:stream/%s", ss->region, ss->account, name);
  char id[17];
  ll_random_hex(id, 8);
  st->dir_id = ll_sprintf("%s-%s", name, id);
  st->created_ms = ll_wall_ms();
  st->retention_hours = 24;
  st->on_demand = on_demand;
  st->tags = json_is_object(tags) ? json_deep_copy(tags) : json_object();
  st->nshards = (size_t)shard_count;
  st->shards = ll_calloc(st->nshards, sizeof *st->shards);
  /* shard i covers [q*i, q*(i+1) - 1] with q = floor(2^128 / N); the last ends at 2^128 - 1 */
  ll_u128 max = ~(ll_u128)0, n = (ll_u128)shard_count;
  ll_u128 q = max / n + (max % n == n - 1 ? 1 : 0);
  for (int i = 0; i < shard_count; i++) {
    ll_shard_t *sh = ll_calloc(1, sizeof *sh);
    sh->index = i;
    snprintf(sh->id, sizeof sh->id, "shardId-%012d", i);
    sh->hash_start = q * (ll_u128)i;
    sh->hash_end = i == shard_count - 1 ? max : q * (ll_u128)(i + 1) - 1;
    sh->start_seq = 1;
    st->shards[i] = sh;
  }
  char *dir = ll_sprintf("%s/%s", ss->dir, st->dir_id);
  int rc = mkdir(dir, 0700) < 0 && errno != EEXIST ? -1 : 0;
  if (rc < 0) ll_err_set(err, LL_SE_INTERNAL, "creating %s: %s", dir, strerror(errno));
  free(dir);
  if (rc < 0 || open_logs(ss, st, err) < 0 || save(ss, st, err) < 0) {
    for (size_t i = 0; i < st->nshards; i++) {
      if (st->shards[i]->log) ll_log_close(st->shards[i]->log);
      st->shards[i]->log = NULL;
      char *sd = shard_dir(ss, st, st->shards[i]);
      ll_err_t e2 = LL_ERR_INIT;
      ll_log_destroy(sd, &e2);
      free(sd);
    }
    stream_free(st);
    return -1;
  }
  insert(ss, st);
  return 0;
}

int ll_stream_delete(ll_streams_t *ss, const char *name, ll_err_t *err) {
  ll_stream_t *st = ll_stream_find(ss, name);
  if (!st)
    return ll_err_set(err, LL_SE_NOT_FOUND, "Stream %s under account %s not found.", name,
                      ss->account);
  sqlite3_stmt *q;
  if (sqlite3_prepare_v2(ss->db, "DELETE FROM streams WHERE name = ?1", -1, &q, NULL) == SQLITE_OK) {
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    sqlite3_step(q);
    sqlite3_finalize(q);
  }
  for (size_t i = 0; i < ss->n; i++) {
    if (ss->streams[i] != st) continue;
    memmove(&ss->streams[i], &ss->streams[i + 1], (ss->n - i - 1) * sizeof *ss->streams);
    ss->n--;
    break;
  }
  st->deleted = true;
  st->refs++; /* freed (files too) when the last put or sync using it is done */
  stream_unref(ss, st);
  return 0;
}

int ll_stream_set_retention(ll_streams_t *ss, ll_stream_t *st, int hours, ll_err_t *err) {
  int old = st->retention_hours;
  st->retention_hours = hours;
  if (save(ss, st, err) < 0) {
    st->retention_hours = old;
    return -1;
  }
  return 0;
}

int ll_stream_tag(ll_streams_t *ss, ll_stream_t *st, json_t *add, json_t *remove_keys, ll_err_t *err) {
  json_t *old = json_deep_copy(st->tags);
  if (json_is_object(add)) json_object_update(st->tags, add);
  size_t i;
  json_t *k;
  json_array_foreach(remove_keys, i, k) if (json_is_string(k)) json_object_del(st->tags, json_string_value(k));
  if (save(ss, st, err) < 0) {
    json_decref(st->tags);
    st->tags = old;
    return -1;
  }
  json_decref(old);
  return 0;
}

/* ---- data ------------------------------------------------------------------------------------ */

void ll_shard_seq_format(const ll_shard_t *sh, uint64_t seq, char out[64]) {
  /* "49" | index in 14 digits | seq in 20 digits | 20 zeros (no printf: a hot path) */
  out[0] = '4';
  out[1] = '9';
  uint64_t idx = (uint64_t)sh->index;
  for (int i = 15; i >= 2; i--, idx /= 10) out[i] = (char)('0' + idx % 10);
  for (int i = 35; i >= 16; i--, seq /= 10) out[i] = (char)('0' + seq % 10);
  memset(out + 36, '0', 20);
  out[56] = '\0';
}

bool ll_shard_seq_parse(const ll_shard_t *sh, const char *s, uint64_t *seq) {
  if (!s || strlen(s) != 56 || strncmp(s, "49", 2) != 0) return false;
  for (int i = 0; i < 56; i++)
    if (s[i] < '0' || s[i] > '9') return false;
  char idx[15], num[21];
  memcpy(idx, s + 2, 14);
  idx[14] = '\0';
  memcpy(num, s + 16, 20);
  num[20] = '\0';
  if (strtoll(idx, NULL, 10) != sh->index || strspn(s + 36, "0") != 20) return false;
  *seq = strtoull(num, NULL, 10);
  return true;
}

/* The index of the shard a hash falls in, or -1. */
static long route_index(const ll_stream_t *st, ll_u128 hash) {
  for (size_t i = 0; i < st->nshards; i++)
    if (hash >= st->shards[i]->hash_start && hash <= st->shards[i]->hash_end) return (long)i;
  return -1;
}

ll_shard_t *ll_stream_route(ll_stream_t *st, ll_u128 hash) {
  long k = route_index(st, hash);
  return k < 0 ? NULL : st->shards[k];
}

int ll_stream_put(ll_streams_t *ss, ll_stream_t *st, const ll_put_rec_t *recs, size_t n,
                  ll_put_cb cb, void *ud, ll_err_t *err) {
  if (ss->closing) return ll_err_set(err, LL_SE_INTERNAL, "the daemon is shutting down");
  put_t *p = ll_calloc(1, sizeof *p);
  p->st = st;
  p->results = ll_calloc(n ? n : 1, sizeof *p->results);
  p->n = n;
  p->cb = cb;
  p->ud = ud;
  int64_t now = ll_wall_ms();
  size_t ok = 0;
  /* Route every record, then append each shard's records (in their order) with one write. */
  size_t *order = ll_calloc(n ? n : 1, sizeof *order); /* record indexes grouped by shard */
  size_t *count = ll_calloc(st->nshards + 1, sizeof *count);
  size_t *slot = ll_calloc(n ? n : 1, sizeof *slot);   /* each record's shard position */
  for (size_t i = 0; i < n; i++) {
    const ll_put_rec_t *r = &recs[i];
    long k = route_index(st, r->has_hash ? r->explicit_hash : ll_stream_key_hash(r->key, r->key_len));
    if (k < 0) {
      p->results[i].error = ENOENT;
      continue;
    }
    p->results[i].shard = st->shards[k];
    slot[i] = (size_t)k;
    count[k + 1]++;
  }
  for (size_t k = 1; k <= st->nshards; k++) count[k] += count[k - 1]; /* start of each group */
  size_t *fill = ll_calloc(st->nshards ? st->nshards : 1, sizeof *fill);
  for (size_t i = 0; i < n; i++)
    if (p->results[i].shard) order[count[slot[i]] + fill[slot[i]]++] = i;
  ll_log_entry_t *es = ll_calloc(n ? n : 1, sizeof *es);
  for (size_t k = 0; k < st->nshards; k++) {
    size_t from = count[k], m = fill[k];
    if (!m) continue;
    ll_shard_t *sh = st->shards[k];
    /* arrival times never go backwards within a shard (seeking by time relies on it) */
    int64_t arrival = now > sh->last_arrival_ms ? now : sh->last_arrival_ms;
    for (size_t j = 0; j < m; j++) {
      const ll_put_rec_t *r = &recs[order[from + j]];
      es[j] = (ll_log_entry_t){arrival, r->key, r->key_len, r->data, r->len};
    }
    uint64_t first;
    ll_err_t e = LL_ERR_INIT;
    if (ll_log_append_many(sh->log, es, m, &first, &e) < 0) {
      for (size_t j = 0; j < m; j++) p->results[order[from + j]].error = e.code ? e.code : EIO;
      continue;
    }
    for (size_t j = 0; j < m; j++) p->results[order[from + j]].seq = first + j;
    sh->last_arrival_ms = arrival;
    sh->dirty = true;
    if (ss->mode == LL_FSYNC_NEVER) sh->fresh = true;
    ok += m;
  }
  free(es);
  free(fill);
  free(slot);
  free(count);
  free(order);
  if (ok == 0 && n > 0) {
    int code = p->results[0].error;
    free(p->results);
    free(p);
    return ll_err_set(err, LL_SE_INTERNAL, "appending to the stream: %s", strerror(code));
  }
  if (ss->mode == LL_FSYNC_ALWAYS) {
    for (size_t i = 0; i < n; i++) {
      ll_shard_t *sh = (ll_shard_t *)p->results[i].shard;
      if (!sh || !sh->dirty) continue;
      uint64_t durable;
      ll_err_t e = LL_ERR_INIT;
      if (ll_log_sync(sh->log, &durable, &e) < 0) {
        p->status = EIO;
        fprintf(stderr, "lambdalite: stream %s, %s: %s\n", st->name, sh->id, e.msg);
      } else {
        sh->fresh = true;
      }
      sh->dirty = false;
    }
    p->ready = true;
  }
  st->refs++;
  put_t **tail = &ss->puts;
  while (*tail) tail = &(*tail)->next;
  *tail = p;
  uv_prepare_start(&ss->committer, on_prepare);
  return 0;
}

typedef struct read_adapter {
  ll_stream_read_cb cb;
  void *ud;
} read_adapter_t;

static int adapt(void *ud, const ll_log_record_t *r) {
  read_adapter_t *a = ud;
  ll_stream_rec_t rec = {r->seq, r->arrival_ms, r->key, r->key_len, r->data, r->data_len};
  return a->cb(a->ud, &rec);
}

int ll_shard_read(ll_shard_t *sh, uint64_t from_seq, size_t max_records, size_t max_bytes,
                  ll_stream_read_cb cb, void *ud, uint64_t *next_seq, ll_err_t *err) {
  read_adapter_t a = {cb, ud};
  return ll_log_read(sh->log, from_seq, ll_shard_last_seq(sh), max_records, max_bytes, adapt, &a,
                     next_seq, err);
}

uint64_t ll_shard_first_seq(const ll_shard_t *sh) {
  uint64_t f = ll_log_first_seq(sh->log);
  return f ? f : sh->start_seq;
}

uint64_t ll_shard_last_seq(const ll_shard_t *sh) {
  return sh->durable_only ? ll_log_durable_seq(sh->log) : ll_log_last_seq(sh->log);
}

uint64_t ll_shard_seq_at_time(ll_shard_t *sh, int64_t ms) {
  uint64_t s = ll_log_seq_at_time(sh->log, ms), last = ll_shard_last_seq(sh);
  return s > last + 1 ? last + 1 : s;
}

int64_t ll_shard_last_arrival_ms(const ll_shard_t *sh) { return sh->last_arrival_ms; }

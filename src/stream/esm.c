/* Event source mappings over streams (esm.h): configuration, checkpoints, pollers, batches. */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/encoding.h"
#include "core/mem.h"
#include "core/random.h"
#include "stream/esm.h"

#define BATCH_DEFAULT 100
#define BATCH_MAX 10000
#define WINDOW_MAX 300
#define FACTOR_MAX 10
#define AGE_MIN 60
#define AGE_MAX 604800
#define RETRIES_MAX 10000
#define RETRY_BASE_MS 100   /* first retry after a function error or throttle; doubles */
#define RETRY_CAP_MS 5000
#define SPLITS_MAX 40       /* bisect depth: log2(BATCH_MAX) levels fit many times over */

/* A record a poller holds, from the moment it is read until its batch is done: one allocation
 * with the key and data after it. */
typedef struct rec {
  uint64_t seq;
  int64_t arrival_ms;
  int64_t read_ms; /* when the poller read it (the batching window counts from here) */
  size_t key_len, len;
  char bytes[];    /* key, then data */
} rec_t;

/* One lane of a shard's poller: the records of its partition keys, in order, and at most one
 * batch of them in flight (the first `inflight` of the queue). */
typedef struct lane {
  rec_t **q; /* owned records q[head..n) */
  size_t head, n, cap;
  size_t inflight;
  int attempts;          /* function errors of the batch at the front (retry attempts so far) */
  int throttles;         /* retries that never reached the function (backoff only) */
  int64_t retry_at_ms;   /* no invocation before this */
  size_t sizes[SPLITS_MAX]; /* the batches the front records must be sent as (bisect, retry):
                               sizes[nsizes - 1] first; empty: batch freely */
  int nsizes;
  char last_request_id[37];
} lane_t;

typedef struct poller {
  int shard_index;
  char shard_id[32];
  uint64_t checkpoint; /* every record <= it is done (stored) */
  uint64_t next_read;  /* the next record to read into the lanes */
  size_t buffered, buffered_bytes;
  lane_t lanes[FACTOR_MAX];
} poller_t;

typedef struct mapping {
  struct mapping *next;
  ll_esms_t *m;
  char uuid[37];
  int64_t order;       /* creation order (listing) */
  json_t *cfg;         /* owned: the settable fields with their defaults, FunctionName a name */
  char *dir_id;        /* the stream incarnation the pollers and checkpoints belong to */
  poller_t *pollers;
  size_t npollers;
  int nlanes;          /* the lanes the pollers have (ParallelizationFactor they were built for) */
  int inflight;        /* batches out */
  int refs;            /* batches out + the list's own */
  bool deleted, pumping, again;
  char last_result[96];
  int64_t iterator_age_ms;
  uv_timer_t timer;    /* batching windows and retry backoff */
} mapping_t;

struct ll_esms {
  uv_loop_t *loop;
  ll_engine_t *engine;
  ll_streams_t *streams;
  sqlite3 *db;
  sqlite3_stmt *put_checkpoint;
  mapping_t *list;     /* creation order */
  int64_t next_order;
  double age_scale;    /* multiplies MaximumRecordAgeInSeconds (tests) */
  int handles;         /* the struct + mappings not yet freed */
  bool closing;
};

/* A batch out at the function. */
typedef struct batch {
  mapping_t *mp;
  int poller, lane;
  size_t n;
} batch_t;

static void pump(mapping_t *mp);
static int to_stream(ll_esms_t *m, const char *arn, const char *key, const char *data, size_t len,
                     ll_err_t *err);

/* ---- config fields ------------------------------------------------------------------------- */

static int cfg_int(const mapping_t *mp, const char *k) {
  return (int)json_integer_value(json_object_get(mp->cfg, k));
}
static bool cfg_bool(const mapping_t *mp, const char *k) {
  return json_is_true(json_object_get(mp->cfg, k));
}
static const char *cfg_str(const mapping_t *mp, const char *k) {
  return json_string_value(json_object_get(mp->cfg, k));
}
static bool report_failures(const mapping_t *mp) {
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(mp->cfg, "FunctionResponseTypes"), i, v)
      if (strcmp(json_string_value(v) ? json_string_value(v) : "", "ReportBatchItemFailures") == 0) return true;
  return false;
}
static const char *on_failure(const mapping_t *mp) {
  return json_string_value(json_object_get(
      json_object_get(json_object_get(mp->cfg, "DestinationConfig"), "OnFailure"), "Destination"));
}

/* The stream name of a Kinesis stream ARN (arn:aws:kinesis:region:account:stream/NAME), or
 * NULL. Points into arn. */
static const char *stream_name_of(const char *arn) {
  if (!arn || strncmp(arn, "arn:aws:kinesis:", 16) != 0) return NULL;
  const char *s = strstr(arn, ":stream/");
  return s && s[8] ? s + 8 : NULL;
}

/* The function name of FunctionName as the API takes it: NAME, NAME:QUALIFIER, a partial ARN
 * (ACCOUNT:function:NAME) or a full one; into out; the qualifier into qual ("" when none). */
static void function_name_of(const char *in, char *out, size_t sz, char *qual, size_t qsz) {
  const char *p = strstr(in, ":function:");
  p = p ? p + 10 : in;
  const char *colon = strchr(p, ':');
  size_t n = colon ? (size_t)(colon - p) : strlen(p);
  snprintf(out, sz, "%.*s", (int)n, p);
  snprintf(qual, qsz, "%s", colon ? colon + 1 : "");
}

static json_t *function_arn(const ll_esms_t *m, const char *name) {
  return json_sprintf("arn:aws:lambda:%s:%s:function:%s", ll_engine_region(m->engine),
                      ll_engine_account(m->engine), name);
}

/* ---- validation ---------------------------------------------------------------------------- */

/* An integer field in [lo, hi] (when present): else a ValidationException as AWS words it. */
static int check_range(json_t *doc, const char *key, const char *field, long long lo, long long hi,
                       ll_err_t *err) {
  json_t *v = json_object_get(doc, key);
  if (!v) return 0;
  if (!json_is_integer(v))
    return ll_err_set(err, LL_E_INVALID_PARAM, "%s must be an integer.", key);
  long long x = json_integer_value(v);
  if (x < lo)
    return ll_err_set(err, LL_E_VALIDATION,
                      "1 validation error detected: Value '%lld' at '%s' failed to satisfy "
                      "constraint: Member must have value greater than or equal to %lld",
                      x, field, lo);
  if (x > hi)
    return ll_err_set(err, LL_E_VALIDATION,
                      "1 validation error detected: Value '%lld' at '%s' failed to satisfy "
                      "constraint: Member must have value less than or equal to %lld",
                      x, field, hi);
  return 0;
}

/* Checks a whole configuration (defaults filled in, request fields over them). */
static int validate(ll_esms_t *m, json_t *doc, ll_err_t *err) {
  if (check_range(doc, "BatchSize", "batchSize", 1, BATCH_MAX, err) < 0 ||
      check_range(doc, "MaximumBatchingWindowInSeconds", "maximumBatchingWindowInSeconds", 0,
                  WINDOW_MAX, err) < 0 ||
      check_range(doc, "ParallelizationFactor", "parallelizationFactor", 1, FACTOR_MAX, err) < 0 ||
      check_range(doc, "MaximumRecordAgeInSeconds", "maximumRecordAgeInSeconds", -1, AGE_MAX, err) < 0 ||
      check_range(doc, "MaximumRetryAttempts", "maximumRetryAttempts", -1, RETRIES_MAX, err) < 0 ||
      check_range(doc, "TumblingWindowInSeconds", "tumblingWindowInSeconds", 0, 900, err) < 0)
    return -1;
  long long age = json_integer_value(json_object_get(doc, "MaximumRecordAgeInSeconds"));
  if (age >= 0 && age < AGE_MIN)
    return ll_err_set(err, LL_E_INVALID_PARAM,
                      "MaximumRecordAgeInSeconds must be -1 (no limit) or between %d and %d "
                      "seconds (got %lld).",
                      AGE_MIN, AGE_MAX, age);
  if (json_integer_value(json_object_get(doc, "TumblingWindowInSeconds")) > 0)
    return ll_err_set(err, LL_E_INVALID_PARAM,
                      "TumblingWindowInSeconds is not supported yet: aggregate in the function "
                      "or in a table instead.");
  json_t *filters = json_object_get(json_object_get(doc, "FilterCriteria"), "Filters");
  if (json_array_size(filters))
    return ll_err_set(err, LL_E_INVALID_PARAM,
                      "FilterCriteria is not supported yet: filter the records in the function.");
  static const char *const bools[] = {"Enabled", "BisectBatchOnFunctionError", NULL};
  for (int i = 0; bools[i]; i++)
    if (!json_is_boolean(json_object_get(doc, bools[i])))
      return ll_err_set(err, LL_E_INVALID_PARAM, "%s must be true or false.", bools[i]);
  json_t *types = json_object_get(doc, "FunctionResponseTypes");
  if (!json_is_array(types))
    return ll_err_set(err, LL_E_INVALID_PARAM, "FunctionResponseTypes must be a list.");
  size_t i;
  json_t *v;
  json_array_foreach(types, i, v) {
    if (!json_is_string(v) || strcmp(json_string_value(v), "ReportBatchItemFailures") != 0)
      return ll_err_set(err, LL_E_VALIDATION,
                        "1 validation error detected: Value '[%s]' at 'functionResponseTypes' "
                        "failed to satisfy constraint: Member must satisfy constraint: [Member "
                        "must satisfy enum value set: [ReportBatchItemFailures]]",
                        json_is_string(v) ? json_string_value(v) : "?");
  }
  json_t *dest = json_object_get(doc, "DestinationConfig");
  if (dest && !json_is_object(dest))
    return ll_err_set(err, LL_E_INVALID_PARAM, "DestinationConfig must be an object.");
  if (json_object_get(dest, "OnSuccess") &&
      json_object_size(json_object_get(dest, "OnSuccess")))
    return ll_err_set(err, LL_E_INVALID_PARAM,
                      "Unsupported DestinationConfig parameter for given event source mapping "
                      "type: OnSuccess.");
  json_t *of = json_object_get(json_object_get(dest, "OnFailure"), "Destination");
  if (of) {
    const char *arn = json_string_value(of);
    char name[160], qual[160];
    if (arn && stream_name_of(arn)) {
      if (to_stream(m, arn, NULL, NULL, 0, err) < 0) return -1;
    } else if (arn && strncmp(arn, "arn:aws:lambda:", 15) == 0 && strstr(arn, ":function:")) {
      function_name_of(arn, name, sizeof name, qual, sizeof qual);
      if (!ll_function_find(m->engine, name))
        return ll_err_set(err, LL_E_INVALID_PARAM,
                          "The destination function %s does not exist: create it first.", arn);
    } else {
      return ll_err_set(err, LL_E_INVALID_PARAM,
                        "The provided destination config DestinationConfig.OnFailure.Destination "
                        "(%s) is not supported here: give the ARN of a Kinesis stream or of a "
                        "Lambda function (SQS and SNS do not exist on this endpoint).",
                        arn ? arn : "null");
    }
  }
  return 0;
}

/* ---- storage ------------------------------------------------------------------------------- */

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS mappings(uuid TEXT PRIMARY KEY, ord INTEGER NOT NULL, doc TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS checkpoints(uuid TEXT NOT NULL, shard INTEGER NOT NULL,"
    "  dir_id TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY(uuid, shard));";

/* The mapping's document: its configuration plus what the daemon keeps with it. */
static int save(ll_esms_t *m, mapping_t *mp, ll_err_t *err) {
  json_t *doc = json_deep_copy(mp->cfg);
  json_object_set_new(doc, "DirId", json_string(mp->dir_id ? mp->dir_id : ""));
  char *text = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  sqlite3_stmt *q;
  int rc = sqlite3_prepare_v2(m->db, "INSERT OR REPLACE INTO mappings(uuid, ord, doc) VALUES(?1, ?2, ?3)",
                              -1, &q, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(q, 1, mp->uuid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, mp->order);
    sqlite3_bind_text(q, 3, text, -1, SQLITE_STATIC);
    rc = sqlite3_step(q) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    sqlite3_finalize(q);
  }
  free(text);
  if (rc != SQLITE_OK)
    return ll_err_set(err, LL_E_INTERNAL, "saving event source mapping %s: %s", mp->uuid,
                      sqlite3_errmsg(m->db));
  return 0;
}

static void store_checkpoint(mapping_t *mp, const poller_t *p) {
  sqlite3_stmt *q = mp->m->put_checkpoint;
  sqlite3_reset(q);
  sqlite3_bind_text(q, 1, mp->uuid, -1, SQLITE_STATIC);
  sqlite3_bind_int(q, 2, p->shard_index);
  sqlite3_bind_text(q, 3, mp->dir_id ? mp->dir_id : "", -1, SQLITE_STATIC);
  sqlite3_bind_int64(q, 4, (sqlite3_int64)p->checkpoint);
  if (sqlite3_step(q) != SQLITE_DONE)
    fprintf(stderr, "lambdalite: event source mapping %s: storing the checkpoint of %s: %s\n",
            mp->uuid, p->shard_id, sqlite3_errmsg(mp->m->db));
  sqlite3_reset(q);
}

/* The stored checkpoint of a shard for the stream incarnation dir_id; false when none. */
static bool load_checkpoint(mapping_t *mp, int shard, const char *dir_id, uint64_t *seq) {
  sqlite3_stmt *q;
  bool found = false;
  if (sqlite3_prepare_v2(mp->m->db,
                         "SELECT seq FROM checkpoints WHERE uuid = ?1 AND shard = ?2 AND dir_id = ?3",
                         -1, &q, NULL) != SQLITE_OK)
    return false;
  sqlite3_bind_text(q, 1, mp->uuid, -1, SQLITE_STATIC);
  sqlite3_bind_int(q, 2, shard);
  sqlite3_bind_text(q, 3, dir_id, -1, SQLITE_STATIC);
  if (sqlite3_step(q) == SQLITE_ROW) {
    *seq = (uint64_t)sqlite3_column_int64(q, 0);
    found = true;
  }
  sqlite3_finalize(q);
  return found;
}

static void forget(ll_esms_t *m, const char *uuid) {
  static const char *const sql[] = {"DELETE FROM mappings WHERE uuid = ?1",
                                    "DELETE FROM checkpoints WHERE uuid = ?1"};
  for (int i = 0; i < 2; i++) {
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(m->db, sql[i], -1, &q, NULL) != SQLITE_OK) continue;
    sqlite3_bind_text(q, 1, uuid, -1, SQLITE_STATIC);
    sqlite3_step(q);
    sqlite3_finalize(q);
  }
}

/* ---- pollers ------------------------------------------------------------------------------- */

static void lane_clear(lane_t *l) {
  for (size_t i = l->head; i < l->n; i++) free(l->q[i]);
  free(l->q);
  memset(l, 0, sizeof *l);
}

static void pollers_free(mapping_t *mp) {
  for (size_t i = 0; i < mp->npollers; i++)
    for (int k = 0; k < FACTOR_MAX; k++) lane_clear(&mp->pollers[i].lanes[k]);
  free(mp->pollers);
  mp->pollers = NULL;
  mp->npollers = 0;
}

/* Where a shard's reading starts when the mapping has no checkpoint for it: the mapping's
 * StartingPosition, as the record number before the first to deliver. */
static uint64_t starting_checkpoint(const mapping_t *mp, ll_shard_t *sh) {
  const char *pos = cfg_str(mp, "StartingPosition");
  if (pos && strcmp(pos, "LATEST") == 0) return ll_shard_last_seq(sh);
  if (pos && strcmp(pos, "AT_TIMESTAMP") == 0) {
    double ts = json_number_value(json_object_get(mp->cfg, "StartingPositionTimestamp"));
    return ll_shard_seq_at_time(sh, (int64_t)(ts * 1000)) - 1;
  }
  return ll_shard_first_seq(sh) - 1;
}

/* (Re)builds the pollers for the stream's current incarnation and shards; call with no batch
 * out. Checkpoints of another incarnation do not apply. */
static void pollers_build(mapping_t *mp, ll_stream_t *st) {
  pollers_free(mp);
  bool same = mp->dir_id && strcmp(mp->dir_id, st->dir_id) == 0;
  if (!same) {
    free(mp->dir_id);
    mp->dir_id = ll_strdup(st->dir_id);
    ll_err_t err = LL_ERR_INIT;
    if (save(mp->m, mp, &err) < 0) fprintf(stderr, "lambdalite: %s\n", err.msg);
  }
  mp->npollers = st->nshards;
  mp->pollers = ll_calloc(st->nshards ? st->nshards : 1, sizeof *mp->pollers);
  mp->nlanes = cfg_int(mp, "ParallelizationFactor");
  for (size_t i = 0; i < st->nshards; i++) {
    poller_t *p = &mp->pollers[i];
    ll_shard_t *sh = st->shards[i];
    p->shard_index = sh->index;
    snprintf(p->shard_id, sizeof p->shard_id, "%s", sh->id);
    if (!load_checkpoint(mp, sh->index, mp->dir_id, &p->checkpoint)) {
      p->checkpoint = starting_checkpoint(mp, sh);
      store_checkpoint(mp, p);
    }
    p->next_read = p->checkpoint + 1;
  }
}

static void lane_push(lane_t *l, rec_t *r) {
  if (l->n == l->cap) {
    if (l->head > 0) { /* slide the live part down before growing */
      memmove(l->q, l->q + l->head, (l->n - l->head) * sizeof *l->q);
      l->n -= l->head;
      l->head = 0;
    }
    if (l->n == l->cap) {
      l->cap = l->cap ? l->cap * 2 : 64;
      l->q = ll_realloc(l->q, l->cap * sizeof *l->q);
    }
  }
  l->q[l->n++] = r;
}

static size_t lane_len(const lane_t *l) { return l->n - l->head; }

/* FNV-1a of the partition key picks the lane, so one key's records stay in order. */
static int lane_of(const char *key, size_t len, int nlanes) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)key[i]) * 16777619u;
  return (int)(h % (uint32_t)nlanes);
}

typedef struct fill_ctx {
  mapping_t *mp;
  poller_t *p;
  int64_t now;
} fill_ctx_t;

static int take_record(void *ud, const ll_stream_rec_t *r) {
  fill_ctx_t *c = ud;
  rec_t *x = ll_malloc(sizeof *x + r->key_len + r->len);
  x->seq = r->seq;
  x->arrival_ms = r->arrival_ms;
  x->read_ms = c->now;
  x->key_len = r->key_len;
  x->len = r->len;
  if (r->key_len) memcpy(x->bytes, r->key, r->key_len);
  if (r->len) memcpy(x->bytes + r->key_len, r->data, r->len);
  int lane = c->mp->nlanes > 1 ? lane_of(r->key, r->key_len, c->mp->nlanes) : 0;
  lane_push(&c->p->lanes[lane], x);
  c->p->buffered++;
  c->p->buffered_bytes += r->key_len + r->len;
  return 0;
}

/* Reads the shard's new records into the lanes, up to a batch per lane (and the sync payload
 * limit per lane) held at once. */
static void fill(mapping_t *mp, poller_t *p, ll_shard_t *sh, int64_t now) {
  size_t max_records = (size_t)cfg_int(mp, "BatchSize") * (size_t)mp->nlanes;
  size_t max_bytes = (size_t)LL_SYNC_PAYLOAD_MAX * (size_t)mp->nlanes;
  uint64_t first = ll_shard_first_seq(sh);
  if (p->next_read < first && p->buffered == 0) { /* trimmed by retention before we got there */
    p->next_read = first;
    p->checkpoint = first - 1;
    store_checkpoint(mp, p);
  }
  while (p->buffered < max_records && p->buffered_bytes < max_bytes &&
         p->next_read <= ll_shard_last_seq(sh)) {
    fill_ctx_t c = {mp, p, now};
    uint64_t next = p->next_read;
    ll_err_t err = LL_ERR_INIT;
    if (ll_shard_read(sh, p->next_read, max_records - p->buffered, max_bytes - p->buffered_bytes,
                      take_record, &c, &next, &err) < 0) {
      snprintf(mp->last_result, sizeof mp->last_result, "PROBLEM: Reading %s failed", sh->id);
      fprintf(stderr, "lambdalite: event source mapping %s: %s\n", mp->uuid, err.msg);
      return;
    }
    if (next == p->next_read) return;
    p->next_read = next;
  }
}

/* Every record before the first one a lane still holds is done: move the checkpoint there. */
static void advance_checkpoint(mapping_t *mp, poller_t *p) {
  uint64_t low = p->next_read;
  for (int k = 0; k < mp->nlanes; k++)
    if (lane_len(&p->lanes[k]) && p->lanes[k].q[p->lanes[k].head]->seq < low)
      low = p->lanes[k].q[p->lanes[k].head]->seq;
  if (low - 1 > p->checkpoint) {
    p->checkpoint = low - 1;
    store_checkpoint(mp, p);
  }
}

/* Drops the first n records of a lane (done or discarded). */
static void lane_pop(poller_t *p, lane_t *l, size_t n) {
  for (size_t i = 0; i < n; i++) {
    rec_t *r = l->q[l->head++];
    p->buffered--;
    p->buffered_bytes -= r->key_len + r->len;
    free(r);
  }
  if (l->head == l->n) l->head = l->n = 0;
}

/* ---- events -------------------------------------------------------------------------------- */

/* An upper bound of what one record adds to the event, beside its data and key. */
static size_t record_overhead(const mapping_t *mp, const char *role) {
  return 420 + 2 * strlen(cfg_str(mp, "EventSourceArn")) + strlen(role) + 2 * 64;
}

static size_t record_size(const rec_t *r, size_t overhead) {
  return overhead + 4 * ((r->len + 2) / 3) + 6 * r->key_len;
}

/* The Kinesis event for the lane's first n records (aws-wire-contract.md §5.2). */
static char *build_event(const mapping_t *mp, const poller_t *p, const lane_t *l, size_t n,
                         ll_shard_t *sh, const char *role, size_t *len) {
  ll_buf_t b = LL_BUF_INIT;
  /* What follows each record's eventID is the same for the whole batch: made once. */
  ll_buf_t tail = LL_BUF_INIT;
  const char *arn = cfg_str(mp, "EventSourceArn");
  ll_buf_puts(&tail, "\",\"eventName\":\"aws:kinesis:record\",\"invokeIdentityArn\":");
  ll_buf_json_string(&tail, role, strlen(role));
  ll_buf_cat(&tail, ",\"awsRegion\":\"", ll_engine_region(mp->m->engine), "\",\"eventSourceARN\":", NULL);
  ll_buf_json_string(&tail, arn, strlen(arn));
  ll_buf_append(&tail, "}", 1);
  ll_buf_reserve(&b, n * (tail.len + 256));
  ll_buf_puts(&b, "{\"Records\":[");
  for (size_t i = 0; i < n; i++) {
    const rec_t *r = l->q[l->head + i];
    char seq[64];
    ll_shard_seq_format(sh, r->seq, seq);
    if (i) ll_buf_append(&b, ",", 1);
    ll_buf_puts(&b, "{\"kinesis\":{\"kinesisSchemaVersion\":\"1.0\",\"partitionKey\":");
    ll_buf_json_string(&b, r->bytes, r->key_len);
    ll_buf_cat(&b, ",\"sequenceNumber\":\"", seq, "\",\"data\":\"", NULL);
    ll_buf_reserve(&b, 4 * ((r->len + 2) / 3) + 1);
    b.len += ll_base64_encode_to(b.data + b.len, r->bytes + r->key_len, r->len);
    ll_buf_puts(&b, "\",\"approximateArrivalTimestamp\":");
    ll_buf_put_seconds(&b, r->arrival_ms);
    ll_buf_cat(&b, "},\"eventSource\":\"aws:kinesis\",\"eventVersion\":\"1.0\",\"eventID\":\"",
               p->shard_id, ":", seq, NULL);
    ll_buf_append(&b, tail.data, tail.len);
  }
  ll_buf_free(&tail);
  ll_buf_puts(&b, "]}");
  return ll_buf_steal(&b, len);
}

static void on_destination_put(void *ud, int status, const ll_put_result_t *res, size_t n) {
  char *arn = ud;
  if (status || (n && res[0].error))
    fprintf(stderr, "lambdalite: the destination stream %s did not take a record (%s)\n", arn,
            strerror(status ? status : res[0].error));
  free(arn);
}

/* Puts one record (a failure or invocation record) into the destination stream `arn`; with
 * data NULL only checks that the stream exists. */
static int to_stream(ll_esms_t *m, const char *arn, const char *key, const char *data, size_t len,
                     ll_err_t *err) {
  const char *name = stream_name_of(arn);
  ll_stream_t *st = name ? ll_stream_find(m->streams, name) : NULL;
  if (!st || strcmp(st->arn, arn) != 0)
    return ll_err_set(err, LL_E_INVALID_PARAM,
                      "The destination stream %s does not exist: create it first.", arn);
  if (!data) return 0;
  ll_put_rec_t rec = {.key = key, .key_len = strlen(key), .data = data, .len = len};
  char *ud = ll_strdup(arn);
  if (ll_stream_put(m->streams, st, &rec, 1, on_destination_put, ud, err) < 0) {
    free(ud);
    return -1;
  }
  return 0;
}

/* The engine's hook for async invocations' stream destinations. */
static int async_destination(void *ud, const char *arn, const char *key, const char *payload,
                             size_t len, ll_err_t *err) {
  return to_stream(ud, arn, key && *key ? key : "destination", payload, len, err);
}

/* Sends what AWS sends to an OnFailure destination about n discarded records (the records
 * themselves are not in it), then drops them. */
static void discard(mapping_t *mp, poller_t *p, lane_t *l, size_t n, ll_shard_t *sh,
                    const char *condition, int invokes) {
  const char *dest = on_failure(mp);
  if (dest) {
    char a[64], b[64], ta[40], tb[40], now[40];
    const rec_t *first = l->q[l->head], *last = l->q[l->head + n - 1];
    ll_shard_seq_format(sh, first->seq, a);
    ll_shard_seq_format(sh, last->seq, b);
    ll_format_iso_ms(first->arrival_ms, ta, sizeof ta);
    ll_format_iso_ms(last->arrival_ms, tb, sizeof tb);
    ll_format_iso_ms(ll_wall_ms(), now, sizeof now);
    json_t *rc = json_pack("{s:s,s:o,s:s,s:i}", "requestId", l->last_request_id, "functionArn",
                           function_arn(mp->m, cfg_str(mp, "FunctionName")), "condition", condition,
                           "approximateInvokeCount", invokes);
    json_t *doc = json_pack(
        "{s:o,s:{s:i,s:s,s:s},s:s,s:s,s:{s:s,s:s,s:s,s:s,s:s,s:I,s:s}}", "requestContext", rc,
        "responseContext", "statusCode", 200, "executedVersion", "$LATEST", "functionError",
        "Unhandled", "version", "1.0", "timestamp", now, "KinesisBatchInfo", "shardId",
        p->shard_id, "startSequenceNumber", a, "endSequenceNumber", b,
        "approximateArrivalOfFirstRecord", ta, "approximateArrivalOfLastRecord", tb, "batchSize",
        (json_int_t)n, "streamArn", cfg_str(mp, "EventSourceArn"));
    size_t len;
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    len = strlen(text);
    ll_err_t err = LL_ERR_INIT;
    int rc2 = -1;
    if (stream_name_of(dest)) {
      rc2 = to_stream(mp->m, dest, p->shard_id, text, len, &err);
    } else {
      char name[160], qual[160], rid[37];
      function_name_of(dest, name, sizeof name, qual, sizeof qual);
      ll_function_t *fn = ll_function_find(mp->m->engine, name);
      rc2 = fn ? ll_invoke_async(mp->m->engine, fn, text, len, NULL, rid, &err)
               : ll_err_set(&err, LL_E_NOT_FOUND, "function %s not found", dest);
    }
    if (rc2 < 0)
      fprintf(stderr, "lambdalite: event source mapping %s: sending the failure record to %s: %s\n",
              mp->uuid, dest, err.msg);
    free(text);
  }
  lane_pop(p, l, n);
  advance_checkpoint(mp, p);
}

/* ---- batches ------------------------------------------------------------------------------- */

static int64_t backoff_ms(int n) {
  int64_t d = RETRY_BASE_MS;
  for (int i = 1; i < n && d < RETRY_CAP_MS; i++) d *= 2;
  return d < RETRY_CAP_MS ? d : RETRY_CAP_MS;
}

/* The batch the function returned batchItemFailures for: the index of the first failed record
 * (n when none failed), or -1 when the answer names a record that is not in the batch or is
 * malformed (then the whole batch failed, as on AWS). */
static long first_failed(const lane_t *l, size_t n, ll_shard_t *sh, const char *body, size_t len) {
  json_t *doc = len ? json_loadb(body, len, JSON_DECODE_ANY, NULL) : NULL;
  json_t *list = json_is_object(doc) ? json_object_get(doc, "batchItemFailures") : NULL;
  long first = (long)n;
  if (!list || json_is_null(list)) goto out;
  if (!json_is_array(list)) {
    first = -1;
    goto out;
  }
  size_t i;
  json_t *v;
  json_array_foreach(list, i, v) {
    const char *id = json_string_value(json_object_get(v, "itemIdentifier"));
    uint64_t seq;
    if (!id || !*id || !ll_shard_seq_parse(sh, id, &seq)) {
      first = -1;
      goto out;
    }
    long at = -1;
    for (size_t k = 0; k < n && at < 0; k++)
      if (l->q[l->head + k]->seq == seq) at = (long)k;
    if (at < 0) {
      first = -1;
      goto out;
    }
    if (at < first) first = at;
  }
out:
  json_decref(doc);
  return first;
}

static void mapping_unref(mapping_t *mp);

static void on_batch_done(void *ud, const ll_invoke_result_t *res) {
  batch_t *b = ud;
  mapping_t *mp = b->mp;
  mp->inflight--;
  ll_esms_t *m = mp->m;
  if (mp->deleted || m->closing || (size_t)b->poller >= mp->npollers) {
    free(b);
    mapping_unref(mp);
    return;
  }
  poller_t *p = &mp->pollers[b->poller];
  lane_t *l = &p->lanes[b->lane];
  size_t n = b->n;
  free(b);
  l->inflight = 0;
  if (res->request_id) snprintf(l->last_request_id, sizeof l->last_request_id, "%s", res->request_id);
  ll_stream_t *st = ll_stream_find(m->streams, stream_name_of(cfg_str(mp, "EventSourceArn")));
  ll_shard_t *sh = st && mp->dir_id && strcmp(st->dir_id, mp->dir_id) == 0
                       ? ll_stream_shard(st, p->shard_id)
                       : NULL;
  if (!sh) { /* the stream went (or was re-created) meanwhile: pump rebuilds */
    mapping_unref(mp);
    pump(mp);
    return;
  }
  int64_t now = ll_wall_ms();
  long ok = -1; /* records of the batch that succeeded */
  if (res->status == LL_INVOKE_OK)
    ok = report_failures(mp) ? first_failed(l, n, sh, res->body, res->len) : (long)n;
  if (res->status == LL_INVOKE_THROTTLED || res->status == LL_INVOKE_GONE) {
    /* never reached the function: later, and not an attempt */
    l->retry_at_ms = now + backoff_ms(++l->throttles);
    snprintf(mp->last_result, sizeof mp->last_result, "%s",
             res->status == LL_INVOKE_GONE ? "PROBLEM: Function not found"
                                           : "PROBLEM: Function call throttled");
  } else if (ok == (long)n) {
    const rec_t *last = l->q[l->head + n - 1];
    mp->iterator_age_ms = now - last->arrival_ms;
    lane_pop(p, l, n);
    if (l->nsizes) l->nsizes--;
    l->attempts = l->throttles = 0;
    snprintf(mp->last_result, sizeof mp->last_result, "OK");
  } else {
    snprintf(mp->last_result, sizeof mp->last_result, "PROBLEM: Function call failed");
    l->throttles = 0;
    size_t left = n;
    if (ok > 0) { /* partial success: the failed record and what follows it are retried */
      lane_pop(p, l, (size_t)ok);
      left = n - (size_t)ok;
    }
    if (l->nsizes) l->nsizes--;
    if (ok <= 0 && cfg_bool(mp, "BisectBatchOnFunctionError") && n > 1 && l->nsizes + 2 <= SPLITS_MAX) {
      /* two halves, the first next; splits are not retry attempts */
      l->sizes[l->nsizes++] = n - n / 2;
      l->sizes[l->nsizes++] = n / 2;
      l->attempts = 0;
    } else {
      int max = cfg_int(mp, "MaximumRetryAttempts");
      if (max >= 0 && l->attempts >= max) {
        discard(mp, p, l, left, sh, "RetryAttemptsExhausted", l->attempts + 1);
        l->attempts = 0;
      } else {
        l->attempts++;
        l->sizes[l->nsizes++] = left; /* the same records again */
        l->retry_at_ms = now + backoff_ms(l->attempts);
      }
    }
  }
  advance_checkpoint(mp, p);
  mapping_unref(mp);
  pump(mp);
}

/* Starts the lane's next batch when it is due; returns when to look again (INT64_MAX: when
 * something happens). */
static int64_t try_lane(mapping_t *mp, int pi, int li, ll_shard_t *sh, int64_t now) {
  poller_t *p = &mp->pollers[pi];
  lane_t *l = &p->lanes[li];
  if (l->inflight || !lane_len(l)) return INT64_MAX;
  if (now < l->retry_at_ms) return l->retry_at_ms;
  /* records older than MaximumRecordAgeInSeconds are not delivered */
  int max_age = cfg_int(mp, "MaximumRecordAgeInSeconds");
  if (max_age >= 0) {
    size_t k = 0;
    int64_t oldest = now - (int64_t)((double)max_age * 1000 * mp->m->age_scale);
    while (k < lane_len(l) && l->q[l->head + k]->arrival_ms < oldest) k++;
    if (k) {
      discard(mp, p, l, k, sh, "RecordAgeExceeded", l->attempts);
      l->nsizes = 0;
      l->attempts = 0;
      if (!lane_len(l)) return INT64_MAX;
    }
  }
  ll_function_t *fn = ll_function_find(mp->m->engine, cfg_str(mp, "FunctionName"));
  if (!fn) {
    snprintf(mp->last_result, sizeof mp->last_result, "PROBLEM: Function not found");
    l->retry_at_ms = now + RETRY_CAP_MS;
    return l->retry_at_ms;
  }
  const char *role = json_string_value(json_object_get(fn->config, "Role"));
  if (!role) role = "";
  size_t want = l->nsizes ? l->sizes[l->nsizes - 1] : (size_t)cfg_int(mp, "BatchSize");
  size_t avail = lane_len(l), n = 0, bytes = 16, overhead = record_overhead(mp, role);
  while (n < want && n < avail) {
    size_t sz = record_size(l->q[l->head + n], overhead);
    if (n && bytes + sz > LL_SYNC_PAYLOAD_MAX) break;
    bytes += sz;
    n++;
  }
  bool full = n == want || n < avail;
  int window = cfg_int(mp, "MaximumBatchingWindowInSeconds");
  if (!full && !l->nsizes && window > 0) {
    int64_t due = l->q[l->head]->read_ms + (int64_t)window * 1000;
    if (now < due) return due;
  }
  if (l->nsizes) l->sizes[l->nsizes - 1] = n; /* what this attempt really carries */
  else l->sizes[l->nsizes++] = n;
  size_t len;
  char *payload = build_event(mp, p, l, n, sh, role, &len);
  batch_t *b = ll_calloc(1, sizeof *b);
  b->mp = mp;
  b->poller = pi;
  b->lane = li;
  b->n = n;
  l->inflight = n;
  mp->inflight++;
  mp->refs++;
  ll_invoke_opts_t opts = {0};
  char rid[37];
  ll_err_t err = LL_ERR_INIT;
  if (ll_invoke(mp->m->engine, fn, payload, len, &opts, on_batch_done, b, rid, &err) < 0) {
    /* refused at once (concurrency): not an attempt; back off */
    free(b);
    l->inflight = 0;
    mp->inflight--;
    mp->refs--;
    l->nsizes--;
    l->retry_at_ms = now + backoff_ms(++l->throttles);
    snprintf(mp->last_result, sizeof mp->last_result, "PROBLEM: Function call throttled");
    return l->retry_at_ms;
  }
  return INT64_MAX;
}

static void on_timer(uv_timer_t *t) { pump(t->data); }

/* Brings the mapping's pollers up to date with its stream and starts what batches are due. */
static void pump(mapping_t *mp) {
  ll_esms_t *m = mp->m;
  if (mp->deleted || m->closing || !cfg_bool(mp, "Enabled")) return;
  if (mp->pumping) { /* an invocation answered from inside ll_invoke: go round again */
    mp->again = true;
    return;
  }
  mp->pumping = true;
  do {
    mp->again = false;
    ll_stream_t *st = ll_stream_find(m->streams, stream_name_of(cfg_str(mp, "EventSourceArn")));
    if (!st) {
      snprintf(mp->last_result, sizeof mp->last_result, "PROBLEM: Stream not found");
      break;
    }
    bool stale = !mp->pollers || !mp->dir_id || strcmp(mp->dir_id, st->dir_id) != 0 ||
                 mp->nlanes != cfg_int(mp, "ParallelizationFactor");
    if (stale) {
      if (mp->inflight) break; /* rebuilt when the batches out are back */
      pollers_build(mp, st);
    }
    int64_t now = ll_wall_ms(), wake = INT64_MAX;
    for (size_t i = 0; i < mp->npollers; i++) {
      ll_shard_t *sh = ll_stream_shard(st, mp->pollers[i].shard_id);
      if (!sh) continue;
      fill(mp, &mp->pollers[i], sh, now);
      for (int k = 0; k < mp->nlanes; k++) {
        int64_t w = try_lane(mp, (int)i, k, sh, now);
        if (w < wake) wake = w;
      }
    }
    if (wake != INT64_MAX)
      uv_timer_start(&mp->timer, on_timer, (uint64_t)(wake > now ? wake - now : 0), 0);
  } while (mp->again);
  mp->pumping = false;
}

static void on_records(void *ud, ll_stream_t *st, ll_shard_t *sh) {
  ll_esms_t *m = ud;
  (void)sh;
  for (mapping_t *mp = m->list; mp; mp = mp->next) {
    const char *name = stream_name_of(cfg_str(mp, "EventSourceArn"));
    if (name && strcmp(name, st->name) == 0) pump(mp);
  }
}

/* ---- lifetime ------------------------------------------------------------------------------ */

static void esms_unref(ll_esms_t *m) {
  if (--m->handles > 0) return;
  sqlite3_finalize(m->put_checkpoint);
  sqlite3_close(m->db);
  free(m);
}

static void on_mapping_closed(uv_handle_t *h) {
  mapping_t *mp = h->data;
  ll_esms_t *m = mp->m;
  pollers_free(mp);
  json_decref(mp->cfg);
  free(mp->dir_id);
  free(mp);
  esms_unref(m);
}

static void mapping_unref(mapping_t *mp) {
  if (--mp->refs > 0) return;
  uv_close((uv_handle_t *)&mp->timer, on_mapping_closed);
}

static mapping_t *mapping_new(ll_esms_t *m, json_t *cfg, const char *uuid) {
  mapping_t *mp = ll_calloc(1, sizeof *mp);
  mp->m = m;
  snprintf(mp->uuid, sizeof mp->uuid, "%s", uuid);
  mp->cfg = cfg;
  mp->refs = 1;
  snprintf(mp->last_result, sizeof mp->last_result, "No records processed");
  uv_timer_init(m->loop, &mp->timer);
  mp->timer.data = mp;
  m->handles++;
  mapping_t **tail = &m->list;
  while (*tail) tail = &(*tail)->next;
  *tail = mp;
  return mp;
}

static mapping_t *find(ll_esms_t *m, const char *uuid) {
  for (mapping_t *mp = m->list; mp; mp = mp->next)
    if (strcmp(mp->uuid, uuid) == 0) return mp;
  return NULL;
}

static void unlink_mapping(ll_esms_t *m, mapping_t *mp) {
  for (mapping_t **pp = &m->list; *pp; pp = &(*pp)->next)
    if (*pp == mp) {
      *pp = mp->next;
      return;
    }
}

int ll_esms_open(uv_loop_t *loop, ll_engine_t *e, ll_streams_t *ss, const char *data_dir,
                 double age_scale, ll_esms_t **out, ll_err_t *err) {
  ll_esms_t *m = ll_calloc(1, sizeof *m);
  m->age_scale = age_scale > 0 ? age_scale : 1;
  m->loop = loop;
  m->engine = e;
  m->streams = ss;
  m->handles = 1;
  char *path = ll_sprintf("%s/streams/mappings.db", data_dir);
  int rc = sqlite3_open(path, &m->db);
  free(path);
  char *msg = NULL;
  if (rc != SQLITE_OK || sqlite3_exec(m->db, schema, NULL, NULL, &msg) != SQLITE_OK ||
      sqlite3_prepare_v2(m->db,
                         "INSERT OR REPLACE INTO checkpoints(uuid, shard, dir_id, seq) "
                         "VALUES(?1, ?2, ?3, ?4)",
                         -1, &m->put_checkpoint, NULL) != SQLITE_OK) {
    ll_err_set(err, LL_E_INTERNAL, "event source mappings: %s", msg ? msg : sqlite3_errmsg(m->db));
    sqlite3_free(msg);
    sqlite3_finalize(m->put_checkpoint);
    sqlite3_close(m->db);
    free(m);
    return -1;
  }
  sqlite3_busy_timeout(m->db, 5000);
  sqlite3_stmt *q;
  if (sqlite3_prepare_v2(m->db, "SELECT uuid, ord, doc FROM mappings ORDER BY ord", -1, &q, NULL) == SQLITE_OK) {
    while (sqlite3_step(q) == SQLITE_ROW) {
      json_t *doc = json_loads((const char *)sqlite3_column_text(q, 2), 0, NULL);
      if (!json_is_object(doc)) { /* a damaged row is skipped, never fatal */
        json_decref(doc);
        continue;
      }
      const char *dir = json_string_value(json_object_get(doc, "DirId"));
      char *dir_id = dir && *dir ? ll_strdup(dir) : NULL;
      json_object_del(doc, "DirId");
      mapping_t *mp = mapping_new(m, doc, (const char *)sqlite3_column_text(q, 0));
      mp->order = sqlite3_column_int64(q, 1);
      mp->dir_id = dir_id;
      if (mp->order >= m->next_order) m->next_order = mp->order + 1;
    }
    sqlite3_finalize(q);
  }
  ll_streams_on_records(ss, on_records, m);
  ll_engine_set_destination(e, async_destination, m);
  for (mapping_t *mp = m->list; mp; mp = mp->next) pump(mp);
  *out = m;
  return 0;
}

void ll_esms_close(ll_esms_t *m) {
  m->closing = true;
  ll_streams_on_records(m->streams, NULL, NULL);
  ll_engine_set_destination(m->engine, NULL, NULL);
  mapping_t *mp = m->list;
  m->list = NULL;
  while (mp) {
    mapping_t *next = mp->next;
    uv_timer_stop(&mp->timer);
    mapping_unref(mp);
    mp = next;
  }
  esms_unref(m);
}

/* ---- the API's operations ------------------------------------------------------------------ */

static json_t *configuration(const mapping_t *mp, const char *state) {
  ll_esms_t *m = mp->m;
  json_t *c = json_object();
  json_object_set_new(c, "UUID", json_string(mp->uuid));
  static const char *const copy[] = {"StartingPosition", "StartingPositionTimestamp", "BatchSize",
                                     "MaximumBatchingWindowInSeconds", "ParallelizationFactor",
                                     "EventSourceArn", NULL};
  for (int i = 0; copy[i]; i++)
    if (json_object_get(mp->cfg, copy[i])) json_object_set(c, copy[i], json_object_get(mp->cfg, copy[i]));
  json_object_set_new(c, "FunctionArn", function_arn(m, cfg_str(mp, "FunctionName")));
  json_object_set_new(c, "LastModified",
                      json_real((double)json_integer_value(json_object_get(mp->cfg, "LastModified")) / 1000.0));
  json_object_set_new(c, "LastProcessingResult", json_string(mp->last_result));
  json_object_set_new(c, "State", json_string(state ? state : cfg_bool(mp, "Enabled") ? "Enabled" : "Disabled"));
  json_object_set_new(c, "StateTransitionReason", json_string("User action"));
  json_t *dest = json_object_get(mp->cfg, "DestinationConfig");
  json_t *of = json_object_get(dest, "OnFailure");
  json_object_set_new(c, "DestinationConfig",
                      json_pack("{s:o}", "OnFailure", json_is_object(of) ? json_deep_copy(of) : json_object()));
  static const char *const copy2[] = {"MaximumRecordAgeInSeconds", "BisectBatchOnFunctionError",
                                      "MaximumRetryAttempts", "TumblingWindowInSeconds",
                                      "FunctionResponseTypes", NULL};
  for (int i = 0; copy2[i]; i++) json_object_set(c, copy2[i], json_object_get(mp->cfg, copy2[i]));
  json_object_set_new(c, "EventSourceMappingArn",
                      json_sprintf("arn:aws:lambda:%s:%s:event-source-mapping:%s",
                                   ll_engine_region(m->engine), ll_engine_account(m->engine), mp->uuid));
  return c;
}

static json_t *defaults(void) {
  return json_pack("{s:i,s:i,s:i,s:i,s:i,s:b,s:b,s:i,s:[],s:{}}", "BatchSize", BATCH_DEFAULT,
                   "MaximumBatchingWindowInSeconds", 0, "ParallelizationFactor", 1,
                   "MaximumRecordAgeInSeconds", -1, "MaximumRetryAttempts", -1,
                   "BisectBatchOnFunctionError", 0, "Enabled", 1, "TumblingWindowInSeconds", 0,
                   "FunctionResponseTypes", "DestinationConfig");
}

/* Copies the request's fields named in `keys` over doc. */
static void overlay(json_t *doc, json_t *req, const char *const *keys) {
  for (int i = 0; keys[i]; i++) {
    json_t *v = json_object_get(req, keys[i]);
    if (v && !json_is_null(v)) json_object_set(doc, keys[i], v);
  }
}

static const char *const settable[] = {"BatchSize", "MaximumBatchingWindowInSeconds",
                                       "ParallelizationFactor", "MaximumRecordAgeInSeconds",
                                       "MaximumRetryAttempts", "BisectBatchOnFunctionError",
                                       "Enabled", "TumblingWindowInSeconds", "FunctionResponseTypes",
                                       "DestinationConfig", "FilterCriteria", NULL};

/* FunctionName of a request into doc as a bare name; the function must exist. */
static int set_function(ll_esms_t *m, json_t *doc, json_t *req, ll_err_t *err) {
  const char *given = json_string_value(json_object_get(req, "FunctionName"));
  char name[160], qual[160];
  function_name_of(given, name, sizeof name, qual, sizeof qual);
  if (!ll_function_find(m->engine, name) || (qual[0] && strcmp(qual, "$LATEST") != 0))
    return ll_err_set(err, LL_E_NOT_FOUND, "Function not found: arn:aws:lambda:%s:%s:function:%s%s%s",
                      ll_engine_region(m->engine), ll_engine_account(m->engine), name,
                      qual[0] ? ":" : "", qual);
  json_object_set_new(doc, "FunctionName", json_string(name));
  return 0;
}

int ll_esm_create(ll_esms_t *m, json_t *req, json_t **out, ll_err_t *err) {
  const char *fname = json_string_value(json_object_get(req, "FunctionName"));
  const char *arn = json_string_value(json_object_get(req, "EventSourceArn"));
  const char *pos = json_string_value(json_object_get(req, "StartingPosition"));
  if (!fname)
    return ll_err_set(err, LL_E_VALIDATION,
                      "1 validation error detected: Value null at 'functionName' failed to "
                      "satisfy constraint: Member must not be null");
  if (!arn)
    return ll_err_set(err, LL_E_INVALID_PARAM,
                      "Unrecognized event source, must be kinesis: give EventSourceArn (the ARN "
                      "of a Kinesis stream of this endpoint).");
  if (!stream_name_of(arn))
    return ll_err_set(err, LL_E_INVALID_PARAM,
                      "Unrecognized event source %s: this endpoint maps Kinesis streams "
                      "(arn:aws:kinesis:REGION:ACCOUNT:stream/NAME).",
                      arn);
  if (!pos)
    return ll_err_set(err, LL_E_INVALID_PARAM,
                      "1 validation error detected: Value null at 'startingPosition' failed to "
                      "satisfy constraint: Member must not be null.");
  if (strcmp(pos, "TRIM_HORIZON") && strcmp(pos, "LATEST") && strcmp(pos, "AT_TIMESTAMP"))
    return ll_err_set(err, LL_E_VALIDATION,
                      "1 validation error detected: Value '%s' at 'startingPosition' failed to "
                      "satisfy constraint: Member must satisfy enum value set: [LATEST, "
                      "AT_TIMESTAMP, TRIM_HORIZON]",
                      pos);
  json_t *ts = json_object_get(req, "StartingPositionTimestamp");
  if (strcmp(pos, "AT_TIMESTAMP") == 0 && !json_is_number(ts))
    return ll_err_set(err, LL_E_INVALID_PARAM,
                      "StartingPositionTimestamp must be given with StartingPosition AT_TIMESTAMP.");
  ll_stream_t *st = ll_stream_find(m->streams, stream_name_of(arn));
  if (!st || strcmp(st->arn, arn) != 0)
    return ll_err_set(err, LL_E_INVALID_PARAM, "Stream not found: %s", arn);
  json_t *doc = defaults();
  overlay(doc, req, settable);
  if (set_function(m, doc, req, err) < 0 || validate(m, doc, err) < 0) {
    json_decref(doc);
    return -1;
  }
  for (mapping_t *mp = m->list; mp; mp = mp->next)
    if (strcmp(cfg_str(mp, "EventSourceArn"), arn) == 0 &&
        strcmp(cfg_str(mp, "FunctionName"), json_string_value(json_object_get(doc, "FunctionName"))) == 0) {
      ll_err_set(err, LL_E_CONFLICT,
                 "An event source mapping with Kinesis arn (\" %s \") and function (\" %s \") "
                 "already exists. Please update or delete the existing mapping with UUID %s",
                 arn, cfg_str(mp, "FunctionName"), mp->uuid);
      json_decref(doc);
      return -1;
    }
  json_object_set_new(doc, "EventSourceArn", json_string(arn));
  json_object_set_new(doc, "StartingPosition", json_string(pos));
  if (strcmp(pos, "AT_TIMESTAMP") == 0) json_object_set(doc, "StartingPositionTimestamp", ts);
  json_object_set_new(doc, "LastModified", json_integer(ll_wall_ms()));
  char uuid[37];
  ll_uuid4(uuid);
  mapping_t *mp = mapping_new(m, doc, uuid);
  mp->order = m->next_order++;
  /* the starting position is fixed now, so LATEST means "after this call" even after a restart */
  pollers_build(mp, st);
  if (save(m, mp, err) < 0) {
    unlink_mapping(m, mp);
    forget(m, uuid);
    mapping_unref(mp);
    return -1;
  }
  *out = configuration(mp, "Creating");
  pump(mp);
  return 0;
}

int ll_esm_update(ll_esms_t *m, const char *uuid, json_t *req, json_t **out, ll_err_t *err) {
  mapping_t *mp = find(m, uuid);
  if (!mp)
    return ll_err_set(err, LL_E_NOT_FOUND, "The resource you requested does not exist. (Event source mapping %s)", uuid);
  json_t *doc = json_deep_copy(mp->cfg);
  overlay(doc, req, settable);
  if ((json_object_get(req, "FunctionName") && set_function(m, doc, req, err) < 0) ||
      validate(m, doc, err) < 0) {
    json_decref(doc);
    return -1;
  }
  json_object_set_new(doc, "LastModified", json_integer(ll_wall_ms()));
  json_t *old = mp->cfg;
  mp->cfg = doc;
  if (save(m, mp, err) < 0) {
    mp->cfg = old;
    json_decref(doc);
    return -1;
  }
  json_decref(old);
  *out = configuration(mp, "Updating");
  pump(mp);
  return 0;
}

int ll_esm_delete(ll_esms_t *m, const char *uuid, json_t **out, ll_err_t *err) {
  mapping_t *mp = find(m, uuid);
  if (!mp)
    return ll_err_set(err, LL_E_NOT_FOUND, "The resource you requested does not exist. (Event source mapping %s)", uuid);
  *out = configuration(mp, "Deleting");
  forget(m, uuid);
  unlink_mapping(m, mp);
  mp->deleted = true;
  uv_timer_stop(&mp->timer);
  mapping_unref(mp);
  return 0;
}

json_t *ll_esm_get(ll_esms_t *m, const char *uuid) {
  mapping_t *mp = find(m, uuid);
  return mp ? configuration(mp, NULL) : NULL;
}

json_t *ll_esm_list(ll_esms_t *m, const char *function, const char *source_arn,
                    const char *marker, size_t max, char **next) {
  char name[160] = "", qual[160];
  if (function) function_name_of(function, name, sizeof name, qual, sizeof qual);
  json_t *arr = json_array();
  *next = NULL;
  mapping_t *mp = m->list;
  if (marker) {
    while (mp && strcmp(mp->uuid, marker) != 0) mp = mp->next;
    if (mp) mp = mp->next;
  }
  for (; mp; mp = mp->next) {
    if (function && strcmp(cfg_str(mp, "FunctionName"), name) != 0) continue;
    if (source_arn && strcmp(cfg_str(mp, "EventSourceArn"), source_arn) != 0) continue;
    if (json_array_size(arr) == max) {
      *next = ll_strdup(json_string_value(json_object_get(json_array_get(arr, max - 1), "UUID")));
      break;
    }
    json_array_append_new(arr, configuration(mp, NULL));
  }
  return arr;
}

/* Whether every durable record of the mapping's stream is done (checkpointed) and no batch is
 * out: the work that reached the stream has all been processed. */
static bool drained(ll_esms_t *m, mapping_t *mp) {
  if (mp->inflight) return false;
  ll_stream_t *st = ll_stream_find(m->streams, stream_name_of(cfg_str(mp, "EventSourceArn")));
  if (!st) return true;
  for (size_t s = 0; s < st->nshards; s++) {
    uint64_t last = ll_shard_last_seq(st->shards[s]);
    poller_t *p = NULL;
    for (size_t i = 0; i < mp->npollers && !p; i++)
      if (mp->pollers[i].shard_index == (int)s) p = &mp->pollers[i];
    if (p && p->buffered) return false;
    if (last && (!p || p->checkpoint < last)) return false; /* records not (yet) done */
  }
  return true;
}

json_t *ll_esms_info(ll_esms_t *m) {
  json_t *arr = json_array();
  for (mapping_t *mp = m->list; mp; mp = mp->next)
    json_array_append_new(
        arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:i,s:b}", "UUID", mp->uuid, "FunctionName",
                       cfg_str(mp, "FunctionName"), "EventSourceArn", cfg_str(mp, "EventSourceArn"),
                       "State", cfg_bool(mp, "Enabled") ? "Enabled" : "Disabled",
                       "LastProcessingResult", mp->last_result, "IteratorAgeMilliseconds",
                       (json_int_t)mp->iterator_age_ms, "BatchesInFlight", mp->inflight,
                       "Drained", drained(m, mp)));
  return arr;
}

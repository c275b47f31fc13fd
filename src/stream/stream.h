/* Streams: named, sharded, durable logs — what Kinesis Data Streams is, without its wire format
 * (src/api/kinesis.c speaks that). A stream has shards, each covering a range of the 128-bit
 * hash space (MD5 of the partition key, or an explicit hash key) and each a log (log.h) whose
 * records are numbered 1, 2, 3...; stream metadata (shards, retention, tags) lives in SQLite
 * (data_dir/streams/streams.db), the records under data_dir/streams/<stream id>/<shard>/.
 *
 * Durability (group commit): a put appends to the shards' logs at once, and its callback runs
 * once the records are durable as the fsync mode says — `batch` (default): a sync of each shard
 * written in this loop turn starts on the thread pool before the loop next waits, so one fsync
 * covers every put of the turn; `always`: each put is fsynced on the loop before the next is
 * taken (slow; for comparison); `never`: no fsync (the page cache only: survives kill -9 of the
 * daemon, not a power loss). Readers see only durable records, so nothing a consumer saw can be
 * lost by a crash. Everything runs on the loop thread; only the fsyncs go to the thread pool.
 *
 * The shard map is a list, not an array indexed by hash, so that split and merge (closed parent
 * shards beside their children) fit later. */
#ifndef LL_STREAM_STREAM_H
#define LL_STREAM_STREAM_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/err.h"

typedef enum ll_fsync_mode { LL_FSYNC_BATCH, LL_FSYNC_ALWAYS, LL_FSYNC_NEVER } ll_fsync_mode_t;

/* Errors, in ll_err_t.code (the API maps them to AWS's exceptions). */
enum {
  LL_SE_NOT_FOUND = 2001,   /* no such stream or shard */
  LL_SE_IN_USE = 2002,      /* the stream exists */
  LL_SE_INVALID = 2003,     /* an argument out of range (InvalidArgumentException) */
  LL_SE_LIMIT = 2004,       /* too many shards */
  LL_SE_INTERNAL = 2005,    /* storage failed */
};

#define LL_STREAM_MAX_SHARDS 500       /* shards in all streams together (AWS's default quota) */
#define LL_STREAM_ON_DEMAND_SHARDS 4   /* what an ON_DEMAND stream starts with (AWS: 4) */

typedef unsigned __int128 ll_u128;

typedef struct ll_shard {
  char id[32];           /* "shardId-000000000000" */
  int index;             /* the number in id */
  ll_u128 hash_start, hash_end; /* inclusive */
  uint64_t start_seq;    /* the first sequence number the shard had */
  struct ll_log *log;
  bool durable_only;     /* readers see synced records only (fsync batch / always) */
  /* group commit (stream.c) */
  bool dirty, syncing;
  bool fresh;            /* records became visible: the observer is told before the loop waits */
  int64_t last_arrival_ms;
} ll_shard_t;

typedef struct ll_stream {
  char *name;
  char *arn;
  char *dir_id;          /* unique per creation: a re-created stream starts empty */
  int64_t created_ms;
  int retention_hours;
  bool on_demand;
  json_t *tags;          /* {"key": "value"} */
  ll_shard_t **shards;
  size_t nshards;
  int refs;              /* pending puts and syncs hold the stream */
  bool deleted;
} ll_stream_t;

typedef struct ll_streams ll_streams_t;

int ll_streams_open(uv_loop_t *loop, const char *data_dir, ll_fsync_mode_t mode, const char *region,
                    const char *account, ll_streams_t **out, ll_err_t *err);
/* Stops taking puts, answers pending ones with an error and frees everything once syncs in
 * flight are back (run the loop until it is empty). */
void ll_streams_close(ll_streams_t *ss);
ll_fsync_mode_t ll_streams_fsync_mode(const ll_streams_t *ss);
/* The observer of new records (one; the event source mappings): cb(ud, st, sh) runs on the
 * loop, never inside ll_stream_put, soon after records of sh became visible to readers — after
 * the fsync that made them durable, or after the append under --fsync never. */
typedef void (*ll_records_cb)(void *ud, ll_stream_t *st, ll_shard_t *sh);
void ll_streams_on_records(ll_streams_t *ss, ll_records_cb cb, void *ud);
const char *ll_streams_account(const ll_streams_t *ss);
const char *ll_streams_region(const ll_streams_t *ss);

/* ---- management ---------------------------------------------------------------------------- */

/* Creates a stream of shard_count shards over evenly split hash ranges (on_demand: the AWS
 * default count). Tags: NULL or {"k":"v"} (borrowed). */
int ll_stream_create(ll_streams_t *ss, const char *name, int shard_count, bool on_demand,
                     json_t *tags, ll_err_t *err);
/* Deletes the stream and its records (pending puts are answered first). */
int ll_stream_delete(ll_streams_t *ss, const char *name, ll_err_t *err);
ll_stream_t *ll_stream_find(ll_streams_t *ss, const char *name);
/* The streams sorted by name (the array is the caller's to free, not the streams). */
size_t ll_stream_list(ll_streams_t *ss, ll_stream_t ***out);
ll_shard_t *ll_stream_shard(ll_stream_t *st, const char *shard_id);
/* Sets the retention (24..8760 hours; the API checks increase vs decrease). */
int ll_stream_set_retention(ll_streams_t *ss, ll_stream_t *st, int hours, ll_err_t *err);
/* Merges tags into the stream's (add) or removes the named keys (keys: array of strings). */
int ll_stream_tag(ll_streams_t *ss, ll_stream_t *st, json_t *add, json_t *remove_keys, ll_err_t *err);
int ll_streams_total_shards(const ll_streams_t *ss);

/* ---- data ---------------------------------------------------------------------------------- */

typedef struct ll_put_rec {
  const char *key;      /* partition key */
  size_t key_len;
  bool has_hash;        /* explicit_hash chooses the shard instead of MD5(key) */
  ll_u128 explicit_hash;
  const void *data;
  size_t len;
} ll_put_rec_t;

typedef struct ll_put_result {
  const ll_shard_t *shard;
  uint64_t seq;
  int error;            /* 0, or an errno for this record alone */
} ll_put_result_t;

/* status 0: every result is durable (per the fsync mode); else the put failed as a whole (its
 * records may still become visible later: retrying may duplicate them, as on AWS). */
typedef void (*ll_put_cb)(void *ud, int status, const ll_put_result_t *results, size_t n);

/* Appends the records to their shards (in order per shard) and calls cb once they are durable
 * (never from inside this call). -1 with err if nothing could be appended. */
int ll_stream_put(ll_streams_t *ss, ll_stream_t *st, const ll_put_rec_t *recs, size_t n,
                  ll_put_cb cb, void *ud, ll_err_t *err);

/* The shard a hash falls in (an open shard), and MD5 of a partition key as a 128-bit number. */
ll_shard_t *ll_stream_route(ll_stream_t *st, ll_u128 hash);
ll_u128 ll_stream_key_hash(const char *key, size_t len);

/* A record as read (pointers valid during the callback). */
typedef struct ll_stream_rec {
  uint64_t seq;
  int64_t arrival_ms;
  const char *key;
  size_t key_len;
  const void *data;
  size_t len;
} ll_stream_rec_t;
typedef int (*ll_stream_read_cb)(void *ud, const ll_stream_rec_t *rec);

/* Reads durable records of a shard from from_seq on (at most max_records, and max_bytes after
 * the first); *next_seq is where to go on. -1 with err. */
int ll_shard_read(ll_shard_t *sh, uint64_t from_seq, size_t max_records, size_t max_bytes,
                  ll_stream_read_cb cb, void *ud, uint64_t *next_seq, ll_err_t *err);
/* Sequence numbers of a shard: first retained (start_seq when empty), last durable (0: none). */
uint64_t ll_shard_first_seq(const ll_shard_t *sh);
uint64_t ll_shard_last_seq(const ll_shard_t *sh);
/* The first durable seq that arrived at or after ms (last durable + 1 when none). */
uint64_t ll_shard_seq_at_time(ll_shard_t *sh, int64_t ms);
/* Arrival time of the newest durable record (0 when none). */
int64_t ll_shard_last_arrival_ms(const ll_shard_t *sh);

/* A record's sequence number as Kinesis writes it (56 digits: "49", the shard's index in 14
 * digits, the record's number in 20, then 20 zeros — increasing within a shard), and its parse
 * (false when s is not a sequence number of sh). */
void ll_shard_seq_format(const ll_shard_t *sh, uint64_t seq, char out[64]);
bool ll_shard_seq_parse(const ll_shard_t *sh, const char *s, uint64_t *seq);

/* Decimal text of a 128-bit number (out: at least 40 bytes), and its parse (false when not a
 * decimal in [0, 2^128 - 1]). */
void ll_u128_format(ll_u128 v, char out[40]);
bool ll_u128_parse(const char *s, size_t len, ll_u128 *out);

#endif

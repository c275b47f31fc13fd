/* Kinesis Data Streams (JSON 1.1, "Kinesis_20131202.*"), as the AWS CLI and the SDKs speak it
 * (aws-wire-contract.md §7), over the streams of src/stream.
 *
 * Sequence numbers on the wire are 56 digits: "49", the shard's index (14 digits), the record's
 * number in its shard (20 digits), then 20 zeros — strictly increasing within a shard, and a
 * number from another shard is recognised as such. Shard iterators are opaque base64 of
 * "v1:<stream dir id>:<shard index>:<seq>:<issued ms>": a re-created stream's old iterators
 * no longer resolve, and an iterator expires 5 minutes after it was issued, as on AWS. */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "stream/stream.h"
#include "api/put_scan.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/encoding.h"
#include "core/mem.h"
#include "stream/stream.h"

#define JSON11 LL_PROTO_JSON
#define CT "application/x-amz-json-1.1"
#define RECORD_MAX (1u << 20)       /* data + partition key of one record */
#define PUT_RECORDS_MAX 500
#define PUT_RECORDS_BYTES (5u << 20)
#define GET_RECORDS_MAX 10000
#define GET_RECORDS_BYTES (10u << 20)
#define ITERATOR_TTL_MS 300000
#define RETENTION_MIN_H 24
#define RETENTION_MAX_H 8760

/* ---- validation ------------------------------------------------------------------------------ */

typedef struct checks {
  int n;
  char msg[1024];
} checks_t;

static void bad(checks_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bad(checks_t *c, const char *fmt, ...) {
  size_t l = strlen(c->msg);
  if (c->n++ && l + 2 < sizeof c->msg) {
    memcpy(c->msg + l, "; ", 3);
    l += 2;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->msg + l, sizeof c->msg - l, fmt, ap);
  va_end(ap);
}

/* Answers ValidationException when checks failed; true when it did. */
static bool failed(ll_http_req_t *req, const checks_t *c) {
  if (!c->n) return false;
  ll_api_error(req, JSON11, 400, "ValidationException", "%d validation error%s detected: %s", c->n,
               c->n == 1 ? "" : "s", c->msg);
  return true;
}

static bool name_ok(const char *s) {
  if (!s || !*s || strlen(s) > 128) return false;
  for (const char *p = s; *p; p++)
    if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '.' || *p == '-')) return false;
  return true;
}

static void check_name(checks_t *c, const char *field, const char *v) {
  if (!v) return;
  if (!*v || strlen(v) > 128)
    bad(c, "Value '%s' at '%s' failed to satisfy constraint: Member must have length %s", v, field,
        *v ? "less than or equal to 128" : "greater than or equal to 1");
  else if (!name_ok(v))
    bad(c, "Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression "
           "pattern: [a-zA-Z0-9_.-]+",
        v, field);
}

/* An integer field: *out set when present; a check failure when not an integer in [lo, hi]. */
static bool int_field(checks_t *c, json_t *in, const char *key, const char *field, long long lo,
                      long long hi, long long *out) {
  json_t *v = json_object_get(in, key);
  if (!v || json_is_null(v)) return false;
  if (!json_is_integer(v)) {
    bad(c, "Value at '%s' failed to satisfy constraint: Member must be an integer", field);
    return false;
  }
  long long x = json_integer_value(v);
  if (x < lo)
    bad(c, "Value '%lld' at '%s' failed to satisfy constraint: Member must have value greater than "
           "or equal to %lld",
        x, field, lo);
  else if (x > hi)
    bad(c, "Value '%lld' at '%s' failed to satisfy constraint: Member must have value less than or "
           "equal to %lld",
        x, field, hi);
  else
    *out = x;
  return x >= lo && x <= hi;
}

static const char *str(json_t *in, const char *key) { return json_string_value(json_object_get(in, key)); }

/* ---- lookups --------------------------------------------------------------------------------- */

static ll_streams_t *streams_of(ll_http_req_t *req) {
  return ((ll_api_ctx_t *)req->listener_data)->streams;
}

static void not_found(ll_http_req_t *req, const char *name) {
  ll_api_error(req, JSON11, 400, "ResourceNotFoundException", "Stream %s under account %s not found.",
               name, ll_streams_account(streams_of(req)));
}

/* The stream a request names (StreamName or StreamARN), or NULL after answering. */
static ll_stream_t *stream_arg(ll_http_req_t *req, json_t *in) {
  const char *name = str(in, "StreamName"), *arn = str(in, "StreamARN");
  checks_t c = {0};
  check_name(&c, "streamName", name);
  char from_arn[160] = "";
  if (arn) {
    const char *slash = strstr(arn, ":stream/");
    if (strncmp(arn, "arn:aws:kinesis:", 16) != 0 || !slash || strlen(slash + 8) >= sizeof from_arn)
      bad(&c, "Value '%s' at 'streamARN' failed to satisfy constraint: Member must satisfy regular "
              "expression pattern: arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+",
          arn);
    else
      snprintf(from_arn, sizeof from_arn, "%s", slash + 8);
  }
  if (failed(req, &c)) return NULL;
  if (!name && !from_arn[0]) {
    ll_api_error(req, JSON11, 400, "InvalidArgumentException",
                 "Either StreamName or StreamARN should be provided.");
    return NULL;
  }
  if (name && from_arn[0] && strcmp(name, from_arn) != 0) {
    ll_api_error(req, JSON11, 400, "InvalidArgumentException",
                 "StreamARN %s and StreamName %s name different streams.", arn, name);
    return NULL;
  }
  const char *want = name ? name : from_arn;
  ll_stream_t *st = ll_stream_find(streams_of(req), want);
  if (!st) not_found(req, want);
  return st;
}

static void stream_error(ll_http_req_t *req, const ll_err_t *err) {
  switch (err->code) {
    case LL_SE_NOT_FOUND: ll_api_error(req, JSON11, 400, "ResourceNotFoundException", "%s", err->msg); return;
    case LL_SE_IN_USE: ll_api_error(req, JSON11, 400, "ResourceInUseException", "%s", err->msg); return;
    case LL_SE_INVALID: ll_api_error(req, JSON11, 400, "InvalidArgumentException", "%s", err->msg); return;
    case LL_SE_LIMIT: ll_api_error(req, JSON11, 400, "LimitExceededException", "%s", err->msg); return;
    default: ll_api_error(req, JSON11, 500, "InternalFailure", "%s", err->msg);
  }
}

/* ---- sequence numbers and iterators ------------------------------------------------------------ */

static json_t *iterator(const ll_stream_t *st, const ll_shard_t *sh, uint64_t seq) {
  char raw[256];
  int n = snprintf(raw, sizeof raw, "v1:%s:%d:%" PRIu64 ":%lld", st->dir_id, sh->index, seq,
                   (long long)ll_wall_ms());
  char *b64 = ll_base64_encode(raw, (size_t)n);
  json_t *j = json_string(b64);
  free(b64);
  return j;
}

/* Resolves an iterator, or answers and returns false. */
static bool iterator_parse(ll_http_req_t *req, const char *it, ll_stream_t **st_out,
                           ll_shard_t **sh_out, uint64_t *seq) {
  size_t len = 0;
  uint8_t *raw = it ? ll_base64_decode(it, strlen(it), &len) : NULL;
  char buf[256], dir[200];
  int index = -1;
  long long issued = 0;
  bool ok = raw && len < sizeof buf;
  if (ok) {
    memcpy(buf, raw, len);
    buf[len] = '\0';
    ok = sscanf(buf, "v1:%199[^:]:%d:%" SCNu64 ":%lld", dir, &index, seq, &issued) == 4;
  }
  free(raw);
  if (!ok) {
    ll_api_error(req, JSON11, 400, "InvalidArgumentException", "Invalid ShardIterator.");
    return false;
  }
  ll_stream_t **all;
  size_t n = ll_stream_list(streams_of(req), &all);
  ll_stream_t *st = NULL;
  for (size_t i = 0; i < n && !st; i++)
    if (strcmp(all[i]->dir_id, dir) == 0) st = all[i];
  free(all);
  ll_shard_t *sh = NULL;
  for (size_t i = 0; st && i < st->nshards && !sh; i++)
    if (st->shards[i]->index == index) sh = st->shards[i];
  if (!sh) {
    const char *dash = strrchr(dir, '-');
    ll_api_error(req, JSON11, 400, "ResourceNotFoundException",
                 "Shard shardId-%012d in stream %.*s under account %s does not exist", index,
                 dash ? (int)(dash - dir) : (int)strlen(dir), dir, ll_streams_account(streams_of(req)));
    return false;
  }
  int64_t now = ll_wall_ms();
  if (now - issued > ITERATOR_TTL_MS) {
    char a[40], b[40];
    ll_format_iso_ms(issued, a, sizeof a);
    ll_format_iso_ms(now, b, sizeof b);
    ll_api_error(req, JSON11, 400, "ExpiredIteratorException",
                 "Iterator expired. The iterator was created at time %s while right now it is %s "
                 "which is further in the future than the tolerated delay of %d milliseconds.",
                 a, b, ITERATOR_TTL_MS);
    return false;
  }
  *st_out = st;
  *sh_out = sh;
  return true;
}

/* ---- management actions ------------------------------------------------------------------------ */

static void create_stream(ll_http_req_t *req, json_t *in) {
  const char *name = str(in, "StreamName");
  checks_t c = {0};
  if (!name) bad(&c, "Value null at 'streamName' failed to satisfy constraint: Member must not be null");
  check_name(&c, "streamName", name);
  long long shards = -1;
  int_field(&c, in, "ShardCount", "shardCount", 1, 100000, &shards);
  const char *mode = str(json_object_get(in, "StreamModeDetails"), "StreamMode");
  if (mode && strcmp(mode, "PROVISIONED") != 0 && strcmp(mode, "ON_DEMAND") != 0)
    bad(&c, "Value '%s' at 'streamModeDetails.streamMode' failed to satisfy constraint: Member must "
            "satisfy enum value set: [ON_DEMAND, PROVISIONED]",
        mode);
  if (failed(req, &c)) return;
  bool on_demand = mode && strcmp(mode, "ON_DEMAND") == 0;
  if (on_demand && shards > 0) {
    ll_api_error(req, JSON11, 400, "InvalidArgumentException",
                 "ShardCount is not supported for the ON_DEMAND stream mode.");
    return;
  }
  if (!on_demand && shards < 0) {
    ll_api_error(req, JSON11, 400, "InvalidArgumentException",
                 "ShardCount is required for the PROVISIONED stream mode.");
    return;
  }
  ll_err_t err = LL_ERR_INIT;
  if (ll_stream_create(streams_of(req), name, (int)shards, on_demand, json_object_get(in, "Tags"), &err) < 0)
    stream_error(req, &err);
  else
    ll_api_json(req, 200, NULL, CT);
}

static void delete_stream(ll_http_req_t *req, json_t *in) {
  ll_stream_t *st = stream_arg(req, in);
  if (!st) return;
  ll_err_t err = LL_ERR_INIT;
  if (ll_stream_delete(streams_of(req), st->name, &err) < 0)
    stream_error(req, &err);
  else
    ll_api_json(req, 200, NULL, CT);
}

static json_t *mode_details(const ll_stream_t *st) {
  return json_pack("{s:s}", "StreamMode", st->on_demand ? "ON_DEMAND" : "PROVISIONED");
}

static json_t *shard_json(const ll_shard_t *sh) {
  char a[40], b[40], s[64];
  ll_u128_format(sh->hash_start, a);
  ll_u128_format(sh->hash_end, b);
  ll_shard_seq_format(sh, sh->start_seq, s);
  return json_pack("{s:s,s:{s:s,s:s},s:{s:s}}", "ShardId", sh->id, "HashKeyRange",
                   "StartingHashKey", a, "EndingHashKey", b, "SequenceNumberRange",
                   "StartingSequenceNumber", s);
}

static double seconds(int64_t ms) { return (double)ms / 1000.0; }

/* Index of the first shard after ExclusiveStartShardId (0 without one). */
static size_t shard_start(const ll_stream_t *st, const char *exclusive) {
  if (!exclusive) return 0;
  for (size_t i = 0; i < st->nshards; i++)
    if (strcmp(st->shards[i]->id, exclusive) <= 0) continue;
    else return i;
  return st->nshards;
}

static void describe_stream(ll_http_req_t *req, json_t *in) {
  checks_t c = {0};
  long long limit = 100;
  int_field(&c, in, "Limit", "limit", 1, 10000, &limit);
  if (failed(req, &c)) return;
  ll_stream_t *st = stream_arg(req, in);
  if (!st) return;
  if (limit > 100) limit = 100;
  json_t *shards = json_array();
  size_t i = shard_start(st, str(in, "ExclusiveStartShardId"));
  for (; i < st->nshards && json_array_size(shards) < (size_t)limit; i++)
    json_array_append_new(shards, shard_json(st->shards[i]));
  json_t *d = json_pack("{s:s,s:s,s:s,s:o,s:o,s:b,s:i,s:f,s:[{s:[]}],s:s}", "StreamName", st->name,
                        "StreamARN", st->arn, "StreamStatus", "ACTIVE", "StreamModeDetails",
                        mode_details(st), "Shards", shards, "HasMoreShards", i < st->nshards,
                        "RetentionPeriodHours", st->retention_hours, "StreamCreationTimestamp",
                        seconds(st->created_ms), "EnhancedMonitoring", "ShardLevelMetrics",
                        "EncryptionType", "NONE");
  ll_api_json(req, 200, json_pack("{s:o}", "StreamDescription", d), CT);
}

static void describe_stream_summary(ll_http_req_t *req, json_t *in) {
  ll_stream_t *st = stream_arg(req, in);
  if (!st) return;
  json_t *d = json_pack("{s:s,s:s,s:s,s:o,s:i,s:f,s:[{s:[]}],s:s,s:i,s:i}", "StreamName", st->name,
                        "StreamARN", st->arn, "StreamStatus", "ACTIVE", "StreamModeDetails",
                        mode_details(st), "RetentionPeriodHours", st->retention_hours,
                        "StreamCreationTimestamp", seconds(st->created_ms), "EnhancedMonitoring",
                        "ShardLevelMetrics", "EncryptionType", "NONE", "OpenShardCount",
                        (int)st->nshards, "ConsumerCount", 0);
  ll_api_json(req, 200, json_pack("{s:o}", "StreamDescriptionSummary", d), CT);
}

static void list_streams(ll_http_req_t *req, json_t *in) {
  checks_t c = {0};
  long long limit = 100;
  int_field(&c, in, "Limit", "limit", 1, 10000, &limit);
  const char *after = str(in, "ExclusiveStartStreamName");
  check_name(&c, "exclusiveStartStreamName", after);
  if (failed(req, &c)) return;
  const char *token = str(in, "NextToken");
  char *from_token = NULL;
  if (token) {
    size_t len;
    uint8_t *raw = ll_base64_decode(token, strlen(token), &len);
    if (!raw) {
      ll_api_error(req, JSON11, 400, "InvalidArgumentException", "Invalid NextToken.");
      return;
    }
    from_token = ll_strndup((const char *)raw, len);
    free(raw);
    after = from_token;
  }
  ll_stream_t **all;
  size_t n = ll_stream_list(streams_of(req), &all);
  json_t *names = json_array(), *summaries = json_array();
  size_t i = 0;
  while (i < n && after && strcmp(all[i]->name, after) <= 0) i++;
  for (; i < n && json_array_size(names) < (size_t)limit; i++) {
    json_array_append_new(names, json_string(all[i]->name));
    json_array_append_new(summaries, json_pack("{s:s,s:s,s:s,s:o,s:f}", "StreamName", all[i]->name,
                                               "StreamARN", all[i]->arn, "StreamStatus", "ACTIVE",
                                               "StreamModeDetails", mode_details(all[i]),
                                               "StreamCreationTimestamp", seconds(all[i]->created_ms)));
  }
  json_t *doc = json_pack("{s:o,s:b,s:o}", "StreamNames", names, "HasMoreStreams", i < n,
                          "StreamSummaries", summaries);
  if (i < n) {
    const char *last = all[i - 1]->name;
    char *b64 = ll_base64_encode(last, strlen(last));
    json_object_set_new(doc, "NextToken", json_string(b64));
    free(b64);
  }
  free(all);
  free(from_token);
  ll_api_json(req, 200, doc, CT);
}

static void list_shards(ll_http_req_t *req, json_t *in) {
  checks_t c = {0};
  long long max = 1000;
  int_field(&c, in, "MaxResults", "maxResults", 1, 10000, &max);
  if (failed(req, &c)) return;
  if (max > 1000) max = 1000;
  const char *token = str(in, "NextToken");
  ll_stream_t *st;
  size_t i = 0;
  if (token) {
    if (str(in, "StreamName") || str(in, "StreamARN")) {
      ll_api_error(req, JSON11, 400, "InvalidArgumentException",
                   "NextToken and StreamName cannot be provided together.");
      return;
    }
    size_t len;
    uint8_t *raw = ll_base64_decode(token, strlen(token), &len);
    char name[160] = "";
    unsigned long long from = 0;
    char buf[200];
    bool ok = raw && len < sizeof buf;
    if (ok) {
      memcpy(buf, raw, len);
      buf[len] = '\0';
      ok = sscanf(buf, "%159[^:]:%llu", name, &from) == 2;
    }
    free(raw);
    st = ok ? ll_stream_find(streams_of(req), name) : NULL;
    if (!ok) {
      ll_api_error(req, JSON11, 400, "InvalidArgumentException", "Invalid NextToken.");
      return;
    }
    if (!st) {
      not_found(req, name);
      return;
    }
    i = (size_t)from;
  } else {
    st = stream_arg(req, in);
    if (!st) return;
    i = shard_start(st, str(in, "ExclusiveStartShardId"));
  }
  json_t *shards = json_array();
  for (; i < st->nshards && json_array_size(shards) < (size_t)max; i++)
    json_array_append_new(shards, shard_json(st->shards[i]));
  json_t *doc = json_pack("{s:o}", "Shards", shards);
  if (i < st->nshards) {
    char raw[200];
    int n = snprintf(raw, sizeof raw, "%s:%zu", st->name, i);
    char *b64 = ll_base64_encode(raw, (size_t)n);
    json_object_set_new(doc, "NextToken", json_string(b64));
    free(b64);
  }
  ll_api_json(req, 200, doc, CT);
}

static void change_retention(ll_http_req_t *req, json_t *in, bool increase) {
  checks_t c = {0};
  long long hours = -1;
  if (!json_object_get(in, "RetentionPeriodHours"))
    bad(&c, "Value null at 'retentionPeriodHours' failed to satisfy constraint: Member must not be null");
  int_field(&c, in, "RetentionPeriodHours", "retentionPeriodHours", 1, 1000000, &hours);
  if (failed(req, &c)) return;
  ll_stream_t *st = stream_arg(req, in);
  if (!st) return;
  if (hours < RETENTION_MIN_H || hours > RETENTION_MAX_H) {
    ll_api_error(req, JSON11, 400, "InvalidArgumentException",
                 "%s retention period is %d hours. Requested retention period (%lld hours) is too %s.",
                 hours < RETENTION_MIN_H ? "Minimum allowed" : "Maximum allowed",
                 hours < RETENTION_MIN_H ? RETENTION_MIN_H : RETENTION_MAX_H, hours,
                 hours < RETENTION_MIN_H ? "short" : "long");
    return;
  }
  if (increase ? hours < st->retention_hours : hours > st->retention_hours) {
    ll_api_error(req, JSON11, 400, "InvalidArgumentException",
                 "Requested retention period (%lld hours) for stream %s can not be %s than existing "
                 "retention period (%d hours). Use %sStreamRetentionPeriod API.",
                 hours, st->name, increase ? "shorter" : "longer", st->retention_hours,
                 increase ? "Decrease" : "Increase");
    return;
  }
  ll_err_t err = LL_ERR_INIT;
  if (ll_stream_set_retention(streams_of(req), st, (int)hours, &err) < 0)
    stream_error(req, &err);
  else
    ll_api_json(req, 200, NULL, CT);
}

static void increase_retention(ll_http_req_t *req, json_t *in) { change_retention(req, in, true); }
static void decrease_retention(ll_http_req_t *req, json_t *in) { change_retention(req, in, false); }

static void add_tags(ll_http_req_t *req, json_t *in) {
  json_t *tags = json_object_get(in, "Tags");
  checks_t c = {0};
  if (!json_is_object(tags))
    bad(&c, "Value null at 'tags' failed to satisfy constraint: Member must not be null");
  else if (json_object_size(tags) < 1 || json_object_size(tags) > 50)
    bad(&c, "Value at 'tags' failed to satisfy constraint: Member must have length between 1 and 50");
  const char *k;
  json_t *v;
  json_object_foreach(tags, k, v) if (!json_is_string(v) || strlen(k) < 1 || strlen(k) > 128)
      bad(&c, "Value at 'tags' failed to satisfy constraint: Tag keys must be 1 to 128 characters "
              "and values strings");
  if (failed(req, &c)) return;
  ll_stream_t *st = stream_arg(req, in);
  if (!st) return;
  json_t *merged = json_deep_copy(st->tags);
  json_object_update(merged, tags);
  size_t total = json_object_size(merged);
  json_decref(merged);
  if (total > 50) {
    ll_api_error(req, JSON11, 400, "LimitExceededException",
                 "Failed to add tags to stream %s under account %s because a given stream cannot "
                 "have more than 50 tags.",
                 st->name, ll_streams_account(streams_of(req)));
    return;
  }
  ll_err_t err = LL_ERR_INIT;
  if (ll_stream_tag(streams_of(req), st, tags, NULL, &err) < 0)
    stream_error(req, &err);
  else
    ll_api_json(req, 200, NULL, CT);
}

static void remove_tags(ll_http_req_t *req, json_t *in) {
  json_t *keys = json_object_get(in, "TagKeys");
  checks_t c = {0};
  if (!json_is_array(keys) || json_array_size(keys) < 1 || json_array_size(keys) > 50)
    bad(&c, "Value at 'tagKeys' failed to satisfy constraint: Member must have length between 1 and 50");
  if (failed(req, &c)) return;
  ll_stream_t *st = stream_arg(req, in);
  if (!st) return;
  ll_err_t err = LL_ERR_INIT;
  if (ll_stream_tag(streams_of(req), st, NULL, keys, &err) < 0)
    stream_error(req, &err);
  else
    ll_api_json(req, 200, NULL, CT);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void list_tags(ll_http_req_t *req, json_t *in) {
  ll_stream_t *st = stream_arg(req, in);
  if (!st) return;
  const char *after = str(in, "ExclusiveStartTagKey");
  long long limit = 50;
  checks_t c = {0};
  int_field(&c, in, "Limit", "limit", 1, 50, &limit);
  if (failed(req, &c)) return;
  /* keys in order, for stable paging */
  size_t n = json_object_size(st->tags), k = 0;
  const char **keys = ll_calloc(n ? n : 1, sizeof *keys);
  const char *key;
  json_t *v;
  json_object_foreach(st->tags, key, v) keys[k++] = key;
  qsort(keys, n, sizeof *keys, cmp_str);
  json_t *out = json_array();
  size_t i = 0;
  while (i < n && after && strcmp(keys[i], after) <= 0) i++;
  for (; i < n && json_array_size(out) < (size_t)limit; i++)
    json_array_append_new(out, json_pack("{s:s,s:O}", "Key", keys[i], "Value",
                                         json_object_get(st->tags, keys[i])));
  free(keys);
  ll_api_json(req, 200, json_pack("{s:o,s:b}", "Tags", out, "HasMoreTags", i < n), CT);
}

/* ---- data actions -------------------------------------------------------------------------------- */

/* One PutRecord / PutRecords request waiting for durability. */
typedef struct put_req {
  ll_http_req_t *req;
  bool batch;   /* PutRecords */
  size_t n;
} put_req_t;

static void put_req_free(put_req_t *p) {
  free(p);
}

static void on_put(void *ud, int status, const ll_put_result_t *res, size_t n) {
  put_req_t *p = ud;
  if (status) {
    ll_api_error(p->req, JSON11, 500, "InternalFailure",
                 "The records could not be made durable (%s); they may or may not be stored.",
                 strerror(status));
    put_req_free(p);
    return;
  }
  char seq[64];
  if (!p->batch) {
    if (res[0].error) {
      ll_api_error(p->req, JSON11, 500, "InternalFailure", "Storing the record failed: %s",
                   strerror(res[0].error));
    } else {
      ll_shard_seq_format(res[0].shard, res[0].seq, seq);
      ll_api_json(p->req, 200,
                  json_pack("{s:s,s:s,s:s}", "ShardId", res[0].shard->id, "SequenceNumber", seq,
                            "EncryptionType", "NONE"),
                  CT);
    }
    put_req_free(p);
    return;
  }
  /* PutRecords' answer, built by hand: this is the hot path (a JSON tree of 500 records costs
   * more than storing them) */
  int failed_count = 0;
  for (size_t i = 0; i < n; i++) failed_count += res[i].error != 0;
  ll_buf_t b = LL_BUF_INIT;
  ll_buf_reserve(&b, 64 + n * 120);
  ll_buf_puts(&b, "{\"FailedRecordCount\":");
  ll_buf_put_u64(&b, (uint64_t)failed_count);
  ll_buf_puts(&b, ",\"Records\":[");
  for (size_t i = 0; i < n; i++) {
    if (i) ll_buf_append(&b, ",", 1);
    if (res[i].error) {
      ll_buf_cat(&b, "{\"ErrorCode\":\"InternalFailure\",\"ErrorMessage\":\"",
                 strerror(res[i].error), "\"}", NULL);
      continue;
    }
    ll_shard_seq_format(res[i].shard, res[i].seq, seq);
    ll_buf_cat(&b, "{\"SequenceNumber\":\"", seq, "\",\"ShardId\":\"", res[i].shard->id, "\"}",
               NULL);
  }
  ll_buf_puts(&b, "],\"EncryptionType\":\"NONE\"}");
  ll_api_raw_json(p->req, 200, &b, CT);
  put_req_free(p);
}

/* The place of record i (1-based; 0 for PutRecord's single record) in validation messages. */
static const char *where(size_t i, char buf[48]) {
  if (!i) return "";
  snprintf(buf, 48, "records.%zu.member.", i);
  return buf;
}

/* Checks one record's fields (i: its place, as for where()) and fills r, its data decoded to
 * *out (advanced past it). */
static void record_arg(checks_t *c, const ll_scan_rec_t *in, size_t i, ll_put_rec_t *r,
                       uint8_t **out) {
  const ll_scan_str_t *data = &in->data, *key = &in->key, *hash = &in->hash;
  char w[48];
  memset(r, 0, sizeof *r);
  if (!data->p) bad(c, "Value null at '%sdata' failed to satisfy constraint: Member must not be null", where(i, w));
  if (!key->p) bad(c, "Value null at '%spartitionKey' failed to satisfy constraint: Member must not be null", where(i, w));
  else if (!key->len || key->len > 256)
    bad(c, "Value '%.*s' at '%spartitionKey' failed to satisfy constraint: Member must have length %s",
        (int)key->len, key->p, where(i, w), key->len ? "less than or equal to 256" : "greater than or equal to 1");
  if (hash->p && !ll_u128_parse(hash->p, hash->len, &r->explicit_hash))
    bad(c, "Value '%.*s' at '%sexplicitHashKey' failed to satisfy constraint: Member must satisfy "
           "regular expression pattern: 0|([1-9]\\d{0,38})",
        (int)hash->len, hash->p, where(i, w));
  r->has_hash = hash->p != NULL;
  if (data->p) {
    size_t len = 0;
    if (!ll_base64_decode_to(data->p, data->len, *out, &len)) {
      bad(c, "Value at '%sdata' failed to satisfy constraint: Member must be base64-encoded", where(i, w));
    } else if (len + key->len > RECORD_MAX) {
      bad(c, "Value at '%sdata' failed to satisfy constraint: Member must have length less than or "
             "equal to %u",
          where(i, w), RECORD_MAX);
    }
    r->data = *out;
    r->len = len;
    *out += len;
  }
  r->key = key->p;
  r->key_len = key->len;
}

/* A field of a parsed body as the scanner's string (absent unless a JSON string). */
static ll_scan_str_t field(json_t *obj, const char *key) {
  json_t *v = json_object_get(obj, key);
  ll_scan_str_t s = {json_string_value(v), json_is_string(v) ? json_string_length(v) : 0};
  return s;
}

/* PutRecord / PutRecords once the body is read: `in` names the stream, recs (n of them; for a
 * batch, has_records tells whether a Records list was there at all) are the records. */
static void put_scanned(ll_http_req_t *req, json_t *in, bool batch, bool has_records,
                        const ll_scan_rec_t *srecs, size_t n) {
  checks_t c = {0};
  if (batch && !has_records)
    bad(&c, "Value null at 'records' failed to satisfy constraint: Member must not be null");
  else if (batch && (n < 1 || n > PUT_RECORDS_MAX))
    bad(&c, "Value '[...%zu records]' at 'records' failed to satisfy constraint: Member must have "
            "length %s",
        n, n < 1 ? "greater than or equal to 1" : "less than or equal to 500");
  if (failed(req, &c)) return;
  ll_stream_t *st = stream_arg(req, in);
  if (!st) return;
  put_req_t *p = ll_calloc(1, sizeof *p);
  p->req = req;
  p->batch = batch;
  p->n = n;
  ll_put_rec_t *recs = ll_calloc(n, sizeof *recs);
  /* every record's data decoded into one buffer, which the log has copied once put returns */
  size_t cap = 1, total = 0;
  for (size_t i = 0; i < n; i++) cap += srecs[i].data.len / 4 * 3 + 3;
  uint8_t *blob = ll_malloc(cap), *at = blob;
  for (size_t i = 0; i < n; i++) {
    record_arg(&c, &srecs[i], batch ? i + 1 : 0, &recs[i], &at);
    total += recs[i].len + recs[i].key_len;
  }
  if (failed(req, &c)) {
    free(recs);
    free(blob);
    put_req_free(p);
    return;
  }
  if (batch && total > PUT_RECORDS_BYTES) {
    ll_api_error(req, JSON11, 400, "InvalidArgumentException",
                 "Records size exceeds %u bytes limit (the request has %zu bytes of data and "
                 "partition keys).",
                 PUT_RECORDS_BYTES, total);
    free(recs);
    free(blob);
    put_req_free(p);
    return;
  }
  ll_err_t err = LL_ERR_INIT;
  int rc = ll_stream_put(streams_of(req), st, recs, n, on_put, p, &err);
  free(recs);
  free(blob);
  if (rc < 0) {
    stream_error(req, &err);
    put_req_free(p);
  }
}

/* The general path: the body parsed by jansson. */
static void put(ll_http_req_t *req, json_t *in, bool batch) {
  json_t *list = batch ? json_object_get(in, "Records") : NULL;
  size_t n = batch ? json_array_size(list) : 1;
  ll_scan_rec_t *recs = ll_calloc(n ? n : 1, sizeof *recs);
  for (size_t i = 0; i < n; i++) {
    json_t *r = batch ? json_array_get(list, i) : in;
    recs[i] = (ll_scan_rec_t){field(r, "Data"), field(r, "PartitionKey"), field(r, "ExplicitHashKey")};
  }
  put_scanned(req, in, batch, json_is_array(list), recs, n);
  free(recs);
}

/* The hot path: a body of the plain shape the SDKs send, scanned without a JSON tree; false
 * when the body needs the general path. */
/* With a temporary credential: the action on the stream the request names (else on every
 * stream). False when refused (answered). */
static bool authorized(ll_http_req_t *req, const char *action, json_t *in) {
  if (!ll_api_restricted(req)) return true;
  char act[96], res[400];
  const char *arn = str(in, "StreamARN"), *name = str(in, "StreamName");
  snprintf(act, sizeof act, "kinesis:%s", action);
  if (arn)
    snprintf(res, sizeof res, "%s", arn);
  else
    snprintf(res, sizeof res, "arn:aws:kinesis:%s:%s:stream/%s", ll_api_region(req),
             ll_streams_account(streams_of(req)), name ? name : "*");
  return ll_api_authorize(req, JSON11, act, res) == 0;
}

static bool put_fast(ll_http_req_t *req, bool batch) {
  ll_put_scan_t sc;
  if (!req->body.len || ll_put_scan(req->body.data, req->body.len, batch, &sc) < 0) return false;
  json_t *in = json_object();
  if (sc.stream_name.p)
    json_object_set_new(in, "StreamName", json_stringn(sc.stream_name.p, sc.stream_name.len));
  if (sc.stream_arn.p)
    json_object_set_new(in, "StreamARN", json_stringn(sc.stream_arn.p, sc.stream_arn.len));
  if (authorized(req, batch ? "PutRecords" : "PutRecord", in))
    put_scanned(req, in, batch, sc.has_records, sc.recs, sc.n);
  json_decref(in);
  ll_put_scan_free(&sc);
  return true;
}

static void put_record(ll_http_req_t *req, json_t *in) { put(req, in, false); }
static void put_records(ll_http_req_t *req, json_t *in) { put(req, in, true); }

static void get_shard_iterator(ll_http_req_t *req, json_t *in) {
  const char *shard_id = str(in, "ShardId"), *type = str(in, "ShardIteratorType");
  const char *seq_s = str(in, "StartingSequenceNumber");
  static const char *const types[] = {"AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "TRIM_HORIZON",
                                      "LATEST", "AT_TIMESTAMP"};
  int t = -1;
  for (int i = 0; type && i < 5; i++)
    if (strcmp(type, types[i]) == 0) t = i;
  checks_t c = {0};
  if (!shard_id) bad(&c, "Value null at 'shardId' failed to satisfy constraint: Member must not be null");
  if (!type)
    bad(&c, "Value null at 'shardIteratorType' failed to satisfy constraint: Member must not be null");
  else if (t < 0)
    bad(&c, "Value '%s' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy "
            "enum value set: [AFTER_SEQUENCE_NUMBER, AT_SEQUENCE_NUMBER, AT_TIMESTAMP, "
            "TRIM_HORIZON, LATEST]",
        type);
  if (failed(req, &c)) return;
  ll_stream_t *st = stream_arg(req, in);
  if (!st) return;
  ll_shard_t *sh = ll_stream_shard(st, shard_id);
  if (!sh) {
    ll_api_error(req, JSON11, 400, "ResourceNotFoundException",
                 "Shard %s in stream %s under account %s does not exist", shard_id, st->name,
                 ll_streams_account(streams_of(req)));
    return;
  }
  uint64_t seq = 0;
  json_t *ts = json_object_get(in, "Timestamp");
  if (t <= 1) {
    if (!seq_s) {
      ll_api_error(req, JSON11, 400, "InvalidArgumentException",
                   "Must specify StartingSequenceNumber for %s ShardIteratorType", type);
      return;
    }
    if (!ll_shard_seq_parse(sh, seq_s, &seq)) {
      ll_api_error(req, JSON11, 400, "InvalidArgumentException",
                   "StartingSequenceNumber %s used in GetShardIterator on shard %s in stream %s "
                   "under account %s is invalid because it did not come from this stream.",
                   seq_s, sh->id, st->name, ll_streams_account(streams_of(req)));
      return;
    }
    if (t == 1) seq++;
  } else if (seq_s) {
    ll_api_error(req, JSON11, 400, "InvalidArgumentException",
                 "Request should not contain StartingSequenceNumber for %s ShardIteratorType", type);
    return;
  }
  if (t == 4 && !json_is_number(ts)) {
    ll_api_error(req, JSON11, 400, "InvalidArgumentException",
                 "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. "
                 "Current request has no timestamp parameter.");
    return;
  }
  if (t != 4 && ts) {
    ll_api_error(req, JSON11, 400, "InvalidArgumentException",
                 "Request should not contain a timestamp for %s ShardIteratorType", type);
    return;
  }
  if (t == 2) seq = ll_shard_first_seq(sh);
  if (t == 3) seq = ll_shard_last_seq(sh) + 1;
  if (t == 4) {
    int64_t ms = (int64_t)(json_number_value(ts) * 1000.0);
    if (ms > ll_wall_ms()) {
      ll_api_error(req, JSON11, 400, "InvalidArgumentException",
                   "The timestampInMillis parameter cannot be greater than the "
                   "currentTimestampInMillis.");
      return;
    }
    seq = ll_shard_seq_at_time(sh, ms);
  }
  if (seq < ll_shard_first_seq(sh)) seq = ll_shard_first_seq(sh); /* trimmed: start at the oldest */
  ll_api_json(req, 200, json_pack("{s:o}", "ShardIterator", iterator(st, sh, seq)), CT);
}

/* GetRecords' answer, built by hand as records are read (a JSON tree of 10,000 records costs
 * more than reading them). */
typedef struct collect {
  ll_buf_t out;
  size_t n;
  const ll_shard_t *sh;
  int64_t last_arrival;
} collect_t;

static int collect(void *ud, const ll_stream_rec_t *r) {
  collect_t *c = ud;
  char seq[64];
  ll_shard_seq_format(c->sh, r->seq, seq);
  ll_buf_t *b = &c->out;
  ll_buf_cat(b, c->n++ ? ",{\"SequenceNumber\":\"" : "{\"SequenceNumber\":\"", seq,
             "\",\"ApproximateArrivalTimestamp\":", NULL);
  ll_buf_put_seconds(b, r->arrival_ms);
  ll_buf_puts(b, ",\"Data\":\"");
  ll_buf_reserve(b, 4 * ((r->len + 2) / 3) + 1);
  b->len += ll_base64_encode_to(b->data + b->len, r->data, r->len);
  ll_buf_puts(b, "\",\"PartitionKey\":");
  ll_buf_json_string(b, r->key, r->key_len);
  ll_buf_append(b, "}", 1);
  c->last_arrival = r->arrival_ms;
  return 0;
}

static void get_records(ll_http_req_t *req, json_t *in) {
  checks_t c = {0};
  const char *it = str(in, "ShardIterator");
  if (!it) bad(&c, "Value null at 'shardIterator' failed to satisfy constraint: Member must not be null");
  long long limit = GET_RECORDS_MAX;
  json_t *lim = json_object_get(in, "Limit");
  if (json_is_integer(lim) && json_integer_value(lim) > GET_RECORDS_MAX) {
    if (failed(req, &c)) return;
    ll_api_error(req, JSON11, 400, "InvalidArgumentException",
                 "Limit %lld is too large: GetRecords returns at most %d records.",
                 (long long)json_integer_value(lim), GET_RECORDS_MAX);
    return;
  }
  int_field(&c, in, "Limit", "limit", 1, GET_RECORDS_MAX, &limit);
  if (failed(req, &c)) return;
  ll_stream_t *st;
  ll_shard_t *sh;
  uint64_t seq;
  if (!iterator_parse(req, it, &st, &sh, &seq)) return;
  if (seq < ll_shard_first_seq(sh)) seq = ll_shard_first_seq(sh); /* trimmed meanwhile */
  collect_t col = {LL_BUF_INIT, 0, sh, 0};
  ll_buf_puts(&col.out, "{\"Records\":[");
  uint64_t next = seq;
  ll_err_t err = LL_ERR_INIT;
  if (ll_shard_read(sh, seq, (size_t)limit, GET_RECORDS_BYTES, collect, &col, &next, &err) < 0) {
    ll_buf_free(&col.out);
    ll_api_error(req, JSON11, 500, "InternalFailure", "Reading %s of stream %s: %s", sh->id,
                 st->name, err.msg);
    return;
  }
  uint64_t last = ll_shard_last_seq(sh);
  int64_t behind = 0;
  if (next <= last) { /* more to read: how far this answer is from the tip */
    int64_t tip = ll_shard_last_arrival_ms(sh);
    behind = col.last_arrival && tip > col.last_arrival ? tip - col.last_arrival : 0;
  }
  json_t *itj = iterator(st, sh, next);
  ll_buf_cat(&col.out, "],\"NextShardIterator\":\"", json_string_value(itj),
             "\",\"MillisBehindLatest\":", NULL);
  json_decref(itj);
  ll_buf_put_u64(&col.out, (uint64_t)behind);
  ll_buf_append(&col.out, "}", 1);
  ll_api_raw_json(req, 200, &col.out, CT);
}

/* ---- dispatch -------------------------------------------------------------------------------- */

static const struct {
  const char *name;
  void (*fn)(ll_http_req_t *req, json_t *in);
} actions[] = {
    {"CreateStream", create_stream},
    {"DeleteStream", delete_stream},
    {"DescribeStream", describe_stream},
    {"DescribeStreamSummary", describe_stream_summary},
    {"ListStreams", list_streams},
    {"ListShards", list_shards},
    {"PutRecord", put_record},
    {"PutRecords", put_records},
    {"GetShardIterator", get_shard_iterator},
    {"GetRecords", get_records},
    {"IncreaseStreamRetentionPeriod", increase_retention},
    {"DecreaseStreamRetentionPeriod", decrease_retention},
    {"AddTagsToStream", add_tags},
    {"RemoveTagsFromStream", remove_tags},
    {"ListTagsForStream", list_tags},
};

void ll_api_kinesis_dispatch(ll_http_req_t *req, const char *action) {
  if (ll_api_authenticate(req, JSON11) < 0) return;
  if (!streams_of(req)) {
    ll_api_error(req, JSON11, 500, "InternalFailure", "streams are not available in this daemon");
    return;
  }
  bool batch = strcmp(action, "PutRecords") == 0;
  if ((batch || strcmp(action, "PutRecord") == 0) && put_fast(req, batch)) return;
  json_t *in = ll_api_json11_body(req);
  if (!in) return;
  for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++) {
    if (strcmp(action, actions[i].name) != 0) continue;
    if (!authorized(req, action, in)) {
      json_decref(in);
      return;
    }
    actions[i].fn(req, in);
    json_decref(in);
    return;
  }
  json_decref(in);
  ll_api_error(req, JSON11, 400, "UnknownOperationException",
               "Kinesis operation %s is not supported (yet).", action);
}

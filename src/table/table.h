/* Tables: DynamoDB's storage, what src/api/dynamodb.c serves, without its wire format. Items
 * live in SQLite (data_dir/tables/tables.db, WAL, synchronous=NORMAL: a write is durable
 * against kill -9 of the daemon once acknowledged, not against a power loss), one row per item
 * keyed by (table, partition key bytes, sort key bytes), the item itself as DynamoDB JSON text.
 * Key bytes are order-preserving encodings (value.h's ll_av_key_bytes, made by the caller), so
 * SQLite's BLOB order (memcmp, then length) is DynamoDB's sort-key order.
 *
 * Threads: the loop thread only (each call is a few SQLite statements, microseconds). Several
 * calls become one atomic change between ll_tables_begin and ll_tables_commit (conditional
 * writes read and write in one transaction; TransactWriteItems groups up to 100 writes). */
#ifndef LL_TABLE_TABLE_H
#define LL_TABLE_TABLE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

enum {
  LL_TB_NOT_FOUND = 4001, /* ResourceNotFoundException */
  LL_TB_EXISTS,           /* ResourceInUseException */
  LL_TB_INTERNAL,         /* storage failed */
};

typedef struct ll_tables ll_tables_t;

int ll_tables_open(const char *data_dir, ll_tables_t **out, ll_err_t *err);
void ll_tables_close(ll_tables_t *t);

/* ---- tables -------------------------------------------------------------------------------- */

/* What the API validated and keeps: DescribeTable's TableDescription without the live counts
 * (the API adds ItemCount, TableSizeBytes). */
typedef struct ll_table_info {
  char name[256];
  char hash[256], range[256];   /* key attribute names; range "" when there is none */
  char hash_type, range_type;   /* 'S', 'N' or 'B' */
  json_t *desc;                 /* owned: the stored TableDescription */
  int64_t id;                   /* the table's row id (items refer to it) */
} ll_table_info_t;
void ll_table_info_free(ll_table_info_t *info);

/* Creates a table from desc (borrowed; stored as is) and the key schema in info's fields.
 * LL_TB_EXISTS when the name is taken. */
int ll_table_create(ll_tables_t *t, const ll_table_info_t *info, ll_err_t *err);
/* 0 with *out filled (out->desc is shared with the module's cache: treat it as read-only,
 * copy it to change it), or -1 with LL_TB_NOT_FOUND. */
int ll_table_get(ll_tables_t *t, const char *name, ll_table_info_t *out, ll_err_t *err);
/* Replaces the stored description (UpdateTable). */
int ll_table_set_desc(ll_tables_t *t, const char *name, json_t *desc, ll_err_t *err);
/* Deletes the table and its items. */
int ll_table_delete(ll_tables_t *t, const char *name, ll_err_t *err);
/* Table names in order after `after` (NULL: from the first), at most max; caller frees each
 * and the array. *more when names follow. */
size_t ll_table_list(ll_tables_t *t, const char *after, size_t max, char ***names, bool *more);
/* Live counts: items and the bytes of their JSON (an approximation of TableSizeBytes). */
void ll_table_counts(ll_tables_t *t, int64_t id, int64_t *items, int64_t *bytes);

/* ---- items --------------------------------------------------------------------------------- */

/* A primary key as stored: the encoded partition and sort key values (sort key empty, len 0,
 * for tables without one). Borrowed. */
typedef struct ll_item_key {
  const uint8_t *hk;
  size_t hk_len;
  const uint8_t *rk;
  size_t rk_len;
} ll_item_key_t;

/* The item (new reference) in *item, or NULL when there is none. */
int ll_item_get(ll_tables_t *t, int64_t table, const ll_item_key_t *k, json_t **item,
                ll_err_t *err);
/* Writes item (borrowed; its size in bytes given, for the counts) under k, replacing any. */
int ll_item_put(ll_tables_t *t, int64_t table, const ll_item_key_t *k, const json_t *item,
                ll_err_t *err);
int ll_item_delete(ll_tables_t *t, int64_t table, const ll_item_key_t *k, ll_err_t *err);

/* Atomic groups of calls (not nested). rollback undoes everything since begin. */
int ll_tables_begin(ll_tables_t *t, ll_err_t *err);
int ll_tables_commit(ll_tables_t *t, ll_err_t *err);
void ll_tables_rollback(ll_tables_t *t);

/* Called for each item of a query or scan, in order, with its stored key; returns false to
 * stop. The item is a new reference the callback owns. */
typedef bool (*ll_item_fn)(void *ud, const ll_item_key_t *k, json_t *item);

/* A Query's range of one partition: sort keys from lo to hi (NULL: unbounded), each bound
 * inclusive or not, or (prefix != NULL) those that begin with prefix; in sort-key order, or
 * reversed; after (or, reversed, before) the sort key `start` (NULL: from the first). */
typedef struct ll_item_range {
  const uint8_t *lo, *hi, *prefix, *start;
  size_t lo_len, hi_len, prefix_len, start_len;
  bool lo_incl, hi_incl, reverse;
} ll_item_range_t;
int ll_item_query(ll_tables_t *t, int64_t table, const uint8_t *hk, size_t hk_len,
                  const ll_item_range_t *r, ll_item_fn fn, void *ud, ll_err_t *err);

/* A Scan: every item of the table in storage order (by a hash of the partition key, then the
 * keys, as DynamoDB's unordered scans), after the item at start (NULL: from the first), only
 * those of segment `segment` of `total` (total 1: all). */
int ll_item_scan(ll_tables_t *t, int64_t table, const ll_item_key_t *start, int segment,
                 int total, ll_item_fn fn, void *ud, ll_err_t *err);

#endif

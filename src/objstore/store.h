/* The object store: buckets of objects, what S3 is without its wire format (src/api/s3.c will
 * speak that). It knows nothing of HTTP.
 *
 * On disk, under data_dir/objects/: each object's bytes in a file of its own
 * (<bucket>/<2 hex>/<24 hex>, a name unique to that version of the object), and every bucket's
 * and object's metadata — key, size, ETag, content type, user metadata, time — in SQLite
 * (objects.db, WAL), which also gives listings in key order by prefix. SQLite, not a metadata
 * file beside each object: S3 listings are ordered ranges of keys, which an index answers and a
 * directory walk does not.
 *
 * Writes stream: ll_obj_begin opens a temporary file, ll_obj_write appends (MD5 as it goes),
 * ll_obj_commit fsyncs it, renames it to its version name and then records the row — the
 * row is the commit point, so a crash at any moment leaves either the old object or the new
 * one, never a torn one; files no row names (an upload cut short) are removed at open. A
 * replaced or deleted object's file is unlinked after its row changed (readers holding it open
 * keep reading the old bytes).
 *
 * Threads: the loop thread only, except ll_obj_write and ll_obj_commit, which may run on a
 * worker (the caller keeps one writer on one thread at a time; commit takes the store's lock
 * for its row). */
#ifndef LL_OBJSTORE_STORE_H
#define LL_OBJSTORE_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Errors, in ll_err_t.code (the API maps them to S3's codes). Calls return 0, or < 0 with err
 * set ("-1 with err" below). */
enum {
  LL_OS_NO_BUCKET = 3001, /* NoSuchBucket */
  LL_OS_NO_KEY,           /* NoSuchKey */
  LL_OS_EXISTS,           /* BucketAlreadyOwnedByYou */
  LL_OS_NOT_EMPTY,        /* BucketNotEmpty */
  LL_OS_INVALID,          /* InvalidBucketName / KeyTooLong... (message says which) */
  LL_OS_INTERNAL,         /* storage failed */
};

#define LL_OS_KEY_MAX 1024 /* bytes of UTF-8, as S3 */

typedef struct ll_objstore ll_objstore_t;

/* Opens (creating) data_dir/objects and removes what an interrupted upload left. -1 with err. */
int ll_objstore_open(const char *data_dir, ll_objstore_t **out, ll_err_t *err);
void ll_objstore_close(ll_objstore_t *os);

/* ---- buckets ------------------------------------------------------------------------------- */

typedef struct ll_bucket_info {
  char name[64];
  int64_t created_ms;
  char region[32];
} ll_bucket_info_t;

/* S3's bucket naming rules: 3-63 of [a-z0-9.-], starting and ending with a letter or digit,
 * no "..", not an IP address. NULL when valid, else why not (static text). */
const char *ll_bucket_name_problem(const char *name);
int ll_bucket_create(ll_objstore_t *os, const char *name, const char *region, ll_err_t *err);
/* Fails with LL_OS_NOT_EMPTY while it holds objects. */
int ll_bucket_delete(ll_objstore_t *os, const char *name, ll_err_t *err);
/* 0 with *out filled, or -1 with err LL_OS_NO_BUCKET. */
int ll_bucket_get(ll_objstore_t *os, const char *name, ll_bucket_info_t *out, ll_err_t *err);
/* Every bucket by name; the array is the caller's to free. */
size_t ll_bucket_list(ll_objstore_t *os, ll_bucket_info_t **out);

/* ---- objects ------------------------------------------------------------------------------- */

typedef struct ll_obj_info {
  uint64_t size;
  char etag[40];          /* quoted hex MD5 as S3 writes it: "\"9e107d9d372bb6826bd81d3542a419d6\"" */
  int64_t modified_ms;
  char content_type[128];
  json_t *metadata;       /* owned: {"name": "value"} (x-amz-meta-*), never NULL */
} ll_obj_info_t;
void ll_obj_info_free(ll_obj_info_t *info);

typedef struct ll_obj_writer ll_obj_writer_t;

/* Starts writing key in bucket (which must exist; the key 1..LL_OS_KEY_MAX bytes). -1 with err. */
int ll_obj_begin(ll_objstore_t *os, const char *bucket, const char *key, ll_obj_writer_t **out,
                 ll_err_t *err);
int ll_obj_write(ll_obj_writer_t *w, const void *data, size_t len, ll_err_t *err);
/* Makes the object durable and visible (content_type NULL = binary/octet-stream; metadata NULL
 * or an object of strings, borrowed), fills *info (may be NULL) and frees the writer, whatever
 * the outcome. */
int ll_obj_commit(ll_obj_writer_t *w, const char *content_type, json_t *metadata,
                  ll_obj_info_t *info, ll_err_t *err);
/* Drops an unfinished object (its file goes). */
void ll_obj_abort(ll_obj_writer_t *w);

/* The object's metadata. -1 with err LL_OS_NO_BUCKET / LL_OS_NO_KEY. */
int ll_obj_stat(ll_objstore_t *os, const char *bucket, const char *key, ll_obj_info_t *info,
                ll_err_t *err);
/* Opens the object's bytes for reading (O_RDONLY | O_CLOEXEC; the caller closes it): what it
 * reads stays that version even if the object is replaced meanwhile. info as ll_obj_stat. */
int ll_obj_open(ll_objstore_t *os, const char *bucket, const char *key, int *fd,
                ll_obj_info_t *info, ll_err_t *err);
/* Deleting a key that does not exist succeeds, as on S3 (bucket must exist). */
int ll_obj_delete(ll_objstore_t *os, const char *bucket, const char *key, ll_err_t *err);

/* A listing page (ListObjectsV2): keys after start_after (NULL: from the first) that begin with
 * prefix (NULL: any); with a delimiter, keys that have it after the prefix are rolled up into
 * common prefixes (each counted once against max). truncated when more follow; next is where to
 * go on (the last key or prefix returned). */
typedef struct ll_obj_entry {
  char *key;              /* owned */
  uint64_t size;
  char etag[40];
  int64_t modified_ms;
} ll_obj_entry_t;
typedef struct ll_obj_listing {
  ll_obj_entry_t *objects;
  size_t nobjects;
  char **prefixes;        /* common prefixes, owned */
  size_t nprefixes;
  bool truncated;
  char *next;             /* owned, or NULL */
} ll_obj_listing_t;
int ll_obj_list(ll_objstore_t *os, const char *bucket, const char *prefix, const char *delimiter,
                const char *start_after, size_t max, ll_obj_listing_t *out, ll_err_t *err);
void ll_obj_listing_free(ll_obj_listing_t *l);

#endif

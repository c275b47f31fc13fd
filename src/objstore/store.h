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
 * Multipart uploads (S3's CreateMultipartUpload ... CompleteMultipartUpload) keep their parts
 * as files of their own, objects/.parts/<upload id>.<part number>.<random>, each written like
 * an object (temporary file, fsync, rename, then its row in `parts` as the commit point); the
 * upload itself is a row in `uploads`. Completing copies the listed parts into a new version
 * file (copy_file_range) and commits it exactly as an ordinary write, removing the upload in
 * the same transaction: the object's bytes are never partly visible. Uploads in progress
 * survive a restart, as on S3; part files no row names are removed at open.
 *
 * Every object row carries a sequence number drawn from a per-store counter (table
 * `counters`), larger for every later commit, copy, completion or delete: S3 events'
 * "sequencer".
 *
 * Threads: every call takes the store's lock around its use of the database. The loop thread
 * only, except ll_obj_write, ll_obj_commit, ll_mpu_part_commit, ll_mpu_complete, ll_obj_copy
 * (and what they call: ll_obj_open), which may run on a worker: the caller keeps one writer on
 * one thread at a time. */
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
  LL_OS_NO_UPLOAD,        /* NoSuchUpload */
  LL_OS_INVALID_PART,     /* InvalidPart */
  LL_OS_PART_ORDER,       /* InvalidPartOrder */
  LL_OS_TOO_SMALL,        /* EntityTooSmall */
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
/* Fails with LL_OS_NOT_EMPTY while it holds objects. Its multipart uploads in progress (and their
 * parts) and its notification configuration go with it, as on S3. */
int ll_bucket_delete(ll_objstore_t *os, const char *name, ll_err_t *err);
/* 0 with *out filled, or -1 with err LL_OS_NO_BUCKET. */
int ll_bucket_get(ll_objstore_t *os, const char *name, ll_bucket_info_t *out, ll_err_t *err);
/* Every bucket by name; the array is the caller's to free. */
size_t ll_bucket_list(ll_objstore_t *os, ll_bucket_info_t **out);

/* ---- objects ------------------------------------------------------------------------------- */

typedef struct ll_obj_info {
  uint64_t size;
  char etag[48];          /* quoted hex MD5 as S3 writes it: "\"9e107d9d372bb6826bd81d3542a419d6\"";
                           * a completed multipart upload's: "\"<hex MD5 of the parts' MD5s>-<parts>\""
                           * (up to 40 characters) */
  int64_t modified_ms;
  char content_type[128];
  json_t *metadata;       /* owned: {"name": "value"} (x-amz-meta-*), never NULL */
  uint64_t seq;           /* the commit's sequence number: a later write of any key in the store
                           * has a larger one (S3 events' sequencer); 0 for objects written before
                           * the store had them, and for parts */
} ll_obj_info_t;
void ll_obj_info_free(ll_obj_info_t *info);

typedef struct ll_obj_writer ll_obj_writer_t;

/* Starts writing key in bucket (which must exist; the key 1..LL_OS_KEY_MAX bytes). -1 with err. */
int ll_obj_begin(ll_objstore_t *os, const char *bucket, const char *key, ll_obj_writer_t **out,
                 ll_err_t *err);
int ll_obj_write(ll_obj_writer_t *w, const void *data, size_t len, ll_err_t *err);
/* The MD5 of what has been written so far (the writer goes on), for checking a Content-MD5
 * without hashing the bytes twice. Same thread rules as ll_obj_write. */
void ll_obj_writer_md5(const ll_obj_writer_t *w, unsigned char out[16]);
/* Makes the object durable and visible (content_type NULL = binary/octet-stream; metadata NULL
 * or an object of strings, borrowed), fills *info (may be NULL) and frees the writer, whatever
 * the outcome. Not for a part's writer (ll_mpu_part_commit). */
int ll_obj_commit(ll_obj_writer_t *w, const char *content_type, json_t *metadata,
                  ll_obj_info_t *info, ll_err_t *err);
/* Drops an unfinished object or part (its file goes). */
void ll_obj_abort(ll_obj_writer_t *w);

/* The object's metadata. -1 with err LL_OS_NO_BUCKET / LL_OS_NO_KEY. */
int ll_obj_stat(ll_objstore_t *os, const char *bucket, const char *key, ll_obj_info_t *info,
                ll_err_t *err);
/* Opens the object's bytes for reading (O_RDONLY | O_CLOEXEC; the caller closes it): what it
 * reads stays that version even if the object is replaced meanwhile. info as ll_obj_stat. */
int ll_obj_open(ll_objstore_t *os, const char *bucket, const char *key, int *fd,
                ll_obj_info_t *info, ll_err_t *err);
/* Deleting a key that does not exist succeeds, as on S3 (bucket must exist). *existed (may be
 * NULL) says whether it did; *seq (may be NULL) gets the delete's sequence number (drawn
 * either way, larger than that of any earlier write). */
int ll_obj_delete(ll_objstore_t *os, const char *bucket, const char *key, bool *existed,
                  uint64_t *seq, ll_err_t *err);

/* Copies src_bucket/src_key to dst_bucket/dst_key (CopyObject): the bytes into a new version
 * file (copy_file_range: no bytes through user space, a reflink where the file system can),
 * committed as ll_obj_commit does. content_type and metadata NULL keep the source's (S3's
 * MetadataDirective COPY), else replace them (REPLACE; content_type "" = binary/octet-stream,
 * metadata borrowed). The copy's ETag is the source's (what S3 does for an ordinary object; for
 * a multipart source S3 computes a new one, this keeps the source's). Copying a key onto itself
 * is allowed (whether that needs REPLACE is the API's rule). Fills *info (may be NULL) with the
 * copy's metadata and seq. -1 with err: LL_OS_NO_BUCKET (either bucket), LL_OS_NO_KEY,
 * LL_OS_INVALID (the destination key). */
int ll_obj_copy(ll_objstore_t *os, const char *src_bucket, const char *src_key,
                const char *dst_bucket, const char *dst_key, const char *content_type,
                json_t *metadata, ll_obj_info_t *info, ll_err_t *err);

/* A listing page (ListObjectsV2): keys after start_after (NULL: from the first) that begin with
 * prefix (NULL: any); with a delimiter, keys that have it after the prefix are rolled up into
 * common prefixes (each counted once against max). truncated when more follow; next is where to
 * go on (the last key or prefix returned). */
typedef struct ll_obj_entry {
  char *key;              /* owned */
  uint64_t size;
  char etag[48];
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

/* ---- multipart uploads (https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html) */

#define LL_OS_PART_MIN (5u << 20) /* every part but the last at least 5 MiB (EntityTooSmall) */
#define LL_OS_PARTS_MAX 10000

typedef struct ll_mpu_info {
  char upload_id[64];
  char *bucket, *key;     /* owned */
  char content_type[128]; /* what the object will have */
  json_t *metadata;       /* owned, never NULL */
  int64_t created_ms;
} ll_mpu_info_t;
/* Frees what *m owns (not m itself). */
void ll_mpu_info_free(ll_mpu_info_t *m);

/* Starts an upload of key in bucket (which must exist; the key as ll_obj_begin): its id (32 hex
 * characters) into upload_id. content_type NULL or "" = binary/octet-stream; metadata borrowed,
 * NULL = {}: what the completed object gets. -1 with err LL_OS_NO_BUCKET / LL_OS_INVALID. */
int ll_mpu_create(ll_objstore_t *os, const char *bucket, const char *key, const char *content_type,
                  json_t *metadata, char upload_id[64], ll_err_t *err);
/* The upload's description into *out (the caller frees it with ll_mpu_info_free; out NULL: only
 * whether it is there). -1 with err
 * LL_OS_NO_BUCKET, or LL_OS_NO_UPLOAD when the id is unknown or names another bucket/key. */
int ll_mpu_get(ll_objstore_t *os, const char *bucket, const char *key, const char *upload_id,
               ll_mpu_info_t *out, ll_err_t *err);

/* Writes part `number` (1..LL_OS_PARTS_MAX, else LL_OS_INVALID) of an upload: the writer is an
 * ordinary ll_obj_writer_t (ll_obj_write as usual, ll_obj_abort to drop); finish it with
 * ll_mpu_part_commit instead of ll_obj_commit. A part uploaded again replaces the earlier one
 * (whose file goes once the new one is committed). -1 with err LL_OS_NO_BUCKET /
 * LL_OS_NO_UPLOAD / LL_OS_INVALID. */
int ll_mpu_part_begin(ll_objstore_t *os, const char *bucket, const char *key, const char *upload_id,
                      int number, ll_obj_writer_t **out, ll_err_t *err);
/* Makes the part durable (fsync, rename, then its row) and fills *info (may be NULL): size,
 * etag (quoted MD5), modified_ms (content_type "", metadata {}, seq 0). Frees w whatever the
 * outcome. -1 with err LL_OS_NO_UPLOAD if the upload was aborted or completed meanwhile (the
 * part's file goes), LL_OS_NO_BUCKET if its bucket went. */
int ll_mpu_part_commit(ll_obj_writer_t *w, ll_obj_info_t *info, ll_err_t *err);

typedef struct ll_mpu_part {
  int number;
  uint64_t size;
  char etag[40]; /* quoted MD5 */
  int64_t modified_ms;
} ll_mpu_part_t;
/* The upload's parts in number order after `after` (0 = from the first), at most max; *truncated
 * when more follow. The array (NULL when *n is 0) is the caller's to free. -1 with err
 * LL_OS_NO_BUCKET / LL_OS_NO_UPLOAD. */
int ll_mpu_list_parts(ll_objstore_t *os, const char *bucket, const char *key, const char *upload_id,
                      int after, size_t max, ll_mpu_part_t **parts, size_t *n, bool *truncated,
                      ll_err_t *err);
/* The uploads in progress of a bucket (ListMultipartUploads): key order (bytes), then creation;
 * those whose key begins with prefix (NULL: any); at most max, *truncated when more follow. The
 * caller frees each with ll_mpu_info_free and then the array (NULL when *n is 0). -1 with err
 * LL_OS_NO_BUCKET. */
int ll_mpu_list(ll_objstore_t *os, const char *bucket, const char *prefix, size_t max,
                ll_mpu_info_t **out, size_t *n, bool *truncated, ll_err_t *err);

/* Completes an upload. `want` lists (number, etag) as the client sent them; they must be in
 * ascending number order (else LL_OS_PART_ORDER); each must name an uploaded part with that
 * ETag (quotes optional in want; else LL_OS_INVALID_PART); every part but the last must be at
 * least LL_OS_PART_MIN bytes (else LL_OS_TOO_SMALL); nwant 0 is LL_OS_INVALID. The listed parts'
 * bytes, in order, become the object, committed as ll_obj_commit does (durable, then visible at
 * once), with the upload's content type and metadata and ETag "\"<hex MD5 of the concatenated
 * binary MD5s of the listed parts>-<nwant>\""; then the upload and all its parts (listed or
 * not) are gone. Fills *info (may be NULL). May run on a worker thread (it copies the bytes);
 * safe against a concurrent ll_mpu_part_commit, ll_mpu_abort or ll_mpu_complete of the same
 * upload (one of them wins; a part replaced meanwhile by one with another ETag is
 * LL_OS_INVALID_PART). -1 with err: those above, LL_OS_NO_BUCKET, LL_OS_NO_UPLOAD. */
typedef struct ll_mpu_want {
  int number;
  const char *etag;
} ll_mpu_want_t;
int ll_mpu_complete(ll_objstore_t *os, const char *bucket, const char *key, const char *upload_id,
                    const ll_mpu_want_t *want, size_t nwant, ll_obj_info_t *info, ll_err_t *err);
/* Abandons an upload: its row, its parts' rows and files go. -1 with err LL_OS_NO_BUCKET /
 * LL_OS_NO_UPLOAD. */
int ll_mpu_abort(ll_objstore_t *os, const char *bucket, const char *key, const char *upload_id,
                 ll_err_t *err);

/* ---- bucket notification configuration (the S3 API stores it parsed, as JSON text) --------- */

/* Replaces the bucket's notification configuration (JSON text, stored as is; "" or NULL
 * removes it). -1 with err LL_OS_NO_BUCKET. */
int ll_bucket_set_notification(ll_objstore_t *os, const char *bucket, const char *json_text,
                               ll_err_t *err);
/* The configuration as heap JSON text (the caller frees it), or NULL in *out when none. -1 with
 * err LL_OS_NO_BUCKET. */
int ll_bucket_get_notification(ll_objstore_t *os, const char *bucket, char **out, ll_err_t *err);

#endif

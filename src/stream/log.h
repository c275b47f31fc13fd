/* One shard's log: an append-only sequence of records in segment files under one directory,
 * each record length-prefixed and CRC32C-checked, numbered 1, 2, 3... (its sequence number),
 * with its arrival time; a sparse index finds a record by sequence number or arrival time;
 * retention drops whole old segments. It knows nothing of Kinesis (the stream layer above maps
 * these numbers to AWS's 56-digit strings) nor of HTTP.
 *
 * Durability is explicit: ll_log_append writes into the current segment (the page cache) and
 * ll_log_sync makes everything appended before it durable (fsync of the segments written, and
 * of the directory when a segment was created or removed). The caller acknowledges a record to
 * its producer only once a sync that started after the append has returned (group commit: one
 * sync covers every append since the last).
 *
 * Threads: all calls but ll_log_sync are made from one thread (the event loop). ll_log_sync may
 * run on another thread (the loop's thread pool) concurrently with appends and reads on the
 * loop thread; at most one ll_log_sync runs at a time per log. ll_log_close must not overlap a
 * sync.
 *
 * Recovery: ll_log_open scans the newest segment (and any segment whose index file is missing
 * or damaged), stops at the first record whose length or CRC is wrong, truncates the segment
 * there (a torn tail from kill -9 or power loss) and carries on appending after the last good
 * record. Every record a completed ll_log_sync covered is found again, in order. Segments that
 * no longer follow on from the records before them (an older segment lost its tail) are
 * removed: no record in them can have been acknowledged. What open recovers is fsynced, so
 * durable_seq starts at last_seq.
 *
 * On disk (all integers little-endian):
 *   <dir>/<20-digit first seq>.log   records, back to back:
 *       u32 body_len | u32 crc32c(body) | body = u64 seq | i64 arrival_ms | u16 key_len | key |
 *       data (body_len - 18 - key_len bytes)
 *   <dir>/<20-digit first seq>.idx   written for a sealed (rolled) segment once a sync has made
 *       it durable (so an .idx on disk vouches for its segment): sparse index entries (u64 seq,
 *       i64 arrival_ms, u64 offset) about every index_every bytes, the last one the segment's
 *       last record, then a u32 crc32c of the entries; rebuilt by scanning when missing,
 *       damaged, or not matching the segment.
 * All storage I/O goes through an ll_log_io_t so tests can inject failed writes, short writes,
 * failed fsyncs and the loss of unsynced data (SQLite's crash tests are the model). */
#ifndef LL_STREAM_LOG_H
#define LL_STREAM_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/checksum.h" /* ll_crc32c, the records' checksum */
#include "core/err.h"

/* Storage operations (the real system calls by default). Each returns what the system call
 * does (-1 with errno on failure). */
typedef struct ll_log_io {
  int (*open)(void *ud, const char *path, int flags, mode_t mode);
  ssize_t (*pwrite)(void *ud, int fd, const void *buf, size_t n, off_t off);
  ssize_t (*pread)(void *ud, int fd, void *buf, size_t n, off_t off);
  int (*fsync)(void *ud, int fd);
  int (*ftruncate)(void *ud, int fd, off_t len);
  int (*close)(void *ud, int fd);
  int (*unlink)(void *ud, const char *path);
  void *ud;
} ll_log_io_t;

typedef struct ll_log_opts {
  const ll_log_io_t *io;  /* NULL: the real system calls */
  uint64_t segment_bytes; /* a new segment starts once the current one passes this; 0 = 64 MiB */
  uint32_t index_every;   /* bytes between sparse index entries; 0 = 4096 */
} ll_log_opts_t;

/* A record as read back. key and data point into the reader's buffer: valid during the
 * callback only. */
typedef struct ll_log_record {
  uint64_t seq;
  int64_t arrival_ms;
  const void *key;
  size_t key_len;
  const void *data;
  size_t data_len;
} ll_log_record_t;

#define LL_LOG_KEY_MAX 65535u
#define LL_LOG_RECORD_MAX (16u << 20) /* body bytes; larger appends fail with EMSGSIZE */

typedef struct ll_log ll_log_t;

/* Opens (creating dir if needed) and recovers the log. first_seq is the number the first record
 * of a log that is empty gets (so a log re-created after deletion can continue a numbering;
 * normally 1). -1 with err. */
int ll_log_open(const char *dir, uint64_t first_seq, const ll_log_opts_t *opts, ll_log_t **out,
                ll_err_t *err);
/* Closes the files (no sync: call ll_log_sync first for durability) and frees the log. */
void ll_log_close(ll_log_t *log);

/* Appends one record with the next sequence number (returned in *seq). Not durable until a
 * ll_log_sync that starts after it returns. A failed write leaves the log as it was (the
 * partial record is cut off), so appending may go on. -1 with err (EMSGSIZE: too large). */
int ll_log_append(ll_log_t *log, int64_t arrival_ms, const void *key, size_t key_len,
                  const void *data, size_t data_len, uint64_t *seq, ll_err_t *err);
/* Appends n records at once (numbered *first_seq, *first_seq + 1, ...), written with one
 * system call; all or none of them are appended. Same rules as ll_log_append. */
typedef struct ll_log_entry {
  int64_t arrival_ms;
  const void *key;
  size_t key_len;
  const void *data;
  size_t data_len;
} ll_log_entry_t;
int ll_log_append_many(ll_log_t *log, const ll_log_entry_t *entries, size_t n,
                       uint64_t *first_seq, ll_err_t *err);
/* Makes every record appended before the call durable; *durable_seq is the highest sequence
 * number now durable. May run on another thread than the appends (see above). On failure
 * (-1 with err) nothing is known durable beyond what was before; later syncs retry. */
int ll_log_sync(ll_log_t *log, uint64_t *durable_seq, ll_err_t *err);

/* Sequence numbers: the first retained (0 when the log is empty), the last appended (0 when
 * none), and the last one a completed sync covered. Loop thread only, but durable_seq may also
 * be read while a sync runs (it changes only when the sync completes). */
uint64_t ll_log_first_seq(const ll_log_t *log);
uint64_t ll_log_last_seq(const ll_log_t *log);
uint64_t ll_log_durable_seq(const ll_log_t *log);
/* The first retained sequence number whose arrival_ms >= ms (arrival times are kept
 * non-decreasing by the caller); last_seq + 1 when there is none. */
uint64_t ll_log_seq_at_time(ll_log_t *log, int64_t ms);

/* Reads records from the first retained one with seq >= from_seq, in order, up to seq <= upto
 * (e.g. the durable seq), at most max_records and — after the first record, which is always
 * read — max_bytes of key+data, calling cb for each (cb returns nonzero to stop early, after
 * that record). *next_seq is the sequence number to read from next time. -1 with err when a
 * segment cannot be read or a record is damaged (EIO / EBADMSG). */
typedef int (*ll_log_read_cb)(void *ud, const ll_log_record_t *rec);
int ll_log_read(ll_log_t *log, uint64_t from_seq, uint64_t upto, size_t max_records,
                size_t max_bytes, ll_log_read_cb cb, void *ud, uint64_t *next_seq, ll_err_t *err);

/* Retention: removes the sealed segments whose newest record arrived before ms (never the
 * current one). Returns how many segments went, or -1 with err. */
int ll_log_trim_before(ll_log_t *log, int64_t ms, ll_err_t *err);

/* Removes the log's directory and everything in it (the log must be closed). */
int ll_log_destroy(const char *dir, ll_err_t *err);

#endif

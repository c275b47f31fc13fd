/* Function logs: one stream per instance, stored as text files under
 * data_dir/logs/<function>/<yyyy-mm-dd>_<32 hex>.log, one event per line as
 * "<epoch ms>\t<message>\n" (messages never contain a newline). The stream's CloudWatch-style
 * name is "yyyy/mm/dd/[$LATEST]<32 hex>". */
#ifndef LL_ENGINE_LOGS_H
#define LL_ENGINE_LOGS_H

#include <stddef.h>
#include <stdint.h>

typedef struct ll_log_stream ll_log_stream_t;

/* Opens a new stream for function fn under logs_dir. Returns NULL (errno set) on failure. */
ll_log_stream_t *ll_log_stream_open(const char *data_dir, const char *fn);
const char *ll_log_stream_name(const ll_log_stream_t *s);
/* Appends one event (buffered; see flush); the message is cut at 256 KiB (CloudWatch's event
 * limit) and any newline in it becomes a space. */
void ll_log_stream_write(ll_log_stream_t *s, int64_t ts_ms, const char *msg, size_t len);
/* Writes the buffered events to the file (the engine does it once per loop turn). */
void ll_log_stream_flush(ll_log_stream_t *s);
void ll_log_stream_close(ll_log_stream_t *s);

typedef struct ll_log_event {
  int64_t ts_ms;
  const char *stream; /* stream name */
  const char *msg;
  size_t len;
} ll_log_event_t;

/* Calls cb for each event of function fn with start_ms <= ts < end_ms (end_ms <= 0: no end),
 * ordered by time, skipping the first `skip` matching events; stops after `limit` events
 * (returns how many were delivered). cb returning non-zero stops early. */
size_t ll_logs_read(const char *data_dir, const char *fn, int64_t start_ms, int64_t end_ms,
                    size_t skip, size_t limit,
                    int (*cb)(void *ud, const ll_log_event_t *ev), void *ud);
/* Removes every stream of function fn. */
void ll_logs_delete(const char *data_dir, const char *fn);

#endif

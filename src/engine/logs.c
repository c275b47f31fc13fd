#include "engine/logs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/mem.h"
#include "core/random.h"
#include "engine/engine_int.h"

#define EVENT_MAX (256 * 1024)
#define FLUSH_AT (64 * 1024)

struct ll_log_stream {
  int fd;
  char name[64]; /* yyyy/mm/dd/[$LATEST]<hex> */
  ll_buf_t pending;
};

ll_log_stream_t *ll_log_stream_open(const char *data_dir, const char *fn) {
  char hex[33];
  ll_random_hex(hex, 16);
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  char *dir = ll_sprintf("%s/logs/%s", data_dir, fn);
  if (ll__mkdirs(dir, 0755) < 0) {
    free(dir);
    return NULL;
  }
  char *path = ll_sprintf("%s/%04d-%02d-%02d_%s.log", dir, tm.tm_year + 1900, tm.tm_mon + 1,
                          tm.tm_mday, hex);
  free(dir);
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  free(path);
  if (fd < 0) return NULL;
  ll_log_stream_t *s = ll_calloc(1, sizeof *s);
  s->fd = fd;
  snprintf(s->name, sizeof s->name, "%04d/%02d/%02d/[$LATEST]%s", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, hex);
  return s;
}

const char *ll_log_stream_name(const ll_log_stream_t *s) { return s->name; }

void ll_log_stream_write(ll_log_stream_t *s, int64_t ts_ms, const char *msg, size_t len) {
  if (len > EVENT_MAX) len = EVENT_MAX;
  ll_buf_reserve(&s->pending, len + 24);
  ll_buf_put_u64(&s->pending, (uint64_t)ts_ms);
  ll_buf_append(&s->pending, "\t", 1);
  size_t at = s->pending.len;
  ll_buf_append(&s->pending, msg, len);
  for (char *p = s->pending.data + at; (p = memchr(p, '\n', (size_t)(s->pending.data + s->pending.len - p)));)
    *p = ' ';
  ll_buf_append(&s->pending, "\n", 1);
  if (s->pending.len >= FLUSH_AT) ll_log_stream_flush(s);
}

void ll_log_stream_flush(ll_log_stream_t *s) {
  size_t off = 0;
  while (off < s->pending.len) {
    ssize_t n = write(s->fd, s->pending.data + off, s->pending.len - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break; /* a full disk loses log lines, never the daemon */
    off += (size_t)n;
  }
  ll_buf_reset(&s->pending);
}

void ll_log_stream_close(ll_log_stream_t *s) {
  if (!s) return;
  ll_log_stream_flush(s);
  close(s->fd);
  ll_buf_free(&s->pending);
  free(s);
}

/* ---- reading ----------------------------------------------------------------------------- */

typedef struct ev_rec {
  int64_t ts;
  size_t seq; /* arrival order within the merged set, for a stable sort */
  char *stream;
  char *msg;
  size_t len;
} ev_rec_t;

static int ev_cmp(const void *a, const void *b) {
  const ev_rec_t *x = a, *y = b;
  if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

size_t ll_logs_read(const char *data_dir, const char *fn, int64_t start_ms, int64_t end_ms,
                    size_t skip, size_t limit, int (*cb)(void *ud, const ll_log_event_t *ev),
                    void *ud) {
  char *dir = ll_sprintf("%s/logs/%s", data_dir, fn);
  DIR *d = opendir(dir);
  if (!d) {
    free(dir);
    return 0;
  }
  ev_rec_t *evs = NULL;
  size_t n = 0, cap = 0;
  char **streams = NULL; /* one name per file, shared by its events */
  size_t nstreams = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    size_t nl = strlen(de->d_name);
    if (nl < 4 + 11 + 32 || strcmp(de->d_name + nl - 4, ".log") != 0) continue;
    /* "yyyy-mm-dd_<hex>.log" -> "yyyy/mm/dd/[$LATEST]<hex>" */
    char stream[80];
    snprintf(stream, sizeof stream, "%.4s/%.2s/%.2s/[$LATEST]%.*s", de->d_name, de->d_name + 5,
             de->d_name + 8, (int)(nl - 4 - 11), de->d_name + 11);
    char *path = ll_sprintf("%s/%s", dir, de->d_name);
    FILE *f = fopen(path, "re");
    free(path);
    if (!f) continue;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    char *stream_copy = NULL;
    while ((len = getline(&line, &lcap, f)) > 0) {
      char *tab = memchr(line, '\t', (size_t)len);
      if (!tab) continue;
      int64_t ts = strtoll(line, NULL, 10);
      if (ts < start_ms || (end_ms > 0 && ts >= end_ms)) continue;
      if (line[len - 1] == '\n') len--;
      if (n == cap) {
        cap = cap ? cap * 2 : 256;
        evs = ll_realloc(evs, cap * sizeof *evs);
      }
      if (!stream_copy) {
        stream_copy = ll_strdup(stream);
        streams = ll_realloc(streams, (nstreams + 1) * sizeof *streams);
        streams[nstreams++] = stream_copy;
      }
      evs[n].ts = ts;
      evs[n].seq = n;
      evs[n].stream = stream_copy;
      evs[n].msg = ll_strndup(tab + 1, (size_t)(line + len - tab - 1));
      evs[n].len = (size_t)(line + len - tab - 1);
      n++;
    }
    free(line);
    fclose(f);
  }
  closedir(d);
  free(dir);
  qsort(evs, n, sizeof *evs, ev_cmp);
  size_t delivered = 0;
  for (size_t i = skip; i < n && delivered < limit; i++) {
    ll_log_event_t ev = {evs[i].ts, evs[i].stream, evs[i].msg, evs[i].len};
    delivered++;
    if (cb(ud, &ev)) break;
  }
  for (size_t i = 0; i < n; i++) free(evs[i].msg);
  for (size_t i = 0; i < nstreams; i++) free(streams[i]);
  free(streams);
  free(evs);
  return delivered;
}

void ll_logs_delete(const char *data_dir, const char *fn) {
  char *dir = ll_sprintf("%s/logs/%s", data_dir, fn);
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *de;
    while ((de = readdir(d))) {
      if (de->d_name[0] == '.') continue;
      char *p = ll_sprintf("%s/%s", dir, de->d_name);
      unlink(p);
      free(p);
    }
    closedir(d);
    rmdir(dir);
  }
  free(dir);
}

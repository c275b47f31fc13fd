/* libFuzzer target: the stream log's recovery (src/stream/log.c) reading segment and index files
 * it did not write — a torn or damaged disk. Input: one byte (n) then n bytes written as the
 * segment's .idx (when n > 0), then the rest as its .log. The log must open (or refuse with an
 * error), read back in order, take a new record after what it kept and read that back. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stream/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static void write_file(const char *name, const uint8_t *p, size_t n) {
  char path[128];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || (n && write(fd, p, n) != (ssize_t)n)) abort();
  close(fd);
}

static void empty_dir(void) {
  DIR *d = opendir(dir);
  if (!d) abort();
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    unlink(path);
  }
  closedir(d);
}

typedef struct order {
  uint64_t last;
  size_t n;
} order_t;

static int in_order(void *ud, const ll_log_record_t *r) {
  order_t *o = ud;
  if (r->seq <= o->last && o->n) abort();
  o->last = r->seq;
  o->n++;
  return 0;
}

static void remove_dir(void) {
  empty_dir();
  rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!dir[0]) {
    snprintf(dir, sizeof dir, "/tmp/ll-fuzz-log.XXXXXX");
    if (!mkdtemp(dir)) abort();
    atexit(remove_dir);
  }
  if (size < 1) return 0;
  size_t nidx = data[0] < size - 1 ? data[0] : size - 1;
  empty_dir();
  if (nidx) write_file("00000000000000000001.idx", data + 1, nidx);
  write_file("00000000000000000001.log", data + 1 + nidx, size - 1 - nidx);
  ll_log_t *log;
  ll_err_t err = LL_ERR_INIT;
  ll_log_opts_t opts = {.segment_bytes = 4096, .index_every = 64};
  if (ll_log_open(dir, 1, &opts, &log, &err) < 0) return 0;
  order_t o = {0, 0};
  uint64_t next;
  if (ll_log_read(log, 1, ll_log_last_seq(log), 100000, 1u << 30, in_order, &o, &next, &err) == 0 &&
      o.n != (ll_log_last_seq(log) ? ll_log_last_seq(log) - ll_log_first_seq(log) + 1 : 0))
    abort(); /* a gap in what recovery kept */
  uint64_t seq, durable;
  if (ll_log_append(log, 42, "k", 1, "v", 1, &seq, &err) == 0) {
    if (seq != ll_log_last_seq(log)) abort();
    if (ll_log_sync(log, &durable, &err) == 0 && durable != seq) abort();
    order_t o2 = {0, 0};
    if (ll_log_read(log, seq, seq, 1, 0, in_order, &o2, &next, &err) == 0 && (o2.n != 1 || o2.last != seq))
      abort();
  }
  ll_log_close(log);
  return 0;
}

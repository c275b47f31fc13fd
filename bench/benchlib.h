/* Shared by the benchmarks: a blocking keep-alive HTTP client, SigV4-signed Invoke and JSON 1.1
 * requests, and a load generator (N connections for S seconds) that reports p50/p99 latency and
 * rate. */
#ifndef LL_BENCH_BENCHLIB_H
#define LL_BENCH_BENCHLIB_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth/sigv4.h"
#include "core/clock.h"
#include "core/encoding.h"
#include "core/mem.h"

#define BENCH_UNUSED __attribute__((unused))

/* The port of an endpoint "http://127.0.0.1:PORT", its host:port in host (128 bytes). */
BENCH_UNUSED static int bench_endpoint(const char *endpoint, char *host) {
  const char *hp = strstr(endpoint, "://") ? strstr(endpoint, "://") + 3 : endpoint;
  snprintf(host, 128, "%.*s", (int)strcspn(hp, "/"), hp);
  const char *colon = strrchr(host, ':');
  return colon ? atoi(colon + 1) : 80;
}

BENCH_UNUSED static int bench_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
    perror("connect");
    exit(1);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

/* Reads one HTTP response (Content-Length framed) from fd into buf; returns its status. */
BENCH_UNUSED static int bench_read_response(int fd, char *buf, size_t cap, size_t *have) {
  size_t n = *have;
  for (;;) {
    char *end = memmem(buf, n, "\r\n\r\n", 4);
    if (end) {
      size_t head = (size_t)(end - buf) + 4;
      char *cl = memmem(buf, head, "Content-Length:", 15);
      if (!cl) cl = memmem(buf, head, "content-length:", 15);
      size_t body = cl ? strtoul(cl + 15, NULL, 10) : 0;
      while (n < head + body) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r <= 0) return -1;
        n += (size_t)r;
      }
      int status = atoi(buf + 9);
      memmove(buf, buf + head + body, n - head - body);
      *have = n - head - body;
      return status;
    }
    ssize_t r = read(fd, buf + n, cap - n);
    if (r <= 0) return -1;
    n += (size_t)r;
  }
}


/* ---- the load ---------------------------------------------------------------------------- */

typedef struct run {
  int port;
  const char *request;
  size_t request_len;
  double seconds;
  int want; /* the status that counts as success (200, or 202 for Event) */
  uint64_t *lat; /* ns */
  size_t nlat, cap;
  int errors;
} run_t;

BENCH_UNUSED static void *client(void *arg) {
  run_t *r = arg;
  int fd = bench_connect(r->port);
  char buf[1 << 16];
  size_t have = 0;
  uint64_t end = ll_mono_ns() + (uint64_t)(r->seconds * 1e9);
  for (;;) {
    uint64_t t0 = ll_mono_ns();
    if (t0 >= end) break;
    if (write(fd, r->request, r->request_len) < 0) break;
    int st = bench_read_response(fd, buf, sizeof buf, &have);
    uint64_t t1 = ll_mono_ns();
    if (st != r->want) {
      r->errors++;
      if (st < 0) break;
      continue;
    }
    if (r->nlat == r->cap) {
      r->cap = r->cap ? r->cap * 2 : 4096;
      r->lat = ll_realloc(r->lat, r->cap * sizeof *r->lat);
    }
    r->lat[r->nlat++] = t1 - t0;
  }
  close(fd);
  return NULL;
}

BENCH_UNUSED static int bench_cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

typedef struct result {
  double p50_us, p99_us, rps;
  int errors;
} result_t;

BENCH_UNUSED static result_t bench_measure(int port, const char *req, size_t len, int conns, double seconds,
                              int want) {
  run_t *runs = ll_calloc((size_t)conns, sizeof *runs);
  pthread_t *ts = ll_calloc((size_t)conns, sizeof *ts);
  for (int i = 0; i < conns; i++) {
    runs[i] = (run_t){.port = port, .request = req, .request_len = len, .seconds = seconds,
                      .want = want};
    pthread_create(&ts[i], NULL, client, &runs[i]);
  }
  size_t total = 0;
  result_t res = {0};
  for (int i = 0; i < conns; i++) {
    pthread_join(ts[i], NULL);
    total += runs[i].nlat;
    res.errors += runs[i].errors;
  }
  uint64_t *all = ll_malloc((total + 1) * sizeof *all);
  size_t k = 0;
  for (int i = 0; i < conns; i++) {
    memcpy(all + k, runs[i].lat, runs[i].nlat * sizeof *all);
    k += runs[i].nlat;
    free(runs[i].lat);
  }
  qsort(all, total, sizeof *all, bench_cmp_u64);
  if (total) {
    res.p50_us = (double)all[total / 2] / 1e3;
    res.p99_us = (double)all[(size_t)((double)total * 0.99)] / 1e3;
  }
  res.rps = (double)total / seconds;
  free(all);
  free(runs);
  free(ts);
  return res;
}


/* A signed Invoke request for fn with payload (sync, or Event when async); heap, *len set. */
BENCH_UNUSED static char *bench_signed_invoke(const char *host, const char *fn, const char *payload, bool async,
                                 size_t *len) {
  char path[256], date[17], hash[65], auth[512];
  snprintf(path, sizeof path, "/2015-03-31/functions/%s/invocations", fn);
  ll_sigv4_amz_date(time(NULL), date);
  ll_sha256_hex(payload, strlen(payload), hash);
  ll_kv_t kv[2] = {{"host", 4, host, strlen(host)}, {"x-amz-date", 10, date, 16}};
  ll_sigv4_request_t sr = {"POST", path, strlen(path), "", 0, kv, 2, hash};
  ll_sigv4_sign(&sr, "test", "test", "us-east-1", "lambda", date, auth, sizeof auth);
  char *req = ll_sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nX-Amz-Date: %s\r\nAuthorization: %s\r\n"
                         "%sContent-Length: %zu\r\n\r\n%s",
                         path, host, date, auth, async ? "X-Amz-Invocation-Type: Event\r\n" : "",
                         strlen(payload), payload);
  *len = strlen(req);
  return req;
}

/* A signed JSON 1.1 request (POST /, X-Amz-Target: target) for service; heap, *len set. */
BENCH_UNUSED static char *bench_signed_json(const char *host, const char *service, const char *target,
                                            const char *body, size_t *len) {
  char date[17], hash[65], auth[512];
  ll_sigv4_amz_date(time(NULL), date);
  ll_sha256_hex(body, strlen(body), hash);
  ll_kv_t kv[3] = {{"host", 4, host, strlen(host)},
                   {"x-amz-date", 10, date, 16},
                   {"x-amz-target", 12, target, strlen(target)}};
  ll_sigv4_request_t sr = {"POST", "/", 1, "", 0, kv, 3, hash};
  ll_sigv4_sign(&sr, "test", "test", "us-east-1", service, date, auth, sizeof auth);
  char *req = ll_sprintf("POST / HTTP/1.1\r\nHost: %s\r\nX-Amz-Date: %s\r\nX-Amz-Target: %s\r\n"
                         "Authorization: %s\r\nContent-Type: application/x-amz-json-1.1\r\n"
                         "Content-Length: %zu\r\n\r\n%s",
                         host, date, target, auth, strlen(body), body);
  *len = strlen(req);
  return req;
}

#endif

/* bench/invoke: warm synchronous invokes through the Invoke API (keep-alive clients, 100 B
 * payload), beside a baseline measured in the same run: the same clients against a minimal
 * loopback HTTP echo server in this process. Prints p50/p99 latency and requests/s at 1 and 16
 * connections, and the ratios.
 *
 *   invoke --endpoint http://127.0.0.1:PORT --function NAME [--seconds S]
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
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

#define PAYLOAD "{\"ticker\":\"AAPL\",\"spot\":200.0,\"strike\":220.0,\"rate\":0.025,\"time\":0.25,\"vol\":0.2673,\"cp\":\"c\",\"x\":1}"

static int connect_to(int port) {
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
static int read_response(int fd, char *buf, size_t cap, size_t *have) {
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

/* ---- the baseline: a minimal HTTP echo server, one thread per connection ----------------- */

static void *echo_conn(void *arg) {
  int fd = (int)(intptr_t)arg;
  char buf[65536];
  size_t n = 0;
  for (;;) {
    char *end;
    while (!(end = memmem(buf, n, "\r\n\r\n", 4))) {
      ssize_t r = read(fd, buf + n, sizeof buf - n);
      if (r <= 0) goto out;
      n += (size_t)r;
    }
    size_t head = (size_t)(end - buf) + 4;
    char *cl = memmem(buf, head, "Content-Length:", 15);
    size_t body = cl ? strtoul(cl + 15, NULL, 10) : 0;
    while (n < head + body) {
      ssize_t r = read(fd, buf + n, sizeof buf - n);
      if (r <= 0) goto out;
      n += (size_t)r;
    }
    char out[65536 + 128];
    int hl = snprintf(out, 128, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n", body);
    memcpy(out + hl, buf + head, body);
    if (write(fd, out, (size_t)hl + body) < 0) goto out;
    memmove(buf, buf + head + body, n - head - body);
    n -= head + body;
  }
out:
  close(fd);
  return NULL;
}

static void *echo_server(void *arg) {
  int lfd = (int)(intptr_t)arg;
  for (;;) {
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0) return NULL;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    pthread_t t;
    pthread_create(&t, NULL, echo_conn, (void *)(intptr_t)fd);
    pthread_detach(t);
  }
}

static int start_echo_server(void) {
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(lfd, (struct sockaddr *)&a, sizeof a);
  listen(lfd, 64);
  socklen_t len = sizeof a;
  getsockname(lfd, (struct sockaddr *)&a, &len);
  pthread_t t;
  pthread_create(&t, NULL, echo_server, (void *)(intptr_t)lfd);
  pthread_detach(t);
  return ntohs(a.sin_port);
}

/* ---- the load ---------------------------------------------------------------------------- */

typedef struct run {
  int port;
  const char *request;
  size_t request_len;
  double seconds;
  uint64_t *lat; /* ns */
  size_t nlat, cap;
  int errors;
} run_t;

static void *client(void *arg) {
  run_t *r = arg;
  int fd = connect_to(r->port);
  char buf[1 << 16];
  size_t have = 0;
  uint64_t end = ll_mono_ns() + (uint64_t)(r->seconds * 1e9);
  for (;;) {
    uint64_t t0 = ll_mono_ns();
    if (t0 >= end) break;
    if (write(fd, r->request, r->request_len) < 0) break;
    int st = read_response(fd, buf, sizeof buf, &have);
    uint64_t t1 = ll_mono_ns();
    if (st != 200) {
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

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

typedef struct result {
  double p50_us, p99_us, rps;
  int errors;
} result_t;

static result_t measure(int port, const char *req, size_t len, int conns, double seconds) {
  run_t *runs = ll_calloc((size_t)conns, sizeof *runs);
  pthread_t *ts = ll_calloc((size_t)conns, sizeof *ts);
  for (int i = 0; i < conns; i++) {
    runs[i] = (run_t){.port = port, .request = req, .request_len = len, .seconds = seconds};
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
  qsort(all, total, sizeof *all, cmp_u64);
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

static char *signed_invoke(const char *host, const char *fn, size_t *len) {
  char path[256], date[17], hash[65], auth[512];
  snprintf(path, sizeof path, "/2015-03-31/functions/%s/invocations", fn);
  ll_sigv4_amz_date(time(NULL), date);
  ll_sha256_hex(PAYLOAD, strlen(PAYLOAD), hash);
  ll_kv_t kv[2] = {{"host", 4, host, strlen(host)}, {"x-amz-date", 10, date, 16}};
  ll_sigv4_request_t sr = {"POST", path, strlen(path), "", 0, kv, 2, hash};
  ll_sigv4_sign(&sr, "test", "test", "us-east-1", "lambda", date, auth, sizeof auth);
  char *req = ll_sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nX-Amz-Date: %s\r\nAuthorization: %s\r\n"
                         "Content-Length: %zu\r\n\r\n%s",
                         path, host, date, auth, strlen(PAYLOAD), PAYLOAD);
  *len = strlen(req);
  return req;
}

int main(int argc, char **argv) {
  const char *endpoint = NULL, *fn = "echo";
  double seconds = 3;
  static const struct option opts[] = {{"endpoint", required_argument, 0, 'e'},
                                       {"function", required_argument, 0, 'f'},
                                       {"seconds", required_argument, 0, 's'},
                                       {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (c == 'e') endpoint = optarg;
    else if (c == 'f') fn = optarg;
    else if (c == 's') seconds = atof(optarg);
    else return 2;
  }
  if (!endpoint) {
    fprintf(stderr, "usage: invoke --endpoint http://127.0.0.1:PORT [--function NAME] [--seconds S]\n");
    return 2;
  }
  const char *hp = strstr(endpoint, "://") ? strstr(endpoint, "://") + 3 : endpoint;
  char host[128];
  snprintf(host, sizeof host, "%.*s", (int)strcspn(hp, "/"), hp);
  int port = atoi(strrchr(host, ':') + 1);
  size_t ilen;
  char *ireq = signed_invoke(host, fn, &ilen);
  int eport = start_echo_server();
  char *ereq = ll_sprintf("POST /echo HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: %zu\r\n\r\n%s",
                          eport, strlen(PAYLOAD), PAYLOAD);
  size_t elen = strlen(ereq);
  /* warm up: the first invokes start instances */
  measure(port, ireq, ilen, 16, 0.5);
  printf("bench/invoke: warm sync invoke, %zu B payload, keep-alive, %.0f s per figure\n",
         strlen(PAYLOAD), seconds);
  printf("%-34s %10s %10s %12s\n", "", "p50 us", "p99 us", "req/s");
  int conns[] = {1, 16};
  for (int i = 0; i < 2; i++) {
    result_t b = measure(eport, ereq, elen, conns[i], seconds);
    result_t r = measure(port, ireq, ilen, conns[i], seconds);
    char label[64];
    snprintf(label, sizeof label, "baseline http echo, %d conn", conns[i]);
    printf("%-34s %10.1f %10.1f %12.0f\n", label, b.p50_us, b.p99_us, b.rps);
    snprintf(label, sizeof label, "lambdalite invoke, %d conn", conns[i]);
    printf("%-34s %10.1f %10.1f %12.0f%s\n", label, r.p50_us, r.p99_us, r.rps,
           r.errors ? " (errors!)" : "");
    printf("%-34s %9.2fx %9.2fx %11.2fx\n", "ratio (invoke / baseline)", r.p50_us / b.p50_us,
           r.p99_us / b.p99_us, r.rps / b.rps);
  }
  free(ireq);
  free(ereq);
  return 0;
}

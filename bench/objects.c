/* bench/objects: the S3 API. Each figure is printed beside a baseline measured in the same run
 * on the same disk (DIR must be on the daemon's file system):
 *  - PUT of 1 KB objects (ops/s, p50), 1 and 4 connections, vs one process creating a 1 KB
 *    file, fsyncing it and renaming it into place (the least a durable PUT does);
 *  - GET of a 1 KB object (ops/s, p50) vs open + read + close of a 1 KB file, and its p50 vs
 *    the daemon's raw loopback round trip (an unknown target, answered 404 at once);
 *  - PUT of a 100 MB object (MB/s; x-amz-content-sha256 UNSIGNED-PAYLOAD and a signed SHA-256
 *    digest, which the AWS CLI sends) vs writing and fsyncing the same bytes to a file (`cp`);
 *  - GET of it (MB/s) vs reading the file (`cat` > /dev/null), both from the page cache;
 *  - with --notify-bucket: upload -> function start, p50 and p99 over --count uploads of 1 KB to
 *    a bucket whose notifications invoke the echo function started with
 *    ECHO_STAMP_UDP=127.0.0.1:PORT (it reports when each invocation began).
 *
 *   objects --endpoint URL --dir DIR [--seconds S] [--big-mb N (100)]
 *           [--notify-bucket NAME --udp-port PORT [--count N (200)]] */
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <sys/stat.h>

#include "benchlib.h"

#define BUCKET "bench-objects"

static char host[128];
static int port;

/* A signed S3 request head (and body when small); heap. payload_hash: hex or a literal. */
static char *s3_request(const char *method, const char *path, const char *payload_hash,
                        uint64_t content_length, const char *body, size_t *len) {
  char date[17], auth[600];
  ll_sigv4_amz_date(time(NULL), date);
  ll_kv_t kv[3] = {{"host", 4, host, strlen(host)},
                   {"x-amz-content-sha256", 20, payload_hash, strlen(payload_hash)},
                   {"x-amz-date", 10, date, 16}};
  ll_sigv4_request_t sr = {method, path, strlen(path), "", 0, kv, 3, payload_hash};
  ll_sigv4_sign(&sr, "test", "test", "us-east-1", "s3", date, auth, sizeof auth);
  char *head = ll_sprintf("%s %s HTTP/1.1\r\nHost: %s\r\nX-Amz-Date: %s\r\nX-Amz-Content-SHA256: %s\r\n"
                          "Authorization: %s\r\nContent-Length: %llu\r\n\r\n",
                          method, path, host, date, payload_hash, auth,
                          (unsigned long long)content_length);
  size_t hl = strlen(head);
  size_t bl = body ? (size_t)content_length : 0;
  char *req = ll_realloc(head, hl + bl + 1);
  if (bl) memcpy(req + hl, body, bl);
  req[hl + bl] = '\0';
  *len = hl + bl;
  return req;
}

static int simple(const char *method, const char *path, const char *body, size_t blen) {
  char hash[65];
  ll_sha256_hex(body ? body : "", blen, hash);
  size_t len;
  char *req = s3_request(method, path, hash, blen, body, &len);
  int fd = bench_connect(port);
  char buf[1 << 16];
  size_t have = 0;
  int st = write(fd, req, len) == (ssize_t)len ? bench_read_response(fd, buf, sizeof buf, &have) : -1;
  close(fd);
  free(req);
  return st;
}

static void write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w <= 0) {
      perror("write");
      exit(1);
    }
    p += w;
    n -= (size_t)w;
  }
}

/* ---- baselines ------------------------------------------------------------------------------- */

/* 1 KB files created, fsynced and renamed into place for `seconds`: per second, and p50 (us). */
static double small_put_baseline(const char *dir, double seconds, double *p50_us) {
  char data[1024], tmp[4096], dst[4096];
  memset(data, 'x', sizeof data);
  snprintf(tmp, sizeof tmp, "%s/bench-objects.tmp", dir);
  snprintf(dst, sizeof dst, "%s/bench-objects.small", dir);
  size_t n = 0, cap = 1 << 16;
  uint64_t *lat = ll_malloc(cap * sizeof *lat);
  uint64_t end = ll_mono_ns() + (uint64_t)(seconds * 1e9);
  while (ll_mono_ns() < end) {
    uint64_t t0 = ll_mono_ns();
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    write_all(fd, data, sizeof data);
    fsync(fd);
    close(fd);
    rename(tmp, dst);
    if (n == cap) lat = ll_realloc(lat, (cap *= 2) * sizeof *lat);
    lat[n++] = ll_mono_ns() - t0;
  }
  qsort(lat, n, sizeof *lat, bench_cmp_u64);
  *p50_us = n ? (double)lat[n / 2] / 1e3 : 0;
  free(lat);
  unlink(dst);
  return (double)n / seconds;
}

static double small_get_baseline(const char *dir, double seconds, double *p50_us) {
  char data[1024], path[4096];
  memset(data, 'x', sizeof data);
  snprintf(path, sizeof path, "%s/bench-objects.small", dir);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  write_all(fd, data, sizeof data);
  close(fd);
  size_t n = 0, cap = 1 << 16;
  uint64_t *lat = ll_malloc(cap * sizeof *lat);
  uint64_t end = ll_mono_ns() + (uint64_t)(seconds * 1e9);
  while (ll_mono_ns() < end) {
    uint64_t t0 = ll_mono_ns();
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (read(fd, data, sizeof data) != (ssize_t)sizeof data) exit(1);
    close(fd);
    if (n == cap) lat = ll_realloc(lat, (cap *= 2) * sizeof *lat);
    lat[n++] = ll_mono_ns() - t0;
  }
  qsort(lat, n, sizeof *lat, bench_cmp_u64);
  *p50_us = n ? (double)lat[n / 2] / 1e3 : 0;
  free(lat);
  unlink(path);
  return (double)n / seconds;
}

/* Writes (and fsyncs) or reads the big file; MB/s. */
static double big_file(const char *path, const char *data, size_t size, bool write_it) {
  uint64_t t0 = ll_mono_ns();
  if (write_it) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    for (size_t off = 0; off < size; off += 1 << 20)
      write_all(fd, data + off, size - off < (1 << 20) ? size - off : 1 << 20);
    fsync(fd);
    close(fd);
  } else {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *buf = ll_malloc(256 << 10);
    while (read(fd, buf, 256 << 10) > 0) {
    }
    free(buf);
    close(fd);
  }
  return (double)size / 1e6 / ((double)(ll_mono_ns() - t0) / 1e9);
}

/* ---- the daemon -------------------------------------------------------------------------------- */

/* PUT of size bytes as one request; MB/s. */
static double big_put(const char *path, const char *data, size_t size, bool signed_hash) {
  char hash[65] = "UNSIGNED-PAYLOAD";
  if (signed_hash) ll_sha256_hex(data, size, hash);
  size_t len;
  char *head = s3_request("PUT", path, hash, size, NULL, &len);
  int fd = bench_connect(port);
  uint64_t t0 = ll_mono_ns();
  write_all(fd, head, len);
  for (size_t off = 0; off < size; off += 1 << 20)
    write_all(fd, data + off, size - off < (1 << 20) ? size - off : 1 << 20);
  char buf[1 << 16];
  size_t have = 0;
  int st = bench_read_response(fd, buf, sizeof buf, &have);
  double mbs = (double)size / 1e6 / ((double)(ll_mono_ns() - t0) / 1e9);
  close(fd);
  free(head);
  if (st != 200) {
    fprintf(stderr, "objects: big PUT answered %d\n", st);
    exit(1);
  }
  return mbs;
}

static double big_get(const char *path, size_t size) {
  char hash[65];
  ll_sha256_hex("", 0, hash);
  size_t len;
  char *req = s3_request("GET", path, hash, 0, NULL, &len);
  int fd = bench_connect(port);
  uint64_t t0 = ll_mono_ns();
  write_all(fd, req, len);
  char *buf = ll_malloc(1 << 20);
  size_t got = 0, head_end = 0, total = 0;
  while (!head_end || got < total) {
    ssize_t r = read(fd, buf + (head_end ? 0 : got), head_end ? (1 << 20) : (1 << 20) - got);
    if (r <= 0) break;
    if (head_end) {
      got += (size_t)r;
      continue;
    }
    size_t n = got + (size_t)r;
    char *e = memmem(buf, n, "\r\n\r\n", 4);
    got = n;
    if (e) {
      head_end = (size_t)(e - buf) + 4;
      total = head_end + size;
    }
  }
  double mbs = (double)size / 1e6 / ((double)(ll_mono_ns() - t0) / 1e9);
  close(fd);
  free(buf);
  free(req);
  if (got < total) {
    fprintf(stderr, "objects: big GET got %zu of %zu bytes\n", got, total);
    exit(1);
  }
  return mbs;
}

/* Sequential 1 KB uploads to a notifying bucket; the echo function's UDP stamp says when each
 * invocation began. Fills lat (ns) and returns how many came back. */
static size_t upload_to_start(const char *bucket, int udp_port, int count, uint64_t *lat) {
  int us = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)udp_port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(us, (struct sockaddr *)&a, sizeof a) < 0) {
    perror("bind udp");
    exit(1);
  }
  char body[1024];
  memset(body, 'y', sizeof body);
  char hash[65];
  ll_sha256_hex(body, sizeof body, hash);
  int fd = bench_connect(port);
  char buf[1 << 16];
  size_t have = 0, n = 0;
  for (int i = 0; i < count; i++) {
    char path[128];
    snprintf(path, sizeof path, "/%s/k%d", bucket, i);
    size_t len;
    char *req = s3_request("PUT", path, hash, sizeof body, body, &len);
    uint64_t t0 = ll_mono_ns();
    write_all(fd, req, len);
    free(req);
    if (bench_read_response(fd, buf, sizeof buf, &have) != 200) exit(1);
    struct pollfd p = {us, POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0) continue;
    char msg[1200];
    ssize_t m = recv(us, msg, sizeof msg - 1, 0);
    if (m <= 0) continue;
    msg[m] = '\0';
    uint64_t started = strtoull(msg, NULL, 10);
    if (started > t0) lat[n++] = started - t0;
  }
  close(fd);
  close(us);
  return n;
}

int main(int argc, char **argv) {
  const char *endpoint = NULL, *dir = NULL, *notify = NULL;
  double seconds = 3;
  int big_mb = 100, udp_port = 0, count = 200;
  static const struct option opts[] = {
      {"endpoint", 1, NULL, 'e'}, {"dir", 1, NULL, 'd'},         {"seconds", 1, NULL, 's'},
      {"big-mb", 1, NULL, 'b'},   {"notify-bucket", 1, NULL, 'n'}, {"udp-port", 1, NULL, 'u'},
      {"count", 1, NULL, 'c'},    {NULL, 0, NULL, 0},
  };
  for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
    switch (c) {
      case 'e': endpoint = optarg; break;
      case 'd': dir = optarg; break;
      case 's': seconds = atof(optarg); break;
      case 'b': big_mb = atoi(optarg); break;
      case 'n': notify = optarg; break;
      case 'u': udp_port = atoi(optarg); break;
      case 'c': count = atoi(optarg); break;
      default: return 2;
    }
  }
  if (!endpoint || !dir) {
    fprintf(stderr, "usage: objects --endpoint URL --dir DIR [--seconds S] [--big-mb N] "
                    "[--notify-bucket NAME --udp-port PORT [--count N]]\n");
    return 2;
  }
  port = bench_endpoint(endpoint, host);
  int st = simple("PUT", "/" BUCKET, NULL, 0);
  if (st != 200 && st != 409) {
    fprintf(stderr, "objects: creating the bucket answered %d\n", st);
    return 1;
  }

  char small[1024];
  memset(small, 'x', sizeof small);
  char hash[65];
  ll_sha256_hex(small, sizeof small, hash);
  size_t len;
  double base_p50;
  double base = small_put_baseline(dir, seconds, &base_p50);
  for (int conns = 1; conns <= 4; conns *= 4) {
    char *req = s3_request("PUT", "/" BUCKET "/small", hash, sizeof small, small, &len);
    result_t r = bench_measure(port, req, len, conns, seconds, 200);
    free(req);
    printf("bench/objects: PUT 1 KB, %d conn%s: %.0f ops/s (p50 %.0f us, %d errors) | baseline "
           "create+fsync+rename of a 1 KB file: %.0f ops/s (p50 %.0f us) | ratio %.2fx\n",
           conns, conns > 1 ? "s" : "", r.rps, r.p50_us, r.errors, base, base_p50, r.rps / base);
  }
  base = small_get_baseline(dir, seconds, &base_p50);
  char *rt_req = ll_sprintf("GET /bench-unknown HTTP/1.1\r\nHost: %s\r\n\r\n", host);
  result_t rt = bench_measure(port, rt_req, strlen(rt_req), 1, 1.0, 404);
  free(rt_req);
  {
    ll_sha256_hex("", 0, hash);
    char *req = s3_request("GET", "/" BUCKET "/small", hash, 0, NULL, &len);
    for (int conns = 1; conns <= 4; conns *= 4) {
      result_t r = bench_measure(port, req, len, conns, seconds, 200);
      printf("bench/objects: GET 1 KB, %d conn%s: %.0f ops/s (p50 %.0f us, %d errors) | baseline "
             "open+read+close of a 1 KB file: %.0f ops/s (p50 %.1f us) | ratio %.3fx | p50 vs "
             "loopback round trip (%.0f us): %.1fx\n",
             conns, conns > 1 ? "s" : "", r.rps, r.p50_us, r.errors, base, base_p50, r.rps / base,
             rt.p50_us, r.p50_us / rt.p50_us);
    }
    free(req);
  }

  size_t size = (size_t)big_mb << 20;
  char *data = ll_malloc(size);
  uint64_t x = 0x9e3779b97f4a7c15ull; /* incompressible enough, and quick to make */
  for (size_t i = 0; i + 8 <= size; i += 8) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    memcpy(data + i, &x, 8);
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/bench-objects.big", dir);
  double wbase = 0, rbase = 0, put_u = 0, put_s = 0, get = 0;
  for (int i = 0; i < 3; i++) { /* best of three: the page cache and writeback vary */
    double w = big_file(path, data, size, true), r = big_file(path, data, size, false);
    double pu = big_put("/" BUCKET "/big", data, size, false);
    double ps = big_put("/" BUCKET "/big", data, size, true);
    double g = big_get("/" BUCKET "/big", size);
    if (w > wbase) wbase = w;
    if (r > rbase) rbase = r;
    if (pu > put_u) put_u = pu;
    if (ps > put_s) put_s = ps;
    if (g > get) get = g;
  }
  unlink(path);
  printf("bench/objects: PUT %d MB, UNSIGNED-PAYLOAD: %.0f MB/s | baseline write+fsync of the "
         "same bytes (cp): %.0f MB/s | ratio %.2fx\n", big_mb, put_u, wbase, put_u / wbase);
  printf("bench/objects: PUT %d MB, signed SHA-256 payload (the AWS CLI's): %.0f MB/s | ratio "
         "to cp %.2fx\n", big_mb, put_s, put_s / wbase);
  printf("bench/objects: GET %d MB: %.0f MB/s | baseline read of the file (cat): %.0f MB/s | "
         "ratio %.2fx\n", big_mb, get, rbase, get / rbase);
  free(data);

  if (notify && udp_port) {
    uint64_t *lat = ll_calloc((size_t)count + 1, sizeof *lat);
    size_t n = upload_to_start(notify, udp_port, count, lat);
    qsort(lat, n, sizeof *lat, bench_cmp_u64);
    if (n)
      printf("bench/objects: upload -> function start (notification through the async queue): "
             "p50 %.0f us, p99 %.0f us over %zu uploads | baseline loopback round trip p50 %.0f "
             "us | ratio %.1fx\n",
             (double)lat[n / 2] / 1e3, (double)lat[(size_t)((double)n * 0.99)] / 1e3, n,
             rt.p50_us, (double)lat[n / 2] / 1e3 / rt.p50_us);
    else
      printf("bench/objects: upload -> function start: no function start was reported\n");
    free(lat);
  }
  return 0;
}

/* bench/scale: 1, 10, 100 and 1000 concurrent clients invoking one function that sleeps 10 ms
 * inside, each figure beside the ideal (concurrency / 10 ms) and the ratio; then the async
 * queue: how many Event invokes per second are durably accepted (202) from 16 connections, and
 * how fast the queue drains.
 *
 *   scale --endpoint http://127.0.0.1:PORT --function NAME [--seconds S] [--levels 1,10,100,1000]
 */
#include <getopt.h>

#include "benchlib.h"

#define SLEEP_EVENT "{\"action\":\"sleep\",\"ms\":10}"

/* Events still queued or running, from GET /lambdalite/v1/info ("asyncQueued"); -1 on error. */
static long queued(int port, const char *host) {
  char date[17], auth[512], hash[65];
  const char *path = "/lambdalite/v1/info";
  ll_sigv4_amz_date(time(NULL), date);
  ll_sha256_hex("", 0, hash);
  ll_kv_t kv[2] = {{"host", 4, host, strlen(host)}, {"x-amz-date", 10, date, 16}};
  ll_sigv4_request_t sr = {"GET", path, strlen(path), "", 0, kv, 2, hash};
  ll_sigv4_sign(&sr, "test", "test", "us-east-1", "lambda", date, auth, sizeof auth);
  char *req = ll_sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nX-Amz-Date: %s\r\nAuthorization: %s\r\n"
                         "Connection: close\r\n\r\n",
                         path, host, date, auth);
  int fd = bench_connect(port);
  ssize_t w = write(fd, req, strlen(req));
  free(req);
  char buf[16384];
  size_t n = 0;
  ssize_t r;
  while (w >= 0 && n < sizeof buf - 1 && (r = read(fd, buf + n, sizeof buf - 1 - n)) > 0) n += (size_t)r;
  close(fd);
  buf[n] = '\0';
  const char *q = strstr(buf, "\"asyncQueued\":");
  return q ? atol(q + 14) : -1;
}

int main(int argc, char **argv) {
  const char *endpoint = NULL, *fn = "echo", *levels = "1,10,100,1000";
  double seconds = 3;
  static const struct option opts[] = {{"endpoint", required_argument, 0, 'e'},
                                       {"function", required_argument, 0, 'f'},
                                       {"seconds", required_argument, 0, 's'},
                                       {"levels", required_argument, 0, 'l'},
                                       {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (c == 'e') endpoint = optarg;
    else if (c == 'f') fn = optarg;
    else if (c == 's') seconds = atof(optarg);
    else if (c == 'l') levels = optarg;
    else return 2;
  }
  if (!endpoint) {
    fprintf(stderr, "usage: scale --endpoint URL [--function NAME] [--seconds S] [--levels 1,10,...]\n");
    return 2;
  }
  char host[128];
  int port = bench_endpoint(endpoint, host);
  size_t len;
  char *req = bench_signed_invoke(host, fn, SLEEP_EVENT, false, &len);
  printf("bench/scale: sync invokes of a function sleeping 10 ms, %.0f s per level\n", seconds);
  printf("%-12s %12s %12s %10s %10s %8s\n", "clients", "req/s", "ideal req/s", "p50 ms", "p99 ms",
         "429s+errs");
  for (const char *p = levels; *p;) {
    int n = atoi(p);
    bench_measure(port, req, len, n, 0.5, 200); /* warm: instances up */
    result_t r = bench_measure(port, req, len, n, seconds, 200);
    double ideal = n / 0.010;
    printf("%-12d %12.0f %12.0f %10.2f %10.2f %8d   (%.2fx of ideal)\n", n, r.rps, ideal,
           r.p50_us / 1000, r.p99_us / 1000, r.errors, r.rps / ideal);
    p += strcspn(p, ",");
    if (*p == ',') p++;
  }
  free(req);
  char *areq = bench_signed_invoke(host, fn, SLEEP_EVENT, true, &len);
  result_t a = bench_measure(port, areq, len, 16, seconds, 202);
  printf("\nasync: %.0f events/s durably accepted (202) from 16 connections, p50 %.2f ms, p99 %.2f ms\n",
         a.rps, a.p50_us / 1000, a.p99_us / 1000);
  free(areq);
  long q0 = queued(port, host);
  uint64_t t0 = ll_mono_ns();
  long q = q0;
  while (q > 0 && ll_mono_ns() - t0 < 120000000000ull) {
    usleep(50 * 1000);
    q = queued(port, host);
  }
  double secs = (double)(ll_mono_ns() - t0) / 1e9;
  if (q0 > 0)
    printf("async: the %ld events left drained in %.2f s: %.0f events/s%s\n", q0, secs, q0 / secs,
           q > 0 ? " (not finished: gave up after 120 s)" : "");
  return 0;
}

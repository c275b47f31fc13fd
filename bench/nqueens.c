/* bench/nqueens: the Kinesis article's N-Queens search through the platform (examples/nqueens,
 * deployed by bench/run.sh), beside the same search as one single-threaded C loop in this
 * process, and the seeds' figures (8 x 8: 231 s on Lambda, 0.4 s on a laptop; 10 x 10: 19 min
 * 54 s on Lambda, 10 s on a laptop).
 *
 *   bench/nqueens --endpoint URL --n 8 [--grain K]
 *
 * The platform's time runs from the seed (a synchronous Invoke putting the empty set) until
 * every mapping reports Drained in /lambdalite/v1/info (every record done, no batch out). */
#include <getopt.h>
#include <jansson.h>
#include <stdint.h>

#include "benchlib.h"

#define WORDS 3
typedef struct set {
  uint64_t w[WORDS];
} set_t;

static int N;
static set_t att[13 * 13];

static void board(int n) {
  N = n;
  for (int a = 0; a < n * n; a++) {
    memset(&att[a], 0, sizeof att[a]);
    for (int b = 0; b < n * n; b++) {
      int r = a / n, c = a % n, r2 = b / n, c2 = b % n;
      if (r == r2 || c == c2 || r - c == r2 - c2 || r + c == r2 + c2) att[a].w[b / 64] |= 1ull << (b % 64);
    }
  }
}

/* The same search as the function, depth first: every set of non-attacking squares, each made
 * once by adding squares below its lowest. free = the candidates of the set. */
static void search(set_t free, int k, uint64_t *sets, uint64_t *solutions) {
  (*sets)++;
  if (k == N) {
    (*solutions)++;
    return;
  }
  for (int i = WORDS - 1; i >= 0; i--) {
    while (free.w[i]) {
      int bit = 63 - __builtin_clzll(free.w[i]);
      int b = i * 64 + bit;
      free.w[i] &= ~(1ull << bit);
      set_t child = free;
      for (int j = 0; j < WORDS; j++) child.w[j] &= ~att[b].w[j];
      /* below b only: its lower words stay, the rest of its own word and above go */
      for (int j = i + 1; j < WORDS; j++) child.w[j] = 0;
      child.w[i] &= bit ? (1ull << bit) - 1 : 0;
      search(child, k + 1, sets, solutions);
    }
  }
}

static double now_s(void) { return (double)ll_mono_ns() / 1e9; }

/* A signed GET of path (service lambda); the body into buf. */
static int signed_get(int port, const char *host, const char *path, char *buf, size_t cap) {
  char date[17], hash[65], auth[512];
  ll_sigv4_amz_date(time(NULL), date);
  ll_sha256_hex("", 0, hash);
  ll_kv_t kv[2] = {{"host", 4, host, strlen(host)}, {"x-amz-date", 10, date, 16}};
  ll_sigv4_request_t sr = {"GET", path, strlen(path), "", 0, kv, 2, hash};
  ll_sigv4_sign(&sr, "test", "test", "us-east-1", "lambda", date, auth, sizeof auth);
  char *req = ll_sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nX-Amz-Date: %s\r\nAuthorization: %s\r\n"
                         "Connection: close\r\n\r\n", path, host, date, auth);
  int fd = bench_connect(port);
  size_t have = 0;
  int rc = write(fd, req, strlen(req)) < 0 ? -1 : 0;
  while (rc == 0 && have + 1 < cap) { /* Connection: close: the answer ends with the stream */
    ssize_t r = read(fd, buf + have, cap - 1 - have);
    if (r <= 0) break;
    have += (size_t)r;
  }
  buf[have] = 0;
  close(fd);
  free(req);
  return rc;
}

static bool drained(int port, const char *host) {
  static char buf[1 << 20];
  if (signed_get(port, host, "/lambdalite/v1/info", buf, sizeof buf) < 0) return false;
  char *body = strstr(buf, "\r\n\r\n");
  json_t *doc = body ? json_loads(body + 4, 0, NULL) : NULL;
  json_t *maps = json_object_get(doc, "eventSourceMappings");
  bool all = json_array_size(maps) > 0;
  size_t i;
  json_t *m;
  json_array_foreach(maps, i, m) all &= json_is_true(json_object_get(m, "Drained"));
  json_decref(doc);
  return all;
}

int main(int argc, char **argv) {
  const char *endpoint = NULL;
  int n = 8, grain = 1;
  static const struct option opts[] = {{"endpoint", required_argument, 0, 'e'},
                                       {"n", required_argument, 0, 'n'},
                                       {"grain", required_argument, 0, 'g'},
                                       {0, 0, 0, 0}};
  for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
    if (c == 'e') endpoint = optarg;
    else if (c == 'n') n = atoi(optarg);
    else if (c == 'g') grain = atoi(optarg);
    else return 2;
  }
  if (!endpoint || n < 1 || n > 13) {
    fprintf(stderr, "usage: bench/nqueens --endpoint URL --n N [--grain K]\n");
    return 2;
  }
  board(n);
  /* the baseline: one C loop, here */
  set_t all = {{0}};
  for (int b = 0; b < n * n; b++) all.w[b / 64] |= 1ull << (b % 64);
  uint64_t sets = 0, sols = 0;
  double t0 = now_s();
  search(all, 0, &sets, &sols);
  double loop_s = now_s() - t0;

  /* the platform: seed, then wait until the stream is drained */
  char host[128];
  int port = bench_endpoint(endpoint, host);
  char payload[32];
  snprintf(payload, sizeof payload, "{\"seed\":%d}", n);
  size_t len;
  char *req = bench_signed_invoke(host, "queens-completion-lambda-kinesis-dev-queensHandler", payload,
                                  false, &len);
  static char buf[65536];
  t0 = now_s();
  int fd = bench_connect(port);
  size_t have = 0;
  if (write(fd, req, len) < 0 || bench_read_response(fd, buf, sizeof buf, &have) != 200) {
    fprintf(stderr, "bench/nqueens: seeding failed: %.300s\n", buf);
    return 1;
  }
  close(fd);
  free(req);
  int streak = 0;
  while (streak < 2) {
    streak = drained(port, host) ? streak + 1 : 0;
    usleep(20000);
  }
  double plat_s = now_s() - t0 - 0.02; /* the last poll's sleep */
  static const struct { int n; const char *lambda, *laptop; double lambda_s, laptop_s; } seeds[] = {
      {8, "231 s", "0.4 s", 231, 0.4}, {10, "19 min 54 s", "10 s", 1194, 10}};
  printf("bench/nqueens: N=%d %s: %llu sets, %llu solutions\n", n,
         grain <= 1 ? "article mode (one square per record)" : "grain mode", (unsigned long long)sets,
         (unsigned long long)sols);
  if (grain <= 1)
    printf("  platform %.2f s (%.0f sets/s through the stream) | C loop %.3f s | ratio %.1fx\n",
           plat_s, (double)sets / plat_s, loop_s, plat_s / loop_s);
  else
    printf("  platform (GRAIN=%d) %.2f s | single-threaded C loop %.3f s | platform / loop %.2f\n",
           grain, plat_s, loop_s, plat_s / loop_s);
  for (size_t i = 0; grain <= 1 && i < sizeof seeds / sizeof seeds[0]; i++) {
    if (seeds[i].n != n) continue;
    double vs_lambda = seeds[i].lambda_s / plat_s, vs_laptop = seeds[i].laptop_s / plat_s;
    printf("  the seeds: Lambda %s (this run %.0fx faster), a laptop %s (this run %.1fx %s)\n",
           seeds[i].lambda, vs_lambda, seeds[i].laptop, vs_laptop >= 1 ? vs_laptop : 1 / vs_laptop,
           vs_laptop >= 1 ? "faster" : "slower");
  }
  return 0;
}

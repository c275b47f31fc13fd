/* bench/queue: does a deep async queue slow everything else down? Sync invoke latency of one
 * function (1 connection) is measured with the async queue empty, then again after another
 * function's queue was filled for --fill seconds from 16 connections while that function can
 * run none of it (its one reserved slot is held by a long event). Prints the queue depth
 * reached and both latency figures, and their ratio.
 *
 *   queue --endpoint URL --function ECHO --blocked HOLD [--seconds S] [--fill S]
 */
#include <getopt.h>

#include "benchlib.h"

int main(int argc, char **argv) {
  const char *endpoint = NULL, *fn = "echo", *blocked = "hold";
  double seconds = 3, fill = 20;
  static const struct option opts[] = {{"endpoint", required_argument, 0, 'e'},
                                       {"function", required_argument, 0, 'f'},
                                       {"blocked", required_argument, 0, 'b'},
                                       {"seconds", required_argument, 0, 's'},
                                       {"fill", required_argument, 0, 'F'},
                                       {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (c == 'e') endpoint = optarg;
    else if (c == 'f') fn = optarg;
    else if (c == 'b') blocked = optarg;
    else if (c == 's') seconds = atof(optarg);
    else if (c == 'F') fill = atof(optarg);
    else return 2;
  }
  if (!endpoint) {
    fprintf(stderr, "usage: queue --endpoint URL --function ECHO --blocked HOLD [--seconds S] [--fill S]\n");
    return 2;
  }
  char host[128];
  int port = bench_endpoint(endpoint, host);
  size_t slen, alen;
  char *sreq = bench_signed_invoke(host, fn, "{\"q\":1}", false, &slen);
  char *areq = bench_signed_invoke(host, blocked, "{\"queued\":true}", true, &alen);
  bench_measure(port, sreq, slen, 1, 0.5, 200); /* warm */
  result_t before = bench_measure(port, sreq, slen, 1, seconds, 200);
  result_t fillr = bench_measure(port, areq, alen, 16, fill, 202);
  long depth = (long)(fillr.rps * fill);
  result_t after = bench_measure(port, sreq, slen, 1, seconds, 200);
  printf("bench/queue: %ld events queued for a function that can run none of them (%.0f/s over %.0f s)\n",
         depth, fillr.rps, fill);
  printf("%-34s %10s %10s %12s\n", "", "p50 us", "p99 us", "req/s");
  printf("%-34s %10.1f %10.1f %12.0f\n", "sync invoke, async queue empty", before.p50_us,
         before.p99_us, before.rps);
  printf("%-34s %10.1f %10.1f %12.0f\n", "sync invoke, async queue deep", after.p50_us,
         after.p99_us, after.rps);
  printf("%-34s %9.2fx %9.2fx %11.2fx\n", "ratio (deep / empty)", after.p50_us / before.p50_us,
         after.p99_us / before.p99_us, after.rps / before.rps);
  free(sreq);
  free(areq);
  return 0;
}

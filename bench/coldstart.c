/* bench/coldstart: the time from an invoke that finds no warm instance to its response (the
 * C echo function, a daemon started with --idle-timeout 0 so every invoke is a cold start),
 * beside a baseline measured in the same run: posix_spawn of the same bootstrap binary and
 * wait for its first Runtime API request (GET /next) to arrive on a loopback socket.
 *
 *   coldstart --endpoint http://127.0.0.1:PORT --function NAME --bootstrap PATH [--count N]
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchlib.h"

extern char **environ;

static void report(const char *label, uint64_t *ns, int n, double *p50, double *p99) {
  qsort(ns, (size_t)n, sizeof *ns, bench_cmp_u64);
  *p50 = (double)ns[n / 2] / 1e6;
  *p99 = (double)ns[(int)(n * 0.99)] / 1e6;
  printf("%-40s %10.2f %10.2f\n", label, *p50, *p99);
}

/* Baseline: spawn the bootstrap and wait for its GET /next. */
static uint64_t spawn_until_first_request(const char *bootstrap) {
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(lfd, (struct sockaddr *)&a, sizeof a);
  listen(lfd, 4);
  socklen_t len = sizeof a;
  getsockname(lfd, (struct sockaddr *)&a, &len);
  char api[64];
  snprintf(api, sizeof api, "AWS_LAMBDA_RUNTIME_API=127.0.0.1:%d", ntohs(a.sin_port));
  char *envp[] = {api, "PATH=/usr/bin:/bin", NULL};
  char *argv[] = {(char *)bootstrap, NULL};
  uint64_t t0 = ll_mono_ns();
  pid_t pid;
  if (posix_spawn(&pid, bootstrap, NULL, NULL, argv, envp) != 0) {
    perror("posix_spawn");
    exit(1);
  }
  int fd = accept(lfd, NULL, NULL);
  char buf[4096];
  size_t n = 0;
  while (n < sizeof buf - 1) {
    ssize_t r = read(fd, buf + n, sizeof buf - 1 - n);
    if (r <= 0) break;
    n += (size_t)r;
    buf[n] = '\0';
    if (strstr(buf, "\r\n\r\n")) break;
  }
  uint64_t t1 = ll_mono_ns();
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  close(fd);
  close(lfd);
  return t1 - t0;
}

/* One signed invoke over fd; returns the status. */
static int invoke_once(int fd, const char *host, const char *fn) {
  size_t len;
  char *req = bench_signed_invoke(host, fn, "{\"cold\":true}", false, &len);
  ssize_t w = write(fd, req, len);
  free(req);
  if (w < 0) return -1;
  char buf[8192];
  size_t have = 0;
  return bench_read_response(fd, buf, sizeof buf, &have);
}

int main(int argc, char **argv) {
  const char *endpoint = NULL, *fn = "echo", *bootstrap = NULL;
  int count = 50;
  static const struct option opts[] = {{"endpoint", required_argument, 0, 'e'},
                                       {"function", required_argument, 0, 'f'},
                                       {"bootstrap", required_argument, 0, 'b'},
                                       {"count", required_argument, 0, 'n'},
                                       {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (c == 'e') endpoint = optarg;
    else if (c == 'f') fn = optarg;
    else if (c == 'b') bootstrap = optarg;
    else if (c == 'n') count = atoi(optarg);
    else return 2;
  }
  if (!endpoint || !bootstrap || count < 2) {
    fprintf(stderr, "usage: coldstart --endpoint URL --function NAME --bootstrap PATH [--count N]\n");
    return 2;
  }
  char host[128];
  int port = bench_endpoint(endpoint, host);
  uint64_t *base = ll_calloc((size_t)count, sizeof *base), *cold = ll_calloc((size_t)count, sizeof *cold);
  int fd = bench_connect(port);
  for (int i = 0; i < count; i++) {
    base[i] = spawn_until_first_request(bootstrap);
    uint64_t t0 = ll_mono_ns();
    int st = invoke_once(fd, host, fn);
    cold[i] = ll_mono_ns() - t0;
    if (st != 200) {
      fprintf(stderr, "coldstart: invoke answered %d\n", st);
      return 1;
    }
    usleep(20 * 1000); /* let the previous instance go (idle timeout 0) */
  }
  close(fd);
  printf("bench/coldstart: %d cold invokes of the C echo function (daemon --idle-timeout 0)\n", count);
  printf("%-40s %10s %10s\n", "", "p50 ms", "p99 ms");
  double b50, b99, c50, c99;
  report("baseline posix_spawn to first /next", base, count, &b50, &b99);
  report("lambdalite cold invoke", cold, count, &c50, &c99);
  printf("%-40s %9.2fx %9.2fx\n", "ratio (cold invoke / baseline)", c50 / b50, c99 / b99);
  free(base);
  free(cold);
  return 0;
}

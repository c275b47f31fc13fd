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

#include "benchlib.h"

#define PAYLOAD "{\"ticker\":\"AAPL\",\"spot\":200.0,\"strike\":220.0,\"rate\":0.025,\"time\":0.25,\"vol\":0.2673,\"cp\":\"c\",\"x\":1}"

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
  char host[128];
  int port = bench_endpoint(endpoint, host);
  size_t ilen;
  char *ireq = bench_signed_invoke(host, fn, PAYLOAD, false, &ilen);
  int eport = start_echo_server();
  char *ereq = ll_sprintf("POST /echo HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: %zu\r\n\r\n%s",
                          eport, strlen(PAYLOAD), PAYLOAD);
  size_t elen = strlen(ereq);
  /* warm up: the first invokes start instances */
  bench_measure(port, ireq, ilen, 16, 0.5, 200);
  printf("bench/invoke: warm sync invoke, %zu B payload, keep-alive, %.0f s per figure\n",
         strlen(PAYLOAD), seconds);
  printf("%-34s %10s %10s %12s\n", "", "p50 us", "p99 us", "req/s");
  int conns[] = {1, 16};
  for (int i = 0; i < 2; i++) {
    result_t b = bench_measure(eport, ereq, elen, conns[i], seconds, 200);
    result_t r = bench_measure(port, ireq, ilen, conns[i], seconds, 200);
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

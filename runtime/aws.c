/* ll_aws_json: a function calls the daemon's JSON APIs (Kinesis, DynamoDB, Lambda's JSON 1.1
 * siblings) with its own credentials — one POST signed with SigV4 (sigv4.c) on a keep-alive
 * connection that is reused across calls (and dialled again when the daemon closed it). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lambdalite_runtime.h"
#include "runtime_int.h"

static int conn_fd = -1; /* the kept connection (the library is single-threaded) */

static void drop_conn(void) {
  if (conn_fd >= 0) close(conn_fd);
  conn_fd = -1;
}

/* Reads one answer: status, and the body (Content-Length framed) into *out. */
static int read_answer(int fd, char **out, size_t *out_len, bool *keep, char *err, size_t errsz) {
  size_t cap = 16384, have = 0, head = 0;
  char *buf = malloc(cap + 1);
  if (!buf) return ll__fail(err, errsz, "out of memory");
  long long length = -1;
  int status = 0;
  for (;;) {
    if (head && length >= 0 && have - head >= (size_t)length) break;
    if (have == cap) {
      cap *= 2;
      char *nb = realloc(buf, cap + 1);
      if (!nb) {
        free(buf);
        return ll__fail(err, errsz, "out of memory");
      }
      buf = nb;
    }
    ssize_t n = recv(fd, buf + have, cap - have, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      free(buf);
      return ll__fail(err, errsz, "the daemon closed the connection before its answer ended");
    }
    have += (size_t)n;
    buf[have] = '\0';
    if (!head) {
      char *e = strstr(buf, "\r\n\r\n");
      if (!e) continue;
      head = (size_t)(e - buf) + 4;
      status = atoi(buf + 9);
      *keep = true;
      for (char *l = strstr(buf, "\r\n"); l && l < buf + head - 2; l = strstr(l + 2, "\r\n")) {
        if (strncasecmp(l + 2, "content-length:", 15) == 0) length = atoll(l + 17);
        if (strncasecmp(l + 2, "connection: close", 17) == 0) *keep = false;
      }
      if (length < 0) {
        free(buf);
        return ll__fail(err, errsz, "the daemon's answer has no Content-Length");
      }
    }
  }
  memmove(buf, buf + head, (size_t)length);
  buf[length] = '\0';
  *out = buf;
  *out_len = (size_t)length;
  return status;
}

int ll_aws_json(const char *service, const char *target, const char *body, size_t len, char **out,
                size_t *out_len, char *err, size_t errsz) {
  *out = NULL;
  *out_len = 0;
  const char *ep = getenv("AWS_ENDPOINT_URL");
  const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
  const char *token = getenv("AWS_SESSION_TOKEN"), *region = getenv("AWS_REGION");
  char host[256], hostname[256], port[16];
  if (ll__endpoint(ep, host, hostname, port) < 0)
    return ll__fail(err, errsz, "ll_aws_json needs AWS_ENDPOINT_URL as http://HOST:PORT (got %s)",
                    ep ? ep : "nothing");
  if (!ak || !sk) return ll__fail(err, errsz, "ll_aws_json needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
  if (token && !*token) token = NULL;
  if (!region || !*region) region = "us-east-1";
  /* DynamoDB speaks JSON 1.0, the others 1.1 */
  const char *ct = strcmp(service, "dynamodb") == 0 ? "application/x-amz-json-1.0" : "application/x-amz-json-1.1";
  unsigned char d[32];
  char hash[65], amz_date[17], auth[1024], extra[160];
  ll__sha256_t s;
  ll__sha256_init(&s);
  ll__sha256_update(&s, body, len);
  ll__sha256_final(&s, d);
  ll__hex(d, 32, hash);
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm);
  snprintf(extra, sizeof extra, "x-amz-target:%s", target);
  ll__sigv4("POST", "/", host, extra, hash, amz_date, token, ak, sk, region, service, auth, sizeof auth);
  /* head and body in one write: two would meet Nagle and a delayed ACK (40 ms a call) */
  size_t hsz = strlen(auth) + (token ? strlen(token) : 0) + strlen(target) + 512 + len;
  char *req = malloc(hsz);
  if (!req) return ll__fail(err, errsz, "out of memory");
  int hl = snprintf(req, hsz,
                    "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nX-Amz-Target: %s\r\n"
                    "X-Amz-Date: %s\r\nX-Amz-Content-SHA256: %s\r\n%s%s%sAuthorization: %s\r\n"
                    "Content-Length: %zu\r\n\r\n",
                    host, ct, target, amz_date, hash, token ? "X-Amz-Security-Token: " : "",
                    token ? token : "", token ? "\r\n" : "", auth, len);
  memcpy(req + hl, body, len);
  int status = -1;
  for (int attempt = 0; attempt < 2 && status < 0; attempt++) {
    bool fresh = conn_fd < 0;
    if (fresh && (conn_fd = ll__dial(hostname, port, err, errsz)) < 0) break;
    bool keep = false;
    if (ll__send_all(conn_fd, req, (size_t)hl + len) < 0) {
      drop_conn();
      if (fresh) {
        ll__fail(err, errsz, "sending to %s: %s", host, strerror(errno));
        break;
      }
      continue; /* the kept connection had gone: once more on a new one */
    }
    status = read_answer(conn_fd, out, out_len, &keep, err, errsz);
    if (status < 0 || !keep) drop_conn();
    if (status < 0 && fresh) break;
  }
  free(req);
  return status;
}

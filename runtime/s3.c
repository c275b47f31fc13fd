/* ll_s3_get_stream: a function reads an object from the daemon's S3 API as a stream: one GET
 * signed with SigV4 (sigv4.c), plain HTTP/1.1 on a connection of its own. */
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lambdalite_runtime.h"
#include "runtime_int.h"

/* ---- the request ------------------------------------------------------------------------------- */

/* Appends s URI-encoded (every byte but A-Z a-z 0-9 - _ . ~ and, when keep_slash, '/'). */
static size_t uri_encode(char *out, size_t sz, size_t o, const char *s, int keep_slash) {
  static const char d[] = "0123456789ABCDEF";
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    unsigned char c = *p;
    int plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/');
    if (o + 4 >= sz) return sz;
    if (plain) {
      out[o++] = (char)c;
    } else {
      out[o++] = '%', out[o++] = d[c >> 4], out[o++] = d[c & 15];
    }
  }
  out[o] = '\0';
  return o;
}

#define S3_BUF (64 * 1024)

/* Opens a connection to the daemon's S3 endpoint and sends the signed head of METHOD
 * /bucket/key (UNSIGNED-PAYLOAD; content_length < 0: no body). fn names the caller in errors.
 * Returns the connection, or -1 with err. */
static int s3_request(const char *fn, const char *method, const char *bucket, const char *key,
                      long long content_length, char *err, size_t errsz) {
  const char *ep = getenv("AWS_ENDPOINT_URL_S3");
  if (!ep || !*ep) ep = getenv("AWS_ENDPOINT_URL");
  const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
  const char *token = getenv("AWS_SESSION_TOKEN"), *region = getenv("AWS_REGION");
  char host[256], hostname[256], port[16];
  if (ll__endpoint(ep, host, hostname, port) < 0)
    return ll__fail(err, errsz, "%s needs AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL as "
                                "http://HOST:PORT (got %s)", fn, ep ? ep : "nothing");
  if (!ak || !sk) return ll__fail(err, errsz, "%s needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", fn);
  if (token && !*token) token = NULL;
  if (!region || !*region) region = "us-east-1";
  char path[4096];
  size_t o = uri_encode(path, sizeof path, 0, "/", 1);
  o = uri_encode(path, sizeof path, o, bucket, 0);
  o = uri_encode(path, sizeof path, o, "/", 1);
  o = uri_encode(path, sizeof path, o, key, 1);
  if (o >= sizeof path) return ll__fail(err, errsz, "the key is too long");
  char amz_date[17], auth[1024], length[48] = "";
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm);
  ll__sigv4(method, path, host, NULL, "UNSIGNED-PAYLOAD", amz_date, token, ak, sk, region, "s3",
            auth, sizeof auth);
  if (content_length >= 0) snprintf(length, sizeof length, "Content-Length: %lld\r\n", content_length);
  char *req = malloc(strlen(path) + strlen(auth) + (token ? strlen(token) : 0) + 512);
  if (!req) return ll__fail(err, errsz, "out of memory");
  sprintf(req,
          "%s %s HTTP/1.1\r\nHost: %s\r\nX-Amz-Date: %s\r\nX-Amz-Content-SHA256: UNSIGNED-PAYLOAD\r\n"
          "%s%s%sAuthorization: %s\r\n%sConnection: close\r\n\r\n",
          method, path, host, amz_date, token ? "X-Amz-Security-Token: " : "", token ? token : "",
          token ? "\r\n" : "", auth, length);
  int fd = ll__dial(hostname, port, err, errsz);
  if (fd >= 0 && ll__send_all(fd, req, strlen(req)) < 0) {
    close(fd);
    fd = ll__fail(err, errsz, "sending the request to %s: %s", host, strerror(errno));
  }
  free(req);
  return fd;
}

int ll_s3_get_stream(const char *bucket, const char *key, ll_s3_data_fn on_data, void *ud,
                     char *err, size_t errsz) {
  int fd = s3_request("ll_s3_get_stream", "GET", bucket, key, -1, err, errsz);
  if (fd < 0) return -1;
  char *buf = malloc(S3_BUF + 1);
  if (!buf) {
    close(fd);
    return ll__fail(err, errsz, "out of memory");
  }
  /* the head */
  size_t have = 0, head = 0;
  while (!head) {
    ssize_t n = have < S3_BUF ? recv(fd, buf + have, S3_BUF - have, 0) : 0;
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close(fd);
      free(buf);
      return ll__fail(err, errsz, "the daemon answered no complete head");
    }
    have += (size_t)n;
    buf[have] = '\0';
    char *e = strstr(buf, "\r\n\r\n");
    if (e) head = (size_t)(e - buf) + 4;
  }
  int status = atoi(buf + 9);
  long long length = -1;
  for (char *l = strstr(buf, "\r\n"); l && l < buf + head - 2; l = strstr(l + 2, "\r\n"))
    if (strncasecmp(l + 2, "content-length:", 15) == 0) length = atoll(l + 17);
  size_t body = have - head;
  memmove(buf, buf + head, body);
  if (status != 200) { /* S3's XML error: say its code */
    while (body < S3_BUF) {
      ssize_t n = recv(fd, buf + body, S3_BUF - body, 0);
      if (n <= 0) break;
      body += (size_t)n;
    }
    buf[body] = '\0';
    char code[128] = "";
    char *c = strstr(buf, "<Code>");
    if (c) snprintf(code, sizeof code, "%.*s", (int)strcspn(c + 6, "<"), c + 6);
    close(fd);
    free(buf);
    return ll__fail(err, errsz, "GET answered %d %s", status, code[0] ? code : "(no error code)");
  }
  /* the body, as it comes */
  long long left = length;
  int rc = 0;
  for (;;) {
    if (body) {
      size_t give = left >= 0 && (long long)body > left ? (size_t)left : body;
      if (give && (rc = on_data(ud, buf, give)) != 0) break;
      if (left >= 0) left -= (long long)give;
      body = 0;
    }
    if (left == 0) break;
    ssize_t n = recv(fd, buf, S3_BUF, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      rc = ll__fail(err, errsz, "reading the object: %s", strerror(errno));
      break;
    }
    if (n == 0) {
      if (left > 0) rc = ll__fail(err, errsz, "the connection closed before the object's end");
      break;
    }
    body = (size_t)n;
  }
  close(fd);
  free(buf);
  return rc;
}

int ll_s3_put(const char *bucket, const char *key, const void *data, size_t len, char *err,
              size_t errsz) {
  int fd = s3_request("ll_s3_put", "PUT", bucket, key, (long long)len, err, errsz);
  if (fd < 0) return -1;
  int rc = ll__send_all(fd, data, len);
  char buf[4096];
  size_t have = 0;
  while (rc == 0 && have + 1 < sizeof buf) {
    ssize_t n = recv(fd, buf + have, sizeof buf - 1 - have, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    have += (size_t)n;
  }
  close(fd);
  buf[have] = '\0';
  if (rc < 0) return ll__fail(err, errsz, "sending the object: %s", strerror(errno));
  int status = have > 12 ? atoi(buf + 9) : 0;
  if (status != 200) {
    char code[128] = "";
    char *c = strstr(buf, "<Code>");
    if (c) snprintf(code, sizeof code, "%.*s", (int)strcspn(c + 6, "<"), c + 6);
    return ll__fail(err, errsz, "PUT answered %d %s", status, code[0] ? code : "(no error code)");
  }
  return 0;
}

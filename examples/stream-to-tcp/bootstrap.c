/* stream-to-tcp: the white paper's Kinesis-to-remote-q pattern — a function that forwards each
 * batch of stream records to a long-running server outside the platform over TCP, one record's
 * data a line (server.py is such a server). The connection is opened once per instance and kept
 * (dialled again if the server dropped it); a batch that cannot be delivered is a function
 * error, so the mapping retries it (delivery is at least once).
 * Environment: FORWARD_TO=HOST:PORT. */
#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lambdalite_runtime.h"

static int fd = -1;
static char host[256], port[16];

static int dial(void) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
  if (getaddrinfo(host, port, &hints, &ai)) return -1;
  int s = -1;
  for (struct addrinfo *a = ai; a && s < 0; a = a->ai_next) {
    s = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, a->ai_protocol);
    if (s >= 0 && connect(s, a->ai_addr, a->ai_addrlen) < 0) close(s), s = -1;
  }
  freeaddrinfo(ai);
  return s;
}

static int send_all(const char *p, size_t n) {
  while (n) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w, n -= (size_t)w;
  }
  return 0;
}

static size_t b64_decode(const char *in, size_t n, char *out) {
  static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0;
  uint32_t v = 0;
  int bits = 0;
  for (size_t i = 0; i < n && in[i] != '='; i++) {
    const char *p = strchr(B64, in[i]);
    if (!p || !in[i]) continue;
    v = v << 6 | (uint32_t)(p - B64);
    bits += 6;
    if (bits >= 8) bits -= 8, out[o++] = (char)(v >> bits & 0xff);
  }
  return o;
}

static int handle(const ll_invocation *in, ll_response *out) {
  /* the batch as lines, then one write */
  size_t cap = in->payload_len + 16, len = 0;
  char *buf = malloc(cap);
  long records = 0;
  if (!buf) return ll_response_error(out, "OutOfMemory", "no memory for the batch");
  for (const char *p = in->payload; (p = strstr(p, "\"data\":\"")); records++) {
    p += 8;
    size_t n = strcspn(p, "\"");
    len += b64_decode(p, n, buf + len);
    buf[len++] = '\n';
    p += n;
  }
  int rc = -1;
  for (int attempt = 0; attempt < 2 && rc < 0; attempt++) {
    if (fd < 0 && (fd = dial()) < 0) break;
    rc = send_all(buf, len);
    if (rc < 0) close(fd), fd = -1; /* the server went: once more on a new connection */
  }
  free(buf);
  if (rc < 0) {
    char msg[400];
    snprintf(msg, sizeof msg, "cannot deliver the batch to %s:%s: %s", host, port, strerror(errno));
    return ll_response_error(out, "ForwardError", msg);
  }
  return ll_response_printf(out, "{\"forwarded\":%ld}", records);
}

int main(void) {
  const char *to = getenv("FORWARD_TO");
  const char *colon = to ? strrchr(to, ':') : NULL;
  if (!colon) return ll_runtime_init_error("Runtime.ConfigError", "FORWARD_TO must be HOST:PORT") ? 1 : 1;
  snprintf(host, sizeof host, "%.*s", (int)(colon - to), to);
  snprintf(port, sizeof port, "%s", colon + 1);
  return ll_runtime_main(handle) ? 1 : 0;
}

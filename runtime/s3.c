/* ll_s3_get_stream: a function reads an object from the daemon's S3 API as a stream. Functions
 * link libc only, so SHA-256 (FIPS 180-4), HMAC (RFC 2104) and the SigV4 signature of one GET
 * are written out here; the request is plain HTTP/1.1 on a connection of its own. */
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

/* ---- SHA-256 and HMAC-SHA256 ---------------------------------------------------------------- */

typedef struct sha256 {
  uint32_t h[8];
  uint64_t len;        /* bytes hashed */
  unsigned char blk[64];
  size_t n;            /* bytes in blk */
} sha256_t;

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(sha256_t *s, const unsigned char *p) {
  uint32_t w[64];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 |
           p[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4], f = s->h[5],
           g = s->h[6], h = s->h[7];
  for (int i = 0; i < 64; i++) {
    uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
    uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    h = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
  }
  s->h[0] += a, s->h[1] += b, s->h[2] += c, s->h[3] += d;
  s->h[4] += e, s->h[5] += f, s->h[6] += g, s->h[7] += h;
}

static void sha256_init(sha256_t *s) {
  static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  memcpy(s->h, iv, sizeof iv);
  s->len = 0;
  s->n = 0;
}

static void sha256_update(sha256_t *s, const void *data, size_t len) {
  const unsigned char *p = data;
  s->len += len;
  while (len) {
    size_t take = 64 - s->n < len ? 64 - s->n : len;
    memcpy(s->blk + s->n, p, take);
    s->n += take, p += take, len -= take;
    if (s->n == 64) {
      sha256_block(s, s->blk);
      s->n = 0;
    }
  }
}

static void sha256_final(sha256_t *s, unsigned char out[32]) {
  uint64_t bits = s->len * 8;
  unsigned char pad = 0x80, zero = 0, be[8];
  sha256_update(s, &pad, 1);
  while (s->n != 56) sha256_update(s, &zero, 1);
  for (int i = 0; i < 8; i++) be[i] = (unsigned char)(bits >> (56 - 8 * i));
  sha256_update(s, be, 8);
  for (int i = 0; i < 8; i++) {
    out[4 * i] = (unsigned char)(s->h[i] >> 24);
    out[4 * i + 1] = (unsigned char)(s->h[i] >> 16);
    out[4 * i + 2] = (unsigned char)(s->h[i] >> 8);
    out[4 * i + 3] = (unsigned char)s->h[i];
  }
}

static void hex(const unsigned char *p, size_t n, char *out) {
  static const char d[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) out[2 * i] = d[p[i] >> 4], out[2 * i + 1] = d[p[i] & 15];
  out[2 * n] = '\0';
}

static void hmac(const void *key, size_t klen, const char *msg, unsigned char out[32]) {
  unsigned char k[64] = {0}, pad[64], inner[32];
  if (klen > 64) {
    sha256_t s;
    sha256_init(&s);
    sha256_update(&s, key, klen);
    sha256_final(&s, k);
  } else {
    memcpy(k, key, klen);
  }
  sha256_t s;
  for (int i = 0; i < 64; i++) pad[i] = k[i] ^ 0x36;
  sha256_init(&s);
  sha256_update(&s, pad, 64);
  sha256_update(&s, msg, strlen(msg));
  sha256_final(&s, inner);
  for (int i = 0; i < 64; i++) pad[i] = k[i] ^ 0x5c;
  sha256_init(&s);
  sha256_update(&s, pad, 64);
  sha256_update(&s, inner, 32);
  sha256_final(&s, out);
}

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

static int fail(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errsz, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (err && errsz) vsnprintf(err, errsz, fmt, ap);
  va_end(ap);
  return -1;
}

/* The SigV4 Authorization header of GET path on host, signed with UNSIGNED-PAYLOAD. */
static void sign(const char *path, const char *host, const char *amz_date, const char *token,
                 const char *ak, const char *sk, const char *region, char *auth, size_t authsz) {
  char canon[8192], sts[512], hash[65];
  unsigned char d[32], key[32];
  snprintf(canon, sizeof canon,
           "GET\n%s\n\nhost:%s\nx-amz-content-sha256:UNSIGNED-PAYLOAD\nx-amz-date:%s\n%s%s%s\n"
           "host;x-amz-content-sha256;x-amz-date%s\nUNSIGNED-PAYLOAD",
           path, host, amz_date, token ? "x-amz-security-token:" : "", token ? token : "",
           token ? "\n" : "", token ? ";x-amz-security-token" : "");
  sha256_t s;
  sha256_init(&s);
  sha256_update(&s, canon, strlen(canon));
  sha256_final(&s, d);
  hex(d, 32, hash);
  snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n%.8s/%s/s3/aws4_request\n%s", amz_date,
           amz_date, region, hash);
  char secret[256], date8[9];
  snprintf(secret, sizeof secret, "AWS4%s", sk);
  snprintf(date8, sizeof date8, "%.8s", amz_date);
  hmac(secret, strlen(secret), date8, key);
  hmac(key, 32, region, key);
  hmac(key, 32, "s3", key);
  hmac(key, 32, "aws4_request", key);
  hmac(key, 32, sts, d);
  hex(d, 32, hash);
  snprintf(auth, authsz,
           "AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/s3/aws4_request, SignedHeaders=host;"
           "x-amz-content-sha256;x-amz-date%s, Signature=%s",
           ak, amz_date, region, token ? ";x-amz-security-token" : "", hash);
}

static int dial(const char *host, const char *port, char *err, size_t errsz) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
  int r = getaddrinfo(host, port, &hints, &ai);
  if (r) return fail(err, errsz, "resolving %s: %s", host, gai_strerror(r));
  int fd = -1;
  for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, a->ai_protocol);
    if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(ai);
  if (fd < 0) return fail(err, errsz, "connecting to %s: %s", host, strerror(errno));
  return fd;
}

static int send_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w, n -= (size_t)w;
  }
  return 0;
}

#define S3_BUF (64 * 1024)

int ll_s3_get_stream(const char *bucket, const char *key, ll_s3_data_fn on_data, void *ud,
                     char *err, size_t errsz) {
  const char *ep = getenv("AWS_ENDPOINT_URL_S3");
  if (!ep || !*ep) ep = getenv("AWS_ENDPOINT_URL");
  const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
  const char *token = getenv("AWS_SESSION_TOKEN"), *region = getenv("AWS_REGION");
  if (!ep || strncmp(ep, "http://", 7) != 0)
    return fail(err, errsz, "ll_s3_get_stream needs AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL as "
                            "http://HOST:PORT (got %s)", ep ? ep : "nothing");
  if (!ak || !sk)
    return fail(err, errsz, "ll_s3_get_stream needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
  if (token && !*token) token = NULL;
  if (!region || !*region) region = "us-east-1";
  char host[256], hostname[256], port[16] = "80";
  snprintf(host, sizeof host, "%.*s", (int)strcspn(ep + 7, "/"), ep + 7);
  const char *colon = strrchr(host, ':');
  snprintf(hostname, sizeof hostname, "%.*s", colon ? (int)(colon - host) : (int)strlen(host), host);
  if (colon) snprintf(port, sizeof port, "%s", colon + 1);
  if (hostname[0] == '[') { /* [::1] */
    memmove(hostname, hostname + 1, strlen(hostname));
    hostname[strcspn(hostname, "]")] = '\0';
  }
  char path[4096];
  size_t o = uri_encode(path, sizeof path, 0, "/", 1);
  o = uri_encode(path, sizeof path, o, bucket, 0);
  o = uri_encode(path, sizeof path, o, "/", 1);
  o = uri_encode(path, sizeof path, o, key, 1);
  if (o >= sizeof path) return fail(err, errsz, "the key is too long");
  char amz_date[17], auth[1024];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm);
  sign(path, host, amz_date, token, ak, sk, region, auth, sizeof auth);
  char *req = malloc(strlen(path) + strlen(auth) + (token ? strlen(token) : 0) + 512);
  if (!req) return fail(err, errsz, "out of memory");
  sprintf(req,
          "GET %s HTTP/1.1\r\nHost: %s\r\nX-Amz-Date: %s\r\nX-Amz-Content-SHA256: UNSIGNED-PAYLOAD\r\n"
          "%s%s%sAuthorization: %s\r\nConnection: close\r\n\r\n",
          path, host, amz_date, token ? "X-Amz-Security-Token: " : "", token ? token : "",
          token ? "\r\n" : "", auth);
  int fd = dial(hostname, port, err, errsz);
  if (fd < 0) {
    free(req);
    return -1;
  }
  int rc = send_all(fd, req, strlen(req));
  free(req);
  char *buf = malloc(S3_BUF + 1);
  if (rc < 0 || !buf) {
    close(fd);
    free(buf);
    return fail(err, errsz, "sending the request to %s: %s", host, strerror(errno));
  }
  /* the head */
  size_t have = 0, head = 0;
  while (!head) {
    ssize_t n = have < S3_BUF ? recv(fd, buf + have, S3_BUF - have, 0) : 0;
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close(fd);
      free(buf);
      return fail(err, errsz, "%s answered no complete head", host);
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
    return fail(err, errsz, "GET answered %d %s", status, code[0] ? code : "(no error code)");
  }
  /* the body, as it comes */
  long long left = length;
  rc = 0;
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
      rc = fail(err, errsz, "reading the object: %s", strerror(errno));
      break;
    }
    if (n == 0) {
      if (left > 0) rc = fail(err, errsz, "the connection closed before the object's end");
      break;
    }
    body = (size_t)n;
  }
  close(fd);
  free(buf);
  return rc;
}

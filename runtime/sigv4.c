/* The runtime library's AWS client pieces (runtime_int.h): SHA-256 (FIPS 180-4), HMAC
 * (RFC 2104), SigV4 of one request, the endpoint, plain-HTTP connections. */
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runtime_int.h"

/* ---- SHA-256 and HMAC-SHA256 ---------------------------------------------------------------- */



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

static void sha256_block(ll__sha256_t *s, const unsigned char *p) {
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

void ll__sha256_init(ll__sha256_t *s) {
  static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  memcpy(s->h, iv, sizeof iv);
  s->len = 0;
  s->n = 0;
}

void ll__sha256_update(ll__sha256_t *s, const void *data, size_t len) {
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

void ll__sha256_final(ll__sha256_t *s, unsigned char out[32]) {
  uint64_t bits = s->len * 8;
  unsigned char pad = 0x80, zero = 0, be[8];
  ll__sha256_update(s, &pad, 1);
  while (s->n != 56) ll__sha256_update(s, &zero, 1);
  for (int i = 0; i < 8; i++) be[i] = (unsigned char)(bits >> (56 - 8 * i));
  ll__sha256_update(s, be, 8);
  for (int i = 0; i < 8; i++) {
    out[4 * i] = (unsigned char)(s->h[i] >> 24);
    out[4 * i + 1] = (unsigned char)(s->h[i] >> 16);
    out[4 * i + 2] = (unsigned char)(s->h[i] >> 8);
    out[4 * i + 3] = (unsigned char)s->h[i];
  }
}

void ll__hex(const unsigned char *p, size_t n, char *out) {
  static const char d[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) out[2 * i] = d[p[i] >> 4], out[2 * i + 1] = d[p[i] & 15];
  out[2 * n] = '\0';
}

void ll__hmac(const void *key, size_t klen, const char *msg, unsigned char out[32]) {
  unsigned char k[64] = {0}, pad[64], inner[32];
  if (klen > 64) {
    ll__sha256_t s;
    ll__sha256_init(&s);
    ll__sha256_update(&s, key, klen);
    ll__sha256_final(&s, k);
  } else {
    memcpy(k, key, klen);
  }
  ll__sha256_t s;
  for (int i = 0; i < 64; i++) pad[i] = k[i] ^ 0x36;
  ll__sha256_init(&s);
  ll__sha256_update(&s, pad, 64);
  ll__sha256_update(&s, msg, strlen(msg));
  ll__sha256_final(&s, inner);
  for (int i = 0; i < 64; i++) pad[i] = k[i] ^ 0x5c;
  ll__sha256_init(&s);
  ll__sha256_update(&s, pad, 64);
  ll__sha256_update(&s, inner, 32);
  ll__sha256_final(&s, out);
}

/* ---- errors, endpoint, connections ----------------------------------------------------------- */

int ll__fail(char *err, size_t errsz, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (err && errsz) vsnprintf(err, errsz, fmt, ap);
  va_end(ap);
  return -1;
}

int ll__endpoint(const char *url, char host[256], char hostname[256], char port[16]) {
  if (!url || strncmp(url, "http://", 7) != 0) return -1;
  snprintf(host, 256, "%.*s", (int)strcspn(url + 7, "/"), url + 7);
  const char *colon = strrchr(host, ':');
  if (colon && strchr(host, ']') > colon) colon = NULL; /* [::1] without a port */
  snprintf(hostname, 256, "%.*s", colon ? (int)(colon - host) : (int)strlen(host), host);
  snprintf(port, 16, "%s", colon ? colon + 1 : "80");
  if (hostname[0] == '[') { /* [::1] */
    memmove(hostname, hostname + 1, strlen(hostname));
    hostname[strcspn(hostname, "]")] = '\0';
  }
  return 0;
}

int ll__dial(const char *host, const char *port, char *err, size_t errsz) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
  int r = getaddrinfo(host, port, &hints, &ai);
  if (r) return ll__fail(err, errsz, "resolving %s: %s", host, gai_strerror(r));
  int fd = -1;
  for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, a->ai_protocol);
    if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(ai);
  if (fd < 0) return ll__fail(err, errsz, "connecting to %s: %s", host, strerror(errno));
  return fd;
}

int ll__send_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w, n -= (size_t)w;
  }
  return 0;
}

/* ---- SigV4 ------------------------------------------------------------------------------------- */

void ll__sigv4(const char *method, const char *path, const char *host, const char *extra,
               const char *payload_hash, const char *amz_date, const char *token, const char *ak,
               const char *sk, const char *region, const char *service, char *auth, size_t authsz) {
  char canon[8192], sts[512], hash[65];
  unsigned char d[32], key[32];
  /* headers in name order: content-type < host < x-amz-content-sha256 < x-amz-date <
   * x-amz-security-token < x-amz-target */
  const char *extra_name_end = extra ? strchr(extra, ':') : NULL;
  char extra_name[64] = "";
  if (extra_name_end) snprintf(extra_name, sizeof extra_name, "%.*s", (int)(extra_name_end - extra), extra);
  bool before = extra && strcmp(extra_name, "host") < 0;
  snprintf(canon, sizeof canon,
           "%s\n%s\n\n%s%s"
           "host:%s\nx-amz-content-sha256:%s\nx-amz-date:%s\n%s%s%s%s%s\n"
           "%s%shost;x-amz-content-sha256;x-amz-date%s%s%s\n%s",
           method, path, before ? extra : "", before ? "\n" : "", host, payload_hash, amz_date,
           token ? "x-amz-security-token:" : "", token ? token : "", token ? "\n" : "",
           extra && !before ? extra : "", extra && !before ? "\n" : "", before ? extra_name : "",
           before ? ";" : "", token ? ";x-amz-security-token" : "", extra && !before ? ";" : "",
           extra && !before ? extra_name : "", payload_hash);
  ll__sha256_t s;
  ll__sha256_init(&s);
  ll__sha256_update(&s, canon, strlen(canon));
  ll__sha256_final(&s, d);
  ll__hex(d, 32, hash);
  snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n%.8s/%s/%s/aws4_request\n%s", amz_date,
           amz_date, region, service, hash);
  char secret[256], date8[9];
  snprintf(secret, sizeof secret, "AWS4%s", sk);
  snprintf(date8, sizeof date8, "%.8s", amz_date);
  ll__hmac(secret, strlen(secret), date8, key);
  ll__hmac(key, 32, region, key);
  ll__hmac(key, 32, service, key);
  ll__hmac(key, 32, "aws4_request", key);
  ll__hmac(key, 32, sts, d);
  ll__hex(d, 32, hash);
  snprintf(auth, authsz,
           "AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/%s/aws4_request, SignedHeaders=%s%s"
           "host;x-amz-content-sha256;x-amz-date%s%s%s, Signature=%s",
           ak, amz_date, region, service, before ? extra_name : "", before ? ";" : "",
           token ? ";x-amz-security-token" : "", extra && !before ? ";" : "",
           extra && !before ? extra_name : "", hash);
}

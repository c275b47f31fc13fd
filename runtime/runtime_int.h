/* Inside liblambdalite-runtime: what its API clients share (sigv4.c) — SHA-256 and HMAC, the
 * SigV4 signature of one request, the daemon's endpoint, and plain-HTTP connections. Functions
 * link libc only, so all of it is written out here. */
#ifndef LAMBDALITE_RUNTIME_INT_H
#define LAMBDALITE_RUNTIME_INT_H

#include <stddef.h>
#include <stdint.h>

typedef struct ll__sha256 {
  uint32_t h[8];
  uint64_t len;        /* bytes hashed */
  unsigned char blk[64];
  size_t n;            /* bytes in blk */
} ll__sha256_t;

void ll__sha256_init(ll__sha256_t *s);
void ll__sha256_update(ll__sha256_t *s, const void *data, size_t len);
void ll__sha256_final(ll__sha256_t *s, unsigned char out[32]);
/* Lower-case hex of p[0..n) into out (2n + 1 bytes). */
void ll__hex(const unsigned char *p, size_t n, char *out);
/* HMAC-SHA256 of the NUL-terminated msg. */
void ll__hmac(const void *key, size_t klen, const char *msg, unsigned char out[32]);

/* Writes the message into err (when given) and returns -1. */
int ll__fail(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A TCP connection to host:port (fd), or -1 with err. */
int ll__dial(const char *host, const char *port, char *err, size_t errsz);
/* Writes all of p (0), or -1. */
int ll__send_all(int fd, const char *p, size_t n);

/* The daemon's address from an endpoint URL "http://HOST:PORT": host as the Host header has it,
 * hostname and port to dial. -1 when url is not plain http. */
int ll__endpoint(const char *url, char host[256], char hostname[256], char port[16]);

/* SigV4 (AWS4-HMAC-SHA256) of one request: the Authorization header value into auth, for
 * method, path (already URI-encoded), an empty query, the headers host, x-amz-content-sha256,
 * x-amz-date, x-amz-security-token (when token) and extra (a lower-case "name:value" or NULL,
 * signed too), with payload_hash (hex SHA-256 or UNSIGNED-PAYLOAD), for service in region. */
void ll__sigv4(const char *method, const char *path, const char *host, const char *extra,
               const char *payload_hash, const char *amz_date, const char *token, const char *ak,
               const char *sk, const char *region, const char *service, char *auth, size_t authsz);

#endif

#include "core/encoding.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <string.h>

#include "core/mem.h"

void ll_hex(const void *p, size_t len, char *out) {
  static const char digits[] = "0123456789abcdef";
  const uint8_t *b = p;
  for (size_t i = 0; i < len; i++) {
    out[2 * i] = digits[b[i] >> 4];
    out[2 * i + 1] = digits[b[i] & 15];
  }
  out[2 * len] = '\0';
}

void ll_sha256(const void *p, size_t len, uint8_t out[32]) { SHA256(p, len, out); }

void ll_sha256_hex(const void *p, size_t len, char out[65]) {
  uint8_t d[32];
  SHA256(p, len, d);
  ll_hex(d, 32, out);
}

void ll_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
                    uint8_t out[32]) {
  unsigned int n = 32;
  ll_assert(HMAC(EVP_sha256(), key, (int)key_len, msg, msg_len, out, &n) != NULL);
}

char *ll_base64_encode(const void *p, size_t len) {
  char *out = ll_malloc(4 * ((len + 2) / 3) + 1);
  EVP_EncodeBlock((unsigned char *)out, p, (int)len);
  return out;
}

/* The value of each base64 character, -1 for the others. */
size_t ll_base64_encode_to(char *out, const void *p, size_t len) {
  return (size_t)EVP_EncodeBlock((unsigned char *)out, p, (int)len);
}

static const int8_t b64_tab[256] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1, -1, 63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
    -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, -1,
    -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

uint8_t *ll_base64_decode(const char *s, size_t len, size_t *out_len) {
  if (len % 4 != 0) return NULL;
  uint8_t *out = ll_malloc(len / 4 * 3 + 1);
  if (!ll_base64_decode_to(s, len, out, out_len)) {
    free(out);
    return NULL;
  }
  return out;
}

bool ll_base64_decode_to(const char *s, size_t len, uint8_t *out, size_t *out_len) {
  if (len % 4 != 0) return false;
  const unsigned char *u = (const unsigned char *)s;
  size_t o = 0, full = len ? len - 4 : 0; /* every quad but the last has no padding */
  for (size_t i = 0; i < full; i += 4) {
    int a = b64_tab[u[i]], b = b64_tab[u[i + 1]], c = b64_tab[u[i + 2]], d = b64_tab[u[i + 3]];
    if ((a | b | c | d) < 0) goto bad;
    uint32_t w = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
    out[o++] = (uint8_t)(w >> 16);
    out[o++] = (uint8_t)(w >> 8);
    out[o++] = (uint8_t)w;
  }
  if (len) { /* the last quad: "xx==" and "xxx=" are allowed */
    const unsigned char *q = u + full;
    int pad = q[3] == '=' ? (q[2] == '=' ? 2 : 1) : 0;
    int a = b64_tab[q[0]], b = b64_tab[q[1]], c = pad == 2 ? 0 : b64_tab[q[2]],
        d = pad ? 0 : b64_tab[q[3]];
    if ((a | b | c | d) < 0) goto bad;
    uint32_t w = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
    out[o++] = (uint8_t)(w >> 16);
    if (pad < 2) out[o++] = (uint8_t)(w >> 8);
    if (pad < 1) out[o++] = (uint8_t)w;
  }
  *out_len = o;
  return true;
bad:
  return false;
}

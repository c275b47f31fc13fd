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

static int b64val(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

uint8_t *ll_base64_decode(const char *s, size_t len, size_t *out_len) {
  if (len % 4 != 0) return NULL;
  uint8_t *out = ll_malloc(len / 4 * 3 + 1);
  size_t o = 0;
  for (size_t i = 0; i < len; i += 4) {
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; j++) {
      unsigned char c = (unsigned char)s[i + j];
      if (c == '=' && i + 4 == len && j >= 2) {
        v[j] = 0;
        pad++;
      } else {
        if (pad) goto bad; /* data after '=' */
        v[j] = b64val(c);
        if (v[j] < 0) goto bad;
      }
    }
    uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
    out[o++] = (uint8_t)(w >> 16);
    if (pad < 2) out[o++] = (uint8_t)(w >> 8);
    if (pad < 1) out[o++] = (uint8_t)w;
  }
  *out_len = o;
  return out;
bad:
  free(out);
  return NULL;
}

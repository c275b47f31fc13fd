/* S3's flexible checksums and CRC32C (see checksum.h for the contract).
 *
 * The CRC tables are built once, on first use (pthread_once), rather than written out here:
 * the loops below are the definition, and tests/unit/test_checksum.c holds the check values.
 * OPENSSL_SUPPRESS_DEPRECATED must precede every OpenSSL header: SHA1_* and SHA256_* are
 * deprecated in OpenSSL 3 but still provided, and need no allocation (EVP would). */
#define OPENSSL_SUPPRESS_DEPRECATED

#include "core/checksum.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <zlib.h>

#include "core/encoding.h"
#include "core/mem.h"

/* ---- CRC32C ------------------------------------------------------------------------------ */

#define CRC32C_POLY 0x82F63B78u /* Castagnoli, reflected */

static uint32_t crc_tab[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

/* crc_tab[0] is the byte-at-a-time table; crc_tab[k][b] is the CRC contribution of byte b
 * followed by k zero bytes, which lets the loop below fold 8 bytes per step. */
static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
    crc_tab[0][i] = c;
  }
  for (int k = 1; k < 8; k++)
    for (uint32_t i = 0; i < 256; i++)
      crc_tab[k][i] = (crc_tab[k - 1][i] >> 8) ^ crc_tab[0][crc_tab[k - 1][i] & 0xff];
}

/* Portable slicing-by-8 CRC32C; the reference the hardware path must match (tests compare). */
uint32_t ll__crc32c_sw(uint32_t crc, const void *buf, size_t len);
uint32_t ll__crc32c_sw(uint32_t crc, const void *buf, size_t len) {
  pthread_once(&crc_once, crc_init);
  const uint8_t *p = buf;
  crc = ~crc;
  while (len >= 8) {
    uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                         (uint32_t)p[3] << 24);
    uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
    crc = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^ crc_tab[5][(lo >> 16) & 0xff] ^
          crc_tab[4][lo >> 24] ^ crc_tab[3][hi & 0xff] ^ crc_tab[2][(hi >> 8) & 0xff] ^
          crc_tab[1][(hi >> 16) & 0xff] ^ crc_tab[0][hi >> 24];
    p += 8;
    len -= 8;
  }
  while (len--) crc = crc_tab[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

#if defined(__x86_64__)
/* The SSE4.2 crc32 instruction computes exactly this CRC (same polynomial, same reflection). */
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const void *buf,
                                                            size_t len) {
  const uint8_t *p = buf;
  uint64_t c = ~crc;
  for (; len && ((uintptr_t)p & 7); len--) c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
  for (; len >= 8; len -= 8, p += 8) {
    uint64_t w;
    memcpy(&w, p, 8); /* x86 is little-endian, as the CRC's byte order requires */
    c = __builtin_ia32_crc32di(c, w);
  }
  for (; len; len--) c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
  return ~(uint32_t)c;
}

static bool crc_use_hw;
static pthread_once_t crc_hw_once = PTHREAD_ONCE_INIT;
static void crc_hw_init(void) {
  __builtin_cpu_init(); /* in case the first call comes from a constructor */
  crc_use_hw = __builtin_cpu_supports("sse4.2");
}
#endif

uint32_t ll_crc32c(uint32_t crc, const void *buf, size_t len) {
#if defined(__x86_64__)
  pthread_once(&crc_hw_once, crc_hw_init);
  if (crc_use_hw) return crc32c_hw(crc, buf, len);
#endif
  return ll__crc32c_sw(crc, buf, len);
}

/* ---- CRC64NVME --------------------------------------------------------------------------- */

#define CRC64NVME_POLY UINT64_C(0x9a6c9329ac4bc9b5) /* reflected */

static uint64_t crc64_tab[8][256];
static pthread_once_t crc64_once = PTHREAD_ONCE_INIT;

/* The same slicing-by-8 layout as crc_tab above, 64 bits wide. */
static void crc64_init(void) {
  for (uint64_t i = 0; i < 256; i++) {
    uint64_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ CRC64NVME_POLY : c >> 1;
    crc64_tab[0][i] = c;
  }
  for (int k = 1; k < 8; k++)
    for (unsigned i = 0; i < 256; i++)
      crc64_tab[k][i] = (crc64_tab[k - 1][i] >> 8) ^ crc64_tab[0][crc64_tab[k - 1][i] & 0xff];
}

/* Continues the raw (not inverted) register c over p[0..len). */
static uint64_t crc64_update(uint64_t c, const uint8_t *p, size_t len) {
  pthread_once(&crc64_once, crc64_init);
  while (len >= 8) {
    uint64_t w = 0;
    for (int i = 7; i >= 0; i--) w = w << 8 | p[i]; /* little-endian load, any alignment */
    c ^= w;
    c = crc64_tab[7][c & 0xff] ^ crc64_tab[6][(c >> 8) & 0xff] ^ crc64_tab[5][(c >> 16) & 0xff] ^
        crc64_tab[4][(c >> 24) & 0xff] ^ crc64_tab[3][(c >> 32) & 0xff] ^
        crc64_tab[2][(c >> 40) & 0xff] ^ crc64_tab[1][(c >> 48) & 0xff] ^ crc64_tab[0][c >> 56];
    p += 8;
    len -= 8;
  }
  while (len--) c = crc64_tab[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return c;
}

/* ---- names ------------------------------------------------------------------------------- */

static const struct {
  const char *name, *header;
} algs[] = {
    [LL_CK_NONE] = {"", ""},
    [LL_CK_CRC32] = {"CRC32", "x-amz-checksum-crc32"},
    [LL_CK_CRC32C] = {"CRC32C", "x-amz-checksum-crc32c"},
    [LL_CK_CRC64NVME] = {"CRC64NVME", "x-amz-checksum-crc64nvme"},
    [LL_CK_SHA1] = {"SHA1", "x-amz-checksum-sha1"},
    [LL_CK_SHA256] = {"SHA256", "x-amz-checksum-sha256"},
};
#define NALGS (sizeof algs / sizeof algs[0])

static bool ieq(const char *a, size_t alen, const char *b) {
  size_t blen = strlen(b);
  if (alen != blen) return false;
  for (size_t i = 0; i < alen; i++) {
    unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
    if (x >= 'A' && x <= 'Z') x = (unsigned char)(x + 32);
    if (y >= 'A' && y <= 'Z') y = (unsigned char)(y + 32);
    if (x != y) return false;
  }
  return true;
}

ll_ck_alg_t ll_checksum_alg(const char *name, size_t len) {
  for (size_t a = 1; a < NALGS; a++)
    if (ieq(name, len, algs[a].name)) return (ll_ck_alg_t)a;
  return LL_CK_NONE;
}

ll_ck_alg_t ll_checksum_header_alg(const char *header, size_t len) {
  for (size_t a = 1; a < NALGS; a++)
    if (ieq(header, len, algs[a].header)) return (ll_ck_alg_t)a;
  return LL_CK_NONE;
}

const char *ll_checksum_name(ll_ck_alg_t alg) {
  return (size_t)alg < NALGS ? algs[alg].name : "";
}

const char *ll_checksum_header(ll_ck_alg_t alg) {
  return (size_t)alg < NALGS ? algs[alg].header : "";
}

/* ---- incremental checksums --------------------------------------------------------------- */

void ll_checksum_init(ll_checksum_t *c, ll_ck_alg_t alg) {
  memset(c, 0, sizeof *c);
  c->alg = alg;
  switch (alg) {
  case LL_CK_CRC32:
  case LL_CK_CRC32C: c->st.crc32 = 0; break;
  case LL_CK_CRC64NVME: c->st.crc64 = ~UINT64_C(0); break;
  case LL_CK_SHA1: SHA1_Init(&c->st.sha1); break;
  case LL_CK_SHA256: SHA256_Init(&c->st.sha256); break;
  default: c->alg = LL_CK_NONE; break;
  }
}

void ll_checksum_update(ll_checksum_t *c, const void *p, size_t len) {
  if (len == 0) return;
  switch (c->alg) {
  case LL_CK_CRC32: c->st.crc32 = (uint32_t)crc32_z(c->st.crc32, p, len); break;
  case LL_CK_CRC32C: c->st.crc32 = ll_crc32c(c->st.crc32, p, len); break;
  case LL_CK_CRC64NVME: c->st.crc64 = crc64_update(c->st.crc64, p, len); break;
  case LL_CK_SHA1: SHA1_Update(&c->st.sha1, p, len); break;
  case LL_CK_SHA256: SHA256_Update(&c->st.sha256, p, len); break;
  default: break;
  }
}

static void put_be(uint8_t *out, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; i--, v >>= 8) out[i] = (uint8_t)v;
}

void ll_checksum_final_b64(ll_checksum_t *c, char out[LL_CK_B64_MAX]) {
  uint8_t d[SHA256_DIGEST_LENGTH];
  size_t n = 0;
  switch (c->alg) {
  case LL_CK_CRC32:
  case LL_CK_CRC32C: put_be(d, c->st.crc32, 4), n = 4; break;
  case LL_CK_CRC64NVME: put_be(d, ~c->st.crc64, 8), n = 8; break;
  case LL_CK_SHA1: SHA1_Final(d, &c->st.sha1), n = SHA_DIGEST_LENGTH; break;
  case LL_CK_SHA256: SHA256_Final(d, &c->st.sha256), n = SHA256_DIGEST_LENGTH; break;
  default: break;
  }
  ll_assert(4 * ((n + 2) / 3) < LL_CK_B64_MAX);
  ll_base64_encode_to(out, d, n);
  c->alg = LL_CK_NONE; /* ended: further updates are ignored */
}

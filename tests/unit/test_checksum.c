/* S3's flexible checksums (src/core/checksum.h).
 *
 * Known answers: the CRC catalogue's check values over "123456789" (CRC-32/ISO-HDLC,
 * CRC-32/ISCSI, CRC-64/NVME), and base64 strings computed independently with python3 (zlib.crc32,
 * hashlib, and a bit-at-a-time CRC for CRC32C and CRC64NVME), which are what S3 shows in
 * x-amz-checksum-* for the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/checksum.h"
#include "test.h"

static const char *b64_of(ll_ck_alg_t alg, const void *p, size_t len, char out[LL_CK_B64_MAX]) {
  ll_checksum_t c;
  ll_checksum_init(&c, alg);
  ll_checksum_update(&c, p, len);
  ll_checksum_final_b64(&c, out);
  return out;
}

#define CHECK_B64(alg, s, want)                       \
  do {                                                \
    char out_[LL_CK_B64_MAX];                         \
    CHECK_STREQ(b64_of(alg, s, strlen(s), out_), want); \
  } while (0)

LL_TEST(checksum_crc_check_values) {
  /* The catalogue's check values, as the big-endian bytes S3 encodes. */
  CHECK_B64(LL_CK_CRC32, "123456789", "y/Q5Jg==");     /* 0xCBF43926 */
  CHECK_B64(LL_CK_CRC32C, "123456789", "4waSgw==");    /* 0xE3069283 */
  CHECK_B64(LL_CK_CRC64NVME, "123456789", "rosUhgp5mIg="); /* 0xAE8B14860A799888 */
  CHECK_INTEQ(ll_crc32c(0, "123456789", 9), 0xE3069283u);
}

LL_TEST(checksum_known_answers_as_s3_shows_them) {
  CHECK_B64(LL_CK_CRC32, "", "AAAAAA==");
  CHECK_B64(LL_CK_CRC32C, "", "AAAAAA==");
  CHECK_B64(LL_CK_CRC64NVME, "", "AAAAAAAAAAA=");
  CHECK_B64(LL_CK_SHA1, "", "2jmj7l5rSw0yVb/vlWAYkK/YBwk=");
  CHECK_B64(LL_CK_SHA256, "", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");

  CHECK_B64(LL_CK_CRC32, "Hello World", "ShexVg==");
  CHECK_B64(LL_CK_CRC32C, "Hello World", "aR2qLw==");
  CHECK_B64(LL_CK_CRC64NVME, "Hello World", "ZZYyy35L4mE=");
  CHECK_B64(LL_CK_SHA1, "Hello World", "Ck1VqNd45QIvq3AZd8XYQLvEhtA=");
  CHECK_B64(LL_CK_SHA256, "Hello World", "pZGm1Av0IEBKARczz7exkNYsZb8LzaMrV7J32a2fFG4=");

  const char *fox = "The quick brown fox jumps over the lazy dog";
  CHECK_B64(LL_CK_CRC32, fox, "QU+jOQ==");
  CHECK_B64(LL_CK_CRC32C, fox, "ImIEBA==");
  CHECK_B64(LL_CK_CRC64NVME, fox, "12xUBUlUwUM=");
  CHECK_B64(LL_CK_SHA1, fox, "L9ThxnotKPzthJ7hu3bnORuT6xI=");
  CHECK_B64(LL_CK_SHA256, fox, "16j7swfXgJRpypq8sAguT41WUeRtPNt2LQLQvzfJ5ZI=");

  /* 66560 'a': the object of AWS's sigv4-streaming examples (its trailer example sends
   * x-amz-checksum-crc32c:sOO8/Q==). */
  size_t n = 66560;
  char *a = malloc(n);
  memset(a, 'a', n);
  char out[LL_CK_B64_MAX];
  CHECK_STREQ(b64_of(LL_CK_CRC32, a, n, out), "sK4Y7A==");
  CHECK_STREQ(b64_of(LL_CK_CRC32C, a, n, out), "sOO8/Q==");
  CHECK_STREQ(b64_of(LL_CK_CRC64NVME, a, n, out), "pRf+emrnL+A=");
  CHECK_STREQ(b64_of(LL_CK_SHA1, a, n, out), "qOlv5ixdz2jRNhlSLmgH6iaTKRI=");
  CHECK_STREQ(b64_of(LL_CK_SHA256, a, n, out), "zWnTiHxq+SZLEA17dgIzEzXZqn4718MM3G1vS/uzyIg=");
  free(a);
}

/* Splitting the input anywhere, and in many pieces, gives the one-shot result. */
LL_TEST(checksum_incremental_equals_one_shot) {
  unsigned char buf[300];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)(i * 131u + 7u);
  for (ll_ck_alg_t alg = LL_CK_CRC32; alg <= LL_CK_SHA256; alg++) {
    char whole[LL_CK_B64_MAX], part[LL_CK_B64_MAX];
    b64_of(alg, buf, sizeof buf, whole);
    for (size_t at = 0; at <= sizeof buf; at++) {
      ll_checksum_t c;
      ll_checksum_init(&c, alg);
      ll_checksum_update(&c, buf, at);
      ll_checksum_update(&c, buf + at, sizeof buf - at);
      ll_checksum_final_b64(&c, part);
      CHECK_STREQ(part, whole);
    }
    /* Unaligned pieces of every length from 1 to 13, starting at an odd address. */
    for (size_t step = 1; step <= 13; step++) {
      ll_checksum_t c;
      ll_checksum_init(&c, alg);
      ll_checksum_update(&c, buf, 1);
      for (size_t off = 1; off < sizeof buf; off += step)
        ll_checksum_update(&c, buf + off, off + step <= sizeof buf ? step : sizeof buf - off);
      ll_checksum_final_b64(&c, part);
      CHECK_STREQ(part, whole);
    }
  }
}

LL_TEST(checksum_names_and_headers) {
  CHECK_INTEQ(ll_checksum_alg("CRC32", 5), LL_CK_CRC32);
  CHECK_INTEQ(ll_checksum_alg("crc32c", 6), LL_CK_CRC32C);
  CHECK_INTEQ(ll_checksum_alg("Crc64Nvme", 9), LL_CK_CRC64NVME);
  CHECK_INTEQ(ll_checksum_alg("sha1", 4), LL_CK_SHA1);
  CHECK_INTEQ(ll_checksum_alg("SHA256", 6), LL_CK_SHA256);
  CHECK_INTEQ(ll_checksum_alg("SHA256x", 6), LL_CK_SHA256); /* by length, not NUL */
  CHECK_INTEQ(ll_checksum_alg("SHA256", 5), LL_CK_NONE);
  CHECK_INTEQ(ll_checksum_alg("MD5", 3), LL_CK_NONE);
  CHECK_INTEQ(ll_checksum_alg("", 0), LL_CK_NONE);
  CHECK_INTEQ(ll_checksum_alg(NULL, 0), LL_CK_NONE);

  CHECK_INTEQ(ll_checksum_header_alg("x-amz-checksum-crc32", 20), LL_CK_CRC32);
  CHECK_INTEQ(ll_checksum_header_alg("X-Amz-Checksum-CRC32C", 21), LL_CK_CRC32C);
  CHECK_INTEQ(ll_checksum_header_alg("x-amz-checksum-crc64nvme", 24), LL_CK_CRC64NVME);
  CHECK_INTEQ(ll_checksum_header_alg("x-amz-checksum-sha1", 19), LL_CK_SHA1);
  CHECK_INTEQ(ll_checksum_header_alg("x-amz-checksum-sha256", 21), LL_CK_SHA256);
  CHECK_INTEQ(ll_checksum_header_alg("x-amz-checksum-mode", 19), LL_CK_NONE);
  CHECK_INTEQ(ll_checksum_header_alg("x-amz-checksum-type", 19), LL_CK_NONE);
  CHECK_INTEQ(ll_checksum_header_alg("x-amz-checksum-", 15), LL_CK_NONE);
  CHECK_INTEQ(ll_checksum_header_alg("crc32", 5), LL_CK_NONE);

  for (ll_ck_alg_t alg = LL_CK_CRC32; alg <= LL_CK_SHA256; alg++) {
    const char *name = ll_checksum_name(alg), *header = ll_checksum_header(alg);
    CHECK_INTEQ(ll_checksum_alg(name, strlen(name)), alg);
    CHECK_INTEQ(ll_checksum_header_alg(header, strlen(header)), alg);
  }
  CHECK_STREQ(ll_checksum_name(LL_CK_CRC64NVME), "CRC64NVME");
  CHECK_STREQ(ll_checksum_header(LL_CK_SHA256), "x-amz-checksum-sha256");
  CHECK_STREQ(ll_checksum_name(LL_CK_NONE), "");
  CHECK_STREQ(ll_checksum_header(LL_CK_NONE), "");
}

/* LL_CK_NONE is a valid, empty checksum; a finished one ignores further input. */
LL_TEST(checksum_none_and_after_final) {
  char out[LL_CK_B64_MAX];
  CHECK_STREQ(b64_of(LL_CK_NONE, "abc", 3, out), "");
  ll_checksum_t c;
  ll_checksum_init(&c, (ll_ck_alg_t)99);
  CHECK_INTEQ(c.alg, LL_CK_NONE);
  ll_checksum_init(&c, LL_CK_CRC32);
  ll_checksum_update(&c, "Hello World", 11);
  ll_checksum_update(&c, NULL, 0);
  ll_checksum_final_b64(&c, out);
  CHECK_STREQ(out, "ShexVg==");
  ll_checksum_update(&c, "more", 4);
  ll_checksum_final_b64(&c, out);
  CHECK_STREQ(out, "");
}

/* ll_crc32c continues from a previous result (the stream log's use). */
LL_TEST(checksum_crc32c_continues) {
  CHECK_INTEQ(ll_crc32c(ll_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
  CHECK_INTEQ(ll_crc32c(0, "", 0), 0);
}

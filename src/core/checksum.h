/* The payload checksums S3 supports ("flexible checksums": x-amz-checksum-crc32, -crc32c,
 * -crc64nvme, -sha1, -sha256), computed incrementally, and the CRC32C the stream log's records
 * use.
 *
 *   ll_checksum_t c; ll_checksum_init(&c, ll_checksum_header_alg(name, name_len));
 *   ll_checksum_update(&c, p, len); ...            // as the body arrives, in any pieces
 *   char b64[LL_CK_B64_MAX]; ll_checksum_final_b64(&c, b64);   // compare with the header
 *
 * Every algorithm gives the same result however the input is split across updates. The values
 * are S3's: base64 of the digest in big-endian byte order (a CRC32 of 0xCBF43926 is
 * "y/Q5Jg=="), the form x-amz-checksum-* headers and trailers carry.
 *
 *  - CRC32: zlib's crc32 (ISO-HDLC, reflected polynomial 0xEDB88320).
 *  - CRC32C: Castagnoli (reflected 0x82F63B78), with the SSE4.2 crc32 instruction when the CPU
 *    has it, else slicing-by-8.
 *  - CRC64NVME: the NVMe CRC-64 (reflected polynomial 0x9a6c9329ac4bc9b5, initial value and
 *    final xor all ones), slicing-by-8.
 *  - SHA1, SHA256: OpenSSL's SHA1_* / SHA256_* (no allocation, so no free function).
 *
 * The state holds OpenSSL's context types, so this header includes <openssl/sha.h>: a file
 * that calls the deprecated SHA*_ functions itself defines OPENSSL_SUPPRESS_DEPRECATED before
 * its first include (see src/auth/sigv4.c). */
#ifndef LL_CORE_CHECKSUM_H
#define LL_CORE_CHECKSUM_H

#include <openssl/sha.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
  LL_CK_NONE = 0,
  LL_CK_CRC32,
  LL_CK_CRC32C,
  LL_CK_CRC64NVME,
  LL_CK_SHA1,
  LL_CK_SHA256,
} ll_ck_alg_t;

typedef struct ll_checksum {
  ll_ck_alg_t alg;
  union { /* private: the running state of alg */
    uint32_t crc32;
    uint64_t crc64;
    SHA_CTX sha1;
    SHA256_CTX sha256;
  } st;
} ll_checksum_t;

/* The algorithm an S3 name stands for ("CRC32", "crc32c", "CRC64NVME", "SHA1", "SHA256";
 * case-insensitive, as x-amz-sdk-checksum-algorithm and x-amz-checksum-algorithm carry it);
 * LL_CK_NONE when the name is none of them. name need not be NUL-terminated. */
ll_ck_alg_t ll_checksum_alg(const char *name, size_t len);
/* The algorithm a header (or trailer) name stands for: "x-amz-checksum-crc32" -> LL_CK_CRC32,
 * case-insensitive; LL_CK_NONE for any other name (x-amz-checksum-mode, -type, ... too). */
ll_ck_alg_t ll_checksum_header_alg(const char *header, size_t len);
/* S3's name ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256") and header name
 * ("x-amz-checksum-crc32", ...) of alg; static strings, "" for LL_CK_NONE. */
const char *ll_checksum_name(ll_ck_alg_t alg);
const char *ll_checksum_header(ll_ck_alg_t alg);

/* Starts a checksum of alg (LL_CK_NONE: updates are ignored and the result is ""). */
void ll_checksum_init(ll_checksum_t *c, ll_ck_alg_t alg);
/* Adds p[0..len) (p may be NULL when len is 0). */
void ll_checksum_update(ll_checksum_t *c, const void *p, size_t len);

/* Longest base64 result plus its NUL: SHA-256's 32 bytes are 44 characters. */
#define LL_CK_B64_MAX 48
/* Writes the base64 of the big-endian digest into out (NUL-terminated). Ends the checksum:
 * call ll_checksum_init again before reusing c. */
void ll_checksum_final_b64(ll_checksum_t *c, char out[LL_CK_B64_MAX]);

/* CRC32C (Castagnoli) of buf[0..len) continuing from crc (0 to start; pass a previous result
 * to continue it), without S3's encoding: the stream log's record checksum. */
uint32_t ll_crc32c(uint32_t crc, const void *buf, size_t len);

#endif

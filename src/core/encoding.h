/* Byte encodings and digests used across the wire protocols (OpenSSL libcrypto underneath). */
#ifndef LL_CORE_ENCODING_H
#define LL_CORE_ENCODING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Lower-case hex of p[0..len) into out (2*len+1 bytes, NUL-terminated). */
void ll_hex(const void *p, size_t len, char *out);
/* SHA-256 digest (32 bytes) and its lower-case hex (65 bytes with NUL). */
void ll_sha256(const void *p, size_t len, uint8_t out[32]);
void ll_sha256_hex(const void *p, size_t len, char out[65]);
/* HMAC-SHA256 of msg with key into out (32 bytes). */
void ll_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
                    uint8_t out[32]);

/* Standard base64 (with padding). Returns a heap string the caller frees. */
char *ll_base64_encode(const void *p, size_t len);
/* The same into out (at least 4 * ((len + 2) / 3) + 1 bytes, NUL-terminated); its length. */
size_t ll_base64_encode_to(char *out, const void *p, size_t len);
/* Decodes standard base64 (whitespace not allowed, padding required when len % 4 != 0 is
 * rejected). Returns a heap buffer the caller frees and its length in *out_len, or NULL when
 * the input is not valid base64. */
uint8_t *ll_base64_decode(const char *s, size_t len, size_t *out_len);
/* The same into out (at least len / 4 * 3 bytes); false when s is not valid base64. */
bool ll_base64_decode_to(const char *s, size_t len, uint8_t *out, size_t *out_len);

#endif

#include "core/random.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "core/encoding.h"
#include "core/mem.h"

/* Small draws (ids) come from a pool refilled 4 KiB at a time: one getrandom per ~150 ids
 * instead of one or more per id. Large draws go straight to the kernel. */
static uint8_t pool[4096];
static size_t pool_left;

static void fill(uint8_t *b, size_t len) {
  while (len) {
    ssize_t n = getrandom(b, len, 0);
    if (n < 0 && errno == EINTR) continue;
    ll_assert(n > 0);
    b += n;
    len -= (size_t)n;
  }
}

void ll_random_bytes(void *p, size_t len) {
  if (len > 64) {
    fill(p, len);
    return;
  }
  if (pool_left < len) {
    fill(pool, sizeof pool);
    pool_left = sizeof pool;
  }
  memcpy(p, pool + sizeof pool - pool_left, len);
  memset(pool + sizeof pool - pool_left, 0, len); /* a byte is never handed out twice */
  pool_left -= len;
}

void ll_uuid4(char out[37]) {
  uint8_t b[16];
  ll_random_bytes(b, sizeof b);
  b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
  b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
  snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
           b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
           b[15]);
}

void ll_random_hex(char *out, size_t nbytes) {
  uint8_t b[64];
  ll_assert(nbytes <= sizeof b);
  ll_random_bytes(b, nbytes);
  ll_hex(b, nbytes, out);
}

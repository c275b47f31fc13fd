/* Identifiers from the kernel's CSPRNG (getrandom). */
#ifndef LL_CORE_RANDOM_H
#define LL_CORE_RANDOM_H

#include <stddef.h>

/* Fills p with random bytes; aborts if the kernel cannot supply them. Not thread-safe (the
 * daemon draws on its loop thread only). */
void ll_random_bytes(void *p, size_t len);
/* RFC 4122 version-4 UUID "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" into out[37]. */
void ll_uuid4(char out[37]);
/* n random bytes as 2n lower-case hex characters into out[2n+1]. */
void ll_random_hex(char *out, size_t nbytes);

#endif

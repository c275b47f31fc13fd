/* Temporary credentials minted per function instance: the daemon hands each instance an
 * access key, secret and session token (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN) for its execution role, and checks the calls the function makes against
 * the role's policy (src/auth/policy.h). The table is single-threaded (the event loop). */
#ifndef LL_AUTH_CREDS_H
#define LL_AUTH_CREDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/policy.h"

typedef struct ll_creds ll_creds_t; /* the daemon's table of live temporary credentials */

typedef struct ll_temp_cred {
  char access_key[21];  /* "ASIA" + 16 chars [A-Z2-7] */
  char secret[41];      /* 40 chars [A-Za-z0-9+/] */
  char *session_token;  /* owned: 344 chars of base64 over 256 random bytes, opaque */
  char *role_arn;       /* owned: "arn:aws:iam::000000000000:role/NAME" */
  char *session_name;   /* owned: the function name, for "assumed-role/ROLE/SESSION" */
  ll_policy_t *policy;  /* a reference (may be NULL when minted without one) */
  uint64_t expires_ms;  /* absolute, clock of the caller; live while now_ms < expires_ms */
} ll_temp_cred_t;

/* An empty table. Never NULL. */
ll_creds_t *ll_creds_new(void);
/* Frees the table and every credential in it (their policy references dropped). NULL-safe. */
void ll_creds_free(ll_creds_t *c);
/* Mints a new credential for role_arn/session with policy (a reference taken; NULL allowed),
 * valid until now_ms + ttl_ms (saturating). The access key is unique in the table; all random
 * material comes from the kernel's CSPRNG (src/core/random.h). Returns it, owned by c and
 * valid until revoked, swept or the table freed. Never NULL. */
const ll_temp_cred_t *ll_creds_mint(ll_creds_t *c, const char *role_arn, const char *session,
                                    ll_policy_t *policy, uint64_t ttl_ms, uint64_t now_ms);
/* The live credential with this access key, or NULL (unknown, NULL, or expired at now_ms).
 * O(1) average: a hash table. An expired credential stays in the table until swept. */
const ll_temp_cred_t *ll_creds_find(const ll_creds_t *c, const char *access_key,
                                    uint64_t now_ms);
/* Forgets the credential (an instance ended), freeing it: pointers to it become invalid.
 * No-op when unknown or NULL. */
void ll_creds_revoke(ll_creds_t *c, const char *access_key);
/* Frees every credential expired at now_ms; returns how many. */
size_t ll_creds_sweep(ll_creds_t *c, uint64_t now_ms);
/* How many credentials the table holds (expired ones not yet swept included). */
size_t ll_creds_count(const ll_creds_t *c);
/* Constant-time comparison (CRYPTO_memcmp) of a presented session token with the
 * credential's; false when the lengths differ or token is NULL. */
bool ll_creds_token_equal(const ll_temp_cred_t *cred, const char *token);
/* The assumed-role ARN of a credential, "arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION", into
 * buf[0..sz) (truncated to fit, always NUL-terminated when sz > 0): ACCOUNT is the role ARN's
 * account (000000000000 when it has none), ROLE the last '/'-segment of its role name (a role
 * path is dropped, as in AWS). */
void ll_creds_identity_arn(const ll_temp_cred_t *cred, char *buf, size_t sz);

#endif

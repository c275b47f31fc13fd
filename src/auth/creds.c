/* The table of temporary credentials (contract in creds.h): a chained hash table keyed by
 * access key, doubled when it averages more than one entry per bucket. Access keys are random,
 * so a plain FNV-1a hash spreads them; lookups by a client-chosen key only probe one chain. */
#include "auth/creds.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/encoding.h"
#include "core/mem.h"
#include "core/random.h"

typedef struct entry {
  ll_temp_cred_t cred;
  struct entry *next;
} entry_t;

struct ll_creds {
  entry_t **buckets; /* owned, nbuckets (a power of two) chains */
  size_t nbuckets;
  size_t count;
};

#define TOKEN_BYTES 256

static size_t hash_key(const char *k) {
  uint64_t h = 1469598103934665603ull;
  for (; *k; k++) h = (h ^ (unsigned char)*k) * 1099511628211ull;
  return (size_t)(h ^ (h >> 29));
}

ll_creds_t *ll_creds_new(void) {
  ll_creds_t *c = ll_calloc(1, sizeof *c);
  c->nbuckets = 64;
  c->buckets = ll_calloc(c->nbuckets, sizeof(entry_t *));
  return c;
}

static void entry_free(entry_t *e) {
  OPENSSL_cleanse(e->cred.secret, sizeof e->cred.secret);
  OPENSSL_cleanse(e->cred.session_token, strlen(e->cred.session_token));
  free(e->cred.session_token);
  free(e->cred.role_arn);
  free(e->cred.session_name);
  ll_policy_unref(e->cred.policy);
  free(e);
}

void ll_creds_free(ll_creds_t *c) {
  if (!c) return;
  for (size_t i = 0; i < c->nbuckets; i++) {
    for (entry_t *e = c->buckets[i], *next; e; e = next) {
      next = e->next;
      entry_free(e);
    }
  }
  free(c->buckets);
  free(c);
}

static entry_t **slot(const ll_creds_t *c, const char *key) {
  entry_t **pp = &c->buckets[hash_key(key) & (c->nbuckets - 1)];
  while (*pp && strcmp((*pp)->cred.access_key, key) != 0) pp = &(*pp)->next;
  return pp;
}

static void grow(ll_creds_t *c) {
  size_t n = c->nbuckets * 2;
  entry_t **b = ll_calloc(n, sizeof(entry_t *));
  for (size_t i = 0; i < c->nbuckets; i++) {
    for (entry_t *e = c->buckets[i], *next; e; e = next) {
      next = e->next;
      size_t h = hash_key(e->cred.access_key) & (n - 1);
      e->next = b[h];
      b[h] = e;
    }
  }
  free(c->buckets);
  c->buckets = b;
  c->nbuckets = n;
}

/* len characters drawn uniformly from alphabet (whose size divides 256, so no bias). */
static void random_chars(char *out, size_t len, const char *alphabet, unsigned mask) {
  uint8_t b[64];
  ll_assert(len <= sizeof b);
  ll_random_bytes(b, len);
  for (size_t i = 0; i < len; i++) out[i] = alphabet[b[i] & mask];
  out[len] = '\0';
}

static const char B32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

const ll_temp_cred_t *ll_creds_mint(ll_creds_t *c, const char *role_arn, const char *session,
                                    ll_policy_t *policy, uint64_t ttl_ms, uint64_t now_ms) {
  ll_assert(role_arn && session);
  entry_t *e = ll_calloc(1, sizeof *e);
  entry_t **pp;
  do { /* 80 random bits: a collision is astronomically rare, but never hand out a duplicate */
    memcpy(e->cred.access_key, "ASIA", 4);
    random_chars(e->cred.access_key + 4, 16, B32, 31);
    pp = slot(c, e->cred.access_key);
  } while (*pp);
  random_chars(e->cred.secret, 40, B64, 63);
  uint8_t tok[TOKEN_BYTES];
  ll_random_bytes(tok, sizeof tok);
  e->cred.session_token = ll_base64_encode(tok, sizeof tok);
  OPENSSL_cleanse(tok, sizeof tok);
  e->cred.role_arn = ll_strdup(role_arn);
  e->cred.session_name = ll_strdup(session);
  e->cred.policy = ll_policy_ref(policy);
  e->cred.expires_ms = ttl_ms > UINT64_MAX - now_ms ? UINT64_MAX : now_ms + ttl_ms;
  *pp = e;
  c->count++;
  if (c->count > c->nbuckets) grow(c);
  return &e->cred;
}

const ll_temp_cred_t *ll_creds_find(const ll_creds_t *c, const char *access_key,
                                    uint64_t now_ms) {
  if (!access_key) return NULL;
  entry_t *e = *slot(c, access_key);
  if (!e || now_ms >= e->cred.expires_ms) return NULL;
  return &e->cred;
}

void ll_creds_revoke(ll_creds_t *c, const char *access_key) {
  if (!access_key) return;
  entry_t **pp = slot(c, access_key), *e = *pp;
  if (!e) return;
  *pp = e->next;
  entry_free(e);
  c->count--;
}

size_t ll_creds_sweep(ll_creds_t *c, uint64_t now_ms) {
  size_t n = 0;
  for (size_t i = 0; i < c->nbuckets; i++) {
    entry_t **pp = &c->buckets[i];
    while (*pp) {
      entry_t *e = *pp;
      if (now_ms >= e->cred.expires_ms) {
        *pp = e->next;
        entry_free(e);
        n++;
      } else {
        pp = &e->next;
      }
    }
  }
  c->count -= n;
  return n;
}

size_t ll_creds_count(const ll_creds_t *c) { return c->count; }

bool ll_creds_token_equal(const ll_temp_cred_t *cred, const char *token) {
  if (!cred || !token) return false;
  size_t n = strlen(cred->session_token);
  if (strlen(token) != n) return false;
  return CRYPTO_memcmp(cred->session_token, token, n) == 0;
}

void ll_creds_identity_arn(const ll_temp_cred_t *cred, char *buf, size_t sz) {
  if (!sz) return;
  /* arn:aws:iam::ACCOUNT:role/PATH/NAME: the account is the fifth ':'-field. */
  const char *r = cred->role_arn, *acct = "000000000000", *role = r;
  size_t acct_len = strlen(acct);
  const char *f = r;
  for (int i = 0; i < 4 && f; i++) {
    f = strchr(f, ':');
    if (f) f++;
  }
  if (f) {
    const char *end = strchr(f, ':');
    if (end && end > f) {
      acct = f;
      acct_len = (size_t)(end - f);
    }
    if (end) role = end + 1;
  }
  if (strncmp(role, "role/", 5) == 0) role += 5;
  const char *slash = strrchr(role, '/');
  if (slash) role = slash + 1;
  snprintf(buf, sz, "arn:aws:sts::%.*s:assumed-role/%s/%s", (int)acct_len, acct, role,
           cred->session_name);
}

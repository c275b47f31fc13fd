/* Temporary credentials (src/auth/creds.c). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "auth/creds.h"
#include "core/mem.h"
#include "test.h"

static const char *ROLE = "arn:aws:iam::000000000000:role/ingest-role";

static bool all_in(const char *s, const char *alphabet) { return strspn(s, alphabet) == strlen(s); }

LL_TEST(creds_mint_find_well_formed) {
  ll_creds_t *c = ll_creds_new();
  CHECK_INTEQ(ll_creds_count(c), 0);
  const ll_temp_cred_t *k = ll_creds_mint(c, ROLE, "ingest", NULL, 1000, 5000);
  CHECK(k);
  CHECK_INTEQ(strlen(k->access_key), 20);
  CHECK(strncmp(k->access_key, "ASIA", 4) == 0);
  CHECK(all_in(k->access_key + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"));
  CHECK_INTEQ(strlen(k->secret), 40);
  CHECK(all_in(k->secret, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"));
  CHECK(strlen(k->session_token) >= 300);
  CHECK(all_in(k->session_token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="));
  CHECK_STREQ(k->role_arn, ROLE);
  CHECK_STREQ(k->session_name, "ingest");
  CHECK_INTEQ(k->expires_ms, 6000);
  CHECK(ll_creds_find(c, k->access_key, 5000) == k);
  CHECK(ll_creds_find(c, k->access_key, 5999) == k);
  CHECK(ll_creds_find(c, k->access_key, 6000) == NULL); /* expired */
  CHECK(ll_creds_find(c, "ASIAAAAAAAAAAAAAAAAA", 5000) == NULL);
  CHECK(ll_creds_find(c, NULL, 5000) == NULL);
  CHECK(ll_creds_find(c, "", 5000) == NULL);
  CHECK_INTEQ(ll_creds_count(c), 1);
  /* A huge ttl saturates. */
  const ll_temp_cred_t *forever = ll_creds_mint(c, ROLE, "f", NULL, UINT64_MAX, 10);
  CHECK(forever->expires_ms == UINT64_MAX);
  ll_creds_free(c);
  ll_creds_free(NULL);
}

LL_TEST(creds_unique_many_and_growth) {
  ll_creds_t *c = ll_creds_new();
  enum { N = 2000 };
  char (*keys)[21] = ll_malloc(N * sizeof *keys);
  char **tokens = ll_malloc(N * sizeof *tokens);
  const ll_temp_cred_t **creds = ll_malloc(N * sizeof *creds);
  for (int i = 0; i < N; i++) {
    creds[i] = ll_creds_mint(c, ROLE, "fn", NULL, 60000, 0);
    memcpy(keys[i], creds[i]->access_key, 21);
    tokens[i] = creds[i]->session_token;
  }
  CHECK_INTEQ(ll_creds_count(c), N);
  for (int i = 0; i < N; i++) {
    CHECK(ll_creds_find(c, keys[i], 1) == creds[i]); /* growth kept entries in place */
    for (int j = i + 1; j < i + 50 && j < N; j++) {
      CHECK(strcmp(keys[i], keys[j]) != 0);
      CHECK(strcmp(tokens[i], tokens[j]) != 0);
      CHECK(strcmp(creds[i]->secret, creds[j]->secret) != 0);
    }
  }
  for (int i = 0; i < N; i += 2) ll_creds_revoke(c, keys[i]);
  CHECK_INTEQ(ll_creds_count(c), N / 2);
  for (int i = 0; i < N; i++) CHECK((ll_creds_find(c, keys[i], 1) != NULL) == (i % 2 == 1));
  free(keys);
  free(tokens);
  free(creds);
  ll_creds_free(c);
}

LL_TEST(creds_revoke_and_sweep) {
  ll_creds_t *c = ll_creds_new();
  json_t *docs = json_loads("[{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
                            "\"Action\":\"dynamodb:PutItem\",\"Resource\":\"*\"}}]", 0, NULL);
  ll_policy_t *pol;
  char why[256];
  CHECK_INTEQ(ll_policy_parse(docs, &pol, why, sizeof why), 0);
  json_decref(docs);
  const ll_temp_cred_t *a = ll_creds_mint(c, ROLE, "a", pol, 100, 1000);
  const ll_temp_cred_t *b = ll_creds_mint(c, ROLE, "b", pol, 200, 1000);
  const ll_temp_cred_t *d = ll_creds_mint(c, ROLE, "d", pol, 300, 1000);
  ll_policy_unref(pol); /* the credentials hold their own references */
  CHECK(a->policy == pol && b->policy == pol);
  CHECK_INTEQ(ll_policy_eval(d->policy, "dynamodb:PutItem", "arn:aws:dynamodb:r:0:table/t", NULL, NULL),
              LL_POLICY_ALLOW);
  char bkey[21], dkey[21];
  memcpy(bkey, b->access_key, sizeof bkey);
  memcpy(dkey, d->access_key, sizeof dkey);
  ll_creds_revoke(c, a->access_key);
  ll_creds_revoke(c, "ASIAUNKNOWNUNKNOWN22");
  ll_creds_revoke(c, NULL);
  CHECK_INTEQ(ll_creds_count(c), 2);
  CHECK_INTEQ(ll_creds_sweep(c, 1100), 0);
  CHECK_INTEQ(ll_creds_sweep(c, 1200), 1); /* b expires at 1200 */
  CHECK(ll_creds_find(c, bkey, 1000) == NULL);
  CHECK(ll_creds_find(c, dkey, 1000) != NULL);
  CHECK_INTEQ(ll_creds_count(c), 1);
  CHECK(ll_creds_find(c, dkey, 1300) == NULL); /* expired, still held until swept */
  CHECK_INTEQ(ll_creds_count(c), 1);
  CHECK_INTEQ(ll_creds_sweep(c, 5000), 1);
  CHECK_INTEQ(ll_creds_count(c), 0);
  CHECK_INTEQ(ll_creds_sweep(c, 5000), 0);
  ll_creds_free(c);
}

LL_TEST(creds_token_compare) {
  ll_creds_t *c = ll_creds_new();
  const ll_temp_cred_t *k = ll_creds_mint(c, ROLE, "s", NULL, 1000, 0);
  CHECK(ll_creds_token_equal(k, k->session_token));
  char *copy = ll_strdup(k->session_token);
  CHECK(ll_creds_token_equal(k, copy));
  copy[100] = copy[100] == 'A' ? 'B' : 'A';
  CHECK(!ll_creds_token_equal(k, copy));
  copy[strlen(copy) - 1] = '\0';
  CHECK(!ll_creds_token_equal(k, copy));
  free(copy);
  CHECK(!ll_creds_token_equal(k, NULL));
  CHECK(!ll_creds_token_equal(k, ""));
  CHECK(!ll_creds_token_equal(NULL, "x"));
  ll_creds_free(c);
}

LL_TEST(creds_identity_arn) {
  ll_creds_t *c = ll_creds_new();
  char buf[256];
  const ll_temp_cred_t *k = ll_creds_mint(c, ROLE, "ingest", NULL, 1000, 0);
  ll_creds_identity_arn(k, buf, sizeof buf);
  CHECK_STREQ(buf, "arn:aws:sts::000000000000:assumed-role/ingest-role/ingest");
  k = ll_creds_mint(c, "arn:aws:iam::123456789012:role/service-role/my-role", "fn", NULL, 1000, 0);
  ll_creds_identity_arn(k, buf, sizeof buf);
  CHECK_STREQ(buf, "arn:aws:sts::123456789012:assumed-role/my-role/fn");
  k = ll_creds_mint(c, "weird", "fn", NULL, 1000, 0);
  ll_creds_identity_arn(k, buf, sizeof buf);
  CHECK_STREQ(buf, "arn:aws:sts::000000000000:assumed-role/weird/fn");
  char small[10];
  ll_creds_identity_arn(k, small, sizeof small);
  CHECK_STREQ(small, "arn:aws:s");
  ll_creds_free(c);
}

/* The table store (src/table/table.c): tables, items by encoded key, queries over sort-key
 * ranges in both directions, scans by segment with a start key, transactions, reopening. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/mem.h"
#include "table/table.h"
#include "test.h"

static char *tb_tmp(void) {
  char *d = ll_strdup("/tmp/ll-table-test-XXXXXX");
  CHECK(mkdtemp(d));
  return d;
}

static void tb_rm(const char *dir) {
  char *cmd = ll_sprintf("rm -rf '%s'", dir);
  CHECK(system(cmd) == 0);
  free(cmd);
}

static ll_item_key_t key(const char *hk, const char *rk) {
  return (ll_item_key_t){(const uint8_t *)hk, strlen(hk), (const uint8_t *)rk, rk ? strlen(rk) : 0};
}

static void put(ll_tables_t *t, int64_t id, const char *hk, const char *rk) {
  ll_err_t err = LL_ERR_INIT;
  json_t *item = json_pack("{s:{s:s},s:{s:s}}", "pk", "S", hk, "sk", "S", rk ? rk : "");
  ll_item_key_t k = key(hk, rk);
  CHECK_INTEQ(ll_item_put(t, id, &k, item, &err), 0);
  json_decref(item);
}

typedef struct seen {
  char keys[64][16];
  size_t n;
  size_t stop_after;
} seen_t;

static bool collect(void *ud, const ll_item_key_t *k, json_t *item) {
  seen_t *s = ud;
  snprintf(s->keys[s->n++], 16, "%.*s", (int)k->rk_len, (const char *)k->rk);
  json_decref(item);
  return s->n != s->stop_after;
}

static ll_tables_t *open_with_table(const char *dir, int64_t *id) {
  ll_tables_t *t;
  ll_err_t err = LL_ERR_INIT;
  CHECK_INTEQ(ll_tables_open(dir, &t, &err), 0);
  ll_table_info_t info = {.name = "t", .hash = "pk", .range = "sk", .hash_type = 'S', .range_type = 'S'};
  info.desc = json_pack("{s:s}", "TableName", "t");
  CHECK_INTEQ(ll_table_create(t, &info, &err), 0);
  CHECK(ll_table_create(t, &info, &err) < 0 && err.code == LL_TB_EXISTS);
  json_decref(info.desc);
  ll_table_info_t got;
  CHECK_INTEQ(ll_table_get(t, "t", &got, &err), 0);
  CHECK_STREQ(got.hash, "pk");
  CHECK(got.range_type == 'S');
  *id = got.id;
  ll_table_info_free(&got);
  return t;
}

LL_TEST(table_items_query_ranges_both_ways) {
  char *dir = tb_tmp();
  int64_t id;
  ll_tables_t *t = open_with_table(dir, &id);
  ll_err_t err = LL_ERR_INIT;
  const char *rks[] = {"a", "ab", "abc", "b", "ba", "c"};
  for (size_t i = 0; i < 6; i++) put(t, id, "h1", rks[i]);
  put(t, id, "h2", "a");
  json_t *item;
  ll_item_key_t k = key("h1", "ab");
  CHECK_INTEQ(ll_item_get(t, id, &k, &item, &err), 0);
  CHECK(item && strcmp(json_string_value(json_object_get(json_object_get(item, "sk"), "S")), "ab") == 0);
  json_decref(item);
  k = key("h1", "zz");
  CHECK_INTEQ(ll_item_get(t, id, &k, &item, &err), 0);
  CHECK(item == NULL);

  seen_t s = {0};
  ll_item_range_t all = {0};
  CHECK_INTEQ(ll_item_query(t, id, (const uint8_t *)"h1", 2, &all, collect, &s, &err), 0);
  CHECK_INTEQ(s.n, 6);
  CHECK_STREQ(s.keys[0], "a");
  CHECK_STREQ(s.keys[2], "abc"); /* a prefix sorts before what extends it */
  CHECK_STREQ(s.keys[5], "c");
  s = (seen_t){0};
  ll_item_range_t r = {.lo = (const uint8_t *)"ab", .lo_len = 2, .lo_incl = false,
                       .hi = (const uint8_t *)"ba", .hi_len = 2, .hi_incl = true};
  CHECK_INTEQ(ll_item_query(t, id, (const uint8_t *)"h1", 2, &r, collect, &s, &err), 0);
  CHECK_INTEQ(s.n, 3);
  CHECK_STREQ(s.keys[0], "abc");
  CHECK_STREQ(s.keys[2], "ba");
  s = (seen_t){0};
  ll_item_range_t pre = {.prefix = (const uint8_t *)"ab", .prefix_len = 2, .reverse = true};
  CHECK_INTEQ(ll_item_query(t, id, (const uint8_t *)"h1", 2, &pre, collect, &s, &err), 0);
  CHECK_INTEQ(s.n, 2);
  CHECK_STREQ(s.keys[0], "abc");
  CHECK_STREQ(s.keys[1], "ab");
  /* paging: stop after 2, go on after the last one, backwards too */
  s = (seen_t){.stop_after = 2};
  all.reverse = true;
  CHECK_INTEQ(ll_item_query(t, id, (const uint8_t *)"h1", 2, &all, collect, &s, &err), 0);
  CHECK_STREQ(s.keys[1], "ba");
  all.start = (const uint8_t *)"ba";
  all.start_len = 2;
  s = (seen_t){0};
  CHECK_INTEQ(ll_item_query(t, id, (const uint8_t *)"h1", 2, &all, collect, &s, &err), 0);
  CHECK_INTEQ(s.n, 4);
  CHECK_STREQ(s.keys[0], "b");
  k = key("h1", "b");
  CHECK_INTEQ(ll_item_delete(t, id, &k, &err), 0);
  int64_t items, bytes;
  ll_table_counts(t, id, &items, &bytes);
  CHECK_INTEQ(items, 6);
  CHECK(bytes > 0);
  ll_tables_close(t);
  tb_rm(dir);
  free(dir);
}

static bool count_item(void *ud, const ll_item_key_t *k, json_t *item) {
  (*(size_t *)ud)++;
  json_decref(item);
  return true;
}

typedef struct last {
  char hk[16], rk[16];
  size_t n, max;
} last_t;

static bool keep_last(void *ud, const ll_item_key_t *k, json_t *item) {
  last_t *l = ud;
  snprintf(l->hk, sizeof l->hk, "%.*s", (int)k->hk_len, (const char *)k->hk);
  snprintf(l->rk, sizeof l->rk, "%.*s", (int)k->rk_len, (const char *)k->rk);
  json_decref(item);
  return ++l->n < l->max;
}

LL_TEST(table_scans_by_segment_and_pages_without_repeats_then_survive_reopen) {
  char *dir = tb_tmp();
  int64_t id;
  ll_tables_t *t = open_with_table(dir, &id);
  ll_err_t err = LL_ERR_INIT;
  char hk[16];
  for (int i = 0; i < 50; i++) {
    snprintf(hk, sizeof hk, "k%02d", i);
    put(t, id, hk, "x");
    put(t, id, hk, "y");
  }
  size_t total = 0;
  for (int seg = 0; seg < 4; seg++) {
    size_t n = 0;
    CHECK_INTEQ(ll_item_scan(t, id, NULL, seg, 4, count_item, &n, &err), 0);
    CHECK(n > 0 && n % 2 == 0); /* a partition stays in one segment */
    total += n;
  }
  CHECK_INTEQ(total, 100);
  /* pages of 7 from where the last one stopped */
  size_t pages = 0, seen = 0;
  ll_item_key_t start;
  bool first = true;
  last_t l;
  do {
    l = (last_t){.max = 7};
    CHECK_INTEQ(ll_item_scan(t, id, first ? NULL : &start, 0, 1, keep_last, &l, &err), 0);
    seen += l.n;
    pages++;
    static char shk[16], srk[16];
    memcpy(shk, l.hk, 16);
    memcpy(srk, l.rk, 16);
    start = key(shk, srk);
    first = false;
  } while (l.n == 7);
  CHECK_INTEQ(seen, 100);
  CHECK_INTEQ(pages, 15);
  /* a transaction rolled back leaves nothing; a committed one stays */
  CHECK_INTEQ(ll_tables_begin(t, &err), 0);
  put(t, id, "tx", "1");
  ll_tables_rollback(t);
  CHECK_INTEQ(ll_tables_begin(t, &err), 0);
  put(t, id, "tx", "2");
  CHECK_INTEQ(ll_tables_commit(t, &err), 0);
  ll_tables_close(t);
  CHECK_INTEQ(ll_tables_open(dir, &t, &err), 0);
  json_t *item;
  ll_item_key_t k = key("tx", "1");
  CHECK_INTEQ(ll_item_get(t, id, &k, &item, &err), 0);
  CHECK(item == NULL);
  k = key("tx", "2");
  CHECK_INTEQ(ll_item_get(t, id, &k, &item, &err), 0);
  CHECK(item != NULL);
  json_decref(item);
  char **names;
  bool more;
  size_t n = ll_table_list(t, NULL, 10, &names, &more);
  CHECK(n == 1 && !more);
  CHECK_STREQ(names[0], "t");
  free(names[0]);
  free(names);
  CHECK_INTEQ(ll_table_delete(t, "t", &err), 0);
  ll_table_info_t info;
  CHECK(ll_table_get(t, "t", &info, &err) < 0 && err.code == LL_TB_NOT_FOUND);
  ll_tables_close(t);
  tb_rm(dir);
  free(dir);
}

/* The object store (src/objstore/store.h): buckets, streamed writes, ETags, replacement under a
 * reader, listings by prefix and delimiter with continuation, and what open removes after an
 * interrupted upload. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "objstore/store.h"
#include "test.h"

static char *os_tmp(void) {
  char t[] = "/tmp/ll-objstore-test-XXXXXX";
  CHECK(mkdtemp(t) != NULL);
  return strdup(t);
}

static void os_rm(const char *dir) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CHECK(system(cmd) == 0);
}

static void put(ll_objstore_t *os, const char *bucket, const char *key, const char *text) {
  ll_obj_writer_t *w;
  ll_err_t err = LL_ERR_INIT;
  CHECK_INTEQ(ll_obj_begin(os, bucket, key, &w, &err), 0);
  size_t n = strlen(text), half = n / 2; /* in two writes, as a stream */
  CHECK_INTEQ(ll_obj_write(w, text, half, &err), 0);
  CHECK_INTEQ(ll_obj_write(w, text + half, n - half, &err), 0);
  CHECK_INTEQ(ll_obj_commit(w, NULL, NULL, NULL, &err), 0);
}

static char *slurp(ll_objstore_t *os, const char *bucket, const char *key) {
  int fd;
  ll_obj_info_t info;
  ll_err_t err = LL_ERR_INIT;
  CHECK_INTEQ(ll_obj_open(os, bucket, key, &fd, &info, &err), 0);
  char *buf = calloc(1, info.size + 1);
  CHECK_INTEQ(read(fd, buf, info.size), (long long)info.size);
  close(fd);
  ll_obj_info_free(&info);
  return buf;
}

LL_TEST(objstore_buckets_objects_and_etags) {
  char *dir = os_tmp();
  ll_objstore_t *os;
  ll_err_t err = LL_ERR_INIT;
  CHECK_INTEQ(ll_objstore_open(dir, &os, &err), 0);
  CHECK(ll_bucket_name_problem("ab") && ll_bucket_name_problem("Upper") &&
        ll_bucket_name_problem("a..b") && ll_bucket_name_problem("192.168.1.1") &&
        ll_bucket_name_problem("-ab") && !ll_bucket_name_problem("my-bucket.1"));
  CHECK(ll_bucket_create(os, "Bad_Name", NULL, &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_INVALID);
  CHECK_INTEQ(ll_bucket_create(os, "pricing", "us-east-1", &err), 0);
  CHECK(ll_bucket_create(os, "pricing", "us-east-1", &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_EXISTS);
  ll_obj_writer_t *w;
  CHECK(ll_obj_begin(os, "nope", "k", &w, &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_NO_BUCKET);
  CHECK(ll_obj_begin(os, "pricing", "", &w, &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_INVALID);

  CHECK_INTEQ(ll_obj_begin(os, "pricing", "params/1.txt", &w, &err), 0);
  CHECK_INTEQ(ll_obj_write(w, "The quick brown fox jumps over the lazy dog", 43, &err), 0);
  json_t *meta = json_pack("{s:s}", "run", "7");
  ll_obj_info_t info;
  CHECK_INTEQ(ll_obj_commit(w, "text/plain", meta, &info, &err), 0);
  json_decref(meta);
  CHECK_STREQ(info.etag, "\"9e107d9d372bb6826bd81d3542a419d6\""); /* S3's ETag: MD5 */
  CHECK_INTEQ(info.size, 43);
  ll_obj_info_free(&info);
  CHECK_INTEQ(ll_obj_stat(os, "pricing", "params/1.txt", &info, &err), 0);
  CHECK_STREQ(info.content_type, "text/plain");
  CHECK_STREQ(json_string_value(json_object_get(info.metadata, "run")), "7");
  ll_obj_info_free(&info);
  CHECK(ll_obj_stat(os, "pricing", "params/2.txt", &info, &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_NO_KEY);

  /* Replacing under a reader: it keeps the old bytes; the old version's file goes. */
  int fd;
  CHECK_INTEQ(ll_obj_open(os, "pricing", "params/1.txt", &fd, &info, &err), 0);
  ll_obj_info_free(&info);
  put(os, "pricing", "params/1.txt", "new bytes");
  char buf[64] = "";
  CHECK_INTEQ(read(fd, buf, sizeof buf - 1), 43);
  CHECK(strncmp(buf, "The quick", 9) == 0);
  close(fd);
  char *now = slurp(os, "pricing", "params/1.txt");
  CHECK_STREQ(now, "new bytes");
  free(now);

  ll_bucket_info_t *bs;
  size_t nb = ll_bucket_list(os, &bs);
  CHECK_INTEQ(nb, 1);
  CHECK_STREQ(bs[0].name, "pricing");
  free(bs);
  CHECK(ll_bucket_delete(os, "pricing", &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_NOT_EMPTY);
  CHECK_INTEQ(ll_obj_delete(os, "pricing", "params/1.txt", &err), 0);
  CHECK_INTEQ(ll_obj_delete(os, "pricing", "params/1.txt", &err), 0); /* absent: fine, as S3 */
  CHECK_INTEQ(ll_bucket_delete(os, "pricing", &err), 0);
  CHECK(ll_bucket_get(os, "pricing", &bs[0], &err) < 0);
  ll_objstore_close(os);
  char path[512];
  snprintf(path, sizeof path, "%s/objects/pricing", dir);
  CHECK(access(path, F_OK) < 0); /* the bucket's folders went with it */
  os_rm(dir);
  free(dir);
}

static void check_page(const ll_obj_listing_t *l, const char *keys, const char *prefixes) {
  char got[1024] = "";
  for (size_t i = 0; i < l->nobjects; i++) {
    strcat(got, l->objects[i].key);
    strcat(got, " ");
  }
  CHECK_STREQ(got, keys);
  got[0] = '\0';
  for (size_t i = 0; i < l->nprefixes; i++) {
    strcat(got, l->prefixes[i]);
    strcat(got, " ");
  }
  CHECK_STREQ(got, prefixes);
}

LL_TEST(objstore_lists_by_prefix_and_delimiter_with_continuation) {
  char *dir = os_tmp();
  ll_objstore_t *os;
  ll_err_t err = LL_ERR_INIT;
  CHECK_INTEQ(ll_objstore_open(dir, &os, &err), 0);
  CHECK_INTEQ(ll_bucket_create(os, "b-1", NULL, &err), 0);
  const char *keys[] = {"a.txt", "dir/x", "dir/y", "dir/sub/z", "dir2/w", "e", "dir/\xc3\xa9"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) put(os, "b-1", keys[i], keys[i]);
  ll_obj_listing_t l;
  CHECK_INTEQ(ll_obj_list(os, "b-1", NULL, NULL, NULL, 1000, &l, &err), 0);
  check_page(&l, "a.txt dir/sub/z dir/x dir/y dir/\xc3\xa9 dir2/w e ", ""); /* byte order */
  CHECK(!l.truncated && !l.next);
  ll_obj_listing_free(&l);
  CHECK_INTEQ(ll_obj_list(os, "b-1", NULL, "/", NULL, 1000, &l, &err), 0);
  check_page(&l, "a.txt e ", "dir/ dir2/ ");
  ll_obj_listing_free(&l);
  CHECK_INTEQ(ll_obj_list(os, "b-1", "dir/", "/", NULL, 1000, &l, &err), 0);
  check_page(&l, "dir/x dir/y dir/\xc3\xa9 ", "dir/sub/ ");
  ll_obj_listing_free(&l);
  /* pages of 2 with a delimiter: a common prefix counts once, and is not given again */
  const char *pages[][2] = {{"a.txt ", "dir/ "}, {"e ", "dir2/ "}};
  char *after = NULL;
  for (int p = 0; p < 2; p++) {
    CHECK_INTEQ(ll_obj_list(os, "b-1", NULL, "/", after, 2, &l, &err), 0);
    check_page(&l, pages[p][0], pages[p][1]);
    free(after);
    after = l.next ? strdup(l.next) : NULL;
    CHECK(l.truncated == (p == 0));
    ll_obj_listing_free(&l);
  }
  CHECK(after == NULL);
  CHECK(ll_obj_list(os, "none", NULL, NULL, NULL, 10, &l, &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_NO_BUCKET);
  ll_objstore_close(os);
  os_rm(dir);
  free(dir);
}

LL_TEST(objstore_open_removes_what_an_interrupted_upload_left) {
  char *dir = os_tmp();
  ll_objstore_t *os;
  ll_err_t err = LL_ERR_INIT;
  CHECK_INTEQ(ll_objstore_open(dir, &os, &err), 0);
  CHECK_INTEQ(ll_bucket_create(os, "b-2", NULL, &err), 0);
  put(os, "b-2", "kept", "kept bytes");
  /* an upload cut short (its temporary file), and a version file that never got its row */
  ll_obj_writer_t *w;
  CHECK_INTEQ(ll_obj_begin(os, "b-2", "torn", &w, &err), 0);
  CHECK_INTEQ(ll_obj_write(w, "half", 4, &err), 0);
  char orphan[512];
  snprintf(orphan, sizeof orphan, "%s/objects/b-2/zz", dir);
  CHECK(mkdir(orphan, 0700) == 0);
  strcat(orphan, "/0123456789abcdef012345");
  FILE *f = fopen(orphan, "w");
  CHECK(f && fputs("orphan", f) >= 0 && fclose(f) == 0);
  ll_objstore_close(os); /* the daemon dies here: the writer is never committed */
  CHECK_INTEQ(ll_objstore_open(dir, &os, &err), 0);
  CHECK(access(orphan, F_OK) < 0);
  char tmpdir[512];
  snprintf(tmpdir, sizeof tmpdir, "%s/objects/.tmp", dir);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s')\"", tmpdir);
  CHECK(system(cmd) == 0);
  char *kept = slurp(os, "b-2", "kept");
  CHECK_STREQ(kept, "kept bytes");
  free(kept);
  ll_obj_info_t info;
  CHECK(ll_obj_stat(os, "b-2", "torn", &info, &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_NO_KEY);
  ll_obj_abort(w); /* (the writer's memory; its file is gone already) */
  ll_objstore_close(os);
  os_rm(dir);
  free(dir);
}

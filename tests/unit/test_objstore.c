/* The object store (src/objstore/store.h): buckets, streamed writes, ETags, replacement under a
 * reader, listings by prefix and delimiter with continuation, what open removes after an
 * interrupted upload; multipart uploads (assembly, ETag, part replacement, each completion
 * error, abort, listings, restart, bucket deletion), copies, notification configurations,
 * sequence numbers (and an objects.db of the first version). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sqlite3.h>
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
  bool existed = false;
  CHECK_INTEQ(ll_obj_delete(os, "pricing", "params/1.txt", &existed, NULL, &err), 0);
  CHECK(existed);
  /* absent: fine, as S3 */
  CHECK_INTEQ(ll_obj_delete(os, "pricing", "params/1.txt", &existed, NULL, &err), 0);
  CHECK(!existed);
  CHECK(ll_obj_delete(os, "nope", "k", NULL, NULL, &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_NO_BUCKET);
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
  char dbpath[512]; /* (a bucket folder's ".." is no fan-out folder: objects.db stays) */
  snprintf(dbpath, sizeof dbpath, "%s/objects/objects.db", dir);
  CHECK(access(dbpath, F_OK) == 0);
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

/* ---- multipart uploads, copies, notifications, sequence numbers -------------------------------- */

/* Entries of dir/objects/<sub> (".tmp", ".parts", a bucket's fan-out folder ...). */
static int count_entries(const char *dir, const char *sub) {
  char path[512];
  snprintf(path, sizeof path, "%s/objects/%s", dir, sub);
  DIR *d = opendir(path);
  CHECK(d != NULL);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
  closedir(d);
  return n;
}

/* Regular files under dir/objects/<bucket>: one per object version. */
static int count_versions(const char *dir, const char *bucket) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "find '%s/objects/%s' -type f | wc -l", dir, bucket);
  FILE *p = popen(cmd, "r");
  CHECK(p != NULL);
  int n = -1;
  CHECK(fscanf(p, "%d", &n) == 1);
  pclose(p);
  return n;
}

static void md5_of(const void *p, size_t len, unsigned char out[16]) {
  unsigned int n = 0;
  CHECK(EVP_Digest(p, len, out, &n, EVP_md5(), NULL) == 1 && n == 16);
}

static void put_part(ll_objstore_t *os, const char *bucket, const char *key, const char *id,
                     int number, const void *data, size_t len, char etag[40]) {
  ll_obj_writer_t *w;
  ll_err_t err = LL_ERR_INIT;
  CHECK_INTEQ(ll_mpu_part_begin(os, bucket, key, id, number, &w, &err), 0);
  size_t half = len / 2;
  CHECK_INTEQ(ll_obj_write(w, data, half, &err), 0);
  CHECK_INTEQ(ll_obj_write(w, (const char *)data + half, len - half, &err), 0);
  ll_obj_info_t info;
  CHECK_INTEQ(ll_mpu_part_commit(w, &info, &err), 0);
  CHECK_INTEQ(info.size, len);
  unsigned char md[16];
  char hex[33];
  md5_of(data, len, md);
  for (int i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
  char want[40];
  snprintf(want, sizeof want, "\"%s\"", hex);
  CHECK_STREQ(info.etag, want);
  if (etag) snprintf(etag, 40, "%s", info.etag);
  ll_obj_info_free(&info);
}

static void check_clean(const char *dir) {
  CHECK_INTEQ(count_entries(dir, ".tmp"), 0);
  CHECK_INTEQ(count_entries(dir, ".parts"), 0);
}

LL_TEST(objstore_multipart_upload_assembles_parts) {
  char *dir = os_tmp();
  ll_objstore_t *os;
  ll_err_t err = LL_ERR_INIT;
  CHECK_INTEQ(ll_objstore_open(dir, &os, &err), 0);
  CHECK_INTEQ(ll_bucket_create(os, "mpu", NULL, &err), 0);
  char id[64];
  json_t *meta = json_pack("{s:s}", "run", "9");
  CHECK(ll_mpu_create(os, "none", "k", NULL, NULL, id, &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_NO_BUCKET);
  CHECK_INTEQ(ll_mpu_create(os, "mpu", "big/file.csv", "text/csv", meta, id, &err), 0);
  json_decref(meta);
  CHECK(strlen(id) >= 32);
  ll_mpu_info_t up;
  CHECK_INTEQ(ll_mpu_get(os, "mpu", "big/file.csv", id, &up, &err), 0);
  CHECK_STREQ(up.upload_id, id);
  CHECK_STREQ(up.bucket, "mpu");
  CHECK_STREQ(up.key, "big/file.csv");
  CHECK_STREQ(up.content_type, "text/csv");
  CHECK_STREQ(json_string_value(json_object_get(up.metadata, "run")), "9");
  CHECK(up.created_ms > 0);
  ll_mpu_info_free(&up);
  CHECK(ll_mpu_get(os, "mpu", "other", id, &up, &err) < 0); /* the id names another key */
  CHECK_INTEQ(err.code, LL_OS_NO_UPLOAD);

  size_t la = LL_OS_PART_MIN, lb = LL_OS_PART_MIN;
  unsigned char *a = malloc(la), *b = malloc(lb);
  for (size_t i = 0; i < la; i++) a[i] = (unsigned char)(i * 7 % 251);
  for (size_t i = 0; i < lb; i++) b[i] = (unsigned char)(i * 13 % 253);
  const char *c = "and the small last part";
  size_t lc = strlen(c);
  char e1[40], e2[40], e3[40], junk[40];
  put_part(os, "mpu", "big/file.csv", id, 2, "junk", 4, junk); /* replaced below */
  put_part(os, "mpu", "big/file.csv", id, 1, a, la, e1);
  put_part(os, "mpu", "big/file.csv", id, 2, b, lb, e2);
  put_part(os, "mpu", "big/file.csv", id, 3, c, lc, e3);
  put_part(os, "mpu", "big/file.csv", id, 4, "not listed", 10, NULL);
  CHECK(strcmp(junk, e2) != 0);
  CHECK_INTEQ(count_entries(dir, ".parts"), 4); /* the replaced part's file went */
  ll_mpu_part_t *parts;
  size_t n;
  bool truncated;
  CHECK_INTEQ(
      ll_mpu_list_parts(os, "mpu", "big/file.csv", id, 0, 100, &parts, &n, &truncated, &err), 0);
  CHECK_INTEQ(n, 4);
  CHECK(!truncated);
  CHECK_INTEQ(parts[1].number, 2);
  CHECK_INTEQ(parts[1].size, lb);
  CHECK_STREQ(parts[1].etag, e2);
  free(parts);

  /* ETags as the client sends them: quoted or not */
  char e2bare[40];
  snprintf(e2bare, sizeof e2bare, "%.*s", (int)strlen(e2) - 2, e2 + 1);
  ll_mpu_want_t want[] = {{1, e1}, {2, e2bare}, {3, e3}};
  ll_obj_info_t info;
  CHECK_INTEQ(ll_mpu_complete(os, "mpu", "big/file.csv", id, want, 3, &info, &err), 0);
  /* the expected ETag, independently: MD5 of the concatenated binary MD5s, "-3" */
  unsigned char mds[48], md[16];
  md5_of(a, la, mds);
  md5_of(b, lb, mds + 16);
  md5_of(c, lc, mds + 32);
  md5_of(mds, sizeof mds, md);
  char expect[48] = "\"";
  for (int i = 0; i < 16; i++) snprintf(expect + 1 + 2 * i, 3, "%02x", md[i]);
  strcat(expect, "-3\"");
  CHECK_STREQ(info.etag, expect);
  CHECK_INTEQ(info.size, la + lb + lc);
  CHECK_STREQ(info.content_type, "text/csv");
  CHECK(info.seq > 0);
  uint64_t seq = info.seq;
  ll_obj_info_free(&info);
  CHECK_INTEQ(ll_obj_stat(os, "mpu", "big/file.csv", &info, &err), 0);
  CHECK_STREQ(info.etag, expect);
  CHECK_STREQ(info.content_type, "text/csv");
  CHECK_STREQ(json_string_value(json_object_get(info.metadata, "run")), "9");
  CHECK_INTEQ(info.seq, seq);
  ll_obj_info_free(&info);
  char *got = slurp(os, "mpu", "big/file.csv");
  CHECK(memcmp(got, a, la) == 0 && memcmp(got + la, b, lb) == 0 && memcmp(got + la + lb, c, lc) == 0);
  free(got);
  /* the upload is gone, with every part (listed or not) */
  CHECK(ll_mpu_get(os, "mpu", "big/file.csv", id, &up, &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_NO_UPLOAD);
  CHECK(ll_mpu_complete(os, "mpu", "big/file.csv", id, want, 3, &info, &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_NO_UPLOAD);
  CHECK(ll_mpu_abort(os, "mpu", "big/file.csv", id, &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_NO_UPLOAD);
  check_clean(dir);
  CHECK_INTEQ(count_versions(dir, "mpu"), 1);
  ll_mpu_info_t *ups;
  CHECK_INTEQ(ll_mpu_list(os, "mpu", NULL, 10, &ups, &n, &truncated, &err), 0);
  CHECK_INTEQ(n, 0);
  free(ups);
  free(a);
  free(b);
  ll_objstore_close(os);
  os_rm(dir);
  free(dir);
}

typedef struct race {
  ll_objstore_t *os;
  const char *id;
  const ll_mpu_want_t *want;
  size_t nwant;
  const void *p3;
  size_t l3;
  int rc, code, commits;
} race_t;

static void *race_complete(void *arg) {
  race_t *r = arg;
  ll_err_t err = LL_ERR_INIT;
  ll_obj_info_t info;
  r->rc = ll_mpu_complete(r->os, "mpu", "k", r->id, r->want, r->nwant, &info, &err);
  r->code = err.code;
  if (r->rc == 0) ll_obj_info_free(&info);
  return NULL;
}

/* Until the upload is gone: part 3 again (the same bytes, so the same ETag) and part 4 (not
 * listed), each refused with NoSuchUpload once a completion won. */
static void *race_parts(void *arg) {
  race_t *r = arg;
  for (int i = 0;; i++) {
    ll_obj_writer_t *w;
    ll_err_t err = LL_ERR_INIT;
    int number = i % 2 ? 4 : 3;
    if (ll_mpu_part_begin(r->os, "mpu", "k", r->id, number, &w, &err) < 0) {
      r->code = err.code;
      return NULL;
    }
    CHECK_INTEQ(ll_obj_write(w, number == 3 ? r->p3 : "four", number == 3 ? r->l3 : 4, &err), 0);
    if (ll_mpu_part_commit(w, NULL, &err) < 0) {
      r->code = err.code;
      return NULL;
    }
    r->commits++;
  }
}

LL_TEST(objstore_multipart_complete_races_part_commits_and_another_complete) {
  char *dir = os_tmp();
  ll_objstore_t *os;
  ll_err_t err = LL_ERR_INIT;
  CHECK_INTEQ(ll_objstore_open(dir, &os, &err), 0);
  CHECK_INTEQ(ll_bucket_create(os, "mpu", NULL, &err), 0);
  char id[64], e[3][40];
  CHECK_INTEQ(ll_mpu_create(os, "mpu", "k", NULL, NULL, id, &err), 0);
  size_t len = LL_OS_PART_MIN;
  unsigned char *bytes = malloc(3 * len);
  for (size_t i = 0; i < 3 * len; i++) bytes[i] = (unsigned char)(i * 31 % 241);
  for (int p = 0; p < 3; p++) put_part(os, "mpu", "k", id, p + 1, bytes + p * len, len, e[p]);
  ll_mpu_want_t want[] = {{1, e[0]}, {2, e[1]}, {3, e[2]}};
  race_t c1 = {os, id, want, 3, NULL, 0, 0, 0, 0}, c2 = c1, parts = c1;
  parts.p3 = bytes + 2 * len;
  parts.l3 = len;
  pthread_t t1, t2, t3;
  CHECK(pthread_create(&t3, NULL, race_parts, &parts) == 0);
  usleep(20000);
  CHECK(pthread_create(&t1, NULL, race_complete, &c1) == 0);
  CHECK(pthread_create(&t2, NULL, race_complete, &c2) == 0);
  pthread_join(t1, NULL);
  pthread_join(t2, NULL);
  pthread_join(t3, NULL);
  CHECK((c1.rc == 0) != (c2.rc == 0)); /* one wins; the other finds the upload gone */
  CHECK_INTEQ(c1.rc == 0 ? c2.code : c1.code, LL_OS_NO_UPLOAD);
  CHECK_INTEQ(parts.code, LL_OS_NO_UPLOAD);
  char *got = slurp(os, "mpu", "k");
  CHECK(memcmp(got, bytes, 3 * len) == 0);
  free(got);
  check_clean(dir);
  CHECK_INTEQ(count_versions(dir, "mpu"), 1);
  free(bytes);
  ll_objstore_close(os);
  os_rm(dir);
  free(dir);
}

LL_TEST(objstore_multipart_completion_errors_and_abort) {
  char *dir = os_tmp();
  ll_objstore_t *os;
  ll_err_t err = LL_ERR_INIT;
  CHECK_INTEQ(ll_objstore_open(dir, &os, &err), 0);
  CHECK_INTEQ(ll_bucket_create(os, "mpu", NULL, &err), 0);
  char id[64], e1[40], e2[40];
  CHECK_INTEQ(ll_mpu_create(os, "mpu", "k", NULL, NULL, id, &err), 0);
  ll_obj_writer_t *w;
  CHECK(ll_mpu_part_begin(os, "mpu", "k", id, 0, &w, &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_INVALID);
  CHECK(ll_mpu_part_begin(os, "mpu", "k", id, LL_OS_PARTS_MAX + 1, &w, &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_INVALID);
  CHECK(ll_mpu_part_begin(os, "mpu", "k", "0123456789abcdef0123456789abcdef", 1, &w, &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_NO_UPLOAD);
  CHECK(ll_mpu_part_begin(os, "mpu", "other", id, 1, &w, &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_NO_UPLOAD);
  put_part(os, "mpu", "k", id, 1, "one", 3, e1);
  put_part(os, "mpu", "k", id, 2, "two", 3, e2);
  ll_obj_info_t info;
  ll_mpu_want_t backwards[] = {{2, e2}, {1, e1}}, twice[] = {{1, e1}, {1, e1}};
  CHECK(ll_mpu_complete(os, "mpu", "k", id, backwards, 2, &info, &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_PART_ORDER);
  CHECK(strstr(err.msg, "The list of parts was not in ascending order") != NULL);
  CHECK(ll_mpu_complete(os, "mpu", "k", id, twice, 2, &info, &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_PART_ORDER);
  ll_mpu_want_t wrong_etag[] = {{1, e2}}, missing[] = {{1, e1}, {3, e2}}, no_etag[] = {{1, NULL}};
  CHECK(ll_mpu_complete(os, "mpu", "k", id, wrong_etag, 1, &info, &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_INVALID_PART);
  CHECK(strstr(err.msg, "One or more of the specified parts could not be found") != NULL);
  CHECK(ll_mpu_complete(os, "mpu", "k", id, missing, 2, &info, &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_INVALID_PART);
  CHECK(ll_mpu_complete(os, "mpu", "k", id, no_etag, 1, &info, &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_INVALID_PART);
  ll_mpu_want_t both[] = {{1, e1}, {2, e2}};
  CHECK(ll_mpu_complete(os, "mpu", "k", id, both, 2, &info, &err) < 0); /* part 1 < 5 MiB */
  CHECK_INTEQ(err.code, LL_OS_TOO_SMALL);
  CHECK(strstr(err.msg, "Your proposed upload is smaller than the minimum allowed size") != NULL);
  CHECK(ll_mpu_complete(os, "mpu", "k", id, both, 0, &info, &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_INVALID);
  CHECK(ll_mpu_complete(os, "mpu", "other", id, both, 2, &info, &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_NO_UPLOAD);
  CHECK(ll_mpu_complete(os, "none", "k", id, both, 2, &info, &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_NO_BUCKET);
  CHECK_INTEQ(count_entries(dir, ".tmp"), 0); /* nothing left by the failures */
  CHECK_INTEQ(count_entries(dir, ".parts"), 2);
  CHECK(ll_obj_stat(os, "mpu", "k", &info, &err) < 0);
  /* a single part may be small (it is the last); part 1 only: the others are dropped */
  ll_mpu_want_t last[] = {{2, e2}};
  CHECK_INTEQ(ll_mpu_complete(os, "mpu", "k", id, last, 1, &info, &err), 0);
  CHECK(strstr(info.etag, "-1\"") != NULL);
  CHECK_STREQ(info.content_type, "binary/octet-stream");
  ll_obj_info_free(&info);
  char *got = slurp(os, "mpu", "k");
  CHECK_STREQ(got, "two");
  free(got);
  check_clean(dir);

  /* abort: the parts' files go; a part still being written when it happens is refused */
  CHECK_INTEQ(ll_mpu_create(os, "mpu", "k2", NULL, NULL, id, &err), 0);
  put_part(os, "mpu", "k2", id, 1, "one", 3, NULL);
  put_part(os, "mpu", "k2", id, 2, "two", 3, NULL);
  CHECK_INTEQ(ll_mpu_part_begin(os, "mpu", "k2", id, 3, &w, &err), 0);
  CHECK_INTEQ(ll_obj_write(w, "late", 4, &err), 0);
  CHECK_INTEQ(count_entries(dir, ".parts"), 2);
  CHECK(ll_mpu_abort(os, "mpu", "k2", "nope", &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_NO_UPLOAD);
  CHECK_INTEQ(ll_mpu_abort(os, "mpu", "k2", id, &err), 0);
  CHECK_INTEQ(count_entries(dir, ".parts"), 0);
  CHECK(ll_mpu_part_commit(w, &info, &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_NO_UPLOAD);
  check_clean(dir);
  CHECK(ll_mpu_get(os, "mpu", "k2", id, NULL, &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_NO_UPLOAD);
  /* a part writer dropped with ll_obj_abort leaves nothing */
  CHECK_INTEQ(ll_mpu_create(os, "mpu", "k3", NULL, NULL, id, &err), 0);
  CHECK_INTEQ(ll_mpu_part_begin(os, "mpu", "k3", id, 1, &w, &err), 0);
  CHECK_INTEQ(ll_obj_write(w, "x", 1, &err), 0);
  ll_obj_abort(w);
  check_clean(dir);
  CHECK_INTEQ(ll_mpu_abort(os, "mpu", "k3", id, &err), 0);
  ll_objstore_close(os);
  os_rm(dir);
  free(dir);
}

LL_TEST(objstore_multipart_lists_parts_and_uploads) {
  char *dir = os_tmp();
  ll_objstore_t *os;
  ll_err_t err = LL_ERR_INIT;
  CHECK_INTEQ(ll_objstore_open(dir, &os, &err), 0);
  CHECK_INTEQ(ll_bucket_create(os, "mpu", NULL, &err), 0);
  char id[64];
  CHECK_INTEQ(ll_mpu_create(os, "mpu", "a/1", NULL, NULL, id, &err), 0);
  for (int p = 5; p >= 1; p--) put_part(os, "mpu", "a/1", id, p * 2, "part", 4, NULL); /* 2..10 */
  ll_mpu_part_t *parts;
  size_t n;
  bool truncated;
  int after = 0;
  const int pages[][2] = {{2, 4}, {6, 8}, {10, 0}};
  for (int pg = 0; pg < 3; pg++) {
    CHECK_INTEQ(ll_mpu_list_parts(os, "mpu", "a/1", id, after, 2, &parts, &n, &truncated, &err), 0);
    CHECK_INTEQ(n, pg < 2 ? 2 : 1);
    CHECK_INTEQ(parts[0].number, pages[pg][0]);
    if (n > 1) CHECK_INTEQ(parts[1].number, pages[pg][1]);
    CHECK(truncated == (pg < 2));
    after = parts[n - 1].number;
    free(parts);
  }
  CHECK_INTEQ(ll_mpu_list_parts(os, "mpu", "a/1", id, 10, 2, &parts, &n, &truncated, &err), 0);
  CHECK(n == 0 && !truncated);
  free(parts);
  CHECK_INTEQ(ll_mpu_list_parts(os, "mpu", "a/1", id, 3, 0, &parts, &n, &truncated, &err), 0);
  CHECK(n == 0 && truncated);
  free(parts);
  CHECK(ll_mpu_list_parts(os, "mpu", "a/1", "nope", 0, 2, &parts, &n, &truncated, &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_NO_UPLOAD);

  /* uploads: key order, then creation; by prefix; paged by max */
  char ids[4][64];
  snprintf(ids[0], sizeof ids[0], "%s", id);
  CHECK_INTEQ(ll_mpu_create(os, "mpu", "b/1", NULL, NULL, ids[1], &err), 0);
  usleep(2000);
  CHECK_INTEQ(ll_mpu_create(os, "mpu", "a/1", NULL, NULL, ids[2], &err), 0);
  CHECK_INTEQ(ll_mpu_create(os, "mpu", "a/0", NULL, NULL, ids[3], &err), 0);
  ll_mpu_info_t *ups;
  CHECK_INTEQ(ll_mpu_list(os, "mpu", NULL, 100, &ups, &n, &truncated, &err), 0);
  CHECK_INTEQ(n, 4);
  CHECK(!truncated);
  const int order[] = {3, 0, 2, 1};
  for (size_t i = 0; i < n; i++) {
    CHECK_STREQ(ups[i].upload_id, ids[order[i]]);
    ll_mpu_info_free(&ups[i]);
  }
  free(ups);
  CHECK_INTEQ(ll_mpu_list(os, "mpu", "a/", 2, &ups, &n, &truncated, &err), 0);
  CHECK_INTEQ(n, 2);
  CHECK(truncated);
  CHECK_STREQ(ups[0].key, "a/0");
  CHECK_STREQ(ups[1].key, "a/1");
  for (size_t i = 0; i < n; i++) ll_mpu_info_free(&ups[i]);
  free(ups);
  CHECK_INTEQ(ll_mpu_list(os, "mpu", "b", 10, &ups, &n, &truncated, &err), 0);
  CHECK(n == 1 && !truncated);
  CHECK_STREQ(ups[0].upload_id, ids[1]);
  ll_mpu_info_free(&ups[0]);
  free(ups);
  CHECK(ll_mpu_list(os, "none", NULL, 10, &ups, &n, &truncated, &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_NO_BUCKET);
  ll_objstore_close(os);
  os_rm(dir);
  free(dir);
}

LL_TEST(objstore_multipart_uploads_survive_reopen_orphan_parts_do_not) {
  char *dir = os_tmp();
  ll_objstore_t *os;
  ll_err_t err = LL_ERR_INIT;
  CHECK_INTEQ(ll_objstore_open(dir, &os, &err), 0);
  CHECK_INTEQ(ll_bucket_create(os, "mpu", NULL, &err), 0);
  char id[64], e1[40];
  CHECK_INTEQ(ll_mpu_create(os, "mpu", "k", "text/plain", NULL, id, &err), 0);
  put_part(os, "mpu", "k", id, 1, "kept part", 9, e1);
  ll_obj_writer_t *w; /* a part cut short by the crash */
  CHECK_INTEQ(ll_mpu_part_begin(os, "mpu", "k", id, 2, &w, &err), 0);
  CHECK_INTEQ(ll_obj_write(w, "half", 4, &err), 0);
  ll_objstore_close(os); /* the daemon dies here */
  /* and a part file renamed into place whose row never came */
  char orphan[600];
  snprintf(orphan, sizeof orphan, "%s/objects/.parts/%s.2.0123456789abcdef", dir, id);
  FILE *f = fopen(orphan, "w");
  CHECK(f && fputs("orphan", f) >= 0 && fclose(f) == 0);
  CHECK_INTEQ(count_entries(dir, ".parts"), 2);
  CHECK_INTEQ(ll_objstore_open(dir, &os, &err), 0);
  CHECK(access(orphan, F_OK) < 0);
  CHECK_INTEQ(count_entries(dir, ".parts"), 1);
  CHECK_INTEQ(count_entries(dir, ".tmp"), 0);
  ll_mpu_info_t up;
  CHECK_INTEQ(ll_mpu_get(os, "mpu", "k", id, &up, &err), 0);
  CHECK_STREQ(up.content_type, "text/plain");
  ll_mpu_info_free(&up);
  ll_mpu_part_t *parts;
  size_t n;
  bool truncated;
  CHECK_INTEQ(ll_mpu_list_parts(os, "mpu", "k", id, 0, 10, &parts, &n, &truncated, &err), 0);
  CHECK(n == 1 && parts[0].number == 1 && parts[0].size == 9);
  free(parts);
  ll_mpu_want_t want[] = {{1, e1}};
  CHECK_INTEQ(ll_mpu_complete(os, "mpu", "k", id, want, 1, NULL, &err), 0);
  char *got = slurp(os, "mpu", "k");
  CHECK_STREQ(got, "kept part");
  free(got);
  check_clean(dir);
  ll_obj_abort(w); /* (the writer's memory; its file is gone already) */
  ll_objstore_close(os);
  CHECK_INTEQ(ll_objstore_open(dir, &os, &err), 0); /* and what completed is there after another */
  got = slurp(os, "mpu", "k");
  CHECK_STREQ(got, "kept part");
  free(got);
  ll_objstore_close(os);
  os_rm(dir);
  free(dir);
}

LL_TEST(objstore_delete_bucket_with_an_upload_in_progress) {
  char *dir = os_tmp();
  ll_objstore_t *os;
  ll_err_t err = LL_ERR_INIT;
  CHECK_INTEQ(ll_objstore_open(dir, &os, &err), 0);
  CHECK_INTEQ(ll_bucket_create(os, "mpu", NULL, &err), 0);
  put(os, "mpu", "obj", "bytes");
  char id[64];
  CHECK_INTEQ(ll_mpu_create(os, "mpu", "k", NULL, NULL, id, &err), 0);
  put_part(os, "mpu", "k", id, 1, "part", 4, NULL);
  CHECK_INTEQ(ll_bucket_set_notification(os, "mpu", "{\"QueueConfigurations\":[]}", &err), 0);
  CHECK(ll_bucket_delete(os, "mpu", &err) < 0); /* objects: no */
  CHECK_INTEQ(err.code, LL_OS_NOT_EMPTY);
  CHECK_INTEQ(ll_mpu_get(os, "mpu", "k", id, NULL, &err), 0);
  CHECK_INTEQ(ll_obj_delete(os, "mpu", "obj", NULL, NULL, &err), 0);
  CHECK_INTEQ(ll_bucket_delete(os, "mpu", &err), 0); /* uploads in progress only: yes, with it */
  check_clean(dir);
  CHECK(ll_mpu_get(os, "mpu", "k", id, NULL, &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_NO_BUCKET);
  CHECK_INTEQ(ll_bucket_create(os, "mpu", NULL, &err), 0);
  CHECK(ll_mpu_get(os, "mpu", "k", id, NULL, &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_NO_UPLOAD);
  char *conf;
  CHECK_INTEQ(ll_bucket_get_notification(os, "mpu", &conf, &err), 0);
  CHECK(conf == NULL);
  ll_mpu_info_t *ups;
  size_t n;
  bool truncated;
  CHECK_INTEQ(ll_mpu_list(os, "mpu", NULL, 10, &ups, &n, &truncated, &err), 0);
  CHECK_INTEQ(n, 0);
  free(ups);
  ll_objstore_close(os);
  os_rm(dir);
  free(dir);
}

LL_TEST(objstore_copy_keeps_or_replaces_metadata) {
  char *dir = os_tmp();
  ll_objstore_t *os;
  ll_err_t err = LL_ERR_INIT;
  CHECK_INTEQ(ll_objstore_open(dir, &os, &err), 0);
  CHECK_INTEQ(ll_bucket_create(os, "src", NULL, &err), 0);
  CHECK_INTEQ(ll_bucket_create(os, "dst", NULL, &err), 0);
  ll_obj_writer_t *w;
  ll_obj_info_t src, info;
  json_t *meta = json_pack("{s:s}", "a", "1");
  CHECK_INTEQ(ll_obj_begin(os, "src", "in.txt", &w, &err), 0);
  CHECK_INTEQ(ll_obj_write(w, "The quick brown fox jumps over the lazy dog", 43, &err), 0);
  CHECK_INTEQ(ll_obj_commit(w, "text/plain", meta, &src, &err), 0);
  json_decref(meta);
  /* COPY: the source's content type and metadata, and its ETag */
  CHECK_INTEQ(ll_obj_copy(os, "src", "in.txt", "dst", "out.txt", NULL, NULL, &info, &err), 0);
  CHECK_STREQ(info.etag, src.etag);
  CHECK_INTEQ(info.size, 43);
  CHECK_STREQ(info.content_type, "text/plain");
  CHECK_STREQ(json_string_value(json_object_get(info.metadata, "a")), "1");
  CHECK(info.seq > src.seq);
  ll_obj_info_free(&info);
  char *got = slurp(os, "dst", "out.txt");
  CHECK_STREQ(got, "The quick brown fox jumps over the lazy dog");
  free(got);
  CHECK_INTEQ(ll_obj_stat(os, "dst", "out.txt", &info, &err), 0);
  CHECK_STREQ(info.etag, src.etag);
  CHECK_STREQ(info.content_type, "text/plain");
  ll_obj_info_free(&info);
  /* REPLACE, over the copy made above */
  meta = json_pack("{s:s}", "b", "2");
  CHECK_INTEQ(
      ll_obj_copy(os, "src", "in.txt", "dst", "out.txt", "application/json", meta, &info, &err), 0);
  CHECK_STREQ(info.content_type, "application/json");
  CHECK(json_object_get(info.metadata, "a") == NULL);
  CHECK_STREQ(json_string_value(json_object_get(info.metadata, "b")), "2");
  ll_obj_info_free(&info);
  CHECK_INTEQ(count_versions(dir, "dst"), 1); /* the replaced copy's file went */
  /* onto itself, replacing its metadata */
  CHECK_INTEQ(ll_obj_copy(os, "src", "in.txt", "src", "in.txt", "", meta, &info, &err), 0);
  json_decref(meta);
  CHECK_STREQ(info.content_type, "binary/octet-stream");
  CHECK_STREQ(info.etag, src.etag);
  ll_obj_info_free(&info);
  got = slurp(os, "src", "in.txt");
  CHECK_STREQ(got, "The quick brown fox jumps over the lazy dog");
  free(got);
  CHECK_INTEQ(count_versions(dir, "src"), 1);
  /* what is not there */
  CHECK(ll_obj_copy(os, "src", "missing", "dst", "x", NULL, NULL, &info, &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_NO_KEY);
  CHECK(ll_obj_copy(os, "none", "in.txt", "dst", "x", NULL, NULL, &info, &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_NO_BUCKET);
  CHECK(ll_obj_copy(os, "src", "in.txt", "none", "x", NULL, NULL, &info, &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_NO_BUCKET);
  CHECK(ll_obj_copy(os, "src", "in.txt", "dst", "", NULL, NULL, &info, &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_INVALID);
  CHECK(ll_obj_stat(os, "dst", "x", &info, &err) < 0);
  check_clean(dir);
  ll_obj_info_free(&src);
  ll_objstore_close(os);
  os_rm(dir);
  free(dir);
}

LL_TEST(objstore_notification_configuration) {
  char *dir = os_tmp();
  ll_objstore_t *os;
  ll_err_t err = LL_ERR_INIT;
  CHECK_INTEQ(ll_objstore_open(dir, &os, &err), 0);
  CHECK_INTEQ(ll_bucket_create(os, "nbk", NULL, &err), 0);
  char *conf = (char *)"unset";
  CHECK_INTEQ(ll_bucket_get_notification(os, "nbk", &conf, &err), 0);
  CHECK(conf == NULL);
  const char *one = "{\"QueueConfigurations\":[{\"Id\":\"q\",\"Events\":[\"s3:ObjectCreated:*\"]}]}";
  CHECK_INTEQ(ll_bucket_set_notification(os, "nbk", one, &err), 0);
  CHECK_INTEQ(ll_bucket_get_notification(os, "nbk", &conf, &err), 0);
  CHECK_STREQ(conf, one);
  free(conf);
  CHECK_INTEQ(ll_bucket_set_notification(os, "nbk", "{}", &err), 0); /* replaced */
  ll_objstore_close(os); /* and kept */
  CHECK_INTEQ(ll_objstore_open(dir, &os, &err), 0);
  CHECK_INTEQ(ll_bucket_get_notification(os, "nbk", &conf, &err), 0);
  CHECK_STREQ(conf, "{}");
  free(conf);
  CHECK_INTEQ(ll_bucket_set_notification(os, "nbk", "", &err), 0); /* removed */
  CHECK_INTEQ(ll_bucket_get_notification(os, "nbk", &conf, &err), 0);
  CHECK(conf == NULL);
  CHECK_INTEQ(ll_bucket_set_notification(os, "nbk", one, &err), 0);
  CHECK_INTEQ(ll_bucket_set_notification(os, "nbk", NULL, &err), 0);
  CHECK_INTEQ(ll_bucket_get_notification(os, "nbk", &conf, &err), 0);
  CHECK(conf == NULL);
  CHECK(ll_bucket_set_notification(os, "none", one, &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_NO_BUCKET);
  CHECK(ll_bucket_get_notification(os, "none", &conf, &err) < 0);
  CHECK_INTEQ(err.code, LL_OS_NO_BUCKET);
  CHECK(conf == NULL);
  ll_objstore_close(os);
  os_rm(dir);
  free(dir);
}

static uint64_t put_seq(ll_objstore_t *os, const char *bucket, const char *key, const char *text) {
  ll_obj_writer_t *w;
  ll_err_t err = LL_ERR_INIT;
  ll_obj_info_t info;
  CHECK_INTEQ(ll_obj_begin(os, bucket, key, &w, &err), 0);
  CHECK_INTEQ(ll_obj_write(w, text, strlen(text), &err), 0);
  CHECK_INTEQ(ll_obj_commit(w, NULL, NULL, &info, &err), 0);
  uint64_t seq = info.seq;
  ll_obj_info_free(&info);
  return seq;
}

LL_TEST(objstore_seq_grows_across_commits_deletes_and_reopen) {
  char *dir = os_tmp();
  ll_objstore_t *os;
  ll_err_t err = LL_ERR_INIT;
  CHECK_INTEQ(ll_objstore_open(dir, &os, &err), 0);
  CHECK_INTEQ(ll_bucket_create(os, "seq", NULL, &err), 0);
  uint64_t s1 = put_seq(os, "seq", "a", "1"), s2 = put_seq(os, "seq", "b", "2"),
           s3 = put_seq(os, "seq", "a", "3");
  CHECK(s1 > 0 && s2 > s1 && s3 > s2);
  ll_obj_info_t info;
  CHECK_INTEQ(ll_obj_stat(os, "seq", "a", &info, &err), 0);
  CHECK_INTEQ(info.seq, s3);
  ll_obj_info_free(&info);
  bool existed;
  uint64_t s4, s5;
  CHECK_INTEQ(ll_obj_delete(os, "seq", "a", &existed, &s4, &err), 0);
  CHECK(existed && s4 > s3);
  CHECK_INTEQ(ll_obj_delete(os, "seq", "a", &existed, &s5, &err), 0);
  CHECK(!existed && s5 > s4);
  ll_objstore_close(os);
  CHECK_INTEQ(ll_objstore_open(dir, &os, &err), 0);
  uint64_t s6 = put_seq(os, "seq", "a", "6");
  CHECK(s6 > s5);
  CHECK_INTEQ(ll_obj_stat(os, "seq", "b", &info, &err), 0);
  CHECK_INTEQ(info.seq, s2);
  ll_obj_info_free(&info);
  ll_objstore_close(os);
  os_rm(dir);
  free(dir);
}

LL_TEST(objstore_opens_an_objects_db_of_the_first_version) {
  char *dir = os_tmp();
  char path[512];
  snprintf(path, sizeof path, "%s/objects", dir);
  CHECK(mkdir(path, 0700) == 0);
  snprintf(path, sizeof path, "%s/objects/old", dir);
  CHECK(mkdir(path, 0700) == 0);
  snprintf(path, sizeof path, "%s/objects/old/ab", dir);
  CHECK(mkdir(path, 0700) == 0);
  snprintf(path, sizeof path, "%s/objects/old/ab/0123456789abcdef012345", dir);
  FILE *f = fopen(path, "w");
  CHECK(f && fputs("old bytes", f) >= 0 && fclose(f) == 0);
  /* the schema the first version wrote */
  snprintf(path, sizeof path, "%s/objects/objects.db", dir);
  sqlite3 *db;
  CHECK(sqlite3_open(path, &db) == SQLITE_OK);
  CHECK(sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL;"
                     "CREATE TABLE buckets(name TEXT PRIMARY KEY, created_ms INTEGER NOT NULL,"
                     "  region TEXT NOT NULL);"
                     "CREATE TABLE objects(bucket TEXT NOT NULL, key TEXT NOT NULL,"
                     "  file TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,"
                     "  modified_ms INTEGER NOT NULL, content_type TEXT NOT NULL, metadata TEXT NOT NULL,"
                     "  PRIMARY KEY(bucket, key));"
                     "CREATE INDEX objects_file ON objects(file);"
                     "INSERT INTO buckets VALUES('old', 1, 'us-east-1');"
                     "INSERT INTO objects VALUES('old', 'k', 'old/ab/0123456789abcdef012345', 9,"
                     "  '\"x\"', 1, 'text/plain', '{}');",
                     NULL, NULL, NULL) == SQLITE_OK);
  CHECK(sqlite3_close(db) == SQLITE_OK);
  ll_objstore_t *os;
  ll_err_t err = LL_ERR_INIT;
  CHECK_INTEQ(ll_objstore_open(dir, &os, &err), 0);
  ll_obj_info_t info;
  CHECK_INTEQ(ll_obj_stat(os, "old", "k", &info, &err), 0);
  CHECK_INTEQ(info.seq, 0);
  ll_obj_info_free(&info);
  char *got = slurp(os, "old", "k");
  CHECK_STREQ(got, "old bytes");
  free(got);
  CHECK(put_seq(os, "old", "k2", "new") > 0);
  CHECK_INTEQ(ll_bucket_set_notification(os, "old", "{}", &err), 0);
  char id[64];
  CHECK_INTEQ(ll_mpu_create(os, "old", "k3", NULL, NULL, id, &err), 0);
  ll_objstore_close(os);
  CHECK_INTEQ(ll_objstore_open(dir, &os, &err), 0); /* and again, migrated already */
  CHECK_INTEQ(ll_mpu_get(os, "old", "k3", id, NULL, &err), 0);
  ll_objstore_close(os);
  os_rm(dir);
  free(dir);
}

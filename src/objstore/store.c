/* The object store (store.h): object files, metadata in SQLite, streamed commits. */
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

#include "core/clock.h"
#include "core/encoding.h"
#include "core/mem.h"
#include "core/random.h"
#include "objstore/store.h"

struct ll_objstore {
  char *dir;          /* data_dir/objects */
  sqlite3 *db;
  pthread_mutex_t mu; /* every use of db */
};

struct ll_obj_writer {
  ll_objstore_t *os;
  char *bucket, *key;
  char *tmp;          /* the temporary file's path */
  int fd;
  EVP_MD_CTX *md5;
  uint64_t size;
};

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=FULL;"
    "CREATE TABLE IF NOT EXISTS buckets(name TEXT PRIMARY KEY, created_ms INTEGER NOT NULL,"
    "  region TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS objects(bucket TEXT NOT NULL, key TEXT NOT NULL,"
    "  file TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,"
    "  modified_ms INTEGER NOT NULL, content_type TEXT NOT NULL, metadata TEXT NOT NULL,"
    "  PRIMARY KEY(bucket, key));"
    "CREATE INDEX IF NOT EXISTS objects_file ON objects(file);";

static int db_fail(ll_objstore_t *os, ll_err_t *err, const char *what) {
  return ll_err_set(err, LL_OS_INTERNAL, "object store: %s: %s", what, sqlite3_errmsg(os->db));
}

/* ---- open: and what an interrupted upload left ----------------------------------------------- */

static void remove_tree_files(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2]))) continue;
    char *p = ll_sprintf("%s/%s", dir, e->d_name);
    unlink(p);
    free(p);
  }
  closedir(d);
}

/* A version file no row names was renamed into place by a commit that did not get to its row:
 * nothing acknowledged it. */
static void remove_orphans(ll_objstore_t *os, const char *bucket) {
  char *bdir = ll_sprintf("%s/%s", os->dir, bucket);
  DIR *d = opendir(bdir);
  struct dirent *e;
  sqlite3_stmt *q = NULL;
  sqlite3_prepare_v2(os->db, "SELECT 1 FROM objects WHERE file = ?1", -1, &q, NULL);
  while (d && q && (e = readdir(d))) {
    if (strlen(e->d_name) != 2) continue;
    char *sub = ll_sprintf("%s/%s", bdir, e->d_name);
    DIR *s = opendir(sub);
    struct dirent *f;
    while (s && (f = readdir(s))) {
      if (f->d_name[0] == '.') continue;
      char *rel = ll_sprintf("%s/%s/%s", bucket, e->d_name, f->d_name);
      sqlite3_reset(q);
      sqlite3_bind_text(q, 1, rel, -1, SQLITE_STATIC);
      if (sqlite3_step(q) != SQLITE_ROW) {
        char *abs = ll_sprintf("%s/%s", os->dir, rel);
        unlink(abs);
        free(abs);
      }
      free(rel);
    }
    if (s) closedir(s);
    free(sub);
  }
  sqlite3_finalize(q);
  if (d) closedir(d);
  free(bdir);
}

int ll_objstore_open(const char *data_dir, ll_objstore_t **out, ll_err_t *err) {
  ll_objstore_t *os = ll_calloc(1, sizeof *os);
  pthread_mutex_init(&os->mu, NULL);
  os->dir = ll_sprintf("%s/objects", data_dir);
  char *tmp = ll_sprintf("%s/.tmp", os->dir);
  char *db = ll_sprintf("%s/objects.db", os->dir);
  int rc = -1;
  char *msg = NULL;
  if ((mkdir(os->dir, 0700) < 0 && errno != EEXIST) || (mkdir(tmp, 0700) < 0 && errno != EEXIST)) {
    ll_err_set(err, errno, "creating %s: %s", tmp, strerror(errno));
  } else if (sqlite3_open(db, &os->db) != SQLITE_OK ||
             sqlite3_exec(os->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
    ll_err_set(err, LL_OS_INTERNAL, "object store %s: %s", db, msg ? msg : sqlite3_errmsg(os->db));
  } else {
    sqlite3_busy_timeout(os->db, 5000);
    remove_tree_files(tmp); /* uploads cut short */
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(os->db, "SELECT name FROM buckets", -1, &q, NULL) == SQLITE_OK) {
      while (sqlite3_step(q) == SQLITE_ROW) remove_orphans(os, (const char *)sqlite3_column_text(q, 0));
      sqlite3_finalize(q);
    }
    rc = 0;
  }
  sqlite3_free(msg);
  free(tmp);
  free(db);
  if (rc < 0) {
    ll_objstore_close(os);
    return -1;
  }
  *out = os;
  return 0;
}

void ll_objstore_close(ll_objstore_t *os) {
  if (!os) return;
  if (os->db) sqlite3_close(os->db);
  pthread_mutex_destroy(&os->mu);
  free(os->dir);
  free(os);
}

/* ---- buckets ----------------------------------------------------------------------------------- */

const char *ll_bucket_name_problem(const char *name) {
  size_t n = name ? strlen(name) : 0;
  if (n < 3 || n > 63) return "The bucket name must be between 3 and 63 characters long";
  bool digits_dots = true;
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
      return "The bucket name can contain only lowercase letters, numbers, dots and hyphens";
    if (c != '.' && (c < '0' || c > '9')) digits_dots = false;
    if (c == '.' && i + 1 < n && name[i + 1] == '.') return "The bucket name must not contain two adjacent dots";
  }
  if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9')) ||
      !((name[n - 1] >= 'a' && name[n - 1] <= 'z') || (name[n - 1] >= '0' && name[n - 1] <= '9')))
    return "The bucket name must begin and end with a letter or a number";
  if (digits_dots) return "The bucket name must not be formatted as an IP address";
  return NULL;
}

static bool bucket_exists_locked(ll_objstore_t *os, const char *name) {
  sqlite3_stmt *q;
  bool found = false;
  if (sqlite3_prepare_v2(os->db, "SELECT 1 FROM buckets WHERE name = ?1", -1, &q, NULL) == SQLITE_OK) {
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    found = sqlite3_step(q) == SQLITE_ROW;
    sqlite3_finalize(q);
  }
  return found;
}

int ll_bucket_create(ll_objstore_t *os, const char *name, const char *region, ll_err_t *err) {
  const char *why = ll_bucket_name_problem(name);
  if (why) return ll_err_set(err, LL_OS_INVALID, "%s", why);
  char *dir = ll_sprintf("%s/%s", os->dir, name);
  pthread_mutex_lock(&os->mu);
  int rc = 0;
  if (bucket_exists_locked(os, name)) {
    rc = ll_err_set(err, LL_OS_EXISTS,
                    "Your previous request to create the named bucket succeeded and you already own it.");
  } else if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
    rc = ll_err_set(err, errno, "creating %s: %s", dir, strerror(errno));
  } else {
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(os->db, "INSERT INTO buckets(name, created_ms, region) VALUES(?1, ?2, ?3)",
                           -1, &q, NULL) != SQLITE_OK) {
      rc = db_fail(os, err, "creating the bucket");
    } else {
      sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
      sqlite3_bind_int64(q, 2, ll_wall_ms());
      sqlite3_bind_text(q, 3, region ? region : "us-east-1", -1, SQLITE_STATIC);
      if (sqlite3_step(q) != SQLITE_DONE) rc = db_fail(os, err, "creating the bucket");
      sqlite3_finalize(q);
    }
  }
  pthread_mutex_unlock(&os->mu);
  free(dir);
  return rc;
}

static int no_bucket(ll_err_t *err, const char *name) {
  return ll_err_set(err, LL_OS_NO_BUCKET, "The specified bucket does not exist (%s)", name);
}

int ll_bucket_delete(ll_objstore_t *os, const char *name, ll_err_t *err) {
  pthread_mutex_lock(&os->mu);
  int rc = 0;
  sqlite3_stmt *q;
  if (!bucket_exists_locked(os, name)) {
    rc = no_bucket(err, name);
  } else if (sqlite3_prepare_v2(os->db, "SELECT 1 FROM objects WHERE bucket = ?1 LIMIT 1", -1, &q,
                                NULL) != SQLITE_OK) {
    rc = db_fail(os, err, "deleting the bucket");
  } else {
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    bool any = sqlite3_step(q) == SQLITE_ROW;
    sqlite3_finalize(q);
    if (any) {
      rc = ll_err_set(err, LL_OS_NOT_EMPTY, "The bucket you tried to delete is not empty");
    } else if (sqlite3_prepare_v2(os->db, "DELETE FROM buckets WHERE name = ?1", -1, &q, NULL) != SQLITE_OK) {
      rc = db_fail(os, err, "deleting the bucket");
    } else {
      sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
      if (sqlite3_step(q) != SQLITE_DONE) rc = db_fail(os, err, "deleting the bucket");
      sqlite3_finalize(q);
    }
  }
  pthread_mutex_unlock(&os->mu);
  if (rc == 0) { /* its (empty) fan-out folders, then itself */
    char *dir = ll_sprintf("%s/%s", os->dir, name);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
      if (e->d_name[0] == '.') continue;
      char *sub = ll_sprintf("%s/%s", dir, e->d_name);
      rmdir(sub);
      free(sub);
    }
    if (d) closedir(d);
    rmdir(dir);
    free(dir);
  }
  return rc;
}

static void bucket_row(sqlite3_stmt *q, ll_bucket_info_t *b) {
  memset(b, 0, sizeof *b);
  snprintf(b->name, sizeof b->name, "%s", (const char *)sqlite3_column_text(q, 0));
  b->created_ms = sqlite3_column_int64(q, 1);
  snprintf(b->region, sizeof b->region, "%s", (const char *)sqlite3_column_text(q, 2));
}

int ll_bucket_get(ll_objstore_t *os, const char *name, ll_bucket_info_t *out, ll_err_t *err) {
  pthread_mutex_lock(&os->mu);
  sqlite3_stmt *q;
  int rc = no_bucket(err, name);
  if (sqlite3_prepare_v2(os->db, "SELECT name, created_ms, region FROM buckets WHERE name = ?1",
                         -1, &q, NULL) == SQLITE_OK) {
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW) {
      bucket_row(q, out);
      rc = 0;
    }
    sqlite3_finalize(q);
  }
  pthread_mutex_unlock(&os->mu);
  return rc;
}

size_t ll_bucket_list(ll_objstore_t *os, ll_bucket_info_t **out) {
  size_t n = 0, cap = 8;
  *out = ll_calloc(cap, sizeof **out);
  pthread_mutex_lock(&os->mu);
  sqlite3_stmt *q;
  if (sqlite3_prepare_v2(os->db, "SELECT name, created_ms, region FROM buckets ORDER BY name", -1,
                         &q, NULL) == SQLITE_OK) {
    while (sqlite3_step(q) == SQLITE_ROW) {
      if (n == cap) *out = ll_realloc(*out, (cap *= 2) * sizeof **out);
      bucket_row(q, &(*out)[n++]);
    }
    sqlite3_finalize(q);
  }
  pthread_mutex_unlock(&os->mu);
  return n;
}

/* ---- writing ----------------------------------------------------------------------------------- */

int ll_obj_begin(ll_objstore_t *os, const char *bucket, const char *key, ll_obj_writer_t **out,
                 ll_err_t *err) {
  size_t kl = key ? strlen(key) : 0;
  if (kl == 0 || kl > LL_OS_KEY_MAX)
    return ll_err_set(err, LL_OS_INVALID, "Your key is %s.", kl ? "too long" : "empty");
  pthread_mutex_lock(&os->mu);
  bool ok = bucket_exists_locked(os, bucket);
  pthread_mutex_unlock(&os->mu);
  if (!ok) return no_bucket(err, bucket);
  char id[33];
  ll_random_hex(id, 16);
  char *tmp = ll_sprintf("%s/.tmp/%s", os->dir, id);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    int e = errno;
    free(tmp);
    return ll_err_set(err, e, "object store: creating a temporary file: %s", strerror(e));
  }
  ll_obj_writer_t *w = ll_calloc(1, sizeof *w);
  w->os = os;
  w->bucket = ll_strdup(bucket);
  w->key = ll_strdup(key);
  w->tmp = tmp;
  w->fd = fd;
  w->md5 = EVP_MD_CTX_new();
  EVP_DigestInit_ex(w->md5, EVP_md5(), NULL);
  *out = w;
  return 0;
}

int ll_obj_write(ll_obj_writer_t *w, const void *data, size_t len, ll_err_t *err) {
  const char *p = data;
  EVP_DigestUpdate(w->md5, data, len);
  while (len) {
    ssize_t n = write(w->fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ll_err_set(err, errno, "object store: writing %s: %s", w->key, strerror(errno));
    p += n;
    len -= (size_t)n;
    w->size += (uint64_t)n;
  }
  return 0;
}

static void writer_free(ll_obj_writer_t *w) {
  if (w->fd >= 0) close(w->fd);
  EVP_MD_CTX_free(w->md5);
  free(w->bucket);
  free(w->key);
  free(w->tmp);
  free(w);
}

void ll_obj_abort(ll_obj_writer_t *w) {
  unlink(w->tmp);
  writer_free(w);
}

static int fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -errno;
  int r = fsync(fd) < 0 ? -errno : 0;
  close(fd);
  return r;
}

int ll_obj_commit(ll_obj_writer_t *w, const char *content_type, json_t *metadata,
                  ll_obj_info_t *info, ll_err_t *err) {
  ll_objstore_t *os = w->os;
  unsigned char md[16];
  unsigned int mdlen = 0;
  EVP_DigestFinal_ex(w->md5, md, &mdlen);
  char hex[33], id[25], sub[3];
  ll_hex(md, 16, hex);
  ll_random_hex(id, 12);
  memcpy(sub, id, 2);
  sub[2] = '\0';
  char *subdir = ll_sprintf("%s/%s/%s", os->dir, w->bucket, sub);
  char *rel = ll_sprintf("%s/%s/%s", w->bucket, sub, id + 2);
  char *final = ll_sprintf("%s/%s", os->dir, rel);
  int rc = -1;
  char *old = NULL;
  /* the bytes durable under their version name first, then the row that makes them the object */
  if (fsync(w->fd) < 0) {
    ll_err_set(err, errno, "object store: fsync of %s: %s", w->key, strerror(errno));
  } else if (mkdir(subdir, 0700) < 0 && errno != EEXIST) {
    ll_err_set(err, errno, "object store: creating %s: %s", subdir, strerror(errno));
  } else if (rename(w->tmp, final) < 0) {
    ll_err_set(err, errno, "object store: placing %s: %s", w->key, strerror(errno));
  } else if (fsync_dir(subdir) < 0) {
    ll_err_set(err, EIO, "object store: fsync of %s", subdir);
    unlink(final);
  } else {
    int64_t now = ll_wall_ms();
    char etag[40];
    snprintf(etag, sizeof etag, "\"%s\"", hex);
    json_t *meta = json_is_object(metadata) ? json_incref(metadata) : json_object();
    char *meta_text = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS);
    const char *ct = content_type && *content_type ? content_type : "binary/octet-stream";
    pthread_mutex_lock(&os->mu);
    sqlite3_stmt *q;
    if (!bucket_exists_locked(os, w->bucket)) { /* deleted while the upload ran */
      no_bucket(err, w->bucket);
    } else if (sqlite3_prepare_v2(os->db, "SELECT file FROM objects WHERE bucket = ?1 AND key = ?2",
                                  -1, &q, NULL) == SQLITE_OK) {
      sqlite3_bind_text(q, 1, w->bucket, -1, SQLITE_STATIC);
      sqlite3_bind_text(q, 2, w->key, -1, SQLITE_STATIC);
      if (sqlite3_step(q) == SQLITE_ROW) old = ll_strdup((const char *)sqlite3_column_text(q, 0));
      sqlite3_finalize(q);
      if (sqlite3_prepare_v2(os->db,
                             "INSERT OR REPLACE INTO objects(bucket, key, file, size, etag, "
                             "modified_ms, content_type, metadata) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
                             -1, &q, NULL) != SQLITE_OK) {
        db_fail(os, err, "recording the object");
      } else {
        sqlite3_bind_text(q, 1, w->bucket, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, w->key, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, rel, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 4, (sqlite3_int64)w->size);
        sqlite3_bind_text(q, 5, etag, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 6, now);
        sqlite3_bind_text(q, 7, ct, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 8, meta_text, -1, SQLITE_STATIC);
        rc = sqlite3_step(q) == SQLITE_DONE ? 0 : db_fail(os, err, "recording the object");
        sqlite3_finalize(q);
      }
    } else {
      db_fail(os, err, "recording the object");
    }
    pthread_mutex_unlock(&os->mu);
    if (rc == 0 && info) {
      memset(info, 0, sizeof *info);
      info->size = w->size;
      snprintf(info->etag, sizeof info->etag, "%s", etag);
      info->modified_ms = now;
      snprintf(info->content_type, sizeof info->content_type, "%s", ct);
      info->metadata = json_incref(meta);
    }
    json_decref(meta);
    free(meta_text);
    if (rc < 0) unlink(final);
  }
  if (rc == 0 && old) { /* the replaced version (open readers keep their bytes) */
    char *abs = ll_sprintf("%s/%s", os->dir, old);
    unlink(abs);
    free(abs);
  }
  if (rc < 0) unlink(w->tmp);
  free(old);
  free(subdir);
  free(rel);
  free(final);
  writer_free(w);
  return rc;
}

/* ---- reading ----------------------------------------------------------------------------------- */

void ll_obj_info_free(ll_obj_info_t *info) {
  json_decref(info->metadata);
  info->metadata = NULL;
}

/* The row of bucket/key: info filled and the file's path (heap) returned; NULL with err. */
static char *lookup(ll_objstore_t *os, const char *bucket, const char *key, ll_obj_info_t *info,
                    ll_err_t *err) {
  char *path = NULL;
  pthread_mutex_lock(&os->mu);
  sqlite3_stmt *q;
  if (!bucket_exists_locked(os, bucket)) {
    no_bucket(err, bucket);
  } else if (sqlite3_prepare_v2(os->db,
                                "SELECT file, size, etag, modified_ms, content_type, metadata "
                                "FROM objects WHERE bucket = ?1 AND key = ?2",
                                -1, &q, NULL) != SQLITE_OK) {
    db_fail(os, err, "reading the object");
  } else {
    sqlite3_bind_text(q, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, key, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW) {
      path = ll_sprintf("%s/%s", os->dir, (const char *)sqlite3_column_text(q, 0));
      memset(info, 0, sizeof *info);
      info->size = (uint64_t)sqlite3_column_int64(q, 1);
      snprintf(info->etag, sizeof info->etag, "%s", (const char *)sqlite3_column_text(q, 2));
      info->modified_ms = sqlite3_column_int64(q, 3);
      snprintf(info->content_type, sizeof info->content_type, "%s",
               (const char *)sqlite3_column_text(q, 4));
      info->metadata = json_loads((const char *)sqlite3_column_text(q, 5), 0, NULL);
      if (!json_is_object(info->metadata)) {
        json_decref(info->metadata);
        info->metadata = json_object();
      }
    } else {
      ll_err_set(err, LL_OS_NO_KEY, "The specified key does not exist.");
    }
    sqlite3_finalize(q);
  }
  pthread_mutex_unlock(&os->mu);
  return path;
}

int ll_obj_stat(ll_objstore_t *os, const char *bucket, const char *key, ll_obj_info_t *info,
                ll_err_t *err) {
  char *path = lookup(os, bucket, key, info, err);
  free(path);
  return path ? 0 : -1;
}

int ll_obj_open(ll_objstore_t *os, const char *bucket, const char *key, int *fd,
                ll_obj_info_t *info, ll_err_t *err) {
  /* A commit may replace the object between the lookup and the open: then look again. */
  for (int tries = 0; tries < 8; tries++) {
    char *path = lookup(os, bucket, key, info, err);
    if (!path) return -1;
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    int e = errno;
    free(path);
    if (*fd >= 0) return 0;
    ll_obj_info_free(info);
    if (e != ENOENT) return ll_err_set(err, e, "object store: opening %s: %s", key, strerror(e));
  }
  return ll_err_set(err, LL_OS_INTERNAL, "object store: %s keeps changing", key);
}

int ll_obj_delete(ll_objstore_t *os, const char *bucket, const char *key, ll_err_t *err) {
  pthread_mutex_lock(&os->mu);
  int rc = 0;
  char *file = NULL;
  sqlite3_stmt *q;
  if (!bucket_exists_locked(os, bucket)) {
    rc = no_bucket(err, bucket);
  } else if (sqlite3_prepare_v2(os->db, "DELETE FROM objects WHERE bucket = ?1 AND key = ?2 RETURNING file",
                                -1, &q, NULL) != SQLITE_OK) {
    rc = db_fail(os, err, "deleting the object");
  } else {
    sqlite3_bind_text(q, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, key, -1, SQLITE_STATIC);
    int s = sqlite3_step(q);
    if (s == SQLITE_ROW) file = ll_strdup((const char *)sqlite3_column_text(q, 0));
    else if (s != SQLITE_DONE) rc = db_fail(os, err, "deleting the object");
    sqlite3_finalize(q);
  }
  pthread_mutex_unlock(&os->mu);
  if (file) {
    char *abs = ll_sprintf("%s/%s", os->dir, file);
    unlink(abs);
    free(abs);
    free(file);
  }
  return rc;
}

/* ---- listing ----------------------------------------------------------------------------------- */

void ll_obj_listing_free(ll_obj_listing_t *l) {
  for (size_t i = 0; i < l->nobjects; i++) free(l->objects[i].key);
  free(l->objects);
  for (size_t i = 0; i < l->nprefixes; i++) free(l->prefixes[i]);
  free(l->prefixes);
  free(l->next);
  memset(l, 0, sizeof *l);
}

int ll_obj_list(ll_objstore_t *os, const char *bucket, const char *prefix, const char *delimiter,
                const char *start_after, size_t max, ll_obj_listing_t *out, ll_err_t *err) {
  memset(out, 0, sizeof *out);
  size_t pl = prefix ? strlen(prefix) : 0, dl = delimiter ? strlen(delimiter) : 0;
  const char *from = start_after && (!prefix || strcmp(start_after, prefix) >= 0) ? start_after : prefix;
  pthread_mutex_lock(&os->mu);
  sqlite3_stmt *q;
  int rc = 0;
  if (!bucket_exists_locked(os, bucket)) {
    rc = no_bucket(err, bucket);
    goto done;
  }
  /* keys in byte order (SQLite's BINARY collation) from the later of prefix and start_after */
  if (sqlite3_prepare_v2(os->db,
                         "SELECT key, size, etag, modified_ms FROM objects WHERE bucket = ?1 "
                         "AND key >= ?2 ORDER BY key",
                         -1, &q, NULL) != SQLITE_OK) {
    rc = db_fail(os, err, "listing");
    goto done;
  }
  sqlite3_bind_text(q, 1, bucket, -1, SQLITE_STATIC);
  sqlite3_bind_text(q, 2, from ? from : "", -1, SQLITE_STATIC);
  size_t capo = 0, capp = 0, taken = 0;
  char *last_prefix = NULL;
  while (sqlite3_step(q) == SQLITE_ROW) {
    const char *key = (const char *)sqlite3_column_text(q, 0);
    size_t kl = (size_t)sqlite3_column_bytes(q, 0);
    if (pl && (kl < pl || memcmp(key, prefix, pl) != 0)) break; /* past the prefix's range */
    if (start_after && strcmp(key, start_after) <= 0) continue;
    char *roll = NULL;
    if (dl) {
      const char *d = memmem(key + pl, kl - pl, delimiter, dl);
      if (d) roll = ll_strndup(key, (size_t)(d - key) + dl);
    }
    if (roll && ((last_prefix && strcmp(roll, last_prefix) == 0) ||
                 (start_after && strcmp(roll, start_after) <= 0))) {
      free(roll); /* a common prefix already given (on this page or an earlier one) */
      continue;
    }
    if (taken == max) {
      out->truncated = true;
      free(roll);
      break;
    }
    taken++;
    if (roll) {
      if (out->nprefixes == capp) out->prefixes = ll_realloc(out->prefixes, (capp = capp ? capp * 2 : 16) * sizeof *out->prefixes);
      out->prefixes[out->nprefixes++] = roll;
      last_prefix = roll;
      free(out->next);
      out->next = ll_strdup(roll);
      continue;
    }
    if (out->nobjects == capo) out->objects = ll_realloc(out->objects, (capo = capo ? capo * 2 : 16) * sizeof *out->objects);
    ll_obj_entry_t *e = &out->objects[out->nobjects++];
    e->key = ll_strndup(key, kl);
    e->size = (uint64_t)sqlite3_column_int64(q, 1);
    snprintf(e->etag, sizeof e->etag, "%s", (const char *)sqlite3_column_text(q, 2));
    e->modified_ms = sqlite3_column_int64(q, 3);
    free(out->next);
    out->next = ll_strdup(e->key);
  }
  sqlite3_finalize(q);
  if (!out->truncated) {
    free(out->next);
    out->next = NULL;
  }
done:
  pthread_mutex_unlock(&os->mu);
  return rc;
}

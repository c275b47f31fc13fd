/* The object store (store.h): object files, metadata in SQLite, streamed commits, multipart
 * uploads, copies. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/encoding.h"
#include "core/mem.h"
#include "objstore/store.h"

struct ll_objstore {
  char *dir;          /* data_dir/objects */
  sqlite3 *db;
  pthread_mutex_t mu; /* every use of db */
};

struct ll_obj_writer {
  ll_objstore_t *os;
  char *bucket, *key;
  char *upload;       /* a part's upload id, NULL for an object */
  int part;           /* and its number */
  char *tmp;          /* the temporary file's path */
  int fd;
  EVP_MD_CTX *md5;
  uint64_t size;
};

/* The row is each write's commit point. `parts.file` and `objects.file` are paths relative to
 * objects/; `counters` holds 'seq', the last sequence number handed out. Notifications have a
 * table of their own so that an objects.db of the first version needs no new column on
 * buckets; `objects.seq` is added to such a file at open (migrate). */
static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=FULL;"
    "CREATE TABLE IF NOT EXISTS buckets(name TEXT PRIMARY KEY, created_ms INTEGER NOT NULL,"
    "  region TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS objects(bucket TEXT NOT NULL, key TEXT NOT NULL,"
    "  file TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,"
    "  modified_ms INTEGER NOT NULL, content_type TEXT NOT NULL, metadata TEXT NOT NULL,"
    "  seq INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY(bucket, key));"
    "CREATE INDEX IF NOT EXISTS objects_file ON objects(file);"
    "CREATE TABLE IF NOT EXISTS counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS uploads(id TEXT PRIMARY KEY, bucket TEXT NOT NULL,"
    "  key TEXT NOT NULL, content_type TEXT NOT NULL, metadata TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS uploads_key ON uploads(bucket, key, created_ms);"
    "CREATE TABLE IF NOT EXISTS parts(upload TEXT NOT NULL, number INTEGER NOT NULL,"
    "  file TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,"
    "  modified_ms INTEGER NOT NULL, PRIMARY KEY(upload, number));"
    "CREATE INDEX IF NOT EXISTS parts_file ON parts(file);"
    "CREATE TABLE IF NOT EXISTS notifications(bucket TEXT PRIMARY KEY, config TEXT NOT NULL);";

static int db_fail(ll_objstore_t *os, ll_err_t *err, const char *what) {
  return ll_err_set(err, LL_OS_INTERNAL, "object store: %s: %s", what, sqlite3_errmsg(os->db));
}

/* Names for temporary and version files. Not core/random.h: its pool is the loop thread's, and
 * commits, copies and completions run on workers; getrandom(2) itself is thread-safe. */
static void name_hex(char *out, size_t nbytes) {
  uint8_t b[32];
  ll_assert(nbytes <= sizeof b);
  size_t got = 0;
  while (got < nbytes) {
    ssize_t n = getrandom(b + got, nbytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    ll_assert(n > 0);
    got += (size_t)n;
  }
  ll_hex(b, nbytes, out);
}

/* A growing list of heap strings (files to unlink once a transaction committed). */
typedef struct strv {
  char **v;
  size_t n, cap;
} strv_t;

static void strv_push(strv_t *s, char *p) {
  if (s->n == s->cap) s->v = ll_realloc(s->v, (s->cap = s->cap ? s->cap * 2 : 8) * sizeof *s->v);
  s->v[s->n++] = p;
}

/* Unlinks objects/<each> and frees the list. */
static void strv_unlink_free(ll_objstore_t *os, strv_t *s) {
  for (size_t i = 0; i < s->n; i++) {
    char *abs = ll_sprintf("%s/%s", os->dir, s->v[i]);
    unlink(abs);
    free(abs);
    free(s->v[i]);
  }
  free(s->v);
  memset(s, 0, sizeof *s);
}

static void unlink_rel(ll_objstore_t *os, const char *rel) {
  char *abs = ll_sprintf("%s/%s", os->dir, rel);
  unlink(abs);
  free(abs);
}

/* Transactions (the lock held): several rows change together, and with one fsync. */
static int tx_begin(ll_objstore_t *os, ll_err_t *err) {
  return sqlite3_exec(os->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK
             ? 0
             : db_fail(os, err, "starting a transaction");
}

/* Commits when rc is 0 (returning 0, or -1 with err if that fails), else rolls back and returns
 * rc. */
static int tx_end(ll_objstore_t *os, int rc, ll_err_t *err) {
  if (rc == 0 && sqlite3_exec(os->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) return 0;
  if (rc == 0) rc = db_fail(os, err, "committing");
  sqlite3_exec(os->db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

/* Runs a statement of text parameters ?1.. (NULL binds NULL) to completion; rows it returns
 * (RETURNING, one text column) are pushed to out when out is not NULL. 0 or -1 with err. */
static int run(ll_objstore_t *os, ll_err_t *err, const char *what, strv_t *out, const char *sql,
               int nargs, const char *const *args) {
  sqlite3_stmt *q;
  if (sqlite3_prepare_v2(os->db, sql, -1, &q, NULL) != SQLITE_OK) return db_fail(os, err, what);
  for (int i = 0; i < nargs; i++) sqlite3_bind_text(q, i + 1, args[i], -1, SQLITE_STATIC);
  int s;
  while ((s = sqlite3_step(q)) == SQLITE_ROW)
    if (out) strv_push(out, ll_strdup((const char *)sqlite3_column_text(q, 0)));
  int rc = s == SQLITE_DONE ? 0 : db_fail(os, err, what);
  sqlite3_finalize(q);
  return rc;
}

#define RUN(os, err, what, out, sql, ...)                                                   \
  run(os, err, what, out, sql, (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(char *)), \
      (const char *[]){__VA_ARGS__})

/* The next sequence number (the lock held, inside the transaction that uses it). */
static int next_seq_locked(ll_objstore_t *os, uint64_t *seq, ll_err_t *err) {
  sqlite3_stmt *q;
  if (sqlite3_prepare_v2(os->db,
                         "UPDATE counters SET value = value + 1 WHERE name = 'seq' RETURNING value",
                         -1, &q, NULL) != SQLITE_OK)
    return db_fail(os, err, "numbering the write");
  int rc = 0;
  if (sqlite3_step(q) == SQLITE_ROW) *seq = (uint64_t)sqlite3_column_int64(q, 0);
  else rc = db_fail(os, err, "numbering the write");
  sqlite3_finalize(q);
  return rc;
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
    /* fan-out folders are 2 hex digits; ".." is 2 characters too, and is objects/ itself, whose
     * files (objects.db!) no row names */
    if (strlen(e->d_name) != 2 || e->d_name[0] == '.') continue;
    char *sub = ll_sprintf("%s/%s", bdir, e->d_name);
    DIR *s = opendir(sub);
    struct dirent *f;
    while (s && (f = readdir(s))) {
      if (f->d_name[0] == '.') continue;
      char *rel = ll_sprintf("%s/%s/%s", bucket, e->d_name, f->d_name);
      sqlite3_reset(q);
      sqlite3_bind_text(q, 1, rel, -1, SQLITE_STATIC);
      if (sqlite3_step(q) != SQLITE_ROW) unlink_rel(os, rel);
      free(rel);
    }
    if (s) closedir(s);
    free(sub);
  }
  sqlite3_finalize(q);
  if (d) closedir(d);
  free(bdir);
}

/* The same for parts: a part file no row names was never acknowledged, or belonged to an upload
 * that was completed or aborted (rows go first, files after). Uploads in progress stay. */
static void remove_part_orphans(ll_objstore_t *os) {
  char *pdir = ll_sprintf("%s/.parts", os->dir);
  DIR *d = opendir(pdir);
  struct dirent *e;
  sqlite3_stmt *q = NULL;
  sqlite3_prepare_v2(os->db, "SELECT 1 FROM parts WHERE file = ?1", -1, &q, NULL);
  while (d && q && (e = readdir(d))) {
    if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2]))) continue;
    char *rel = ll_sprintf(".parts/%s", e->d_name);
    sqlite3_reset(q);
    sqlite3_bind_text(q, 1, rel, -1, SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_ROW) unlink_rel(os, rel);
    free(rel);
  }
  sqlite3_finalize(q);
  if (d) closedir(d);
  free(pdir);
}

/* An objects.db of the first version has no objects.seq: add it (those objects get 0), and
 * start the counter past every number already given. */
static int migrate(ll_objstore_t *os, ll_err_t *err) {
  sqlite3_stmt *q;
  bool has_seq = false;
  if (sqlite3_prepare_v2(os->db, "PRAGMA table_info(objects)", -1, &q, NULL) != SQLITE_OK)
    return db_fail(os, err, "reading the schema");
  while (sqlite3_step(q) == SQLITE_ROW)
    if (strcmp((const char *)sqlite3_column_text(q, 1), "seq") == 0) has_seq = true;
  sqlite3_finalize(q);
  if (!has_seq && sqlite3_exec(os->db, "ALTER TABLE objects ADD COLUMN seq INTEGER NOT NULL DEFAULT 0",
                               NULL, NULL, NULL) != SQLITE_OK)
    return db_fail(os, err, "adding objects.seq");
  if (sqlite3_exec(os->db,
                   "INSERT OR IGNORE INTO counters(name, value) "
                   "SELECT 'seq', coalesce(max(seq), 0) FROM objects",
                   NULL, NULL, NULL) != SQLITE_OK)
    return db_fail(os, err, "starting the counter");
  return 0;
}

int ll_objstore_open(const char *data_dir, ll_objstore_t **out, ll_err_t *err) {
  ll_objstore_t *os = ll_calloc(1, sizeof *os);
  pthread_mutex_init(&os->mu, NULL);
  os->dir = ll_sprintf("%s/objects", data_dir);
  char *tmp = ll_sprintf("%s/.tmp", os->dir);
  char *parts = ll_sprintf("%s/.parts", os->dir);
  char *db = ll_sprintf("%s/objects.db", os->dir);
  int rc = -1;
  char *msg = NULL;
  const char *bad = NULL;
  if ((mkdir(os->dir, 0700) < 0 && errno != EEXIST && (bad = os->dir)) ||
      (mkdir(tmp, 0700) < 0 && errno != EEXIST && (bad = tmp)) ||
      (mkdir(parts, 0700) < 0 && errno != EEXIST && (bad = parts))) {
    ll_err_set(err, errno, "creating %s: %s", bad, strerror(errno));
  } else if (sqlite3_open(db, &os->db) != SQLITE_OK ||
             sqlite3_exec(os->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
    ll_err_set(err, LL_OS_INTERNAL, "object store %s: %s", db, msg ? msg : sqlite3_errmsg(os->db));
  } else if (migrate(os, err) == 0) {
    sqlite3_busy_timeout(os->db, 5000);
    remove_tree_files(tmp); /* uploads cut short (objects' and parts') */
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(os->db, "SELECT name FROM buckets", -1, &q, NULL) == SQLITE_OK) {
      while (sqlite3_step(q) == SQLITE_ROW) remove_orphans(os, (const char *)sqlite3_column_text(q, 0));
      sqlite3_finalize(q);
    }
    remove_part_orphans(os);
    rc = 0;
  }
  sqlite3_free(msg);
  free(tmp);
  free(parts);
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
  strv_t parts = {0};
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
    } else if ((rc = tx_begin(os, err)) == 0) {
      /* uploads in progress go with it (S3 allows deleting a bucket that has some) */
      const char *what = "deleting the bucket";
      if ((rc = RUN(os, err, what, &parts,
                    "DELETE FROM parts WHERE upload IN (SELECT id FROM uploads WHERE bucket = ?1) "
                    "RETURNING file",
                    name)) == 0 &&
          (rc = RUN(os, err, what, NULL, "DELETE FROM uploads WHERE bucket = ?1", name)) == 0 &&
          (rc = RUN(os, err, what, NULL, "DELETE FROM notifications WHERE bucket = ?1", name)) == 0)
        rc = RUN(os, err, what, NULL, "DELETE FROM buckets WHERE name = ?1", name);
      rc = tx_end(os, rc, err);
    }
  }
  pthread_mutex_unlock(&os->mu);
  if (rc == 0) { /* the parts' files, its (empty) fan-out folders, then itself */
    strv_unlink_free(os, &parts);
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
  } else {
    for (size_t i = 0; i < parts.n; i++) free(parts.v[i]);
    free(parts.v);
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

int ll_bucket_set_notification(ll_objstore_t *os, const char *bucket, const char *json_text,
                               ll_err_t *err) {
  pthread_mutex_lock(&os->mu);
  int rc;
  if (!bucket_exists_locked(os, bucket))
    rc = no_bucket(err, bucket);
  else if (!json_text || !*json_text)
    rc = RUN(os, err, "removing the notification configuration", NULL,
             "DELETE FROM notifications WHERE bucket = ?1", bucket);
  else
    rc = RUN(os, err, "storing the notification configuration", NULL,
             "INSERT OR REPLACE INTO notifications(bucket, config) VALUES(?1, ?2)", bucket, json_text);
  pthread_mutex_unlock(&os->mu);
  return rc;
}

int ll_bucket_get_notification(ll_objstore_t *os, const char *bucket, char **out, ll_err_t *err) {
  *out = NULL;
  strv_t got = {0};
  pthread_mutex_lock(&os->mu);
  int rc = bucket_exists_locked(os, bucket)
               ? RUN(os, err, "reading the notification configuration", &got,
                     "SELECT config FROM notifications WHERE bucket = ?1", bucket)
               : no_bucket(err, bucket);
  pthread_mutex_unlock(&os->mu);
  if (rc == 0 && got.n) *out = got.v[0]; /* (one at most: the bucket is the key) */
  else if (got.n) free(got.v[0]);
  free(got.v);
  return rc;
}

/* ---- writing ----------------------------------------------------------------------------------- */

static int check_key(const char *key, ll_err_t *err) {
  size_t kl = key ? strlen(key) : 0;
  if (kl == 0 || kl > LL_OS_KEY_MAX)
    return ll_err_set(err, LL_OS_INVALID, "Your key is %s.", kl ? "too long" : "empty");
  return 0;
}

/* A new temporary file in objects/.tmp: its path (heap) in *path and its fd, or -1 with err. */
static int open_tmp(ll_objstore_t *os, char **path, int *fd, ll_err_t *err) {
  char id[33];
  name_hex(id, 16);
  char *tmp = ll_sprintf("%s/.tmp/%s", os->dir, id);
  int f = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (f < 0) {
    int e = errno;
    free(tmp);
    return ll_err_set(err, e, "object store: creating a temporary file: %s", strerror(e));
  }
  *path = tmp;
  *fd = f;
  return 0;
}

static int writer_new(ll_objstore_t *os, const char *bucket, const char *key, ll_obj_writer_t **out,
                      ll_err_t *err) {
  char *tmp;
  int fd;
  if (open_tmp(os, &tmp, &fd, err) < 0) return -1;
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

int ll_obj_begin(ll_objstore_t *os, const char *bucket, const char *key, ll_obj_writer_t **out,
                 ll_err_t *err) {
  if (check_key(key, err) < 0) return -1;
  pthread_mutex_lock(&os->mu);
  bool ok = bucket_exists_locked(os, bucket);
  pthread_mutex_unlock(&os->mu);
  if (!ok) return no_bucket(err, bucket);
  return writer_new(os, bucket, key, out, err);
}

void ll_obj_writer_md5(const ll_obj_writer_t *w, unsigned char out[16]) {
  EVP_MD_CTX *c = EVP_MD_CTX_new();
  unsigned int n = 16;
  EVP_MD_CTX_copy_ex(c, w->md5);
  EVP_DigestFinal_ex(c, out, &n);
  EVP_MD_CTX_free(c);
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
  free(w->upload);
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

/* The writer's MD5 as S3's quoted ETag. */
static void writer_etag(ll_obj_writer_t *w, char etag[40]) {
  unsigned char md[16];
  unsigned int mdlen = 0;
  char hex[33];
  EVP_DigestFinal_ex(w->md5, md, &mdlen);
  ll_hex(md, 16, hex);
  snprintf(etag, 40, "\"%s\"", hex);
}

/* Deletes upload id (of bucket/key) and its parts' rows, pushing the parts' files to files;
 * -1 with err LL_OS_NO_UPLOAD when there is no such upload. The lock held, in a transaction. */
static int drop_upload_locked(ll_objstore_t *os, const char *bucket, const char *key,
                              const char *id, strv_t *files, ll_err_t *err);

/* What a commit makes an object: a finished temporary file and the row's fields. */
typedef struct version {
  const char *bucket, *key;
  const char *tmp;          /* the temporary file: renamed to its version name, or unlinked */
  int fd;                   /* open on it (fsync; the caller closes it) */
  uint64_t size;
  const char *etag;         /* quoted */
  const char *content_type; /* NULL or "" = binary/octet-stream */
  json_t *metadata;         /* borrowed; NULL = {} */
  const char *upload;       /* ll_mpu_complete: the upload this finishes, removed in the same
                             * transaction as the row is written (NoSuchUpload if it is gone) */
} version_t;

/* The one commit path (ll_obj_commit, ll_mpu_complete, ll_obj_copy): the bytes durable under
 * their version name first, then the row that makes them the object, then the replaced
 * version's file (and a completed upload's part files) unlinked. On failure nothing of the new
 * version is left. Fills *info (may be NULL). */
static int commit_version(ll_objstore_t *os, const version_t *v, ll_obj_info_t *info,
                          ll_err_t *err) {
  char id[25], sub[3];
  name_hex(id, 12);
  memcpy(sub, id, 2);
  sub[2] = '\0';
  char *subdir = ll_sprintf("%s/%s/%s", os->dir, v->bucket, sub);
  char *rel = ll_sprintf("%s/%s/%s", v->bucket, sub, id + 2);
  char *final = ll_sprintf("%s/%s", os->dir, rel);
  int rc = -1;
  char *old = NULL;
  strv_t parts = {0};
  if (fsync(v->fd) < 0) {
    ll_err_set(err, errno, "object store: fsync of %s: %s", v->key, strerror(errno));
  } else if (mkdir(subdir, 0700) < 0 && errno != EEXIST) {
    ll_err_set(err, errno, "object store: creating %s: %s", subdir, strerror(errno));
  } else if (rename(v->tmp, final) < 0) {
    ll_err_set(err, errno, "object store: placing %s: %s", v->key, strerror(errno));
  } else if (fsync_dir(subdir) < 0) {
    ll_err_set(err, EIO, "object store: fsync of %s", subdir);
    unlink(final);
  } else {
    int64_t now = ll_wall_ms();
    uint64_t seq = 0;
    json_t *meta = json_is_object(v->metadata) ? json_incref(v->metadata) : json_object();
    char *meta_text = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS);
    const char *ct = v->content_type && *v->content_type ? v->content_type : "binary/octet-stream";
    pthread_mutex_lock(&os->mu);
    sqlite3_stmt *q;
    if (!bucket_exists_locked(os, v->bucket)) { /* deleted while the upload ran */
      no_bucket(err, v->bucket);
    } else if (tx_begin(os, err) == 0) {
      rc = v->upload ? drop_upload_locked(os, v->bucket, v->key, v->upload, &parts, err) : 0;
      if (rc == 0 && (rc = next_seq_locked(os, &seq, err)) == 0) {
        rc = -1;
        if (sqlite3_prepare_v2(os->db, "SELECT file FROM objects WHERE bucket = ?1 AND key = ?2",
                               -1, &q, NULL) == SQLITE_OK) {
          sqlite3_bind_text(q, 1, v->bucket, -1, SQLITE_STATIC);
          sqlite3_bind_text(q, 2, v->key, -1, SQLITE_STATIC);
          if (sqlite3_step(q) == SQLITE_ROW) old = ll_strdup((const char *)sqlite3_column_text(q, 0));
          sqlite3_finalize(q);
          if (sqlite3_prepare_v2(os->db,
                                 "INSERT OR REPLACE INTO objects(bucket, key, file, size, etag, "
                                 "modified_ms, content_type, metadata, seq) "
                                 "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)",
                                 -1, &q, NULL) != SQLITE_OK) {
            db_fail(os, err, "recording the object");
          } else {
            sqlite3_bind_text(q, 1, v->bucket, -1, SQLITE_STATIC);
            sqlite3_bind_text(q, 2, v->key, -1, SQLITE_STATIC);
            sqlite3_bind_text(q, 3, rel, -1, SQLITE_STATIC);
            sqlite3_bind_int64(q, 4, (sqlite3_int64)v->size);
            sqlite3_bind_text(q, 5, v->etag, -1, SQLITE_STATIC);
            sqlite3_bind_int64(q, 6, now);
            sqlite3_bind_text(q, 7, ct, -1, SQLITE_STATIC);
            sqlite3_bind_text(q, 8, meta_text, -1, SQLITE_STATIC);
            sqlite3_bind_int64(q, 9, (sqlite3_int64)seq);
            rc = sqlite3_step(q) == SQLITE_DONE ? 0 : db_fail(os, err, "recording the object");
            sqlite3_finalize(q);
          }
        } else {
          db_fail(os, err, "recording the object");
        }
      }
      rc = tx_end(os, rc, err);
    }
    pthread_mutex_unlock(&os->mu);
    if (rc == 0 && info) {
      memset(info, 0, sizeof *info);
      info->size = v->size;
      snprintf(info->etag, sizeof info->etag, "%s", v->etag);
      info->modified_ms = now;
      snprintf(info->content_type, sizeof info->content_type, "%s", ct);
      info->metadata = json_incref(meta);
      info->seq = seq;
    }
    json_decref(meta);
    free(meta_text);
    if (rc < 0) unlink(final);
  }
  if (rc == 0 && old) unlink_rel(os, old); /* the replaced version (open readers keep their bytes) */
  if (rc == 0) {
    strv_unlink_free(os, &parts);
  } else {
    for (size_t i = 0; i < parts.n; i++) free(parts.v[i]);
    free(parts.v);
    unlink(v->tmp);
  }
  free(old);
  free(subdir);
  free(rel);
  free(final);
  return rc;
}

int ll_obj_commit(ll_obj_writer_t *w, const char *content_type, json_t *metadata,
                  ll_obj_info_t *info, ll_err_t *err) {
  ll_assert(!w->upload); /* a part's writer ends with ll_mpu_part_commit */
  char etag[40];
  writer_etag(w, etag);
  version_t v = {.bucket = w->bucket, .key = w->key, .tmp = w->tmp, .fd = w->fd, .size = w->size,
                 .etag = etag, .content_type = content_type, .metadata = metadata};
  int rc = commit_version(w->os, &v, info, err);
  writer_free(w);
  return rc;
}

/* ---- reading ----------------------------------------------------------------------------------- */

void ll_obj_info_free(ll_obj_info_t *info) {
  json_decref(info->metadata);
  info->metadata = NULL;
}

/* Parses stored metadata text; {} when it is not an object. */
static json_t *meta_parse(const char *text) {
  json_t *m = text ? json_loads(text, 0, NULL) : NULL;
  if (!json_is_object(m)) {
    json_decref(m);
    m = json_object();
  }
  return m;
}

/* The row of bucket/key: info filled and the file's path (heap) returned; NULL with err. When fd
 * is not NULL the file is also opened, under the lock: a version file is unlinked only after its
 * row changed (under the lock), so what the row names is there to open. */
static char *lookup(ll_objstore_t *os, const char *bucket, const char *key, ll_obj_info_t *info,
                    int *fd, ll_err_t *err) {
  char *path = NULL;
  pthread_mutex_lock(&os->mu);
  sqlite3_stmt *q;
  if (!bucket_exists_locked(os, bucket)) {
    no_bucket(err, bucket);
  } else if (sqlite3_prepare_v2(os->db,
                                "SELECT file, size, etag, modified_ms, content_type, metadata, seq "
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
      info->metadata = meta_parse((const char *)sqlite3_column_text(q, 5));
      info->seq = (uint64_t)sqlite3_column_int64(q, 6);
      if (fd && (*fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        ll_err_set(err, errno, "object store: opening %s: %s", key, strerror(errno));
        ll_obj_info_free(info);
        free(path);
        path = NULL;
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
  char *path = lookup(os, bucket, key, info, NULL, err);
  free(path);
  return path ? 0 : -1;
}

int ll_obj_open(ll_objstore_t *os, const char *bucket, const char *key, int *fd,
                ll_obj_info_t *info, ll_err_t *err) {
  char *path = lookup(os, bucket, key, info, fd, err);
  free(path);
  return path ? 0 : -1;
}

int ll_obj_delete(ll_objstore_t *os, const char *bucket, const char *key, bool *existed,
                  uint64_t *seq, ll_err_t *err) {
  strv_t files = {0};
  uint64_t n = 0;
  pthread_mutex_lock(&os->mu);
  int rc;
  if (!bucket_exists_locked(os, bucket)) {
    rc = no_bucket(err, bucket);
  } else if ((rc = tx_begin(os, err)) == 0) {
    rc = RUN(os, err, "deleting the object", &files,
             "DELETE FROM objects WHERE bucket = ?1 AND key = ?2 RETURNING file", bucket, key);
    if (rc == 0) rc = next_seq_locked(os, &n, err);
    rc = tx_end(os, rc, err);
  }
  pthread_mutex_unlock(&os->mu);
  if (existed) *existed = rc == 0 && files.n > 0;
  if (seq) *seq = rc == 0 ? n : 0;
  if (rc == 0) {
    strv_unlink_free(os, &files);
  } else {
    for (size_t i = 0; i < files.n; i++) free(files.v[i]);
    free(files.v);
  }
  return rc;
}

/* ---- copying ----------------------------------------------------------------------------------- */

/* Appends len bytes of in (from its offset 0) to out at out's file position: copy_file_range(2)
 * (the kernel moves the bytes, or shares extents where the file system can), else read/write
 * when the kernel or the file systems cannot. 0 or -errno; -EIO when in is shorter. */
static int copy_fd(int in, int out, uint64_t len) {
  loff_t off = 0;
  while (len) {
    size_t chunk = len > (1u << 30) ? 1u << 30 : (size_t)len;
    ssize_t n = copy_file_range(in, &off, out, NULL, chunk, 0);
    if (n > 0) {
      len -= (uint64_t)n;
      continue;
    }
    if (n == 0) return -EIO;
    if (errno == EINTR) continue;
    if (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP) break;
    return -errno;
  }
  if (!len) return 0;
  size_t bufsz = 256 << 10;
  char *buf = ll_malloc(bufsz);
  int rc = 0;
  while (len && rc == 0) {
    ssize_t n = pread(in, buf, len < bufsz ? (size_t)len : bufsz, off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      rc = n < 0 ? -errno : -EIO;
      break;
    }
    off += n;
    len -= (uint64_t)n;
    for (char *p = buf; n > 0 && rc == 0;) {
      ssize_t w = write(out, p, (size_t)n);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) rc = -errno;
      else p += w, n -= w;
    }
  }
  free(buf);
  return rc;
}

int ll_obj_copy(ll_objstore_t *os, const char *src_bucket, const char *src_key,
                const char *dst_bucket, const char *dst_key, const char *content_type,
                json_t *metadata, ll_obj_info_t *info, ll_err_t *err) {
  if (check_key(dst_key, err) < 0) return -1;
  int in, out = -1, rc = -1;
  ll_obj_info_t src;
  if (ll_obj_open(os, src_bucket, src_key, &in, &src, err) < 0) return -1;
  char *tmp = NULL;
  pthread_mutex_lock(&os->mu);
  bool ok = bucket_exists_locked(os, dst_bucket);
  pthread_mutex_unlock(&os->mu);
  if (!ok) {
    no_bucket(err, dst_bucket);
  } else if (open_tmp(os, &tmp, &out, err) == 0) {
    int e = copy_fd(in, out, src.size);
    if (e < 0) {
      ll_err_set(err, -e, "object store: copying %s: %s", src_key, strerror(-e));
      unlink(tmp);
    } else {
      version_t v = {.bucket = dst_bucket, .key = dst_key, .tmp = tmp, .fd = out, .size = src.size,
                     .etag = src.etag,
                     .content_type = content_type ? content_type : src.content_type,
                     .metadata = metadata ? metadata : src.metadata};
      rc = commit_version(os, &v, info, err);
    }
  }
  if (out >= 0) close(out);
  close(in);
  free(tmp);
  ll_obj_info_free(&src);
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

/* ---- multipart uploads ------------------------------------------------------------------------- */

void ll_mpu_info_free(ll_mpu_info_t *m) {
  free(m->bucket);
  free(m->key);
  json_decref(m->metadata);
  m->bucket = m->key = NULL;
  m->metadata = NULL;
}

static const char upload_columns[] = "id, bucket, key, content_type, metadata, created_ms";

static void upload_row(sqlite3_stmt *q, ll_mpu_info_t *m) {
  memset(m, 0, sizeof *m);
  snprintf(m->upload_id, sizeof m->upload_id, "%s", (const char *)sqlite3_column_text(q, 0));
  m->bucket = ll_strdup((const char *)sqlite3_column_text(q, 1));
  m->key = ll_strdup((const char *)sqlite3_column_text(q, 2));
  snprintf(m->content_type, sizeof m->content_type, "%s", (const char *)sqlite3_column_text(q, 3));
  m->metadata = meta_parse((const char *)sqlite3_column_text(q, 4));
  m->created_ms = sqlite3_column_int64(q, 5);
}

static int no_upload(ll_err_t *err) {
  return ll_err_set(err, LL_OS_NO_UPLOAD,
                    "The specified upload does not exist. The upload ID may be invalid, or the "
                    "upload may have been aborted or completed.");
}

/* 0 when bucket exists and id names an upload of its key (out, may be NULL, filled), else -1
 * with err LL_OS_NO_BUCKET / LL_OS_NO_UPLOAD. The lock held. */
static int upload_locked(ll_objstore_t *os, const char *bucket, const char *key, const char *id,
                         ll_mpu_info_t *out, ll_err_t *err) {
  if (!bucket_exists_locked(os, bucket)) return no_bucket(err, bucket);
  char *sql = ll_sprintf("SELECT %s FROM uploads WHERE id = ?1 AND bucket = ?2 AND key = ?3",
                         upload_columns);
  sqlite3_stmt *q;
  int rc;
  if (sqlite3_prepare_v2(os->db, sql, -1, &q, NULL) != SQLITE_OK) {
    rc = db_fail(os, err, "reading the upload");
  } else {
    sqlite3_bind_text(q, 1, id ? id : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, key ? key : "", -1, SQLITE_STATIC);
    int s = sqlite3_step(q);
    if (s == SQLITE_ROW) {
      if (out) upload_row(q, out);
      rc = 0;
    } else {
      rc = s == SQLITE_DONE ? no_upload(err) : db_fail(os, err, "reading the upload");
    }
    sqlite3_finalize(q);
  }
  free(sql);
  return rc;
}

static int drop_upload_locked(ll_objstore_t *os, const char *bucket, const char *key,
                              const char *id, strv_t *files, ll_err_t *err) {
  int rc = upload_locked(os, bucket, key, id, NULL, err);
  if (rc == 0)
    rc = RUN(os, err, "removing the upload", files,
             "DELETE FROM parts WHERE upload = ?1 RETURNING file", id);
  if (rc == 0) rc = RUN(os, err, "removing the upload", NULL, "DELETE FROM uploads WHERE id = ?1", id);
  return rc;
}

int ll_mpu_create(ll_objstore_t *os, const char *bucket, const char *key, const char *content_type,
                  json_t *metadata, char upload_id[64], ll_err_t *err) {
  if (check_key(key, err) < 0) return -1;
  char id[33];
  name_hex(id, 16);
  json_t *meta = json_is_object(metadata) ? json_incref(metadata) : json_object();
  char *meta_text = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS);
  const char *ct = content_type && *content_type ? content_type : "binary/octet-stream";
  pthread_mutex_lock(&os->mu);
  int rc;
  sqlite3_stmt *q;
  if (!bucket_exists_locked(os, bucket)) {
    rc = no_bucket(err, bucket);
  } else if (sqlite3_prepare_v2(os->db,
                                "INSERT INTO uploads(id, bucket, key, content_type, metadata, "
                                "created_ms) VALUES(?1,?2,?3,?4,?5,?6)",
                                -1, &q, NULL) != SQLITE_OK) {
    rc = db_fail(os, err, "creating the upload");
  } else {
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, ct, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, meta_text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 6, ll_wall_ms());
    rc = sqlite3_step(q) == SQLITE_DONE ? 0 : db_fail(os, err, "creating the upload");
    sqlite3_finalize(q);
  }
  pthread_mutex_unlock(&os->mu);
  if (rc == 0) snprintf(upload_id, 64, "%s", id);
  json_decref(meta);
  free(meta_text);
  return rc;
}

int ll_mpu_get(ll_objstore_t *os, const char *bucket, const char *key, const char *upload_id,
               ll_mpu_info_t *out, ll_err_t *err) {
  pthread_mutex_lock(&os->mu);
  int rc = upload_locked(os, bucket, key, upload_id, out, err);
  pthread_mutex_unlock(&os->mu);
  return rc;
}

int ll_mpu_part_begin(ll_objstore_t *os, const char *bucket, const char *key, const char *upload_id,
                      int number, ll_obj_writer_t **out, ll_err_t *err) {
  if (number < 1 || number > LL_OS_PARTS_MAX)
    return ll_err_set(err, LL_OS_INVALID, "Part number must be an integer between 1 and %d, inclusive",
                      LL_OS_PARTS_MAX);
  pthread_mutex_lock(&os->mu);
  int rc = upload_locked(os, bucket, key, upload_id, NULL, err);
  pthread_mutex_unlock(&os->mu);
  if (rc < 0 || (rc = writer_new(os, bucket, key, out, err)) < 0) return rc;
  (*out)->upload = ll_strdup(upload_id); /* known to be one of ours: safe in a file name */
  (*out)->part = number;
  return 0;
}

int ll_mpu_part_commit(ll_obj_writer_t *w, ll_obj_info_t *info, ll_err_t *err) {
  ll_assert(w->upload); /* an object's writer ends with ll_obj_commit */
  ll_objstore_t *os = w->os;
  char etag[40], id[17];
  writer_etag(w, etag);
  name_hex(id, 8);
  char *pdir = ll_sprintf("%s/.parts", os->dir);
  char *rel = ll_sprintf(".parts/%s.%d.%s", w->upload, w->part, id);
  char *final = ll_sprintf("%s/%s", os->dir, rel);
  int64_t now = ll_wall_ms();
  strv_t old = {0};
  int rc = -1;
  /* as an object: durable under its name, then the row */
  if (fsync(w->fd) < 0) {
    ll_err_set(err, errno, "object store: fsync of part %d of %s: %s", w->part, w->key,
               strerror(errno));
  } else if (rename(w->tmp, final) < 0) {
    ll_err_set(err, errno, "object store: placing part %d of %s: %s", w->part, w->key, strerror(errno));
  } else if (fsync_dir(pdir) < 0) {
    ll_err_set(err, EIO, "object store: fsync of %s", pdir);
  } else {
    char number[16], size[24], modified[24];
    snprintf(number, sizeof number, "%d", w->part);
    snprintf(size, sizeof size, "%llu", (unsigned long long)w->size);
    snprintf(modified, sizeof modified, "%lld", (long long)now);
    pthread_mutex_lock(&os->mu);
    /* the upload may have been aborted or completed since the part began */
    if ((rc = upload_locked(os, w->bucket, w->key, w->upload, NULL, err)) == 0 &&
        (rc = tx_begin(os, err)) == 0) {
      const char *what = "recording the part";
      rc = RUN(os, err, what, &old,
               "SELECT file FROM parts WHERE upload = ?1 AND number = CAST(?2 AS INTEGER)",
               w->upload, number);
      if (rc == 0)
        rc = RUN(os, err, what, NULL,
                 "INSERT OR REPLACE INTO parts(upload, number, file, size, etag, modified_ms) "
                 "VALUES(?1, CAST(?2 AS INTEGER), ?3, CAST(?4 AS INTEGER), ?5, CAST(?6 AS INTEGER))",
                 w->upload, number, rel, size, etag, modified);
      rc = tx_end(os, rc, err);
    }
    pthread_mutex_unlock(&os->mu);
  }
  if (rc == 0) {
    strv_unlink_free(os, &old); /* the part it replaced */
    if (info) {
      memset(info, 0, sizeof *info);
      info->size = w->size;
      snprintf(info->etag, sizeof info->etag, "%s", etag);
      info->modified_ms = now;
      info->metadata = json_object();
    }
  } else {
    for (size_t i = 0; i < old.n; i++) free(old.v[i]);
    free(old.v);
    unlink(final);
    unlink(w->tmp);
  }
  free(pdir);
  free(rel);
  free(final);
  writer_free(w);
  return rc;
}

int ll_mpu_list_parts(ll_objstore_t *os, const char *bucket, const char *key, const char *upload_id,
                      int after, size_t max, ll_mpu_part_t **parts, size_t *n, bool *truncated,
                      ll_err_t *err) {
  *parts = NULL;
  *n = 0;
  *truncated = false;
  size_t cap = 0;
  pthread_mutex_lock(&os->mu);
  int rc = upload_locked(os, bucket, key, upload_id, NULL, err);
  sqlite3_stmt *q;
  if (rc == 0 && sqlite3_prepare_v2(os->db,
                                    "SELECT number, size, etag, modified_ms FROM parts "
                                    "WHERE upload = ?1 AND number > ?2 ORDER BY number",
                                    -1, &q, NULL) != SQLITE_OK) {
    rc = db_fail(os, err, "listing the parts");
  } else if (rc == 0) {
    sqlite3_bind_text(q, 1, upload_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 2, after);
    while (sqlite3_step(q) == SQLITE_ROW) {
      if (*n == max) {
        *truncated = true;
        break;
      }
      if (*n == cap) *parts = ll_realloc(*parts, (cap = cap ? cap * 2 : 16) * sizeof **parts);
      ll_mpu_part_t *p = &(*parts)[(*n)++];
      memset(p, 0, sizeof *p);
      p->number = sqlite3_column_int(q, 0);
      p->size = (uint64_t)sqlite3_column_int64(q, 1);
      snprintf(p->etag, sizeof p->etag, "%s", (const char *)sqlite3_column_text(q, 2));
      p->modified_ms = sqlite3_column_int64(q, 3);
    }
    sqlite3_finalize(q);
  }
  pthread_mutex_unlock(&os->mu);
  return rc;
}

int ll_mpu_list(ll_objstore_t *os, const char *bucket, const char *prefix, size_t max,
                ll_mpu_info_t **out, size_t *n, bool *truncated, ll_err_t *err) {
  *out = NULL;
  *n = 0;
  *truncated = false;
  size_t cap = 0, pl = prefix ? strlen(prefix) : 0;
  char *sql = ll_sprintf("SELECT %s FROM uploads WHERE bucket = ?1 AND key >= ?2 "
                         "ORDER BY key, created_ms, rowid",
                         upload_columns);
  pthread_mutex_lock(&os->mu);
  int rc = 0;
  sqlite3_stmt *q;
  if (!bucket_exists_locked(os, bucket)) {
    rc = no_bucket(err, bucket);
  } else if (sqlite3_prepare_v2(os->db, sql, -1, &q, NULL) != SQLITE_OK) {
    rc = db_fail(os, err, "listing the uploads");
  } else {
    sqlite3_bind_text(q, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, prefix ? prefix : "", -1, SQLITE_STATIC);
    while (sqlite3_step(q) == SQLITE_ROW) {
      const char *key = (const char *)sqlite3_column_text(q, 2);
      if (pl && strncmp(key, prefix, pl) != 0) break; /* past the prefix's range */
      if (*n == max) {
        *truncated = true;
        break;
      }
      if (*n == cap) *out = ll_realloc(*out, (cap = cap ? cap * 2 : 16) * sizeof **out);
      upload_row(q, &(*out)[(*n)++]);
    }
    sqlite3_finalize(q);
  }
  pthread_mutex_unlock(&os->mu);
  free(sql);
  return rc;
}

int ll_mpu_abort(ll_objstore_t *os, const char *bucket, const char *key, const char *upload_id,
                 ll_err_t *err) {
  strv_t files = {0};
  pthread_mutex_lock(&os->mu);
  int rc = tx_begin(os, err);
  if (rc == 0) rc = tx_end(os, drop_upload_locked(os, bucket, key, upload_id, &files, err), err);
  pthread_mutex_unlock(&os->mu);
  if (rc == 0) {
    strv_unlink_free(os, &files); /* rows first: a crash in between leaves orphans, removed at open */
  } else {
    for (size_t i = 0; i < files.n; i++) free(files.v[i]);
    free(files.v);
  }
  return rc;
}

/* ETags compare without their quotes (clients send them either way), hex in either case. */
static bool etag_eq(const char *a, const char *b) {
  size_t al = strlen(a), bl = strlen(b);
  if (al >= 2 && a[0] == '"' && a[al - 1] == '"') a++, al -= 2;
  if (bl >= 2 && b[0] == '"' && b[bl - 1] == '"') b++, bl -= 2;
  return al == bl && strncasecmp(a, b, al) == 0;
}

/* A stored part ETag ("\"<32 hex>\"") back to its 16 bytes. */
static bool etag_md5(const char *etag, unsigned char md[16]) {
  if (strlen(etag) != 34) return false;
  for (int i = 0; i < 16; i++) {
    unsigned v;
    if (sscanf(etag + 1 + 2 * i, "%2x", &v) != 1) return false;
    md[i] = (unsigned char)v;
  }
  return true;
}

static int invalid_part(ll_err_t *err, int number) {
  return ll_err_set(err, LL_OS_INVALID_PART,
                    "One or more of the specified parts could not be found. The part may not have "
                    "been uploaded, or the specified entity tag may not match the part's entity "
                    "tag. (part %d)", number);
}

/* Part `number` of the upload as it is now, if its ETag is still `etag`: its size, and its file
 * opened under the lock (a part's file is unlinked only after its row changed, under the lock).
 * -1 with err LL_OS_NO_BUCKET / LL_OS_NO_UPLOAD / LL_OS_INVALID_PART. */
static int part_locked(ll_objstore_t *os, const char *bucket, const char *key, const char *id,
                       int number, const char *etag, uint64_t *size, int *fd, ll_err_t *err) {
  int rc = upload_locked(os, bucket, key, id, NULL, err);
  if (rc < 0) return rc;
  sqlite3_stmt *q;
  if (sqlite3_prepare_v2(os->db, "SELECT file, size, etag FROM parts WHERE upload = ?1 AND number = ?2",
                         -1, &q, NULL) != SQLITE_OK)
    return db_fail(os, err, "reading the parts");
  sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_int(q, 2, number);
  if (sqlite3_step(q) != SQLITE_ROW || !etag ||
      !etag_eq((const char *)sqlite3_column_text(q, 2), etag)) {
    rc = invalid_part(err, number);
  } else {
    *size = (uint64_t)sqlite3_column_int64(q, 1);
    char *path = ll_sprintf("%s/%s", os->dir, (const char *)sqlite3_column_text(q, 0));
    if ((*fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
      rc = ll_err_set(err, errno, "object store: opening part %d: %s", number, strerror(errno));
    free(path);
  }
  sqlite3_finalize(q);
  return rc;
}

int ll_mpu_complete(ll_objstore_t *os, const char *bucket, const char *key, const char *upload_id,
                    const ll_mpu_want_t *want, size_t nwant, ll_obj_info_t *info, ll_err_t *err) {
  if (nwant == 0) return ll_err_set(err, LL_OS_INVALID, "You must specify at least one part");
  for (size_t i = 1; i < nwant; i++)
    if (want[i].number <= want[i - 1].number)
      return ll_err_set(err, LL_OS_PART_ORDER,
                        "The list of parts was not in ascending order. Parts must be ordered by "
                        "part number.");
  /* Check it all first (quick, under the lock): which parts, their sizes and digests. */
  ll_mpu_info_t up = {0};
  unsigned char md[16];
  uint64_t size = 0;
  int rc;
  EVP_MD_CTX *etag_md = EVP_MD_CTX_new();
  EVP_DigestInit_ex(etag_md, EVP_md5(), NULL);
  int small = 0; /* the first listed part but the last under LL_OS_PART_MIN */
  uint64_t small_size = 0;
  pthread_mutex_lock(&os->mu);
  rc = upload_locked(os, bucket, key, upload_id, &up, err);
  sqlite3_stmt *q;
  if (rc == 0 && sqlite3_prepare_v2(os->db,
                                    "SELECT number, size, etag FROM parts WHERE upload = ?1 "
                                    "ORDER BY number",
                                    -1, &q, NULL) != SQLITE_OK) {
    rc = db_fail(os, err, "reading the parts");
  } else if (rc == 0) { /* the parts in order, merged with want (in order too) */
    sqlite3_bind_text(q, 1, upload_id, -1, SQLITE_STATIC);
    int st = sqlite3_step(q);
    for (size_t i = 0; rc == 0 && i < nwant; i++) {
      while (st == SQLITE_ROW && sqlite3_column_int(q, 0) < want[i].number) st = sqlite3_step(q);
      const char *etag = st == SQLITE_ROW ? (const char *)sqlite3_column_text(q, 2) : NULL;
      if (!etag || sqlite3_column_int(q, 0) != want[i].number || !want[i].etag ||
          !etag_eq(etag, want[i].etag) || !etag_md5(etag, md)) {
        rc = invalid_part(err, want[i].number);
        break;
      }
      size = (uint64_t)sqlite3_column_int64(q, 1);
      if (i + 1 < nwant && size < LL_OS_PART_MIN && !small) {
        small = want[i].number;
        small_size = size;
      }
      EVP_DigestUpdate(etag_md, md, sizeof md);
    }
    sqlite3_finalize(q);
  }
  pthread_mutex_unlock(&os->mu);
  if (rc == 0 && small) /* after InvalidPart, which S3 reports for any listed part first */
    rc = ll_err_set(err, LL_OS_TOO_SMALL,
                    "Your proposed upload is smaller than the minimum allowed size (part %d is "
                    "%llu bytes, the minimum is %u)", small, (unsigned long long)small_size,
                    LL_OS_PART_MIN);
  char *tmp = NULL;
  int out = -1;
  uint64_t total = 0;
  if (rc == 0) rc = open_tmp(os, &tmp, &out, err);
  /* Then the bytes, part by part, without the lock: each part opened as its row stands now (a
   * part replaced meanwhile by other bytes no longer has the ETag the client listed). */
  for (size_t i = 0; rc == 0 && i < nwant; i++) {
    int in = -1;
    pthread_mutex_lock(&os->mu);
    rc = part_locked(os, bucket, key, upload_id, want[i].number, want[i].etag, &size, &in, err);
    pthread_mutex_unlock(&os->mu);
    if (rc < 0) break;
    int e = copy_fd(in, out, size);
    close(in);
    if (e < 0) rc = ll_err_set(err, -e, "object store: assembling part %d of %s: %s",
                               want[i].number, key, strerror(-e));
    total += size;
  }
  if (rc == 0) {
    unsigned char d[16];
    unsigned int dl = 0;
    char hex[33], etag[48];
    EVP_DigestFinal_ex(etag_md, d, &dl);
    ll_hex(d, 16, hex);
    snprintf(etag, sizeof etag, "\"%s-%zu\"", hex, nwant);
    version_t v = {.bucket = bucket, .key = key, .tmp = tmp, .fd = out, .size = total,
                   .etag = etag, .content_type = up.content_type, .metadata = up.metadata,
                   .upload = upload_id};
    rc = commit_version(os, &v, info, err);
  } else if (tmp) {
    unlink(tmp);
  }
  if (out >= 0) close(out);
  free(tmp);
  EVP_MD_CTX_free(etag_md);
  ll_mpu_info_free(&up);
  return rc;
}

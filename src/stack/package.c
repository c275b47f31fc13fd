/* Deterministic zips of a directory (see package.h). The tree is walked first into a sorted list
 * of selected files, so the archive's order never depends on readdir(3). */
#include "stack/package.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"

/* 1980-01-01 12:00:00 UTC: libarchive writes the DOS time in local time, and noon keeps the
 * date on 1980-01-01 (the DOS epoch) for every UTC-12..UTC+12 zone. */
#define LL_PACKAGE_MTIME 315576000

/* ---- globs ---------------------------------------------------------------------------------- */

static bool class_match(const char **pp, char ch) {
  const char *p = *pp + 1; /* after '[' */
  bool neg = false, hit = false;
  if (*p == '!' || *p == '^') {
    neg = true;
    p++;
  }
  const char *start = p;
  while (*p && (*p != ']' || p == start)) {
    if (p[1] == '-' && p[2] && p[2] != ']') {
      if (ch >= p[0] && ch <= p[2]) hit = true;
      p += 3;
    } else {
      if (ch == *p) hit = true;
      p++;
    }
  }
  if (*p != ']') return ch == '['; /* unterminated: a literal '[' */
  *pp = p + 1;
  return hit != neg;
}

static bool glob_rec(const char *p, const char *s, int depth) {
  if (depth > 64) return false;
  while (*p) {
    if (p[0] == '*' && p[1] == '*' && (p[2] == '/' || p[2] == '\0')) {
      /* "**" (optionally followed by '/'): zero or more whole segments */
      const char *rest = p[2] == '/' ? p + 3 : p + 2;
      if (!*rest) return true;
      for (const char *t = s;; t++) {
        if ((t == s || t[-1] == '/') && glob_rec(rest, t, depth + 1)) return true;
        if (!*t) return false;
      }
    }
    if (*p == '*') {
      p++;
      for (const char *t = s;; t++) {
        if (glob_rec(p, t, depth + 1)) return true;
        if (!*t || *t == '/') return false;
      }
    }
    if (!*s) return false;
    if (*p == '?') {
      if (*s == '/') return false;
      p++;
      s++;
      continue;
    }
    if (*p == '[') {
      const char *q = p;
      if (*s == '/' || !class_match(&q, *s)) return false;
      p = q == p ? p + 1 : q;
      s++;
      continue;
    }
    if (*p != *s) return false;
    p++;
    s++;
  }
  return *s == '\0';
}

bool ll_package_glob_match(const char *pat, const char *path) {
  if (pat[0] == '.' && pat[1] == '/') pat += 2;
  return glob_rec(pat, path, 0);
}

static bool selected(const char *const *patterns, const char *rel) {
  bool in = true;
  for (size_t i = 0; patterns && patterns[i]; i++) {
    const char *p = patterns[i];
    bool neg = p[0] == '!';
    if (neg) p++;
    if (ll_package_glob_match(p, rel)) in = !neg;
  }
  return in;
}

/* ---- the walk ------------------------------------------------------------------------------- */

typedef struct file {
  char *rel;  /* path inside the zip */
  char *real; /* where to read it */
  bool exec;
} file_t;

typedef struct walk {
  const char *root_real;
  size_t root_len;
  const char *const *patterns;
  file_t *files;
  size_t nfiles, cap;
  struct { dev_t dev; ino_t ino; } stack[64]; /* the directories being walked, for loops */
  int depth;
  ll_err_t *err;
} walk_t;

static bool inside_root(const walk_t *w, const char *real) {
  return strncmp(real, w->root_real, w->root_len) == 0 &&
         (real[w->root_len] == '/' || real[w->root_len] == '\0' || w->root_len == 1);
}

static int walk_dir(walk_t *w, const char *abs, const char *rel) {
  struct stat st;
  if (stat(abs, &st) < 0) return ll_err_set(w->err, errno, "%s: %s", abs, strerror(errno));
  for (int i = 0; i < w->depth; i++)
    if (w->stack[i].dev == st.st_dev && w->stack[i].ino == st.st_ino)
      return ll_err_set(w->err, ELOOP, "%s: directory loop", abs);
  if (w->depth == (int)(sizeof w->stack / sizeof w->stack[0]))
    return ll_err_set(w->err, ELOOP, "%s: directories nested too deep", abs);
  w->stack[w->depth].dev = st.st_dev;
  w->stack[w->depth].ino = st.st_ino;
  w->depth++;
  DIR *d = opendir(abs);
  if (!d) {
    w->depth--;
    return ll_err_set(w->err, errno, "%s: %s", abs, strerror(errno));
  }
  int rc = 0;
  struct dirent *de;
  while (rc == 0 && (de = readdir(d))) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
    ll_autofree char *cabs = ll_sprintf("%s/%s", abs, de->d_name);
    ll_autofree char *crel = rel[0] ? ll_sprintf("%s/%s", rel, de->d_name) : ll_strdup(de->d_name);
    struct stat cst, lst;
    if (lstat(cabs, &lst) < 0) {
      rc = ll_err_set(w->err, errno, "%s: %s", cabs, strerror(errno));
      break;
    }
    if (stat(cabs, &cst) < 0) {
      rc = ll_err_set(w->err, errno, "%s: %s", cabs, strerror(errno));
      break;
    }
    char *real = NULL;
    if (S_ISLNK(lst.st_mode)) {
      real = realpath(cabs, NULL);
      if (!real) {
        rc = ll_err_set(w->err, errno, "%s: %s", cabs, strerror(errno));
        break;
      }
      if (!inside_root(w, real)) {
        rc = ll_err_set(w->err, EXDEV, "%s: symlink leaves %s", cabs, w->root_real);
        free(real);
        break;
      }
    }
    if (S_ISDIR(cst.st_mode)) {
      rc = walk_dir(w, cabs, crel);
    } else if (S_ISREG(cst.st_mode) && selected(w->patterns, crel)) {
      if (w->nfiles == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 64;
        w->files = ll_realloc(w->files, w->cap * sizeof *w->files);
      }
      w->files[w->nfiles].rel = ll_strdup(crel);
      w->files[w->nfiles].real = ll_strdup(real ? real : cabs);
      w->files[w->nfiles].exec = (cst.st_mode & 0111) != 0;
      w->nfiles++;
    }
    free(real); /* realpath(3) allocates with malloc */
  }
  closedir(d);
  w->depth--;
  return rc;
}

static int by_rel(const void *a, const void *b) {
  return strcmp(((const file_t *)a)->rel, ((const file_t *)b)->rel);
}

/* ---- the archive ---------------------------------------------------------------------------- */

typedef struct membuf {
  unsigned char *p;
  size_t len, cap;
} membuf_t;

static la_ssize_t mem_write(struct archive *a, void *ud, const void *buf, size_t n) {
  membuf_t *m = ud;
  if (m->len + n > m->cap) {
    while (m->len + n > m->cap) m->cap = m->cap ? m->cap * 2 : 65536;
    m->p = ll_realloc(m->p, m->cap);
  }
  memcpy(m->p + m->len, buf, n);
  m->len += n;
  return (la_ssize_t)n;
}

static int add_file(struct archive *a, const file_t *f, ll_err_t *err) {
  int fd = open(f->real, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ll_err_set(err, errno, "%s: %s", f->real, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) < 0) {
    int e = errno;
    close(fd);
    return ll_err_set(err, e, "%s: %s", f->real, strerror(e));
  }
  struct archive_entry *e = archive_entry_new();
  archive_entry_set_pathname(e, f->rel);
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, f->exec ? 0755 : 0644);
  archive_entry_set_size(e, st.st_size);
  archive_entry_set_mtime(e, LL_PACKAGE_MTIME, 0);
  archive_entry_set_uid(e, 0);
  archive_entry_set_gid(e, 0);
  int rc = 0;
  if (archive_write_header(a, e) != ARCHIVE_OK) {
    rc = ll_err_set(err, EIO, "%s: %s", f->rel, archive_error_string(a));
    goto out;
  }
  char buf[65536];
  off_t left = st.st_size; /* exactly the size in the header, even if the file changes */
  while (left > 0) {
    ssize_t n = read(fd, buf, left < (off_t)sizeof buf ? (size_t)left : sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      rc = ll_err_set(err, n < 0 ? errno : EIO, "%s: %s", f->real, n < 0 ? strerror(errno) : "file shrank while zipping");
      goto out;
    }
    if (archive_write_data(a, buf, (size_t)n) != n) {
      rc = ll_err_set(err, EIO, "%s: %s", f->rel, archive_error_string(a));
      goto out;
    }
    left -= n;
  }
out:
  archive_entry_free(e);
  close(fd);
  return rc;
}

int ll_package_dir(const char *dir, const char *const *patterns, unsigned char **zip, size_t *len,
                   ll_err_t *err) {
  *zip = NULL;
  *len = 0;
  char *root = realpath(dir, NULL);
  if (!root) return ll_err_set(err, errno, "%s: %s", dir, strerror(errno));
  walk_t w = {.root_real = root, .root_len = strlen(root), .patterns = patterns, .err = err};
  int rc = walk_dir(&w, root, "");
  if (rc == 0 && w.nfiles == 0) rc = ll_err_set(err, ENOENT, "nothing to package in %s", dir);
  membuf_t m = {0};
  if (rc == 0) {
    qsort(w.files, w.nfiles, sizeof *w.files, by_rel);
    struct archive *a = archive_write_new();
    archive_write_set_format_zip(a);
    archive_write_zip_set_compression_deflate(a);
    archive_write_set_bytes_in_last_block(a, 1); /* no padding after the central directory */
    if (archive_write_open(a, &m, NULL, mem_write, NULL) != ARCHIVE_OK)
      rc = ll_err_set(err, EIO, "zipping %s: %s", dir, archive_error_string(a));
    for (size_t i = 0; rc == 0 && i < w.nfiles; i++) rc = add_file(a, &w.files[i], err);
    if (archive_write_close(a) != ARCHIVE_OK && rc == 0)
      rc = ll_err_set(err, EIO, "zipping %s: %s", dir, archive_error_string(a));
    archive_write_free(a);
  }
  for (size_t i = 0; i < w.nfiles; i++) {
    free(w.files[i].rel);
    free(w.files[i].real);
  }
  free(w.files);
  free(root);
  if (rc < 0) {
    free(m.p);
    return -1;
  }
  *zip = m.p;
  *len = m.len;
  return 0;
}

/* Deterministic zips (src/stack/package.c): same bytes twice, exec bits kept, patterns, errors. */
#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stack/package.h"
#include "test.h"

static void write_file(const char *path, const char *text, mode_t mode) {
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  fputs(text, f);
  fclose(f);
  CHECK(chmod(path, mode) == 0);
}

/* A tree: bootstrap (0700 -> 0755), src/a.txt, src/deep/b.txt, node_modules/x/y.js, .serverless/z */
static char *make_tree(void) {
  char tmpl[] = "/tmp/ll-package-XXXXXX";
  char *d = mkdtemp(tmpl);
  CHECK(d != NULL);
  char p[512];
  snprintf(p, sizeof p, "%s/src", d), mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/src/deep", d), mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/node_modules", d), mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/node_modules/x", d), mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/.serverless", d), mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/bootstrap", d), write_file(p, "#!/bin/sh\necho hi\n", 0700);
  snprintf(p, sizeof p, "%s/src/a.txt", d), write_file(p, "a", 0600);
  snprintf(p, sizeof p, "%s/src/deep/b.txt", d), write_file(p, "b", 0644);
  snprintf(p, sizeof p, "%s/node_modules/x/y.js", d), write_file(p, "y", 0644);
  snprintf(p, sizeof p, "%s/.serverless/z", d), write_file(p, "z", 0644);
  return strdup(d);
}

static void rm_tree(char *d) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
  CHECK(system(cmd) == 0);
  free(d);
}

/* "path:mode,path:mode," of the zip's entries, in order. */
static void list_zip(const unsigned char *zip, size_t len, char *out, size_t sz) {
  struct archive *a = archive_read_new();
  archive_read_support_format_zip(a);
  CHECK(archive_read_open_memory(a, zip, len) == ARCHIVE_OK);
  struct archive_entry *e;
  size_t off = 0;
  out[0] = '\0';
  while (archive_read_next_header(a, &e) == ARCHIVE_OK)
    off += (size_t)snprintf(out + off, sz - off, "%s:%o,", archive_entry_pathname(e), (unsigned)(archive_entry_perm(e)));
  archive_read_free(a);
}

LL_TEST(package_deterministic_and_modes) {
  char *d = make_tree();
  unsigned char *z1, *z2;
  size_t l1, l2;
  ll_err_t err = LL_ERR_INIT;
  CHECK_INTEQ(ll_package_dir(d, NULL, &z1, &l1, &err), 0);
  /* touch everything: mtimes must not matter */
  char cmd[600];
  snprintf(cmd, sizeof cmd, "find '%s' -exec touch -d '2001-02-03' {} +", d);
  CHECK(system(cmd) == 0);
  CHECK_INTEQ(ll_package_dir(d, NULL, &z2, &l2, &err), 0);
  CHECK_INTEQ(l1, l2);
  CHECK(memcmp(z1, z2, l1) == 0);
  char list[1024];
  list_zip(z1, l1, list, sizeof list);
  CHECK_STREQ(list, ".serverless/z:644,bootstrap:755,node_modules/x/y.js:644,src/a.txt:644,src/deep/b.txt:644,");
  free(z1);
  free(z2);
  rm_tree(d);
}

LL_TEST(package_patterns) {
  char *d = make_tree();
  unsigned char *z;
  size_t l;
  ll_err_t err = LL_ERR_INIT;
  const char *const pats[] = {"!node_modules/**", "!.serverless/**", NULL};
  CHECK_INTEQ(ll_package_dir(d, pats, &z, &l, &err), 0);
  char list[1024];
  list_zip(z, l, list, sizeof list);
  CHECK_STREQ(list, "bootstrap:755,src/a.txt:644,src/deep/b.txt:644,");
  free(z);
  /* later patterns win: everything out, then src back in, then one file out again */
  const char *const only_src[] = {"!**", "src/**", "!src/deep/*.txt", NULL};
  CHECK_INTEQ(ll_package_dir(d, only_src, &z, &l, &err), 0);
  list_zip(z, l, list, sizeof list);
  CHECK_STREQ(list, "src/a.txt:644,");
  free(z);
  const char *const none[] = {"!**", NULL};
  CHECK_INTEQ(ll_package_dir(d, none, &z, &l, &err), -1);
  CHECK(strstr(err.msg, "nothing to package in ") != NULL);
  rm_tree(d);
}

LL_TEST(package_empty_dir_and_symlinks) {
  char tmpl[] = "/tmp/ll-package-XXXXXX";
  char *d = mkdtemp(tmpl);
  unsigned char *z;
  size_t l;
  ll_err_t err = LL_ERR_INIT;
  CHECK_INTEQ(ll_package_dir(d, NULL, &z, &l, &err), -1);
  char want[600];
  snprintf(want, sizeof want, "nothing to package in %s", d);
  CHECK_STREQ(err.msg, want);
  char p[600];
  snprintf(p, sizeof p, "%s/real", d), write_file(p, "r", 0755);
  snprintf(p, sizeof p, "%s/link", d);
  CHECK(symlink("real", p) == 0);
  CHECK_INTEQ(ll_package_dir(d, NULL, &z, &l, &err), 0);
  char list[256];
  list_zip(z, l, list, sizeof list);
  CHECK_STREQ(list, "link:755,real:755,");
  free(z);
  snprintf(p, sizeof p, "%s/out", d);
  CHECK(symlink("/etc/hostname", p) == 0);
  CHECK_INTEQ(ll_package_dir(d, NULL, &z, &l, &err), -1);
  CHECK(strstr(err.msg, "symlink leaves") != NULL);
  unlink(p);
  snprintf(p, sizeof p, "%s/loop", d);
  CHECK(symlink(".", p) == 0);
  CHECK_INTEQ(ll_package_dir(d, NULL, &z, &l, &err), -1);
  CHECK(strstr(err.msg, "directory loop") != NULL);
  char cmd[700];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
  CHECK(system(cmd) == 0);
}

LL_TEST(package_glob) {
  CHECK(ll_package_glob_match("src/**", "src/a/b.js"));
  CHECK(ll_package_glob_match("**/*.js", "a.js"));
  CHECK(ll_package_glob_match("**/*.js", "x/y/a.js"));
  CHECK(!ll_package_glob_match("*.js", "x/a.js"));
  CHECK(ll_package_glob_match("./x/?.[ch]", "x/a.c"));
  CHECK(!ll_package_glob_match("x/[!a].c", "x/a.c"));
  CHECK(ll_package_glob_match("node_modules/**", "node_modules/a"));
  CHECK(!ll_package_glob_match("node_modules/**", "node_modulesx/a"));
}

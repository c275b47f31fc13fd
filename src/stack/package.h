/* Deterministic zips of a code directory, for functions and layers deployed from a
 * serverless.yml (sls.h lists the directories and their patterns).
 *
 * The same tree always gives the same bytes, so an unchanged function gives an unchanged
 * CodeSha256 and the daemon can skip the update. */
#ifndef LL_STACK_PACKAGE_H
#define LL_STACK_PACKAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

/* Zips the regular files under dir that the patterns select, into memory.
 *
 * Patterns follow Serverless v3 `package.patterns`: every file is selected to begin with; each
 * pattern in order selects the files it matches ("src/" followed by two stars), or with a leading
 * "!" deselects them ("!node_modules/" and two stars), so a later pattern wins over an earlier
 * one. NULL or an empty list selects everything. Globs match the path relative to dir with '/'
 * separators: `*` and `?` stay within one segment, two stars span any number of segments,
 * `[a-z]` is a class.
 *
 * Entries are sorted by path (bytewise), have a fixed mtime (1980-01-01 12:00 UTC, so the DOS
 * date is 1980-01-01 in every time zone), uid/gid 0, and mode 0755 when the file has any exec
 * bit, else 0644. Directories are not stored. Symlinks are followed and stored as the file (or
 * directory tree) they point to; a link that resolves outside dir, or a directory loop, is an
 * error.
 *
 * Returns 0 with *zip (ll_malloc'ed, the caller frees) and *len, or -1 with err filled:
 * "nothing to package in DIR" when no file is selected, "DIR/x: ..." for I/O errors. */
int ll_package_dir(const char *dir, const char *const *patterns, unsigned char **zip, size_t *len,
                   ll_err_t *err);

/* Whether path (relative, '/'-separated) matches the glob pat (syntax above, no leading "!"). */
bool ll_package_glob_match(const char *pat, const char *path);

#endif

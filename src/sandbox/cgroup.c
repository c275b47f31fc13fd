/* Helpers shared by the cgroup backends: finding a hierarchy and this process's place in it
 * (/proc/self/mountinfo + /proc/self/cgroup), and reading and writing control files. Sandboxes
 * go under the daemon's own cgroup (<own>/<cgroup_parent>/<name>), so whatever limits the daemon
 * was started under also bound its sandboxes, as systemd's delegation model expects. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/sandbox_int.h"

/* Undoes mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s) {
  char *o = s;
  for (char *p = s; *p; p++) {
    if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' &&
        p[3] <= '7') {
      *o++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
      p += 3;
    } else {
      *o++ = *p;
    }
  }
  *o = '\0';
}

static bool in_list(const char *list, const char *item) {
  size_t n = strlen(item);
  for (const char *p = list; p && *p;) {
    const char *c = strchr(p, ',');
    size_t len = c ? (size_t)(c - p) : strlen(p);
    if (len == n && memcmp(p, item, n) == 0) return true;
    p = c ? c + 1 : NULL;
  }
  return false;
}

int ll__cg_locate(const char *controller, char *mnt, size_t mntsz, char *own, size_t ownsz) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f) return -errno;
  char *line = NULL;
  char root[4096] = "";
  bool found = false;
  size_t cap = 0;
  while (!found && getline(&line, &cap, f) > 0) {
    /* id parent maj:min root mountpoint options [optional...] - fstype source superoptions */
    char *save = NULL, *fields[5] = {0};
    char *tok = strtok_r(line, " \n", &save);
    for (int i = 0; i < 5 && tok; i++, tok = strtok_r(NULL, " \n", &save)) fields[i] = tok;
    while (tok && strcmp(tok, "-") != 0) tok = strtok_r(NULL, " \n", &save);
    if (!tok || !fields[4]) continue;
    char *fstype = strtok_r(NULL, " \n", &save);
    char *source = strtok_r(NULL, " \n", &save);
    char *opts = strtok_r(NULL, " \n", &save);
    if (!fstype || !source || !opts) continue;
    bool match = controller ? strcmp(fstype, "cgroup") == 0 && in_list(opts, controller)
                            : strcmp(fstype, "cgroup2") == 0;
    if (!match) continue;
    unescape(fields[3]);
    unescape(fields[4]);
    snprintf(root, sizeof root, "%s", fields[3]);
    snprintf(mnt, mntsz, "%s", fields[4]);
    found = true;
  }
  fclose(f);
  if (!found) {
    free(line);
    return -ENOENT;
  }
  /* Our own cgroup in that hierarchy: "N:memory,...:/path" for v1, "0::/path" for v2. */
  f = fopen("/proc/self/cgroup", "re");
  if (!f) {
    free(line);
    return -errno;
  }
  char path[4096] = "/";
  while (getline(&line, &cap, f) > 0) {
    line[strcspn(line, "\n")] = '\0';
    char *c1 = strchr(line, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2) continue;
    *c2 = '\0';
    bool match = controller ? in_list(c1 + 1, controller)
                            : (c1 == line + 1 && line[0] == '0' && c1[1] == '\0');
    if (match) {
      snprintf(path, sizeof path, "%s", c2 + 1);
      break;
    }
  }
  fclose(f);
  free(line);
  /* The mount may show a subtree (a bind or a cgroup namespace): strip its root from the path. */
  const char *rel = path;
  size_t rl = strlen(root);
  if (rl > 1 && strncmp(path, root, rl) == 0 && (path[rl] == '/' || path[rl] == '\0')) rel = path + rl;
  while (*rel == '/') rel++;
  if (*rel)
    snprintf(own, ownsz, "%s/%s", mnt, rel);
  else
    snprintf(own, ownsz, "%s", mnt);
  return 0;
}

int ll__cg_write(const char *dir, const char *file, const char *val) {
  char p[4096];
  snprintf(p, sizeof p, "%s/%s", dir, file);
  int fd = open(p, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  size_t len = strlen(val);
  ssize_t n;
  do n = write(fd, val, len);
  while (n < 0 && errno == EINTR);
  int rc = n < 0 ? -errno : (size_t)n == len ? 0 : -EIO;
  close(fd);
  return rc;
}

int ll__cg_read(const char *dir, const char *file, char *buf, size_t sz) {
  char p[4096];
  snprintf(p, sizeof p, "%s/%s", dir, file);
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  size_t len = 0;
  while (len + 1 < sz) {
    ssize_t n = read(fd, buf + len, sz - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      close(fd);
      return -e;
    }
    if (n == 0) break;
    len += (size_t)n;
  }
  buf[len] = '\0';
  close(fd);
  return (int)len;
}

uint64_t ll__cg_read_key(const char *dir, const char *file, const char *key) {
  char buf[4096];
  if (ll__cg_read(dir, file, buf, sizeof buf) < 0) return 0;
  size_t kl = strlen(key);
  for (char *p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
    if (strncmp(p, key, kl) == 0 && p[kl] == ' ') return strtoull(p + kl + 1, NULL, 10);
  }
  return 0;
}

uint64_t ll__cg_read_u64(const char *dir, const char *file) {
  char buf[64];
  if (ll__cg_read(dir, file, buf, sizeof buf) <= 0) return 0;
  return strtoull(buf, NULL, 10);
}

int ll__cg_count_procs(const char *dir) {
  char buf[65536];
  int n = ll__cg_read(dir, "cgroup.procs", buf, sizeof buf);
  if (n < 0) return n;
  int count = 0;
  for (int i = 0; i < n; i++) count += buf[i] == '\n';
  return count;
}

int ll__cg_kill_procs(const char *dir) {
  char buf[65536];
  int n = ll__cg_read(dir, "cgroup.procs", buf, sizeof buf);
  if (n < 0) return n;
  int count = 0;
  for (char *p = buf, *end; *p; p = end) {
    long pid = strtol(p, &end, 10);
    if (end == p) break;
    if (pid > 0 && kill((pid_t)pid, SIGKILL) == 0) count++;
  }
  return count;
}

int ll__cg_sweep(const char *parent) {
  DIR *d = opendir(parent);
  if (!d) return -errno;
  int removed = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    char *end;
    long pid = strtol(de->d_name, &end, 10);
    if (end == de->d_name || *end != '-' || pid <= 0 || pid == (long)getpid()) continue;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* its daemon may be alive */
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/%s", parent, de->d_name);
    if (ll__cg_count_procs(dir) == 0 && rmdir(dir) == 0) removed++;
  }
  closedir(d);
  return removed;
}

int ll__cg_mkdir(const char *path) {
  if (mkdir(path, 0755) < 0 && errno != EEXIST) return -errno;
  return 0;
}

bool ll__cg_name_ok(const char *name, bool allow_slash) {
  if (!name || !*name || name[0] == '/' || strlen(name) > 200) return false;
  for (const char *p = name; *p;) {
    const char *e = strchr(p, '/');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.')) return false;
    if (e && !allow_slash) return false;
    p = e ? e + 1 : p + len;
  }
  return true;
}

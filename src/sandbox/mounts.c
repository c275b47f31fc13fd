/* The sandbox's root filesystem. The parent writes a plan (every path resolved, every file's
 * contents generated) and the child, in its new mount namespace, only executes it: no
 * allocation, no lookups that could be raced, nothing copied — bind mounts and a few tiny files
 * written straight into a tmpfs, so a root costs some tens of microseconds.
 *
 * The child's sequence (bubblewrap's): make every mount private; mount a scratch tmpfs on /tmp
 * and pivot_root into it, so the host's tree is reachable at /oldroot (sources) while the new
 * root is assembled on a second tmpfs at /newroot (targets); remount that root read-only;
 * pivot_root into it and detach everything else. Sources are host paths resolved with realpath
 * by the parent: after the first pivot an absolute symlink would resolve against the scratch
 * root, not the host's.
 *
 * Bind mounts are recursive (a non-recursive bind of a tree with locked submounts fails inside a
 * user namespace); only the top mount of each is remounted read-only, nosuid, nodev.
 *
 * The caller's mounts (the function's code and layers) live under the daemon's data directory,
 * whose ancestors may be closed to others (a 0700 home or temp directory): the child, already
 * in its user namespace, could not even look them up. So the parent — which can — clones each
 * into a detached mount tree (open_tree, OPEN_TREE_CLONE), makes it read-only, and the child
 * only moves that tree into place (move_mount). Where the kernel lacks the new mount API, the
 * child binds the host path itself, as for the system directories.
 *
 * The child runs the plan in two halves so that a warm pool can keep sandboxes waiting between
 * them: build (everything but the caller's mounts) before the program is known, finish (the
 * caller's mounts, read-only root, the final pivot) once it is. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/mem.h"
#include "sandbox/sandbox_int.h"

#define NEWROOT LL__NEWROOT
#define OLDROOT "/oldroot"
#define SCRATCH "/tmp" /* any host directory would do; it is covered only in our namespace */

/* ---- the plan (parent) ----------------------------------------------------------------------- */

static ll__mstep_t *add(ll__mplan_t *plan, ll__mkind_t kind, const char *inside) {
  if (plan->n == plan->cap) {
    plan->cap = plan->cap ? plan->cap * 2 : 64;
    plan->steps = ll_realloc(plan->steps, plan->cap * sizeof *plan->steps);
  }
  ll__mstep_t *s = &plan->steps[plan->n++];
  memset(s, 0, sizeof *s);
  s->fd = -1;
  s->kind = kind;
  s->dst = ll_sprintf(NEWROOT "%s", inside);
  s->what = s->dst + strlen(NEWROOT);
  return s;
}

static void add_dir(ll__mplan_t *plan, const char *inside);

static void add_parent_dir(ll__mplan_t *plan, const char *inside) {
  const char *slash = strrchr(inside, '/');
  if (!slash || slash == inside) return;
  char *parent = ll_strndup(inside, (size_t)(slash - inside));
  add_dir(plan, parent);
  free(parent);
}

/* mkdir of inside, after its parents; once (each costs the child a system call). */
static void add_dir(ll__mplan_t *plan, const char *inside) {
  for (size_t i = 0; i < plan->n; i++)
    if (plan->steps[i].kind == LL__M_MKDIR && strcmp(plan->steps[i].what, inside) == 0) return;
  add_parent_dir(plan, inside);
  add(plan, LL__M_MKDIR, inside);
}

/* Remount flags for a bind of host path real: nosuid and nodev always, read-only unless
 * writable, and noexec kept when the source has it (a locked flag inside a user namespace). */
static unsigned long bind_flags(const char *real, bool ro) {
  unsigned long f = MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | (ro ? MS_RDONLY : 0);
  struct statvfs sv;
  if (statvfs(real, &sv) == 0 && (sv.f_flag & ST_NOEXEC)) f |= MS_NOEXEC;
  return f;
}

/* A bind of host path real (a directory or a file) at inside, with its mount point. */
static void add_bind(ll__mplan_t *plan, const char *real, const char *inside, bool is_dir, bool ro) {
  if (is_dir) {
    add_dir(plan, inside);
  } else {
    add_parent_dir(plan, inside);
    add(plan, LL__M_MKFILE, inside);
  }
  ll__mstep_t *s = add(plan, LL__M_BIND, inside);
  s->src = ll_sprintf(OLDROOT "%s", real);
  s->flags = bind_flags(real, ro);
}

static void add_symlink(ll__mplan_t *plan, const char *inside, const char *target) {
  add_parent_dir(plan, inside);
  ll__mstep_t *s = add(plan, LL__M_SYMLINK, inside);
  s->src = ll_strdup(target);
}

static void add_write(ll__mplan_t *plan, const char *inside, char *contents /* taken */, unsigned mode) {
  ll__mstep_t *s = add(plan, LL__M_WRITE, inside);
  s->src = contents;
  s->len = strlen(contents);
  s->mode = mode;
}

static void add_tmpfs(ll__mplan_t *plan, const char *inside, uint64_t bytes, unsigned long flags) {
  add_dir(plan, inside);
  ll__mstep_t *s = add(plan, LL__M_TMPFS, inside);
  s->src = ll_sprintf("mode=1777,size=%" PRIu64, bytes);
  s->flags = flags;
}

/* A host path the sandbox may see if the host has it: host directories and files are bound
 * read-only at the same place; a symlink is recreated (its target must be visible inside). */
static void add_host(ll__mplan_t *plan, const char *path, bool keep_symlink) {
  struct stat st;
  if (lstat(path, &st) < 0) return;
  if (keep_symlink && S_ISLNK(st.st_mode)) {
    char target[PATH_MAX];
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n <= 0) return;
    target[n] = '\0';
    add_symlink(plan, path, target);
    return;
  }
  char real[PATH_MAX];
  if (!realpath(path, real) || stat(real, &st) < 0) return;
  if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) add_bind(plan, real, path, S_ISDIR(st.st_mode), true);
}

/* Absolute, normalized, not "/": no empty, "." or ".." component, no trailing slash. */
static bool inside_path_ok(const char *p) {
  if (!p || p[0] != '/' || !p[1] || strlen(p) > 1024) return false;
  for (const char *c = p + 1; *c;) {
    size_t len = strcspn(c, "/");
    if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.')) return false;
    c += len;
    if (*c == '/' && !*++c) return false;
  }
  return true;
}

int ll__mounts_plan(ll__mplan_t *plan, const ll_sandbox_spec_t *spec, uid_t uid, gid_t gid,
                    const char *proc_opts, bool disk_tmp, ll_err_t *err) {
  memset(plan, 0, sizeof *plan);
  /* System directories. On merged-/usr systems /bin, /lib... are symlinks into /usr. */
  static const char *const sys[] = {"/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"};
  for (size_t i = 0; i < sizeof sys / sizeof sys[0]; i++) add_host(plan, sys[i], true);

  /* A minimal /etc: the sandbox user, name resolution, the dynamic linker's cache, CA
   * certificates, Debian's alternatives (awk, editor... are links through it), the time zone. */
  add_dir(plan, "/etc");
  add_write(plan, "/etc/passwd",
            ll_sprintf("root:x:0:0:root:/root:/usr/sbin/nologin\n"
                       LL__SB_USER ":x:%u:%u::/tmp:/usr/sbin/nologin\n",
                       (unsigned)uid, (unsigned)gid),
            0644);
  add_write(plan, "/etc/group", ll_sprintf("root:x:0:\n" LL__SB_USER ":x:%u:\n", (unsigned)gid), 0644);
  static const char *const etc[] = {
    "/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/host.conf", "/etc/gai.conf",
    "/etc/protocols", "/etc/services", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
    "/etc/ssl/certs", "/etc/ssl/openssl.cnf", "/etc/pki/tls/certs", "/etc/alternatives",
  };
  for (size_t i = 0; i < sizeof etc / sizeof etc[0]; i++) add_host(plan, etc[i], false);
  add_host(plan, "/etc/localtime", true);

  /* /tmp, /dev, /proc. */
  uint64_t tmp = spec->tmp_bytes ? spec->tmp_bytes : (uint64_t)512 << 20;
  int disk = -1;
  if (disk_tmp && spec->tmp_disk_dir) {
    ll_err_t derr = LL_ERR_INIT;
    if (ll__disk_tmp(spec->tmp_disk_dir, tmp, &disk, &derr) < 0) { /* a tmpfs will do */
      static bool told;
      if (!told) fprintf(stderr, "lambdalite: sandbox /tmp on disk: %s; using a tmpfs\n", derr.msg);
      told = true;
    }
  }
  if (disk >= 0) {
    add_dir(plan, "/tmp");
    ll__mstep_t *t = add(plan, LL__M_TREE, "/tmp");
    t->fd = disk;
  } else {
    add_tmpfs(plan, "/tmp", tmp, MS_NOSUID | MS_NODEV);
  }
  add_dir(plan, "/dev");
  static const char *const devs[] = {"null", "zero", "full", "random", "urandom", "tty"};
  for (size_t i = 0; i < sizeof devs / sizeof devs[0]; i++) {
    char host[64];
    snprintf(host, sizeof host, "/dev/%s", devs[i]);
    struct stat st;
    if (stat(host, &st) < 0 || !S_ISCHR(st.st_mode)) continue;
    add(plan, LL__M_MKFILE, host);
    ll__mstep_t *s = add(plan, LL__M_BIND, host);
    s->src = ll_sprintf(OLDROOT "%s", host); /* flags 0: a device must not be remounted nodev */
  }
  add_symlink(plan, "/dev/fd", "/proc/self/fd");
  add_symlink(plan, "/dev/stdin", "/proc/self/fd/0");
  add_symlink(plan, "/dev/stdout", "/proc/self/fd/1");
  add_symlink(plan, "/dev/stderr", "/proc/self/fd/2");
  add_tmpfs(plan, "/dev/shm", tmp, MS_NOSUID | MS_NODEV | MS_NOEXEC);
  add_dir(plan, "/proc");
  ll__mstep_t *proc = add(plan, LL__M_PROC, "/proc");
  proc->src = ll_strdup(proc_opts ? proc_opts : "");

  /* Mount points for the caller's mounts; what goes on them comes at start (ll__mounts_late). */
  for (size_t i = 0; i < spec->nmounts; i++) {
    const ll_sandbox_mount_t *m = &spec->mounts[i];
    if (!inside_path_ok(m->sandbox_path)) {
      ll__mounts_plan_free(plan);
      return ll_err_set(err, EINVAL, "mount %s: not an absolute normalized path",
                        m->sandbox_path ? m->sandbox_path : "(null)");
    }
    struct stat st;
    if (!m->host_path || stat(m->host_path, &st) < 0 || S_ISDIR(st.st_mode)) {
      add_dir(plan, m->sandbox_path);
    } else {
      add_parent_dir(plan, m->sandbox_path);
      add(plan, LL__M_MKFILE, m->sandbox_path);
    }
  }
  return 0;
}

int ll__mounts_late(ll__mplan_t *late, const ll_sandbox_spec_t *spec, ll_err_t *err) {
  memset(late, 0, sizeof *late);
  for (size_t i = 0; i < spec->nmounts; i++) {
    const ll_sandbox_mount_t *m = &spec->mounts[i];
    char real[PATH_MAX];
    struct stat st;
    if (!m->host_path || !realpath(m->host_path, real) || stat(real, &st) < 0) {
      int e = m->host_path ? errno : EINVAL;
      ll__mounts_plan_free(late);
      return ll_err_set(err, e, "mount %s: %s: %s", m->sandbox_path, m->host_path ? m->host_path : "(null)",
                        strerrorname_np(e));
    }
    int tree = open_tree(AT_FDCWD, real, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    if (tree < 0) { /* no new mount API: the child binds the host path itself */
      ll__mstep_t *s = add(late, LL__M_BIND, m->sandbox_path);
      s->src = ll_sprintf(OLDROOT "%s", real);
      s->flags = bind_flags(real, !m->writable);
      continue;
    }
    struct mount_attr attr = {
        .attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (m->writable ? 0 : MOUNT_ATTR_RDONLY),
    };
    if (mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) {
      int e = errno;
      close(tree);
      ll__mounts_plan_free(late);
      return ll_err_set(err, e, "mount %s: mount_setattr %s: %s", m->sandbox_path, real,
                        strerrorname_np(e));
    }
    ll__mstep_t *t = add(late, LL__M_TREE, m->sandbox_path);
    t->fd = tree;
  }
  return 0;
}

void ll__mounts_plan_free(ll__mplan_t *plan) {
  for (size_t i = 0; i < plan->n; i++) {
    if (plan->steps[i].fd >= 0) close(plan->steps[i].fd);
    free(plan->steps[i].src);
    free(plan->steps[i].dst);
  }
  free(plan->steps);
  memset(plan, 0, sizeof *plan);
}

/* ---- execution (child) ----------------------------------------------------------------------- */

static int write_file(const char *path, const char *data, size_t len, unsigned mode) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return -errno;
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      close(fd);
      return -e;
    }
    data += n;
    len -= (size_t)n;
  }
  close(fd);
  return 0;
}

static int step(const ll__mstep_t *s, const char **op) {
  int fd;
  switch (s->kind) {
  case LL__M_MKDIR: /* parents come first in the plan */
    *op = "mkdir";
    return mkdir(s->dst, 0755) < 0 && errno != EEXIST ? -errno : 0;
  case LL__M_MKFILE:
    *op = "creating mount point";
    fd = open(s->dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0444);
    if (fd < 0) return -errno;
    close(fd);
    return 0;
  case LL__M_SYMLINK:
    *op = "symlink";
    return symlink(s->src, s->dst) < 0 ? -errno : 0;
  case LL__M_WRITE:
    *op = "writing";
    return write_file(s->dst, s->src, s->len, s->mode);
  case LL__M_BIND:
    *op = "bind mount";
    if (mount(s->src, s->dst, NULL, MS_BIND | MS_REC, NULL) < 0) return -errno;
    *op = "remount";
    if (s->flags && mount(NULL, s->dst, NULL, s->flags, NULL) < 0) return -errno;
    return 0;
  case LL__M_TMPFS:
    *op = "mount tmpfs";
    return mount("tmpfs", s->dst, "tmpfs", s->flags, s->src) < 0 ? -errno : 0;
  case LL__M_TREE:
    *op = "move_mount";
    return move_mount(s->fd, "", AT_FDCWD, s->dst, MOVE_MOUNT_F_EMPTY_PATH) < 0 ? -errno : 0;
  case LL__M_PROC:
    *op = "mount proc";
    return mount("proc", s->dst, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, s->src[0] ? s->src : NULL) < 0
               ? -errno
               : 0;
  }
  return -EINVAL;
}

#define TRY(call, o, p)                                                                          \
  do {                                                                                           \
    if ((call) < 0) {                                                                            \
      *op = (o);                                                                                 \
      *path = (p);                                                                               \
      return -errno;                                                                             \
    }                                                                                            \
  } while (0)

int ll__mounts_build(const ll__mplan_t *plan, const char **op, const char **path) {
  /* Nothing we mount may propagate back to the host (nor the host's later mounts to us). */
  TRY(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), "making mounts private", "/");
  TRY(mount("tmpfs", SCRATCH, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700,size=64k"), "mount scratch tmpfs",
      SCRATCH);
  TRY(chdir(SCRATCH), "chdir", SCRATCH);
  TRY(mkdir("newroot", 0755), "mkdir", NEWROOT);
  TRY(mkdir("oldroot", 0700), "mkdir", OLDROOT);
  TRY(syscall(SYS_pivot_root, ".", "oldroot"), "pivot_root", "(scratch)");
  TRY(chdir("/"), "chdir", "/");
  TRY(mount("tmpfs", NEWROOT, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m"), "mount root tmpfs", "/");
  for (size_t i = 0; i < plan->n; i++) {
    int rc = step(&plan->steps[i], op);
    if (rc < 0) {
      *path = plan->steps[i].what;
      errno = -rc;
      return rc;
    }
  }
  return 0;
}

int ll__mounts_finish(const ll__mstep_t *late, size_t n, const char **op, const char **path) {
  for (size_t i = 0; i < n; i++) {
    int rc = step(&late[i], op);
    if (rc < 0) {
      *path = late[i].what;
      errno = -rc;
      return rc;
    }
  }
  TRY(mount(NULL, NEWROOT, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL),
      "remount read-only", "/");
  /* pivot_root(".", ".") stacks the old root on top of the new one; detaching "." then drops the
   * scratch root and the whole host tree under it (runc does the same). */
  TRY(chdir(NEWROOT), "chdir", "/");
  TRY(syscall(SYS_pivot_root, ".", "."), "pivot_root", "/");
  TRY(umount2(".", MNT_DETACH), "detaching the host's root", "/");
  TRY(chdir("/"), "chdir", "/");
  return 0;
}
#undef TRY

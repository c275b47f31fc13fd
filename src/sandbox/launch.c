/* The launcher: probe once, then for each sandbox one straight line (crun's
 * libcrun_run_linux_container and bubblewrap's main are the models):
 *
 * prepare (ll_sandbox_prepare; a warm pool runs it ahead of need):
 *   parent: sync socketpair → [v2: cgroup + limits] → clone3(namespaces, pidfd, into the v2
 *           cgroup) → uid/gid maps → "G" → [v1: cgroup + limits, membership] → "C" → reads
 *           the socketpair until "R" (ready)
 *   child:  wait for "G" → setsid, hostname → root filesystem but the caller's mounts →
 *           loopback up and the listening socket (sent back with SCM_RIGHTS) → rlimits →
 *           wait for "C" → "R" → wait for the start message
 * start (ll_sandbox_start):
 *   parent: the caller's mounts as detached trees → the start message (path, argv, envp, cwd;
 *           stdout and the trees in SCM_RIGHTS) → reads the socketpair until EOF: the
 *           close-on-exec end closing is the exec; a message instead is the child's one error,
 *           "pivot_root /: EPERM".
 *   child:  the caller's mounts, read-only root, pivot_root → stdio → drop the bounding set,
 *           setresgid/setresuid, clear capabilities → no_new_privs → seccomp (last) → every fd
 *           but 0-2 close-on-exec → chdir → execve
 *
 * Two steps of the child wait for the parent. "G": nothing may happen in the user namespace
 * before its uid/gid maps exist. "C": the program must be inside its cgroup(s) before it runs —
 * but the child's own setup (mounts, ~1 ms) runs in the meantime, because moving a process into
 * a v1 cgroup waits for an RCU grace period (~0.5 ms) and creating the v1 directories costs as
 * much again; v2 needs no wait, the child is born in its cgroup.
 *
 * The child runs on a fork-like copy of a process that may have other threads (the daemon's
 * thread pool), so it allocates nothing and calls no library that might: everything it needs —
 * paths, file contents, the compiled seccomp program, a buffer for the start message — is
 * prepared by the parent first. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/mem.h"
#include "sandbox/sandbox_int.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define START_TIMEOUT_MS 10000 /* the child reaches exec in ~1 ms; this is for a wedged kernel */

/* clone3's argument (our own copy: <linux/sched.h> fights with <sched.h> on some libcs). */
struct ll__clone_args {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
      set_tid_size, cgroup;
};

struct ll_sandbox {
  pid_t pid;
  bool reaped;
  int wstatus;
  bool pidns;
  bool mountns;  /* the program sees its own root (else host paths, mapped at start) */
  bool started;
  int sync_fd;   /* to the waiting child, until start */
  int pidfd;     /* until start hands it over */
  int listen_fd; /* until start hands it over */
  char *mount_points[LL__SB_MAX_MOUNTS]; /* the shape's sandbox paths, owned */
  size_t nmounts;
  uid_t host_uid;
  uint32_t slot;
  const ll__cgroup_ops_t *cg_ops;
  ll__cgroup_t *cg; /* owned; NULL without cgroups */
};

static struct {
  pthread_mutex_t lock;
  bool probed;
  ll_sandbox_caps_t caps;
  const ll__cgroup_ops_t *cg; /* the backend in use, NULL for none */
  int cap_last;
  uint8_t slots[LL__SB_NSLOTS / 8];
  uint32_t next_slot;
} g = {.lock = PTHREAD_MUTEX_INITIALIZER, .cap_last = 63};

/* ---- small helpers ----------------------------------------------------------------------- */

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static const char *ename(int e) {
  const char *s = strerrorname_np(e);
  return s ? s : "E?";
}

static int slot_alloc(uint32_t *out) {
  pthread_mutex_lock(&g.lock);
  for (uint32_t i = 0; i < LL__SB_NSLOTS; i++) {
    uint32_t s = (g.next_slot + i) % LL__SB_NSLOTS;
    if (!(g.slots[s / 8] & (1u << (s % 8)))) {
      g.slots[s / 8] |= (uint8_t)(1u << (s % 8));
      g.next_slot = s + 1;
      pthread_mutex_unlock(&g.lock);
      *out = s;
      return 0;
    }
  }
  pthread_mutex_unlock(&g.lock);
  return -EAGAIN;
}

static void slot_free(uint32_t s) {
  pthread_mutex_lock(&g.lock);
  g.slots[s / 8] &= (uint8_t) ~(1u << (s % 8));
  pthread_mutex_unlock(&g.lock);
}

static int write_proc(pid_t pid, const char *file, const char *data) {
  char p[64];
  snprintf(p, sizeof p, "/proc/%d/%s", (int)pid, file);
  int fd = open(p, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  ssize_t n;
  do n = write(fd, data, strlen(data));
  while (n < 0 && errno == EINTR);
  int rc = n < 0 ? -errno : 0;
  close(fd);
  return rc;
}

/* A TCP socket listening on 127.0.0.1:port, close-on-exec and non-blocking. fd or -errno. */
static int listen_loopback(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -errno;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, SOMAXCONN) < 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

/* ---- probe --------------------------------------------------------------------------------- */

/* Runs fn in a forked child; returns 0 when it exits 0, else the errno it exited with. */
static int in_child(int (*fn)(unsigned long), unsigned long arg) {
  pid_t pid = fork();
  if (pid < 0) return errno;
  if (pid == 0) _exit(fn(arg) & 0xff);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : EFAULT;
}

static int try_unshare(unsigned long flags) { return unshare((int)flags) == 0 ? 0 : errno; }

static int try_seccomp(unsigned long unused) {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return errno;
  int rc = ll__seccomp_load(ll__seccomp_program());
  if (rc < 0) return -rc;
  /* The filter is in force: unshare must now fail with EPERM. */
  return unshare(CLONE_NEWUTS) < 0 && errno == EPERM ? 0 : EPROTO;
}

static void say(ll_sandbox_caps_t *c, const char *line) {
  size_t l = strlen(c->summary);
  snprintf(c->summary + l, sizeof c->summary - l, "%s", line);
}

static void say_on_off(ll_sandbox_caps_t *c, const char *what, int e, const char *detail) {
  char line[160];
  if (e == 0)
    snprintf(line, sizeof line, "%s: on%s%s%s\n", what, detail ? " (" : "", detail ? detail : "",
             detail ? ")" : "");
  else
    snprintf(line, sizeof line, "%s: off (%s)\n", what, detail ? detail : ename(e));
  say(c, line);
}

int ll_sandbox_probe(const char *cgroup_parent, ll_sandbox_caps_t *caps, ll_err_t *err) {
  if (!cgroup_parent) cgroup_parent = "lambdalite";
  if (!ll__cg_name_ok(cgroup_parent, true))
    return ll_err_set(err, EINVAL, "sandbox: invalid cgroup parent \"%s\"", cgroup_parent);
  pthread_mutex_lock(&g.lock);
  ll_sandbox_caps_t c;
  memset(&c, 0, sizeof c);
  bool root = geteuid() == 0;

  int e = in_child(try_unshare, CLONE_NEWUSER);
  c.user_ns = e == 0;
  char detail[160];
  snprintf(detail, sizeof detail, "uid %d inside = host uid %u+N", LL__SB_UID, LL__SB_HOST_BASE);
  say_on_off(&c, "user namespaces", e, e == 0 ? (root ? detail : "inside uid 993 = the daemon's uid") : NULL);
  /* Without root, every other namespace needs a user namespace to own it. */
  unsigned long base = root ? 0 : CLONE_NEWUSER;
  static const struct {
    unsigned long flag;
    const char *name;
    size_t off;
  } ns[] = {
    {CLONE_NEWPID, "pid namespace", offsetof(ll_sandbox_caps_t, pid_ns)},
    {CLONE_NEWNS, "mount namespace", offsetof(ll_sandbox_caps_t, mount_ns)},
    {CLONE_NEWIPC, "ipc namespace", offsetof(ll_sandbox_caps_t, ipc_ns)},
    {CLONE_NEWUTS, "uts namespace", offsetof(ll_sandbox_caps_t, uts_ns)},
    {CLONE_NEWNET, "network namespace", offsetof(ll_sandbox_caps_t, net_ns)},
  };
  for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
    e = !root && !c.user_ns ? EPERM : in_child(try_unshare, base | ns[i].flag);
    *(bool *)((char *)&c + ns[i].off) = e == 0;
    say_on_off(&c, ns[i].name, e, e == EPERM && !root && !c.user_ns ? "needs root or user namespaces" : NULL);
  }

  char d2[160], d1[160], line[400];
  int r2 = ll__cgroup_v2_ops.probe(cgroup_parent, d2, sizeof d2);
  int r1 = ll__cgroup_v1_ops.probe(cgroup_parent, d1, sizeof d1);
  c.cgroup_v2 = r2 == 0;
  c.cgroup_v1 = r1 == 0;
  g.cg = c.cgroup_v2 ? &ll__cgroup_v2_ops : c.cgroup_v1 ? &ll__cgroup_v1_ops : NULL;
  if (c.cgroup_v2)
    snprintf(line, sizeof line, "cgroup: v2 (%s)\n", d2);
  else if (c.cgroup_v1)
    snprintf(line, sizeof line, "cgroup: v1 (%s); v2 off (%s)\n", d1, d2);
  else
    snprintf(line, sizeof line, "cgroup: off (v2: %s; v1: %s); rlimits only\n", d2, d1);
  say(&c, line);

  ll_err_t serr = LL_ERR_INIT;
  e = ll__seccomp_prepare(&serr) < 0 ? (serr.code ? serr.code : EINVAL) : in_child(try_seccomp, 0);
  c.seccomp = e == 0;
  say_on_off(&c, "seccomp", e, e && serr.msg[0] ? serr.msg : NULL);

  int pfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
  e = pfd >= 0 ? 0 : errno;
  if (pfd >= 0) close(pfd);
  c.pidfd = e == 0;
  say_on_off(&c, "pidfd", e, NULL);

  /* /tmp on disk: a small one made and dropped at once says whether it can be done here */
  int mnt = -1;
  ll_err_t derr = LL_ERR_INIT;
  if (!root) ll_err_set(&derr, EPERM, "needs root");
  else if (c.mount_ns && ll__disk_tmp("/tmp", (uint64_t)16 << 20, &mnt, &derr) == 0) close(mnt);
  else if (!c.mount_ns) ll_err_set(&derr, EPERM, "needs a mount namespace");
  c.disk_tmp = mnt >= 0;
  char why[200];
  snprintf(why, sizeof why, "%s: /tmp is a tmpfs, counted against MemorySize",
           derr.msg[0] ? derr.msg : "unavailable");
  say_on_off(&c, "tmp on disk", c.disk_tmp ? 0 : derr.code ? derr.code : EIO,
             c.disk_tmp ? "ext4 on a loop device, apart from the memory limit" : why);
  size_t l = strlen(c.summary);
  if (l && c.summary[l - 1] == '\n') c.summary[l - 1] = '\0';

  FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
  if (f) {
    if (fscanf(f, "%d", &g.cap_last) != 1 || g.cap_last < 0 || g.cap_last > 63) g.cap_last = 63;
    fclose(f);
  }
  g.caps = c;
  g.probed = true;
  if (caps) *caps = c;
  pthread_mutex_unlock(&g.lock);
  return 0;
}

static void ensure_probed(void) {
  pthread_mutex_lock(&g.lock);
  bool done = g.probed;
  pthread_mutex_unlock(&g.lock);
  if (!done) ll_sandbox_probe("lambdalite", NULL, NULL);
}

void ll__sandbox_restrict(const ll_sandbox_caps_t *allowed, const char *force_cgroup) {
  ensure_probed();
  ll_sandbox_caps_t *c = &g.caps;
  c->user_ns &= allowed->user_ns;
  c->pid_ns &= allowed->pid_ns;
  c->mount_ns &= allowed->mount_ns;
  c->ipc_ns &= allowed->ipc_ns;
  c->uts_ns &= allowed->uts_ns;
  c->net_ns &= allowed->net_ns;
  c->cgroup_v2 &= allowed->cgroup_v2;
  c->cgroup_v1 &= allowed->cgroup_v1;
  c->seccomp &= allowed->seccomp;
  c->pidfd &= allowed->pidfd;
  if (!c->user_ns && geteuid() != 0) /* as the probe finds: nothing to own the other namespaces */
    c->pid_ns = c->mount_ns = c->ipc_ns = c->uts_ns = c->net_ns = false;
  g.cg = c->cgroup_v2 ? &ll__cgroup_v2_ops : c->cgroup_v1 ? &ll__cgroup_v1_ops : NULL;
  if (force_cgroup && strcmp(force_cgroup, "v2") == 0) {
    g.cg = &ll__cgroup_v2_ops;
    c->cgroup_v2 = true;
  }
}

/* ---- the child ----------------------------------------------------------------------------- */

/* Everything the child needs, prepared by the parent (the child allocates nothing). */
typedef struct ll__child {
  const ll_sandbox_spec_t *spec; /* the shape */
  const ll__mplan_t *plan; /* NULL without a mount namespace */
  int sync_fd, null_fd;
  int tree_fd;            /* the plan's detached mount (a disk /tmp) the child moves in, or -1 */
  bool userns, root_map, netns, utsns, privileged, clear_groups, seccomp;
  uid_t uid; /* what the program runs as, in the child's view */
  gid_t gid;
  uint64_t nofile, nproc; /* nproc 0 = leave alone */
  int cap_last;
  const struct sock_fprog *prog;
  const char *tasks[8]; /* v1 "tasks" files the child writes "0" to, moving itself in */
  size_t ntasks;
  char *msg;   /* room for the start message (the child's own copy of a parent buffer) */
  char **ptrs; /* room for argv and envp */
} ll__child_t;

/* The start message, parent to child: this header, then argv's and envp's strings, each
 * NUL-terminated, in order; offsets count from the header's first byte. The fds travel in
 * SCM_RIGHTS; fd fields are indexes into them (-1: none). */
typedef struct ll__start {
  char kind; /* 'S' */
  uint32_t nargv, nenv, nlate;
  uint32_t path, cwd; /* offsets */
  int32_t stdout_fd;
  struct {
    uint32_t kind; /* LL__M_TREE or LL__M_BIND */
    uint32_t dst, src; /* offsets (src 0 for a tree) */
    uint64_t flags;
    int32_t fd;
  } late[LL__SB_MAX_MOUNTS];
} ll__start_t;

#define START_MAX (sizeof(ll__start_t) + LL_SANDBOX_ARGS_MAX + 4 * 4096)
#define START_PTRS 8192 /* argv + envp entries, with their NULLs */
#define START_FDS (1 + LL__SB_MAX_MOUNTS)

typedef struct ll__msg {
  char kind; /* 'E' error, 'L' listening socket (in SCM_RIGHTS) */
  int32_t code;
  char text[300];
} ll__msg_t;

static void cat(char *buf, size_t sz, const char *s) {
  size_t l = strlen(buf);
  while (s && *s && l + 1 < sz) buf[l++] = *s++;
  buf[l] = '\0';
}

/* Sends "op path: ENAME" to the parent and exits. */
static void __attribute__((noreturn)) child_fail(const ll__child_t *c, int code, const char *op,
                                                 const char *path) {
  ll__msg_t m;
  memset(&m, 0, sizeof m);
  m.kind = 'E';
  m.code = code;
  cat(m.text, sizeof m.text, op);
  if (path) {
    cat(m.text, sizeof m.text, " ");
    cat(m.text, sizeof m.text, path);
  }
  cat(m.text, sizeof m.text, ": ");
  cat(m.text, sizeof m.text, ename(code));
  while (send(c->sync_fd, &m, sizeof m, MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
  _exit(127);
}

static int move_high(int fd) {
  if (fd < 0 || fd > 2) return fd;
  return fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

static void send_fd(const ll__child_t *c, int fd) {
  ll__msg_t m;
  memset(&m, 0, sizeof m);
  m.kind = 'L';
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  memset(&u, 0, sizeof u);
  struct iovec iov = {&m, sizeof m};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &fd, sizeof fd);
  ssize_t n;
  do n = sendmsg(c->sync_fd, &mh, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0) child_fail(c, errno, "sending the listening socket", NULL);
}

/* Sends the parent a message of kind `what` with nothing else. */
static void tell_parent(const ll__child_t *c, char what) {
  ll__msg_t m;
  memset(&m, 0, sizeof m);
  m.kind = what;
  while (send(c->sync_fd, &m, sizeof m, MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
}

/* Blocks until the parent sends `what`; exits quietly when the parent gave up on us. */
static void wait_for(const ll__child_t *c, char what) {
  char got = 0;
  ssize_t n;
  do n = read(c->sync_fd, &got, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1 || got != what) _exit(126);
}

/* What the start message says, in the child's terms. */
typedef struct ll__started {
  const char *path, *cwd;
  char **argv, **envp;
  int out_fd;
  ll__mstep_t late[LL__SB_MAX_MOUNTS];
  size_t nlate;
} ll__started_t;

/* A NUL-terminated string at offset off of the n-byte message, or NULL. */
static const char *msg_str(const char *m, size_t n, uint32_t off) {
  if (off < sizeof(ll__start_t) || off >= n) return NULL;
  return memchr(m + off, '\0', n - off) ? m + off : NULL;
}

/* Waits for the start message and reads it into c->msg and st; exits quietly when the parent
 * gave up on us (EOF). */
static void receive_start(const ll__child_t *c, ll__started_t *st) {
  union {
    char buf[CMSG_SPACE(START_FDS * sizeof(int))];
    struct cmsghdr align;
  } u;
  struct iovec iov = {c->msg, START_MAX};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  ssize_t n;
  do n = recvmsg(c->sync_fd, &mh, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n <= 0) _exit(126);
  int fds[START_FDS], nfds = 0;
  struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
  if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
    nfds = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    if (nfds > START_FDS) nfds = START_FDS;
    memcpy(fds, CMSG_DATA(cm), (size_t)nfds * sizeof(int));
  }
  const ll__start_t *h = (const ll__start_t *)c->msg;
  size_t len = (size_t)n;
  if (len < sizeof *h || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || h->kind != 'S' ||
      h->nlate > LL__SB_MAX_MOUNTS || (uint64_t)h->nargv + h->nenv + 2 > START_PTRS)
    child_fail(c, EPROTO, "reading the start message", NULL);
  st->path = msg_str(c->msg, len, h->path);
  st->cwd = msg_str(c->msg, len, h->cwd);
  st->out_fd = h->stdout_fd >= 0 && h->stdout_fd < nfds ? fds[h->stdout_fd] : -1;
  /* argv, then envp: consecutive strings after the header */
  size_t off = sizeof *h;
  char **p = c->ptrs;
  st->argv = p;
  for (uint32_t i = 0; i < h->nargv + h->nenv; i++) {
    const char *str = msg_str(c->msg, len, (uint32_t)off);
    if (!str) child_fail(c, EPROTO, "reading the start message", "argv");
    if (i == h->nargv) {
      *p++ = NULL;
      st->envp = p;
    }
    *p++ = (char *)str;
    off += strlen(str) + 1;
  }
  if (h->nenv == 0) {
    *p++ = NULL;
    st->envp = p;
  }
  *p = NULL;
  st->nlate = h->nlate;
  for (uint32_t i = 0; i < h->nlate; i++) {
    ll__mstep_t *m = &st->late[i];
    memset(m, 0, sizeof *m);
    m->kind = (ll__mkind_t)h->late[i].kind;
    m->dst = (char *)msg_str(c->msg, len, h->late[i].dst);
    m->src = h->late[i].src ? (char *)msg_str(c->msg, len, h->late[i].src) : NULL;
    m->flags = (unsigned long)h->late[i].flags;
    m->fd = h->late[i].fd >= 0 && h->late[i].fd < nfds ? fds[h->late[i].fd] : -1;
    bool ok = m->dst && strlen(m->dst) > strlen(LL__NEWROOT) &&
              (m->kind == LL__M_TREE ? m->fd >= 0 : m->kind == LL__M_BIND && m->src);
    if (!ok) child_fail(c, EPROTO, "reading the start message", "mounts");
    m->what = m->dst + strlen(LL__NEWROOT);
  }
  if (!st->path || !st->cwd || h->nargv == 0) child_fail(c, EPROTO, "reading the start message", NULL);
}

/* Closes every fd from 3 up but the n given (each >= 3, or -1 for none). */
static void close_except(const int *keep, int n) {
  int k[4], m = 0;
  for (int i = 0; i < n && m < 4; i++)
    if (keep[i] >= 3) k[m++] = keep[i];
  for (int i = 1; i < m; i++) /* insertion sort: no library calls in the child */
    for (int j = i; j > 0 && k[j - 1] > k[j]; j--) {
      int t = k[j];
      k[j] = k[j - 1];
      k[j - 1] = t;
    }
  unsigned lo = 3;
  for (int i = 0; i <= m; i++) {
    unsigned hi = i < m ? (unsigned)k[i] - 1 : ~0U;
    if (lo <= hi && syscall(SYS_close_range, lo, hi, 0) < 0)
      for (unsigned fd = lo; fd <= hi && fd < 65536; fd++) close((int)fd);
    if (i < m) lo = (unsigned)k[i] + 1;
  }
}

static void __attribute__((noreturn)) child_main(ll__child_t *c) {
  /* Dispositions: the parent's handlers mean nothing here, and ignored signals would survive
   * exec. (All signals stay blocked, as the parent left them, until just before exec.) */
  for (int s = 1; s < _NSIG; s++) {
    if (s == SIGKILL || s == SIGSTOP) continue;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigaction(s, &sa, NULL);
  }
  c->sync_fd = move_high(c->sync_fd);
  c->null_fd = move_high(c->null_fd);
  if (c->sync_fd < 0 || c->null_fd < 0) _exit(126);
  /* Nothing else of the daemon's stays open in here: close-on-exec is not enough, a prepared
   * sandbox waits (a copy of a client's connection or of a listening socket would keep it
   * open after the daemon closed it). */
  int keep[3] = {c->sync_fd, c->null_fd, c->tree_fd};
  close_except(keep, 3);

  /* Wait until the parent has written our uid/gid maps. */
  wait_for(c, 'G');

  /* Inside root for building the root filesystem (our files must be owned by a mapped uid). */
  if (c->root_map && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
    child_fail(c, errno, "setresuid", "0");
  /* Into the v1 cgroups, by our own hand (see self_attach_files). */
  for (size_t i = 0; i < c->ntasks; i++) {
    int fd = open(c->tasks[i], O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "0", 1) != 1) child_fail(c, errno, "joining cgroup", c->tasks[i]);
    close(fd);
  }
  /* Our own session: no controlling terminal to push input into (TIOCSTI). */
  setsid();
  if (c->utsns) {
    const char *h = c->spec->hostname ? c->spec->hostname : "localhost";
    if (sethostname(h, strlen(h)) < 0) child_fail(c, errno, "sethostname", h);
  }

  const char *op = NULL, *path = NULL;
  if (c->plan && ll__mounts_build(c->plan, &op, &path) < 0) child_fail(c, errno, op, path);
  if (c->tree_fd >= 0) close(c->tree_fd); /* moved into place: the mount needs no fd now */

  if (c->netns) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0) child_fail(c, errno, "SIOCGIFFLAGS", "lo");
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) child_fail(c, errno, "SIOCSIFFLAGS", "lo");
    close(s);
    if (c->spec->listen_port) {
      int fd = listen_loopback(c->spec->listen_port);
      if (fd < 0) child_fail(c, -fd, "listening on 127.0.0.1", NULL);
      send_fd(c, fd);
      close(fd);
    }
  }

  struct rlimit rl = {c->nofile, c->nofile};
  if (setrlimit(RLIMIT_NOFILE, &rl) < 0) child_fail(c, errno, "setrlimit", "RLIMIT_NOFILE");
  rl.rlim_cur = rl.rlim_max = 0;
  if (setrlimit(RLIMIT_CORE, &rl) < 0) child_fail(c, errno, "setrlimit", "RLIMIT_CORE");
  if (c->nproc) {
    rl.rlim_cur = rl.rlim_max = c->nproc;
    if (setrlimit(RLIMIT_NPROC, &rl) < 0) child_fail(c, errno, "setrlimit", "RLIMIT_NPROC");
  }

  /* Nothing of the program may run before it is in its cgroup(s). */
  wait_for(c, 'C');
  /* Our own cgroup namespace, rooted at the sandbox's cgroup, so /proc/self/cgroup shows nothing
   * of the host's layout. Best effort. */
  if (c->privileged) unshare(CLONE_NEWCGROUP);
  /* A prepared sandbox waiting in a pool dies with the daemon, and says what it is in ps. */
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  prctl(PR_SET_NAME, "ll-sandbox-wait", 0, 0, 0);
  tell_parent(c, 'R');

  ll__started_t st;
  receive_start(c, &st);
  if (c->plan && ll__mounts_finish(st.late, st.nlate, &op, &path) < 0) child_fail(c, errno, op, path);

  /* stdin /dev/null, stdout and stderr the caller's fd. */
  int out = st.out_fd >= 0 ? st.out_fd : c->null_fd;
  if (dup2(c->null_fd, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) child_fail(c, errno, "dup2", NULL);

  /* Capabilities: the bounding set goes first (dropping it needs CAP_SETPCAP, which the uid
   * change below takes away), then the ambient set, then the identity, then whatever the uid
   * change left (nothing, when it was from root; everything, in a user namespace we own without
   * a root mapping). */
  for (int cap = 0; cap <= c->cap_last; cap++) {
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0) continue;
    if (errno == EINVAL) break;
    if (c->privileged) child_fail(c, errno, "PR_CAPBSET_DROP", NULL);
    break; /* unprivileged: there is nothing to drop */
  }
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  if (c->clear_groups && setgroups(0, NULL) < 0) child_fail(c, errno, "setgroups", NULL);
  if (setresgid(c->gid, c->gid, c->gid) < 0) child_fail(c, errno, "setresgid", NULL);
  if (setresuid(c->uid, c->uid, c->uid) < 0) child_fail(c, errno, "setresuid", NULL);
  struct __user_cap_header_struct ch = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct cd[2];
  memset(cd, 0, sizeof cd);
  if (syscall(SYS_capset, &ch, cd) < 0) child_fail(c, errno, "capset", NULL);
  /* Die with the daemon (again: the uid change cleared it). */
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);

  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) child_fail(c, errno, "PR_SET_NO_NEW_PRIVS", NULL);
  if (c->seccomp) {
    int rc = ll__seccomp_load(c->prog);
    if (rc < 0) child_fail(c, -rc, "seccomp", NULL);
  }

  /* Every fd but 0-2 closes at exec (the sync socket's closing is how the parent learns of it). */
  if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
    for (int fd = 3; fd < 65536; fd++) fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  if (chdir(st.cwd) < 0) child_fail(c, errno, "chdir", st.cwd);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  execve(st.path, st.argv, st.envp);
  child_fail(c, errno, "execve", st.path);
}

/* ---- the parent ---------------------------------------------------------------------------- */

/* clone3 with a pidfd (and into the cgroup when cgfd >= 0), falling back to clone and
 * pidfd_open on older kernels. In the child returns 0 (fork-like: our own copy of the stack). */
static pid_t spawn(uint64_t flags, int cgfd, int *pidfd, bool *in_cgroup) {
  *pidfd = -1;
  *in_cgroup = false;
  struct ll__clone_args a;
  memset(&a, 0, sizeof a);
  a.flags = flags | CLONE_PIDFD | (cgfd >= 0 ? CLONE_INTO_CGROUP : 0);
  a.pidfd = (uint64_t)(uintptr_t)pidfd;
  a.exit_signal = SIGCHLD;
  a.cgroup = cgfd >= 0 ? (uint64_t)cgfd : 0;
  long pid = syscall(SYS_clone3, &a, sizeof a);
  if (pid < 0 && cgfd >= 0 && (errno == EINVAL || errno == E2BIG || errno == EOPNOTSUPP)) {
    a.flags &= ~CLONE_INTO_CGROUP; /* before 5.7 */
    a.cgroup = 0;
    cgfd = -1;
    pid = syscall(SYS_clone3, &a, sizeof a);
  }
  if (pid < 0 && errno == ENOSYS) { /* before 5.3 */
    cgfd = -1;
    pid = syscall(SYS_clone, (unsigned long)(flags | CLONE_PIDFD | SIGCHLD), NULL, pidfd, NULL, NULL);
    if (pid < 0 && errno == EINVAL) { /* before 5.2 */
      *pidfd = -1;
      pid = syscall(SYS_clone, (unsigned long)(flags | SIGCHLD), NULL, NULL, NULL, NULL);
    }
  }
  if (pid > 0) *in_cgroup = cgfd >= 0;
  return (pid_t)pid;
}

/* The longest spec mount holding inside, as a host path (no mount namespace to do it for us). */
static char *host_path(const ll_sandbox_spec_t *spec, const char *inside) {
  const ll_sandbox_mount_t *best = NULL;
  size_t bl = 0;
  for (size_t i = 0; i < spec->nmounts; i++) {
    const char *sp = spec->mounts[i].sandbox_path;
    size_t l = sp ? strlen(sp) : 0;
    if (l > bl && strncmp(inside, sp, l) == 0 && (inside[l] == '/' || inside[l] == '\0')) {
      best = &spec->mounts[i];
      bl = l;
    }
  }
  return best ? ll_sprintf("%s%s", best->host_path, inside + bl) : ll_strdup(inside);
}

/* Sends the child one step's go-ahead; false when the child is gone. */
static bool tell(int sync_fd, char what) {
  ssize_t n;
  do n = send(sync_fd, &what, 1, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n == 1;
}

/* Reads the child's messages until `until` arrives ('R': it is ready and waiting) or, with
 * until 0, until EOF (the exec closed the child's end — or it died: its status will say).
 * A listening socket it sends ('L') goes to *listen_fd. 0, or -1 with err. */
static int await_child(int sync_fd, char until, int *listen_fd, ll_err_t *err) {
  for (;;) {
    struct pollfd p = {sync_fd, POLLIN, 0};
    int r = poll(&p, 1, START_TIMEOUT_MS);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0)
      return ll_err_set(err, ETIMEDOUT, "sandbox: the child did not reach %s in %d ms",
                        until ? "its waiting point" : "exec", START_TIMEOUT_MS);
    ll__msg_t m;
    union {
      char buf[CMSG_SPACE(sizeof(int))];
      struct cmsghdr align;
    } u;
    struct iovec iov = {&m, sizeof m};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                        .msg_controllen = sizeof u.buf};
    ssize_t n = recvmsg(sync_fd, &mh, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ll_err_set(err, errno, "sandbox: reading from the child: %s", ename(errno));
    if (n == 0) {
      if (!until) return 0;
      return ll_err_set(err, EPIPE, "sandbox: the child died while being prepared");
    }
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    int fd = -1;
    if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
      memcpy(&fd, CMSG_DATA(cm), sizeof fd);
    if (m.kind == 'L' && fd >= 0 && *listen_fd < 0) {
      *listen_fd = fd;
      continue;
    }
    if (fd >= 0) close(fd);
    if (m.kind == 'E') {
      m.text[sizeof m.text - 1] = '\0';
      return ll_err_set(err, m.code > 0 ? m.code : EIO, "sandbox: %s", m.text);
    }
    if (until && m.kind == until) return 0;
    return ll_err_set(err, EPROTO, "sandbox: unexpected message from the child");
  }
}

int ll_sandbox_prepare(const ll_sandbox_spec_t *spec, ll_sandbox_t **out, ll_err_t *err) {
  *out = NULL;
  if (!ll__cg_name_ok(spec->name, false))
    return ll_err_set(err, EINVAL, "sandbox: invalid name \"%s\"", spec->name ? spec->name : "(null)");
  if (spec->nmounts > LL__SB_MAX_MOUNTS)
    return ll_err_set(err, EINVAL, "sandbox: %zu mounts (at most %d)", spec->nmounts, LL__SB_MAX_MOUNTS);
  ensure_probed();
  pthread_mutex_lock(&g.lock);
  ll_sandbox_caps_t caps = g.caps;
  const ll__cgroup_ops_t *cg_ops = g.cg;
  int cap_last = g.cap_last;
  pthread_mutex_unlock(&g.lock);
  bool root = geteuid() == 0;

  ll_sandbox_t *sb = ll_calloc(1, sizeof *sb);
  sb->pid = -1;
  sb->sync_fd = sb->pidfd = sb->listen_fd = -1;
  if (slot_alloc(&sb->slot) < 0) {
    free(sb);
    return ll_err_set(err, EAGAIN, "sandbox: all %u sandbox uids are in use", LL__SB_NSLOTS);
  }
  sb->pidns = caps.pid_ns;
  sb->mountns = caps.mount_ns;
  sb->nmounts = spec->nmounts;
  for (size_t i = 0; i < spec->nmounts; i++)
    sb->mount_points[i] = ll_strdup(spec->mounts[i].sandbox_path ? spec->mounts[i].sandbox_path : "");
  ll__mplan_t plan = {0};
  int sync[2] = {-1, -1}, null_fd = -1;

  /* Who the program is: uid 993 inside a user namespace; else, as root, a host uid of its own;
   * else (unprivileged, no user namespace) the daemon's own uid. */
  ll__child_t c;
  memset(&c, 0, sizeof c);
  uid_t host_id = LL__SB_HOST_BASE + sb->slot;
  c.userns = caps.user_ns;
  c.root_map = caps.user_ns && root;
  c.privileged = caps.user_ns || root;
  c.clear_groups = root; /* an unprivileged writer of gid_map must deny setgroups */
  if (caps.user_ns) {
    c.uid = LL__SB_UID;
    c.gid = LL__SB_GID;
    sb->host_uid = root ? host_id : geteuid();
  } else if (root) {
    c.uid = host_id;
    c.gid = host_id;
    sb->host_uid = host_id;
  } else {
    c.uid = geteuid();
    c.gid = getegid();
    sb->host_uid = c.uid;
  }
  c.spec = spec;
  c.netns = spec->network_none && caps.net_ns;
  c.utsns = caps.uts_ns;
  c.seccomp = caps.seccomp;
  c.prog = ll__seccomp_program();
  c.cap_last = cap_last;
  struct rlimit cur;
  getrlimit(RLIMIT_NOFILE, &cur);
  c.nofile = spec->nofile ? spec->nofile : 1024;
  if (cur.rlim_max != RLIM_INFINITY && c.nofile > cur.rlim_max) c.nofile = cur.rlim_max; /* cannot raise */
  /* RLIMIT_NPROC counts a uid's processes: a backstop only where the uid is the sandbox's own. */
  bool pids_cgroup = cg_ops && (cg_ops->controllers() & LL__CG_PIDS);
  if (spec->pids_max && !pids_cgroup && root) c.nproc = spec->pids_max;
  /* The child's copies of these are its room for the start message; ours go after the clone. */
  c.msg = ll_malloc(START_MAX);
  c.ptrs = ll_calloc(START_PTRS, sizeof *c.ptrs);

  if (caps.mount_ns) {
    if (ll__mounts_plan(&plan, spec, c.uid, c.gid, caps.pid_ns ? "" : "hidepid=2", caps.disk_tmp,
                        err) < 0) {
      ll_err_wrap(err, "sandbox");
      goto fail;
    }
    c.plan = &plan;
  }

  ll__cgroup_limits_t lim = {spec->memory_bytes, spec->cpu_millis, spec->cpu_hard,
                             spec->pids_max};
  /* v2: the child is born in its cgroup, so it comes first. v1 as root: also first, and the
   * child moves itself in (cheap); otherwise v1 is made while the child sets itself up. */
  bool self_attach = cg_ops && !cg_ops->clone_into && cg_ops->self_attach_files && root;
  if (cg_ops && (cg_ops->clone_into || self_attach)) {
    if (cg_ops->create(spec->name, &lim, &sb->cg, err) < 0) {
      ll_err_wrap(err, "sandbox");
      goto fail;
    }
    sb->cg_ops = cg_ops;
  }
  if (self_attach) {
    /* The child's identity while it joins: inside root (host LL__SB_HOST_BASE - 1) in a user
     * namespace, else host root, which needs no chown. */
    uid_t owner = c.root_map ? (uid_t)(LL__SB_HOST_BASE - 1) : (uid_t)-1;
    c.ntasks = cg_ops->self_attach_files(sb->cg, owner, c.tasks, sizeof c.tasks / sizeof c.tasks[0]);
  }
  /* No network namespace to make it in: the caller still gets its socket, on the host. */
  if (spec->listen_port && !c.netns) {
    sb->listen_fd = listen_loopback(spec->listen_port);
    if (sb->listen_fd < 0) {
      ll_err_set(err, -sb->listen_fd, "sandbox: listening on 127.0.0.1:%u: %s", spec->listen_port,
                 ename(-sb->listen_fd));
      sb->listen_fd = -1;
      goto fail;
    }
  }
  null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0) {
    ll_err_set(err, errno, "sandbox: /dev/null: %s", ename(errno));
    goto fail;
  }
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sync) < 0) {
    ll_err_set(err, errno, "sandbox: socketpair: %s", ename(errno));
    goto fail;
  }
  c.sync_fd = sync[1];
  c.null_fd = null_fd;
  c.tree_fd = -1;
  for (size_t i = 0; i < plan.n; i++)
    if (plan.steps[i].kind == LL__M_TREE) c.tree_fd = plan.steps[i].fd;

  uint64_t flags = 0;
  if (caps.user_ns) flags |= CLONE_NEWUSER;
  if (caps.mount_ns) flags |= CLONE_NEWNS;
  if (caps.pid_ns) flags |= CLONE_NEWPID;
  if (caps.ipc_ns) flags |= CLONE_NEWIPC;
  if (caps.uts_ns) flags |= CLONE_NEWUTS;
  if (c.netns) flags |= CLONE_NEWNET;
  /* Signals stay blocked across the clone so none of the parent's handlers runs in the child;
   * the child resets them and unblocks just before exec. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  bool in_cgroup = false;
  pid_t pid = spawn(flags, sb->cg ? cg_ops->clone_fd(sb->cg) : -1, &sb->pidfd, &in_cgroup);
  if (pid == 0) child_main(&c);
  int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  close(sync[1]);
  sync[1] = -1;
  if (pid < 0) {
    ll_err_set(err, clone_errno, "sandbox: clone: %s", ename(clone_errno));
    goto fail;
  }
  sb->pid = pid;
  if (sb->pidfd < 0 && caps.pidfd) sb->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);

  if (caps.user_ns) {
    char map[128];
    int rc;
    if (root)
      snprintf(map, sizeof map, "0 %u 1\n%d %u 1\n", LL__SB_HOST_BASE - 1, LL__SB_UID, host_id);
    else
      snprintf(map, sizeof map, "%d %u 1\n", LL__SB_UID, (unsigned)geteuid());
    rc = write_proc(pid, "uid_map", map);
    if (rc == 0 && !root) rc = write_proc(pid, "setgroups", "deny");
    if (rc == 0) {
      if (root)
        snprintf(map, sizeof map, "0 %u 1\n%d %u 1\n", LL__SB_HOST_BASE - 1, LL__SB_GID, host_id);
      else
        snprintf(map, sizeof map, "%d %u 1\n", LL__SB_GID, (unsigned)getegid());
      rc = write_proc(pid, "gid_map", map);
    }
    if (rc < 0) {
      ll_err_set(err, -rc, "sandbox: writing the uid/gid maps: %s", ename(-rc));
      goto fail;
    }
  }
  bool alive = tell(sync[0], 'G');
  /* While the child builds its root: the v1 cgroup, and the move into it. */
  if (alive && cg_ops && !sb->cg) {
    if (cg_ops->create(spec->name, &lim, &sb->cg, err) < 0) {
      ll_err_wrap(err, "sandbox");
      goto fail;
    }
    sb->cg_ops = cg_ops;
  }
  if (alive && sb->cg && !in_cgroup && !c.ntasks && cg_ops->attach(sb->cg, pid, err) < 0) {
    ll_err_wrap(err, "sandbox");
    goto fail;
  }
  if (alive) alive = tell(sync[0], 'C');
  /* A child that is gone has left its error message behind; read it either way. */
  if (await_child(sync[0], 'R', &sb->listen_fd, err) < 0) goto fail;
  if (!alive) {
    ll_err_set(err, EPIPE, "sandbox: the child died while being prepared");
    goto fail;
  }
  if (spec->listen_port && sb->listen_fd < 0) {
    ll_err_set(err, EPROTO, "sandbox: the child sent no listening socket");
    goto fail;
  }

  sb->sync_fd = sync[0];
  close(null_fd);
  ll__mounts_plan_free(&plan);
  free(c.msg);
  free(c.ptrs);
  *out = sb;
  return 0;

fail:
  if (sync[0] >= 0) close(sync[0]);
  if (sync[1] >= 0) close(sync[1]);
  if (null_fd >= 0) close(null_fd);
  ll__mounts_plan_free(&plan);
  free(c.msg);
  free(c.ptrs);
  ll_sandbox_destroy(sb);
  return -1;
}

/* Appends NUL-terminated s to the message at *len; its offset. */
static uint32_t put_str(char *m, size_t *len, const char *s) {
  size_t l = strlen(s) + 1;
  uint32_t off = (uint32_t)*len;
  memcpy(m + *len, s, l);
  *len += l;
  return off;
}

int ll_sandbox_start(ll_sandbox_t *sb, const ll_sandbox_spec_t *spec, pid_t *pid_out,
                     int *pidfd_out, int *listen_fd_out, ll_err_t *err) {
  *pid_out = -1;
  *pidfd_out = -1;
  *listen_fd_out = -1;
  if (!spec->path || !spec->argv || !spec->argv[0])
    return ll_err_set(err, EINVAL, "sandbox: no program to run");
  if (sb->started || sb->sync_fd < 0)
    return ll_err_set(err, EINVAL, "sandbox: already started");
  bool same = spec->nmounts == sb->nmounts;
  for (size_t i = 0; same && i < spec->nmounts; i++)
    same = spec->mounts[i].sandbox_path && strcmp(spec->mounts[i].sandbox_path, sb->mount_points[i]) == 0;
  if (!same) return ll_err_set(err, EINVAL, "sandbox: the mounts differ from the prepared ones");
  if (sb->pidfd >= 0) { /* a waiting sandbox that died (killed from outside) cannot start */
    struct pollfd p = {sb->pidfd, POLLIN, 0};
    if (poll(&p, 1, 0) > 0) return ll_err_set(err, ECHILD, "sandbox: the prepared sandbox is gone");
  }
  static char *const empty_env[] = {NULL};
  char *const *envp = spec->envp ? spec->envp : empty_env;
  size_t nargv = 0, nenv = 0, need = sizeof(ll__start_t);
  for (; spec->argv[nargv]; nargv++) need += strlen(spec->argv[nargv]) + 1;
  for (; envp[nenv]; nenv++) need += strlen(envp[nenv]) + 1;
  if (need - sizeof(ll__start_t) > LL_SANDBOX_ARGS_MAX || nargv + nenv + 2 > START_PTRS)
    return ll_err_set(err, E2BIG, "sandbox: argv and environment exceed %d bytes", LL_SANDBOX_ARGS_MAX);

  ll__mplan_t late = {0};
  char *path = NULL, *cwd = NULL;
  if (sb->mountns) {
    if (ll__mounts_late(&late, spec, err) < 0) return ll_err_wrap(err, "sandbox");
  } else { /* no root of its own: the program sees host paths */
    path = host_path(spec, spec->path);
    cwd = host_path(spec, spec->cwd ? spec->cwd : "/");
  }
  const char *p = path ? path : spec->path, *d = cwd ? cwd : spec->cwd ? spec->cwd : "/";
  need += strlen(p) + strlen(d) + 2;
  for (size_t i = 0; i < late.n; i++)
    need += strlen(late.steps[i].dst) + 1 + (late.steps[i].src ? strlen(late.steps[i].src) + 1 : 0);
  char *m = ll_calloc(1, need);
  ll__start_t *h = (ll__start_t *)m;
  h->kind = 'S';
  h->nargv = (uint32_t)nargv;
  h->nenv = (uint32_t)nenv;
  h->nlate = (uint32_t)late.n;
  size_t len = sizeof *h;
  for (size_t i = 0; i < nargv; i++) put_str(m, &len, spec->argv[i]);
  for (size_t i = 0; i < nenv; i++) put_str(m, &len, envp[i]);
  h->path = put_str(m, &len, p);
  h->cwd = put_str(m, &len, d);
  int fds[START_FDS], nfds = 0;
  h->stdout_fd = -1;
  if (spec->stdout_fd >= 0) {
    h->stdout_fd = nfds;
    fds[nfds++] = spec->stdout_fd;
  }
  for (size_t i = 0; i < late.n; i++) {
    const ll__mstep_t *st = &late.steps[i];
    h->late[i].kind = (uint32_t)st->kind;
    h->late[i].dst = put_str(m, &len, st->dst);
    h->late[i].src = st->src ? put_str(m, &len, st->src) : 0;
    h->late[i].flags = st->flags;
    h->late[i].fd = -1;
    if (st->fd >= 0) {
      h->late[i].fd = nfds;
      fds[nfds++] = st->fd;
    }
  }
  union {
    char buf[CMSG_SPACE(START_FDS * sizeof(int))];
    struct cmsghdr align;
  } u;
  memset(&u, 0, sizeof u);
  struct iovec iov = {m, len};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
  if (nfds) {
    mh.msg_control = u.buf;
    mh.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
    memcpy(CMSG_DATA(cm), fds, (size_t)nfds * sizeof(int));
  }
  ssize_t n;
  do n = sendmsg(sb->sync_fd, &mh, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  int send_errno = errno;
  free(m);
  free(path);
  free(cwd);
  ll__mounts_plan_free(&late); /* the child has its own copies of the trees now */
  if (n < 0) {
    if (send_errno == EPIPE || send_errno == ECONNRESET)
      return ll_err_set(err, ECHILD, "sandbox: the prepared sandbox is gone");
    return ll_err_set(err, send_errno, "sandbox: sending the start message: %s", ename(send_errno));
  }
  int unused = -1;
  int rc = await_child(sb->sync_fd, 0, &unused, err);
  if (unused >= 0) close(unused);
  close(sb->sync_fd);
  sb->sync_fd = -1;
  sb->started = true;
  if (rc < 0 && (err->code == ECONNRESET || err->code == EPIPE)) {
    /* killed between the check above and the message (its death can take a while: its mounts
     * go with it): gone, as above, so the caller makes a sandbox the slow way */
    return ll_err_set(err, ECHILD, "sandbox: the prepared sandbox is gone (%s)", ename(err->code));
  }
  if (rc < 0) return -1;
  *pid_out = sb->pid;
  *pidfd_out = sb->pidfd;
  *listen_fd_out = sb->listen_fd;
  sb->pidfd = sb->listen_fd = -1; /* the caller's now */
  return 0;
}

int ll_sandbox_launch(const ll_sandbox_spec_t *spec, ll_sandbox_t **out, pid_t *pid_out, int *pidfd_out,
                      int *listen_fd_out, ll_err_t *err) {
  *out = NULL;
  *pid_out = -1;
  *pidfd_out = -1;
  *listen_fd_out = -1;
  if (!spec->path || !spec->argv || !spec->argv[0])
    return ll_err_set(err, EINVAL, "sandbox: no program to run");
  ll_sandbox_t *sb;
  if (ll_sandbox_prepare(spec, &sb, err) < 0) return -1;
  if (ll_sandbox_start(sb, spec, pid_out, pidfd_out, listen_fd_out, err) < 0) {
    ll_sandbox_destroy(sb);
    return -1;
  }
  *out = sb;
  return 0;
}

/* ---- after the launch ---------------------------------------------------------------------- */

void ll_sandbox_kill(ll_sandbox_t *sb) {
  if (sb->cg && sb->cg_ops->nprocs(sb->cg) != 0) sb->cg_ops->kill(sb->cg);
  if (!sb->reaped && sb->pid > 0) {
    /* Not reaped, so the pid is still ours. As init of its pid namespace its death takes every
     * other process of the namespace with it; without one, its process group (it called setsid). */
    kill(sb->pid, SIGKILL);
    if (!sb->pidns) kill(-sb->pid, SIGKILL);
  }
}

int ll_sandbox_reap(ll_sandbox_t *sb, int *wstatus) {
  if (!sb->reaped) {
    if (!sb->pidns) {
      /* Without a pid namespace nothing kills what the program left behind when it exits: do
       * what the kernel does for a namespace's init, while the zombie still holds its pid (and so
       * its process group id) — after waitpid the id could name someone else's group. */
      siginfo_t si;
      memset(&si, 0, sizeof si);
      if (waitid(P_PID, (id_t)sb->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == sb->pid) {
        kill(-sb->pid, SIGKILL);
        if (sb->cg) sb->cg_ops->kill(sb->cg);
      }
    }
    int st = 0;
    pid_t r;
    do r = waitpid(sb->pid, &st, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0) return -EAGAIN;
    if (r < 0) return -errno;
    sb->reaped = true;
    sb->wstatus = st;
  }
  if (wstatus) *wstatus = sb->wstatus;
  return 0;
}

uint64_t ll_sandbox_peak_memory(const ll_sandbox_t *sb) {
  return sb->cg ? sb->cg_ops->peak_memory(sb->cg) : 0;
}

bool ll_sandbox_oom_killed(const ll_sandbox_t *sb) {
  if (!sb->cg) return false;
  int st = sb->wstatus;
  bool sigkilled = sb->reaped && ((WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) ||
                                  (WIFEXITED(st) && WEXITSTATUS(st) == 128 + SIGKILL));
  return sb->cg_ops->oom_killed(sb->cg, sigkilled);
}

void ll_sandbox_destroy(ll_sandbox_t *sb) {
  if (!sb) return;
  ll_sandbox_kill(sb);
  /* The caller should have reaped it; if not, it is dying now: give it two seconds. */
  for (int i = 0; i < 2000 && !sb->reaped && sb->pid > 0; i++) {
    if (ll_sandbox_reap(sb, NULL) != -EAGAIN) break;
    sleep_ms(1);
  }
  if (sb->cg) {
    /* Members leave the cgroup as they are reaped; bounded, then the directory stays behind. */
    for (int i = 0; i < 1000; i++) {
      if (sb->cg_ops->remove(sb->cg) == 0) break;
      if (i % 100 == 99) sb->cg_ops->kill(sb->cg);
      sleep_ms(1);
    }
    sb->cg_ops->free(sb->cg);
  }
  if (sb->sync_fd >= 0) close(sb->sync_fd);
  if (sb->pidfd >= 0) close(sb->pidfd);
  if (sb->listen_fd >= 0) close(sb->listen_fd);
  for (size_t i = 0; i < sb->nmounts; i++) free(sb->mount_points[i]);
  slot_free(sb->slot);
  free(sb);
}

int ll__sandbox_nprocs(const ll_sandbox_t *sb) { return sb->cg ? sb->cg_ops->nprocs(sb->cg) : -1; }

uid_t ll__sandbox_host_uid(const ll_sandbox_t *sb) { return sb->host_uid; }
pid_t ll__sandbox_pid(const ll_sandbox_t *sb) { return sb->pid; }
uid_t ll_sandbox_host_uid(const ll_sandbox_t *sb) { return sb->host_uid; }

bool ll_sandbox_is_sandbox_uid(uid_t uid) {
  return uid >= LL__SB_HOST_BASE && uid < LL__SB_HOST_BASE + LL__SB_NSLOTS;
}

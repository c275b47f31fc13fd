/* The seccomp filter: default allow, EPERM for the calls a function has no business making and
 * that are the usual ways out of a container (docker's and crun's default profiles block the
 * same ones). The filter is compiled with libseccomp once, in the parent, and kept as a BPF
 * program; the child only loads it (one system call, no allocation), so the launch stays fast
 * and the child never calls into a library that may allocate after clone. */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/mem.h"
#include "sandbox/sandbox_int.h"

/* Denied outright with EPERM. Names the running kernel's architecture does not know are
 * skipped (libseccomp resolves them per architecture). */
static const char *const denied[] = {
  /* mounts and the filesystem tree */
  "mount", "umount", "umount2", "pivot_root", "chroot", "fsopen", "fsconfig", "fsmount",
  "fspick", "move_mount", "open_tree", "mount_setattr", "open_by_handle_at",
  "name_to_handle_at", "quotactl", "quotactl_fd", "swapon", "swapoff",
  /* namespaces */
  "unshare", "setns",
  /* other processes' memory */
  "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp",
  /* kernel code, kernel state */
  "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
  "create_module", "get_kernel_syms", "query_module", "bpf", "perf_event_open", "reboot",
  "syslog", "acct", "lookup_dcookie", "nfsservctl", "uselib", "sysfs", "_sysctl", "ustat",
  "iopl", "ioperm", "vm86", "vm86old", "sethostname", "setdomainname", "vhangup",
  "settimeofday", "stime", "clock_settime", "clock_adjtime", "adjtimex", "fanotify_init",
  /* the kernel keyring */
  "keyctl", "add_key", "request_key",
  /* large attack surfaces a function does not need */
  "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
};

/* Namespace flags clone(2) must not carry. */
static const unsigned long clone_ns_flags[] = {
  CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,
  CLONE_NEWCGROUP,
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct sock_fprog prog; /* owned; filter == NULL until built */
static ll_err_t build_err;     /* the first build's error, repeated to later callers */
static bool built;

static int deny(scmp_filter_ctx ctx, const char *name, ll_err_t *err) {
  int nr = seccomp_syscall_resolve_name(name);
  if (nr == __NR_SCMP_ERROR) return 0;
  int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
  /* -EDOM/-EINVAL: a name that exists only as a multiplexed call on this architecture. */
  if (rc < 0 && rc != -EDOM && rc != -EINVAL)
    return ll_err_set(err, -rc, "seccomp_rule_add %s: %s", name, strerrorname_np(-rc));
  return 0;
}

static int build(ll_err_t *err) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (!ctx) return ll_err_set(err, ENOMEM, "seccomp_init failed");
  int rc = 0, fd = -1;
  /* A binary tree of syscall numbers instead of a linear chain: the kernel runs the filter for
   * every syscall number when it loads it (to cache the always-allowed ones), so a shorter path
   * halves the load, ~200 -> ~90 us. Best effort (libseccomp >= 2.5). */
  seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
  for (size_t i = 0; i < sizeof denied / sizeof denied[0] && rc == 0; i++)
    rc = deny(ctx, denied[i], err);
  /* clone with any namespace flag (flags are argument 0 on x86 and arm; the one rule per flag
   * is an OR). clone3 passes its flags in memory a filter cannot read: answer ENOSYS so libc
   * falls back to clone, as docker's profile does. */
  for (size_t i = 0; i < sizeof clone_ns_flags / sizeof clone_ns_flags[0] && rc == 0; i++) {
    rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                          SCMP_A0(SCMP_CMP_MASKED_EQ, clone_ns_flags[i], clone_ns_flags[i]));
    if (rc < 0) rc = ll_err_set(err, -rc, "seccomp_rule_add clone: %s", strerrorname_np(-rc));
  }
  if (rc == 0 && seccomp_syscall_resolve_name("clone3") != __NR_SCMP_ERROR) {
    rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), seccomp_syscall_resolve_name("clone3"), 0);
    if (rc < 0) rc = ll_err_set(err, -rc, "seccomp_rule_add clone3: %s", strerrorname_np(-rc));
  }
  /* Typing into the controlling terminal's input queue (TIOCSTI) or the console (TIOCLINUX):
   * the sandbox has its own session, this is the second line of defence (bubblewrap does it). */
  if (rc == 0) {
    rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
                          SCMP_A1(SCMP_CMP_MASKED_EQ, 0xFFFFFFFFu, (scmp_datum_t)TIOCSTI));
    if (rc == 0)
      rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
                            SCMP_A1(SCMP_CMP_MASKED_EQ, 0xFFFFFFFFu, (scmp_datum_t)TIOCLINUX));
    if (rc < 0) rc = ll_err_set(err, -rc, "seccomp_rule_add ioctl: %s", strerrorname_np(-rc));
  }
  /* Export the BPF through a memfd and keep it (libseccomp 2.5 has no export-to-memory). */
  if (rc == 0) {
    fd = memfd_create("ll-seccomp", MFD_CLOEXEC);
    if (fd < 0) rc = ll_err_set(err, errno, "memfd_create: %s", strerrorname_np(errno));
  }
  if (rc == 0) {
    int e = seccomp_export_bpf(ctx, fd);
    if (e < 0) rc = ll_err_set(err, -e, "seccomp_export_bpf: %s", strerrorname_np(-e));
  }
  struct stat st;
  if (rc == 0 && fstat(fd, &st) < 0) rc = ll_err_set(err, errno, "fstat: %s", strerrorname_np(errno));
  if (rc == 0) {
    size_t sz = (size_t)st.st_size;
    if (sz == 0 || sz % sizeof(struct sock_filter) != 0 || sz / sizeof(struct sock_filter) > 0xFFFF) {
      rc = ll_err_set(err, EINVAL, "seccomp: exported filter of %zu bytes", sz);
    } else {
      struct sock_filter *f = ll_malloc(sz);
      ssize_t n = pread(fd, f, sz, 0);
      if (n != (ssize_t)sz) {
        free(f);
        rc = ll_err_set(err, EIO, "seccomp: reading the exported filter");
      } else {
        prog.len = (unsigned short)(sz / sizeof(struct sock_filter));
        prog.filter = f;
      }
    }
  }
  if (fd >= 0) close(fd);
  seccomp_release(ctx);
  return rc;
}

int ll__seccomp_prepare(ll_err_t *err) {
  pthread_mutex_lock(&lock);
  if (!built) {
    build(&build_err);
    built = true;
  }
  int rc = 0;
  if (!prog.filter) {
    if (err) *err = build_err;
    rc = -1;
  }
  pthread_mutex_unlock(&lock);
  return rc;
}

const struct sock_fprog *ll__seccomp_program(void) { return prog.filter ? &prog : NULL; }

int ll__seccomp_load(const struct sock_fprog *p) {
  /* seccomp(2) rather than prctl so a kernel without it says ENOSYS. no_new_privs is set by the
   * caller (it is also what lets an unprivileged process load a filter). */
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, p) < 0) return -errno;
  return 0;
}

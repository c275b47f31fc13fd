/* Private to src/sandbox/: the pieces behind sandbox.h — the cgroup backends (one ops table
 * each: cgroup_v1.c, cgroup_v2.c, helpers in cgroup.c), the root filesystem plan (mounts.c) and
 * the seccomp filter (seccomp.c). launch.c strings them together. Tests include this header for
 * the few hooks at the end. */
#ifndef LL_SANDBOX_INT_H
#define LL_SANDBOX_INT_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/err.h"
#include "sandbox/sandbox.h"

/* Who the program is inside: Lambda's sandbox user. With a user namespace, inside uid/gid 993
 * of sandbox slot N is host uid/gid LL__SB_HOST_BASE + N (a uid of its own per live sandbox,
 * which also makes RLIMIT_NPROC a per-sandbox limit), and inside 0 — which only builds the
 * root before exec; nothing runs as it afterwards — is host LL__SB_HOST_BASE - 1. Without a
 * user namespace a root daemon runs the program directly as host uid LL__SB_HOST_BASE + N. */
#define LL__SB_UID 993
#define LL__SB_GID 993
#define LL__SB_USER "sbx_user1051"
#define LL__SB_HOST_BASE 200000u
#define LL__SB_NSLOTS 65536u
/* Most mounts a spec may ask for (the engine uses two: /var/task and /opt). */
#define LL__SB_MAX_MOUNTS 8

/* ---- cgroups -------------------------------------------------------------------------------- */

/* Controllers a backend drives (bits of ops->controllers()). */
enum {
  LL__CG_MEMORY = 1u << 0,
  LL__CG_CPU = 1u << 1,
  LL__CG_PIDS = 1u << 2,
  LL__CG_FREEZER = 1u << 3, /* v1 freezer or v2 cgroup.freeze */
  LL__CG_KILL = 1u << 4,    /* v2 cgroup.kill */
};

typedef struct ll__cgroup_limits {
  uint64_t memory_bytes; /* 0 = none */
  uint32_t cpu_millis;   /* 0 = none */
  bool cpu_hard;         /* cpu_millis as a CFS quota; else as a relative weight */
  uint32_t pids_max;     /* 0 = none */
} ll__cgroup_limits_t;

typedef struct ll__cgroup ll__cgroup_t;

/* A cgroup backend. probe runs once (not concurrently with anything else) and keeps the paths
 * it found in the backend's own static state; everything else may run on any thread. */
typedef struct ll__cgroup_ops {
  const char *name; /* "v1", "v2" */
  /* The child is born in its cgroup (clone3 CLONE_INTO_CGROUP with clone_fd), so create runs
   * before the clone; otherwise after it, while the child sets itself up, then attach. */
  bool clone_into;
  /* 0 when usable under cgroup_parent (creates and removes a test cgroup), with desc "memory,
   * cpu, pids, freezer"; else -errno with desc the reason ("no memory controller"). */
  int (*probe)(const char *cgroup_parent, char *desc, size_t descsz);
  unsigned (*controllers)(void);
  /* Creates <parent>/<name> in every hierarchy and applies the limits. */
  int (*create)(const char *name, const ll__cgroup_limits_t *lim, ll__cgroup_t **out, ll_err_t *err);
  /* A directory fd for clone3's CLONE_INTO_CGROUP (v2), or -1. Owned by cg. */
  int (*clone_fd)(const ll__cgroup_t *cg);
  /* Moves pid into the cgroup(s). */
  int (*attach)(ll__cgroup_t *cg, pid_t pid, ll_err_t *err);
  /* v1 only (NULL for v2): the "tasks" files through which the child moves itself (writing
   * "0"), made writable by `owner`. Moving oneself skips the global lock (and its RCU grace
   * period, ~3 ms per hierarchy on some machines) that moving another process takes. Returns
   * how many paths (owned by cg) are in out[0..max). */
  size_t (*self_attach_files)(ll__cgroup_t *cg, uid_t owner, const char **out, size_t max);
  /* SIGKILLs every member. */
  void (*kill)(ll__cgroup_t *cg);
  /* Number of member processes, -errno when unreadable. */
  int (*nprocs)(const ll__cgroup_t *cg);
  uint64_t (*peak_memory)(const ll__cgroup_t *cg); /* 0 when unknown */
  /* Whether the OOM killer acted; sigkilled says the first process died of SIGKILL (for kernels
   * without an OOM kill counter). */
  bool (*oom_killed)(const ll__cgroup_t *cg, bool sigkilled);
  /* rmdir of every directory: 0, or -errno (-EBUSY while members remain; call again). */
  int (*remove)(ll__cgroup_t *cg);
  void (*free)(ll__cgroup_t *cg);
} ll__cgroup_ops_t;

extern const ll__cgroup_ops_t ll__cgroup_v1_ops;
extern const ll__cgroup_ops_t ll__cgroup_v2_ops;

/* cgroup.c: helpers shared by both backends. All return 0 / a count, or -errno. */
/* Finds the hierarchy holding `controller` (v1; NULL = the cgroup2 hierarchy): its mount point
 * into mnt and this process's own cgroup directory in it into own. */
int ll__cg_locate(const char *controller, char *mnt, size_t mntsz, char *own, size_t ownsz);
int ll__cg_write(const char *dir, const char *file, const char *val);
int ll__cg_read(const char *dir, const char *file, char *buf, size_t sz);
/* The number after `key ` in a "key value" per line file (memory.events, memory.oom_control),
 * 0 when absent. */
uint64_t ll__cg_read_key(const char *dir, const char *file, const char *key);
uint64_t ll__cg_read_u64(const char *dir, const char *file);
int ll__cg_count_procs(const char *dir);
/* SIGKILLs every pid listed in dir/cgroup.procs; returns how many it signalled. */
int ll__cg_kill_procs(const char *dir);
/* Removes the sandbox cgroups under parent that a dead daemon left behind (it was killed before
 * it could): directories named "<pid>-..." whose pid is no live process and that hold none.
 * Returns how many it removed, or -errno. */
int ll__cg_sweep(const char *parent);
/* mkdir that tolerates EEXIST. */
int ll__cg_mkdir(const char *path);
/* A valid cgroup_parent or sandbox name: relative, no "..", no empty component. */
bool ll__cg_name_ok(const char *name, bool allow_slash);

/* ---- the root filesystem (mounts.c) ------------------------------------------------------ */

typedef enum ll__mkind {
  LL__M_MKDIR,   /* mkdir dst (EEXIST is fine); the plan creates parents first */
  LL__M_MKFILE,  /* empty file dst (a bind target) */
  LL__M_SYMLINK, /* dst -> src */
  LL__M_WRITE,   /* dst with contents src (len bytes), mode */
  LL__M_BIND,    /* bind src on dst, then remount with flags (when flags != 0) */
  LL__M_TMPFS,   /* tmpfs on dst with flags and options src */
  LL__M_PROC,    /* proc on dst with options src */
  LL__M_TREE,    /* move the detached mount tree `fd` (made by the parent) onto dst */
} ll__mkind_t;

typedef struct ll__mstep {
  ll__mkind_t kind;
  char *src;           /* owned: "/oldroot/usr", a link target, file contents, mount options */
  char *dst;           /* owned: "/newroot/usr" */
  const char *what;    /* dst as seen inside ("/usr"), for error messages */
  unsigned long flags; /* mount flags */
  size_t len;
  unsigned mode;
  int fd;              /* LL__M_TREE: owned by the plan (open_tree of the host path), else -1 */
} ll__mstep_t;

typedef struct ll__mplan {
  ll__mstep_t *steps; /* owned */
  size_t n, cap;
} ll__mplan_t;

/* Where the child assembles the new root before pivoting into it (a step's dst is this plus
 * the inside path). */
#define LL__NEWROOT "/newroot"

/* In the parent: the steps that build the sandbox's root for spec (host system directories
 * read-only, a minimal /etc with passwd/group for uid/gid, /tmp, /dev, /proc, and mount points
 * for spec->mounts — a spec mount whose host_path is NULL or a directory gets a directory).
 * proc_opts is the /proc mount's option string ("" or "hidepid=2"). -1 with err on a bad
 * sandbox path. */
int ll__mounts_plan(ll__mplan_t *plan, const ll_sandbox_spec_t *spec, uid_t uid, gid_t gid,
                    const char *proc_opts, bool disk_tmp, ll_err_t *err);
/* A /tmp of `bytes` on disk (disktmp.c): an ext4 image made in dir (and unlinked there at
 * once) on a loop device, as a detached mount in *mnt_fd (the caller's), root mode 1777. -1
 * with err. disk_tmp of the plan: /tmp is one of these instead of a tmpfs. */
int ll__disk_tmp(const char *dir, uint64_t bytes, int *mnt_fd, ll_err_t *err);
/* In the parent, at start: the steps that put spec->mounts on their mount points — a detached,
 * read-only clone of each host tree (LL__M_TREE, fd owned by late) or, without the new mount
 * API, a bind of the host path (LL__M_BIND). -1 with err when a host path is unusable. */
int ll__mounts_late(ll__mplan_t *late, const ll_sandbox_spec_t *spec, ll_err_t *err);
void ll__mounts_plan_free(ll__mplan_t *plan);
/* In the child, inside its new mount namespace, in two halves that allocate nothing. build:
 * pivots into a scratch root (the host's tree at /oldroot) and assembles the new root at
 * LL__NEWROOT from the plan. finish: runs the late steps, makes the root read-only, pivots
 * into it and detaches the host's tree. 0, or -errno with *op naming the call and *path the
 * inside path it failed on. */
int ll__mounts_build(const ll__mplan_t *plan, const char **op, const char **path);
int ll__mounts_finish(const ll__mstep_t *late, size_t n, const char **op, const char **path);

/* ---- seccomp (seccomp.c) ------------------------------------------------------------------ */

/* Compiles the filter once (thread-safe); -1 with err when libseccomp fails. */
int ll__seccomp_prepare(ll_err_t *err);
/* The compiled program, NULL before a successful prepare. */
const struct sock_fprog *ll__seccomp_program(void);
/* In the child, after no_new_privs: loads it. 0 or -errno. */
int ll__seccomp_load(const struct sock_fprog *prog);

/* ---- hooks for tests ------------------------------------------------------------------------ */

/* Turns mechanisms off (never on) after a probe, as if the machine lacked them; "v2" in
 * force_cgroup selects the v2 backend even without its controllers (to exercise it on a v1
 * machine). Not thread-safe; tests only. */
void ll__sandbox_restrict(const ll_sandbox_caps_t *allowed, const char *force_cgroup);
/* Processes in the sandbox's cgroup (-1 without one). */
int ll__sandbox_nprocs(const ll_sandbox_t *sb);
/* The host uid the program runs as. */
uid_t ll__sandbox_host_uid(const ll_sandbox_t *sb);
/* The first process's pid (also of a prepared sandbox not yet started). */
pid_t ll__sandbox_pid(const ll_sandbox_t *sb);

#endif

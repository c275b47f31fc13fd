/* The sandbox launcher: runs one program in its own Linux sandbox — namespaces (mount, pid,
 * ipc, uts, user; network optional), a minimal read-only root made with pivot_root, a private
 * /tmp, cgroup limits (memory, cpu, pids), rlimits, no capabilities, no_new_privs and a seccomp
 * filter — following the straight-line launch sequence of ../shared/STYLE.md (crun and
 * bubblewrap are the models). It knows nothing of Lambda: the engine describes what to run and
 * what to mount; the sandbox runs it and reports what it saw.
 *
 * Processes: ll_sandbox_launch returns the pid of the sandbox's first process (pid 1 of its
 * pid namespace when pid namespaces are in force) and a pidfd for it, so a caller on an event
 * loop can poll the pidfd for exit and then call ll_sandbox_reap. Everything the sandbox started
 * dies with it: ll_sandbox_kill kills every process of its cgroup (or of its pid namespace).
 * As pid 1, the program is its namespace's init: when it exits the kernel kills everything left
 * in the namespace, and it must reap the zombies of the processes it starts (shells do; a C
 * bootstrap that forks must waitpid its children).
 *
 * Degradation: the mechanisms available are probed once (ll_sandbox_probe); a spec asks for
 * the strongest isolation, and the launcher falls back to what the machine allows, reporting in
 * ll_sandbox_caps_t which mechanisms are in force. */
#ifndef LL_SANDBOX_SANDBOX_H
#define LL_SANDBOX_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/err.h"

/* What this machine lets the launcher do (probed once, then fixed). */
typedef struct ll_sandbox_caps {
  bool user_ns;        /* unprivileged uid/gid inside, mapped to a host range */
  bool pid_ns, mount_ns, ipc_ns, uts_ns, net_ns;
  bool cgroup_v2;      /* a writable cgroup v2 hierarchy with the memory/cpu/pids controllers */
  bool cgroup_v1;      /* writable v1 memory (+cpu, pids, freezer where mounted) controllers */
  bool seccomp;
  bool pidfd;          /* pidfd_open works */
  bool disk_tmp;       /* /tmp can be an ext4 image on a loop device (root, loop devices,
                          mke2fs); else a tmpfs, whose pages count against the memory limit */
  char summary[512];   /* one line per mechanism: "user namespaces: on", "cgroup: v1 (memory,
                          cpu, pids)", "seccomp: on", "...: off (why)" */
} ll_sandbox_caps_t;

/* Probes the machine (creates and removes a test cgroup and namespaces). cgroup_parent names
 * the cgroup directory under each controller that sandboxes go into ("lambdalite"). */
int ll_sandbox_probe(const char *cgroup_parent, ll_sandbox_caps_t *caps, ll_err_t *err);

typedef struct ll_sandbox_mount {
  const char *host_path;    /* existing file or directory on the host */
  const char *sandbox_path; /* absolute path inside, e.g. "/var/task" */
  bool writable;            /* default read-only */
} ll_sandbox_mount_t;

typedef struct ll_sandbox_spec {
  const char *path;          /* program to exec, as seen inside the sandbox ("/var/task/bootstrap") */
  char *const *argv;         /* NULL-terminated */
  char *const *envp;         /* NULL-terminated; nothing of the daemon's environment leaks in */
  const char *cwd;           /* inside, e.g. "/var/task" */
  const ll_sandbox_mount_t *mounts; /* bound in order on top of the minimal root */
  size_t nmounts;
  uint64_t tmp_bytes;        /* size of the private /tmp (and of the /dev/shm tmpfs); 0 = 512 MiB */
  const char *tmp_disk_dir;  /* a host directory for /tmp's image (unlinked at once): /tmp is
                                then disk, not memory (where caps.disk_tmp); NULL: a tmpfs */
  uint64_t memory_bytes;     /* memory limit, swap off; 0 = none */
  uint32_t cpu_millis;       /* CPU share in thousandths of a core (1769 MB ~ 1000); 0 = none */
  bool cpu_hard;             /* cpu_millis is a hard cap per 100 ms (CFS quota, as Lambda
                                throttles); false: a relative weight, so an idle machine's
                                spare CPU is not withheld (cpu.shares / cpu.weight) */
  uint32_t pids_max;         /* processes+threads limit; 0 = none */
  uint32_t nofile;           /* RLIMIT_NOFILE; 0 = 1024 */
  bool network_none;         /* own empty network namespace (loopback up) instead of the host's */
  uint16_t listen_port;      /* with network_none: a TCP socket listening on 127.0.0.1:port
                                inside the sandbox's network namespace is made before exec and
                                handed back through listen_fd (so the program can reach the
                                caller at 127.0.0.1:port); without network_none, or where
                                network namespaces are unavailable, the socket is made on the
                                host's loopback instead (the port must then be free); 0 = none */
  const char *hostname;      /* uts hostname, e.g. "lambdalite" */
  int stdout_fd;             /* becomes fd 1 and fd 2 inside (-1: /dev/null); stdin is /dev/null;
                                every other fd is closed */
  const char *name;          /* unique name for the cgroup directory ("fn-abc-17"); one that
                                starts with the daemon's pid and "-" ("4242-17") is removed by
                                a later probe if the daemon died without removing it (kill -9) */
} ll_sandbox_spec_t;

typedef struct ll_sandbox ll_sandbox_t;

/* Starts spec->path in a new sandbox. Returns 0 with *out, its first process's pid, a pidfd
 * (close-on-exec; -1 when pidfds are unavailable) and, when spec->listen_port is set, the
 * listening socket (*listen_fd, close-on-exec, non-blocking; else -1) set — the caller owns and
 * closes both; sb keeps no copy — or -1 with err
 * naming the step that failed ("sandbox: pivot_root: EPERM"). An error inside the child before
 * exec travels back as one message through the sync pipe. Blocking; takes a few ms. */
int ll_sandbox_launch(const ll_sandbox_spec_t *spec, ll_sandbox_t **out, pid_t *pid, int *pidfd,
                      int *listen_fd, ll_err_t *err);
/* The two halves of ll_sandbox_launch, for a warm pool of sandboxes made before they are
 * needed. ll_sandbox_prepare does everything that does not depend on the program —
 * namespaces, uid/gid maps, the cgroup and its limits, the root filesystem with mount points
 * for shape->mounts (a NULL host_path means a directory), the network namespace and its
 * listening socket, rlimits — and leaves the sandbox's first process waiting (blocking, a few
 * ms). Of shape it reads everything but path, argv, envp, cwd, stdout_fd and the mounts' host
 * paths. ll_sandbox_start hands that process the rest (spec: the same shape, the same mounts
 * in the same order); it puts the mounts in place, pivots into its root, drops its privileges
 * and execs (blocking, a fraction of a millisecond), and start returns what launch does. A
 * start that fails (-1 with err; ECHILD when the waiting process had died) leaves sb the
 * caller's to destroy; so does a sandbox never started. argv and envp together are limited to
 * LL_SANDBOX_ARGS_MAX bytes (E2BIG). */
#define LL_SANDBOX_ARGS_MAX (128 * 1024)
int ll_sandbox_prepare(const ll_sandbox_spec_t *shape, ll_sandbox_t **out, ll_err_t *err);
int ll_sandbox_start(ll_sandbox_t *sb, const ll_sandbox_spec_t *spec, pid_t *pid, int *pidfd,
                     int *listen_fd, ll_err_t *err);
/* The host uid the program runs as (its sockets and files are owned by it on the host). */
uid_t ll_sandbox_host_uid(const ll_sandbox_t *sb);
/* Whether uid is one the launcher gives sandboxed programs (a root daemon's range). */
bool ll_sandbox_is_sandbox_uid(uid_t uid);
/* SIGKILLs every process of the sandbox (the cgroup's members, or the pid namespace's init). */
void ll_sandbox_kill(ll_sandbox_t *sb);
/* After the first process exited: reaps it (waitpid), fills its wait status, and returns 0;
 * -EAGAIN when it has not exited yet. (Without a pid namespace it first kills what the program
 * left behind, as the kernel does for a namespace's init.) */
int ll_sandbox_reap(ll_sandbox_t *sb, int *wstatus);
/* Peak memory use in bytes since launch (cgroup max usage; 0 when unknown). */
uint64_t ll_sandbox_peak_memory(const ll_sandbox_t *sb);
/* Whether the kernel's OOM killer acted inside the sandbox. Read this and the peak before
 * ll_sandbox_destroy, which removes the cgroup. */
bool ll_sandbox_oom_killed(const ll_sandbox_t *sb);
/* Kills what is left, removes the cgroup and frees sb (the first process should be reaped; if
 * not, destroy kills and reaps it, waiting up to 2 s). */
void ll_sandbox_destroy(ll_sandbox_t *sb);

#endif

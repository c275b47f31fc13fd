/* cgroup v2 backend: one directory in the unified hierarchy. memory.max with memory.swap.max 0
 * and memory.oom.group 1 (an OOM kill takes the whole sandbox, as an instance that ran out of
 * memory is broken anyway), cpu.max (a hard cap of cpu_millis per 100 ms, as Lambda does),
 * pids.max. The child is born in its cgroup (clone3 CLONE_INTO_CGROUP), which is also faster than
 * moving it. Kill: cgroup.kill (5.14+), else freeze, SIGKILL every member, thaw.
 *
 * The controllers must be enabled in cgroup.subtree_control of every ancestor, and a non-root
 * cgroup that has processes cannot enable them ("no internal processes"): when the daemon's own
 * cgroup refuses, sandboxes go under the hierarchy's root instead. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/mem.h"
#include "sandbox/sandbox_int.h"

static const char *const cname[] = {"memory", "cpu", "pids"};
static const unsigned cbit[] = {LL__CG_MEMORY, LL__CG_CPU, LL__CG_PIDS};
#define NC 3

static struct {
  unsigned ctrls;
  char parent[PATH_MAX]; /* "" until a probe found a writable place */
} st;

struct ll__cgroup {
  char *dir; /* owned; NULL once removed */
  int fd;    /* owned: O_PATH directory fd for CLONE_INTO_CGROUP */
};

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static bool has_word(const char *list, const char *w) {
  size_t n = strlen(w);
  for (const char *p = list; (p = strstr(p, w)); p += n)
    if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || p[n] == '\0')) return true;
  return false;
}

/* Enables what it can of memory/cpu/pids in dir's subtree_control; returns the enabled set. */
static unsigned enable(const char *dir, unsigned want) {
  char avail[512] = "";
  ll__cg_read(dir, "cgroup.controllers", avail, sizeof avail);
  unsigned got = 0;
  for (int i = 0; i < NC; i++) {
    if (!(want & cbit[i]) || !has_word(avail, cname[i])) continue;
    char v[32];
    snprintf(v, sizeof v, "+%s", cname[i]);
    if (ll__cg_write(dir, "cgroup.subtree_control", v) == 0) got |= cbit[i];
  }
  return got;
}

/* Tries base as the place for <cgroup_parent>: fills st and returns 0 when a test cgroup could be
 * created there. */
static int try_base(const char *base, const char *cgroup_parent) {
  unsigned ctrls = enable(base, LL__CG_MEMORY | LL__CG_CPU | LL__CG_PIDS);
  char dir[PATH_MAX], buf[PATH_MAX], *save = NULL;
  snprintf(dir, sizeof dir, "%s", base);
  snprintf(buf, sizeof buf, "%s", cgroup_parent);
  for (char *p = strtok_r(buf, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
    size_t l = strlen(dir);
    snprintf(dir + l, sizeof dir - l, "/%s", p);
    int rc = ll__cg_mkdir(dir);
    if (rc < 0) return rc;
    ctrls = enable(dir, ctrls);
  }
  char probe[PATH_MAX + 32];
  snprintf(probe, sizeof probe, "%s/.probe-%d", dir, (int)getpid());
  rmdir(probe);
  int rc = ll__cg_mkdir(probe);
  if (rc < 0) return rc;
  if (access(probe, F_OK) == 0) {
    char p2[PATH_MAX + 64];
    snprintf(p2, sizeof p2, "%s/cgroup.kill", probe);
    if (access(p2, F_OK) == 0) ctrls |= LL__CG_KILL;
    snprintf(p2, sizeof p2, "%s/cgroup.freeze", probe);
    if (access(p2, F_OK) == 0) ctrls |= LL__CG_FREEZER;
  }
  rmdir(probe);
  st.ctrls = ctrls;
  snprintf(st.parent, sizeof st.parent, "%s", dir);
  ll__cg_sweep(dir);
  return 0;
}

static int v2_probe(const char *cgroup_parent, char *desc, size_t descsz) {
  memset(&st, 0, sizeof st);
  char mnt[PATH_MAX], own[PATH_MAX];
  int rc = ll__cg_locate(NULL, mnt, sizeof mnt, own, sizeof own);
  if (rc < 0) {
    snprintf(desc, descsz, "%s", rc == -ENOENT ? "no cgroup2 mount" : strerrorname_np(-rc));
    return rc;
  }
  rc = try_base(own, cgroup_parent);
  /* Our own cgroup has processes (us) and so cannot hand controllers down: try the root. */
  if (strcmp(own, mnt) != 0 && (rc < 0 || !(st.ctrls & LL__CG_MEMORY))) {
    typeof(st) first = st;
    int rc2 = try_base(mnt, cgroup_parent);
    if (rc2 == 0 && (rc < 0 || (st.ctrls & LL__CG_MEMORY)))
      rc = 0;
    else
      st = first;
  }
  if (rc < 0) {
    snprintf(desc, descsz, "mkdir under %s: %s", own, strerrorname_np(-rc));
    st.parent[0] = '\0';
    return rc;
  }
  desc[0] = '\0';
  bool usable = (st.ctrls & LL__CG_MEMORY) && (st.ctrls & LL__CG_PIDS);
  for (int i = 0; i < NC; i++) {
    if (usable ? !(st.ctrls & cbit[i]) : (st.ctrls & cbit[i])) continue;
    size_t l = strlen(desc);
    snprintf(desc + l, descsz - l, "%s%s", l ? ", " : usable ? "" : "no ", cname[i]);
  }
  if (!usable) {
    size_t l = strlen(desc);
    snprintf(desc + l, descsz - l, " controller in %s", mnt);
    return -EOPNOTSUPP; /* st stays filled: the hierarchy itself works (tests may force it) */
  }
  return 0;
}

static unsigned v2_controllers(void) { return st.ctrls; }

static void v2_free(ll__cgroup_t *cg) {
  if (!cg) return;
  if (cg->fd >= 0) close(cg->fd);
  free(cg->dir);
  free(cg);
}

static int v2_remove(ll__cgroup_t *cg) {
  if (!cg->dir) return 0;
  if (rmdir(cg->dir) < 0 && errno != ENOENT) return -errno;
  free(cg->dir);
  cg->dir = NULL;
  return 0;
}

static int v2_nprocs(const ll__cgroup_t *cg) { return cg->dir ? ll__cg_count_procs(cg->dir) : -ENOENT; }

static void v2_kill(ll__cgroup_t *cg) {
  if (!cg->dir) return;
  if (ll__cg_write(cg->dir, "cgroup.kill", "1") == 0) return;
  bool frozen = ll__cg_write(cg->dir, "cgroup.freeze", "1") == 0;
  if (frozen) {
    for (int i = 0; i < 100 && ll__cg_read_key(cg->dir, "cgroup.events", "frozen") != 1; i++) sleep_ms(1);
    ll__cg_kill_procs(cg->dir);
    ll__cg_write(cg->dir, "cgroup.freeze", "0");
    return;
  }
  for (int round = 0; round < 3 && ll__cg_kill_procs(cg->dir) > 0; round++) sleep_ms(1);
}

static int v2_attach(ll__cgroup_t *cg, pid_t pid, ll_err_t *err) {
  char val[32];
  snprintf(val, sizeof val, "%d", (int)pid);
  int rc = ll__cg_write(cg->dir, "cgroup.procs", val);
  if (rc < 0) return ll_err_set(err, -rc, "adding pid to %s/cgroup.procs: %s", cg->dir, strerrorname_np(-rc));
  return 0;
}

static int set(const char *dir, const char *file, const char *val, bool required, ll_err_t *err) {
  int rc = ll__cg_write(dir, file, val);
  if (rc < 0 && required) return ll_err_set(err, -rc, "writing %s/%s: %s", dir, file, strerrorname_np(-rc));
  return 0;
}

static int v2_create(const char *name, const ll__cgroup_limits_t *lim, ll__cgroup_t **out, ll_err_t *err) {
  if (!st.parent[0]) return ll_err_set(err, ENOENT, "cgroup v2: not probed");
  ll__cgroup_t *cg = ll_calloc(1, sizeof *cg);
  cg->fd = -1;
  cg->dir = ll_sprintf("%s/%s", st.parent, name);
  int rc = mkdir(cg->dir, 0755) < 0 ? -errno : 0;
  if (rc == -EEXIST) { /* left behind by a daemon that died: empty it and start afresh */
    if (ll__cg_write(cg->dir, "cgroup.kill", "1") < 0) ll__cg_kill_procs(cg->dir);
    for (int i = 0; i < 100 && ll__cg_count_procs(cg->dir) > 0; i++) sleep_ms(1);
    rmdir(cg->dir);
    rc = mkdir(cg->dir, 0755) < 0 ? -errno : 0;
  }
  if (rc < 0) {
    ll_err_set(err, -rc, "mkdir %s: %s", cg->dir, strerrorname_np(-rc));
    free(cg->dir);
    cg->dir = NULL;
    goto fail;
  }
  char v[64];
  if ((st.ctrls & LL__CG_MEMORY)) {
    if (lim->memory_bytes) {
      snprintf(v, sizeof v, "%" PRIu64, lim->memory_bytes);
      if (set(cg->dir, "memory.max", v, true, err) < 0) goto fail;
    }
    set(cg->dir, "memory.swap.max", "0", false, err); /* absent without swap accounting */
    set(cg->dir, "memory.oom.group", "1", false, err);
  }
  if ((st.ctrls & LL__CG_CPU) && lim->cpu_millis && !lim->cpu_hard) {
    /* weight 100 = one core's worth (the default), 1..10000 */
    uint64_t w = (uint64_t)lim->cpu_millis / 10;
    snprintf(v, sizeof v, "%" PRIu64, w < 1 ? 1 : w > 10000 ? 10000 : w);
    if (set(cg->dir, "cpu.weight", v, true, err) < 0) goto fail;
  } else if ((st.ctrls & LL__CG_CPU) && lim->cpu_millis) {
    uint64_t quota = (uint64_t)lim->cpu_millis * 100;
    if (quota < 1000) quota = 1000;
    snprintf(v, sizeof v, "%" PRIu64 " 100000", quota);
    if (set(cg->dir, "cpu.max", v, true, err) < 0) goto fail;
  }
  if ((st.ctrls & LL__CG_PIDS) && lim->pids_max) {
    snprintf(v, sizeof v, "%" PRIu32, lim->pids_max);
    if (set(cg->dir, "pids.max", v, true, err) < 0) goto fail;
  }
  cg->fd = open(cg->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  *out = cg;
  return 0;
fail:
  v2_remove(cg);
  v2_free(cg);
  return ll_err_wrap(err, "cgroup v2");
}

static int v2_clone_fd(const ll__cgroup_t *cg) { return cg->fd; }

static uint64_t v2_peak_memory(const ll__cgroup_t *cg) {
  return cg->dir && (st.ctrls & LL__CG_MEMORY) ? ll__cg_read_u64(cg->dir, "memory.peak") : 0;
}

static bool v2_oom_killed(const ll__cgroup_t *cg, bool sigkilled) {
  return cg->dir && (st.ctrls & LL__CG_MEMORY) && ll__cg_read_key(cg->dir, "memory.events", "oom_kill") > 0;
}

const ll__cgroup_ops_t ll__cgroup_v2_ops = {
  .name = "v2",
  .clone_into = true,
  .probe = v2_probe,
  .controllers = v2_controllers,
  .create = v2_create,
  .clone_fd = v2_clone_fd,
  .attach = v2_attach,
  .kill = v2_kill,
  .nprocs = v2_nprocs,
  .peak_memory = v2_peak_memory,
  .oom_killed = v2_oom_killed,
  .remove = v2_remove,
  .free = v2_free,
};

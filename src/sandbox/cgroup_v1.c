/* cgroup v1 backend: one directory per controller hierarchy (memory is required; cpu, pids and
 * freezer are used where mounted). Memory: memory.limit_in_bytes, memory.memsw.limit_in_bytes
 * (swap off, when swap accounting exists), swappiness 0, the OOM killer on. CPU: a CFS quota of
 * cpu_millis per 100 ms period (a hard cap, as Lambda does) or cpu.shares (a weight). pids: pids.max. Kill: freeze, SIGKILL
 * every member, thaw, so nothing forks while the list is being walked. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"
#include "sandbox/sandbox_int.h"

enum { H_MEMORY, H_CPU, H_PIDS, H_FREEZER, NH };
static const char *const hname[NH] = {"memory", "cpu", "pids", "freezer"};
static const unsigned hbit[NH] = {LL__CG_MEMORY, LL__CG_CPU, LL__CG_PIDS, LL__CG_FREEZER};

/* Filled by probe: the parent directory (<own cgroup>/<cgroup_parent>) in each hierarchy, "" when
 * that controller is unusable; `same` marks a hierarchy co-mounted with an earlier one. */
static struct {
  unsigned ctrls;
  char parent[NH][PATH_MAX];
  int same[NH]; /* index of the first hierarchy with the same directory, or -1 */
} st;

struct ll__cgroup {
  char *dir[NH]; /* owned; NULL when the controller is unused or shares an earlier directory */
  char *path[NH]; /* the leaf directory serving each controller (aliases dir[]) */
  char *tasks[NH]; /* owned: <dir>/tasks, for the child to move itself */
};

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* mkdir -p of parent under own. */
static int mkdirs(const char *own, const char *parent, char *out, size_t outsz) {
  snprintf(out, outsz, "%s", own);
  char buf[PATH_MAX];
  snprintf(buf, sizeof buf, "%s", parent);
  char *save = NULL;
  for (char *p = strtok_r(buf, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
    size_t l = strlen(out);
    snprintf(out + l, outsz - l, "/%s", p);
    int rc = ll__cg_mkdir(out);
    if (rc < 0) return rc;
  }
  return 0;
}

static int v1_probe(const char *cgroup_parent, char *desc, size_t descsz) {
  memset(&st, 0, sizeof st);
  desc[0] = '\0';
  int memrc = 0;
  for (int h = 0; h < NH; h++) {
    st.same[h] = -1;
    char mnt[PATH_MAX], own[PATH_MAX], parent[PATH_MAX], probe[PATH_MAX + 32];
    int rc = ll__cg_locate(hname[h], mnt, sizeof mnt, own, sizeof own);
    if (rc == 0) rc = mkdirs(own, cgroup_parent, parent, sizeof parent);
    if (rc == 0) {
      for (int k = 0; k < h; k++)
        if (st.parent[k][0] && strcmp(st.parent[k], parent) == 0) st.same[h] = k;
      /* A test cgroup proves we may create (and remove) sandboxes' directories. */
      snprintf(probe, sizeof probe, "%s/.probe-%d", parent, (int)getpid());
      rmdir(probe);
      rc = ll__cg_mkdir(probe);
      if (rc == 0 && h == H_MEMORY) {
        char buf[64];
        rc = ll__cg_read(probe, "memory.limit_in_bytes", buf, sizeof buf);
        if (rc > 0) rc = ll__cg_write(probe, "memory.limit_in_bytes", "1073741824");
      }
      rmdir(probe);
    }
    if (rc < 0) {
      if (h == H_MEMORY) {
        memrc = rc;
        snprintf(desc, descsz, rc == -ENOENT ? "no memory controller mounted" : "memory controller: %s",
                 strerrorname_np(-rc));
      }
      continue;
    }
    snprintf(st.parent[h], sizeof st.parent[h], "%s", parent);
    st.ctrls |= hbit[h];
    if (st.same[h] < 0) ll__cg_sweep(parent);
  }
  if (memrc < 0) {
    st.ctrls = 0;
    return memrc;
  }
  for (int h = 0; h < NH; h++) {
    if (!(st.ctrls & hbit[h])) continue;
    size_t l = strlen(desc);
    snprintf(desc + l, descsz - l, "%s%s", l ? ", " : "", hname[h]);
  }
  return 0;
}

static unsigned v1_controllers(void) { return st.ctrls; }

static void v1_free(ll__cgroup_t *cg) {
  if (!cg) return;
  for (int h = 0; h < NH; h++) free(cg->dir[h]), free(cg->tasks[h]);
  free(cg);
}

static int v1_remove(ll__cgroup_t *cg) {
  int rc = 0;
  for (int h = 0; h < NH; h++)
    if (cg->dir[h] && rmdir(cg->dir[h]) < 0 && errno != ENOENT && rc == 0) rc = -errno;
  if (rc == 0)
    for (int h = 0; h < NH; h++) {
      free(cg->dir[h]);
      cg->dir[h] = NULL;
    }
  return rc;
}

static int v1_nprocs(const ll__cgroup_t *cg) {
  for (int h = 0; h < NH; h++)
    if (cg->path[h]) return ll__cg_count_procs(cg->path[h]);
  return -ENOENT;
}

static void v1_kill(ll__cgroup_t *cg) {
  const char *frz = cg->path[H_FREEZER];
  const char *procs = frz ? frz : cg->path[H_MEMORY];
  if (!procs) return;
  /* Freeze first so nothing forks between reading cgroup.procs and the signals. FREEZING turns
   * into FROZEN within a few ms unless a member is stuck in the kernel; bounded either way. */
  if (frz && ll__cg_write(frz, "freezer.state", "FROZEN") == 0) {
    char state[32];
    for (int i = 0; i < 100; i++) {
      if (ll__cg_read(frz, "freezer.state", state, sizeof state) > 0 && strncmp(state, "FROZEN", 6) == 0)
        break;
      sleep_ms(1);
    }
  }
  if (frz) {
    ll__cg_kill_procs(procs);
    ll__cg_write(frz, "freezer.state", "THAWED");
    return;
  }
  /* Without a freezer a member may fork while we walk the list: a few rounds. */
  for (int round = 0; round < 3 && ll__cg_kill_procs(procs) > 0; round++) sleep_ms(1);
}

static int v1_attach(ll__cgroup_t *cg, pid_t pid, ll_err_t *err) {
  char val[32];
  snprintf(val, sizeof val, "%d", (int)pid);
  for (int h = 0; h < NH; h++) {
    if (!cg->dir[h]) continue;
    int rc = ll__cg_write(cg->dir[h], "cgroup.procs", val);
    if (rc < 0)
      return ll_err_set(err, -rc, "adding pid to %s/cgroup.procs: %s", cg->dir[h], strerrorname_np(-rc));
  }
  return 0;
}

static int set(const char *dir, const char *file, const char *val, bool required, ll_err_t *err) {
  int rc = ll__cg_write(dir, file, val);
  if (rc < 0 && required) return ll_err_set(err, -rc, "writing %s/%s: %s", dir, file, strerrorname_np(-rc));
  return 0;
}

static int v1_create(const char *name, const ll__cgroup_limits_t *lim, ll__cgroup_t **out, ll_err_t *err) {
  ll__cgroup_t *cg = ll_calloc(1, sizeof *cg);
  for (int h = 0; h < NH; h++) {
    if (!(st.ctrls & hbit[h])) continue;
    if (st.same[h] >= 0) {
      cg->path[h] = cg->path[st.same[h]];
      continue;
    }
    cg->dir[h] = ll_sprintf("%s/%s", st.parent[h], name);
    cg->path[h] = cg->dir[h];
    int rc = mkdir(cg->dir[h], 0755) < 0 ? -errno : 0;
    if (rc == -EEXIST) { /* left behind by a daemon that died: empty it and start afresh */
      ll__cg_kill_procs(cg->dir[h]);
      rmdir(cg->dir[h]);
      rc = mkdir(cg->dir[h], 0755) < 0 ? -errno : 0;
    }
    if (rc < 0) {
      ll_err_set(err, -rc, "mkdir %s: %s", cg->dir[h], strerrorname_np(-rc));
      free(cg->dir[h]);
      cg->dir[h] = NULL;
      goto fail;
    }
  }
  char v[64];
  const char *mem = cg->path[H_MEMORY];
  if (mem) {
    if (lim->memory_bytes) {
      snprintf(v, sizeof v, "%" PRIu64, lim->memory_bytes);
      /* memsw (memory+swap) must stay >= the memory limit: set memory first on a fresh group. */
      if (set(mem, "memory.limit_in_bytes", v, true, err) < 0) goto fail;
      set(mem, "memory.memsw.limit_in_bytes", v, false, err); /* absent without swap accounting */
    }
    set(mem, "memory.swappiness", "0", false, err);
    set(mem, "memory.oom_control", "0", false, err); /* 0 = the OOM killer acts */
  }
  const char *cpu = cg->path[H_CPU];
  if (cpu && lim->cpu_millis && !lim->cpu_hard) {
    /* 1024 shares = one core's weight */
    snprintf(v, sizeof v, "%" PRIu64, (uint64_t)lim->cpu_millis * 1024 / 1000 + 2);
    if (set(cpu, "cpu.shares", v, true, err) < 0) goto fail;
  } else if (cpu && lim->cpu_millis) {
    uint64_t quota = (uint64_t)lim->cpu_millis * 100; /* period 100000 us = 1000 millis */
    if (quota < 1000) quota = 1000;                     /* the kernel's minimum quota is 1 ms */
    if (set(cpu, "cpu.cfs_period_us", "100000", true, err) < 0) goto fail;
    snprintf(v, sizeof v, "%" PRIu64, quota);
    if (set(cpu, "cpu.cfs_quota_us", v, true, err) < 0) goto fail;
  }
  const char *pids = cg->path[H_PIDS];
  if (pids && lim->pids_max) {
    snprintf(v, sizeof v, "%" PRIu32, lim->pids_max);
    if (set(pids, "pids.max", v, true, err) < 0) goto fail;
  }
  *out = cg;
  return 0;
fail:
  v1_remove(cg);
  v1_free(cg);
  return ll_err_wrap(err, "cgroup v1");
}

static int v1_clone_fd(const ll__cgroup_t *cg) { return -1; }

static size_t v1_self_attach_files(ll__cgroup_t *cg, uid_t owner, const char **out, size_t max) {
  size_t n = 0;
  for (int h = 0; h < NH && n < max; h++) {
    if (!cg->dir[h]) continue;
    if (!cg->tasks[h]) cg->tasks[h] = ll_sprintf("%s/tasks", cg->dir[h]);
    if (owner != (uid_t)-1 && chown(cg->tasks[h], owner, (gid_t)-1) < 0) return 0;
    out[n++] = cg->tasks[h];
  }
  return n;
}

static uint64_t v1_peak_memory(const ll__cgroup_t *cg) {
  return cg->path[H_MEMORY] ? ll__cg_read_u64(cg->path[H_MEMORY], "memory.max_usage_in_bytes") : 0;
}

static bool v1_oom_killed(const ll__cgroup_t *cg, bool sigkilled) {
  const char *mem = cg->path[H_MEMORY];
  if (!mem) return false;
  char buf[256];
  if (ll__cg_read(mem, "memory.oom_control", buf, sizeof buf) > 0 && strstr(buf, "oom_kill "))
    return ll__cg_read_key(mem, "memory.oom_control", "oom_kill") > 0;
  /* Kernels before 4.13 have no counter: the limit was hit and something died of SIGKILL. */
  return sigkilled && ll__cg_read_u64(mem, "memory.failcnt") > 0;
}

const ll__cgroup_ops_t ll__cgroup_v1_ops = {
  .name = "v1",
  .clone_into = false,
  .probe = v1_probe,
  .controllers = v1_controllers,
  .create = v1_create,
  .clone_fd = v1_clone_fd,
  .attach = v1_attach,
  .self_attach_files = v1_self_attach_files,
  .kill = v1_kill,
  .nprocs = v1_nprocs,
  .peak_memory = v1_peak_memory,
  .oom_killed = v1_oom_killed,
  .remove = v1_remove,
  .free = v1_free,
};

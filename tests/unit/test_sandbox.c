/* The sandbox launcher against the real kernel: tiny shell programs (the host's /bin/sh, seen
 * through the sandbox's read-only /usr) that look at their world and try to leave it. Every test
 * needs root (LL_SKIP otherwise) and skips, saying why, when the machine lacks the mechanism it
 * is about. Run them with `build/unit-tests sandbox`. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "sandbox/sandbox_int.h"
#include "test.h"

#define CG_PARENT "lambdalite-test"

static ll_sandbox_caps_t setup(void) {
  if (geteuid() != 0) LL_SKIP("needs root");
  ll_sandbox_caps_t caps;
  ll_err_t err = LL_ERR_INIT;
  CHECK(ll_sandbox_probe(CG_PARENT, &caps, &err) == 0);
  return caps;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static bool exists(const char *path) { return access(path, X_OK) == 0; }

static char *const default_env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", NULL};

/* A spec for `sh -c script` with modest limits; tests adjust it. */
static ll_sandbox_spec_t sh_spec(const char *script, char *argv[4]) {
  static int seq;
  static char name[64];
  snprintf(name, sizeof name, "test-%d-%d", (int)getpid(), seq++);
  argv[0] = "sh";
  argv[1] = "-c";
  argv[2] = (char *)script;
  argv[3] = NULL;
  ll_sandbox_spec_t s = {
    .path = "/bin/sh",
    .argv = argv,
    .envp = default_env,
    .cwd = "/",
    .tmp_bytes = 64 << 20,
    .memory_bytes = 256 << 20,
    .cpu_millis = 0,
    .pids_max = 64,
    .hostname = "sbx-test",
    .stdout_fd = -1,
    .name = name,
  };
  return s;
}

typedef struct run {
  ll_sandbox_t *sb;
  pid_t pid;
  int pidfd, listen_fd, out_rd;
  int status;
  char out[65536];
  size_t len;
  uint64_t peak;
  bool oom;
  double launch_ms;
} run_t;

static void start(ll_sandbox_spec_t *spec, run_t *r) {
  memset(r, 0, sizeof *r);
  int p[2];
  CHECK(pipe2(p, O_CLOEXEC) == 0);
  spec->stdout_fd = p[1];
  ll_err_t err = LL_ERR_INIT;
  double t0 = now_ms();
  int rc = ll_sandbox_launch(spec, &r->sb, &r->pid, &r->pidfd, &r->listen_fd, &err);
  r->launch_ms = now_ms() - t0;
  close(p[1]);
  if (rc != 0) fprintf(stderr, "launch failed: %s\n", err.msg);
  CHECK(rc == 0);
  CHECK(r->pid > 0);
  r->out_rd = p[0];
}

/* Reads output until the program has exited (pidfd readable), reaps it (which, without a pid
 * namespace, kills what it left behind), then reads the rest until the pipe closes. */
static void finish(run_t *r) {
  bool eof = false, reaped = false;
  double deadline = now_ms() + 30000;
  while (!eof && now_ms() < deadline) {
    struct pollfd p[2] = {{r->out_rd, POLLIN, 0}, {reaped || r->pidfd < 0 ? -1 : r->pidfd, POLLIN, 0}};
    int n = poll(p, 2, 10);
    if (n < 0 && errno == EINTR) continue;
    CHECK(n >= 0);
    if (p[0].revents) {
      ssize_t k = read(r->out_rd, r->out + r->len, sizeof r->out - 1 - r->len);
      if (k <= 0) eof = true;
      else r->len += (size_t)k;
    }
    if (!reaped && (p[1].revents || r->pidfd < 0)) reaped = ll_sandbox_reap(r->sb, &r->status) == 0;
  }
  CHECK(eof);
  while (!reaped && now_ms() < deadline) {
    reaped = ll_sandbox_reap(r->sb, &r->status) == 0;
    if (!reaped) usleep(1000);
  }
  CHECK(reaped);
  r->out[r->len] = '\0';
  r->peak = ll_sandbox_peak_memory(r->sb);
  r->oom = ll_sandbox_oom_killed(r->sb);
  ll_sandbox_destroy(r->sb);
  r->sb = NULL;
  close(r->out_rd);
  if (r->pidfd >= 0) close(r->pidfd);
  if (r->listen_fd >= 0) close(r->listen_fd);
}

static void run(ll_sandbox_spec_t *spec, run_t *r) {
  start(spec, r);
  finish(r);
}

static void show(const run_t *r) {
  printf("# status %#x, output:\n", r->status);
  for (const char *p = r->out; *p;) {
    const char *nl = strchr(p, '\n');
    int len = nl ? (int)(nl - p) : (int)strlen(p);
    printf("#   %.*s\n", len, p);
    p += len + (nl ? 1 : 0);
  }
}

static bool exited_0(const run_t *r) { return WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0; }

static bool has_line(const char *out, const char *line) {
  size_t n = strlen(line);
  for (const char *p = out; (p = strstr(p, line)); p += n)
    if ((p == out || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0')) return true;
  return false;
}

/* ---- the tests ------------------------------------------------------------------------------ */

LL_TEST(sandbox_probe_reports_every_mechanism) {
  ll_sandbox_caps_t caps;
  ll_err_t err = LL_ERR_INIT;
  CHECK(ll_sandbox_probe(CG_PARENT, &caps, &err) == 0);
  printf("# sandbox probe:\n");
  for (const char *p = caps.summary; *p;) {
    const char *nl = strchr(p, '\n');
    int len = nl ? (int)(nl - p) : (int)strlen(p);
    printf("#   %.*s\n", len, p);
    p += len + (nl ? 1 : 0);
  }
  CHECK(strstr(caps.summary, "user namespaces: ") != NULL);
  CHECK(strstr(caps.summary, "cgroup: ") != NULL);
  CHECK(strstr(caps.summary, "seccomp: ") != NULL);
  CHECK(ll_sandbox_probe("../escape", &caps, &err) < 0);
}

/* (1) runs and exits 0; its output arrives on stdout_fd (stdout and stderr). */
LL_TEST(sandbox_runs_a_program) {
  setup();
  char *argv[4];
  ll_sandbox_spec_t spec = sh_spec("echo hello; echo to-stderr >&2; exit 0", argv);
  run_t r;
  run(&spec, &r);
  show(&r);
  CHECK(exited_0(&r));
  CHECK(has_line(r.out, "hello"));
  CHECK(has_line(r.out, "to-stderr"));
  spec = sh_spec("exit 3", argv);
  run(&spec, &r);
  CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 3);
}

/* (2) uid 993 (sbx_user1051), the hostname, no capabilities, no_new_privs, seccomp. */
LL_TEST(sandbox_identity_and_privileges) {
  ll_sandbox_caps_t caps = setup();
  char *argv[4];
  ll_sandbox_spec_t spec =
      sh_spec("id -u; id -g; id -un; cat /proc/sys/kernel/hostname; "
              "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status; "
              "cat /etc/passwd",
              argv);
  run_t r;
  run(&spec, &r);
  show(&r);
  CHECK(exited_0(&r));
  if (caps.user_ns) {
    CHECK(has_line(r.out, "993"));
    CHECK(has_line(r.out, "sbx_user1051"));
  } else {
    printf("# no user namespace: the program runs as a host uid of its own\n");
  }
  if (caps.uts_ns) CHECK(has_line(r.out, "sbx-test"));
  CHECK(has_line(r.out, "CapEff:\t0000000000000000"));
  CHECK(has_line(r.out, "CapPrm:\t0000000000000000"));
  CHECK(has_line(r.out, "CapBnd:\t0000000000000000"));
  CHECK(has_line(r.out, "CapAmb:\t0000000000000000"));
  CHECK(has_line(r.out, "NoNewPrivs:\t1"));
  if (caps.seccomp) CHECK(has_line(r.out, "Seccomp:\t2"));
}

/* (3) /proc shows only the sandbox's processes; the program is pid 1. */
LL_TEST(sandbox_pid_namespace_and_proc) {
  ll_sandbox_caps_t caps = setup();
  if (!caps.pid_ns) LL_SKIP("no pid namespace on this machine");
  char *argv[4];
  ll_sandbox_spec_t spec =
      sh_spec("echo pid=$$; echo n=$(ls /proc | grep -c '^[0-9]'); ls /proc/1/root/", argv);
  run_t r;
  run(&spec, &r);
  show(&r);
  CHECK(exited_0(&r));
  CHECK(has_line(r.out, "pid=1"));
  const char *n = strstr(r.out, "n=");
  CHECK(n && atoi(n + 2) >= 1 && atoi(n + 2) <= 5);
  /* /proc/1/root is the sandbox's root, not a way out. */
  CHECK(has_line(r.out, "usr") && !has_line(r.out, "root") && !has_line(r.out, "home"));
}

/* (4) host files outside the mounts are invisible; read-only mounts are read-only (EROFS);
 * /tmp and writable mounts are writable. */
LL_TEST(sandbox_filesystem_containment) {
  ll_sandbox_caps_t caps = setup();
  if (!caps.mount_ns) LL_SKIP("no mount namespace on this machine");
  char secret[] = "/tmp/ll-secret-XXXXXX", task[] = "/tmp/ll-task-XXXXXX", rw[] = "/tmp/ll-rw-XXXXXX";
  int fd = mkstemp(secret);
  CHECK(fd >= 0);
  CHECK(write(fd, "s3cret\n", 7) == 7);
  fchmod(fd, 0644);
  close(fd);
  char rootsecret[] = "/root/ll-secret-XXXXXX";
  fd = mkstemp(rootsecret);
  CHECK(fd >= 0);
  close(fd);
  CHECK(mkdtemp(task) && mkdtemp(rw));
  chmod(task, 0777); /* only the read-only mount may stop a write */
  chmod(rw, 0777);
  char prog[128];
  snprintf(prog, sizeof prog, "%s/prog.sh", task);
  FILE *f = fopen(prog, "w");
  CHECK(f);
  fprintf(f, "#!/bin/sh\necho task-prog-ran\n");
  fclose(f);
  chmod(prog, 0755);

  char script[2048];
  snprintf(script, sizeof script,
           "test -e %s && echo secret-visible; test -e %s && echo root-secret-visible; "
           "test -e /oldroot && echo oldroot-visible; test -e /etc/shadow && echo shadow-visible; "
           "test -e /root && echo root-dir-visible; "
           "(echo x > /var/task/x) 2>&1; (echo x > /usr/x) 2>/dev/null || echo usr-not-writable; "
           "(echo x > /etc/x) 2>/dev/null || echo etc-not-writable; "
           "echo data > /tmp/f && cat /tmp/f; echo rw > /mnt/rw/f && echo rw-ok; "
           "/var/task/prog.sh; cd /var/task && ./prog.sh; ls /; echo x > /dev/null && echo devnull-ok; "
           "head -c 4 /dev/urandom | wc -c; stat -c '%%a' /tmp",
           secret, rootsecret);
  char *argv[4];
  ll_sandbox_spec_t spec = sh_spec(script, argv);
  ll_sandbox_mount_t mounts[] = {{task, "/var/task", false}, {rw, "/mnt/rw", true}};
  spec.mounts = mounts;
  spec.nmounts = 2;
  run_t r;
  run(&spec, &r);
  show(&r);
  unlink(secret);
  unlink(rootsecret);
  CHECK(exited_0(&r));
  CHECK(!strstr(r.out, "visible"));
  CHECK(strstr(r.out, "/var/task/x: Read-only file system") != NULL);
  CHECK(has_line(r.out, "usr-not-writable"));
  CHECK(has_line(r.out, "etc-not-writable"));
  CHECK(has_line(r.out, "data"));
  CHECK(has_line(r.out, "rw-ok"));
  CHECK(has_line(r.out, "task-prog-ran"));
  CHECK(has_line(r.out, "devnull-ok"));
  CHECK(has_line(r.out, "4"));
  CHECK(has_line(r.out, "1777"));
  char path[160];
  snprintf(path, sizeof path, "%s/x", task);
  CHECK(access(path, F_OK) < 0);
  snprintf(path, sizeof path, "%s/f", rw);
  CHECK(access(path, F_OK) == 0);
  unlink(path);
  unlink(prog);
  rmdir(task);
  rmdir(rw);
}

/* (5) mount, unshare and friends fail (seccomp; an unprivileged user namespace would otherwise
 * be allowed). */
LL_TEST(sandbox_seccomp_denies_escapes) {
  ll_sandbox_caps_t caps = setup();
  if (!caps.seccomp) LL_SKIP("seccomp unavailable on this machine");
  char *argv[4];
  /* perl's syscall() reaches mount(2) and ptrace(2) directly (x86_64 numbers). */
  const char *script =
      "unshare -U true 2>&1; echo unshare-rc=$?; unshare -r true 2>/dev/null || echo unshare-r-denied; "
      "if [ -x /usr/bin/perl ] && [ \"$(uname -m)\" = x86_64 ]; then "
      "perl -e 'my ($s, $t, $f) = (\"none\", \"/tmp\", \"tmpfs\"); "
      "syscall(165, $s, $t, $f, 0, 0) == -1 and print \"mount: $!\\n\"; "
      "syscall(101, 16, 1, 0, 0) == -1 and print \"ptrace: $!\\n\"; "
      "syscall(321, 0, 0, 0) == -1 and print \"bpf: $!\\n\"'; fi; "
      "ulimit -n 100000 2>/dev/null || echo nofile-not-raised";
  ll_sandbox_spec_t spec = sh_spec(script, argv);
  run_t r;
  run(&spec, &r);
  show(&r);
  CHECK(exited_0(&r));
  CHECK(strstr(r.out, "Operation not permitted") != NULL);
  CHECK(!has_line(r.out, "unshare-rc=0"));
  CHECK(has_line(r.out, "unshare-r-denied"));
  CHECK(has_line(r.out, "nofile-not-raised"));
  if (exists("/usr/bin/perl")) {
    CHECK(has_line(r.out, "mount: Operation not permitted"));
    CHECK(has_line(r.out, "ptrace: Operation not permitted"));
    CHECK(has_line(r.out, "bpf: Operation not permitted"));
  }
}

/* (6) a memory hog is OOM-killed at 64 MB; the sandbox says so and reports its peak. */
LL_TEST(sandbox_memory_limit_oom) {
  ll_sandbox_caps_t caps = setup();
  if (!caps.cgroup_v1 && !caps.cgroup_v2) LL_SKIP("no memory cgroup on this machine");
  char *argv[4];
  /* tail keeps the last line — all of /dev/zero, which has no newline — in memory. */
  ll_sandbox_spec_t spec = sh_spec("head -c 400M /dev/zero | tail -n 1 >/dev/null; echo rc=$?", argv);
  spec.memory_bytes = 64 << 20;
  run_t r;
  run(&spec, &r);
  show(&r);
  printf("# peak memory %.1f MB, oom_killed %d\n", (double)r.peak / (1 << 20), r.oom);
  CHECK(r.oom);
  CHECK(!has_line(r.out, "rc=0"));
  CHECK(r.peak > (32u << 20) && r.peak <= (64u << 20) + (1u << 20));
  /* A program within its limit is not reported as OOM-killed. */
  spec = sh_spec("head -c 1M /dev/zero | tail -n 1 >/dev/null; echo rc=$?", argv);
  spec.memory_bytes = 64 << 20;
  run(&spec, &r);
  CHECK(has_line(r.out, "rc=0"));
  CHECK(!r.oom);
  CHECK(r.peak > 0);
}

/* A control file of pid's cgroup for a controller ("pids"; NULL for the v2 hierarchy). */
static bool cgroup_file(pid_t pid, const char *controller, const char *file, char *out, size_t outsz) {
  char mnt[4096], own[4096], p[64], line[1024];
  if (ll__cg_locate(controller, mnt, sizeof mnt, own, sizeof own) < 0) return false;
  snprintf(p, sizeof p, "/proc/%d/cgroup", (int)pid);
  FILE *f = fopen(p, "r");
  if (!f) return false;
  bool found = false;
  while (!found && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2) continue;
    *c2 = '\0';
    bool match = c1[1] == '\0';
    if (controller) { /* an exact member of the comma list ("cpu" is not "cpuacct") */
      char *save = NULL;
      match = false;
      for (char *t = strtok_r(c1 + 1, ",", &save); t && !match; t = strtok_r(NULL, ",", &save))
        match = strcmp(t, controller) == 0;
    }
    if (match) found = snprintf(out, outsz, "%s%s/%s", mnt, c2 + 1, file) > 0;
  }
  fclose(f);
  return found;
}

/* (7) a fork bomb stops at pids_max; the test process (the neighbour) is unharmed. bash retries
 * a failed fork (dash gives up and exits), so with bash the bomb keeps pushing at the limit. */
LL_TEST(sandbox_fork_bomb_is_contained) {
  ll_sandbox_caps_t caps = setup();
  char *argv[4];
  ll_sandbox_spec_t spec = sh_spec("b() { b | b & }; b; sleep 5", argv);
  char *bargv[] = {"bash", "-c", "b() { b | b & }; b; sleep 5", NULL};
  if (exists("/bin/bash")) {
    spec.path = "/bin/bash";
    spec.argv = bargv;
  }
  spec.pids_max = 32;
  run_t r;
  start(&spec, &r);
  char events[8192] = "";
  bool pids_cgroup = caps.cgroup_v2 ? cgroup_file(r.pid, NULL, "pids.events", events, sizeof events)
                                    : cgroup_file(r.pid, "pids", "pids.events", events, sizeof events);
  int most = 0;
  for (int i = 0; i < 50; i++) {
    int n = ll__sandbox_nprocs(r.sb);
    if (n > most) most = n;
    usleep(10000);
  }
  printf("# most processes seen in the sandbox: %d (pids_max 32)\n", most);
  if (pids_cgroup) {
    FILE *f = fopen(events, "r");
    long hits = 0;
    CHECK(f && fscanf(f, "max %ld", &hits) == 1);
    fclose(f);
    printf("# forks refused by the pids limit: %ld\n", hits);
    CHECK(hits > 0);
    CHECK(most <= 32);
  } else {
    printf("# no pids cgroup: RLIMIT_NPROC of the sandbox's own uid is the backstop\n");
  }
  pid_t p = fork();
  CHECK(p >= 0);
  if (p == 0) _exit(0);
  int st;
  CHECK(waitpid(p, &st, 0) == p && WIFEXITED(st));
  ll_sandbox_kill(r.sb);
  finish(&r);
  CHECK(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGKILL);
}

static long read_long(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  long v = -1;
  if (fscanf(f, "%ld", &v) != 1) v = -1;
  fclose(f);
  return v;
}

/* The limits land in the cgroup files: memory (swap off), CPU quota, pids. */
LL_TEST(sandbox_limits_are_applied) {
  ll_sandbox_caps_t caps = setup();
  if (!caps.cgroup_v1 && !caps.cgroup_v2) LL_SKIP("no cgroup on this machine");
  char *argv[4];
  ll_sandbox_spec_t spec = sh_spec("sleep 1000", argv);
  spec.memory_bytes = 128 << 20;
  spec.cpu_millis = 500;
  spec.cpu_hard = true;
  spec.pids_max = 40;
  run_t r;
  start(&spec, &r);
  char path[8192];
  if (caps.cgroup_v2) {
    CHECK(cgroup_file(r.pid, NULL, "memory.max", path, sizeof path));
    CHECK_INTEQ(read_long(path), 128 << 20);
    CHECK(cgroup_file(r.pid, NULL, "pids.max", path, sizeof path));
    CHECK_INTEQ(read_long(path), 40);
    CHECK(cgroup_file(r.pid, NULL, "cpu.max", path, sizeof path));
    CHECK_INTEQ(read_long(path), 50000);
    if (cgroup_file(r.pid, NULL, "memory.swap.max", path, sizeof path) && access(path, F_OK) == 0)
      CHECK_INTEQ(read_long(path), 0);
  } else {
    CHECK(cgroup_file(r.pid, "memory", "memory.limit_in_bytes", path, sizeof path));
    CHECK_INTEQ(read_long(path), 128 << 20);
    CHECK(cgroup_file(r.pid, "memory", "memory.swappiness", path, sizeof path));
    CHECK_INTEQ(read_long(path), 0);
    if (cgroup_file(r.pid, "memory", "memory.memsw.limit_in_bytes", path, sizeof path) &&
        access(path, F_OK) == 0)
      CHECK_INTEQ(read_long(path), 128 << 20);
    if (cgroup_file(r.pid, "cpu", "cpu.cfs_quota_us", path, sizeof path)) {
      CHECK_INTEQ(read_long(path), 50000);
      CHECK(cgroup_file(r.pid, "cpu", "cpu.cfs_period_us", path, sizeof path));
      CHECK_INTEQ(read_long(path), 100000);
    }
    if (cgroup_file(r.pid, "pids", "pids.max", path, sizeof path)) CHECK_INTEQ(read_long(path), 40);
  }
  snprintf(path, sizeof path, "/proc/%d/limits", (int)r.pid);
  FILE *f = fopen(path, "r");
  CHECK(f);
  char buf[4096];
  buf[fread(buf, 1, sizeof buf - 1, f)] = '\0';
  fclose(f);
  CHECK(strstr(buf, "Max open files            1024                 1024") != NULL);
  CHECK(strstr(buf, "Max core file size        0                    0") != NULL);
  ll_sandbox_kill(r.sb);
  finish(&r);
}

LL_TEST(sandbox_cpu_share_is_a_weight_not_a_cap) {
  ll_sandbox_caps_t caps = setup();
  if (!caps.cgroup_v1 && !caps.cgroup_v2) LL_SKIP("no cgroup on this machine");
  char *argv[4];
  ll_sandbox_spec_t spec = sh_spec("sleep 1000", argv);
  spec.cpu_millis = 500; /* cpu_hard false: a weight */
  run_t r;
  start(&spec, &r);
  char path[8192];
  if (caps.cgroup_v2) {
    CHECK(cgroup_file(r.pid, NULL, "cpu.weight", path, sizeof path));
    CHECK_INTEQ(read_long(path), 50);
    CHECK(cgroup_file(r.pid, NULL, "cpu.max", path, sizeof path));
    FILE *f = fopen(path, "r");
    char buf[64] = "";
    CHECK(f && fgets(buf, sizeof buf, f));
    fclose(f);
    CHECK(strncmp(buf, "max", 3) == 0);
  } else if (cgroup_file(r.pid, "cpu", "cpu.shares", path, sizeof path)) {
    CHECK_INTEQ(read_long(path), 514);
    CHECK(cgroup_file(r.pid, "cpu", "cpu.cfs_quota_us", path, sizeof path));
    CHECK_INTEQ(read_long(path), -1);
  }
  ll_sandbox_kill(r.sb);
  finish(&r);
}

static ino_t pidns_of(pid_t pid) {
  char p[64];
  struct stat st;
  snprintf(p, sizeof p, "/proc/%d/ns/pid", (int)pid);
  return stat(p, &st) == 0 ? st.st_ino : 0;
}

/* The host pid of the process whose pid inside the namespace of `init` is `inner`. */
static pid_t host_pid_of(pid_t init, long inner) {
  ino_t ns = pidns_of(init);
  DIR *d = opendir("/proc");
  CHECK(d);
  struct dirent *e;
  pid_t found = -1;
  while ((e = readdir(d)) && found < 0) {
    pid_t pid = (pid_t)atoi(e->d_name);
    if (pid <= 0 || pidns_of(pid) != ns) continue;
    char p[64], buf[4096];
    snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
    FILE *f = fopen(p, "r");
    if (!f) continue;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *l = strstr(buf, "\nNSpid:");
    if (!l) continue;
    long outer = 0, in = 0;
    if (sscanf(l + 7, "%ld %ld", &outer, &in) == 2 && in == inner) found = pid;
  }
  closedir(d);
  return found;
}

/* (8) a grandchild left running in the background dies when the program exits. */
LL_TEST(sandbox_orphaned_grandchild_dies_with_program) {
  ll_sandbox_caps_t caps = setup();
  if (!caps.pid_ns) LL_SKIP("no pid namespace on this machine");
  char *argv[4];
  ll_sandbox_spec_t spec = sh_spec("sleep 1000 & echo $!; sleep 0.3; echo bye", argv);
  run_t r;
  start(&spec, &r);
  char line[64] = "";
  size_t len = 0;
  while (!memchr(line, '\n', len) && len < sizeof line - 1) {
    ssize_t k = read(r.out_rd, line + len, sizeof line - 1 - len);
    CHECK(k > 0);
    len += (size_t)k;
  }
  line[len] = '\0';
  pid_t g = host_pid_of(r.pid, atol(line));
  printf("# grandchild: pid %ld inside, %d on the host\n", atol(line), (int)g);
  CHECK(g > 0);
  CHECK(kill(g, 0) == 0);
  finish(&r);
  CHECK(exited_0(&r));
  CHECK(kill(g, 0) < 0 && errno == ESRCH);
}

/* (9) network_none + listen_port: the program reaches the caller at 127.0.0.1:port, and nothing
 * else. */
LL_TEST(sandbox_network_none_with_listen_port) {
  ll_sandbox_caps_t caps = setup();
  if (!caps.net_ns) LL_SKIP("no network namespace on this machine");
  char *argv[4];
  const bool bash = exists("/usr/bin/bash") || exists("/bin/bash");
  ll_sandbox_spec_t spec = sh_spec("", argv);
  spec.network_none = true;
  spec.listen_port = 9001;
  char *bargv[] = {"bash", "-c",
                   "exec 3<>/dev/tcp/127.0.0.1/9001 || exit 1; echo hello >&3; read -r reply <&3; "
                   "echo got-$reply; (exec 4<>/dev/tcp/192.0.2.1/80) 2>&1 | grep -o 'Network is unreachable'",
                   NULL};
  if (bash) {
    spec.path = "/bin/bash";
    spec.argv = bargv;
  } else {
    argv[2] = "echo no-bash";
  }
  run_t r;
  start(&spec, &r);
  CHECK(r.listen_fd >= 0);
  CHECK((fcntl(r.listen_fd, F_GETFD) & FD_CLOEXEC) && (fcntl(r.listen_fd, F_GETFL) & O_NONBLOCK));
  if (bash) {
    struct pollfd p = {r.listen_fd, POLLIN, 0};
    CHECK(poll(&p, 1, 5000) == 1);
    int c = accept4(r.listen_fd, NULL, NULL, SOCK_CLOEXEC);
    CHECK(c >= 0);
    char buf[16] = "";
    ssize_t k = read(c, buf, sizeof buf - 1);
    CHECK(k == 6 && memcmp(buf, "hello\n", 6) == 0);
    CHECK(write(c, "world\n", 6) == 6);
    close(c);
  } else {
    printf("# no bash on this machine: connection part skipped\n");
  }
  finish(&r);
  show(&r);
  CHECK(exited_0(&r));
  if (bash) {
    CHECK(has_line(r.out, "got-world"));
    CHECK(has_line(r.out, "Network is unreachable"));
  }
}

/* (10) ll_sandbox_kill kills a sleeping program and its children. */
LL_TEST(sandbox_kill_takes_every_process) {
  setup();
  char *argv[4];
  ll_sandbox_spec_t spec = sh_spec("sleep 1000 & sleep 1000 & sleep 1000", argv);
  run_t r;
  start(&spec, &r);
  bool cgroup = ll__sandbox_nprocs(r.sb) >= 0;
  for (int i = 0; i < 200 && cgroup && ll__sandbox_nprocs(r.sb) < 3; i++) usleep(5000);
  if (cgroup) CHECK(ll__sandbox_nprocs(r.sb) >= 3);
  double t0 = now_ms();
  ll_sandbox_kill(r.sb);
  finish(&r);
  printf("# killed and reaped in %.2f ms\n", now_ms() - t0);
  CHECK(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGKILL);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* (11) how long a launch takes: printed, not asserted. Each kind runs as its own series, so the
 * kernel's deferred teardown of one kind (network namespaces) does not slow the other. */
LL_TEST(sandbox_launch_time) {
  setup();
  enum { N = 30 };
  double launch[N], total[N], net[N], bare[N];
  char *argv[] = {"true", NULL};
  for (int i = 0; i < N; i++) {
    char *sargv[4];
    ll_sandbox_spec_t spec = sh_spec("", sargv);
    spec.path = "/bin/true";
    spec.argv = argv;
    run_t r;
    double t0 = now_ms();
    run(&spec, &r);
    total[i] = now_ms() - t0;
    launch[i] = r.launch_ms;
    CHECK(exited_0(&r));
  }
  for (int i = 0; i < N; i++) {
    char *sargv[4];
    ll_sandbox_spec_t spec = sh_spec("", sargv);
    spec.path = "/bin/true";
    spec.argv = argv;
    spec.network_none = true;
    run_t r;
    run(&spec, &r);
    net[i] = r.launch_ms;
  }
  for (int i = 0; i < N; i++) {
    double t0 = now_ms();
    pid_t p = fork();
    if (p == 0) {
      execv("/bin/true", argv);
      _exit(127);
    }
    waitpid(p, NULL, 0);
    bare[i] = now_ms() - t0;
  }
  qsort(launch, N, sizeof(double), cmp_double);
  qsort(total, N, sizeof(double), cmp_double);
  qsort(net, N, sizeof(double), cmp_double);
  qsort(bare, N, sizeof(double), cmp_double);
  printf("# launch (call to exec):                   p50 %.2f ms  min %.2f  max %.2f\n", launch[N / 2],
         launch[0], launch[N - 1]);
  printf("# launch with network_none:                p50 %.2f ms  min %.2f  max %.2f\n", net[N / 2], net[0],
         net[N - 1]);
  printf("# launch + run /bin/true + reap + destroy: p50 %.2f ms\n", total[N / 2]);
  printf("# baseline fork + exec + wait /bin/true:   p50 %.2f ms\n", bare[N / 2]);
}

/* (12) The warm pool's halves: a sandbox prepared with only mount points, then started with a
 * program and the code mounted at /var/task; the start alone is the cold start's share. */
LL_TEST(sandbox_prepare_then_start) {
  ll_sandbox_caps_t caps = setup();
  char dir[] = "/tmp/ll-sbx-task-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  chmod(dir, 0755);
  char file[256];
  snprintf(file, sizeof file, "%s/hello", dir);
  FILE *f = fopen(file, "w");
  CHECK(f != NULL);
  fputs("from-task\n", f);
  fclose(f);
  enum { N = 20 };
  double prep[N], st[N];
  for (int i = 0; i < N; i++) {
    char *argv[4];
    ll_sandbox_spec_t shape = sh_spec("", argv);
    ll_sandbox_mount_t point = {NULL, "/var/task", false};
    shape.mounts = &point;
    shape.nmounts = 1;
    shape.network_none = i % 2 == 1 && caps.net_ns;
    shape.listen_port = shape.network_none ? 9001 : 0;
    ll_sandbox_t *sb;
    ll_err_t err = LL_ERR_INIT;
    double t0 = now_ms();
    CHECK(ll_sandbox_prepare(&shape, &sb, &err) == 0);
    prep[i] = now_ms() - t0;
    ll_sandbox_spec_t spec = sh_spec("cat /var/task/hello; touch /var/task/x 2>&1 | grep -o 'Read-only'; "
                                     "echo $GREETING; pwd",
                                     argv);
    char *env[] = {"GREETING=hi-there", "PATH=/usr/bin:/bin", NULL};
    ll_sandbox_mount_t m = {dir, "/var/task", false};
    spec.mounts = &m;
    spec.nmounts = 1;
    spec.envp = env;
    spec.cwd = "/var/task";
    int pp[2];
    CHECK(pipe2(pp, O_CLOEXEC) == 0);
    spec.stdout_fd = pp[1];
    run_t r;
    memset(&r, 0, sizeof r);
    r.sb = sb;
    t0 = now_ms();
    int rc = ll_sandbox_start(sb, &spec, &r.pid, &r.pidfd, &r.listen_fd, &err);
    st[i] = now_ms() - t0;
    close(pp[1]);
    if (rc != 0) printf("# start failed: %s\n", err.msg);
    CHECK(rc == 0);
    CHECK(shape.listen_port == 0 || r.listen_fd >= 0);
    r.out_rd = pp[0];
    finish(&r);
    if (i == 0) show(&r);
    CHECK(exited_0(&r));
    CHECK(has_line(r.out, "from-task"));
    CHECK(has_line(r.out, "Read-only"));
    CHECK(has_line(r.out, "hi-there"));
    CHECK(has_line(r.out, "/var/task"));
  }
  qsort(prep, N, sizeof(double), cmp_double);
  qsort(st, N, sizeof(double), cmp_double);
  printf("# prepare: p50 %.2f ms; start (to exec): p50 %.2f ms  min %.2f  max %.2f\n", prep[N / 2],
         st[N / 2], st[0], st[N - 1]);
  unlink(file);
  rmdir(dir);
}

/* A prepared sandbox refuses a start of another shape, reports one whose process died, and
 * leaves nothing behind when destroyed unstarted. */
LL_TEST(sandbox_prepared_errors) {
  setup();
  char *argv[4];
  ll_sandbox_spec_t shape = sh_spec("true", argv);
  ll_sandbox_mount_t point = {NULL, "/var/task", false};
  shape.mounts = &point;
  shape.nmounts = 1;
  ll_sandbox_t *sb;
  ll_err_t err = LL_ERR_INIT;
  pid_t pid;
  int pidfd, lfd;
  CHECK(ll_sandbox_prepare(&shape, &sb, &err) == 0);
  ll_sandbox_mount_t other = {"/tmp", "/opt", false};
  ll_sandbox_spec_t spec = shape;
  spec.mounts = &other;
  CHECK(ll_sandbox_start(sb, &spec, &pid, &pidfd, &lfd, &err) < 0 && err.code == EINVAL);
  printf("# %s\n", err.msg);
  /* too much environment */
  static char big[LL_SANDBOX_ARGS_MAX + 16];
  memset(big, 'x', sizeof big - 1);
  memcpy(big, "BIG=", 4);
  char *env[] = {big, NULL};
  ll_sandbox_mount_t m = {"/tmp", "/var/task", false};
  spec = shape;
  spec.mounts = &m;
  spec.envp = env;
  CHECK(ll_sandbox_start(sb, &spec, &pid, &pidfd, &lfd, &err) < 0 && err.code == E2BIG);
  /* killed while waiting */
  ll_sandbox_kill(sb);
  usleep(20000);
  spec.envp = default_env;
  CHECK(ll_sandbox_start(sb, &spec, &pid, &pidfd, &lfd, &err) < 0);
  printf("# after kill: %s\n", err.msg);
  CHECK(err.code == ECHILD || err.code == EPIPE);
  ll_sandbox_destroy(sb);
  /* destroyed unstarted: its process is gone with it */
  CHECK(ll_sandbox_prepare(&shape, &sb, &err) == 0);
  int n = ll__sandbox_nprocs(sb);
  if (n >= 0) CHECK(n == 1);
  pid_t waiting = ll__sandbox_pid(sb);
  CHECK(waiting > 0 && kill(waiting, 0) == 0);
  ll_sandbox_destroy(sb);
  CHECK(kill(waiting, 0) < 0 && errno == ESRCH);
}

/* Errors before exec come back as one message naming the step. */
LL_TEST(sandbox_launch_errors_name_the_step) {
  setup();
  char *argv[4];
  ll_sandbox_spec_t spec = sh_spec("", argv);
  spec.path = "/nonexistent/program";
  ll_sandbox_t *sb;
  pid_t pid;
  int pidfd, lfd;
  ll_err_t err = LL_ERR_INIT;
  CHECK(ll_sandbox_launch(&spec, &sb, &pid, &pidfd, &lfd, &err) < 0);
  printf("# %s\n", err.msg);
  CHECK(strstr(err.msg, "execve /nonexistent/program: ENOENT") != NULL);
  CHECK(err.code == ENOENT);
  ll_sandbox_mount_t m = {"/nonexistent/dir", "/var/task", false};
  spec = sh_spec("true", argv);
  spec.mounts = &m;
  spec.nmounts = 1;
  CHECK(ll_sandbox_launch(&spec, &sb, &pid, &pidfd, &lfd, &err) < 0);
  printf("# %s\n", err.msg);
  CHECK(strstr(err.msg, "/nonexistent/dir") != NULL);
  spec = sh_spec("true", argv);
  spec.name = "../x";
  CHECK(ll_sandbox_launch(&spec, &sb, &pid, &pidfd, &lfd, &err) < 0);
}

/* Fallback: no user namespace, no pid namespace, no cgroup — still a uid of its own, no
 * capabilities, seccomp, RLIMIT_NPROC; /proc hides other users' processes; what the program
 * leaves behind dies with it (its process group). */
LL_TEST(sandbox_falls_back_without_userns_pidns_and_cgroup) {
  ll_sandbox_caps_t caps = setup();
  ll_sandbox_caps_t allowed;
  memset(&allowed, 1, sizeof allowed);
  allowed.user_ns = allowed.pid_ns = false;
  allowed.cgroup_v1 = allowed.cgroup_v2 = false;
  ll__sandbox_restrict(&allowed, NULL);
  char *argv[4];
  ll_sandbox_spec_t spec = sh_spec("sleep 1000 & echo bg=$!; id -u; "
                                   "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; "
                                   "grep 'Max processes' /proc/self/limits; "
                                   "unshare -U true 2>/dev/null || echo unshare-denied; "
                                   "echo procs=$(ls /proc | grep -c '^[0-9]')",
                                   argv);
  spec.pids_max = 50;
  run_t r;
  start(&spec, &r);
  uid_t host_uid = ll__sandbox_host_uid(r.sb);
  CHECK(ll__sandbox_nprocs(r.sb) == -1);
  finish(&r);
  show(&r);
  CHECK(exited_0(&r));
  char uid[32];
  snprintf(uid, sizeof uid, "%u", (unsigned)host_uid);
  CHECK(host_uid >= LL__SB_HOST_BASE);
  CHECK(has_line(r.out, uid));
  CHECK(has_line(r.out, "CapEff:\t0000000000000000"));
  CHECK(has_line(r.out, "CapBnd:\t0000000000000000"));
  CHECK(has_line(r.out, "NoNewPrivs:\t1"));
  CHECK(strstr(r.out, "Max processes             50                   50") != NULL);
  if (caps.seccomp) CHECK(has_line(r.out, "unshare-denied"));
  const char *procs = strstr(r.out, "procs=");
  /* hidepid: only the sandbox uid's own processes (sh, sleep, the $(...) subshell, ls, grep) */
  CHECK(procs && atoi(procs + 6) <= 8);
  const char *bg = strstr(r.out, "bg=");
  CHECK(bg);
  pid_t orphan = (pid_t)atoi(bg + 3);
  CHECK(orphan > 0);
  char stat[64], buf[256] = "";
  snprintf(stat, sizeof stat, "/proc/%d/stat", (int)orphan);
  for (int i = 0; i < 200; i++) { /* gone, or a zombie waiting for whoever inherited it */
    FILE *f = fopen(stat, "r");
    if (!f) break;
    buf[fread(buf, 1, sizeof buf - 1, f)] = '\0';
    fclose(f);
    const char *rp = strrchr(buf, ')');
    if (rp && rp[2] == 'Z') break;
    usleep(5000);
    buf[0] = '\0';
  }
  printf("# orphan %d after the program exited: %s\n", (int)orphan, buf[0] ? "zombie" : "gone");
  const char *rp = strrchr(buf, ')');
  CHECK(!buf[0] || (rp && rp[2] == 'Z'));
}

/* The v2 backend, forced onto this machine's cgroup2 hierarchy whatever controllers it has:
 * birth in the cgroup (CLONE_INTO_CGROUP), membership, cgroup.kill, removal. */
LL_TEST(sandbox_cgroup_v2_backend_membership_and_kill) {
  ll_sandbox_caps_t caps = setup();
  char mnt[4096], own[4096];
  if (ll__cg_locate(NULL, mnt, sizeof mnt, own, sizeof own) < 0) LL_SKIP("no cgroup2 hierarchy mounted");
  if (!caps.cgroup_v2) {
    ll_sandbox_caps_t allowed;
    memset(&allowed, 1, sizeof allowed);
    ll__sandbox_restrict(&allowed, "v2");
    printf("# forcing the v2 backend onto %s\n", mnt);
  }
  char *argv[4];
  ll_sandbox_spec_t spec = sh_spec("cat /proc/self/cgroup; sleep 1000 & sleep 1000", argv);
  run_t r;
  int p[2];
  CHECK(pipe2(p, O_CLOEXEC) == 0);
  spec.stdout_fd = p[1];
  ll_err_t err = LL_ERR_INIT;
  memset(&r, 0, sizeof r);
  if (ll_sandbox_launch(&spec, &r.sb, &r.pid, &r.pidfd, &r.listen_fd, &err) < 0) {
    printf("# %s\n", err.msg);
    if (strstr(err.msg, "not probed") || strstr(err.msg, "EACCES") || strstr(err.msg, "EROFS"))
      LL_SKIP("the cgroup2 hierarchy is not writable here");
    CHECK(0);
  }
  close(p[1]);
  r.out_rd = p[0];
  for (int i = 0; i < 200 && ll__sandbox_nprocs(r.sb) < 2; i++) usleep(5000);
  CHECK(ll__sandbox_nprocs(r.sb) >= 2);
  char path[8192];
  snprintf(path, sizeof path, "/proc/%d/cgroup", (int)r.pid);
  FILE *f = fopen(path, "r");
  CHECK(f);
  char line[512];
  bool found = false;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "0::", 3) == 0 && strstr(line, CG_PARENT "/")) found = true;
  fclose(f);
  CHECK(found);
  ll_sandbox_kill(r.sb);
  finish(&r);
  show(&r);
  CHECK(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGKILL);
}

/* A daemon killed with -9 leaves its sandboxes' cgroups behind; the next probe removes those of
 * dead daemons and nothing else. */
LL_TEST(sandbox_sweeps_cgroups_of_dead_daemons) {
  ll_sandbox_caps_t caps = setup();
  char mnt[PATH_MAX], own[PATH_MAX];
  if (!caps.cgroup_v1 || ll__cg_locate("pids", mnt, sizeof mnt, own, sizeof own) < 0)
    LL_SKIP("no cgroup v1 pids hierarchy on this machine");
  char parent[PATH_MAX + 64];
  snprintf(parent, sizeof parent, "%s/" CG_PARENT "-sweep", own);
  CHECK(ll__cg_mkdir(parent) == 0);
  pid_t dead = fork();
  if (dead == 0) _exit(0);
  CHECK(waitpid(dead, NULL, 0) == dead);
  char gone[PATH_MAX + 128], mine[PATH_MAX + 128], other[PATH_MAX + 128];
  snprintf(gone, sizeof gone, "%s/%d-7", parent, (int)dead);
  snprintf(mine, sizeof mine, "%s/%d-7", parent, (int)getpid());
  snprintf(other, sizeof other, "%s/not-a-sandbox", parent);
  CHECK(ll__cg_mkdir(gone) == 0 && ll__cg_mkdir(mine) == 0 && ll__cg_mkdir(other) == 0);
  CHECK(ll__cg_sweep(parent) == 1);
  struct stat sst;
  CHECK(stat(gone, &sst) < 0 && errno == ENOENT);
  CHECK(stat(mine, &sst) == 0 && stat(other, &sst) == 0);
  rmdir(mine);
  rmdir(other);
  rmdir(parent);
}

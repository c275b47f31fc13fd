/* Instances: one execution environment each, started from the function's bootstrap with the
 * Lambda environment, its stdout+stderr captured line by line into its log stream, its Runtime
 * API endpoint opened through the engine's hook. With the sandbox on (the default) the
 * bootstrap runs in its own sandbox (src/sandbox: namespaces, a minimal root with the code at
 * /var/task and the layers at /opt, cgroup limits from MemorySize); with it off, as a plain
 * process in its own process group so a kill takes its children too. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/mem.h"
#include "engine/engine_int.h"
#include "sandbox/sandbox.h"

#define LINE_MAX_BYTES (256 * 1024)
#define RUNTIME_API_PORT 9001 /* AWS_LAMBDA_RUNTIME_API inside an instance's own network */

/* ---- output capture ---------------------------------------------------------------------- */

void ll__instance_log(ll_instance_t *inst, const char *line, size_t len) {
  if (inst->log) ll_log_stream_write(inst->log, ll_wall_ms(), line, len);
  ll_invocation_t *inv = inst->inv;
  if (inv && inv->want_tail) {
    ll_buf_append(&inv->tail, line, len);
    ll_buf_append(&inv->tail, "\n", 1);
    if (inv->tail.len > 4 * LL_LOG_TAIL_MAX) ll_buf_consume(&inv->tail, inv->tail.len - LL_LOG_TAIL_MAX);
  }
}

/* Splits buffered output into lines; `final` flushes a partial last line too. */
static void emit_lines(ll_instance_t *inst, bool final) {
  ll_buf_t *b = &inst->line;
  size_t start = 0;
  for (;;) {
    char *nl = memchr(b->data + start, '\n', b->len - start);
    if (!nl) break;
    size_t len = (size_t)(nl - (b->data + start));
    if (len && b->data[start + len - 1] == '\r') len--;
    ll__instance_log(inst, b->data + start, len);
    start = (size_t)(nl - b->data) + 1;
  }
  if (final || b->len - start > LINE_MAX_BYTES) {
    if (b->len > start) ll__instance_log(inst, b->data + start, b->len - start);
    start = b->len;
  }
  ll_buf_consume(b, start);
}

void ll__instance_drain_output(ll_instance_t *inst) {
  if (inst->out_fd < 0) return;
  for (;;) {
    ll_buf_reserve(&inst->line, 65536);
    ssize_t n = read(inst->out_fd, inst->line.data + inst->line.len, 65536);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    inst->line.len += (size_t)n;
    inst->line.data[inst->line.len] = '\0';
    emit_lines(inst, false);
  }
}

static void on_output(uv_poll_t *p, int status, int events) {
  ll_instance_t *inst = p->data;
  ll__instance_drain_output(inst);
  if (status < 0 || (events & UV_DISCONNECT)) uv_poll_stop(p);
}

int ll__instance_max_rss_mb(ll_instance_t *inst) {
  uint64_t now = ll_mono_ns();
  if (inst->rss_mb && now - inst->rss_read_ns < 100 * 1000000ull) return inst->rss_mb;
  inst->rss_read_ns = now;
  if (inst->sandbox) { /* the cgroup's peak covers every process of the instance */
    uint64_t peak = ll_sandbox_peak_memory(inst->sandbox);
    if (peak) inst->rss_mb = (int)((peak + (1 << 20) - 1) >> 20);
    return inst->rss_mb;
  }
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/status", (int)inst->pid);
  FILE *f = fopen(path, "re");
  if (!f) return inst->rss_mb; /* gone: the last figure read stands */
  char line[256];
  long kb = 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) break;
  fclose(f);
  if (kb > 0) inst->rss_mb = (int)((kb + 1023) / 1024);
  return inst->rss_mb;
}

/* ---- lifecycle --------------------------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h) {
  ll_instance_t *inst = h->data;
  if (--inst->handles_open > 0) return;
  ll_engine_t *e = inst->engine;
  if (inst->prev_all)
    inst->prev_all->next_all = inst->next_all;
  else
    e->instances = inst->next_all;
  if (inst->next_all) inst->next_all->prev_all = inst->prev_all;
  if (inst->out_fd >= 0) close(inst->out_fd);
  if (inst->pidfd >= 0) close(inst->pidfd);
  if (inst->sandbox) ll_sandbox_destroy(inst->sandbox);
  if (inst->cred_key[0] && e->creds_revoke) e->creds_revoke(e->creds_ud, inst->cred_key);
  ll_log_stream_close(inst->log);
  ll_buf_free(&inst->line);
  ll_function_unref(inst->fn);
  free(inst);
  ll__engine_unref(e);
}

/* Closes the instance's handles (3: the process watch, the timer, the output poll); the
 * instance is freed when the last close completes. */
static void close_handles(ll_instance_t *inst) {
  if (inst->endpoint) {
    /* aborts a parked /next: the Runtime API front calls ll_instance_next_cancel */
    inst->engine->cfg.close_endpoint(inst->engine->cfg.endpoint_ud, inst->endpoint);
    inst->endpoint = NULL;
  }
  if (uv_is_active((uv_handle_t *)&inst->out_poll) || inst->out_poll.data)
    uv_close((uv_handle_t *)&inst->out_poll, on_handle_closed);
  else
    inst->handles_open--;
  uv_close((uv_handle_t *)&inst->timer, on_handle_closed);
  if (inst->engine->cfg.sandbox) {
    if (inst->exit_poll.data)
      uv_close((uv_handle_t *)&inst->exit_poll, on_handle_closed);
    else
      inst->handles_open--; /* the launch failed: there was nothing to watch */
  } else {
    uv_close((uv_handle_t *)&inst->proc, on_handle_closed);
  }
}

/* The instance's first process ended (status, or the signal that killed it). */
static void instance_exited(ll_instance_t *inst, int64_t status, int sig) {
  ll__instance_drain_output(inst);
  emit_lines(inst, true);
  char why[64];
  if (sig)
    snprintf(why, sizeof why, "signal: %s", sig == SIGKILL ? "killed" : strsignal(sig));
  else
    snprintf(why, sizeof why, "exit status %lld", (long long)status);
  if (inst->sandbox) {
    inst->oom = ll_sandbox_oom_killed(inst->sandbox);
    ll__instance_max_rss_mb(inst); /* the cgroup still knows the peak */
    ll_sandbox_kill(inst->sandbox); /* whatever the first process left behind */
  } else if (inst->pid > 0) {
    /* Other members of the process group (a shell bootstrap's curl) go with it. */
    kill(-inst->pid, SIGKILL);
  }
  enum inst_state was = inst->state;
  inst->state = INST_DEAD;
  ll__sched_instance_gone(inst, was, why);
  close_handles(inst);
}

static void on_process_exit(uv_process_t *p, int64_t status, int sig) {
  instance_exited(p->data, status, sig);
}

/* The sandbox's pidfd became readable: its first process has exited. */
static void on_pidfd(uv_poll_t *p, int status, int events) {
  ll_instance_t *inst = p->data;
  int ws = 0;
  if (ll_sandbox_reap(inst->sandbox, &ws) == -EAGAIN) return;
  uv_poll_stop(p);
  instance_exited(inst, WIFEXITED(ws) ? WEXITSTATUS(ws) : 0, WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
}

ll_engine_t *ll_instance_engine(const ll_instance_t *inst) { return inst->engine; }

bool ll_instance_peer_allowed(ll_engine_t *e, const ll_instance_t *inst, uid_t uid) {
  if (!e->cfg.sandbox) return true;
  if (inst->sandbox) return uid == ll_sandbox_host_uid(inst->sandbox);
  if (!ll_sandbox_is_sandbox_uid(uid)) return false;
  for (const ll_instance_t *in = e->instances; in; in = in->next_all)
    if (in != inst && in->sandbox && ll_sandbox_host_uid(in->sandbox) == uid) return false;
  return true;
}

void ll__instance_kill(ll_instance_t *inst) {
  if (inst->state == INST_DEAD) return;
  if (inst->launching)
    inst->kill_pending = true; /* done as soon as the sandbox exists */
  else if (inst->sandbox)
    ll_sandbox_kill(inst->sandbox);
  else if (inst->pid > 0)
    kill(-inst->pid, SIGKILL);
}

/* Where a function's files are, as its process sees them. */
typedef struct fn_view {
  const char *task; /* LAMBDA_TASK_ROOT */
  const char *opt;  /* the merged layers */
} fn_view_t;

/* Finds the bootstrap on the host (code first, then layers) and returns its path as the
 * process sees it, in out; NULL when there is none. */
static const char *find_bootstrap(const ll_function_t *fn, const fn_view_t *view, char *out,
                                  size_t sz) {
  const char *host[] = {fn->code_dir, fn->opt_dir}, *seen[] = {view->task, view->opt};
  for (int i = 0; i < 2; i++) {
    snprintf(out, sz, "%s/bootstrap", host[i]);
    struct stat st;
    if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
      snprintf(out, sz, "%s/bootstrap", seen[i]);
      return out;
    }
  }
  return NULL;
}

/* The environment of an instance (aws-wire-contract.md §1.7): the user's variables, then the
 * platform's unreserved defaults they may override, then the reserved ones. */
static char **build_env(ll_engine_t *e, ll_function_t *fn, ll_instance_t *inst,
                        const fn_view_t *view) {
  json_t *user = ll_function_env(fn);
  size_t cap = json_object_size(user) + 40, n = 0;
  char **env = ll_calloc(cap, sizeof *env);
#define ADD(...) (env[n++] = ll_sprintf(__VA_ARGS__))
  const char *k;
  json_t *v;
  static const char *const unreserved[] = {"LANG", "PATH", "LD_LIBRARY_PATH", "TZ", NULL};
  json_object_foreach(user, k, v) ADD("%s=%s", k, json_string_value(v));
  bool set[4] = {0};
  for (int i = 0; unreserved[i]; i++) set[i] = json_object_get(user, unreserved[i]) != NULL;
  if (!set[0]) ADD("LANG=en_US.UTF-8");
  if (!set[1]) ADD("PATH=/usr/local/bin:/usr/bin:/bin:%s/bin", view->opt);
  if (!set[2])
    ADD("LD_LIBRARY_PATH=/lib64:/usr/lib64:%s:%s/lib:%s/lib", view->task, view->task, view->opt);
  if (!set[3]) ADD("TZ=:UTC");
  const char *handler = json_string_value(json_object_get(fn->config, "Handler"));
  ADD("_HANDLER=%s", handler ? handler : "");
  ADD("LAMBDA_TASK_ROOT=%s", view->task);
  ADD("LAMBDA_RUNTIME_DIR=/var/runtime");
  if (!inst->engine->cfg.sandbox) ADD("LAMBDALITE_OPT=%s", view->opt); /* no /opt mount */
  ADD("AWS_LAMBDA_RUNTIME_API=127.0.0.1:%d", inst->port);
  ADD("AWS_LAMBDA_FUNCTION_NAME=%s", fn->name);
  ADD("AWS_LAMBDA_FUNCTION_VERSION=$LATEST");
  ADD("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%d", fn->memory_mb);
  ADD("AWS_LAMBDA_INITIALIZATION_TYPE=on-demand");
  ADD("AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/%s", fn->name);
  ADD("AWS_LAMBDA_LOG_STREAM_NAME=%s", inst->log ? ll_log_stream_name(inst->log) : "");
  ADD("AWS_REGION=%s", e->region);
  ADD("AWS_DEFAULT_REGION=%s", e->region);
  ADD("PWD=%s", view->task);
  ADD("SHLVL=0");
  /* The function's credentials: a temporary key of its role when the daemon's IAM side knows
   * the role (stacks deploy roles), else the development pair when enabled. */
  ll_instance_creds_t cred = {{0}, {0}, NULL, 0};
  if (e->creds_mint && e->creds_mint(e->creds_ud, fn, &cred) == 0) {
    snprintf(inst->cred_key, sizeof inst->cred_key, "%s", cred.access_key);
    inst->cred_expires_ms = cred.expires_ms;
    ADD("AWS_ACCESS_KEY_ID=%s", cred.access_key);
    ADD("AWS_SECRET_ACCESS_KEY=%s", cred.secret);
    ADD("AWS_SESSION_TOKEN=%s", cred.session_token);
    free(cred.session_token);
  } else if (e->dev_key_enabled) {
    ADD("AWS_ACCESS_KEY_ID=test");
    ADD("AWS_SECRET_ACCESS_KEY=test");
  }
  /* The SDKs' service endpoint variables (botocore >= 1.31, AWS CLI >= 2.13, the other SDKs):
   * S3 and the rest of the API are the daemon. (With --network none the function has no route
   * to it.) */
  if (e->api_endpoint && !json_object_get(user, "AWS_ENDPOINT_URL"))
    ADD("AWS_ENDPOINT_URL=%s", e->api_endpoint);
  if (e->api_endpoint && !json_object_get(user, "AWS_ENDPOINT_URL_S3"))
    ADD("AWS_ENDPOINT_URL_S3=%s", e->api_endpoint);
#undef ADD
  env[n] = NULL;
  return env;
}

static void free_env(char **env) {
  for (char **p = env; *p; p++) free(*p);
  free(env);
}

int ll__function_tmp_mb(const ll_function_t *fn) {
  json_t *eph = json_object_get(fn->config, "EphemeralStorage");
  json_int_t mb = json_integer_value(json_object_get(eph, "Size"));
  return mb > 0 ? (int)mb : 512;
}

void ll__sandbox_shape(const ll_engine_t *e, int memory_mb, int tmp_mb, const char *name,
                       ll_sandbox_spec_t *out) {
  static const ll_sandbox_mount_t points[] = {{NULL, "/var/task", false}, {NULL, "/opt", false}};
  bool own_net = e->cfg.network_none;
  *out = (ll_sandbox_spec_t){
      .mounts = points,
      .nmounts = 2,
      .tmp_bytes = (uint64_t)tmp_mb << 20,
      .tmp_disk_dir = e->tmp_disk_dir,
      .memory_bytes = (uint64_t)memory_mb << 20,
      /* Lambda: 1,769 MB is one full core; CPU share grows with memory. */
      .cpu_millis = (uint32_t)((uint64_t)memory_mb * 1000 / 1769),
      .cpu_hard = e->cfg.cpu_hard,
      .pids_max = 1024,
      .nofile = 1024,
      .hostname = "lambdalite",
      .stdout_fd = -1,
      .name = name,
      .network_none = own_net,
      .listen_port = own_net ? RUNTIME_API_PORT : 0,
  };
  if (out->cpu_millis < 50) out->cpu_millis = 50;
}

/* A sandbox launch, run on the loop's thread pool: it blocks (a few milliseconds to make a
 * sandbox; a fraction of one to start a prepared one from the warm pool), which the loop —
 * serving every other request — must not. */
typedef struct launch_job {
  uv_work_t work;
  ll_instance_t *inst;
  char *bootstrap, *code_dir, *opt_dir; /* owned copies: the function may change meanwhile */
  char **env;                           /* owned */
  char *argv[2];
  char name[64];
  ll_sandbox_mount_t mounts[2];
  ll_sandbox_spec_t spec;
  int out_fd; /* the write end of the output pipe; closed once the child has it */
  ll_sandbox_t *pooled; /* a prepared sandbox of the right shape, or NULL */
  /* results */
  int rc;
  ll_sandbox_t *sb;
  pid_t pid;
  int pidfd, listen_fd;
  ll_err_t err;
} launch_job_t;

static void launch_work(uv_work_t *w) {
  launch_job_t *j = w->data;
  if (j->pooled) {
    j->rc = ll_sandbox_start(j->pooled, &j->spec, &j->pid, &j->pidfd, &j->listen_fd, &j->err);
    if (j->rc == 0) {
      j->sb = j->pooled;
      return;
    }
    ll_sandbox_destroy(j->pooled);
    if (j->err.code != ECHILD) return; /* the program's own failure (exec...): as it is */
    j->err = (ll_err_t)LL_ERR_INIT;    /* the prepared one had died: make one the slow way */
  }
  j->rc = ll_sandbox_launch(&j->spec, &j->sb, &j->pid, &j->pidfd, &j->listen_fd, &j->err);
}

static void launch_job_free(launch_job_t *j) {
  free(j->bootstrap);
  free(j->code_dir);
  free(j->opt_dir);
  free_env(j->env);
  free(j);
}

/* Back on the loop: watch the new sandbox, or report why it could not start. */
static void launch_done(uv_work_t *w, int status) {
  launch_job_t *j = w->data;
  ll_instance_t *inst = j->inst;
  ll_engine_t *e = inst->engine;
  close(j->out_fd);
  inst->launching = false;
  if (status < 0 && j->rc == 0) ll_err_set(&j->err, ECANCELED, "sandbox launch cancelled");
  if (status == 0 && j->rc == 0) {
    inst->sandbox = j->sb;
    inst->pid = j->pid;
    inst->pidfd = j->pidfd;
    if (j->listen_fd >= 0 && e->cfg.open_endpoint(e->cfg.endpoint_ud, inst, j->listen_fd,
                                                  &inst->port, &inst->endpoint) < 0) {
      close(j->listen_fd);
      inst->kill_pending = true; /* it could never be reached: let it go the usual way */
    }
    if (inst->pidfd < 0) {
      /* no pidfd to watch it with: stop it at once (the sandbox reports pidfd support) */
      ll_err_set(&j->err, ENOSYS, "sandbox: no pidfd to watch the instance with");
      ll_sandbox_kill(inst->sandbox);
      int ws;
      while (ll_sandbox_reap(inst->sandbox, &ws) == -EAGAIN) usleep(1000);
    } else {
      uv_poll_init(e->loop, &inst->exit_poll, inst->pidfd);
      inst->exit_poll.data = inst;
      uv_poll_start(&inst->exit_poll, UV_READABLE, on_pidfd);
      if (inst->kill_pending) ll_sandbox_kill(inst->sandbox);
      launch_job_free(j);
      return;
    }
  }
  /* It never ran: its invocation fails with why, and the instance goes. */
  snprintf(inst->launch_error, sizeof inst->launch_error, "%s", j->err.msg);
  launch_job_free(j);
  instance_exited(inst, 0, 0);
}

/* Starts the bootstrap in a sandbox (namespaces, minimal root, cgroup limits) off the loop —
 * in a prepared one from the warm pool when there is one; out_fd is taken. */
static void launch_sandboxed(ll_engine_t *e, ll_function_t *fn, ll_instance_t *inst,
                             const char *bootstrap, char **env, int out_fd) {
  launch_job_t *j = ll_calloc(1, sizeof *j);
  j->inst = inst;
  j->bootstrap = ll_strdup(bootstrap);
  j->code_dir = ll_strdup(fn->code_dir);
  j->opt_dir = ll_strdup(fn->opt_dir);
  j->env = env;
  j->out_fd = out_fd;
  j->pidfd = j->listen_fd = -1;
  j->argv[0] = j->bootstrap;
  j->mounts[0] = (ll_sandbox_mount_t){j->code_dir, "/var/task", false};
  j->mounts[1] = (ll_sandbox_mount_t){j->opt_dir, "/opt", false};
  snprintf(j->name, sizeof j->name, "%d-%llu", (int)getpid(), (unsigned long long)inst->id);
  int tmp_mb = ll__function_tmp_mb(fn);
  ll__sandbox_shape(e, fn->memory_mb, tmp_mb, j->name, &j->spec);
  j->spec.path = j->bootstrap;
  j->spec.argv = j->argv;
  j->spec.envp = j->env;
  j->spec.cwd = "/var/task";
  j->spec.mounts = j->mounts;
  j->spec.stdout_fd = out_fd;
  j->pooled = ll__pool_take(e, fn->memory_mb, tmp_mb);
  inst->launching = true;
  j->work.data = j;
  uv_queue_work(e->loop, &j->work, launch_work, launch_done);
}

ll_instance_t *ll__instance_spawn(ll_engine_t *e, ll_function_t *fn, ll_invocation_t *inv,
                                  ll_err_t *err) {
  fn_view_t view = e->cfg.sandbox ? (fn_view_t){"/var/task", "/opt"}
                                  : (fn_view_t){fn->code_dir, fn->opt_dir};
  char bootstrap[4096];
  if (!find_bootstrap(fn, &view, bootstrap, sizeof bootstrap)) {
    ll_err_set(err, ENOENT, "Couldn't find valid bootstrap(s): [%s/bootstrap %s/bootstrap]",
               view.task, view.opt);
    return NULL;
  }
  ll_instance_t *inst = ll_calloc(1, sizeof *inst);
  inst->engine = e;
  inst->fn = fn;
  ll_function_ref(fn);
  inst->generation = fn->generation;
  inst->id = ++e->instance_seq;
  inst->state = INST_STARTING;
  inst->out_fd = inst->pidfd = -1;
  inst->log = ll_log_stream_open(e->data_dir, fn->name);
  int fds[2] = {-1, -1};
  /* With its own network namespace the instance's endpoint is made inside it, at launch, on
   * the port AWS uses; otherwise it is a port of the host's loopback, opened now. */
  bool own_net = e->cfg.sandbox && e->cfg.network_none;
  if (own_net) {
    inst->port = RUNTIME_API_PORT;
  } else if (e->cfg.open_endpoint(e->cfg.endpoint_ud, inst, -1, &inst->port, &inst->endpoint) <
             0) {
    ll_err_set(err, EIO, "opening the Runtime API endpoint");
    goto fail;
  }
  if (pipe2(fds, O_CLOEXEC) < 0) {
    ll_err_set(err, errno, "pipe: %s", strerror(errno));
    goto fail;
  }
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  char **env = build_env(e, fn, inst, &view);
  inst->spawn_ns = ll_mono_ns();
  int r = 0;
  if (e->cfg.sandbox) {
    launch_sandboxed(e, fn, inst, bootstrap, env, fds[1]); /* takes env and the write end */
    env = NULL;
    fds[1] = -1;
  } else {
    char *args[] = {bootstrap, NULL};
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_INHERIT_FD, .data.fd = fds[1]},
        {.flags = UV_INHERIT_FD, .data.fd = fds[1]},
    };
    uv_process_options_t opts = {
        .exit_cb = on_process_exit,
        .file = bootstrap,
        .args = args,
        .env = env,
        .cwd = fn->code_dir,
        .flags = UV_PROCESS_DETACHED, /* own session and process group */
        .stdio_count = 3,
        .stdio = stdio,
    };
    inst->proc.data = inst;
    r = uv_spawn(e->loop, &inst->proc, &opts);
    if (r < 0) {
      ll_err_set(err, -r, "starting %s: %s", bootstrap, uv_strerror(r));
      /* the process handle is initialized even on failure and must be closed */
      uv_close((uv_handle_t *)&inst->proc, NULL);
      r = -1;
    } else {
      inst->pid = inst->proc.pid;
    }
  }
  if (fds[1] >= 0) close(fds[1]);
  if (env) free_env(env);
  if (r < 0) {
    close(fds[0]);
    goto fail;
  }
  inst->out_fd = fds[0];
  uv_poll_init(e->loop, &inst->out_poll, fds[0]);
  inst->out_poll.data = inst;
  uv_poll_start(&inst->out_poll, UV_READABLE | UV_DISCONNECT, on_output);
  uv_timer_init(e->loop, &inst->timer);
  inst->timer.data = inst;
  inst->handles_open = 3;
  e->refs++;
  inst->next_all = e->instances;
  if (e->instances) e->instances->prev_all = inst;
  e->instances = inst;
  inst->inv = inv;
  if (inv) inv->inst = inst;
  return inst;
fail:
  if (inst->cred_key[0] && e->creds_revoke) e->creds_revoke(e->creds_ud, inst->cred_key);
  if (inst->endpoint) e->cfg.close_endpoint(e->cfg.endpoint_ud, inst->endpoint);
  ll_log_stream_close(inst->log);
  ll_function_unref(fn);
  free(inst);
  return NULL;
}

/* Instances: one child process per execution environment, started from the function's
 * bootstrap with the Lambda environment, its stdout+stderr captured line by line into its log
 * stream, its Runtime API endpoint opened through the engine's hook. Plain processes for now,
 * in their own process group so a kill takes their children too; the sandbox wraps this later
 * behind the same calls. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/mem.h"
#include "engine/engine_int.h"

#define LINE_MAX_BYTES (256 * 1024)

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
  ll_log_stream_close(inst->log);
  ll_buf_free(&inst->line);
  ll_function_unref(inst->fn);
  free(inst);
  ll__engine_unref(e);
}

static void close_handles(ll_instance_t *inst) {
  if (inst->endpoint) {
    /* aborts a parked /next: the Runtime API front calls ll_instance_next_cancel */
    inst->engine->cfg.close_endpoint(inst->engine->cfg.endpoint_ud, inst->endpoint);
    inst->endpoint = NULL;
  }
  if (inst->out_fd >= 0) {
    uv_close((uv_handle_t *)&inst->out_poll, on_handle_closed);
  } else {
    inst->handles_open--;
  }
  uv_close((uv_handle_t *)&inst->timer, on_handle_closed);
  uv_close((uv_handle_t *)&inst->proc, on_handle_closed);
}

static void on_process_exit(uv_process_t *p, int64_t status, int sig) {
  ll_instance_t *inst = p->data;
  ll__instance_drain_output(inst);
  emit_lines(inst, true);
  char why[64];
  if (sig)
    snprintf(why, sizeof why, "signal: %s", sig == SIGKILL ? "killed" : strsignal(sig));
  else
    snprintf(why, sizeof why, "exit status %lld", (long long)status);
  /* Other members of the process group (a shell bootstrap's curl) go with it. */
  if (inst->pid > 0) kill(-inst->pid, SIGKILL);
  enum inst_state was = inst->state;
  inst->state = INST_DEAD;
  ll__sched_instance_gone(inst, was, why);
  if (inst->out_fd >= 0) close(inst->out_fd);
  close_handles(inst);
  inst->out_fd = -1;
}

void ll__instance_kill(ll_instance_t *inst) {
  if (inst->pid > 0 && inst->state != INST_DEAD) kill(-inst->pid, SIGKILL);
}

static const char *find_bootstrap(const ll_function_t *fn, char *out, size_t sz) {
  const char *dirs[] = {fn->code_dir, fn->opt_dir};
  for (int i = 0; i < 2; i++) {
    snprintf(out, sz, "%s/bootstrap", dirs[i]);
    struct stat st;
    if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) return out;
  }
  return NULL;
}

/* The environment of an instance (aws-wire-contract.md §1.7): the user's variables, then the
 * platform's unreserved defaults they may override, then the reserved ones. */
static char **build_env(ll_engine_t *e, ll_function_t *fn, ll_instance_t *inst) {
  json_t *user = ll_function_env(fn);
  size_t cap = json_object_size(user) + 32, n = 0;
  char **env = ll_calloc(cap, sizeof *env);
#define ADD(...) (env[n++] = ll_sprintf(__VA_ARGS__))
  const char *k;
  json_t *v;
  static const char *const unreserved[] = {"LANG", "PATH", "LD_LIBRARY_PATH", "TZ", NULL};
  json_object_foreach(user, k, v) ADD("%s=%s", k, json_string_value(v));
  bool set[4] = {0};
  for (int i = 0; unreserved[i]; i++) set[i] = json_object_get(user, unreserved[i]) != NULL;
  if (!set[0]) ADD("LANG=en_US.UTF-8");
  if (!set[1]) ADD("PATH=/usr/local/bin:/usr/bin:/bin:%s/bin", fn->opt_dir);
  if (!set[2]) ADD("LD_LIBRARY_PATH=%s:%s/lib:%s/lib", fn->code_dir, fn->code_dir, fn->opt_dir);
  if (!set[3]) ADD("TZ=:UTC");
  const char *handler = json_string_value(json_object_get(fn->config, "Handler"));
  ADD("_HANDLER=%s", handler ? handler : "");
  ADD("LAMBDA_TASK_ROOT=%s", fn->code_dir);
  ADD("LAMBDA_RUNTIME_DIR=/var/runtime");
  ADD("LAMBDALITE_OPT=%s", fn->opt_dir);
  ADD("AWS_LAMBDA_RUNTIME_API=127.0.0.1:%d", inst->port);
  ADD("AWS_LAMBDA_FUNCTION_NAME=%s", fn->name);
  ADD("AWS_LAMBDA_FUNCTION_VERSION=$LATEST");
  ADD("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%d", fn->memory_mb);
  ADD("AWS_LAMBDA_INITIALIZATION_TYPE=on-demand");
  ADD("AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/%s", fn->name);
  ADD("AWS_LAMBDA_LOG_STREAM_NAME=%s", inst->log ? ll_log_stream_name(inst->log) : "");
  ADD("AWS_REGION=%s", e->region);
  ADD("AWS_DEFAULT_REGION=%s", e->region);
  ADD("PWD=%s", fn->code_dir);
  ADD("SHLVL=0");
  /* The function's credentials: the development pair when enabled (no IAM roles yet). */
  if (e->dev_key_enabled) {
    ADD("AWS_ACCESS_KEY_ID=test");
    ADD("AWS_SECRET_ACCESS_KEY=test");
  }
#undef ADD
  env[n] = NULL;
  return env;
}

ll_instance_t *ll__instance_spawn(ll_engine_t *e, ll_function_t *fn, ll_invocation_t *inv,
                                  ll_err_t *err) {
  char bootstrap[4096];
  if (!find_bootstrap(fn, bootstrap, sizeof bootstrap)) {
    ll_err_set(err, ENOENT, "Couldn't find valid bootstrap(s): [%s/bootstrap %s/bootstrap]",
               fn->code_dir, fn->opt_dir);
    return NULL;
  }
  ll_instance_t *inst = ll_calloc(1, sizeof *inst);
  inst->engine = e;
  inst->fn = fn;
  ll_function_ref(fn);
  inst->generation = fn->generation;
  inst->id = ++e->instance_seq;
  inst->state = INST_STARTING;
  inst->out_fd = -1;
  inst->log = ll_log_stream_open(e->data_dir, fn->name);
  if (e->cfg.open_endpoint(e->cfg.endpoint_ud, inst, &inst->port, &inst->endpoint) < 0) {
    ll_err_set(err, EIO, "opening the Runtime API endpoint");
    goto fail;
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) {
    ll_err_set(err, errno, "pipe: %s", strerror(errno));
    goto fail;
  }
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  char **env = build_env(e, fn, inst);
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
  inst->spawn_ns = ll_mono_ns();
  int r = uv_spawn(e->loop, &inst->proc, &opts);
  close(fds[1]);
  for (char **p = env; *p; p++) free(*p);
  free(env);
  if (r < 0) {
    close(fds[0]);
    ll_err_set(err, -r, "starting %s: %s", bootstrap, uv_strerror(r));
    /* the process handle is initialized even on failure and must be closed */
    uv_timer_init(e->loop, &inst->timer);
    inst->timer.data = inst;
    inst->handles_open = 3; /* close_handles counts the never-opened output poll down */
    e->refs++;
    inst->next_all = e->instances;
    if (e->instances) e->instances->prev_all = inst;
    e->instances = inst;
    inst->state = INST_DEAD;
    close_handles(inst);
    return NULL;
  }
  inst->pid = inst->proc.pid;
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
  if (inst->endpoint) e->cfg.close_endpoint(e->cfg.endpoint_ud, inst->endpoint);
  ll_log_stream_close(inst->log);
  ll_function_unref(fn);
  free(inst);
  return NULL;
}

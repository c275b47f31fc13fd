/* `lambdalite serve`: the daemon. One libuv loop carries the API listener, every instance's
 * Runtime API endpoint, process supervision and timers. */
#include <ctype.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "objstore/store.h"
#include "table/table.h"
#include "auth/creds.h"
#include "stack/stack.h"
#include "stream/esm.h"
#include "stream/stream.h"
#include "cli/cli.h"
#include "core/mem.h"
#include "engine/engine.h"
#include "http/server.h"
#include "sandbox/sandbox.h"

static const char usage[] =
    "usage: lambdalite serve [--listen HOST:PORT] [--data-dir DIR] [--idle-timeout SECONDS]\n"
    "                        [--max-instances N] [more options below]\n"
    "\n"
    "Runs the daemon: the Lambda API, Kinesis streams, CloudWatch Logs reads, and each function\n"
    "instance's Runtime API, until SIGTERM or SIGINT.\n"
    "\n"
    "  --listen HOST:PORT     address of the API (default 127.0.0.1:4566); a non-loopback\n"
    "                         address is refused while the development key test/test is enabled\n"
    "  --data-dir DIR         where functions, layers, logs and metadata live\n"
    "                         (default $XDG_DATA_HOME/lambdalite or ~/.local/share/lambdalite)\n"
    "  --idle-timeout SECONDS idle instances stop after this long (default 300; 0 = a cold\n"
    "                         start for every invoke)\n"
    "  --max-instances N      instances per function at most (default 64); more invocations wait\n"
    "  --concurrency-limit N  the account's concurrent executions (default 1000, as AWS); sync\n"
    "                         invokes beyond it, or beyond a function's reserved concurrency,\n"
    "                         get 429 TooManyRequestsException\n"
    "  --keep-warm SECONDS    the same as --idle-timeout\n"
    "  --memory-budget MB     the MemorySize of all live instances together stays under it (idle\n"
    "                         instances are stopped to make room; an invoke that finds none\n"
    "                         waits 1 s, then gets 429); default: the machine's memory less 10%\n"
    "  --async-time-scale X   multiplies the async queue's clock: AWS's delays between retries\n"
    "                         (about 1 and 2 minutes) and MaximumEventAgeInSeconds, and the\n"
    "                         mappings' MaximumRecordAgeInSeconds, stacks' rate() schedules\n"
    "                         and functions' credential lifetimes (default 1; for tests: 0.01\n"
    "                         makes a minute 0.6 s)\n"
    "  --sandbox on|off       run each instance in its own Linux sandbox (default on: namespaces,\n"
    "                         a minimal read-only root, cgroup limits, seccomp; what this machine\n"
    "                         allows is printed at start and by `lambdalite info`)\n"
    "  --warm-pool N          sandboxes kept prepared for each memory/tmp size in use, so a cold\n"
    "                         start only execs the bootstrap (default 2; 0 = none)\n"
    "  --network host|none    instances share the host's network (default, like Lambda's internet\n"
    "                         access) or get an empty one of their own (Runtime API at\n"
    "                         127.0.0.1:9001 inside it); needs the sandbox\n"
    "  --fsync batch|always|never  when a stream put is acknowledged: batch (default) after an\n"
    "                         fsync shared by every put of the same moment (group commit);\n"
    "                         always after an fsync of its own; never without fsync (survives\n"
    "                         kill -9 of the daemon, not a power loss)\n"
    "  --cpu share|quota      CPU in proportion to MemorySize (1769 MB = one core) as a weight\n"
    "                         (default: spare CPU is used) or as a hard quota, as Lambda throttles\n";

typedef struct daemon_state {
  uv_loop_t *loop;
  ll_http_listener_t *listener;
  ll_engine_t *engine;
  ll_streams_t *streams;
  ll_esms_t *esms;
  ll_objstore_t *objects; /* closed once the loop is empty: uploads commit on workers */
  ll_tables_t *tables;
  ll_stacks_t *stacks;
  uv_signal_t sigterm, sigint;
} daemon_state_t;

static void on_signal(uv_signal_t *s, int signum) {
  daemon_state_t *d = s->data;
  fprintf(stderr, "lambdalite: %s received, shutting down\n", signum == SIGTERM ? "SIGTERM" : "SIGINT");
  ll_http_listener_close(d->listener);
  ll_stacks_close(d->stacks); /* its schedules stop invoking; deploys in flight are abandoned */
  d->stacks = NULL;
  /* mappings first: their batches out come back as the engine fails them */
  ll_esms_close(d->esms);
  ll_streams_close(d->streams);
  ll_engine_close(d->engine);
  uv_close((uv_handle_t *)&d->sigterm, NULL);
  uv_close((uv_handle_t *)&d->sigint, NULL);
}

static bool is_loopback(const char *host) {
  return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 || strcmp(host, "localhost") == 0;
}

static char *default_data_dir(void) {
  const char *x = getenv("XDG_DATA_HOME");
  if (x && *x) return ll_sprintf("%s/lambdalite", x);
  const char *home = getenv("HOME");
  return ll_sprintf("%s/.local/share/lambdalite", home && *home ? home : ".");
}

int ll_cmd_serve(int argc, char **argv) {
  static const struct option opts[] = {
      {"listen", required_argument, 0, 'l'},   {"data-dir", required_argument, 0, 'd'},
      {"idle-timeout", required_argument, 0, 'i'}, {"max-instances", required_argument, 0, 'm'},
      {"sandbox", required_argument, 0, 's'},  {"cpu", required_argument, 0, 'c'},
      {"network", required_argument, 0, 'n'},  {"concurrency-limit", required_argument, 0, 'C'},
      {"keep-warm", required_argument, 0, 'i'},  {"async-time-scale", required_argument, 0, 'R'},
      {"memory-budget", required_argument, 0, 'M'}, {"warm-pool", required_argument, 0, 'W'},
      {"fsync", required_argument, 0, 'F'},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0},
  };
  const char *listen = "127.0.0.1:4566";
  char *data_dir = NULL;
  double idle = 300, retry_scale = 1;
  long long memory_budget = 0;
  int max_instances = 64, concurrency_limit = 1000, warm_pool = 2;
  ll_fsync_mode_t fsync_mode = LL_FSYNC_BATCH;
  bool sandbox = true, cpu_hard = false, network_none = false;
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
      case 'l': listen = optarg; break;
      case 'd': free(data_dir); data_dir = ll_strdup(optarg); break;
      case 'i': idle = atof(optarg); break;
      case 'm': max_instances = atoi(optarg); break;
      case 'M':
        memory_budget = atoll(optarg);
        if (memory_budget < 128) {
          fprintf(stderr, "lambdalite serve: --memory-budget wants MB, at least 128 (got %s)\n",
                  optarg);
          free(data_dir);
          return 2;
        }
        break;
      case 'F':
        if (strcmp(optarg, "batch") == 0) fsync_mode = LL_FSYNC_BATCH;
        else if (strcmp(optarg, "always") == 0) fsync_mode = LL_FSYNC_ALWAYS;
        else if (strcmp(optarg, "never") == 0) fsync_mode = LL_FSYNC_NEVER;
        else {
          fprintf(stderr, "lambdalite serve: --fsync wants batch, always or never (got %s)\n", optarg);
          free(data_dir);
          return 2;
        }
        break;
      case 'W':
        warm_pool = atoi(optarg);
        if (warm_pool < 0 || warm_pool > 64 || !isdigit((unsigned char)optarg[0])) {
          fprintf(stderr, "lambdalite serve: --warm-pool wants a number from 0 to 64 (got %s)\n",
                  optarg);
          free(data_dir);
          return 2;
        }
        break;
      case 'R':
        retry_scale = atof(optarg);
        if (retry_scale <= 0) {
          fprintf(stderr, "lambdalite serve: --async-time-scale wants a positive number (got %s)\n",
                  optarg);
          free(data_dir);
          return 2;
        }
        break;
      case 'C':
        concurrency_limit = atoi(optarg);
        if (concurrency_limit < 100) {
          fprintf(stderr,
                  "lambdalite serve: --concurrency-limit must be at least 100 (AWS keeps 100 "
                  "unreserved), got %s\n",
                  optarg);
          free(data_dir);
          return 2;
        }
        break;
      case 's':
        if (strcmp(optarg, "on") != 0 && strcmp(optarg, "off") != 0) {
          fprintf(stderr, "lambdalite serve: --sandbox wants on or off (got %s)\n", optarg);
          free(data_dir);
          return 2;
        }
        sandbox = strcmp(optarg, "on") == 0;
        break;
      case 'c':
        if (strcmp(optarg, "share") != 0 && strcmp(optarg, "quota") != 0) {
          fprintf(stderr, "lambdalite serve: --cpu wants share or quota (got %s)\n", optarg);
          free(data_dir);
          return 2;
        }
        cpu_hard = strcmp(optarg, "quota") == 0;
        break;
      case 'n':
        if (strcmp(optarg, "host") != 0 && strcmp(optarg, "none") != 0) {
          fprintf(stderr, "lambdalite serve: --network wants host or none (got %s)\n", optarg);
          free(data_dir);
          return 2;
        }
        network_none = strcmp(optarg, "none") == 0;
        break;
      case 'h': fputs(usage, stdout); free(data_dir); return 0;
      default: fputs(usage, stderr); free(data_dir); return 2;
    }
  }
  if (!data_dir) data_dir = default_data_dir();
  char host[128];
  const char *colon = strrchr(listen, ':');
  if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof host || !colon[1]) {
    fprintf(stderr, "lambdalite serve: --listen wants HOST:PORT, e.g. 127.0.0.1:4566 (got %s)\n", listen);
    free(data_dir);
    return 2;
  }
  snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
  if (host[0] == '[') { /* [::1]:4566 */
    memmove(host, host + 1, strlen(host));
    host[strcspn(host, "]")] = '\0';
  }
  int port = atoi(colon + 1);
  signal(SIGPIPE, SIG_IGN);

  ll_sandbox_caps_t caps = {0};
  if (sandbox) {
    ll_err_t perr = LL_ERR_INIT;
    if (ll_sandbox_probe("lambdalite", &caps, &perr) < 0) {
      fprintf(stderr,
              "lambdalite: the sandbox cannot run here (%s): instances run as plain processes. "
              "Pass --sandbox off to say so explicitly.\n",
              perr.msg);
      sandbox = false;
      snprintf(caps.summary, sizeof caps.summary, "sandbox: off (%s)", perr.msg);
    } else {
      fprintf(stderr, "lambdalite: sandbox in force:\n");
      for (const char *p = caps.summary; *p;) {
        size_t len = strcspn(p, "\n");
        if (len) fprintf(stderr, "  %.*s\n", (int)len, p);
        p += len + (p[len] == '\n');
      }
    }
  } else {
    snprintf(caps.summary, sizeof caps.summary, "sandbox: off (--sandbox off)");
  }
  if (network_none && (!sandbox || !caps.net_ns)) {
    fprintf(stderr, "lambdalite serve: --network none needs the sandbox with network namespaces "
                    "(see the sandbox lines above); refusing to run functions with the host's "
                    "network instead\n");
    free(data_dir);
    return 1;
  }
  daemon_state_t d = {.loop = uv_default_loop()};
  ll_api_ctx_t ctx = {.loop = d.loop, .listen = listen, .sandbox = sandbox,
                      .sandbox_summary = caps.summary};
  ll_engine_config_t cfg = {
      .data_dir = data_dir,
      .region = "us-east-1",
      .account = "000000000000",
      .idle_timeout_s = idle,
      .max_instances = max_instances,
      .concurrency_limit = concurrency_limit,
      .async_time_scale = retry_scale,
      .memory_budget_mb = memory_budget,
      .warm_pool = warm_pool,
      .sandbox = sandbox,
      .cpu_hard = cpu_hard,
      .network_none = network_none,
      .open_endpoint = ll_api_runtime_open,
      .close_endpoint = ll_api_runtime_close,
      .endpoint_ud = &ctx,
  };
  ll_err_t err = LL_ERR_INIT;
  int bound = 0;
  if (ll_engine_open(d.loop, &cfg, &d.engine, &err) < 0) {
    fprintf(stderr, "lambdalite serve: %s\n", err.msg);
    free(data_dir);
    return 1;
  }
  ctx.engine = d.engine;
  const char *failed = NULL;
  if (ll_streams_open(d.loop, data_dir, fsync_mode, ll_engine_region(d.engine),
                      ll_engine_account(d.engine), &d.streams, &err) < 0) {
    failed = err.msg;
  } else if (ll_esms_open(d.loop, d.engine, d.streams, data_dir, retry_scale, &d.esms, &err) < 0) {
    failed = err.msg;
  } else if (ll_objstore_open(data_dir, &d.objects, &err) < 0) {
    failed = err.msg;
  } else if (ll_tables_open(data_dir, &d.tables, &err) < 0) {
    failed = err.msg;
  } else if (ll_stacks_open(data_dir,
                            &(ll_stack_env_t){d.loop, d.engine, d.streams, d.esms, d.objects, d.tables, retry_scale},
                            &d.stacks, &err) < 0) {
    failed = err.msg;
  } else if (!is_loopback(host) && ll_engine_dev_key_enabled(d.engine)) {
    snprintf(err.msg, sizeof err.msg,
             "refusing to listen on %s while the development key test/test is enabled: anyone "
             "who can reach the port could run code here. Listen on 127.0.0.1, or disable the "
             "development key first.",
             host);
    failed = err.msg;
  } else {
    int r = ll_http_listen(d.loop, host, port, ll_api_tables, ll_api_not_found, &ctx,
                           &d.listener, &bound);
    if (r < 0) {
      snprintf(err.msg, sizeof err.msg, "cannot listen on %s: %s", listen, uv_strerror(r));
      failed = err.msg;
    }
  }
  if (failed) {
    fprintf(stderr, "lambdalite serve: %s\n", failed);
    ll_stacks_close(d.stacks);
    if (d.esms) ll_esms_close(d.esms);
    if (d.streams) ll_streams_close(d.streams);
    ll_engine_close(d.engine);
    uv_run(d.loop, UV_RUN_DEFAULT);
    ll_objstore_close(d.objects);
    ll_tables_close(d.tables);
    free(data_dir);
    return 1;
  }
  ctx.streams = d.streams;
  ctx.esms = d.esms;
  ctx.objects = d.objects;
  ctx.tables = d.tables;
  ctx.stacks = d.stacks;
  /* function instances of stack roles get temporary credentials checked on every call */
  ctx.creds = ll_creds_new();
  ctx.time_scale = retry_scale;
  ll_engine_set_credentials(d.engine, ll_api_creds_mint, ll_api_creds_revoke, &ctx);
  /* Functions reach the daemon's APIs (S3 first of all) at the address it listens on. */
  char endpoint[160];
  snprintf(endpoint, sizeof endpoint, "http://%s%s%s:%d", strchr(host, ':') ? "[" : "",
           strcmp(host, "0.0.0.0") == 0 ? "127.0.0.1" : host, strchr(host, ':') ? "]" : "", bound);
  ll_engine_set_api_endpoint(d.engine, endpoint);
  uv_signal_init(d.loop, &d.sigterm);
  uv_signal_init(d.loop, &d.sigint);
  d.sigterm.data = d.sigint.data = &d;
  uv_signal_start(&d.sigterm, on_signal, SIGTERM);
  uv_signal_start(&d.sigint, on_signal, SIGINT);
  fprintf(stderr, "lambdalite: listening on http://%s:%d (data dir %s)\n", host, bound, data_dir);
  uv_run(d.loop, UV_RUN_DEFAULT);
  ll_objstore_close(d.objects);
  ll_tables_close(d.tables);
  ll_creds_free(ctx.creds);
  int rc = uv_loop_close(d.loop) == 0 ? 0 : 0;
  free(data_dir);
  return rc;
}

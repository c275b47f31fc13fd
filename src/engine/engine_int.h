/* Private to src/engine: the structures shared by its files. */
#ifndef LL_ENGINE_INT_H
#define LL_ENGINE_INT_H

#include <sqlite3.h>
#include <uv.h>

#include "core/buf.h"
#include "engine/engine.h"
#include "engine/logs.h"

typedef struct ll_invocation ll_invocation_t;
typedef struct ll_pool_shape ll_pool_shape_t;
#define LL__POOL_SHAPES 8 /* shapes the warm pool keeps sandboxes for */
struct ll_sandbox_spec;

struct ll_engine {
  uv_loop_t *loop;
  ll_engine_config_t cfg;
  ll_destination_fn destination; /* non-function destinations (ll_engine_set_destination) */
  void *destination_ud;
  char *data_dir;
  char *tmp_disk_dir;      /* data_dir/sandbox-tmp: where sandboxes' /tmp images are made */
  char *region, *account;
  char *api_endpoint;      /* or NULL: AWS_ENDPOINT_URL of functions */
  sqlite3 *db;
  /* functions and layers, kept sorted by name in plain arrays (hundreds at most) */
  ll_function_t **fns;
  size_t nfns;
  ll_layer_version_t **layers;
  size_t nlayers;
  /* credentials */
  char **keys, **secrets;
  size_t nkeys;
  bool dev_key_enabled;
  ll_creds_mint_fn creds_mint; /* or NULL: every instance gets the development pair */
  ll_creds_revoke_fn creds_revoke;
  void *creds_ud;
  /* instances */
  ll_instance_t *instances; /* every live instance (list via next_all) */
  uv_timer_t reaper;
  uv_prepare_t flusher; /* flushes log streams once per loop turn */
  bool closing;
  int refs; /* the engine's own handles + one per live instance: freed at 0 */
  uint64_t instance_seq;
  int reserved_total;      /* sum of the functions' reserved concurrency */
  int64_t memory_in_use_mb; /* MemorySize of every live instance */
  int64_t memory_evicting_mb; /* of those, what idle instances stopped to make room will free */
  uv_timer_t async_timer;  /* asyncq.c: runs due events */
  int64_t *async_running;  /* owned: ids of the events being run */
  size_t async_nrunning;
  int inflight_unreserved; /* invocations in flight drawing on the unreserved pool */
  ll_pool_shape_t *pool_shapes[LL__POOL_SHAPES]; /* pool.c: prepared sandboxes by shape */
  size_t npool_shapes;
  uint64_t pool_seq;
};

/* Scheduler state of one function. */
typedef struct ll_sched_fn {
  ll_invocation_t *queue_head, *queue_tail; /* waiting for an instance */
  size_t nqueued;
  ll_instance_t *idle;                      /* idle instances, most recently used first */
  ll_instance_t *returning;                 /* posted a result, not yet back in /next */
  int ninstances;                           /* alive (starting, idle, busy) */
} ll_sched_fn_t;

enum inst_state {
  INST_STARTING, /* spawned; its first /next ends init */
  INST_IDLE,     /* parked in /next, no event */
  INST_BUSY,     /* an event was delivered; waiting for its result */
  INST_POSTED,   /* result posted; waiting for the next /next */
  INST_DEAD,     /* killed or exited; handles closing */
};

struct ll_invocation {
  ll_invocation_t *next;   /* queue link */
  ll_engine_t *engine;
  ll_function_t *fn;       /* referenced */
  char request_id[37];
  char *payload;           /* owned */
  size_t len;
  char *content_type;      /* owned */
  char *invoked_arn;       /* owned */
  char trace_id[128];
  char *client_context;    /* owned or NULL */
  bool want_tail, async;
  bool unreserved;         /* counted in engine->inflight_unreserved */
  int64_t memory_wait_since_ms; /* waiting for memory to start an instance in, or 0 */
  ll_buf_t tail;           /* this invocation's log lines, when want_tail */
  ll_invoke_cb cb;
  void *ud;
  uint64_t start_ns;       /* when delivered to the runtime */
  int64_t deadline_ms;
  ll_instance_t *inst;
};

struct ll_instance {
  ll_instance_t *next_all, *prev_all; /* engine's list of every instance */
  ll_instance_t *next_idle;           /* link in the idle or the returning list */
  bool slow_return;                   /* missed the grace for coming back: not waited for */
  ll_engine_t *engine;
  ll_function_t *fn;                  /* referenced */
  uint64_t generation;                /* fn->generation when spawned */
  uint64_t id;
  enum inst_state state;
  uv_process_t proc;                  /* plain process (sandbox off) */
  struct ll_sandbox *sandbox;         /* owned (sandbox on) */
  int pidfd;                          /* sandbox on: watched by exit_poll */
  uv_poll_t exit_poll;
  bool oom;                           /* the sandbox's OOM killer ended it */
  bool launching;                     /* its sandbox is being made on the thread pool */
  bool kill_pending;                  /* killed while launching: kill once it exists */
  char launch_error[300];             /* why the sandbox could not be made, or "" */
  uv_poll_t out_poll;                 /* the read end of stdout+stderr */
  int out_fd;
  uv_timer_t timer;                   /* init limit, then the invocation deadline */
  int handles_open;
  void *endpoint;                     /* Runtime API listener handle */
  int port;
  pid_t pid;
  ll_invocation_t *inv;               /* assigned or running */
  void (*deliver)(void *w, const ll_invocation_view_t *v); /* parked /next */
  void *waiter;
  uint64_t spawn_ns, init_ns;         /* init duration, reported once */
  bool init_reported;
  int64_t idle_since_ms;
  ll_log_stream_t *log;
  ll_buf_t line;                      /* partial output line */
  int invocations;
  int memory_mb;                      /* counted in engine->memory_in_use_mb */
  bool evicted;                       /* stopped to make room (memory_evicting_mb) */
  int rss_mb;                         /* peak RSS last read from /proc, and when */
  uint64_t rss_read_ns;
  char last_request_id[37];           /* of the last completed event (a second result is 403) */
  char cred_key[32];                  /* its temporary credential's key (revoked at the end), or "" */
  int64_t cred_expires_ms;            /* when that credential expires (wall clock), or 0 */
};

/* store.c: the metadata database (SQLite, WAL) under data_dir/meta.db. */
int ll__store_open(ll_engine_t *e, ll_err_t *err);
void ll__store_close(ll_engine_t *e);
int ll__store_save_function(ll_engine_t *e, const ll_function_t *fn, ll_err_t *err);
int ll__store_delete_function(ll_engine_t *e, const char *name);
int ll__store_save_layer(ll_engine_t *e, const ll_layer_version_t *lv, ll_err_t *err);
int ll__store_delete_layer(ll_engine_t *e, const char *name, int version);

/* function.c */
ll_function_t *ll__function_from_record(ll_engine_t *e, json_t *rec);
void ll__function_insert(ll_engine_t *e, ll_function_t *fn);
/* Removes the function's superseded code revisions and layer merges (at start, when no
 * instance can be using them). */
void ll__function_prune(ll_engine_t *e, const ll_function_t *fn);
ll_layer_version_t *ll__layer_from_record(ll_engine_t *e, json_t *rec);
void ll__layer_insert(ll_engine_t *e, ll_layer_version_t *lv);
void ll__functions_free(ll_engine_t *e);

/* scheduler.c */
void ll__sched_init(ll_function_t *fn);
/* Fails everything queued for fn (deleted function) and stops its idle instances. */
void ll__sched_drain(ll_function_t *fn);
/* Stops fn's idle instances (its code or configuration changed). */
void ll__sched_retire_idle(ll_function_t *fn);
/* An instance has just become idle (parked /next): give it work or park it. */
void ll__sched_instance_idle(ll_instance_t *inst);
/* An instance finished (exited or was killed) while in state `was`: complete (or, if it was
 * only held for it, requeue) its invocation. */
void ll__sched_instance_gone(ll_instance_t *inst, enum inst_state was, const char *why_exit);
void ll__invocation_complete(ll_invocation_t *inv, enum ll_invoke_status status, const char *body,
                             size_t len, const char *content_type);
/* Periodic: stops instances idle for longer than the idle timeout. */
void ll__sched_reap(ll_engine_t *e);

/* instance.c */
ll_instance_t *ll__instance_spawn(ll_engine_t *e, ll_function_t *fn, ll_invocation_t *inv,
                                  ll_err_t *err);
/* SIGKILLs the instance's process group; cleanup follows when the process is reaped. */
void ll__instance_kill(ll_instance_t *inst);
/* Reads whatever output is pending (called before END so lines land in order). */
void ll__instance_drain_output(ll_instance_t *inst);
/* Peak RSS in MB of the instance's process (re-read from /proc at most every 100 ms: the
 * read costs more than the rest of a warm invoke's bookkeeping). */
int ll__instance_max_rss_mb(ll_instance_t *inst);
/* Writes one log line for the instance (and into its invocation's tail). */
void ll__instance_log(ll_instance_t *inst, const char *line, size_t len);
/* The sandbox spec every instance of this memory and /tmp size shares (limits, network, mount
 * points); name (kept by the caller) names its cgroup. The program and the mounts' host paths
 * are left for the instance. */
void ll__sandbox_shape(const ll_engine_t *e, int memory_mb, int tmp_mb, const char *name,
                       struct ll_sandbox_spec *out);
/* A function's /tmp size in MB (EphemeralStorage, 512 by default). */
int ll__function_tmp_mb(const ll_function_t *fn);

/* pool.c: sandboxes prepared ahead of cold starts (cfg.warm_pool per shape). want: keep the
 * shape's pool full (prepares on the thread pool); take: a prepared sandbox of the shape, or
 * NULL (and the pool refills); close: destroys every prepared sandbox. */
void ll__pool_want(ll_engine_t *e, int memory_mb, int tmp_mb);
struct ll_sandbox *ll__pool_take(ll_engine_t *e, int memory_mb, int tmp_mb);
void ll__pool_close(ll_engine_t *e);

void ll__engine_unref(ll_engine_t *e);

/* asyncq.c: the durable queue of Event invocations (table async_events). */
int ll__asyncq_open(ll_engine_t *e, ll_err_t *err);

/* Helpers shared by function.c and store.c. */
int ll__mkdirs(const char *path, int mode);
int ll__rmtree(const char *path);

#endif

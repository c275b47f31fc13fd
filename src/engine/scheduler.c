/* The scheduler: per-function queues of invocations, idle instances reused warm (most recently
 * used first), new instances started up to the per-function cap, deadlines, and the platform
 * log lines (START / END / REPORT) of every invocation. It also holds the engine's side of the
 * Runtime API state machine (aws-wire-contract.md §1). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/mem.h"
#include "core/random.h"
#include "engine/engine_int.h"

#define INIT_LIMIT_MS 10000 /* AWS's init phase limit */
/* An instance that has just posted a result is about to ask for the next event: an invocation
 * waits this long for it before a new instance is started instead (keeps sequential invokes
 * warm, as users expect). */
#define RETURN_GRACE_MS 50
/* An invocation that cannot start an instance for lack of memory (the budget) waits this long
 * for some to be freed, then is throttled. */
#define MEMORY_WAIT_MS 1000

static void dispatch(ll_function_t *fn);

void ll__sched_init(ll_function_t *fn) { fn->sched = ll_calloc(1, sizeof *fn->sched); }

static void enqueue(ll_sched_fn_t *s, ll_invocation_t *inv) {
  inv->next = NULL;
  if (s->queue_tail)
    s->queue_tail->next = inv;
  else
    s->queue_head = inv;
  s->queue_tail = inv;
  s->nqueued++;
}

/* Puts inv back at the head of the queue (it was held for an instance that did not take it). */
static void requeue_front(ll_sched_fn_t *s, ll_invocation_t *inv) {
  inv->inst = NULL;
  inv->next = s->queue_head;
  s->queue_head = inv;
  if (!s->queue_tail) s->queue_tail = inv;
  s->nqueued++;
}

static ll_invocation_t *dequeue(ll_sched_fn_t *s) {
  ll_invocation_t *inv = s->queue_head;
  if (!inv) return NULL;
  s->queue_head = inv->next;
  if (!s->queue_head) s->queue_tail = NULL;
  s->nqueued--;
  inv->next = NULL;
  return inv;
}

static void list_remove(ll_instance_t **head, ll_instance_t *inst) {
  for (ll_instance_t **p = head; *p; p = &(*p)->next_idle) {
    if (*p == inst) {
      *p = inst->next_idle;
      inst->next_idle = NULL;
      return;
    }
  }
}

static void log_line(ll_instance_t *inst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_line(ll_instance_t *inst, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  ll__instance_log(inst, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* "START RequestId: <id> Version: $LATEST" / "END RequestId: <id>" (hot: no printf). */
static void log_marker(ll_instance_t *inst, const char *what, const char *id, const char *tail) {
  char buf[128];
  size_t a = strlen(what), b = strlen(id), c = strlen(tail);
  memcpy(buf, what, a);
  memcpy(buf + a, id, b);
  memcpy(buf + a + b, tail, c);
  ll__instance_log(inst, buf, a + b + c);
}

static void invocation_free(ll_invocation_t *inv) {
  inv->fn->inflight--;
  if (inv->unreserved) inv->engine->inflight_unreserved--;
  free(inv->payload);
  free(inv->content_type);
  free(inv->invoked_arn);
  free(inv->client_context);
  ll_buf_free(&inv->tail);
  ll_function_unref(inv->fn);
  free(inv);
}

/* ---- invocations ------------------------------------------------------------------------- */

static void make_trace_id(const char *header, char *out, size_t sz) {
  /* Keep the caller's Root (and Parent/Sampled) when it sent X-Amzn-Trace-Id. */
  if (header && strncmp(header, "Root=", 5) == 0 && strlen(header) < sz) {
    snprintf(out, sz, "%s", header);
    return;
  }
  char a[25], p[17];
  ll_random_hex(a, 12);
  ll_random_hex(p, 8);
  snprintf(out, sz, "Root=1-%08x-%s;Parent=%s;Sampled=0", (unsigned)time(NULL), a, p);
}

int ll_invoke(ll_engine_t *e, ll_function_t *fn, char *payload, size_t len,
              const ll_invoke_opts_t *opts, ll_invoke_cb cb, void *ud, char request_id[37],
              ll_err_t *err) {
  /* Concurrency (aws-wire-contract.md §4): a reservation caps the function; the others share
   * what no function reserved. */
  bool unreserved = fn->reserved < 0;
  if (!opts->async) {
    if (!unreserved && fn->inflight >= fn->reserved) {
      free(payload);
      return ll_err_set(err, LL_E_THROTTLED_RESERVED, "Rate Exceeded.");
    }
    if (unreserved && e->inflight_unreserved >= e->cfg.concurrency_limit - e->reserved_total) {
      free(payload);
      return ll_err_set(err, LL_E_THROTTLED_ACCOUNT, "Rate Exceeded.");
    }
  }
  ll_invocation_t *inv = ll_calloc(1, sizeof *inv);
  inv->unreserved = unreserved;
  if (unreserved) e->inflight_unreserved++;
  fn->inflight++;
  inv->engine = e;
  inv->fn = fn;
  ll_function_ref(fn);
  ll_uuid4(inv->request_id);
  memcpy(request_id, inv->request_id, 37);
  inv->payload = payload;
  inv->len = len;
  inv->content_type = ll_strdup(opts->content_type ? opts->content_type : "application/json");
  inv->invoked_arn = ll_strdup(opts->invoked_arn ? opts->invoked_arn : fn->arn);
  make_trace_id(opts->trace_header, inv->trace_id, sizeof inv->trace_id);
  inv->client_context = opts->client_context ? ll_strdup(opts->client_context) : NULL;
  inv->want_tail = opts->want_log_tail;
  inv->async = opts->async;
  inv->cb = cb;
  inv->ud = ud;
  enqueue(fn->sched, inv);
  dispatch(fn);
  return 0;
}

void ll__invocation_complete(ll_invocation_t *inv, enum ll_invoke_status status, const char *body,
                             size_t len, const char *content_type) {
  ll_instance_t *inst = inv->inst;
  if (inst) {
    uv_timer_stop(&inst->timer);
    ll__instance_drain_output(inst); /* the function's lines come before END */
    uint64_t now = ll_mono_ns();
    if (!inv->start_ns) {
      inv->start_ns = now;
      log_marker(inst, "START RequestId: ", inv->request_id, " Version: $LATEST");
    }
    double ms = (double)(now - inv->start_ns) / 1e6;
    char init[64] = "";
    double init_ms = 0;
    if (!inst->init_reported && inst->init_ns) {
      init_ms = (double)inst->init_ns / 1e6;
      snprintf(init, sizeof init, "Init Duration: %.2f ms\t", init_ms);
      inst->init_reported = true;
    }
    log_marker(inst, "END RequestId: ", inv->request_id, "");
    /* Billed in 1 ms units; since Aug 2025 the init phase is billed too. */
    log_line(inst,
             "REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %.0f ms\tMemory Size: %d "
             "MB\tMax Memory Used: %d MB\t%s",
             inv->request_id, ms, ceil(ms + init_ms), inv->fn->memory_mb,
             ll__instance_max_rss_mb(inst), init);
    inst->inv = NULL;
    inst->invocations++;
  }
  if (inv->cb) {
    ll_invoke_result_t res = {
        .status = status,
        .body = body,
        .len = len,
        .content_type = content_type ? content_type : "application/json",
        .request_id = inv->request_id,
    };
    if (inv->want_tail) {
      size_t n = inv->tail.len < LL_LOG_TAIL_MAX ? inv->tail.len : LL_LOG_TAIL_MAX;
      res.log_tail = inv->tail.data + inv->tail.len - n;
      res.log_tail_len = n;
    }
    inv->cb(inv->ud, &res);
  }
  invocation_free(inv);
}

/* Completes inv with a platform error in AWS's shape. */
static void complete_platform_error(ll_invocation_t *inv, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void complete_platform_error(ll_invocation_t *inv, const char *type, const char *fmt, ...) {
  char msg[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  json_t *j = json_pack("{s:s,s:s}", "errorType", type, "errorMessage", msg);
  char *body = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  ll__invocation_complete(inv, LL_INVOKE_FUNCTION_ERROR, body, strlen(body), NULL);
  free(body);
}

static void on_deadline(uv_timer_t *t);

/* Sends inst's assigned invocation to its parked /next. */
static void deliver(ll_instance_t *inst) {
  ll_invocation_t *inv = inst->inv;
  void (*cb)(void *, const ll_invocation_view_t *) = inst->deliver;
  void *w = inst->waiter;
  inst->deliver = NULL;
  inst->waiter = NULL;
  inst->state = INST_BUSY;
  inv->start_ns = ll_mono_ns();
  inv->deadline_ms = ll_wall_ms() + (int64_t)inv->fn->timeout_s * 1000;
  log_marker(inst, "START RequestId: ", inv->request_id, " Version: $LATEST");
  uv_timer_start(&inst->timer, on_deadline, (uint64_t)inv->fn->timeout_s * 1000, 0);
  ll_invocation_view_t v = {
      .request_id = inv->request_id,
      .deadline_ms = inv->deadline_ms,
      .invoked_arn = inv->invoked_arn,
      .trace_id = inv->trace_id,
      .client_context = inv->client_context,
      .payload = inv->payload,
      .len = inv->len,
      .content_type = inv->content_type,
  };
  cb(w, &v);
}

/* The deadline (or the init limit) passed: answer as AWS does and reset the environment. */
static void on_deadline(uv_timer_t *t) {
  ll_instance_t *inst = t->data;
  ll_invocation_t *inv = inst->inv;
  if (inv) {
    double limit = inst->state == INST_STARTING ? INIT_LIMIT_MS / 1000.0 : inv->fn->timeout_s;
    double elapsed = (double)(ll_mono_ns() - (inv->start_ns ? inv->start_ns : inst->spawn_ns)) / 1e9;
    char ts[40];
    ll_format_iso_ms(ll_wall_ms(), ts, sizeof ts);
    log_line(inst, "%s %s Task timed out after %.2f seconds", ts, inv->request_id, elapsed);
    complete_platform_error(inv, "Sandbox.Timedout",
                            "RequestId: %s Error: Task timed out after %.2f seconds",
                            inv->request_id, limit);
  }
  inst->state = INST_POSTED; /* no longer usable; the kill below ends it */
  ll__instance_kill(inst);
}

static void start_instance(ll_function_t *fn, ll_invocation_t *inv) {
  ll_engine_t *e = inv->engine;
  ll_err_t err = LL_ERR_INIT;
  ll_instance_t *inst = ll__instance_spawn(e, fn, inv, &err);
  if (!inst) {
    if (err.code == 2 /* ENOENT: no bootstrap */)
      complete_platform_error(inv, "Runtime.InvalidEntrypoint", "RequestId: %s Error: %s",
                              inv->request_id, err.msg);
    else
      complete_platform_error(inv, "Runtime.ExitError", "RequestId: %s Error: %s",
                              inv->request_id, err.msg);
    return;
  }
  fn->sched->ninstances++;
  inst->memory_mb = fn->memory_mb;
  e->memory_in_use_mb += inst->memory_mb;
  uv_timer_start(&inst->timer, on_deadline, INIT_LIMIT_MS, 0);
}

/* Stops the idle instance (of any function) idle the longest, to free its memory; false when
 * there is none. Its memory counts as free once it is gone (ll__sched_instance_gone). */
static bool evict_one_idle(ll_engine_t *e) {
  ll_instance_t *oldest = NULL;
  ll_function_t *owner = NULL;
  for (size_t i = 0; i < e->nfns; i++)
    for (ll_instance_t *in = e->fns[i]->sched->idle; in; in = in->next_idle)
      if (!oldest || in->idle_since_ms < oldest->idle_since_ms) oldest = in, owner = e->fns[i];
  if (!oldest) return false;
  list_remove(&owner->sched->idle, oldest);
  oldest->state = INST_POSTED;
  oldest->evicted = true;
  e->memory_evicting_mb += oldest->memory_mb;
  ll__instance_kill(oldest);
  return true;
}

/* Whether starting an instance of fn fits the memory budget (evicting idle instances of any
 * function to make room: their memory is back once they have exited). */
static bool memory_allows(ll_engine_t *e, ll_function_t *fn) {
  int64_t need = e->memory_in_use_mb + fn->memory_mb - e->cfg.memory_budget_mb;
  if (need <= 0) return true;
  if (e->memory_evicting_mb < need) evict_one_idle(e); /* else enough is on its way */
  return false;
}

/* Whether the instance's temporary credential would expire before an event given to it now
 * could time out: such an instance takes no more events (credentials rotate with instances). */
static bool creds_expiring(const ll_instance_t *inst) {
  return inst->cred_expires_ms &&
         ll_wall_ms() + (int64_t)inst->fn->timeout_s * 1000 >= inst->cred_expires_ms;
}

static void on_return_grace(uv_timer_t *t);

/* A returning instance that can take the next event as soon as it asks, or NULL. */
static ll_instance_t *returning_candidate(ll_sched_fn_t *s) {
  for (ll_instance_t *in = s->returning; in; in = in->next_idle)
    if (!in->inv && !in->slow_return && !creds_expiring(in)) return in;
  return NULL;
}

static void dispatch(ll_function_t *fn) {
  ll_sched_fn_t *s = fn->sched;
  ll_engine_t *e = NULL;
  while (s->queue_head) {
    e = s->queue_head->engine;
    ll_instance_t *inst;
    if (s->idle) {
      inst = s->idle;
      s->idle = inst->next_idle;
      inst->next_idle = NULL;
      if (creds_expiring(inst)) {
        ll__instance_kill(inst);
        continue;
      }
      ll_invocation_t *inv = dequeue(s);
      inst->inv = inv;
      inv->inst = inst;
      deliver(inst);
      continue;
    }
    if ((inst = returning_candidate(s))) {
      ll_invocation_t *inv = dequeue(s);
      inst->inv = inv;
      inv->inst = inst;
      uv_timer_start(&inst->timer, on_return_grace, RETURN_GRACE_MS, 0);
      continue;
    }
    if (s->ninstances < e->cfg.max_instances && !e->closing) {
      if (!memory_allows(e, fn)) {
        /* over the budget: wait for memory (see ll__sched_reap) */
        for (ll_invocation_t *q = s->queue_head; q; q = q->next)
          if (!q->memory_wait_since_ms) q->memory_wait_since_ms = ll_wall_ms();
        break;
      }
      ll_invocation_t *inv = dequeue(s);
      inv->memory_wait_since_ms = 0;
      start_instance(fn, inv);
      continue;
    }
    break; /* at the cap: the queue waits for an instance to come back */
  }
}

/* ---- the Runtime API state machine ------------------------------------------------------- */

static bool must_retire(ll_instance_t *inst) {
  ll_engine_t *e = inst->engine;
  return e->closing || inst->fn->deleted || inst->generation != inst->fn->generation ||
         (e->cfg.idle_timeout_s <= 0 && inst->invocations > 0) || creds_expiring(inst);
}

/* The instance took too long to come back for the event held for it: start another. */
static void on_return_grace(uv_timer_t *t) {
  ll_instance_t *inst = t->data;
  ll_invocation_t *inv = inst->inv;
  inst->slow_return = true;
  if (!inv) return;
  inst->inv = NULL;
  requeue_front(inst->fn->sched, inv);
  dispatch(inst->fn);
}

void ll__sched_instance_idle(ll_instance_t *inst) {
  ll_sched_fn_t *s = inst->fn->sched;
  if (must_retire(inst)) {
    ll__instance_kill(inst);
    return;
  }
  ll_invocation_t *inv = dequeue(s);
  if (inv) {
    inst->inv = inv;
    inv->inst = inst;
    deliver(inst);
    return;
  }
  inst->state = INST_IDLE;
  inst->idle_since_ms = ll_wall_ms();
  inst->next_idle = s->idle;
  s->idle = inst;
}

void ll_instance_next(ll_instance_t *inst, void (*cb)(void *w, const ll_invocation_view_t *v),
                      void *w) {
  if (inst->state == INST_DEAD) return;
  if (inst->state == INST_BUSY && inst->inv) {
    /* A second /next before a result: the same event again (RIE behaviour). */
    inst->deliver = cb;
    inst->waiter = w;
    ll_invocation_t *inv = inst->inv;
    inst->deliver = NULL;
    inst->waiter = NULL;
    ll_invocation_view_t v = {inv->request_id, inv->deadline_ms, inv->invoked_arn, inv->trace_id,
                              inv->client_context, inv->payload, inv->len, inv->content_type};
    cb(w, &v);
    return;
  }
  inst->deliver = cb;
  inst->waiter = w;
  if (inst->state == INST_POSTED) {
    list_remove(&inst->fn->sched->returning, inst);
    inst->slow_return = false;
    uv_timer_stop(&inst->timer);
    if (inst->inv) { /* an event was held for it */
      if (must_retire(inst)) {
        /* it may not serve again: hand the event back before it goes */
        on_return_grace(&inst->timer);
      } else {
        deliver(inst);
        return;
      }
    }
  }
  if (inst->state == INST_STARTING) {
    inst->init_ns = ll_mono_ns() - inst->spawn_ns; /* init ends at the first /next */
    uv_timer_stop(&inst->timer);
    if (inst->inv) {
      deliver(inst);
      return;
    }
  }
  if (inst->state == INST_IDLE) return; /* already parked: the new waiter replaces the old */
  ll__sched_instance_idle(inst);
}

void ll_instance_next_cancel(ll_instance_t *inst, void *w) {
  if (inst->waiter != w) return;
  inst->deliver = NULL;
  inst->waiter = NULL;
  if (inst->state == INST_IDLE) {
    /* the runtime stopped waiting: it cannot take work until it asks again */
    list_remove(&inst->fn->sched->idle, inst);
    inst->state = INST_POSTED;
  }
}

static enum ll_rt_status check_id(ll_instance_t *inst, const char *request_id) {
  if (!inst->inv || strcmp(inst->inv->request_id, request_id) != 0) {
    if (inst->state == INST_POSTED && strcmp(inst->last_request_id, request_id) == 0)
      return LL_RT_INVALID_STATE; /* a second result for the same event */
    return LL_RT_INVALID_ID;
  }
  if (inst->state != INST_BUSY) return LL_RT_INVALID_STATE;
  return LL_RT_ACCEPTED;
}

static void finish(ll_instance_t *inst, enum ll_invoke_status st, const char *body, size_t len,
                   const char *ctype) {
  ll_invocation_t *inv = inst->inv;
  memcpy(inst->last_request_id, inv->request_id, sizeof inst->last_request_id);
  inst->state = INST_POSTED;
  ll__invocation_complete(inv, st, body, len, ctype);
  ll_sched_fn_t *s = inst->fn->sched;
  inst->next_idle = s->returning;
  s->returning = inst;
  if (s->queue_head) dispatch(inst->fn);
}

enum ll_rt_status ll_instance_response(ll_instance_t *inst, const char *request_id,
                                       const char *body, size_t len, const char *content_type,
                                       bool too_large) {
  enum ll_rt_status st = check_id(inst, request_id);
  if (st != LL_RT_ACCEPTED) return st;
  if (too_large) {
    static const char msg[] =
        "{\"errorMessage\":\"Response payload size exceeded maximum allowed payload size "
        "(6291556 bytes).\",\"errorType\":\"Function.ResponseSizeTooLarge\"}";
    finish(inst, LL_INVOKE_FUNCTION_ERROR, msg, sizeof msg - 1, NULL);
    return LL_RT_TOO_LARGE;
  }
  finish(inst, LL_INVOKE_OK, body, len, content_type);
  return LL_RT_ACCEPTED;
}

enum ll_rt_status ll_instance_error(ll_instance_t *inst, const char *request_id, const char *body,
                                    size_t len, const char *error_type) {
  enum ll_rt_status st = check_id(inst, request_id);
  if (st != LL_RT_ACCEPTED) return st;
  if (len == 0) {
    json_t *j = json_pack("{s:s,s:s}", "errorType", error_type ? error_type : "Runtime.Unknown",
                          "errorMessage", "");
    char *b = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    finish(inst, LL_INVOKE_FUNCTION_ERROR, b, strlen(b), NULL);
    free(b);
  } else {
    finish(inst, LL_INVOKE_FUNCTION_ERROR, body, len, NULL);
  }
  return LL_RT_ACCEPTED;
}

enum ll_rt_status ll_instance_init_error(ll_instance_t *inst, const char *body, size_t len,
                                         const char *error_type) {
  if (inst->state != INST_STARTING) return LL_RT_INVALID_STATE;
  inst->init_ns = ll_mono_ns() - inst->spawn_ns;
  uv_timer_stop(&inst->timer);
  ll_invocation_t *inv = inst->inv;
  inst->state = INST_POSTED;
  if (inv) {
    if (len == 0)
      complete_platform_error(inv, error_type ? error_type : "Runtime.InitError",
                              "RequestId: %s Error: the runtime failed to initialize",
                              inv->request_id);
    else
      ll__invocation_complete(inv, LL_INVOKE_FUNCTION_ERROR, body, len, NULL);
  }
  /* The environment is discarded; the next invoke initializes a fresh one. */
  ll__instance_kill(inst);
  return LL_RT_ACCEPTED;
}

/* ---- instance end, retirement, reaping --------------------------------------------------- */

void ll__sched_instance_gone(ll_instance_t *inst, enum inst_state was, const char *why) {
  ll_function_t *fn = inst->fn;
  inst->engine->memory_in_use_mb -= inst->memory_mb;
  if (inst->evicted) inst->engine->memory_evicting_mb -= inst->memory_mb;
  inst->memory_mb = 0;
  list_remove(&fn->sched->idle, inst);
  list_remove(&fn->sched->returning, inst);
  fn->sched->ninstances--;
  uv_timer_stop(&inst->timer);
  ll_invocation_t *inv = inst->inv;
  if (inv && was == INST_POSTED && !inv->start_ns) {
    /* held for this instance but never delivered: it goes back in line */
    inst->inv = NULL;
    requeue_front(fn->sched, inv);
    inv = NULL;
  }
  if (inv) {
    if (inst->launch_error[0])
      complete_platform_error(inv, "Runtime.ExitError", "RequestId: %s Error: %s",
                              inv->request_id, inst->launch_error);
    else if (inst->oom)
      complete_platform_error(inv, "Runtime.OutOfMemory",
                              "RequestId: %s Error: Runtime exited with error: %s",
                              inv->request_id, why);
    else if (strcmp(why, "exit status 0") == 0)
      complete_platform_error(inv, "Runtime.ExitError",
                              "RequestId: %s Error: Runtime exited without providing a reason",
                              inv->request_id);
    else
      complete_platform_error(inv, "Runtime.ExitError",
                              "RequestId: %s Error: Runtime exited with error: %s",
                              inv->request_id, why);
  }
  if (fn->deleted || inst->engine->closing) {
    ll__sched_drain(fn);
    return;
  }
  dispatch(fn); /* capacity came back */
  /* and memory: other functions may be waiting for it */
  ll_engine_t *e = inst->engine;
  for (size_t i = 0; i < e->nfns; i++)
    if (e->fns[i] != fn && e->fns[i]->sched->queue_head) dispatch(e->fns[i]);
}

void ll__sched_retire_idle(ll_function_t *fn) {
  ll_sched_fn_t *s = fn->sched;
  while (s->idle) {
    ll_instance_t *inst = s->idle;
    s->idle = inst->next_idle;
    inst->next_idle = NULL;
    inst->state = INST_POSTED;
    ll__instance_kill(inst);
  }
}

void ll__sched_drain(ll_function_t *fn) {
  ll_sched_fn_t *s = fn->sched;
  ll_invocation_t *inv;
  while ((inv = dequeue(s))) {
    if (inv->cb) {
      ll_invoke_result_t res = {.status = LL_INVOKE_GONE, .request_id = inv->request_id};
      inv->cb(inv->ud, &res);
    }
    invocation_free(inv);
  }
  ll__sched_retire_idle(fn);
}

/* Throttles invocations that waited too long for memory. */
static void throttle_memory_waiters(ll_engine_t *e, int64_t now) {
  for (size_t i = 0; i < e->nfns; i++) {
    ll_sched_fn_t *s = e->fns[i]->sched;
    ll_invocation_t *keep_head = NULL, *keep_tail = NULL, *inv;
    size_t kept = 0;
    while ((inv = dequeue(s))) {
      if (inv->memory_wait_since_ms && now - inv->memory_wait_since_ms >= MEMORY_WAIT_MS) {
        if (inv->cb) {
          ll_invoke_result_t res = {.status = LL_INVOKE_THROTTLED, .request_id = inv->request_id};
          inv->cb(inv->ud, &res);
        }
        invocation_free(inv);
        continue;
      }
      inv->next = NULL;
      if (keep_tail) keep_tail->next = inv; else keep_head = inv;
      keep_tail = inv;
      kept++;
    }
    s->queue_head = keep_head;
    s->queue_tail = keep_tail;
    s->nqueued = kept;
  }
}

void ll__sched_reap(ll_engine_t *e) {
  int64_t now = ll_wall_ms();
  int64_t limit = (int64_t)(e->cfg.idle_timeout_s * 1000);
  throttle_memory_waiters(e, now);
  for (size_t i = 0; i < e->nfns; i++) {
    ll_sched_fn_t *s = e->fns[i]->sched;
    for (ll_instance_t **p = &s->idle; *p;) {
      ll_instance_t *inst = *p;
      if (now - inst->idle_since_ms >= limit) {
        *p = inst->next_idle;
        inst->next_idle = NULL;
        inst->state = INST_POSTED;
        ll__instance_kill(inst);
      } else {
        p = &inst->next_idle;
      }
    }
  }
}

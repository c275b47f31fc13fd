/* The warm pool: sandboxes prepared ahead of need, so that a cold start only has to hand one
 * its program (ll_sandbox_start, a fraction of a millisecond) instead of making namespaces, a
 * cgroup, a root filesystem and — with --network none — a network namespace (a few ms).
 *
 * A prepared sandbox fits any function of its shape: memory size (the cgroup's limit and CPU
 * share) and /tmp size; everything else is the same for every instance of this daemon. The
 * pool keeps cfg.warm_pool sandboxes ready for each of the shapes most recently wanted (at
 * most LL__POOL_SHAPES): the shapes of the functions present at start, of each function created or
 * reconfigured, and of each cold start. Preparing runs on the loop's thread pool; a taken
 * sandbox is replaced at once. Prepared sandboxes hold no memory budget: their cgroups are
 * empty but for one waiting process. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/mem.h"
#include "engine/engine_int.h"
#include "sandbox/sandbox.h"

typedef struct pooled {
  struct pooled *next;
  ll_sandbox_t *sb;
} pooled_t;

struct ll_pool_shape {
  int memory_mb, tmp_mb;
  pooled_t *ready;
  int nready, preparing;
  int64_t wanted_ms; /* last wanted: the least recent shape goes first */
};

typedef struct prepare_job {
  uv_work_t work;
  ll_engine_t *e;
  int memory_mb, tmp_mb;
  uint64_t seq;     /* names its cgroup */
  ll_sandbox_t *sb; /* result */
  ll_err_t err;
} prepare_job_t;

static void destroy_ready(ll_pool_shape_t *s) {
  while (s->ready) {
    pooled_t *p = s->ready;
    s->ready = p->next;
    ll_sandbox_destroy(p->sb);
    free(p);
  }
  s->nready = 0;
}

static ll_pool_shape_t *find_shape(ll_engine_t *e, int memory_mb, int tmp_mb) {
  for (size_t i = 0; i < e->npool_shapes; i++)
    if (e->pool_shapes[i]->memory_mb == memory_mb && e->pool_shapes[i]->tmp_mb == tmp_mb)
      return e->pool_shapes[i];
  return NULL;
}

static void prepare_work(uv_work_t *w) {
  prepare_job_t *j = w->data;
  ll_sandbox_spec_t spec;
  char name[64];
  snprintf(name, sizeof name, "%d-p%llu", (int)getpid(), (unsigned long long)j->seq);
  ll__sandbox_shape(j->e, j->memory_mb, j->tmp_mb, name, &spec);
  if (ll_sandbox_prepare(&spec, &j->sb, &j->err) < 0) j->sb = NULL;
}

static void fill(ll_engine_t *e, ll_pool_shape_t *s);

static void prepare_done(uv_work_t *w, int status) {
  prepare_job_t *j = w->data;
  ll_engine_t *e = j->e;
  ll_pool_shape_t *s = e->closing ? NULL : find_shape(e, j->memory_mb, j->tmp_mb);
  if (s) s->preparing--;
  if (status == 0 && j->sb && s && s->nready < e->cfg.warm_pool) {
    pooled_t *p = ll_calloc(1, sizeof *p), **tail = &s->ready;
    p->sb = j->sb;
    while (*tail) tail = &(*tail)->next; /* oldest first out: none waits forever */
    *tail = p;
    s->nready++;
    fill(e, s);
  } else {
    if (j->sb) ll_sandbox_destroy(j->sb);
    /* a failed preparation is not retried here: the next cold start launches the slow way
     * (and says why, if the failure is the sandbox's), then asks again */
    if (!j->sb && status == 0 && !e->closing)
      fprintf(stderr, "lambdalite: warm pool: %s\n", j->err.msg);
  }
  free(j);
  ll__engine_unref(e);
}

/* Starts preparations until the shape has cfg.warm_pool ready or on the way. */
static void fill(ll_engine_t *e, ll_pool_shape_t *s) {
  while (!e->closing && s->nready + s->preparing < e->cfg.warm_pool) {
    prepare_job_t *j = ll_calloc(1, sizeof *j);
    j->e = e;
    j->memory_mb = s->memory_mb;
    j->tmp_mb = s->tmp_mb;
    j->seq = ++e->pool_seq;
    j->work.data = j;
    s->preparing++;
    e->refs++;
    uv_queue_work(e->loop, &j->work, prepare_work, prepare_done);
  }
}

void ll__pool_want(ll_engine_t *e, int memory_mb, int tmp_mb) {
  if (!e->cfg.sandbox || e->cfg.warm_pool <= 0 || e->closing) return;
  ll_pool_shape_t *s = find_shape(e, memory_mb, tmp_mb);
  if (!s) {
    if (e->npool_shapes == LL__POOL_SHAPES) { /* the least recently wanted shape makes room */
      size_t old = 0;
      for (size_t i = 1; i < e->npool_shapes; i++)
        if (e->pool_shapes[i]->wanted_ms < e->pool_shapes[old]->wanted_ms) old = i;
      s = e->pool_shapes[old];
      destroy_ready(s);
      /* preparations on the way for it find no shape and are destroyed when they land */
      e->pool_shapes[old] = e->pool_shapes[--e->npool_shapes];
      free(s);
    }
    s = ll_calloc(1, sizeof *s);
    s->memory_mb = memory_mb;
    s->tmp_mb = tmp_mb;
    e->pool_shapes[e->npool_shapes++] = s;
  }
  s->wanted_ms = ll_wall_ms();
  fill(e, s);
}

ll_sandbox_t *ll__pool_take(ll_engine_t *e, int memory_mb, int tmp_mb) {
  ll__pool_want(e, memory_mb, tmp_mb);
  ll_pool_shape_t *s = find_shape(e, memory_mb, tmp_mb);
  if (!s || !s->ready) return NULL;
  pooled_t *p = s->ready;
  s->ready = p->next;
  s->nready--;
  ll_sandbox_t *sb = p->sb;
  free(p);
  fill(e, s);
  return sb;
}

int ll_engine_pool_ready(const ll_engine_t *e) {
  int n = 0;
  for (size_t i = 0; i < e->npool_shapes; i++) n += e->pool_shapes[i]->nready;
  return n;
}

void ll__pool_close(ll_engine_t *e) {
  for (size_t i = 0; i < e->npool_shapes; i++) {
    destroy_ready(e->pool_shapes[i]);
    free(e->pool_shapes[i]);
  }
  e->npool_shapes = 0;
}

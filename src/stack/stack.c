/* The stack engine (stack.h): template checks, dependency order, the step machine that
 * creates/updates/replaces/deletes resources through their providers (providers.c), rollback,
 * state rows, the role registry and rate() schedules. */
#include "stack/stack.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/mem.h"
#include "core/random.h"
#include "engine/engine.h"
#include "stack/stack_int.h"

typedef struct schedule {
  struct schedule *next;
  ll_stacks_t *stacks;
  char *arn;     /* the rule's ARN */
  json_t *props; /* its resolved properties (Targets, Input) */
  uv_timer_t timer;
} schedule_t;

struct ll_stacks {
  ll_stack_env_t env;
  sqlite3 *db;
  json_t *roles; /* role ARN -> [PolicyDocument, ...] */
  json_t *busy;  /* stack names with an operation in flight -> true */
  schedule_t *schedules;
  bool closed;   /* ll_stacks_close ran while operations were in flight: freed by the last */
};

const ll_stack_env_t *ll__stacks_env(ll_stacks_t *s) { return &s->env; }

/* ---- state rows ------------------------------------------------------------------------------ */

static const char schema[] = "PRAGMA journal_mode=WAL;"
                             "PRAGMA synchronous=NORMAL;"
                             "CREATE TABLE IF NOT EXISTS stacks(name TEXT PRIMARY KEY, state TEXT NOT NULL);";

static json_t *load_state(ll_stacks_t *s, const char *name) {
  sqlite3_stmt *st = NULL;
  json_t *out = NULL;
  if (sqlite3_prepare_v2(s->db, "SELECT state FROM stacks WHERE name = ?1", -1, &st, NULL) != SQLITE_OK)
    return NULL;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW)
    out = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
  sqlite3_finalize(st);
  return out;
}

static void save_state(ll_stacks_t *s, const char *name, json_t *state) {
  sqlite3_stmt *st = NULL;
  char *text = json_dumps(state, JSON_COMPACT);
  if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO stacks(name, state) VALUES(?1, ?2)", -1,
                         &st, NULL) != SQLITE_OK ||
      sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) != SQLITE_OK ||
      sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC) != SQLITE_OK ||
      sqlite3_step(st) != SQLITE_DONE)
    fprintf(stderr, "lambdalite: stack %s: saving its state: %s\n", name, sqlite3_errmsg(s->db));
  sqlite3_finalize(st);
  free(text);
}

static void drop_state(ll_stacks_t *s, const char *name) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(s->db, "DELETE FROM stacks WHERE name = ?1", -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_step(st);
  }
  sqlite3_finalize(st);
}

static char *iso_now(void) {
  int64_t ms = ll_wall_ms();
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[40];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return ll_sprintf("%s.%03dZ", buf, (int)(ms % 1000));
}

/* ---- roles and schedules ------------------------------------------------------------------- */

void ll__stacks_role_set(ll_stacks_t *s, const char *arn, json_t *policies) {
  json_object_set_new(s->roles, arn, json_deep_copy(policies));
}

void ll__stacks_role_drop(ll_stacks_t *s, const char *arn) { json_object_del(s->roles, arn); }

json_t *ll_stack_role_policies(ll_stacks_t *s, const char *role_arn) {
  return role_arn ? json_object_get(s->roles, role_arn) : NULL;
}

/* rate(N minute|minutes|hour|hours|day|days) in milliseconds, or 0. */
static uint64_t rate_ms(const char *expr) {
  long n = 0;
  char unit[16] = "";
  if (!expr || sscanf(expr, "rate(%ld %15[a-z])", &n, unit) != 2 || n <= 0) return 0;
  size_t ul = strlen(unit);
  if (ul && unit[ul - 1] == ')') unit[--ul] = 0;
  bool one = n == 1;
  uint64_t per = strcmp(unit, one ? "minute" : "minutes") == 0 ? 60000
                 : strcmp(unit, one ? "hour" : "hours") == 0   ? 3600000
                 : strcmp(unit, one ? "day" : "days") == 0     ? 86400000
                                                               : 0;
  return per * (uint64_t)n;
}

static void on_schedule(uv_timer_t *t) {
  schedule_t *sc = t->data;
  ll_engine_t *e = sc->stacks->env.engine;
  json_t *targets = json_object_get(sc->props, "Targets");
  size_t i;
  json_t *tg;
  json_array_foreach(targets, i, tg) {
    const char *arn = json_string_value(json_object_get(tg, "Arn"));
    const char *fname = arn && strstr(arn, ":function:") ? strstr(arn, ":function:") + 10 : arn;
    char name[256];
    snprintf(name, sizeof name, "%.*s", fname ? (int)strcspn(fname, ":") : 0, fname ? fname : "");
    ll_function_t *fn = ll_function_find(e, name);
    if (!fn) continue;
    const char *input = json_string_value(json_object_get(tg, "Input"));
    char *payload;
    if (input) {
      payload = ll_strdup(input);
    } else { /* EventBridge's Scheduled Event */
      char id[37], *now = iso_now();
      ll_uuid4(id);
      now[19] = 'Z', now[20] = 0;
      json_t *ev = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:[s],s:{}}", "version", "0", "id", id,
                             "detail-type", "Scheduled Event", "source", "aws.events", "account",
                             ll_engine_account(e), "time", now, "region", ll_engine_region(e),
                             "resources", sc->arn, "detail");
      payload = json_dumps(ev, JSON_COMPACT);
      json_decref(ev);
      free(now);
    }
    char rid[37];
    ll_err_t err = LL_ERR_INIT;
    if (ll_invoke_async(e, fn, payload, strlen(payload), NULL, rid, &err) < 0)
      fprintf(stderr, "lambdalite: schedule %s -> %s: %s\n", sc->arn, name, err.msg);
    free(payload);
  }
}

int ll__stacks_schedule_start(ll_stacks_t *s, const char *rule_arn, json_t *props, ll_err_t *err) {
  const char *expr = json_string_value(json_object_get(props, "ScheduleExpression"));
  uint64_t ms = rate_ms(expr);
  if (!ms)
    return ll_err_set(err, LL_E_VALIDATION,
                      "Parameter ScheduleExpression is not valid: %s (rate(N minutes|hours|days) "
                      "is supported; cron() schedules are not supported yet)",
                      expr ? expr : "(missing)");
  ll__stacks_schedule_stop(s, rule_arn);
  const char *state = json_string_value(json_object_get(props, "State"));
  if (state && strcmp(state, "ENABLED") != 0) return 0;
  schedule_t *sc = ll_calloc(1, sizeof *sc);
  sc->stacks = s;
  sc->arn = ll_strdup(rule_arn);
  sc->props = json_deep_copy(props);
  uv_timer_init(s->env.loop, &sc->timer);
  sc->timer.data = sc;
  /* serve's --async-time-scale shortens schedules as it shortens the async queue's clock */
  double scale = s->env.time_scale > 0 ? s->env.time_scale : 1.0;
  uint64_t every = (uint64_t)((double)ms * scale);
  if (!every) every = 1;
  uv_timer_start(&sc->timer, on_schedule, every, every);
  sc->next = s->schedules;
  s->schedules = sc;
  return 0;
}

static void schedule_closed(uv_handle_t *h) {
  schedule_t *sc = h->data;
  free(sc->arn);
  json_decref(sc->props);
  free(sc);
}

void ll__stacks_schedule_stop(ll_stacks_t *s, const char *rule_arn) {
  for (schedule_t **p = &s->schedules; *p; p = &(*p)->next) {
    if (strcmp((*p)->arn, rule_arn) != 0) continue;
    schedule_t *sc = *p;
    *p = sc->next;
    uv_close((uv_handle_t *)&sc->timer, schedule_closed);
    return;
  }
}

/* Registers what deployed resources need at run time: roles' policies, rules' timers. */
static void activate(ll_stacks_t *s, json_t *resources) {
  const char *lid;
  json_t *r;
  json_object_foreach(resources, lid, r) {
    const char *type = json_string_value(json_object_get(r, "Type"));
    json_t *props = json_object_get(r, "Properties"), *attrs = json_object_get(r, "Attributes");
    const char *arn = json_string_value(json_object_get(attrs, "Arn"));
    if (!type || !arn) continue;
    if (strcmp(type, "AWS::IAM::Role") == 0) {
      json_t *docs = json_array();
      size_t i;
      json_t *p;
      json_array_foreach(json_object_get(props, "Policies"), i, p)
          json_array_append(docs, json_object_get(p, "PolicyDocument"));
      ll__stacks_role_set(s, arn, docs);
      json_decref(docs);
    } else if (strcmp(type, "AWS::Events::Rule") == 0) {
      ll_err_t err = LL_ERR_INIT;
      if (ll__stacks_schedule_start(s, arn, props, &err) < 0)
        fprintf(stderr, "lambdalite: schedule %s: %s\n", arn, err.msg);
    }
  }
}

int ll_stacks_open(const char *data_dir, const ll_stack_env_t *env, ll_stacks_t **out,
                   ll_err_t *err) {
  ll_stacks_t *s = ll_calloc(1, sizeof *s);
  s->env = *env;
  s->roles = json_object();
  s->busy = json_object();
  char *dir = ll_sprintf("%s/stacks", data_dir), *path = ll_sprintf("%s/stacks.db", dir);
  char *msg = NULL;
  int rc = -1;
  if (mkdir(dir, 0700) < 0 && errno != EEXIST)
    ll_err_set(err, errno, "creating %s: %s", dir, strerror(errno));
  else if (sqlite3_open(path, &s->db) != SQLITE_OK ||
           sqlite3_exec(s->db, schema, NULL, NULL, &msg) != SQLITE_OK)
    ll_err_set(err, LL_E_INTERNAL, "stacks %s: %s", path, msg ? msg : sqlite3_errmsg(s->db));
  else
    rc = 0;
  sqlite3_free(msg);
  free(dir);
  free(path);
  if (rc < 0) {
    ll_stacks_close(s);
    return -1;
  }
  /* Operations a stop interrupted end as failed; what they made is in their rows. */
  sqlite3_stmt *st = NULL;
  json_t *rows = json_array();
  if (sqlite3_prepare_v2(s->db, "SELECT state FROM stacks ORDER BY name", -1, &st, NULL) == SQLITE_OK)
    while (sqlite3_step(st) == SQLITE_ROW) {
      json_t *state = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
      if (state) json_array_append_new(rows, state);
    }
  sqlite3_finalize(st);
  size_t i;
  json_t *state;
  json_array_foreach(rows, i, state) {
    const char *status = json_string_value(json_object_get(state, "StackStatus"));
    const char *in = status ? strstr(status, "_IN_PROGRESS") : NULL;
    if (in) {
      char *failed = ll_sprintf("%.*s_FAILED", (int)(in - status), status);
      json_object_set_new(state, "StackStatus", json_string(failed));
      json_object_set_new(state, "StackStatusReason",
                          json_string("the daemon stopped during the operation; deploy or remove "
                                      "the stack again to finish"));
      save_state(s, json_string_value(json_object_get(state, "StackName")), state);
      free(failed);
    }
    activate(s, json_object_get(state, "Resources"));
  }
  json_decref(rows);
  *out = s;
  return 0;
}

static void stacks_free(ll_stacks_t *s) {
  if (s->db) sqlite3_close(s->db);
  json_decref(s->roles);
  json_decref(s->busy);
  free(s);
}

void ll_stacks_close(ll_stacks_t *s) {
  if (!s) return;
  while (s->schedules) ll__stacks_schedule_stop(s, s->schedules->arn);
  s->closed = true;
  /* an operation waiting for a function or layer job ends when that job calls back */
  if (json_object_size(s->busy) == 0) stacks_free(s);
}

/* ---- template checks ------------------------------------------------------------------------ */

static bool in_list(const char *const *list, const char *s) {
  for (; list && *list; list++)
    if (strcmp(*list, s) == 0) return true;
  return false;
}

static void list_text(ll_buf_t *b, const char *const *list) {
  for (size_t i = 0; list && list[i]; i++) ll_buf_printf(b, "%s%s", i ? ", " : "", list[i]);
}

typedef struct check_ctx {
  json_t *resources;
  const char *from;
  ll_err_t *err;
} check_ctx_t;

static int check_ref(void *ud, const char *lid, const char *attr) {
  check_ctx_t *c = ud;
  json_t *r = json_object_get(c->resources, lid);
  if (!r)
    return ll_err_set(c->err, LL_STACK_INVALID,
                      "Template format error: Unresolved resource dependencies [%s] in the "
                      "Resources block of the template", lid);
  if (attr) {
    const ll_stack_type_t *t = ll_stack_type_find(json_string_value(json_object_get(r, "Type")));
    if (t && !ll_stack_type_has_attr(t, attr)) {
      ll_buf_t b = LL_BUF_INIT;
      list_text(&b, t->attrs);
      ll_buf_append(&b, "", 1);
      ll_err_set(c->err, LL_STACK_INVALID,
                 "Template error: resource %s does not support attribute type %s in Fn::GetAtt "
                 "(%s has: %s)", lid, attr, t->name, b.len > 1 ? b.data : "none");
      ll_buf_free(&b);
      return -1;
    }
  }
  return 0;
}

/* Every resource a resource depends on (references and DependsOn), as a JSON array of names. */
static int add_dep(void *ud, const char *lid, const char *attr) {
  json_t *deps = ud;
  size_t i;
  json_t *d;
  json_array_foreach(deps, i, d) if (strcmp(json_string_value(d), lid) == 0) return 0;
  json_array_append_new(deps, json_string(lid));
  return 0;
}

static json_t *deps_of(json_t *res) {
  json_t *deps = json_array();
  ll__stack_refs(json_object_get(res, "Properties"), add_dep, deps);
  json_t *dep = json_object_get(res, "DependsOn");
  if (json_is_string(dep)) add_dep(deps, json_string_value(dep), NULL);
  size_t i;
  json_t *d;
  json_array_foreach(dep, i, d) if (json_is_string(d)) add_dep(deps, json_string_value(d), NULL);
  return deps;
}

/* Depth-first order (dependencies first); -1 with the cycle named. mark: 1 visiting, 2 done. */
static int visit(json_t *resources, const char *lid, json_t *mark, json_t *path, json_t *order,
                 ll_err_t *err) {
  json_int_t m = json_integer_value(json_object_get(mark, lid));
  if (m == 2) return 0;
  if (m == 1) {
    ll_buf_t b = LL_BUF_INIT;
    bool on = false;
    size_t i;
    json_t *p;
    json_array_foreach(path, i, p) {
      on |= strcmp(json_string_value(p), lid) == 0;
      if (on) ll_buf_printf(&b, "%s, ", json_string_value(p));
    }
    ll_buf_puts(&b, lid);
    ll_buf_append(&b, "", 1);
    ll_err_set(err, LL_STACK_INVALID, "Circular dependency between resources: [%s]", b.data);
    ll_buf_free(&b);
    return -1;
  }
  json_object_set_new(mark, lid, json_integer(1));
  json_array_append_new(path, json_string(lid));
  json_t *deps = deps_of(json_object_get(resources, lid));
  size_t i;
  json_t *d;
  int rc = 0;
  json_array_foreach(deps, i, d) {
    if ((rc = visit(resources, json_string_value(d), mark, path, order, err)) < 0) break;
  }
  json_decref(deps);
  if (rc < 0) return -1;
  json_array_remove(path, json_array_size(path) - 1);
  json_object_set_new(mark, lid, json_integer(2));
  json_array_append_new(order, json_string(lid));
  return 0;
}

static const char *const resource_keys[] = {"Type",     "Properties",          "DependsOn",
                                            "Metadata", "DeletionPolicy",      "UpdateReplacePolicy",
                                            "Version",  "UpdatePolicy",        NULL};

int ll__stack_check(const json_t *tpl, json_t **order, ll_err_t *err) {
  if (!json_is_object(tpl))
    return ll_err_set(err, LL_STACK_INVALID, "Template format error: JSON not well-formed");
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)tpl, k, v) {
    if (strcmp(k, "AWSTemplateFormatVersion") && strcmp(k, "Description") &&
        strcmp(k, "Resources") && strcmp(k, "Outputs") && strcmp(k, "Metadata")) {
      bool known = !strcmp(k, "Parameters") || !strcmp(k, "Conditions") ||
                   !strcmp(k, "Mappings") || !strcmp(k, "Transform") || !strcmp(k, "Rules");
      return ll_err_set(err, LL_STACK_INVALID,
                        known ? "Template format error: the %s section is not supported yet"
                              : "Template format error: Invalid template property or properties [%s]",
                        k);
    }
  }
  json_t *resources = json_object_get(tpl, "Resources");
  if (!json_is_object(resources) || json_object_size(resources) == 0)
    return ll_err_set(err, LL_STACK_INVALID,
                      "Template format error: At least one Resources member must be defined.");
  json_object_foreach(resources, k, v) {
    const char *type = json_string_value(json_object_get(v, "Type"));
    if (!json_is_object(v) || !type)
      return ll_err_set(err, LL_STACK_INVALID,
                        "Template format error: [/Resources/%s] Every Resources object must "
                        "contain a Type member.", k);
    const ll_stack_provider_t *p = ll__stack_provider(type);
    if (!p) {
      ll_buf_t b = LL_BUF_INIT;
      for (const ll_stack_type_t *t = ll_stack_types; t->name; t++)
        ll_buf_printf(&b, "%s%s", t == ll_stack_types ? "" : ", ", t->name);
      ll_buf_append(&b, "", 1);
      ll_err_set(err, LL_STACK_INVALID,
                 "Template format error: Unrecognized resource types: [%s] (this daemon deploys: %s)",
                 type, b.data);
      ll_buf_free(&b);
      return -1;
    }
    const char *rk;
    json_t *rv;
    json_object_foreach(v, rk, rv) {
      if (strcmp(rk, "Condition") == 0)
        return ll_err_set(err, LL_STACK_INVALID,
                          "Template format error: [/Resources/%s] Condition is not supported yet", k);
      if (!in_list(resource_keys, rk))
        return ll_err_set(err, LL_STACK_INVALID,
                          "Template format error: [/Resources/%s] Invalid resource attribute %s", k, rk);
    }
    for (const char *const *pk = (const char *const[]){"DeletionPolicy", "UpdateReplacePolicy", NULL}; *pk; pk++) {
      json_t *pv = json_object_get(v, *pk);
      const char *ps = json_string_value(pv);
      if (pv && (!ps || (strcmp(ps, "Delete") && strcmp(ps, "Retain") && strcmp(ps, "RetainExceptOnCreate"))))
        return ll_err_set(err, LL_STACK_INVALID,
                          "Template format error: [/Resources/%s/%s] must be Delete, Retain or "
                          "RetainExceptOnCreate%s", k, *pk,
                          ps && !strcmp(ps, "Snapshot") ? " (Snapshot is not supported here)" : "");
    }
    json_t *props = json_object_get(v, "Properties");
    if (props && !json_is_object(props))
      return ll_err_set(err, LL_STACK_INVALID,
                        "Template format error: [/Resources/%s/Properties] must be an object", k);
    json_object_foreach(props, rk, rv) {
      if (in_list(p->props, rk)) continue;
      ll_buf_t b = LL_BUF_INIT;
      list_text(&b, p->props);
      ll_buf_append(&b, "", 1);
      ll_err_set(err, LL_STACK_INVALID,
                 "Template error: resource %s: Encountered unsupported property %s (%s takes: %s)",
                 k, rk, type, b.data);
      ll_buf_free(&b);
      return -1;
    }
    for (const char *const *r = p->required; r && *r; r++)
      if (!json_object_get(props, *r))
        return ll_err_set(err, LL_STACK_INVALID,
                          "Template error: resource %s: Property %s cannot be empty (%s requires it)",
                          k, *r, type);
    check_ctx_t c = {resources, k, err};
    if (ll__stack_refs(props, check_ref, &c) < 0) return -1;
    json_t *dep = json_object_get(v, "DependsOn");
    size_t i;
    json_t *d;
    if (json_is_string(dep) && check_ref(&c, json_string_value(dep), NULL) < 0) return -1;
    json_array_foreach(dep, i, d) if (check_ref(&c, json_string_value(d) ?: "", NULL) < 0) return -1;
  }
  check_ctx_t c = {resources, "Outputs", err};
  if (ll__stack_refs(json_object_get(tpl, "Outputs"), check_ref, &c) < 0) return -1;
  json_t *mark = json_object(), *path = json_array(), *ord = json_array();
  int rc = 0;
  json_object_foreach(resources, k, v) {
    if ((rc = visit(resources, k, mark, path, ord, err)) < 0) break;
  }
  json_decref(mark);
  json_decref(path);
  if (rc < 0) {
    json_decref(ord);
    return -1;
  }
  *order = ord;
  return 0;
}

/* ---- operations ----------------------------------------------------------------------------- *
 *
 * An operation is a list of actions run one at a time: create, update or delete one resource
 * through its provider. The forward pass of a deploy makes the actions of one resource at a
 * time (its properties resolve only once what it refers to exists); every action it completes
 * goes on the undo log. A failure turns the operation around: the undo log is replayed
 * backwards (delete what was created, restore what was updated, recreate what was deleted).
 * After a forward pass that succeeded, resources that left the template are deleted (cleanup).
 * A remove is a list of deletes, newest resource first. */

enum op_kind { OP_DEPLOY, OP_REMOVE };
enum phase { PH_FORWARD, PH_CLEANUP, PH_ROLLBACK, PH_REMOVE, PH_END };

typedef struct op {
  ll_stacks_t *s;
  enum op_kind kind;
  enum phase phase;
  char *name;
  char *stack_id;
  bool is_new;
  json_t *tpl;       /* the new template (deploy) */
  json_t *old;       /* the state row at the start (NULL: a new stack) */
  json_t *res;       /* resources as they are now: logical id -> entry */
  json_t *order;     /* forward: the template's dependency order */
  size_t idx;        /* cursor into order / undo (backwards) / cleanup */
  json_t *pending;   /* actions made and not yet run */
  json_t *undo;      /* completed forward actions */
  json_t *cleanup;   /* [{"id", "entry"}] to delete after the forward pass */
  json_t *empty;     /* remove: logical ids of buckets to empty first */
  json_int_t seq;    /* creation order of entries ("Order") */
  json_t *cur;       /* the action in flight */
  ll_stack_job_t job;
  bool in_run;       /* op_run is on the C stack (a job finishing now is picked up there) */
  bool announced;    /* the stack's *_IN_PROGRESS event went out (before its first action) */
  int finished_rc;   /* result of a job that finished while in_run; 2 = none */
  int created, updated, deleted, unchanged, failed;
  ll_err_t first;    /* what failed first */
  uint64_t t0;
  ll_stack_event_fn ev;
  ll_stack_done_fn done;
  void *ud;
} op_t;

static void emit(op_t *op, const char *lid, const char *type, const char *phys, const char *verb,
                 const char *what, const char *reason) {
  char status[64];
  snprintf(status, sizeof status, "%s%s%s", verb, *what ? "_" : "", what);
  ll_stack_event_t e = {lid, type, phys && *phys ? phys : NULL, status, reason};
  if (op->ev) op->ev(op->ud, &e);
}

static const char *entry_phys(json_t *e) {
  return json_string_value(json_object_get(e, "PhysicalResourceId"));
}
static const char *entry_type(json_t *e) { return json_string_value(json_object_get(e, "Type")); }

static const char *lookup_ref(void *ud, const char *lid) {
  return entry_phys(json_object_get(((op_t *)ud)->res, lid));
}

static json_t *lookup_att(void *ud, const char *lid, const char *attr) {
  return json_object_get(json_object_get(json_object_get(((op_t *)ud)->res, lid), "Attributes"), attr);
}

static ll_stack_lookup_t lookup_of(op_t *op) {
  ll_engine_t *e = op->s->env.engine;
  return (ll_stack_lookup_t){lookup_ref, lookup_att, op, ll_engine_region(e), ll_engine_account(e),
                             op->name, op->stack_id};
}

/* The stack's status while the operation runs. */
static const char *running_status(op_t *op) {
  if (op->kind == OP_REMOVE) return "DELETE_IN_PROGRESS";
  if (op->phase == PH_ROLLBACK) return op->is_new ? "ROLLBACK_IN_PROGRESS" : "UPDATE_ROLLBACK_IN_PROGRESS";
  if (op->phase == PH_CLEANUP) return "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS";
  return op->is_new ? "CREATE_IN_PROGRESS" : "UPDATE_IN_PROGRESS";
}

/* Writes the row as it stands: resources as they are now. */
static void persist(op_t *op, const char *status, const json_t *tpl, const json_t *outputs) {
  json_t *state = op->old ? json_deep_copy(op->old) : json_object();
  char *now = iso_now();
  if (!op->old) {
    json_object_set_new(state, "StackName", json_string(op->name));
    json_object_set_new(state, "StackId", json_string(op->stack_id));
    json_object_set_new(state, "CreationTime", json_string(now));
    json_object_set_new(state, "Template", json_object());
    json_object_set_new(state, "Outputs", json_object());
  }
  if (tpl) json_object_set_new(state, "Template", json_deep_copy(tpl));
  if (outputs) json_object_set_new(state, "Outputs", json_deep_copy(outputs));
  json_object_set_new(state, "LastUpdatedTime", json_string(now));
  json_object_set_new(state, "StackStatus", json_string(status));
  json_object_del(state, "StackStatusReason");
  json_object_set(state, "Resources", op->res);
  save_state(op->s, op->name, state);
  json_decref(state);
  free(now);
}

static json_t *entry_new(const char *type, const char *phys, json_t *props, json_t *attrs,
                         json_int_t order) {
  return json_pack("{s:s,s:s,s:o,s:o,s:I}", "Type", type, "PhysicalResourceId", phys ? phys : "",
                   "Properties", props ? json_incref(props) : json_object(), "Attributes",
                   attrs ? json_incref(attrs) : json_object(), "Order", (json_int_t)order);
}

/* {"act": "create"|"update"|"delete", "id", "type", "props", "before", "undo", "cleanup",
 *  "why" (a delete's reason: "replace", "undo" or "remove"), "DeletionPolicy",
 *  "UpdateReplacePolicy" (what the resulting entry keeps)}; returns it (owned by pending). */
static json_t *add_action(op_t *op, const char *act, const char *lid, const char *type,
                          json_t *props, json_t *before, bool undo) {
  json_t *a = json_pack("{s:s,s:s,s:s,s:b}", "act", act, "id", lid, "type", type, "undo", undo);
  if (props) json_object_set(a, "props", props);
  if (before) json_object_set(a, "before", before);
  json_array_append_new(op->pending, a);
  return a;
}

static const char *const policy_keys[] = {"DeletionPolicy", "UpdateReplacePolicy", NULL};

/* The entry made by action a keeps the deletion policies of src (a template resource or an
 * older entry). */
static void keep_policies(json_t *a, json_t *src) {
  for (const char *const *k = policy_keys; *k; k++)
    if (json_is_string(json_object_get(src, *k))) json_object_set(a, *k, json_object_get(src, *k));
}

static void set_why(json_t *a, const char *why) { json_object_set_new(a, "why", json_string(why)); }

/* Whether a delete leaves the resource in place (CloudFormation's DELETE_SKIPPED): Retain in
 * UpdateReplacePolicy for a replacement, in DeletionPolicy otherwise; RetainExceptOnCreate
 * deletes what a failed operation created. */
static bool retained(json_t *a, json_t *before) {
  const char *why = json_string_value(json_object_get(a, "why"));
  const char *dp = json_string_value(json_object_get(before, "DeletionPolicy"));
  const char *urp = json_string_value(json_object_get(before, "UpdateReplacePolicy"));
  if (why && !strcmp(why, "replace")) return urp && !strcmp(urp, "Retain");
  if (why && !strcmp(why, "undo")) return dp && !strcmp(dp, "Retain");
  return dp && (!strcmp(dp, "Retain") || !strcmp(dp, "RetainExceptOnCreate"));
}

static void job_done(ll_stack_job_t *job, int rc);
static void op_run(op_t *op);

/* The stack's own event, once, when the operation first changes something (a deploy that
 * changes nothing has none). */
static void announce(op_t *op) {
  if (op->announced) return;
  op->announced = true;
  const char *verb = op->kind == OP_REMOVE ? "DELETE" : op->is_new ? "CREATE" : "UPDATE";
  emit(op, op->name, "AWS::CloudFormation::Stack", op->stack_id, verb, "IN_PROGRESS", NULL);
}

/* Runs the action: 0 done, 1 pending, -1 failed (op->job.err). */
static int exec_action(op_t *op, json_t *a) {
  const char *act = json_string_value(json_object_get(a, "act"));
  const char *lid = json_string_value(json_object_get(a, "id"));
  const char *type = json_string_value(json_object_get(a, "type"));
  json_t *before = json_object_get(a, "before");
  const ll_stack_provider_t *p = ll__stack_provider(type);
  free(op->job.new_physical);
  json_decref(op->job.attrs);
  op->job = (ll_stack_job_t){.stacks = op->s, .stack_name = op->name, .logical_id = lid,
                             .props = json_object_get(a, "props"), .done = job_done, .ud = op};
  const char *verb = strcmp(act, "create") == 0 ? "CREATE" : strcmp(act, "update") == 0 ? "UPDATE" : "DELETE";
  announce(op);
  emit(op, lid, type, entry_phys(before), verb, "IN_PROGRESS", NULL);
  if (strcmp(act, "delete") == 0 && retained(a, before)) {
    json_object_set_new(a, "skipped", json_true());
    return 0;
  }
  if (strcmp(act, "delete") == 0) {
    const char *phys = entry_phys(before);
    bool empty = false;
    size_t i;
    json_t *e;
    json_array_foreach(op->empty, i, e) empty |= strcmp(json_string_value(e), lid) == 0;
    if (!phys || !*phys) return 0; /* never made */
    return p->remove(op->s, phys, json_object_get(before, "Properties"),
                     json_object_get(before, "Attributes"), empty, &op->job.err);
  }
  if (strcmp(act, "update") == 0) {
    op->job.old_props = json_object_get(before, "Properties");
    op->job.physical = entry_phys(before);
    op->job.old_attrs = json_object_get(before, "Attributes");
    return p->update(&op->job);
  }
  return p->create(&op->job);
}

/* Records a finished action. */
static void action_finished(op_t *op, json_t *a, int rc) {
  const char *act = json_string_value(json_object_get(a, "act"));
  const char *lid = json_string_value(json_object_get(a, "id"));
  const char *type = json_string_value(json_object_get(a, "type"));
  json_t *before = json_object_get(a, "before");
  bool undo = json_is_true(json_object_get(a, "undo"));
  bool cleanup = json_is_true(json_object_get(a, "cleanup"));
  const char *verb = strcmp(act, "create") == 0 ? "CREATE" : strcmp(act, "update") == 0 ? "UPDATE" : "DELETE";
  if (rc < 0) {
    emit(op, lid, type, entry_phys(before), verb, "FAILED", op->job.err.msg);
    if (!op->first.msg[0]) {
      op->first = op->job.err;
      ll_err_wrap(&op->first, "%s (%s)", lid, type);
    }
    op->failed++;
    if (op->phase == PH_FORWARD) { /* turn around */
      json_array_clear(op->pending);
      op->phase = PH_ROLLBACK;
      op->idx = json_array_size(op->undo);
      emit(op, op->name, "AWS::CloudFormation::Stack", op->stack_id,
           op->is_new ? "ROLLBACK" : "UPDATE_ROLLBACK", "IN_PROGRESS", op->first.msg);
    }
    persist(op, running_status(op), NULL, NULL);
    return;
  }
  json_t *after = NULL;
  if (strcmp(act, "delete") == 0) {
    json_t *now = json_object_get(op->res, lid);
    if (now && json_equal(now, before)) json_object_del(op->res, lid);
    if (!undo) op->deleted++;
  } else {
    const char *phys = op->job.new_physical ? op->job.new_physical : entry_phys(before);
    json_t *attrs = op->job.attrs ? op->job.attrs : json_object_get(before, "Attributes");
    json_int_t order = strcmp(act, "create") == 0 ? ++op->seq
                                                  : json_integer_value(json_object_get(before, "Order"));
    after = entry_new(type, phys, json_object_get(a, "props"), attrs, order);
    keep_policies(after, a);
    json_object_set(op->res, lid, after);
    if (!undo) {
      if (strcmp(act, "update") == 0 || before) op->updated++;
      else op->created++;
    }
  }
  if (!undo && !cleanup && op->phase == PH_FORWARD)
    json_array_append_new(op->undo, json_pack("{s:s,s:s,s:s,s:O?,s:O?,s:b}", "act", act, "id", lid,
                                              "type", type, "before", before, "after", after,
                                              "skipped", json_is_true(json_object_get(a, "skipped"))));
  bool skipped = json_is_true(json_object_get(a, "skipped"));
  emit(op, lid, type, after ? entry_phys(after) : entry_phys(before), verb,
       skipped ? "SKIPPED" : "COMPLETE", skipped ? "retained by its DeletionPolicy or UpdateReplacePolicy" : NULL);
  json_decref(after);
  persist(op, running_status(op), NULL, NULL);
}

/* Makes the forward actions of the next resource in order; false at the end. */
static bool forward_next(op_t *op) {
  while (op->idx < json_array_size(op->order)) {
    const char *lid = json_string_value(json_array_get(op->order, op->idx++));
    json_t *r = json_object_get(json_object_get(op->tpl, "Resources"), lid);
    const char *type = json_string_value(json_object_get(r, "Type"));
    const ll_stack_provider_t *p = ll__stack_provider(type);
    json_t *raw = json_object_get(r, "Properties"), *props = NULL;
    ll_stack_lookup_t l = lookup_of(op);
    op->job.err = (ll_err_t)LL_ERR_INIT;
    if (raw && ll__stack_resolve(raw, &l, &props, &op->job.err) < 0) {
      /* the template checks passed, so this is a reference to a resource that failed */
      json_t *a = json_pack("{s:s,s:s,s:s}", "act", "create", "id", lid, "type", type);
      action_finished(op, a, -1);
      json_decref(a);
      return true;
    }
    if (!props) props = json_object();
    json_t *old = json_object_get(op->res, lid);
    bool same_policies = true;
    for (const char *const *k = policy_keys; *k; k++) {
      json_t *x = json_object_get(old, *k), *y = json_object_get(r, *k);
      same_policies &= x == y || (x && y && json_equal(x, y));
    }
    if (!old) {
      keep_policies(add_action(op, "create", lid, type, props, NULL, false), r);
    } else if (strcmp(entry_type(old) ?: "", type) != 0) {
      set_why(add_action(op, "delete", lid, entry_type(old), NULL, old, false), "replace");
      keep_policies(add_action(op, "create", lid, type, props, NULL, false), r);
    } else if (json_equal(json_object_get(old, "Properties"), props) && same_policies) {
      op->unchanged++;
    } else if (json_equal(json_object_get(old, "Properties"), props)) {
      /* only the policies changed: the entry keeps them, the resource is as it was */
      json_t *e2 = json_deep_copy(old);
      for (const char *const *k = policy_keys; *k; k++) json_object_del(e2, *k);
      keep_policies(e2, r);
      json_object_set_new(op->res, lid, e2);
      op->unchanged++;
      persist(op, running_status(op), NULL, NULL);
    } else {
      bool replace = !p->update;
      for (const char *const *k = p->replace_on; k && *k && !replace; k++) {
        json_t *a = json_object_get(json_object_get(old, "Properties"), *k), *b = json_object_get(props, *k);
        replace = !(a == b || (a && b && json_equal(a, b)));
      }
      if (!replace) {
        keep_policies(add_action(op, "update", lid, type, props, old, false), r);
      } else if (p->create_before_delete) {
        keep_policies(add_action(op, "create", lid, type, props, old, false), r);
        json_array_append_new(op->cleanup, json_pack("{s:s,s:O,s:s}", "id", lid, "entry", old, "why", "replace"));
      } else {
        set_why(add_action(op, "delete", lid, type, NULL, old, false), "replace");
        keep_policies(add_action(op, "create", lid, type, props, NULL, false), r);
      }
    }
    json_decref(props);
    if (json_array_size(op->pending)) return true;
  }
  return false;
}

/* Makes the inverse of the next undo entry (backwards); false at the start of the log. */
static bool rollback_next(op_t *op) {
  if (op->idx == 0) return false;
  json_t *u = json_array_get(op->undo, --op->idx);
  const char *act = json_string_value(json_object_get(u, "act"));
  const char *lid = json_string_value(json_object_get(u, "id"));
  const char *type = json_string_value(json_object_get(u, "type"));
  json_t *before = json_object_get(u, "before"), *after = json_object_get(u, "after");
  if (strcmp(act, "created") == 0 || strcmp(act, "create") == 0) {
    set_why(add_action(op, "delete", lid, type, NULL, after, true), "undo");
    /* a replacement made before its old resource went: the old one is current again */
    if (before) json_array_append_new(op->pending, json_pack("{s:s,s:s,s:O}", "act", "restore",
                                                             "id", lid, "before", before));
  } else if (strcmp(act, "update") == 0) {
    keep_policies(add_action(op, "update", lid, type, json_object_get(before, "Properties"), after, true), before);
  } else if (strcmp(act, "delete") == 0 && json_is_true(json_object_get(u, "skipped"))) {
    /* retained, so still there: it is the stack's again */
    json_array_append_new(op->pending, json_pack("{s:s,s:s,s:O}", "act", "restore", "id", lid, "before", before));
  } else if (strcmp(act, "delete") == 0) {
    keep_policies(add_action(op, "create", lid, entry_type(before), json_object_get(before, "Properties"), NULL, true), before);
  }
  return true;
}

static bool cleanup_next(op_t *op) {
  if (op->idx >= json_array_size(op->cleanup)) return false;
  json_t *c = json_array_get(op->cleanup, op->idx++);
  json_t *entry = json_object_get(c, "entry");
  json_t *a = add_action(op, "delete", json_string_value(json_object_get(c, "id")),
                         entry_type(entry), NULL, entry, false);
  json_object_set_new(a, "cleanup", json_true());
  set_why(a, json_string_value(json_object_get(c, "why")) ? json_string_value(json_object_get(c, "why")) : "remove");
  return true;
}

static int by_order_desc(const void *a, const void *b) {
  json_int_t x = json_integer_value(json_object_get(json_object_get(*(json_t *const *)a, "entry"), "Order"));
  json_int_t y = json_integer_value(json_object_get(json_object_get(*(json_t *const *)b, "entry"), "Order"));
  return x < y ? 1 : x > y ? -1 : 0;
}

/* [{"id", "entry"}] of the resources in res that are not in keep (NULL: all), newest first. */
static json_t *deletions(json_t *res, json_t *keep) {
  size_t n = json_object_size(res), k = 0;
  json_t **items = ll_calloc(n ? n : 1, sizeof *items);
  const char *lid;
  json_t *e;
  json_object_foreach(res, lid, e) {
    if (keep && json_object_get(keep, lid)) continue;
    items[k++] = json_pack("{s:s,s:O}", "id", lid, "entry", e);
  }
  qsort(items, k, sizeof *items, by_order_desc);
  json_t *out = json_array();
  for (size_t i = 0; i < k; i++) json_array_append_new(out, items[i]);
  free(items);
  return out;
}

static json_t *resolved_outputs(op_t *op, const json_t *tpl) {
  json_t *out = json_object();
  const char *k;
  json_t *o;
  ll_stack_lookup_t l = lookup_of(op);
  json_object_foreach(json_object_get(tpl, "Outputs"), k, o) {
    json_t *v = NULL;
    ll_err_t err = LL_ERR_INIT;
    if (ll__stack_resolve(json_object_get(o, "Value"), &l, &v, &err) == 0 && v)
      json_object_set_new(out, k, v);
  }
  return out;
}

static void op_free(op_t *op) {
  ll_stacks_t *s = op->s;
  json_object_del(s->busy, op->name);
  free(op->name);
  free(op->stack_id);
  json_decref(op->tpl);
  json_decref(op->old);
  json_decref(op->res);
  json_decref(op->order);
  json_decref(op->pending);
  json_decref(op->undo);
  json_decref(op->cleanup);
  json_decref(op->empty);
  json_decref(op->cur);
  free(op->job.new_physical);
  json_decref(op->job.attrs);
  free(op);
  if (s->closed && json_object_size(s->busy) == 0) stacks_free(s);
}

static void op_finish(op_t *op) {
  op->phase = PH_END;
  const char *status;
  json_t *outputs = NULL;
  bool no_changes = false;
  if (op->kind == OP_REMOVE) {
    status = op->failed ? "DELETE_FAILED" : "DELETE_COMPLETE";
    if (op->failed) persist(op, status, NULL, NULL);
    else drop_state(op->s, op->name);
  } else if (op->first.msg[0]) {
    status = op->is_new ? "ROLLBACK_COMPLETE" : "UPDATE_ROLLBACK_COMPLETE";
    if (op->failed > 1) status = op->is_new ? "ROLLBACK_FAILED" : "UPDATE_ROLLBACK_FAILED";
    if (op->is_new && json_object_size(op->res) == 0)
      drop_state(op->s, op->name); /* nothing was left: as if never made */
    else
      persist(op, status, NULL, NULL);
  } else {
    outputs = resolved_outputs(op, op->tpl);
    no_changes = !op->is_new && op->created + op->updated + op->deleted == 0 &&
                 json_equal(outputs, json_object_get(op->old, "Outputs")) &&
                 json_equal(op->tpl, json_object_get(op->old, "Template"));
    const char *was = json_string_value(json_object_get(op->old, "StackStatus"));
    /* a stack a failure or a stop left behind is complete again even when nothing changed */
    if (no_changes && was && (strstr(was, "FAILED") || strstr(was, "IN_PROGRESS"))) no_changes = false;
    status = no_changes ? was : op->is_new ? "CREATE_COMPLETE" : "UPDATE_COMPLETE";
    if (no_changes)
      save_state(op->s, op->name, op->old); /* as it was: the row said IN_PROGRESS meanwhile */
    else
      persist(op, status, op->tpl, outputs);
  }
  if (!no_changes) {
    announce(op);
    emit(op, op->name, "AWS::CloudFormation::Stack", op->stack_id, status, "", NULL);
  }
  json_t *summary = json_pack("{s:s,s:s,s:i,s:i,s:i,s:i,s:b,s:I}", "StackName", op->name,
                              "StackStatus", status, "Created", op->created, "Updated",
                              op->updated, "Deleted", op->deleted, "Unchanged", op->unchanged,
                              "NoChanges", no_changes, "ElapsedMs",
                              (json_int_t)((ll_mono_ns() - op->t0) / 1000000));
  json_object_set_new(summary, "Outputs", outputs ? outputs : json_object());
  if (op->first.msg[0]) json_object_set_new(summary, "StatusReason", json_string(op->first.msg));
  if (op->done) op->done(op->ud, summary, op->first.msg[0] ? &op->first : NULL);
  json_decref(summary);
  op_free(op);
}

/* Applies a "restore" pseudo-action (rollback of a replacement made first). */
static bool run_restore(op_t *op, json_t *a) {
  if (strcmp(json_string_value(json_object_get(a, "act")), "restore") != 0) return false;
  json_object_set(op->res, json_string_value(json_object_get(a, "id")), json_object_get(a, "before"));
  persist(op, running_status(op), NULL, NULL);
  return true;
}

/* The step loop: runs actions until one is pending or the operation ends. */
static void op_run(op_t *op) {
  op->in_run = true;
  for (;;) {
    if (op->cur) return; /* a job is pending */
    if (json_array_size(op->pending) == 0) {
      bool more = false;
      if (op->phase == PH_FORWARD) {
        more = forward_next(op);
        if (!more && op->phase == PH_FORWARD) {
          op->phase = PH_CLEANUP;
          op->idx = 0;
          json_t *keep = json_object_get(op->tpl, "Resources");
          json_t *gone = deletions(op->res, keep);
          json_array_extend(op->cleanup, gone);
          json_decref(gone);
          continue;
        }
      } else if (op->phase == PH_ROLLBACK) {
        more = rollback_next(op);
      } else if (op->phase == PH_CLEANUP || op->phase == PH_REMOVE) {
        more = cleanup_next(op);
      }
      if (!more) {
        if (json_array_size(op->pending)) continue;
        op->in_run = false;
        op_finish(op);
        return;
      }
      continue;
    }
    json_t *a = json_incref(json_array_get(op->pending, 0));
    json_array_remove(op->pending, 0);
    if (run_restore(op, a)) {
      json_decref(a);
      continue;
    }
    op->cur = a;
    op->finished_rc = 2;
    int rc = exec_action(op, a);
    if (rc == 1 && op->finished_rc == 2) {
      op->in_run = false;
      return; /* job_done continues */
    }
    if (rc == 1) rc = op->finished_rc;
    op->cur = NULL;
    action_finished(op, a, rc);
    json_decref(a);
  }
}

static void job_done(ll_stack_job_t *job, int rc) {
  op_t *op = job->ud;
  if (op->in_run) { /* finished before its start returned */
    op->finished_rc = rc;
    return;
  }
  if (op->s->closed) { /* the daemon stops: the row says the operation was cut off */
    ll_err_t err = LL_ERR_INIT;
    ll_err_set(&err, LL_E_INTERNAL, "the daemon stopped during the operation");
    json_t *summary = json_pack("{s:s,s:s}", "StackName", op->name, "StackStatus", running_status(op));
    if (op->done) op->done(op->ud, summary, &err);
    json_decref(summary);
    op_free(op);
    return;
  }
  json_t *a = op->cur;
  op->cur = NULL;
  action_finished(op, a, rc);
  json_decref(a);
  op_run(op);
}

static op_t *op_new(ll_stacks_t *s, enum op_kind kind, const char *name, json_t *old,
                    ll_stack_event_fn ev, ll_stack_done_fn done, void *ud) {
  op_t *op = ll_calloc(1, sizeof *op);
  op->s = s;
  op->kind = kind;
  op->name = ll_strdup(name);
  op->old = old;
  op->is_new = !old;
  op->res = old ? json_deep_copy(json_object_get(old, "Resources")) : json_object();
  if (!json_is_object(op->res)) {
    json_decref(op->res);
    op->res = json_object();
  }
  const char *id = json_string_value(json_object_get(old, "StackId"));
  if (id) {
    op->stack_id = ll_strdup(id);
  } else {
    char uuid[37];
    ll_uuid4(uuid);
    op->stack_id = ll_sprintf("arn:aws:cloudformation:%s:%s:stack/%s/%s",
                              ll_engine_region(s->env.engine), ll_engine_account(s->env.engine),
                              name, uuid);
  }
  const char *lid;
  json_t *e;
  json_object_foreach(op->res, lid, e) {
    json_int_t o = json_integer_value(json_object_get(e, "Order"));
    if (o > op->seq) op->seq = o;
  }
  op->pending = json_array();
  op->undo = json_array();
  op->cleanup = json_array();
  op->empty = json_array();
  op->ev = ev;
  op->done = done;
  op->ud = ud;
  op->t0 = ll_mono_ns();
  json_object_set_new(s->busy, name, json_true());
  return op;
}

static int stack_name_ok(const char *n, ll_err_t *err) {
  size_t len = n ? strlen(n) : 0;
  bool ok = len >= 1 && len <= 128 && ((n[0] >= 'a' && n[0] <= 'z') || (n[0] >= 'A' && n[0] <= 'Z'));
  for (size_t i = 0; ok && i < len; i++)
    ok = (n[i] >= 'a' && n[i] <= 'z') || (n[i] >= 'A' && n[i] <= 'Z') ||
         (n[i] >= '0' && n[i] <= '9') || n[i] == '-';
  if (ok) return 0;
  return ll_err_set(err, LL_STACK_INVALID,
                    "1 validation error detected: Value '%s' at 'stackName' failed to satisfy "
                    "constraint: Member must satisfy regular expression pattern: "
                    "[a-zA-Z][-a-zA-Z0-9]* and have length at most 128", n ? n : "null");
}

int ll_stack_deploy(ll_stacks_t *s, const char *name, const json_t *template, ll_stack_event_fn ev,
                    ll_stack_done_fn done, void *ud, ll_err_t *err) {
  if (stack_name_ok(name, err) < 0) return -1;
  if (json_object_get(s->busy, name))
    return ll_err_set(err, LL_STACK_BUSY,
                      "Stack:%s is in an operation already and can not be updated now; wait for "
                      "it to end", name);
  json_t *order = NULL;
  if (ll__stack_check(template, &order, err) < 0) return -1;
  op_t *op = op_new(s, OP_DEPLOY, name, load_state(s, name), ev, done, ud);
  op->tpl = json_deep_copy(template);
  op->order = order;
  persist(op, running_status(op), NULL, NULL);
  op_run(op);
  return 0;
}

int ll_stack_remove(ll_stacks_t *s, const char *name, const char *const *empty_buckets,
                    ll_stack_event_fn ev, ll_stack_done_fn done, void *ud, ll_err_t *err) {
  if (stack_name_ok(name, err) < 0) return -1;
  if (json_object_get(s->busy, name))
    return ll_err_set(err, LL_STACK_BUSY,
                      "Stack:%s is in an operation already and can not be deleted now; wait for "
                      "it to end", name);
  json_t *old = load_state(s, name);
  if (!old) return ll_err_set(err, LL_STACK_NOT_FOUND, "Stack with id %s does not exist", name);
  op_t *op = op_new(s, OP_REMOVE, name, old, ev, done, ud);
  op->phase = PH_REMOVE;
  for (size_t i = 0; empty_buckets && empty_buckets[i]; i++)
    json_array_append_new(op->empty, json_string(empty_buckets[i]));
  json_decref(op->cleanup);
  op->cleanup = deletions(op->res, NULL);
  announce(op);
  persist(op, running_status(op), NULL, NULL);
  op_run(op);
  return 0;
}

/* ---- reading -------------------------------------------------------------------------------- */

json_t *ll_stack_describe(ll_stacks_t *s, const char *name) {
  json_t *st = load_state(s, name);
  if (!st) return NULL;
  json_t *out = json_pack("{s:O,s:O,s:O,s:O?,s:O?}", "StackName", json_object_get(st, "StackName"),
                          "StackId", json_object_get(st, "StackId"), "StackStatus",
                          json_object_get(st, "StackStatus"), "CreationTime",
                          json_object_get(st, "CreationTime"), "LastUpdatedTime",
                          json_object_get(st, "LastUpdatedTime"));
  if (json_object_get(st, "StackStatusReason"))
    json_object_set(out, "StackStatusReason", json_object_get(st, "StackStatusReason"));
  json_t *list = deletions(json_object_get(st, "Resources"), NULL), *res = json_array();
  for (size_t i = json_array_size(list); i-- > 0;) { /* creation order */
    json_t *c = json_array_get(list, i), *e = json_object_get(c, "entry");
    json_array_append_new(res, json_pack("{s:O,s:O,s:O,s:O}", "LogicalResourceId",
                                         json_object_get(c, "id"), "ResourceType",
                                         json_object_get(e, "Type"), "PhysicalResourceId",
                                         json_object_get(e, "PhysicalResourceId"), "Attributes",
                                         json_object_get(e, "Attributes")));
  }
  json_decref(list);
  json_object_set_new(out, "Resources", res);
  json_t *outs = json_array();
  const char *k;
  json_t *v;
  json_object_foreach(json_object_get(st, "Outputs"), k, v)
      json_array_append_new(outs, json_pack("{s:s,s:O}", "OutputKey", k, "OutputValue", v));
  json_object_set_new(out, "Outputs", outs);
  json_decref(st);
  return out;
}

json_t *ll_stack_list(ll_stacks_t *s) {
  json_t *out = json_array();
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(s->db, "SELECT state FROM stacks ORDER BY name", -1, &st, NULL) != SQLITE_OK)
    return out;
  while (sqlite3_step(st) == SQLITE_ROW) {
    json_t *state = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
    if (!state) continue;
    json_array_append_new(out, json_pack("{s:O,s:O,s:O?}", "StackName",
                                         json_object_get(state, "StackName"), "StackStatus",
                                         json_object_get(state, "StackStatus"), "LastUpdatedTime",
                                         json_object_get(state, "LastUpdatedTime")));
    json_decref(state);
  }
  sqlite3_finalize(st);
  return out;
}

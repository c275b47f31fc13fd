/* Inside the stack engine (stack.c, resolve.c, providers.c): intrinsic resolution and the
 * provider interface, one provider per resource type. */
#ifndef LL_STACK_STACK_INT_H
#define LL_STACK_STACK_INT_H

#include <jansson.h>
#include <stdbool.h>

#include "core/err.h"
#include "stack/stack.h"
#include "stack/types.h"

/* ---- intrinsic functions (resolve.c) -------------------------------------------------------- */

/* What resolution reads: the resources deployed so far and the pseudo parameters. */
typedef struct ll_stack_lookup {
  /* The physical id of a resource (what Ref returns), or NULL when it has none yet. */
  const char *(*ref)(void *ud, const char *logical_id);
  /* An attribute of a resource (borrowed), or NULL. */
  json_t *(*getatt)(void *ud, const char *logical_id, const char *attr);
  void *ud;
  const char *region, *account, *stack_name, *stack_id;
} ll_stack_lookup_t;

/* Resolves Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Select, Fn::Split, Fn::GetAZs, Fn::Base64 and
 * the pseudo parameters in v (borrowed). 0 with *out a new reference (NULL when v is
 * AWS::NoValue: a member or element holding it is left out), or -1 with err in CloudFormation's
 * words ("Template error: ..."). */
int ll__stack_resolve(const json_t *v, const ll_stack_lookup_t *l, json_t **out, ll_err_t *err);

/* Calls fn(ud, logical_id, attr) for every resource v refers to: attr NULL for a Ref, the
 * attribute for Fn::GetAtt and Fn::Sub's ${X.Attr}. Pseudo parameters are not reported. Stops
 * and returns fn's value when it is not 0. */
typedef int (*ll_stack_ref_fn)(void *ud, const char *logical_id, const char *attr);
int ll__stack_refs(const json_t *v, ll_stack_ref_fn fn, void *ud);

/* Whether name is a pseudo parameter (AWS::Region, ...). */
bool ll__stack_pseudo(const char *name);

/* ---- template checks (stack.c) --------------------------------------------------------------- */

/* Checks a template as CloudFormation's validation would — sections, resource types and
 * attributes, properties against each provider's list, every reference and DependsOn, cycles —
 * and orders its resources so that each comes after what it depends on. 0 with *order (a new
 * JSON array of logical ids), or -1 with LL_STACK_INVALID and CloudFormation's message. */
int ll__stack_check(const json_t *tpl, json_t **order, ll_err_t *err);

/* ---- providers (providers.c) ----------------------------------------------------------------- */

/* One resource operation. Inputs are borrowed for the call; a provider that finishes later
 * (functions and layers unpack their code off the loop) keeps what it needs. */
typedef struct ll_stack_job {
  ll_stacks_t *stacks;
  const char *stack_name;
  const char *logical_id;
  json_t *props;         /* resolved new properties (create, update) */
  json_t *old_props;     /* resolved deployed properties (update), or NULL */
  const char *physical;  /* the deployed physical id (update) */
  json_t *old_attrs;     /* the deployed attributes (update), or NULL */
  /* out: set by create (and by update when they change) */
  char *new_physical;    /* owned (ll_malloc) */
  json_t *attrs;         /* owned: the attributes Fn::GetAtt reads */
  ll_err_t err;
  /* Called once by an operation that returned 1 (pending), with job->err set on failure. */
  void (*done)(struct ll_stack_job *job, int rc);
  void *ud;
} ll_stack_job_t;

typedef struct ll_stack_provider {
  const char *type;
  const char *const *props;      /* accepted property names, NULL-terminated */
  const char *const *required;   /* properties that must be present */
  const char *const *replace_on; /* a change of any of these replaces the resource */
  /* The new resource is made before the old one goes (no name to conflict on: layer
   * versions); otherwise the old one is deleted first. */
  bool create_before_delete;
  /* 0 done, 1 pending (job->done fires later), -1 failed (job->err). */
  int (*create)(ll_stack_job_t *job);
  /* As create; NULL: every change replaces. */
  int (*update)(ll_stack_job_t *job);
  /* Deletes what physical names (props/attrs as deployed). Gone already counts as done.
   * empty: the stack's remove was asked to empty this bucket first. */
  int (*remove)(ll_stacks_t *s, const char *physical, json_t *props, json_t *attrs, bool empty,
                ll_err_t *err);
} ll_stack_provider_t;

const ll_stack_provider_t *ll__stack_provider(const char *type);

/* What providers reach through the stacks handle (stack.c). */
const ll_stack_env_t *ll__stacks_env(ll_stacks_t *s);
/* Roles deployed by stacks: the role registry (stack.c). policies: the role's PolicyDocuments
 * (borrowed; copied). */
void ll__stacks_role_set(ll_stacks_t *s, const char *arn, json_t *policies);
void ll__stacks_role_drop(ll_stacks_t *s, const char *arn);
/* Schedules (AWS::Events::Rule): started from the resource's attrs/props, stopped on delete. */
int ll__stacks_schedule_start(ll_stacks_t *s, const char *rule_arn, json_t *props, ll_err_t *err);
void ll__stacks_schedule_stop(ll_stacks_t *s, const char *rule_arn);

#endif

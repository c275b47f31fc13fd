/* Stacks: CloudFormation-shaped templates deployed onto the daemon's own services — streams,
 * tables, buckets, functions, layers, event source mappings, roles, schedules — as
 * CloudFormation does it: the template is checked whole first (types, properties, references,
 * cycles), then resources are created, updated or replaced in dependency order with their
 * intrinsic functions resolved against what is deployed, resources no longer in the template
 * are deleted last (in reverse order), and a failure rolls every change of the operation back.
 * A deploy that changes nothing says so. Remove deletes what the stack made and nothing else.
 *
 * State lives in data_dir/stacks/stacks.db (SQLite WAL): one row per stack holding its template
 * and, for every resource, the physical id, resolved properties and attributes. The row is
 * rewritten after every resource step, so it always names what exists: a daemon killed in the
 * middle leaves a stack marked *_FAILED whose next deploy or remove continues from there.
 *
 * Everything runs on the loop thread. One operation per stack at a time. */
#ifndef LL_STACK_STACK_H
#define LL_STACK_STACK_H

#include <jansson.h>
#include <uv.h>

#include "core/err.h"

typedef struct ll_stacks ll_stacks_t;
/* The services stacks deploy onto (their headers are included where they are used). */
typedef struct ll_engine ll_engine_t;
typedef struct ll_streams ll_streams_t;
typedef struct ll_esms ll_esms_t;
typedef struct ll_objstore ll_objstore_t;
typedef struct ll_tables ll_tables_t;

/* The services stacks deploy onto (borrowed; they outlive the stacks). */
typedef struct ll_stack_env {
  uv_loop_t *loop;
  ll_engine_t *engine;
  ll_streams_t *streams;
  ll_esms_t *esms;
  ll_objstore_t *objects;
  ll_tables_t *tables;
  double time_scale;   /* multiplies schedules' intervals (serve's --async-time-scale; 1) */
} ll_stack_env_t;

/* Opens (creating) data_dir/stacks/stacks.db, marks operations a stop interrupted as failed,
 * and restarts the schedules of deployed rules. */
int ll_stacks_open(const char *data_dir, const ll_stack_env_t *env, ll_stacks_t **out,
                   ll_err_t *err);
/* Stops the schedules. Operations in flight are abandoned (their state row says so). */
void ll_stacks_close(ll_stacks_t *s);

/* One step of an operation, as CloudFormation's stack events have it. */
typedef struct ll_stack_event {
  const char *logical_id;
  const char *type;          /* "AWS::Kinesis::Stream" */
  const char *physical_id;   /* or NULL */
  const char *status;        /* CREATE_IN_PROGRESS, CREATE_COMPLETE, UPDATE_COMPLETE,
                                DELETE_COMPLETE, CREATE_FAILED, ..., and for the stack itself
                                UPDATE_ROLLBACK_IN_PROGRESS, ... */
  const char *reason;        /* or NULL */
} ll_stack_event_t;
typedef void (*ll_stack_event_fn)(void *ud, const ll_stack_event_t *ev);
/* Fires once at the end: summary (borrowed) = {"StackName","StackStatus","Created","Updated",
 * "Deleted","Unchanged","Outputs":{name:value},"ElapsedMs"} and err NULL on success, or the
 * summary of the rolled-back operation with err saying what failed first. */
typedef void (*ll_stack_done_fn)(void *ud, json_t *summary, const ll_err_t *err);

/* Error codes in ll_err_t.code beyond engine.h's: a template CloudFormation would refuse
 * (ValidationError), and an operation on a stack that is busy or missing. */
enum { LL_STACK_INVALID = 5001, LL_STACK_BUSY, LL_STACK_NOT_FOUND };

/* Deploys template (borrowed; copied) as stack name, creating it when new. A template that
 * cannot be deployed is refused at once (-1, LL_STACK_INVALID with CloudFormation's message);
 * otherwise returns 0 and reports each step to ev and the end to done (both may fire before
 * this returns when nothing is asynchronous). */
int ll_stack_deploy(ll_stacks_t *s, const char *name, const json_t *template, ll_stack_event_fn ev,
                    ll_stack_done_fn done, void *ud, ll_err_t *err);
/* Deletes the stack's resources in reverse dependency order, then the stack. Buckets named (by
 * logical id) in empty_buckets (NULL-terminated, may be NULL) lose their objects first, as the
 * Serverless Framework empties its deployment bucket; any other bucket that is not empty makes
 * the remove fail there, as on AWS. */
int ll_stack_remove(ll_stacks_t *s, const char *name, const char *const *empty_buckets,
                    ll_stack_event_fn ev, ll_stack_done_fn done, void *ud, ll_err_t *err);
/* {"StackName","StackId","StackStatus","CreationTime","LastUpdatedTime","Resources":[{
 * "LogicalResourceId","ResourceType","PhysicalResourceId"}],"Outputs":[{"OutputKey",
 * "OutputValue"}]} (new reference), or NULL when there is no such stack. */
json_t *ll_stack_describe(ll_stacks_t *s, const char *name);
/* [{"StackName","StackStatus","LastUpdatedTime"}] by name (new reference). */
json_t *ll_stack_list(ll_stacks_t *s);

/* The identity policies of a role a stack deployed (its Policies' PolicyDocuments, resolved;
 * borrowed until the next change of stacks), or NULL when no stack has that role. */
json_t *ll_stack_role_policies(ll_stacks_t *s, const char *role_arn);

#endif

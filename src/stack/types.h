/* The CloudFormation resource types lambdalite's stack engine can deploy, with the attributes
 * Fn::GetAtt may read of each: shared by the serverless.yml compiler (to check references
 * before anything is sent, with line numbers) and the engine (to resolve them). */
#ifndef LL_STACK_TYPES_H
#define LL_STACK_TYPES_H

#include <stdbool.h>

typedef struct ll_stack_type {
  const char *name;              /* "AWS::Kinesis::Stream" */
  const char *ref;               /* what Ref returns: "stream name", "function name", ... */
  const char *const *attrs;      /* NULL-terminated Fn::GetAtt attribute names */
} ll_stack_type_t;

/* The type named name, or NULL when the engine cannot deploy it. */
const ll_stack_type_t *ll_stack_type_find(const char *name);
/* Whether Fn::GetAtt [resource, attr] is defined for a resource of type t. */
bool ll_stack_type_has_attr(const ll_stack_type_t *t, const char *attr);
/* The types, NULL-terminated by a zero entry (for error messages that list them). */
extern const ll_stack_type_t ll_stack_types[];

#endif

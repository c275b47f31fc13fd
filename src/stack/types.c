/* The deployable resource types (see types.h). Attributes are those CloudFormation documents
 * for each type, restricted to what the daemon has (no Kinesis encryption, no table streams). */
#include "stack/types.h"

#include <string.h>

static const char *const stream_attrs[] = {"Arn", NULL};
static const char *const table_attrs[] = {"Arn", NULL};
static const char *const bucket_attrs[] = {"Arn", "DomainName", "RegionalDomainName", NULL};
static const char *const function_attrs[] = {"Arn", NULL};
static const char *const layer_attrs[] = {"LayerVersionArn", NULL};
static const char *const role_attrs[] = {"Arn", "RoleId", NULL};
static const char *const esm_attrs[] = {"Id", NULL};
static const char *const log_group_attrs[] = {"Arn", NULL};
static const char *const rule_attrs[] = {"Arn", NULL};
static const char *const none[] = {NULL};

const ll_stack_type_t ll_stack_types[] = {
    {"AWS::Kinesis::Stream", "stream name", stream_attrs},
    {"AWS::DynamoDB::Table", "table name", table_attrs},
    {"AWS::S3::Bucket", "bucket name", bucket_attrs},
    {"AWS::S3::BucketPolicy", "bucket name", none},
    {"AWS::Lambda::Function", "function name", function_attrs},
    {"AWS::Lambda::LayerVersion", "layer version ARN", layer_attrs},
    {"AWS::Lambda::EventSourceMapping", "mapping UUID", esm_attrs},
    {"AWS::Lambda::Permission", "statement id", none},
    {"AWS::IAM::Role", "role name", role_attrs},
    {"AWS::Logs::LogGroup", "log group name", log_group_attrs},
    {"AWS::Events::Rule", "rule name", rule_attrs},
    {"Custom::S3", "notification id", none},
    {NULL, NULL, NULL},
};

const ll_stack_type_t *ll_stack_type_find(const char *name) {
  for (const ll_stack_type_t *t = ll_stack_types; name && t->name; t++)
    if (strcmp(t->name, name) == 0) return t;
  return NULL;
}

bool ll_stack_type_has_attr(const ll_stack_type_t *t, const char *attr) {
  for (const char *const *a = t->attrs; attr && *a; a++)
    if (strcmp(*a, attr) == 0) return true;
  return false;
}

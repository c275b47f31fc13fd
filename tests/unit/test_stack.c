/* The stack engine's template checks and intrinsic functions (src/stack/stack.c, resolve.c);
 * deploys themselves are tested end to end (tests/e2e/test_stack.py). */
#include <jansson.h>
#include <string.h>

#include "stack/stack_int.h"
#include "test.h"

static json_t *J(const char *text) {
  json_error_t e;
  json_t *v = json_loads(text, 0, &e);
  if (!v) {
    fprintf(stderr, "bad JSON in test: %s: %s\n", text, e.text);
    exit(1);
  }
  return v;
}

/* A deployed world: S is a stream, F a function. */
static const char *ref(void *ud, const char *lid) {
  return !strcmp(lid, "S") ? "work" : !strcmp(lid, "F") ? "fn" : NULL;
}
static json_t *att(void *ud, const char *lid, const char *attr) {
  static json_t *arn;
  if (!arn) arn = json_string("arn:aws:kinesis:eu-west-2:000000000000:stream/work");
  return !strcmp(lid, "S") && !strcmp(attr, "Arn") ? arn : NULL;
}
static const ll_stack_lookup_t L = {ref, att, NULL, "eu-west-2", "000000000000", "st", "arn:st"};

static char *resolved(const char *text) {
  json_t *v = J(text), *out = NULL;
  ll_err_t err = LL_ERR_INIT;
  char *s;
  if (ll__stack_resolve(v, &L, &out, &err) < 0) {
    s = strdup(err.msg);
  } else {
    s = out ? json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("(no value)");
  }
  json_decref(v);
  json_decref(out);
  return s;
}

#define CHECK_RESOLVES(in, want)     \
  do {                               \
    char *got_ = resolved(in);       \
    CHECK_STREQ(got_, want);         \
    free(got_);                      \
  } while (0)

LL_TEST(stack_resolves_ref_getatt_and_pseudo_parameters) {
  CHECK_RESOLVES("{\"Ref\":\"S\"}", "\"work\"");
  CHECK_RESOLVES("{\"Fn::GetAtt\":[\"S\",\"Arn\"]}", "\"arn:aws:kinesis:eu-west-2:000000000000:stream/work\"");
  CHECK_RESOLVES("{\"Fn::GetAtt\":\"S.Arn\"}", "\"arn:aws:kinesis:eu-west-2:000000000000:stream/work\"");
  CHECK_RESOLVES("[{\"Ref\":\"AWS::Region\"},{\"Ref\":\"AWS::AccountId\"},{\"Ref\":\"AWS::Partition\"},"
                 "{\"Ref\":\"AWS::StackName\"},{\"Ref\":\"AWS::URLSuffix\"}]",
                 "[\"eu-west-2\",\"000000000000\",\"aws\",\"st\",\"amazonaws.com\"]");
  /* AWS::NoValue removes the member or element holding it */
  CHECK_RESOLVES("{\"a\":1,\"b\":{\"Ref\":\"AWS::NoValue\"},\"c\":[1,{\"Ref\":\"AWS::NoValue\"},2]}",
                 "{\"a\":1,\"c\":[1,2]}");
  CHECK_RESOLVES("{\"Ref\":\"Nope\"}",
                 "Template format error: Unresolved resource dependencies [Nope] in the Resources "
                 "block of the template");
  CHECK_RESOLVES("{\"Fn::GetAtt\":[\"S\",\"StreamArn\"]}",
                 "Template error: resource S does not support attribute type StreamArn in Fn::GetAtt");
}

LL_TEST(stack_resolves_sub_join_select_split_getazs_base64) {
  CHECK_RESOLVES("{\"Fn::Sub\":\"arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/${F}*:*\"}",
                 "\"arn:aws:logs:eu-west-2:000000000000:log-group:/aws/lambda/fn*:*\"");
  CHECK_RESOLVES("{\"Fn::Sub\":[\"${S.Arn}/${x}/${!Literal}\",{\"x\":{\"Ref\":\"F\"}}]}",
                 "\"arn:aws:kinesis:eu-west-2:000000000000:stream/work/fn/${Literal}\"");
  CHECK_RESOLVES("{\"Fn::Join\":[\"-\",[\"a\",{\"Ref\":\"S\"},3]]}", "\"a-work-3\"");
  CHECK_RESOLVES("{\"Fn::Select\":[\"1\",{\"Fn::GetAZs\":\"\"}]}", "\"eu-west-2b\"");
  CHECK_RESOLVES("{\"Fn::Split\":[\":\",{\"Fn::GetAtt\":[\"S\",\"Arn\"]}]}",
                 "[\"arn\",\"aws\",\"kinesis\",\"eu-west-2\",\"000000000000\",\"stream/work\"]");
  CHECK_RESOLVES("{\"Fn::Base64\":\"hi\"}", "\"aGk=\"");
  CHECK_RESOLVES("{\"Fn::Select\":[5,[1]]}", "Template error: Fn::Select cannot select nonexistent value at index");
  CHECK_RESOLVES("{\"Fn::Join\":[\"-\",[{\"a\":1}]]}", "Template error: Fn::Join values must be strings");
  CHECK_RESOLVES("{\"Fn::If\":[\"c\",1,2]}",
                 "Template error: Fn::If is not supported yet (supported: Ref, Fn::GetAtt, Fn::Sub, "
                 "Fn::Join, Fn::Select, Fn::Split, Fn::GetAZs, Fn::Base64)");
  /* not an intrinsic: an object with more keys, or another key */
  CHECK_RESOLVES("{\"Ref\":\"S\",\"x\":1}", "{\"Ref\":\"S\",\"x\":1}");
}

static char *checked(const char *text) {
  json_t *tpl = J(text), *order = NULL;
  ll_err_t err = LL_ERR_INIT;
  char *s = ll__stack_check(tpl, &order, &err) < 0 ? strdup(err.msg) : json_dumps(order, JSON_COMPACT);
  json_decref(tpl);
  json_decref(order);
  return s;
}

#define CHECK_CHECKS(in, want)   \
  do {                           \
    char *got_ = checked(in);    \
    CHECK_STREQ(got_, want);     \
    free(got_);                  \
  } while (0)

LL_TEST(stack_orders_resources_after_what_they_depend_on) {
  CHECK_CHECKS("{\"Resources\":{"
               "\"M\":{\"Type\":\"AWS::Lambda::EventSourceMapping\",\"Properties\":{\"FunctionName\":{\"Fn::GetAtt\":[\"F\",\"Arn\"]},"
               "  \"EventSourceArn\":{\"Fn::Sub\":\"${S.Arn}\"}}},"
               "\"F\":{\"Type\":\"AWS::Lambda::Function\",\"DependsOn\":[\"G\"],\"Properties\":{\"Code\":{},\"Role\":{\"Fn::GetAtt\":[\"R\",\"Arn\"]}}},"
               "\"R\":{\"Type\":\"AWS::IAM::Role\",\"Properties\":{\"AssumeRolePolicyDocument\":{}}},"
               "\"G\":{\"Type\":\"AWS::Logs::LogGroup\"},"
               "\"S\":{\"Type\":\"AWS::Kinesis::Stream\"}}}",
               "[\"R\",\"G\",\"F\",\"S\",\"M\"]");
}

LL_TEST(stack_refuses_templates_as_cloudformation_does) {
  CHECK_CHECKS("{\"Resources\":{}}", "Template format error: At least one Resources member must be defined.");
  CHECK_CHECKS("{\"Parameters\":{},\"Resources\":{\"A\":{\"Type\":\"AWS::Logs::LogGroup\"}}}",
               "Template format error: the Parameters section is not supported yet");
  CHECK_CHECKS("{\"Resources\":{\"A\":{\"Properties\":{}}}}",
               "Template format error: [/Resources/A] Every Resources object must contain a Type member.");
  CHECK_CHECKS("{\"Resources\":{\"A\":{\"Type\":\"AWS::Logs::LogGroup\",\"Condition\":\"x\"}}}",
               "Template format error: [/Resources/A] Condition is not supported yet");
  CHECK_CHECKS("{\"Resources\":{\"A\":{\"Type\":\"AWS::Logs::LogGroup\",\"Foo\":1}}}",
               "Template format error: [/Resources/A] Invalid resource attribute Foo");
  CHECK_CHECKS("{\"Resources\":{\"A\":{\"Type\":\"AWS::Logs::LogGroup\",\"Properties\":{\"Name\":\"x\"}}}}",
               "Template error: resource A: Encountered unsupported property Name (AWS::Logs::LogGroup "
               "takes: LogGroupName, RetentionInDays, Tags)");
  CHECK_CHECKS("{\"Resources\":{\"A\":{\"Type\":\"AWS::Lambda::Function\",\"Properties\":{\"Code\":{}}}}}",
               "Template error: resource A: Property Role cannot be empty (AWS::Lambda::Function requires it)");
  CHECK_CHECKS("{\"Resources\":{\"A\":{\"Type\":\"AWS::Logs::LogGroup\",\"DependsOn\":\"B\"}}}",
               "Template format error: Unresolved resource dependencies [B] in the Resources block of the template");
  CHECK_CHECKS("{\"Resources\":{\"A\":{\"Type\":\"AWS::Logs::LogGroup\"}},\"Outputs\":{\"O\":{\"Value\":{\"Fn::GetAtt\":[\"A\",\"RoleId\"]}}}}",
               "Template error: resource A does not support attribute type RoleId in Fn::GetAtt (AWS::Logs::LogGroup has: Arn)");
  CHECK_CHECKS("{\"Resources\":{\"A\":{\"Type\":\"AWS::Logs::LogGroup\",\"DependsOn\":\"C\"},"
               "\"B\":{\"Type\":\"AWS::Logs::LogGroup\",\"DependsOn\":\"A\"},"
               "\"C\":{\"Type\":\"AWS::Logs::LogGroup\",\"Properties\":{\"LogGroupName\":{\"Ref\":\"B\"}}}}}",
               "Circular dependency between resources: [A, C, B, A]");
}

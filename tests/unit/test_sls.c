/* The serverless.yml compiler (src/stack/sls.c): reference templates from the real
 * `serverless package`, each error with its exact message and line, variables, tags. Runs from
 * the repo root (tests/data/sls). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "stack/sls.h"
#include "test.h"

#define BASE "tests/data/sls/base"

static const char *fake_env(const char *name, void *ud) {
  (void)ud;
  if (strcmp(name, "LL_TEST_TABLE") == 0) return "envTable";
  if (strcmp(name, "LL_TEST_STAGE") == 0) return "prod";
  return NULL;
}

static int compile(const char *yml, const ll_sls_opts_t *opts, ll_sls_result_t *r, ll_err_t *err) {
  ll_sls_opts_t o = {.getenv = fake_env};
  if (opts) o = *opts;
  if (!o.getenv) o.getenv = fake_env;
  return ll_sls_compile_text(yml, strlen(yml), "serverless.yml", BASE, &o, r, err);
}

static void expect_error(const char *yml, const char *want) {
  ll_sls_result_t r;
  ll_err_t err = LL_ERR_INIT;
  int rc = compile(yml, NULL, &r, &err);
  if (rc == 0) {
    fprintf(stderr, "compiled, but wanted: %s\n", want);
    ll_sls_result_free(&r);
  }
  CHECK_INTEQ(rc, -1);
  CHECK_STREQ(err.msg, want);
  CHECK(r.template == NULL);
}

static json_t *compile_ok(const char *yml, ll_sls_result_t *r) {
  ll_err_t err = LL_ERR_INIT;
  int rc = compile(yml, NULL, r, &err);
  if (rc != 0) fprintf(stderr, "error: %s\n", err.msg);
  CHECK_INTEQ(rc, 0);
  return json_object_get(r->template, "Resources");
}

/* Drops what we deliberately do not emit (AWS::Lambda::Version resources and the outputs that
 * point at them) and blanks every S3Key (the CLI fills them after uploading). */
static void strip_reference(json_t *t) {
  json_t *res = json_object_get(t, "Resources"), *outs = json_object_get(t, "Outputs");
  const char *k;
  json_t *v;
  void *tmp;
  json_object_foreach_safe(res, tmp, k, v) {
    if (strcmp(json_string_value(json_object_get(v, "Type")), "AWS::Lambda::Version") == 0) json_object_del(res, k);
  }
  json_object_foreach_safe(outs, tmp, k, v) {
    const char *suffix = "LambdaFunctionQualifiedArn";
    if (strlen(k) > strlen(suffix) && strcmp(k + strlen(k) - strlen(suffix), suffix) == 0) json_object_del(outs, k);
  }
  json_object_foreach(res, k, v) {
    json_t *props = json_object_get(v, "Properties");
    json_t *code = json_object_get(props, "Code");
    if (!code) code = json_object_get(props, "Content");
    if (json_is_object(code) && json_object_get(code, "S3Key")) json_object_set_new(code, "S3Key", json_string(""));
  }
}

static void check_same(json_t *got, json_t *want, const char *what) {
  if (!json_equal(got, want)) {
    char *g = json_dumps(got, JSON_INDENT(1) | JSON_SORT_KEYS), *w = json_dumps(want, JSON_INDENT(1) | JSON_SORT_KEYS);
    fprintf(stderr, "%s differs\n--- got\n%s\n--- want\n%s\n", what, g, w);
    free(g);
    free(w);
  }
  CHECK(json_equal(got, want));
}

LL_TEST(sls_queens_matches_reference) {
  ll_sls_result_t r;
  ll_err_t err = LL_ERR_INIT;
  int rc = ll_sls_compile("tests/data/sls/queens/serverless.yml", NULL, &r, &err);
  if (rc) fprintf(stderr, "%s\n", err.msg);
  CHECK_INTEQ(rc, 0);
  json_t *ref = json_load_file("tests/data/sls/queens/reference.json", 0, NULL);
  CHECK(ref != NULL);
  strip_reference(ref);
  check_same(r.template, ref, "queens template");
  CHECK_STREQ(r.service, "queens-completion-lambda-kinesis");
  CHECK_STREQ(r.stage, "dev");
  CHECK_STREQ(r.region, "eu-west-2");
  CHECK_STREQ(r.stack_name, "queens-completion-lambda-kinesis-dev");
  CHECK_INTEQ(r.nartifacts, 1);
  CHECK_STREQ(r.artifacts[0].logical_id, "QueensHandlerLambdaFunction");
  CHECK(r.artifacts[0].is_dir);
  CHECK(r.artifacts[0].path[0] == '/');
  CHECK(strstr(r.artifacts[0].path, "tests/data/sls/queens") != NULL);
  CHECK(r.artifacts[0].code ==
        json_object_get(json_object_get(json_object_get(json_object_get(r.template, "Resources"), "QueensHandlerLambdaFunction"), "Properties"), "Code"));
  bool excl = false;
  for (char **p = r.artifacts[0].patterns; *p; p++) excl |= strcmp(*p, "!.serverless/**") == 0;
  CHECK(excl);
  json_t *f = json_object_get(r.functions, "queensHandler");
  CHECK_STREQ(json_string_value(json_object_get(f, "logical_id")), "QueensHandlerLambdaFunction");
  CHECK_STREQ(json_string_value(json_object_get(f, "name")), "queens-completion-lambda-kinesis-dev-queensHandler");
  CHECK_INTEQ(r.nwarnings, 0);
  json_decref(ref);
  ll_sls_result_free(&r);
}

/* The supported part of the typical reference: each generated resource as Serverless makes it. */
LL_TEST(sls_typical_events_match_reference) {
  ll_sls_result_t r;
  ll_err_t err = LL_ERR_INIT;
  int rc = ll_sls_compile("tests/data/sls/typical/serverless.yml", NULL, &r, &err);
  if (rc) fprintf(stderr, "%s\n", err.msg);
  CHECK_INTEQ(rc, 0);
  json_t *ref = json_load_file("tests/data/sls/typical/reference.json", 0, NULL);
  CHECK(ref != NULL);
  strip_reference(ref);
  json_t *got = json_object_get(r.template, "Resources"), *want = json_object_get(ref, "Resources");
  static const char *const same[] = {"ServerlessDeploymentBucket", "ServerlessDeploymentBucketPolicy", "OnStreamLogGroup",
                                     "OnStreamLambdaFunction", "OnUploadLambdaFunction", "OnTimerLambdaFunction",
                                     "OnStreamEventSourceMappingKinesisWorkStream", "OnTimerEventsRuleSchedule1",
                                     "OnTimerLambdaPermissionEventsRuleSchedule1", "S3BucketTypicalinputbucket",
                                     "OnUploadLambdaPermissionTypicalinputbucketS3", "workStream", "resultsTable", NULL};
  for (size_t i = 0; same[i]; i++) check_same(json_object_get(got, same[i]), json_object_get(want, same[i]), same[i]);
  /* the role: the reference's statements minus those of the unsupported events (ddb, sqs) */
  json_t *role = json_deep_copy(json_object_get(want, "IamRoleLambdaExecution"));
  json_t *stmts = json_object_get(json_object_get(json_array_get(json_object_get(json_object_get(role, "Properties"), "Policies"), 0), "PolicyDocument"), "Statement");
  CHECK_INTEQ(json_array_size(stmts), 6);
  json_array_remove(stmts, 5);
  json_array_remove(stmts, 4);
  check_same(json_object_get(got, "IamRoleLambdaExecution"), role, "IamRoleLambdaExecution");
  json_decref(role);
  /* Custom::S3 without the custom-resource lambda (the daemon implements it) */
  json_t *cs3 = json_deep_copy(json_object_get(want, "OnExistingBucketCustomS31"));
  json_object_del(json_object_get(cs3, "Properties"), "ServiceToken");
  json_object_del(cs3, "Version");
  json_array_remove(json_object_get(cs3, "DependsOn"), 1);
  check_same(json_object_get(got, "OnExistingBucketCustomS31"), cs3, "OnExistingBucketCustomS31");
  json_decref(cs3);
  CHECK(json_object_get(got, "IamRoleCustomResourcesLambdaExecution") == NULL);
  check_same(json_object_get(json_object_get(r.template, "Outputs"), "TableName"), json_object_get(json_object_get(ref, "Outputs"), "TableName"), "TableName output");
  CHECK_INTEQ(r.nartifacts, 4);
  json_decref(ref);
  ll_sls_result_free(&r);
}

LL_TEST(sls_whitepaper_layer_and_s3) {
  ll_sls_result_t r;
  ll_err_t err = LL_ERR_INIT;
  int rc = ll_sls_compile("tests/data/sls/whitepaper/serverless.yml", NULL, &r, &err);
  if (rc) fprintf(stderr, "%s\n", err.msg);
  CHECK_INTEQ(rc, 0);
  json_t *res = json_object_get(r.template, "Resources");
  json_t *layer = json_object_get(res, "KdbLambdaLayer");
  CHECK_STREQ(json_string_value(json_object_get(layer, "Type")), "AWS::Lambda::LayerVersion");
  json_t *lp = json_object_get(layer, "Properties");
  CHECK_STREQ(json_string_value(json_object_get(lp, "LayerName")), "kdb");
  CHECK_STREQ(json_string_value(json_object_get(lp, "Description")), "kdb+ binaries");
  CHECK_STREQ(json_string_value(json_array_get(json_object_get(lp, "CompatibleRuntimes"), 0)), "provided.al2");
  json_t *fp = json_object_get(json_object_get(res, "CsvLoaderLambdaFunction"), "Properties");
  CHECK_STREQ(json_string_value(json_object_get(fp, "Runtime")), "provided.al2");
  CHECK_INTEQ(json_integer_value(json_object_get(fp, "MemorySize")), 512);
  CHECK_STREQ(json_string_value(json_object_get(json_array_get(json_object_get(fp, "Layers"), 0), "Ref")), "KdbLambdaLayer");
  CHECK_STREQ(json_string_value(json_object_get(json_object_get(json_object_get(fp, "Environment"), "Variables"), "QHOME")), "/opt");
  json_t *b = json_object_get(res, "S3BucketKdbwhitepaperinput");
  CHECK_STREQ(json_string_value(json_object_get(json_object_get(b, "Properties"), "BucketName")), "kdb-whitepaper-input");
  json_t *lc = json_array_get(json_object_get(json_object_get(json_object_get(b, "Properties"), "NotificationConfiguration"), "LambdaConfigurations"), 0);
  CHECK_STREQ(json_string_value(json_object_get(lc, "Event")), "s3:ObjectCreated:*");
  CHECK_STREQ(json_string_value(json_array_get(json_object_get(json_object_get(lc, "Function"), "Fn::GetAtt"), 0)), "CsvLoaderLambdaFunction");
  json_t *rule = json_array_get(json_object_get(json_object_get(json_object_get(lc, "Filter"), "S3Key"), "Rules"), 0);
  CHECK_STREQ(json_string_value(json_object_get(rule, "Name")), "suffix");
  CHECK_STREQ(json_string_value(json_object_get(rule, "Value")), ".csv");
  CHECK_STREQ(json_string_value(json_array_get(json_object_get(b, "DependsOn"), 0)), "CsvLoaderLambdaPermissionKdbwhitepaperinputS3");
  json_t *perm = json_object_get(res, "CsvLoaderLambdaPermissionKdbwhitepaperinputS3");
  CHECK_STREQ(json_string_value(json_object_get(json_object_get(perm, "Properties"), "Principal")), "s3.amazonaws.com");
  json_t *out = json_object_get(json_object_get(r.template, "Outputs"), "KdbLambdaLayerQualifiedArn");
  CHECK_STREQ(json_string_value(json_object_get(json_object_get(out, "Value"), "Ref")), "KdbLambdaLayer");
  /* the user's Fn::Sub statement comes after the two log statements */
  json_t *st = json_object_get(json_object_get(json_array_get(json_object_get(json_object_get(json_object_get(res, "IamRoleLambdaExecution"), "Properties"), "Policies"), 0), "PolicyDocument"), "Statement");
  CHECK_STREQ(json_string_value(json_object_get(json_object_get(json_array_get(st, 2), "Resource"), "Fn::Sub")), "arn:${AWS::Partition}:s3:::kdb-whitepaper-input/*");
  /* artifacts: the function (service dir, without layer/), then the layer dir */
  CHECK_INTEQ(r.nartifacts, 2);
  CHECK_STREQ(r.artifacts[0].logical_id, "CsvLoaderLambdaFunction");
  bool has_layer_excl = false;
  for (char **p = r.artifacts[0].patterns; *p; p++) has_layer_excl |= strcmp(*p, "!layer/**") == 0;
  CHECK(has_layer_excl);
  CHECK_STREQ(r.artifacts[1].logical_id, "KdbLambdaLayer");
  CHECK(r.artifacts[1].is_dir);
  CHECK(strstr(r.artifacts[1].path, "whitepaper/layer") != NULL);
  CHECK(r.artifacts[1].code == json_object_get(lp, "Content"));
  ll_sls_result_free(&r);
}

#define HEAD "service: svc\nprovider:\n  name: aws\n  runtime: provided.al2\n" /* 4 lines */

LL_TEST(sls_error_unknown_top_key) {
  expect_error(HEAD "functionz:\n  f: {handler: h}\n", "serverless.yml:5: functionz: unknown key (did you mean functions?)");
  expect_error(HEAD "params:\n  dev: {}\n", "serverless.yml:5: params: unknown key");
  expect_error(HEAD "plugins:\n  - serverless-offline\n", "serverless.yml:5: plugins: plugins are not supported");
}

LL_TEST(sls_error_unknown_function_key) {
  expect_error(HEAD "functions:\n  queensHandler:\n    handler: h\n    memroySize: 128\n",
               "serverless.yml:8: functions.queensHandler.memroySize: unknown key (did you mean memorySize?)");
  expect_error(HEAD "functions:\n  f:\n    handler: h\n    url: true\n", "serverless.yml:8: functions.f.url: url: not supported yet");
}

LL_TEST(sls_error_events) {
  expect_error(HEAD "functions:\n  f:\n    handler: h\n    events:\n      - kinesis: {arn: x}\n",
               "serverless.yml:9: functions.f.events[0].kinesis: unknown key");
  expect_error(HEAD "functions:\n  f:\n    handler: h\n    events:\n      - schedule: rate(1 minute)\n      - http: {path: a, method: get}\n",
               "serverless.yml:10: functions.f.events[1].http: http events are not supported yet (the HTTP trigger is not built)");
  expect_error(HEAD "functions:\n  f:\n    handler: h\n    events:\n      - sqs: {arn: x}\n",
               "serverless.yml:9: functions.f.events[0].sqs: sqs events are not supported yet");
  expect_error(HEAD "functions:\n  f:\n    handler: h\n    events:\n      - stream: {type: dynamodb, arn: 'arn:aws:dynamodb:r:1:table/t/stream/x'}\n",
               "serverless.yml:9: functions.f.events[0].stream: dynamodb streams are not supported yet");
}

LL_TEST(sls_error_getatt_attribute) {
  expect_error(HEAD "resources:\n  Resources:\n    workStream:\n      Type: AWS::Kinesis::Stream\n      Properties: {ShardCount: 1}\n"
                    "    Event:\n      Type: AWS::Lambda::EventSourceMapping\n      Properties:\n"
                    "        EventSourceArn: !GetAtt workStream.StreamArn\n        FunctionName: x\n",
               "serverless.yml:13: resources.Resources.Event.Properties.EventSourceArn: Fn::GetAtt [workStream, StreamArn]: "
               "AWS::Kinesis::Stream has no attribute StreamArn (it has: Arn)");
}

LL_TEST(sls_error_getatt_missing_resource) {
  expect_error(HEAD "  iamRoleStatements:\n    - Effect: Allow\n      Action: [kinesis:PutRecord]\n      Resource: {Fn::GetAtt: [workStrem, Arn]}\n"
                    "resources:\n  Resources:\n    workStream:\n      Type: AWS::Kinesis::Stream\n      Properties: {ShardCount: 1}\n",
               "serverless.yml:8: provider.iamRoleStatements[0].Resource: Fn::GetAtt refers to workStrem, which is not a resource "
               "of this stack (did you mean workStream?)");
}

LL_TEST(sls_error_ref_missing_resource) {
  expect_error(HEAD "  environment:\n    TABLE: !Ref resultsTabel\nfunctions:\n  f: {handler: h}\n"
                    "resources:\n  Resources:\n    resultsTable:\n      Type: AWS::DynamoDB::Table\n",
               "serverless.yml:6: provider.environment.TABLE: Ref refers to resultsTabel, which is not a resource of this stack "
               "(did you mean resultsTable?)");
  expect_error(HEAD "resources:\n  Resources:\n    t:\n      Type: AWS::DynamoDB::Table\n      Properties:\n        TableName: !Sub '${nothere}-x'\n",
               "serverless.yml:10: resources.Resources.t.Properties.TableName: Fn::Sub refers to nothere, which is not a resource of this stack");
}

LL_TEST(sls_error_dependency_cycle) {
  expect_error(HEAD "resources:\n  Resources:\n    a:\n      Type: AWS::Kinesis::Stream\n      DependsOn: b\n"
                    "    b:\n      Type: AWS::Kinesis::Stream\n      Properties:\n        Name: !Ref a\n",
               "serverless.yml:7: resources.Resources.a: dependency cycle: a -> b -> a");
  expect_error(HEAD "resources:\n  Resources:\n    a:\n      Type: AWS::Kinesis::Stream\n      DependsOn: [c]\n",
               "serverless.yml:9: resources.Resources.a.DependsOn: DependsOn refers to c, which is not a resource of this stack");
}

LL_TEST(sls_error_missing_file) {
  expect_error(HEAD "custom:\n  settings: ${file(./x.yml)}\n",
               "serverless.yml:6: custom.settings: ${file(./x.yml)}: cannot read ./x.yml: No such file or directory");
}

LL_TEST(sls_error_missing_artifact) {
  expect_error(HEAD "functions:\n  f:\n    handler: h\n    package:\n      artifact: ./x.zip\n",
               "serverless.yml:9: functions.f.package.artifact: ./x.zip: No such file or directory");
  expect_error(HEAD "layers:\n  kdb:\n    path: ./nolayer\n", "serverless.yml:7: layers.kdb.path: ./nolayer: No such file or directory");
}

LL_TEST(sls_error_unsupported_resource_type) {
  ll_sls_result_t r;
  ll_err_t err = LL_ERR_INIT;
  const char *yml = HEAD "resources:\n  Resources:\n    jobQueue:\n      Type: AWS::SQS::Queue\n";
  CHECK_INTEQ(compile(yml, NULL, &r, &err), -1);
  const char *want = "serverless.yml:8: resources.Resources.jobQueue.Type: AWS::SQS::Queue is not supported (supported: AWS::Kinesis::Stream, ";
  CHECK(strncmp(err.msg, want, strlen(want)) == 0);
  expect_error(HEAD "resources:\n  Conditions:\n    IsProd: {}\n", "serverless.yml:6: resources.Conditions: conditions are not supported yet");
  expect_error(HEAD "resources:\n  Resources:\n    q:\n      Type: AWS::Kinesis::Stream\n      Condition: IsProd\n",
               "serverless.yml:9: resources.Resources.q.Condition: conditions are not supported yet");
  expect_error(HEAD "  environment:\n    X: !ImportValue other\n", "serverless.yml:6: provider.environment.X: !ImportValue is not supported");
}

LL_TEST(sls_error_yaml_syntax) {
  expect_error("service: a\nprovider:\n  name: aws\n  x: [1,\nfoo: 2\n", "serverless.yml:5: wrongly indented flow sequence");
  expect_error("service: a\nprovider: [1,\n", "serverless.yml:3: did not find expected node content");
}

LL_TEST(sls_allow_unknown_warns) {
  ll_sls_opts_t o = {.allow_unknown = true};
  ll_sls_result_t r;
  ll_err_t err = LL_ERR_INIT;
  const char *yml = HEAD "functions:\n  f:\n    handler: h\n    memroySize: 128\n    events:\n      - kinesis: {}\n      - schedule: rate(1 minute)\n";
  int rc = compile(yml, &o, &r, &err);
  if (rc) fprintf(stderr, "%s\n", err.msg);
  CHECK_INTEQ(rc, 0);
  CHECK_INTEQ(r.nwarnings, 2);
  CHECK_STREQ(r.warnings[0], "serverless.yml:8: functions.f.memroySize: unknown key (did you mean memorySize?), ignored");
  CHECK_STREQ(r.warnings[1], "serverless.yml:10: functions.f.events[0].kinesis: unknown key, ignored");
  json_t *res = json_object_get(r.template, "Resources");
  CHECK(json_object_get(res, "FEventsRuleSchedule1") != NULL);
  CHECK_INTEQ(json_integer_value(json_object_get(json_object_get(json_object_get(res, "FLambdaFunction"), "Properties"), "MemorySize")), 1024);
  ll_sls_result_free(&r);
}

LL_TEST(sls_variables) {
  ll_sls_opts_t o = {.stage = "test"};
  ll_sls_result_t r;
  ll_err_t err = LL_ERR_INIT;
  const char *yml =
      "service: vars\n"
      "custom:\n"
      "  file: ${file(./vars.yml)}\n"
      "  json: ${file(./vars.json):db.table}\n"
      "  size: ${file(./vars.json):db.size}\n"
      "  region: ${opt:region, 'eu-central-1'}\n"
      "  deep: ${self:custom.file.nested}\n"
      "  chain: ${self:custom.deep.name}\n"
      "provider:\n"
      "  name: aws\n"
      "  runtime: provided.al2\n"
      "  stage: ${opt:stage, 'dev'}\n"
      "  region: ${self:custom.region}\n"
      "  memorySize: ${self:custom.file.memory}\n"
      "  environment:\n"
      "    TABLE: ${env:LL_TEST_TABLE}\n"
      "    OTHER: ${env:LL_TEST_UNSET, 'fallback'}\n"
      "    TEXT: ${self:service}-${sls:stage}-${aws:region}-${aws:accountId}\n"
      "    FROM_JSON: ${self:custom.json}\n"
      "    SIZE: ${self:custom.size}\n"
      "    CHAIN: ${self:custom.chain}\n"
      "    ENVSTAGE: ${env:LL_TEST_UNSET, ${env:LL_TEST_STAGE}}\n"
      "    SECOND: ${self:custom.deep.list.1}\n"
      "    SUB: !Sub '${AWS::Region}-x'\n"
      "functions:\n"
      "  f: {handler: h}\n";
  int rc = compile(yml, &o, &r, &err);
  if (rc) fprintf(stderr, "%s\n", err.msg);
  CHECK_INTEQ(rc, 0);
  CHECK_STREQ(r.stage, "test");
  CHECK_STREQ(r.region, "eu-central-1");
  json_t *fp = json_object_get(json_object_get(json_object_get(r.template, "Resources"), "FLambdaFunction"), "Properties");
  CHECK_INTEQ(json_integer_value(json_object_get(fp, "MemorySize")), 256); /* a whole-value variable keeps its type */
  CHECK_STREQ(json_string_value(json_object_get(fp, "FunctionName")), "vars-test-f");
  json_t *v = json_object_get(json_object_get(fp, "Environment"), "Variables");
  CHECK_STREQ(json_string_value(json_object_get(v, "TABLE")), "envTable");
  CHECK_STREQ(json_string_value(json_object_get(v, "OTHER")), "fallback");
  CHECK_STREQ(json_string_value(json_object_get(v, "TEXT")), "vars-test-eu-central-1-000000000000");
  CHECK_STREQ(json_string_value(json_object_get(v, "FROM_JSON")), "jsonTable");
  CHECK_STREQ(json_string_value(json_object_get(v, "SIZE")), "7");
  CHECK_STREQ(json_string_value(json_object_get(v, "CHAIN")), "from-file");
  CHECK_STREQ(json_string_value(json_object_get(v, "ENVSTAGE")), "prod");
  CHECK_STREQ(json_string_value(json_object_get(v, "SECOND")), "b");
  CHECK_STREQ(json_string_value(json_object_get(json_object_get(v, "SUB"), "Fn::Sub")), "${AWS::Region}-x");
  ll_sls_result_free(&r);

  /* no --stage: provider.stage's fallback */
  CHECK_INTEQ(compile(yml, NULL, &r, &err), 0);
  CHECK_STREQ(r.stage, "dev");
  CHECK_STREQ(r.stack_name, "vars-dev");
  ll_sls_result_free(&r);

  expect_error(HEAD "  environment:\n    X: ${env:LL_TEST_UNSET}\n", "serverless.yml:6: provider.environment.X: ${env:LL_TEST_UNSET}: cannot resolve variable");
  expect_error(HEAD "custom:\n  a: ${self:custom.b}\n  b: ${self:custom.a}\n",
               "serverless.yml:6: custom.a: ${self:custom.b}: variable recursion too deep");
  expect_error(HEAD "custom:\n  a: ${ssm:/x}\n", "serverless.yml:6: custom.a: ${ssm:/x}: variable source ssm is not supported");
}

LL_TEST(sls_short_form_tags) {
  ll_sls_result_t r;
  const char *yml = HEAD
      "resources:\n  Resources:\n    s:\n      Type: AWS::Kinesis::Stream\n      Properties:\n"
      "        Name: !Join ['-', [!Ref AWS::StackName, !Select [0, !Split [',', 'a,b']]]]\n"
      "        ShardCount: 1\n"
      "        Tags:\n          - {Key: arn, Value: !GetAtt [t, Arn]}\n          - {Key: sub, Value: !Sub '${t.Arn}'}\n"
      "          - {Key: azs, Value: !Select [0, !GetAZs '']}\n          - {Key: q, Value: '123'}\n          - {Key: n, Value: 1.5}\n"
      "    t:\n      Type: AWS::DynamoDB::Table\n";
  json_t *res = compile_ok(yml, &r);
  json_t *p = json_object_get(json_object_get(res, "s"), "Properties");
  json_t *want = json_loads("{\"Fn::Join\":[\"-\",[{\"Ref\":\"AWS::StackName\"},{\"Fn::Select\":[0,{\"Fn::Split\":[\",\",\"a,b\"]}]}]]}", 0, NULL);
  check_same(json_object_get(p, "Name"), want, "Name");
  json_decref(want);
  CHECK(json_is_integer(json_object_get(p, "ShardCount")));
  json_t *tags = json_object_get(p, "Tags");
  want = json_loads("{\"Fn::GetAtt\":[\"t\",\"Arn\"]}", 0, NULL);
  check_same(json_object_get(json_array_get(tags, 0), "Value"), want, "GetAtt");
  json_decref(want);
  CHECK_STREQ(json_string_value(json_object_get(json_object_get(json_array_get(tags, 1), "Value"), "Fn::Sub")), "${t.Arn}");
  CHECK(json_object_get(json_object_get(json_object_get(json_array_get(tags, 2), "Value"), "Fn::Select"), "") == NULL);
  CHECK(json_is_string(json_object_get(json_array_get(tags, 3), "Value"))); /* quoted stays a string */
  CHECK(json_is_real(json_object_get(json_array_get(tags, 4), "Value")));
  ll_sls_result_free(&r);
  expect_error(HEAD "  environment:\n    X: !If [a, b, c]\n", "serverless.yml:6: provider.environment.X: !If is not supported");
  expect_error(HEAD "  environment:\n    X: !Foo bar\n", "serverless.yml:6: provider.environment.X: unknown tag !Foo");
}

LL_TEST(sls_stream_event) {
  ll_sls_result_t r;
  const char *yml = HEAD
      "functions:\n  worker:\n    handler: h\n    reservedConcurrency: 3\n    events:\n"
      "      - stream: arn:aws:kinesis:eu-west-2:000000000000:stream/jobs\n"
      "      - stream:\n          arn: !GetAtt work.Arn\n          type: kinesis\n          batchWindow: 5\n"
      "          functionResponseType: ReportBatchItemFailures\n          parallelizationFactor: 2\n          enabled: false\n"
      "          destinations: {onFailure: 'arn:aws:sqs:eu-west-2:000000000000:dlq'}\n"
      "resources:\n  Resources:\n    work:\n      Type: AWS::Kinesis::Stream\n";
  json_t *res = compile_ok(yml, &r);
  json_t *a = json_object_get(res, "WorkerEventSourceMappingKinesisJobs");
  CHECK(a != NULL);
  CHECK_STREQ(json_string_value(json_object_get(json_object_get(a, "Properties"), "EventSourceArn")), "arn:aws:kinesis:eu-west-2:000000000000:stream/jobs");
  json_t *b = json_object_get(json_object_get(res, "WorkerEventSourceMappingKinesisWork"), "Properties");
  CHECK_INTEQ(json_integer_value(json_object_get(b, "MaximumBatchingWindowInSeconds")), 5);
  CHECK_INTEQ(json_integer_value(json_object_get(b, "ParallelizationFactor")), 2);
  CHECK(json_is_false(json_object_get(b, "Enabled")));
  CHECK_STREQ(json_string_value(json_array_get(json_object_get(b, "FunctionResponseTypes"), 0)), "ReportBatchItemFailures");
  CHECK_STREQ(json_string_value(json_object_get(json_object_get(json_object_get(b, "DestinationConfig"), "OnFailure"), "Destination")),
              "arn:aws:sqs:eu-west-2:000000000000:dlq");
  CHECK_INTEQ(json_integer_value(json_object_get(json_object_get(json_object_get(res, "WorkerLambdaFunction"), "Properties"), "ReservedConcurrentExecutions")), 3);
  json_t *st = json_object_get(json_object_get(json_array_get(json_object_get(json_object_get(json_object_get(res, "IamRoleLambdaExecution"), "Properties"), "Policies"), 0), "PolicyDocument"), "Statement");
  CHECK_INTEQ(json_array_size(st), 4); /* logs x2, kinesis (both streams), sqs for the destination */
  CHECK_INTEQ(json_array_size(json_object_get(json_array_get(st, 2), "Resource")), 2);
  CHECK_STREQ(json_string_value(json_array_get(json_object_get(json_array_get(st, 3), "Action"), 1)), "sqs:SendMessage");
  ll_sls_result_free(&r);
}

LL_TEST(sls_artifact_and_custom_role) {
  ll_sls_result_t r;
  const char *yml = HEAD
      "  deploymentBucket: {name: my-deploys}\n  logRetentionInDays: 14\n"
      "functions:\n  f:\n    handler: h\n    role: myRole\n    name: custom-name\n    package: {artifact: ./code.zip}\n"
      "resources:\n  Resources:\n    myRole:\n      Type: AWS::IAM::Role\n";
  json_t *res = compile_ok(yml, &r);
  CHECK(json_object_get(res, "ServerlessDeploymentBucket") == NULL);
  CHECK(json_object_get(res, "IamRoleLambdaExecution") == NULL);
  json_t *p = json_object_get(json_object_get(res, "FLambdaFunction"), "Properties");
  CHECK_STREQ(json_string_value(json_object_get(json_object_get(p, "Code"), "S3Bucket")), "my-deploys");
  CHECK_STREQ(json_string_value(json_array_get(json_object_get(json_object_get(p, "Role"), "Fn::GetAtt"), 0)), "myRole");
  CHECK_STREQ(json_string_value(json_object_get(p, "FunctionName")), "custom-name");
  CHECK_INTEQ(json_integer_value(json_object_get(json_object_get(json_object_get(res, "FLogGroup"), "Properties"), "RetentionInDays")), 14);
  CHECK_INTEQ(r.nartifacts, 1);
  CHECK(!r.artifacts[0].is_dir);
  CHECK(strstr(r.artifacts[0].path, "base/code.zip") != NULL);
  ll_sls_result_free(&r);
  expect_error(HEAD "functions:\n  f:\n    handler: h\n    role: nope\n",
               "serverless.yml:8: functions.f.role: role refers to nope, which is not a resource of this stack");
}

LL_TEST(sls_normalize_name) {
  char *s = ll_sls_normalize_name("on-upload_x");
  CHECK_STREQ(s, "OnDashuploadUnderscorex");
  free(s);
}

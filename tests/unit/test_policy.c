/* IAM identity-policy parsing and evaluation (src/auth/policy.c). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/policy.h"
#include "core/mem.h"
#include "test.h"

static char why[512];

/* Parses a JSON text (an array of documents, or one document) into a policy; NULL (message in
 * why) when refused. */
static ll_policy_t *P(const char *text) {
  json_error_t err;
  json_t *docs = json_loads(text, JSON_DECODE_ANY, &err);
  if (!docs) fprintf(stderr, "bad test JSON: %s: %s\n", text, err.text);
  CHECK(docs != NULL);
  ll_policy_t *p = NULL;
  memset(why, 0, sizeof why);
  int rc = ll_policy_parse(docs, &p, why, sizeof why);
  json_decref(docs);
  if (rc < 0) {
    CHECK(p == NULL);
    CHECK(why[0] != '\0');
    return NULL;
  }
  CHECK(p != NULL);
  return p;
}

/* A statement list wrapped in a 2012-10-17 document inside a one-element array. */
static ll_policy_t *S(const char *stmts) {
  char *text = ll_sprintf("[{\"Version\":\"2012-10-17\",\"Statement\":%s}]", stmts);
  ll_policy_t *p = P(text);
  free(text);
  return p;
}

/* The refusal message for a statement list. */
static const char *refused(const char *stmts) {
  ll_policy_t *p = S(stmts);
  if (p) {
    fprintf(stderr, "accepted: %s\n", stmts);
    ll_policy_unref(p);
  }
  CHECK(p == NULL);
  return why;
}

/* A request context: "key=value" pairs, the same key repeated for several values. */
typedef struct kv_ctx {
  const char *pairs[16];
} kv_ctx_t;

static size_t ctx_fn(const char *key, const char **values, size_t max, void *ud) {
  kv_ctx_t *c = ud;
  size_t n = 0, kl = strlen(key);
  for (size_t i = 0; i < 16 && c->pairs[i]; i++) {
    const char *eq = strchr(c->pairs[i], '=');
    if ((size_t)(eq - c->pairs[i]) == kl && strncasecmp(c->pairs[i], key, kl) == 0 && n < max)
      values[n++] = eq + 1;
  }
  return n;
}

#define ALLOW LL_POLICY_ALLOW
#define IMPLICIT LL_POLICY_IMPLICIT_DENY
#define DENY LL_POLICY_EXPLICIT_DENY

static ll_policy_decision_t E(const ll_policy_t *p, const char *action, const char *res) {
  return ll_policy_eval(p, action, res, NULL, NULL);
}

/* Evaluates under a context of up to 4 pairs (NULL-terminated). */
static ll_policy_decision_t EC(const ll_policy_t *p, const char *action, const char *res,
                               const char *a, const char *b, const char *c, const char *d) {
  kv_ctx_t ctx = {{a, b, c, d, NULL}};
  return ll_policy_eval(p, action, res, ctx_fn, &ctx);
}

static const char *STREAM = "arn:aws:kinesis:us-east-1:000000000000:stream/events";
static const char *TABLE = "arn:aws:dynamodb:us-east-1:000000000000:table/results";

LL_TEST(policy_kinesis_article_statements) {
  ll_policy_t *p = S(
      "[{\"Effect\":\"Allow\",\"Action\":[\"kinesis:GetRecords\",\"kinesis:GetShardIterator\","
      "\"kinesis:DescribeStream\",\"kinesis:ListStreams\"],"
      "\"Resource\":\"arn:aws:kinesis:us-east-1:000000000000:stream/events\"},"
      "{\"Effect\":\"Allow\",\"Action\":[\"dynamodb:PutItem\"],"
      "\"Resource\":\"arn:aws:dynamodb:us-east-1:000000000000:table/results\"}]");
  CHECK(p);
  CHECK_INTEQ(E(p, "kinesis:GetRecords", STREAM), ALLOW);
  CHECK_INTEQ(E(p, "kinesis:GetShardIterator", STREAM), ALLOW);
  CHECK_INTEQ(E(p, "kinesis:DescribeStream", STREAM), ALLOW);
  CHECK_INTEQ(E(p, "dynamodb:PutItem", TABLE), ALLOW);
  CHECK_INTEQ(E(p, "dynamodb:GetItem", TABLE), IMPLICIT);
  CHECK_INTEQ(E(p, "dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:000000000000:table/other"),
              IMPLICIT);
  CHECK_INTEQ(E(p, "dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:000000000000:table/results2"),
              IMPLICIT);
  CHECK_INTEQ(E(p, "kinesis:PutRecord", STREAM), IMPLICIT);
  CHECK_INTEQ(E(p, "kinesis:GetRecords", "arn:aws:kinesis:us-east-1:000000000000:stream/other"),
              IMPLICIT);
  CHECK_INTEQ(E(p, "kinesis:GetRecords", TABLE), IMPLICIT);
  /* references */
  CHECK(ll_policy_ref(p) == p);
  ll_policy_unref(p);
  ll_policy_unref(p);
  ll_policy_unref(NULL);
  CHECK(ll_policy_ref(NULL) == NULL);
  CHECK_INTEQ(E(NULL, "dynamodb:PutItem", TABLE), IMPLICIT);
}

LL_TEST(policy_action_wildcards_and_case) {
  ll_policy_t *p = S("[{\"Effect\":\"Allow\",\"Action\":\"dynamodb:*\",\"Resource\":\"*\"},"
                     "{\"Effect\":\"Allow\",\"Action\":\"Kinesis:Get*\",\"Resource\":\"*\"},"
                     "{\"Effect\":\"Allow\",\"Action\":\"s3:?etObject\",\"Resource\":\"*\"}]");
  CHECK(p);
  CHECK_INTEQ(E(p, "dynamodb:PutItem", TABLE), ALLOW);
  CHECK_INTEQ(E(p, "DynamoDB:getitem", TABLE), ALLOW);
  CHECK_INTEQ(E(p, "kinesis:GetRecords", STREAM), ALLOW);
  CHECK_INTEQ(E(p, "KINESIS:GETSHARDITERATOR", STREAM), ALLOW);
  CHECK_INTEQ(E(p, "kinesis:PutRecord", STREAM), IMPLICIT);
  CHECK_INTEQ(E(p, "s3:GetObject", "arn:aws:s3:::b/k"), ALLOW);
  CHECK_INTEQ(E(p, "s3:LetObject", "arn:aws:s3:::b/k"), ALLOW);
  CHECK_INTEQ(E(p, "s3:PutObject", "arn:aws:s3:::b/k"), IMPLICIT);
  CHECK_INTEQ(E(p, "s3:GetObjectAcl", "arn:aws:s3:::b/k"), IMPLICIT);
  CHECK_INTEQ(E(p, "dynamodbx:PutItem", TABLE), IMPLICIT);
  CHECK_INTEQ(E(p, "sqs:SendMessage", "arn:aws:sqs:us-east-1:000000000000:q"), IMPLICIT);
  ll_policy_unref(p);

  p = S("{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}");
  CHECK(p);
  CHECK_INTEQ(E(p, "sqs:SendMessage", "arn:aws:sqs:us-east-1:000000000000:q"), ALLOW);
  CHECK_INTEQ(E(p, "lambda:InvokeFunction", "arn:aws:lambda:us-east-1:0:function:f"), ALLOW);
  ll_policy_unref(p);
}

LL_TEST(policy_resource_wildcards_span_segments) {
  ll_policy_t *p = S("[{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::bucket/*\"},"
                     "{\"Effect\":\"Allow\",\"Action\":\"dynamodb:Query\","
                     "\"Resource\":[\"arn:aws:dynamodb:*:*:table/results*\",\"arn:aws:dynamodb:us-east-1:?:table/x\"]}]");
  CHECK(p);
  CHECK_INTEQ(E(p, "s3:GetObject", "arn:aws:s3:::bucket/a"), ALLOW);
  CHECK_INTEQ(E(p, "s3:GetObject", "arn:aws:s3:::bucket/a/b"), ALLOW);
  CHECK_INTEQ(E(p, "s3:GetObject", "arn:aws:s3:::bucket/"), ALLOW);
  CHECK_INTEQ(E(p, "s3:GetObject", "arn:aws:s3:::bucket"), IMPLICIT);
  CHECK_INTEQ(E(p, "s3:GetObject", "arn:aws:s3:::bucket2/a"), IMPLICIT);
  CHECK_INTEQ(E(p, "s3:GetObject", "arn:aws:s3:::Bucket/a"), IMPLICIT); /* case-sensitive */
  CHECK_INTEQ(E(p, "dynamodb:Query", TABLE), ALLOW);
  CHECK_INTEQ(E(p, "dynamodb:Query", "arn:aws:dynamodb:eu-west-1:111:table/results/index/gsi"),
              ALLOW);
  CHECK_INTEQ(E(p, "dynamodb:Query", "arn:aws:dynamodb:us-east-1:000000000000:table/Results"),
              IMPLICIT);
  CHECK_INTEQ(E(p, "dynamodb:Query", "arn:aws:dynamodb:us-east-1:7:table/x"), ALLOW);
  CHECK_INTEQ(E(p, "dynamodb:Query", "arn:aws:dynamodb:us-east-1:77:table/x"), IMPLICIT);
  ll_policy_unref(p);

  /* A pathological pattern stays fast (no exponential backtracking). */
  p = S("{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":"
        "\"arn:*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b\"}");
  CHECK(p);
  char res[4096] = "arn:";
  memset(res + 4, 'a', sizeof res - 5);
  res[sizeof res - 1] = '\0';
  for (int i = 0; i < 100; i++) CHECK_INTEQ(E(p, "s3:GetObject", res), IMPLICIT);
  res[sizeof res - 2] = 'b';
  CHECK_INTEQ(E(p, "s3:GetObject", res), ALLOW);
  ll_policy_unref(p);
}

LL_TEST(policy_explicit_deny_wins) {
  ll_policy_t *p = S("[{\"Effect\":\"Allow\",\"Action\":\"dynamodb:*\",\"Resource\":\"*\"},"
                     "{\"Effect\":\"Deny\",\"Action\":\"dynamodb:DeleteTable\",\"Resource\":\"*\"}]");
  CHECK(p);
  CHECK_INTEQ(E(p, "dynamodb:PutItem", TABLE), ALLOW);
  CHECK_INTEQ(E(p, "dynamodb:DeleteTable", TABLE), DENY);
  CHECK_INTEQ(E(p, "dynamodb:deletetable", TABLE), DENY);
  ll_policy_unref(p);
  /* Deny first, then allow: order does not matter. Deny across documents too. */
  p = P("[{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Deny\",\"Action\":\"s3:*\",\"Resource\":\"arn:aws:s3:::secret/*\"}},"
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}]");
  CHECK(p);
  CHECK_INTEQ(E(p, "s3:GetObject", "arn:aws:s3:::secret/k"), DENY);
  CHECK_INTEQ(E(p, "s3:GetObject", "arn:aws:s3:::public/k"), ALLOW);
  ll_policy_unref(p);
  /* A Deny alone never allows. */
  p = S("[{\"Effect\":\"Deny\",\"Action\":\"s3:GetObject\",\"Resource\":\"*\"}]");
  CHECK(p);
  CHECK_INTEQ(E(p, "s3:PutObject", "arn:aws:s3:::b/k"), IMPLICIT);
  ll_policy_unref(p);
}

LL_TEST(policy_not_action_not_resource) {
  ll_policy_t *p = S("[{\"Effect\":\"Allow\",\"NotAction\":[\"iam:*\",\"dynamodb:Delete*\"],\"Resource\":\"*\"},"
                     "{\"Effect\":\"Deny\",\"Action\":\"s3:*\",\"NotResource\":[\"arn:aws:s3:::mine\",\"arn:aws:s3:::mine/*\"]}]");
  CHECK(p);
  CHECK_INTEQ(E(p, "dynamodb:PutItem", TABLE), ALLOW);
  CHECK_INTEQ(E(p, "dynamodb:DeleteItem", TABLE), IMPLICIT);
  CHECK_INTEQ(E(p, "IAM:CreateRole", "arn:aws:iam::0:role/x"), IMPLICIT);
  CHECK_INTEQ(E(p, "s3:GetObject", "arn:aws:s3:::mine/k"), ALLOW);
  CHECK_INTEQ(E(p, "s3:GetObject", "arn:aws:s3:::mine"), ALLOW);
  CHECK_INTEQ(E(p, "s3:GetObject", "arn:aws:s3:::theirs/k"), DENY);
  ll_policy_unref(p);
}

static ll_policy_t *C(const char *cond) {
  char *s = ll_sprintf("{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\",\"Condition\":%s}", cond);
  ll_policy_t *p = S(s);
  free(s);
  CHECK(p);
  return p;
}

/* Allowed (1) or not (0) under a condition with up to two context pairs. */
static int CA(const char *cond, const char *a, const char *b) {
  ll_policy_t *p = C(cond);
  ll_policy_decision_t d = EC(p, "s3:GetObject", "arn:aws:s3:::b/k", a, b, NULL, NULL);
  ll_policy_unref(p);
  CHECK(d != DENY);
  return d == ALLOW;
}

LL_TEST(policy_condition_bool_secure_transport) {
  /* The Serverless Framework's deployment bucket policy: deny everything over plain HTTP. */
  ll_policy_t *p = S("[{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\"},"
                     "{\"Effect\":\"Deny\",\"Action\":\"s3:*\",\"Resource\":[\"arn:aws:s3:::deploy/*\",\"arn:aws:s3:::deploy\"],"
                     "\"Condition\":{\"Bool\":{\"aws:SecureTransport\":false}}}]");
  CHECK(p);
  CHECK_INTEQ(EC(p, "s3:PutObject", "arn:aws:s3:::deploy/x", "aws:SecureTransport=false", NULL, NULL, NULL), DENY);
  CHECK_INTEQ(EC(p, "s3:PutObject", "arn:aws:s3:::deploy/x", "aws:SecureTransport=true", NULL, NULL, NULL), ALLOW);
  CHECK_INTEQ(EC(p, "s3:PutObject", "arn:aws:s3:::deploy/x", "aws:securetransport=FALSE", NULL, NULL, NULL), DENY);
  CHECK_INTEQ(E(p, "s3:PutObject", "arn:aws:s3:::deploy/x"), ALLOW); /* key absent: no deny */
  ll_policy_unref(p);
  CHECK(CA("{\"Bool\":{\"aws:SecureTransport\":\"true\"}}", "aws:SecureTransport=true", NULL));
  CHECK(!CA("{\"Bool\":{\"aws:SecureTransport\":\"true\"}}", "aws:SecureTransport=false", NULL));
  CHECK(!CA("{\"Bool\":{\"aws:SecureTransport\":\"true\"}}", NULL, NULL));
  CHECK(CA("{\"BoolIfExists\":{\"aws:SecureTransport\":\"true\"}}", NULL, NULL));
  CHECK(!CA("{\"BoolIfExists\":{\"aws:SecureTransport\":\"true\"}}", "aws:SecureTransport=false", NULL));
}

LL_TEST(policy_condition_strings) {
  /* Key names are case-insensitive: the policy's spelling differs from the context's. */
  CHECK(CA("{\"StringEquals\":{\"AWS:USERNAME\":\"alice\"}}", "aws:username=alice", NULL));
  CHECK(!CA("{\"StringEquals\":{\"aws:username\":\"alice\"}}", "aws:username=Alice", NULL));
  CHECK(!CA("{\"StringEquals\":{\"aws:username\":\"alice\"}}", NULL, NULL));
  CHECK(CA("{\"StringEquals\":{\"aws:username\":[\"bob\",\"alice\"]}}", "aws:username=alice", NULL));
  CHECK(CA("{\"StringNotEquals\":{\"aws:username\":\"alice\"}}", "aws:username=bob", NULL));
  CHECK(!CA("{\"StringNotEquals\":{\"aws:username\":[\"bob\",\"alice\"]}}", "aws:username=alice", NULL));
  CHECK(CA("{\"StringNotEquals\":{\"aws:username\":\"alice\"}}", NULL, NULL)); /* absent: negated holds */
  CHECK(CA("{\"StringEqualsIgnoreCase\":{\"aws:username\":\"ALICE\"}}", "aws:username=alice", NULL));
  CHECK(!CA("{\"StringNotEqualsIgnoreCase\":{\"aws:username\":\"ALICE\"}}", "aws:username=alice", NULL));
  CHECK(CA("{\"StringNotEqualsIgnoreCase\":{\"aws:username\":\"ALICE\"}}", "aws:username=bob", NULL));
  CHECK(CA("{\"StringLike\":{\"s3:prefix\":[\"home/*\",\"pub?\"]}}", "s3:prefix=home/a/b", NULL));
  CHECK(CA("{\"StringLike\":{\"s3:prefix\":[\"home/*\",\"pub?\"]}}", "s3:prefix=pubx", NULL));
  CHECK(!CA("{\"StringLike\":{\"s3:prefix\":[\"home/*\",\"pub?\"]}}", "s3:prefix=Home/a", NULL));
  CHECK(!CA("{\"StringLike\":{\"s3:prefix\":\"home/*\"}}", NULL, NULL));
  CHECK(CA("{\"StringLikeIfExists\":{\"s3:prefix\":\"home/*\"}}", NULL, NULL));
  CHECK(!CA("{\"StringLikeIfExists\":{\"s3:prefix\":\"home/*\"}}", "s3:prefix=etc", NULL));
  CHECK(CA("{\"StringNotLike\":{\"s3:prefix\":\"home/*\"}}", "s3:prefix=etc", NULL));
  CHECK(!CA("{\"StringNotLike\":{\"s3:prefix\":\"home/*\"}}", "s3:prefix=home/x", NULL));
  CHECK(!CA("{\"StringEqualsIfExists\":{\"aws:username\":\"alice\"}}", "aws:username=bob", NULL));
  CHECK(CA("{\"StringNotEqualsIfExists\":{\"aws:username\":\"alice\"}}", NULL, NULL));
  /* Several keys in one operator AND; several operators AND. */
  const char *two = "{\"StringEquals\":{\"aws:username\":\"alice\",\"s3:prefix\":\"p\"}}";
  CHECK(CA(two, "aws:username=alice", "s3:prefix=p"));
  CHECK(!CA(two, "aws:username=alice", "s3:prefix=q"));
  CHECK(!CA(two, "aws:username=alice", NULL));
  const char *ops = "{\"StringEquals\":{\"aws:username\":\"alice\"},\"StringLike\":{\"s3:prefix\":\"p*\"}}";
  CHECK(CA(ops, "aws:username=alice", "s3:prefix=pq"));
  CHECK(!CA(ops, "aws:username=alice", "s3:prefix=qp"));
  /* Numbers and booleans as JSON values compare as their spelling. */
  CHECK(CA("{\"StringEquals\":{\"s3:max-keys\":10}}", "s3:max-keys=10", NULL));
  CHECK(CA("{\"BinaryEquals\":{\"k:bin\":\"QmluYXJ5\"}}", "k:bin=QmluYXJ5", NULL));
  CHECK(!CA("{\"BinaryEquals\":{\"k:bin\":\"QmluYXJ5\"}}", "k:bin=QmluYXJ6", NULL));
}

LL_TEST(policy_condition_numeric_date) {
  CHECK(CA("{\"NumericLessThan\":{\"s3:max-keys\":\"10\"}}", "s3:max-keys=9", NULL));
  CHECK(!CA("{\"NumericLessThan\":{\"s3:max-keys\":\"10\"}}", "s3:max-keys=10", NULL));
  CHECK(CA("{\"NumericLessThanEquals\":{\"s3:max-keys\":10}}", "s3:max-keys=10", NULL));
  CHECK(CA("{\"NumericGreaterThan\":{\"s3:max-keys\":10}}", "s3:max-keys=10.5", NULL));
  CHECK(!CA("{\"NumericGreaterThan\":{\"s3:max-keys\":10}}", "s3:max-keys=10", NULL));
  CHECK(CA("{\"NumericGreaterThanEquals\":{\"s3:max-keys\":10}}", "s3:max-keys=1e1", NULL));
  CHECK(CA("{\"NumericEquals\":{\"s3:max-keys\":\"10\"}}", "s3:max-keys=10.0", NULL));
  CHECK(!CA("{\"NumericEquals\":{\"s3:max-keys\":\"10\"}}", "s3:max-keys=ten", NULL));
  CHECK(CA("{\"NumericNotEquals\":{\"s3:max-keys\":\"10\"}}", "s3:max-keys=11", NULL));
  CHECK(!CA("{\"NumericNotEquals\":{\"s3:max-keys\":\"10\"}}", "s3:max-keys=10", NULL));
  CHECK(CA("{\"NumericLessThanIfExists\":{\"s3:max-keys\":\"10\"}}", NULL, NULL));
  CHECK(!CA("{\"NumericLessThan\":{\"s3:max-keys\":\"10\"}}", NULL, NULL));

  const char *before = "{\"DateLessThan\":{\"aws:CurrentTime\":\"2020-01-01T00:00:00Z\"}}";
  CHECK(CA(before, "aws:CurrentTime=2019-12-31T23:59:59Z", NULL));
  CHECK(!CA(before, "aws:CurrentTime=2020-01-01T00:00:00Z", NULL));
  CHECK(CA(before, "aws:CurrentTime=2020-01-01T01:00:00+02:00", NULL)); /* 23:00 UTC */
  CHECK(CA(before, "aws:CurrentTime=1577836799", NULL));                 /* epoch seconds */
  CHECK(!CA(before, "aws:CurrentTime=1577836800", NULL));
  CHECK(!CA(before, "aws:CurrentTime=yesterday", NULL));
  CHECK(CA("{\"DateEquals\":{\"aws:CurrentTime\":\"2020-01-01\"}}", "aws:CurrentTime=2020-01-01T00:00:00.000Z", NULL));
  CHECK(CA("{\"DateNotEquals\":{\"aws:CurrentTime\":\"2020-01-01\"}}", "aws:CurrentTime=2020-01-02", NULL));
  CHECK(CA("{\"DateLessThanEquals\":{\"aws:CurrentTime\":1577836800}}", "aws:CurrentTime=2020-01-01T00:00:00Z", NULL));
  CHECK(CA("{\"DateGreaterThan\":{\"aws:CurrentTime\":\"2020-01-01T00:00:00Z\"}}", "aws:CurrentTime=2020-01-01T00:00:00.001Z", NULL));
  CHECK(CA("{\"DateGreaterThanEquals\":{\"aws:CurrentTime\":\"2020-01-01T00:00Z\"}}", "aws:CurrentTime=2020-01-01T00:00:00Z", NULL));
  CHECK(CA("{\"DateGreaterThanIfExists\":{\"aws:CurrentTime\":\"2020-01-01\"}}", NULL, NULL));
}

LL_TEST(policy_condition_ip_arn_null) {
  const char *ip = "{\"IpAddress\":{\"aws:SourceIp\":[\"10.0.0.0/8\",\"192.168.1.7\",\"2001:db8::/32\"]}}";
  CHECK(CA(ip, "aws:SourceIp=10.1.2.3", NULL));
  CHECK(CA(ip, "aws:SourceIp=192.168.1.7", NULL));
  CHECK(!CA(ip, "aws:SourceIp=192.168.1.8", NULL));
  CHECK(!CA(ip, "aws:SourceIp=11.0.0.1", NULL));
  CHECK(CA(ip, "aws:SourceIp=2001:db8:1::5", NULL));
  CHECK(!CA(ip, "aws:SourceIp=2001:db9::5", NULL));
  CHECK(CA(ip, "aws:SourceIp=::ffff:10.9.9.9", NULL)); /* IPv4-mapped */
  CHECK(!CA(ip, "aws:SourceIp=garbage", NULL));
  CHECK(!CA(ip, NULL, NULL));
  CHECK(CA("{\"NotIpAddress\":{\"aws:SourceIp\":\"10.0.0.0/8\"}}", "aws:SourceIp=11.0.0.1", NULL));
  CHECK(!CA("{\"NotIpAddress\":{\"aws:SourceIp\":\"10.0.0.0/8\"}}", "aws:SourceIp=10.0.0.1", NULL));
  CHECK(CA("{\"IpAddress\":{\"aws:SourceIp\":\"10.0.0.128/25\"}}", "aws:SourceIp=10.0.0.200", NULL));
  CHECK(!CA("{\"IpAddress\":{\"aws:SourceIp\":\"10.0.0.128/25\"}}", "aws:SourceIp=10.0.0.100", NULL));
  CHECK(CA("{\"IpAddress\":{\"aws:SourceIp\":\"0.0.0.0/0\"}}", "aws:SourceIp=1.2.3.4", NULL));
  CHECK(CA("{\"IpAddressIfExists\":{\"aws:SourceIp\":\"10.0.0.0/8\"}}", NULL, NULL));

  const char *arn = "{\"ArnLike\":{\"aws:SourceArn\":\"arn:aws:sns:*:123456789012:topic*\"}}";
  CHECK(CA(arn, "aws:SourceArn=arn:aws:sns:us-east-1:123456789012:topic-a", NULL));
  CHECK(!CA(arn, "aws:SourceArn=arn:aws:sns:us-east-1:999:topic-a", NULL));
  /* Each component on its own: a '*' in the region cannot swallow the account. */
  CHECK(!CA("{\"ArnLike\":{\"aws:SourceArn\":\"arn:aws:sns:us-*:123:topic\"}}",
            "aws:SourceArn=arn:aws:sns:us-east-1:x:123:topic", NULL));
  CHECK(CA("{\"ArnLike\":{\"aws:SourceArn\":\"arn:aws:sns:us-*:123:topic\"}}",
           "aws:SourceArn=arn:aws:sns:us-east-1:123:topic", NULL));
  CHECK(CA("{\"ArnEquals\":{\"aws:SourceArn\":\"arn:aws:s3:::bucket\"}}", "aws:SourceArn=arn:aws:s3:::bucket", NULL));
  CHECK(!CA("{\"ArnEquals\":{\"aws:SourceArn\":\"arn:aws:s3:::bucket\"}}", "aws:SourceArn=arn:aws:s3:::bucket2", NULL));
  CHECK(CA("{\"ArnLike\":{\"aws:SourceArn\":\"arn:aws:lambda:*:*:function:f:*\"}}",
           "aws:SourceArn=arn:aws:lambda:us-east-1:1:function:f:prod", NULL)); /* resource part keeps ':' */
  CHECK(CA("{\"ArnNotEquals\":{\"aws:SourceArn\":\"arn:aws:s3:::bucket\"}}", "aws:SourceArn=arn:aws:s3:::other", NULL));
  CHECK(!CA("{\"ArnNotLike\":{\"aws:SourceArn\":\"arn:aws:s3:::b*\"}}", "aws:SourceArn=arn:aws:s3:::bucket", NULL));
  CHECK(CA("{\"ArnNotLike\":{\"aws:SourceArn\":\"arn:aws:s3:::b*\"}}", NULL, NULL));
  CHECK(CA("{\"ArnLikeIfExists\":{\"aws:SourceArn\":\"arn:aws:s3:::b*\"}}", NULL, NULL));

  CHECK(CA("{\"Null\":{\"aws:TokenIssueTime\":\"true\"}}", NULL, NULL));
  CHECK(!CA("{\"Null\":{\"aws:TokenIssueTime\":\"true\"}}", "aws:TokenIssueTime=x", NULL));
  CHECK(CA("{\"Null\":{\"aws:TokenIssueTime\":false}}", "aws:TokenIssueTime=x", NULL));
  CHECK(!CA("{\"Null\":{\"aws:TokenIssueTime\":false}}", NULL, NULL));
}

LL_TEST(policy_condition_set_operators) {
  const char *any = "{\"ForAnyValue:StringEquals\":{\"aws:TagKeys\":[\"env\",\"team\"]}}";
  CHECK(CA(any, "aws:TagKeys=owner", "aws:TagKeys=team"));
  CHECK(!CA(any, "aws:TagKeys=owner", "aws:TagKeys=cost"));
  CHECK(!CA(any, NULL, NULL));
  const char *all = "{\"ForAllValues:StringEquals\":{\"aws:TagKeys\":[\"env\",\"team\"]}}";
  CHECK(CA(all, "aws:TagKeys=env", "aws:TagKeys=team"));
  CHECK(!CA(all, "aws:TagKeys=env", "aws:TagKeys=owner"));
  CHECK(CA(all, NULL, NULL)); /* no values: vacuously true */
  CHECK(CA("{\"ForAllValues:StringLike\":{\"dynamodb:Attributes\":[\"id\",\"data*\"]}}",
           "dynamodb:Attributes=id", "dynamodb:Attributes=data2"));
  CHECK(!CA("{\"ForAllValues:StringLike\":{\"dynamodb:Attributes\":[\"id\",\"data*\"]}}",
            "dynamodb:Attributes=id", "dynamodb:Attributes=secret"));
  /* Negated under a set: each value must match none (all) / one value matches none (any). */
  CHECK(CA("{\"ForAnyValue:StringNotEquals\":{\"aws:TagKeys\":\"env\"}}", "aws:TagKeys=env", "aws:TagKeys=x"));
  CHECK(!CA("{\"ForAnyValue:StringNotEquals\":{\"aws:TagKeys\":\"env\"}}", "aws:TagKeys=env", NULL));
  CHECK(!CA("{\"ForAllValues:StringNotEquals\":{\"aws:TagKeys\":\"env\"}}", "aws:TagKeys=env", "aws:TagKeys=x"));
  CHECK(CA("{\"ForAllValues:StringNotEquals\":{\"aws:TagKeys\":\"env\"}}", "aws:TagKeys=y", "aws:TagKeys=x"));
  /* Plain negated operator over a multi-valued key: no value may match. */
  CHECK(!CA("{\"StringNotEquals\":{\"aws:TagKeys\":\"env\"}}", "aws:TagKeys=x", "aws:TagKeys=env"));
  CHECK(CA("{\"ForAnyValue:StringEqualsIfExists\":{\"aws:TagKeys\":\"env\"}}", NULL, NULL));
  CHECK(CA("{\"ForAnyValue:NumericLessThan\":{\"k:n\":\"5\"}}", "k:n=7", "k:n=3"));
  CHECK(!CA("{\"ForAllValues:NumericLessThan\":{\"k:n\":\"5\"}}", "k:n=7", "k:n=3"));
}

LL_TEST(policy_variables) {
  ll_policy_t *p = S("[{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"arn:aws:s3:::home/${aws:username}/*\"},"
                     "{\"Effect\":\"Allow\",\"Action\":\"s3:ListBucket\",\"Resource\":\"arn:aws:s3:::home\","
                     "\"Condition\":{\"StringLike\":{\"s3:prefix\":\"${aws:username}/*\"}}},"
                     "{\"Effect\":\"Allow\",\"Action\":\"dynamodb:GetItem\",\"Resource\":\"arn:aws:dynamodb:*:*:table/${aws:PrincipalTag/team, 'shared'}\"},"
                     "{\"Effect\":\"Allow\",\"Action\":\"sqs:SendMessage\",\"Resource\":\"arn:aws:sqs:*:*:literal${*}\"}]");
  CHECK(p);
  CHECK_INTEQ(EC(p, "s3:GetObject", "arn:aws:s3:::home/alice/doc", "aws:username=alice", NULL, NULL, NULL), ALLOW);
  CHECK_INTEQ(EC(p, "s3:GetObject", "arn:aws:s3:::home/bob/doc", "aws:username=alice", NULL, NULL, NULL), IMPLICIT);
  CHECK_INTEQ(E(p, "s3:GetObject", "arn:aws:s3:::home/alice/doc"), IMPLICIT); /* unknown variable */
  CHECK_INTEQ(E(p, "s3:GetObject", "arn:aws:s3:::home/${aws:username}/doc"), IMPLICIT);
  /* A substituted value is literal: '*' in it is no wildcard. */
  CHECK_INTEQ(EC(p, "s3:GetObject", "arn:aws:s3:::home/alice/doc", "aws:username=*", NULL, NULL, NULL), IMPLICIT);
  CHECK_INTEQ(EC(p, "s3:GetObject", "arn:aws:s3:::home/*/doc", "aws:username=*", NULL, NULL, NULL), ALLOW);
  CHECK_INTEQ(EC(p, "s3:ListBucket", "arn:aws:s3:::home", "aws:username=alice", "s3:prefix=alice/x", NULL, NULL), ALLOW);
  CHECK_INTEQ(EC(p, "s3:ListBucket", "arn:aws:s3:::home", "aws:username=alice", "s3:prefix=bob/x", NULL, NULL), IMPLICIT);
  CHECK_INTEQ(EC(p, "dynamodb:GetItem", "arn:aws:dynamodb:r:1:table/red", "aws:PrincipalTag/team=red", NULL, NULL, NULL), ALLOW);
  CHECK_INTEQ(E(p, "dynamodb:GetItem", "arn:aws:dynamodb:r:1:table/shared"), ALLOW); /* default */
  CHECK_INTEQ(E(p, "dynamodb:GetItem", "arn:aws:dynamodb:r:1:table/red"), IMPLICIT);
  CHECK_INTEQ(E(p, "sqs:SendMessage", "arn:aws:sqs:r:1:literal*"), ALLOW); /* ${*} is a literal '*' */
  CHECK_INTEQ(E(p, "sqs:SendMessage", "arn:aws:sqs:r:1:literalx"), IMPLICIT);
  ll_policy_unref(p);
  /* Version 2008-10-17 (or none): no variables, the text is literal. */
  p = P("{\"Version\":\"2008-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"arn:aws:s3:::home/${aws:username}\"}}");
  CHECK(p);
  CHECK_INTEQ(EC(p, "s3:GetObject", "arn:aws:s3:::home/alice", "aws:username=alice", NULL, NULL, NULL), IMPLICIT);
  CHECK_INTEQ(E(p, "s3:GetObject", "arn:aws:s3:::home/${aws:username}"), ALLOW);
  ll_policy_unref(p);
}

LL_TEST(policy_shapes_accepted) {
  /* A single statement object, Action and Resource as strings, Sid, a document without Version,
   * a bare document instead of a list. */
  ll_policy_t *p = P("[{\"Statement\":{\"Sid\":\"One\",\"Effect\":\"Allow\",\"Action\":\"sqs:SendMessage\",\"Resource\":\"*\"}}]");
  CHECK(p);
  CHECK_INTEQ(E(p, "sqs:SendMessage", "arn:aws:sqs:us-east-1:0:q"), ALLOW);
  CHECK_INTEQ(E(p, "sqs:ReceiveMessage", "arn:aws:sqs:us-east-1:0:q"), IMPLICIT);
  ll_policy_unref(p);
  p = P("{\"Version\":\"2012-10-17\",\"Id\":\"x\",\"Statement\":[]}");
  CHECK(p);
  CHECK_INTEQ(E(p, "sqs:SendMessage", "arn:aws:sqs:us-east-1:0:q"), IMPLICIT);
  ll_policy_unref(p);
  p = P("[]");
  CHECK(p);
  CHECK_INTEQ(E(p, "sqs:SendMessage", "*"), IMPLICIT);
  ll_policy_unref(p);
}

LL_TEST(policy_parse_errors) {
  CHECK_STREQ(refused("[{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\"},"
                      "{\"Effect\":\"allow\",\"Action\":\"s3:*\",\"Resource\":\"*\"}]"),
              "Statement[1].Effect: must be Allow or Deny");
  CHECK_STREQ(refused("[{\"Action\":\"s3:*\",\"Resource\":\"*\"}]"), "Statement[0].Effect: must be Allow or Deny");
  CHECK_STREQ(refused("[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:*\",\"Resource\":\"*\"}]"),
              "Statement[0]: Principal is not allowed in an identity policy");
  CHECK_STREQ(refused("[{\"Effect\":\"Allow\",\"NotPrincipal\":{\"AWS\":\"x\"},\"Action\":\"s3:*\",\"Resource\":\"*\"}]"),
              "Statement[0]: NotPrincipal is not allowed in an identity policy");
  CHECK_STREQ(refused("[{\"Effect\":\"Allow\",\"Resource\":\"*\"}]"),
              "Statement[0]: a statement needs Action or NotAction");
  CHECK_STREQ(refused("[{\"Effect\":\"Allow\",\"Action\":\"s3:*\"}]"),
              "Statement[0]: a statement needs Resource or NotResource");
  CHECK_STREQ(refused("[{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"NotAction\":\"s3:x\",\"Resource\":\"*\"}]"),
              "Statement[0]: Action and NotAction cannot both be present");
  CHECK_STREQ(refused("[{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\"},{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\"},"
                      "{\"Effect\":\"Allow\",\"Action\":[\"dynamodb:GetItem\",\"PutItem\"],\"Resource\":\"*\"}]"),
              "Statement[2].Action: an action is service:Name, got \"PutItem\"");
  CHECK_STREQ(refused("[{\"Effect\":\"Allow\",\"Action\":\"dynamodb:\",\"Resource\":\"*\"}]"),
              "Statement[0].Action: an action is service:Name, got \"dynamodb:\"");
  CHECK_STREQ(refused("[{\"Effect\":\"Allow\",\"Action\":[],\"Resource\":\"*\"}]"), "Statement[0].Action: must not be empty");
  CHECK_STREQ(refused("[{\"Effect\":\"Allow\",\"Action\":[1],\"Resource\":\"*\"}]"), "Statement[0].Action[0]: must be a string");
  CHECK_STREQ(refused("[{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"bucket\"}]"),
              "Statement[0].Resource: a resource is an ARN or \"*\", got \"bucket\"");
  CHECK_STREQ(refused("[{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\",\"Condition\":{\"StringEqualz\":{\"a:b\":\"c\"}}}]"),
              "Statement[0].Condition: unknown condition operator \"StringEqualz\"");
  CHECK_STREQ(refused("[{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\",\"Condition\":{\"NumericLessThan\":{\"a:b\":\"ten\"}}}]"),
              "Statement[0].Condition.NumericLessThan.a:b: \"ten\" is not a number");
  CHECK_STREQ(refused("[{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\",\"Condition\":{\"DateLessThan\":{\"aws:CurrentTime\":\"soon\"}}}]"),
              "Statement[0].Condition.DateLessThan.aws:CurrentTime: \"soon\" is not a date");
  CHECK_STREQ(refused("[{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\",\"Condition\":{\"IpAddress\":{\"aws:SourceIp\":\"10.0.0.0/33\"}}}]"),
              "Statement[0].Condition.IpAddress.aws:SourceIp: \"10.0.0.0/33\" is not an IP address or CIDR");
  CHECK_STREQ(refused("[{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\",\"Condition\":{\"Null\":{\"a:b\":\"maybe\"}}}]"),
              "Statement[0].Condition.Null.a:b: must be true or false, got \"maybe\"");
  CHECK(strstr(refused("[{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\",\"Condition\":{\"NullIfExists\":{\"a:b\":\"true\"}}}]"),
               "NullIfExists"));
  CHECK(strstr(refused("[{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\",\"Condition\":{\"StringEquals\":{\"a:b\":[]}}}]"),
               "must have a value"));
  CHECK(strstr(refused("[{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\",\"Condition\":[]}]"), "Condition: must be an object"));
  CHECK_STREQ(refused("[{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\",\"Extra\":1}]"),
              "Statement[0]: unknown element \"Extra\"");
  CHECK_STREQ(refused("[1]"), "Statement[0]: must be an object");
  CHECK(!P("[{\"Version\":\"2020-01-01\",\"Statement\":[]}]"));
  CHECK_STREQ(why, "Version: must be 2012-10-17 or 2008-10-17");
  CHECK(!P("[{\"Version\":\"2012-10-17\"}]"));
  CHECK_STREQ(why, "Statement: missing");
  CHECK(!P("[{\"Statement\":[]},{\"Statement\":{\"Effect\":\"Maybe\"}}]"));
  CHECK_STREQ(why, "Policy[1].Statement[0].Effect: must be Allow or Deny");
  CHECK(!P("[\"x\"]"));
  CHECK_STREQ(why, "a policy document is a JSON object");
  CHECK(!P("\"x\""));
  /* why is always terminated, even when small. */
  json_t *docs = json_loads("[{\"Statement\":{\"Effect\":\"no\"}}]", 0, NULL);
  ll_policy_t *p = (ll_policy_t *)1;
  char small[8];
  CHECK_INTEQ(ll_policy_parse(docs, &p, small, sizeof small), -1);
  CHECK(p == NULL);
  CHECK_INTEQ(strlen(small), 7);
  json_decref(docs);
}

/* IAM identity-policy evaluation as AWS does it: the documents attached to a function's
 * execution role decide what the function's temporary credentials (src/auth/creds.h) may do.
 *
 * A parsed policy is immutable and reference-counted (the count is atomic, so a policy may be
 * shared across threads); evaluation allocates nothing and never fails: anything it cannot
 * decide (an unresolvable policy variable, a context value that is not a number for a Numeric
 * operator, ...) simply does not match, as in AWS. */
#ifndef LL_AUTH_POLICY_H
#define LL_AUTH_POLICY_H

#include <jansson.h>
#include <stddef.h>

typedef struct ll_policy ll_policy_t; /* immutable after parse, refcounted */

typedef enum {
  LL_POLICY_IMPLICIT_DENY = 0,
  LL_POLICY_ALLOW,
  LL_POLICY_EXPLICIT_DENY
} ll_policy_decision_t;

/* The most context values one condition key may have (more are ignored). */
#define LL_POLICY_MAX_VALUES 64

/* Parses docs: a JSON array of IAM policy documents (a single document object is accepted as a
 * one-element array), each {"Version", "Id", "Statement": [...] or a single statement object},
 * all already resolved (no CloudFormation intrinsics). Statements accept Sid, Effect,
 * Action|NotAction and Resource|NotResource (a string or a list of strings, both required) and
 * Condition; Principal and NotPrincipal are refused (identity policies have none), as is any
 * other element, an unknown condition operator, an action that is not "service:Name" or "*", a
 * resource that is not an ARN ("arn:...") or "*", and a Numeric/Date/IpAddress/Null condition
 * value of the wrong kind. Policy variables (${aws:username}, ${*}, ${?}, ${$},
 * ${key, 'default'}) are recognised in Resource/NotResource and in String and Arn condition
 * values when the document's Version is "2012-10-17", as in AWS.
 *
 * Returns 0 with *out (refcount 1), or -1 with why (a message in IAM's words, e.g.
 * "Statement[1].Effect: must be Allow or Deny", "Statement[0]: NotPrincipal is not allowed in
 * an identity policy", "Statement[2].Action: an action is service:Name, got \"PutItem\"";
 * prefixed "Policy[k]." when docs holds several documents) written to why[0..sz). docs is
 * not retained. */
int ll_policy_parse(const json_t *docs, ll_policy_t **out, char *why, size_t sz);
/* Takes a reference; returns p. NULL-safe. */
ll_policy_t *ll_policy_ref(ll_policy_t *p);
/* Drops a reference, freeing the policy with the last one. NULL-safe. */
void ll_policy_unref(ll_policy_t *p);

/* Condition keys: the evaluator asks ctx for a key's values (e.g. "aws:SecureTransport" ->
 * "false", "aws:SourceArn", "s3:prefix") and for the value of a policy variable; it returns
 * the number of values written to values[0..max) (0 = key absent); the strings are borrowed
 * for the duration of the call to ll_policy_eval. Key names are case-insensitive in IAM: the
 * evaluator passes the well-known global keys (aws:SecureTransport, aws:SourceArn,
 * aws:SourceIp, aws:username, aws:CurrentTime, ... see KNOWN_KEYS in policy.c) and s3:prefix
 * in their documented spelling, and every other key as written in the policy, so ctx should
 * compare keys with strcasecmp. */
typedef size_t (*ll_policy_ctx_fn)(const char *key, const char **values, size_t max, void *ud);

/* The decision for action ("dynamodb:PutItem") on resource (an ARN) under p: an explicit Deny
 * wins over any Allow; no matching Allow is an implicit deny. A statement applies when its
 * action, its resource and all its conditions match:
 *  - actions: service prefix and name case-insensitive, with * and ? wildcards ("dynamodb:*",
 *    "kinesis:Get*", "*"); NotAction applies to every action matching none of its patterns;
 *  - resources: case-sensitive, * and ? wildcards that may span ':' and '/' (the pattern
 *    arn:aws:s3:::b/<star> matches "arn:aws:s3:::b/a/b", not "arn:aws:s3:::b"); NotResource
 *    inverts; a policy variable ctx does not know makes its pattern match nothing (under
 *    NotResource the statement then does not apply); a substituted value is literal (a '*'
 *    in it is no wildcard);
 *  - conditions: operators AND, keys within an operator AND, values for one key OR;
 *    String(Not)Equals(IgnoreCase), String(Not)Like, Numeric*, Date* (ISO 8601 or epoch
 *    seconds), Bool, BinaryEquals, (Not)IpAddress (CIDR v4/v6), Arn(Not)Equals/Like (each of
 *    the six ARN components matched on its own; a pattern of fewer components matches as a
 *    whole), Null; an absent key fails positive operators
 *    and satisfies negated ones; ...IfExists makes an absent key match; ForAnyValue: needs one
 *    context value to match (absent: no), ForAllValues: needs every one to (absent: yes);
 *    a plain operator over a multi-valued key: positive needs one value to match, negated
 *    needs every value to match none; a context value that does not parse (Numeric, Date,
 *    IpAddress) matches no policy value.
 * p, action or resource NULL: implicit deny. ctx may be NULL (every key absent). Allocates nothing. */
ll_policy_decision_t ll_policy_eval(const ll_policy_t *p, const char *action, const char *resource,
                                    ll_policy_ctx_fn ctx, void *ud);

#endif

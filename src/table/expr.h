/* DynamoDB's expression languages: ConditionExpression, FilterExpression, KeyConditionExpression,
 * UpdateExpression and ProjectionExpression. Parsing untrusted text into an ll_expr_t, and
 * evaluating it over items (a JSON object of attribute name -> AttributeValue in DynamoDB's
 * JSON shape, see table/value.h).
 *
 * Every error message is DynamoDB's ValidationException text, e.g.
 *   Invalid UpdateExpression: Syntax error; token: "=", near: "a = = b"
 * The API layer sends it as is.
 *
 * Limits enforced by the parser: text at most LL_EXPR_MAX_TEXT bytes (DynamoDB's 4 KB), nesting
 * (parentheses, NOT chains, function arguments) and document path length at most
 * LL_EXPR_MAX_DEPTH, at most LL_EXPR_MAX_OPERATORS operators and functions per expression, at
 * most LL_EXPR_MAX_IN operands to the right of IN, list indexes below LL_EXPR_MAX_INDEX. */
#ifndef LL_TABLE_EXPR_H
#define LL_TABLE_EXPR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define LL_EXPR_MAX_TEXT 4096
#define LL_EXPR_MAX_DEPTH 32
#define LL_EXPR_MAX_OPERATORS 300
#define LL_EXPR_MAX_IN 100
#define LL_EXPR_MAX_INDEX 100000000u

typedef enum ll_expr_kind {
  LL_EXPR_CONDITION,     /* ConditionExpression */
  LL_EXPR_FILTER,        /* FilterExpression (same language, its own error prefix) */
  LL_EXPR_KEY_CONDITION, /* KeyConditionExpression */
  LL_EXPR_UPDATE,        /* UpdateExpression */
  LL_EXPR_PROJECTION,    /* ProjectionExpression */
} ll_expr_kind_t;

typedef struct ll_expr ll_expr_t;

/* One request's ExpressionAttributeNames / ExpressionAttributeValues, shared by all the
 * expressions of the request. Zero-initialize, set names/values, parse every expression with
 * the same ctx, then call ll_expr_unused() and finally ll_expr_ctx_done(). */
typedef struct ll_expr_ctx {
  const json_t *names;  /* borrowed, may be NULL: object "#n" -> string "name" */
  const json_t *values; /* borrowed, may be NULL: object ":v" -> AttributeValue */
  json_t *used_names;   /* owned, filled by parsing: set (object key -> true) of "#n" used */
  json_t *used_values;  /* owned, filled by parsing: set of ":v" used */
} ll_expr_ctx_t;

/* Parses text as an expression of the given kind, substituting ctx's names and values (the
 * values are referenced, so the result does not depend on ctx's lifetime). Returns the
 * expression (free with ll_expr_free), or NULL with why filled with DynamoDB's message
 * ("Invalid <Kind>Expression: ..."). Records the names and values used in ctx even when it
 * fails. Values are expected to be validated already (ll_av_validate). */
ll_expr_t *ll_expr_parse(ll_expr_kind_t kind, const char *text, ll_expr_ctx_t *ctx, char *why,
                         size_t sz);
void ll_expr_free(ll_expr_t *e);
ll_expr_kind_t ll_expr_kind(const ll_expr_t *e);

/* After all expressions of a request were parsed: -1 with why = "Value provided in
 * ExpressionAttributeNames unused in expressions: keys: {#a, #b}" (names checked first) or the
 * same for ExpressionAttributeValues, when some given name or value was never used; else 0. */
int ll_expr_unused(const ll_expr_ctx_t *ctx, char *why, size_t sz);
/* Frees used_names and used_values (not names/values). */
void ll_expr_ctx_done(ll_expr_ctx_t *ctx);

/* Evaluates a CONDITION or FILTER expression over item (NULL: no item, every attribute is
 * missing). *out is the result; type mismatches and missing attributes make a comparison false
 * (and `a <> b` true, being the negation of `a = b`). Returns 0; -1 with why for an evaluation
 * error DynamoDB reports (none known today: errors DynamoDB raises for literal operands are
 * raised by ll_expr_parse). */
int ll_expr_condition(const ll_expr_t *e, const json_t *item, bool *out, char *why, size_t sz);

/* Applies an UPDATE expression to item (an object, changed in place; an empty object for an
 * item that does not exist yet). All right-hand sides are evaluated against the item as it was
 * before the update, then SET, REMOVE, ADD and DELETE are applied. 0, or -1 with why (the item
 * is then unchanged), e.g. "The provided expression refers to an attribute that does not exist
 * in the item", "An operand in the update expression has an incorrect data type", "The document
 * path provided in the update expression is invalid for update". The caller checks the item's
 * size and that no key attribute changed (see ll_expr_update_roots). */
int ll_expr_update(const ll_expr_t *e, json_t *item, char *why, size_t sz);
/* The distinct top-level attribute names an UPDATE expression's actions write (SET, REMOVE,
 * ADD, DELETE targets), in order of first appearance; *names points into e (valid until
 * ll_expr_free). Returns their count (0 for other kinds). */
size_t ll_expr_update_roots(const ll_expr_t *e, const char *const **names);

/* Applies a PROJECTION expression: a new item holding only the projected paths (nested maps
 * keep only the projected keys, projected list elements keep their order, compacted). Never
 * NULL; paths missing from item are left out. New reference. */
json_t *ll_expr_project(const ll_expr_t *e, const json_t *item);
/* The distinct top-level attribute names a PROJECTION expression reads. As above. */
size_t ll_expr_projection_roots(const ll_expr_t *e, const char *const **names);

/* A KeyConditionExpression checked against an index's key schema. */
typedef enum ll_kc_op {
  LL_KC_NONE, /* no condition on the sort key */
  LL_KC_EQ,
  LL_KC_LT,
  LL_KC_LE,
  LL_KC_GT,
  LL_KC_GE,
  LL_KC_BETWEEN, /* lo <= range <= hi */
  LL_KC_BEGINS,  /* begins_with(range, lo) */
} ll_kc_op_t;

typedef struct ll_key_cond {
  const char *hash_name;   /* the hash key's name (hash_name argument) */
  const json_t *hash_value; /* borrowed from the expression */
  const char *range_name;  /* NULL when op is LL_KC_NONE */
  ll_kc_op_t op;
  const json_t *lo, *hi; /* the bound (lo) for EQ..GE and BEGINS; both for BETWEEN; borrowed */
} ll_key_cond_t;

/* Matches a KEY_CONDITION expression against the key schema (range_name NULL for a hash-only
 * schema). 0 with *out filled (pointers borrowed from e and the arguments), or -1 with
 * DynamoDB's message: "Query condition missed key schema element: id", "Query key condition
 * not supported", "KeyConditionExpressions must only contain one condition per key",
 * "Invalid KeyConditionExpression: The BETWEEN operator requires ...". The caller checks the
 * values' types against the attribute definitions. */
int ll_expr_key_condition(const ll_expr_t *e, const char *hash_name, const char *range_name,
                          ll_key_cond_t *out, char *why, size_t sz);

/* Whether word is one of DynamoDB's reserved words (case-insensitive). */
bool ll_expr_reserved(const char *word, size_t len);

#endif

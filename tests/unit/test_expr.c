#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "table/expr.h"
#include "test.h"

static json_t *J(const char *s) {
  json_error_t err;
  json_t *v = json_loads(s, 0, &err);
  if (!v) fprintf(stderr, "bad test JSON: %s: %s\n", s, err.text);
  CHECK(v != NULL);
  return v;
}

static const char *NAMES = "{\"#n\":\"nm\",\"#s\":\"status\",\"#dot\":\"a.b\",\"#i\":\"[3]\",\"#m\":\"m\"}";
static const char *VALUES =
    "{\":s\":{\"S\":\"x\"},\":sa\":{\"S\":\"a\"},\":pre\":{\"S\":\"ab\"},\":abc\":{\"S\":\"abc\"},"
    "\":n1\":{\"N\":\"1\"},\":n2\":{\"N\":\"2\"},\":n3\":{\"N\":\"3\"},\":n10\":{\"N\":\"10\"},"
    "\":e\":{\"N\":\"1E1\"},\":b\":{\"B\":\"YWJj\"},\":bpre\":{\"B\":\"YQ==\"},"
    "\":ss\":{\"SS\":[\"a\",\"b\"]},\":ss2\":{\"SS\":[\"b\",\"c\"]},\":ssa\":{\"SS\":[\"a\"]},"
    "\":ns\":{\"NS\":[\"1\",\"2\"]},\":ns1\":{\"NS\":[\"1.0\"]},\":l\":{\"L\":[{\"S\":\"z\"}]},"
    "\":t\":{\"S\":\"S\"},\":tn\":{\"S\":\"N\"},\":bad\":{\"S\":\"X\"},\":bool\":{\"BOOL\":true},"
    "\":null\":{\"NULL\":true},\":m\":{\"M\":{}},\":dotted\":{\"S\":\"dotted\"}}";
static const char *ITEM =
    "{\"id\":{\"S\":\"k1\"},\"nm\":{\"S\":\"abc\"},\"n\":{\"N\":\"10\"},\"b\":{\"B\":\"YWJj\"},"
    "\"ss\":{\"SS\":[\"a\",\"b\"]},\"ns\":{\"NS\":[\"1\",\"2\"]},"
    "\"l\":{\"L\":[{\"S\":\"x\"},{\"N\":\"2\"},{\"M\":{\"q\":{\"S\":\"r\"}}}]},"
    "\"m\":{\"M\":{\"x\":{\"S\":\"y\"},\"n\":{\"M\":{\"deep\":{\"N\":\"5\"}}}}},"
    "\"t\":{\"BOOL\":true},\"nul\":{\"NULL\":true},\"a.b\":{\"S\":\"dotted\"}}";

static char why[1024];

/* Parses with the fixed names and values; NULL (message in why) when refused. */
static ll_expr_t *P(ll_expr_kind_t kind, const char *text) {
  json_t *names = J(NAMES), *values = J(VALUES);
  ll_expr_ctx_t ctx = {.names = names, .values = values};
  memset(why, 'x', sizeof why);
  ll_expr_t *e = ll_expr_parse(kind, text, &ctx, why, sizeof why);
  CHECK(memchr(why, '\0', sizeof why) != NULL);
  if (e) CHECK(why[0] == '\0');
  ll_expr_ctx_done(&ctx);
  json_decref(names);
  json_decref(values);
  return e;
}

/* 1 true, 0 false, -1 refused by the parser. */
static int cond_on(const char *text, const char *item_json) {
  ll_expr_t *e = P(LL_EXPR_CONDITION, text);
  if (!e) return -1;
  json_t *item = item_json ? J(item_json) : NULL;
  bool out = false;
  CHECK(ll_expr_condition(e, item, &out, why, sizeof why) == 0);
  json_decref(item);
  ll_expr_free(e);
  return out;
}
static int cond(const char *text) { return cond_on(text, ITEM); }

static void cond_err(ll_expr_kind_t kind, const char *text, const char *want) {
  ll_expr_t *e = P(kind, text);
  if (e) fprintf(stderr, "parsed, but should not: %s\n", text);
  CHECK(e == NULL);
  CHECK_STREQ(why, want);
}
#define COND_ERR(text, want) cond_err(LL_EXPR_CONDITION, text, "Invalid ConditionExpression: " want)

LL_TEST(expr_comparisons) {
  CHECK_INTEQ(cond("n = :n10"), 1);
  CHECK_INTEQ(cond("n = :e"), 1); /* 1E1 is 10 */
  CHECK_INTEQ(cond("n > :n2"), 1); /* numerically, not "10" < "2" */
  CHECK_INTEQ(cond("n >= :n10"), 1);
  CHECK_INTEQ(cond("n <= :e"), 1);
  CHECK_INTEQ(cond("n < :n1"), 0);
  CHECK_INTEQ(cond("n <> :n1"), 1);
  CHECK_INTEQ(cond("n<>:n10"), 0);
  CHECK_INTEQ(cond(":n1 < n"), 1);
  CHECK_INTEQ(cond("nm < :s"), 1); /* "abc" < "x" */
  CHECK_INTEQ(cond("nm = :abc"), 1);
  CHECK_INTEQ(cond("nm > :pre"), 1);
  /* different types: false, not an error */
  CHECK_INTEQ(cond("nm < :n1"), 0);
  CHECK_INTEQ(cond("nm >= :n1"), 0);
  CHECK_INTEQ(cond("nm = :n1"), 0);
  CHECK_INTEQ(cond("nm <> :n1"), 1);
  CHECK_INTEQ(cond("ss < :ss"), 0); /* sets are not ordered */
  CHECK_INTEQ(cond("ss = :ss"), 1);
  CHECK_INTEQ(cond("t = :bool"), 1);
  CHECK_INTEQ(cond("nul = :null"), 1);
  /* missing attributes */
  CHECK_INTEQ(cond("zz = :s"), 0);
  CHECK_INTEQ(cond("zz < :s"), 0);
  CHECK_INTEQ(cond("zz <> :s"), 1);
  CHECK_INTEQ(cond("zz = zz2"), 0);
  /* paths on both sides, nested and indexed */
  CHECK_INTEQ(cond("l[1] = size(ss)"), 1);
  CHECK_INTEQ(cond("m.n.deep < n"), 1);
  CHECK_INTEQ(cond("l[2].q = m.x"), 0);
  CHECK_INTEQ(cond("#m.#n = :s"), 0);
  CHECK_INTEQ(cond("#dot = :dotted"), 1); /* a #nm is one attribute, dots and all */
  CHECK_INTEQ(cond("a.b = :dotted"), 0);
}

LL_TEST(expr_between_in) {
  CHECK_INTEQ(cond("n BETWEEN :n1 AND :n10"), 1);
  CHECK_INTEQ(cond("n between :e and :e"), 1);
  COND_ERR("n BETWEEN :n10 AND :n1",
           "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound "
           "operand: AttributeValue: {N:10}, upper bound operand: AttributeValue: {N:1}");
  CHECK_INTEQ(cond("n BETWEEN :n1 AND zz"), 0);
  CHECK_INTEQ(cond("nm BETWEEN :pre AND :s"), 1);
  CHECK_INTEQ(cond("nm BETWEEN :n1 AND size(ss)"), 0);
  CHECK_INTEQ(cond("zz BETWEEN :n1 AND :n10"), 0);
  CHECK_INTEQ(cond("n IN (:s, :e)"), 1);
  CHECK_INTEQ(cond("n in (:n1)"), 0);
  CHECK_INTEQ(cond("nm IN (:s, :pre, :abc)"), 1);
  CHECK_INTEQ(cond("zz IN (:s)"), 0);
  CHECK_INTEQ(cond("n BETWEEN :n1 AND :n10 AND nm = :abc"), 1); /* BETWEEN's AND binds first */
}

LL_TEST(expr_functions) {
  CHECK_INTEQ(cond("attribute_exists(m.n.deep)"), 1);
  CHECK_INTEQ(cond("attribute_exists(m.zz)"), 0);
  CHECK_INTEQ(cond("attribute_exists(n.zz)"), 0);
  CHECK_INTEQ(cond("attribute_exists(l[2].q)"), 1);
  CHECK_INTEQ(cond("attribute_exists(l[3])"), 0);
  CHECK_INTEQ(cond("attribute_exists(m[0])"), 0);
  CHECK_INTEQ(cond("attribute_not_exists(zz)"), 1);
  CHECK_INTEQ(cond("attribute_not_exists(id)"), 0);
  CHECK_INTEQ(cond("attribute_type(n, :tn)"), 1);
  CHECK_INTEQ(cond("attribute_type(nm, :tn)"), 0);
  CHECK_INTEQ(cond("attribute_type(nm, :t)"), 1);
  CHECK_INTEQ(cond("attribute_type(zz, :t)"), 0);
  CHECK_INTEQ(cond("begins_with(nm, :pre)"), 1);
  CHECK_INTEQ(cond("begins_with(nm, :abc)"), 1);
  CHECK_INTEQ(cond("begins_with(nm, :s)"), 0);
  CHECK_INTEQ(cond("begins_with(n, :pre)"), 0);
  CHECK_INTEQ(cond("begins_with(b, :bpre)"), 1); /* bytes "abc" begin with "a" */
  CHECK_INTEQ(cond("begins_with(b, :pre)"), 0);
  CHECK_INTEQ(cond("begins_with(zz, :pre)"), 0);
  CHECK_INTEQ(cond("contains(nm, :pre)"), 1);
  CHECK_INTEQ(cond("contains(nm, :s)"), 0);
  CHECK_INTEQ(cond("contains(ss, :sa)"), 1);
  CHECK_INTEQ(cond("contains(ss, :s)"), 0);
  CHECK_INTEQ(cond("contains(ns, :n2)"), 1);
  CHECK_INTEQ(cond("contains(ns, :sa)"), 0);
  CHECK_INTEQ(cond("contains(l, :s)"), 1);
  CHECK_INTEQ(cond("contains(l, :n2)"), 1);
  CHECK_INTEQ(cond("contains(l, :n3)"), 0);
  CHECK_INTEQ(cond("contains(n, :n1)"), 0);
  CHECK_INTEQ(cond("size(ss) = :n2"), 1);
  CHECK_INTEQ(cond("size(l) = :n3"), 1);
  CHECK_INTEQ(cond("size(m) = :n2"), 1);
  CHECK_INTEQ(cond("size(b) = :n3"), 1);
  CHECK_INTEQ(cond("size(nm) = :n3"), 1);
  CHECK_INTEQ(cond("size(nm) > :n2"), 1);
  CHECK_INTEQ(cond("size(n) >= :n1"), 0); /* numbers have no size */
  CHECK_INTEQ(cond("size(zz) <> :n1"), 1);
  CHECK_INTEQ(cond("size(:abc) = :n3"), 1);
  CHECK_INTEQ(cond_on("attribute_not_exists(id)", NULL), 1);
  CHECK_INTEQ(cond_on("attribute_exists(id)", NULL), 0);
}

LL_TEST(expr_precedence) {
  /* AND binds tighter than OR: (F AND F) OR T */
  CHECK_INTEQ(cond("n = :n1 AND nm = :s OR t = :bool"), 1);
  CHECK_INTEQ(cond("t = :bool OR n = :n1 AND nm = :s"), 1);
  CHECK_INTEQ(cond("(t = :bool OR n = :n1) AND nm = :s"), 0);
  /* NOT binds tighter than AND: (NOT T) AND F */
  CHECK_INTEQ(cond("NOT n = :n10 AND n = :n1"), 0);
  CHECK_INTEQ(cond("NOT (n = :n10 AND n = :n1)"), 1);
  CHECK_INTEQ(cond("not not n = :n10"), 1);
  CHECK_INTEQ(cond("NOT n = :n1 AND nm = :s OR t = :bool"), 1);
  CHECK_INTEQ(cond("NOT attribute_exists(zz) and (begins_with(nm, :pre) or n < :n1)"), 1);
}

LL_TEST(expr_syntax_errors) {
  cond_err(LL_EXPR_UPDATE, "ADD hits : incr", "Invalid UpdateExpression: Syntax error; token: \":\", near: \"hits : incr\"");
  cond_err(LL_EXPR_UPDATE, "INVALID SYNTAX HERE",
           "Invalid UpdateExpression: Syntax error; token: \"INVALID\", near: \"INVALID SYNTAX\"");
  COND_ERR("n =", "Syntax error; token: \"<EOF>\", near: \"=\"");
  COND_ERR("n = = :n1", "Syntax error; token: \"=\", near: \"= = :n1\"");
  COND_ERR("n", "Syntax error; token: \"<EOF>\", near: \"n\"");
  COND_ERR("n = :n1 AND", "Syntax error; token: \"<EOF>\", near: \"AND\"");
  COND_ERR("n-b = :n1", "Syntax error; token: \"-\", near: \"n-b\"");
  COND_ERR("n = :n1)", "Syntax error; token: \")\", near: \":n1)\"");
  COND_ERR("a[b] = :n1", "Syntax error; token: \"b\", near: \"[b]\"");
  COND_ERR("ü = :n1", "Syntax error; token: \"ü\", near: \"ü =\"");
  COND_ERR("n IN :n1", "Syntax error; token: \":n1\", near: \"IN :n1\"");
  cond_err(LL_EXPR_FILTER, "", "Invalid FilterExpression: The expression can not be empty;");
  cond_err(LL_EXPR_KEY_CONDITION, "  ", "Invalid KeyConditionExpression: The expression can not be empty;");
  cond_err(LL_EXPR_UPDATE, "", "Invalid UpdateExpression: The expression can not be empty;");
  cond_err(LL_EXPR_PROJECTION, "", "Invalid ProjectionExpression: The expression can not be empty;");
  cond_err(LL_EXPR_PROJECTION, "a,,b", "Invalid ProjectionExpression: Syntax error; token: \",\", near: \",,b\"");
  cond_err(LL_EXPR_UPDATE, "SET a = b + c + d", "Invalid UpdateExpression: Syntax error; token: \"+\", near: \"c + d\"");
}

LL_TEST(expr_semantic_errors) {
  COND_ERR("foo(n) = :n1", "Invalid function name; function: foo");
  COND_ERR("Size(n) = :n1", "Invalid function name; function: Size"); /* function names are case-sensitive */
  COND_ERR("size(nm)", "The function is not allowed to be used this way in an expression; function: size");
  COND_ERR("attribute_exists(n) = :n1",
           "The function is not allowed to be used this way in an expression; function: attribute_exists");
  COND_ERR("size(contains(nm, :s)) > :n1",
           "The function is not allowed to be used this way in an expression; function: contains");
  COND_ERR("attribute_exists(nm, n)",
           "Incorrect number of operands for operator or function; operator or function: attribute_exists, number of operands: 2");
  COND_ERR("begins_with(nm)",
           "Incorrect number of operands for operator or function; operator or function: begins_with, number of operands: 1");
  COND_ERR("attribute_exists(:s)", "Operator or function requires a document path; operator or function: attribute_exists");
  COND_ERR("attribute_type(n, :bad)",
           "Invalid attribute type name found; type: X, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}");
  COND_ERR("attribute_type(n, :n1)",
           "Incorrect operand type for operator or function; operator or function: attribute_type, operand type: N");
  COND_ERR("begins_with(nm, :n1)",
           "Incorrect operand type for operator or function; operator or function: begins_with, operand type: N");
  COND_ERR("size(:bool) > :n1", "Incorrect operand type for operator or function; operator or function: size, operand type: BOOL");
  COND_ERR("size(size(nm)) > :n1", "Incorrect operand type for operator or function; operator or function: size, operand type: N");
  COND_ERR("n = n", "The first operand must be distinct from the remaining operands for this operator or function; operator: =, first operand: [n]");
  COND_ERR("contains(m.x, #m.x)",
           "The first operand must be distinct from the remaining operands for this operator or function; operator: contains, first operand: [m, x]");
  COND_ERR("((n = :n1))", "The expression has redundant parentheses;");
  COND_ERR("n = :n1 AND ((n = :n1 AND n = :n2)) AND n = :n3", "The expression has redundant parentheses;");
  CHECK_INTEQ(cond("(n = :n10) AND ((n = :n10) OR (n = :n1))"), 1);
  /* stages: a reserved word before an undefined name, an undefined name before a bad count */
  COND_ERR("#zz = :zz AND status = :s", "Attribute name is a reserved keyword; reserved keyword: status");
  COND_ERR("attribute_exists(#zz, :zz)", "An expression attribute name used in the document path is not defined; attribute name: #zz");
  COND_ERR("n = :zz", "An expression attribute value used in expression is not defined; attribute value: :zz");
}

LL_TEST(expr_reserved_words) {
  CHECK(ll_expr_reserved("status", 6));
  CHECK(ll_expr_reserved("STATUS", 6));
  CHECK(ll_expr_reserved("abort", 5));
  CHECK(ll_expr_reserved("ZONE", 4));
  CHECK(ll_expr_reserved("Name", 4));
  CHECK(ll_expr_reserved("size", 4));
  CHECK(!ll_expr_reserved("zon", 3));
  CHECK(!ll_expr_reserved("zones", 5));
  CHECK(!ll_expr_reserved("abc", 3));
  CHECK(!ll_expr_reserved("a", 1));
  CHECK(ll_expr_reserved("statusx", 6)); /* only len bytes count */
  COND_ERR("status = :s", "Attribute name is a reserved keyword; reserved keyword: status");
  COND_ERR("m.Count = :s", "Attribute name is a reserved keyword; reserved keyword: Count");
  cond_err(LL_EXPR_UPDATE, "SET Status = :s", "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: Status");
  cond_err(LL_EXPR_PROJECTION, "a, m.abORt", "Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: abORt");
  CHECK_INTEQ(cond("#s = :s"), 0); /* through a #nm it is fine */
}

LL_TEST(expr_names_values_used) {
  json_t *names = J("{\"#a\":\"a\",\"#b\":\"b\",\"#c\":\"c\"}");
  json_t *values = J("{\":x\":{\"S\":\"x\"},\":y\":{\"S\":\"y\"}}");
  ll_expr_ctx_t ctx = {.names = names, .values = values};
  ll_expr_t *e1 = ll_expr_parse(LL_EXPR_CONDITION, "#a = :x", &ctx, why, sizeof why);
  CHECK(e1 != NULL);
  CHECK_INTEQ(ll_expr_unused(&ctx, why, sizeof why), -1);
  CHECK_STREQ(why, "Value provided in ExpressionAttributeNames unused in expressions: keys: {#b, #c}");
  ll_expr_t *e2 = ll_expr_parse(LL_EXPR_PROJECTION, "#b, #c", &ctx, why, sizeof why);
  CHECK(e2 != NULL);
  CHECK_INTEQ(ll_expr_unused(&ctx, why, sizeof why), -1);
  CHECK_STREQ(why, "Value provided in ExpressionAttributeValues unused in expressions: keys: {:y}");
  ll_expr_t *e3 = ll_expr_parse(LL_EXPR_UPDATE, "SET z = :y", &ctx, why, sizeof why);
  CHECK(e3 != NULL);
  CHECK_INTEQ(ll_expr_unused(&ctx, why, sizeof why), 0);
  /* undefined ones, with no names/values given at all */
  ll_expr_ctx_t none = {0};
  CHECK(ll_expr_parse(LL_EXPR_UPDATE, "SET #q = :q", &none, why, sizeof why) == NULL);
  CHECK_STREQ(why, "Invalid UpdateExpression: An expression attribute name used in the document path is not defined; attribute name: #q");
  CHECK(ll_expr_parse(LL_EXPR_UPDATE, "SET q = :q", &none, why, sizeof why) == NULL);
  CHECK_STREQ(why, "Invalid UpdateExpression: An expression attribute value used in expression is not defined; attribute value: :q");
  CHECK_INTEQ(ll_expr_unused(&none, why, sizeof why), 0);
  ll_expr_ctx_done(&none);
  ll_expr_free(e1);
  ll_expr_free(e2);
  ll_expr_free(e3);
  ll_expr_ctx_done(&ctx);
  json_decref(names);
  json_decref(values);
}

/* Applies an update to ITEM and returns the new item (or NULL with why). */
static json_t *upd(const char *text) {
  ll_expr_t *e = P(LL_EXPR_UPDATE, text);
  if (!e) fprintf(stderr, "update refused: %s: %s\n", text, why);
  CHECK(e != NULL);
  json_t *item = J(ITEM);
  int rc = ll_expr_update(e, item, why, sizeof why);
  ll_expr_free(e);
  if (rc < 0) {
    json_t *orig = J(ITEM);
    CHECK(json_equal(orig, item)); /* unchanged on error */
    json_decref(orig);
    json_decref(item);
    return NULL;
  }
  return item;
}

static void check_at(json_t *item, const char *attr, const char *want) {
  json_t *w = want ? J(want) : NULL, *got = json_object_get(item, attr);
  if (!(w ? got && json_equal(w, got) : got == NULL)) {
    char *s = got ? json_dumps(got, JSON_COMPACT) : NULL;
    fprintf(stderr, "%s: got %s, want %s\n", attr, s ? s : "(missing)", want ? want : "(missing)");
    free(s);
  }
  CHECK(w ? got && json_equal(w, got) : got == NULL);
  json_decref(w);
}

static void upd_err(const char *text, const char *want) {
  json_t *r = upd(text);
  CHECK(r == NULL);
  CHECK_STREQ(why, want);
}

LL_TEST(expr_update_set) {
  json_t *it = upd("SET x = :s, y = n + :n1, z = n - :e, #n = :n2");
  check_at(it, "x", "{\"S\":\"x\"}");
  check_at(it, "y", "{\"N\":\"11\"}");
  check_at(it, "z", "{\"N\":\"0\"}");
  check_at(it, "nm", "{\"N\":\"2\"}");
  json_decref(it);
  it = upd("SET n = :n1, x = n"); /* right-hand sides see the item before the update */
  check_at(it, "n", "{\"N\":\"1\"}");
  check_at(it, "x", "{\"N\":\"10\"}");
  json_decref(it);
  it = upd("SET a = if_not_exists(zz, :n1), b2 = if_not_exists(n, :n1)");
  check_at(it, "a", "{\"N\":\"1\"}");
  check_at(it, "b2", "{\"N\":\"10\"}");
  json_decref(it);
  it = upd("SET l = list_append(l, :l), l2 = list_append(:l, if_not_exists(zz, :l))");
  check_at(it, "l", "{\"L\":[{\"S\":\"x\"},{\"N\":\"2\"},{\"M\":{\"q\":{\"S\":\"r\"}}},{\"S\":\"z\"}]}");
  check_at(it, "l2", "{\"L\":[{\"S\":\"z\"},{\"S\":\"z\"}]}");
  json_decref(it);
  it = upd("set m.x = :n1, m.n.fresh = :s, l[1] = :s, l[7] = :n3, l[2].q = :n2");
  check_at(it, "m", "{\"M\":{\"x\":{\"N\":\"1\"},\"n\":{\"M\":{\"deep\":{\"N\":\"5\"},\"fresh\":{\"S\":\"x\"}}}}}");
  check_at(it, "l", "{\"L\":[{\"S\":\"x\"},{\"S\":\"x\"},{\"M\":{\"q\":{\"N\":\"2\"}}},{\"N\":\"3\"}]}");
  json_decref(it);
  upd_err("SET x = zz + :n1", "The provided expression refers to an attribute that does not exist in the item");
  upd_err("SET x = zz", "The provided expression refers to an attribute that does not exist in the item");
  upd_err("SET x = nm + :n1", "An operand in the update expression has an incorrect data type");
  upd_err("SET x = list_append(n, :l)", "An operand in the update expression has an incorrect data type");
  upd_err("SET x = :s, m.zz.q = :s", "The document path provided in the update expression is invalid for update");
  upd_err("SET n[0] = :s", "The document path provided in the update expression is invalid for update");
  cond_err(LL_EXPR_UPDATE, "SET x = :s + :n1",
           "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: +, operand type: S");
  cond_err(LL_EXPR_UPDATE, "SET x = list_append(:s, l)",
           "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: list_append, operand type: S");
  cond_err(LL_EXPR_UPDATE, "SET x = if_not_exists(:s, l)",
           "Invalid UpdateExpression: Operator or function requires a document path; operator or function: if_not_exists");
  cond_err(LL_EXPR_UPDATE, "SET x = if_not_exists(l)",
           "Invalid UpdateExpression: Incorrect number of operands for operator or function; operator or function: if_not_exists, number of operands: 1");
  cond_err(LL_EXPR_UPDATE, "SET x = size(l)", "Invalid UpdateExpression: Invalid function name; function: size");
}

LL_TEST(expr_update_remove_add_delete) {
  json_t *it = upd("REMOVE l[0], l[2], m.x, zz, m.zz");
  check_at(it, "l", "{\"L\":[{\"N\":\"2\"}]}"); /* both original indexes removed */
  check_at(it, "m", "{\"M\":{\"n\":{\"M\":{\"deep\":{\"N\":\"5\"}}}}}");
  json_decref(it);
  it = upd("remove nm");
  check_at(it, "nm", NULL);
  json_decref(it);
  it = upd("ADD n :n1, zz :n2, ss :ss2, m.n.deep :e, newset :ns");
  check_at(it, "n", "{\"N\":\"11\"}");
  check_at(it, "zz", "{\"N\":\"2\"}");
  check_at(it, "ss", "{\"SS\":[\"a\",\"b\",\"c\"]}");
  check_at(it, "m", "{\"M\":{\"x\":{\"S\":\"y\"},\"n\":{\"M\":{\"deep\":{\"N\":\"15\"}}}}}");
  check_at(it, "newset", "{\"NS\":[\"1\",\"2\"]}");
  json_decref(it);
  it = upd("DELETE ss :ssa, ns :ns1");
  check_at(it, "ss", "{\"SS\":[\"b\"]}");
  check_at(it, "ns", "{\"NS\":[\"2\"]}"); /* 1.0 is 1 */
  json_decref(it);
  it = upd("DELETE ss :ss, zz :ss");
  check_at(it, "ss", NULL); /* emptied: removed */
  check_at(it, "zz", NULL);
  json_decref(it);
  it = upd("SET x = :s REMOVE nm ADD n :n1 DELETE ss :ssa");
  check_at(it, "x", "{\"S\":\"x\"}");
  check_at(it, "nm", NULL);
  check_at(it, "n", "{\"N\":\"11\"}");
  check_at(it, "ss", "{\"SS\":[\"b\"]}");
  json_decref(it);
  upd_err("ADD ss :n1", "An operand in the update expression has an incorrect data type");
  upd_err("ADD n :ss", "An operand in the update expression has an incorrect data type");
  upd_err("ADD nm :n1", "An operand in the update expression has an incorrect data type");
  upd_err("DELETE ns :ss", "An operand in the update expression has an incorrect data type");
  upd_err("ADD zz.q :n1", "The document path provided in the update expression is invalid for update");
  cond_err(LL_EXPR_UPDATE, "ADD x :s",
           "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: STRING");
  cond_err(LL_EXPR_UPDATE, "DELETE x :n1",
           "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: DELETE, operand type: NUMBER");
  cond_err(LL_EXPR_UPDATE, "ADD x n", "Invalid UpdateExpression: Syntax error; token: \"n\", near: \"x n\"");
}

LL_TEST(expr_update_paths_and_roots) {
  cond_err(LL_EXPR_UPDATE, "SET a = :s, a.b = :s",
           "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of "
           "these paths; path one: [a], path two: [a, b]");
  cond_err(LL_EXPR_UPDATE, "SET a = :s REMOVE a",
           "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of "
           "these paths; path one: [a], path two: [a]");
  cond_err(LL_EXPR_UPDATE, "REMOVE a.#i SET a[1] = :s",
           "Invalid UpdateExpression: Two document paths conflict with each other; must remove or rewrite one of "
           "these paths; path one: [a, [3]], path two: [a, [1]]");
  cond_err(LL_EXPR_UPDATE, "SET d[1] = :s, d.b = :s, c[1].a = :s, c = :s",
           "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of "
           "these paths; path one: [c, [1], a], path two: [c]");
  cond_err(LL_EXPR_UPDATE, "SET a = :s SET b = :s",
           "Invalid UpdateExpression: The \"SET\" section can only be used once in an update expression;");
  cond_err(LL_EXPR_UPDATE, "remove a add b :n1 remove c",
           "Invalid UpdateExpression: The \"REMOVE\" section can only be used once in an update expression;");
  ll_expr_t *e = P(LL_EXPR_UPDATE, "SET a.b = :s, c = :s, a.x = :n1 REMOVE #dot, l[1] ADD c2 :n1");
  CHECK(e != NULL);
  const char *const *roots;
  CHECK_INTEQ(ll_expr_update_roots(e, &roots), 5);
  CHECK_STREQ(roots[0], "a");
  CHECK_STREQ(roots[1], "c");
  CHECK_STREQ(roots[2], "a.b");
  CHECK_STREQ(roots[3], "l");
  CHECK_STREQ(roots[4], "c2");
  ll_expr_free(e);
}

static ll_expr_t *key_expr(const char *text) {
  ll_expr_t *e = P(LL_EXPR_KEY_CONDITION, text);
  if (!e) fprintf(stderr, "refused: %s: %s\n", text, why);
  CHECK(e != NULL);
  return e;
}

static void key_err(const char *text, const char *range, const char *want) {
  ll_expr_t *e = key_expr(text);
  ll_key_cond_t kc;
  CHECK_INTEQ(ll_expr_key_condition(e, "id", range, &kc, why, sizeof why), -1);
  CHECK_STREQ(why, want);
  ll_expr_free(e);
}

LL_TEST(expr_key_conditions) {
  ll_key_cond_t kc;
  ll_expr_t *e = key_expr("id = :s");
  CHECK_INTEQ(ll_expr_key_condition(e, "id", NULL, &kc, why, sizeof why), 0);
  CHECK_STREQ(kc.hash_name, "id");
  CHECK_STREQ(json_string_value(json_object_get(kc.hash_value, "S")), "x");
  CHECK(kc.op == LL_KC_NONE && kc.range_name == NULL);
  CHECK_INTEQ(ll_expr_key_condition(e, "id", "sk", &kc, why, sizeof why), 0);
  CHECK(kc.op == LL_KC_NONE);
  ll_expr_free(e);

  e = key_expr("id = :s AND sk BETWEEN :n1 AND :n10");
  CHECK_INTEQ(ll_expr_key_condition(e, "id", "sk", &kc, why, sizeof why), 0);
  CHECK(kc.op == LL_KC_BETWEEN);
  CHECK_STREQ(kc.range_name, "sk");
  CHECK_STREQ(json_string_value(json_object_get(kc.lo, "N")), "1");
  CHECK_STREQ(json_string_value(json_object_get(kc.hi, "N")), "10");
  ll_expr_free(e);

  e = key_expr("begins_with(#n, :pre) AND id = :s");
  CHECK_INTEQ(ll_expr_key_condition(e, "id", "nm", &kc, why, sizeof why), 0);
  CHECK(kc.op == LL_KC_BEGINS);
  CHECK_STREQ(json_string_value(json_object_get(kc.lo, "S")), "ab");
  ll_expr_free(e);

  e = key_expr("(id = :s) and :n1 < sk"); /* reversed: sk > :n1 */
  CHECK_INTEQ(ll_expr_key_condition(e, "id", "sk", &kc, why, sizeof why), 0);
  CHECK(kc.op == LL_KC_GT);
  ll_expr_free(e);

  static const struct { const char *text; ll_kc_op_t op; } ops[] = {
      {"id = :s and sk = :n1", LL_KC_EQ}, {"id = :s and sk < :n1", LL_KC_LT}, {"id = :s and sk <= :n1", LL_KC_LE},
      {"id = :s and sk > :n1", LL_KC_GT}, {"id = :s and sk >= :n1", LL_KC_GE},
  };
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
    e = key_expr(ops[i].text);
    CHECK_INTEQ(ll_expr_key_condition(e, "id", "sk", &kc, why, sizeof why), 0);
    CHECK(kc.op == ops[i].op);
    ll_expr_free(e);
  }

  key_err("id > :s", NULL, "Query key condition not supported");
  key_err("id = :s AND sk = :s", NULL, "Query key condition not supported");
  key_err("zz = :s", NULL, "Query condition missed key schema element: id");
  key_err("sk = :s", "sk", "Query condition missed key schema element: id");
  key_err("id < :s AND sk = :s", "sk", "Query key condition not supported");
  key_err("id = :s AND oth = :s", "sk", "Query condition missed key schema element: sk");
  key_err("id = :s AND id = :s", "sk", "KeyConditionExpressions must only contain one condition per key");
  key_err("id = :s AND sk > :n1 AND sk < :n2", "sk", "KeyConditionExpressions must only contain one condition per key");
  key_err("id.x = :s", "sk", "KeyConditionExpressions cannot have conditions on nested attributes");
  key_err("id = sk", "sk", "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition");
  key_err(":s = :s", "sk", "Invalid condition in KeyConditionExpression: No key attribute specified");
  key_err("begins_with(:s, sk) AND id = :s", "sk",
          "Invalid condition in KeyConditionExpression: begins_with operator must have the key attribute as its first operand");
  cond_err(LL_EXPR_KEY_CONDITION, "id = :s AND sk BETWEEN :n10 AND :n1",
           "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal "
           "to lower bound; lower bound operand: AttributeValue: {N:10}, upper bound operand: AttributeValue: {N:1}");
  cond_err(LL_EXPR_KEY_CONDITION, "id = :s AND sk BETWEEN :n1 AND :s",
           "Invalid KeyConditionExpression: The BETWEEN operator requires same data type for lower and upper "
           "bounds; lower bound operand: AttributeValue: {N:1}, upper bound operand: AttributeValue: {S:x}");
  cond_err(LL_EXPR_KEY_CONDITION, "id = :s OR sk = :s", "Invalid operator used in KeyConditionExpression: OR");
  cond_err(LL_EXPR_KEY_CONDITION, "NOT id = :s", "Invalid operator used in KeyConditionExpression: NOT");
  cond_err(LL_EXPR_KEY_CONDITION, "id <> :s", "Invalid operator used in KeyConditionExpression: <>");
  cond_err(LL_EXPR_KEY_CONDITION, "id IN (:s)", "Invalid operator used in KeyConditionExpression: IN");
  cond_err(LL_EXPR_KEY_CONDITION, "attribute_exists(id)", "Invalid operator used in KeyConditionExpression: attribute_exists");
  cond_err(LL_EXPR_KEY_CONDITION, "contains(id, :s)", "Invalid operator used in KeyConditionExpression: contains");
  cond_err(LL_EXPR_KEY_CONDITION, "id = size(sk)", "KeyConditionExpressions cannot contain nested operations");
}

static void project(const char *text, const char *want) {
  ll_expr_t *e = P(LL_EXPR_PROJECTION, text);
  if (!e) fprintf(stderr, "refused: %s: %s\n", text, why);
  CHECK(e != NULL);
  json_t *item = J(ITEM), *w = J(want);
  json_t *got = ll_expr_project(e, item);
  if (!json_equal(got, w)) {
    char *s = json_dumps(got, JSON_COMPACT);
    fprintf(stderr, "%s: got %s\n  want %s\n", text, s, want);
    free(s);
  }
  CHECK(json_equal(got, w));
  json_decref(got);
  json_decref(w);
  json_decref(item);
  ll_expr_free(e);
}

LL_TEST(expr_projection) {
  project("id", "{\"id\":{\"S\":\"k1\"}}");
  project("zz", "{}");
  project("#n, m.n.deep, zz.q, n.q", "{\"nm\":{\"S\":\"abc\"},\"m\":{\"M\":{\"n\":{\"M\":{\"deep\":{\"N\":\"5\"}}}}}}");
  project("l[2].q, l[0], l[9]", "{\"l\":{\"L\":[{\"S\":\"x\"},{\"M\":{\"q\":{\"S\":\"r\"}}}]}}");
  project("m.x, m.n", "{\"m\":{\"M\":{\"x\":{\"S\":\"y\"},\"n\":{\"M\":{\"deep\":{\"N\":\"5\"}}}}}}");
  project("#dot", "{\"a.b\":{\"S\":\"dotted\"}}");
  project("ss, nul", "{\"ss\":{\"SS\":[\"a\",\"b\"]},\"nul\":{\"NULL\":true}}");
  ll_expr_t *e = P(LL_EXPR_PROJECTION, "a.b, c, a.x");
  const char *const *roots;
  CHECK_INTEQ(ll_expr_projection_roots(e, &roots), 2);
  CHECK_STREQ(roots[0], "a");
  CHECK_STREQ(roots[1], "c");
  ll_expr_free(e);
  cond_err(LL_EXPR_PROJECTION, "b[1], b.a, #m.b, m",
           "Invalid ProjectionExpression: Two document paths overlap with each other; must remove or rewrite one of "
           "these paths; path one: [m, b], path two: [m]");
  cond_err(LL_EXPR_PROJECTION, "a.b, a[1]",
           "Invalid ProjectionExpression: Two document paths conflict with each other; must remove or rewrite one of "
           "these paths; path one: [a, b], path two: [a, [1]]");
  cond_err(LL_EXPR_PROJECTION, "a, #zz",
           "Invalid ProjectionExpression: An expression attribute name used in the document path is not defined; attribute name: #zz");
  cond_err(LL_EXPR_PROJECTION, "a = b", "Invalid ProjectionExpression: Syntax error; token: \"=\", near: \"a = b\"");
}

LL_TEST(expr_limits) {
  char *big = ll_malloc(LL_EXPR_MAX_TEXT + 2);
  memset(big, ' ', LL_EXPR_MAX_TEXT + 1);
  memcpy(big, "n = :n1", 7);
  big[LL_EXPR_MAX_TEXT + 1] = '\0';
  COND_ERR(big, "Expression size has exceeded the maximum allowed size; expression size: 4097");
  big[LL_EXPR_MAX_TEXT] = '\0';
  CHECK_INTEQ(cond(big), 0);
  free(big);

  char buf[4096];
  size_t off = 0;
  for (int i = 0; i < 33; i++) off += (size_t)snprintf(buf + off, sizeof buf - off, "NOT ");
  snprintf(buf + off, sizeof buf - off, "n = :n1");
  COND_ERR(buf, "The expression has too many nesting levels; maximum: 32");
  off = 0;
  for (int i = 0; i < 32; i++) off += (size_t)snprintf(buf + off, sizeof buf - off, "NOT ");
  snprintf(buf + off, sizeof buf - off, "n = :n10");
  CHECK_INTEQ(cond(buf), 1);

  off = (size_t)snprintf(buf, sizeof buf, "a");
  for (int i = 0; i < 32; i++) off += (size_t)snprintf(buf + off, sizeof buf - off, ".a");
  snprintf(buf + off, sizeof buf - off, " = :n1");
  COND_ERR(buf, "The document path has too many nesting levels; nesting levels: 33");

  off = (size_t)snprintf(buf, sizeof buf, "n IN (:n1");
  for (int i = 0; i < 100; i++) off += (size_t)snprintf(buf + off, sizeof buf - off, ",:n1");
  snprintf(buf + off, sizeof buf - off, ")");
  COND_ERR(buf, "The IN operator is provided with too many operands; number of operands: 101");

  off = 0;
  for (int i = 0; i < 301; i++) off += (size_t)snprintf(buf + off, sizeof buf - off, "%sn=:n1", i ? " OR " : "");
  COND_ERR(buf, "The expression contains too many operators; maximum: 300");
  COND_ERR("a[100000000] = :n1", "Syntax error; token: \"100000000\", near: \"[100000000]\"");
}

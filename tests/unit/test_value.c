/* src/table/value.c: DynamoDB numbers (parse limits, text, order, exact sums, keys) and
 * AttributeValues (validation with DynamoDB's messages, normalization, sizes, equality, order). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "table/value.h"
#include "test.h"

static const char E_OVER[] =
    "Number overflow. Attempting to store a number with magnitude larger than supported range";
static const char E_UNDER[] =
    "Number underflow. Attempting to store a number with magnitude smaller than supported range";
static const char E_DIG[] = "Attempting to store more than 38 significant digits in a Number";
static const char E_NAN[] = "The parameter cannot be converted to a numeric value";
static const char E_EMPTY[] =
    "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes";
static const char E_TWO[] = "Supplied AttributeValue has more than one datatypes set, must "
                            "contain exactly one of the supported datatypes";
static const char E_NEST[] = "Nesting Levels have exceeded supported limits: Attributes in the "
                             "item have nested levels beyond supported limit";

static ll_num_t num(const char *s) {
  ll_num_t n;
  const char *why = NULL;
  if (ll_num_parse(s, strlen(s), &n, &why) != 0) {
    fprintf(stderr, "num(%s): %s\n", s, why);
    exit(1);
  }
  return n;
}

/* NULL when s parses, else the reason. */
static const char *num_err(const char *s) {
  ll_num_t n;
  const char *why = NULL;
  return ll_num_parse(s, strlen(s), &n, &why) == 0 ? NULL : why;
}

static char text_buf[LL_NUM_TEXT_MAX];
static const char *text_of(const ll_num_t *n) {
  ll_num_format(n, text_buf);
  return text_buf;
}
static const char *norm(const char *s) {
  ll_num_t n = num(s);
  return text_of(&n);
}

static char *repeat(char c, size_t n) {
  char *s = malloc(n + 1);
  memset(s, c, n);
  s[n] = 0;
  return s;
}

LL_TEST(num_parse_limits) {
  /* 38 significant digits, not 39 (wherever they sit; zeros around them do not count) */
  CHECK(!num_err("12345678901234567890123456789012345678"));
  CHECK_STREQ(num_err("123456789012345678901234567890123456789"), E_DIG);
  CHECK_STREQ(num_err("-1.23456789012345678901234567890123456789"), E_DIG);
  CHECK_STREQ(num_err("1.00000000000000000000000000000000000001"), E_DIG);
  CHECK(!num_err("1.0000000000000000000000000000000000001"));
  CHECK(!num_err("0000012345678901234567890123456789012345678"));
  CHECK(!num_err("-00001.23456789012345678901234567890123456780000"));
  CHECK(!num_err("1.000000000000000000000000000000000000000000000000"));
  CHECK(!num_err("31415926535897932384626433832795028841e30"));
  CHECK_STREQ(num_err("314159265358979323846264338327950288419e30"), E_DIG);
  /* smallest magnitude 1E-130 */
  CHECK(!num_err("1E-130"));
  CHECK(!num_err("-1e-130"));
  CHECK(!num_err("0001.000e-130"));
  CHECK_STREQ(num_err("1E-131"), E_UNDER);
  CHECK_STREQ(num_err("-1e-131"), E_UNDER);
  CHECK_STREQ(num_err("0.9e-130"), E_UNDER);
  CHECK_STREQ(num_err("9.9999999999999999999999999999999999999E-131"), E_UNDER);
  /* largest 9.99...E+125 (38 nines) */
  CHECK(!num_err("9.9999999999999999999999999999999999999E+125"));
  CHECK(!num_err("-9.9999999999999999999999999999999999999E+125"));
  CHECK(!num_err("0009.99999999999999999999999999999999999990000e125"));
  CHECK_STREQ(num_err("1E+126"), E_OVER);
  CHECK_STREQ(num_err("-1e126"), E_OVER);
  CHECK_STREQ(num_err("11e125"), E_OVER);
  CHECK_STREQ(num_err("0.1e127"), E_OVER);
  /* range is checked before precision (dynalite's order) */
  CHECK_STREQ(num_err("1234567890123456789012345678901234567890e200"), E_OVER);
  CHECK_STREQ(num_err("1234567890123456789012345678901234567890e-200"), E_UNDER);
  char *big = repeat('9', 126), *bigger = repeat('9', 127);
  CHECK_STREQ(num_err(big), E_DIG); /* in range, but 126 significant digits */
  CHECK_STREQ(num_err(bigger), E_OVER);
  free(big);
  free(bigger);
  /* zero with any exponent */
  CHECK(!num_err("0e1000"));
  CHECK(!num_err("-0.000e-1000"));
  CHECK(!num_err("000"));
}

LL_TEST(num_parse_syntax) {
  const char *ok[] = {"3",       "-7.1234", "-17e5", "-17.4E37", "+3",    ".123",
                      "0001.23", "1e+5",    "1E5",   "1e-5",     "5.",    "-.5",
                      "+.5e1",   "0",       "-0",    "0.0",      "1.000", "00"};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    if (num_err(ok[i])) fprintf(stderr, "refused %s\n", ok[i]);
    CHECK(!num_err(ok[i]));
  }
  const char *bad[] = {
      "",      " 1",  "1 ",   " ",    "NaN",   "-NaN",         "nan",   "Infinity", "-Infinity",
      "inf",   "dog", "-dog", "0x10", "1e",    "1e+",          "1e-",   "e5",       ".",
      "+",     "-",   "+-1",  "--1",  "1.2.3", "1e5.5",        "1e++5", "1,5",      "1_000",
      "1e5e5", ".e5", "1\n",  "\t1",  "1f",    "0e99999999999"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    if (!num_err(bad[i]) || strcmp(num_err(bad[i]), E_NAN)) fprintf(stderr, "took %s\n", bad[i]);
    CHECK_STREQ(num_err(bad[i]), E_NAN);
  }
  /* length-delimited: a NUL or text after len is not part of the number */
  ll_num_t n;
  const char *why;
  CHECK(ll_num_parse("12\0003", 4, &n, &why) == -1);
  CHECK(ll_num_parse("123", 2, &n, &why) == 0);
  CHECK_STREQ(text_of(&n), "12");
}

LL_TEST(num_format_text) {
  CHECK_STREQ(norm("1.50"), "1.5");
  CHECK_STREQ(norm("1e2"), "100");
  CHECK_STREQ(norm("-0"), "0");
  CHECK_STREQ(norm("-0.000e5"), "0");
  CHECK_STREQ(norm("0.0001"), "0.0001");
  CHECK_STREQ(norm("1E-7"), "0.0000001");
  CHECK_STREQ(norm("0001"), "1");
  CHECK_STREQ(norm("1.000"), "1");
  CHECK_STREQ(norm(".5"), "0.5");
  CHECK_STREQ(norm("5."), "5");
  CHECK_STREQ(norm("+1"), "1");
  CHECK_STREQ(norm("1e+5"), "100000");
  CHECK_STREQ(norm("00042"), "42");
  CHECK_STREQ(norm("1.5E2"), "150");
  CHECK_STREQ(norm("-0015.789e6"), "-15789000");
  CHECK_STREQ(norm("123.45e1"), "1234.5");
  CHECK_STREQ(norm("-12.340"), "-12.34");
  CHECK_STREQ(norm("1234.5e-2"), "12.345");
  CHECK_STREQ(norm("10"), "10");
  CHECK_STREQ(norm("-0.5"), "-0.5");
  CHECK_STREQ(norm("1.00000000000000007629769841092E+50"),
              "100000000000000007629769841092000000000000000000000");
  /* the extremes, in plain notation as DynamoDB answers */
  char want[LL_NUM_TEXT_MAX];
  char *nines = repeat('9', 38), *zeros = repeat('0', 88);
  snprintf(want, sizeof want, "%s%s", nines, zeros);
  CHECK_STREQ(norm("9.9999999999999999999999999999999999999E+125"), want);
  snprintf(want, sizeof want, "-%s%s", nines, zeros);
  CHECK_STREQ(norm("-0009.99999999999999999999999999999999999990000e125"), want);
  free(nines);
  free(zeros);
  zeros = repeat('0', 129);
  snprintf(want, sizeof want, "0.%s1", zeros);
  CHECK_STREQ(norm("1e-130"), want);
  snprintf(want, sizeof want, "-0.%s1", zeros);
  CHECK_STREQ(norm("-0001.000e-130"), want);
  free(zeros);
  zeros = repeat('0', 125);
  snprintf(want, sizeof want, "1%s", zeros);
  CHECK_STREQ(norm("1e125"), want);
  free(zeros);
  /* the longest text fits LL_NUM_TEXT_MAX */
  const char *longest = norm("-1.2345678901234567890123456789012345678e-130");
  CHECK_INTEQ(strlen(longest), LL_NUM_TEXT_MAX - 1);
  CHECK(strncmp(longest, "-0.000", 6) == 0);
  CHECK(strcmp(longest + strlen(longest) - 38, "12345678901234567890123456789012345678") == 0);
}

LL_TEST(num_format_round_trips) {
  const char *in[] = {"0",      "1",       "-1",
                      "0.5",    "123.456", "-9e125",
                      "1e-130", "4.2e-10", "31415926535897932384626433832795028841e30",
                      "-1.5e37"};
  for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
    ll_num_t a = num(in[i]);
    char t[LL_NUM_TEXT_MAX];
    ll_num_format(&a, t);
    ll_num_t b = num(t);
    CHECK(ll_num_cmp(&a, &b) == 0);
    CHECK_STREQ(text_of(&b), t);
  }
}

/* Ascending, across the whole range as DynamoDB documents it, with prefix neighbours. */
static const char *const sorted[] = {
    "-9.9999999999999999999999999999999999999E+125",
    "-9.99E+125",
    "-1E+125",
    "-1.5E+100",
    "-12345678901234567890123456789012345678",
    "-1000",
    "-999.99",
    "-101",
    "-100",
    "-10.1",
    "-10",
    "-2",
    "-1.01",
    "-1.001",
    "-1",
    "-0.999",
    "-0.1",
    "-0.0101",
    "-0.01",
    "-1E-129",
    "-1.0000000000000000000000000000000000001E-130",
    "-1E-130",
    "0",
    "1E-130",
    "1.0000000000000000000000000000000000001E-130",
    "1E-129",
    "0.01",
    "0.0101",
    "0.1",
    "0.999",
    "1",
    "1.001",
    "1.01",
    "2",
    "10",
    "10.1",
    "100",
    "101",
    "999.99",
    "1000",
    "12345678901234567890123456789012345678",
    "1.5E+100",
    "1E+125",
    "9.99E+125",
    "9.9999999999999999999999999999999999999E+125",
};
#define NSORTED (sizeof sorted / sizeof sorted[0])

static int blob_cmp(const uint8_t *a, size_t la, const uint8_t *b, size_t lb) {
  int c = memcmp(a, b, la < lb ? la : lb);
  if (c) return c < 0 ? -1 : 1;
  return (la > lb) - (la < lb);
}

static int sgn(int x) { return (x > 0) - (x < 0); }

LL_TEST(num_cmp_order) {
  for (size_t i = 0; i < NSORTED; i++) {
    ll_num_t a = num(sorted[i]);
    CHECK(ll_num_cmp(&a, &a) == 0);
    for (size_t j = i + 1; j < NSORTED; j++) {
      ll_num_t b = num(sorted[j]);
      if (ll_num_cmp(&a, &b) >= 0) fprintf(stderr, "%s !< %s\n", sorted[i], sorted[j]);
      CHECK(ll_num_cmp(&a, &b) < 0);
      CHECK(ll_num_cmp(&b, &a) > 0);
    }
  }
  ll_num_t x = num("1"), y = num("1.000e0"), z = num("10e-1"), m0 = num("-0"), p0 = num("0e5");
  CHECK(ll_num_cmp(&x, &y) == 0 && ll_num_cmp(&y, &z) == 0);
  CHECK(ll_num_cmp(&m0, &p0) == 0);
}

LL_TEST(num_key_order) {
  uint8_t ka[LL_NUM_KEY_MAX], kb[LL_NUM_KEY_MAX];
  for (size_t i = 0; i < NSORTED; i++) {
    ll_num_t a = num(sorted[i]);
    size_t la = ll_num_key(&a, ka);
    CHECK(la >= 1 && la <= 22);
    for (size_t j = 0; j < NSORTED; j++) {
      ll_num_t b = num(sorted[j]);
      size_t lb = ll_num_key(&b, kb);
      int want = i < j ? -1 : i > j ? 1 : 0;
      if (blob_cmp(ka, la, kb, lb) != want) fprintf(stderr, "key %s vs %s\n", sorted[i], sorted[j]);
      CHECK_INTEQ(blob_cmp(ka, la, kb, lb), want);
      CHECK_INTEQ(sgn(ll_num_cmp(&a, &b)), want);
    }
  }
  /* equal values, equal keys */
  ll_num_t a = num("1.50"), b = num("0015e-1");
  size_t la = ll_num_key(&a, ka), lb = ll_num_key(&b, kb);
  CHECK(la == lb && memcmp(ka, kb, la) == 0);
  /* the longest key */
  a = num("-1.2345678901234567890123456789012345678");
  CHECK_INTEQ(ll_num_key(&a, ka), 22);
}

static const char *sum(const char *x, const char *y, bool minus) {
  ll_num_t a = num(x), b = num(y), c;
  const char *why = NULL;
  int rc = minus ? ll_num_sub(&a, &b, &c, &why) : ll_num_add(&a, &b, &c, &why);
  if (rc < 0) return why;
  return text_of(&c);
}
#define ADD(x, y) sum(x, y, false)
#define SUB(x, y) sum(x, y, true)

LL_TEST(num_add_sub_exact) {
  CHECK_STREQ(ADD("1", "10000000000000000000000"), "10000000000000000000001");
  CHECK_STREQ(SUB("10000000000000000000000", "1"), "9999999999999999999999");
  CHECK_STREQ(ADD("0.1", "0.2"), "0.3");
  CHECK_STREQ(ADD("1.5", "2.25"), "3.75");
  CHECK_STREQ(SUB("1", "2"), "-1");
  CHECK_STREQ(ADD("-1", "0.5"), "-0.5");
  CHECK_STREQ(SUB("-1", "-3"), "2");
  CHECK_STREQ(ADD("-1.5", "-2.5"), "-4");
  /* carries all the way up */
  CHECK_STREQ(ADD("99999999999999999999999999999999999999", "1"),
              "100000000000000000000000000000000000000");
  CHECK_STREQ(
      ADD("9.9999999999999999999999999999999999999", "0.0000000000000000000000000000000000001"),
      "10");
  CHECK_STREQ(SUB("100000000000000000000000000000000000000", "1"),
              "99999999999999999999999999999999999999");
  CHECK_STREQ(SUB("1", "0.0000000000000000000000000000000000001"),
              "0.9999999999999999999999999999999999999");
  /* cancellation to zero */
  CHECK_STREQ(SUB("1.5", "1.5"), "0");
  CHECK_STREQ(ADD("-3", "3"), "0");
  CHECK_STREQ(ADD("1e125", "-1e125"), "0");
  CHECK_STREQ(SUB("-1e-130", "-1e-130"), "0");
  /* zero operands */
  CHECK_STREQ(ADD("0", "5"), "5");
  CHECK_STREQ(SUB("0", "5"), "-5");
  CHECK_STREQ(SUB("5", "0"), "5");
  CHECK_STREQ(SUB("0", "-0"), "0");
  /* far apart but within 38 digits */
  CHECK_STREQ(ADD("1e20", "1e-17"), "100000000000000000000.00000000000000001");
  char want[LL_NUM_TEXT_MAX], *zeros = repeat('0', 129);
  snprintf(want, sizeof want, "0.%s2", zeros);
  CHECK_STREQ(ADD("1E-130", "1E-130"), want);
  free(zeros);
  /* aliasing */
  ll_num_t a = num("2"), b = num("3");
  const char *why;
  CHECK(ll_num_add(&a, &b, &a, &why) == 0);
  CHECK_STREQ(text_of(&a), "5");
  CHECK(ll_num_sub(&a, &b, &b, &why) == 0);
  CHECK_STREQ(text_of(&b), "2");
}

LL_TEST(num_add_sub_errors) {
  /* more than 38 digits: DynamoDB answers with its overflow text */
  CHECK_STREQ(ADD("1e50", "1"), E_OVER);
  CHECK_STREQ(SUB("1e50", "1"), E_OVER);
  CHECK_STREQ(ADD("1e20", "1e-18"), E_OVER);
  CHECK_STREQ(ADD("12345678901234567890123456789012345678", "0.1"), E_OVER);
  CHECK_STREQ(ADD("99999999999999999999999999999999999999", "0.1"), E_OVER);
  /* range */
  CHECK_STREQ(ADD("9e125", "9e125"), E_OVER);
  CHECK_STREQ(SUB("9e125", "-9e125"), E_OVER);
  CHECK_STREQ(ADD("9.9999999999999999999999999999999999999E+125", "1E+125"), E_OVER);
  CHECK_STREQ(ADD("-9.9999999999999999999999999999999999999E+125", "-1E+125"), E_OVER);
  CHECK_STREQ(SUB("1.0000000000000000000000000000000000001E-130", "1E-130"), E_UNDER);
  /* the largest still fits */
  CHECK(strncmp(ADD("9.9999999999999999999999999999999999998E+125", "1E+88"), "999", 3) == 0);
}

static json_t *J(const char *text) {
  json_error_t err;
  json_t *v = json_loads(text, JSON_DECODE_ANY, &err);
  if (!v) fprintf(stderr, "bad JSON %s: %s\n", text, err.text);
  CHECK(v != NULL);
  return v;
}

static char why_buf[1024];
/* Validates text; its rc, why in why_buf, the normalized value as text in *out (when out). */
static int validate(const char *text, char **out) {
  json_t *v = J(text);
  why_buf[0] = 0;
  int rc = ll_av_validate(v, why_buf, sizeof why_buf);
  if (out) *out = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  json_decref(v);
  return rc;
}

static void valid_as(const char *text, const char *want) {
  char *got = NULL;
  int rc = validate(text, &got);
  if (rc) fprintf(stderr, "%s: %s\n", text, why_buf);
  CHECK_INTEQ(rc, 0);
  CHECK_STREQ(got, want);
  free(got);
}

static void invalid(const char *text, int want_rc, const char *want_why) {
  int rc = validate(text, NULL);
  if (rc != want_rc) fprintf(stderr, "%s: rc %d (%s)\n", text, rc, why_buf);
  CHECK_INTEQ(rc, want_rc);
  CHECK_STREQ(why_buf, want_why);
}
#define VALIDATION(text, why) invalid(text, LL_AV_EVALIDATION, why)
#define SERIALIZATION(text, why) invalid(text, LL_AV_ESERIALIZATION, why)

LL_TEST(value_validate_every_type) {
  valid_as("{\"S\":\"\"}", "{\"S\":\"\"}"); /* empty strings are fine outside keys */
  valid_as("{\"S\":\"x\"}", "{\"S\":\"x\"}");
  valid_as("{\"N\":\"1.50\"}", "{\"N\":\"1.5\"}");
  valid_as("{\"N\":\"-0\"}", "{\"N\":\"0\"}");
  valid_as("{\"B\":\"\"}", "{\"B\":\"\"}");
  valid_as("{\"B\":\"AQI=\"}", "{\"B\":\"AQI=\"}");
  valid_as("{\"BOOL\":false}", "{\"BOOL\":false}");
  valid_as("{\"NULL\":true}", "{\"NULL\":true}");
  valid_as("{\"M\":{}}", "{\"M\":{}}");
  valid_as("{\"L\":[]}", "{\"L\":[]}");
  valid_as("{\"SS\":[\"\",\"a\"]}", "{\"SS\":[\"\",\"a\"]}");
  valid_as("{\"NS\":[\"1e2\",\"05\"]}", "{\"NS\":[\"100\",\"5\"]}");
  valid_as("{\"BS\":[\"\",\"AQ==\"]}", "{\"BS\":[\"\",\"AQ==\"]}");
  /* normalization reaches inside M and L */
  valid_as(
      "{\"M\":{\"a\":{\"N\":\"01.0\"},\"b\":{\"L\":[{\"N\":\"-0\"},{\"NS\":[\"1e2\",\"5\"]}]}}}",
      "{\"M\":{\"a\":{\"N\":\"1\"},\"b\":{\"L\":[{\"N\":\"0\"},{\"NS\":[\"100\",\"5\"]}]}}}");
  /* members that are no type, and null members, are ignored and dropped */
  valid_as("{\"S\":\"a\",\"X\":1}", "{\"S\":\"a\"}");
  valid_as("{\"S\":\"a\",\"N\":null}", "{\"S\":\"a\"}");
  json_t *v = J("{\"X\":[],\"BOOL\":true}");
  CHECK(ll_av_type(v) == LL_AV_INVALID);
  CHECK_INTEQ(ll_av_validate(v, why_buf, sizeof why_buf), 0);
  CHECK(ll_av_type(v) == LL_AV_BOOL);
  json_decref(v);
}

LL_TEST(value_validate_messages) {
  VALIDATION("{}", E_EMPTY);
  VALIDATION("{\"X\":\"a\"}", E_EMPTY);
  VALIDATION("{\"S\":null}", E_EMPTY);
  VALIDATION("null", E_EMPTY);
  VALIDATION("{\"M\":{\"a\":{}}}", E_EMPTY);
  VALIDATION("{\"L\":[{}]}", E_EMPTY);
  VALIDATION("{\"L\":[{\"a\":{}}]}", E_EMPTY);
  VALIDATION("{\"L\":[null]}", E_EMPTY);
  VALIDATION("{\"S\":\"a\",\"N\":\"1\"}", E_TWO);
  VALIDATION("{\"S\":\"a\",\"BOOL\":true,\"NULL\":true}", E_TWO);
  /* a member's own error comes before "more than one" (DynamoDB's order per dynalite) */
  VALIDATION("{\"S\":\"a\",\"N\":\"b\"}",
             "The parameter cannot be converted to a numeric value: b");
  VALIDATION("{\"S\":\"\",\"N\":\"\"}", E_NAN);
  VALIDATION("{\"N\":\"\"}", E_NAN);
  VALIDATION("{\"N\":\"NaN\"}", "The parameter cannot be converted to a numeric value: NaN");
  VALIDATION("{\"N\":\"123456789012345678901234567890123456789\"}", E_DIG);
  VALIDATION("{\"N\":\"1e126\"}", E_OVER);
  VALIDATION("{\"N\":\"-1e-131\"}", E_UNDER);
  VALIDATION("{\"NULL\":false}",
             "One or more parameter values were invalid: Null attribute value types must have "
             "the value of true");
  VALIDATION("{\"SS\":[]}",
             "One or more parameter values were invalid: An string set  may not be empty");
  VALIDATION("{\"NS\":[]}",
             "One or more parameter values were invalid: An number set  may not be empty");
  VALIDATION("{\"BS\":[]}",
             "One or more parameter values were invalid: Binary sets should not be empty");
  VALIDATION(
      "{\"SS\":[\"a\",\"a\"]}",
      "One or more parameter values were invalid: Input collection [a, a] contains duplicates.");
  VALIDATION("{\"SS\":[\"a\",\"b\",\"a\"]}",
             "One or more parameter values were invalid: Input collection [a, b, a] contains "
             "duplicates.");
  VALIDATION("{\"BS\":[\"Yg==\",\"Yg==\"]}",
             "One or more parameter values were invalid: Input collection [Yg==, Yg==]of type BS "
             "contains duplicates.");
  VALIDATION("{\"NS\":[\"1\",\"1\"]}", "Input collection contains duplicates");
  VALIDATION("{\"NS\":[\"1\",\"1.0\"]}",
             "Input collection contains duplicates"); /* after normalization */
  VALIDATION("{\"NS\":[\"-0\",\"0e7\",\"2\"]}", "Input collection contains duplicates");
  VALIDATION("{\"NS\":[\"1\",\"b\"]}", "The parameter cannot be converted to a numeric value: b");
  VALIDATION("{\"NS\":[\"1\",\"\"]}", E_NAN);
  VALIDATION("{\"NS\":[\"1\",\"1e-131\"]}", E_UNDER);
  VALIDATION("{\"M\":{\"a\":{\"NULL\":false}}}",
             "One or more parameter values were invalid: Null attribute value types must have "
             "the value of true");
  VALIDATION("{\"L\":[{\"S\":\"a\"},{\"SS\":[]}]}",
             "One or more parameter values were invalid: An string set  may not be empty");
  /* a long collection is cut to the message buffer */
  json_t *big = json_pack("{s:[]}", "SS"), *arr = json_object_get(big, "SS");
  for (int i = 0; i < 300; i++) json_array_append_new(arr, json_sprintf("member-%03d", i));
  json_array_append_new(arr, json_string("member-000"));
  CHECK_INTEQ(ll_av_validate(big, why_buf, sizeof why_buf), LL_AV_EVALIDATION);
  CHECK(strncmp(why_buf,
                "One or more parameter values were invalid: Input collection [member-000, "
                "member-001, ",
                84) == 0);
  CHECK(strlen(why_buf) < sizeof why_buf);
  json_decref(big);
  /* not duplicates: different strings, "" beside "a", sets of one */
  valid_as("{\"SS\":[\"a\",\"A\",\"a \",\"\"]}", "{\"SS\":[\"a\",\"A\",\"a \",\"\"]}");
  valid_as("{\"NS\":[\"1\",\"10\",\"0.1\"]}", "{\"NS\":[\"1\",\"10\",\"0.1\"]}");
}

LL_TEST(value_validate_serialization) {
  SERIALIZATION("{\"S\":1}", "NUMBER_VALUE cannot be converted to String");
  SERIALIZATION("{\"S\":true}", "TRUE_VALUE cannot be converted to String");
  SERIALIZATION("{\"S\":false}", "FALSE_VALUE cannot be converted to String");
  SERIALIZATION("{\"S\":34.56}", "DECIMAL_VALUE cannot be converted to String");
  SERIALIZATION("{\"S\":[]}", "Unrecognized collection type class java.lang.String");
  SERIALIZATION("{\"S\":{}}", "Start of structure or map found where not expected");
  SERIALIZATION("{\"N\":123}", "NUMBER_VALUE cannot be converted to String");
  SERIALIZATION("{\"B\":23}", "only base-64-encoded strings are convertible to bytes");
  SERIALIZATION("{\"B\":true}", "only base-64-encoded strings are convertible to bytes");
  SERIALIZATION("{\"B\":[]}", "Unrecognized collection type class java.nio.ByteBuffer");
  SERIALIZATION("{\"B\":{}}", "Start of structure or map found where not expected");
  SERIALIZATION("{\"B\":\"23456\"}",
                "Base64 encoded length is expected a multiple of 4 bytes but found: 5");
  SERIALIZATION("{\"B\":\"=+/=\"}", "Invalid last non-pad Base64 character dectected");
  SERIALIZATION("{\"B\":\"+/+=\"}",
                "Invalid last non-pad Base64 character dectected"); /* pad bits */
  SERIALIZATION("{\"B\":\"YR==\"}", "Invalid last non-pad Base64 character dectected");
  SERIALIZATION("{\"B\":\"ab!=\"}", "Invalid last non-pad Base64 character dectected");
  SERIALIZATION("{\"B\":\"a===\"}", "Invalid last non-pad Base64 character dectected");
  SERIALIZATION("{\"BOOL\":\"true\"}", "Unexpected token received from parser");
  SERIALIZATION("{\"BOOL\":1}", "NUMBER_VALUE cannot be converted to Boolean");
  SERIALIZATION("{\"NULL\":34.56}", "DECIMAL_VALUE cannot be converted to Boolean");
  SERIALIZATION("{\"NULL\":[]}", "Unrecognized collection type class java.lang.Boolean");
  SERIALIZATION("{\"BOOL\":{}}", "Start of structure or map found where not expected");
  SERIALIZATION("{\"SS\":\"a\"}", "Unexpected field type");
  SERIALIZATION("{\"NS\":{}}", "Start of structure or map found where not expected");
  SERIALIZATION("{\"SS\":[1]}", "NUMBER_VALUE cannot be converted to String");
  SERIALIZATION("{\"SS\":[null]}", "Unexpected value type in payload");
  SERIALIZATION("{\"BS\":[\"Yg==\",\"Yg\"]}",
                "Base64 encoded length is expected a multiple of 4 bytes but found: 2");
  SERIALIZATION("{\"L\":{}}", "Start of structure or map found where not expected");
  SERIALIZATION("{\"L\":true}", "Unexpected field type");
  SERIALIZATION("{\"L\":[1]}", "Unexpected value type in payload");
  SERIALIZATION(
      "{\"L\":[[]]}",
      "Unrecognized collection type class com.amazonaws.dynamodb.v20120810.AttributeValue");
  SERIALIZATION("{\"M\":[]}", "Unrecognized collection type java.util.Map<java.lang.String, "
                              "com.amazonaws.dynamodb.v20120810.AttributeValue>");
  SERIALIZATION("{\"M\":\"x\"}", "Unexpected field type");
  SERIALIZATION("{\"M\":{\"a\":\"x\"}}", "Unexpected value type in payload");
  SERIALIZATION("\"x\"", "Unexpected value type in payload");
  /* a serialization error anywhere wins over a validation error met first */
  SERIALIZATION("{\"M\":{\"a\":{\"NULL\":false},\"b\":{\"S\":1}}}",
                "NUMBER_VALUE cannot be converted to String");
  SERIALIZATION("{\"SS\":[],\"N\":5}", "NUMBER_VALUE cannot be converted to String");
  /* a member that is no type is not looked at */
  valid_as("{\"S\":\"a\",\"X\":{\"S\":1}}", "{\"S\":\"a\"}");
}

static char *deep(const char *wrap_open, const char *wrap_close, int wraps) {
  size_t lo = strlen(wrap_open), lc = strlen(wrap_close);
  char *s = malloc((lo + lc) * (size_t)wraps + 32), *p = s;
  for (int i = 0; i < wraps; i++) p += sprintf(p, "%s", wrap_open);
  p += sprintf(p, "{\"S\":\"leaf\"}");
  for (int i = 0; i < wraps; i++) p += sprintf(p, "%s", wrap_close);
  return s;
}

LL_TEST(value_validate_nesting) {
  /* the attribute is level 1: 31 wrapping maps (leaf at 32) pass, 32 do not */
  char *s = deep("{\"M\":{\"n\":", "}}", 31);
  CHECK_INTEQ(validate(s, NULL), 0);
  free(s);
  s = deep("{\"M\":{\"n\":", "}}", 32);
  CHECK_INTEQ(validate(s, NULL), LL_AV_EVALIDATION);
  CHECK_STREQ(why_buf, E_NEST);
  free(s);
  s = deep("{\"L\":[", "]}", 31);
  CHECK_INTEQ(validate(s, NULL), 0);
  free(s);
  s = deep("{\"L\":[", "]}", 32);
  CHECK_INTEQ(validate(s, NULL), LL_AV_EVALIDATION);
  CHECK_STREQ(why_buf, E_NEST);
  free(s);
}

LL_TEST(value_validate_item_names) {
  json_t *item = J("{\"a\":{\"N\":\"007\"},\"b\":{\"SS\":[\"x\"]}}");
  CHECK_INTEQ(ll_av_validate_item(item, why_buf, sizeof why_buf), 0);
  CHECK_STREQ(json_string_value(json_object_get(json_object_get(item, "a"), "N")), "7");
  json_decref(item);

  item = J("{\"\":{\"S\":\"a\"}}");
  CHECK_INTEQ(ll_av_validate_item(item, why_buf, sizeof why_buf), LL_AV_EVALIDATION);
  CHECK_STREQ(why_buf,
              "One or more parameter values were invalid: An attribute name cannot be empty");
  json_decref(item);

  char *name = repeat('n', 65535);
  item = json_object();
  json_object_set_new(item, name, J("{\"BOOL\":true}"));
  CHECK_INTEQ(ll_av_validate_item(item, why_buf, sizeof why_buf), 0);
  json_decref(item);
  free(name);
  name = repeat('n', 65536);
  item = json_object();
  json_object_set_new(item, name, J("{\"BOOL\":true}"));
  CHECK_INTEQ(ll_av_validate_item(item, why_buf, sizeof why_buf), LL_AV_EVALIDATION);
  CHECK(strstr(why_buf, "Attribute name is too large") != NULL);
  json_decref(item);
  free(name);

  /* every attribute's serialization checks come before any validation */
  item = J("{\"a\":{\"NULL\":false},\"b\":{\"B\":\"x\"}}");
  CHECK_INTEQ(ll_av_validate_item(item, why_buf, sizeof why_buf), LL_AV_ESERIALIZATION);
  CHECK_STREQ(why_buf, "Base64 encoded length is expected a multiple of 4 bytes but found: 1");
  json_decref(item);

  /* a small why buffer truncates, never overflows */
  char small[8];
  item = J("{\"a\":{}}");
  CHECK_INTEQ(ll_av_validate_item(item, small, sizeof small), LL_AV_EVALIDATION);
  CHECK_STREQ(small, "Supplie");
  json_decref(item);
}

static size_t size_of(const char *text) {
  json_t *item = J(text);
  CHECK_INTEQ(ll_av_validate_item(item, why_buf, sizeof why_buf), 0);
  size_t n = ll_av_item_size(item);
  json_decref(item);
  return n;
}

/* {"c": {"N": text}}: 1 + the number's size */
static size_t nsize(const char *text) {
  char buf[512];
  snprintf(buf, sizeof buf, "{\"c\":{\"N\":\"%s\"}}", text);
  return size_of(buf) - 1;
}

LL_TEST(value_item_size) {
  /* AWS "DynamoDB item sizes and formats": names + values */
  CHECK_INTEQ(size_of("{\"id\":{\"S\":\"abc\"}}"), 2 + 3);
  CHECK_INTEQ(size_of("{\"\\u00e9\":{\"S\":\"\\u65e5\\u672c\"}}"), 2 + 6); /* UTF-8 bytes */
  CHECK_INTEQ(size_of("{\"b\":{\"B\":\"AQI=\"}}"), 1 + 2);                 /* raw bytes */
  CHECK_INTEQ(size_of("{\"b\":{\"B\":\"\"}}"), 1);
  CHECK_INTEQ(size_of("{\"t\":{\"BOOL\":true},\"nul\":{\"NULL\":true}}"), 1 + 1 + 3 + 1);
  CHECK_INTEQ(size_of("{\"m\":{\"M\":{}}}"), 1 + 3);
  CHECK_INTEQ(size_of("{\"l\":{\"L\":[]}}"), 1 + 3);
  CHECK_INTEQ(size_of("{\"l\":{\"L\":[{\"S\":\"ab\"},{\"N\":\"1\"}]}}"), 1 + 3 + (1 + 2) + (1 + 2));
  CHECK_INTEQ(size_of("{\"m\":{\"M\":{\"k\":{\"S\":\"v\"}}}}"), 1 + 3 + (1 + 1 + 1));
  CHECK_INTEQ(size_of("{\"ss\":{\"SS\":[\"a\",\"bc\"]}}"), 2 + 3);
  CHECK_INTEQ(size_of("{\"bs\":{\"BS\":[\"AQI=\",\"AQ==\"]}}"), 2 + 3);
  CHECK_INTEQ(size_of("{\"ns\":{\"NS\":[\"1\",\"12.5\"]}}"), 2 + 2 + 3);
  CHECK_INTEQ(size_of("{\"a\":{\"S\":\"x\"},\"n\":{\"N\":\"123\"}}"), 2 + 4);
  /* numbers: 1 byte + base-100 digits (about 1 per 2 significant digits) + 1 when negative;
   * the cases of dynalite's size-boundary tests, which pass against DynamoDB */
  CHECK_INTEQ(nsize("0"), 1);
  CHECK_INTEQ(nsize("1"), 2);
  CHECK_INTEQ(nsize("-1"), 3);
  CHECK_INTEQ(nsize("12"), 2);
  CHECK_INTEQ(nsize("1.2"), 3);
  CHECK_INTEQ(nsize("123"), 3);
  CHECK_INTEQ(nsize("1.50"), 3); /* trailing zeros do not count: 1.5 */
  CHECK_INTEQ(nsize("1e125"), 2);
  CHECK_INTEQ(nsize("11e124"), 2);
  CHECK_INTEQ(nsize("11111e121"), 4);
  CHECK_INTEQ(nsize("111111e120"), 4);
  CHECK_INTEQ(nsize("1111111e119"), 5);
  CHECK_INTEQ(nsize("11111111111111111111111111111111111111e88"), 20);
  CHECK_INTEQ(nsize("-11111111111111111111111111111111111111e88"), 21);
  /* the 400 KB limit, as dynalite's boundary test: exactly LL_AV_ITEM_MAX passes */
  size_t fill = LL_AV_ITEM_MAX - (1 + 5) - 1;
  char *s = repeat('a', fill), *text = malloc(fill + 64);
  sprintf(text, "{\"a\":{\"S\":\"abcde\"},\"b\":{\"S\":\"%s\"}}", s);
  CHECK_INTEQ(size_of(text), LL_AV_ITEM_MAX);
  sprintf(text, "{\"a\":{\"S\":\"abcde\"},\"b\":{\"S\":\"%sa\"}}", s);
  CHECK(size_of(text) > LL_AV_ITEM_MAX);
  free(s);
  free(text);
}

static bool eq(const char *x, const char *y) {
  json_t *a = J(x), *b = J(y);
  bool r = ll_av_equal(a, b);
  CHECK(r == ll_av_equal(b, a));
  json_decref(a);
  json_decref(b);
  return r;
}

LL_TEST(value_equal) {
  CHECK(eq("{\"S\":\"a\"}", "{\"S\":\"a\"}"));
  CHECK(!eq("{\"S\":\"a\"}", "{\"S\":\"A\"}"));
  CHECK(!eq("{\"S\":\"1\"}", "{\"N\":\"1\"}"));
  CHECK(eq("{\"N\":\"1\"}", "{\"N\":\"1.0\"}")); /* by value, even before normalization */
  CHECK(eq("{\"N\":\"-0\"}", "{\"N\":\"0\"}"));
  CHECK(!eq("{\"N\":\"1\"}", "{\"N\":\"-1\"}"));
  CHECK(eq("{\"B\":\"AQI=\"}", "{\"B\":\"AQI=\"}"));
  CHECK(!eq("{\"B\":\"AQI=\"}", "{\"B\":\"AQM=\"}"));
  CHECK(eq("{\"BOOL\":true}", "{\"BOOL\":true}"));
  CHECK(!eq("{\"BOOL\":true}", "{\"BOOL\":false}"));
  CHECK(eq("{\"NULL\":true}", "{\"NULL\":true}"));
  CHECK(!eq("{\"NULL\":true}", "{\"BOOL\":true}"));
  /* sets as sets */
  CHECK(eq("{\"SS\":[\"a\",\"b\",\"c\"]}", "{\"SS\":[\"c\",\"a\",\"b\"]}"));
  CHECK(!eq("{\"SS\":[\"a\",\"b\"]}", "{\"SS\":[\"a\",\"b\",\"c\"]}"));
  CHECK(!eq("{\"SS\":[\"a\",\"b\"]}", "{\"SS\":[\"a\",\"c\"]}"));
  CHECK(eq("{\"NS\":[\"1\",\"2.50\",\"-3\"]}", "{\"NS\":[\"-3e0\",\"1\",\"2.5\"]}"));
  CHECK(eq("{\"BS\":[\"AQ==\",\"Ag==\"]}", "{\"BS\":[\"Ag==\",\"AQ==\"]}"));
  CHECK(!eq("{\"SS\":[\"1\"]}", "{\"NS\":[\"1\"]}"));
  /* L in order, M by names */
  CHECK(eq("{\"L\":[{\"S\":\"a\"},{\"N\":\"1\"}]}", "{\"L\":[{\"S\":\"a\"},{\"N\":\"1.0\"}]}"));
  CHECK(!eq("{\"L\":[{\"S\":\"a\"},{\"N\":\"1\"}]}", "{\"L\":[{\"N\":\"1\"},{\"S\":\"a\"}]}"));
  CHECK(!eq("{\"L\":[{\"S\":\"a\"}]}", "{\"L\":[{\"S\":\"a\"},{\"S\":\"a\"}]}"));
  CHECK(eq("{\"M\":{\"x\":{\"S\":\"1\"},\"y\":{\"SS\":[\"p\",\"q\"]}}}",
           "{\"M\":{\"y\":{\"SS\":[\"q\",\"p\"]},\"x\":{\"S\":\"1\"}}}"));
  CHECK(
      !eq("{\"M\":{\"x\":{\"S\":\"1\"}}}", "{\"M\":{\"x\":{\"S\":\"1\"},\"y\":{\"NULL\":true}}}"));
  CHECK(!eq("{\"M\":{\"x\":{\"S\":\"1\"}}}", "{\"M\":{\"z\":{\"S\":\"1\"}}}"));
  CHECK(eq("{\"M\":{}}", "{\"M\":{}}"));
  CHECK(!eq("{\"M\":{}}", "{\"L\":[]}"));
}

static int compare(const char *x, const char *y, int *c) {
  json_t *a = J(x), *b = J(y);
  int rc = ll_av_compare(a, b, c);
  json_decref(a);
  json_decref(b);
  return rc;
}

LL_TEST(value_compare_scalars) {
  int c;
  CHECK(compare("{\"S\":\"a\"}", "{\"S\":\"b\"}", &c) == 0 && c < 0);
  CHECK(compare("{\"S\":\"a\"}", "{\"S\":\"aa\"}", &c) == 0 && c < 0);
  CHECK(compare("{\"S\":\"Z\"}", "{\"S\":\"a\"}", &c) == 0 && c < 0);
  CHECK(compare("{\"S\":\"\\u00e9\"}", "{\"S\":\"z\"}", &c) == 0 && c > 0); /* UTF-8 bytes */
  CHECK(compare("{\"S\":\"\"}", "{\"S\":\"\"}", &c) == 0 && c == 0);
  CHECK(compare("{\"N\":\"10\"}", "{\"N\":\"9\"}", &c) == 0 && c > 0);
  CHECK(compare("{\"N\":\"-10\"}", "{\"N\":\"-9\"}", &c) == 0 && c < 0);
  CHECK(compare("{\"N\":\"1.0\"}", "{\"N\":\"1\"}", &c) == 0 && c == 0);
  CHECK(compare("{\"B\":\"/w==\"}", "{\"B\":\"AA==\"}", &c) == 0 && c > 0); /* unsigned */
  CHECK(compare("{\"B\":\"AA==\"}", "{\"B\":\"AAA=\"}", &c) == 0 && c < 0);
  CHECK(compare("{\"S\":\"1\"}", "{\"N\":\"1\"}", &c) == -1);
  CHECK(compare("{\"BOOL\":true}", "{\"BOOL\":true}", &c) == -1);
  CHECK(compare("{\"SS\":[\"a\"]}", "{\"SS\":[\"a\"]}", &c) == -1);
}

LL_TEST(value_key_bytes) {
  uint8_t *k = NULL;
  json_t *v = J("{\"S\":\"ab\"}");
  CHECK_INTEQ(ll_av_key_bytes(v, &k), 2);
  CHECK(memcmp(k, "ab", 2) == 0);
  free(k);
  json_decref(v);
  v = J("{\"S\":\"\"}");
  CHECK_INTEQ(ll_av_key_bytes(v, &k), 0);
  CHECK(k != NULL);
  free(k);
  json_decref(v);
  v = J("{\"B\":\"AP8=\"}");
  CHECK_INTEQ(ll_av_key_bytes(v, &k), 2);
  CHECK(k[0] == 0x00 && k[1] == 0xFF);
  free(k);
  json_decref(v);
  v = J("{\"N\":\"1.0\"}");
  uint8_t want[LL_NUM_KEY_MAX];
  ll_num_t one = num("1");
  size_t wlen = ll_num_key(&one, want);
  CHECK_INTEQ(ll_av_key_bytes(v, &k), wlen);
  CHECK(memcmp(k, want, wlen) == 0);
  free(k);
  json_decref(v);
  v = J("{\"BOOL\":true}");
  CHECK_INTEQ(ll_av_key_bytes(v, &k), 0);
  CHECK(k == NULL);
  json_decref(v);

  /* the keys of each type order as ll_av_compare, by memcmp then length */
  static const char *const lists[][8] = {
      {"{\"S\":\"\"}", "{\"S\":\"A\"}", "{\"S\":\"a\"}", "{\"S\":\"a\\u0001\"}", "{\"S\":\"ab\"}",
       "{\"S\":\"b\"}", "{\"S\":\"\\u00e9\"}", "{\"S\":\"\\u65e5\"}"},
      {"{\"B\":\"\"}", "{\"B\":\"AA==\"}", "{\"B\":\"AAA=\"}", "{\"B\":\"AAE=\"}",
       "{\"B\":\"AQ==\"}", "{\"B\":\"fw==\"}", "{\"B\":\"gA==\"}", "{\"B\":\"/w==\"}"},
      {"{\"N\":\"-100\"}", "{\"N\":\"-10.5\"}", "{\"N\":\"-10\"}", "{\"N\":\"-0.001\"}",
       "{\"N\":\"0\"}", "{\"N\":\"0.001\"}", "{\"N\":\"10\"}", "{\"N\":\"10.5\"}"},
  };
  for (size_t l = 0; l < 3; l++) {
    for (size_t i = 0; i < 8; i++) {
      for (size_t j = 0; j < 8; j++) {
        json_t *a = J(lists[l][i]), *b = J(lists[l][j]);
        uint8_t *ka, *kb;
        size_t la = ll_av_key_bytes(a, &ka), lb = ll_av_key_bytes(b, &kb);
        int c = 2, order = i < j ? -1 : i > j ? 1 : 0;
        CHECK(ll_av_compare(a, b, &c) == 0);
        CHECK_INTEQ(sgn(c), order);
        CHECK_INTEQ(blob_cmp(ka, la, kb, lb), order);
        free(ka);
        free(kb);
        json_decref(a);
        json_decref(b);
      }
    }
  }
}

LL_TEST(value_type_names) {
  const char *names[] = {"S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"};
  for (int t = LL_AV_S; t <= LL_AV_BS; t++)
    CHECK_STREQ(ll_av_type_name((ll_av_type_t)t), names[t - 1]);
  json_t *v = J("{\"SS\":[\"a\"]}");
  CHECK(ll_av_type(v) == LL_AV_SS);
  json_decref(v);
  v = J("{\"S\":\"a\",\"N\":\"1\"}");
  CHECK(ll_av_type(v) == LL_AV_INVALID);
  json_decref(v);
  v = J("[]");
  CHECK(ll_av_type(v) == LL_AV_INVALID);
  json_decref(v);
  v = J("{\"s\":\"a\"}");
  CHECK(ll_av_type(v) == LL_AV_INVALID);
  json_decref(v);
}

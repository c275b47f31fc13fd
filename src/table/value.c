/* DynamoDB's numbers and AttributeValues (value.h has the contracts).
 *
 * Where the behaviour comes from (DynamoDB itself has no public source):
 *  - Number syntax, range, precision and texts: AWS "Supported data types and naming rules"
 *    (38 digits, 1E-130 .. 9.9999999999999999999999999999999999999E+125, "leading and trailing
 *    zeroes are trimmed"); dynalite's test suite (architect/dynalite test/putItem.js, written
 *    against the real service) for the messages and the stored forms; ScyllaDB Alternator's
 *    test/alternator/test_number.py (run against DynamoDB) for "+3", ".123", "0001.23", "1e+5",
 *    "0e1000" accepted and "NaN", "Infinity", " 1", "1 " refused, and for the "Number overflow"
 *    text DynamoDB gives when a sum needs more than 38 digits.
 *  - The text DynamoDB answers with: always plain notation. boto3 issue #2500 (1e100 comes back
 *    as 1 followed by 100 zeros), boto3 #4636 (1.00000000000000007629769841092E+50 comes back as
 *    51 plain digits), dynalite's putItem test (9.99..e125 -> 38 nines + 88 zeros, 1e-130 ->
 *    "0." + 129 zeros + "1", "-0015.789e6" -> "-15789000"), ExtendDB PR #7 verified against
 *    DynamoDB ("00042" -> "42", "-0" -> "0", "1.5E2" -> "150", "1.0" -> "1"). That is Java's
 *    BigDecimal.stripTrailingZeros().toPlainString(), with 0 as "0".
 *  - AttributeValue messages: dynalite validations/index.js and test/helpers.js (the
 *    SerializationException texts of the current service: "NUMBER_VALUE cannot be converted to
 *    String", "Unexpected field type", "Base64 encoded length is expected a multiple of 4 bytes
 *    but found: 5", "Invalid last non-pad Base64 character dectected" (sic), ...); the nesting
 *    limit and its message from a conformance suite captured against DynamoDB (31 wrapping
 *    maps accepted, 32 refused).
 *  - Item size: AWS "DynamoDB item sizes and formats" (CapacityUnitCalculations), with dynalite's
 *    exact number formula (its boundary tests pass against DynamoDB byte for byte): a number is
 *    stored like Oracle's NUMBER, an exponent byte, base-100 digits, and a terminator byte for
 *    negatives.
 *
 * Representation: value = (neg ? -1 : 1) * 0.d[0]d[1]...d[n-1] * 10^exp, d ASCII digits, no
 * leading or trailing zeros, so the digit d[i] sits at the decimal place 10^(exp-1-i). The
 * range is then exactly EXP_MIN <= exp <= EXP_MAX (1E-130 = 0.1 * 10^-129; anything below
 * 1E+126 = 0.1 * 10^127 with at most 38 digits). */
#include "table/value.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/encoding.h"
#include "core/mem.h"

#define EXP_MIN (-129)
#define EXP_MAX 126
#define MAX_LEVELS 32

static const char E_OVERFLOW[] =
    "Number overflow. Attempting to store a number with magnitude larger than supported range";
static const char E_UNDERFLOW[] =
    "Number underflow. Attempting to store a number with magnitude smaller than supported range";
static const char E_DIGITS[] = "Attempting to store more than 38 significant digits in a Number";
static const char E_NAN[] = "The parameter cannot be converted to a numeric value";

/* ---- numbers ------------------------------------------------------------------------------- */

static void num_check(const ll_num_t *a) {
  ll_assert(a->n <= LL_NUM_DIGITS);
  ll_assert(a->n == 0 || (a->exp >= EXP_MIN && a->exp <= EXP_MAX));
}

int ll_num_parse(const char *s, size_t len, ll_num_t *out, const char **why) {
  memset(out, 0, sizeof *out);
  size_t i = 0;
  bool neg = false;
  if (i < len && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  /* Mantissa digits are counted by index; first/last are the indexes of the first and last
   * non-zero digit. Digits from the first non-zero one on go into out->d while they fit: when
   * the number turns out to have at most 38 significant digits they are all there. */
  int64_t ndig = 0, point = -1, first = -1, last = -1;
  for (; i < len; i++) {
    char c = s[i];
    if (c >= '0' && c <= '9') {
      if (c != '0') {
        if (first < 0) first = ndig;
        last = ndig;
      }
      if (first >= 0 && ndig - first < LL_NUM_DIGITS) out->d[ndig - first] = c;
      ndig++;
    } else if (c == '.' && point < 0) {
      point = ndig;
    } else {
      break;
    }
  }
  if (ndig == 0) goto nan;
  if (point < 0) point = ndig;
  int64_t e = 0;
  if (i < len && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    bool eneg = false;
    if (i < len && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
    size_t start = i;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
      e = e * 10 + (s[i] - '0');
      if (e > INT32_MAX) goto nan; /* BigDecimal refuses exponents beyond an int */
    }
    if (i == start) goto nan;
    if (eneg) e = -e;
  }
  if (i != len) goto nan;
  if (first < 0) { /* zero, whatever its sign and exponent */
    memset(out, 0, sizeof *out);
    return 0;
  }
  int64_t exp = point - first + e, sig = last - first + 1;
  if (exp > EXP_MAX) {
    *why = E_OVERFLOW;
  } else if (exp < EXP_MIN) {
    *why = E_UNDERFLOW;
  } else if (sig > LL_NUM_DIGITS) {
    *why = E_DIGITS;
  } else {
    out->neg = neg;
    out->exp = (int32_t)exp;
    out->n = (uint8_t)sig;
    return 0;
  }
  memset(out, 0, sizeof *out);
  return -1;
nan:
  memset(out, 0, sizeof *out);
  *why = E_NAN;
  return -1;
}

static int sign_of(const ll_num_t *a) { return a->n == 0 ? 0 : a->neg ? -1 : 1; }

static int cmp_mag(const ll_num_t *a, const ll_num_t *b) {
  if (a->exp != b->exp) return a->exp < b->exp ? -1 : 1;
  int c = memcmp(a->d, b->d, a->n < b->n ? a->n : b->n);
  if (c) return c < 0 ? -1 : 1;
  return a->n < b->n ? -1 : a->n > b->n;
}

int ll_num_cmp(const ll_num_t *a, const ll_num_t *b) {
  int sa = sign_of(a), sb = sign_of(b);
  if (sa != sb) return sa < sb ? -1 : 1;
  if (sa == 0) return 0;
  int c = cmp_mag(a, b);
  return sa < 0 ? -c : c;
}

/* Decimal places a sum can touch: from the lowest digit of a 38-digit number at exp EXP_MIN
 * (10^(EXP_MIN-38)) to one above the highest (10^EXP_MAX, the carry). */
#define SPAN (EXP_MAX - (EXP_MIN - LL_NUM_DIGITS) + 1)

/* out = a + (bneg ? -|b| : |b|), exactly. */
static int add_signed(const ll_num_t *a, const ll_num_t *b, bool bneg, ll_num_t *out,
                      const char **why) {
  num_check(a);
  num_check(b);
  if (b->n == 0) {
    *out = *a;
    return 0;
  }
  if (a->n == 0) {
    *out = *b;
    out->neg = bneg;
    return 0;
  }
  int lo = a->exp - a->n < b->exp - b->n ? a->exp - a->n : b->exp - b->n; /* lowest place */
  int8_t da[SPAN] = {0}, db[SPAN] = {0}, r[SPAN] = {0};                   /* index: place - lo */
  for (int i = 0; i < a->n; i++) da[a->exp - 1 - i - lo] = (int8_t)(a->d[i] - '0');
  for (int i = 0; i < b->n; i++) db[b->exp - 1 - i - lo] = (int8_t)(b->d[i] - '0');
  int top = (a->exp > b->exp ? a->exp : b->exp) - lo; /* r[top] takes the carry */
  ll_assert(top < SPAN);
  bool neg;
  if (a->neg == bneg) {
    int carry = 0;
    for (int i = 0; i <= top; i++) {
      int s = da[i] + db[i] + carry;
      r[i] = (int8_t)(s % 10);
      carry = s / 10;
    }
    neg = a->neg;
  } else {
    int c = cmp_mag(a, b);
    if (c == 0) {
      memset(out, 0, sizeof *out);
      return 0;
    }
    const int8_t *big = c > 0 ? da : db, *small = c > 0 ? db : da;
    int borrow = 0;
    for (int i = 0; i <= top; i++) {
      int s = big[i] - small[i] - borrow;
      borrow = s < 0;
      r[i] = (int8_t)(s < 0 ? s + 10 : s);
    }
    neg = c > 0 ? a->neg : bneg;
  }
  int hi = top, low = 0;
  while (r[hi] == 0) hi--; /* not zero: equal magnitudes of opposite signs returned above */
  while (r[low] == 0) low++;
  int exp = hi + lo + 1, n = hi - low + 1;
  if (exp > EXP_MAX || n > LL_NUM_DIGITS) { /* DynamoDB's word for lost precision too */
    *why = E_OVERFLOW;
    return -1;
  }
  if (exp < EXP_MIN) {
    *why = E_UNDERFLOW;
    return -1;
  }
  ll_num_t z = {.neg = neg, .exp = exp, .n = (uint8_t)n};
  for (int i = 0; i < n; i++) z.d[i] = (char)('0' + r[hi - i]);
  *out = z;
  return 0;
}

int ll_num_add(const ll_num_t *a, const ll_num_t *b, ll_num_t *out, const char **why) {
  return add_signed(a, b, b->neg, out, why);
}

int ll_num_sub(const ll_num_t *a, const ll_num_t *b, ll_num_t *out, const char **why) {
  return add_signed(a, b, !b->neg, out, why);
}

/* Plain notation: 0.000ddd for exp <= 0, ddd000 for exp >= n, dd.ddd between. */
void ll_num_format(const ll_num_t *a, char out[LL_NUM_TEXT_MAX]) {
  num_check(a);
  char *p = out;
  if (a->n == 0) {
    strcpy(out, "0");
    return;
  }
  if (a->neg) *p++ = '-';
  if (a->exp <= 0) {
    *p++ = '0';
    *p++ = '.';
    for (int i = 0; i < -a->exp; i++) *p++ = '0';
    memcpy(p, a->d, a->n);
    p += a->n;
  } else if (a->exp >= a->n) {
    memcpy(p, a->d, a->n);
    p += a->n;
    for (int i = a->n; i < a->exp; i++) *p++ = '0';
  } else {
    memcpy(p, a->d, (size_t)a->exp);
    p += a->exp;
    *p++ = '.';
    memcpy(p, a->d + a->exp, (size_t)(a->n - a->exp));
    p += a->n - a->exp;
  }
  *p = 0;
}

/* Key layout:
 *   zero      0x02
 *   positive  0x03, exp - EXP_MIN (0..255), digit pairs as 1 + 10*d1 + d2 (1..100)
 *   negative  0x01, 255 - (exp - EXP_MIN), pairs as 101 - (1 + 10*d1 + d2) (100..1), 0xFF
 * An odd last digit is paired with 0: unambiguous since the digits never end in 0. For
 * positives a longer digit string with the same beginning is the larger number and sorts after
 * its prefix, as memcmp-then-length does. For negatives it is the smaller one, so their keys end
 * with 0xFF, above every inverted pair: the shorter key then sorts after. */
size_t ll_num_key(const ll_num_t *a, uint8_t out[LL_NUM_KEY_MAX]) {
  num_check(a);
  if (a->n == 0) {
    out[0] = 0x02;
    return 1;
  }
  size_t k = 0;
  int bexp = a->exp - EXP_MIN;
  out[k++] = a->neg ? 0x01 : 0x03;
  out[k++] = (uint8_t)(a->neg ? 255 - bexp : bexp);
  for (int i = 0; i < a->n; i += 2) {
    int pair = 1 + 10 * (a->d[i] - '0') + (i + 1 < a->n ? a->d[i + 1] - '0' : 0);
    out[k++] = (uint8_t)(a->neg ? 101 - pair : pair);
  }
  if (a->neg) out[k++] = 0xFF;
  return k;
}

/* ---- AttributeValues: types ---------------------------------------------------------------- */

static const char *const type_names[] = {
    [LL_AV_S] = "S",       [LL_AV_N] = "N",   [LL_AV_B] = "B", [LL_AV_BOOL] = "BOOL",
    [LL_AV_NULL] = "NULL", [LL_AV_M] = "M",   [LL_AV_L] = "L", [LL_AV_SS] = "SS",
    [LL_AV_NS] = "NS",     [LL_AV_BS] = "BS",
};
#define NTYPES ((int)(sizeof type_names / sizeof type_names[0]))

static ll_av_type_t type_by_name(const char *k) {
  for (int t = 1; t < NTYPES; t++)
    if (strcmp(k, type_names[t]) == 0) return (ll_av_type_t)t;
  return LL_AV_INVALID;
}

ll_av_type_t ll_av_type(const json_t *v) {
  if (!json_is_object(v) || json_object_size(v) != 1) return LL_AV_INVALID;
  return type_by_name(json_object_iter_key(json_object_iter((json_t *)v)));
}

const char *ll_av_type_name(ll_av_type_t t) {
  return t > LL_AV_INVALID && (int)t < NTYPES ? type_names[t] : "?";
}

/* The value of v's single member (v of type t). */
static json_t *member(const json_t *v, ll_av_type_t t) { return json_object_get(v, type_names[t]); }

/* ---- validation, pass 1: the shapes DynamoDB's deserializer refuses (SerializationException) */

static int fail(int code, char *why, size_t sz, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(int code, char *why, size_t sz, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (sz) vsnprintf(why, sz, fmt, ap);
  va_end(ap);
  return code;
}
#define SER(...) fail(LL_AV_ESERIALIZATION, why, sz, __VA_ARGS__)
#define VAL(...) fail(LL_AV_EVALIDATION, why, sz, __VA_ARGS__)

static const char E_MAP_HERE[] = "Start of structure or map found where not expected";

/* A JSON scalar's name in the deserializer's messages. */
static const char *token_name(const json_t *x) {
  return json_is_true(x)      ? "TRUE_VALUE"
         : json_is_false(x)   ? "FALSE_VALUE"
         : json_is_integer(x) ? "NUMBER_VALUE"
                              : "DECIMAL_VALUE";
}

/* Canonical base64 of len bytes at s (padding required, zero pad bits: DynamoDB refuses "+/+=").
 * Decoded into *out (heap, caller frees) when out is not NULL. */
static bool b64_canonical(const char *s, size_t len, uint8_t **out, size_t *out_len) {
  size_t n = 0;
  uint8_t *buf = ll_base64_decode(s, len, &n);
  if (!buf) return false;
  char *again = ll_malloc(len + 1);
  bool ok = ll_base64_encode_to(again, buf, n) == len && memcmp(again, s, len) == 0;
  free(again);
  if (ok && out) {
    *out = buf;
    *out_len = n;
  } else {
    free(buf);
  }
  return ok;
}

static int shape_string(const json_t *x, char *why, size_t sz) {
  if (json_is_string(x)) return 0;
  if (json_is_array(x)) return SER("Unrecognized collection type class java.lang.String");
  if (json_is_object(x)) return SER("%s", E_MAP_HERE);
  if (json_is_null(x)) return SER("Unexpected value type in payload");
  return SER("%s cannot be converted to String", token_name(x));
}

static int shape_blob(const json_t *x, char *why, size_t sz) {
  if (json_is_array(x)) return SER("Unrecognized collection type class java.nio.ByteBuffer");
  if (json_is_object(x)) return SER("%s", E_MAP_HERE);
  if (json_is_null(x)) return SER("Unexpected value type in payload");
  if (!json_is_string(x)) return SER("only base-64-encoded strings are convertible to bytes");
  size_t len = json_string_length(x);
  if (len % 4)
    return SER("Base64 encoded length is expected a multiple of 4 bytes but found: %zu", len);
  if (!b64_canonical(json_string_value(x), len, NULL, NULL))
    return SER("Invalid last non-pad Base64 character dectected");
  return 0;
}

static int shape_bool(const json_t *x, char *why, size_t sz) {
  if (json_is_boolean(x)) return 0;
  if (json_is_string(x)) return SER("Unexpected token received from parser");
  if (json_is_array(x)) return SER("Unrecognized collection type class java.lang.Boolean");
  if (json_is_object(x)) return SER("%s", E_MAP_HERE);
  return SER("%s cannot be converted to Boolean", token_name(x));
}

static int shape_value(const json_t *v, char *why, size_t sz);

static int shape_list(const json_t *x, int (*each)(const json_t *, char *, size_t), char *why,
                      size_t sz) {
  if (json_is_object(x)) return SER("%s", E_MAP_HERE);
  if (!json_is_array(x)) return SER("Unexpected field type");
  size_t i;
  json_t *e;
  json_array_foreach(x, i, e) {
    int rc = each(e, why, sz);
    if (rc) return rc;
  }
  return 0;
}

/* An AttributeValue where one is expected (an item's attribute, an L element, an M member).
 * JSON null there counts as an empty AttributeValue (pass 2 says so). */
static int shape_value(const json_t *v, char *why, size_t sz) {
  if (json_is_null(v)) return 0;
  if (json_is_array(v))
    return SER(
        "Unrecognized collection type class com.amazonaws.dynamodb.v20120810.AttributeValue");
  if (!json_is_object(v)) return SER("Unexpected value type in payload");
  const char *k;
  json_t *x;
  json_object_foreach((json_t *)v, k, x) {
    if (json_is_null(x)) continue;
    int rc = 0;
    switch (type_by_name(k)) {
    case LL_AV_S:
    case LL_AV_N: rc = shape_string(x, why, sz); break;
    case LL_AV_B: rc = shape_blob(x, why, sz); break;
    case LL_AV_BOOL:
    case LL_AV_NULL: rc = shape_bool(x, why, sz); break;
    case LL_AV_SS:
    case LL_AV_NS: rc = shape_list(x, shape_string, why, sz); break;
    case LL_AV_BS: rc = shape_list(x, shape_blob, why, sz); break;
    case LL_AV_L: rc = shape_list(x, shape_value, why, sz); break;
    case LL_AV_M:
      if (json_is_array(x)) {
        rc = SER("Unrecognized collection type java.util.Map<java.lang.String, "
                 "com.amazonaws.dynamodb.v20120810.AttributeValue>");
      } else if (!json_is_object(x)) {
        rc = SER("Unexpected field type");
      } else {
        const char *mk;
        json_t *mv;
        json_object_foreach(x, mk, mv) {
          if ((rc = shape_value(mv, why, sz))) break;
        }
      }
      break;
    case LL_AV_INVALID: break; /* ignored, dropped in pass 2 */
    }
    if (rc) return rc;
  }
  return 0;
}

/* ---- validation, pass 2: DynamoDB's rules (ValidationException) ---------------------------- */

/* Normalizes the number text x in place. */
static int norm_number(json_t *x, char *why, size_t sz) {
  ll_num_t n;
  const char *err;
  size_t len = json_string_length(x);
  if (ll_num_parse(json_string_value(x), len, &n, &err) < 0) {
    if (err == E_NAN && len) return VAL("%s: %s", err, json_string_value(x));
    return VAL("%s", err);
  }
  char text[LL_NUM_TEXT_MAX];
  ll_num_format(&n, text);
  json_string_set(x, text);
  return 0;
}

typedef struct {
  const char *p;
  size_t len;
} span_t;

static int span_cmp(const void *a, const void *b) {
  const span_t *x = a, *y = b;
  int c = memcmp(x->p, y->p, x->len < y->len ? x->len : y->len);
  return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Whether the array of strings has two equal ones (byte for byte: members are normalized). */
static bool has_duplicates(const json_t *arr) {
  size_t n = json_array_size(arr);
  if (n < 2) return false;
  span_t *v = ll_malloc(n * sizeof *v);
  for (size_t i = 0; i < n; i++) {
    json_t *e = json_array_get(arr, i);
    v[i] = (span_t){json_string_value(e), json_string_length(e)};
  }
  qsort(v, n, sizeof *v, span_cmp);
  bool dup = false;
  for (size_t i = 1; i < n && !dup; i++) dup = span_cmp(&v[i - 1], &v[i]) == 0;
  free(v);
  return dup;
}

/* "[a, b, c]" into out (truncated to sz): DynamoDB lists the whole collection. */
static void list_text(const json_t *arr, char *out, size_t sz) {
  size_t k = (size_t)snprintf(out, sz, "[");
  for (size_t i = 0; i < json_array_size(arr) && k < sz; i++)
    k += (size_t)snprintf(out + k, sz - k, "%s%s", i ? ", " : "",
                          json_string_value(json_array_get(arr, i)));
  if (k < sz) snprintf(out + k, sz - k, "]");
}

static int rules_value(json_t *v, int level, char *why, size_t sz);

static const char E_INVALID[] = "One or more parameter values were invalid: ";

static int rules_set(ll_av_type_t t, json_t *arr, char *why, size_t sz) {
  if (json_array_size(arr) == 0) {
    return VAL("%s%s", E_INVALID,
               t == LL_AV_SS   ? "An string set  may not be empty"
               : t == LL_AV_NS ? "An number set  may not be empty"
                               : "Binary sets should not be empty");
  }
  if (t == LL_AV_NS) {
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
      int rc = norm_number(e, why, sz);
      if (rc) return rc;
    }
  }
  if (!has_duplicates(arr)) return 0;
  if (t == LL_AV_NS) return VAL("Input collection contains duplicates");
  char list[512];
  list_text(arr, list, sizeof list);
  if (t == LL_AV_SS) return VAL("%sInput collection %s contains duplicates.", E_INVALID, list);
  return VAL("%sInput collection %sof type BS contains duplicates.", E_INVALID, list);
}

static int rules_value(json_t *v, int level, char *why, size_t sz) {
  static const char E_EMPTY[] =
      "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes";
  if (level > MAX_LEVELS)
    return VAL("Nesting Levels have exceeded supported limits: Attributes in the item have "
               "nested levels beyond supported limit");
  if (!json_is_object(v)) return VAL("%s", E_EMPTY); /* null: shape_value let nothing else by */
  const char *k;
  json_t *x;
  void *tmp;
  json_object_foreach_safe(v, tmp, k, x) {
    if (type_by_name(k) == LL_AV_INVALID || json_is_null(x)) json_object_del(v, k);
  }
  size_t ntypes = json_object_size(v);
  if (ntypes == 0) return VAL("%s", E_EMPTY);
  json_object_foreach(v, k, x) {
    ll_av_type_t t = type_by_name(k);
    int rc = 0;
    switch (t) {
    case LL_AV_N: rc = norm_number(x, why, sz); break;
    case LL_AV_NULL:
      if (!json_is_true(x))
        rc = VAL("%sNull attribute value types must have the value of true", E_INVALID);
      break;
    case LL_AV_SS:
    case LL_AV_NS:
    case LL_AV_BS: rc = rules_set(t, x, why, sz); break;
    case LL_AV_L: {
      size_t i;
      json_t *e;
      json_array_foreach(x, i, e) {
        if ((rc = rules_value(e, level + 1, why, sz))) break;
      }
      break;
    }
    case LL_AV_M: {
      const char *mk;
      json_t *mv;
      json_object_foreach(x, mk, mv) {
        if ((rc = rules_value(mv, level + 1, why, sz))) break;
      }
      break;
    }
    default: break;
    }
    if (rc) return rc;
  }
  if (ntypes > 1)
    return VAL("Supplied AttributeValue has more than one datatypes set, must contain exactly "
               "one of the supported datatypes");
  return 0;
}

int ll_av_validate(json_t *v, char *why, size_t sz) {
  int rc = shape_value(v, why, sz);
  return rc ? rc : rules_value(v, 1, why, sz);
}

int ll_av_validate_item(json_t *item, char *why, size_t sz) {
  if (!json_is_object(item)) return SER("Unexpected field type");
  const char *k;
  json_t *v;
  json_object_foreach(item, k, v) {
    int rc = shape_value(v, why, sz);
    if (rc) return rc;
  }
  json_object_foreach(item, k, v) {
    size_t klen = strlen(k);
    if (klen == 0) return VAL("%sAn attribute name cannot be empty", E_INVALID);
    if (klen > 65535)
      return VAL("%sAttribute name is too large, must be less than 65536 bytes", E_INVALID);
    int rc = rules_value(v, 1, why, sz);
    if (rc) return rc;
  }
  return 0;
}

/* ---- sizes --------------------------------------------------------------------------------- */

static int64_t floor_div2(int64_t x) { return x >= 0 ? x / 2 : -((-x + 1) / 2); }

static size_t num_size(const json_t *x) {
  ll_num_t n;
  const char *err;
  if (ll_num_parse(json_string_value(x), json_string_length(x), &n, &err) < 0) return 0;
  if (n.n == 0) return 1;
  /* Digits at the places 10^(exp-1) .. 10^(exp-n): how many base-100 digits they touch. */
  int64_t hi = n.exp - 1, lo = n.exp - n.n;
  return (size_t)(1 + (floor_div2(hi) - floor_div2(lo) + 1) + (n.neg ? 1 : 0));
}

static size_t blob_size(const json_t *x) {
  size_t len = json_string_length(x);
  const char *s = json_string_value(x);
  if (!s || len % 4) return 0;
  return len / 4 * 3 - (len && s[len - 1] == '=') - (len > 1 && s[len - 2] == '=');
}

static size_t value_size(const json_t *v) {
  ll_av_type_t t = ll_av_type(v);
  json_t *x = t == LL_AV_INVALID ? NULL : member(v, t), *e;
  size_t sum = 0, i;
  const char *k;
  switch (t) {
  case LL_AV_S: return json_string_length(x);
  case LL_AV_N: return json_is_string(x) ? num_size(x) : 0;
  case LL_AV_B: return blob_size(x);
  case LL_AV_BOOL:
  case LL_AV_NULL: return 1;
  case LL_AV_SS: json_array_foreach(x, i, e) sum += json_string_length(e); return sum;
  case LL_AV_NS: json_array_foreach(x, i, e) sum += json_is_string(e) ? num_size(e) : 0; return sum;
  case LL_AV_BS: json_array_foreach(x, i, e) sum += blob_size(e); return sum;
  case LL_AV_L: json_array_foreach(x, i, e) sum += 1 + value_size(e); return 3 + sum;
  case LL_AV_M: json_object_foreach(x, k, e) sum += 1 + strlen(k) + value_size(e); return 3 + sum;
  case LL_AV_INVALID: break;
  }
  return 0;
}

size_t ll_av_item_size(const json_t *item) {
  size_t sum = 0;
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)item, k, v) sum += strlen(k) + value_size(v);
  return sum;
}

/* ---- equality, order, keys ----------------------------------------------------------------- */

/* The order-preserving bytes of a scalar member x of type t (S, N or B) into *out (heap);
 * false when x is not a valid one. */
static bool scalar_key(ll_av_type_t t, const json_t *x, uint8_t **out, size_t *len) {
  *out = NULL;
  *len = 0;
  if (!json_is_string(x)) return false;
  const char *s = json_string_value(x);
  size_t n = json_string_length(x);
  if (t == LL_AV_S) {
    *out = ll_malloc(n ? n : 1);
    memcpy(*out, s, n);
    *len = n;
    return true;
  }
  if (t == LL_AV_B) return b64_canonical(s, n, out, len);
  if (t == LL_AV_N) {
    ll_num_t num;
    const char *err;
    if (ll_num_parse(s, n, &num, &err) < 0) return false;
    *out = ll_malloc(LL_NUM_KEY_MAX);
    *len = ll_num_key(&num, *out);
    return true;
  }
  return false;
}

size_t ll_av_key_bytes(const json_t *v, uint8_t **out) {
  ll_av_type_t t = ll_av_type(v);
  size_t len = 0;
  *out = NULL;
  if (t != LL_AV_S && t != LL_AV_N && t != LL_AV_B) return 0;
  scalar_key(t, member(v, t), out, &len);
  return len;
}

static int bytes_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
  int c = memcmp(a, b, alen < blen ? alen : blen);
  if (c) return c < 0 ? -1 : 1;
  return (alen > blen) - (alen < blen);
}

int ll_av_compare(const json_t *a, const json_t *b, int *cmp) {
  ll_av_type_t t = ll_av_type(a);
  if (t != ll_av_type(b) || (t != LL_AV_S && t != LL_AV_N && t != LL_AV_B)) return -1;
  uint8_t *ka, *kb;
  size_t la, lb;
  bool oka = scalar_key(t, member(a, t), &ka, &la); /* both: each allocates */
  bool okb = scalar_key(t, member(b, t), &kb, &lb);
  bool ok = oka && okb;
  if (ok) *cmp = bytes_cmp(ka, la, kb, lb);
  free(ka);
  free(kb);
  return ok ? 0 : -1;
}

typedef struct {
  uint8_t *p;
  size_t len;
} keybuf_t;

static int key_cmp(const void *a, const void *b) {
  const keybuf_t *x = a, *y = b;
  return bytes_cmp(x->p, x->len, y->p, y->len);
}

/* The members' keys, sorted; NULL when one is invalid. */
static keybuf_t *set_keys(ll_av_type_t scalar, const json_t *arr, size_t n) {
  keybuf_t *k = ll_calloc(n ? n : 1, sizeof *k);
  for (size_t i = 0; i < n; i++) {
    if (!scalar_key(scalar, json_array_get(arr, i), &k[i].p, &k[i].len)) {
      for (size_t j = 0; j <= i; j++) free(k[j].p);
      free(k);
      return NULL;
    }
  }
  qsort(k, n, sizeof *k, key_cmp);
  return k;
}

static bool set_equal(ll_av_type_t scalar, const json_t *a, const json_t *b) {
  size_t n = json_array_size(a);
  if (!json_is_array(a) || !json_is_array(b) || n != json_array_size(b)) return false;
  keybuf_t *ka = set_keys(scalar, a, n), *kb = set_keys(scalar, b, n);
  bool eq = ka && kb;
  for (size_t i = 0; eq && i < n; i++) eq = key_cmp(&ka[i], &kb[i]) == 0;
  for (size_t i = 0; i < n; i++) {
    if (ka) free(ka[i].p);
    if (kb) free(kb[i].p);
  }
  free(ka);
  free(kb);
  return eq;
}

bool ll_av_equal(const json_t *a, const json_t *b) {
  ll_av_type_t t = ll_av_type(a);
  if (t != ll_av_type(b)) return false;
  if (t == LL_AV_INVALID) return json_equal((json_t *)a, (json_t *)b);
  json_t *x = member(a, t), *y = member(b, t);
  switch (t) {
  case LL_AV_S:
  case LL_AV_N:
  case LL_AV_B: {
    int c;
    return ll_av_compare(a, b, &c) == 0 ? c == 0 : json_equal(x, y);
  }
  case LL_AV_BOOL:
  case LL_AV_NULL: return json_is_boolean(x) && json_equal(x, y);
  case LL_AV_SS: return set_equal(LL_AV_S, x, y);
  case LL_AV_NS: return set_equal(LL_AV_N, x, y);
  case LL_AV_BS: return set_equal(LL_AV_B, x, y);
  case LL_AV_L: {
    size_t n = json_array_size(x);
    if (!json_is_array(x) || !json_is_array(y) || n != json_array_size(y)) return false;
    for (size_t i = 0; i < n; i++)
      if (!ll_av_equal(json_array_get(x, i), json_array_get(y, i))) return false;
    return true;
  }
  case LL_AV_M: {
    if (!json_is_object(x) || !json_is_object(y) || json_object_size(x) != json_object_size(y))
      return false;
    const char *k;
    json_t *e;
    json_object_foreach(x, k, e) {
      json_t *f = json_object_get(y, k);
      if (!f || !ll_av_equal(e, f)) return false;
    }
    return true;
  }
  case LL_AV_INVALID: break;
  }
  return false;
}

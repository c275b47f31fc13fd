/* DynamoDB's data: numbers (decimal, 38 significant digits) and AttributeValues, which are kept
 * as jansson values in DynamoDB's own JSON shape ({"S":"x"}, {"N":"1.5"}, {"B":"<base64>"},
 * {"BOOL":true}, {"NULL":true}, {"M":{...}}, {"L":[...]}, {"SS":[...]}, {"NS":[...]},
 * {"BS":[...]}), and an item is a JSON object of attribute name -> AttributeValue.
 * Written here on purpose: DynamoDB's number rules and orderings have no library. */
#ifndef LL_TABLE_VALUE_H
#define LL_TABLE_VALUE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- numbers ------------------------------------------------------------------------------- */

#define LL_NUM_DIGITS 38
/* ll_num_format's output, NUL included. DynamoDB answers in plain notation, never with an
 * exponent, so the longest text is "-0." + 129 zeros + 38 digits (-1.xxx...E-130) = 170 chars;
 * the largest magnitude, 9.99...E+125, is 126 digits. */
#define LL_NUM_TEXT_MAX 171
#define LL_NUM_KEY_MAX 24 /* ll_num_key's output (at most 22 bytes) */

/* value = (neg ? -1 : 1) * 0.d[0]d[1]...d[n-1] * 10^exp; n == 0 is zero (neg false, exp 0);
 * otherwise d[0] != '0' and d[n-1] != '0' (no leading or trailing zeros). */
typedef struct ll_num {
  bool neg;
  int32_t exp;
  uint8_t n;
  char d[LL_NUM_DIGITS];
} ll_num_t;

/* Parses DynamoDB's number syntax (Java BigDecimal's: optional sign, digits with an optional
 * '.', at least one digit, optional exponent e/E with an optional sign and at least one digit;
 * leading/trailing zeros allowed; "-0" is 0; no spaces, NaN, Infinity or hex). Magnitudes from
 * 1E-130 to 9.9999999999999999999999999999999999999E+125, and 0 (with any exponent, "0e1000").
 * 0, or -1 with *why set to DynamoDB's wording (static text), checked in this order: "Number
 * overflow. Attempting to store a number with magnitude larger than supported range", "Number
 * underflow. Attempting to store a number with magnitude smaller than supported range",
 * "Attempting to store more than 38 significant digits in a Number", or for text that is no
 * number at all "The parameter cannot be converted to a numeric value" (ValidationException
 * messages; DynamoDB appends ": <the text>" to the last one when the text is not empty, which
 * ll_av_validate does). */
int ll_num_parse(const char *s, size_t len, ll_num_t *out, const char **why);
/* <0, 0, >0. */
int ll_num_cmp(const ll_num_t *a, const ll_num_t *b);
/* out = a + b and a - b, exactly (no rounding); -1 with *why when the result leaves the range
 * (the overflow / underflow texts above) or needs more than 38 significant digits (DynamoDB
 * then says "Number overflow. ..." too, e.g. for 1e50 + 1). out may alias a or b. */
int ll_num_add(const ll_num_t *a, const ll_num_t *b, ll_num_t *out, const char **why);
int ll_num_sub(const ll_num_t *a, const ll_num_t *b, ll_num_t *out, const char **why);
/* The text DynamoDB answers with for the number: plain notation, no exponent, no leading or
 * trailing zeros, "-" only for negatives ("1.50" -> "1.5", "1e2" -> "100", "-0" -> "0",
 * "1E-7" -> "0.0000001", "1e125" -> "1" + 125 zeros). */
void ll_num_format(const ll_num_t *n, char out[LL_NUM_TEXT_MAX]);
/* An order-preserving encoding: two keys compared by memcmp over the shorter length, then the
 * shorter first (SQLite's BLOB order), order like ll_num_cmp; equal numbers give equal keys.
 * Returns its length (1..22). */
size_t ll_num_key(const ll_num_t *n, uint8_t out[LL_NUM_KEY_MAX]);

/* ---- AttributeValues ----------------------------------------------------------------------- */

typedef enum ll_av_type {
  LL_AV_INVALID = 0,
  LL_AV_S, LL_AV_N, LL_AV_B, LL_AV_BOOL, LL_AV_NULL, LL_AV_M, LL_AV_L, LL_AV_SS, LL_AV_NS, LL_AV_BS,
} ll_av_type_t;

/* The type of an AttributeValue by its single key ("S", ...); LL_AV_INVALID when v is not an
 * object with exactly one member whose name is a known type (no deep check; ll_av_validate
 * leaves values in that shape). */
ll_av_type_t ll_av_type(const json_t *v);
/* "S", "N", ...; "?" for LL_AV_INVALID. */
const char *ll_av_type_name(ll_av_type_t t);

/* ll_av_validate's failures: which AWS error the message belongs to. */
#define LL_AV_EVALIDATION (-1)    /* ValidationException */
#define LL_AV_ESERIALIZATION (-2) /* SerializationException: a member of the wrong JSON kind, B
                                     not base64; DynamoDB finds these while reading the request,
                                     before any ValidationException */

/* Checks v deeply against DynamoDB's rules and normalizes it in place: numbers (N, NS, inside M
 * and L) become ll_num_format's text, members that are no type name ("X": ...) or JSON null are
 * dropped (DynamoDB ignores them). Rules: S/N strings, B a string of canonical base64 (empty
 * allowed), BOOL a boolean, NULL true, SS/NS/BS non-empty arrays without duplicates (NS after
 * normalization: "1" and "1.0" are duplicates; empty strings are allowed in SS/BS), M an object
 * and L an array of valid values, at most 32 levels (v itself is level 1), exactly one type.
 * Empty S and B are valid (only key attributes may not be empty: the caller checks keys).
 * 0, or LL_AV_EVALIDATION / LL_AV_ESERIALIZATION with why filled with DynamoDB's message
 * (sources in value.c), e.g. "Supplied AttributeValue is empty, must contain exactly one of the
 * supported datatypes", "Supplied AttributeValue has more than one datatypes set, must contain
 * exactly one of the supported datatypes", "One or more parameter values were invalid: An
 * string set  may not be empty" (sic, two spaces), "One or more parameter values were invalid:
 * Input collection [a, a] contains duplicates.", "Input collection contains duplicates" (NS),
 * "The parameter cannot be converted to a numeric value: x", "Nesting Levels have exceeded
 * supported limits: Attributes in the item have nested levels beyond supported limit". */
int ll_av_validate(json_t *v, char *why, size_t sz);
/* Every attribute of an item (object name -> AttributeValue) validated as above (all
 * serialization checks first, as DynamoDB reads the whole request before validating); names
 * non-empty and at most 65535 bytes. Same returns. */
int ll_av_validate_item(json_t *item, char *why, size_t sz);
/* The item's size by DynamoDB's rules, for the 400 KB limit (size > LL_AV_ITEM_MAX is "Item
 * size has exceeded the maximum allowed size"): the sum of name bytes + value sizes. S: UTF-8
 * bytes; B: decoded bytes; BOOL/NULL: 1; N: 0 is 1, else 1 + the number of base-100 digits
 * its significant digits occupy (about significant digits / 2) + 1 more when negative; sets:
 * the sum of their members; L: 3 + per element 1 + its size; M: 3 + per member 1 + name bytes
 * + its size. Values are expected validated (an invalid one counts 0). */
size_t ll_av_item_size(const json_t *item);
#define LL_AV_ITEM_MAX (400u * 1024u)

/* Deep equality as DynamoDB compares (numbers by value, sets as sets, B by decoded bytes). */
bool ll_av_equal(const json_t *a, const json_t *b);
/* Ordering of two scalars of the same type S (bytes of UTF-8), N (numeric) or B (bytes):
 * 0 with *cmp <0/0/>0; -1 when they are not comparable (other types, or different types). */
int ll_av_compare(const json_t *a, const json_t *b, int *cmp);
/* An order-preserving encoding of a key value (S, N or B) into a heap buffer (*out, the caller
 * frees it): two encodings of the same type compared by memcmp over the shorter length, then
 * the shorter first (SQLite's BLOB order), order as ll_av_compare. S: its UTF-8 bytes, B: its
 * decoded bytes (so a prefix of the value is a prefix of the key: begins_with is a BLOB prefix),
 * N: ll_num_key. Returns its length; an empty S or B gives 0 with *out non-NULL; 0 and *out
 * NULL when v is not S, N or B (or not valid). */
size_t ll_av_key_bytes(const json_t *v, uint8_t **out);

#endif

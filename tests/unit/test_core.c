#include <stdlib.h>

#include "core/buf.h"
#include "core/encoding.h"
#include "core/err.h"
#include "core/random.h"
#include "test.h"

LL_TEST(core_buf_appends_and_consumes) {
  ll_buf_t b = LL_BUF_INIT;
  ll_buf_puts(&b, "hello ");
  ll_buf_printf(&b, "%s %d", "world", 42);
  CHECK_STREQ(b.data, "hello world 42");
  ll_buf_consume(&b, 6);
  CHECK_STREQ(b.data, "world 42");
  ll_buf_free(&b);
}

LL_TEST(core_base64_round_trips_and_rejects_garbage) {
  const char *in = "any carnal pleas";
  for (size_t n = 0; n <= 16; n++) {
    char *e = ll_base64_encode(in, n);
    size_t dl = 0;
    unsigned char *d = ll_base64_decode(e, strlen(e), &dl);
    CHECK(d != NULL);
    CHECK_INTEQ(dl, n);
    CHECK(memcmp(d, in, n) == 0);
    free(d);
    free(e);
  }
  size_t dl;
  CHECK(ll_base64_decode("abc", 3, &dl) == NULL);
  CHECK(ll_base64_decode("ab!d", 4, &dl) == NULL);
  CHECK(ll_base64_decode("a=bc", 4, &dl) == NULL);
}

LL_TEST(core_sha256_hex_of_empty_string) {
  char hex[65];
  ll_sha256_hex("", 0, hex);
  CHECK_STREQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

LL_TEST(core_err_wraps_context) {
  ll_err_t err = LL_ERR_INIT;
  CHECK_INTEQ(ll_err_set(&err, 13, "mkdir %s: %s", "/x", "EACCES"), -13);
  ll_err_wrap(&err, "creating function %s", "f");
  CHECK_STREQ(err.msg, "creating function f: mkdir /x: EACCES");
}

LL_TEST(core_uuid_has_version_4_shape) {
  char u[37];
  ll_uuid4(u);
  CHECK_INTEQ(strlen(u), 36);
  CHECK(u[8] == '-' && u[13] == '-' && u[14] == '4' && u[18] == '-' && u[23] == '-');
}

LL_TEST(core_buf_puts_numbers_and_concatenates) {
  ll_buf_t b = LL_BUF_INIT;
  ll_buf_put_u64(&b, 0);
  ll_buf_cat(&b, " ", "x", "", "y ", NULL);
  ll_buf_put_u64(&b, 18446744073709551615ull);
  CHECK_STREQ(b.data, "0 xy 18446744073709551615");
  ll_buf_free(&b);
}

LL_TEST(core_buf_json_string_escapes_quotes_backslashes_and_controls) {
  ll_buf_t b = LL_BUF_INIT;
  static const char in[] = "a\"b\\c\n\x01" "end";
  ll_buf_json_string(&b, in, sizeof in - 1);
  ll_buf_json_string(&b, "", 0);
  ll_buf_json_string(&b, "\"", 1);
  CHECK_STREQ(b.data, "\"a\\\"b\\\\c\\u000a\\u0001end\"\"\"\"\\\"\"");
  ll_buf_free(&b);
}

#include <stdlib.h>

#include "http/router.h"
#include "test.h"

static void h(ll_http_req_t *req) { (void)req; }

static const ll_http_route_t routes[] = {
    {"POST", "/2015-03-31/functions/{}/invocations", h, 100, "Invoke"},
    {"GET", "/2015-03-31/functions/{}", h, 100, "GetFunction"},
    {"GET", "/2015-03-31/functions", h, 100, "ListFunctions"},
    {"GET", "/files/{+}", h, 100, "Files"},
    {NULL, NULL, NULL, 0, NULL},
};

LL_TEST(router_matches_segments_and_decodes_params) {
  char *p[LL_HTTP_MAX_PARAMS] = {0};
  const ll_http_route_t *r = ll_http_route_match(
      routes, "POST", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Af/invocations", p);
  CHECK(r && strcmp(r->name, "Invoke") == 0);
  CHECK_STREQ(p[0], "arn:aws:lambda:us-east-1:1:function:f");
  free(p[0]);
}

LL_TEST(router_ignores_trailing_slash_and_checks_method) {
  char *p[LL_HTTP_MAX_PARAMS] = {0};
  const ll_http_route_t *r = ll_http_route_match(routes, "GET", "/2015-03-31/functions/", p);
  CHECK(r && strcmp(r->name, "ListFunctions") == 0);
  CHECK(ll_http_route_match(routes, "DELETE", "/2015-03-31/functions", p) == NULL);
  CHECK(ll_http_route_match(routes, "GET", "/2015-03-31/functions/a/b/c", p) == NULL);
  CHECK(ll_http_route_match(routes, "GET", "/2015-03-31/functions/%zz", p) == NULL);
  CHECK(ll_http_route_match(routes, "GET", "/2015-03-31/functions/a%00b", p) == NULL);
}

LL_TEST(router_rest_pattern_takes_the_remaining_path) {
  char *p[LL_HTTP_MAX_PARAMS] = {0};
  const ll_http_route_t *r = ll_http_route_match(routes, "GET", "/files/a/b%20c", p);
  CHECK(r && strcmp(r->name, "Files") == 0);
  CHECK_STREQ(p[0], "a/b c");
  free(p[0]);
}

/* Route tables: dispatch is data. A route matches a method and a path pattern whose segments
 * are literals or "{}" (one path segment, captured percent-decoded into req->params in order)
 * or a final "{+}" (the rest of the path). A trailing '/' on the request path is ignored. */
#ifndef LL_HTTP_ROUTER_H
#define LL_HTTP_ROUTER_H

#include <stdint.h>

#include "http/server.h"

struct ll_http_route {
  const char *method;   /* "GET", ...; "*" for any; NULL ends the table */
  const char *pattern;  /* "/2015-03-31/functions/{}/invocations" */
  ll_http_handler_fn handler;
  uint64_t max_body;    /* bodies above this are discarded and req->body_too_large is set */
  const char *name;     /* operation name for logs and metrics, e.g. "Invoke" */
};

/* Finds the route for method + path (raw, percent-encoded, without query). On a match fills
 * params (heap strings the caller frees) and returns the route; NULL when none matches. */
const ll_http_route_t *ll_http_route_match(const ll_http_route_t *routes, const char *method,
                                           const char *path, char *params[LL_HTTP_MAX_PARAMS]);

/* Decodes %XX escapes of s[0..len) into a heap string ('+' is kept). Returns NULL for a bad
 * escape or an embedded NUL. */
char *ll_http_pct_decode(const char *s, size_t len);

#endif

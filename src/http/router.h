/* Route tables: dispatch is data. A route matches a method and a path pattern whose segments
 * are literals or "{}" (one path segment, captured percent-decoded into req->params in order)
 * or a final "{+}" (the rest of the path). A trailing '/' on the request path is ignored. */
#ifndef LL_HTTP_ROUTER_H
#define LL_HTTP_ROUTER_H

#include <stdbool.h>
#include <stdint.h>

#include "http/server.h"

struct ll_http_route {
  const char *method;   /* "GET", ...; "*" for any; NULL ends the table */
  const char *pattern;  /* "/2015-03-31/functions/{}/invocations" */
  ll_http_handler_fn handler;
  uint64_t max_body;    /* bodies above this are discarded and req->body_too_large is set */
  const char *name;     /* operation name for logs and metrics, e.g. "Invoke" */
  /* The handler runs when the head has arrived and takes the body as a stream
   * (ll_http_body_read); max_body is then only what body_too_large is set against. */
  bool stream_body;
  /* When set, the route matches only requests it accepts (e.g. S3's, told apart from Lambda's
   * by their signature's service); a table whose route refuses is left for the next table. */
  bool (*accept)(const ll_http_head_t *head);
};

/* Finds the route for method + path (raw, percent-encoded, without query). On a match fills
 * params (heap strings the caller frees) and returns the route; NULL when none matches. */
const ll_http_route_t *ll_http_route_match(const ll_http_route_t *routes, const char *method,
                                           const char *path, char *params[LL_HTTP_MAX_PARAMS]);

/* Decodes %XX escapes of s[0..len) into a heap string ('+' is kept). Returns NULL for a bad
 * escape or an embedded NUL. */
char *ll_http_pct_decode(const char *s, size_t len);

#endif

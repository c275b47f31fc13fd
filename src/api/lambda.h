/* The Lambda API module's table and shared pieces. */
#ifndef LL_API_LAMBDA_H
#define LL_API_LAMBDA_H

#include <jansson.h>

#include "engine/engine.h"
#include "http/router.h"

extern const ll_http_route_t ll_lambda_routes[];
/* Event source mappings (esm.c). */
extern const ll_http_route_t ll_esm_routes[];
/* FunctionConfiguration as the Lambda API returns it (new reference), its ARNs in `region`. */
json_t *ll_api_function_configuration(ll_engine_t *e, const char *region, const ll_function_t *fn,
                                      bool qualified);

#endif

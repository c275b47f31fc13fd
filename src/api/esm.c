/* The Lambda API's event source mappings (rest-json, aws-wire-contract.md §2.4): Create, Get,
 * List, Update and DeleteEventSourceMapping over src/stream/esm. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "stream/esm.h"
#include "api/lambda.h"
#include "core/mem.h"

#define REST LL_PROTO_REST_JSON
#define MB (1u << 20)
#define LIST_DEFAULT 100
#define LIST_MAX 10000

static ll_esms_t *esms_of(ll_http_req_t *req) {
  return ((ll_api_ctx_t *)req->listener_data)->esms;
}

/* The mapping module picks the exception: InvalidParameterValueException stays that even when
 * its message reads like a validation error (as AWS words a missing StartingPosition). */
static void esm_error(ll_http_req_t *req, const ll_err_t *err) {
  if (err->code == LL_E_INVALID_PARAM)
    ll_api_error(req, REST, 400, "InvalidParameterValueException", "%s", err->msg);
  else
    ll_api_engine_error(req, err);
}

static void create_mapping(ll_http_req_t *req) {
  if (ll_api_authenticate(req, REST) < 0) return;
  json_t *doc = ll_api_body_json(req);
  if (!doc) return;
  json_t *out;
  ll_err_t err = LL_ERR_INIT;
  int rc = ll_esm_create(esms_of(req), doc, &out, &err);
  json_decref(doc);
  if (rc < 0)
    esm_error(req, &err);
  else
    ll_api_json(req, 202, out, NULL);
}

static void not_found(ll_http_req_t *req, const char *uuid) {
  ll_api_error(req, REST, 404, "ResourceNotFoundException",
               "The resource you requested does not exist. (Event source mapping %s)", uuid);
}

static void get_mapping(ll_http_req_t *req) {
  if (ll_api_authenticate(req, REST) < 0) return;
  json_t *out = ll_esm_get(esms_of(req), req->params[0]);
  if (!out)
    not_found(req, req->params[0]);
  else
    ll_api_json(req, 200, out, NULL);
}

static void update_mapping(ll_http_req_t *req) {
  if (ll_api_authenticate(req, REST) < 0) return;
  json_t *doc = ll_api_body_json(req);
  if (!doc) return;
  json_t *out;
  ll_err_t err = LL_ERR_INIT;
  int rc = ll_esm_update(esms_of(req), req->params[0], doc, &out, &err);
  json_decref(doc);
  if (rc < 0)
    esm_error(req, &err);
  else
    ll_api_json(req, 202, out, NULL);
}

static void delete_mapping(ll_http_req_t *req) {
  if (ll_api_authenticate(req, REST) < 0) return;
  json_t *out;
  ll_err_t err = LL_ERR_INIT;
  if (ll_esm_delete(esms_of(req), req->params[0], &out, &err) < 0)
    esm_error(req, &err);
  else
    ll_api_json(req, 202, out, NULL);
}

static void list_mappings(ll_http_req_t *req) {
  if (ll_api_authenticate(req, REST) < 0) return;
  ll_autofree char *fn = ll_api_query_param(req, "FunctionName");
  ll_autofree char *arn = ll_api_query_param(req, "EventSourceArn");
  ll_autofree char *marker = ll_api_query_param(req, "Marker");
  ll_autofree char *max_s = ll_api_query_param(req, "MaxItems");
  char *end = NULL;
  long max = max_s ? strtol(max_s, &end, 10) : LIST_DEFAULT;
  if (max_s && (*end || max < 1 || max > LIST_MAX)) {
    ll_api_error(req, REST, 400, "ValidationException",
                 "1 validation error detected: Value '%s' at 'maxItems' failed to satisfy "
                 "constraint: Member must have value %s",
                 max_s, max < 1 ? "greater than or equal to 1" : "less than or equal to 10000");
    return;
  }
  char *next = NULL;
  json_t *arr = ll_esm_list(esms_of(req), fn, arn, marker, (size_t)max, &next);
  json_t *doc = json_pack("{s:o}", "EventSourceMappings", arr);
  if (next) json_object_set_new(doc, "NextMarker", json_string(next));
  free(next);
  ll_api_json(req, 200, doc, NULL);
}

const ll_http_route_t ll_esm_routes[] = {
    {"POST", "/2015-03-31/event-source-mappings", create_mapping, MB, "CreateEventSourceMapping"},
    {"GET", "/2015-03-31/event-source-mappings", list_mappings, MB, "ListEventSourceMappings"},
    {"GET", "/2015-03-31/event-source-mappings/{}", get_mapping, MB, "GetEventSourceMapping"},
    {"PUT", "/2015-03-31/event-source-mappings/{}", update_mapping, MB, "UpdateEventSourceMapping"},
    {"DELETE", "/2015-03-31/event-source-mappings/{}", delete_mapping, MB,
     "DeleteEventSourceMapping"},
    {NULL, NULL, NULL, 0, NULL},
};

/* CloudWatch Logs (JSON 1.1, "Logs_20140328.*"): the read side of function logs, so that
 * `aws logs filter-log-events --log-group-name /aws/lambda/NAME` and `lambdalite logs` work. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/mem.h"
#include "engine/logs.h"

#define JSON11 LL_PROTO_JSON

typedef struct collect {
  json_t *events;
  const char *pattern; /* plain substring filter, or NULL */
  const char *stream;  /* only this stream, or NULL */
  size_t seen;
} collect_t;

static int add_event(void *ud, const ll_log_event_t *ev) {
  collect_t *c = ud;
  c->seen++;
  if (c->stream && strcmp(c->stream, ev->stream) != 0) return 0;
  if (c->pattern && c->pattern[0] && !memmem(ev->msg, ev->len, c->pattern, strlen(c->pattern)))
    return 0;
  char id[64];
  snprintf(id, sizeof id, "%lld%zu", (long long)ev->ts_ms, c->seen);
  json_array_append_new(c->events, json_pack("{s:s,s:I,s:s%,s:I,s:s}", "logStreamName", ev->stream,
                                             "timestamp", (json_int_t)ev->ts_ms, "message",
                                             ev->msg, ev->len, "ingestionTime",
                                             (json_int_t)ev->ts_ms, "eventId", id));
  return 0;
}

static void filter_log_events(ll_http_req_t *req, json_t *in) {
  ll_api_ctx_t *ctx = req->listener_data;
  const char *group = json_string_value(json_object_get(in, "logGroupName"));
  if (!group || strncmp(group, "/aws/lambda/", 12) != 0 ||
      !ll_function_find(ctx->engine, group + 12)) {
    ll_api_error(req, JSON11, 400, "ResourceNotFoundException",
                 "The specified log group does not exist.");
    return;
  }
  int64_t start = json_integer_value(json_object_get(in, "startTime"));
  int64_t end = json_integer_value(json_object_get(in, "endTime"));
  size_t limit = (size_t)json_integer_value(json_object_get(in, "limit"));
  if (limit == 0 || limit > 10000) limit = 10000;
  size_t skip = 0;
  const char *token = json_string_value(json_object_get(in, "nextToken"));
  if (token) skip = strtoull(token, NULL, 10);
  collect_t c = {json_array(), json_string_value(json_object_get(in, "filterPattern")), NULL, 0};
  json_t *names = json_object_get(in, "logStreamNames");
  if (json_array_size(names) == 1) c.stream = json_string_value(json_array_get(names, 0));
  size_t n = ll_logs_read(ll_engine_data_dir(ctx->engine), group + 12, start, end, skip, limit,
                          add_event, &c);
  json_t *doc = json_pack("{s:o,s:[]}", "events", c.events, "searchedLogStreams");
  if (n == limit) json_object_set_new(doc, "nextToken", json_sprintf("%zu", skip + n));
  ll_api_json(req, 200, doc, "application/x-amz-json-1.1");
}

static void describe_log_groups(ll_http_req_t *req, json_t *in) {
  ll_api_ctx_t *ctx = req->listener_data;
  const char *prefix = json_string_value(json_object_get(in, "logGroupNamePrefix"));
  ll_function_t **fns;
  size_t n = ll_function_list(ctx->engine, &fns);
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++) {
    char *name = ll_sprintf("/aws/lambda/%s", fns[i]->name);
    if (!prefix || strncmp(name, prefix, strlen(prefix)) == 0)
      json_array_append_new(arr, json_pack("{s:s,s:s,s:I}", "logGroupName", name, "arn",
                                           name, "creationTime",
                                           (json_int_t)fns[i]->last_modified_ms));
    free(name);
  }
  free(fns);
  ll_api_json(req, 200, json_pack("{s:o}", "logGroups", arr), "application/x-amz-json-1.1");
}

void ll_api_logs_dispatch(ll_http_req_t *req, const char *action) {
  if (ll_api_authenticate(req, JSON11) < 0) return;
  json_t *in = ll_api_json11_body(req);
  if (!in) return;
  if (ll_api_restricted(req)) {
    ll_api_ctx_t *ctx = req->listener_data;
    const char *group = json_string_value(json_object_get(in, "logGroupName"));
    char act[96], res[600];
    snprintf(act, sizeof act, "logs:%s", action);
    snprintf(res, sizeof res, "arn:aws:logs:%s:%s:log-group:%s:*", ll_api_region(req),
             ll_engine_account(ctx->engine), group ? group : "*");
    if (ll_api_authorize(req, JSON11, act, res) < 0) {
      json_decref(in);
      return;
    }
  }
  if (strcmp(action, "FilterLogEvents") == 0)
    filter_log_events(req, in);
  else if (strcmp(action, "DescribeLogGroups") == 0)
    describe_log_groups(req, in);
  else
    ll_api_error(req, JSON11, 400, "UnknownOperationException",
                 "Logs operation %s is not supported yet (FilterLogEvents and DescribeLogGroups "
                 "are)",
                 action);
  json_decref(in);
}

/* The Lambda API (rest-json, SigV4 service "lambda"): function and layer management and Invoke,
 * in the shapes of ../shared/reference/aws-wire-contract.md §2. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/lambda.h"
#include "core/clock.h"
#include "core/encoding.h"
#include "core/mem.h"

#define REST LL_PROTO_REST_JSON

static ll_engine_t *engine_of(ll_http_req_t *req) {
  return ((ll_api_ctx_t *)req->listener_data)->engine;
}

/* ---- names and ARNs ---------------------------------------------------------------------- */

/* Splits a FunctionName as the API accepts it (name, name:qualifier, full or partial ARN) into
 * its bare name and qualifier. Returns 0, or -1 (answered) when the form is invalid. */
static int parse_function_name(ll_http_req_t *req, const char *in, char *name, size_t name_sz,
                               char *qual, size_t qual_sz) {
  const char *p = in;
  if (strncmp(p, "arn:", 4) == 0) {
    /* arn:aws:lambda:region:account:function:name[:qualifier] */
    int colons = 0;
    const char *q = p;
    while (colons < 6 && (q = strchr(q, ':'))) q++, colons++;
    if (colons < 6 || strncmp(strstr(p, ":function:") ? strstr(p, ":function:") : "", ":function:", 10)) {
      ll_api_error(req, REST, 400, "ValidationException",
                   "1 validation error detected: Value '%s' at 'functionName' failed to satisfy "
                   "constraint: Member must satisfy regular expression pattern: "
                   "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?"
                   "(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?",
                   in);
      return -1;
    }
    p = q;
  } else if (strstr(p, ":function:")) {
    p = strstr(p, ":function:") + 10;
  }
  const char *colon = strchr(p, ':');
  size_t n = colon ? (size_t)(colon - p) : strlen(p);
  snprintf(name, name_sz, "%.*s", (int)n, p);
  snprintf(qual, qual_sz, "%s", colon ? colon + 1 : "");
  return 0;
}

/* Finds the function named by the path parameter (and ?Qualifier=); answers 404 when absent.
 * The qualifier used ("" when none) goes to qual_out (160 bytes) when non-NULL. */
static ll_function_t *find_function_q(ll_http_req_t *req, const char *param, bool for_invoke,
                                      char *qual_out) {
  ll_engine_t *e = engine_of(req);
  char name[160], qual[160];
  if (parse_function_name(req, param, name, sizeof name, qual, sizeof qual) < 0) return NULL;
  const char *q = strstr(req->head->query, "Qualifier=");
  if (q && !qual[0]) {
    q += 10;
    size_t n = strcspn(q, "&");
    char *dec = ll_http_pct_decode(q, n);
    if (dec) snprintf(qual, sizeof qual, "%s", dec);
    free(dec);
  }
  ll_function_t *fn = ll_function_find(e, name);
  if (!fn || (qual[0] && strcmp(qual, "$LATEST") != 0)) {
    if (qual[0] || for_invoke)
      ll_api_error(req, REST, 404, "ResourceNotFoundException",
                   "Function not found: arn:aws:lambda:%s:%s:function:%s:%s", ll_api_region(req),
                   ll_engine_account(e), name, qual[0] ? qual : "$LATEST");
    else
      ll_api_error(req, REST, 404, "ResourceNotFoundException",
                   "Function not found: arn:aws:lambda:%s:%s:function:%s", ll_api_region(req),
                   ll_engine_account(e), name);
    return NULL;
  }
  if (qual_out) memcpy(qual_out, qual, sizeof qual);
  return fn;
}

static ll_function_t *find_function(ll_http_req_t *req, const char *param, bool for_invoke) {
  return find_function_q(req, param, for_invoke, NULL);
}

/* ---- FunctionConfiguration --------------------------------------------------------------- */

json_t *ll_api_function_configuration(ll_engine_t *e, const char *region, const ll_function_t *fn,
                                      bool qualified) {
  json_t *c = json_object();
  json_t *cfg = fn->config;
  char lm[40];
  ll_format_lambda_time(fn->last_modified_ms, lm, sizeof lm);
  json_object_set_new(c, "FunctionName", json_string(fn->name));
  json_object_set_new(c, "FunctionArn",
                      json_sprintf("arn:aws:lambda:%s:%s:function:%s%s", region,
                                   ll_engine_account(e), fn->name, qualified ? ":$LATEST" : ""));
  static const char *const copy[] = {"Runtime", "Role", "Handler", "Description", NULL};
  for (int i = 0; copy[i]; i++) {
    json_t *v = json_object_get(cfg, copy[i]);
    if (v) json_object_set(c, copy[i], v);
  }
  json_object_set_new(c, "CodeSize", json_integer(fn->code_size));
  json_object_set_new(c, "Timeout", json_integer(fn->timeout_s));
  json_object_set_new(c, "MemorySize", json_integer(fn->memory_mb));
  json_object_set_new(c, "LastModified", json_string(lm));
  json_object_set_new(c, "CodeSha256", json_string(fn->code_sha256));
  json_object_set_new(c, "Version", json_string("$LATEST"));
  json_object_set_new(c, "Environment", json_pack("{s:O}", "Variables", ll_function_env(fn)));
  json_t *tracing = json_object_get(cfg, "TracingConfig");
  json_object_set_new(c, "TracingConfig",
                      tracing ? json_deep_copy(tracing) : json_pack("{s:s}", "Mode", "PassThrough"));
  json_object_set_new(c, "RevisionId", json_string(fn->revision_id));
  json_t *layers = json_object_get(cfg, "Layers");
  if (json_array_size(layers)) {
    json_t *out = json_array();
    size_t i;
    json_t *arn;
    json_array_foreach(layers, i, arn) {
      ll_layer_version_t *lv = ll_layer_find_arn(e, json_string_value(arn));
      json_array_append_new(out, json_pack("{s:o,s:I}", "Arn",
                                           lv ? json_sprintf("arn:aws:lambda:%s:%s:layer:%s:%d",
                                                             region, ll_engine_account(e),
                                                             lv->name, lv->version)
                                              : json_copy(arn),
                                           "CodeSize",
                                           (json_int_t)(lv ? json_integer_value(json_object_get(
                                                                 lv->info, "CodeSize"))
                                                           : 0)));
    }
    json_object_set_new(c, "Layers", out);
  }
  json_object_set_new(c, "State", json_string("Active"));
  json_object_set_new(c, "LastUpdateStatus", json_string("Successful"));
  json_object_set_new(c, "PackageType", json_string("Zip"));
  json_t *arch = json_object_get(cfg, "Architectures");
  json_object_set_new(c, "Architectures", arch ? json_deep_copy(arch) : json_pack("[s]", "x86_64"));
  json_object_set(c, "EphemeralStorage", json_object_get(cfg, "EphemeralStorage"));
  json_object_set_new(c, "SnapStart",
                      json_pack("{s:s,s:s}", "ApplyOn", "None", "OptimizationStatus", "Off"));
  char group[200];
  snprintf(group, sizeof group, "/aws/lambda/%s", fn->name);
  json_object_set_new(c, "LoggingConfig",
                      json_pack("{s:s,s:s}", "LogFormat", "Text", "LogGroup", group));
  return c;
}

/* ---- management -------------------------------------------------------------------------- */

/* Takes Code.ZipFile (base64) out of a request: returns the bytes or answers and returns NULL.
 * *absent is set when no ZipFile was given. */
static uint8_t *take_zip(ll_http_req_t *req, json_t *code, size_t *len) {
  if (!json_is_object(code)) {
    ll_api_error(req, REST, 400, "InvalidParameterValueException",
                 "Please provide a source for function code.");
    return NULL;
  }
  json_t *zip = json_object_get(code, "ZipFile");
  if (!zip) {
    const char *what = json_object_get(code, "S3Bucket")   ? "Code.S3Bucket"
                       : json_object_get(code, "ImageUri") ? "Code.ImageUri"
                                                           : NULL;
    if (what)
      ll_api_error(req, REST, 400, "InvalidParameterValueException",
                   "%s is not supported yet: upload the code as a zip (ZipFile, e.g. "
                   "--zip-file fileb://function.zip)",
                   what);
    else
      ll_api_error(req, REST, 400, "InvalidParameterValueException",
                   "Please provide a source for function code.");
    return NULL;
  }
  uint8_t *bytes = json_is_string(zip) ? ll_base64_decode(json_string_value(zip),
                                                           json_string_length(zip), len)
                                       : NULL;
  if (!bytes)
    ll_api_error(req, REST, 400, "InvalidParameterValueException",
                 "Could not unzip uploaded file. Please check your file, then try to upload "
                 "again. (ZipFile is not valid base64)");
  return bytes;
}

static void on_function_ready(void *ud, ll_function_t *fn, const ll_err_t *err) {
  ll_http_req_t *req = ud;
  if (!fn) {
    ll_api_engine_error(req, err);
    return;
  }
  int status = req->route && strcmp(req->route->name, "CreateFunction") == 0 ? 201 : 200;
  ll_api_json(req, status, ll_api_function_configuration(engine_of(req), ll_api_region(req), fn, false), NULL);
}

static bool too_large(ll_http_req_t *req, const char *op, uint64_t limit) {
  if (!req->body_too_large) return false;
  ll_api_error(req, REST, 413, "RequestEntityTooLargeException",
               "Request must be smaller than %llu bytes for the %s operation",
               (unsigned long long)limit, op);
  return true;
}

static void create_function(ll_http_req_t *req) {
  if (too_large(req, "CreateFunction", 70167211) || ll_api_authenticate(req, REST) < 0) return;
  json_t *doc = ll_api_body_json(req);
  if (!doc) return;
  json_t *pt = json_object_get(doc, "PackageType");
  if (pt && strcmp(json_string_value(pt) ? json_string_value(pt) : "", "Zip") != 0) {
    json_decref(doc);
    ll_api_error(req, REST, 400, "InvalidParameterValueException",
                 "PackageType Image is not supported yet: package the function as a zip");
    return;
  }
  size_t len = 0;
  uint8_t *zip = take_zip(req, json_object_get(doc, "Code"), &len);
  if (!zip) {
    json_decref(doc);
    return;
  }
  ll_err_t err = LL_ERR_INIT;
  if (ll_function_create(engine_of(req), doc, zip, len, on_function_ready, req, &err) < 0)
    ll_api_engine_error(req, &err);
}

static void get_function(ll_http_req_t *req) {
  if (ll_api_authenticate(req, REST) < 0) return;
  ll_function_t *fn = find_function(req, req->params[0], false);
  if (!fn) return;
  ll_engine_t *e = engine_of(req);
  const ll_kv_t *host = ll_http_header(req->head, "host");
  char *loc = ll_sprintf("http://%.*s/2015-03-31/functions/%s/code.zip", host ? (int)host->value_len : 9,
                         host ? host->value : "127.0.0.1", fn->name);
  json_t *doc = json_pack("{s:o,s:{s:s,s:s}}", "Configuration",
                          ll_api_function_configuration(e, ll_api_region(req), fn, false), "Code", "RepositoryType",
                          "S3", "Location", loc);
  free(loc);
  json_t *tags = json_object_get(fn->config, "Tags");
  if (json_object_size(tags)) json_object_set(doc, "Tags", tags);
  if (fn->reserved >= 0)
    json_object_set_new(doc, "Concurrency",
                        json_pack("{s:i}", "ReservedConcurrentExecutions", fn->reserved));
  ll_api_json(req, 200, doc, NULL);
}

static void get_function_configuration(ll_http_req_t *req) {
  if (ll_api_authenticate(req, REST) < 0) return;
  ll_function_t *fn = find_function(req, req->params[0], false);
  if (fn) ll_api_json(req, 200, ll_api_function_configuration(engine_of(req), ll_api_region(req), fn, false), NULL);
}

/* The value of query parameter `key` (decoded, heap) or NULL. */
static void list_functions(ll_http_req_t *req) {
  if (ll_api_authenticate(req, REST) < 0) return;
  ll_engine_t *e = engine_of(req);
  char *marker = ll_api_query_param(req, "Marker"), *max = ll_api_query_param(req, "MaxItems");
  long maxn = max ? strtol(max, NULL, 10) : 50;
  if (maxn < 1 || maxn > 50) maxn = 50;
  ll_function_t **fns;
  size_t n = ll_function_list(e, &fns);
  json_t *arr = json_array();
  size_t i = 0;
  if (marker) /* the marker is the name of the last function of the previous page */
    while (i < n && strcmp(fns[i]->name, marker) <= 0) i++;
  for (; i < n && json_array_size(arr) < (size_t)maxn; i++)
    json_array_append_new(arr, ll_api_function_configuration(e, ll_api_region(req), fns[i], false));
  json_t *doc = json_pack("{s:o}", "Functions", arr);
  if (i < n) json_object_set_new(doc, "NextMarker", json_string(fns[i - 1]->name));
  free(fns);
  free(marker);
  free(max);
  ll_api_json(req, 200, doc, NULL);
}

static void update_function_code(ll_http_req_t *req) {
  if (too_large(req, "UpdateFunctionCode", 70167211) || ll_api_authenticate(req, REST) < 0) return;
  ll_function_t *fn = find_function(req, req->params[0], false);
  if (!fn) return;
  json_t *doc = ll_api_body_json(req);
  if (!doc) return;
  size_t len = 0;
  uint8_t *zip = take_zip(req, doc, &len);
  const char *rev = json_string_value(json_object_get(doc, "RevisionId"));
  ll_err_t err = LL_ERR_INIT;
  if (zip && ll_function_update_code(engine_of(req), fn->name, zip, len, rev, on_function_ready,
                                     req, &err) < 0)
    ll_api_engine_error(req, &err);
  json_decref(doc);
}

static void update_function_configuration(ll_http_req_t *req) {
  if (ll_api_authenticate(req, REST) < 0) return;
  ll_function_t *fn = find_function(req, req->params[0], false);
  if (!fn) return;
  json_t *doc = ll_api_body_json(req);
  if (!doc) return;
  ll_err_t err = LL_ERR_INIT;
  ll_function_t *out = NULL;
  if (ll_function_update_config(engine_of(req), fn->name, doc, &out, &err) < 0)
    ll_api_engine_error(req, &err);
  else
    ll_api_json(req, 200, ll_api_function_configuration(engine_of(req), ll_api_region(req), out, false), NULL);
  json_decref(doc);
}

static void delete_function(ll_http_req_t *req) {
  if (ll_api_authenticate(req, REST) < 0) return;
  ll_function_t *fn = find_function(req, req->params[0], false);
  if (!fn) return;
  ll_err_t err = LL_ERR_INIT;
  if (ll_function_delete(engine_of(req), fn->name, &err) < 0)
    ll_api_engine_error(req, &err);
  else
    ll_api_empty(req, 204);
}

static void get_account_settings(ll_http_req_t *req) {
  if (ll_api_authenticate(req, REST) < 0) return;
  ll_engine_t *e = engine_of(req);
  ll_function_t **fns;
  size_t n = ll_function_list(e, &fns);
  free(fns);
  json_t *doc = json_pack(
      "{s:{s:I,s:I,s:I,s:i,s:i},s:{s:I,s:I}}", "AccountLimit", "TotalCodeSize",
      (json_int_t)80530636800, "CodeSizeUnzipped", (json_int_t)LL_UNZIPPED_MAX, "CodeSizeZipped",
      (json_int_t)LL_ZIP_MAX, "ConcurrentExecutions", ll_engine_concurrency_limit(e),
      "UnreservedConcurrentExecutions", ll_engine_unreserved_concurrency(e),
      "AccountUsage", "TotalCodeSize", (json_int_t)ll_functions_total_code_size(e),
      "FunctionCount", (json_int_t)n);
  ll_api_json(req, 200, doc, NULL);
}

/* GetFunction's Code.Location: the zip as uploaded. */
static void get_function_code(ll_http_req_t *req) {
  if (ll_api_authenticate(req, REST) < 0) return;
  ll_function_t *fn = find_function(req, req->params[0], false);
  if (!fn) return;
  char *path = ll_sprintf("%s/../code.zip", fn->code_dir);
  FILE *f = fopen(path, "re");
  free(path);
  if (!f) {
    ll_api_error(req, REST, 404, "ResourceNotFoundException", "code of %s not found", fn->name);
    return;
  }
  ll_buf_t b = LL_BUF_INIT;
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) ll_buf_append(&b, chunk, n);
  fclose(f);
  size_t len;
  char *data = ll_buf_steal(&b, &len);
  ll_http_respond(req, 200, "Content-Type: application/zip\r\n", data, len);
}

/* ---- layers ------------------------------------------------------------------------------ */

static json_t *layer_json(ll_http_req_t *req, const ll_layer_version_t *lv, bool full) {
  json_t *info = lv->info;
  ll_engine_t *e = engine_of(req);
  json_t *doc = json_pack("{s:o,s:o,s:i}", "LayerArn",
                          json_sprintf("arn:aws:lambda:%s:%s:layer:%s", ll_api_region(req),
                                       ll_engine_account(e), lv->name),
                          "LayerVersionArn",
                          json_sprintf("arn:aws:lambda:%s:%s:layer:%s:%d", ll_api_region(req),
                                       ll_engine_account(e), lv->name, lv->version),
                          "Version", lv->version);
  static const char *const copy[] = {"Description", "CreatedDate", "CompatibleRuntimes",
                                     "LicenseInfo", "CompatibleArchitectures", NULL};
  for (int i = 0; copy[i]; i++)
    if (json_object_get(info, copy[i])) json_object_set(doc, copy[i], json_object_get(info, copy[i]));
  if (full)
    json_object_set_new(doc, "Content",
                        json_pack("{s:O,s:O}", "CodeSha256", json_object_get(info, "CodeSha256"),
                                  "CodeSize", json_object_get(info, "CodeSize")));
  return doc;
}

static void on_layer_ready(void *ud, ll_layer_version_t *lv, const ll_err_t *err) {
  ll_http_req_t *req = ud;
  if (!lv)
    ll_api_engine_error(req, err);
  else
    ll_api_json(req, 201, layer_json(req, lv, true), NULL);
}

static void publish_layer_version(ll_http_req_t *req) {
  if (too_large(req, "PublishLayerVersion", 70167211) || ll_api_authenticate(req, REST) < 0)
    return;
  json_t *doc = ll_api_body_json(req);
  if (!doc) return;
  size_t len = 0;
  uint8_t *zip = take_zip(req, json_object_get(doc, "Content"), &len);
  if (!zip) {
    json_decref(doc);
    return;
  }
  json_object_del(doc, "Content");
  ll_err_t err = LL_ERR_INIT;
  if (ll_layer_publish(engine_of(req), req->params[0], doc, zip, len, on_layer_ready, req, &err) < 0)
    ll_api_engine_error(req, &err);
}

static void get_layer_version(ll_http_req_t *req) {
  if (ll_api_authenticate(req, REST) < 0) return;
  ll_layer_version_t *lv = ll_layer_find(engine_of(req), req->params[0], atoi(req->params[1]));
  if (!lv || atoi(req->params[1]) <= 0) {
    ll_api_error(req, REST, 404, "ResourceNotFoundException",
                 "The resource you requested does not exist.");
    return;
  }
  ll_api_json(req, 200, layer_json(req, lv, true), NULL);
}

static void list_layer_versions(ll_http_req_t *req) {
  if (ll_api_authenticate(req, REST) < 0) return;
  ll_layer_version_t **lvs;
  size_t n = ll_layer_list(engine_of(req), req->params[0], &lvs);
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++) json_array_append_new(arr, layer_json(req, lvs[i], false));
  free(lvs);
  ll_api_json(req, 200, json_pack("{s:o}", "LayerVersions", arr), NULL);
}

static void list_layers(ll_http_req_t *req) {
  if (ll_api_authenticate(req, REST) < 0) return;
  ll_layer_version_t **lvs;
  size_t n = ll_layer_list(engine_of(req), NULL, &lvs);
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++) {
    if (i > 0 && strcmp(lvs[i]->name, lvs[i - 1]->name) == 0) continue; /* newest only */
    json_t *latest = layer_json(req, lvs[i], false);
    json_array_append_new(arr, json_pack("{s:s,s:O,s:o}", "LayerName", lvs[i]->name, "LayerArn",
                                         json_object_get(latest, "LayerArn"),
                                         "LatestMatchingVersion", latest));
  }
  free(lvs);
  ll_api_json(req, 200, json_pack("{s:o}", "Layers", arr), NULL);
}

static void delete_layer_version(ll_http_req_t *req) {
  if (ll_api_authenticate(req, REST) < 0) return;
  ll_layer_delete(engine_of(req), req->params[0], atoi(req->params[1])); /* idempotent, as AWS */
  ll_api_empty(req, 204);
}

/* ---- Invoke ------------------------------------------------------------------------------ */

static char *header_dup(const ll_http_head_t *h, const char *name) {
  const ll_kv_t *kv = ll_http_header(h, name);
  return kv ? ll_strndup(kv->value, kv->value_len) : NULL;
}

/* 429 TooManyRequestsException with AWS's Reason (aws-wire-contract.md §2.1). */
static void throttled(ll_http_req_t *req, const char *reason) {
  char rid[37], hdr[256];
  ll_api_request_id(rid);
  snprintf(hdr, sizeof hdr,
           "Content-Type: application/json\r\nx-amzn-ErrorType: TooManyRequestsException\r\n"
           "x-amzn-RequestId: %s\r\nRetry-After: 1\r\n",
           rid);
  json_t *doc = json_pack("{s:s,s:s,s:s}", "Reason", reason, "Type", "User", "message",
                          "Rate Exceeded.");
  char *body = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  ll_http_respond(req, 429, hdr, body, strlen(body));
}

static void on_invoked(void *ud, const ll_invoke_result_t *res) {
  ll_http_req_t *req = ud;
  if (res->status == LL_INVOKE_THROTTLED) {
    throttled(req, "ConcurrentInvocationLimitExceeded");
    return;
  }
  if (res->status == LL_INVOKE_GONE) {
    ll_api_error(req, REST, 404, "ResourceNotFoundException",
                 "Function not found: the function was deleted while the invocation waited");
    return;
  }
  ll_buf_t h = LL_BUF_INIT;
  /* AWS answers buffered invokes as application/json whatever type the runtime posted. */
  ll_buf_cat(&h, "Content-Type: application/json\r\nx-amzn-RequestId: ", res->request_id,
             "\r\nX-Amz-Executed-Version: $LATEST\r\n", NULL);
  if (res->status == LL_INVOKE_FUNCTION_ERROR) ll_buf_puts(&h, "X-Amz-Function-Error: Unhandled\r\n");
  if (res->log_tail) {
    char *b64 = ll_base64_encode(res->log_tail, res->log_tail_len);
    ll_buf_cat(&h, "X-Amz-Log-Result: ", b64, "\r\n", NULL);
    free(b64);
  }
  char *body = ll_malloc(res->len + 1);
  memcpy(body, res->body, res->len);
  ll_http_respond(req, 200, h.data, body, res->len);
  ll_buf_free(&h);
}

static void invoke(ll_http_req_t *req) {
  if (too_large(req, "InvokeFunction", LL_SYNC_PAYLOAD_MAX) || ll_api_authenticate(req, REST) < 0)
    return;
  char qual[160];
  ll_function_t *fn = find_function_q(req, req->params[0], true, qual);
  if (!fn) return;
  const ll_http_head_t *h = req->head;
  ll_autofree char *type = header_dup(h, "x-amz-invocation-type");
  ll_autofree char *log_type = header_dup(h, "x-amz-log-type");
  ll_autofree char *ctx64 = header_dup(h, "x-amz-client-context");
  ll_autofree char *trace = header_dup(h, "x-amzn-trace-id");
  const char *t = type ? type : "RequestResponse";
  bool async = strcmp(t, "Event") == 0, dry = strcmp(t, "DryRun") == 0;
  if (!async && !dry && strcmp(t, "RequestResponse") != 0) {
    ll_api_error(req, REST, 400, "ValidationException",
                 "1 validation error detected: Value '%s' at 'invocationType' failed to satisfy "
                 "constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]",
                 t);
    return;
  }
  if (log_type && strcmp(log_type, "None") != 0 && strcmp(log_type, "Tail") != 0) {
    ll_api_error(req, REST, 400, "ValidationException",
                 "1 validation error detected: Value '%s' at 'logType' failed to satisfy "
                 "constraint: Member must satisfy enum value set: [None, Tail]",
                 log_type);
    return;
  }
  if (async && req->body.len > LL_ASYNC_PAYLOAD_MAX) {
    ll_api_error(req, REST, 413, "RequestEntityTooLargeException",
                 "Request must be smaller than %u bytes for the InvokeFunction operation",
                 LL_ASYNC_PAYLOAD_MAX);
    return;
  }
  if (req->body.len) {
    json_error_t jerr;
    json_t *j = json_loadb(req->body.data, req->body.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!j) {
      ll_api_error(req, REST, 400, "InvalidRequestContentException",
                   "Could not parse request body into json: %s", jerr.text);
      return;
    }
    json_decref(j);
  }
  char *ctx = NULL;
  if (ctx64 && !async) {
    size_t n;
    ctx = (char *)ll_base64_decode(ctx64, strlen(ctx64), &n);
    if (!ctx) {
      ll_api_error(req, REST, 400, "InvalidParameterValueException",
                   "Client context must be a valid Base64-encoded JSON object.");
      return;
    }
    ctx = ll_realloc(ctx, n + 1);
    ctx[n] = '\0';
  }
  if (dry) {
    free(ctx);
    ll_api_empty(req, 204);
    return;
  }
  size_t len;
  char *payload = ll_buf_steal(&req->body, &len);
  char invoked_arn[400];
  snprintf(invoked_arn, sizeof invoked_arn, "arn:aws:lambda:%s:%s:function:%s%s%s",
           ll_api_region(req), ll_engine_account(engine_of(req)), fn->name, qual[0] ? ":" : "",
           qual);
  ll_invoke_opts_t opts = {
      .invoked_arn = invoked_arn,
      .want_log_tail = !async && log_type && strcmp(log_type, "Tail") == 0,
      .async = async,
      .trace_header = trace,
      .client_context = ctx,
  };
  char rid[37];
  ll_err_t err = LL_ERR_INIT;
  if (async) {
    /* 202 only once the event is on disk (engine/asyncq.c). */
    int r = ll_invoke_async(engine_of(req), fn, payload, len, trace, rid, &err);
    free(payload);
    if (r < 0) {
      ll_api_engine_error(req, &err);
    } else {
      char hdr[96];
      snprintf(hdr, sizeof hdr, "x-amzn-RequestId: %s\r\n", rid);
      ll_http_respond(req, 202, hdr, NULL, 0);
    }
  } else if (ll_invoke(engine_of(req), fn, payload, len, &opts, on_invoked, req, rid, &err) < 0) {
    throttled(req, err.code == LL_E_THROTTLED_RESERVED
                       ? "ReservedFunctionConcurrentInvocationLimitExceeded"
                       : "ConcurrentInvocationLimitExceeded");
  }
  free(ctx);
}

/* ---- event invoke config (async retries, age, destinations) ------------------------------ */

static json_t *event_invoke_config_json(ll_http_req_t *req, const ll_function_t *fn) {
  json_t *c = json_object_get(fn->config, "EventInvokeConfig");
  json_t *out = json_pack("{s:o}", "FunctionArn",
                          json_sprintf("arn:aws:lambda:%s:%s:function:%s:$LATEST",
                                       ll_api_region(req), ll_engine_account(engine_of(req)),
                                       fn->name));
  static const char *const keys[] = {"LastModified", "MaximumRetryAttempts",
                                     "MaximumEventAgeInSeconds", "DestinationConfig", NULL};
  for (int i = 0; keys[i]; i++)
    if (json_object_get(c, keys[i])) json_object_set(out, keys[i], json_object_get(c, keys[i]));
  if (!json_object_get(out, "DestinationConfig"))
    json_object_set_new(out, "DestinationConfig", json_pack("{s:{},s:{}}", "OnSuccess", "OnFailure"));
  return out;
}

static void put_event_invoke_config(ll_http_req_t *req, bool merge) {
  if (ll_api_authenticate(req, REST) < 0) return;
  ll_function_t *fn = find_function(req, req->params[0], false);
  if (!fn) return;
  json_t *doc = ll_api_body_json(req);
  if (!doc) return;
  json_t *cfg = json_object();
  static const char *const keys[] = {"MaximumRetryAttempts", "MaximumEventAgeInSeconds",
                                     "DestinationConfig", NULL};
  for (int i = 0; keys[i]; i++)
    if (json_object_get(doc, keys[i])) json_object_set(cfg, keys[i], json_object_get(doc, keys[i]));
  json_decref(doc);
  ll_err_t err = LL_ERR_INIT;
  if (merge && !json_object_get(fn->config, "EventInvokeConfig")) {
    json_decref(cfg);
    ll_api_error(req, REST, 404, "ResourceNotFoundException",
                 "The function arn:aws:lambda:%s:%s:function:%s:$LATEST doesn't have an "
                 "EventInvokeConfig",
                 ll_api_region(req), ll_engine_account(engine_of(req)), fn->name);
    return;
  }
  int r = ll_function_set_event_invoke_config(engine_of(req), fn->name, cfg, merge, &err);
  json_decref(cfg);
  if (r < 0)
    ll_api_engine_error(req, &err);
  else
    ll_api_json(req, 200, event_invoke_config_json(req, fn), NULL);
}

static void put_function_event_invoke_config(ll_http_req_t *req) { put_event_invoke_config(req, false); }
static void update_function_event_invoke_config(ll_http_req_t *req) { put_event_invoke_config(req, true); }

static void get_function_event_invoke_config(ll_http_req_t *req) {
  if (ll_api_authenticate(req, REST) < 0) return;
  ll_function_t *fn = find_function(req, req->params[0], false);
  if (!fn) return;
  if (!json_object_get(fn->config, "EventInvokeConfig")) {
    ll_api_error(req, REST, 404, "ResourceNotFoundException",
                 "The function arn:aws:lambda:%s:%s:function:%s:$LATEST doesn't have an "
                 "EventInvokeConfig",
                 ll_api_region(req), ll_engine_account(engine_of(req)), fn->name);
    return;
  }
  ll_api_json(req, 200, event_invoke_config_json(req, fn), NULL);
}

static void delete_function_event_invoke_config(ll_http_req_t *req) {
  if (ll_api_authenticate(req, REST) < 0) return;
  ll_function_t *fn = find_function(req, req->params[0], false);
  if (!fn) return;
  ll_err_t err = LL_ERR_INIT;
  if (ll_function_set_event_invoke_config(engine_of(req), fn->name, NULL, false, &err) < 0)
    ll_api_engine_error(req, &err);
  else
    ll_api_empty(req, 204);
}

/* ---- concurrency ------------------------------------------------------------------------- */

static void put_function_concurrency(ll_http_req_t *req) {
  if (ll_api_authenticate(req, REST) < 0) return;
  if (strchr(req->params[0], ':') && !strstr(req->params[0], ":function:")) {
    /* name:qualifier */
    ll_api_error(req, REST, 400, "InvalidParameterValueException",
                 "This operation is permitted on Lambda functions only. Aliases and versions do "
                 "not support this operation. Please specify either a function name or an "
                 "unqualified function ARN.");
    return;
  }
  ll_function_t *fn = find_function(req, req->params[0], false);
  if (!fn) return;
  json_t *doc = ll_api_body_json(req);
  if (!doc) return;
  json_t *n = json_object_get(doc, "ReservedConcurrentExecutions");
  if (!json_is_integer(n)) {
    json_decref(doc);
    ll_api_error(req, REST, 400, "ValidationException",
                 "1 validation error detected: Value null at 'reservedConcurrentExecutions' "
                 "failed to satisfy constraint: Member must not be null");
    return;
  }
  json_int_t want = json_integer_value(n);
  json_decref(doc);
  ll_err_t err = LL_ERR_INIT;
  if (ll_function_set_concurrency(engine_of(req), fn->name, want < 0 ? -2 : (int)want, &err) < 0)
    ll_api_engine_error(req, &err);
  else
    ll_api_json(req, 200, json_pack("{s:I}", "ReservedConcurrentExecutions", want), NULL);
}

static void get_function_concurrency(ll_http_req_t *req) {
  if (ll_api_authenticate(req, REST) < 0) return;
  ll_function_t *fn = find_function(req, req->params[0], false);
  if (!fn) return;
  ll_api_json(req, 200,
              fn->reserved >= 0 ? json_pack("{s:i}", "ReservedConcurrentExecutions", fn->reserved)
                                : json_object(),
              NULL);
}

static void delete_function_concurrency(ll_http_req_t *req) {
  if (ll_api_authenticate(req, REST) < 0) return;
  ll_function_t *fn = find_function(req, req->params[0], false);
  if (!fn) return;
  ll_err_t err = LL_ERR_INIT;
  if (ll_function_set_concurrency(engine_of(req), fn->name, -1, &err) < 0)
    ll_api_engine_error(req, &err);
  else
    ll_api_empty(req, 204);
}

/* ---- the route table --------------------------------------------------------------------- */

#define MB (1024u * 1024u)
const ll_http_route_t ll_lambda_routes[] = {
    {"POST", "/2015-03-31/functions/{}/invocations", invoke, LL_SYNC_PAYLOAD_MAX, "Invoke"},
    {"POST", "/2015-03-31/functions", create_function, 70167211, "CreateFunction"},
    {"GET", "/2015-03-31/functions", list_functions, MB, "ListFunctions"},
    {"GET", "/2015-03-31/functions/{}", get_function, MB, "GetFunction"},
    {"GET", "/2015-03-31/functions/{}/configuration", get_function_configuration, MB,
     "GetFunctionConfiguration"},
    {"GET", "/2015-03-31/functions/{}/code.zip", get_function_code, MB, "GetFunctionCode"},
    {"PUT", "/2015-03-31/functions/{}/code", update_function_code, 70167211, "UpdateFunctionCode"},
    {"PUT", "/2015-03-31/functions/{}/configuration", update_function_configuration, MB,
     "UpdateFunctionConfiguration"},
    {"DELETE", "/2015-03-31/functions/{}", delete_function, MB, "DeleteFunction"},
    {"PUT", "/2019-09-25/functions/{}/event-invoke-config", put_function_event_invoke_config, MB,
     "PutFunctionEventInvokeConfig"},
    {"POST", "/2019-09-25/functions/{}/event-invoke-config", update_function_event_invoke_config,
     MB, "UpdateFunctionEventInvokeConfig"},
    {"GET", "/2019-09-25/functions/{}/event-invoke-config", get_function_event_invoke_config, MB,
     "GetFunctionEventInvokeConfig"},
    {"DELETE", "/2019-09-25/functions/{}/event-invoke-config",
     delete_function_event_invoke_config, MB, "DeleteFunctionEventInvokeConfig"},
    {"PUT", "/2017-10-31/functions/{}/concurrency", put_function_concurrency, MB,
     "PutFunctionConcurrency"},
    {"GET", "/2019-09-30/functions/{}/concurrency", get_function_concurrency, MB,
     "GetFunctionConcurrency"},
    {"DELETE", "/2017-10-31/functions/{}/concurrency", delete_function_concurrency, MB,
     "DeleteFunctionConcurrency"},
    {"GET", "/2016-08-19/account-settings", get_account_settings, MB, "GetAccountSettings"},
    {"POST", "/2018-10-31/layers/{}/versions", publish_layer_version, 70167211,
     "PublishLayerVersion"},
    {"GET", "/2018-10-31/layers/{}/versions", list_layer_versions, MB, "ListLayerVersions"},
    {"GET", "/2018-10-31/layers", list_layers, MB, "ListLayers"},
    {"GET", "/2018-10-31/layers/{}/versions/{}", get_layer_version, MB, "GetLayerVersion"},
    {"DELETE", "/2018-10-31/layers/{}/versions/{}", delete_layer_version, MB,
     "DeleteLayerVersion"},
    {NULL, NULL, NULL, 0, NULL},
};

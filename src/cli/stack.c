/* `lambdalite deploy`, `deploy function`, `remove` and the stack part of `info`: the
 * Serverless Framework's commands against the daemon. The CLI compiles serverless.yml into a
 * CloudFormation template (src/stack/sls), zips the code (src/stack/package), uploads it to the
 * stack's deployment bucket over the daemon's S3 API, and sends the template to the daemon's
 * stack engine, printing its events as they come. As `serverless deploy` does, a new stack is
 * first made with its deployment bucket alone, so the code has somewhere to go. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "auth/sigv4.h"
#include "cli/cli.h"
#include "core/buf.h"
#include "core/encoding.h"
#include "core/mem.h"
#include "stack/package.h"
#include "stack/sls.h"

static const char deploy_usage[] =
    "usage: lambdalite deploy [-c serverless.yml] [--stage STAGE] [--region REGION]\n"
    "                         [--allow-unknown] [--endpoint URL]\n"
    "       lambdalite deploy function -f NAME [-c serverless.yml] [--stage STAGE]\n\n"
    "Deploys the service described by serverless.yml (Serverless Framework v3 format) as a stack:\n"
    "packages each function's code, uploads it, and creates, updates or deletes resources to\n"
    "match the file, in dependency order; a failure rolls the stack back. A deploy of an\n"
    "unchanged file changes nothing. `deploy function` replaces one function's code only.\n\n"
    "  -c, --config FILE    the service file (default ./serverless.yml)\n"
    "  -s, --stage STAGE    the stage (default provider.stage, else dev)\n"
    "  -r, --region REGION  the region (default provider.region, else us-east-1)\n"
    "  --allow-unknown      report keys this version does not understand as warnings instead\n"
    "                       of refusing the file\n"
    "  -f, --function NAME  (deploy function) the function, by its key under functions:\n";

static const char remove_usage[] =
    "usage: lambdalite remove [-c serverless.yml] [--stage STAGE] [--endpoint URL]\n\n"
    "Deletes every resource the service's stack made (its deployment bucket emptied first),\n"
    "then the stack. Resources it did not make are left alone.\n";

typedef struct opts {
  const char *config, *stage, *region, *endpoint, *function;
  bool allow_unknown, as_json;
} opts_t;

static int parse(int argc, char **argv, const char *usage, opts_t *o) {
  static const struct option longs[] = {
      {"config", required_argument, 0, 'c'}, {"stage", required_argument, 0, 's'},
      {"region", required_argument, 0, 'r'}, {"allow-unknown", no_argument, 0, 'u'},
      {"endpoint", required_argument, 0, 'E'}, {"function", required_argument, 0, 'f'},
      {"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "c:s:r:f:h", longs, NULL)) != -1) {
    switch (c) {
      case 'c': o->config = optarg; break;
      case 's': o->stage = optarg; break;
      case 'r': o->region = optarg; break;
      case 'u': o->allow_unknown = true; break;
      case 'E': o->endpoint = optarg; break;
      case 'f': o->function = optarg; break;
      case 'j': o->as_json = true; break;
      case 'h': fputs(usage, stdout); return 0;
      default: fputs(usage, stderr); return 2;
    }
  }
  if (!o->config) o->config = "serverless.yml";
  return -1;
}

static int compile(const opts_t *o, ll_sls_result_t *res) {
  ll_sls_opts_t so = {.stage = o->stage, .region = o->region, .allow_unknown = o->allow_unknown};
  ll_err_t err = LL_ERR_INIT;
  if (ll_sls_compile(o->config, &so, res, &err) < 0) {
    fprintf(stderr, "lambdalite: %s\n", err.msg);
    return -1;
  }
  for (size_t i = 0; i < res->nwarnings; i++) fprintf(stderr, "warning: %s\n", res->warnings[i]);
  return 0;
}

/* ---- events ---------------------------------------------------------------------------------- */

typedef struct printer {
  json_t *summary; /* the final line's Summary (owned) */
  json_t *error;   /* its Error, if any (owned) */
} printer_t;

static void on_line(void *ud, const char *line, size_t len) {
  printer_t *p = ud;
  json_t *ev = json_loadb(line, len, 0, NULL);
  if (!ev) return;
  if (json_object_get(ev, "Summary")) {
    json_decref(p->summary);
    p->summary = json_incref(json_object_get(ev, "Summary"));
    p->error = json_incref(json_object_get(ev, "Error"));
    json_decref(ev);
    return;
  }
  const char *status = json_string_value(json_object_get(ev, "ResourceStatus"));
  const char *type = json_string_value(json_object_get(ev, "ResourceType"));
  const char *lid = json_string_value(json_object_get(ev, "LogicalResourceId"));
  const char *phys = json_string_value(json_object_get(ev, "PhysicalResourceId"));
  const char *why = json_string_value(json_object_get(ev, "ResourceStatusReason"));
  bool stack = type && strcmp(type, "AWS::CloudFormation::Stack") == 0;
  bool show = status && (stack || !strstr(status, "_IN_PROGRESS"));
  if (show) {
    if (stack)
      printf("  %-34s %s\n", status, lid ? lid : "");
    else
      printf("  %-34s %-32s %s%s%s%s\n", status, type ? type : "", lid ? lid : "",
             phys ? " (" : "", phys ? phys : "", phys ? ")" : "");
    if (why && *why) printf("      %s\n", why);
    fflush(stdout);
  }
  json_decref(ev);
}

/* Sends a stack operation and prints its events; 0 when it succeeded. */
static int stack_call(const opts_t *o, const char *method, const char *path, const char *body,
                      size_t len, json_t **summary) {
  printer_t p = {NULL, NULL};
  ll_client_response_t resp;
  const char *hdrs[] = {"Content-Type: application/json", NULL};
  if (ll_client_request_lines(ll_client_endpoint(o->endpoint), "lambda", method, path, body, len,
                              hdrs, on_line, &p, &resp) < 0)
    return -1;
  int rc = 0;
  if (resp.status != 200) {
    ll_client_report_error(&resp);
    rc = -1;
  } else if (!p.summary) {
    fprintf(stderr, "lambdalite: the daemon ended the answer before the operation finished "
                    "(did it stop?); `lambdalite info` shows the stack's state\n");
    rc = -1;
  } else if (p.error) {
    fprintf(stderr, "lambdalite: %s failed: %s\n  the stack is %s\n",
            strcmp(method, "DELETE") == 0 ? "remove" : "deploy",
            json_string_value(json_object_get(p.error, "message")),
            json_string_value(json_object_get(p.summary, "StackStatus")));
    rc = -1;
  }
  ll_client_response_free(&resp);
  json_decref(p.error);
  if (summary) *summary = p.summary;
  else json_decref(p.summary);
  return rc;
}

static json_t *describe(const opts_t *o, const char *stack, long *status) {
  char *path = ll_sprintf("/lambdalite/v1/stacks/%s", stack);
  ll_client_response_t resp;
  json_t *doc = NULL;
  *status = 0;
  if (ll_client_request(ll_client_endpoint(o->endpoint), "lambda", "GET", path, NULL, 0, NULL,
                        &resp) == 0) {
    *status = resp.status;
    if (resp.status == 200) doc = json_loads(resp.body, 0, NULL);
    else if (resp.status != 400) ll_client_report_error(&resp);
    ll_client_response_free(&resp);
  } else {
    *status = -1;
  }
  free(path);
  return doc;
}

static const char *output_of(json_t *stack, const char *key) {
  size_t i;
  json_t *o;
  json_array_foreach(json_object_get(stack, "Outputs"), i, o) {
    if (strcmp(json_string_value(json_object_get(o, "OutputKey")) ?: "", key) == 0)
      return json_string_value(json_object_get(o, "OutputValue"));
  }
  return NULL;
}

/* ---- code ------------------------------------------------------------------------------------ */

static int read_file(const char *path, unsigned char **out, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  ll_buf_t b = LL_BUF_INIT;
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) ll_buf_append(&b, chunk, n);
  fclose(f);
  *out = (unsigned char *)ll_buf_steal(&b, len);
  return 0;
}

/* The artifact's zip: the file given, or its folder zipped (deterministically). */
static int artifact_zip(const ll_sls_artifact_t *a, unsigned char **zip, size_t *len) {
  if (!a->is_dir) {
    if (read_file(a->path, zip, len) == 0) return 0;
    fprintf(stderr, "lambdalite: reading %s: %m\n", a->path);
    return -1;
  }
  ll_err_t err = LL_ERR_INIT;
  if (ll_package_dir(a->path, (const char *const *)a->patterns, zip, len, &err) == 0) return 0;
  fprintf(stderr, "lambdalite: packaging %s: %s\n", a->logical_id, err.msg);
  return -1;
}

static const char *base_name(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

/* Packages and uploads every artifact, setting each Code/Content S3Key; same bytes, same key,
 * so an unchanged function is an unchanged resource. */
static int upload_code(const opts_t *o, ll_sls_result_t *res, const char *bucket) {
  for (size_t i = 0; i < res->nartifacts; i++) {
    ll_sls_artifact_t *a = &res->artifacts[i];
    unsigned char *zip;
    size_t len;
    if (artifact_zip(a, &zip, &len) < 0) return -1;
    char hex[65];
    ll_sha256_hex((const char *)zip, len, hex);
    const char *name = a->is_dir ? NULL : base_name(a->path);
    char *key = name ? ll_sprintf("serverless/%s/%s/code-%.16s/%s", res->service, res->stage, hex, name)
                     : ll_sprintf("serverless/%s/%s/code-%.16s/%s.zip", res->service, res->stage,
                                  hex, a->logical_id);
    char *path = ll_sprintf("/%s/%s", bucket, key);
    ll_client_response_t resp;
    int rc = ll_client_request(ll_client_endpoint(o->endpoint), "s3", "PUT", path, (const char *)zip,
                               len, NULL, &resp);
    free(path);
    free(zip);
    if (rc == 0 && resp.status != 200) {
      fprintf(stderr, "lambdalite: uploading %s to s3://%s/%s: HTTP %ld: %.300s\n", a->logical_id,
              bucket, key, resp.status, resp.body ? resp.body : "");
      rc = -1;
    }
    if (rc == 0) printf("  packaged %-40s %7.1f KB  s3://%s/%s\n", a->logical_id, (double)len / 1024, bucket, key);
    ll_client_response_free(&resp);
    if (rc < 0) {
      free(key);
      return -1;
    }
    json_object_set_new(a->code, "S3Bucket", json_string(bucket));
    json_object_set_new(a->code, "S3Key", json_string(key));
    free(key);
  }
  return 0;
}

/* The deployment bucket's name: made first with the stack when the stack is new. */
static char *deployment_bucket(const opts_t *o, ll_sls_result_t *res) {
  json_t *resources = json_object_get(res->template, "Resources");
  json_t *bucket = json_object_get(resources, "ServerlessDeploymentBucket");
  if (!bucket) { /* provider.deploymentBucket: a bucket of the user's */
    for (size_t i = 0; i < res->nartifacts; i++) {
      const char *b = json_string_value(json_object_get(res->artifacts[i].code, "S3Bucket"));
      if (b) return ll_strdup(b);
    }
    return NULL;
  }
  long status;
  json_t *stack = describe(o, res->stack_name, &status);
  if (status < 0) return NULL;
  const char *name = stack ? output_of(stack, "ServerlessDeploymentBucketName") : NULL;
  if (!name) {
    json_t *core = json_pack("{s:s,s:{s:O},s:{s:{s:{s:s}}}}", "AWSTemplateFormatVersion", "2010-09-09",
                             "Resources", "ServerlessDeploymentBucket", bucket, "Outputs",
                             "ServerlessDeploymentBucketName", "Value", "Ref", "ServerlessDeploymentBucket");
    json_t *policy = json_object_get(resources, "ServerlessDeploymentBucketPolicy");
    if (policy) json_object_set(json_object_get(core, "Resources"), "ServerlessDeploymentBucketPolicy", policy);
    /* a stack that exists keeps its other resources: merge the core into what is deployed */
    if (stack) {
      fprintf(stderr, "lambdalite: stack %s exists but has no deployment bucket output; "
                      "remove it first (lambdalite remove)\n", res->stack_name);
      json_decref(core);
      json_decref(stack);
      return NULL;
    }
    char *text = json_dumps(core, JSON_COMPACT);
    json_decref(core);
    char *path = ll_sprintf("/lambdalite/v1/stacks/%s", res->stack_name);
    printf("Creating stack %s with its deployment bucket...\n", res->stack_name);
    int rc = stack_call(o, "POST", path, text, strlen(text), NULL);
    free(text);
    free(path);
    if (rc < 0) return NULL;
    stack = describe(o, res->stack_name, &status);
    name = stack ? output_of(stack, "ServerlessDeploymentBucketName") : NULL;
  }
  char *out = name ? ll_strdup(name) : NULL;
  json_decref(stack);
  return out;
}

static int print_summary(json_t *summary) {
  json_int_t c = json_integer_value(json_object_get(summary, "Created")),
             u = json_integer_value(json_object_get(summary, "Updated")),
             d = json_integer_value(json_object_get(summary, "Deleted")),
             n = json_integer_value(json_object_get(summary, "Unchanged"));
  double s = (double)json_integer_value(json_object_get(summary, "ElapsedMs")) / 1000.0;
  if (json_is_true(json_object_get(summary, "NoChanges")))
    printf("No changes: stack %s is up to date (%lld resources, %.2f s)\n",
           json_string_value(json_object_get(summary, "StackName")), (long long)n, s);
  else
    printf("Stack %s: %s in %.2f s (%lld created, %lld updated, %lld deleted, %lld unchanged)\n",
           json_string_value(json_object_get(summary, "StackName")),
           json_string_value(json_object_get(summary, "StackStatus")), s, (long long)c,
           (long long)u, (long long)d, (long long)n);
  return 0;
}

static int deploy_function(const opts_t *o, ll_sls_result_t *res) {
  json_t *f = json_object_get(res->functions, o->function);
  if (!f) {
    fprintf(stderr, "lambdalite: %s has no function %s (functions:", o->config, o->function);
    const char *k;
    json_t *v;
    json_object_foreach(res->functions, k, v) fprintf(stderr, " %s", k);
    fprintf(stderr, ")\n");
    return 1;
  }
  const char *lid = json_string_value(json_object_get(f, "logical_id"));
  const char *name = json_string_value(json_object_get(f, "name"));
  for (size_t i = 0; i < res->nartifacts; i++) {
    if (strcmp(res->artifacts[i].logical_id, lid) != 0) continue;
    unsigned char *zip;
    size_t len;
    if (artifact_zip(&res->artifacts[i], &zip, &len) < 0) return 1;
    char *b64 = ll_base64_encode(zip, len);
    free(zip);
    json_t *body = json_pack("{s:s}", "ZipFile", b64);
    free(b64);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    char *path = ll_sprintf("/2015-03-31/functions/%s/code", name);
    ll_client_response_t resp;
    const char *hdrs[] = {"Content-Type: application/json", NULL};
    int rc = ll_client_request(ll_client_endpoint(o->endpoint), "lambda", "PUT", path, text,
                               strlen(text), hdrs, &resp);
    free(path);
    free(text);
    if (rc < 0) return 1;
    if (resp.status != 200) {
      rc = ll_client_report_error(&resp);
    } else {
      json_t *doc = json_loads(resp.body, 0, NULL);
      printf("Function %s (%s) updated: %lld bytes, CodeSha256 %s\n", o->function, name,
             (long long)json_integer_value(json_object_get(doc, "CodeSize")),
             json_string_value(json_object_get(doc, "CodeSha256")));
      json_decref(doc);
    }
    ll_client_response_free(&resp);
    return rc;
  }
  fprintf(stderr, "lambdalite: function %s has no code to deploy\n", o->function);
  return 1;
}

/* One daemon is one region: say so when the file names another (ARNs will carry the daemon's). */
static void note_region(const opts_t *o, const char *wanted) {
  ll_client_response_t resp;
  if (ll_client_request(ll_client_endpoint(o->endpoint), "lambda", "GET", "/lambdalite/v1/info",
                        NULL, 0, NULL, &resp) < 0)
    return;
  json_t *doc = resp.status == 200 ? json_loads(resp.body, 0, NULL) : NULL;
  const char *region = json_string_value(json_object_get(doc, "region"));
  if (region && wanted && strcmp(region, wanted) != 0)
    printf("  note: the service names region %s; this daemon's resources live in %s (their ARNs "
           "and AWS::Region say so)\n", wanted, region);
  json_decref(doc);
  ll_client_response_free(&resp);
}

int ll_cmd_deploy(int argc, char **argv) {
  opts_t o = {0};
  bool fn_only = argc > 1 && strcmp(argv[1], "function") == 0;
  int rc0 = fn_only ? parse(argc - 1, argv + 1, deploy_usage, &o) : parse(argc, argv, deploy_usage, &o);
  if (rc0 >= 0) return rc0;
  if (optind != (fn_only ? argc - 1 : argc)) {
    fputs(deploy_usage, stderr);
    return 2;
  }
  if (fn_only && !o.function) {
    fprintf(stderr, "lambdalite deploy function: which one? -f NAME\n");
    return 2;
  }
  ll_sls_result_t res;
  if (compile(&o, &res) < 0) return 1;
  int rc = 1;
  if (fn_only) {
    rc = deploy_function(&o, &res);
    ll_sls_result_free(&res);
    return rc;
  }
  printf("Deploying %s (service %s, stage %s) to %s\n", res.stack_name, res.service, res.stage,
         ll_client_endpoint(o.endpoint));
  note_region(&o, res.region);
  char *bucket = deployment_bucket(&o, &res);
  json_t *summary = NULL;
  if (bucket && upload_code(&o, &res, bucket) == 0) {
    char *text = json_dumps(res.template, JSON_COMPACT);
    char *path = ll_sprintf("/lambdalite/v1/stacks/%s", res.stack_name);
    int r = stack_call(&o, "POST", path, text, strlen(text), &summary);
    free(text);
    free(path);
    if (r == 0) {
      print_summary(summary);
      const char *k;
      json_t *v;
      if (json_object_size(res.functions)) printf("functions:\n");
      json_object_foreach(res.functions, k, v)
          printf("  %s: %s\n", k, json_string_value(json_object_get(v, "name")));
      json_t *outs = json_object_get(summary, "Outputs");
      if (json_object_size(outs)) printf("outputs:\n");
      json_object_foreach(outs, k, v) {
        char *t = json_is_string(v) ? ll_strdup(json_string_value(v)) : json_dumps(v, JSON_ENCODE_ANY);
        printf("  %s: %s\n", k, t);
        free(t);
      }
      rc = 0;
    }
  }
  json_decref(summary);
  free(bucket);
  ll_sls_result_free(&res);
  return rc;
}

int ll_cmd_remove(int argc, char **argv) {
  opts_t o = {0};
  int rc0 = parse(argc, argv, remove_usage, &o);
  if (rc0 >= 0) return rc0;
  if (optind != argc) {
    fputs(remove_usage, stderr);
    return 2;
  }
  /* only the stack's name matters here: a key this version does not know must not keep a
   * deployed stack from going */
  ll_sls_result_t res;
  ll_sls_opts_t so = {.stage = o.stage, .region = o.region, .allow_unknown = true};
  ll_err_t err = LL_ERR_INIT;
  if (ll_sls_compile(o.config, &so, &res, &err) < 0) {
    fprintf(stderr, "lambdalite: %s\n", err.msg);
    return 1;
  }
  printf("Removing %s from %s\n", res.stack_name, ll_client_endpoint(o.endpoint));
  char *path = ll_sprintf("/lambdalite/v1/stacks/%s?EmptyBuckets=ServerlessDeploymentBucket", res.stack_name);
  json_t *summary = NULL;
  int rc = stack_call(&o, "DELETE", path, NULL, 0, &summary) == 0 ? 0 : 1;
  if (rc == 0)
    printf("Stack %s removed: %lld resources deleted in %.2f s\n", res.stack_name,
           (long long)json_integer_value(json_object_get(summary, "Deleted")),
           (double)json_integer_value(json_object_get(summary, "ElapsedMs")) / 1000.0);
  json_decref(summary);
  free(path);
  ll_sls_result_free(&res);
  return rc;
}

int ll__info_stack(const char *endpoint, const char *config, const char *stage, json_t *doc,
                   bool as_json) {
  struct stat st;
  if (!config && stat("serverless.yml", &st) != 0) return 0; /* no service here */
  opts_t o = {.config = config ? config : "serverless.yml", .stage = stage, .endpoint = endpoint,
              .allow_unknown = true};
  ll_sls_result_t res;
  ll_sls_opts_t so = {.stage = stage, .allow_unknown = true};
  ll_err_t err = LL_ERR_INIT;
  if (ll_sls_compile(o.config, &so, &res, &err) < 0) {
    fprintf(stderr, "lambdalite: %s\n", err.msg);
    return 1;
  }
  long status;
  json_t *stack = describe(&o, res.stack_name, &status);
  if (as_json) {
    json_t *s = stack ? json_incref(stack) : json_pack("{s:s,s:s}", "StackName", res.stack_name, "StackStatus", "NOT_DEPLOYED");
    json_object_set(s, "Functions", res.functions);
    json_object_set_new(doc, "stack", s);
  } else if (!stack) {
    printf("stack      %s: not deployed (lambdalite deploy -c %s)\n", res.stack_name, o.config);
  } else {
    printf("stack      %s: %s (last change %s)\n", res.stack_name,
           json_string_value(json_object_get(stack, "StackStatus")),
           json_string_value(json_object_get(stack, "LastUpdatedTime")) ?: "?");
    const char *why = json_string_value(json_object_get(stack, "StackStatusReason"));
    if (why) printf("  %s\n", why);
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(stack, "Resources"), i, r)
        printf("  %-40s %-32s %s\n", json_string_value(json_object_get(r, "LogicalResourceId")),
               json_string_value(json_object_get(r, "ResourceType")),
               json_string_value(json_object_get(r, "PhysicalResourceId")));
    const char *k;
    json_t *v;
    json_object_foreach(res.functions, k, v)
        printf("  function %s: %s\n", k, json_string_value(json_object_get(v, "name")));
    json_array_foreach(json_object_get(stack, "Outputs"), i, r) {
      json_t *val = json_object_get(r, "OutputValue");
      char *t = json_is_string(val) ? ll_strdup(json_string_value(val)) : json_dumps(val, JSON_ENCODE_ANY);
      printf("  output %s: %s\n", json_string_value(json_object_get(r, "OutputKey")), t);
      free(t);
    }
  }
  json_decref(stack);
  ll_sls_result_free(&res);
  return 0;
}

/* The resource providers of the stack engine (stack_int.h): one per CloudFormation type, each
 * mapping the type's properties (CloudFormation's names) onto the daemon's own module calls,
 * which validate them as their APIs do. Property lists are those of the CloudFormation
 * resource reference, restricted to what the daemon has; a property outside the list is refused
 * by the template check, never ignored. Accepted and without effect here, on purpose:
 * S3 BucketEncryption / PublicAccessBlockConfiguration / OwnershipControls (objects are files
 * on the daemon's disk), AWS::S3::BucketPolicy (kept, not enforced: requests to the daemon are
 * plain HTTP on loopback, and the Serverless deployment bucket's policy denies exactly that),
 * AWS::Lambda::Permission (any principal may invoke; the permission's function must exist). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/policy.h"
#include "core/mem.h"
#include "core/random.h"
#include "engine/engine.h"
#include "objstore/notify.h"
#include "objstore/store.h"
#include "stack/stack_int.h"
#include "stream/esm.h"
#include "stream/stream.h"
#include "table/schema.h"
#include "table/table.h"

#define ENV(job) ll__stacks_env((job)->stacks)

static const char *str(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

/* CloudFormation's name for a resource without one: STACK-LOGICALID-RANDOM, within max. */
static char *generated_name(const ll_stack_job_t *job, size_t max, bool lower) {
  char rnd[13];
  static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  unsigned char b[12];
  ll_random_bytes(b, sizeof b);
  for (int i = 0; i < 12; i++) rnd[i] = al[b[i] % 36];
  rnd[12] = 0;
  size_t room = max > 14 ? max - 14 : 0; /* "-" + 12 + "-" */
  size_t sn = strlen(job->stack_name), ln = strlen(job->logical_id);
  if (sn + ln + 1 > room) {
    if (sn > room / 2) sn = room / 2;
    if (ln > room - sn - 1) ln = room - sn - 1;
  }
  char *out = ll_sprintf("%.*s-%.*s-%s", (int)sn, job->stack_name, (int)ln, job->logical_id, rnd);
  if (lower)
    for (char *p = out; *p; p++) *p = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
  return out;
}

/* The given name property, or a generated one (caller frees). */
static char *name_or_generated(ll_stack_job_t *job, const char *prop, size_t max, bool lower) {
  const char *n = str(job->props, prop);
  return n ? ll_strdup(n) : generated_name(job, max, lower);
}

/* CloudFormation's Tags list [{Key, Value}] as the {key: value} map the APIs take. */
static json_t *tag_map(json_t *tags) {
  json_t *m = json_object();
  size_t i;
  json_t *t;
  json_array_foreach(tags, i, t) {
    const char *k = str(t, "Key"), *v = str(t, "Value");
    if (k) json_object_set_new(m, k, json_string(v ? v : ""));
  }
  return m;
}

static bool changed(ll_stack_job_t *job, const char *prop) {
  json_t *a = json_object_get(job->old_props, prop), *b = json_object_get(job->props, prop);
  return !(a == b || (a && b && json_equal(a, b)));
}

/* The name part of a function name or ARN (arn:aws:lambda:r:a:function:NAME[:qualifier]). */
static void function_name_of(const char *s, char out[256]) {
  const char *p = s && strstr(s, ":function:") ? strstr(s, ":function:") + 10 : s ? s : "";
  snprintf(out, 256, "%.*s", (int)strcspn(p, ":"), p);
}

/* ---- AWS::Kinesis::Stream ------------------------------------------------------------------ */

static void stream_attrs(ll_stack_job_t *job, const char *name) {
  ll_streams_t *ss = ENV(job)->streams;
  job->attrs = json_object();
  json_object_set_new(job->attrs, "Arn", json_sprintf("arn:aws:kinesis:%s:%s:stream/%s",
                                                      ll_streams_region(ss), ll_streams_account(ss), name));
}

static int stream_create(ll_stack_job_t *job) {
  ll_streams_t *ss = ENV(job)->streams;
  char *name = name_or_generated(job, "Name", 128, false);
  const char *mode = str(json_object_get(job->props, "StreamModeDetails"), "StreamMode");
  bool on_demand = mode && strcmp(mode, "ON_DEMAND") == 0;
  json_t *sc = json_object_get(job->props, "ShardCount");
  long long shards = sc ? (json_is_string(sc) ? strtoll(json_string_value(sc), NULL, 10) : json_integer_value(sc))
                        : (on_demand ? -1 : 1);
  if (mode && !on_demand && strcmp(mode, "PROVISIONED") != 0) {
    free(name);
    return ll_err_set(&job->err, LL_E_VALIDATION, "StreamMode must be ON_DEMAND or PROVISIONED, got %s", mode);
  }
  if (!on_demand && (shards < 1 || shards > 100000)) {
    free(name);
    return ll_err_set(&job->err, LL_E_VALIDATION, "ShardCount must be between 1 and 100000");
  }
  json_t *tags = tag_map(json_object_get(job->props, "Tags"));
  int rc = ll_stream_create(ss, name, (int)shards, on_demand, tags, &job->err);
  json_decref(tags);
  json_t *ret = json_object_get(job->props, "RetentionPeriodHours");
  if (rc == 0 && ret) {
    ll_stream_t *st = ll_stream_find(ss, name);
    if (st && ll_stream_set_retention(ss, st, (int)json_integer_value(ret), &job->err) < 0) {
      ll_err_t ignore = LL_ERR_INIT;
      ll_stream_delete(ss, name, &ignore);
      rc = -1;
    }
  }
  if (rc == 0) {
    job->new_physical = name;
    stream_attrs(job, name);
  } else {
    free(name);
  }
  return rc;
}

static int stream_update(ll_stack_job_t *job) {
  ll_streams_t *ss = ENV(job)->streams;
  ll_stream_t *st = ll_stream_find(ss, job->physical);
  if (!st) return ll_err_set(&job->err, LL_E_NOT_FOUND, "Stream %s under account %s not found.", job->physical, ll_streams_account(ss));
  if (changed(job, "ShardCount") || changed(job, "StreamModeDetails"))
    return ll_err_set(&job->err, LL_E_VALIDATION,
                      "changing ShardCount or StreamModeDetails of a deployed stream is not "
                      "supported yet (no resharding): rename the stream to replace it");
  if (changed(job, "RetentionPeriodHours")) {
    json_t *r = json_object_get(job->props, "RetentionPeriodHours");
    if (ll_stream_set_retention(ss, st, r ? (int)json_integer_value(r) : 24, &job->err) < 0) return -1;
  }
  if (changed(job, "Tags")) {
    json_t *old = tag_map(json_object_get(job->old_props, "Tags"));
    json_t *add = tag_map(json_object_get(job->props, "Tags")), *drop = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(old, k, v) if (!json_object_get(add, k)) json_array_append_new(drop, json_string(k));
    int rc = ll_stream_tag(ss, st, add, drop, &job->err);
    json_decref(old);
    json_decref(add);
    json_decref(drop);
    if (rc < 0) return -1;
  }
  return 0;
}

static int stream_remove(ll_stacks_t *s, const char *phys, json_t *props, json_t *attrs, bool empty,
                         ll_err_t *err) {
  ll_streams_t *ss = ll__stacks_env(s)->streams;
  if (!ll_stream_find(ss, phys)) return 0;
  return ll_stream_delete(ss, phys, err);
}

/* ---- AWS::DynamoDB::Table ------------------------------------------------------------------- */

static int table_create(ll_stack_job_t *job) {
  ll_engine_t *e = ENV(job)->engine;
  json_t *req = json_deep_copy(job->props);
  if (!json_object_get(req, "TableName"))
    json_object_set_new(req, "TableName", json_string_nocheck(generated_name(job, 255, false)));
  const char *name = str(req, "TableName");
  json_t *desc = NULL;
  json_object_del(req, "Tags");
  int rc = ll_table_create_from(ENV(job)->tables, req, ll_engine_region(e), ll_engine_account(e),
                                &desc, &job->err);
  if (rc == 0) {
    job->new_physical = ll_strdup(name);
    job->attrs = json_pack("{s:O}", "Arn", json_object_get(desc, "TableArn"));
    json_decref(desc);
  }
  json_decref(req);
  return rc;
}

static int table_update(ll_stack_job_t *job) {
  if (!changed(job, "BillingMode") && !changed(job, "ProvisionedThroughput")) return 0; /* tags */
  json_t *req = json_pack("{s:s}", "TableName", job->physical);
  json_t *b = json_object_get(job->props, "BillingMode"), *pt = json_object_get(job->props, "ProvisionedThroughput");
  json_object_set_new(req, "BillingMode", b ? json_incref(b) : json_string("PROVISIONED"));
  if (pt) json_object_set(req, "ProvisionedThroughput", pt);
  int rc = ll_table_update_from(ENV(job)->tables, req, &job->err);
  json_decref(req);
  return rc;
}

static int table_remove(ll_stacks_t *s, const char *phys, json_t *props, json_t *attrs, bool empty,
                        ll_err_t *err) {
  ll_table_info_t info;
  ll_tables_t *t = ll__stacks_env(s)->tables;
  if (ll_table_get(t, phys, &info, err) < 0) return 0;
  ll_table_info_free(&info);
  return ll_table_delete(t, phys, err);
}

/* ---- AWS::S3::Bucket (with NotificationConfiguration) --------------------------------------- */

/* NotificationConfiguration.LambdaConfigurations -> the store's JSON list; "" when none. */
static int notification_json(ll_stack_job_t *job, char **out) {
  json_t *nc = json_object_get(job->props, "NotificationConfiguration");
  *out = NULL;
  if (!nc) return 0;
  const char *k;
  json_t *v;
  json_object_foreach(nc, k, v) {
    if (strcmp(k, "LambdaConfigurations") != 0)
      return ll_err_set(&job->err, LL_E_VALIDATION,
                        "NotificationConfiguration.%s is not supported: there is no SNS, SQS or "
                        "EventBridge here; use LambdaConfigurations", k);
  }
  json_t *list = json_array();
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(nc, "LambdaConfigurations"), i, c) {
    const char *ev = str(c, "Event"), *fn = str(c, "Function");
    char name[256];
    function_name_of(fn, name);
    if (!ll_notify_event_known(ev)) {
      json_decref(list);
      return ll_err_set(&job->err, LL_E_VALIDATION, "The event is not supported for notifications: %s", ev ? ev : "(none)");
    }
    if (!fn || !ll_function_find(ENV(job)->engine, name)) {
      json_decref(list);
      return ll_err_set(&job->err, LL_E_VALIDATION,
                        "Unable to validate the following destination configurations: the "
                        "function %s does not exist", fn ? fn : "(none)");
    }
    char id[64];
    snprintf(id, sizeof id, "%s-%zu", job->logical_id, i + 1);
    json_t *cfg = json_pack("{s:s,s:s,s:[s]}", "Id", id, "FunctionArn", fn, "Events", ev);
    size_t j;
    json_t *r;
    json_array_foreach(json_object_get(json_object_get(json_object_get(c, "Filter"), "S3Key"), "Rules"), j, r) {
      const char *n = str(r, "Name"), *val = str(r, "Value");
      const char *which = n && strcasecmp(n, "prefix") == 0 ? "Prefix" : n && strcasecmp(n, "suffix") == 0 ? "Suffix" : NULL;
      if (!which || !val) {
        json_decref(cfg);
        json_decref(list);
        return ll_err_set(&job->err, LL_E_VALIDATION, "FilterRule names must be prefix or suffix (got %s)", n ? n : "none");
      }
      json_object_set_new(cfg, which, json_string(val));
    }
    json_array_append_new(list, cfg);
  }
  *out = json_dumps(list, JSON_COMPACT);
  json_decref(list);
  return 0;
}

static void bucket_attrs(ll_stack_job_t *job, const char *name) {
  job->attrs = json_object();
  json_object_set_new(job->attrs, "Arn", json_sprintf("arn:aws:s3:::%s", name));
  json_object_set_new(job->attrs, "DomainName", json_sprintf("%s.s3.amazonaws.com", name));
  json_object_set_new(job->attrs, "RegionalDomainName",
                      json_sprintf("%s.s3.%s.amazonaws.com", name, ll_engine_region(ENV(job)->engine)));
}

static int bucket_create(ll_stack_job_t *job) {
  char *name = name_or_generated(job, "BucketName", 63, true);
  const char *why = ll_bucket_name_problem(name);
  char *notif = NULL;
  int rc = -1;
  if (why)
    ll_err_set(&job->err, LL_E_VALIDATION, "Bucket name %s: %s", name, why);
  else if (notification_json(job, &notif) == 0 &&
           ll_bucket_create(ENV(job)->objects, name, ll_engine_region(ENV(job)->engine), &job->err) == 0)
    rc = 0;
  if (rc == 0 && notif && ll_bucket_set_notification(ENV(job)->objects, name, notif, &job->err) < 0) {
    ll_err_t ignore = LL_ERR_INIT;
    ll_bucket_delete(ENV(job)->objects, name, &ignore);
    rc = -1;
  }
  free(notif);
  if (rc == 0) {
    job->new_physical = name;
    bucket_attrs(job, name);
  } else {
    free(name);
  }
  return rc;
}

static int bucket_update(ll_stack_job_t *job) {
  if (!changed(job, "NotificationConfiguration")) return 0;
  char *notif = NULL;
  if (notification_json(job, &notif) < 0) return -1;
  int rc = ll_bucket_set_notification(ENV(job)->objects, job->physical, notif ? notif : "", &job->err);
  free(notif);
  return rc;
}

static int bucket_remove(ll_stacks_t *s, const char *phys, json_t *props, json_t *attrs, bool empty,
                         ll_err_t *err) {
  ll_objstore_t *os = ll__stacks_env(s)->objects;
  ll_bucket_info_t info;
  if (ll_bucket_get(os, phys, &info, err) < 0) return 0;
  while (empty) { /* the Serverless Framework empties its deployment bucket before removing */
    ll_obj_listing_t l = {0};
    if (ll_obj_list(os, phys, NULL, NULL, NULL, 1000, &l, err) < 0) return -1;
    size_t n = l.nobjects;
    for (size_t i = 0; i < n; i++) ll_obj_delete(os, phys, l.objects[i].key, NULL, NULL, err);
    ll_obj_listing_free(&l);
    if (n == 0) break;
  }
  if (ll_bucket_delete(os, phys, err) == 0) return 0;
  if (err->code == LL_OS_NOT_EMPTY)
    ll_err_set(err, LL_OS_NOT_EMPTY,
               "The bucket you tried to delete is not empty (%s): empty it first "
               "(aws s3 rm s3://%s --recursive)", phys, phys);
  return -1;
}

/* ---- AWS::S3::BucketPolicy, AWS::Lambda::Permission, AWS::Logs::LogGroup --------------------- */

static int bucket_policy_create(ll_stack_job_t *job) {
  const char *b = str(job->props, "Bucket");
  ll_bucket_info_t info;
  if (!b || ll_bucket_get(ENV(job)->objects, b, &info, &job->err) < 0)
    return ll_err_set(&job->err, LL_E_NOT_FOUND, "The specified bucket does not exist: %s", b ? b : "(none)");
  if (!json_is_object(json_object_get(job->props, "PolicyDocument")))
    return ll_err_set(&job->err, LL_E_VALIDATION, "PolicyDocument must be a policy document (an object)");
  job->new_physical = ll_strdup(b);
  return 0;
}

static int bucket_policy_update(ll_stack_job_t *job) { return bucket_policy_create(job); }

static int nothing_to_remove(ll_stacks_t *s, const char *phys, json_t *props, json_t *attrs,
                             bool empty, ll_err_t *err) {
  return 0;
}

static int permission_create(ll_stack_job_t *job) {
  char name[256];
  function_name_of(str(job->props, "FunctionName"), name);
  if (!ll_function_find(ENV(job)->engine, name))
    return ll_err_set(&job->err, LL_E_NOT_FOUND, "Function not found: %s", str(job->props, "FunctionName") ?: "");
  const char *action = str(job->props, "Action");
  if (!action || (strncmp(action, "lambda:", 7) != 0 && strcmp(action, "*") != 0))
    return ll_err_set(&job->err, LL_E_VALIDATION, "Action must be lambda:InvokeFunction or another lambda: action, got %s", action ? action : "(none)");
  job->new_physical = generated_name(job, 100, false);
  return 0;
}

static int log_group_create(ll_stack_job_t *job) {
  json_t *r = json_object_get(job->props, "RetentionInDays");
  static const int allowed[] = {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653, 0};
  bool ok = !r;
  for (int i = 0; r && allowed[i]; i++) ok |= json_integer_value(r) == allowed[i];
  if (!ok)
    return ll_err_set(&job->err, LL_E_VALIDATION, "RetentionInDays %lld is not one of CloudWatch Logs' values (1, 3, 5, 7, 14, 30, 60, 90, ...)", (long long)json_integer_value(r));
  char *name = job->physical ? ll_strdup(job->physical) : name_or_generated(job, "LogGroupName", 512, false);
  job->attrs = json_object();
  json_object_set_new(job->attrs, "Arn", json_sprintf("arn:aws:logs:%s:%s:log-group:%s:*",
                                                      ll_engine_region(ENV(job)->engine),
                                                      ll_engine_account(ENV(job)->engine), name));
  if (!job->physical) job->new_physical = name;
  else free(name);
  return 0;
}

/* ---- AWS::IAM::Role ------------------------------------------------------------------------- */

static int role_check(ll_stack_job_t *job, json_t **docs) {
  if (json_array_size(json_object_get(job->props, "ManagedPolicyArns")))
    return ll_err_set(&job->err, LL_E_VALIDATION,
                      "ManagedPolicyArns are not supported yet: put the statements in Policies");
  if (json_object_get(job->props, "PermissionsBoundary"))
    return ll_err_set(&job->err, LL_E_VALIDATION, "PermissionsBoundary is not supported yet");
  *docs = json_array();
  size_t i;
  json_t *p;
  json_array_foreach(json_object_get(job->props, "Policies"), i, p) {
    json_t *doc = json_object_get(p, "PolicyDocument");
    if (!str(p, "PolicyName") || !json_is_object(doc)) {
      json_decref(*docs);
      return ll_err_set(&job->err, LL_E_VALIDATION,
                        "Policies[%zu] needs a PolicyName and a PolicyDocument", i);
    }
    json_array_append(*docs, doc);
  }
  /* refused here as IAM refuses it, rather than at the first call the function makes */
  ll_policy_t *pol = NULL;
  char why[512];
  if (ll_policy_parse(*docs, &pol, why, sizeof why) < 0) {
    json_decref(*docs);
    return ll_err_set(&job->err, LL_E_VALIDATION, "Policies: %s", why);
  }
  ll_policy_unref(pol);
  return 0;
}

static int role_create(ll_stack_job_t *job) {
  json_t *docs;
  if (role_check(job, &docs) < 0) return -1;
  char *name = name_or_generated(job, "RoleName", 64, false);
  const char *path = str(job->props, "Path");
  if (!path) path = "/";
  if (path[0] != '/' || path[strlen(path) - 1] != '/') {
    free(name);
    json_decref(docs);
    return ll_err_set(&job->err, LL_E_VALIDATION, "Path must begin and end with /: %s", path);
  }
  char id[22] = "AROA";
  static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  unsigned char b[17];
  ll_random_bytes(b, sizeof b);
  for (int i = 0; i < 17; i++) id[4 + i] = al[b[i] % 32];
  id[21] = 0;
  job->new_physical = name;
  job->attrs = json_pack("{s:s}", "RoleId", id);
  json_object_set_new(job->attrs, "Arn", json_sprintf("arn:aws:iam::%s:role%s%s",
                                                      ll_engine_account(ENV(job)->engine), path, name));
  ll__stacks_role_set(job->stacks, str(job->attrs, "Arn"), docs);
  json_decref(docs);
  return 0;
}

static int role_update(ll_stack_job_t *job) {
  json_t *docs;
  if (role_check(job, &docs) < 0) return -1;
  ll__stacks_role_set(job->stacks, str(job->old_attrs, "Arn"), docs);
  json_decref(docs);
  return 0;
}

static int role_remove(ll_stacks_t *s, const char *phys, json_t *props, json_t *attrs, bool empty,
                       ll_err_t *err) {
  const char *arn = str(attrs, "Arn");
  if (arn) ll__stacks_role_drop(s, arn);
  return 0;
}

/* ---- AWS::Lambda::Function and AWS::Lambda::LayerVersion ------------------------------------ */

/* The zip named by Code/Content {S3Bucket, S3Key}, read from the object store. */
static int code_zip(ll_stack_job_t *job, json_t *code, uint8_t **zip, size_t *len) {
  const char *bucket = str(code, "S3Bucket"), *key = str(code, "S3Key");
  if (json_object_get(code, "ZipFile") || json_object_get(code, "ImageUri"))
    return ll_err_set(&job->err, LL_E_VALIDATION,
                      "inline ZipFile and ImageUri code are not supported: give S3Bucket and S3Key "
                      "of a zip uploaded to the daemon's object store");
  if (!bucket || !key || !*key)
    return ll_err_set(&job->err, LL_E_VALIDATION, "Code needs S3Bucket and S3Key");
  int fd = -1;
  ll_obj_info_t info;
  memset(&info, 0, sizeof info);
  if (ll_obj_open(ENV(job)->objects, bucket, key, &fd, &info, &job->err) < 0)
    return ll_err_set(&job->err, LL_E_INVALID_PARAM,
                      "Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: "
                      "The specified key does not exist (s3://%s/%s)", bucket, key);
  if (info.size > LL_UNZIPPED_MAX) {
    close(fd);
    ll_obj_info_free(&info);
    return ll_err_set(&job->err, LL_E_TOO_LARGE, "Unzipped size must be smaller than %u bytes", LL_UNZIPPED_MAX);
  }
  *len = (size_t)info.size;
  *zip = ll_malloc(*len ? *len : 1);
  size_t got = 0;
  while (got < *len) {
    ssize_t n = pread(fd, *zip + got, *len - got, (off_t)got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
  }
  close(fd);
  ll_obj_info_free(&info);
  if (got != *len) {
    free(*zip);
    return ll_err_set(&job->err, EIO, "reading s3://%s/%s: short read", bucket, key);
  }
  return 0;
}

static const char *const fn_config_keys[] = {"Runtime", "Handler", "Role", "Description", "Timeout",
                                             "MemorySize", "Environment", "Layers", "Architectures",
                                             "EphemeralStorage", "TracingConfig", NULL};

/* The CreateFunction-shaped config of the properties (new reference). */
static json_t *fn_config(json_t *props, const char *name) {
  json_t *c = json_pack("{s:s}", "FunctionName", name);
  for (const char *const *k = fn_config_keys; *k; k++) {
    json_t *v = json_object_get(props, *k);
    if (v) json_object_set(c, *k, v);
  }
  if (json_object_get(props, "Tags"))
    json_object_set_new(c, "Tags", tag_map(json_object_get(props, "Tags")));
  return c;
}

static void fn_attrs(ll_stack_job_t *job, ll_function_t *fn) {
  job->attrs = json_pack("{s:s}", "Arn", fn->arn);
}

static int fn_reserved(ll_stack_job_t *job, const char *name) {
  json_t *r = json_object_get(job->props, "ReservedConcurrentExecutions");
  if (!r && !json_object_get(job->old_props, "ReservedConcurrentExecutions")) return 0;
  return ll_function_set_concurrency(ENV(job)->engine, name, r ? (int)json_integer_value(r) : -1, &job->err);
}

static void fn_created(void *ud, ll_function_t *fn, const ll_err_t *err) {
  ll_stack_job_t *job = ud;
  int rc = -1;
  if (!fn) {
    job->err = *err;
  } else if (fn_reserved(job, fn->name) == 0) {
    fn_attrs(job, fn);
    rc = 0;
  } else {
    ll_err_t ignore = LL_ERR_INIT;
    ll_function_delete(ENV(job)->engine, fn->name, &ignore);
    free(job->new_physical);
    job->new_physical = NULL;
  }
  job->done(job, rc);
}

static int fn_create(ll_stack_job_t *job) {
  uint8_t *zip;
  size_t len;
  if (code_zip(job, json_object_get(job->props, "Code"), &zip, &len) < 0) return -1;
  char *name = name_or_generated(job, "FunctionName", 64, false);
  if (str(job->props, "PackageType") && strcmp(str(job->props, "PackageType"), "Zip") != 0) {
    free(zip);
    free(name);
    return ll_err_set(&job->err, LL_E_VALIDATION, "PackageType Image is not supported yet: package the function as a zip");
  }
  json_t *cfg = fn_config(job->props, name);
  job->new_physical = name;
  if (ll_function_create(ENV(job)->engine, cfg, zip, len, fn_created, job, &job->err) < 0) {
    free(job->new_physical);
    job->new_physical = NULL;
    return -1;
  }
  return 1;
}

/* Configuration first (synchronous), then the code when it changed (asynchronous). */
static int fn_apply_config(ll_stack_job_t *job) {
  json_t *changes = json_object();
  for (const char *const *k = fn_config_keys; *k; k++) {
    if (!changed(job, *k)) continue;
    json_t *v = json_object_get(job->props, *k);
    if (v) json_object_set(changes, *k, v);
    else if (strcmp(*k, "Environment") == 0) json_object_set_new(changes, *k, json_pack("{s:{}}", "Variables"));
    else if (strcmp(*k, "Layers") == 0) json_object_set_new(changes, *k, json_array());
    else if (strcmp(*k, "Description") == 0) json_object_set_new(changes, *k, json_string(""));
    else if (strcmp(*k, "Timeout") == 0) json_object_set_new(changes, *k, json_integer(3));
    else if (strcmp(*k, "MemorySize") == 0) json_object_set_new(changes, *k, json_integer(128));
  }
  int rc = 0;
  ll_function_t *fn = NULL;
  if (json_object_size(changes))
    rc = ll_function_update_config(ENV(job)->engine, job->physical, changes, &fn, &job->err);
  json_decref(changes);
  if (rc == 0 && changed(job, "ReservedConcurrentExecutions")) rc = fn_reserved(job, job->physical);
  return rc;
}

static void fn_code_updated(void *ud, ll_function_t *fn, const ll_err_t *err) {
  ll_stack_job_t *job = ud;
  if (!fn) job->err = *err;
  job->done(job, fn ? 0 : -1);
}

static int fn_update(ll_stack_job_t *job) {
  if (fn_apply_config(job) < 0) return -1;
  if (!changed(job, "Code")) return 0;
  uint8_t *zip;
  size_t len;
  if (code_zip(job, json_object_get(job->props, "Code"), &zip, &len) < 0) return -1;
  if (ll_function_update_code(ENV(job)->engine, job->physical, zip, len, NULL, fn_code_updated, job,
                              &job->err) < 0)
    return -1;
  return 1;
}

static int fn_remove(ll_stacks_t *s, const char *phys, json_t *props, json_t *attrs, bool empty,
                     ll_err_t *err) {
  ll_engine_t *e = ll__stacks_env(s)->engine;
  if (!ll_function_find(e, phys)) return 0;
  return ll_function_delete(e, phys, err);
}

static void layer_published(void *ud, ll_layer_version_t *lv, const ll_err_t *err) {
  ll_stack_job_t *job = ud;
  if (!lv) {
    job->err = *err;
    job->done(job, -1);
    return;
  }
  job->new_physical = ll_strdup(lv->version_arn);
  job->attrs = json_pack("{s:s}", "LayerVersionArn", lv->version_arn);
  job->done(job, 0);
}

static int layer_create(ll_stack_job_t *job) {
  uint8_t *zip;
  size_t len;
  if (code_zip(job, json_object_get(job->props, "Content"), &zip, &len) < 0) return -1;
  char *name = name_or_generated(job, "LayerName", 140, false);
  json_t *info = json_object();
  static const char *const keys[] = {"Description", "CompatibleRuntimes", "CompatibleArchitectures", "LicenseInfo", NULL};
  for (const char *const *k = keys; *k; k++)
    if (json_object_get(job->props, *k)) json_object_set(info, *k, json_object_get(job->props, *k));
  int rc = ll_layer_publish(ENV(job)->engine, name, info, zip, len, layer_published, job, &job->err);
  free(name);
  return rc < 0 ? -1 : 1;
}

static int layer_remove(ll_stacks_t *s, const char *phys, json_t *props, json_t *attrs, bool empty,
                        ll_err_t *err) {
  ll_engine_t *e = ll__stacks_env(s)->engine;
  ll_layer_version_t *lv = ll_layer_find_arn(e, phys);
  if (!lv) return 0;
  char *name = ll_strdup(lv->name);
  ll_layer_delete(e, name, lv->version);
  free(name);
  return 0;
}

/* ---- AWS::Lambda::EventSourceMapping -------------------------------------------------------- */

static int esm_create(ll_stack_job_t *job) {
  json_t *out = NULL;
  json_t *req = json_deep_copy(job->props);
  int rc = ll_esm_create(ENV(job)->esms, req, &out, &job->err);
  json_decref(req);
  if (rc < 0) return -1;
  const char *uuid = str(out, "UUID");
  job->new_physical = ll_strdup(uuid);
  job->attrs = json_pack("{s:s}", "Id", uuid);
  json_decref(out);
  return 0;
}

static int esm_update(ll_stack_job_t *job) {
  json_t *req = json_object();
  const char *k;
  json_t *v;
  json_object_foreach(job->props, k, v) {
    if (strcmp(k, "EventSourceArn") && strcmp(k, "StartingPosition") && strcmp(k, "StartingPositionTimestamp"))
      json_object_set(req, k, v);
  }
  /* settings taken out of the template go back to their defaults */
  static const struct { const char *k; int v; } defaults[] = {
      {"BatchSize", 100}, {"MaximumBatchingWindowInSeconds", 0}, {"MaximumRetryAttempts", -1},
      {"MaximumRecordAgeInSeconds", -1}, {"ParallelizationFactor", 1}};
  for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
    if (!json_object_get(req, defaults[i].k) && json_object_get(job->old_props, defaults[i].k))
      json_object_set_new(req, defaults[i].k, json_integer(defaults[i].v));
  if (!json_object_get(req, "BisectBatchOnFunctionError") && json_object_get(job->old_props, "BisectBatchOnFunctionError"))
    json_object_set_new(req, "BisectBatchOnFunctionError", json_false());
  if (!json_object_get(req, "Enabled") && json_object_get(job->old_props, "Enabled"))
    json_object_set_new(req, "Enabled", json_true());
  if (!json_object_get(req, "FunctionResponseTypes") && json_object_get(job->old_props, "FunctionResponseTypes"))
    json_object_set_new(req, "FunctionResponseTypes", json_array());
  json_t *out = NULL;
  int rc = ll_esm_update(ENV(job)->esms, job->physical, req, &out, &job->err);
  json_decref(req);
  json_decref(out);
  return rc;
}

static int esm_remove(ll_stacks_t *s, const char *phys, json_t *props, json_t *attrs, bool empty,
                      ll_err_t *err) {
  ll_esms_t *m = ll__stacks_env(s)->esms;
  json_t *cur = ll_esm_get(m, phys);
  if (!cur) return 0;
  json_decref(cur);
  json_t *out = NULL;
  int rc = ll_esm_delete(m, phys, &out, err);
  json_decref(out);
  return rc;
}

/* ---- AWS::Events::Rule (schedules) ---------------------------------------------------------- */

static int rule_check(ll_stack_job_t *job) {
  if (json_object_get(job->props, "EventPattern"))
    return ll_err_set(&job->err, LL_E_VALIDATION, "EventPattern rules are not supported yet: there is no event bus; use ScheduleExpression");
  if (!str(job->props, "ScheduleExpression"))
    return ll_err_set(&job->err, LL_E_VALIDATION, "a rule needs a ScheduleExpression");
  size_t i;
  json_t *t;
  json_array_foreach(json_object_get(job->props, "Targets"), i, t) {
    const char *arn = str(t, "Arn");
    char name[256];
    function_name_of(arn, name);
    if (!arn || !strstr(arn, ":function:") || !ll_function_find(ENV(job)->engine, name))
      return ll_err_set(&job->err, LL_E_VALIDATION, "Targets[%zu].Arn must name a function of this daemon, got %s", i, arn ? arn : "(none)");
  }
  return 0;
}

static int rule_create(ll_stack_job_t *job) {
  if (rule_check(job) < 0) return -1;
  char *name = job->physical ? ll_strdup(job->physical) : name_or_generated(job, "Name", 64, false);
  char *arn = ll_sprintf("arn:aws:events:%s:%s:rule/%s", ll_engine_region(ENV(job)->engine),
                         ll_engine_account(ENV(job)->engine), name);
  int rc = ll__stacks_schedule_start(job->stacks, arn, job->props, &job->err);
  if (rc == 0) {
    job->attrs = json_pack("{s:s}", "Arn", arn);
    if (!job->physical) job->new_physical = name;
    else free(name);
  } else {
    free(name);
  }
  free(arn);
  return rc;
}

static int rule_remove(ll_stacks_t *s, const char *phys, json_t *props, json_t *attrs, bool empty,
                       ll_err_t *err) {
  const char *arn = str(attrs, "Arn");
  if (arn) ll__stacks_schedule_stop(s, arn);
  return 0;
}

/* ---- Custom::S3 (the Serverless Framework's notification on an existing bucket) -------------- */

/* The bucket's configurations without those this resource added (Id prefix "<physical>-"). */
static json_t *foreign_configs(ll_objstore_t *os, const char *bucket, const char *prefix, ll_err_t *err) {
  char *text = NULL;
  if (ll_bucket_get_notification(os, bucket, &text, err) < 0) return NULL;
  json_t *all = text ? json_loads(text, 0, NULL) : NULL, *keep = json_array();
  free(text);
  size_t i;
  json_t *c;
  json_array_foreach(all, i, c) {
    const char *id = str(c, "Id");
    if (!id || strncmp(id, prefix, strlen(prefix)) != 0) json_array_append(keep, c);
  }
  json_decref(all);
  return keep;
}

static int custom_s3_apply(ll_stack_job_t *job, const char *phys) {
  ll_objstore_t *os = ENV(job)->objects;
  const char *bucket = str(job->props, "BucketName"), *fname = str(job->props, "FunctionName");
  ll_function_t *fn = fname ? ll_function_find(ENV(job)->engine, fname) : NULL;
  if (!fn) return ll_err_set(&job->err, LL_E_NOT_FOUND, "Function not found: %s", fname ? fname : "(none)");
  char prefix[300];
  snprintf(prefix, sizeof prefix, "%s-", phys);
  json_t *list = bucket ? foreign_configs(os, bucket, prefix, &job->err) : NULL;
  if (!list)
    return ll_err_set(&job->err, LL_E_NOT_FOUND, "The specified bucket does not exist: %s (an existing: true bucket must exist before the deploy)", bucket ? bucket : "(none)");
  size_t i;
  json_t *bc;
  json_array_foreach(json_object_get(job->props, "BucketConfigs"), i, bc) {
    const char *ev = str(bc, "Event");
    if (!ll_notify_event_known(ev)) {
      json_decref(list);
      return ll_err_set(&job->err, LL_E_VALIDATION, "The event is not supported for notifications: %s", ev ? ev : "(none)");
    }
    json_t *cfg = json_pack("{s:o,s:s,s:[s]}", "Id", json_sprintf("%s%zu", prefix, i + 1),
                            "FunctionArn", fn->arn, "Events", ev);
    size_t j;
    json_t *r;
    json_array_foreach(json_object_get(bc, "Rules"), j, r) {
      if (str(r, "Prefix")) json_object_set(cfg, "Prefix", json_object_get(r, "Prefix"));
      if (str(r, "Suffix")) json_object_set(cfg, "Suffix", json_object_get(r, "Suffix"));
    }
    json_array_append_new(list, cfg);
  }
  char *text = json_dumps(list, JSON_COMPACT);
  json_decref(list);
  int rc = ll_bucket_set_notification(os, bucket, text, &job->err);
  free(text);
  return rc;
}

static int custom_s3_create(ll_stack_job_t *job) {
  char *phys = generated_name(job, 100, false);
  if (custom_s3_apply(job, phys) < 0) {
    free(phys);
    return -1;
  }
  job->new_physical = phys;
  return 0;
}

static int custom_s3_update(ll_stack_job_t *job) { return custom_s3_apply(job, job->physical); }

static int custom_s3_remove(ll_stacks_t *s, const char *phys, json_t *props, json_t *attrs,
                            bool empty, ll_err_t *err) {
  ll_objstore_t *os = ll__stacks_env(s)->objects;
  const char *bucket = str(props, "BucketName");
  char prefix[300];
  snprintf(prefix, sizeof prefix, "%s-", phys);
  ll_err_t e2 = LL_ERR_INIT;
  json_t *list = bucket ? foreign_configs(os, bucket, prefix, &e2) : NULL;
  if (!list) return 0; /* the bucket is gone: so is its configuration */
  char *text = json_array_size(list) ? json_dumps(list, JSON_COMPACT) : NULL;
  json_decref(list);
  int rc = ll_bucket_set_notification(os, bucket, text ? text : "", err);
  free(text);
  return rc;
}

/* ---- the table ------------------------------------------------------------------------------ */

#define L(...) (const char *const[]){__VA_ARGS__, NULL}

static const ll_stack_provider_t providers[] = {
    {"AWS::Kinesis::Stream", L("Name", "ShardCount", "RetentionPeriodHours", "StreamModeDetails", "Tags"),
     NULL, L("Name"), false, stream_create, stream_update, stream_remove},
    {"AWS::DynamoDB::Table",
     L("TableName", "KeySchema", "AttributeDefinitions", "BillingMode", "ProvisionedThroughput", "Tags"),
     L("KeySchema", "AttributeDefinitions"), L("TableName", "KeySchema", "AttributeDefinitions"), false,
     table_create, table_update, table_remove},
    {"AWS::S3::Bucket",
     L("BucketName", "NotificationConfiguration", "BucketEncryption", "PublicAccessBlockConfiguration",
       "OwnershipControls", "Tags"),
     NULL, L("BucketName"), false, bucket_create, bucket_update, bucket_remove},
    {"AWS::S3::BucketPolicy", L("Bucket", "PolicyDocument"), L("Bucket", "PolicyDocument"), L("Bucket"),
     false, bucket_policy_create, bucket_policy_update, nothing_to_remove},
    {"AWS::Lambda::Function",
     L("Code", "FunctionName", "Handler", "Runtime", "Role", "MemorySize", "Timeout", "Environment",
       "Layers", "Description", "Architectures", "EphemeralStorage", "TracingConfig", "Tags",
       "ReservedConcurrentExecutions", "PackageType"),
     L("Code", "Role"), L("FunctionName", "PackageType"), false, fn_create, fn_update, fn_remove},
    {"AWS::Lambda::LayerVersion",
     L("Content", "LayerName", "Description", "CompatibleRuntimes", "CompatibleArchitectures", "LicenseInfo"),
     L("Content"), NULL, true, layer_create, NULL, layer_remove},
    {"AWS::Lambda::EventSourceMapping",
     L("EventSourceArn", "FunctionName", "BatchSize", "StartingPosition", "StartingPositionTimestamp",
       "MaximumBatchingWindowInSeconds", "MaximumRetryAttempts", "MaximumRecordAgeInSeconds",
       "BisectBatchOnFunctionError", "ParallelizationFactor", "FunctionResponseTypes",
       "DestinationConfig", "Enabled", "TumblingWindowInSeconds"),
     L("FunctionName"), L("EventSourceArn", "StartingPosition", "StartingPositionTimestamp"), false,
     esm_create, esm_update, esm_remove},
    {"AWS::Lambda::Permission",
     L("Action", "FunctionName", "Principal", "SourceArn", "SourceAccount", "EventSourceToken",
       "FunctionUrlAuthType", "PrincipalOrgID"),
     L("Action", "FunctionName", "Principal"), NULL, false, permission_create, NULL, nothing_to_remove},
    {"AWS::IAM::Role",
     L("AssumeRolePolicyDocument", "Policies", "Path", "RoleName", "ManagedPolicyArns", "Description",
       "MaxSessionDuration", "Tags", "PermissionsBoundary"),
     L("AssumeRolePolicyDocument"), L("RoleName", "Path"), false, role_create, role_update, role_remove},
    {"AWS::Logs::LogGroup", L("LogGroupName", "RetentionInDays", "Tags"), NULL, L("LogGroupName"), false,
     log_group_create, log_group_create, nothing_to_remove},
    {"AWS::Events::Rule",
     L("Name", "ScheduleExpression", "State", "Targets", "Description", "EventPattern"), NULL, L("Name"),
     false, rule_create, rule_create, rule_remove},
    {"Custom::S3", L("ServiceToken", "FunctionName", "BucketName", "BucketConfigs"),
     L("FunctionName", "BucketName"), L("BucketName"), false, custom_s3_create, custom_s3_update,
     custom_s3_remove},
    {NULL},
};

const ll_stack_provider_t *ll__stack_provider(const char *type) {
  for (const ll_stack_provider_t *p = providers; type && p->type; p++)
    if (strcmp(p->type, type) == 0) return p;
  return NULL;
}

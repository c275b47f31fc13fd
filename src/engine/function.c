/* Functions and layers: validation, code extraction (off the loop), the registry, and the
 * engine's open/close. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/encoding.h"
#include "core/mem.h"
#include "core/random.h"
#include "engine/engine_int.h"

/* ---- small filesystem helpers ------------------------------------------------------------ */

int ll__mkdirs(const char *path, int mode) {
  char *p = ll_strdup(path);
  for (char *s = p + 1; *s; s++) {
    if (*s != '/') continue;
    *s = '\0';
    if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST) {
      int e = errno;
      free(p);
      return -e;
    }
    *s = '/';
  }
  int r = mkdir(p, (mode_t)mode) < 0 && errno != EEXIST ? -errno : 0;
  free(p);
  return r;
}

int ll__rmtree(const char *path) {
  DIR *d = opendir(path);
  if (!d) return unlink(path) == 0 || errno == ENOENT ? 0 : -errno;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    char *child = ll_sprintf("%s/%s", path, de->d_name);
    struct stat st;
    if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode))
      ll__rmtree(child);
    else
      unlink(child);
    free(child);
  }
  closedir(d);
  return rmdir(path) == 0 ? 0 : -errno;
}

/* Hard-links (or copies, across file systems) the tree src into dst, replacing files that
 * exist: how layers merge into /opt in order. */
static int link_tree(const char *src, const char *dst) {
  DIR *d = opendir(src);
  if (!d) return -errno;
  int r = ll__mkdirs(dst, 0755);
  struct dirent *de;
  while (r == 0 && (de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    char *s = ll_sprintf("%s/%s", src, de->d_name), *t = ll_sprintf("%s/%s", dst, de->d_name);
    struct stat st;
    if (lstat(s, &st) == 0) {
      if (S_ISDIR(st.st_mode)) {
        r = link_tree(s, t);
      } else if (S_ISLNK(st.st_mode)) {
        char target[4096];
        ssize_t n = readlink(s, target, sizeof target - 1);
        if (n >= 0) {
          target[n] = '\0';
          unlink(t);
          if (symlink(target, t) < 0) r = -errno;
        }
      } else {
        unlink(t);
        if (link(s, t) < 0) r = -errno;
      }
    }
    free(s);
    free(t);
  }
  closedir(d);
  return r;
}

/* ---- zip extraction (runs on the thread pool) ------------------------------------------- */

/* Extracts zip bytes into dir (created). Refuses absolute paths, '..' and links leaving the
 * tree; keeps permission bits (a bootstrap must stay executable). Returns 0 or fills err. */
static int extract_zip(const uint8_t *zip, size_t len, const char *dir, uint64_t *unzipped,
                       ll_err_t *err) {
  int r = ll__mkdirs(dir, 0755);
  if (r < 0) return ll_err_set(err, -r, "creating %s: %s", dir, strerror(-r));
  struct archive *a = archive_read_new();
  archive_read_support_format_zip(a);
  struct archive *w = archive_write_disk_new();
  archive_write_disk_set_options(w, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                                        ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                        ARCHIVE_EXTRACT_SECURE_SYMLINKS);
  int rc = 0;
  *unzipped = 0;
  if (archive_read_open_memory(a, zip, len) != ARCHIVE_OK) {
    rc = ll_err_set(err, LL_E_INVALID_ZIP,
                    "Could not unzip uploaded file. Please check your file, then try to upload "
                    "again.");
    goto out;
  }
  struct archive_entry *ent;
  for (;;) {
    int h = archive_read_next_header(a, &ent);
    if (h == ARCHIVE_EOF) break;
    if (h != ARCHIVE_OK && h != ARCHIVE_WARN) {
      rc = ll_err_set(err, LL_E_INVALID_ZIP,
                      "Could not unzip uploaded file. Please check your file, then try to upload "
                      "again. (%s)",
                      archive_error_string(a));
      goto out;
    }
    const char *name = archive_entry_pathname(ent);
    /* Entries are placed under dir, so absolute names are refused here (libarchive's own check
     * would refuse our prefixed path too). */
    if (!name || name[0] == '/') {
      rc = ll_err_set(err, LL_E_INVALID_ZIP,
                      "Could not unzip uploaded file: entry %s has an absolute path",
                      name ? name : "(unnamed)");
      goto out;
    }
    char *full = ll_sprintf("%s/%s", dir, name);
    archive_entry_set_pathname(ent, full);
    free(full);
    /* Zips made without Unix attributes carry no mode: give files rw-r--r--, dirs rwxr-xr-x. */
    mode_t mode = archive_entry_perm(ent);
    if (mode == 0) archive_entry_set_perm(ent, archive_entry_filetype(ent) == AE_IFDIR ? 0755 : 0644);
    if (archive_write_header(w, ent) != ARCHIVE_OK) {
      rc = ll_err_set(err, LL_E_INVALID_ZIP, "Could not unzip uploaded file: %s: %s", name,
                      archive_error_string(w));
      goto out;
    }
    const void *buf;
    size_t sz;
    la_int64_t off;
    while ((h = archive_read_data_block(a, &buf, &sz, &off)) == ARCHIVE_OK) {
      *unzipped += sz;
      if (*unzipped > LL_UNZIPPED_MAX) {
        rc = ll_err_set(err, LL_E_TOO_LARGE, "Unzipped size must be smaller than %u bytes",
                        LL_UNZIPPED_MAX);
        goto out;
      }
      if (archive_write_data_block(w, buf, sz, off) != ARCHIVE_OK) {
        rc = ll_err_set(err, LL_E_INTERNAL, "writing %s: %s", name, archive_error_string(w));
        goto out;
      }
    }
    if (h != ARCHIVE_EOF) {
      rc = ll_err_set(err, LL_E_INVALID_ZIP, "Could not unzip uploaded file: %s: %s", name,
                      archive_error_string(a));
      goto out;
    }
    archive_write_finish_entry(w);
  }
out:
  archive_read_free(a);
  archive_write_free(w);
  return rc;
}

/* CodeSha256 as Lambda reports it: base64 of the SHA-256 of the zip, into out[48]. */
static void code_sha256(const uint8_t *zip, size_t len, char out[48]) {
  uint8_t digest[32];
  ll_sha256(zip, len, digest);
  char *b64 = ll_base64_encode(digest, 32);
  snprintf(out, 48, "%s", b64);
  free(b64);
}

static int write_file(const char *path, const void *p, size_t len) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -errno;
  const char *b = p;
  while (len) {
    ssize_t n = write(fd, b, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      close(fd);
      return -e;
    }
    b += n;
    len -= (size_t)n;
  }
  return close(fd) == 0 ? 0 : -errno;
}

/* ---- the registry ------------------------------------------------------------------------ */

static int fn_cmp(const void *a, const void *b) {
  return strcmp((*(ll_function_t *const *)a)->name, (*(ll_function_t *const *)b)->name);
}

ll_function_t *ll_function_find(ll_engine_t *e, const char *name) {
  if (e->nfns == 0) return NULL;
  ll_function_t key = {.name = (char *)name}, *kp = &key;
  ll_function_t **f = bsearch(&kp, e->fns, e->nfns, sizeof *e->fns, fn_cmp);
  return f ? *f : NULL;
}

void ll__function_insert(ll_engine_t *e, ll_function_t *fn) {
  e->fns = ll_realloc(e->fns, (e->nfns + 1) * sizeof *e->fns);
  e->fns[e->nfns++] = fn;
  qsort(e->fns, e->nfns, sizeof *e->fns, fn_cmp);
}

static void function_remove(ll_engine_t *e, ll_function_t *fn) {
  for (size_t i = 0; i < e->nfns; i++) {
    if (e->fns[i] != fn) continue;
    memmove(&e->fns[i], &e->fns[i + 1], (e->nfns - i - 1) * sizeof *e->fns);
    e->nfns--;
    return;
  }
}

size_t ll_function_list(ll_engine_t *e, ll_function_t ***out) {
  *out = ll_malloc(e->nfns * sizeof **out);
  if (e->nfns) memcpy(*out, e->fns, e->nfns * sizeof **out);
  return e->nfns;
}

void ll_function_ref(ll_function_t *fn) { fn->refs++; }

void ll_function_unref(ll_function_t *fn) {
  if (--fn->refs > 0) return;
  free(fn->name);
  free(fn->arn);
  json_decref(fn->config);
  free(fn->code_dir);
  free(fn->opt_dir);
  free(fn->sched);
  free(fn);
}

json_t *ll_function_env(const ll_function_t *fn) {
  json_t *vars = json_object_get(json_object_get(fn->config, "Environment"), "Variables");
  static json_t *empty;
  if (!empty) empty = json_object();
  return vars ? vars : empty;
}

int64_t ll_functions_total_code_size(ll_engine_t *e) {
  int64_t n = 0;
  for (size_t i = 0; i < e->nfns; i++) n += e->fns[i]->code_size;
  return n;
}

static char *function_dir(ll_engine_t *e, const char *name) {
  return ll_sprintf("%s/functions/%s", e->data_dir, name);
}

static void apply_limits(ll_function_t *fn) {
  fn->memory_mb = (int)json_integer_value(json_object_get(fn->config, "MemorySize"));
  fn->timeout_s = (int)json_integer_value(json_object_get(fn->config, "Timeout"));
}

ll_function_t *ll__function_from_record(ll_engine_t *e, json_t *rec) {
  json_t *config = json_object_get(rec, "Config");
  const char *name = json_string_value(json_object_get(config, "FunctionName"));
  const char *code_dir = json_string_value(json_object_get(rec, "CodeDir"));
  const char *opt_dir = json_string_value(json_object_get(rec, "OptDir"));
  const char *sha = json_string_value(json_object_get(rec, "CodeSha256"));
  const char *rev = json_string_value(json_object_get(rec, "RevisionId"));
  if (!name || !code_dir || !opt_dir || !sha || !rev) return NULL;
  ll_function_t *fn = ll_calloc(1, sizeof *fn);
  fn->refs = 1;
  fn->name = ll_strdup(name);
  fn->arn = ll_sprintf("arn:aws:lambda:%s:%s:function:%s", e->region, e->account, name);
  fn->config = json_deep_copy(config);
  snprintf(fn->code_sha256, sizeof fn->code_sha256, "%s", sha);
  snprintf(fn->revision_id, sizeof fn->revision_id, "%s", rev);
  fn->code_size = json_integer_value(json_object_get(rec, "CodeSize"));
  fn->last_modified_ms = json_integer_value(json_object_get(rec, "LastModified"));
  fn->generation = (uint64_t)json_integer_value(json_object_get(rec, "Generation"));
  json_t *reserved = json_object_get(rec, "Reserved");
  fn->reserved = json_is_integer(reserved) ? (int)json_integer_value(reserved) : -1;
  if (fn->reserved > 0) e->reserved_total += fn->reserved;
  fn->code_dir = ll_strdup(code_dir);
  fn->opt_dir = ll_strdup(opt_dir);
  apply_limits(fn);
  ll__sched_init(fn);
  return fn;
}

int ll_function_set_concurrency(ll_engine_t *e, const char *name, int reserved, ll_err_t *err) {
  ll_function_t *fn = ll_function_find(e, name);
  if (!fn)
    return ll_err_set(err, LL_E_NOT_FOUND, "Function not found: arn:aws:lambda:%s:%s:function:%s",
                      e->region, e->account, name);
  if (reserved < -1)
    return ll_err_set(err, LL_E_INVALID_PARAM,
                      "1 validation error detected: Value '%d' at 'reservedConcurrentExecutions' "
                      "failed to satisfy constraint: Member must have value greater than or equal "
                      "to 0",
                      reserved);
  int total = e->reserved_total - (fn->reserved > 0 ? fn->reserved : 0) + (reserved > 0 ? reserved : 0);
  if (reserved >= 0 && e->cfg.concurrency_limit - total < 100)
    return ll_err_set(err, LL_E_INVALID_PARAM,
                      "Specified ReservedConcurrentExecutions for function decreases account's "
                      "UnreservedConcurrentExecution below its minimum value of [100].");
  int old = fn->reserved;
  fn->reserved = reserved;
  if (ll__store_save_function(e, fn, err) < 0) {
    fn->reserved = old;
    return -1;
  }
  e->reserved_total = total;
  return 0;
}

static int check_int(json_t *cfg, const char *key, const char *field, long lo, long hi,
                     ll_err_t *err);

int ll_function_set_event_invoke_config(ll_engine_t *e, const char *name, json_t *cfg, bool merge,
                                        ll_err_t *err) {
  ll_function_t *fn = ll_function_find(e, name);
  if (!fn)
    return ll_err_set(err, LL_E_NOT_FOUND, "Function not found: arn:aws:lambda:%s:%s:function:%s",
                      e->region, e->account, name);
  json_t *next = NULL;
  if (cfg) {
    if (check_int(cfg, "MaximumRetryAttempts", "maximumRetryAttempts", 0, 2, err) < 0 ||
        check_int(cfg, "MaximumEventAgeInSeconds", "maximumEventAgeInSeconds", 60, 21600, err) < 0)
      return -1;
    static const char *const which[] = {"OnSuccess", "OnFailure"};
    for (int i = 0; i < 2; i++) {
      json_t *d = json_object_get(json_object_get(json_object_get(cfg, "DestinationConfig"),
                                                  which[i]),
                                  "Destination");
      if (!d) continue;
      const char *arn = json_string_value(d);
      const char *f = arn ? strstr(arn, ":function:") : NULL;
      char target[160] = "";
      if (f) snprintf(target, sizeof target, "%.*s", (int)strcspn(f + 10, ":"), f + 10);
      if (!arn || strncmp(arn, "arn:", 4) != 0)
        return ll_err_set(err, LL_E_INVALID_PARAM, "The destination ARN %s is invalid.",
                          arn ? arn : "(not a string)");
      if (!f && e->destination && strncmp(arn, "arn:aws:kinesis:", 16) == 0) {
        if (e->destination(e->destination_ud, arn, NULL, NULL, 0, err) < 0) return -1;
        continue;
      }
      if (!f)
        return ll_err_set(err, LL_E_INVALID_PARAM,
                          "Destination %s is not supported yet: use a Lambda function or Kinesis "
                          "stream ARN (queues, topics and event buses arrive with those services)",
                          arn);
      if (!ll_function_find(e, target))
        return ll_err_set(err, LL_E_INVALID_PARAM,
                          "The destination ARN %s is invalid: no function %s.", arn, target);
    }
    json_t *old = json_object_get(fn->config, "EventInvokeConfig");
    next = merge && old ? json_deep_copy(old) : json_object();
    json_object_update(next, cfg);
    json_object_set_new(next, "LastModified", json_real((double)ll_wall_ms() / 1000.0));
  }
  json_t *saved = json_incref(json_object_get(fn->config, "EventInvokeConfig"));
  if (next)
    json_object_set_new(fn->config, "EventInvokeConfig", next);
  else
    json_object_del(fn->config, "EventInvokeConfig");
  if (ll__store_save_function(e, fn, err) < 0) {
    if (saved)
      json_object_set(fn->config, "EventInvokeConfig", saved);
    else
      json_object_del(fn->config, "EventInvokeConfig");
    json_decref(saved);
    return -1;
  }
  json_decref(saved);
  return 0;
}

int ll_engine_concurrency_limit(const ll_engine_t *e) { return e->cfg.concurrency_limit; }

int ll_engine_inflight(const ll_engine_t *e) {
  int n = 0;
  for (size_t i = 0; i < e->nfns; i++) n += e->fns[i]->inflight;
  return n;
}

int ll_engine_unreserved_concurrency(const ll_engine_t *e) {
  return e->cfg.concurrency_limit - e->reserved_total;
}

void ll__function_prune(ll_engine_t *e, const ll_function_t *fn) {
  char *dir = function_dir(e, fn->name);
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *de;
    while ((de = readdir(d))) {
      if (de->d_name[0] == '.') continue;
      char *p = ll_sprintf("%s/%s", dir, de->d_name);
      size_t n = strlen(p);
      /* keep the current revision (code_dir is <rev>/code) and the current /opt merge */
      bool keep = strcmp(p, fn->opt_dir) == 0 ||
                  (strncmp(fn->code_dir, p, n) == 0 && fn->code_dir[n] == '/');
      if (!keep) ll__rmtree(p);
      free(p);
    }
    closedir(d);
  }
  free(dir);
}

void ll__functions_free(ll_engine_t *e) {
  for (size_t i = 0; i < e->nfns; i++) {
    e->fns[i]->deleted = true;
    ll_function_unref(e->fns[i]);
  }
  free(e->fns);
  e->fns = NULL;
  e->nfns = 0;
  for (size_t i = 0; i < e->nlayers; i++) {
    ll_layer_version_t *lv = e->layers[i];
    free(lv->name);
    free(lv->arn);
    free(lv->version_arn);
    json_decref(lv->info);
    free(lv->dir);
    free(lv);
  }
  free(e->layers);
  e->layers = NULL;
  e->nlayers = 0;
}

/* ---- validation (AWS's rules and words) ------------------------------------------------- */

static const char *const runtimes[] = {"provided", "provided.al2", "provided.al2023", NULL};

static bool name_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 64) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '-' || c == '_'))
      return false;
  }
  return true;
}

static const char *const reserved_env[] = {
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_REGION", "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", NULL};

static int validation(ll_err_t *err, const char *fmt, const char *value, const char *field,
                      const char *constraint) {
  (void)fmt;
  return ll_err_set(err, LL_E_INVALID_PARAM,
                    "1 validation error detected: Value %s at '%s' failed to satisfy constraint: "
                    "%s",
                    value, field, constraint);
}

static int check_int(json_t *cfg, const char *key, const char *field, long lo, long hi,
                     ll_err_t *err) {
  json_t *v = json_object_get(cfg, key);
  if (!v) return 0;
  if (!json_is_integer(v))
    return ll_err_set(err, LL_E_INVALID_PARAM, "%s must be an integer", key);
  long long n = json_integer_value(v);
  char val[32];
  snprintf(val, sizeof val, "'%lld'", n);
  char c[96];
  if (n < lo) {
    snprintf(c, sizeof c, "Member must have value greater than or equal to %ld", lo);
    return validation(err, NULL, val, field, c);
  }
  if (n > hi) {
    snprintf(c, sizeof c, "Member must have value less than or equal to %ld", hi);
    return validation(err, NULL, val, field, c);
  }
  return 0;
}

/* Validates the settable fields of cfg (a full config for create, or changes for update) and
 * fills defaults when `create`. Layer ARNs must exist. */
static int validate_config(ll_engine_t *e, json_t *cfg, bool create, ll_err_t *err) {
  if (!json_is_object(cfg)) return ll_err_set(err, LL_E_INVALID_PARAM, "expected a JSON object");
  json_t *v;
  if (create) {
    v = json_object_get(cfg, "FunctionName");
    if (!json_is_string(v))
      return validation(err, NULL, "null", "functionName", "Member must not be null");
    if (!name_ok(json_string_value(v))) {
      char val[128];
      snprintf(val, sizeof val, "'%.100s'", json_string_value(v));
      return validation(err, NULL, val, "functionName",
                        "Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+ and have "
                        "length less than or equal to 64");
    }
    if (!json_is_string(json_object_get(cfg, "Role")))
      return validation(err, NULL, "null", "role", "Member must not be null");
  }
  v = json_object_get(cfg, "Runtime");
  if (v) {
    const char *rt = json_string_value(v);
    bool ok = false;
    for (int i = 0; rt && runtimes[i]; i++) ok |= strcmp(rt, runtimes[i]) == 0;
    if (!ok)
      return ll_err_set(err, LL_E_INVALID_PARAM,
                        "Runtime %s is not supported here yet: use provided, provided.al2 or "
                        "provided.al2023 with an executable bootstrap in the zip or a layer",
                        rt ? rt : "(not a string)");
  } else if (create) {
    json_object_set_new(cfg, "Runtime", json_string("provided.al2023"));
  }
  if (check_int(cfg, "MemorySize", "memorySize", 128, 10240, err) < 0) return -1;
  if (check_int(cfg, "Timeout", "timeout", 1, 900, err) < 0) return -1;
  json_t *eph = json_object_get(cfg, "EphemeralStorage");
  if (eph && check_int(eph, "Size", "ephemeralStorage.size", 512, 10240, err) < 0) return -1;
  if (create) {
    if (!json_object_get(cfg, "MemorySize")) json_object_set_new(cfg, "MemorySize", json_integer(128));
    if (!json_object_get(cfg, "Timeout")) json_object_set_new(cfg, "Timeout", json_integer(3));
    if (!json_object_get(cfg, "Handler")) json_object_set_new(cfg, "Handler", json_string(""));
    if (!json_object_get(cfg, "Description")) json_object_set_new(cfg, "Description", json_string(""));
    if (!eph) json_object_set_new(cfg, "EphemeralStorage", json_pack("{s:i}", "Size", 512));
  }
  v = json_object_get(cfg, "Environment");
  if (v) {
    json_t *vars = json_object_get(v, "Variables");
    if (vars && !json_is_object(vars))
      return ll_err_set(err, LL_E_INVALID_PARAM, "Environment.Variables must be an object");
    size_t total = 0;
    const char *k;
    json_t *val;
    json_object_foreach(vars, k, val) {
      if (!json_is_string(val))
        return ll_err_set(err, LL_E_INVALID_PARAM,
                          "Environment variable %s must have a string value", k);
      bool key_ok = (k[0] >= 'a' && k[0] <= 'z') || (k[0] >= 'A' && k[0] <= 'Z');
      for (const char *c = k; *c && key_ok; c++)
        key_ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                 (*c >= '0' && *c <= '9') || *c == '_';
      if (!key_ok || strlen(k) < 2)
        return ll_err_set(err, LL_E_INVALID_PARAM,
                          "1 validation error detected: Value at 'environment.variables' failed "
                          "to satisfy constraint: Map keys must satisfy constraint: [Member must "
                          "satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+] (key %s)",
                          k);
      for (int i = 0; reserved_env[i]; i++)
        if (!strcmp(k, reserved_env[i]))
          return ll_err_set(err, LL_E_INVALID_PARAM,
                            "Lambda was unable to configure your environment variables because "
                            "the environment variables you have provided contains reserved keys "
                            "that are currently not supported for modification. Reserved keys "
                            "used in this request: %s",
                            k);
      total += strlen(k) + json_string_length(val);
    }
    if (total > 4096)
      return ll_err_set(err, LL_E_INVALID_PARAM,
                        "Lambda was unable to configure your environment variables because the "
                        "environment variables you have provided exceeded the 4KB limit. String "
                        "measured: %zu bytes",
                        total);
  }
  v = json_object_get(cfg, "Layers");
  if (v) {
    if (!json_is_array(v)) return ll_err_set(err, LL_E_INVALID_PARAM, "Layers must be a list");
    if (json_array_size(v) > 5)
      return ll_err_set(err, LL_E_INVALID_PARAM,
                        "Cannot reference more than 5 layers.");
    size_t i;
    json_t *arn;
    json_array_foreach(v, i, arn) {
      if (!json_is_string(arn) || !ll_layer_find_arn(e, json_string_value(arn)))
        return ll_err_set(err, LL_E_INVALID_PARAM, "Layer version %s does not exist.",
                          json_is_string(arn) ? json_string_value(arn) : "(not a string)");
    }
  }
  return 0;
}

/* Merges the function's layers, in order, into a fresh directory; returns it (heap). */
static char *build_opt(ll_engine_t *e, const char *fn_dir, json_t *layers, ll_err_t *err) {
  char id[17];
  ll_random_hex(id, 8);
  char *opt = ll_sprintf("%s/opt-%s", fn_dir, id);
  int r = ll__mkdirs(opt, 0755);
  size_t i;
  json_t *arn;
  json_array_foreach(layers, i, arn) {
    ll_layer_version_t *lv = ll_layer_find_arn(e, json_string_value(arn));
    if (r == 0 && lv) r = link_tree(lv->dir, opt);
  }
  if (r < 0) {
    ll_err_set(err, -r, "merging layers into %s: %s", opt, strerror(-r));
    ll__rmtree(opt);
    free(opt);
    return NULL;
  }
  return opt;
}

/* ---- create / update code (extraction on the thread pool) -------------------------------- */

typedef struct code_job {
  uv_work_t work;
  ll_engine_t *e;
  json_t *config; /* create: the validated config; update: NULL */
  char *name;
  uint8_t *zip;
  size_t zip_len;
  char *fn_dir, *rev_dir, *code_dir;
  char sha[48];
  uint64_t unzipped;
  ll_err_t err;
  ll_function_cb cb;
  void *ud;
} code_job_t;

static void code_work(uv_work_t *w) {
  code_job_t *j = w->data;
  code_sha256(j->zip, j->zip_len, j->sha);
  int r = ll__mkdirs(j->rev_dir, 0755);
  if (r < 0) {
    ll_err_set(&j->err, -r, "creating %s: %s", j->rev_dir, strerror(-r));
    return;
  }
  char *zpath = ll_sprintf("%s/code.zip", j->rev_dir);
  r = write_file(zpath, j->zip, j->zip_len);
  free(zpath);
  if (r < 0) {
    ll_err_set(&j->err, -r, "saving code: %s", strerror(-r));
    return;
  }
  extract_zip(j->zip, j->zip_len, j->code_dir, &j->unzipped, &j->err);
}

static void code_job_free(code_job_t *j) {
  json_decref(j->config);
  free(j->name);
  free(j->zip);
  free(j->fn_dir);
  free(j->rev_dir);
  free(j->code_dir);
  free(j);
}

static void code_done(uv_work_t *w, int status) {
  code_job_t *j = w->data;
  ll_engine_t *e = j->e;
  ll_function_t *fn = NULL;
  if (j->err.code == 0 && status < 0) ll_err_set(&j->err, LL_E_INTERNAL, "extraction cancelled");
  if (j->err.code == 0 && e->closing)
    ll_err_set(&j->err, LL_E_INTERNAL, "the daemon is shutting down; nothing was changed");
  if (j->err.code == 0 && j->config) {
    /* CreateFunction: the name may have been taken while we extracted. */
    if (ll_function_find(e, j->name)) {
      ll_err_set(&j->err, LL_E_CONFLICT, "Function already exist: %s", j->name);
    } else {
      fn = ll_calloc(1, sizeof *fn);
      fn->refs = 1;
      fn->reserved = -1;
      fn->name = ll_strdup(j->name);
      fn->arn = ll_sprintf("arn:aws:lambda:%s:%s:function:%s", e->region, e->account, j->name);
      fn->config = j->config;
      j->config = NULL;
      fn->opt_dir = build_opt(e, j->fn_dir, json_object_get(fn->config, "Layers"), &j->err);
      if (!fn->opt_dir) {
        fn->opt_dir = NULL;
        ll_function_unref(fn);
        fn = NULL;
      }
    }
    if (fn) {
      fn->code_dir = j->code_dir;
      j->code_dir = NULL;
      snprintf(fn->code_sha256, sizeof fn->code_sha256, "%s", j->sha);
      fn->code_size = (int64_t)j->zip_len;
      ll_uuid4(fn->revision_id);
      fn->last_modified_ms = ll_wall_ms();
      apply_limits(fn);
      ll__sched_init(fn);
      if (ll__store_save_function(e, fn, &j->err) < 0) {
        ll_function_unref(fn);
        fn = NULL;
      } else {
        ll__function_insert(e, fn);
        ll__pool_want(e, fn->memory_mb, ll__function_tmp_mb(fn)); /* its first cold start is near */
      }
    }
  } else if (j->err.code == 0) {
    /* UpdateFunctionCode: swap the code in; idle instances of the old code retire. */
    fn = ll_function_find(e, j->name);
    if (!fn) {
      ll_err_set(&j->err, LL_E_NOT_FOUND, "Function not found: arn:aws:lambda:%s:%s:function:%s",
                 e->region, e->account, j->name);
    } else {
      char *old = fn->code_dir;
      fn->code_dir = j->code_dir;
      j->code_dir = NULL;
      snprintf(fn->code_sha256, sizeof fn->code_sha256, "%s", j->sha);
      fn->code_size = (int64_t)j->zip_len;
      ll_uuid4(fn->revision_id);
      fn->last_modified_ms = ll_wall_ms();
      fn->generation++;
      if (ll__store_save_function(e, fn, &j->err) < 0) {
        fn = NULL;
      } else {
        /* The old revision stays on disk while instances still running it may read it; it is
         * pruned when the daemon next starts (ll__function_prune). */
        ll__sched_retire_idle(fn);
      }
      free(old);
    }
  }
  if (j->err.code != 0 && j->rev_dir) ll__rmtree(j->rev_dir);
  j->cb(j->ud, fn, j->err.code ? &j->err : NULL);
  code_job_free(j);
  ll__engine_unref(e);
}

static code_job_t *code_job_new(ll_engine_t *e, const char *name, uint8_t *zip, size_t zip_len,
                                ll_function_cb cb, void *ud) {
  code_job_t *j = ll_calloc(1, sizeof *j);
  j->e = e;
  j->name = ll_strdup(name);
  j->zip = zip;
  j->zip_len = zip_len;
  j->fn_dir = function_dir(e, name);
  char rev[17];
  ll_random_hex(rev, 8);
  j->rev_dir = ll_sprintf("%s/%s", j->fn_dir, rev);
  j->code_dir = ll_sprintf("%s/code", j->rev_dir);
  j->cb = cb;
  j->ud = ud;
  j->work.data = j;
  return j;
}

static int check_zip(uint8_t *zip, size_t zip_len, ll_err_t *err) {
  if (!zip || zip_len == 0)
    return ll_err_set(err, LL_E_INVALID_PARAM, "Please provide a source for function code.");
  if (zip_len > LL_ZIP_MAX)
    return ll_err_set(err, LL_E_TOO_LARGE, "Zipped size must be smaller than %u bytes",
                      LL_ZIP_MAX);
  return 0;
}

int ll_function_create(ll_engine_t *e, json_t *config, uint8_t *zip, size_t zip_len,
                       ll_function_cb cb, void *ud, ll_err_t *err) {
  if (validate_config(e, config, true, err) < 0 || check_zip(zip, zip_len, err) < 0) {
    json_decref(config);
    free(zip);
    return -1;
  }
  const char *name = json_string_value(json_object_get(config, "FunctionName"));
  if (ll_function_find(e, name)) {
    ll_err_set(err, LL_E_CONFLICT, "Function already exist: %s", name);
    json_decref(config);
    free(zip);
    return -1;
  }
  /* Keep only the settable fields the engine understands; the rest is ignored as AWS would
   * for fields of features not modelled here. */
  code_job_t *j = code_job_new(e, name, zip, zip_len, cb, ud);
  json_object_del(config, "Code");
  json_object_del(config, "Publish");
  j->config = config;
  e->refs++; /* the job outlives a shutdown that starts while it runs */
  uv_queue_work(e->loop, &j->work, code_work, code_done);
  return 0;
}

int ll_function_update_code(ll_engine_t *e, const char *name, uint8_t *zip, size_t zip_len,
                            const char *revision_id, ll_function_cb cb, void *ud, ll_err_t *err) {
  ll_function_t *fn = ll_function_find(e, name);
  if (!fn) {
    free(zip);
    return ll_err_set(err, LL_E_NOT_FOUND, "Function not found: arn:aws:lambda:%s:%s:function:%s",
                      e->region, e->account, name);
  }
  if (revision_id && strcmp(revision_id, fn->revision_id) != 0) {
    free(zip);
    return ll_err_set(err, LL_E_PRECONDITION,
                      "The Revision Id provided does not match the latest Revision Id. Call the "
                      "GetFunction/GetAlias API to retrieve the latest Revision Id");
  }
  if (check_zip(zip, zip_len, err) < 0) {
    free(zip);
    return -1;
  }
  code_job_t *j = code_job_new(e, name, zip, zip_len, cb, ud);
  e->refs++; /* the job outlives a shutdown that starts while it runs */
  uv_queue_work(e->loop, &j->work, code_work, code_done);
  return 0;
}

int ll_function_update_config(ll_engine_t *e, const char *name, json_t *changes,
                              ll_function_t **out, ll_err_t *err) {
  ll_function_t *fn = ll_function_find(e, name);
  if (!fn)
    return ll_err_set(err, LL_E_NOT_FOUND, "Function not found: arn:aws:lambda:%s:%s:function:%s",
                      e->region, e->account, name);
  json_t *rev = json_object_get(changes, "RevisionId");
  if (json_is_string(rev) && strcmp(json_string_value(rev), fn->revision_id) != 0)
    return ll_err_set(err, LL_E_PRECONDITION,
                      "The Revision Id provided does not match the latest Revision Id. Call the "
                      "GetFunction/GetAlias API to retrieve the latest Revision Id");
  json_object_del(changes, "RevisionId");
  json_object_del(changes, "FunctionName");
  if (validate_config(e, changes, false, err) < 0) return -1;
  json_t *merged = json_deep_copy(fn->config);
  json_object_update(merged, changes);
  char *opt = NULL;
  if (json_object_get(changes, "Layers")) {
    char *fn_dir = function_dir(e, name);
    opt = build_opt(e, fn_dir, json_object_get(merged, "Layers"), err);
    free(fn_dir);
    if (!opt) {
      json_decref(merged);
      return -1;
    }
  }
  json_decref(fn->config);
  fn->config = merged;
  if (opt) { /* the old merge is pruned at the next start, as old code is */
    free(fn->opt_dir);
    fn->opt_dir = opt;
  }
  apply_limits(fn);
  ll_uuid4(fn->revision_id);
  fn->last_modified_ms = ll_wall_ms();
  fn->generation++;
  if (ll__store_save_function(e, fn, err) < 0) return -1;
  ll__sched_retire_idle(fn);
  ll__pool_want(e, fn->memory_mb, ll__function_tmp_mb(fn));
  *out = fn;
  return 0;
}

int ll_function_delete(ll_engine_t *e, const char *name, ll_err_t *err) {
  ll_function_t *fn = ll_function_find(e, name);
  if (!fn)
    return ll_err_set(err, LL_E_NOT_FOUND, "Function not found: arn:aws:lambda:%s:%s:function:%s",
                      e->region, e->account, name);
  if (ll__store_delete_function(e, name) < 0)
    return ll_err_set(err, LL_E_INTERNAL, "metadata store: %s", sqlite3_errmsg(e->db));
  function_remove(e, fn);
  if (fn->reserved > 0) e->reserved_total -= fn->reserved;
  fn->deleted = true;
  ll__sched_drain(fn);
  char *dir = function_dir(e, name);
  ll__rmtree(dir);
  free(dir);
  ll_logs_delete(e->data_dir, name);
  ll_function_unref(fn);
  return 0;
}

/* ---- layers ---------------------------------------------------------------------------- */

static int lv_cmp(const void *a, const void *b) {
  const ll_layer_version_t *x = *(ll_layer_version_t *const *)a, *y = *(ll_layer_version_t *const *)b;
  int c = strcmp(x->name, y->name);
  return c ? c : y->version - x->version; /* newest first */
}

void ll__layer_insert(ll_engine_t *e, ll_layer_version_t *lv) {
  e->layers = ll_realloc(e->layers, (e->nlayers + 1) * sizeof *e->layers);
  e->layers[e->nlayers++] = lv;
  qsort(e->layers, e->nlayers, sizeof *e->layers, lv_cmp);
}

static ll_layer_version_t *layer_new(ll_engine_t *e, const char *name, int version, json_t *info,
                                     const char *dir) {
  ll_layer_version_t *lv = ll_calloc(1, sizeof *lv);
  lv->name = ll_strdup(name);
  lv->version = version;
  lv->arn = ll_sprintf("arn:aws:lambda:%s:%s:layer:%s", e->region, e->account, name);
  lv->version_arn = ll_sprintf("%s:%d", lv->arn, version);
  lv->info = info;
  lv->dir = ll_strdup(dir);
  return lv;
}

ll_layer_version_t *ll__layer_from_record(ll_engine_t *e, json_t *rec) {
  const char *name = json_string_value(json_object_get(rec, "Name"));
  const char *dir = json_string_value(json_object_get(rec, "Dir"));
  json_t *info = json_object_get(rec, "Info");
  int version = (int)json_integer_value(json_object_get(rec, "Version"));
  if (!name || !dir || !info || version <= 0) return NULL;
  return layer_new(e, name, version, json_deep_copy(info), dir);
}

ll_layer_version_t *ll_layer_find(ll_engine_t *e, const char *name, int version) {
  for (size_t i = 0; i < e->nlayers; i++) {
    ll_layer_version_t *lv = e->layers[i];
    if (strcmp(lv->name, name) == 0 && (version <= 0 || lv->version == version)) return lv;
  }
  return NULL;
}

ll_layer_version_t *ll_layer_find_arn(ll_engine_t *e, const char *arn) {
  /* arn:aws:lambda:<region>:<account>:layer:<name>:<version>; layers are shared by every
   * region the daemon answers for, so the region is not compared. */
  const char *p = strstr(arn, ":layer:");
  if (strncmp(arn, "arn:", 4) != 0 || !p) return NULL;
  p += 7;
  const char *colon = strrchr(p, ':');
  if (!colon || colon == p || !colon[1]) return NULL;
  char *end;
  long version = strtol(colon + 1, &end, 10);
  if (*end || version <= 0) return NULL;
  char name[160];
  snprintf(name, sizeof name, "%.*s", (int)(colon - p), p);
  ll_layer_version_t *lv = ll_layer_find(e, name, (int)version);
  return lv;
}

size_t ll_layer_list(ll_engine_t *e, const char *name, ll_layer_version_t ***out) {
  *out = ll_malloc(e->nlayers * sizeof **out);
  size_t n = 0;
  for (size_t i = 0; i < e->nlayers; i++)
    if (!name || strcmp(e->layers[i]->name, name) == 0) (*out)[n++] = e->layers[i];
  return n;
}

int ll_layer_delete(ll_engine_t *e, const char *name, int version) {
  for (size_t i = 0; i < e->nlayers; i++) {
    ll_layer_version_t *lv = e->layers[i];
    if (strcmp(lv->name, name) != 0 || lv->version != version) continue;
    ll__store_delete_layer(e, name, version);
    /* Functions keep their merged /opt (AWS keeps a deleted layer usable by its users). */
    memmove(&e->layers[i], &e->layers[i + 1], (e->nlayers - i - 1) * sizeof *e->layers);
    e->nlayers--;
    free(lv->name);
    free(lv->arn);
    free(lv->version_arn);
    json_decref(lv->info);
    free(lv->dir);
    free(lv);
    return 0;
  }
  return -1;
}

typedef struct layer_job {
  uv_work_t work;
  ll_engine_t *e;
  char *name;
  int version;
  json_t *info;
  uint8_t *zip;
  size_t zip_len;
  char *dir;
  char sha[48];
  uint64_t unzipped;
  ll_err_t err;
  ll_layer_cb cb;
  void *ud;
} layer_job_t;

static void layer_work(uv_work_t *w) {
  layer_job_t *j = w->data;
  code_sha256(j->zip, j->zip_len, j->sha);
  extract_zip(j->zip, j->zip_len, j->dir, &j->unzipped, &j->err);
}

static void layer_done(uv_work_t *w, int status) {
  layer_job_t *j = w->data;
  ll_engine_t *e = j->e;
  ll_layer_version_t *lv = NULL;
  if (j->err.code == 0 && status < 0) ll_err_set(&j->err, LL_E_INTERNAL, "extraction cancelled");
  if (j->err.code == 0 && e->closing)
    ll_err_set(&j->err, LL_E_INTERNAL, "the daemon is shutting down; nothing was changed");
  if (j->err.code == 0) {
    ll_layer_version_t *latest = ll_layer_find(j->e, j->name, 0);
    if (latest && latest->version >= j->version) {
      /* two publishes raced: take the next number and move the files there */
      j->version = latest->version + 1;
    }
    char created[40];
    ll_format_lambda_time(ll_wall_ms(), created, sizeof created);
    json_object_set_new(j->info, "CodeSha256", json_string(j->sha));
    json_object_set_new(j->info, "CodeSize", json_integer((json_int_t)j->zip_len));
    json_object_set_new(j->info, "CreatedDate", json_string(created));
    lv = layer_new(j->e, j->name, j->version, j->info, j->dir);
    j->info = NULL;
    if (ll__store_save_layer(j->e, lv, &j->err) < 0) {
      json_decref(lv->info);
      free(lv->name);
      free(lv->arn);
      free(lv->version_arn);
      free(lv->dir);
      free(lv);
      lv = NULL;
    } else {
      ll__layer_insert(j->e, lv);
    }
  }
  if (!lv) ll__rmtree(j->dir);
  j->cb(j->ud, lv, lv ? NULL : &j->err);
  json_decref(j->info);
  free(j->name);
  free(j->zip);
  free(j->dir);
  free(j);
  ll__engine_unref(e);
}

int ll_layer_publish(ll_engine_t *e, const char *name, json_t *info, uint8_t *zip, size_t zip_len,
                     ll_layer_cb cb, void *ud, ll_err_t *err) {
  if (!name_ok(name) || check_zip(zip, zip_len, err) < 0) {
    if (!err->code)
      validation(err, NULL, name, "layerName",
                 "Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+");
    json_decref(info);
    free(zip);
    return -1;
  }
  layer_job_t *j = ll_calloc(1, sizeof *j);
  j->e = e;
  j->name = ll_strdup(name);
  ll_layer_version_t *latest = ll_layer_find(e, name, 0);
  j->version = latest ? latest->version + 1 : 1;
  j->info = info;
  j->zip = zip;
  j->zip_len = zip_len;
  char id[17];
  ll_random_hex(id, 8);
  j->dir = ll_sprintf("%s/layers/%s/%s", e->data_dir, name, id);
  j->cb = cb;
  j->ud = ud;
  j->work.data = j;
  e->refs++;
  uv_queue_work(e->loop, &j->work, layer_work, layer_done);
  return 0;
}

/* ---- the engine ------------------------------------------------------------------------ */

static void on_reaper(uv_timer_t *t) { ll__sched_reap(t->data); }

/* The machine's memory less a reserve for the host (a tenth, at least 1 GiB). */
static int64_t default_memory_budget_mb(void) {
  FILE *f = fopen("/proc/meminfo", "re");
  long long kb = 0;
  char line[128];
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "MemTotal: %lld kB", &kb) == 1) break;
  if (f) fclose(f);
  int64_t mb = kb / 1024;
  int64_t reserve = mb / 10 > 1024 ? mb / 10 : 1024;
  return mb > reserve + 128 ? mb - reserve : 128;
}

int64_t ll_engine_memory_budget_mb(const ll_engine_t *e) { return e->cfg.memory_budget_mb; }
int64_t ll_engine_memory_in_use_mb(const ll_engine_t *e) { return e->memory_in_use_mb; }

/* Before the loop blocks: write out the log lines gathered during this turn. */
static void on_flush(uv_prepare_t *p) {
  ll_engine_t *e = p->data;
  for (ll_instance_t *in = e->instances; in; in = in->next_all)
    if (in->log) ll_log_stream_flush(in->log);
}

int ll_engine_open(uv_loop_t *loop, const ll_engine_config_t *cfg, ll_engine_t **out,
                   ll_err_t *err) {
  ll_engine_t *e = ll_calloc(1, sizeof *e);
  e->loop = loop;
  e->cfg = *cfg;
  e->data_dir = ll_strdup(cfg->data_dir);
  e->region = ll_strdup(cfg->region ? cfg->region : "us-east-1");
  e->account = ll_strdup(cfg->account ? cfg->account : "000000000000");
  if (e->cfg.max_instances <= 0) e->cfg.max_instances = 64;
  if (e->cfg.concurrency_limit <= 0) e->cfg.concurrency_limit = 1000;
  if (e->cfg.memory_budget_mb <= 0) e->cfg.memory_budget_mb = default_memory_budget_mb();
  int r = ll__mkdirs(e->data_dir, 0700);
  if (r < 0) {
    ll_err_set(err, -r, "creating data directory %s: %s", e->data_dir, strerror(-r));
    goto fail;
  }
  char *sub = ll_sprintf("%s/functions", e->data_dir);
  ll__mkdirs(sub, 0755);
  free(sub);
  e->tmp_disk_dir = ll_sprintf("%s/sandbox-tmp", e->data_dir);
  ll__mkdirs(e->tmp_disk_dir, 0700);
  if (ll__store_open(e, err) < 0) goto fail;
  if (ll__asyncq_open(e, err) < 0) goto fail;
  uv_timer_init(loop, &e->reaper);
  e->reaper.data = e;
  uv_timer_start(&e->reaper, on_reaper, 1000, 1000);
  uv_unref((uv_handle_t *)&e->reaper);
  uv_prepare_init(loop, &e->flusher);
  e->flusher.data = e;
  uv_prepare_start(&e->flusher, on_flush);
  uv_unref((uv_handle_t *)&e->flusher);
  e->refs = 3; /* the reaper, the flusher and the async pump; each instance adds one */
  for (size_t i = 0; i < e->nfns; i++) /* sandboxes ready for the functions there are */
    ll__pool_want(e, e->fns[i]->memory_mb, ll__function_tmp_mb(e->fns[i]));
  *out = e;
  return 0;
fail:
  ll__store_close(e);
  free(e->data_dir);
  free(e->tmp_disk_dir);
  free(e->region);
  free(e->account);
  free(e);
  return -1;
}

void ll__engine_unref(ll_engine_t *e) {
  if (--e->refs > 0) return;
  for (size_t i = 0; i < e->nkeys; i++) {
    free(e->keys[i]);
    free(e->secrets[i]);
  }
  free(e->keys);
  free(e->secrets);
  free(e->async_running);
  free(e->api_endpoint);
  free(e->data_dir);
  free(e->tmp_disk_dir);
  free(e->region);
  free(e->account);
  free(e);
}

static void on_engine_handle_closed(uv_handle_t *h) { ll__engine_unref(h->data); }

void ll_engine_close(ll_engine_t *e) {
  e->closing = true;
  ll__pool_close(e);
  for (size_t i = 0; i < e->nfns; i++) ll__sched_drain(e->fns[i]);
  for (ll_instance_t *in = e->instances; in; in = in->next_all) ll__instance_kill(in);
  ll__functions_free(e);
  ll__store_close(e);
  uv_close((uv_handle_t *)&e->reaper, on_engine_handle_closed);
  uv_close((uv_handle_t *)&e->flusher, on_engine_handle_closed);
  uv_close((uv_handle_t *)&e->async_timer, on_engine_handle_closed);
}

const char *ll_engine_region(const ll_engine_t *e) { return e->region; }
const char *ll_engine_account(const ll_engine_t *e) { return e->account; }
const char *ll_engine_data_dir(const ll_engine_t *e) { return e->data_dir; }

void ll_engine_set_api_endpoint(ll_engine_t *e, const char *url) {
  free(e->api_endpoint);
  e->api_endpoint = ll_strdup(url);
}

const char *ll_engine_secret(ll_engine_t *e, const char *access_key) {
  for (size_t i = 0; i < e->nkeys; i++)
    if (strcmp(e->keys[i], access_key) == 0) return e->secrets[i];
  return NULL;
}

bool ll_engine_dev_key_enabled(ll_engine_t *e) { return e->dev_key_enabled; }

void ll_engine_set_credentials(ll_engine_t *e, ll_creds_mint_fn mint, ll_creds_revoke_fn revoke,
                               void *ud) {
  e->creds_mint = mint;
  e->creds_revoke = revoke;
  e->creds_ud = ud;
}

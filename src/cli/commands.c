/* Client subcommands: create-function, invoke, list, get, delete, logs. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/encoding.h"
#include "core/mem.h"

static int usage_error(const char *usage) {
  fputs(usage, stderr);
  return 2;
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  ll_buf_t b = LL_BUF_INIT;
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) ll_buf_append(&b, chunk, n);
  fclose(f);
  return ll_buf_steal(&b, len);
}

/* ---- zipping a folder (exec bits kept) -------------------------------------------------- */

static la_ssize_t zip_write(struct archive *a, void *ud, const void *p, size_t n) {
  ll_buf_append(ud, p, n);
  return (la_ssize_t)n;
}

static int add_tree(struct archive *a, const char *root, const char *rel) {
  char *dir = rel[0] ? ll_sprintf("%s/%s", root, rel) : ll_strdup(root);
  DIR *d = opendir(dir);
  if (!d) {
    free(dir);
    return -1;
  }
  struct dirent *de;
  int rc = 0;
  while (rc == 0 && (de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    char *name = rel[0] ? ll_sprintf("%s/%s", rel, de->d_name) : ll_strdup(de->d_name);
    char *full = ll_sprintf("%s/%s", root, name);
    struct stat st;
    if (stat(full, &st) == 0) {
      struct archive_entry *e = archive_entry_new();
      archive_entry_copy_stat(e, &st);
      archive_entry_set_pathname(e, name);
      if (S_ISDIR(st.st_mode)) {
        archive_entry_set_size(e, 0);
        archive_write_header(a, e);
        rc = add_tree(a, root, name);
      } else if (S_ISREG(st.st_mode)) {
        archive_write_header(a, e);
        size_t len;
        char *data = read_file(full, &len);
        if (data) archive_write_data(a, data, len);
        free(data);
      }
      archive_entry_free(e);
    }
    free(name);
    free(full);
  }
  closedir(d);
  free(dir);
  return rc;
}

static char *zip_folder(const char *dir, size_t *len) {
  ll_buf_t out = LL_BUF_INIT;
  struct archive *a = archive_write_new();
  archive_write_set_format_zip(a);
  archive_write_open(a, &out, NULL, zip_write, NULL);
  int rc = add_tree(a, dir, "");
  archive_write_close(a);
  archive_write_free(a);
  if (rc < 0) {
    ll_buf_free(&out);
    return NULL;
  }
  return ll_buf_steal(&out, len);
}

/* ---- create-function --------------------------------------------------------------------- */

static const char create_usage[] =
    "usage: lambdalite create-function NAME --code DIR|ZIP [--handler H] [--runtime R]\n"
    "           [--memory MB] [--timeout SECONDS] [--env KEY=VALUE]... [--layer ARN]...\n"
    "           [--role ARN] [--endpoint URL] [--json]\n"
    "\n"
    "Creates a function from a folder (zipped on the fly, exec bits kept) or a zip holding an\n"
    "executable `bootstrap` (or one given by a layer). Runtime defaults to provided.al2023,\n"
    "memory to 128 MB, timeout to 3 s.\n";

static void print_config(json_t *c) {
  printf("%s  %s  %lld MB  %lld s  %s\n", json_string_value(json_object_get(c, "FunctionName")),
         json_string_value(json_object_get(c, "Runtime")),
         (long long)json_integer_value(json_object_get(c, "MemorySize")),
         (long long)json_integer_value(json_object_get(c, "Timeout")),
         json_string_value(json_object_get(c, "FunctionArn")));
}

int ll_cmd_create_function(int argc, char **argv) {
  static const struct option opts[] = {
      {"code", required_argument, 0, 'c'},    {"handler", required_argument, 0, 'H'},
      {"runtime", required_argument, 0, 'r'}, {"memory", required_argument, 0, 'm'},
      {"timeout", required_argument, 0, 't'}, {"env", required_argument, 0, 'e'},
      {"layer", required_argument, 0, 'L'},   {"role", required_argument, 0, 'R'},
      {"endpoint", required_argument, 0, 'E'}, {"json", no_argument, 0, 'j'},
      {"help", no_argument, 0, 'h'},          {0, 0, 0, 0},
  };
  const char *code = NULL, *endpoint = NULL;
  bool as_json = false;
  json_t *req = json_pack("{s:s,s:s,s:s}", "Runtime", "provided.al2023", "Role",
                          "arn:aws:iam::000000000000:role/lambda-role", "Handler", "bootstrap");
  json_t *vars = json_object(), *layers = json_array();
  int c, rc = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
      case 'c': code = optarg; break;
      case 'H': json_object_set_new(req, "Handler", json_string(optarg)); break;
      case 'r': json_object_set_new(req, "Runtime", json_string(optarg)); break;
      case 'm': json_object_set_new(req, "MemorySize", json_integer(atoi(optarg))); break;
      case 't': json_object_set_new(req, "Timeout", json_integer(atoi(optarg))); break;
      case 'R': json_object_set_new(req, "Role", json_string(optarg)); break;
      case 'E': endpoint = optarg; break;
      case 'j': as_json = true; break;
      case 'L': json_array_append_new(layers, json_string(optarg)); break;
      case 'e': {
        char *eq = strchr(optarg, '=');
        if (!eq) {
          fprintf(stderr, "lambdalite create-function: --env wants KEY=VALUE (got %s)\n", optarg);
          goto out;
        }
        json_object_setn_new(vars, optarg, (size_t)(eq - optarg), json_string(eq + 1));
        break;
      }
      case 'h': fputs(create_usage, stdout); rc = 0; goto out;
      default: rc = usage_error(create_usage); goto out;
    }
  }
  if (optind + 1 != argc || !code) {
    rc = usage_error(create_usage);
    goto out;
  }
  json_object_set_new(req, "FunctionName", json_string(argv[optind]));
  struct stat st;
  if (stat(code, &st) < 0) {
    fprintf(stderr, "lambdalite create-function: %s: no such file or folder\n", code);
    goto out;
  }
  size_t zlen = 0;
  char *zip = S_ISDIR(st.st_mode) ? zip_folder(code, &zlen) : read_file(code, &zlen);
  if (!zip) {
    fprintf(stderr, "lambdalite create-function: cannot read %s\n", code);
    goto out;
  }
  char *b64 = ll_base64_encode(zip, zlen);
  free(zip);
  json_object_set_new(req, "Code", json_pack("{s:s}", "ZipFile", b64));
  free(b64);
  if (json_object_size(vars))
    json_object_set_new(req, "Environment", json_pack("{s:O}", "Variables", vars));
  if (json_array_size(layers)) json_object_set(req, "Layers", layers);
  char *body = json_dumps(req, JSON_COMPACT);
  ll_client_response_t resp;
  const char *hdrs[] = {"Content-Type: application/json", NULL};
  if (ll_client_request(ll_client_endpoint(endpoint), "lambda", "POST", "/2015-03-31/functions",
                        body, strlen(body), hdrs, &resp) == 0) {
    if (resp.status != 201) {
      rc = ll_client_report_error(&resp);
    } else {
      json_t *doc = json_loads(resp.body, 0, NULL);
      if (as_json)
        printf("%s\n", resp.body);
      else
        print_config(doc);
      json_decref(doc);
      rc = 0;
    }
    ll_client_response_free(&resp);
  }
  free(body);
out:
  json_decref(req);
  json_decref(vars);
  json_decref(layers);
  return rc;
}

/* ---- invoke ------------------------------------------------------------------------------ */

static const char invoke_usage[] =
    "usage: lambdalite invoke NAME [--payload JSON|@FILE] [--async] [--log] [--endpoint URL]\n"
    "\n"
    "Invokes the function and prints its result on stdout. --log prints the invocation's log\n"
    "(START, the function's output, END, REPORT) on stderr; --async queues the event and\n"
    "returns at once. Exit status 1 when the function failed.\n";

static char *path_escape(const char *s) {
  ll_buf_t b = LL_BUF_INIT;
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
        strchr("-_.~", c))
      ll_buf_append(&b, s, 1);
    else
      ll_buf_printf(&b, "%%%02X", c);
  }
  return ll_buf_steal(&b, NULL);
}

/* "/2015-03-31/functions/<name, escaped><tail>" (heap). */
static char *function_path(const char *name, const char *tail) {
  char *esc = path_escape(name);
  char *path = ll_sprintf("/2015-03-31/functions/%s%s", esc, tail);
  free(esc);
  return path;
}

int ll_cmd_invoke(int argc, char **argv) {
  static const struct option opts[] = {
      {"payload", required_argument, 0, 'p'}, {"async", no_argument, 0, 'a'},
      {"log", no_argument, 0, 'l'},           {"endpoint", required_argument, 0, 'E'},
      {"help", no_argument, 0, 'h'},          {0, 0, 0, 0},
  };
  const char *payload = "{}", *endpoint = NULL;
  bool async = false, log = false;
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
      case 'p': payload = optarg; break;
      case 'a': async = true; break;
      case 'l': log = true; break;
      case 'E': endpoint = optarg; break;
      case 'h': fputs(invoke_usage, stdout); return 0;
      default: return usage_error(invoke_usage);
    }
  }
  if (optind + 1 != argc) return usage_error(invoke_usage);
  size_t len = strlen(payload);
  char *body = NULL;
  if (payload[0] == '@') {
    body = read_file(payload + 1, &len);
    if (!body) {
      fprintf(stderr, "lambdalite invoke: cannot read %s\n", payload + 1);
      return 1;
    }
  } else {
    body = ll_strdup(payload);
  }
  char *path = function_path(argv[optind], "/invocations");
  const char *hdrs[3] = {NULL};
  int nh = 0;
  if (async) hdrs[nh++] = "X-Amz-Invocation-Type: Event";
  if (log && !async) hdrs[nh++] = "X-Amz-Log-Type: Tail";
  ll_client_response_t resp;
  int rc = 1;
  if (ll_client_request(ll_client_endpoint(endpoint), "lambda", "POST", path, body, len, hdrs,
                        &resp) == 0) {
    if (resp.status == 202) {
      fprintf(stderr, "lambdalite: event queued\n");
      rc = 0;
    } else if (resp.status != 200) {
      rc = ll_client_report_error(&resp);
    } else {
      fwrite(resp.body, 1, resp.len, stdout);
      if (resp.len && resp.body[resp.len - 1] != '\n') putchar('\n');
      if (resp.log_result) {
        size_t n;
        char *text = (char *)ll_base64_decode(resp.log_result, strlen(resp.log_result), &n);
        if (text) fwrite(text, 1, n, stderr);
        free(text);
      }
      if (resp.function_error) {
        fprintf(stderr, "lambdalite: the function failed (%s)\n", resp.function_error);
        rc = 1;
      } else {
        rc = 0;
      }
    }
    ll_client_response_free(&resp);
  }
  free(path);
  free(body);
  return rc;
}

/* ---- list / get / delete / info ---------------------------------------------------------- */

/* The options these read commands share: [--json] [--endpoint URL] [--help], then exactly
 * nargs operands. Returns -1 to go on (operands start at argv[optind]), else the exit status. */
static int read_opts(int argc, char **argv, const char *usage, int nargs, bool allow_json,
                     const char **endpoint, bool *as_json) {
  static const struct option opts[] = {
      {"json", no_argument, 0, 'j'}, {"endpoint", required_argument, 0, 'E'},
      {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
      case 'j':
        if (!allow_json) return usage_error(usage);
        *as_json = true;
        break;
      case 'E': *endpoint = optarg; break;
      case 'h': fputs(usage, stdout); return 0;
      default: return usage_error(usage);
    }
  }
  return optind + nargs == argc ? -1 : usage_error(usage);
}

static const char list_usage[] =
    "usage: lambdalite list [--json] [--endpoint URL]\n\nLists the functions.\n";

int ll_cmd_list(int argc, char **argv) {
  const char *endpoint = NULL;
  bool as_json = false;
  int rc0 = read_opts(argc, argv, list_usage, 0, true, &endpoint, &as_json);
  if (rc0 >= 0) return rc0;
  json_t *all = json_array();
  char *marker = NULL;
  int rc = 0;
  for (;;) {
    char *path = marker ? ll_sprintf("/2015-03-31/functions?Marker=%s", marker)
                        : ll_strdup("/2015-03-31/functions");
    ll_client_response_t resp;
    int r = ll_client_request(ll_client_endpoint(endpoint), "lambda", "GET", path, NULL, 0, NULL, &resp);
    free(path);
    free(marker);
    marker = NULL;
    if (r < 0) {
      rc = 1;
      break;
    }
    if (resp.status != 200) {
      rc = ll_client_report_error(&resp);
      ll_client_response_free(&resp);
      break;
    }
    json_t *doc = json_loads(resp.body, 0, NULL);
    json_array_extend(all, json_object_get(doc, "Functions"));
    const char *next = json_string_value(json_object_get(doc, "NextMarker"));
    if (next) marker = path_escape(next);
    json_decref(doc);
    ll_client_response_free(&resp);
    if (!marker) break;
  }
  if (rc == 0) {
    if (as_json) {
      json_t *doc = json_pack("{s:O}", "Functions", all);
      char *s = json_dumps(doc, JSON_INDENT(2));
      printf("%s\n", s);
      free(s);
      json_decref(doc);
    } else {
      printf("%-32s %-16s %8s %8s  %s\n", "NAME", "RUNTIME", "MEMORY", "TIMEOUT", "LAST MODIFIED");
      size_t i;
      json_t *f;
      json_array_foreach(all, i, f)
          printf("%-32s %-16s %5lld MB %6lld s  %s\n",
                 json_string_value(json_object_get(f, "FunctionName")),
                 json_string_value(json_object_get(f, "Runtime")),
                 (long long)json_integer_value(json_object_get(f, "MemorySize")),
                 (long long)json_integer_value(json_object_get(f, "Timeout")),
                 json_string_value(json_object_get(f, "LastModified")));
    }
  }
  json_decref(all);
  return rc;
}

static const char get_usage[] =
    "usage: lambdalite get NAME [--json] [--endpoint URL]\n\nShows a function's configuration.\n";

int ll_cmd_get(int argc, char **argv) {
  const char *endpoint = NULL;
  bool as_json = false;
  int rc0 = read_opts(argc, argv, get_usage, 1, true, &endpoint, &as_json);
  if (rc0 >= 0) return rc0;
  char *path = function_path(argv[optind], "");
  ll_client_response_t resp;
  int rc = 1;
  if (ll_client_request(ll_client_endpoint(endpoint), "lambda", "GET", path, NULL, 0, NULL, &resp) == 0) {
    if (resp.status != 200) {
      rc = ll_client_report_error(&resp);
    } else {
      json_t *doc = json_loads(resp.body, 0, NULL);
      json_t *cfg = json_object_get(doc, "Configuration");
      if (as_json) {
        char *s = json_dumps(doc, JSON_INDENT(2));
        printf("%s\n", s);
        free(s);
      } else {
        const char *keys[] = {"FunctionName", "FunctionArn", "Runtime", "Handler", "MemorySize",
                              "Timeout", "CodeSize", "CodeSha256", "LastModified", "State", NULL};
        for (int i = 0; keys[i]; i++) {
          json_t *v = json_object_get(cfg, keys[i]);
          if (json_is_string(v)) printf("%-14s %s\n", keys[i], json_string_value(v));
          else if (json_is_integer(v)) printf("%-14s %lld\n", keys[i], (long long)json_integer_value(v));
        }
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(json_object_get(cfg, "Environment"), "Variables"), k, v)
            printf("%-14s %s=%s\n", "Environment", k, json_string_value(v));
      }
      json_decref(doc);
      rc = 0;
    }
    ll_client_response_free(&resp);
  }
  free(path);
  return rc;
}

static const char delete_usage[] =
    "usage: lambdalite delete NAME [--endpoint URL]\n\nDeletes a function, its code and its logs.\n";

int ll_cmd_delete(int argc, char **argv) {
  const char *endpoint = NULL;
  bool as_json = false;
  int rc0 = read_opts(argc, argv, delete_usage, 1, false, &endpoint, &as_json);
  if (rc0 >= 0) return rc0;
  char *path = function_path(argv[optind], "");
  ll_client_response_t resp;
  int rc = 1;
  if (ll_client_request(ll_client_endpoint(endpoint), "lambda", "DELETE", path, NULL, 0, NULL, &resp) == 0) {
    rc = resp.status == 204 ? 0 : ll_client_report_error(&resp);
    if (rc == 0) fprintf(stderr, "lambdalite: deleted %s\n", argv[optind]);
    ll_client_response_free(&resp);
  }
  free(path);
  return rc;
}

/* ---- logs -------------------------------------------------------------------------------- */

static const char logs_usage[] =
    "usage: lambdalite logs NAME [--since DURATION] [--follow] [--json] [--endpoint URL]\n"
    "\n"
    "Prints the function's log lines (START/END/REPORT and its own output), oldest first.\n"
    "--since 10m|2h|30s|1d limits to recent lines (default: all); --follow keeps printing new\n"
    "lines until interrupted; --json prints one JSON event per line.\n";

static int64_t parse_duration_ms(const char *s) {
  char *end;
  double v = strtod(s, &end);
  if (end == s || v < 0) return -1;
  switch (*end) {
    case '\0': case 's': return (int64_t)(v * 1000);
    case 'm': return (int64_t)(v * 60000);
    case 'h': return (int64_t)(v * 3600000);
    case 'd': return (int64_t)(v * 86400000);
    default: return -1;
  }
}

int ll_cmd_logs(int argc, char **argv) {
  static const struct option opts[] = {
      {"since", required_argument, 0, 's'}, {"follow", no_argument, 0, 'f'},
      {"json", no_argument, 0, 'j'},        {"endpoint", required_argument, 0, 'E'},
      {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
  const char *endpoint = NULL;
  bool follow = false, as_json = false;
  int64_t start = 0;
  int c;
  while ((c = getopt_long(argc, argv, "hf", opts, NULL)) != -1) {
    switch (c) {
      case 's': {
        int64_t d = parse_duration_ms(optarg);
        if (d < 0) {
          fprintf(stderr, "lambdalite logs: --since wants a duration like 30s, 10m, 2h or 1d (got %s)\n", optarg);
          return 2;
        }
        start = ll_wall_ms() - d;
        break;
      }
      case 'f': follow = true; break;
      case 'j': as_json = true; break;
      case 'E': endpoint = optarg; break;
      case 'h': fputs(logs_usage, stdout); return 0;
      default: return usage_error(logs_usage);
    }
  }
  if (optind + 1 != argc) return usage_error(logs_usage);
  const char *fn = argv[optind];
  int64_t last_ts = -1;
  size_t at_last = 0; /* events printed with timestamp last_ts */
  const char *hdrs[] = {"Content-Type: application/x-amz-json-1.1",
                        "X-Amz-Target: Logs_20140328.FilterLogEvents", NULL};
  for (;;) {
    char *token = NULL;
    size_t seen_at_last = 0;
    do {
      json_t *in = json_pack("{s:s%,s:I}", "logGroupName", "/aws/lambda/", (size_t)12, "startTime",
                             (json_int_t)(last_ts >= 0 ? last_ts : start));
      json_object_set_new(in, "logGroupName", json_sprintf("/aws/lambda/%s", fn));
      if (token) json_object_set_new(in, "nextToken", json_string(token));
      free(token);
      token = NULL;
      char *body = json_dumps(in, JSON_COMPACT);
      json_decref(in);
      ll_client_response_t resp;
      int r = ll_client_request(ll_client_endpoint(endpoint), "logs", "POST", "/", body,
                                strlen(body), hdrs, &resp);
      free(body);
      if (r < 0) return 1;
      if (resp.status != 200) {
        int rc = ll_client_report_error(&resp);
        ll_client_response_free(&resp);
        return rc;
      }
      json_t *doc = json_loads(resp.body, 0, NULL);
      ll_client_response_free(&resp);
      size_t i;
      json_t *ev;
      json_array_foreach(json_object_get(doc, "events"), i, ev) {
        int64_t ts = json_integer_value(json_object_get(ev, "timestamp"));
        if (ts == last_ts && seen_at_last < at_last) {
          seen_at_last++; /* printed by an earlier poll */
          continue;
        }
        if (ts != last_ts) {
          last_ts = ts;
          at_last = 0;
          seen_at_last = 0;
        }
        at_last++;
        seen_at_last++;
        if (as_json) {
          char *s = json_dumps(ev, JSON_COMPACT);
          printf("%s\n", s);
          free(s);
        } else {
          char when[40];
          ll_format_iso_ms(ts, when, sizeof when);
          printf("%s %s\n", when, json_string_value(json_object_get(ev, "message")));
        }
      }
      const char *next = json_string_value(json_object_get(doc, "nextToken"));
      if (next) token = ll_strdup(next);
      json_decref(doc);
    } while (token);
    fflush(stdout);
    if (!follow) return 0;
    sleep(1);
  }
}

static const char info_usage[] =
    "usage: lambdalite info [--json] [-c serverless.yml] [--stage STAGE] [--endpoint URL]\n"
    "\n"
    "Shows what the daemon is: version, address, data directory, region, how many functions,\n"
    "which sandbox mechanisms are in force on this machine, the streams, and each event source\n"
    "mapping with its state, last processing result and iterator age. With a serverless.yml\n"
    "(given with -c, or in the current directory) also its stack: status, resources, outputs.\n";

int ll_cmd_info(int argc, char **argv) {
  const char *endpoint = NULL, *config = NULL, *stage = NULL;
  bool as_json = false;
  static const struct option opts[] = {
      {"json", no_argument, 0, 'j'},         {"endpoint", required_argument, 0, 'E'},
      {"config", required_argument, 0, 'c'}, {"stage", required_argument, 0, 's'},
      {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "hc:s:", opts, NULL)) != -1) {
    switch (c) {
      case 'j': as_json = true; break;
      case 'E': endpoint = optarg; break;
      case 'c': config = optarg; break;
      case 's': stage = optarg; break;
      case 'h': fputs(info_usage, stdout); return 0;
      default: return usage_error(info_usage);
    }
  }
  if (optind != argc) return usage_error(info_usage);
  ll_client_response_t resp;
  if (ll_client_request(ll_client_endpoint(endpoint), "lambda", "GET", "/lambdalite/v1/info", NULL,
                        0, NULL, &resp) < 0)
    return 1;
  int rc = 0;
  if (resp.status != 200) {
    rc = ll_client_report_error(&resp);
  } else if (as_json) {
    json_t *doc = json_loads(resp.body, 0, NULL);
    rc = ll__info_stack(endpoint, config, stage, doc, true);
    char *text = json_dumps(doc, JSON_COMPACT);
    printf("%s\n", text);
    free(text);
    json_decref(doc);
  } else {
    json_t *doc = json_loads(resp.body, 0, NULL);
    printf("lambdalite %s at http://%s\n", json_string_value(json_object_get(doc, "version")),
           json_string_value(json_object_get(doc, "listen")));
    printf("data dir   %s\n", json_string_value(json_object_get(doc, "dataDir")));
    printf("region     %s\n", json_string_value(json_object_get(doc, "region")));
    printf("functions  %lld\n", (long long)json_integer_value(json_object_get(doc, "functions")));
    json_t *sb = json_object_get(doc, "sandbox");
    printf("sandbox    %s", json_is_true(json_object_get(sb, "enabled")) ? "on" : "off");
    if (json_is_true(json_object_get(sb, "enabled")))
      printf(" (%lld prepared in the warm pool)",
             (long long)json_integer_value(json_object_get(sb, "warmPoolReady")));
    printf("\n");
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(sb, "mechanisms"), i, m)
        printf("  %s\n", json_string_value(m));
    printf("streams    %lld\n", (long long)json_integer_value(json_object_get(doc, "streams")));
    json_t *maps = json_object_get(doc, "eventSourceMappings");
    printf("mappings   %zu\n", json_array_size(maps));
    json_array_foreach(maps, i, m) {
      const char *arn = json_string_value(json_object_get(m, "EventSourceArn"));
      const char *stream = arn && strstr(arn, ":stream/") ? strstr(arn, ":stream/") + 8 : arn;
      printf("  %s  %s -> %s: %s, %s, iterator age %lld ms, %lld batch(es) in flight%s\n",
             json_string_value(json_object_get(m, "UUID")), stream ? stream : "?",
             json_string_value(json_object_get(m, "FunctionName")),
             json_string_value(json_object_get(m, "State")),
             json_string_value(json_object_get(m, "LastProcessingResult")),
             (long long)json_integer_value(json_object_get(m, "IteratorAgeMilliseconds")),
             (long long)json_integer_value(json_object_get(m, "BatchesInFlight")),
             json_is_true(json_object_get(m, "Drained")) ? ", drained" : "");
    }
    rc = ll__info_stack(endpoint, config, stage, doc, false);
    json_decref(doc);
  }
  ll_client_response_free(&resp);
  return rc;
}

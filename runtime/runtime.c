/* liblambdalite-runtime: the Lambda Runtime API client loop (contract in lambdalite_runtime.h).
 *
 * One libcurl easy handle lives for the whole process, so every request rides one keep-alive
 * connection (curl reconnects by itself if the platform closed it). A warm invoke allocates
 * nothing of its own: the payload, the header values, the URL, the response and the trace
 * variable live in buffers that only ever grow (libcurl still allocates internally per request).
 *
 * This file must not include anything from src/: functions link only this library.
 */
#include "lambdalite_runtime.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define RT_LOG "lambdalite-runtime: "
#define RT_NEXT_TRIES 3                    /* consecutive /next failures before giving up */
#define RT_RESERVE_MAX ((size_t)64 << 20)  /* trust Content-Length up to this for pre-sizing */
#define RT_TRACE_VAR "_X_AMZN_TRACE_ID"

/* ---- growable buffers ------------------------------------------------------------------- */

typedef struct rt_buf {
  char *data; /* owned; NULL until the first reserve; NUL-terminated past len after that */
  size_t len;
  size_t cap;
} rt_buf_t;

static void rt_oom(size_t sz) __attribute__((noreturn));
static void rt_oom(size_t sz) {
  fprintf(stderr, RT_LOG "out of memory allocating %zu bytes\n", sz);
  abort();
}

/* Makes room for extra more bytes plus the NUL; grows geometrically. */
static void buf_reserve(rt_buf_t *b, size_t extra) {
  if (extra > SIZE_MAX / 2 - b->len) rt_oom(SIZE_MAX);
  size_t need = b->len + extra + 1;
  if (need <= b->cap) return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need) cap *= 2;
  char *p = realloc(b->data, cap);
  if (!p) rt_oom(cap);
  b->data = p;
  b->cap = cap;
}

static void buf_append(rt_buf_t *b, const void *p, size_t len) {
  buf_reserve(b, len);
  if (len) memcpy(b->data + b->len, p, len);
  b->len += len;
  b->data[b->len] = '\0';
}

static void buf_puts(rt_buf_t *b, const char *s) { buf_append(b, s, strlen(s)); }

static void buf_reset(rt_buf_t *b) {
  b->len = 0;
  if (b->data) b->data[0] = '\0';
}

static void buf_free(rt_buf_t *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

/* ---- JSON strings ----------------------------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence starting s[0] (n bytes available), 0 if ill-formed:
 * overlong forms, surrogates and code points above U+10FFFF are ill-formed. */
static size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  size_t len;
  uint32_t cp, min;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2, cp = c & 0x1f, min = 0x80;
  } else if ((c & 0xf0) == 0xe0) {
    len = 3, cp = c & 0x0f, min = 0x800;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4, cp = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    cp = cp << 6 | (s[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

/* Appends s[0..len) as a quoted JSON string (RFC 8259); ill-formed UTF-8 becomes U+FFFD. */
static void json_string(rt_buf_t *b, const char *s, size_t len) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  buf_reserve(b, len + 2);
  buf_append(b, "\"", 1);
  while (i < len) {
    size_t run = i;
    while (run < len && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' && p[run] != '\\') run++;
    if (run > i) {
      buf_append(b, p + i, run - i);
      i = run;
      continue;
    }
    unsigned c = p[i];
    if (c == '"' || c == '\\') {
      char esc[2] = {'\\', (char)c};
      buf_append(b, esc, 2);
      i++;
    } else if (c < 0x20) {
      const char *short_esc = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t"
                            : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
      if (short_esc) {
        buf_append(b, short_esc, 2);
      } else {
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        buf_append(b, esc, 6);
      }
      i++;
    } else {
      size_t n = utf8_len(p + i, len - i);
      if (n) {
        buf_append(b, p + i, n);
        i += n;
      } else {
        buf_append(b, "\xef\xbf\xbd", 3);
        i++;
      }
    }
  }
  buf_append(b, "\"", 1);
}

/* ---- responses -------------------------------------------------------------------------- */

struct ll_response {
  rt_buf_t body;    /* the response bytes, or the error JSON once failed */
  rt_buf_t err_hdr; /* "Lambda-Runtime-Function-Error-Type: <type>" once failed */
  int failed;
};

static void response_reset(ll_response *out) {
  buf_reset(&out->body);
  buf_reset(&out->err_hdr);
  out->failed = 0;
}

static void response_free(ll_response *out) {
  buf_free(&out->body);
  buf_free(&out->err_hdr);
}

int ll_response_set(ll_response *out, const void *data, size_t len) {
  if (!out || (!data && len)) return -EINVAL;
  if (out->failed) return -EALREADY;
  buf_reset(&out->body);
  buf_append(&out->body, data, len);
  return 0;
}

int ll_response_printf(ll_response *out, const char *fmt, ...) {
  if (!out || !fmt) return -EINVAL;
  if (out->failed) return -EALREADY;
  rt_buf_t *b = &out->body;
  size_t avail = b->cap - b->len; /* cap is 0 or > len */
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(avail ? b->data + b->len : NULL, avail, fmt, ap);
  va_end(ap);
  if (n < 0) {
    if (b->data) b->data[b->len] = '\0';
    return -EINVAL;
  }
  if ((size_t)n >= avail) { /* did not fit: grow and format again */
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
  }
  b->len += (size_t)n;
  return 0;
}

int ll_response_json_string(ll_response *out, const char *s, size_t len) {
  if (!out || (!s && len)) return -EINVAL;
  if (out->failed) return -EALREADY;
  json_string(&out->body, s ? s : "", len);
  return 0;
}

int ll_response_error(ll_response *out, const char *error_type, const char *error_message) {
  if (!out) return -EINVAL;
  if (!error_type) error_type = "Runtime.HandlerError";
  if (!error_message) error_message = "";
  rt_buf_t *b = &out->body;
  buf_reset(b);
  buf_puts(b, "{\"errorMessage\":");
  json_string(b, error_message, strlen(error_message));
  buf_puts(b, ",\"errorType\":");
  json_string(b, error_type, strlen(error_type));
  buf_puts(b, ",\"stackTrace\":[]}");

  /* The header value may not carry CR/LF (header injection) or other control bytes. */
  rt_buf_t *h = &out->err_hdr;
  size_t tlen = strlen(error_type);
  buf_reset(h);
  buf_puts(h, "Lambda-Runtime-Function-Error-Type: ");
  buf_append(h, error_type, tlen);
  for (char *c = h->data + h->len - tlen; *c; c++) {
    if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = ' ';
  }
  out->failed = 1;
  return 0;
}

long long ll_remaining_ms(const ll_invocation *in) {
  struct timespec ts;
  if (!in) return 0;
  clock_gettime(CLOCK_REALTIME, &ts);
  return in->deadline_ms - ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* ---- the Runtime API client ------------------------------------------------------------- */

/* Lambda-Runtime-* headers of a /next answer, by the name after the prefix. */
enum { HDR_REQUEST_ID, HDR_FUNCTION_ARN, HDR_TRACE_ID, HDR_CLIENT_CONTEXT, HDR_COGNITO,
       HDR_DEADLINE, HDR__COUNT };

#define RT_HDR_PREFIX "lambda-runtime-"
#define RT_STR(s) {s, sizeof(s) - 1}
static const struct {
  const char *name;
  size_t len;
} rt_hdrs[HDR__COUNT] = {
    [HDR_REQUEST_ID] = RT_STR("aws-request-id"),
    [HDR_FUNCTION_ARN] = RT_STR("invoked-function-arn"),
    [HDR_TRACE_ID] = RT_STR("trace-id"),
    [HDR_CLIENT_CONTEXT] = RT_STR("client-context"),
    [HDR_COGNITO] = RT_STR("cognito-identity"),
    [HDR_DEADLINE] = RT_STR("deadline-ms"),
};

typedef struct rt {
  CURL *curl; /* owned; the one easy handle, hence the one keep-alive connection */
  rt_buf_t base;     /* "http://<AWS_LAMBDA_RUNTIME_API>/2018-06-01" */
  rt_buf_t next_url; /* base + "/runtime/invocation/next" */
  rt_buf_t url;      /* scratch: the URL of the current post */
  rt_buf_t payload;  /* body of the last /next answer */
  rt_buf_t reply;    /* body of the last post's answer, for diagnostics */
  rt_buf_t hdr[HDR__COUNT];
  unsigned hdr_seen; /* bit per HDR_* present in the last /next answer */
  int in_next;       /* headers are parsed only while /next runs */
  char *trace_env;   /* owned; "_X_AMZN_TRACE_ID=..." handed to putenv(), so it is in environ */
  size_t trace_env_cap;
  /* Header lists built by hand (struct curl_slist is public) so posts allocate nothing. */
  struct curl_slist resp_hdrs[2];
  struct curl_slist err_hdrs[3];
  ll_response resp;
  char curl_err[CURL_ERROR_SIZE];
} rt_t;

static rt_t *rt_global; /* owned; created by the first call that needs the API */

static size_t rt_on_body(char *data, size_t size, size_t n, void *ud) {
  buf_append(ud, data, size * n);
  return size * n;
}

/* Runs for every header line of every answer; does real work only for /next answers. */
static size_t rt_on_header(char *line, size_t size, size_t n, void *ud) {
  rt_t *rt = ud;
  size_t len = size * n, plen = sizeof(RT_HDR_PREFIX) - 1;
  if (!rt->in_next || len <= plen) return len;
  while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' ||
                 line[len - 1] == '\t'))
    len--;
  const char *colon = memchr(line, ':', len);
  if (!colon) return size * n;
  const char *v = colon + 1, *end = line + len;
  while (v < end && (*v == ' ' || *v == '\t')) v++;

  if ((line[0] | 0x20) == 'l' && strncasecmp(line, RT_HDR_PREFIX, plen) == 0) {
    const char *name = line + plen;
    size_t nlen = (size_t)(colon - name);
    for (int i = 0; i < HDR__COUNT; i++) {
      if (nlen == rt_hdrs[i].len && strncasecmp(name, rt_hdrs[i].name, nlen) == 0) {
        buf_reset(&rt->hdr[i]);
        buf_append(&rt->hdr[i], v, (size_t)(end - v));
        rt->hdr_seen |= 1u << i;
        break;
      }
    }
  } else if ((line[0] | 0x20) == 'c' && colon - line == 14 &&
             strncasecmp(line, "content-length", 14) == 0) {
    char *num_end;
    unsigned long long cl = strtoull(v, &num_end, 10);
    if (num_end != v && cl <= RT_RESERVE_MAX) buf_reserve(&rt->payload, (size_t)cl);
  }
  return size * n;
}

static void rt_close(rt_t *rt) {
  if (!rt) return;
  if (rt->trace_env) unsetenv(RT_TRACE_VAR); /* environ points into trace_env */
  free(rt->trace_env);
  curl_easy_cleanup(rt->curl);
  curl_global_cleanup();
  buf_free(&rt->base);
  buf_free(&rt->next_url);
  buf_free(&rt->url);
  buf_free(&rt->payload);
  buf_free(&rt->reply);
  for (int i = 0; i < HDR__COUNT; i++) buf_free(&rt->hdr[i]);
  response_free(&rt->resp);
  free(rt);
}

/* Returns the client, creating it on first use: 0, or -EINVAL without AWS_LAMBDA_RUNTIME_API,
 * -EIO if libcurl cannot start. */
static int rt_open(rt_t **out) {
  if (rt_global) {
    *out = rt_global;
    return 0;
  }
  const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
  if (!api || !*api) {
    fprintf(stderr, RT_LOG "AWS_LAMBDA_RUNTIME_API is not set\n");
    return -EINVAL;
  }
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    fprintf(stderr, RT_LOG "curl_global_init failed\n");
    return -EIO;
  }
  rt_t *rt = calloc(1, sizeof(*rt));
  if (!rt) rt_oom(sizeof(*rt));
  rt->curl = curl_easy_init();
  if (!rt->curl) {
    fprintf(stderr, RT_LOG "curl_easy_init failed\n");
    curl_global_cleanup();
    free(rt);
    return -EIO;
  }
  buf_puts(&rt->base, "http://");
  buf_puts(&rt->base, api);
  buf_puts(&rt->base, "/2018-06-01");
  buf_append(&rt->next_url, rt->base.data, rt->base.len);
  buf_puts(&rt->next_url, "/runtime/invocation/next");

  /* An empty "Expect:" stops curl's 100-continue round trip; POSTFIELDS + POSTFIELDSIZE give an
   * explicit Content-Length (never chunked). */
  rt->resp_hdrs[0] = (struct curl_slist){"Expect:", &rt->resp_hdrs[1]};
  rt->resp_hdrs[1] = (struct curl_slist){"Content-Type: application/octet-stream", NULL};
  rt->err_hdrs[0] = (struct curl_slist){"Expect:", &rt->err_hdrs[1]};
  rt->err_hdrs[1] = (struct curl_slist){"Content-Type: application/json", &rt->err_hdrs[2]};
  rt->err_hdrs[2] = (struct curl_slist){NULL, NULL}; /* the error type, set per post */

  CURL *c = rt->curl;
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, rt->curl_err);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* no SIGPIPE dance per request; Linux sends with
                                                MSG_NOSIGNAL anyway */
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 0L); /* /next blocks until an event arrives */
  curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(c, CURLOPT_DNS_CACHE_TIMEOUT, -1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  /* No CURLOPT_USERAGENT: curl formats it with its own printf on every request (~9% of a warm
   * invoke's instructions in callgrind). */
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, rt_on_body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, rt_on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, rt);
  rt_global = rt;
  *out = rt;
  return 0;
}

/* Runs the request set up on the handle. Returns 0 with the HTTP status in *status, or -EIO on a
 * transport error (logged). */
static int rt_perform(rt_t *rt, const char *what, long *status) {
  rt->curl_err[0] = '\0';
  *status = 0;
  CURLcode rc = curl_easy_perform(rt->curl);
  if (rc != CURLE_OK) {
    const char *msg = rt->curl_err[0] ? rt->curl_err : curl_easy_strerror(rc);
    fprintf(stderr, RT_LOG "%s: %s\n", what, msg);
    return -EIO;
  }
  curl_easy_getinfo(rt->curl, CURLINFO_RESPONSE_CODE, status);
  return 0;
}

/* GET /next into rt->payload and rt->hdr. Returns 0, -EIO, or -EPROTO for a status other than
 * 200 or an answer without a request id. */
static int rt_next(rt_t *rt) {
  CURL *c = rt->curl;
  for (int i = 0; i < HDR__COUNT; i++) buf_reset(&rt->hdr[i]);
  rt->hdr_seen = 0;
  buf_reset(&rt->payload);
  curl_easy_setopt(c, CURLOPT_URL, rt->next_url.data);
  curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &rt->payload);
  rt->in_next = 1;
  long status;
  int r = rt_perform(rt, "GET /runtime/invocation/next", &status);
  rt->in_next = 0;
  if (r < 0) return r;
  if (status != 200) {
    fprintf(stderr, RT_LOG "GET /runtime/invocation/next: HTTP %ld: %.300s\n", status,
            rt->payload.data ? rt->payload.data : "");
    return -EPROTO;
  }
  if (!(rt->hdr_seen & 1u << HDR_REQUEST_ID) || rt->hdr[HDR_REQUEST_ID].len == 0) {
    fprintf(stderr, RT_LOG "GET /runtime/invocation/next: no Lambda-Runtime-Aws-Request-Id\n");
    return -EPROTO;
  }
  return 0;
}

/* POSTs body to rt->url. Returns 0 on 202; -EIO on a transport error; -EPROTO for any other
 * status, which lands in *status. Failures are logged. */
static int rt_post(rt_t *rt, struct curl_slist *hdrs, const rt_buf_t *body, long *status) {
  CURL *c = rt->curl;
  buf_reset(&rt->reply);
  curl_easy_setopt(c, CURLOPT_URL, rt->url.data);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->data ? body->data : "");
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &rt->reply);
  const char *path = rt->url.data + rt->base.len;
  int r = rt_perform(rt, path, status);
  if (r < 0) return r;
  if (*status != 202) {
    fprintf(stderr, RT_LOG "POST %s: HTTP %ld: %.300s\n", path, *status,
            rt->reply.data ? rt->reply.data : "");
    return -EPROTO;
  }
  return 0;
}

/* rt->url = base + "/runtime/invocation/" + id (percent-encoded) + tail. */
static void rt_invocation_url(rt_t *rt, const rt_buf_t *id, const char *tail) {
  static const char hex[] = "0123456789ABCDEF";
  buf_reset(&rt->url);
  buf_append(&rt->url, rt->base.data, rt->base.len);
  buf_puts(&rt->url, "/runtime/invocation/");
  buf_reserve(&rt->url, id->len * 3 + strlen(tail));
  for (size_t i = 0; i < id->len; i++) {
    unsigned char ch = (unsigned char)id->data[i];
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
        ch == '-' || ch == '.' || ch == '_' || ch == '~') {
      rt->url.data[rt->url.len++] = (char)ch;
    } else {
      rt->url.data[rt->url.len++] = '%';
      rt->url.data[rt->url.len++] = hex[ch >> 4];
      rt->url.data[rt->url.len++] = hex[ch & 15];
    }
  }
  buf_puts(&rt->url, tail);
}

/* Points $_X_AMZN_TRACE_ID at this invocation's trace header, or removes it. glibc's setenv()
 * leaks every distinct value, so we own the "NAME=value" string: rewrite it in place and
 * putenv() it (no allocation when the variable already exists), and only free a string once
 * putenv() has replaced it in environ. */
static void rt_set_trace(rt_t *rt, const rt_buf_t *trace) {
  static const char prefix[] = RT_TRACE_VAR "=";
  if (trace->len == 0) {
    unsetenv(RT_TRACE_VAR);
    return;
  }
  size_t need = sizeof(prefix) + trace->len;
  char *old = NULL;
  if (need > rt->trace_env_cap) {
    size_t cap = rt->trace_env_cap ? rt->trace_env_cap : 128;
    while (cap < need) cap *= 2;
    old = rt->trace_env;
    rt->trace_env = malloc(cap);
    if (!rt->trace_env) rt_oom(cap);
    rt->trace_env_cap = cap;
    memcpy(rt->trace_env, prefix, sizeof(prefix) - 1);
  }
  memcpy(rt->trace_env + sizeof(prefix) - 1, trace->data, trace->len);
  rt->trace_env[sizeof(prefix) - 1 + trace->len] = '\0';
  putenv(rt->trace_env);
  free(old);
}

/* Parses a whole decimal string; 0 on success. */
static int parse_ll(const rt_buf_t *b, long long *out) {
  char *end;
  if (b->len == 0) return -EINVAL;
  errno = 0;
  long long v = strtoll(b->data, &end, 10);
  if (errno || end != b->data + b->len) return -EINVAL;
  *out = v;
  return 0;
}

static const char *opt_hdr(const rt_t *rt, int i) {
  return rt->hdr[i].len ? rt->hdr[i].data : NULL;
}

/* Runs the handler on the event in rt and posts its result. Returns 0 to go on with /next, or
 * -EIO / -EPROTO when the loop must stop: the post could not be sent or was answered 5xx. */
static int rt_invoke(rt_t *rt, ll_handler handler) {
  ll_response *out = &rt->resp;
  ll_invocation in = {
      .request_id = rt->hdr[HDR_REQUEST_ID].data,
      .function_arn = rt->hdr[HDR_FUNCTION_ARN].len ? rt->hdr[HDR_FUNCTION_ARN].data : "",
      .trace_id = opt_hdr(rt, HDR_TRACE_ID),
      .client_context = opt_hdr(rt, HDR_CLIENT_CONTEXT),
      .cognito_identity = opt_hdr(rt, HDR_COGNITO),
      .payload = rt->payload.data ? rt->payload.data : "",
      .payload_len = rt->payload.len,
  };
  response_reset(out);
  rt_set_trace(rt, &rt->hdr[HDR_TRACE_ID]);
  if (parse_ll(&rt->hdr[HDR_DEADLINE], &in.deadline_ms) < 0) {
    /* Like the Go client: an event without a usable deadline fails without running. */
    ll_response_error(out, "Runtime.InvalidDeadline",
                      "Lambda-Runtime-Deadline-Ms is missing or not an integer");
  } else {
    int hr = handler(&in, out);
    if (hr != 0 && !out->failed) {
      char msg[64];
      snprintf(msg, sizeof(msg), "handler returned %d", hr);
      ll_response_error(out, "Runtime.HandlerError", msg);
    }
  }
  fflush(stdout); /* the invocation's logs reach the platform before its result */

  long status;
  int r;
  if (out->failed) {
    rt->err_hdrs[2].data = out->err_hdr.data;
    rt_invocation_url(rt, &rt->hdr[HDR_REQUEST_ID], "/error");
    r = rt_post(rt, rt->err_hdrs, &out->body, &status);
  } else {
    rt_invocation_url(rt, &rt->hdr[HDR_REQUEST_ID], "/response");
    r = rt_post(rt, rt->resp_hdrs, &out->body, &status);
  }
  /* 400 (stale id), 403 (already answered), 413 (too large): the platform has settled the
   * invocation; carry on. 5xx means the platform wants the runtime gone. */
  if (r == -EPROTO && status < 500) r = 0;
  return r;
}

int ll_runtime_main(ll_handler handler) {
  rt_t *rt;
  int r, failures = 0;
  if (!handler) return -EINVAL;
  r = rt_open(&rt);
  if (r < 0) return r;
  for (;;) {
    r = rt_next(rt);
    if (r < 0) {
      if (++failures < RT_NEXT_TRIES) continue;
      fprintf(stderr, RT_LOG "giving up after %d failed /next requests\n", failures);
      break;
    }
    failures = 0;
    r = rt_invoke(rt, handler);
    if (r < 0) break;
  }
  rt_close(rt);
  rt_global = NULL;
  return r;
}

int ll_runtime_init_error(const char *error_type, const char *error_message) {
  rt_t *rt;
  long status;
  int r = rt_open(&rt);
  if (r < 0) return r;
  ll_response *out = &rt->resp;
  response_reset(out);
  ll_response_error(out, error_type, error_message);
  rt->err_hdrs[2].data = out->err_hdr.data;
  buf_reset(&rt->url);
  buf_append(&rt->url, rt->base.data, rt->base.len);
  buf_puts(&rt->url, "/runtime/init/error");
  return rt_post(rt, rt->err_hdrs, &out->body, &status);
}

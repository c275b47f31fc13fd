#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/sigv4.h"
#include "cli/cli.h"
#include "core/buf.h"
#include "core/encoding.h"
#include "core/mem.h"

const char *ll_client_endpoint(const char *flag) {
  if (flag) return flag;
  const char *env = getenv("LAMBDALITE_ENDPOINT");
  return env && *env ? env : "http://127.0.0.1:4566";
}

typedef struct body_sink {
  ll_buf_t buf;
  size_t line_start; /* of the line not yet handed to on_line */
  void (*on_line)(void *ud, const char *line, size_t len);
  void *ud;
} body_sink_t;

static size_t on_body(char *p, size_t sz, size_t n, void *ud) {
  body_sink_t *b = ud;
  ll_buf_append(&b->buf, p, sz * n);
  for (char *nl; b->on_line && (nl = memchr(b->buf.data + b->line_start, '\n',
                                            b->buf.len - b->line_start));) {
    size_t end = (size_t)(nl - b->buf.data);
    b->on_line(b->ud, b->buf.data + b->line_start, end - b->line_start);
    b->line_start = end + 1;
  }
  return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud) {
  ll_client_response_t *r = ud;
  size_t len = sz * n;
  char **slot = NULL;
  size_t skip = 0;
  if (len > 21 && strncasecmp(p, "X-Amz-Function-Error:", 21) == 0) slot = &r->function_error, skip = 21;
  if (len > 17 && strncasecmp(p, "X-Amz-Log-Result:", 17) == 0) slot = &r->log_result, skip = 17;
  if (len > 17 && strncasecmp(p, "x-amzn-ErrorType:", 17) == 0) slot = &r->error_type, skip = 17;
  if (slot) {
    const char *v = p + skip, *end = p + len;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) end--;
    free(*slot);
    *slot = ll_strndup(v, (size_t)(end - v));
  }
  return len;
}

int ll_client_request(const char *endpoint, const char *service, const char *method,
                      const char *path, const char *body, size_t len,
                      const char *const *extra_headers, ll_client_response_t *resp) {
  return ll_client_request_lines(endpoint, service, method, path, body, len, extra_headers, NULL,
                                 NULL, resp);
}

int ll_client_request_lines(const char *endpoint, const char *service, const char *method,
                            const char *path, const char *body, size_t len,
                            const char *const *extra_headers,
                            void (*on_line)(void *ud, const char *line, size_t len), void *ud,
                            ll_client_response_t *resp) {
  memset(resp, 0, sizeof *resp);
  const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
  if (!ak || !*ak || !sk || !*sk) ak = "test", sk = "test";
  const char *region = getenv("AWS_REGION");
  if (!region || !*region) region = getenv("AWS_DEFAULT_REGION");
  if (!region || !*region) region = "us-east-1";
  /* host as the URL names it (host[:port]) */
  const char *h = strstr(endpoint, "://");
  h = h ? h + 3 : endpoint;
  size_t hl = strcspn(h, "/");
  char host[256];
  snprintf(host, sizeof host, "%.*s", (int)hl, h);
  char date[17];
  ll_sigv4_amz_date(time(NULL), date);
  const char *q = strchr(path, '?');
  char hash[65];
  ll_sha256_hex(body ? body : "", len, hash);
  /* S3 wants the payload's hash in a header of its own (signed with the rest) */
  bool s3 = strcmp(service, "s3") == 0;
  ll_kv_t kv[3] = {{"host", 4, host, strlen(host)}, {"x-amz-date", 10, date, 16},
                   {"x-amz-content-sha256", 20, hash, 64}};
  ll_sigv4_request_t sr = {
      .method = method,
      .path = path,
      .path_len = q ? (size_t)(q - path) : strlen(path),
      .query = q ? q + 1 : "",
      .query_len = q ? strlen(q + 1) : 0,
      .headers = kv,
      .nheaders = s3 ? 3 : 2,
      .payload_hash = hash,
  };
  char auth[512];
  ll_sigv4_sign(&sr, ak, sk, region, service, date, auth, sizeof auth);
  CURL *c = curl_easy_init();
  char *url = ll_sprintf("%s%s", endpoint, path);
  struct curl_slist *hdrs = NULL;
  char *a = ll_sprintf("Authorization: %s", auth), *d = ll_sprintf("X-Amz-Date: %s", date);
  hdrs = curl_slist_append(hdrs, a);
  hdrs = curl_slist_append(hdrs, d);
  char *ph = s3 ? ll_sprintf("x-amz-content-sha256: %s", hash) : NULL;
  if (ph) hdrs = curl_slist_append(hdrs, ph);
  hdrs = curl_slist_append(hdrs, "Expect:");
  for (const char *const *e = extra_headers; e && *e; e++) hdrs = curl_slist_append(hdrs, *e);
  body_sink_t out = {LL_BUF_INIT, 0, on_line, ud};
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  if (body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  }
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, resp);
  CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
  curl_slist_free_all(hdrs);
  curl_easy_cleanup(c);
  free(url);
  free(a);
  free(d);
  free(ph);
  if (rc != CURLE_OK) {
    fprintf(stderr,
            "lambdalite: cannot reach the daemon at %s: %s\n"
            "  is `lambdalite serve` running? Point at it with --endpoint URL or "
            "LAMBDALITE_ENDPOINT.\n",
            endpoint, curl_easy_strerror(rc));
    ll_buf_free(&out.buf);
    ll_client_response_free(resp);
    return -1;
  }
  resp->body = ll_buf_steal(&out.buf, &resp->len);
  return 0;
}

void ll_client_response_free(ll_client_response_t *r) {
  free(r->body);
  free(r->function_error);
  free(r->log_result);
  free(r->error_type);
  memset(r, 0, sizeof *r);
}

int ll_client_report_error(const ll_client_response_t *resp) {
  json_t *doc = json_loadb(resp->body ? resp->body : "", resp->len, 0, NULL);
  const char *msg = json_string_value(json_object_get(doc, "message"));
  if (!msg) msg = json_string_value(json_object_get(doc, "Message"));
  const char *code = resp->error_type ? resp->error_type
                                      : json_string_value(json_object_get(doc, "__type"));
  fprintf(stderr, "lambdalite: %s (HTTP %ld): %s\n", code ? code : "error", resp->status,
          msg ? msg : (resp->body ? resp->body : ""));
  json_decref(doc);
  return 1;
}

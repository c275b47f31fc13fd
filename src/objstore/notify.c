/* Bucket notifications (notify.h). */
#include "objstore/notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/mem.h"

bool ll_notify_matches(json_t *config, const ll_s3_event_t *ev) {
  bool want = false;
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(config, "Events"), i, e) {
    const char *name = json_string_value(e);
    if (!name || strncmp(name, "s3:", 3) != 0) continue;
    name += 3;
    size_t n = strlen(name);
    if (n >= 2 && strcmp(name + n - 2, ":*") == 0)
      want = want || strncmp(name, ev->name, n - 1) == 0; /* "ObjectCreated:" */
    else
      want = want || strcmp(name, ev->name) == 0;
  }
  if (!want) return false;
  const char *prefix = json_string_value(json_object_get(config, "Prefix"));
  const char *suffix = json_string_value(json_object_get(config, "Suffix"));
  size_t kl = strlen(ev->key);
  if (prefix && strncmp(ev->key, prefix, strlen(prefix)) != 0) return false;
  if (suffix && (strlen(suffix) > kl || strcmp(ev->key + kl - strlen(suffix), suffix) != 0))
    return false;
  return true;
}

/* S3 writes the key in events form-encoded: '+' for a space, %XX for what is not unreserved
 * (and '/', kept as is). */
static void put_event_key(ll_buf_t *b, const char *key) {
  static const char hex[] = "0123456789ABCDEF";
  for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
    unsigned char c = *p;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~' || c == '/' || c == '*') {
      ll_buf_append(b, (const char *)p, 1);
    } else if (c == ' ') {
      ll_buf_append(b, "+", 1);
    } else {
      char t[3] = {'%', hex[c >> 4], hex[c & 15]};
      ll_buf_append(b, t, 3);
    }
  }
}

static void put_json(ll_buf_t *b, const char *s) { ll_buf_json_string(b, s, strlen(s)); }

void ll_notify_event_json(ll_buf_t *b, const ll_s3_event_t *ev, const char *configuration_id) {
  char t[40];
  ll_format_iso_ms(ev->time_ms, t, sizeof t);
  ll_buf_puts(b, "{\"Records\":[{\"eventVersion\":\"2.1\",\"eventSource\":\"aws:s3\",\"awsRegion\":");
  put_json(b, ev->region);
  ll_buf_cat(b, ",\"eventTime\":\"", t, "\",\"eventName\":", NULL);
  put_json(b, ev->name);
  ll_buf_puts(b, ",\"userIdentity\":{\"principalId\":");
  char principal[160];
  snprintf(principal, sizeof principal, "AWS:%s", ev->principal ? ev->principal : "");
  put_json(b, principal);
  ll_buf_puts(b, "},\"requestParameters\":{\"sourceIPAddress\":");
  put_json(b, ev->source_ip ? ev->source_ip : "127.0.0.1");
  ll_buf_puts(b, "},\"responseElements\":{\"x-amz-request-id\":");
  put_json(b, ev->request_id ? ev->request_id : "");
  ll_buf_puts(b, ",\"x-amz-id-2\":");
  put_json(b, ev->request_id ? ev->request_id : "");
  ll_buf_puts(b, "},\"s3\":{\"s3SchemaVersion\":\"1.0\",\"configurationId\":");
  put_json(b, configuration_id);
  ll_buf_puts(b, ",\"bucket\":{\"name\":");
  put_json(b, ev->bucket);
  ll_buf_puts(b, ",\"ownerIdentity\":{\"principalId\":");
  put_json(b, ev->account ? ev->account : "");
  ll_buf_cat(b, "},\"arn\":\"arn:aws:s3:::", ev->bucket, "\"},\"object\":{\"key\":\"", NULL);
  put_event_key(b, ev->key);
  ll_buf_puts(b, "\"");
  if (strncmp(ev->name, "ObjectCreated:", 14) == 0) {
    ll_buf_puts(b, ",\"size\":");
    ll_buf_put_u64(b, ev->size);
    const char *etag = ev->etag ? ev->etag : "";
    size_t el = strlen(etag);
    if (el >= 2 && etag[0] == '"' && etag[el - 1] == '"') etag++, el -= 2;
    ll_buf_puts(b, ",\"eTag\":");
    ll_buf_json_string(b, etag, el);
  }
  char seq[24];
  snprintf(seq, sizeof seq, "%018llX", (unsigned long long)ev->seq);
  ll_buf_cat(b, ",\"sequencer\":\"", seq, "\"}}}]}", NULL);
}

int ll_notify_object_event(ll_engine_t *e, ll_objstore_t *os, const ll_s3_event_t *ev) {
  char *text = NULL;
  ll_err_t err = LL_ERR_INIT;
  if (ll_bucket_get_notification(os, ev->bucket, &text, &err) < 0 || !text) return 0;
  json_t *configs = json_loads(text, 0, NULL);
  free(text);
  int queued = 0;
  size_t i;
  json_t *c;
  json_array_foreach(configs, i, c) {
    if (!ll_notify_matches(c, ev)) continue;
    const char *arn = json_string_value(json_object_get(c, "FunctionArn"));
    const char *fname = arn && strstr(arn, ":function:") ? strstr(arn, ":function:") + 10 : arn;
    char name[256];
    snprintf(name, sizeof name, "%.*s", fname ? (int)strcspn(fname, ":") : 0, fname ? fname : "");
    ll_function_t *fn = ll_function_find(e, name);
    if (!fn) {
      fprintf(stderr, "lambdalite: s3 notification of bucket %s: function %s does not exist\n",
              ev->bucket, arn ? arn : "?");
      continue;
    }
    ll_buf_t b = LL_BUF_INIT;
    const char *id = json_string_value(json_object_get(c, "Id"));
    ll_notify_event_json(&b, ev, id ? id : "");
    char rid[37];
    if (ll_invoke_async(e, fn, b.data, b.len, NULL, rid, &err) < 0)
      fprintf(stderr, "lambdalite: s3 notification of bucket %s to %s: %s\n", ev->bucket, name,
              err.msg);
    else
      queued++;
    ll_buf_free(&b);
  }
  json_decref(configs);
  return queued;
}

bool ll_notify_event_known(const char *e) {
  static const char *const events[] = {
      "s3:ObjectCreated:*", "s3:ObjectCreated:Put", "s3:ObjectCreated:Post",
      "s3:ObjectCreated:Copy", "s3:ObjectCreated:CompleteMultipartUpload",
      "s3:ObjectRemoved:*", "s3:ObjectRemoved:Delete", "s3:ObjectRemoved:DeleteMarkerCreated",
      NULL,
  };
  for (const char *const *p = events; e && *p; p++)
    if (strcmp(*p, e) == 0) return true;
  return false;
}

/* S3's object operations: bodies streamed between the socket and the store, never whole in
 * memory. An upload goes socket -> (aws-chunked decoding) -> a 1 MiB buffer -> a worker thread
 * that hashes and writes it while the next buffer fills; when both are full the connection
 * stops reading (TCP flow control holds the client), so memory per upload stays ~2 MiB at any
 * size. The commit (fsync, rename, row) runs on a worker too; the answer comes after it, and
 * after the bucket's notifications are queued. A download reads 256 KiB at a time on the
 * thread pool, as fast as the socket drains. */
/* Before any OpenSSL header: the request intake (s3_int.h) uses SHA256_* and MD5_*. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "api/s3_int.h"
#include "api/xml.h"
#include "core/clock.h"
#include "core/mem.h"
#include "objstore/notify.h"

#define UPLOAD_CHUNK (1u << 20)   /* bytes handed to a worker at once */
#define READ_CHUNK (256u << 10)   /* bytes read from an object at once */
#define SEND_AHEAD (1u << 20)     /* queued to the socket before reading more */
#define SMALL_OBJECT (64u << 10)  /* objects read on the loop in one pread */
#define META_MAX 2048             /* user metadata, as S3 */

static ll_objstore_t *store(ll_http_req_t *req) { return ll__s3_ctx(req)->objects; }

void ll__s3_notify(ll_api_ctx_t *ctx, const ll_s3_req_t *s, const char *remote,
                   const char *event, const char *key, uint64_t size, const char *etag,
                   uint64_t seq) {
  char ip[64];
  snprintf(ip, sizeof ip, "%.*s", (int)strcspn(remote, ":"), remote);
  ll_s3_event_t ev = {
      .name = event,
      .bucket = s->bucket,
      .key = key,
      .size = size,
      .etag = etag,
      .seq = seq,
      .time_ms = ll_wall_ms(),
      .region = s->region[0] ? s->region : ll_engine_region(ctx->engine),
      .account = ll_engine_account(ctx->engine),
      .principal = s->access_key,
      .source_ip = ip,
      .request_id = s->request_id,
  };
  ll_notify_object_event(ctx->engine, ctx->objects, &ev);
}

/* The x-amz-meta-* headers as {"name": "value"} (names lower-cased, as S3 returns them);
 * NULL (answered) when they exceed S3's 2 KB. */
static json_t *user_metadata(ll_http_req_t *req) {
  json_t *meta = json_object();
  size_t total = 0;
  const ll_http_head_t *h = req->head;
  for (size_t i = 0; i < h->nheaders - h->ntrailers; i++) {
    const ll_kv_t *kv = &h->headers[i];
    if (kv->name_len <= 11 || strncasecmp(kv->name, "x-amz-meta-", 11) != 0) continue;
    char name[256];
    size_t n = kv->name_len - 11 < sizeof name - 1 ? kv->name_len - 11 : sizeof name - 1;
    for (size_t j = 0; j < n; j++) {
      char c = kv->name[11 + j];
      name[j] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    name[n] = '\0';
    total += n + kv->value_len;
    json_object_set_new(meta, name, json_stringn(kv->value, kv->value_len));
  }
  if (total > META_MAX) {
    json_decref(meta);
    ll__s3_error(req, 400, "MetadataTooLarge",
                 "Your metadata headers exceed the maximum allowed metadata size (%d bytes)",
                 META_MAX);
    return NULL;
  }
  return meta;
}

/* Response headers describing an object: ETag, Last-Modified, Content-Type, x-amz-meta-*. */
static void object_headers(ll_buf_t *h, const ll_obj_info_t *info, const char *content_type) {
  char t[40];
  ll__s3_http_time(info->modified_ms, t);
  ll_buf_cat(h, "ETag: ", info->etag, "\r\nLast-Modified: ", t, "\r\nContent-Type: ",
             content_type ? content_type : info->content_type, "\r\nAccept-Ranges: bytes\r\n", NULL);
  const char *k;
  json_t *v;
  json_object_foreach(info->metadata, k, v) {
    const char *s = json_string_value(v);
    if (s && !strpbrk(s, "\r\n")) ll_buf_cat(h, "x-amz-meta-", k, ": ", s, "\r\n", NULL);
  }
}

/* ---- uploads: PutObject and UploadPart --------------------------------------------------- */

typedef struct upload {
  uv_work_t work;
  ll_api_ctx_t *ctx;
  ll_http_req_t *req;       /* NULL once answered or the client has gone */
  ll_s3_req_t s;            /* a copy: the notification may outlive req */
  char remote[64];
  ll__s3_intake_t in;
  ll_obj_writer_t *w;       /* owned until committed */
  bool part;
  int part_number;
  char *upload_id;
  char *content_type;
  json_t *meta;
  ll_buf_t fill, flight;    /* filling on the loop / being written by a worker */
  bool busy;                /* a worker holds flight (or commits) */
  bool ended;               /* the whole body has arrived */
  bool committing;
  int rc;                   /* of the worker's step */
  ll_err_t err;
  ll_obj_info_t info;
} upload_t;

static void upload_free(upload_t *u) {
  if (u->w) ll_obj_abort(u->w);
  ll_buf_free(&u->fill);
  ll_buf_free(&u->flight);
  ll_awschunked_free(&u->in.dec);
  ll_obj_info_free(&u->info);
  json_decref(u->meta);
  free(u->content_type);
  free(u->upload_id);
  free(u);
}

/* Ends the upload with an error answer (when a client still waits); frees it unless a worker
 * holds it (then the worker's completion does). */
static void upload_fail(upload_t *u, int status, const char *code, const char *msg) {
  if (u->req) {
    ll_http_req_on_abort(u->req, NULL, NULL);
    if (code) ll__s3_error(u->req, status, code, "%s", msg);
    u->req = NULL;
  }
  if (!u->busy) upload_free(u);
}

static void write_work(uv_work_t *w) {
  upload_t *u = w->data;
  ll__s3_intake_hash(&u->in, u->flight.data, u->flight.len);
  u->rc = ll_obj_write(u->w, u->flight.data, u->flight.len, &u->err);
}

static void upload_finish(upload_t *u);
static void write_done(uv_work_t *w, int status);

static void submit(upload_t *u) {
  ll_buf_t t = u->flight;
  u->flight = u->fill;
  u->fill = t;
  ll_buf_reset(&u->fill);
  u->busy = true;
  u->work.data = u;
  uv_queue_work(u->ctx->loop, &u->work, write_work, write_done);
}

static void write_done(uv_work_t *w, int status) {
  upload_t *u = w->data;
  u->busy = false;
  ll_buf_reset(&u->flight);
  if (!u->req) {
    upload_free(u);
    return;
  }
  if (u->rc < 0) {
    char msg[300];
    snprintf(msg, sizeof msg, "We encountered an internal error: %s", u->err.msg);
    upload_fail(u, 500, "InternalError", msg);
    return;
  }
  if (u->fill.len >= UPLOAD_CHUNK) submit(u);
  if (u->ended)
    upload_finish(u);
  else
    ll_http_body_resume(u->req);
}

static void sink(void *ud, const char *p, size_t len) {
  upload_t *u = ud;
  ll_buf_append(&u->fill, p, len);
  if (u->fill.len < UPLOAD_CHUNK) return;
  if (!u->busy)
    submit(u);
  else
    ll_http_body_pause(u->req);
}

static void upload_data(ll_http_req_t *req, const char *p, size_t len, void *ud) {
  upload_t *u = ud;
  if (ll__s3_intake_feed(&u->in, p, len, sink, u) < 0)
    upload_fail(u, u->in.status, u->in.code, u->in.msg);
}

static void commit_work(uv_work_t *w) {
  upload_t *u = w->data;
  ll_obj_writer_t *wr = u->w;
  u->w = NULL; /* commit frees it, whatever the outcome */
  u->rc = u->part ? ll_mpu_part_commit(wr, &u->info, &u->err)
                  : ll_obj_commit(wr, u->content_type, u->meta, &u->info, &u->err);
}

static void commit_done(uv_work_t *w, int status) {
  upload_t *u = w->data;
  u->busy = false;
  if (u->rc < 0) {
    if (u->req) {
      ll_http_req_on_abort(u->req, NULL, NULL);
      ll__s3_store_error(u->req, &u->err);
      u->req = NULL;
    }
    upload_free(u);
    return;
  }
  /* Durable: queue the notifications, then tell the client (if it is still there). */
  if (!u->part)
    ll__s3_notify(u->ctx, &u->s, u->remote, "ObjectCreated:Put", u->s.key, u->info.size,
                  u->info.etag, u->info.seq);
  if (u->req) {
    ll_http_req_on_abort(u->req, NULL, NULL);
    ll_buf_t h = LL_BUF_INIT;
    ll__s3_ids(u->req, &h);
    ll_buf_cat(&h, "ETag: ", u->info.etag, "\r\n", NULL);
    if (u->in.ck_alg)
      ll_buf_cat(&h, ll_checksum_header(u->in.ck_alg), ": ", u->in.ck_got, "\r\n", NULL);
    ll_http_respond(u->req, 200, h.data, NULL, 0);
    ll_buf_free(&h);
    u->req = NULL;
  }
  upload_free(u);
}

/* Everything has arrived and been written: check it, then commit on a worker. */
static void upload_finish(upload_t *u) {
  if (u->fill.len) {
    submit(u);
    return;
  }
  uint8_t md5[16]; /* the store hashed every byte already */
  ll_obj_writer_md5(u->w, md5);
  if (ll__s3_intake_verify(u->req, &u->in, md5) < 0) {
    u->req = NULL; /* answered */
    upload_free(u);
    return;
  }
  u->busy = u->committing = true;
  u->work.data = u;
  uv_queue_work(u->ctx->loop, &u->work, commit_work, commit_done);
}

static void upload_end(ll_http_req_t *req, void *ud) {
  upload_t *u = ud;
  u->ended = true;
  if (!u->busy) upload_finish(u);
}

static void upload_abort(ll_http_req_t *req, void *ud) {
  upload_t *u = ud;
  ll_http_respond(req, 400, NULL, NULL, 0); /* dropped: frees req */
  u->req = NULL;
  if (!u->busy) upload_free(u);
}

/* Starts reading an upload's body into w (taken). */
static void upload_start(ll_http_req_t *req, ll_obj_writer_t *w, bool part, int number,
                         char *upload_id, char *content_type, json_t *meta) {
  upload_t *u = ll_calloc(1, sizeof *u);
  u->ctx = ll__s3_ctx(req);
  u->req = req;
  u->s = *ll__s3(req);
  snprintf(u->remote, sizeof u->remote, "%s", req->remote);
  u->w = w;
  u->part = part;
  u->part_number = number;
  u->upload_id = upload_id;
  u->content_type = content_type;
  u->meta = meta;
  if (ll__s3_intake_init(req, &u->in) < 0) {
    u->req = NULL;
    upload_free(u);
    return;
  }
  u->in.md5_given = true;
  if (u->in.decoded_length != UINT64_MAX && u->in.decoded_length > LL_S3_PUT_MAX) {
    upload_fail(u, 400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size");
    return;
  }
  ll_buf_reserve(&u->fill, UPLOAD_CHUNK + 64 * 1024);
  ll_http_req_on_abort(req, upload_abort, u);
  ll_http_body_read(req, upload_data, upload_end, u);
}

/* A number in [lo, hi] from the whole string, or -1. */
static long parse_long(const char *s, long lo, long hi) {
  if (!s || !*s) return -1;
  char *end;
  long v = strtol(s, &end, 10);
  return *end || v < lo || v > hi ? -1 : v;
}

static void copy_object(ll_http_req_t *req, const char *source);

void ll__s3_put_object(ll_http_req_t *req) {
  ll_s3_req_t *s = ll__s3(req);
  char *source = ll__s3_header(req, "x-amz-copy-source");
  char *upload_id = ll__s3_query(req, "uploadId");
  char *pn = ll__s3_query(req, "partNumber");
  if (source && !upload_id) {
    copy_object(req, source);
    free(source);
    free(pn);
    return;
  }
  if (source) {
    ll__s3_error(req, 501, "NotImplemented", "UploadPartCopy is not implemented here");
    free(source);
    free(upload_id);
    free(pn);
    return;
  }
  if (req->head->content_length < 0 && !req->head->chunked) {
    ll__s3_error(req, 411, "MissingContentLength", "You must provide the Content-Length HTTP header.");
    free(upload_id);
    free(pn);
    return;
  }
  ll_err_t err = LL_ERR_INIT;
  ll_obj_writer_t *w = NULL;
  if (upload_id) {
    long number = parse_long(pn, 1, LL_OS_PARTS_MAX);
    free(pn);
    if (number < 0) {
      ll__s3_error(req, 400, "InvalidArgument",
                   "Part number must be an integer between 1 and 10000, inclusive");
      free(upload_id);
      return;
    }
    if (ll_mpu_part_begin(store(req), s->bucket, s->key, upload_id, (int)number, &w, &err) < 0) {
      ll__s3_store_error(req, &err);
      free(upload_id);
      return;
    }
    upload_start(req, w, true, (int)number, upload_id, NULL, NULL);
    return;
  }
  free(pn);
  json_t *meta = user_metadata(req);
  if (!meta) return;
  if (ll_obj_begin(store(req), s->bucket, s->key, &w, &err) < 0) {
    json_decref(meta);
    ll__s3_store_error(req, &err);
    return;
  }
  char *ct = ll__s3_header(req, "content-type");
  upload_start(req, w, false, 0, NULL, ct, meta);
}

/* ---- CopyObject -------------------------------------------------------------------------- */

typedef struct copy {
  uv_work_t work;
  ll_http_req_t *req;
  ll_api_ctx_t *ctx;
  ll_s3_req_t s;
  char remote[64];
  char *src_bucket, *src_key;
  char *content_type;
  json_t *meta;              /* NULL: the source's (MetadataDirective COPY) */
  int rc;
  ll_err_t err;
  ll_obj_info_t info;
} copy_t;

static void copy_work(uv_work_t *w) {
  copy_t *c = w->data;
  c->rc = ll_obj_copy(c->ctx->objects, c->src_bucket, c->src_key, c->s.bucket, c->s.key,
                      c->content_type, c->meta, &c->info, &c->err);
}

static void copy_done(uv_work_t *w, int status) {
  copy_t *c = w->data;
  if (c->rc == 0)
    ll__s3_notify(c->ctx, &c->s, c->remote, "ObjectCreated:Copy", c->s.key, c->info.size,
                  c->info.etag, c->info.seq);
  if (c->rc < 0) {
    ll__s3_store_error(c->req, &c->err);
  } else {
    ll_buf_t b = LL_BUF_INIT;
    char t[32];
    ll__s3_iso_time(c->info.modified_ms, t);
    ll__s3_xml_open(&b, "CopyObjectResult");
    ll_xml_put_elem(&b, "LastModified", t);
    ll_xml_put_elem(&b, "ETag", c->info.etag);
    ll_buf_puts(&b, "</CopyObjectResult>");
    ll__s3_xml(c->req, &b, NULL);
  }
  ll_obj_info_free(&c->info);
  json_decref(c->meta);
  free(c->content_type);
  free(c->src_bucket);
  free(c->src_key);
  free(c);
}

static void copy_object(ll_http_req_t *req, const char *source) {
  ll_s3_req_t *s = ll__s3(req);
  /* "bucket/key" or "/bucket/key", URL-encoded, maybe "?versionId=..." */
  const char *p = source[0] == '/' ? source + 1 : source;
  size_t n = strcspn(p, "?");
  char *dec = ll_http_pct_decode(p, n);
  char *slash = dec ? strchr(dec, '/') : NULL;
  if (!slash || slash == dec || !slash[1]) {
    free(dec);
    ll__s3_error(req, 400, "InvalidArgument",
                 "Copy Source must mention the source bucket and key: sourcebucket/sourcekey");
    return;
  }
  *slash = '\0';
  char *directive = ll__s3_header(req, "x-amz-metadata-directive");
  bool replace = directive && strcasecmp(directive, "REPLACE") == 0;
  if (directive && !replace && strcasecmp(directive, "COPY") != 0) {
    ll__s3_error(req, 400, "InvalidArgument", "Unknown metadata directive: %s", directive);
    free(directive);
    free(dec);
    return;
  }
  free(directive);
  if (!replace && strcmp(dec, s->bucket) == 0 && strcmp(slash + 1, s->key) == 0) {
    free(dec);
    ll__s3_error(req, 400, "InvalidRequest",
                 "This copy request is illegal because it is trying to copy an object to itself "
                 "without changing the object's metadata, storage class, website redirect "
                 "location or encryption attributes.");
    return;
  }
  json_t *meta = NULL;
  if (replace && !(meta = user_metadata(req))) {
    free(dec);
    return;
  }
  copy_t *c = ll_calloc(1, sizeof *c);
  c->req = req;
  c->ctx = ll__s3_ctx(req);
  c->s = *s;
  snprintf(c->remote, sizeof c->remote, "%s", req->remote);
  c->src_bucket = ll_strdup(dec);
  c->src_key = ll_strdup(slash + 1);
  free(dec);
  c->meta = meta;
  c->content_type = replace ? ll__s3_header(req, "content-type") : NULL;
  if (replace && !c->content_type) c->content_type = ll_strdup("binary/octet-stream");
  c->work.data = c;
  uv_queue_work(c->ctx->loop, &c->work, copy_work, copy_done);
}

/* ---- GetObject and HeadObject ------------------------------------------------------------ */

typedef struct download {
  uv_fs_t fs;
  ll_http_req_t *req;        /* NULL once the client has gone */
  uv_loop_t *loop;
  int fd;
  uint64_t off, left;
  char *buf;                 /* being read into */
  bool reading;
} download_t;

static void download_free(download_t *d) {
  close(d->fd);
  free(d->buf);
  free(d);
}

static void download_next(download_t *d);

static void download_drained(ll_http_req_t *req, void *ud) { download_next(ud); }

static void on_read(uv_fs_t *fs) {
  download_t *d = fs->data;
  ssize_t n = fs->result;
  uv_fs_req_cleanup(fs);
  d->reading = false;
  if (!d->req) {
    download_free(d);
    return;
  }
  if (n <= 0) { /* the file is shorter than its row says: cut the answer short */
    fprintf(stderr, "lambdalite: s3: reading an object: %s\n", n < 0 ? uv_strerror((int)n) : "EOF");
    ll_http_req_on_abort(d->req, NULL, NULL);
    ll_http_stream_end(d->req); /* the client sees fewer bytes than Content-Length */
    d->req = NULL;
    download_free(d);
    return;
  }
  d->off += (uint64_t)n;
  d->left -= (uint64_t)n;
  ll_http_stream_chunk(d->req, d->buf, (size_t)n);
  d->buf = NULL;
  if (d->left == 0) {
    ll_http_req_on_abort(d->req, NULL, NULL);
    ll_http_stream_end(d->req);
    d->req = NULL;
    download_free(d);
    return;
  }
  if (ll_http_write_queue(d->req) >= SEND_AHEAD)
    ll_http_req_on_drain(d->req, download_drained, d);
  else
    download_next(d);
}

static void download_next(download_t *d) {
  size_t n = d->left < READ_CHUNK ? (size_t)d->left : READ_CHUNK;
  d->buf = ll_malloc(n);
  uv_buf_t b = uv_buf_init(d->buf, (unsigned)n);
  d->fs.data = d;
  d->reading = true;
  uv_fs_read(d->loop, &d->fs, d->fd, &b, 1, (int64_t)d->off, on_read);
}

static void download_abort(ll_http_req_t *req, void *ud) {
  download_t *d = ud;
  ll_http_stream_end(req); /* dropped: frees req */
  d->req = NULL;
  if (!d->reading) download_free(d);
}

/* An HTTP date (RFC 1123) into epoch seconds; -1 when it is not one. */
static int64_t parse_http_date(const char *s) {
  struct tm tm = {0};
  const char *end = s ? strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm) : NULL;
  if (!end || *end) return -1;
  return (int64_t)timegm(&tm);
}

/* ETag lists of If-Match / If-None-Match ("*", or quoted tags separated by commas). */
static bool etag_in(const char *list, const char *etag) {
  if (strcmp(list, "*") == 0) return true;
  const char *bare = etag[0] == '"' ? etag + 1 : etag;
  size_t bl = strlen(bare);
  if (bl && bare[bl - 1] == '"') bl--;
  for (const char *p = list; *p;) {
    while (*p == ' ' || *p == ',') p++;
    const char *q = p;
    while (*q && *q != ',') q++;
    const char *a = p, *b = q;
    while (b > a && b[-1] == ' ') b--;
    if (b - a >= 2 && *a == '"') a++, b--;
    if ((size_t)(b - a) == bl && memcmp(a, bare, bl) == 0) return true;
    p = q;
  }
  return false;
}

/* RFC 9110 §13.2.2's order, as S3 applies it: 412 for a failed If-Match (or, without it,
 * If-Unmodified-Since), 304 for a failed If-None-Match (or, without it, If-Modified-Since).
 * Returns 0 (go on) or the status answered. */
static int preconditions(ll_http_req_t *req, const ll_obj_info_t *info) {
  char *im = ll__s3_header(req, "if-match"), *inm = ll__s3_header(req, "if-none-match");
  char *ims = ll__s3_header(req, "if-modified-since"), *ius = ll__s3_header(req, "if-unmodified-since");
  int64_t mod = info->modified_ms / 1000;
  int status = 0;
  if (im ? !etag_in(im, info->etag) : (ius && parse_http_date(ius) >= 0 && mod > parse_http_date(ius)))
    status = 412;
  else if (inm ? etag_in(inm, info->etag)
               : (ims && parse_http_date(ims) >= 0 && mod <= parse_http_date(ims)))
    status = 304;
  free(im);
  free(inm);
  free(ims);
  free(ius);
  if (status == 412) {
    ll__s3_error(req, 412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold");
  } else if (status == 304) {
    ll_buf_t h = LL_BUF_INIT;
    ll__s3_ids(req, &h);
    char t[40];
    ll__s3_http_time(info->modified_ms, t);
    ll_buf_cat(&h, "ETag: ", info->etag, "\r\nLast-Modified: ", t, "\r\n", NULL);
    ll_http_respond_head(req, 304, h.data, -1);
    ll_buf_free(&h);
  }
  return status;
}

/* Range: bytes=a-b | a- | -n (one range; S3 serves no multi-range). 0 = whole object, 1 = the
 * range in first..last, -1 = not satisfiable. A header S3 would ignore counts as none. */
static int parse_range(const char *v, uint64_t size, uint64_t *first, uint64_t *last) {
  if (!v || strncmp(v, "bytes=", 6) != 0 || strchr(v, ',')) return 0;
  const char *p = v + 6;
  char *end;
  if (*p == '-') {
    if (p[1] < '0' || p[1] > '9') return 0;
    unsigned long long n = strtoull(p + 1, &end, 10);
    if (*end) return 0;
    if (n == 0) return -1;
    if (size == 0) return 0;
    *first = n >= size ? 0 : size - n;
    *last = size - 1;
    return 1;
  }
  if (*p < '0' || *p > '9') return 0;
  unsigned long long a = strtoull(p, &end, 10);
  if (*end != '-') return 0;
  unsigned long long b = UINT64_MAX;
  if (end[1]) {
    if (end[1] < '0' || end[1] > '9') return 0;
    b = strtoull(end + 1, &end, 10);
    if (*end || b < a) return 0;
  }
  if (a >= size) return -1;
  *first = a;
  *last = b >= size ? size - 1 : b;
  return 1;
}

void ll__s3_get_object(ll_http_req_t *req) {
  ll_s3_req_t *s = ll__s3(req);
  bool head = strcmp(req->head->method, "HEAD") == 0;
  ll_obj_info_t info = {0};
  ll_err_t err = LL_ERR_INIT;
  int fd = -1;
  int rc = head ? ll_obj_stat(store(req), s->bucket, s->key, &info, &err)
                : ll_obj_open(store(req), s->bucket, s->key, &fd, &info, &err);
  if (rc < 0) {
    ll__s3_store_error(req, &err);
    return;
  }
  if (preconditions(req, &info)) {
    if (fd >= 0) close(fd);
    ll_obj_info_free(&info);
    return;
  }
  char *range = ll__s3_header(req, "range");
  uint64_t first = 0, last = info.size ? info.size - 1 : 0;
  int r = parse_range(range, info.size, &first, &last);
  if (r < 0) {
    ll__s3_error(req, 416, "InvalidRange", "The requested range is not satisfiable (%s of %llu bytes)",
                 range, (unsigned long long)info.size);
    free(range);
    if (fd >= 0) close(fd);
    ll_obj_info_free(&info);
    return;
  }
  free(range);
  uint64_t len = r == 1 ? last - first + 1 : info.size;
  ll_buf_t h = LL_BUF_INIT;
  ll__s3_ids(req, &h);
  char *ct = ll__s3_query(req, "response-content-type");
  object_headers(&h, &info, ct);
  free(ct);
  static const char *const overrides[][2] = {
      {"response-content-disposition", "Content-Disposition"},
      {"response-content-encoding", "Content-Encoding"},
      {"response-content-language", "Content-Language"},
      {"response-cache-control", "Cache-Control"},
      {"response-expires", "Expires"},
  };
  for (size_t i = 0; i < sizeof overrides / sizeof overrides[0]; i++) {
    char *v = ll__s3_query(req, overrides[i][0]);
    if (v && !strpbrk(v, "\r\n")) ll_buf_cat(&h, overrides[i][1], ": ", v, "\r\n", NULL);
    free(v);
  }
  if (r == 1)
    ll_buf_printf(&h, "Content-Range: bytes %llu-%llu/%llu\r\n", (unsigned long long)first,
                  (unsigned long long)last, (unsigned long long)info.size);
  int status = r == 1 ? 206 : 200;
  ll_obj_info_free(&info);
  if (head) {
    ll_http_respond_head(req, status, h.data, (int64_t)len);
    ll_buf_free(&h);
    return;
  }
  if (len <= SMALL_OBJECT) { /* one read, on the loop: a small file is in the page cache */
    char *body = ll_malloc(len ? len : 1);
    ssize_t n = len ? pread(fd, body, len, (off_t)first) : 0;
    close(fd);
    if (n != (ssize_t)len) {
      free(body);
      ll_buf_free(&h);
      ll__s3_error(req, 500, "InternalError", "We encountered an internal error: reading the object: %s",
                   n < 0 ? strerror(errno) : "short read");
      return;
    }
    ll_http_respond(req, status, h.data, body, len);
    ll_buf_free(&h);
    return;
  }
  download_t *d = ll_calloc(1, sizeof *d);
  d->req = req;
  d->loop = ll__s3_ctx(req)->loop;
  d->fd = fd;
  d->off = first;
  d->left = len;
  ll_http_stream_start_length(req, status, h.data, len);
  ll_buf_free(&h);
  ll_http_req_on_abort(req, download_abort, d);
  download_next(d);
}

/* ---- DeleteObject, AbortMultipartUpload --------------------------------------------------- */

static void respond_204(ll_http_req_t *req) {
  ll_buf_t h = LL_BUF_INIT;
  ll__s3_ids(req, &h);
  ll_http_respond(req, 204, h.data, NULL, 0);
  ll_buf_free(&h);
}

void ll__s3_delete_object(ll_http_req_t *req) {
  ll_s3_req_t *s = ll__s3(req);
  ll_err_t err = LL_ERR_INIT;
  char *upload_id = ll__s3_query(req, "uploadId");
  if (upload_id) {
    int rc = ll_mpu_abort(store(req), s->bucket, s->key, upload_id, &err);
    free(upload_id);
    if (rc < 0)
      ll__s3_store_error(req, &err);
    else
      respond_204(req);
    return;
  }
  bool existed = false;
  uint64_t seq = 0;
  if (ll_obj_delete(store(req), s->bucket, s->key, &existed, &seq, &err) < 0) {
    ll__s3_store_error(req, &err);
    return;
  }
  if (existed)
    ll__s3_notify(ll__s3_ctx(req), s, req->remote, "ObjectRemoved:Delete", s->key, 0, NULL, seq);
  respond_204(req);
}

/* ---- multipart: create, complete, list ---------------------------------------------------- */

static void create_upload(ll_http_req_t *req) {
  ll_s3_req_t *s = ll__s3(req);
  json_t *meta = user_metadata(req);
  if (!meta) return;
  char *ct = ll__s3_header(req, "content-type");
  char id[64];
  ll_err_t err = LL_ERR_INIT;
  int rc = ll_mpu_create(store(req), s->bucket, s->key, ct, meta, id, &err);
  free(ct);
  json_decref(meta);
  if (rc < 0) {
    ll__s3_store_error(req, &err);
    return;
  }
  ll_buf_t b = LL_BUF_INIT;
  ll__s3_xml_open(&b, "InitiateMultipartUploadResult");
  ll_xml_put_elem(&b, "Bucket", s->bucket);
  ll_xml_put_elem(&b, "Key", s->key);
  ll_xml_put_elem(&b, "UploadId", id);
  ll_buf_puts(&b, "</InitiateMultipartUploadResult>");
  ll__s3_xml(req, &b, NULL);
}

typedef struct complete {
  uv_work_t work;
  ll_http_req_t *req;
  ll_api_ctx_t *ctx;
  ll_s3_req_t s;
  char remote[64];
  char *upload_id;
  ll_xml_doc_t *doc;          /* the wants' etags point into it */
  ll_mpu_want_t *want;
  size_t nwant;
  int rc;
  ll_err_t err;
  ll_obj_info_t info;
} complete_t;

static void complete_work(uv_work_t *w) {
  complete_t *c = w->data;
  c->rc = ll_mpu_complete(c->ctx->objects, c->s.bucket, c->s.key, c->upload_id, c->want, c->nwant,
                          &c->info, &c->err);
}

static void complete_done(uv_work_t *w, int status) {
  complete_t *c = w->data;
  if (c->rc < 0) {
    ll__s3_store_error(c->req, &c->err);
  } else {
    ll__s3_notify(c->ctx, &c->s, c->remote, "ObjectCreated:CompleteMultipartUpload", c->s.key,
                  c->info.size, c->info.etag, c->info.seq);
    ll_buf_t b = LL_BUF_INIT;
    ll__s3_xml_open(&b, "CompleteMultipartUploadResult");
    ll_buf_t loc = LL_BUF_INIT;
    ll_buf_cat(&loc, "http://", c->ctx->listen ? c->ctx->listen : "127.0.0.1", "/", c->s.bucket, "/",
               c->s.key, NULL);
    ll_xml_put_elem(&b, "Location", loc.data);
    ll_buf_free(&loc);
    ll_xml_put_elem(&b, "Bucket", c->s.bucket);
    ll_xml_put_elem(&b, "Key", c->s.key);
    ll_xml_put_elem(&b, "ETag", c->info.etag);
    ll_buf_puts(&b, "</CompleteMultipartUploadResult>");
    ll__s3_xml(c->req, &b, NULL);
  }
  ll_obj_info_free(&c->info);
  ll_xml_free(c->doc);
  free(c->want);
  free(c->upload_id);
  free(c);
}

static void complete_body(ll_http_req_t *req, ll_buf_t *body) {
  char why[256];
  ll_xml_doc_t *doc = ll_xml_parse(body->data ? body->data : "", body->len, why, sizeof why);
  const ll_xml_node_t *root = doc ? ll_xml_root(doc) : NULL;
  size_t n = 0;
  for (const ll_xml_node_t *p = root ? ll_xml_child(root, "Part") : NULL; p; p = ll_xml_next(p)) n++;
  if (!root || strcmp(root->name, "CompleteMultipartUpload") != 0 || n == 0 ||
      n > LL_OS_PARTS_MAX) {
    ll_xml_free(doc);
    ll__s3_error(req, 400, "MalformedXML",
                 "The XML you provided was not well-formed or did not validate against our "
                 "published schema%s",
                 n == 0 && root ? ": it lists no Part" : "");
    return;
  }
  complete_t *c = ll_calloc(1, sizeof *c);
  c->want = ll_calloc(n, sizeof *c->want);
  for (const ll_xml_node_t *p = ll_xml_child(root, "Part"); p; p = ll_xml_next(p)) {
    long num = parse_long(ll_xml_child_trimmed(p, "PartNumber"), 1, LL_OS_PARTS_MAX);
    const char *etag = ll_xml_child_trimmed(p, "ETag");
    if (num < 0 || !etag) {
      ll_xml_free(doc);
      free(c->want);
      free(c);
      ll__s3_error(req, 400, "MalformedXML", "Each Part needs a PartNumber (1-10000) and an ETag");
      return;
    }
    c->want[c->nwant++] = (ll_mpu_want_t){(int)num, etag};
  }
  c->doc = doc;
  c->req = req;
  c->ctx = ll__s3_ctx(req);
  c->s = *ll__s3(req);
  snprintf(c->remote, sizeof c->remote, "%s", req->remote);
  c->upload_id = ll__s3_query(req, "uploadId");
  c->work.data = c;
  uv_queue_work(c->ctx->loop, &c->work, complete_work, complete_done);
}

void ll__s3_post_object(ll_http_req_t *req) {
  if (ll__s3_has_query(req, "uploads")) {
    create_upload(req);
  } else if (ll__s3_has_query(req, "uploadId")) {
    ll_s3_req_t *s = ll__s3(req);
    char *id = ll__s3_query(req, "uploadId");
    ll_mpu_info_t mi = {0};
    ll_err_t err = LL_ERR_INIT;
    int rc = ll_mpu_get(store(req), s->bucket, s->key, id, &mi, &err);
    free(id);
    ll_mpu_info_free(&mi);
    if (rc < 0)
      ll__s3_store_error(req, &err);
    else
      ll__s3_read_small_body(req, complete_body);
  } else {
    ll__s3_error(req, 405, "MethodNotAllowed",
                 "The specified method is not allowed against this resource.");
  }
}

static void put_owner(ll_buf_t *b, ll_http_req_t *req, const char *elem) {
  const char *account = ll_engine_account(ll__s3_ctx(req)->engine);
  ll_buf_cat(b, "<", elem, "><ID>", account, "</ID><DisplayName>lambdalite</DisplayName></", elem,
             ">", NULL);
}

void ll__s3_list_parts(ll_http_req_t *req) {
  ll_s3_req_t *s = ll__s3(req);
  char *id = ll__s3_query(req, "uploadId");
  char *marker = ll__s3_query(req, "part-number-marker"), *maxs = ll__s3_query(req, "max-parts");
  long after = marker ? parse_long(marker, 0, LL_OS_PARTS_MAX) : 0;
  long max = maxs ? parse_long(maxs, 0, 1000000) : 1000;
  if (after < 0 || max < 0) {
    ll__s3_error(req, 400, "InvalidArgument", "part-number-marker and max-parts must be non-negative integers");
  } else {
    if (max > 1000) max = 1000;
    ll_mpu_part_t *parts = NULL;
    size_t n = 0;
    bool truncated = false;
    ll_err_t err = LL_ERR_INIT;
    if (ll_mpu_list_parts(store(req), s->bucket, s->key, id, (int)after, (size_t)max, &parts, &n,
                          &truncated, &err) < 0) {
      ll__s3_store_error(req, &err);
    } else {
      ll_buf_t b = LL_BUF_INIT;
      ll__s3_xml_open(&b, "ListPartsResult");
      ll_xml_put_elem(&b, "Bucket", s->bucket);
      ll_xml_put_elem(&b, "Key", s->key);
      ll_xml_put_elem(&b, "UploadId", id);
      put_owner(&b, req, "Initiator");
      put_owner(&b, req, "Owner");
      ll_buf_printf(&b, "<StorageClass>STANDARD</StorageClass><PartNumberMarker>%ld</PartNumberMarker>",
                    after);
      if (n) ll_buf_printf(&b, "<NextPartNumberMarker>%d</NextPartNumberMarker>", parts[n - 1].number);
      ll_buf_printf(&b, "<MaxParts>%ld</MaxParts><IsTruncated>%s</IsTruncated>", max,
                    truncated ? "true" : "false");
      for (size_t i = 0; i < n; i++) {
        char t[32];
        ll__s3_iso_time(parts[i].modified_ms, t);
        ll_buf_printf(&b, "<Part><PartNumber>%d</PartNumber>", parts[i].number);
        ll_xml_put_elem(&b, "LastModified", t);
        ll_xml_put_elem(&b, "ETag", parts[i].etag);
        ll_buf_printf(&b, "<Size>%llu</Size></Part>", (unsigned long long)parts[i].size);
      }
      ll_buf_puts(&b, "</ListPartsResult>");
      ll__s3_xml(req, &b, NULL);
    }
    free(parts);
  }
  free(id);
  free(marker);
  free(maxs);
}

void ll__s3_list_uploads(ll_http_req_t *req) {
  ll_s3_req_t *s = ll__s3(req);
  char *prefix = ll__s3_query(req, "prefix"), *maxs = ll__s3_query(req, "max-uploads");
  long max = maxs ? parse_long(maxs, 0, 1000000) : 1000;
  if (max < 0) {
    ll__s3_error(req, 400, "InvalidArgument", "max-uploads must be a non-negative integer");
  } else {
    if (max > 1000) max = 1000;
    ll_mpu_info_t *ups = NULL;
    size_t n = 0;
    bool truncated = false;
    ll_err_t err = LL_ERR_INIT;
    if (ll_mpu_list(store(req), s->bucket, prefix, (size_t)max, &ups, &n, &truncated, &err) < 0) {
      ll__s3_store_error(req, &err);
    } else {
      ll_buf_t b = LL_BUF_INIT;
      ll__s3_xml_open(&b, "ListMultipartUploadsResult");
      ll_xml_put_elem(&b, "Bucket", s->bucket);
      ll_buf_puts(&b, "<KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>");
      if (prefix) ll_xml_put_elem(&b, "Prefix", prefix);
      ll_buf_printf(&b, "<MaxUploads>%ld</MaxUploads><IsTruncated>%s</IsTruncated>", max,
                    truncated ? "true" : "false");
      for (size_t i = 0; i < n; i++) {
        char t[32];
        ll__s3_iso_time(ups[i].created_ms, t);
        ll_buf_puts(&b, "<Upload>");
        ll_xml_put_elem(&b, "Key", ups[i].key);
        ll_xml_put_elem(&b, "UploadId", ups[i].upload_id);
        put_owner(&b, req, "Initiator");
        put_owner(&b, req, "Owner");
        ll_buf_puts(&b, "<StorageClass>STANDARD</StorageClass>");
        ll_xml_put_elem(&b, "Initiated", t);
        ll_buf_puts(&b, "</Upload>");
        ll_mpu_info_free(&ups[i]);
      }
      ll_buf_puts(&b, "</ListMultipartUploadsResult>");
      ll__s3_xml(req, &b, NULL);
    }
    free(ups);
  }
  free(prefix);
  free(maxs);
}

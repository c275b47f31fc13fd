/* liblambdalite-runtime: the Lambda Runtime API client loop (contract in lambdalite_runtime.h).
 *
 * The HTTP/1.1 client is written for exactly this job and needs only libc: one blocking,
 * keep-alive TCP connection to $AWS_LAMBDA_RUNTIME_API (resolved once), one request at a time.
 * A warm invoke is four system calls: sendmsg + recv for /next, sendmsg + recv for the post.
 * Every request goes out in one sendmsg (head and body as two iovecs); answers are read into a
 * receive buffer, with large bodies read straight into their final buffer. Nothing is allocated
 * per invoke: the payload, the header values, the request heads, the response and the trace
 * variable live in buffers that only ever grow.
 *
 * This file must not include anything from src/: functions link only this library.
 */
#include "lambdalite_runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define RT_LOG "lambdalite-runtime: "
#define RT_NEXT_TRIES 3                /* consecutive /next failures before giving up */
#define RT_CONNECT_MS 1000             /* connect timeout, as the AWS C++ client's */
#define RT_HEAD_MAX ((size_t)64 << 10) /* an answer's status line + header fields; its trailers */
#define RT_BODY_MAX ((size_t)16 << 20) /* an answer's body: /next payloads are <= 6 MiB + 100 */
#define RT_IN_SIZE ((size_t)16 << 10)  /* receive buffer: a warm answer arrives in one recv */
#define RT_BASE "/2018-06-01"
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

/* Case-insensitive comparison of a header name (not NUL-terminated) with a literal. */
#define NAME_IS(name, len, lit) \
  ((len) == sizeof(lit) - 1 && strncasecmp((name), (lit), sizeof(lit) - 1) == 0)

typedef struct rt {
  int fd;                   /* owned; the keep-alive connection, or -1 between connections */
  struct addrinfo *addrs;   /* owned; AWS_LAMBDA_RUNTIME_API, resolved once */
  struct addrinfo *addr_ok; /* the address of the last successful connect: tried first */
  rt_buf_t api;             /* "host:port" as given: the Host header, logs */
  rt_buf_t next_head;       /* the whole GET /next request, built once */
  rt_buf_t path;            /* scratch: the path of the current post, after RT_BASE */
  rt_buf_t head;            /* scratch: the head of the current post */
  rt_buf_t in;              /* received bytes; in.data[in_pos..in.len) not consumed yet */
  size_t in_pos;
  int answer_started;       /* a byte of the current answer has arrived */
  rt_buf_t payload;         /* body of the last /next answer */
  rt_buf_t reply;           /* body of the last post's answer, for diagnostics */
  rt_buf_t hdr[HDR__COUNT];
  unsigned hdr_seen;        /* bit per HDR_* present in the last /next answer */
  char *trace_env;          /* owned; "_X_AMZN_TRACE_ID=..." handed to putenv(), so in environ */
  size_t trace_env_cap;
  ll_response resp;
  char err[256];            /* why the current request failed: "connecting to ...: ..." */
} rt_t;

static rt_t *rt_global; /* owned; created by the first call that needs the API */

/* Records why the current request failed in rt->err; returns err (a negative errno). */
static int rt_fail(rt_t *rt, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int rt_fail(rt_t *rt, int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(rt->err, sizeof(rt->err), fmt, ap);
  va_end(ap);
  return err;
}

static long long rt_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Appends the decimal digits of v. */
static void buf_put_size(rt_buf_t *b, size_t v) {
  char tmp[24];
  size_t i = sizeof(tmp);
  do {
    tmp[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  buf_append(b, tmp + i, sizeof(tmp) - i);
}

/* ---- connection ---- */

static void rt_disconnect(rt_t *rt) {
  if (rt->fd >= 0) close(rt->fd);
  rt->fd = -1;
  rt->in.len = rt->in_pos = 0; /* bytes of a dead connection mean nothing on the next one */
}

/* Connects the non-blocking socket fd to ai, waiting until deadline (CLOCK_MONOTONIC ms), then
 * makes it blocking: reads wait as long as they must (/next long-polls). 0 or -errno. */
static int rt_connect_fd(int fd, const struct addrinfo *ai, long long deadline) {
  if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
    /* EINTR leaves a non-blocking connect going, exactly like EINPROGRESS. */
    if (errno != EINPROGRESS && errno != EINTR) return -errno;
    for (;;) {
      long long left = deadline - rt_now_ms();
      struct pollfd p = {.fd = fd, .events = POLLOUT};
      int n = left > 0 ? poll(&p, 1, (int)left) : 0;
      if (n > 0) break;
      if (n == 0) return -ETIMEDOUT;
      if (errno != EINTR) return -errno;
    }
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0) return -errno;
    if (soerr) return -soerr;
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) return -errno;
  int one = 1; /* a request is one sendmsg and nothing follows it: no Nagle delay */
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) return -errno;
  return 0;
}

static int rt_connect_addr(rt_t *rt, const struct addrinfo *ai, long long deadline) {
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
  int r = fd < 0 ? -errno : rt_connect_fd(fd, ai, deadline);
  if (r < 0) {
    if (fd >= 0) close(fd);
    return rt_fail(rt, r, "connecting to %s: %s%s", rt->api.data, strerror(-r),
                   r == -ETIMEDOUT ? " (1 s connect timeout)" : "");
  }
  rt->fd = fd;
  return 0;
}

/* Opens the connection: the address that worked last time first, then the others in
 * getaddrinfo's order ("localhost" may give ::1 before 127.0.0.1), all within RT_CONNECT_MS.
 * 0, or -errno with rt->err set by the last address tried. */
static int rt_connect(rt_t *rt) {
  long long deadline = rt_now_ms() + RT_CONNECT_MS;
  int r = rt_fail(rt, -EHOSTUNREACH, "connecting to %s: no address", rt->api.data);
  if (rt->addr_ok && (r = rt_connect_addr(rt, rt->addr_ok, deadline)) == 0) return 0;
  for (struct addrinfo *ai = rt->addrs; ai; ai = ai->ai_next) {
    if (ai == rt->addr_ok) continue;
    if ((r = rt_connect_addr(rt, ai, deadline)) == 0) {
      rt->addr_ok = ai;
      return 0;
    }
  }
  return r;
}

/* Writes the request iov[0..n) (n <= 2), looping over short writes. sendmsg is writev with
 * flags: MSG_NOSIGNAL turns a write to a connection the platform closed into EPIPE instead of a
 * process-killing SIGPIPE, without touching the process's signal dispositions. 0 or -errno. */
static int rt_send(rt_t *rt, const struct iovec *req, size_t n) {
  struct iovec iov[2];
  memcpy(iov, req, n * sizeof(*iov)); /* a resend needs req intact */
  struct msghdr msg = {.msg_iov = iov, .msg_iovlen = n};
  while (msg.msg_iovlen) {
    if (msg.msg_iov->iov_len == 0) {
      msg.msg_iov++;
      msg.msg_iovlen--;
      continue;
    }
    ssize_t w = sendmsg(rt->fd, &msg, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      return rt_fail(rt, -e, "sending the request: %s", strerror(e));
    }
    for (size_t left = (size_t)w; left;) {
      size_t k = left < msg.msg_iov->iov_len ? left : msg.msg_iov->iov_len;
      msg.msg_iov->iov_base = (char *)msg.msg_iov->iov_base + k;
      msg.msg_iov->iov_len -= k;
      left -= k;
      if (msg.msg_iov->iov_len == 0) {
        msg.msg_iov++;
        msg.msg_iovlen--;
      }
    }
  }
  return 0;
}

/* The connection ended where a byte of the answer was due. Before the first byte that is the
 * platform having closed an idle keep-alive connection (-ECONNRESET: the caller may resend). */
static int rt_eof(rt_t *rt) {
  if (!rt->answer_started) {
    return rt_fail(rt, -ECONNRESET, "connection closed before the answer");
  }
  return rt_fail(rt, -EIO, "connection closed in the middle of the answer");
}

/* Receives what the socket has (blocking until something comes) into rt->in, after the bytes
 * not consumed yet, which move to the front first. 0, or -errno with rt->err set. */
static int rt_fill(rt_t *rt) {
  rt_buf_t *b = &rt->in;
  if (rt->in_pos) { /* what is left is a partial line: short, and moved once per line */
    memmove(b->data, b->data + rt->in_pos, b->len - rt->in_pos);
    b->len -= rt->in_pos;
    rt->in_pos = 0;
  }
  buf_reserve(b, RT_IN_SIZE / 4);
  for (;;) {
    ssize_t n = recv(rt->fd, b->data + b->len, b->cap - b->len - 1, 0);
    if (n > 0) {
      b->len += (size_t)n;
      rt->answer_started = 1;
      return 0;
    }
    if (n == 0) return rt_eof(rt);
    if (errno != EINTR) {
      int e = errno;
      return rt_fail(rt, -e, "reading the answer: %s", strerror(e));
    }
  }
}

/* ---- answers ---- */

/* Takes the next line of the answer (CR LF or a bare LF stripped) from rt->in, receiving as
 * needed. *line stays valid until the next receive. Each line is charged to *budget; a line
 * that does not fit is a protocol error naming what (the limit is RT_HEAD_MAX). 0 or -errno. */
static int rt_line(rt_t *rt, const char **line, size_t *len, size_t *budget, const char *what) {
  size_t scanned = 0; /* bytes of the partial line already searched for LF */
  for (;;) {
    const char *start = rt->in.data + rt->in_pos;
    size_t avail = rt->in.len - rt->in_pos;
    const char *nl = avail > scanned ? memchr(start + scanned, '\n', avail - scanned) : NULL;
    if (nl) {
      size_t n = (size_t)(nl - start) + 1;
      if (n > *budget) break;
      *budget -= n;
      rt->in_pos += n;
      *line = start;
      *len = n - 1 - (n >= 2 && start[n - 2] == '\r');
      return 0;
    }
    if (avail >= *budget) break;
    scanned = avail;
    int r = rt_fill(rt);
    if (r < 0) return r;
  }
  return rt_fail(rt, -EPROTO, "answer %s exceeds %zu KiB", what, RT_HEAD_MAX >> 10);
}

/* What the head of an answer says about its framing. */
typedef struct rt_head {
  int status;
  int http10;     /* HTTP/1.0: not kept alive unless it says so */
  int keep_alive; /* Connection: keep-alive */
  int close;      /* Connection: close */
  int te;         /* some Transfer-Encoding */
  int chunked;    /* ... whose last coding is chunked */
  int has_length; /* Content-Length, in length */
  unsigned long long length;
} rt_head_t;

/* Parses "HTTP/1.x NNN[ reason]". */
static int parse_status_line(const char *l, size_t len, rt_head_t *h) {
  if (len < 12 || memcmp(l, "HTTP/1.", 7) != 0 || (l[7] != '0' && l[7] != '1') || l[8] != ' ' ||
      (len > 12 && l[12] != ' '))
    return -EPROTO;
  int status = 0;
  for (int i = 9; i < 12; i++) {
    if (l[i] < '0' || l[i] > '9') return -EPROTO;
    status = status * 10 + (l[i] - '0');
  }
  if (status < 100) return -EPROTO;
  *h = (rt_head_t){.status = status, .http10 = l[7] == '0'};
  return 0;
}

/* Looks through the comma-separated tokens of a header value (case-insensitive, spaces trimmed,
 * empty tokens skipped): returns whether the last one is lit, and sets *any if any is. */
static int tokens_have(const char *v, size_t len, const char *lit, int *any) {
  size_t litlen = strlen(lit);
  int last = 0;
  for (size_t i = 0; i < len;) {
    size_t j = i;
    while (j < len && v[j] != ',') j++;
    size_t a = i, b = j;
    while (a < b && (v[a] == ' ' || v[a] == '\t')) a++;
    while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t')) b--;
    if (b > a) {
      last = b - a == litlen && strncasecmp(v + a, lit, litlen) == 0;
      if (last && any) *any = 1;
    }
    i = j + 1;
  }
  return last;
}

/* One header field line of an answer: framing fields into h, and when next is set the
 * Lambda-Runtime-* fields into rt->hdr. 0 or -EPROTO. */
static int rt_field(rt_t *rt, const char *line, size_t len, rt_head_t *h, int next) {
  const char *colon = memchr(line, ':', len);
  if (!colon || colon == line || line[0] == ' ' || line[0] == '\t') {
    return rt_fail(rt, -EPROTO, "malformed header line \"%.*s\"", (int)(len < 80 ? len : 80),
                   line);
  }
  const char *name = line, *v = colon + 1, *end = line + len;
  size_t nlen = (size_t)(colon - line);
  while (v < end && (*v == ' ' || *v == '\t')) v++;
  while (end > v && (end[-1] == ' ' || end[-1] == '\t')) end--;
  size_t vlen = (size_t)(end - v);
  const size_t plen = sizeof(RT_HDR_PREFIX) - 1;

  if (next && nlen > plen && strncasecmp(name, RT_HDR_PREFIX, plen) == 0) {
    for (int i = 0; i < HDR__COUNT; i++) {
      if (nlen - plen == rt_hdrs[i].len && strncasecmp(name + plen, rt_hdrs[i].name,
                                                       rt_hdrs[i].len) == 0) {
        buf_reset(&rt->hdr[i]);
        buf_append(&rt->hdr[i], v, vlen);
        rt->hdr_seen |= 1u << i;
        break;
      }
    }
  } else if (NAME_IS(name, nlen, "content-length")) {
    unsigned long long n = 0;
    size_t i = 0;
    for (; i < vlen && v[i] >= '0' && v[i] <= '9'; i++) {
      if (n <= RT_BODY_MAX) n = n * 10 + (unsigned)(v[i] - '0'); /* past the cap: just big */
    }
    if (i == 0 || i != vlen || (h->has_length && h->length != n)) {
      return rt_fail(rt, -EPROTO, "bad Content-Length \"%.*s\"", (int)(vlen < 40 ? vlen : 40),
                     v);
    }
    h->has_length = 1;
    h->length = n;
  } else if (NAME_IS(name, nlen, "transfer-encoding")) {
    h->te = 1;
    h->chunked = tokens_have(v, vlen, "chunked", NULL);
  } else if (NAME_IS(name, nlen, "connection")) {
    tokens_have(v, vlen, "close", &h->close);
    tokens_have(v, vlen, "keep-alive", &h->keep_alive);
  }
  return 0;
}

/* Reads the head of an answer into h, skipping interim 1xx answers. 0 or -errno. */
static int rt_read_head(rt_t *rt, rt_head_t *h, int next) {
  size_t budget = RT_HEAD_MAX;
  const char *line;
  size_t len;
  int r;
  do {
    if ((r = rt_line(rt, &line, &len, &budget, "header block")) < 0) return r;
    if (parse_status_line(line, len, h) < 0) {
      return rt_fail(rt, -EPROTO, "malformed status line \"%.*s\"", (int)(len < 80 ? len : 80),
                     line);
    }
    for (;;) {
      if ((r = rt_line(rt, &line, &len, &budget, "header block")) < 0) return r;
      if (len == 0) break;
      if ((r = rt_field(rt, line, len, h, next)) < 0) return r;
    }
  } while (h->status < 200 && h->status != 101);
  return 0;
}

static int rt_too_big(rt_t *rt) {
  return rt_fail(rt, -EPROTO, "answer body exceeds %zu MiB", RT_BODY_MAX >> 20);
}

/* Appends the next n bytes of the answer to body: those already in rt->in first, the rest
 * received straight into body (never past the n bytes, so the connection stays in step). */
static int rt_body_bytes(rt_t *rt, rt_buf_t *body, size_t n) {
  if (n > RT_BODY_MAX - body->len) return rt_too_big(rt);
  size_t have = rt->in.len - rt->in_pos, take = have < n ? have : n;
  buf_append(body, rt->in.data + rt->in_pos, take);
  rt->in_pos += take;
  n -= take;
  if (n == 0) return 0;
  buf_reserve(body, n);
  while (n) {
    ssize_t got = recv(rt->fd, body->data + body->len, n, 0);
    if (got == 0) return rt_eof(rt);
    if (got < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      return rt_fail(rt, -e, "reading the answer: %s", strerror(e));
    }
    body->len += (size_t)got;
    n -= (size_t)got;
  }
  body->data[body->len] = '\0';
  return 0;
}

/* A chunked body (RFC 9112 7.1): size lines (extensions ignored), data, CRLF, ..., "0", then
 * trailer fields (ignored) up to an empty line. */
static int rt_body_chunked(rt_t *rt, rt_buf_t *body) {
  const char *line;
  size_t len, budget;
  int r;
  for (;;) {
    budget = RT_HEAD_MAX;
    if ((r = rt_line(rt, &line, &len, &budget, "chunk size line")) < 0) return r;
    unsigned long long sz = 0;
    size_t i = 0;
    for (; i < len; i++) {
      char c = line[i];
      int d = c >= '0' && c <= '9' ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'f'
                                                   ? (c | 0x20) - 'a' + 10 : -1;
      if (d < 0) break;
      if (sz <= RT_BODY_MAX) sz = sz * 16 + (unsigned)d; /* past the cap: just big */
    }
    size_t j = i;
    while (j < len && (line[j] == ' ' || line[j] == '\t')) j++;
    if (i == 0 || (j < len && line[j] != ';')) {
      return rt_fail(rt, -EPROTO, "malformed chunk size line \"%.*s\"",
                     (int)(len < 40 ? len : 40), line);
    }
    if (sz == 0) break;
    if (sz > RT_BODY_MAX - body->len) return rt_too_big(rt);
    if ((r = rt_body_bytes(rt, body, (size_t)sz)) < 0) return r;
    if ((r = rt_line(rt, &line, &len, &budget, "chunk size line")) < 0) return r;
    if (len != 0) return rt_fail(rt, -EPROTO, "chunk data not followed by CRLF");
  }
  budget = RT_HEAD_MAX;
  do {
    if ((r = rt_line(rt, &line, &len, &budget, "trailer block")) < 0) return r;
  } while (len != 0);
  return 0;
}

/* A body that ends when the connection does. */
static int rt_body_to_eof(rt_t *rt, rt_buf_t *body) {
  int r = rt_body_bytes(rt, body, rt->in.len - rt->in_pos);
  if (r < 0) return r;
  for (;;) {
    if (body->len > RT_BODY_MAX) return rt_too_big(rt);
    buf_reserve(body, RT_IN_SIZE);
    size_t room = body->cap - body->len - 1, left = RT_BODY_MAX + 1 - body->len;
    ssize_t got = recv(rt->fd, body->data + body->len, room < left ? room : left, 0);
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      return rt_fail(rt, -e, "reading the answer: %s", strerror(e));
    }
    body->len += (size_t)got;
  }
  body->data[body->len] = '\0';
  return 0;
}

/* Reads one whole answer: status into *status, body into body (NUL-terminated), and for /next
 * the Lambda-Runtime-* fields. Closes the connection if the answer says so or cannot be
 * followed by another on it. 0 or -errno with rt->err set. */
static int rt_read_answer(rt_t *rt, rt_buf_t *body, int next, int *status) {
  rt_head_t h;
  int r = rt_read_head(rt, &h, next);
  if (r < 0) return r;
  int no_body = h.status < 200 || h.status == 204 || h.status == 304;
  int to_eof = !no_body && !h.chunked && (h.te || !h.has_length);
  buf_reset(body);
  if (no_body) {
    r = 0;
  } else if (h.chunked) {
    r = rt_body_chunked(rt, body);
  } else if (!to_eof) {
    r = h.length > RT_BODY_MAX ? rt_too_big(rt) : rt_body_bytes(rt, body, (size_t)h.length);
  } else {
    r = rt_body_to_eof(rt, body);
  }
  if (r < 0) return r;
  /* Bytes past the answer mean the framing is lost (we never pipeline): start afresh. */
  if (to_eof || h.close || (h.http10 && !h.keep_alive) || (h.te && h.has_length) ||
      h.status == 101 || rt->in_pos != rt->in.len) {
    rt_disconnect(rt);
  } else {
    rt->in.len = rt->in_pos = 0;
  }
  *status = h.status;
  return 0;
}

/* One request and its answer on the keep-alive connection (opened if needed). req holds the
 * head and, for a post, the body. Returns 0 with the answer's status in *status and its body
 * in body; -EIO on a transport failure or -EPROTO on a malformed or oversized answer, with
 * rt->err set and the connection closed. */
static int rt_exchange(rt_t *rt, const struct iovec *req, size_t nreq, rt_buf_t *body, int next,
                       int *status) {
  for (int attempt = 0;; attempt++) {
    int reused = rt->fd >= 0;
    int r = reused ? 0 : rt_connect(rt);
    if (r == 0) {
      rt->answer_started = 0;
      if (next) {
        for (int i = 0; i < HDR__COUNT; i++) buf_reset(&rt->hdr[i]);
        rt->hdr_seen = 0;
      }
      r = rt_send(rt, req, nreq);
      if (r == 0) r = rt_read_answer(rt, body, next, status);
      if (r == 0) return 0;
      rt_disconnect(rt);
      /* The platform may close an idle keep-alive connection at any time; then the request
       * fails with EPIPE/ECONNRESET or EOF before any byte of an answer, unread: send it again
       * on a fresh connection, once. A failure on a fresh connection is real. */
      if (reused && attempt == 0 && !rt->answer_started && (r == -EPIPE || r == -ECONNRESET))
        continue;
    }
    return r == -EPROTO ? -EPROTO : -EIO;
  }
}

/* ---- the requests ---- */

static void rt_close(rt_t *rt) {
  if (!rt) return;
  if (rt->trace_env) unsetenv(RT_TRACE_VAR); /* environ points into trace_env */
  free(rt->trace_env);
  rt_disconnect(rt);
  freeaddrinfo(rt->addrs);
  buf_free(&rt->api);
  buf_free(&rt->next_head);
  buf_free(&rt->path);
  buf_free(&rt->head);
  buf_free(&rt->in);
  buf_free(&rt->payload);
  buf_free(&rt->reply);
  for (int i = 0; i < HDR__COUNT; i++) buf_free(&rt->hdr[i]);
  response_free(&rt->resp);
  free(rt);
}

/* Splits AWS_LAMBDA_RUNTIME_API ("host:port", "[v6]:port") into host and port (both
 * NUL-terminated, host < hostsz, port < 6 bytes). 0 or -EINVAL. */
static int split_api(const char *api, char *host, size_t hostsz, char *port) {
  for (const char *c = api; *c; c++) {
    if ((unsigned char)*c <= ' ' || *c == 0x7f) return -EINVAL; /* it goes into a header */
  }
  const char *h = api, *hend, *colon;
  if (api[0] == '[') {
    h = api + 1;
    hend = strchr(h, ']');
    if (!hend || hend[1] != ':') return -EINVAL;
    colon = hend + 1;
  } else {
    colon = strchr(api, ':');
    if (!colon || strchr(colon + 1, ':')) return -EINVAL;
    hend = colon;
  }
  const char *p = colon + 1;
  size_t hlen = (size_t)(hend - h), plen = strlen(p);
  if (hlen == 0 || hlen >= hostsz || plen == 0 || plen > 5 || strspn(p, "0123456789") != plen ||
      atoi(p) < 1 || atoi(p) > 65535)
    return -EINVAL;
  memcpy(host, h, hlen);
  host[hlen] = '\0';
  memcpy(port, p, plen + 1);
  return 0;
}

/* Returns the client, creating it on first use: 0, or -EINVAL without a usable
 * AWS_LAMBDA_RUNTIME_API, -EIO if its host cannot be resolved. */
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
  char host[NI_MAXHOST], port[6];
  if (split_api(api, host, sizeof(host), port) < 0) {
    fprintf(stderr, RT_LOG "AWS_LAMBDA_RUNTIME_API is not host:port: \"%.200s\"\n", api);
    return -EINVAL;
  }
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_NUMERICSERV};
  struct addrinfo *addrs;
  int g = getaddrinfo(host, port, &hints, &addrs);
  if (g != 0) {
    fprintf(stderr, RT_LOG "resolving %s: %s\n", host,
            g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
    return -EIO;
  }
  rt_t *rt = calloc(1, sizeof(*rt));
  if (!rt) rt_oom(sizeof(*rt));
  rt->fd = -1;
  rt->addrs = addrs;
  buf_puts(&rt->api, api);
  /* No Expect (no 100-continue round trip), no chunked requests, no User-Agent. */
  buf_puts(&rt->next_head, "GET " RT_BASE "/runtime/invocation/next HTTP/1.1\r\nHost: ");
  buf_puts(&rt->next_head, api);
  buf_puts(&rt->next_head, "\r\n\r\n");
  buf_reserve(&rt->in, RT_IN_SIZE - 1);
  rt_global = rt;
  *out = rt;
  return 0;
}

/* GET /next into rt->payload and rt->hdr. Returns 0, -EIO, or -EPROTO for a malformed answer,
 * a status other than 200 or an answer without a request id. Failures are logged. */
static int rt_next(rt_t *rt) {
  struct iovec req = {rt->next_head.data, rt->next_head.len};
  int status = 0;
  int r = rt_exchange(rt, &req, 1, &rt->payload, 1, &status);
  if (r < 0) {
    fprintf(stderr, RT_LOG "GET /runtime/invocation/next: %s\n", rt->err);
    return r;
  }
  if (status != 200) {
    fprintf(stderr, RT_LOG "GET /runtime/invocation/next: HTTP %d: %.300s\n", status,
            rt->payload.data ? rt->payload.data : "");
    return -EPROTO;
  }
  if (!(rt->hdr_seen & 1u << HDR_REQUEST_ID) || rt->hdr[HDR_REQUEST_ID].len == 0) {
    fprintf(stderr, RT_LOG "GET /runtime/invocation/next: no Lambda-Runtime-Aws-Request-Id\n");
    return -EPROTO;
  }
  return 0;
}

/* POSTs body to RT_BASE + rt->path with an explicit Content-Length, and the error type header
 * err_hdr when it is not NULL. Returns 0 on 202; -EIO on a transport failure; -EPROTO for a
 * malformed answer, or for any other status, which lands in *status (else left 0). Failures are
 * logged. */
static int rt_post(rt_t *rt, const char *content_type, const rt_buf_t *err_hdr,
                   const rt_buf_t *body, int *status) {
  rt_buf_t *h = &rt->head;
  buf_reset(h);
  buf_puts(h, "POST " RT_BASE);
  buf_append(h, rt->path.data, rt->path.len);
  buf_puts(h, " HTTP/1.1\r\nHost: ");
  buf_append(h, rt->api.data, rt->api.len);
  buf_puts(h, "\r\nContent-Type: ");
  buf_puts(h, content_type);
  buf_puts(h, "\r\nContent-Length: ");
  buf_put_size(h, body->len);
  buf_puts(h, "\r\n");
  if (err_hdr) {
    buf_append(h, err_hdr->data, err_hdr->len);
    buf_puts(h, "\r\n");
  }
  buf_puts(h, "\r\n");
  struct iovec req[2] = {{h->data, h->len}, {body->data, body->len}};
  *status = 0;
  int r = rt_exchange(rt, req, 2, &rt->reply, 0, status);
  if (r < 0) {
    fprintf(stderr, RT_LOG "POST %s: %s\n", rt->path.data, rt->err);
    return r;
  }
  if (*status != 202) {
    fprintf(stderr, RT_LOG "POST %s: HTTP %d: %.300s\n", rt->path.data, *status,
            rt->reply.data ? rt->reply.data : "");
    return -EPROTO;
  }
  return 0;
}

/* rt->path = "/runtime/invocation/" + id (percent-encoded) + tail. */
static void rt_invocation_path(rt_t *rt, const rt_buf_t *id, const char *tail) {
  static const char hex[] = "0123456789ABCDEF";
  rt_buf_t *p = &rt->path;
  buf_reset(p);
  buf_puts(p, "/runtime/invocation/");
  buf_reserve(p, id->len * 3 + strlen(tail));
  for (size_t i = 0; i < id->len; i++) {
    unsigned char ch = (unsigned char)id->data[i];
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
        ch == '-' || ch == '.' || ch == '_' || ch == '~') {
      p->data[p->len++] = (char)ch;
    } else {
      p->data[p->len++] = '%';
      p->data[p->len++] = hex[ch >> 4];
      p->data[p->len++] = hex[ch & 15];
    }
  }
  buf_puts(p, tail);
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

  int status, r;
  if (out->failed) {
    rt_invocation_path(rt, &rt->hdr[HDR_REQUEST_ID], "/error");
    r = rt_post(rt, "application/json", &out->err_hdr, &out->body, &status);
  } else {
    rt_invocation_path(rt, &rt->hdr[HDR_REQUEST_ID], "/response");
    r = rt_post(rt, "application/octet-stream", NULL, &out->body, &status);
  }
  /* 400 (stale id), 403 (already answered), 413 (too large): the platform has settled the
   * invocation; carry on. 5xx means the platform wants the runtime gone; a result that could
   * not be delivered (status 0) stops the loop too. */
  if (r == -EPROTO && status > 0 && status < 500) r = 0;
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
  int status;
  int r = rt_open(&rt);
  if (r < 0) return r;
  ll_response *out = &rt->resp;
  response_reset(out);
  ll_response_error(out, error_type, error_message);
  buf_reset(&rt->path);
  buf_puts(&rt->path, "/runtime/init/error");
  return rt_post(rt, "application/json", &out->err_hdr, &out->body, &status);
}

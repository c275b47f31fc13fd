/* HTTP/1.1 request parser (RFC 9112). See parser.h for the calling convention.
 *
 * The head is read line by line: each line (up to and including its LF) is appended to
 * p->store, checked, and its pieces are cut in place with NULs; fields are recorded as offsets
 * (p->field_off) because the store may move while it grows, and turned into pointers once the
 * head is complete. Trailers go to their own buffer so that growing it never moves the head.
 * Body framing (Content-Length, chunked) is a byte-level state machine that never buffers:
 * body data is handed out as pointers into the caller's input. */
#include "http/parser.h"

#include <string.h>

#include "core/mem.h"

#define DEFAULT_MAX_HEAD_BYTES (64 * 1024)
#define MAX_EMPTY_LINES 4   /* tolerated before a request line (RFC 9112 section 2.2) */
#define MAX_CHUNK_LINE 4096 /* chunk-size line with extensions (aws-chunked signatures) */
#define MAX_CHUNKED_TOTAL INT64_MAX

enum {
  S_HEAD,          /* request line and header lines */
  S_BODY,          /* Content-Length body: m.body_left bytes to go */
  S_CHUNK_SIZE,    /* hex digits of a chunk-size line */
  S_CHUNK_BWS,     /* whitespace after the size, before ';' */
  S_CHUNK_EXT,     /* chunk extensions: checked and skipped up to the line end */
  S_CHUNK_LF,      /* CR seen at the end of a chunk-size line */
  S_CHUNK_DATA,    /* chunk data: m.body_left bytes to go */
  S_CHUNK_DATA_CR, /* the CRLF after chunk data */
  S_CHUNK_DATA_LF,
  S_TRAILER,      /* trailer lines after the last chunk, up to the empty line */
  S_DONE_PENDING, /* body complete: the next call returns DONE */
  S_DONE,
  S_ERROR,
};

/* Character classes (RFC 9110 section 5.6.2, 5.5; RFC 3986 for the target and Host). */
enum {
  C_TCHAR = 1,  /* token character */
  C_FIELD = 2,  /* field-value character: VCHAR, obs-text, SP, HTAB */
  C_TARGET = 4, /* request-target character: VCHAR except '#' */
  C_HOST = 8,   /* Host character: unreserved, sub-delims, ':', '[', ']', '%' */
};
#define TOK (C_TCHAR | C_FIELD | C_TARGET | C_HOST) /* ALPHA DIGIT - . _ ~ ! $ & ' * + */
#define SEP (C_FIELD | C_TARGET)                    /* other VCHAR */
#define HSEP (C_FIELD | C_TARGET | C_HOST)          /* ( ) , ; = : [ ] */
#define TNH (C_TCHAR | C_FIELD | C_TARGET)          /* tchar that is not a Host char: ^ ` | */

static const unsigned char cls[256] = {
    ['\t'] = C_FIELD,
    [' '] = C_FIELD,
    ['!'] = TOK,
    ['"'] = SEP,
    ['#'] = C_TCHAR | C_FIELD,
    ['$'] = TOK,
    ['%'] = TOK,
    ['&'] = TOK,
    ['\''] = TOK,
    ['('] = HSEP,
    [')'] = HSEP,
    ['*'] = TOK,
    ['+'] = TOK,
    [','] = HSEP,
    ['-'] = TOK,
    ['.'] = TOK,
    ['/'] = SEP,
    ['0' ... '9'] = TOK,
    [':'] = HSEP,
    [';'] = HSEP,
    ['<'] = SEP,
    ['='] = HSEP,
    ['>'] = SEP,
    ['?'] = SEP,
    ['@'] = SEP,
    ['A' ... 'Z'] = TOK,
    ['['] = HSEP,
    ['\\'] = SEP,
    [']'] = HSEP,
    ['^'] = TNH,
    ['_'] = TOK,
    ['`'] = TNH,
    ['a' ... 'z'] = TOK,
    ['{'] = SEP,
    ['|'] = TNH,
    ['}'] = SEP,
    ['~'] = TOK,
    [0x80 ... 0xff] = C_FIELD,
};

static inline bool is(char c, int cl) { return cls[(unsigned char)c] & cl; }

static inline char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c; }

/* Case-insensitive comparison of s[0..n) with the lower-case literal lit. */
static bool ieq(const char *s, size_t n, const char *lit) {
  for (size_t i = 0; i < n; i++)
    if (!lit[i] || lower(s[i]) != lit[i]) return false;
  return lit[n] == '\0';
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* Moves to the error state; every later call returns the same error. */
static int fail(ll_http_parser_t *p, int status, const char *message) {
  p->m.state = S_ERROR;
  p->m.error_status = status;
  p->m.error_message = message;
  return LL_HTTP_ERROR;
}

void ll_http_parser_init(ll_http_parser_t *p, const ll_http_limits_t *limits) {
  memset(p, 0, sizeof *p);
  if (limits) p->limits = *limits;
  if (!p->limits.max_head_bytes) p->limits.max_head_bytes = DEFAULT_MAX_HEAD_BYTES;
  ll_http_parser_reset(p);
}

void ll_http_parser_reset(ll_http_parser_t *p) {
  /* head.headers[] and field_off[] are not cleared: only the first nfields entries count. */
  ll_http_head_t *h = &p->head;
  h->method = h->target = h->path = h->query = NULL;
  h->version_minor = 0;
  h->nheaders = h->ntrailers = 0;
  h->content_length = -1;
  h->chunked = h->keep_alive = h->expect_continue = false;
  memset(&p->m, 0, sizeof p->m);
  p->m.state = S_HEAD;
  p->store.len = 0;
  p->tstore.len = 0;
}

void ll_http_parser_free(ll_http_parser_t *p) {
  ll_buf_free(&p->store);
  ll_buf_free(&p->tstore);
}

const ll_kv_t *ll_http_header(const ll_http_head_t *head, const char *name) {
  return ll_kv_find(head->headers, head->nheaders, name);
}

/* Appends the input up to and including the next LF to b, within the head byte budget.
 * Returns 1 when a complete line is in b (from m.line_start), 0 when all the input was taken
 * and the line goes on, -1 when the budget is exceeded. */
static int take_line(ll_http_parser_t *p, ll_buf_t *b, const char *data, size_t len, size_t *pos) {
  const char *s = data + *pos;
  size_t avail = len - *pos;
  const char *nl = memchr(s, '\n', avail);
  size_t n = nl ? (size_t)(nl - s) + 1 : avail;
  if (n > p->limits.max_head_bytes - p->m.head_bytes) return -1;
  ll_buf_append(b, s, n);
  p->m.head_bytes += n;
  *pos += n;
  return nl != NULL;
}

/* Length of the complete line at b->data + m.line_start without its LF or CRLF. A CR anywhere
 * else stays in the line and is rejected as a control character by the callers. */
static size_t line_length(const ll_http_parser_t *p, const ll_buf_t *b) {
  size_t n = b->len - p->m.line_start - 1;
  if (n && b->data[p->m.line_start + n - 1] == '\r') n--;
  return n;
}

/* Next element of a comma-separated list in [*s, end), trimmed of OWS; empty elements are
 * skipped (RFC 9110 section 5.6.1). */
static bool list_next(const char **s, const char *end, const char **elem, size_t *n) {
  const char *q = *s;
  while (q < end && (*q == ',' || *q == ' ' || *q == '\t')) q++;
  if (q == end) return false;
  const char *comma = memchr(q, ',', (size_t)(end - q));
  const char *e = comma ? comma : end;
  *s = e;
  while (e[-1] == ' ' || e[-1] == '\t') e--;
  *elem = q;
  *n = (size_t)(e - q);
  return true;
}

/* Splits the request-target at store[toff..toff+tlen) into target, path and query, appended to
 * the store as NUL-terminated copies (an origin-form target stays in place). */
static int split_target(ll_http_parser_t *p, size_t toff, size_t tlen, bool options) {
  const char *t = p->store.data + toff;
  size_t skip = 0;    /* bytes of "http://authority" before the origin-form part */
  bool slash = false; /* absolute-form with an empty path: the path becomes "/" */
  if (t[0] == '/') {
    p->m.target_off = toff;
  } else if (tlen == 1 && t[0] == '*') {
    if (!options) return fail(p, 400, "asterisk-form request-target without OPTIONS");
    p->m.target_off = toff;
  } else {
    if (tlen > 7 && ieq(t, 7, "http://"))
      skip = 7;
    else if (tlen > 8 && ieq(t, 8, "https://"))
      skip = 8;
    else
      return fail(p, 400, "invalid request-target");
    size_t a = skip;
    while (a < tlen && t[a] != '/' && t[a] != '?') {
      if (!is(t[a], C_HOST)) return fail(p, 400, "invalid authority in request-target");
      a++;
    }
    if (a == skip) return fail(p, 400, "invalid authority in request-target");
    skip = a;
    slash = a == tlen || t[a] == '?';
  }

  size_t rn = tlen - skip; /* the origin-form bytes, without the "/" added for an empty path */
  ll_buf_reserve(&p->store, 2 * rn + 8);
  t = p->store.data + toff; /* the reserve may have moved the store */
  const char *r = t + skip;
  char *base = p->store.data, *out = base + p->store.len;
  if (skip) {
    p->m.target_off = (size_t)(out - base);
    if (slash) *out++ = '/';
    memcpy(out, r, rn);
    out += rn;
    *out++ = '\0';
  }
  const char *q = memchr(r, '?', rn);
  size_t pn = q ? (size_t)(q - r) : rn;
  p->m.path_off = (size_t)(out - base);
  if (slash) *out++ = '/';
  memcpy(out, r, pn);
  out += pn;
  *out++ = '\0';
  p->m.query_off = (size_t)(out - base);
  if (q) {
    memcpy(out, q + 1, rn - pn - 1);
    out += rn - pn - 1;
  }
  *out++ = '\0';
  p->store.len = (size_t)(out - base);
  return 0;
}

/* method SP request-target SP HTTP-version, the line being n bytes at m.line_start. */
static int parse_request_line(ll_http_parser_t *p, size_t n) {
  char *line = p->store.data + p->m.line_start;
  size_t i = 0;
  while (i < n && is(line[i], C_TCHAR)) i++;
  if (i == 0 || i == n || line[i] != ' ') return fail(p, 400, "invalid method");
  size_t t = i + 1, j = t;
  while (j < n && is(line[j], C_TARGET)) j++;
  if (j == t || j == n || line[j] != ' ') return fail(p, 400, "invalid request-target");
  const char *v = line + j + 1;
  if (n - j - 1 != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' || v[6] != '.' ||
      v[7] < '0' || v[7] > '9')
    return fail(p, 400, "invalid HTTP version");
  if (v[5] != '1' || v[7] > '1') return fail(p, 505, "HTTP version not supported");
  p->head.version_minor = v[7] - '0';
  line[i] = '\0';
  line[j] = '\0';
  p->m.method_off = p->m.line_start;
  p->m.request_line = true;
  return split_target(p, p->m.line_start + t, j - t, i == 7 && memcmp(line, "OPTIONS", 7) == 0);
}

static int parse_content_length(ll_http_parser_t *p, const char *v, size_t n) {
  /* A list of identical values ("5, 5") is accepted as one (RFC 9110 section 8.6). */
  const char *s = v, *e;
  size_t en;
  bool any = false;
  while (list_next(&s, v + n, &e, &en)) {
    int64_t x = 0;
    for (size_t i = 0; i < en; i++) {
      if (e[i] < '0' || e[i] > '9') return fail(p, 400, "invalid Content-Length");
      int d = e[i] - '0';
      if (x > (INT64_MAX - d) / 10) return fail(p, 400, "Content-Length too large");
      x = x * 10 + d;
    }
    if (p->head.content_length >= 0 && p->head.content_length != x)
      return fail(p, 400, "conflicting Content-Length values");
    p->head.content_length = x;
    any = true;
  }
  return any ? 0 : fail(p, 400, "invalid Content-Length");
}

static int parse_transfer_encoding(ll_http_parser_t *p, const char *v, size_t n) {
  /* Only chunked is implemented, so any other coding is a 501 wherever it stands, and chunked
   * is then necessarily the final coding; applied twice it is malformed. */
  const char *s = v, *e;
  size_t en;
  p->m.te = true;
  while (list_next(&s, v + n, &e, &en)) {
    if (!ieq(e, en, "chunked")) return fail(p, 501, "unsupported Transfer-Encoding");
    if (p->head.chunked) return fail(p, 400, "chunked applied more than once");
    p->head.chunked = true;
  }
  return 0;
}

/* Applies the fields of the header section that the parser itself interprets. */
static int interpret_field(ll_http_parser_t *p, const char *name, size_t nn, const char *v,
                           size_t vn) {
  const char *s = v, *e;
  size_t en;
  switch (nn) {
    case 4:
      if (!ieq(name, nn, "host")) break;
      if (++p->m.nhost > 1) return fail(p, 400, "multiple Host headers");
      for (size_t i = 0; i < vn; i++)
        if (!is(v[i], C_HOST)) return fail(p, 400, "invalid Host header");
      break;
    case 6:
      if (!ieq(name, nn, "expect")) break;
      while (list_next(&s, v + vn, &e, &en))
        if (ieq(e, en, "100-continue")) p->m.expect_continue = true;
      break;
    case 10:
      if (!ieq(name, nn, "connection")) break;
      while (list_next(&s, v + vn, &e, &en)) {
        if (ieq(e, en, "close")) p->m.conn_close = true;
        if (ieq(e, en, "keep-alive")) p->m.conn_keep_alive = true;
      }
      break;
    case 14:
      if (ieq(name, nn, "content-length")) return parse_content_length(p, v, vn);
      break;
    case 17:
      if (ieq(name, nn, "transfer-encoding")) return parse_transfer_encoding(p, v, vn);
      break;
  }
  return 0;
}

/* Whether s[0..n) is all C_FIELD bytes. Field values are most of a head, so words of 8 bytes
 * without a byte < 0x20 or 0x7f are skipped at once ("hasless"/"haszero" from Bit Twiddling
 * Hacks: never a false negative); from the first word that may hold one (HTAB is < 0x20 too)
 * the rest is checked byte by byte. */
static bool field_value_ok(const char *s, size_t n) {
  const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t x, del;
    memcpy(&x, s + i, 8);
    del = x ^ (ones * 0x7f);
    if (((x - ones * 0x20) & ~x & highs) | ((del - ones) & ~del & highs)) break;
  }
  for (; i < n; i++)
    if (!is(s[i], C_FIELD)) return false;
  return true;
}

/* field-name ":" OWS field-value OWS, the line being n > 0 bytes at m.line_start in b. */
static int parse_field(ll_http_parser_t *p, ll_buf_t *b, size_t n, bool trailer) {
  char *line = b->data + p->m.line_start;
  if (line[0] == ' ' || line[0] == '\t') return fail(p, 400, "obsolete line folding");
  size_t i = 0;
  while (i < n && is(line[i], C_TCHAR)) i++;
  if (i == n) return fail(p, 400, "missing colon in header line");
  if (i == 0 || line[i] != ':') return fail(p, 400, "invalid header name");
  size_t v = i + 1, e = n;
  while (v < e && (line[v] == ' ' || line[v] == '\t')) v++;
  while (e > v && (line[e - 1] == ' ' || line[e - 1] == '\t')) e--;
  if (!field_value_ok(line + v, e - v)) return fail(p, 400, "invalid header value");
  if (p->m.nfields == LL_HTTP_MAX_HEADERS)
    return fail(p, 431, trailer ? "too many trailer fields" : "too many header fields");
  line[i] = '\0'; /* e <= n, and line[n] is the CR or LF: both cuts stay inside the line */
  line[e] = '\0';
  ll_kv_t *kv = &p->head.headers[p->m.nfields];
  kv->name = kv->value = NULL; /* set when the section is complete */
  kv->name_len = i;
  kv->value_len = e - v;
  p->field_off[p->m.nfields][0] = p->m.line_start;
  p->field_off[p->m.nfields][1] = p->m.line_start + v;
  p->m.nfields++;
  return trailer ? 0 : interpret_field(p, line, i, line + v, e - v);
}

/* Turns the field offsets [from, m.nfields) into pointers into b. */
static void fix_fields(ll_http_parser_t *p, const ll_buf_t *b, size_t from) {
  for (size_t i = from; i < p->m.nfields; i++) {
    p->head.headers[i].name = b->data + p->field_off[i][0];
    p->head.headers[i].value = b->data + p->field_off[i][1];
  }
}

/* The empty line ending the header section was read: check the framing, fill the head. */
static int finish_head(ll_http_parser_t *p) {
  ll_http_head_t *h = &p->head;
  bool v11 = h->version_minor == 1;
  if (v11 && p->m.nhost == 0) return fail(p, 400, "missing Host header");
  if (p->m.te) {
    /* RFC 9112 section 6.1 and 6.3: both present is a smuggling attempt; HTTP/1.0 has no TE. */
    if (h->content_length >= 0)
      return fail(p, 400, "Content-Length and Transfer-Encoding both present");
    if (!v11) return fail(p, 400, "Transfer-Encoding in HTTP/1.0 request");
    if (!h->chunked) return fail(p, 400, "empty Transfer-Encoding");
  }
  if (p->limits.max_body_bytes && h->content_length > 0 &&
      (uint64_t)h->content_length > p->limits.max_body_bytes)
    return fail(p, 413, "body too large");
  h->keep_alive = v11 ? !p->m.conn_close : p->m.conn_keep_alive && !p->m.conn_close;
  h->expect_continue = v11 && p->m.expect_continue; /* ignored in 1.0 (RFC 9110 10.1.1) */

  const char *s = p->store.data;
  h->method = s + p->m.method_off;
  h->target = s + p->m.target_off;
  h->path = s + p->m.path_off;
  h->query = s + p->m.query_off;
  fix_fields(p, &p->store, 0);
  h->nheaders = p->m.nfields;

  if (h->chunked) {
    p->m.state = S_CHUNK_SIZE;
  } else if (h->content_length > 0) {
    p->m.state = S_BODY;
    p->m.body_left = (uint64_t)h->content_length;
  } else {
    p->m.state = S_DONE_PENDING;
  }
  return LL_HTTP_HEAD;
}

static int parse_head(ll_http_parser_t *p, const char *data, size_t len, size_t *pos) {
  while (*pos < len) {
    int r = take_line(p, &p->store, data, len, pos);
    if (r < 0)
      return p->m.request_line ? fail(p, 431, "request header fields too large")
                               : fail(p, 414, "request line too long");
    if (r == 0) break;
    size_t n = line_length(p, &p->store);
    if (!p->m.request_line) {
      if (n == 0) {
        if (++p->m.nempty > MAX_EMPTY_LINES)
          return fail(p, 400, "too many empty lines before request line");
        p->store.len = p->m.line_start;
        continue;
      }
      if (parse_request_line(p, n) < 0) return LL_HTTP_ERROR;
    } else if (n == 0) {
      return finish_head(p);
    } else if (parse_field(p, &p->store, n, false) < 0) {
      return LL_HTTP_ERROR;
    }
    p->m.line_start = p->store.len;
  }
  return LL_HTTP_NEED_MORE;
}

static int parse_trailer(ll_http_parser_t *p, const char *data, size_t len, size_t *pos) {
  while (*pos < len) {
    int r = take_line(p, &p->tstore, data, len, pos);
    if (r < 0) return fail(p, 431, "trailer fields too large");
    if (r == 0) break;
    size_t n = line_length(p, &p->tstore);
    if (n == 0) {
      fix_fields(p, &p->tstore, p->head.nheaders);
      p->head.ntrailers = p->m.nfields - p->head.nheaders;
      p->head.nheaders = p->m.nfields;
      p->m.state = S_DONE;
      return LL_HTTP_DONE;
    }
    if (parse_field(p, &p->tstore, n, true) < 0) return LL_HTTP_ERROR;
    p->m.line_start = p->tstore.len;
  }
  return LL_HTTP_NEED_MORE;
}

/* The chunk-size line ended: data follows, or the trailer section after the last chunk. */
static void chunk_line_end(ll_http_parser_t *p) {
  if (p->m.chunk_size == 0) {
    p->m.state = S_TRAILER;
    p->m.line_start = p->tstore.len;
  } else {
    p->m.state = S_CHUNK_DATA;
    p->m.body_left = p->m.chunk_size;
    p->m.body_total += p->m.chunk_size;
  }
  p->m.chunk_size = 0;
  p->m.chunk_line_len = 0;
}

/* One byte of chunked framing (not data); returns 0 or LL_HTTP_ERROR. */
static int chunk_byte(ll_http_parser_t *p, char c) {
  /* S_CHUNK_SIZE .. S_CHUNK_LF are the states of the chunk-size line. */
  if (p->m.state <= S_CHUNK_LF && ++p->m.chunk_line_len > MAX_CHUNK_LINE)
    return fail(p, 400, "chunk line too long");
  switch (p->m.state) {
    case S_CHUNK_SIZE: {
      int d = hexval(c);
      if (d >= 0) {
        uint64_t room = MAX_CHUNKED_TOTAL - p->m.body_total; /* body_total <= the max */
        if (room < (uint64_t)d || p->m.chunk_size > (room - (uint64_t)d) / 16)
          return fail(p, 400, "chunk size too large");
        p->m.chunk_size = p->m.chunk_size * 16 + (uint64_t)d;
        if (p->limits.max_body_bytes &&
            p->m.chunk_size > p->limits.max_body_bytes - p->m.body_total)
          return fail(p, 413, "body too large");
        return 0;
      }
      if (p->m.chunk_line_len == 1) return fail(p, 400, "invalid chunk size");
      if (c == ';')
        p->m.state = S_CHUNK_EXT;
      else if (c == ' ' || c == '\t')
        p->m.state = S_CHUNK_BWS;
      else if (c == '\r')
        p->m.state = S_CHUNK_LF;
      else if (c == '\n')
        chunk_line_end(p);
      else
        return fail(p, 400, "invalid chunk size");
      return 0;
    }
    case S_CHUNK_BWS:
      if (c == ';')
        p->m.state = S_CHUNK_EXT;
      else if (c != ' ' && c != '\t')
        return fail(p, 400, "invalid chunk extension");
      return 0;
    case S_CHUNK_EXT:
      /* `;name=value` or aws-chunked's `;chunk-signature=...`: skipped, not interpreted. */
      if (c == '\r')
        p->m.state = S_CHUNK_LF;
      else if (c == '\n')
        chunk_line_end(p);
      else if (!is(c, C_FIELD))
        return fail(p, 400, "invalid chunk extension");
      return 0;
    case S_CHUNK_LF:
      if (c != '\n') return fail(p, 400, "bare CR in chunk line");
      chunk_line_end(p);
      return 0;
    case S_CHUNK_DATA_CR:
      if (c == '\r')
        p->m.state = S_CHUNK_DATA_LF;
      else if (c == '\n')
        p->m.state = S_CHUNK_SIZE;
      else
        return fail(p, 400, "missing CRLF after chunk data");
      return 0;
    case S_CHUNK_DATA_LF:
      if (c != '\n') return fail(p, 400, "missing CRLF after chunk data");
      p->m.state = S_CHUNK_SIZE;
      return 0;
  }
  ll_assert(!"chunk_byte in a non-framing state");
  return 0;
}

static int parse_chunked(ll_http_parser_t *p, const char *data, size_t len, size_t *pos,
                         ll_http_event_t *ev) {
  while (*pos < len) {
    if (p->m.state == S_TRAILER) return parse_trailer(p, data, len, pos);
    if (p->m.state == S_CHUNK_DATA) {
      size_t n = len - *pos;
      if (n > p->m.body_left) n = (size_t)p->m.body_left;
      ev->data = data + *pos;
      ev->len = n;
      *pos += n;
      p->m.body_left -= n;
      if (p->m.body_left == 0) p->m.state = S_CHUNK_DATA_CR;
      return LL_HTTP_BODY;
    }
    if (chunk_byte(p, data[*pos]) < 0) return LL_HTTP_ERROR;
    ++*pos;
  }
  return LL_HTTP_NEED_MORE;
}

int ll_http_parse(ll_http_parser_t *p, const char *data, size_t len, size_t *used,
                  ll_http_event_t *ev) {
  size_t pos = 0;
  int r;
  *ev = (ll_http_event_t){0};
  switch (p->m.state) {
    case S_HEAD:
      r = parse_head(p, data, len, &pos);
      break;
    case S_BODY:
      if (len == 0) {
        r = LL_HTTP_NEED_MORE;
        break;
      }
      pos = len < p->m.body_left ? len : (size_t)p->m.body_left;
      p->m.body_left -= pos;
      if (p->m.body_left == 0) p->m.state = S_DONE_PENDING;
      ev->data = data;
      ev->len = pos;
      r = LL_HTTP_BODY;
      break;
    case S_DONE_PENDING:
      p->m.state = S_DONE;
      /* fall through */
    case S_DONE:
      r = LL_HTTP_DONE;
      break;
    case S_ERROR:
      r = LL_HTTP_ERROR;
      break;
    default:
      r = parse_chunked(p, data, len, &pos, ev);
      break;
  }
  if (r == LL_HTTP_ERROR) {
    ev->status = p->m.error_status;
    ev->message = p->m.error_message;
    pos = 0;
  }
  *used = pos;
  return r;
}

/* S3's XML: request bodies parsed with expat into a small tree, escaped text written (xml.h). */
#include "api/xml.h"

#include <expat.h>
#include <limits.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

/* ---- the arena: a chain of blocks, freed at once ------------------------------------------ */

#define BLOCK_SZ 16384 /* bytes of one ordinary block; larger requests get a block of their own */

typedef struct block {
  struct block *next;
  size_t used, cap;
  max_align_t data[]; /* cap bytes */
} block_t;

struct ll_xml_doc {
  block_t *blocks; /* owned; the first is the one being filled */
  ll_xml_node_t *root;
};

static void *arena_alloc(ll_xml_doc_t *d, size_t sz, size_t align) {
  block_t *b = d->blocks;
  if (b) {
    size_t off = (b->used + align - 1) & ~(align - 1);
    if (off <= b->cap && sz <= b->cap - off) {
      b->used = off + sz;
      return (char *)b->data + off;
    }
  }
  bool own = sz > BLOCK_SZ / 4; /* a long text: do not waste the rest of the current block */
  size_t cap = own ? sz : BLOCK_SZ;
  block_t *nb = ll_malloc(sizeof *nb + cap);
  nb->cap = cap;
  nb->used = sz;
  if (own && b) { /* behind the current block, which stays the one being filled */
    nb->next = b->next;
    b->next = nb;
  } else {
    nb->next = b;
    d->blocks = nb;
  }
  return nb->data;
}

static char *arena_strndup(ll_xml_doc_t *d, const char *s, size_t len) {
  char *p = arena_alloc(d, len + 1, 1);
  memcpy(p, s, len);
  p[len] = '\0';
  return p;
}

/* ---- parsing ------------------------------------------------------------------------------- */

/* Between a namespace URI and the local name in the names expat reports. A character XML 1.0
 * does not allow at all (not even as a reference): expat (>= 2.4.5) refuses a URI holding the
 * separator, with a puzzling "syntax error", so it must be one no URI can hold. */
#define NS_SEP '\x01'

static const char empty[] = "";

typedef struct parse {
  XML_Parser p;
  ll_xml_doc_t *doc;
  ll_xml_node_t *cur; /* the innermost open element; NULL before the root and after it */
  unsigned depth;     /* elements open */
  size_t nodes;
  /* The open elements' own text, stacked: element at depth i (1-based) owns
   * text.data[start[i-1]..), up to where its first still-open child begins. A child's text is
   * cut off again when it closes, so its parent's pieces stay contiguous. */
  ll_buf_t text;
  size_t start[LL_XML_MAX_DEPTH];
  bool failed; /* a handler stopped the parser; err says why */
  char err[256];
} parse_t;

static void where(parse_t *st, char *out, size_t sz) {
  snprintf(out, sz, "line %lu, column %lu", (unsigned long)XML_GetCurrentLineNumber(st->p),
           (unsigned long)XML_GetCurrentColumnNumber(st->p) + 1);
}

/* Stops the parser from inside a handler. Expat may still call a handler or two for the
 * current token, so every handler returns at once once failed is set. */
__attribute__((format(printf, 2, 3))) static void fail(parse_t *st, const char *fmt, ...) {
  char what[160], at[64];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  where(st, at, sizeof at);
  snprintf(st->err, sizeof st->err, "%s at %s", what, at);
  st->failed = true;
  XML_StopParser(st->p, XML_FALSE);
}

static void on_start(void *ud, const XML_Char *qname, const XML_Char **atts) {
  parse_t *st = ud;
  if (st->failed) return;
  if (st->depth == LL_XML_MAX_DEPTH) {
    fail(st, "elements nested deeper than %d", LL_XML_MAX_DEPTH);
    return;
  }
  if (st->nodes == LL_XML_MAX_NODES) {
    fail(st, "more than %d elements", LL_XML_MAX_NODES);
    return;
  }
  const char *local = strrchr(qname, NS_SEP);
  local = local ? local + 1 : qname;
  ll_xml_node_t *n = arena_alloc(st->doc, sizeof *n, alignof(ll_xml_node_t));
  *n = (ll_xml_node_t){.name = arena_strndup(st->doc, local, strlen(local)),
                       .text = empty,
                       .trimmed = empty,
                       .parent = st->cur};
  if (st->cur) {
    if (st->cur->last_child) st->cur->last_child->next = n;
    else st->cur->first_child = n;
    st->cur->last_child = n;
  } else {
    st->doc->root = n; /* expat refuses a second top-level element before we see it */
  }
  st->cur = n;
  st->start[st->depth++] = st->text.len;
  st->nodes++;
}

static bool xml_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static void on_end(void *ud, const XML_Char *qname) {
  parse_t *st = ud;
  if (st->failed) return;
  ll_xml_node_t *n = st->cur;
  size_t start = st->start[--st->depth];
  size_t len = st->text.len - start;
  if (len) {
    const char *t = st->text.data + start; /* data is NULL until some text came */
    n->text = arena_strndup(st->doc, t, len);
    n->text_len = len;
    size_t a = 0, z = len;
    while (a < z && xml_space(t[a])) a++;
    while (z > a && xml_space(t[z - 1])) z--;
    if (a == 0 && z == len) n->trimmed = n->text;
    else if (a < z) n->trimmed = arena_strndup(st->doc, t + a, z - a);
    n->trimmed_len = z - a;
    st->text.len = start; /* pop: the parent's text goes on where it left off */
  } else {
    n->trimmed_len = 0;
  }
  st->cur = n->parent;
}

static void on_text(void *ud, const XML_Char *s, int len) {
  parse_t *st = ud;
  if (st->failed || !st->cur) return;
  size_t have = st->text.len - st->start[st->depth - 1];
  if ((size_t)len > LL_XML_MAX_TEXT - have) {
    fail(st, "text of <%.64s> longer than %u bytes", st->cur->name, LL_XML_MAX_TEXT);
    return;
  }
  ll_buf_append(&st->text, s, (size_t)len);
}

static void on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                       const XML_Char *pubid, int has_internal_subset) {
  parse_t *st = ud;
  if (st->failed) return;
  fail(st, "DOCTYPE declarations are not allowed");
}

static void set_err(char *errbuf, size_t errsz, const char *msg) {
  if (errsz) snprintf(errbuf, errsz, "%s", msg);
}

ll_xml_doc_t *ll_xml_parse(const char *body, size_t len, char *errbuf, size_t errsz) {
  if (len == 0) {
    set_err(errbuf, errsz, "empty body");
    return NULL;
  }
  parse_t st = {.text = LL_BUF_INIT};
  st.doc = ll_calloc(1, sizeof *st.doc);
  st.p = XML_ParserCreateNS(NULL, NS_SEP);
  ll_assert(st.p != NULL); /* fails only when out of memory */
  XML_SetUserData(st.p, &st);
  XML_SetElementHandler(st.p, on_start, on_end);
  XML_SetCharacterDataHandler(st.p, on_text);
  /* Entities can only be declared inside a DOCTYPE, so refusing it refuses them all. */
  XML_SetStartDoctypeDeclHandler(st.p, on_doctype);

  bool ok = true;
  size_t off = 0;
  do { /* XML_Parse takes an int length */
    size_t n = len - off < INT_MAX / 2 ? len - off : INT_MAX / 2;
    off += n;
    if (XML_Parse(st.p, body + off - n, (int)n, off == len) != XML_STATUS_OK) {
      ok = false;
      break;
    }
  } while (off < len);

  if (!ok) {
    if (!st.failed) {
      char at[64];
      where(&st, at, sizeof at);
      snprintf(st.err, sizeof st.err, "%s at %s", XML_ErrorString(XML_GetErrorCode(st.p)), at);
    }
    set_err(errbuf, errsz, st.err);
    ll_xml_free(st.doc);
    st.doc = NULL;
  } else {
    ll_assert(st.doc->root != NULL && st.depth == 0); /* expat demands one closed root */
  }
  XML_ParserFree(st.p);
  ll_buf_free(&st.text);
  return st.doc;
}

const ll_xml_node_t *ll_xml_root(const ll_xml_doc_t *doc) { return doc->root; }

void ll_xml_free(ll_xml_doc_t *doc) {
  if (!doc) return;
  for (block_t *b = doc->blocks, *next; b; b = next) {
    next = b->next;
    free(b);
  }
  free(doc);
}

/* ---- lookups ------------------------------------------------------------------------------- */

const ll_xml_node_t *ll_xml_child(const ll_xml_node_t *n, const char *name) {
  if (!n) return NULL;
  for (const ll_xml_node_t *c = n->first_child; c; c = c->next)
    if (strcmp(c->name, name) == 0) return c;
  return NULL;
}

const ll_xml_node_t *ll_xml_next(const ll_xml_node_t *n) {
  if (!n) return NULL;
  for (const ll_xml_node_t *c = n->next; c; c = c->next)
    if (strcmp(c->name, n->name) == 0) return c;
  return NULL;
}

const char *ll_xml_child_text(const ll_xml_node_t *n, const char *name) {
  const ll_xml_node_t *c = ll_xml_child(n, name);
  return c ? c->text : NULL;
}

const char *ll_xml_child_trimmed(const ll_xml_node_t *n, const char *name) {
  const ll_xml_node_t *c = ll_xml_child(n, name);
  return c ? c->trimmed : NULL;
}

/* ---- writing ------------------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence of 2 to 4 bytes at s[0..len) (s[0] >= 0x80), or 0 when
 * it is not one (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t len) {
  unsigned c = s[0];
  size_t n;
  unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
  if (c >= 0xC2 && c <= 0xDF) n = 2;
  else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else
    return 0;
  if (len < n || s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < n; i++)
    if ((s[i] & 0xC0) != 0x80) return 0;
  return n;
}

void ll_xml_put_text(ll_buf_t *b, const char *s, size_t len) {
  static const char hex[] = "0123456789ABCDEF";
  const unsigned char *u = (const unsigned char *)s;
  ll_buf_reserve(b, len);
  size_t run = 0; /* u[run..i) are to be copied as they are */
  for (size_t i = 0; i < len;) {
    unsigned c = u[i];
    const char *rep = NULL;
    char ref[8];
    size_t adv = 1;
    if (c < 0x80) {
      switch (c) {
      case '&': rep = "&amp;"; break;
      case '<': rep = "&lt;"; break;
      case '>': rep = "&gt;"; break;
      case '"': rep = "&quot;"; break;
      case '\'': rep = "&apos;"; break;
      case '\t':
      case '\n': break;
      default:
        if (c < 0x20) { /* CR included */
          memcpy(ref, "&#x", 3);
          ref[3] = hex[c >> 4];
          ref[4] = hex[c & 15];
          ref[5] = ';';
          ref[6] = '\0';
          rep = ref;
        }
      }
    } else if ((adv = utf8_seq(u + i, len - i)) == 0) {
      rep = "\xEF\xBF\xBD"; /* U+FFFD for the one bad byte */
      adv = 1;
    } else if (adv == 3 && c == 0xEF && u[i + 1] == 0xBF && u[i + 2] >= 0xBE) {
      rep = u[i + 2] == 0xBE ? "&#xFFFE;" : "&#xFFFF;";
    }
    if (rep) {
      ll_buf_append(b, s + run, i - run);
      ll_buf_puts(b, rep);
      run = i + adv;
    }
    i += adv;
  }
  ll_buf_append(b, s + run, len - run);
}

void ll_xml_put_elem(ll_buf_t *b, const char *name, const char *text) {
  ll_buf_cat(b, "<", name, ">", NULL);
  ll_xml_put_text(b, text, strlen(text));
  ll_buf_cat(b, "</", name, ">", NULL);
}

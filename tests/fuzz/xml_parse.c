/* libFuzzer target: S3's XML (src/api/xml.c), both halves.
 *  - Parse the input; when it is accepted, walk the whole tree checking its invariants (links,
 *    text_len == strlen, trimmed text, the depth, element and text limits, the lookups), then
 *    write the tree back out with ll_xml_put_text and parse that: it must give the same tree.
 *  - Escape the input as text inside <k>…</k> and parse that: it must be well-formed whenever
 *    the input holds no character XML 1.0 forbids, and give the input back exactly when the
 *    input is also valid UTF-8; and whatever the input, what was written must be valid UTF-8
 *    holding no forbidden character (those are written as references). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/xml.h"
#include "core/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static void check_node(const ll_xml_node_t *n, int depth, size_t *count) {
  if (depth > LL_XML_MAX_DEPTH || ++*count > LL_XML_MAX_NODES) abort();
  if (!n->name || !n->name[0] || strchr(n->name, ':')) abort(); /* a local name */
  if (!n->text || strlen(n->text) != n->text_len || n->text_len > LL_XML_MAX_TEXT) abort();
  /* trimmed: text without its leading and trailing XML whitespace */
  size_t a = 0, z = n->text_len;
  while (a < z && ws(n->text[a])) a++;
  while (z > a && ws(n->text[z - 1])) z--;
  if (!n->trimmed || strlen(n->trimmed) != n->trimmed_len || n->trimmed_len != z - a ||
      memcmp(n->trimmed, n->text + a, z - a) != 0)
    abort();
  if ((n->first_child == NULL) != (n->last_child == NULL)) abort();
  const ll_xml_node_t *last = NULL;
  for (const ll_xml_node_t *c = n->first_child; c; c = c->next) {
    if (c->parent != n) abort();
    /* the lookups find the first of a name, then each later one in turn */
    const ll_xml_node_t *first = ll_xml_child(n, c->name);
    if (!first || strcmp(first->name, c->name) != 0) abort();
    const ll_xml_node_t *f = n->first_child;
    while (strcmp(f->name, c->name) != 0) f = f->next;
    if (f != first) abort();
    const ll_xml_node_t *nx = ll_xml_next(c), *g = c->next;
    while (g && strcmp(g->name, c->name) != 0) g = g->next;
    if (nx != g) abort();
    if (ll_xml_child_text(n, c->name) != first->text) abort();
    if (ll_xml_child_trimmed(n, c->name) != first->trimmed) abort();
    check_node(c, depth + 1, count);
    last = c;
  }
  if (n->last_child != last) abort();
}

/* The element back as XML: its own text first, then its children (so its text, which is the
 * concatenation of its pieces, reads back the same). */
static void write_node(ll_buf_t *b, const ll_xml_node_t *n) {
  ll_buf_cat(b, "<", n->name, ">", NULL);
  ll_xml_put_text(b, n->text, n->text_len);
  for (const ll_xml_node_t *c = n->first_child; c; c = c->next) write_node(b, c);
  ll_buf_cat(b, "</", n->name, ">", NULL);
}

static void same_tree(const ll_xml_node_t *x, const ll_xml_node_t *y) {
  if (strcmp(x->name, y->name) != 0 || x->text_len != y->text_len ||
      memcmp(x->text, y->text, x->text_len) != 0)
    abort();
  const ll_xml_node_t *a = x->first_child, *b = y->first_child;
  for (; a && b; a = a->next, b = b->next) same_tree(a, b);
  if (a || b) abort();
}

/* Written independently of xml.c: decodes s[0..len) as UTF-8. *valid: it all is (no overlong
 * form, surrogate or code point past U+10FFFF); *allowed: no code point XML 1.0 forbids (C0
 * controls other than tab, LF, CR; U+FFFE; U+FFFF) among the bytes or the decoded ones. */
static void classify(const uint8_t *s, size_t len, bool *valid, bool *allowed) {
  *valid = *allowed = true;
  for (size_t i = 0; i < len;) {
    uint32_t c = s[i];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > len) {
      *valid = false;
      i++;
      continue;
    }
    if (n > 1) c &= 0x3F >> (n - 1);
    bool ok = true;
    for (size_t k = 1; k < n; k++) {
      if ((s[i + k] & 0xC0) != 0x80) ok = false;
      c = c << 6 | (s[i + k] & 0x3F);
    }
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (!ok || c < min[n] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
      *valid = false;
      i++;
      continue;
    }
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0xFFFE || c == 0xFFFF)
      *allowed = false;
    i += n;
  }
}

static void escape_round_trip(const uint8_t *data, size_t size) {
  bool valid, allowed;
  classify(data, size, &valid, &allowed);
  ll_buf_t b = LL_BUF_INIT;
  ll_buf_puts(&b, "<k>");
  ll_xml_put_text(&b, (const char *)data, size);
  ll_buf_puts(&b, "</k>");
  /* whatever the input, the output is UTF-8 with every forbidden character a reference */
  bool out_valid, out_allowed;
  classify((const uint8_t *)b.data, b.len, &out_valid, &out_allowed);
  if (!out_valid || !out_allowed) abort();
  ll_xml_doc_t *doc = ll_xml_parse(b.data, b.len, NULL, 0);
  if (allowed && !doc) abort(); /* the escaped text was not well-formed */
  if (doc && valid) {
    const ll_xml_node_t *k = ll_xml_root(doc);
    if (k->text_len != size || memcmp(k->text, data, size) != 0) abort();
  }
  ll_xml_free(doc);
  ll_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[256];
  ll_xml_doc_t *doc = ll_xml_parse((const char *)data, size, err, sizeof err);
  if (!doc) {
    if (!memchr(err, '\0', sizeof err) || !err[0]) abort();
  } else {
    const ll_xml_node_t *root = ll_xml_root(doc);
    if (!root || root->parent || root->next) abort();
    size_t count = 0;
    check_node(root, 1, &count);
    ll_buf_t b = LL_BUF_INIT;
    write_node(&b, root);
    ll_xml_doc_t *again = ll_xml_parse(b.data, b.len, err, sizeof err);
    if (!again) abort(); /* what was written back is not XML, or not within the limits */
    same_tree(root, ll_xml_root(again));
    ll_xml_free(again);
    ll_buf_free(&b);
    ll_xml_free(doc);
  }
  if (size <= LL_XML_MAX_TEXT) escape_round_trip(data, size);
  return 0;
}

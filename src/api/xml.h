/* The XML the S3 API needs: small request bodies (CreateBucketConfiguration, DeleteObjects'
 * <Delete>, CompleteMultipartUpload, NotificationConfiguration, Tagging) parsed with libexpat
 * into a tiny read-only tree, and escaped XML text written into an ll_buf_t.
 *
 * The tree keeps elements and their character data only: attributes, comments and processing
 * instructions are dropped, and names are reduced to their local part (S3 bodies carry
 * xmlns="http://s3.amazonaws.com/doc/2006-03-01/", some clients a prefix; S3 does not care which
 * namespace, so neither does this). DOCTYPE declarations are refused outright — so no entity is
 * ever defined (no billion laughs, no external entities), as S3 does. */
#ifndef LL_API_XML_H
#define LL_API_XML_H

#include <stddef.h>

#include "core/buf.h"

#define LL_XML_MAX_DEPTH 32        /* the root is at depth 1 */
#define LL_XML_MAX_NODES 20000     /* elements in one document */
#define LL_XML_MAX_TEXT (1u << 20) /* bytes of one element's own text (after decoding) */

typedef struct ll_xml_node {
  const char *name; /* local name: "Delete", "Object", "Key" (namespace prefix/URI removed) */
  /* The element's own character data (not its children's), every piece concatenated in order,
   * entities and character references decoded, CDATA included, not trimmed: a Key is exactly
   * what the client sent. Never NULL ("" when there is none); UTF-8 (expat converts other
   * declared encodings); never contains a NUL (expat refuses both a raw NUL and &#0;), so
   * text_len == strlen(text). Line ends are normalized by XML itself: a literal CR LF arrives
   * as LF, while &#13; gives a CR. */
  const char *text;
  size_t text_len;
  /* text without leading and trailing XML whitespace (space, tab, CR, LF), for numbers and
   * enums (<PartNumber> 1 </PartNumber>, <Quiet>true</Quiet>). Never NULL; NUL-terminated; the
   * same pointer as text when there is nothing to trim. */
  const char *trimmed;
  size_t trimmed_len;
  struct ll_xml_node *parent; /* NULL for the root */
  struct ll_xml_node *first_child, *last_child, *next; /* child elements in document order */
} ll_xml_node_t;

/* A parsed document: owns every node and string (one arena, freed by ll_xml_free). */
typedef struct ll_xml_doc ll_xml_doc_t;

/* Parses body[0..len) (no NUL terminator needed; body may be NULL when len is 0). Returns the
 * document, or NULL with a NUL-terminated message in errbuf[0..errsz) (truncated to fit; errbuf
 * may be NULL when errsz is 0) saying what was wrong and where, e.g. "mismatched tag at line 3,
 * column 9" (expat's words; the column counts bytes from 1), "DOCTYPE declarations are not
 * allowed at line 1, column 1", "elements nested deeper than 32 at ...", "more than 20000
 * elements at ...", "text of <Key> longer than 1048576 bytes at ...", "empty body". A body
 * that is only whitespace is malformed ("no element found"). */
ll_xml_doc_t *ll_xml_parse(const char *body, size_t len, char *errbuf, size_t errsz);
/* The document element; never NULL for a parsed document. */
const ll_xml_node_t *ll_xml_root(const ll_xml_doc_t *doc);
/* Frees the document and everything in it; NULL is allowed (does nothing). */
void ll_xml_free(ll_xml_doc_t *doc);

/* The first child element of n named name, or NULL (also when n is NULL, so lookups chain:
 * ll_xml_child(ll_xml_child(cfg, "Filter"), "S3Key")). */
const ll_xml_node_t *ll_xml_child(const ll_xml_node_t *n, const char *name);
/* The next sibling of n with n's name, or NULL (n NULL: NULL). Loops read
 *   for (const ll_xml_node_t *o = ll_xml_child(root, "Object"); o; o = ll_xml_next(o)) */
const ll_xml_node_t *ll_xml_next(const ll_xml_node_t *n);
/* The text (raw, as ll_xml_node_t.text) of the first child named name, or NULL when there is no
 * such child (or n is NULL). "" for <Name/>. Use it for values kept exactly: Key, Value, ETag. */
const char *ll_xml_child_text(const ll_xml_node_t *n, const char *name);
/* The same, trimmed of XML whitespace (ll_xml_node_t.trimmed): numbers and enums. */
const char *ll_xml_child_trimmed(const ll_xml_node_t *n, const char *name);

/* Appends s[0..len) as XML character data, fit for element content and quoted attribute
 * values: & < > " ' as entities; characters XML 1.0 does not allow (controls other than tab and
 * LF, U+FFFE, U+FFFF) as character references "&#xHH;" — as S3 writes keys (such a document is
 * then not well-formed to strict parsers; S3 clients ask for encoding-type=url when it
 * matters); CR as "&#x0D;" so it survives the reader's line-end normalization; other UTF-8,
 * tab and LF as they are. A byte that is not part of valid UTF-8 (stray continuation, overlong
 * form, surrogate, past U+10FFFF, truncated) is written as U+FFFD so the output stays
 * well-formed. */
void ll_xml_put_text(ll_buf_t *b, const char *s, size_t len);
/* Appends <name>text escaped as above</name>; name is written as is (a literal tag name). */
void ll_xml_put_elem(ll_buf_t *b, const char *name, const char *text);

#endif

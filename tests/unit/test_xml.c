#include <stdlib.h>
#include <string.h>

#include "api/xml.h"
#include "core/buf.h"
#include "core/mem.h"
#include "test.h"

#define S3_NS "http://s3.amazonaws.com/doc/2006-03-01/"

/* Parses a string that must be well-formed; the copy has no NUL after it, so reading past len
 * shows up under ASan. */
static ll_xml_doc_t *parse_ok(const char *s, size_t len) {
  char *copy = ll_malloc(len);
  memcpy(copy, s, len);
  char err[256] = "";
  ll_xml_doc_t *doc = ll_xml_parse(copy, len, err, sizeof err);
  free(copy);
  if (!doc) fprintf(stderr, "parse failed: %s\n", err);
  CHECK(doc != NULL);
  CHECK(ll_xml_root(doc) != NULL);
  return doc;
}
#define PARSE_OK(lit) parse_ok(lit, sizeof(lit) - 1)

/* Parses what must be refused; returns the message (static). */
static const char *parse_err(const char *s, size_t len) {
  static char err[256];
  memset(err, 'x', sizeof err);
  ll_xml_doc_t *doc = ll_xml_parse(s, len, err, sizeof err);
  CHECK(doc == NULL);
  CHECK(memchr(err, '\0', sizeof err) != NULL);
  return err;
}
#define PARSE_ERR(lit) parse_err(lit, sizeof(lit) - 1)

static void check_contains(const char *hay, const char *needle) {
  if (!strstr(hay, needle)) {
    fprintf(stderr, "\"%s\" does not contain \"%s\"\n", hay, needle);
    CHECK(0);
  }
}

static char *repeat(const char *s, size_t n) {
  size_t l = strlen(s);
  char *p = ll_malloc(l * n + 1);
  for (size_t i = 0; i < n; i++) memcpy(p + i * l, s, l);
  p[l * n] = '\0';
  return p;
}

/* ---- real S3 bodies -------------------------------------------------------------------------- */

LL_TEST(xml_parses_delete_objects) {
  ll_xml_doc_t *doc = PARSE_OK("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                               "<Delete xmlns=\"" S3_NS "\">\n"
                               "  <Object><Key>a&amp;b &lt;c&gt;.txt</Key></Object>\n"
                               "  <Object><Key>日本語/é ü.txt</Key>"
                               "<VersionId>null</VersionId></Object>\n"
                               "  <Object><Key>  two spaces\tand tab  </Key></Object>\n"
                               "  <Object><Key>\n</Key></Object>\n"
                               "  <Quiet>true</Quiet>\n"
                               "</Delete>\n");
  const ll_xml_node_t *root = ll_xml_root(doc);
  CHECK_STREQ(root->name, "Delete");
  CHECK(root->parent == NULL && root->next == NULL);
  const char *want[] = {"a&b <c>.txt", "日本語/é ü.txt", "  two spaces\tand tab  ", "\n"};
  size_t n = 0;
  for (const ll_xml_node_t *o = ll_xml_child(root, "Object"); o; o = ll_xml_next(o)) {
    CHECK(n < 4);
    CHECK(o->parent == root);
    const char *key = ll_xml_child_text(o, "Key");
    CHECK_STREQ(key, want[n]);
    CHECK_INTEQ(ll_xml_child(o, "Key")->text_len, strlen(want[n]));
    n++;
  }
  CHECK_INTEQ(n, 4);
  CHECK_STREQ(ll_xml_child_text(ll_xml_next(ll_xml_child(root, "Object")), "VersionId"), "null");
  CHECK(ll_xml_child_text(ll_xml_child(root, "Object"), "VersionId") == NULL);
  CHECK_STREQ(ll_xml_child_text(root, "Quiet"), "true");
  CHECK_STREQ(root->last_child->name, "Quiet");
  /* the root's own text is the indentation between its children */
  CHECK_STREQ(root->text, "\n  \n  \n  \n  \n  \n");
  CHECK_STREQ(root->trimmed, "");
  ll_xml_free(doc);
}

LL_TEST(xml_parses_complete_multipart_upload) {
  ll_xml_doc_t *doc = PARSE_OK(
      "<CompleteMultipartUpload xmlns=\"" S3_NS "\">"
      "<Part><ETag>\"a54357aff0632cce46d942af68356b38\"</ETag><PartNumber>1</PartNumber></Part>"
      "<Part><ETag>&quot;0c78aef83f66abc1fa1e8477f296d394&quot;</ETag>"
      "<PartNumber>\n  2\n</PartNumber></Part>"
      "<Part><ETag>&#34;acbd18db4cc2f85cedef654fccc4a4d8&#x22;</ETag><PartNumber>3</PartNumber>"
      "<ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>"
      "</CompleteMultipartUpload>");
  const ll_xml_node_t *root = ll_xml_root(doc);
  CHECK_STREQ(root->name, "CompleteMultipartUpload");
  const ll_xml_node_t *p = ll_xml_child(root, "Part");
  CHECK_STREQ(ll_xml_child_text(p, "ETag"), "\"a54357aff0632cce46d942af68356b38\"");
  CHECK_STREQ(ll_xml_child_trimmed(p, "PartNumber"), "1");
  /* nothing to trim: the same string */
  CHECK(ll_xml_child(p, "PartNumber")->trimmed == ll_xml_child(p, "PartNumber")->text);
  p = ll_xml_next(p);
  CHECK_STREQ(ll_xml_child_text(p, "ETag"), "\"0c78aef83f66abc1fa1e8477f296d394\"");
  CHECK_STREQ(ll_xml_child_text(p, "PartNumber"), "\n  2\n");
  CHECK_STREQ(ll_xml_child_trimmed(p, "PartNumber"), "2");
  CHECK_INTEQ(ll_xml_child(p, "PartNumber")->trimmed_len, 1);
  p = ll_xml_next(p);
  CHECK_STREQ(ll_xml_child_text(p, "ETag"), "\"acbd18db4cc2f85cedef654fccc4a4d8\"");
  CHECK_STREQ(ll_xml_child_text(p, "ChecksumCRC32"), "AAAAAA==");
  CHECK(ll_xml_next(p) == NULL);
  ll_xml_free(doc);
}

LL_TEST(xml_parses_notification_configuration) {
  ll_xml_doc_t *doc = PARSE_OK(
      "<NotificationConfiguration xmlns=\"" S3_NS "\">\n"
      " <LambdaFunctionConfiguration>\n"
      "  <Id>thumbs</Id>\n"
      "  <Function>arn:aws:lambda:us-east-1:000000000000:function:resize</Function>\n"
      "  <Event>s3:ObjectCreated:*</Event>\n"
      "  <Event>s3:ObjectRemoved:Delete</Event>\n"
      "  <Filter><S3Key>\n"
      "   <FilterRule><Name>prefix</Name><Value>images/</Value></FilterRule>\n"
      "   <FilterRule><Name>suffix</Name><Value>.jpg</Value></FilterRule>\n"
      "  </S3Key></Filter>\n"
      " </LambdaFunctionConfiguration>\n"
      " <CloudFunctionConfiguration>"
      "<CloudFunction>arn:aws:lambda:us-east-1:000000000000:function:log</CloudFunction>"
      "<Event>s3:ObjectCreated:Put</Event></CloudFunctionConfiguration>\n"
      "</NotificationConfiguration>");
  const ll_xml_node_t *root = ll_xml_root(doc);
  CHECK_STREQ(root->name, "NotificationConfiguration");
  const ll_xml_node_t *c = root->first_child;
  CHECK_STREQ(c->name, "LambdaFunctionConfiguration");
  CHECK_STREQ(ll_xml_child_text(c, "Id"), "thumbs");
  CHECK_STREQ(ll_xml_child_text(c, "Function"),
              "arn:aws:lambda:us-east-1:000000000000:function:resize");
  const ll_xml_node_t *e = ll_xml_child(c, "Event");
  CHECK_STREQ(e->text, "s3:ObjectCreated:*");
  e = ll_xml_next(e); /* skips the text-free gap, finds the second Event */
  CHECK_STREQ(e->text, "s3:ObjectRemoved:Delete");
  CHECK(ll_xml_next(e) == NULL);
  const ll_xml_node_t *key = ll_xml_child(ll_xml_child(c, "Filter"), "S3Key");
  const ll_xml_node_t *r = ll_xml_child(key, "FilterRule");
  CHECK_STREQ(ll_xml_child_text(r, "Name"), "prefix");
  CHECK_STREQ(ll_xml_child_text(r, "Value"), "images/");
  r = ll_xml_next(r);
  CHECK_STREQ(ll_xml_child_text(r, "Name"), "suffix");
  CHECK_STREQ(ll_xml_child_text(r, "Value"), ".jpg");
  CHECK(ll_xml_next(r) == NULL);
  c = c->next;
  CHECK_STREQ(c->name, "CloudFunctionConfiguration");
  CHECK_STREQ(ll_xml_child_text(c, "CloudFunction"),
              "arn:aws:lambda:us-east-1:000000000000:function:log");
  CHECK(ll_xml_child(ll_xml_child(c, "Filter"), "S3Key") == NULL); /* chains through NULL */
  CHECK(ll_xml_child(NULL, "x") == NULL && ll_xml_next(NULL) == NULL);
  CHECK(ll_xml_child_text(NULL, "x") == NULL && ll_xml_child_trimmed(NULL, "x") == NULL);
  CHECK(c->next == NULL && root->last_child == c);
  ll_xml_free(doc);
}

LL_TEST(xml_parses_tagging_and_create_bucket) {
  ll_xml_doc_t *doc = PARSE_OK("<Tagging><TagSet>"
                               "<Tag><Key>env</Key><Value>prod &amp; test</Value></Tag>"
                               "<Tag><Key>owner</Key><Value/></Tag>"
                               "</TagSet></Tagging>");
  const ll_xml_node_t *t = ll_xml_child(ll_xml_child(ll_xml_root(doc), "TagSet"), "Tag");
  CHECK_STREQ(ll_xml_child_text(t, "Value"), "prod & test");
  t = ll_xml_next(t);
  CHECK_STREQ(ll_xml_child_text(t, "Key"), "owner");
  CHECK_STREQ(ll_xml_child_text(t, "Value"), ""); /* present but empty: "" not NULL */
  CHECK_INTEQ(ll_xml_child(t, "Value")->text_len, 0);
  CHECK(ll_xml_child(t, "Value")->first_child == NULL);
  ll_xml_free(doc);

  doc = PARSE_OK("<CreateBucketConfiguration xmlns=\"" S3_NS "\">"
                 "<LocationConstraint>eu-west-1</LocationConstraint>"
                 "</CreateBucketConfiguration>");
  CHECK_STREQ(ll_xml_child_text(ll_xml_root(doc), "LocationConstraint"), "eu-west-1");
  ll_xml_free(doc);
}

/* ---- XML itself ------------------------------------------------------------------------------ */

LL_TEST(xml_reduces_names_to_local_names) {
  ll_xml_doc_t *doc = PARSE_OK("<s3:Delete xmlns:s3=\"" S3_NS "\" xmlns:o=\"urn:other\">"
                               "<s3:Object><o:Key>k</o:Key></s3:Object>"
                               "<Plain xmlns=\"\">p</Plain><Def xmlns=\"urn:d\">d</Def>"
                               "</s3:Delete>");
  const ll_xml_node_t *root = ll_xml_root(doc);
  CHECK_STREQ(root->name, "Delete");
  CHECK_STREQ(ll_xml_child_text(ll_xml_child(root, "Object"), "Key"), "k");
  CHECK_STREQ(ll_xml_child_text(root, "Plain"), "p");
  CHECK_STREQ(ll_xml_child_text(root, "Def"), "d");
  ll_xml_free(doc);
  /* any character a URI may hold (here LF, tab, CR) is no trouble to the name separator */
  doc = PARSE_OK("<a:R xmlns:a=\"urn:x&#10;y&#9;z&#13;|:\"/>");
  CHECK_STREQ(ll_xml_root(doc)->name, "R");
  ll_xml_free(doc);
  check_contains(PARSE_ERR("<s3:Delete/>"), "unbound prefix");
}

LL_TEST(xml_decodes_entities_cdata_and_references) {
  ll_xml_doc_t *doc = PARSE_OK("<r>"
                               "<e>&lt;&gt;&amp;&quot;&apos;</e>"
                               "<n>&#65;&#x42;&#233;&#x1F600;</n>"
                               "<c><![CDATA[<b>&amp;</b> ]]]]><![CDATA[>]]></c>"
                               "<m>p<!-- comment -->q<?pi data?>r</m>"
                               "<w>x\r\ny\rz&#13;&#10;</w>"
                               "<a attr=\"ignored\" other='x'>v</a>"
                               "</r>");
  const ll_xml_node_t *r = ll_xml_root(doc);
  CHECK_STREQ(ll_xml_child_text(r, "e"), "<>&\"'");
  CHECK_STREQ(ll_xml_child_text(r, "n"), "ABé😀");
  CHECK_STREQ(ll_xml_child_text(r, "c"), "<b>&amp;</b> ]]>");
  CHECK_STREQ(ll_xml_child_text(r, "m"), "pqr");
  /* XML's line-end normalization: literal CR LF and CR become LF, a reference stays a CR */
  CHECK_STREQ(ll_xml_child_text(r, "w"), "x\ny\nz\r\n");
  CHECK_STREQ(ll_xml_child_text(r, "a"), "v");
  CHECK_STREQ(r->text, "");
  ll_xml_free(doc);
}

LL_TEST(xml_keeps_own_text_apart_from_childrens) {
  ll_xml_doc_t *doc = PARSE_OK("<a>x<b>y<c>z</c>Y</b>X</a>");
  const ll_xml_node_t *a = ll_xml_root(doc), *b = a->first_child, *c = b->first_child;
  CHECK_STREQ(a->text, "xX");
  CHECK_INTEQ(a->text_len, 2);
  CHECK_STREQ(b->text, "yY");
  CHECK_STREQ(c->text, "z");
  CHECK(c->parent == b && b->parent == a && a->last_child == b && b->last_child == c);
  ll_xml_free(doc);
}

LL_TEST(xml_trims_only_xml_whitespace) {
  ll_xml_doc_t *doc = PARSE_OK("<r><k> \t\n&#13;\u00a0v w\u00a0\n</k><e>  </e><f/></r>");
  const ll_xml_node_t *r = ll_xml_root(doc);
  CHECK_STREQ(ll_xml_child_text(r, "k"), " \t\n\r\u00a0v w\u00a0\n");
  CHECK_STREQ(ll_xml_child_trimmed(r, "k"), "\u00a0v w\u00a0"); /* NBSP is not XML whitespace */
  CHECK_STREQ(ll_xml_child_trimmed(r, "e"), "");
  CHECK_INTEQ(ll_xml_child(r, "e")->trimmed_len, 0);
  CHECK_INTEQ(ll_xml_child(r, "e")->text_len, 2);
  CHECK_STREQ(ll_xml_child_trimmed(r, "f"), "");
  CHECK(ll_xml_child_trimmed(r, "g") == NULL);
  ll_xml_free(doc);
}

LL_TEST(xml_reads_declared_encodings_and_bom) {
  ll_xml_doc_t *doc = PARSE_OK("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><k>caf\xe9</k>");
  CHECK_STREQ(ll_xml_root(doc)->text, "café");
  ll_xml_free(doc);
  doc = PARSE_OK("\xEF\xBB\xBF<k>x</k>");
  CHECK_STREQ(ll_xml_root(doc)->text, "x");
  ll_xml_free(doc);
  /* UTF-16LE with its BOM, converted to UTF-8 */
  doc = PARSE_OK("\xFF\xFE<\0k\0>\0\xe9\0<\0/\0k\0>\0");
  CHECK_STREQ(ll_xml_root(doc)->text, "é");
  ll_xml_free(doc);
}

/* ---- limits ---------------------------------------------------------------------------------- */

static char *nested(int depth) {
  ll_buf_t b = LL_BUF_INIT;
  for (int i = 0; i < depth; i++) ll_buf_puts(&b, "<d>");
  ll_buf_puts(&b, "deep");
  for (int i = 0; i < depth; i++) ll_buf_puts(&b, "</d>");
  return ll_buf_steal(&b, NULL);
}

LL_TEST(xml_limits_depth) {
  char *s = nested(LL_XML_MAX_DEPTH);
  ll_xml_doc_t *doc = parse_ok(s, strlen(s));
  const ll_xml_node_t *n = ll_xml_root(doc);
  int depth = 1;
  while (n->first_child) n = n->first_child, depth++;
  CHECK_INTEQ(depth, LL_XML_MAX_DEPTH);
  CHECK_STREQ(n->text, "deep");
  ll_xml_free(doc);
  free(s);
  s = nested(LL_XML_MAX_DEPTH + 1);
  const char *err = parse_err(s, strlen(s));
  check_contains(err, "nested deeper than 32");
  check_contains(err, "line 1, column 97"); /* the 33rd <d> */
  free(s);
  s = nested(100000); /* far deeper: refused the same way, no recursion anywhere */
  check_contains(parse_err(s, strlen(s)), "nested deeper than 32");
  free(s);
}

LL_TEST(xml_limits_elements) {
  char *kids = repeat("<a/>", LL_XML_MAX_NODES - 1);
  char *s = ll_sprintf("<r>%s</r>", kids);
  ll_xml_doc_t *doc = parse_ok(s, strlen(s));
  size_t n = 0;
  for (const ll_xml_node_t *a = ll_xml_child(ll_xml_root(doc), "a"); a; a = ll_xml_next(a)) n++;
  CHECK_INTEQ(n, LL_XML_MAX_NODES - 1);
  ll_xml_free(doc);
  free(s);
  s = ll_sprintf("<r>%s<a/></r>", kids);
  check_contains(parse_err(s, strlen(s)), "more than 20000 elements");
  free(s);
  free(kids);
}

LL_TEST(xml_limits_text_per_element) {
  char *x = repeat("x", LL_XML_MAX_TEXT);
  char *s = ll_sprintf("<k>%s</k>", x);
  ll_xml_doc_t *doc = parse_ok(s, strlen(s));
  CHECK_INTEQ(ll_xml_root(doc)->text_len, LL_XML_MAX_TEXT);
  CHECK(strlen(ll_xml_root(doc)->text) == LL_XML_MAX_TEXT);
  ll_xml_free(doc);
  free(s);
  /* a child's text is its own: the parent may hold 1 MiB beside a child holding 1 MiB */
  s = ll_sprintf("<p>%.*s<k>%s</k>y</p>", (int)LL_XML_MAX_TEXT - 1, x, x);
  doc = parse_ok(s, strlen(s));
  CHECK_INTEQ(ll_xml_root(doc)->text_len, LL_XML_MAX_TEXT);
  CHECK(ll_xml_root(doc)->text[LL_XML_MAX_TEXT - 1] == 'y');
  CHECK_INTEQ(ll_xml_root(doc)->first_child->text_len, LL_XML_MAX_TEXT);
  ll_xml_free(doc);
  free(s);
  /* one byte more, in whichever piece: refused */
  s = ll_sprintf("<k>%sx</k>", x);
  check_contains(parse_err(s, strlen(s)), "text of <k> longer than 1048576 bytes");
  free(s);
  s = ll_sprintf("<p>%s<k/>y</p>", x);
  check_contains(parse_err(s, strlen(s)), "text of <p> longer than 1048576 bytes");
  free(s);
  /* counted after decoding: 1 MiB of &amp; is 1 MiB of text */
  char *amp = repeat("&amp;", LL_XML_MAX_TEXT);
  s = ll_sprintf("<k>%s</k>", amp);
  doc = parse_ok(s, strlen(s));
  CHECK_INTEQ(ll_xml_root(doc)->text_len, LL_XML_MAX_TEXT);
  CHECK(ll_xml_root(doc)->text[0] == '&');
  ll_xml_free(doc);
  free(s);
  s = ll_sprintf("<k>%s&amp;</k>", amp);
  check_contains(parse_err(s, strlen(s)), "longer than");
  free(s);
  free(amp);
  free(x);
}

/* ---- errors ---------------------------------------------------------------------------------- */

LL_TEST(xml_refuses_doctype_and_entities) {
  const char *err = PARSE_ERR("<!DOCTYPE Delete><Delete/>");
  check_contains(err, "DOCTYPE declarations are not allowed");
  check_contains(err, "line 1");
  check_contains(PARSE_ERR("<?xml version=\"1.0\"?>\n"
                           "<!DOCTYPE lolz [\n"
                           " <!ENTITY lol \"lol\">\n"
                           " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
                           " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
                           "]>\n<lolz>&lol2;</lolz>"),
                 "DOCTYPE declarations are not allowed at line 2");
  check_contains(PARSE_ERR("<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><r>&x;</r>"),
                 "DOCTYPE");
  check_contains(PARSE_ERR("<!DOCTYPE r SYSTEM \"http://example.com/r.dtd\"><r/>"), "DOCTYPE");
  /* without a DOCTYPE no entity but the five predefined ones exists */
  check_contains(PARSE_ERR("<r>&lol;</r>"), "undefined entity");
}

LL_TEST(xml_refuses_malformed_documents) {
  const char *err = PARSE_ERR("<Delete>\n  <Object><Key>k</Object>\n</Delete>");
  check_contains(err, "mismatched tag at line 2, column 19"); /* expat points at the name */
  check_contains(PARSE_ERR("<Delete><Object><Key>k</Key>"), "no element found");
  check_contains(PARSE_ERR("<Delete"), "unclosed token");
  check_contains(PARSE_ERR("<a/><b/>"), "junk after document element");
  check_contains(PARSE_ERR("just text"), "syntax error");
  check_contains(PARSE_ERR("  \n\t "), "no element found");
  check_contains(PARSE_ERR("<k>a & b</k>"), "not well-formed");
  check_contains(PARSE_ERR("<k>a\0b</k>"), "not well-formed"); /* a raw NUL */
  check_contains(PARSE_ERR("<k>&#0;</k>"), "reference to invalid character number");
  check_contains(PARSE_ERR("<k>&#x1;</k>"), "reference to invalid character number");
  check_contains(PARSE_ERR("<k>\xff</k>"), "not well-formed");
  check_contains(PARSE_ERR("<k>\xed\xa0\x80</k>"), "not well-formed"); /* a UTF-8 surrogate */
  check_contains(PARSE_ERR("<a x='1' x='2'/>"), "duplicate attribute");
}

LL_TEST(xml_refuses_empty_body_and_fits_errbuf) {
  CHECK_STREQ(parse_err("", 0), "empty body");
  char err[16];
  CHECK(ll_xml_parse(NULL, 0, err, sizeof err) == NULL);
  CHECK_STREQ(err, "empty body");
  CHECK(ll_xml_parse("<a>", 3, NULL, 0) == NULL); /* no room for a message is allowed */
  CHECK(ll_xml_parse("<a>", 3, err, sizeof err) == NULL);
  CHECK_INTEQ(strlen(err), sizeof err - 1); /* truncated, terminated */
  err[0] = 'x';
  CHECK(ll_xml_parse("<a>", 3, err, 1) == NULL);
  CHECK(err[0] == '\0');
  ll_xml_free(NULL);
}

/* ---- writing --------------------------------------------------------------------------------- */

static void check_escape(const char *in, size_t len, const char *want) {
  ll_buf_t b = LL_BUF_INIT;
  ll_buf_puts(&b, "[");
  ll_xml_put_text(&b, in, len);
  ll_buf_puts(&b, "]");
  char *w = ll_sprintf("[%s]", want);
  CHECK_STREQ(b.data, w);
  CHECK_INTEQ(b.len, strlen(w));
  free(w);
  ll_buf_free(&b);
}
#define ESC(lit, want) check_escape(lit, sizeof(lit) - 1, want)

LL_TEST(xml_escapes_text) {
  ESC("", "");
  ESC("plain/key.txt", "plain/key.txt");
  ESC("a&b<c>\"d'e", "a&amp;b&lt;c&gt;&quot;d&apos;e");
  ESC("&&", "&amp;&amp;");
  ESC("]]>", "]]&gt;");
  ESC("tab\tlf\ncr\r", "tab\tlf\ncr&#x0D;");
  ESC("\x01x\x1f\x7f", "&#x01;x&#x1F;\x7f");
  ESC("nul\0end", "nul&#x00;end");
  /* valid UTF-8 as it is, U+FFFD included; U+FFFE/U+FFFF are not XML characters */
  ESC("日本語/é ü 😀 \xef\xbf\xbd", "日本語/é ü 😀 \xef\xbf\xbd");
  ESC("\xef\xbf\xbe\xef\xbf\xbf", "&#xFFFE;&#xFFFF;");
  ESC("\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xf0\x90\x80\x80\xf4\x8f\xbf\xbf",
      "\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xf0\x90\x80\x80\xf4\x8f\xbf\xbf");
  /* not UTF-8: one U+FFFD per bad byte */
#define R "\xef\xbf\xbd"
  ESC("a\xff" "b", "a" R "b");
  ESC("\x80", R);
  ESC("\xc0\x80", R R);          /* overlong NUL */
  ESC("\xe0\x80\xaf", R R R);    /* overlong '/' */
  ESC("\xed\xa0\x80", R R R);    /* surrogate */
  ESC("\xf4\x90\x80\x80", R R R R); /* past U+10FFFF */
  ESC("\xf5\x80", R R);
  ESC("x\xe6\x97", "x" R R);     /* truncated at the end */
  ESC("\xe6\x97<", R R "&lt;");  /* truncated before ASCII */
#undef R
}

LL_TEST(xml_puts_elements) {
  ll_buf_t b = LL_BUF_INIT;
  ll_xml_put_elem(&b, "Key", "a&b/日本\x01.txt");
  ll_xml_put_elem(&b, "Empty", "");
  CHECK_STREQ(b.data, "<Key>a&amp;b/日本&#x01;.txt</Key><Empty></Empty>");
  ll_buf_free(&b);
}

LL_TEST(xml_escaped_text_parses_back_to_itself) {
  const char *keys[] = {"a&b <c> \"q\" 'a'", "  lead and trail  ", "line\nbreak\r\ncr\r",
                        "日本語/é ü.txt", "]]>&amp;", "\t"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    ll_buf_t b = LL_BUF_INIT;
    ll_buf_puts(&b, "<Key xmlns=\"" S3_NS "\">");
    ll_xml_put_text(&b, keys[i], strlen(keys[i]));
    ll_buf_puts(&b, "</Key>");
    ll_xml_doc_t *doc = parse_ok(b.data, b.len);
    CHECK_STREQ(ll_xml_root(doc)->text, keys[i]);
    ll_xml_free(doc);
    ll_buf_free(&b);
  }
}

/* DynamoDB's expression languages (see expr.h): a hand-written tokenizer and recursive-descent
 * parser into a small tree, and evaluators over items.
 *
 * Error precedence. DynamoDB parses the whole text first (a syntax error wins over everything),
 * then validates in stages; when one expression has several problems, the message is the one
 * of the earliest stage. The parser records "soft" errors with a rank (enum rank below) and
 * keeps going; the lowest rank, first seen, is reported. The order of the stages was learned
 * from DynamoDB's answers quoted in public test suites (dynalite's), e.g. a reserved word is
 * reported before an undefined #name, and an undefined #name before a wrong operand count.
 *
 * Memory. Every node is registered in the parser's node list, so a syntax error can longjmp
 * out of any depth and the list frees what was built; a parsed expression owns the list. */
#include "table/expr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/encoding.h"
#include "core/mem.h"
#include "table/value.h"

/* ---- reserved words ------------------------------------------------------------------------ */

/* DynamoDB's reserved words (developer guide, "Reserved words in DynamoDB"), sorted (C locale)
 * so ll_expr_reserved can binary-search them. */
static const char *const reserved_words[] = {
     "ABORT", "ABSOLUTE", "ACTION", "ADD", "AFTER", "AGENT", "AGGREGATE", "ALL", "ALLOCATE", "ALTER",
     "ANALYZE", "AND", "ANY", "ARCHIVE", "ARE", "ARRAY", "AS", "ASC", "ASCII", "ASENSITIVE",
     "ASSERTION", "ASYMMETRIC", "AT", "ATOMIC", "ATTACH", "ATTRIBUTE", "AUTH", "AUTHORIZATION",
     "AUTHORIZE", "AUTO", "AVG", "BACK", "BACKUP", "BASE", "BATCH", "BEFORE", "BEGIN", "BETWEEN",
     "BIGINT", "BINARY", "BIT", "BLOB", "BLOCK", "BOOLEAN", "BOTH", "BREADTH", "BUCKET", "BULK",
     "BY", "BYTE", "CALL", "CALLED", "CALLING", "CAPACITY", "CASCADE", "CASCADED", "CASE", "CAST",
     "CATALOG", "CHAR", "CHARACTER", "CHECK", "CLASS", "CLOB", "CLOSE", "CLUSTER", "CLUSTERED",
     "CLUSTERING", "CLUSTERS", "COALESCE", "COLLATE", "COLLATION", "COLLECTION", "COLUMN", "COLUMNS",
     "COMBINE", "COMMENT", "COMMIT", "COMPACT", "COMPILE", "COMPRESS", "CONDITION", "CONFLICT",
     "CONNECT", "CONNECTION", "CONSISTENCY", "CONSISTENT", "CONSTRAINT", "CONSTRAINTS",
     "CONSTRUCTOR", "CONSUMED", "CONTINUE", "CONVERT", "COPY", "CORRESPONDING", "COUNT", "COUNTER",
     "CREATE", "CROSS", "CUBE", "CURRENT", "CURSOR", "CYCLE", "DATA", "DATABASE", "DATE", "DATETIME",
     "DAY", "DEALLOCATE", "DEC", "DECIMAL", "DECLARE", "DEFAULT", "DEFERRABLE", "DEFERRED", "DEFINE",
     "DEFINED", "DEFINITION", "DELETE", "DELIMITED", "DEPTH", "DEREF", "DESC", "DESCRIBE",
     "DESCRIPTOR", "DETACH", "DETERMINISTIC", "DIAGNOSTICS", "DIRECTORIES", "DISABLE", "DISCONNECT",
     "DISTINCT", "DISTRIBUTE", "DO", "DOMAIN", "DOUBLE", "DROP", "DUMP", "DURATION", "DYNAMIC",
     "EACH", "ELEMENT", "ELSE", "ELSEIF", "EMPTY", "ENABLE", "END", "EQUAL", "EQUALS", "ERROR",
     "ESCAPE", "ESCAPED", "EVAL", "EVALUATE", "EXCEEDED", "EXCEPT", "EXCEPTION", "EXCEPTIONS",
     "EXCLUSIVE", "EXEC", "EXECUTE", "EXISTS", "EXIT", "EXPLAIN", "EXPLODE", "EXPORT", "EXPRESSION",
     "EXTENDED", "EXTERNAL", "EXTRACT", "FAIL", "FALSE", "FAMILY", "FETCH", "FIELDS", "FILE",
     "FILTER", "FILTERING", "FINAL", "FINISH", "FIRST", "FIXED", "FLATTERN", "FLOAT", "FOR", "FORCE",
     "FOREIGN", "FORMAT", "FORWARD", "FOUND", "FREE", "FROM", "FULL", "FUNCTION", "FUNCTIONS",
     "GENERAL", "GENERATE", "GET", "GLOB", "GLOBAL", "GO", "GOTO", "GRANT", "GREATER", "GROUP",
     "GROUPING", "HANDLER", "HASH", "HAVE", "HAVING", "HEAP", "HIDDEN", "HOLD", "HOUR", "IDENTIFIED",
     "IDENTITY", "IF", "IGNORE", "IMMEDIATE", "IMPORT", "IN", "INCLUDING", "INCLUSIVE", "INCREMENT",
     "INCREMENTAL", "INDEX", "INDEXED", "INDEXES", "INDICATOR", "INFINITE", "INITIALLY", "INLINE",
     "INNER", "INNTER", "INOUT", "INPUT", "INSENSITIVE", "INSERT", "INSTEAD", "INT", "INTEGER",
     "INTERSECT", "INTERVAL", "INTO", "INVALIDATE", "IS", "ISOLATION", "ITEM", "ITEMS", "ITERATE",
     "JOIN", "KEY", "KEYS", "LAG", "LANGUAGE", "LARGE", "LAST", "LATERAL", "LEAD", "LEADING",
     "LEAVE", "LEFT", "LENGTH", "LESS", "LEVEL", "LIKE", "LIMIT", "LIMITED", "LINES", "LIST", "LOAD",
     "LOCAL", "LOCALTIME", "LOCALTIMESTAMP", "LOCATION", "LOCATOR", "LOCK", "LOCKS", "LOG", "LOGED",
     "LONG", "LOOP", "LOWER", "MAP", "MATCH", "MATERIALIZED", "MAX", "MAXLEN", "MEMBER", "MERGE",
     "METHOD", "METRICS", "MIN", "MINUS", "MINUTE", "MISSING", "MOD", "MODE", "MODIFIES", "MODIFY",
     "MODULE", "MONTH", "MULTI", "MULTISET", "NAME", "NAMES", "NATIONAL", "NATURAL", "NCHAR",
     "NCLOB", "NEW", "NEXT", "NO", "NONE", "NOT", "NULL", "NULLIF", "NUMBER", "NUMERIC", "OBJECT",
     "OF", "OFFLINE", "OFFSET", "OLD", "ON", "ONLINE", "ONLY", "OPAQUE", "OPEN", "OPERATOR",
     "OPTION", "OR", "ORDER", "ORDINALITY", "OTHER", "OTHERS", "OUT", "OUTER", "OUTPUT", "OVER",
     "OVERLAPS", "OVERRIDE", "OWNER", "PAD", "PARALLEL", "PARAMETER", "PARAMETERS", "PARTIAL",
     "PARTITION", "PARTITIONED", "PARTITIONS", "PATH", "PERCENT", "PERCENTILE", "PERMISSION",
     "PERMISSIONS", "PIPE", "PIPELINED", "PLAN", "POOL", "POSITION", "PRECISION", "PREPARE",
     "PRESERVE", "PRIMARY", "PRIOR", "PRIVATE", "PRIVILEGES", "PROCEDURE", "PROCESSED", "PROJECT",
     "PROJECTION", "PROPERTY", "PROVISIONING", "PUBLIC", "PUT", "QUERY", "QUIT", "QUORUM", "RAISE",
     "RANDOM", "RANGE", "RANK", "RAW", "READ", "READS", "REAL", "REBUILD", "RECORD", "RECURSIVE",
     "REDUCE", "REF", "REFERENCE", "REFERENCES", "REFERENCING", "REGEXP", "REGION", "REINDEX",
     "RELATIVE", "RELEASE", "REMAINDER", "RENAME", "REPEAT", "REPLACE", "REQUEST", "RESET",
     "RESIGNAL", "RESOURCE", "RESPONSE", "RESTORE", "RESTRICT", "RESULT", "RETURN", "RETURNING",
     "RETURNS", "REVERSE", "REVOKE", "RIGHT", "ROLE", "ROLES", "ROLLBACK", "ROLLUP", "ROUTINE",
     "ROW", "ROWS", "RULE", "RULES", "SAMPLE", "SATISFIES", "SAVE", "SAVEPOINT", "SCAN", "SCHEMA",
     "SCOPE", "SCROLL", "SEARCH", "SECOND", "SECTION", "SEGMENT", "SEGMENTS", "SELECT", "SELF",
     "SEMI", "SENSITIVE", "SEPARATE", "SEQUENCE", "SERIALIZABLE", "SESSION", "SET", "SETS", "SHARD",
     "SHARE", "SHARED", "SHORT", "SHOW", "SIGNAL", "SIMILAR", "SIZE", "SKEWED", "SMALLINT",
     "SNAPSHOT", "SOME", "SOURCE", "SPACE", "SPACES", "SPARSE", "SPECIFIC", "SPECIFICTYPE", "SPLIT",
     "SQL", "SQLCODE", "SQLERROR", "SQLEXCEPTION", "SQLSTATE", "SQLWARNING", "START", "STATE",
     "STATIC", "STATUS", "STORAGE", "STORE", "STORED", "STREAM", "STRING", "STRUCT", "STYLE", "SUB",
     "SUBMULTISET", "SUBPARTITION", "SUBSTRING", "SUBTYPE", "SUM", "SUPER", "SYMMETRIC", "SYNONYM",
     "SYSTEM", "TABLE", "TABLESAMPLE", "TEMP", "TEMPORARY", "TERMINATED", "TEXT", "THAN", "THEN",
     "THROUGHPUT", "TIME", "TIMESTAMP", "TIMEZONE", "TINYINT", "TO", "TOKEN", "TOTAL", "TOUCH",
     "TRAILING", "TRANSACTION", "TRANSFORM", "TRANSLATE", "TRANSLATION", "TREAT", "TRIGGER", "TRIM",
     "TRUE", "TRUNCATE", "TTL", "TUPLE", "TYPE", "UNDER", "UNDO", "UNION", "UNIQUE", "UNIT",
     "UNKNOWN", "UNLOGGED", "UNNEST", "UNPROCESSED", "UNSIGNED", "UNTIL", "UPDATE", "UPPER", "URL",
     "USAGE", "USE", "USER", "USERS", "USING", "UUID", "VACUUM", "VALUE", "VALUED", "VALUES",
     "VARCHAR", "VARIABLE", "VARIANCE", "VARINT", "VARYING", "VIEW", "VIEWS", "VIRTUAL", "VOID",
     "WAIT", "WHEN", "WHENEVER", "WHERE", "WHILE", "WINDOW", "WITH", "WITHIN", "WITHOUT", "WORK",
     "WRAPPED", "WRITE", "YEAR", "ZONE",
};

bool ll_expr_reserved(const char *word, size_t len) {
  size_t lo = 0, hi = sizeof reserved_words / sizeof reserved_words[0];
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const char *w = reserved_words[mid];
    int c = strncasecmp(word, w, len);
    if (c == 0) c = w[len] ? -1 : 0; /* word is a prefix of w: word sorts first */
    if (c == 0) return true;
    if (c < 0) hi = mid;
    else lo = mid + 1;
  }
  return false;
}

/* ---- the tree ------------------------------------------------------------------------------ */

typedef struct pel {
  char *name;   /* owned; NULL for a list index */
  uint32_t idx; /* when name is NULL */
} pel_t;

typedef struct path {
  size_t n;
  pel_t *els; /* owned; els[0] is always a name */
} path_t;

typedef enum nkind { N_PATH, N_VALUE, N_FUNC, N_CMP, N_BETWEEN, N_IN, N_AND, N_OR, N_NOT, N_ARITH } nkind_t;
typedef enum fn {
  F_UNKNOWN, F_EXISTS, F_NOT_EXISTS, F_TYPE, F_BEGINS, F_CONTAINS, F_SIZE, F_IF_NOT_EXISTS, F_LIST_APPEND,
} fn_t;
typedef enum cmp { C_EQ, C_NE, C_LT, C_LE, C_GT, C_GE } cmp_t;
static const char *const cmp_sym[] = {"=", "<>", "<", "<=", ">", ">="};

typedef struct node {
  nkind_t kind;
  int op;    /* N_CMP: cmp_t; N_ARITH: '+' or '-' */
  fn_t fn;   /* N_FUNC */
  int paren; /* how many parentheses directly wrap it */
  char *fname; /* N_FUNC: the name as written, owned */
  path_t path;  /* N_PATH */
  json_t *value; /* N_VALUE: owned reference; NULL when the :value was undefined */
  size_t n;
  struct node **kids; /* owned array; the nodes themselves are owned by the node list */
} node_t;

typedef enum act_kind { A_SET, A_REMOVE, A_ADD, A_DELETE } act_kind_t;
static const char *const act_word[] = {"SET", "REMOVE", "ADD", "DELETE"};

typedef struct action {
  act_kind_t kind;
  node_t *target; /* N_PATH */
  node_t *val;    /* SET: the value; ADD/DELETE: N_VALUE; REMOVE: NULL */
} action_t;

struct ll_expr {
  ll_expr_kind_t kind;
  node_t **nodes; /* every node, owned */
  size_t nnodes, cap;
  node_t *root;      /* condition kinds */
  action_t *acts;    /* UPDATE */
  size_t nacts;
  node_t **paths;    /* PROJECTION: N_PATH nodes */
  size_t npaths;
  char **roots;      /* UPDATE/PROJECTION: distinct top-level names, owned */
  size_t nroots;
};

static void path_free(path_t *p) {
  for (size_t i = 0; i < p->n; i++) free(p->els[i].name);
  free(p->els);
}

static void node_free(node_t *n) {
  path_free(&n->path);
  json_decref(n->value);
  free(n->fname);
  free(n->kids);
  free(n);
}

void ll_expr_free(ll_expr_t *e) {
  if (!e) return;
  for (size_t i = 0; i < e->nnodes; i++) node_free(e->nodes[i]);
  free(e->nodes);
  free(e->acts);
  free(e->paths);
  for (size_t i = 0; i < e->nroots; i++) free(e->roots[i]);
  free(e->roots);
  free(e);
}

ll_expr_kind_t ll_expr_kind(const ll_expr_t *e) { return e->kind; }

static bool pel_eq(const pel_t *a, const pel_t *b) {
  if (!a->name != !b->name) return false;
  return a->name ? strcmp(a->name, b->name) == 0 : a->idx == b->idx;
}

static bool path_eq(const path_t *a, const path_t *b) {
  if (a->n != b->n) return false;
  for (size_t i = 0; i < a->n; i++)
    if (!pel_eq(&a->els[i], &b->els[i])) return false;
  return true;
}

/* DynamoDB's rendering of a path in messages: [a, b, [1]]. */
static void path_fmt(const path_t *p, char *buf, size_t sz) {
  size_t off = 0;
  off += (size_t)snprintf(buf + off, off < sz ? sz - off : 0, "[");
  for (size_t i = 0; i < p->n; i++) {
    const char *sep = i ? ", " : "";
    if (p->els[i].name)
      off += (size_t)snprintf(buf + off, off < sz ? sz - off : 0, "%s%s", sep, p->els[i].name);
    else
      off += (size_t)snprintf(buf + off, off < sz ? sz - off : 0, "%s[%u]", sep, p->els[i].idx);
  }
  snprintf(buf + off, off < sz ? sz - off : 0, "]");
}

/* ---- tokens -------------------------------------------------------------------------------- */

typedef enum tkind {
  T_EOF, T_IDENT, T_NAMEREF, T_VALREF, T_NUM, T_LP, T_RP, T_LB, T_RB, T_COMMA, T_DOT,
  T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE, T_PLUS, T_MINUS, T_BAD,
} tkind_t;

typedef struct tok {
  tkind_t t;
  size_t off, len;
} tok_t;

static bool is_ident(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Splits s into tokens; always ends with T_EOF. Characters that start no token become T_BAD
 * tokens (a whole UTF-8 sequence), so the parser reports them as DynamoDB does: a syntax error
 * on that token. */
static tok_t *tokenize(const char *s, size_t len, size_t *ntoks) {
  tok_t *toks = ll_malloc((len + 1) * sizeof *toks);
  size_t n = 0, i = 0;
  while (i < len) {
    unsigned char c = (unsigned char)s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      i++;
      continue;
    }
    tok_t t = {T_BAD, i, 1};
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
      t.t = T_IDENT;
      while (i + t.len < len && is_ident((unsigned char)s[i + t.len])) t.len++;
    } else if (c >= '0' && c <= '9') {
      t.t = T_NUM;
      while (i + t.len < len && s[i + t.len] >= '0' && s[i + t.len] <= '9') t.len++;
    } else if (c == '#' || c == ':') {
      if (i + 1 < len && is_ident((unsigned char)s[i + 1])) {
        t.t = c == '#' ? T_NAMEREF : T_VALREF;
        while (i + t.len < len && is_ident((unsigned char)s[i + t.len])) t.len++;
      }
    } else if (c == '<') {
      t.t = T_LT;
      if (i + 1 < len && s[i + 1] == '>') t.t = T_NE, t.len = 2;
      else if (i + 1 < len && s[i + 1] == '=') t.t = T_LE, t.len = 2;
    } else if (c == '>') {
      t.t = T_GT;
      if (i + 1 < len && s[i + 1] == '=') t.t = T_GE, t.len = 2;
    } else {
      switch (c) {
      case '(': t.t = T_LP; break;
      case ')': t.t = T_RP; break;
      case '[': t.t = T_LB; break;
      case ']': t.t = T_RB; break;
      case ',': t.t = T_COMMA; break;
      case '.': t.t = T_DOT; break;
      case '=': t.t = T_EQ; break;
      case '+': t.t = T_PLUS; break;
      case '-': t.t = T_MINUS; break;
      default:
        /* a whole UTF-8 sequence, so the message quotes a character, not a broken byte */
        if (c >= 0xc0)
          while (i + t.len < len && t.len < 4 && ((unsigned char)s[i + t.len] & 0xc0) == 0x80) t.len++;
        break;
      }
    }
    toks[n++] = t;
    i += t.len;
  }
  toks[n++] = (tok_t){T_EOF, len, 0};
  *ntoks = n;
  return toks;
}

/* ---- the parser ---------------------------------------------------------------------------- */

/* Soft error stages, earliest first (see the top of the file). */
enum rank {
  R_NONE = 0,
  R_PARENS = 1,   /* redundant parentheses */
  R_RESERVED,     /* a reserved word used as a name */
  R_FUNCTION,     /* unknown function, or a function used where it cannot be */
  R_SECTION,      /* an UPDATE clause twice */
  R_NAME,         /* undefined #name */
  R_VALUE,        /* undefined :value */
  R_OPERAND,      /* operand counts, paths required, literal operand types, limits */
  R_DISTINCT,     /* a = a */
  R_PATHS,        /* overlapping or conflicting document paths */
};

typedef struct parser {
  ll_expr_kind_t kind;
  const char *s;
  tok_t *toks;
  size_t ntoks, pos;
  ll_expr_ctx_t *ctx;
  ll_expr_t *e;
  int depth;
  int nops;
  int rank; /* of the error in why; R_NONE when none */
  char *why;
  size_t sz;
  jmp_buf fail;
} parser_t;

static const char *kind_word(ll_expr_kind_t k) {
  switch (k) {
  case LL_EXPR_CONDITION: return "ConditionExpression";
  case LL_EXPR_FILTER: return "FilterExpression";
  case LL_EXPR_KEY_CONDITION: return "KeyConditionExpression";
  case LL_EXPR_UPDATE: return "UpdateExpression";
  case LL_EXPR_PROJECTION: return "ProjectionExpression";
  }
  return "Expression";
}

static void vsetwhy(parser_t *p, bool prefix, const char *fmt, va_list ap) {
  if (!p->sz) return;
  size_t off = 0;
  if (prefix) {
    int w = snprintf(p->why, p->sz, "Invalid %s: ", kind_word(p->kind));
    off = w < 0 ? 0 : (size_t)w < p->sz ? (size_t)w : p->sz - 1;
  }
  vsnprintf(p->why + off, p->sz - off, fmt, ap);
}

/* Records an error of the given stage unless an earlier-stage (or same-stage, earlier) one is
 * already recorded; parsing goes on. raw: the message has no "Invalid <Kind>: " prefix. */
__attribute__((format(printf, 4, 5))) static void soft(parser_t *p, int rank, bool raw, const char *fmt, ...) {
  if (p->rank != R_NONE && p->rank <= rank) return;
  p->rank = rank;
  va_list ap;
  va_start(ap, fmt);
  vsetwhy(p, !raw, fmt, ap);
  va_end(ap);
}

/* A syntax error or a hard limit: wins over everything and stops parsing. */
__attribute__((format(printf, 2, 3), noreturn)) static void hard(parser_t *p, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsetwhy(p, true, fmt, ap);
  va_end(ap);
  p->rank = -1;
  longjmp(p->fail, 1);
}

/* DynamoDB's syntax error: the offending token and the text from the token before it to the
 * token after it. */
__attribute__((noreturn)) static void syntax(parser_t *p) {
  const tok_t *t = &p->toks[p->pos];
  size_t start = p->pos > 0 ? p->toks[p->pos - 1].off : t->off;
  size_t end = t->off + t->len;
  if (t->t != T_EOF && p->pos + 1 < p->ntoks) end = p->toks[p->pos + 1].off + p->toks[p->pos + 1].len;
  if (t->t == T_EOF)
    hard(p, "Syntax error; token: \"<EOF>\", near: \"%.*s\"", (int)(end - start), p->s + start);
  hard(p, "Syntax error; token: \"%.*s\", near: \"%.*s\"", (int)t->len, p->s + t->off,
       (int)(end - start), p->s + start);
}

static const tok_t *cur(const parser_t *p) { return &p->toks[p->pos]; }

static bool at(const parser_t *p, tkind_t t) { return cur(p)->t == t; }

static bool accept(parser_t *p, tkind_t t) {
  if (!at(p, t)) return false;
  p->pos++;
  return true;
}

static void expect(parser_t *p, tkind_t t) {
  if (!accept(p, t)) syntax(p);
}

/* Whether the current token is the keyword kw (case-insensitive). */
static bool at_kw(const parser_t *p, const char *kw) {
  const tok_t *t = cur(p);
  return t->t == T_IDENT && t->len == strlen(kw) && strncasecmp(p->s + t->off, kw, t->len) == 0;
}

static bool accept_kw(parser_t *p, const char *kw) {
  if (!at_kw(p, kw)) return false;
  p->pos++;
  return true;
}

static node_t *new_node(parser_t *p, nkind_t kind) {
  ll_expr_t *e = p->e;
  if (e->nnodes == e->cap) {
    e->cap = e->cap ? 2 * e->cap : 16;
    e->nodes = ll_realloc(e->nodes, e->cap * sizeof *e->nodes);
  }
  node_t *n = ll_calloc(1, sizeof *n);
  n->kind = kind;
  e->nodes[e->nnodes++] = n;
  return n;
}

static void add_kid(node_t *n, node_t *kid) {
  n->kids = ll_realloc(n->kids, (n->n + 1) * sizeof *n->kids);
  n->kids[n->n++] = kid;
}

static void count_op(parser_t *p) {
  if (++p->nops > LL_EXPR_MAX_OPERATORS)
    hard(p, "The expression contains too many operators; maximum: %d", LL_EXPR_MAX_OPERATORS);
}

static void enter(parser_t *p) {
  if (++p->depth > LL_EXPR_MAX_DEPTH)
    hard(p, "The expression has too many nesting levels; maximum: %d", LL_EXPR_MAX_DEPTH);
}

static void mark_used(json_t **set, const char *key) {
  if (!*set) *set = json_object();
  json_object_set_new(*set, key, json_true());
}

/* One name element of a path: a bare name (not reserved) or a #name substituted. */
static void path_push_name(parser_t *p, path_t *path) {
  const tok_t *t = cur(p);
  if (t->t != T_IDENT && t->t != T_NAMEREF) syntax(p);
  char *text = ll_strndup(p->s + t->off, t->len);
  char *name = NULL;
  if (t->t == T_IDENT) {
    if (ll_expr_reserved(text, t->len))
      soft(p, R_RESERVED, false, "Attribute name is a reserved keyword; reserved keyword: %s", text);
    name = text;
  } else {
    mark_used(&p->ctx->used_names, text);
    const json_t *v = p->ctx->names ? json_object_get(p->ctx->names, text) : NULL;
    if (json_is_string(v)) {
      name = ll_strdup(json_string_value(v));
      free(text);
    } else {
      soft(p, R_NAME, false,
           "An expression attribute name used in the document path is not defined; attribute name: %s",
           text);
      name = text;
    }
  }
  path->els = ll_realloc(path->els, (path->n + 1) * sizeof *path->els);
  path->els[path->n++] = (pel_t){name, 0};
  p->pos++;
}

static node_t *parse_path(parser_t *p) {
  node_t *n = new_node(p, N_PATH);
  path_push_name(p, &n->path);
  for (;;) {
    if (accept(p, T_DOT)) {
      path_push_name(p, &n->path);
    } else if (accept(p, T_LB)) {
      const tok_t *t = cur(p);
      if (t->t != T_NUM) syntax(p);
      uint64_t idx = 0;
      for (size_t i = 0; i < t->len && idx < LL_EXPR_MAX_INDEX; i++) idx = idx * 10 + (uint64_t)(p->s[t->off + i] - '0');
      if (idx >= LL_EXPR_MAX_INDEX) syntax(p);
      p->pos++;
      expect(p, T_RB);
      n->path.els = ll_realloc(n->path.els, (n->path.n + 1) * sizeof *n->path.els);
      n->path.els[n->path.n++] = (pel_t){NULL, (uint32_t)idx};
    } else {
      break;
    }
    if (n->path.n > LL_EXPR_MAX_DEPTH)
      hard(p, "The document path has too many nesting levels; nesting levels: %zu", n->path.n);
  }
  return n;
}

static node_t *parse_value(parser_t *p) {
  const tok_t *t = cur(p);
  if (t->t != T_VALREF) syntax(p);
  node_t *n = new_node(p, N_VALUE);
  char *text = ll_strndup(p->s + t->off, t->len);
  mark_used(&p->ctx->used_values, text);
  json_t *v = p->ctx->values ? json_object_get(p->ctx->values, text) : NULL;
  if (v) n->value = json_incref(v);
  else
    soft(p, R_VALUE, false,
         "An expression attribute value used in expression is not defined; attribute value: %s", text);
  free(text);
  p->pos++;
  return n;
}

static bool is_update(const parser_t *p) { return p->kind == LL_EXPR_UPDATE; }

static fn_t fn_lookup(const parser_t *p, const char *name) {
  static const struct {
    const char *name;
    fn_t fn;
    bool update; /* an UpdateExpression function (else a condition one) */
  } fns[] = {
      {"attribute_exists", F_EXISTS, false},    {"attribute_not_exists", F_NOT_EXISTS, false},
      {"attribute_type", F_TYPE, false},        {"begins_with", F_BEGINS, false},
      {"contains", F_CONTAINS, false},          {"size", F_SIZE, false},
      {"if_not_exists", F_IF_NOT_EXISTS, true}, {"list_append", F_LIST_APPEND, true},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
    if (strcmp(fns[i].name, name) == 0 && fns[i].update == is_update(p)) return fns[i].fn;
  return F_UNKNOWN;
}

/* A condition function: one whose result is true/false, not a value. */
static bool is_bool_fn(const node_t *n) {
  return n->kind == N_FUNC && (n->fn == F_EXISTS || n->fn == F_NOT_EXISTS || n->fn == F_TYPE ||
                               n->fn == F_BEGINS || n->fn == F_CONTAINS);
}

/* The AttributeValue type of an operand known at parse time (an :value, or size() which is a
 * number), or NULL. */
static const char *lit_type(const node_t *n) {
  if (n->kind == N_VALUE) return n->value ? ll_av_type_name(ll_av_type(n->value)) : NULL;
  if (n->kind == N_FUNC && n->fn == F_SIZE) return "N";
  return NULL;
}

/* An operand of a comparison or of a function: a condition function is not one. */
static void check_operand(parser_t *p, const node_t *n) {
  if (is_bool_fn(n))
    soft(p, R_FUNCTION, false,
         "The function is not allowed to be used this way in an expression; function: %s", n->fname);
}

static void bad_type(parser_t *p, const char *what, const char *type) {
  soft(p, R_OPERAND, false,
       "Incorrect operand type for operator or function; operator or function: %s, operand type: %s",
       what, type);
}

static void check_distinct(parser_t *p, const node_t *n, const char *what) {
  if (n->n < 2 || n->kids[0]->kind != N_PATH) return;
  for (size_t i = 1; i < n->n; i++) {
    if (n->kids[i]->kind == N_PATH && path_eq(&n->kids[0]->path, &n->kids[i]->path)) {
      char buf[256];
      path_fmt(&n->kids[0]->path, buf, sizeof buf);
      soft(p, R_DISTINCT, false,
           "The first operand must be distinct from the remaining operands for this operator or "
           "function; operator: %s, first operand: %s",
           what, buf);
      return;
    }
  }
}

static void check_function(parser_t *p, node_t *n) {
  static const size_t arity[] = {
      [F_EXISTS] = 1, [F_NOT_EXISTS] = 1, [F_TYPE] = 2, [F_BEGINS] = 2, [F_CONTAINS] = 2,
      [F_SIZE] = 1,   [F_IF_NOT_EXISTS] = 2, [F_LIST_APPEND] = 2,
  };
  if (n->fn == F_UNKNOWN) {
    soft(p, R_FUNCTION, false, "Invalid function name; function: %s", n->fname);
    return;
  }
  for (size_t i = 0; i < n->n; i++) check_operand(p, n->kids[i]);
  if (n->n != arity[n->fn]) {
    soft(p, R_OPERAND, false,
         "Incorrect number of operands for operator or function; operator or function: %s, number of "
         "operands: %zu",
         n->fname, n->n);
    return;
  }
  const node_t *a = n->kids[0];
  if ((n->fn == F_EXISTS || n->fn == F_NOT_EXISTS || n->fn == F_TYPE || n->fn == F_IF_NOT_EXISTS) &&
      a->kind != N_PATH) {
    if (a->kind != N_FUNC || a->fn != F_UNKNOWN)
      soft(p, R_OPERAND, false, "Operator or function requires a document path; operator or function: %s",
           n->fname);
  }
  for (size_t i = 0; i < n->n; i++) {
    const char *t = lit_type(n->kids[i]);
    if (!t) continue;
    switch (n->fn) {
    case F_SIZE:
      if (!strcmp(t, "N") || !strcmp(t, "BOOL") || !strcmp(t, "NULL")) bad_type(p, n->fname, t);
      break;
    case F_BEGINS:
      if (strcmp(t, "S") && strcmp(t, "B")) bad_type(p, n->fname, t);
      break;
    case F_LIST_APPEND:
      if (strcmp(t, "L")) bad_type(p, n->fname, t);
      break;
    case F_TYPE:
      if (i == 1) {
        if (strcmp(t, "S")) {
          bad_type(p, n->fname, t);
        } else {
          static const char *const types[] = {"S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"};
          const char *s = json_string_value(json_object_get(n->kids[1]->value, "S"));
          bool ok = false;
          for (size_t k = 0; s && k < sizeof types / sizeof types[0]; k++) ok |= strcmp(types[k], s) == 0;
          if (!ok)
            soft(p, R_OPERAND, false,
                 "Invalid attribute type name found; type: %s, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}",
                 s ? s : "");
        }
      }
      break;
    default:
      break;
    }
  }
  if (n->fn == F_CONTAINS || n->fn == F_BEGINS || n->fn == F_TYPE) check_distinct(p, n, n->fname);
}

/* path | :value | function(term, ...) */
static node_t *parse_term(parser_t *p) {
  const tok_t *t = cur(p);
  if (t->t == T_VALREF) return parse_value(p);
  if (t->t == T_IDENT && p->toks[p->pos + 1].t == T_LP) {
    node_t *n = new_node(p, N_FUNC);
    n->fname = ll_strndup(p->s + t->off, t->len);
    n->fn = fn_lookup(p, n->fname);
    count_op(p);
    p->pos += 2;
    enter(p);
    do add_kid(n, parse_term(p));
    while (accept(p, T_COMMA));
    expect(p, T_RP);
    p->depth--;
    check_function(p, n);
    return n;
  }
  if (t->t == T_IDENT || t->t == T_NAMEREF) return parse_path(p);
  syntax(p);
}

static node_t *parse_or(parser_t *p);

static bool cmp_tok(tkind_t t, cmp_t *op) {
  switch (t) {
  case T_EQ: *op = C_EQ; return true;
  case T_NE: *op = C_NE; return true;
  case T_LT: *op = C_LT; return true;
  case T_LE: *op = C_LE; return true;
  case T_GT: *op = C_GT; return true;
  case T_GE: *op = C_GE; return true;
  default: return false;
  }
}

/* DynamoDB's rendering of a bound in BETWEEN messages: AttributeValue: {S:a}. */
static void av_fmt(const json_t *v, char *buf, size_t sz) {
  ll_av_type_t t = ll_av_type(v);
  const json_t *x = json_object_get(v, ll_av_type_name(t));
  if (json_is_string(x)) {
    snprintf(buf, sz, "AttributeValue: {%s:%s}", ll_av_type_name(t), json_string_value(x));
  } else {
    char *dump = json_dumps(v, JSON_COMPACT);
    snprintf(buf, sz, "AttributeValue: %s", dump ? dump : "?");
    free(dump);
  }
}

/* BETWEEN with two :value bounds: DynamoDB checks them when parsing. */
static void check_bounds(parser_t *p, const node_t *lo, const node_t *hi) {
  if (lo->kind != N_VALUE || hi->kind != N_VALUE || !lo->value || !hi->value) return;
  char a[160], b[160];
  int c;
  av_fmt(lo->value, a, sizeof a);
  av_fmt(hi->value, b, sizeof b);
  if (ll_av_type(lo->value) != ll_av_type(hi->value))
    soft(p, R_OPERAND, false,
         "The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: %s, "
         "upper bound operand: %s",
         a, b);
  else if (ll_av_compare(lo->value, hi->value, &c) == 0 && c > 0)
    soft(p, R_OPERAND, false,
         "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound "
         "operand: %s, upper bound operand: %s",
         a, b);
}

static node_t *parse_primary(parser_t *p) {
  if (accept(p, T_LP)) {
    enter(p);
    node_t *n = parse_or(p);
    expect(p, T_RP);
    p->depth--;
    if (n->paren) soft(p, R_PARENS, false, "The expression has redundant parentheses;");
    n->paren++;
    return n;
  }
  node_t *a = parse_term(p);
  cmp_t op;
  if (cmp_tok(cur(p)->t, &op)) {
    p->pos++;
    node_t *n = new_node(p, N_CMP);
    n->op = op;
    count_op(p);
    add_kid(n, a);
    add_kid(n, parse_term(p));
    check_operand(p, n->kids[0]);
    check_operand(p, n->kids[1]);
    check_distinct(p, n, cmp_sym[op]);
    return n;
  }
  if (accept_kw(p, "BETWEEN")) {
    node_t *n = new_node(p, N_BETWEEN);
    count_op(p);
    add_kid(n, a);
    add_kid(n, parse_term(p));
    if (!accept_kw(p, "AND")) syntax(p);
    add_kid(n, parse_term(p));
    for (size_t i = 0; i < 3; i++) check_operand(p, n->kids[i]);
    check_bounds(p, n->kids[1], n->kids[2]);
    check_distinct(p, n, "BETWEEN");
    return n;
  }
  if (accept_kw(p, "IN")) {
    node_t *n = new_node(p, N_IN);
    count_op(p);
    add_kid(n, a);
    expect(p, T_LP);
    do add_kid(n, parse_term(p));
    while (accept(p, T_COMMA));
    expect(p, T_RP);
    for (size_t i = 0; i < n->n; i++) check_operand(p, n->kids[i]);
    if (n->n - 1 > LL_EXPR_MAX_IN)
      soft(p, R_OPERAND, false, "The IN operator is provided with too many operands; number of operands: %zu",
           n->n - 1);
    check_distinct(p, n, "IN");
    return n;
  }
  if (a->kind == N_FUNC) {
    if (a->fn == F_SIZE)
      soft(p, R_FUNCTION, false, "The function is not allowed to be used this way in an expression; function: %s",
           a->fname);
    return a; /* a condition function (or an unknown one, already an error) */
  }
  syntax(p); /* a bare operand is no condition */
}

static node_t *parse_not(parser_t *p) {
  if (accept_kw(p, "NOT")) {
    enter(p);
    node_t *n = new_node(p, N_NOT);
    count_op(p);
    add_kid(n, parse_not(p));
    p->depth--;
    return n;
  }
  return parse_primary(p);
}

static node_t *parse_and(parser_t *p) {
  node_t *a = parse_not(p);
  while (accept_kw(p, "AND")) {
    node_t *n = new_node(p, N_AND);
    count_op(p);
    add_kid(n, a);
    add_kid(n, parse_not(p));
    a = n;
  }
  return a;
}

static node_t *parse_or(parser_t *p) {
  node_t *a = parse_and(p);
  while (accept_kw(p, "OR")) {
    node_t *n = new_node(p, N_OR);
    count_op(p);
    add_kid(n, a);
    add_kid(n, parse_and(p));
    a = n;
  }
  return a;
}

/* KeyConditionExpression allows only AND, = < <= > >=, BETWEEN and begins_with. */
static void check_key_ops(parser_t *p, const node_t *n) {
  const char *bad = NULL;
  switch (n->kind) {
  case N_OR: bad = "OR"; break;
  case N_NOT: bad = "NOT"; break;
  case N_IN: bad = "IN"; break;
  case N_CMP: if (n->op == C_NE) bad = "<>"; break;
  case N_FUNC:
    if (n->fn == F_SIZE) {
      soft(p, R_OPERAND, true, "KeyConditionExpressions cannot contain nested operations");
      return;
    }
    if (n->fn != F_BEGINS) bad = n->fname;
    break;
  default: break;
  }
  if (bad) {
    soft(p, R_OPERAND, true, "Invalid operator used in KeyConditionExpression: %s", bad);
    return;
  }
  for (size_t i = 0; i < n->n; i++) check_key_ops(p, n->kids[i]);
}

/* ---- UpdateExpression and ProjectionExpression ---------------------------------------------- */

/* SET's right-hand side: term, or term + term, or term - term. */
static node_t *parse_set_value(parser_t *p) {
  node_t *a = parse_term(p);
  if (at(p, T_PLUS) || at(p, T_MINUS)) {
    node_t *n = new_node(p, N_ARITH);
    n->op = at(p, T_PLUS) ? '+' : '-';
    p->pos++;
    count_op(p);
    add_kid(n, a);
    add_kid(n, parse_term(p));
    for (size_t i = 0; i < 2; i++) {
      const char *t = lit_type(n->kids[i]);
      if (t && strcmp(t, "N")) bad_type(p, n->op == '+' ? "+" : "-", t);
    }
    return n;
  }
  return a;
}

/* DynamoDB's long type names in ADD/DELETE operand errors. */
static const char *long_type(const char *t) {
  static const char *const map[][2] = {
      {"S", "STRING"}, {"N", "NUMBER"}, {"B", "BINARY"}, {"BOOL", "BOOLEAN"}, {"NULL", "NULL"},
      {"M", "MAP"},    {"L", "LIST"},   {"SS", "SS"},    {"NS", "NS"},        {"BS", "BS"},
  };
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (!strcmp(map[i][0], t)) return map[i][1];
  return t;
}

static void parse_update(parser_t *p) {
  ll_expr_t *e = p->e;
  bool seen[4] = {false};
  size_t cap = 0;
  while (!at(p, T_EOF)) {
    act_kind_t k;
    if (accept_kw(p, "SET")) k = A_SET;
    else if (accept_kw(p, "REMOVE")) k = A_REMOVE;
    else if (accept_kw(p, "ADD")) k = A_ADD;
    else if (accept_kw(p, "DELETE")) k = A_DELETE;
    else syntax(p);
    if (seen[k])
      soft(p, R_SECTION, false, "The \"%s\" section can only be used once in an update expression;", act_word[k]);
    seen[k] = true;
    do {
      action_t a = {k, parse_path(p), NULL};
      count_op(p);
      if (k == A_SET) {
        expect(p, T_EQ);
        a.val = parse_set_value(p);
        check_operand(p, a.val);
      } else if (k == A_ADD || k == A_DELETE) {
        a.val = parse_value(p);
        const char *t = lit_type(a.val);
        bool ok = t && (!strcmp(t, "SS") || !strcmp(t, "NS") || !strcmp(t, "BS") || (k == A_ADD && !strcmp(t, "N")));
        if (t && !ok)
          soft(p, R_OPERAND, false, "Incorrect operand type for operator or function; operator: %s, operand type: %s",
               act_word[k], long_type(t));
      }
      if (e->nacts == cap) {
        cap = cap ? 2 * cap : 8;
        e->acts = ll_realloc(e->acts, cap * sizeof *e->acts);
      }
      e->acts[e->nacts++] = a;
    } while (accept(p, T_COMMA));
  }
}

/* Two paths overlap when one is a prefix of the other; they conflict when, after a common
 * prefix, one goes on with a map key and the other with a list index. DynamoDB reports
 * overlaps before conflicts, the earlier path as "path one". */
static void check_paths(parser_t *p, node_t *const *paths, size_t n) {
  for (int pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < n; i++) {
      const path_t *a = &paths[i]->path;
      for (size_t j = i + 1; j < n; j++) {
        const path_t *b = &paths[j]->path;
        size_t m = a->n < b->n ? a->n : b->n, k = 0;
        while (k < m && pel_eq(&a->els[k], &b->els[k])) k++;
        bool overlap = k == m;
        bool conflict = !overlap && !a->els[k].name != !b->els[k].name;
        if ((pass == 0 && overlap) || (pass == 1 && conflict)) {
          char one[512], two[512];
          path_fmt(a, one, sizeof one);
          path_fmt(b, two, sizeof two);
          soft(p, R_PATHS, false,
               "Two document paths %s with each other; must remove or rewrite one of these paths; path "
               "one: %s, path two: %s",
               overlap ? "overlap" : "conflict", one, two);
          return;
        }
      }
    }
  }
}

static void add_root(ll_expr_t *e, const char *name) {
  for (size_t i = 0; i < e->nroots; i++)
    if (!strcmp(e->roots[i], name)) return;
  e->roots = ll_realloc(e->roots, (e->nroots + 1) * sizeof *e->roots);
  e->roots[e->nroots++] = ll_strdup(name);
}

static void parse_projection(parser_t *p) {
  ll_expr_t *e = p->e;
  size_t cap = 0;
  do {
    if (e->npaths == cap) {
      cap = cap ? 2 * cap : 8;
      e->paths = ll_realloc(e->paths, cap * sizeof *e->paths);
    }
    e->paths[e->npaths++] = parse_path(p);
  } while (accept(p, T_COMMA));
  if (!at(p, T_EOF)) syntax(p);
}

ll_expr_t *ll_expr_parse(ll_expr_kind_t kind, const char *text, ll_expr_ctx_t *ctx, char *why, size_t sz) {
  if (sz) why[0] = '\0';
  parser_t p = {.kind = kind, .s = text, .ctx = ctx, .why = why, .sz = sz};
  size_t len = strlen(text);
  size_t blank = strspn(text, " \t\r\n");
  if (blank == len) {
    snprintf(why, sz, "Invalid %s: The expression can not be empty;", kind_word(kind));
    return NULL;
  }
  if (len > LL_EXPR_MAX_TEXT) {
    snprintf(why, sz, "Invalid %s: Expression size has exceeded the maximum allowed size; expression size: %zu",
             kind_word(kind), len);
    return NULL;
  }
  p.toks = tokenize(text, len, &p.ntoks);
  p.e = ll_calloc(1, sizeof *p.e);
  p.e->kind = kind;
  if (setjmp(p.fail)) {
    free(p.toks);
    ll_expr_free(p.e);
    return NULL;
  }
  ll_expr_t *e = p.e;
  switch (kind) {
  case LL_EXPR_CONDITION:
  case LL_EXPR_FILTER:
  case LL_EXPR_KEY_CONDITION:
    e->root = parse_or(&p);
    if (!at(&p, T_EOF)) syntax(&p);
    if (kind == LL_EXPR_KEY_CONDITION) check_key_ops(&p, e->root);
    break;
  case LL_EXPR_UPDATE:
    parse_update(&p);
    {
      node_t **targets = ll_malloc((e->nacts + 1) * sizeof *targets);
      for (size_t i = 0; i < e->nacts; i++) targets[i] = e->acts[i].target;
      check_paths(&p, targets, e->nacts);
      free(targets);
    }
    for (size_t i = 0; i < e->nacts; i++) add_root(e, e->acts[i].target->path.els[0].name);
    break;
  case LL_EXPR_PROJECTION:
    parse_projection(&p);
    check_paths(&p, e->paths, e->npaths);
    for (size_t i = 0; i < e->npaths; i++) add_root(e, e->paths[i]->path.els[0].name);
    break;
  }
  free(p.toks);
  if (p.rank != R_NONE) {
    ll_expr_free(e);
    return NULL;
  }
  return e;
}

/* ---- names and values used ----------------------------------------------------------------- */

static int unused(const json_t *given, const json_t *used, const char *what, char *why, size_t sz) {
  if (!json_is_object(given)) return 0;
  size_t off = 0, n = 0;
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)given, key, v) {
    if (used && json_object_get(used, key)) continue;
    if (n++ == 0)
      off += (size_t)snprintf(why + off, off < sz ? sz - off : 0,
                              "Value provided in %s unused in expressions: keys: {%s", what, key);
    else
      off += (size_t)snprintf(why + off, off < sz ? sz - off : 0, ", %s", key);
  }
  if (!n) return 0;
  snprintf(why + off, off < sz ? sz - off : 0, "}");
  return -1;
}

int ll_expr_unused(const ll_expr_ctx_t *ctx, char *why, size_t sz) {
  if (unused(ctx->names, ctx->used_names, "ExpressionAttributeNames", why, sz) < 0) return -1;
  return unused(ctx->values, ctx->used_values, "ExpressionAttributeValues", why, sz);
}

void ll_expr_ctx_done(ll_expr_ctx_t *ctx) {
  json_decref(ctx->used_names);
  json_decref(ctx->used_values);
  ctx->used_names = ctx->used_values = NULL;
}

/* ---- evaluation helpers -------------------------------------------------------------------- */

/* The AttributeValue at path in item (an object of name -> AttributeValue), or NULL; the first
 * n elements only. */
static json_t *resolve_n(const json_t *item, const path_t *p, size_t n) {
  json_t *v = json_object_get(item, p->els[0].name);
  for (size_t i = 1; v && i < n; i++) {
    const pel_t *el = &p->els[i];
    if (el->name)
      v = ll_av_type(v) == LL_AV_M ? json_object_get(json_object_get(v, "M"), el->name) : NULL;
    else
      v = ll_av_type(v) == LL_AV_L ? json_array_get(json_object_get(v, "L"), el->idx) : NULL;
  }
  return v;
}

static json_t *resolve(const json_t *item, const path_t *p) { return resolve_n(item, p, p->n); }

static const char *str_of(const json_t *v, const char *type, size_t *len) {
  const json_t *s = json_object_get(v, type);
  *len = json_string_length(s);
  return json_string_value(s);
}

/* Decoded length of validated base64 text. */
static size_t b64_len(const char *s, size_t len) {
  size_t n = len / 4 * 3;
  if (len >= 1 && s[len - 1] == '=') n--;
  if (len >= 2 && s[len - 2] == '=') n--;
  return n;
}

/* size(): S bytes, B bytes, sets/L elements, M entries; false for the others. */
static bool av_size(const json_t *v, size_t *out) {
  size_t len;
  const char *s;
  switch (ll_av_type(v)) {
  case LL_AV_S: str_of(v, "S", out); return true;
  case LL_AV_B: s = str_of(v, "B", &len); *out = s ? b64_len(s, len) : 0; return true;
  case LL_AV_SS: *out = json_array_size(json_object_get(v, "SS")); return true;
  case LL_AV_NS: *out = json_array_size(json_object_get(v, "NS")); return true;
  case LL_AV_BS: *out = json_array_size(json_object_get(v, "BS")); return true;
  case LL_AV_L: *out = json_array_size(json_object_get(v, "L")); return true;
  case LL_AV_M: *out = json_object_size(json_object_get(v, "M")); return true;
  default: return false;
  }
}

static json_t *num_value(const char *text) { return json_pack("{s:s}", "N", text); }

/* The value of an operand over item: a borrowed AttributeValue, or one made in *tmp (size()),
 * or NULL (missing attribute, size() of a type without one). */
static const json_t *operand(const node_t *n, const json_t *item, json_t **tmp) {
  switch (n->kind) {
  case N_PATH: return resolve(item, &n->path);
  case N_VALUE: return n->value;
  case N_FUNC:
    if (n->fn == F_SIZE) {
      json_t *inner_tmp = NULL;
      const json_t *v = operand(n->kids[0], item, &inner_tmp);
      size_t sz;
      bool ok = v && av_size(v, &sz);
      json_decref(inner_tmp);
      if (!ok) return NULL;
      char buf[32];
      snprintf(buf, sizeof buf, "%zu", sz);
      *tmp = num_value(buf);
      return *tmp;
    }
    return NULL;
  default: return NULL;
  }
}

/* Whether the set element e (a string inside an SS/NS/BS array) equals the scalar v of type
 * scalar ("S", "N", "B"), by DynamoDB's equality. */
static bool elem_equal(const char *scalar, json_t *e, const json_t *v) {
  json_t *w = json_object();
  json_object_set(w, scalar, e);
  bool eq = ll_av_equal(w, v);
  json_decref(w);
  return eq;
}

static const char *set_scalar(ll_av_type_t t) {
  return t == LL_AV_SS ? "S" : t == LL_AV_NS ? "N" : t == LL_AV_BS ? "B" : NULL;
}

static ll_av_type_t scalar_of_set(ll_av_type_t t) {
  return t == LL_AV_SS ? LL_AV_S : t == LL_AV_NS ? LL_AV_N : t == LL_AV_BS ? LL_AV_B : LL_AV_INVALID;
}

static bool begins_with(const json_t *a, const json_t *b) {
  ll_av_type_t ta = ll_av_type(a), tb = ll_av_type(b);
  if (ta != tb || (ta != LL_AV_S && ta != LL_AV_B)) return false;
  const char *key = ta == LL_AV_S ? "S" : "B";
  size_t la, lb;
  const char *sa = str_of(a, key, &la), *sb = str_of(b, key, &lb);
  if (!sa || !sb) return false;
  if (ta == LL_AV_S) return lb <= la && memcmp(sa, sb, lb) == 0;
  if (lb == 0) return true;
  size_t da = 0, db = 0;
  uint8_t *ba = la ? ll_base64_decode(sa, la, &da) : NULL, *bb = ll_base64_decode(sb, lb, &db);
  bool r = ba && bb && db <= da && memcmp(ba, bb, db) == 0;
  free(ba);
  free(bb);
  return r;
}

static bool contains(const json_t *a, const json_t *b) {
  ll_av_type_t ta = ll_av_type(a), tb = ll_av_type(b);
  if (ta == LL_AV_S && tb == LL_AV_S) {
    size_t la, lb;
    const char *sa = str_of(a, "S", &la), *sb = str_of(b, "S", &lb);
    return sa && sb && memmem(sa, la, sb, lb) != NULL;
  }
  if (ta == LL_AV_SS || ta == LL_AV_NS || ta == LL_AV_BS) {
    if (tb != scalar_of_set(ta)) return false;
    const char *scalar = set_scalar(ta);
    json_t *arr = json_object_get(a, ll_av_type_name(ta)), *e;
    size_t i;
    json_array_foreach(arr, i, e) if (elem_equal(scalar, e, b)) return true;
    return false;
  }
  if (ta == LL_AV_L) {
    json_t *arr = json_object_get(a, "L"), *e;
    size_t i;
    json_array_foreach(arr, i, e) if (ll_av_equal(e, b)) return true;
  }
  return false;
}

/* a compared with b; false when either is missing or they are not comparable. */
static bool ordered(const json_t *a, const json_t *b, int *c) { return a && b && ll_av_compare(a, b, c) == 0; }

static bool eval(const node_t *n, const json_t *item) {
  json_t *t0 = NULL, *t1 = NULL, *t2 = NULL;
  bool r = false;
  int c, c2;
  switch (n->kind) {
  case N_AND: return eval(n->kids[0], item) && eval(n->kids[1], item);
  case N_OR: return eval(n->kids[0], item) || eval(n->kids[1], item);
  case N_NOT: return !eval(n->kids[0], item);
  case N_CMP: {
    const json_t *a = operand(n->kids[0], item, &t0), *b = operand(n->kids[1], item, &t1);
    switch ((cmp_t)n->op) {
    case C_EQ: r = a && b && ll_av_equal(a, b); break;
    case C_NE: r = !(a && b && ll_av_equal(a, b)); break;
    case C_LT: r = ordered(a, b, &c) && c < 0; break;
    case C_LE: r = ordered(a, b, &c) && c <= 0; break;
    case C_GT: r = ordered(a, b, &c) && c > 0; break;
    case C_GE: r = ordered(a, b, &c) && c >= 0; break;
    }
    break;
  }
  case N_BETWEEN: {
    const json_t *a = operand(n->kids[0], item, &t0), *lo = operand(n->kids[1], item, &t1),
                 *hi = operand(n->kids[2], item, &t2);
    r = ordered(a, lo, &c) && ordered(a, hi, &c2) && c >= 0 && c2 <= 0;
    break;
  }
  case N_IN: {
    const json_t *a = operand(n->kids[0], item, &t0);
    for (size_t i = 1; a && !r && i < n->n; i++) {
      json_t *ti = NULL;
      const json_t *b = operand(n->kids[i], item, &ti);
      r = b && ll_av_equal(a, b);
      json_decref(ti);
    }
    break;
  }
  case N_FUNC:
    switch (n->fn) {
    case F_EXISTS: r = resolve(item, &n->kids[0]->path) != NULL; break;
    case F_NOT_EXISTS: r = resolve(item, &n->kids[0]->path) == NULL; break;
    case F_TYPE: {
      const json_t *a = resolve(item, &n->kids[0]->path);
      const char *want = json_string_value(json_object_get(n->kids[1]->value, "S"));
      r = a && want && strcmp(ll_av_type_name(ll_av_type(a)), want) == 0;
      break;
    }
    case F_BEGINS: {
      const json_t *a = operand(n->kids[0], item, &t0), *b = operand(n->kids[1], item, &t1);
      r = a && b && begins_with(a, b);
      break;
    }
    case F_CONTAINS: {
      const json_t *a = operand(n->kids[0], item, &t0), *b = operand(n->kids[1], item, &t1);
      r = a && b && contains(a, b);
      break;
    }
    default: break;
    }
    break;
  default: break;
  }
  json_decref(t0);
  json_decref(t1);
  json_decref(t2);
  return r;
}

int ll_expr_condition(const ll_expr_t *e, const json_t *item, bool *out, char *why, size_t sz) {
  ll_assert(e->root != NULL);
  json_t *empty = NULL;
  if (!item) item = empty = json_object();
  *out = eval(e->root, item);
  json_decref(empty);
  return 0;
}

/* ---- UpdateExpression ---------------------------------------------------------------------- */

#define E_MISSING "The provided expression refers to an attribute that does not exist in the item"
#define E_TYPE "An operand in the update expression has an incorrect data type"
#define E_PATH "The document path provided in the update expression is invalid for update"

static json_t *fail_null(char *why, size_t sz, const char *msg) {
  snprintf(why, sz, "%s", msg);
  return NULL;
}

static bool num_of(const json_t *v, ll_num_t *out) {
  size_t len;
  const char *s = str_of(v, "N", &len);
  const char *ignored;
  return s && ll_num_parse(s, len, out, &ignored) == 0;
}

/* A SET right-hand side over item (as before the update): a new reference, or NULL with why. */
static json_t *set_value(const node_t *n, const json_t *item, char *why, size_t sz) {
  switch (n->kind) {
  case N_PATH: {
    const json_t *v = resolve(item, &n->path);
    return v ? json_deep_copy(v) : fail_null(why, sz, E_MISSING);
  }
  case N_VALUE: return json_deep_copy(n->value);
  case N_ARITH: {
    json_t *a = set_value(n->kids[0], item, why, sz);
    if (!a) return NULL;
    json_t *b = set_value(n->kids[1], item, why, sz);
    if (!b) {
      json_decref(a);
      return NULL;
    }
    ll_num_t x, y, z;
    json_t *r = NULL;
    if (ll_av_type(a) != LL_AV_N || ll_av_type(b) != LL_AV_N || !num_of(a, &x) || !num_of(b, &y)) {
      fail_null(why, sz, E_TYPE);
    } else {
      const char *err = NULL;
      int rc = n->op == '+' ? ll_num_add(&x, &y, &z, &err) : ll_num_sub(&x, &y, &z, &err);
      if (rc < 0) {
        fail_null(why, sz, err ? err : E_TYPE);
      } else {
        char buf[LL_NUM_TEXT_MAX];
        ll_num_format(&z, buf);
        r = num_value(buf);
      }
    }
    json_decref(a);
    json_decref(b);
    return r;
  }
  case N_FUNC:
    if (n->fn == F_IF_NOT_EXISTS) {
      const json_t *v = resolve(item, &n->kids[0]->path);
      return v ? json_deep_copy(v) : set_value(n->kids[1], item, why, sz);
    }
    if (n->fn == F_LIST_APPEND) {
      json_t *a = set_value(n->kids[0], item, why, sz);
      if (!a) return NULL;
      json_t *b = set_value(n->kids[1], item, why, sz);
      if (!b) {
        json_decref(a);
        return NULL;
      }
      json_t *r = NULL;
      if (ll_av_type(a) != LL_AV_L || ll_av_type(b) != LL_AV_L) {
        fail_null(why, sz, E_TYPE);
      } else {
        json_t *arr = json_copy(json_object_get(a, "L"));
        json_array_extend(arr, json_object_get(b, "L"));
        r = json_pack("{s:o}", "L", arr);
      }
      json_decref(a);
      json_decref(b);
      return r;
    }
    return fail_null(why, sz, E_TYPE);
  default: return fail_null(why, sz, E_TYPE);
  }
}

/* Writes v (stolen) at path in item: a top-level attribute, a map key (the map must exist), or
 * a list element (the list must exist; an index past the end appends). */
static int put_path(json_t *item, const path_t *p, json_t *v, char *why, size_t sz) {
  if (p->n == 1) {
    json_object_set_new(item, p->els[0].name, v);
    return 0;
  }
  json_t *parent = resolve_n(item, p, p->n - 1);
  const pel_t *last = &p->els[p->n - 1];
  if (last->name && ll_av_type(parent) == LL_AV_M) {
    json_object_set_new(json_object_get(parent, "M"), last->name, v);
    return 0;
  }
  if (!last->name && ll_av_type(parent) == LL_AV_L) {
    json_t *arr = json_object_get(parent, "L");
    if (last->idx < json_array_size(arr)) json_array_set_new(arr, last->idx, v);
    else json_array_append_new(arr, v);
    return 0;
  }
  json_decref(v);
  snprintf(why, sz, "%s", E_PATH);
  return -1;
}

/* Removes the attribute at path: nothing to do when it is missing; an error when its parent is
 * missing or no map/list. */
static int remove_path(json_t *item, const path_t *p, char *why, size_t sz) {
  if (p->n == 1) {
    json_object_del(item, p->els[0].name);
    return 0;
  }
  json_t *parent = resolve_n(item, p, p->n - 1);
  const pel_t *last = &p->els[p->n - 1];
  if (last->name && ll_av_type(parent) == LL_AV_M) {
    json_object_del(json_object_get(parent, "M"), last->name);
    return 0;
  }
  if (!last->name && ll_av_type(parent) == LL_AV_L) {
    json_array_remove(json_object_get(parent, "L"), last->idx);
    return 0;
  }
  snprintf(why, sz, "%s", E_PATH);
  return -1;
}

/* Orders paths so that removing in this order leaves the other targets in place: later list
 * indexes first. */
static int path_cmp_desc(const void *x, const void *y) {
  const path_t *a = &(*(const action_t *const *)x)->target->path;
  const path_t *b = &(*(const action_t *const *)y)->target->path;
  size_t m = a->n < b->n ? a->n : b->n;
  for (size_t i = 0; i < m; i++) {
    const pel_t *ea = &a->els[i], *eb = &b->els[i];
    int c;
    if (ea->name && eb->name) c = strcmp(ea->name, eb->name);
    else if (!ea->name && !eb->name) c = ea->idx < eb->idx ? -1 : ea->idx > eb->idx;
    else c = ea->name ? -1 : 1;
    if (c) return -c;
  }
  return a->n < b->n ? 1 : a->n > b->n ? -1 : 0;
}

static int add_action(json_t *item, const action_t *a, char *why, size_t sz) {
  const json_t *v = a->val->value;
  json_t *cur = resolve(item, &a->target->path);
  if (!cur) return put_path(item, &a->target->path, json_deep_copy(v), why, sz);
  ll_av_type_t tc = ll_av_type(cur), tv = ll_av_type(v);
  if (tc != tv) goto bad;
  if (tc == LL_AV_N) {
    ll_num_t x, y, z;
    const char *err = NULL;
    if (!num_of(cur, &x) || !num_of(v, &y)) goto bad;
    if (ll_num_add(&x, &y, &z, &err) < 0) {
      snprintf(why, sz, "%s", err ? err : E_TYPE);
      return -1;
    }
    char buf[LL_NUM_TEXT_MAX];
    ll_num_format(&z, buf);
    return put_path(item, &a->target->path, num_value(buf), why, sz);
  }
  if (tc == LL_AV_SS || tc == LL_AV_NS || tc == LL_AV_BS) {
    const char *tn = ll_av_type_name(tc), *scalar = set_scalar(tc);
    json_t *have = json_object_get(cur, tn), *arr = json_copy(have), *e;
    size_t i;
    json_array_foreach(json_object_get(v, tn), i, e) {
      json_t *w = json_pack("{s:O}", scalar, e);
      bool found = false;
      size_t j;
      json_t *h;
      json_array_foreach(have, j, h) if ((found = elem_equal(scalar, h, w))) break;
      json_decref(w);
      if (!found) json_array_append(arr, e);
    }
    return put_path(item, &a->target->path, json_pack("{s:o}", tn, arr), why, sz);
  }
bad:
  snprintf(why, sz, "%s", E_TYPE);
  return -1;
}

static int delete_action(json_t *item, const action_t *a, char *why, size_t sz) {
  const json_t *v = a->val->value;
  json_t *cur = resolve(item, &a->target->path);
  if (!cur) return 0;
  ll_av_type_t tc = ll_av_type(cur);
  if (tc != ll_av_type(v) || !set_scalar(tc)) {
    snprintf(why, sz, "%s", E_TYPE);
    return -1;
  }
  const char *tn = ll_av_type_name(tc), *scalar = set_scalar(tc);
  json_t *arr = json_array(), *h;
  size_t i;
  json_array_foreach(json_object_get(cur, tn), i, h) {
    json_t *w = json_pack("{s:O}", scalar, h);
    bool gone = false;
    size_t j;
    json_t *e;
    json_array_foreach(json_object_get(v, tn), j, e) if ((gone = elem_equal(scalar, e, w))) break;
    json_decref(w);
    if (!gone) json_array_append(arr, h);
  }
  if (json_array_size(arr) == 0) {
    json_decref(arr);
    return remove_path(item, &a->target->path, why, sz);
  }
  return put_path(item, &a->target->path, json_pack("{s:o}", tn, arr), why, sz);
}

int ll_expr_update(const ll_expr_t *e, json_t *item, char *why, size_t sz) {
  ll_assert(e->kind == LL_EXPR_UPDATE);
  int rc = -1;
  json_t *work = json_deep_copy(item);
  json_t **vals = ll_calloc(e->nacts + 1, sizeof *vals);
  const action_t **removes = ll_calloc(e->nacts + 1, sizeof *removes);
  size_t nremoves = 0;
  /* every right-hand side sees the item as it was */
  for (size_t i = 0; i < e->nacts; i++)
    if (e->acts[i].kind == A_SET && !(vals[i] = set_value(e->acts[i].val, item, why, sz))) goto out;
  for (size_t i = 0; i < e->nacts; i++) {
    if (e->acts[i].kind != A_SET) continue;
    json_t *v = vals[i];
    vals[i] = NULL;
    if (put_path(work, &e->acts[i].target->path, v, why, sz) < 0) goto out;
  }
  for (size_t i = 0; i < e->nacts; i++)
    if (e->acts[i].kind == A_REMOVE) removes[nremoves++] = &e->acts[i];
  qsort(removes, nremoves, sizeof *removes, path_cmp_desc);
  for (size_t i = 0; i < nremoves; i++)
    if (remove_path(work, &removes[i]->target->path, why, sz) < 0) goto out;
  for (size_t i = 0; i < e->nacts; i++) {
    if (e->acts[i].kind == A_ADD && add_action(work, &e->acts[i], why, sz) < 0) goto out;
    if (e->acts[i].kind == A_DELETE && delete_action(work, &e->acts[i], why, sz) < 0) goto out;
  }
  json_object_clear(item);
  json_object_update(item, work);
  rc = 0;
out:
  for (size_t i = 0; i < e->nacts; i++) json_decref(vals[i]);
  free(vals);
  free(removes);
  json_decref(work);
  return rc;
}

size_t ll_expr_update_roots(const ll_expr_t *e, const char *const **names) {
  *names = (const char *const *)e->roots;
  return e->kind == LL_EXPR_UPDATE ? e->nroots : 0;
}

size_t ll_expr_projection_roots(const ll_expr_t *e, const char *const **names) {
  *names = (const char *const *)e->roots;
  return e->kind == LL_EXPR_PROJECTION ? e->nroots : 0;
}

/* ---- ProjectionExpression ------------------------------------------------------------------ */

/* While building, a projected map is {"\x01M": {key: ...}} and a projected list
 * {"\x01L": {"<index, 10 digits>": ...}}; no AttributeValue has such a type key, so finish()
 * tells them from copied values. */
#define B_MAP "\x01M"
#define B_LIST "\x01L"

static int key_cmp(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static json_t *finish(json_t *v) {
  json_t *m = json_object_get(v, B_MAP), *l = json_object_get(v, B_LIST), *x;
  const char *k;
  if (m) {
    json_t *out = json_object();
    json_object_foreach(m, k, x) json_object_set_new(out, k, finish(x));
    return json_pack("{s:o}", "M", out);
  }
  if (l) {
    size_t n = json_object_size(l), i = 0;
    const char **keys = ll_malloc((n + 1) * sizeof *keys);
    json_object_foreach(l, k, x) keys[i++] = k;
    qsort(keys, n, sizeof *keys, key_cmp);
    json_t *arr = json_array();
    for (i = 0; i < n; i++) json_array_append_new(arr, finish(json_object_get(l, keys[i])));
    free(keys);
    return json_pack("{s:o}", "L", arr);
  }
  return json_incref(v);
}

json_t *ll_expr_project(const ll_expr_t *e, const json_t *item) {
  ll_assert(e->kind == LL_EXPR_PROJECTION);
  json_t *build = json_object();
  for (size_t i = 0; i < e->npaths; i++) {
    const path_t *p = &e->paths[i]->path;
    const json_t *v = resolve(item, p);
    if (!v) continue;
    json_t *dst = build; /* the key -> node object of the current level */
    for (size_t k = 0; dst && k < p->n; k++) {
      char key[16];
      const char *kname = p->els[k].name;
      if (!kname) {
        snprintf(key, sizeof key, "%010u", p->els[k].idx);
        kname = key;
      }
      if (k == p->n - 1) {
        json_object_set_new(dst, kname, json_deep_copy(v));
        break;
      }
      const char *bkey = p->els[k + 1].name ? B_MAP : B_LIST;
      json_t *child = json_object_get(dst, kname);
      if (!child) {
        child = json_pack("{s:o}", bkey, json_object());
        json_object_set_new(dst, kname, child);
      }
      dst = json_object_get(child, bkey); /* NULL only for overlapping paths, refused by parse */
    }
  }
  json_t *out = json_object(), *x;
  const char *k;
  json_object_foreach(build, k, x) json_object_set_new(out, k, finish(x));
  json_decref(build);
  return out;
}

/* ---- KeyConditionExpression ---------------------------------------------------------------- */

typedef struct kleaf {
  const char *name;
  ll_kc_op_t op;
  const json_t *lo, *hi;
} kleaf_t;

static int kfail(char *why, size_t sz, const char *msg) {
  snprintf(why, sz, "%s", msg);
  return -1;
}

static void flatten_and(const node_t *n, const node_t **leaves, size_t *nleaves, size_t max) {
  if (n->kind == N_AND) {
    flatten_and(n->kids[0], leaves, nleaves, max);
    flatten_and(n->kids[1], leaves, nleaves, max);
  } else if (*nleaves < max) {
    leaves[*nleaves] = n;
    ++*nleaves;
  } else {
    ++*nleaves;
  }
}

static int key_path(const node_t *n, const char **name, char *why, size_t sz) {
  if (n->path.n != 1) return kfail(why, sz, "KeyConditionExpressions cannot have conditions on nested attributes");
  *name = n->path.els[0].name;
  return 0;
}

static int key_leaf(const node_t *n, kleaf_t *out, char *why, size_t sz) {
  static const char *const multi = "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition";
  if (n->kind == N_CMP) {
    const node_t *a = n->kids[0], *b = n->kids[1];
    cmp_t op = (cmp_t)n->op;
    if (a->kind == N_PATH && b->kind == N_PATH) return kfail(why, sz, multi);
    if (a->kind != N_PATH && b->kind != N_PATH)
      return kfail(why, sz, "Invalid condition in KeyConditionExpression: No key attribute specified");
    if (a->kind != N_PATH) { /* :v < k is k > :v */
      const node_t *t = a;
      a = b;
      b = t;
      op = op == C_LT ? C_GT : op == C_LE ? C_GE : op == C_GT ? C_LT : op == C_GE ? C_LE : op;
    }
    if (key_path(a, &out->name, why, sz) < 0) return -1;
    static const ll_kc_op_t map[] = {[C_EQ] = LL_KC_EQ, [C_NE] = LL_KC_NONE, [C_LT] = LL_KC_LT,
                                     [C_LE] = LL_KC_LE, [C_GT] = LL_KC_GT,  [C_GE] = LL_KC_GE};
    out->op = map[op];
    out->lo = b->value;
    return 0;
  }
  const char *what = n->kind == N_BETWEEN ? "BETWEEN" : "begins_with";
  if (n->kids[0]->kind != N_PATH) {
    snprintf(why, sz, "Invalid condition in KeyConditionExpression: %s operator must have the key attribute as its first operand", what);
    return -1;
  }
  for (size_t i = 1; i < n->n; i++)
    if (n->kids[i]->kind == N_PATH) return kfail(why, sz, multi);
  if (key_path(n->kids[0], &out->name, why, sz) < 0) return -1;
  out->op = n->kind == N_BETWEEN ? LL_KC_BETWEEN : LL_KC_BEGINS;
  out->lo = n->kids[1]->value;
  out->hi = n->kind == N_BETWEEN ? n->kids[2]->value : NULL;
  return 0;
}

int ll_expr_key_condition(const ll_expr_t *e, const char *hash_name, const char *range_name, ll_key_cond_t *out,
                          char *why, size_t sz) {
  ll_assert(e->kind == LL_EXPR_KEY_CONDITION);
  memset(out, 0, sizeof *out);
  const node_t *leaves[2];
  size_t n = 0;
  flatten_and(e->root, leaves, &n, 2);
  kleaf_t kl[2] = {{0}};
  for (size_t i = 0; i < n && i < 2; i++)
    if (key_leaf(leaves[i], &kl[i], why, sz) < 0) return -1;
  if (n > 2 || (n == 2 && strcmp(kl[0].name, kl[1].name) == 0))
    return kfail(why, sz, "KeyConditionExpressions must only contain one condition per key");
  const kleaf_t *hash = NULL, *range = NULL;
  for (size_t i = 0; i < n; i++) {
    if (!strcmp(kl[i].name, hash_name)) hash = &kl[i];
    else range = &kl[i];
  }
  if (!range_name) {
    if (n == 2 || (hash && hash->op != LL_KC_EQ)) return kfail(why, sz, "Query key condition not supported");
  }
  if (!hash) {
    snprintf(why, sz, "Query condition missed key schema element: %s", hash_name);
    return -1;
  }
  if (hash->op != LL_KC_EQ) return kfail(why, sz, "Query key condition not supported");
  if (range && (!range_name || strcmp(range->name, range_name) != 0)) {
    snprintf(why, sz, "Query condition missed key schema element: %s", range_name);
    return -1;
  }
  out->hash_name = hash_name;
  out->hash_value = hash->lo;
  if (range) {
    out->range_name = range_name;
    out->op = range->op;
    out->lo = range->lo;
    out->hi = range->hi;
  }
  return 0;
}

#include "http/router.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char *ll_http_pct_decode(const char *s, size_t len) {
  char *out = ll_malloc(len + 1);
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    char ch = s[i];
    if (ch == '%') {
      if (i + 2 >= len) goto bad;
      int a = hexval(s[i + 1]), b = hexval(s[i + 2]);
      if (a < 0 || b < 0) goto bad;
      ch = (char)(a * 16 + b);
      i += 2;
    }
    if (ch == '\0') goto bad;
    out[o++] = ch;
  }
  out[o] = '\0';
  return out;
bad:
  free(out);
  return NULL;
}

/* Matches one pattern against path; fills params on success. */
static int match(const char *pattern, const char *path, char *params[LL_HTTP_MAX_PARAMS]) {
  size_t plen = strlen(path);
  while (plen > 1 && path[plen - 1] == '/') plen--; /* ignore a trailing '/' */
  const char *p = pattern, *s = path, *end = path + plen;
  int np = 0;
  while (*p) {
    if (p[0] == '{' && p[1] == '+' && p[2] == '}') { /* rest of the path */
      if (s >= end || np == LL_HTTP_MAX_PARAMS) goto fail;
      params[np] = ll_http_pct_decode(s, (size_t)(end - s));
      if (!params[np++]) goto fail;
      s = end;
      p += 3;
      continue;
    }
    if (p[0] == '{' && p[1] == '}') { /* one segment */
      const char *seg_end = memchr(s, '/', (size_t)(end - s));
      if (!seg_end) seg_end = end;
      if (seg_end == s || np == LL_HTTP_MAX_PARAMS) goto fail;
      params[np] = ll_http_pct_decode(s, (size_t)(seg_end - s));
      if (!params[np++]) goto fail;
      s = seg_end;
      p += 2;
      continue;
    }
    if (s >= end || *s != *p) goto fail;
    s++;
    p++;
  }
  if (s != end) goto fail;
  return 1;
fail:
  for (int i = 0; i < np; i++) {
    free(params[i]);
    params[i] = NULL;
  }
  return 0;
}

const ll_http_route_t *ll_http_route_match(const ll_http_route_t *routes, const char *method,
                                           const char *path, char *params[LL_HTTP_MAX_PARAMS]) {
  for (const ll_http_route_t *r = routes; r && r->method; r++) {
    if (strcmp(r->method, "*") != 0 && strcmp(r->method, method) != 0) continue;
    if (match(r->pattern, path, params)) return r;
  }
  return NULL;
}

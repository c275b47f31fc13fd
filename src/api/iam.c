/* Identities and permissions of API requests (api.h): the daemon's own keys are administrators;
 * function instances get temporary credentials (auth/creds) bound to the role a stack deployed
 * for them, and every call made with those is checked against the role's policies
 * (auth/policy) as IAM evaluates identity policies: an explicit Deny wins, else an Allow is
 * needed. Denials carry IAM's message, naming the assumed role, the action and the resource. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "auth/creds.h"
#include "auth/policy.h"
#include "core/clock.h"
#include "core/mem.h"
#include "stack/stack.h"

/* A credential lasts an hour (STS's default), its instance at most that long: instances are
 * retired before it expires, so credentials rotate. serve's --async-time-scale shortens it. */
#define CRED_TTL_MS (3600.0 * 1000)

static uint64_t now_ms(void) { return (uint64_t)ll_wall_ms(); }

const char *ll_api_secret(ll_api_ctx_t *ctx, const char *access_key) {
  const char *s = ll_engine_secret(ctx->engine, access_key);
  if (s || !ctx->creds) return s;
  const ll_temp_cred_t *c = ll_creds_find(ctx->creds, access_key, now_ms());
  return c ? c->secret : NULL;
}

/* The session token the request carries (header, or query for presigned URLs), heap or NULL. */
static char *session_token(ll_http_req_t *req) {
  const ll_kv_t *t = ll_http_header(req->head, "x-amz-security-token");
  if (t) return ll_strndup(t->value, t->value_len);
  return ll_api_query_param(req, "X-Amz-Security-Token");
}

int ll_api_token_problem(ll_http_req_t *req, const char *access_key) {
  ll_api_ctx_t *ctx = req->listener_data;
  if (!ctx->creds || ll_engine_secret(ctx->engine, access_key)) return 0;
  const ll_temp_cred_t *c = ll_creds_find(ctx->creds, access_key, now_ms());
  if (!c) return 0; /* unknown keys never get this far: their signature failed */
  char *tok = session_token(req);
  bool ok = tok && ll_creds_token_equal(c, tok);
  free(tok);
  return ok ? 0 : -1;
}

/* Condition keys IAM sets for a request like this one. */
typedef struct cond_ctx {
  const ll_http_req_t *req;
  const ll_temp_cred_t *cred;
  char ip[64];
  char principal[256];
} cond_ctx_t;

static size_t cond_value(const char *key, const char **values, size_t max, void *ud) {
  cond_ctx_t *c = ud;
  if (max == 0) return 0;
  if (strcasecmp(key, "aws:SecureTransport") == 0) {
    values[0] = "false"; /* the daemon speaks plain HTTP */
    return 1;
  }
  if (strcasecmp(key, "aws:SourceIp") == 0) {
    values[0] = c->ip;
    return 1;
  }
  if (strcasecmp(key, "aws:PrincipalArn") == 0) {
    values[0] = c->cred->role_arn;
    return 1;
  }
  if (strcasecmp(key, "aws:userid") == 0 || strcasecmp(key, "aws:username") == 0) {
    values[0] = c->cred->session_name;
    return 1;
  }
  if (strcasecmp(key, "aws:PrincipalType") == 0) {
    values[0] = "AssumedRole";
    return 1;
  }
  return 0;
}

int ll_api_permitted(ll_http_req_t *req, const char *access_key, const char *action,
                     const char *resource, char *msg, size_t sz) {
  ll_api_ctx_t *ctx = req->listener_data;
  if (!ctx->creds || !access_key || ll_engine_secret(ctx->engine, access_key)) return 0;
  const ll_temp_cred_t *c = ll_creds_find(ctx->creds, access_key, now_ms());
  if (!c) return 0;
  cond_ctx_t cc = {.req = req, .cred = c};
  snprintf(cc.ip, sizeof cc.ip, "%.*s", (int)strcspn(req->remote, ":"), req->remote);
  ll_policy_decision_t d = c->policy ? ll_policy_eval(c->policy, action, resource, cond_value, &cc)
                                     : LL_POLICY_IMPLICIT_DENY;
  if (d == LL_POLICY_ALLOW) return 0;
  char who[400];
  ll_creds_identity_arn(c, who, sizeof who);
  if (d == LL_POLICY_EXPLICIT_DENY)
    snprintf(msg, sz, "User: %s is not authorized to perform: %s on resource: %s with an explicit "
                      "deny in an identity-based policy", who, action, resource);
  else
    snprintf(msg, sz, "User: %s is not authorized to perform: %s on resource: %s because no "
                      "identity-based policy allows the %s action", who, action, resource, action);
  return -1;
}

bool ll_api_restricted(const ll_http_req_t *req) {
  const ll_api_ident_t *id = req->app;
  ll_api_ctx_t *ctx = req->listener_data;
  return ctx->creds && id && !ll_engine_secret(ctx->engine, id->access_key) &&
         ll_creds_find(ctx->creds, id->access_key, now_ms());
}

int ll_api_authorize(ll_http_req_t *req, enum ll_api_proto proto, const char *action,
                     const char *resource) {
  const ll_api_ident_t *id = req->app;
  char msg[1200];
  if (ll_api_permitted(req, id ? id->access_key : NULL, action, resource, msg, sizeof msg) == 0)
    return 0;
  /* Lambda answers 403; the JSON protocols (Kinesis, Logs) 400 */
  ll_api_error(req, proto, proto == LL_PROTO_REST_JSON ? 403 : 400, "AccessDeniedException", "%s", msg);
  return -1;
}

/* ---- the engine's credential hooks -------------------------------------------------------- */

int ll_api_creds_mint(void *ud, const ll_function_t *fn, ll_instance_creds_t *out) {
  ll_api_ctx_t *ctx = ud;
  const char *role = json_string_value(json_object_get(fn->config, "Role"));
  json_t *docs = ctx->stacks && ctx->creds ? ll_stack_role_policies(ctx->stacks, role) : NULL;
  if (!docs) return -1;
  ll_policy_t *p = NULL;
  char why[256];
  if (ll_policy_parse(docs, &p, why, sizeof why) < 0) {
    /* the stack checked it when it deployed the role: a function without its permissions
     * must not run with the administrator's instead */
    fprintf(stderr, "lambdalite: role %s of %s: %s; the function gets no permissions\n", role,
            fn->name, why);
    p = NULL;
  }
  ll_creds_sweep(ctx->creds, now_ms());
  double scale = ctx->time_scale > 0 ? ctx->time_scale : 1.0;
  const ll_temp_cred_t *c = ll_creds_mint(ctx->creds, role, fn->name, p,
                                          (uint64_t)(CRED_TTL_MS * scale), now_ms());
  ll_policy_unref(p);
  snprintf(out->access_key, sizeof out->access_key, "%s", c->access_key);
  snprintf(out->secret, sizeof out->secret, "%s", c->secret);
  out->session_token = ll_strdup(c->session_token);
  out->expires_ms = (int64_t)c->expires_ms;
  return 0;
}

void ll_api_creds_revoke(void *ud, const char *access_key) {
  ll_api_ctx_t *ctx = ud;
  if (ctx->creds) ll_creds_revoke(ctx->creds, access_key);
}

/* ---- Lambda's actions, from the route ----------------------------------------------------- */

int ll__api_authorize_route(ll_http_req_t *req) {
  const ll_api_ident_t *id = req->app;
  ll_api_ctx_t *ctx = req->listener_data;
  if (!ctx->creds || !id || ll_engine_secret(ctx->engine, id->access_key)) return 0;
  const char *op = req->route && req->route->name ? req->route->name : "Unknown";
  const char *pattern = req->route ? req->route->pattern : "";
  char action[128], resource[600];
  bool ours = strncmp(pattern, "/lambdalite/", 12) == 0;
  snprintf(action, sizeof action, "%s:%s", ours ? "lambdalite" : "lambda",
           strcmp(op, "Invoke") == 0           ? "InvokeFunction"
           : strcmp(op, "GetFunctionCode") == 0 ? "GetFunction"
                                               : op);
  const char *region = ll_api_region(req), *acct = ll_engine_account(ctx->engine);
  const char *p0 = req->params[0];
  if (p0 && strstr(pattern, "/functions/{}")) {
    const char *name = strstr(p0, ":function:") ? strstr(p0, ":function:") + 10 : p0;
    snprintf(resource, sizeof resource, "arn:aws:lambda:%s:%s:function:%.*s", region, acct,
             (int)strcspn(name, ":"), name);
  } else if (p0 && strstr(pattern, "/layers/{}")) {
    snprintf(resource, sizeof resource, "arn:aws:lambda:%s:%s:layer:%s%s%s", region, acct, p0,
             req->params[1] ? ":" : "", req->params[1] ? req->params[1] : "");
  } else if (p0 && strstr(pattern, "/event-source-mappings/{}")) {
    snprintf(resource, sizeof resource, "arn:aws:lambda:%s:%s:event-source-mapping:%s", region,
             acct, p0);
  } else {
    snprintf(resource, sizeof resource, "*");
  }
  return ll_api_authorize(req, LL_PROTO_REST_JSON, action, resource);
}

/* serverless.yml -> CloudFormation template compiler.
 *
 * Reads a Serverless Framework v3 service file, resolves its variables (${self:..}, ${opt:..},
 * ${env:..}, ${file(..)}, ${sls:stage}, ${aws:region}, ${aws:accountId}) and compiles the subset
 * lambdalite can deploy into the template `serverless package` would write
 * (.serverless/cloudformation-template-update-stack.json): the same logical ids and property
 * names, so a stack deployed here looks like one deployed by Serverless.
 *
 * Everything is checked before anything is sent: unknown keys (with a "did you mean"), unsupported
 * events and resource types, every Ref / Fn::GetAtt / Fn::Sub reference against the final
 * template and the attributes each type has (stack/types.h), DependsOn cycles, missing files. Each
 * error names the file and the 1-based line of the offending node:
 *
 *   serverless.yml:14: functions.queensHandler.memroySize: unknown key (did you mean memorySize?)
 *
 * Not emitted, deliberately: AWS::Lambda::Version resources and their QualifiedArn outputs
 * (lambdalite does not version functions), and the custom-resource Lambda Serverless adds for
 * `existing: true` S3 events (the daemon implements Custom::S3 itself, so no ServiceToken). */
#ifndef LL_STACK_SLS_H
#define LL_STACK_SLS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

typedef struct ll_sls_opts {
  const char *stage;  /* --stage, or NULL: provider.stage, else "dev" */
  const char *region; /* --region, or NULL: provider.region, else "us-east-1" */
  bool allow_unknown; /* unknown keys become warnings instead of errors */
  const char *(*getenv)(const char *name, void *ud); /* for ${env:X}; NULL -> getenv(3) */
  void *getenv_ud;
} ll_sls_opts_t;

typedef struct ll_sls_artifact {
  char *logical_id; /* owned: "QueensHandlerLambdaFunction" or "KdbLambdaLayer" */
  char *path;       /* owned, a real absolute path: a dir to zip (ll_package_dir), or a .zip file */
  bool is_dir;
  char **patterns;  /* owned, NULL-terminated package patterns to pass to ll_package_dir (may be
                       empty); for functions they start with Serverless's default excludes */
  json_t *code;     /* borrowed from template: the function's Code / the layer's Content object,
                       {"S3Bucket": .., "S3Key": ""}; the CLI sets S3Key after uploading */
} ll_sls_artifact_t;

typedef struct ll_sls_result {
  json_t *template; /* owned: {"AWSTemplateFormatVersion","Description","Resources","Outputs"} */
  char *service, *stage, *region, *stack_name; /* owned; stack_name = "<service>-<stage>" */
  ll_sls_artifact_t *artifacts; /* owned: one per function, then one per layer */
  size_t nartifacts;
  char **warnings;  /* owned; with allow_unknown:
                       "serverless.yml:12: functions.f.foo: unknown key, ignored" */
  size_t nwarnings;
  json_t *functions; /* owned: {"queensHandler": {"logical_id": "QueensHandlerLambdaFunction",
                        "name": "queens-...-dev-queensHandler"}, ...} for `deploy function -f`
                        and `info` */
} ll_sls_result_t;

/* Reads and compiles path (a serverless.yml); relative paths in it resolve against its
 * directory. Returns 0 with *out filled (free it with ll_sls_result_free), or -1 with err filled
 * ("serverless.yml:LINE: KEY.PATH: what is wrong", using the file's basename) and *out zeroed. */
int ll_sls_compile(const char *path, const ll_sls_opts_t *opts, ll_sls_result_t *out, ll_err_t *err);

/* The same from text already in memory (need not be NUL-terminated). display_name is used in
 * messages; base_dir resolves relative paths (${file(...)}, package artifacts, code dirs).
 * opts may be NULL (all defaults). */
int ll_sls_compile_text(const char *text, size_t len, const char *display_name, const char *base_dir,
                        const ll_sls_opts_t *opts, ll_sls_result_t *out, ll_err_t *err);

/* Frees everything *r owns and zeroes it; a zeroed result is fine. */
void ll_sls_result_free(ll_sls_result_t *r);

/* Serverless's logical-id normalisation, exposed for the CLI and tests: the first letter
 * upper-cased, '-' -> "Dash", '_' -> "Underscore" ("on-upload" -> "OnDashupload"). Owned. */
char *ll_sls_normalize_name(const char *name);

#endif

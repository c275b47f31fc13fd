/* libFuzzer target: the serverless.yml compiler (src/stack/sls.c). The bytes are the YAML text,
 * compiled against a fixed base directory (made once: a vars.yml, a vars.json, a layer dir and a
 * code.zip, so ${file()}, layers and artifacts get exercised) with a fixed ${env:} table, once
 * strict and once with allow_unknown. It must never crash or leak, a refusal must say why, and
 * a success must give a template with Resources and an artifact per function. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stack/sls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char base[64];

static const char *fixed_env(const char *name, void *ud) {
  (void)ud;
  if (strcmp(name, "STAGE") == 0) return "prod";
  if (strcmp(name, "TABLE") == 0) return "t";
  return NULL;
}

static void put(const char *name, const char *text) {
  char p[128];
  snprintf(p, sizeof p, "%s/%s", base, name);
  FILE *f = fopen(p, "w");
  if (!f) abort();
  fputs(text, f);
  fclose(f);
}

static void setup(void) {
  snprintf(base, sizeof base, "/tmp/ll-sls-fuzz-%d", (int)getpid());
  mkdir(base, 0755);
  char p[128];
  snprintf(p, sizeof p, "%s/layer", base);
  mkdir(p, 0755);
  put("layer/q", "q");
  put("vars.yml", "memory: 256\nlist: [a, b]\nmap: {k: ${self:service}}\n");
  put("vars.json", "{\"db\": {\"table\": \"x\", \"n\": 3}}");
  put("code.zip", "PK");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!base[0]) setup();
  for (int strict = 0; strict < 2; strict++) {
    ll_sls_opts_t o = {.stage = strict ? NULL : "fuzz", .allow_unknown = !strict, .getenv = fixed_env};
    ll_sls_result_t r;
    ll_err_t err = LL_ERR_INIT;
    if (ll_sls_compile_text((const char *)data, size, "serverless.yml", base, &o, &r, &err) < 0) {
      if (!err.msg[0] || r.template) abort();
      continue;
    }
    if (!json_is_object(json_object_get(r.template, "Resources"))) abort();
    if (json_object_size(r.functions) + 0 > r.nartifacts) abort();
    for (size_t i = 0; i < r.nartifacts; i++)
      if (!r.artifacts[i].path || !json_is_object(r.artifacts[i].code)) abort();
    char *s = json_dumps(r.template, 0);
    if (!s) abort();
    free(s);
    ll_sls_result_free(&r);
  }
  return 0;
}

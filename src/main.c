/* lambdalite: one binary, the daemon (`serve`) and its client subcommands; dispatch is a
 * table. */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

const ll_command_t ll_commands[] = {
    {"serve", ll_cmd_serve, "run the daemon (Lambda API, Runtime API, logs)"},
    {"create-function", ll_cmd_create_function, "create a function from a folder or zip"},
    {"invoke", ll_cmd_invoke, "invoke a function and print its result"},
    {"list", ll_cmd_list, "list functions"},
    {"get", ll_cmd_get, "show a function's configuration"},
    {"delete", ll_cmd_delete, "delete a function"},
    {"logs", ll_cmd_logs, "print (or follow) a function's logs"},
    {"info", ll_cmd_info, "show the daemon's address, data dir, sandbox in force and stack"},
    {"deploy", ll_cmd_deploy, "deploy a serverless.yml service as a stack (or one function's code)"},
    {"remove", ll_cmd_remove, "remove a serverless.yml service's stack and what it made"},
    {NULL, NULL, NULL},
};

static void usage(FILE *f) {
  fputs("usage: lambdalite COMMAND [OPTIONS]   (lambdalite COMMAND --help for more)\n\n", f);
  for (const ll_command_t *c = ll_commands; c->name; c++)
    fprintf(f, "  %-16s %s\n", c->name, c->summary);
  fputs("\nClients find the daemon with --endpoint URL, else $LAMBDALITE_ENDPOINT, else\n"
        "http://127.0.0.1:4566, and sign with AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, else the\n"
        "development key test/test.\n",
        f);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return 0;
  }
  for (const ll_command_t *c = ll_commands; c->name; c++) {
    if (strcmp(argv[1], c->name) != 0) continue;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = c->run(argc - 1, argv + 1);
    curl_global_cleanup();
    return rc;
  }
  fprintf(stderr, "lambdalite: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}

/* The lambdalite command line: `serve` starts the daemon; every other subcommand is a client
 * of the daemon's HTTP API (signed with SigV4), found by --endpoint, else $LAMBDALITE_ENDPOINT,
 * else http://127.0.0.1:4566; credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, else
 * the daemon's development key. */
#ifndef LL_CLI_CLI_H
#define LL_CLI_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct ll_command {
  const char *name;
  int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
  const char *summary;
} ll_command_t;

extern const ll_command_t ll_commands[];

int ll_cmd_serve(int argc, char **argv);
int ll_cmd_create_function(int argc, char **argv);
int ll_cmd_invoke(int argc, char **argv);
int ll_cmd_list(int argc, char **argv);
int ll_cmd_get(int argc, char **argv);
int ll_cmd_delete(int argc, char **argv);
int ll_cmd_logs(int argc, char **argv);
int ll_cmd_info(int argc, char **argv);
int ll_cmd_deploy(int argc, char **argv);
int ll_cmd_remove(int argc, char **argv);
/* The stack section of `lambdalite info` when a serverless.yml is given or in the current
 * directory (stack.c): prints it (or adds "stack" to doc with --json). 0, or 1 on errors. */
int ll__info_stack(const char *endpoint, const char *config, const char *stage, json_t *doc,
                   bool as_json);

/* ---- the client side (client.c) ---------------------------------------------------------- */

typedef struct ll_client_response {
  long status;
  char *body; /* owned, NUL-terminated */
  size_t len;
  char *function_error; /* X-Amz-Function-Error, owned or NULL */
  char *log_result;     /* X-Amz-Log-Result, owned or NULL */
  char *error_type;     /* x-amzn-ErrorType, owned or NULL */
} ll_client_response_t;

/* Sends a signed request (service "lambda" or "logs") to the endpoint; extra_headers is a
 * NULL-terminated list of "Name: value" strings. Returns 0 with *resp filled, or -1 after
 * printing why the daemon could not be reached. */
int ll_client_request(const char *endpoint, const char *service, const char *method,
                      const char *path, const char *body, size_t len,
                      const char *const *extra_headers, ll_client_response_t *resp);
/* As ll_client_request, also handing each complete line of the body to on_line as it arrives
 * (streamed answers: a stack's events). The whole body is still in resp->body at the end. */
int ll_client_request_lines(const char *endpoint, const char *service, const char *method,
                            const char *path, const char *body, size_t len,
                            const char *const *extra_headers,
                            void (*on_line)(void *ud, const char *line, size_t len), void *ud,
                            ll_client_response_t *resp);
void ll_client_response_free(ll_client_response_t *r);
/* Prints the AWS error in resp to stderr as "lambdalite: Code: message"; returns 1. */
int ll_client_report_error(const ll_client_response_t *resp);
/* The endpoint from --endpoint (may be NULL), $LAMBDALITE_ENDPOINT, or the default. */
const char *ll_client_endpoint(const char *flag);

#endif

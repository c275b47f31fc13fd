/* echo: a Lambda function that returns its payload unchanged.
 *
 * Test hooks, chosen by a JSON object payload with an "action" key (found with strstr, not a
 * JSON parser, so keep the payloads simple):
 *   {"action":"error"}           function error EchoError / "asked to fail"
 *   {"action":"crash"}           exit(3) in the middle of the invocation
 *   {"action":"sleep","ms":N}    sleep N ms, then echo
 *   {"action":"pid"}             {"pid":<pid>,"invocations":<invocations served by this process>}
 *   {"action":"env"}             the AWS_*, LAMBDA_*, _HANDLER*, TZ*, LANG* environment as JSON
 *   {"action":"log","text":"…"}  print the text on stdout and stderr, then echo
 *   {"action":"s3get","bucket":"B","key":"K"}  stream the object with ll_s3_get_stream:
 *                                 {"bytes":N,"pieces":P,"largest":L,"fnv1a":"<16 hex>"} (keys
 *                                 plain: no escapes), or the function error S3Error
 * Nothing is printed otherwise.
 *
 * With ECHO_STAMP_UDP=127.0.0.1:PORT in the environment, each invocation first sends one UDP
 * datagram there: the CLOCK_MONOTONIC time in nanoseconds, the number of Kinesis records in the
 * payload (occurrences of "eventID"), then the payload's first 1 KB, separated by spaces
 * (bench/stream times put -> function start and the records delivered per second with it).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "lambdalite_runtime.h"

extern char **environ;

static unsigned long invocations;

/* Returns the value that follows "key": in the payload (spaces skipped), or NULL. */
static const char *find_value(const char *payload, const char *key) {
  const char *p = strstr(payload, key);
  if (!p) return NULL;
  p += strlen(key);
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  if (*p != ':') return NULL;
  p++;
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  return p;
}

/* True if the JSON string at v (pointing at its opening quote) equals word. */
static int is_word(const char *v, const char *word) {
  size_t n = strlen(word);
  return v[0] == '"' && strncmp(v + 1, word, n) == 0 && v[n + 1] == '"';
}

static int do_env(ll_response *out) {
  static const char *const prefixes[] = {"AWS_", "LAMBDA_", "_HANDLER", "TZ", "LANG"};
  int first = 1;
  ll_response_printf(out, "{");
  for (char **e = environ; *e; e++) {
    const char *eq = strchr(*e, '=');
    if (!eq) continue;
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
      if (strncmp(*e, prefixes[i], strlen(prefixes[i])) != 0) continue;
      ll_response_printf(out, first ? "" : ",");
      ll_response_json_string(out, *e, (size_t)(eq - *e));
      ll_response_printf(out, ":");
      ll_response_json_string(out, eq + 1, strlen(eq + 1));
      first = 0;
      break;
    }
  }
  return ll_response_printf(out, "}");
}

/* Prints the JSON string at v (opening quote) with the common escapes undone, then a newline. */
static void print_text(FILE *f, const char *v) {
  if (*v != '"') return;
  for (v++; *v && *v != '"'; v++) {
    int c = (unsigned char)*v;
    if (c == '\\' && v[1]) {
      v++;
      c = *v == 'n' ? '\n' : *v == 't' ? '\t' : *v == 'r' ? '\r' : (unsigned char)*v;
    }
    fputc(c, f);
  }
  fputc('\n', f);
  fflush(f);
}

static int stamp_fd = -1;
static struct sockaddr_in stamp_to;

static void stamp_open(void) {
  const char *addr = getenv("ECHO_STAMP_UDP");
  const char *colon = addr ? strrchr(addr, ':') : NULL;
  if (!colon) return;
  char host[64];
  snprintf(host, sizeof host, "%.*s", (int)(colon - addr), addr);
  stamp_to.sin_family = AF_INET;
  stamp_to.sin_port = htons((unsigned short)atoi(colon + 1));
  if (inet_pton(AF_INET, host, &stamp_to.sin_addr) == 1) stamp_fd = socket(AF_INET, SOCK_DGRAM, 0);
}

static void stamp(const ll_invocation *in) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  long records = 0;
  for (const char *p = in->payload; (p = strstr(p, "\"eventID\"")); p += 9) records++;
  char msg[1100];
  int n = snprintf(msg, sizeof msg, "%lld %ld ", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec,
                   records);
  size_t take = in->payload_len < 1024 ? in->payload_len : 1024;
  memcpy(msg + n, in->payload, take);
  sendto(stamp_fd, msg, (size_t)n + take, 0, (struct sockaddr *)&stamp_to, sizeof stamp_to);
}

/* The JSON string at v (its opening quote), without escapes, into out. */
static void word(const char *v, char *out, size_t sz) {
  size_t n = v && v[0] == '"' ? strcspn(v + 1, "\"") : 0;
  snprintf(out, sz, "%.*s", (int)n, n ? v + 1 : "");
}

typedef struct digest {
  unsigned long long bytes, pieces, largest, fnv;
} digest_t;

static int on_piece(void *ud, const char *data, size_t len) {
  digest_t *d = ud;
  d->bytes += len;
  d->pieces++;
  if (len > d->largest) d->largest = len;
  for (size_t i = 0; i < len; i++) d->fnv = (d->fnv ^ (unsigned char)data[i]) * 0x100000001b3ull;
  return 0;
}

static int do_s3get(const char *payload, ll_response *out) {
  char bucket[64], key[1024], err[256];
  word(find_value(payload, "\"bucket\""), bucket, sizeof bucket);
  word(find_value(payload, "\"key\""), key, sizeof key);
  digest_t d = {0, 0, 0, 0xcbf29ce484222325ull};
  if (ll_s3_get_stream(bucket, key, on_piece, &d, err, sizeof err) != 0)
    return ll_response_error(out, "S3Error", err);
  return ll_response_printf(out, "{\"bytes\":%llu,\"pieces\":%llu,\"largest\":%llu,\"fnv1a\":\"%016llx\"}",
                            d.bytes, d.pieces, d.largest, d.fnv);
}

static int handle(const ll_invocation *in, ll_response *out) {
  if (stamp_fd >= 0) stamp(in);
  invocations++;
  const char *p = in->payload;
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  const char *action = *p == '{' ? find_value(p, "\"action\"") : NULL;
  if (action) {
    if (is_word(action, "error")) return ll_response_error(out, "EchoError", "asked to fail");
    if (is_word(action, "crash")) exit(3);
    if (is_word(action, "pid")) {
      return ll_response_printf(out, "{\"pid\":%ld,\"invocations\":%lu}", (long)getpid(),
                                invocations);
    }
    if (is_word(action, "env")) return do_env(out);
    if (is_word(action, "s3get")) return do_s3get(p, out);
    if (is_word(action, "sleep")) {
      const char *ms = find_value(p, "\"ms\"");
      long n = ms ? strtol(ms, NULL, 10) : 0;
      struct timespec ts = {n / 1000, n % 1000 * 1000000L};
      while (n > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
    } else if (is_word(action, "log")) {
      const char *text = find_value(p, "\"text\"");
      if (text) {
        print_text(stdout, text);
        print_text(stderr, text);
      }
    }
  }
  return ll_response_set(out, in->payload, in->payload_len);
}

int main(void) {
  stamp_open();
  return ll_runtime_main(handle) ? 1 : 0;
}

/* bench/table: DynamoDB PutItem and GetItem through the daemon (ops/s and p50, one connection
 * and 16), each beside a baseline measured in the same run: raw SQLite in one process doing
 * the same writes (INSERT OR REPLACE of the item's JSON under its key, one transaction each,
 * WAL with synchronous=NORMAL as the daemon) and reads (SELECT by key) of the same rows.
 *
 *   table --endpoint URL --dir DIR [--seconds S]
 *
 * DIR is a directory on the daemon's disk for the baseline's database. */
#include <getopt.h>
#include <sqlite3.h>

#include "benchlib.h"

#define TABLE "bench-table"
#define ITEM "{\"pk\":{\"S\":\"key-0001\"},\"payload\":{\"S\":\"%s\"},\"n\":{\"N\":\"42\"}}"

static char *request(const char *host, const char *action, const char *body, size_t *len) {
  char target[64];
  snprintf(target, sizeof target, "DynamoDB_20120810.%s", action);
  char *r = bench_signed_json(host, "dynamodb", target, body, len);
  /* JSON 1.0 */
  char *ct = strstr(r, "application/x-amz-json-1.1");
  if (ct) ct[strlen("application/x-amz-json-1.")] = '0';
  return r;
}

static int call(int port, const char *host, const char *action, const char *body) {
  size_t len;
  char *req = request(host, action, body, &len);
  int fd = bench_connect(port);
  char buf[1 << 16];
  size_t have = 0;
  int st = write(fd, req, len) == (ssize_t)len ? bench_read_response(fd, buf, sizeof buf, &have) : -1;
  close(fd);
  free(req);
  return st;
}

/* The baseline: the same rows in SQLite, from one process; ops/s and p50 (us). */
static double sqlite_baseline(const char *dir, const char *item, bool write_it, double seconds,
                              double *p50) {
  char path[4096];
  snprintf(path, sizeof path, "%s/bench-table.db", dir);
  sqlite3 *db;
  sqlite3_open(path, &db);
  sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                   "CREATE TABLE IF NOT EXISTS items(tid INTEGER, hk BLOB, rk BLOB, item TEXT,"
                   " PRIMARY KEY(tid, hk, rk)) WITHOUT ROWID;", NULL, NULL, NULL);
  sqlite3_stmt *q;
  sqlite3_prepare_v2(db, write_it ? "INSERT OR REPLACE INTO items VALUES(1, ?1, x'', ?2)"
                                  : "SELECT item FROM items WHERE tid = 1 AND hk = ?1 AND rk = x''",
                     -1, &q, NULL);
  if (!write_it) sqlite3_exec(db, "INSERT OR REPLACE INTO items VALUES(1, 'key-0001', x'', 'x')", NULL, NULL, NULL);
  size_t n = 0, cap = 1 << 16;
  uint64_t *lat = ll_malloc(cap * sizeof *lat);
  uint64_t end = ll_mono_ns() + (uint64_t)(seconds * 1e9);
  while (ll_mono_ns() < end) {
    uint64_t t0 = ll_mono_ns();
    sqlite3_reset(q);
    sqlite3_bind_blob(q, 1, "key-0001", 8, SQLITE_STATIC);
    if (write_it) sqlite3_bind_text(q, 2, item, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW) (void)sqlite3_column_text(q, 0);
    if (n == cap) lat = ll_realloc(lat, (cap *= 2) * sizeof *lat);
    lat[n++] = ll_mono_ns() - t0;
  }
  sqlite3_finalize(q);
  sqlite3_close(db);
  unlink(path);
  qsort(lat, n, sizeof *lat, bench_cmp_u64);
  *p50 = n ? (double)lat[n / 2] / 1e3 : 0;
  free(lat);
  return (double)n / seconds;
}

int main(int argc, char **argv) {
  const char *endpoint = NULL, *dir = NULL;
  double seconds = 3;
  static const struct option opts[] = {
      {"endpoint", 1, NULL, 'e'}, {"dir", 1, NULL, 'd'}, {"seconds", 1, NULL, 's'}, {NULL, 0, NULL, 0}};
  for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
    switch (c) {
      case 'e': endpoint = optarg; break;
      case 'd': dir = optarg; break;
      case 's': seconds = atof(optarg); break;
      default: return 2;
    }
  }
  if (!endpoint || !dir) {
    fprintf(stderr, "usage: table --endpoint URL --dir DIR [--seconds S]\n");
    return 2;
  }
  char host[128];
  int port = bench_endpoint(endpoint, host);
  int st = call(port, host, "CreateTable",
                "{\"TableName\":\"" TABLE "\",\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"}],"
                "\"AttributeDefinitions\":[{\"AttributeName\":\"pk\",\"AttributeType\":\"S\"}],"
                "\"BillingMode\":\"PAY_PER_REQUEST\"}");
  if (st != 200) {
    fprintf(stderr, "table: CreateTable answered %d\n", st);
    return 1;
  }
  char payload[101];
  memset(payload, 'p', 100);
  payload[100] = '\0';
  char item[512], put[700];
  snprintf(item, sizeof item, ITEM, payload);
  snprintf(put, sizeof put, "{\"TableName\":\"" TABLE "\",\"Item\":%s}", item);
  const char *get = "{\"TableName\":\"" TABLE "\",\"Key\":{\"pk\":{\"S\":\"key-0001\"}}}";
  printf("bench/table: 1 item of ~150 B, %.0f s per figure\n", seconds);
  printf("%-44s %10s %10s %12s\n", "", "p50 us", "ops/s", "ratio ops/s");
  for (int w = 1; w >= 0; w--) {
    double bp50, base = sqlite_baseline(dir, item, w, seconds, &bp50);
    printf("%-44s %10.1f %10.0f\n", w ? "baseline SQLite INSERT OR REPLACE (1 proc)" : "baseline SQLite SELECT by key (1 proc)",
           bp50, base);
    size_t len;
    char *req = request(host, w ? "PutItem" : "GetItem", w ? put : get, &len);
    for (int conns = 1; conns <= 16; conns *= 16) {
      result_t r = bench_measure(port, req, len, conns, seconds, 200);
      char label[64];
      snprintf(label, sizeof label, "%s, %d conn%s%s", w ? "PutItem" : "GetItem", conns,
               conns > 1 ? "s" : "", r.errors ? " (errors!)" : "");
      printf("%-44s %10.1f %10.0f %11.2fx\n", label, r.p50_us, r.rps, r.rps / base);
    }
    free(req);
  }
  return 0;
}

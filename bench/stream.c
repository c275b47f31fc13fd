/* bench/stream: Kinesis-style streams. PutRecords ingest (100-byte records in batches of 500
 * over a 4-shard stream, from several connections) in records/s beside the disk's own rate —
 * the same bytes written sequentially with one fsync per batch, from one thread — and the
 * GetRecords read rate of what was ingested (up to READ_MAX records a shard), beside the
 * daemon's raw loopback HTTP round trip rate (an unknown target answered 400 at once).
 *
 * With --latency-stream, also put -> function start through an event source mapping: records
 * put one at a time, each holding its send time, into a stream mapped (BatchSize 1) to the echo
 * function started with ECHO_STAMP_UDP=127.0.0.1:PORT, which reports when each invocation
 * began; beside the daemon's loopback round trip at one connection.
 *
 * With --mapped-stream too, records per second through a mapping (BatchSize 1000) to the same
 * function: PutRecords from one connection, counted as the function starts each batch.
 *
 *   stream --endpoint URL --stream NAME --dir DIR [--seconds S] [--conns N,M.. (4,16)]
 *          [--latency-stream NAME --udp-port PORT [--count N]]
 *          [--mapped-stream NAME [--mapped-records N (500000)]]
 *
 * DIR is a directory on the daemon's disk for the baseline's file. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include "benchlib.h"

#define BATCH 500
#define RECORD 100
#define READ_MAX 500000

/* A PutRecords body of BATCH records of RECORD bytes of `fill`, partition keys prefix0.. (so
 * they spread over the shards); heap. */
static char *put_records_body(const char *stream, char fill, const char *prefix) {
  char data[RECORD + 1];
  memset(data, fill, RECORD);
  data[RECORD] = '\0';
  char *b64 = ll_base64_encode(data, RECORD);
  json_t *recs = json_array();
  for (int i = 0; i < BATCH; i++) {
    char key[16];
    snprintf(key, sizeof key, "%s%d", prefix, i);
    json_array_append_new(recs, json_pack("{s:s,s:s}", "Data", b64, "PartitionKey", key));
  }
  free(b64);
  json_t *put = json_pack("{s:s,s:o}", "StreamName", stream, "Records", recs);
  char *body = json_dumps(put, JSON_COMPACT);
  json_decref(put);
  return body;
}

/* The disk alone: BATCH records' worth of bytes (with a 26-byte header each, as the log writes)
 * appended and fsynced per batch, for seconds. Records per second. */
static double disk_baseline(const char *dir, double seconds) {
  char path[4096];
  snprintf(path, sizeof path, "%s/bench-stream-baseline", dir);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    perror(path);
    exit(1);
  }
  size_t len = (size_t)BATCH * (RECORD + 26);
  char *buf = ll_malloc(len);
  memset(buf, 'x', len);
  uint64_t end = ll_mono_ns() + (uint64_t)(seconds * 1e9), t0 = ll_mono_ns();
  long batches = 0;
  while (ll_mono_ns() < end) {
    if (write(fd, buf, len) != (ssize_t)len || fdatasync(fd) < 0) {
      perror("baseline write");
      exit(1);
    }
    batches++;
  }
  double secs = (double)(ll_mono_ns() - t0) / 1e9;
  close(fd);
  unlink(path);
  free(buf);
  return (double)batches * BATCH / secs;
}

/* One request on fd (a fresh keep-alive connection used for nothing else); the body of its
 * answer as text (heap; NULL on failure), or parsed (call). */
static char *call_text(int fd, const char *host, const char *target, const char *body) {
  size_t len;
  char *req = bench_signed_json(host, "kinesis", target, body, &len);
  ssize_t w = write(fd, req, len);
  free(req);
  if (w < 0) return NULL;
  static char buf[16 << 20];
  size_t n = 0;
  for (;;) {
    ssize_t r = read(fd, buf + n, sizeof buf - n - 1);
    if (r <= 0) return NULL;
    n += (size_t)r;
    buf[n] = '\0';
    char *end = strstr(buf, "\r\n\r\n");
    if (!end) continue;
    char *cl = strcasestr(buf, "content-length:");
    size_t blen = cl ? strtoul(cl + 15, NULL, 10) : 0;
    size_t head = (size_t)(end - buf) + 4;
    if (n < head + blen) continue;
    return ll_strndup(buf + head, blen);
  }
}

static json_t *call(int fd, const char *host, const char *target, const char *body) {
  char *text = call_text(fd, host, target, body);
  json_t *doc = text ? json_loads(text, 0, NULL) : NULL;
  free(text);
  return doc;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* put -> function start: count records put one at a time into `stream`; the mapped function
 * answers each start on the UDP socket. Fills p50/p99 in microseconds; returns how many
 * starts never came. */
static int put_to_start(int port, const char *host, const char *stream, int udp_port, int count,
                        double *p50, double *p99) {
  int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)udp_port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (u < 0 || bind(u, (struct sockaddr *)&a, sizeof a) < 0) {
    perror("bench/stream: udp socket");
    exit(1);
  }
  int fd = bench_connect(port);
  double *lat = ll_calloc((size_t)count, sizeof *lat);
  int got = 0, lost = 0;
  for (int i = 0; i < count; i++) {
    char sent[32], *b64, body[512];
    snprintf(sent, sizeof sent, "%llu", (unsigned long long)ll_mono_ns());
    b64 = ll_base64_encode(sent, strlen(sent));
    snprintf(body, sizeof body, "{\"StreamName\":\"%s\",\"PartitionKey\":\"k\",\"Data\":\"%s\"}",
             stream, b64);
    free(b64);
    json_decref(call(fd, host, "Kinesis_20131202.PutRecord", body));
    char msg[2048];
    struct pollfd pfd = {u, POLLIN, 0};
    if (poll(&pfd, 1, 2000) <= 0) {
      lost++;
      continue;
    }
    ssize_t n = recv(u, msg, sizeof msg - 1, 0);
    if (n <= 0) continue;
    msg[n] = '\0';
    unsigned long long start = strtoull(msg, NULL, 10); /* then the record count, the payload */
    char *d = strstr(msg, "\"data\":\"");
    size_t dl = 0;
    uint8_t *raw = d ? ll_base64_decode(d + 8, strcspn(d + 8, "\""), &dl) : NULL;
    if (raw) {
      char t[32];
      snprintf(t, sizeof t, "%.*s", (int)dl, (const char *)raw);
      lat[got++] = (double)(start - strtoull(t, NULL, 10)) / 1e3;
      free(raw);
    }
  }
  close(fd);
  close(u);
  qsort(lat, (size_t)got, sizeof *lat, cmp_double);
  *p50 = got ? lat[got / 2] : 0;
  *p99 = got ? lat[(int)(got * 0.99)] : 0;
  free(lat);
  return lost;
}

/* Records through a mapping: total records put into `stream` (PutRecords of BATCH from one
 * connection, as fast as acknowledged), counted as the mapped function reports each batch it
 * starts. Records per second from the first put to the last record started; 0 on a timeout.
 * With udp_port 0, only the puts are timed (the baseline: the same producer, no mapping). */
static double through_mapping(int port, const char *host, const char *stream, int udp_port,
                              long total) {
  int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)udp_port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (u < 0 || (udp_port && bind(u, (struct sockaddr *)&a, sizeof a) < 0)) {
    perror("bench/stream: udp socket");
    exit(1);
  }
  char *body = put_records_body(stream, 'q', "p");
  int big = 8 << 20;
  setsockopt(u, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  int fd = bench_connect(port);
  uint64_t t0 = ll_mono_ns(), last = t0;
  long put_n = 0, seen = 0;
  while (seen < total) {
    if (put_n < total) {
      json_decref(call(fd, host, "Kinesis_20131202.PutRecords", body));
      put_n += BATCH;
    }
    if (!udp_port) {
      seen = put_n;
      last = ll_mono_ns();
      continue;
    }
    /* drain what the function reported; once everything is put, wait (5 s at most) */
    int timeout = put_n < total ? 0 : 5000;
    bool got = false;
    char msg[2048];
    struct pollfd pfd = {u, POLLIN, 0};
    while (seen < total && poll(&pfd, 1, timeout) > 0) {
      ssize_t n = recv(u, msg, sizeof msg - 1, 0);
      if (n <= 0) break;
      msg[n] = '\0';
      char *sp = strchr(msg, ' ');
      seen += sp ? strtol(sp + 1, NULL, 10) : 0;
      last = ll_mono_ns();
      got = true;
      timeout = 0;
    }
    if (!got && put_n >= total && seen < total) break; /* nothing for 5 s */
  }
  close(fd);
  close(u);
  free(body);
  return seen >= total ? (double)seen / ((double)(last - t0) / 1e9) : 0;
}

int main(int argc, char **argv) {
  const char *endpoint = NULL, *stream = NULL, *dir = NULL, *lat_stream = NULL, *fan_stream = NULL;
  double seconds = 3;
  const char *levels = "4,16";
  int udp_port = 0, count = 1000;
  long fan_total = 500000;
  static const struct option opts[] = {{"endpoint", required_argument, 0, 'e'},
                                       {"stream", required_argument, 0, 's'},
                                       {"dir", required_argument, 0, 'd'},
                                       {"seconds", required_argument, 0, 'S'},
                                       {"conns", required_argument, 0, 'c'},
                                       {"latency-stream", required_argument, 0, 'l'},
                                       {"udp-port", required_argument, 0, 'u'},
                                       {"count", required_argument, 0, 'n'},
                                       {"mapped-stream", required_argument, 0, 'm'},
                                       {"mapped-records", required_argument, 0, 'r'},
                                       {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (c == 'e') endpoint = optarg;
    else if (c == 's') stream = optarg;
    else if (c == 'd') dir = optarg;
    else if (c == 'S') seconds = atof(optarg);
    else if (c == 'c') levels = optarg;
    else if (c == 'l') lat_stream = optarg;
    else if (c == 'u') udp_port = atoi(optarg);
    else if (c == 'n') count = atoi(optarg);
    else if (c == 'm') fan_stream = optarg;
    else if (c == 'r') fan_total = atol(optarg);
    else return 2;
  }
  if (!endpoint || !stream || !dir) {
    fprintf(stderr, "usage: stream --endpoint URL --stream NAME --dir DIR [--seconds S] [--conns N,M..]\n");
    return 2;
  }
  char host[128];
  int port = bench_endpoint(endpoint, host);

  /* PutRecords of 500 x 100 B, partition keys spread over the shards */
  char *body = put_records_body(stream, 'd', "k");
  size_t len;
  char *req = bench_signed_json(host, "kinesis", "Kinesis_20131202.PutRecords", body, &len);
  free(body);
  int conns[8], nlevels = 0;
  for (const char *p = levels; *p && nlevels < 8; p += strspn(p, ","))
    conns[nlevels++] = (int)strtol(p, (char **)&p, 10);
  result_t in[8];
  for (int i = 0; i < nlevels; i++) in[i] = bench_measure(port, req, len, conns[i], seconds, 200);
  free(req);
  double disk = disk_baseline(dir, seconds);

  /* read back (up to READ_MAX records per shard) */
  int fd = bench_connect(port);
  uint64_t t0 = ll_mono_ns();
  long records = 0;
  for (int s = 0; s < 4; s++) {
    char q[256];
    snprintf(q, sizeof q,
             "{\"StreamName\":\"%s\",\"ShardId\":\"shardId-%012d\",\"ShardIteratorType\":\"TRIM_HORIZON\"}",
             stream, s);
    json_t *r = call(fd, host, "Kinesis_20131202.GetShardIterator", q);
    char *it = ll_strdup(json_string_value(json_object_get(r, "ShardIterator")));
    json_decref(r);
    while (it) {
      char *gq = ll_sprintf("{\"ShardIterator\":\"%s\",\"Limit\":10000}", it);
      /* read as a consumer would, not through a JSON tree (which would measure jansson) */
      char *g = call_text(fd, host, "Kinesis_20131202.GetRecords", gq);
      free(gq);
      free(it);
      it = NULL;
      size_t got = 0;
      for (char *p = g; p && (p = strstr(p, "\"SequenceNumber\"")); p += 16) got++;
      records += (long)got;
      char *nx = g ? strstr(g, "\"NextShardIterator\":\"") : NULL;
      if (got && nx && records < (long)READ_MAX * (s + 1))
        it = ll_strndup(nx + 21, strcspn(nx + 21, "\""));
      free(g);
    }
  }
  double read_secs = (double)(ll_mono_ns() - t0) / 1e9;
  close(fd);
  size_t rlen;
  char *ping = bench_signed_json(host, "kinesis", "Kinesis_20131202.Nothing", "{}", &rlen);
  result_t rt = bench_measure(port, ping, rlen, 1, seconds < 2 ? seconds : 2, 400);
  free(ping);

  printf("bench/stream: PutRecords of %d x %d B records, 4 shards, fsync batch, %.0f s each\n",
         BATCH, RECORD, seconds);
  printf("%-44s %14s\n", "", "records/s");
  printf("%-44s %14.0f\n", "baseline: disk write + fdatasync per batch", disk);
  for (int i = 0; i < nlevels; i++) {
    char what[64];
    snprintf(what, sizeof what, "lambdalite PutRecords, %d connections", conns[i]);
    printf("%-44s %14.0f   (%.2fx disk; p50 %.0f us, p99 %.0f us per batch; %d errors)\n", what,
           in[i].rps * BATCH, in[i].rps * BATCH / disk, in[i].p50_us, in[i].p99_us, in[i].errors);
  }
  printf("%-44s %14.0f   (%ld records in %.2f s)\n", "lambdalite GetRecords (Limit 10000)",
         (double)records / read_secs, records, read_secs);
  printf("%-44s %14.0f   (requests/s: the HTTP floor)\n", "baseline: daemon round trip", rt.rps);
  if (lat_stream && udp_port) {
    double p50, p99;
    int lost = put_to_start(port, host, lat_stream, udp_port, count, &p50, &p99);
    printf("\n%-44s %9s %9s\n", "", "p50 us", "p99 us");
    printf("%-44s %9.0f %9.0f\n", "baseline: daemon round trip (1 connection)", rt.p50_us, rt.p99_us);
    printf("%-44s %9.0f %9.0f   (%d records, %d never started)\n",
           "put -> function start (ESM, BatchSize 1)", p50, p99, count, lost);
    printf("%-44s %8.1fx\n", "ratio (p50 / round trip)", rt.p50_us > 0 ? p50 / rt.p50_us : 0);
  }
  if (fan_stream && udp_port) {
    double solo = through_mapping(port, host, stream, 0, fan_total);
    double rate = through_mapping(port, host, fan_stream, udp_port, fan_total);
    printf("\n%-44s %14s\n", "", "records/s");
    printf("%-44s %14.0f   (the same producer into a stream with no mapping)\n",
           "baseline: PutRecords from 1 connection", solo);
    printf("%-44s %14.0f   (%ld records put from 1 connection and started by the function)\n",
           "put -> mapping (BatchSize 1000) -> function", rate, fan_total);
    printf("%-44s %13.2fx\n", "ratio (through the mapping / put alone)", solo > 0 ? rate / solo : 0);
  }
  return 0;
}

/* The fast path of Kinesis PutRecord / PutRecords bodies: a strict scanner for the shape the
 * SDKs and the AWS CLI send, so the hot path parses a 500-record batch without building a
 * JSON tree. It accepts only
 *   {"StreamName": s, "StreamARN": s, "Records": [{"Data": s, "PartitionKey": s,
 *    "ExplicitHashKey": s}, ...]}   (PutRecords), or the record fields at the top (PutRecord)
 * with any of the fields absent, any order, whitespace between tokens, the last of repeated
 * keys winning (as jansson does), and every string plain printable ASCII with no backslash.
 * Anything else — another key, a non-string value, an escape, a non-ASCII byte, bad JSON — is
 * refused, and the caller parses the body in full with jansson instead (which also words the
 * errors). So whatever this accepts, jansson reads the same way (tests/fuzz/put_scan.c checks). */
#ifndef LL_API_PUT_SCAN_H
#define LL_API_PUT_SCAN_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ll_scan_str {
  const char *p; /* into the body; NULL when the field is absent */
  size_t len;
} ll_scan_str_t;

typedef struct ll_scan_rec {
  ll_scan_str_t data, key, hash;
} ll_scan_rec_t;

typedef struct ll_put_scan {
  ll_scan_str_t stream_name, stream_arn;
  bool has_records;     /* a "Records" array was there (PutRecords) */
  ll_scan_rec_t *recs;  /* owned (free()); the records, or the top-level one for PutRecord */
  size_t n;
} ll_put_scan_t;

/* Scans body[0..len) as a PutRecords (batch) or PutRecord body. 0 with *out filled, or -1 (out
 * left empty) when the body is not of the simple shape above. */
int ll_put_scan(const char *body, size_t len, bool batch, ll_put_scan_t *out);
void ll_put_scan_free(ll_put_scan_t *s);

#endif

/* libFuzzer target: the PutRecord(s) fast-path scanner (src/api/put_scan.c), differentially
 * against jansson: whatever the scanner accepts, jansson must parse, and every field the scanner
 * found must be what jansson reads there (so the fast path never answers differently from the
 * general one). The first byte picks PutRecords (odd) or PutRecord. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/put_scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same(json_t *obj, const char *key, const ll_scan_str_t *s) {
  json_t *v = json_object_get(obj, key);
  if (!s->p) {
    if (v) abort(); /* jansson sees a field the scanner missed */
    return;
  }
  if (!json_is_string(v) || json_string_length(v) != s->len || memcmp(json_string_value(v), s->p, s->len))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  bool batch = data[0] & 1;
  const char *body = (const char *)data + 1;
  size_t len = size - 1;
  ll_put_scan_t sc;
  if (ll_put_scan(body, len, batch, &sc) < 0) return 0;
  json_t *doc = json_loadb(body, len, 0, NULL);
  if (!json_is_object(doc)) abort(); /* accepted what jansson refuses */
  same(doc, "StreamName", &sc.stream_name);
  same(doc, "StreamARN", &sc.stream_arn);
  if (batch) {
    json_t *list = json_object_get(doc, "Records");
    if (sc.has_records != (list != NULL) || json_array_size(list) != sc.n) abort();
    for (size_t i = 0; i < sc.n; i++) {
      json_t *r = json_array_get(list, i);
      same(r, "Data", &sc.recs[i].data);
      same(r, "PartitionKey", &sc.recs[i].key);
      same(r, "ExplicitHashKey", &sc.recs[i].hash);
    }
  } else {
    if (sc.n != 1) abort();
    same(doc, "Data", &sc.recs[0].data);
    same(doc, "PartitionKey", &sc.recs[0].key);
    same(doc, "ExplicitHashKey", &sc.recs[0].hash);
  }
  json_decref(doc);
  ll_put_scan_free(&sc);
  return 0;
}

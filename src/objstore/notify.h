/* Bucket notifications: an object event, matched against the bucket's configuration
 * (store.h keeps it as JSON: [{"Id","FunctionArn","Events":[...],"Prefix","Suffix"}]), becomes
 * one asynchronous invocation per matching configuration, queued durably through the engine
 * (with its retries and destinations) and carrying S3's event document
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html).
 * Call it after the change is durable and before the client is told: once the client hears
 * of the upload, its notification is in the queue. */
#ifndef LL_OBJSTORE_NOTIFY_H
#define LL_OBJSTORE_NOTIFY_H

#include <stdint.h>

#include "core/buf.h"
#include "engine/engine.h"
#include "objstore/store.h"

typedef struct ll_s3_event {
  const char *name;        /* "ObjectCreated:Put", "ObjectRemoved:Delete", ... (no "s3:") */
  const char *bucket;
  const char *key;         /* as stored (the event carries it URL-encoded) */
  uint64_t size;           /* ObjectCreated only */
  const char *etag;        /* ObjectCreated only: quoted or not (the event has it unquoted) */
  uint64_t seq;            /* the store's sequence of the change: the event's sequencer */
  int64_t time_ms;
  const char *region;
  const char *account;
  const char *principal;   /* the access key that made the change */
  const char *source_ip;
  const char *request_id;  /* x-amz-request-id of the request */
} ll_s3_event_t;

/* Queues the invocations ev calls for; returns how many. Configurations naming a function
 * that no longer exists are skipped (and said on stderr). */
int ll_notify_object_event(ll_engine_t *e, ll_objstore_t *os, const ll_s3_event_t *ev);

/* S3's event document for one configuration (exposed for tests). */
void ll_notify_event_json(ll_buf_t *b, const ll_s3_event_t *ev, const char *configuration_id);

/* Whether e ("s3:ObjectCreated:Put", ...) is an event a LambdaFunctionConfiguration may name. */
bool ll_notify_event_known(const char *e);

/* Whether a configuration's Events list and key filter select ev (exposed for tests). */
bool ll_notify_matches(json_t *config, const ll_s3_event_t *ev);

#endif

/* Event source mappings: a stream's records fed to a function in batches, as Lambda's Kinesis
 * mappings do (aws-wire-contract.md §5.2, §6). Each mapping has one poller per shard with
 * ParallelizationFactor lanes (a record's lane follows its partition key, so order per key is
 * kept); a lane has at most one batch in flight, invoked synchronously through the engine with
 * the exact Kinesis event. The checkpoint of a shard (every record up to it is done) is stored
 * after each success; a failing batch blocks its lane until it succeeds, is bisected, retried
 * out (MaximumRetryAttempts) or ages out (MaximumRecordAgeInSeconds), then its KinesisBatchInfo
 * goes to the OnFailure destination (a stream or a function). Delivery is in order per shard
 * (per key with a factor above 1) and at least once: after a crash the batch that was in
 * flight is delivered again.
 *
 * Pollers sleep until the stream tells them about new records (ll_streams_on_records): no
 * polling loop. The module also delivers async invocations' records to stream destinations
 * (ll_engine_set_destination). Mappings and checkpoints live in data_dir/streams/mappings.db (SQLite WAL).
 * Everything runs on the loop thread.
 *
 * Requests and answers are JSON in the shapes of the Lambda API's CreateEventSourceMapping and
 * EventSourceMappingConfiguration; errors are LL_E_* codes of engine.h with AWS's messages. */
#ifndef LL_STREAM_ESM_H
#define LL_STREAM_ESM_H

#include <jansson.h>
#include <uv.h>

#include "core/err.h"
#include "engine/engine.h"
#include "stream/stream.h"

typedef struct ll_esms ll_esms_t;

/* Loads the mappings and starts their pollers; installs itself as ss's records observer.
 * age_scale multiplies MaximumRecordAgeInSeconds (1; tests shrink it, as the async queue's). */
int ll_esms_open(uv_loop_t *loop, ll_engine_t *e, ll_streams_t *ss, const char *data_dir,
                 double age_scale, ll_esms_t **out, ll_err_t *err);
/* Stops the pollers (batches in flight are delivered again after the next start); frees
 * everything once their invocations are back. Call before closing the engine and streams. */
void ll_esms_close(ll_esms_t *m);

/* CreateEventSourceMapping: req is the request body (borrowed). *out: the new mapping's
 * configuration (new reference). -1 with err (LL_E_INVALID_PARAM, LL_E_NOT_FOUND,
 * LL_E_CONFLICT). */
int ll_esm_create(ll_esms_t *m, json_t *req, json_t **out, ll_err_t *err);
/* UpdateEventSourceMapping: the fields given in req change; *out as above. */
int ll_esm_update(ll_esms_t *m, const char *uuid, json_t *req, json_t **out, ll_err_t *err);
/* DeleteEventSourceMapping: *out is the configuration with State "Deleting". */
int ll_esm_delete(ll_esms_t *m, const char *uuid, json_t **out, ll_err_t *err);
/* The configuration of one mapping (new reference), or NULL. */
json_t *ll_esm_get(ll_esms_t *m, const char *uuid);
/* The configurations of the mappings of a function (name or ARN) and/or a source ARN (NULL:
 * any), in creation order, from after `marker` (a UUID; NULL: the start), at most max; *next
 * is the marker of the next page (a UUID, caller frees) or NULL. A new array. */
json_t *ll_esm_list(ll_esms_t *m, const char *function, const char *source_arn,
                    const char *marker, size_t max, char **next);

/* What `lambdalite info` shows of each mapping: [{UUID, FunctionName, EventSourceArn, State,
 * LastProcessingResult, IteratorAgeMilliseconds (age of the newest record of the last batch
 * done, as AWS's IteratorAge), BatchesInFlight}] (new array). */
json_t *ll_esms_info(ll_esms_t *m);

#endif

"""Event source mappings from Kinesis streams to functions (issue 5; aws-wire-contract.md §5.2,
§6): the Create/Get/List/Update/DeleteEventSourceMapping API through boto3 and the AWS CLI,
batches in the exact Kinesis event shape, every record delivered once and in order per shard,
failures (retries, bisect, ReportBatchItemFailures, the OnFailure destination), and a kill -9
of the daemon during continuous puts and processing."""

import base64
import json
import time
import uuid
from collections import defaultdict

import pytest
from botocore.exceptions import ClientError

from e2e_util import ACCOUNT, REGION, ROLE, Functions, Producers, function_arn, make_client, make_lambda_client, wait_until

# Records every batch it gets ("batch"), then succeeds.
RECORDING = r"""
record batch < "$W/event"
printf '{}' | respond
"""

# Fails every batch that holds a record whose data is "poison" (base64 cG9pc29u), recording
# each attempt as "ok" or "failed"; succeeds otherwise.
POISONED = r"""
if grep -q '"data":"cG9pc29u"' "$W/event"; then
  record failed < "$W/event"
  printf '{"errorMessage":"poison","errorType":"Poison"}' | fail_with Poison
else
  record ok < "$W/event"
  printf '{}' | respond
fi
"""

# Answers ReportBatchItemFailures: the first time it sees a "poison" record it reports that
# record as failed (and records "partial"); after that it succeeds ("ok").
PARTIAL = r"""
seq=$(tr '{' '\n' < "$W/event" | grep '"data":"cG9pc29u"' | sed -n 's/.*"sequenceNumber":"\([0-9]*\)".*/\1/p' | head -n 1)
if [ -n "$seq" ] && [ "$(c -f "$RECORDER_URL/count/poison")" = 1 ]; then
  record partial < "$W/event"
  printf '{"batchItemFailures":[{"itemIdentifier":"%s"}]}' "$seq" | respond
else
  record ok < "$W/event"
  printf '{}' | respond
fi
"""

# A failure destination: records the record it is sent.
SINK = r"""
record dest < "$W/event"
printf '{}' | respond
"""


def new_stream(kinesis, shards=1):
    name = "esm-" + uuid.uuid4().hex[:10]
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    return name, f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}"


def records_of(rec):
    return rec.json()["Records"]


def delivered(recorder, label="batch"):
    """Every Kinesis record the function got, in delivery order: (shardId, seq, data, batch size)."""
    out = []
    for r in recorder.records:
        if r.label != label:
            continue
        recs = records_of(r)
        for k in recs:
            shard = k["eventID"].split(":")[0]
            out.append((shard, int(k["kinesis"]["sequenceNumber"]), base64.b64decode(k["kinesis"]["data"]), len(recs)))
    return out


def put_many(kinesis, stream, items, batch=250):
    """Puts (partition key, data) items with PutRecords; returns {(shard, seq): data}."""
    acked = {}
    for i in range(0, len(items), batch):
        chunk = items[i:i + batch]
        out = kinesis.put_records(StreamName=stream, Records=[{"PartitionKey": k, "Data": d} for k, d in chunk])
        assert out["FailedRecordCount"] == 0
        for (k, d), r in zip(chunk, out["Records"]):
            acked[(r["ShardId"], int(r["SequenceNumber"]))] = d
    return acked


@pytest.fixture
def fns(lam):
    return Functions(lam)


# ---------------------------------------------------------------------------------------------
# The API


def test_mapping_api(daemon, lam, kinesis, fns, raw):
    fn = fns.echo()
    stream, arn = new_stream(kinesis)
    m = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
                                        BatchSize=50)
    assert m["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert m["State"] == "Creating" and m["EventSourceArn"] == arn and m["FunctionArn"] == function_arn(fn)
    assert m["BatchSize"] == 50 and m["MaximumBatchingWindowInSeconds"] == 0 and m["ParallelizationFactor"] == 1
    assert m["MaximumRetryAttempts"] == -1 and m["MaximumRecordAgeInSeconds"] == -1
    assert m["BisectBatchOnFunctionError"] is False and m["FunctionResponseTypes"] == []
    assert m["DestinationConfig"] == {"OnFailure": {}} and m["StartingPosition"] == "TRIM_HORIZON"
    assert m["LastProcessingResult"] == "No records processed" and m["StateTransitionReason"] == "User action"
    uid = m["UUID"]
    # newer than this botocore: read it raw
    r = raw.signed("GET", f"/2015-03-31/event-source-mappings/{uid}", service="lambda")
    assert r.json()["EventSourceMappingArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:{uid}"
    got = lam.get_event_source_mapping(UUID=uid)
    assert got["State"] == "Enabled" and got["UUID"] == uid
    assert [x["UUID"] for x in lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"]] == [uid]
    assert [x["UUID"] for x in lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]] == [uid]
    assert lam.list_event_source_mappings(FunctionName=function_arn(fn))["EventSourceMappings"][0]["UUID"] == uid
    upd = lam.update_event_source_mapping(UUID=uid, BatchSize=7, Enabled=False, BisectBatchOnFunctionError=True,
                                          FunctionResponseTypes=["ReportBatchItemFailures"])
    assert upd["State"] == "Updating" and upd["BatchSize"] == 7
    got = lam.get_event_source_mapping(UUID=uid)
    assert got["State"] == "Disabled" and got["BisectBatchOnFunctionError"] is True
    assert got["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # one mapping per function and stream, as AWS has it
    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, StartingPosition="LATEST")
    assert e.value.response["Error"]["Code"] == "ResourceConflictException"
    assert uid in e.value.response["Error"]["Message"]
    gone = lam.delete_event_source_mapping(UUID=uid)
    assert gone["State"] == "Deleting" and gone["ResponseMetadata"]["HTTPStatusCode"] == 202
    with pytest.raises(ClientError) as e:
        lam.get_event_source_mapping(UUID=uid)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"] == []


def test_mapping_validation_errors(daemon, lam, kinesis, fns):
    fn = fns.echo()
    stream, arn = new_stream(kinesis)
    raw = make_lambda_client(daemon.endpoint, validate=False)

    def code_of(**kw):
        with pytest.raises(ClientError) as e:
            raw.create_event_source_mapping(**kw)
        return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]

    code, msg = code_of(FunctionName=fn, EventSourceArn=arn)
    assert code == "InvalidParameterValueException" and "'startingPosition'" in msg
    code, msg = code_of(FunctionName=fn, EventSourceArn=arn, StartingPosition="SIDEWAYS")
    assert code == "ValidationException" and "[LATEST, AT_TIMESTAMP, TRIM_HORIZON]" in msg
    code, msg = code_of(FunctionName=fn, EventSourceArn=arn, StartingPosition="LATEST", BatchSize=0)
    assert code == "ValidationException" and "'batchSize'" in msg
    code, msg = code_of(FunctionName=fn, EventSourceArn=arn, StartingPosition="LATEST", BatchSize=10001)
    assert code == "ValidationException" and "less than or equal to 10000" in msg
    code, _ = code_of(FunctionName=fn, EventSourceArn=arn, StartingPosition="LATEST", ParallelizationFactor=11)
    assert code == "ValidationException"
    code, _ = code_of(FunctionName=fn, EventSourceArn=arn, StartingPosition="LATEST", MaximumRecordAgeInSeconds=30)
    assert code == "InvalidParameterValueException"
    code, _ = code_of(FunctionName=fn, EventSourceArn=arn, StartingPosition="AT_TIMESTAMP")
    assert code == "InvalidParameterValueException"
    code, msg = code_of(FunctionName=fn, EventSourceArn=arn + "-nope", StartingPosition="LATEST")
    assert code == "InvalidParameterValueException" and "Stream not found" in msg
    code, _ = code_of(FunctionName=fn, EventSourceArn="arn:aws:sqs:us-east-1:000000000000:q", StartingPosition="LATEST")
    assert code == "InvalidParameterValueException"
    code, msg = code_of(FunctionName="no-such-fn", EventSourceArn=arn, StartingPosition="LATEST")
    assert code == "ResourceNotFoundException" and "no-such-fn" in msg
    code, _ = code_of(FunctionName=fn, EventSourceArn=arn, StartingPosition="LATEST",
                      DestinationConfig={"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:000000000000:dlq"}})
    assert code == "InvalidParameterValueException"
    code, _ = code_of(FunctionName=fn, EventSourceArn=arn, StartingPosition="LATEST",
                      FunctionResponseTypes=["Everything"])
    assert code == "ValidationException"
    with pytest.raises(ClientError) as e:
        raw.update_event_source_mapping(UUID=str(uuid.uuid4()), BatchSize=5)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"] == []


def test_mapping_through_the_aws_cli(aws, kinesis, fns):
    fn = fns.echo()
    stream, arn = new_stream(kinesis)
    m = aws("lambda", "create-event-source-mapping", "--function-name", fn, "--event-source-arn", arn,
            "--starting-position", "LATEST", "--batch-size", "10")
    assert m["BatchSize"] == 10 and m["State"] == "Creating"
    listed = aws("lambda", "list-event-source-mappings", "--function-name", fn)["EventSourceMappings"]
    assert [x["UUID"] for x in listed] == [m["UUID"]]
    assert aws("lambda", "get-event-source-mapping", "--uuid", m["UUID"])["State"] == "Enabled"
    assert aws("lambda", "delete-event-source-mapping", "--uuid", m["UUID"])["State"] == "Deleting"


# ---------------------------------------------------------------------------------------------
# Delivery


def test_every_record_once_in_order_per_shard(daemon, lam, kinesis, fns, recorder):
    fn = fns.shell(RECORDING, env=recorder.env)
    stream, arn = new_stream(kinesis, shards=4)
    lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, StartingPosition="TRIM_HORIZON", BatchSize=50)
    items = [(f"key-{i % 37}", f"record {i}".encode()) for i in range(1000)]
    acked = put_many(kinesis, stream, items)
    wait_until(lambda: len(delivered(recorder)) >= 1000, timeout=60, message="1000 records delivered")
    time.sleep(0.5)  # nothing more may come
    got = delivered(recorder)
    assert len(got) == 1000, "each record exactly once when nothing fails"
    assert {(s, q): d for s, q, d, _ in got} == acked
    by_shard = defaultdict(list)
    for s, q, _, n in got:
        by_shard[s].append(q)
        assert n <= 50
    assert len(by_shard) == 4
    for seqs in by_shard.values():
        assert seqs == sorted(seqs)
    # the event is Kinesis's own shape
    first = next(r for r in recorder.records if r.label == "batch")
    rec = records_of(first)[0]
    assert set(rec) == {"kinesis", "eventSource", "eventVersion", "eventID", "eventName", "invokeIdentityArn",
                        "awsRegion", "eventSourceARN"}
    assert rec["eventSource"] == "aws:kinesis" and rec["eventName"] == "aws:kinesis:record"
    assert rec["eventVersion"] == "1.0" and rec["awsRegion"] == REGION and rec["eventSourceARN"] == arn
    assert rec["invokeIdentityArn"] == ROLE
    assert rec["eventID"] == rec["eventID"].split(":")[0] + ":" + rec["kinesis"]["sequenceNumber"]
    k = rec["kinesis"]
    assert k["kinesisSchemaVersion"] == "1.0" and k["partitionKey"].startswith("key-")
    assert len(k["sequenceNumber"]) == 56 and isinstance(k["approximateArrivalTimestamp"], float)
    assert abs(k["approximateArrivalTimestamp"] - time.time()) < 120
    info = lam.get_event_source_mapping(UUID=lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"][0]["UUID"])
    assert info["LastProcessingResult"] == "OK"


def test_latest_sees_only_new_records_and_a_put_wakes_the_mapping(daemon, lam, kinesis, fns, recorder):
    fn = fns.shell(RECORDING, env=recorder.env)
    stream, arn = new_stream(kinesis)
    kinesis.put_record(StreamName=stream, PartitionKey="k", Data=b"before")
    lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, StartingPosition="LATEST")
    kinesis.put_record(StreamName=stream, PartitionKey="k", Data=b"after")
    wait_until(lambda: delivered(recorder), timeout=20, message="the new record delivered")
    time.sleep(0.3)
    assert [d for _, _, d, _ in delivered(recorder)] == [b"after"]


def test_disabled_mapping_holds_its_checkpoint(daemon, lam, kinesis, fns, recorder):
    fn = fns.shell(RECORDING, env=recorder.env)
    stream, arn = new_stream(kinesis)
    uid = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
                                          Enabled=False)["UUID"]
    put_many(kinesis, stream, [("k", b"one"), ("k", b"two")])
    time.sleep(0.5)
    assert delivered(recorder) == []
    lam.update_event_source_mapping(UUID=uid, Enabled=True)
    wait_until(lambda: len(delivered(recorder)) == 2, timeout=20, message="both records after enabling")
    assert [d for _, _, d, _ in delivered(recorder)] == [b"one", b"two"]


def test_batching_window_gathers_records_into_one_batch(daemon, lam, kinesis, fns, recorder):
    fn = fns.shell(RECORDING, env=recorder.env)
    stream, arn = new_stream(kinesis)
    lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, StartingPosition="LATEST",
                                    BatchSize=100, MaximumBatchingWindowInSeconds=2)
    for i in range(3):  # one at a time, well inside the window
        kinesis.put_record(StreamName=stream, PartitionKey="k", Data=f"w{i}".encode())
    wait_until(lambda: delivered(recorder), timeout=20, message="the window's batch")
    time.sleep(0.5)
    got = delivered(recorder)
    assert [d for _, _, d, _ in got] == [b"w0", b"w1", b"w2"] and {n for *_, n in got} == {3}


def test_parallelization_factor_keeps_order_per_key(daemon, lam, kinesis, fns, recorder):
    fn = fns.shell(RECORDING, env=recorder.env)
    stream, arn = new_stream(kinesis)
    lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
                                    BatchSize=5, ParallelizationFactor=4)
    items = [(f"key-{i % 8}", f"{i % 8}:{i}".encode()) for i in range(120)]
    acked = put_many(kinesis, stream, items)
    wait_until(lambda: len(delivered(recorder)) >= 120, timeout=60, message="120 records delivered")
    got = delivered(recorder)
    assert sorted(q for _, q, _, _ in got) == sorted(q for _, q in acked)
    per_key = defaultdict(list)
    for _, q, d, _ in got:
        per_key[d.split(b":")[0]].append(q)
    for seqs in per_key.values():
        assert seqs == sorted(seqs)


# ---------------------------------------------------------------------------------------------
# Failures


def test_bisect_isolates_the_bad_record_and_sends_it_to_the_stream_destination(daemon, lam, kinesis, fns, recorder):
    fn = fns.shell(POISONED, env=recorder.env)
    stream, arn = new_stream(kinesis)
    dlq, dlq_arn = new_stream(kinesis)
    kinesis_data = [("k", f"good {i}".encode()) for i in range(8)]
    kinesis_data.insert(5, ("k", b"poison"))
    acked = put_many(kinesis, stream, kinesis_data)
    poison_seq = next(q for (_, q), d in acked.items() if d == b"poison")
    lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
                                    BatchSize=10, BisectBatchOnFunctionError=True, MaximumRetryAttempts=1,
                                    DestinationConfig={"OnFailure": {"Destination": dlq_arn}})
    shard = "shardId-000000000000"
    it = kinesis.get_shard_iterator(StreamName=dlq, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]

    def dead_letters():
        return kinesis.get_records(ShardIterator=it)["Records"]

    dl = wait_until(dead_letters, timeout=30, message="the failure record in the destination stream")
    wait_until(lambda: len(delivered(recorder, "ok")) == 8, timeout=30, message="the good records delivered")
    info = json.loads(dl[0]["Data"])
    batch = info["KinesisBatchInfo"]
    assert batch["batchSize"] == 1 and batch["shardId"] == shard and batch["streamArn"] == arn
    assert int(batch["startSequenceNumber"]) == poison_seq == int(batch["endSequenceNumber"])
    assert info["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert info["requestContext"]["approximateInvokeCount"] == 2  # 1 attempt + 1 retry of the single record
    assert info["requestContext"]["functionArn"] == function_arn(fn)
    assert info["responseContext"]["functionError"] == "Unhandled" and info["version"] == "1.0"
    assert sorted(d for _, _, d, _ in delivered(recorder, "ok")) == sorted(d for d in acked.values() if d != b"poison")
    # the poison record went out alone in its last two attempts
    singles = [r for r in recorder.records if r.label == "failed" and len(records_of(r)) == 1]
    assert len(singles) == 2
    time.sleep(0.5)
    assert len(dead_letters()) == 1


def test_without_bisect_the_whole_batch_is_retried_then_sent_to_a_function(daemon, lam, kinesis, fns, recorder):
    fn = fns.shell(POISONED, env=recorder.env)
    sink = fns.shell(SINK, env=recorder.env)
    stream, arn = new_stream(kinesis)
    acked = put_many(kinesis, stream, [("k", b"a"), ("k", b"poison"), ("k", b"b")])
    lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
                                    BatchSize=3, MaximumRetryAttempts=2,
                                    DestinationConfig={"OnFailure": {"Destination": function_arn(sink)}})
    dest = recorder.wait("dest", timeout=30)["dest"].json()
    assert dest["KinesisBatchInfo"]["batchSize"] == 3
    assert dest["requestContext"]["approximateInvokeCount"] == 3
    assert [len(records_of(r)) for r in recorder.records if r.label == "failed"] == [3, 3, 3]
    # the shard moves on past the discarded batch
    kinesis.put_record(StreamName=stream, PartitionKey="k", Data=b"later")
    wait_until(lambda: delivered(recorder, "ok"), timeout=20, message="the next record delivered")
    assert [d for _, _, d, _ in delivered(recorder, "ok")] == [b"later"]
    assert len(acked) == 3


def test_report_batch_item_failures_retries_from_the_failed_record(daemon, lam, kinesis, fns, recorder):
    fn = fns.shell(PARTIAL, env=recorder.env)
    stream, arn = new_stream(kinesis)
    items = [("k", b"r0"), ("k", b"r1"), ("k", b"poison"), ("k", b"r3"), ("k", b"r4")]
    acked = put_many(kinesis, stream, items)
    lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
                                    BatchSize=5, FunctionResponseTypes=["ReportBatchItemFailures"])
    wait_until(lambda: delivered(recorder, "ok"), timeout=30, message="the retried part")
    first = [d for _, _, d, _ in delivered(recorder, "partial")]
    assert first == [b"r0", b"r1", b"poison", b"r3", b"r4"]
    retried = [d for _, _, d, _ in delivered(recorder, "ok")]
    assert retried == [b"poison", b"r3", b"r4"], "records before the failed one are not sent again"
    assert len(acked) == 5


def test_invalid_batch_item_failures_fail_the_whole_batch(daemon, lam, kinesis, fns, recorder):
    bad = r"""
record got < "$W/event"
printf '{"batchItemFailures":[{"itemIdentifier":""}]}' | respond
"""
    fn = fns.shell(bad, env=recorder.env)
    stream, arn = new_stream(kinesis)
    put_many(kinesis, stream, [("k", b"x"), ("k", b"y")])
    lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
                                    FunctionResponseTypes=["ReportBatchItemFailures"], MaximumRetryAttempts=1)
    wait_until(lambda: len(delivered(recorder, "got")) >= 4, timeout=30, message="two attempts of the batch")
    time.sleep(0.5)
    got = delivered(recorder, "got")
    assert [d for _, _, d, _ in got] == [b"x", b"y", b"x", b"y"], "whole batch retried once, then dropped"


def test_records_past_the_maximum_age_go_to_the_destination(daemon_factory, recorder):
    # --async-time-scale 0.01: MaximumRecordAgeInSeconds 60 acts as 0.6 s
    d = daemon_factory(extra_args=["--async-time-scale", "0.01"])
    lam = make_lambda_client(d.endpoint)
    k = make_client("kinesis", d.endpoint)
    fns = Functions(lam)
    fn = fns.shell(POISONED, env=recorder.env)
    sink = fns.shell(SINK, env=recorder.env)
    stream, arn = new_stream(k)
    put_many(k, stream, [("k", b"poison")])
    lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
                                    MaximumRecordAgeInSeconds=60,  # retries unlimited (-1): age ends it
                                    DestinationConfig={"OnFailure": {"Destination": function_arn(sink)}})
    dest = recorder.wait("dest", timeout=30)["dest"].json()
    assert dest["requestContext"]["condition"] == "RecordAgeExceeded"
    assert dest["KinesisBatchInfo"]["batchSize"] == 1
    assert len([r for r in recorder.records if r.label == "failed"]) >= 1
    k.put_record(StreamName=stream, PartitionKey="k", Data=b"fresh")
    wait_until(lambda: delivered(recorder, "ok"), timeout=20, message="the shard moved on")


# ---------------------------------------------------------------------------------------------
# Durability


def test_kill_9_during_puts_and_processing_loses_nothing(daemon_factory, recorder):
    d = daemon_factory()
    lam = make_lambda_client(d.endpoint)
    k = make_client("kinesis", d.endpoint)
    fn = Functions(lam).shell(RECORDING, env=recorder.env)
    stream, arn = new_stream(k, shards=2)
    uid = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
                                          BatchSize=25)["UUID"]
    load = Producers(d.endpoint, stream, threads=2, batch=20, keys=5, pause=0.01)
    wait_until(lambda: len(delivered(recorder)) > 200, timeout=60, message="processing under way")
    d._kill()
    d.proc = None
    load.stop()
    acked = load.acked
    before_restart = len(delivered(recorder))
    d.start()
    lam = make_lambda_client(d.endpoint)
    assert lam.get_event_source_mapping(UUID=uid)["State"] == "Enabled"

    def all_seen():
        return set(acked) <= {(s, q) for s, q, _, _ in delivered(recorder)}

    wait_until(all_seen, timeout=120, message="every acknowledged record delivered after the restart")
    got = delivered(recorder)
    for (s, q), data in acked.items():
        assert any(gs == s and gq == q and gd == data for gs, gq, gd, _ in got)
    # at least once, and the checkpoint resumes: per shard, duplicates are at most the one
    # batch that was in flight at the kill
    per_shard = defaultdict(list)
    for s, q, _, _ in got:
        per_shard[s].append(q)
    for s, seqs in per_shard.items():
        dups = len(seqs) - len(set(seqs))
        assert dups <= 25, f"{s}: {dups} records delivered twice (more than the batch in flight)"
    assert before_restart > 0

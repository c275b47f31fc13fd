"""Asynchronous invocations as AWS processes them (aws-wire-contract.md §4): queued durably
before the 202, retried after function errors (MaximumRetryAttempts, default 2), delivered to
OnSuccess / OnFailure destinations as AWS's invocation record, configured with
Put/Get/Update/DeleteFunctionEventInvokeConfig. The daemons here shrink AWS's retry delays
(about 1 and 2 minutes) with --async-time-scale."""

import json
import time

import pytest
from botocore.exceptions import ClientError

from e2e_util import Functions, function_arn, make_client, make_lambda_client, wait_until

# Records each attempt ("attempt-<id>") and fails, or answers when the event says so.
FLAKY = r"""
id=$(sed -n 's/.*"id": *"\([^"]*\)".*/\1/p' "$W/event")
record "attempt-$id" < "$W/event"
if grep -q '"ok": *true' "$W/event"; then printf '{"fine":"%s"}' "$id" | respond
else printf '{"errorMessage":"no good","errorType":"Flaky"}' | fail_with Flaky; fi
"""

# A destination: records the invocation record it receives.
SINK = r"""
record "dest" < "$W/event"
printf '{}' | respond
"""

# Records its event's id, then waits at the gate named "slow" before answering.
GATED = r"""
id=$(sed -n 's/.*"id": *"\([^"]*\)".*/\1/p' "$W/event")
record "ran-$id" < "$W/event"
curl -s -m 30 -o /dev/null "$RECORDER_URL/gate/slow"
printf '{}' | respond
"""


@pytest.fixture
def fast(daemon_factory, lam_for):
    """A daemon whose async retries come 100x sooner (0.6 s and 1.2 s)."""
    d = daemon_factory(extra_args=["--async-time-scale", "0.01"])
    return d, lam_for(d)


def send(lam, name, event):
    out = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event).encode())
    assert out["StatusCode"] == 202
    return out["ResponseMetadata"]["RequestId"]


def attempts(recorder, event_id):
    return [r for r in recorder.records if r.label == f"attempt-{event_id}"]


def test_event_invoke_config_api(daemon, lam, functions):
    name, sink = functions.echo(), functions.echo(prefix="sink")
    with pytest.raises(ClientError) as e:
        lam.get_function_event_invoke_config(FunctionName=name)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    out = lam.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=1,
        MaximumEventAgeInSeconds=600,
        DestinationConfig={"OnFailure": {"Destination": function_arn(sink)}},
    )
    assert out["FunctionArn"] == function_arn(name) + ":$LATEST"
    assert out["MaximumRetryAttempts"] == 1 and out["MaximumEventAgeInSeconds"] == 600
    assert out["DestinationConfig"]["OnFailure"] == {"Destination": function_arn(sink)}
    got = lam.get_function_event_invoke_config(FunctionName=name)
    assert got["MaximumRetryAttempts"] == 1
    upd = lam.update_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    assert upd["MaximumRetryAttempts"] == 0 and upd["MaximumEventAgeInSeconds"] == 600
    raw = make_lambda_client(daemon.endpoint, validate=False)  # out-of-range values reach the daemon
    for bad in (dict(MaximumRetryAttempts=3), dict(MaximumEventAgeInSeconds=59),
                dict(DestinationConfig={"OnFailure": {"Destination": function_arn("no-such-fn")}})):
        with pytest.raises(ClientError) as e:
            raw.put_function_event_invoke_config(FunctionName=name, **bad)
        assert e.value.response["Error"]["Code"] in ("InvalidParameterValueException", "ValidationException"), bad
    lam.delete_function_event_invoke_config(FunctionName=name)
    with pytest.raises(ClientError):
        lam.get_function_event_invoke_config(FunctionName=name)


def test_failed_event_is_retried_twice_then_sent_to_the_failure_destination(fast, recorder):
    d, lam = fast
    fns = Functions(lam)
    flaky = fns.shell(FLAKY, env=recorder.env)
    sink = fns.shell(SINK, env=recorder.env)
    lam.put_function_event_invoke_config(
        FunctionName=flaky, DestinationConfig={"OnFailure": {"Destination": function_arn(sink)}}
    )
    rid = send(lam, flaky, {"id": "e1"})
    dest = recorder.wait("dest", timeout=20)["dest"]
    assert len(attempts(recorder, "e1")) == 3, "1 attempt + 2 retries (AWS's default)"
    record = json.loads(dest.body)
    ctx = record["requestContext"]
    assert ctx["requestId"] == rid
    assert ctx["condition"] == "RetriesExhausted" and ctx["approximateInvokeCount"] == 3
    assert ctx["functionArn"] == function_arn(flaky) + ":$LATEST"
    assert record["requestPayload"] == {"id": "e1"}
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "Flaky"
    time.sleep(1.5)
    assert len(attempts(recorder, "e1")) == 3, "no attempt after the destination got it"


def test_retries_follow_maximum_retry_attempts(fast, recorder):
    d, lam = fast
    fns = Functions(lam)
    flaky = fns.shell(FLAKY, env=recorder.env)
    sink = fns.shell(SINK, env=recorder.env)
    lam.put_function_event_invoke_config(
        FunctionName=flaky, MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": function_arn(sink)}},
    )
    send(lam, flaky, {"id": "once"})
    record = json.loads(recorder.wait("dest", timeout=20)["dest"].body)
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert len(attempts(recorder, "once")) == 1


def test_success_goes_to_the_success_destination(fast, recorder):
    d, lam = fast
    fns = Functions(lam)
    flaky = fns.shell(FLAKY, env=recorder.env)
    sink = fns.shell(SINK, env=recorder.env)
    lam.put_function_event_invoke_config(
        FunctionName=flaky, DestinationConfig={"OnSuccess": {"Destination": function_arn(sink)}}
    )
    send(lam, flaky, {"id": "good", "ok": True})
    record = json.loads(recorder.wait("dest", timeout=20)["dest"].body)
    assert record["requestContext"]["condition"] == "Success"
    assert record["responsePayload"] == {"fine": "good"}
    assert "functionError" not in record["responseContext"]
    assert len(attempts(recorder, "good")) == 1


def test_destinations_can_be_streams(fast, recorder):
    d, lam = fast
    k = make_client("kinesis", d.endpoint)
    fns = Functions(lam)
    flaky = fns.shell(FLAKY, env=recorder.env)
    k.create_stream(StreamName="outcomes", ShardCount=1)
    arn = "arn:aws:kinesis:us-east-1:000000000000:stream/outcomes"
    with pytest.raises(ClientError) as e:
        lam.put_function_event_invoke_config(
            FunctionName=flaky, DestinationConfig={"OnFailure": {"Destination": arn + "-missing"}})
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
    lam.put_function_event_invoke_config(
        FunctionName=flaky, MaximumRetryAttempts=0,
        DestinationConfig={"OnSuccess": {"Destination": arn}, "OnFailure": {"Destination": arn}})
    ok_id = send(lam, flaky, {"id": "s1", "ok": True})
    bad_id = send(lam, flaky, {"id": "s2"})
    it = k.get_shard_iterator(StreamName="outcomes", ShardId="shardId-000000000000",
                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    got = []

    def two():
        nonlocal it
        out = k.get_records(ShardIterator=it)
        it = out["NextShardIterator"]
        got.extend(out["Records"])
        return len(got) >= 2

    wait_until(two, timeout=20, message="both invocation records in the stream")
    records = {r["PartitionKey"]: json.loads(r["Data"]) for r in got}
    assert records[ok_id]["requestContext"]["condition"] == "Success"
    assert records[ok_id]["responsePayload"] == {"fine": "s1"}
    assert records[bad_id]["requestContext"]["condition"] == "RetriesExhausted"
    assert records[bad_id]["requestPayload"] == {"id": "s2"}


def test_reserved_zero_sends_events_to_the_failure_destination_unrun(fast, recorder):
    d, lam = fast
    fns = Functions(lam)
    flaky = fns.shell(FLAKY, env=recorder.env)
    sink = fns.shell(SINK, env=recorder.env)
    lam.put_function_event_invoke_config(
        FunctionName=flaky, DestinationConfig={"OnFailure": {"Destination": function_arn(sink)}}
    )
    lam.put_function_concurrency(FunctionName=flaky, ReservedConcurrentExecutions=0)
    send(lam, flaky, {"id": "never"})
    record = json.loads(recorder.wait("dest", timeout=20)["dest"].body)
    assert record["requestContext"]["condition"] == "ZeroReservedConcurrency"
    assert attempts(recorder, "never") == []


def test_queued_events_survive_kill_9(daemon_factory, lam_for, recorder):
    d = daemon_factory()
    lam = lam_for(d)
    name = Functions(lam).shell(GATED, env=recorder.env, timeout=60)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    ids = [f"k{i}" for i in range(4)]
    for i in ids:
        send(lam, name, {"id": i})
    recorder.wait("ran-k0", timeout=20)  # one runs (held at the gate), three wait in the queue
    d._kill()  # SIGKILL: nothing flushed, nothing said goodbye
    d.proc = None
    d.start()
    recorder.open_gate("slow")
    labels = [f"ran-{i}" for i in ids]
    recorder.wait(labels, timeout=30)  # every acknowledged event ran (at least once)
    lam = lam_for(d)
    wait_until(lambda: lam.get_function_concurrency(FunctionName=name), message="daemon answering")


def test_event_older_than_the_age_limit_goes_to_the_failure_destination(fast, recorder):
    # MaximumEventAgeInSeconds 60, on a clock running 100x fast (0.6 s): the second event waits
    # behind the first (reserved concurrency 1, the first held at a gate) until it is too old.
    d, lam = fast
    fns = Functions(lam)
    slow = fns.shell(GATED, env=recorder.env, timeout=30)
    sink = fns.shell(SINK, env=recorder.env)
    lam.put_function_concurrency(FunctionName=slow, ReservedConcurrentExecutions=1)
    lam.put_function_event_invoke_config(
        FunctionName=slow, MaximumEventAgeInSeconds=60,
        DestinationConfig={"OnFailure": {"Destination": function_arn(sink)}},
    )
    send(lam, slow, {"id": "first"})
    recorder.wait("ran-first", timeout=20)
    send(lam, slow, {"id": "late"})
    time.sleep(1.5)
    recorder.open_gate("slow")
    record = json.loads(recorder.wait("dest", timeout=20)["dest"].body)
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestPayload"] == {"id": "late"}
    assert "ran-late" not in {r.label for r in recorder.records}

"""Concurrency as AWS has it (aws-wire-contract.md §4): reserved concurrency per function
(Put/Get/DeleteFunctionConcurrency), the account's pool, and 429 TooManyRequestsException with
the AWS Reason for synchronous invokes beyond either."""

import concurrent.futures
import json
import time

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from e2e_util import ACCESS_KEY, REGION, SECRET_KEY, Functions, invoke, wait_until

# Waits at the recorder's gate named in the event, then answers: invocations stay in flight
# until the test opens the gate.
GATED = r"""
curl -s -m 30 -o /dev/null "$RECORDER_URL/gate/$(sed -n 's/.*"gate": *"\([^"]*\)".*/\1/p' "$W/event")"
printf '"done"' | respond
"""


def throttle_of(err):
    r = err.response
    return r["Error"]["Code"], r.get("Reason"), r["ResponseMetadata"]["HTTPStatusCode"]


def wide_client(endpoint, connections):
    """A boto3 Lambda client that really sends `connections` requests at once."""
    return boto3.session.Session().client(
        "lambda",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=botocore.config.Config(
            retries={"total_max_attempts": 1}, read_timeout=60, max_pool_connections=connections
        ),
    )


def test_reserved_concurrency_api_and_account_settings(lam, functions):
    name = functions.echo()
    before = lam.get_account_settings()["AccountLimit"]
    assert before["ConcurrentExecutions"] == 1000
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)
    out = lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=7)
    assert out["ReservedConcurrentExecutions"] == 7
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 7
    assert lam.get_function(FunctionName=name)["Concurrency"] == {"ReservedConcurrentExecutions": 7}
    after = lam.get_account_settings()["AccountLimit"]
    assert after["UnreservedConcurrentExecutions"] == before["UnreservedConcurrentExecutions"] - 7
    lam.delete_function_concurrency(FunctionName=name)
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)
    again = lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]
    assert again == before["UnreservedConcurrentExecutions"]


def test_the_pool_keeps_100_unreserved(lam, functions):
    name = functions.echo()
    with pytest.raises(ClientError) as e:
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=901)
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "below its minimum value of [100]" in e.value.response["Error"]["Message"]
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=900)
    lam.delete_function_concurrency(FunctionName=name)


def test_reserved_concurrency_survives_a_restart(daemon_factory, lam_for):
    d = daemon_factory()
    name = Functions(lam_for(d)).echo()
    lam_for(d).put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=5)
    d.restart()
    lam = lam_for(d)
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 5
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 995


def test_reserved_zero_throttles_every_sync_invoke(lam, functions):
    name = functions.echo()
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=name, Payload=b"{}")
    assert throttle_of(e.value) == ("TooManyRequestsException", "ReservedFunctionConcurrentInvocationLimitExceeded", 429)
    lam.delete_function_concurrency(FunctionName=name)
    assert invoke(lam, name, {"back": 1}).json() == {"back": 1}


def test_reserved_concurrency_caps_parallel_invokes(daemon, lam, functions, recorder):
    # The case: 200 concurrent sync invokes, reserved concurrency 10 -> exactly 10 run
    # (held at a gate, so they overlap for sure) and 190 get 429 with the reserved Reason; the
    # function records each start, so the test sees how many ran at once.
    body = 'record "start" < "$W/event"\n' + GATED
    name = functions.shell(body, env=recorder.env, timeout=30)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=10)
    client = wide_client(daemon.endpoint, 210)

    def call(gate):
        try:
            out = client.invoke(FunctionName=name, Payload=json.dumps({"gate": gate}).encode())
            return ("ok", json.loads(out["Payload"].read()))
        except ClientError as e:
            return ("throttled",) + throttle_of(e)[:2]

    with concurrent.futures.ThreadPoolExecutor(200) as pool:
        calls = [pool.submit(call, "cap") for _ in range(200)]
        recorder.wait(10, timeout=30)  # ten have started and wait at the gate
        deadline = time.time() + 60
        while sum(c.done() for c in calls) < 190 and time.time() < deadline:
            time.sleep(0.05)
        running_at_once = len([r for r in recorder.records if r.label == "start"])
        recorder.open_gate("cap")
        results = [c.result() for c in calls]
    assert running_at_once == 10, running_at_once
    assert results.count(("ok", "done")) == 10
    assert results.count(("throttled", "TooManyRequestsException", "ReservedFunctionConcurrentInvocationLimitExceeded")) == 190
    assert len([r for r in recorder.records if r.label == "start"]) == 10, "a throttled invoke ran"


def test_account_pool_exhaustion_throttles_unreserved_functions(daemon_factory, lam_for, recorder, tmp_path):
    from e2e_util import LambdaliteCli

    d = daemon_factory(extra_args=["--concurrency-limit", "100", "--max-instances", "4"])
    lam = lam_for(d)
    fns = Functions(lam)
    busy = fns.shell(GATED, env=recorder.env, timeout=30)
    other = fns.echo()
    client = wide_client(d.endpoint, 110)
    with concurrent.futures.ThreadPoolExecutor(100) as pool:
        held = [pool.submit(client.invoke, FunctionName=busy, Payload=b'{"gate":"pool"}') for _ in range(100)]
        # 4 instances running, 96 invocations waiting for one: 100 in flight
        cli = LambdaliteCli(d.endpoint, tmp_path)
        wait_until(lambda: cli.json("info", "--json")["inFlight"] == 100, timeout=60, message="100 in flight")
        with pytest.raises(ClientError) as e:
            lam.invoke(FunctionName=other, Payload=b"{}")
        assert throttle_of(e.value) == ("TooManyRequestsException", "ConcurrentInvocationLimitExceeded", 429)
        recorder.open_gate("pool")
        assert all(json.loads(f.result()["Payload"].read()) == "done" for f in held)
    assert invoke(lam, other, {"after": 1}).json() == {"after": 1}


def test_memory_budget_evicts_idle_instances_then_throttles(daemon_factory, lam_for, recorder, tmp_path):
    # Issue: "the sum of MemorySize of running instances cannot exceed a configured budget;
    # beyond it, invocations wait briefly then throttle".
    from e2e_util import LambdaliteCli

    d = daemon_factory(extra_args=["--memory-budget", "300"])
    lam = lam_for(d)
    fns = Functions(lam)
    big = fns.shell(GATED, env=recorder.env, memory=256, timeout=30)
    small = fns.echo(memory=128)
    info = lambda: LambdaliteCli(d.endpoint, tmp_path).json("info", "--json")["memory"]  # noqa: E731
    assert info()["budgetMB"] == 300
    recorder.open_gate("open")
    assert invoke(lam, big, {"gate": "open"}).json() == "done"  # big is now idle, 256 MB held
    assert info()["inUseMB"] == 256
    # small needs 128 more than the budget has: big's idle instance is stopped to make room
    assert invoke(lam, small, {"fits": 1}).json() == {"fits": 1}
    assert info()["inUseMB"] == 128
    # now big, busy, holds 256: small cannot start, waits, and is throttled
    lam.delete_function(FunctionName=small)
    small = fns.echo(memory=128)
    client = wide_client(d.endpoint, 4)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        busy = pool.submit(client.invoke, FunctionName=big, Payload=b'{"gate":"hold"}')
        wait_until(lambda: info()["inUseMB"] >= 256, message="big running")
        with pytest.raises(ClientError) as e:
            lam.invoke(FunctionName=small, Payload=b"{}")
        assert throttle_of(e.value) == ("TooManyRequestsException", "ConcurrentInvocationLimitExceeded", 429)
        recorder.open_gate("hold")
        assert json.loads(busy.result()["Payload"].read()) == "done"

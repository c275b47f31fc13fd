"""Invoke API: results, the log tail, warm reuse, timeouts, crashes, init errors, function errors,
payload limits, async and dry-run invocations, parallel instances, idle reaping.
Reference sections: /work/shared/reference/aws-wire-contract.md."""

import base64
import concurrent.futures
import json
import re
import uuid

import pytest
from botocore.exceptions import ClientError

from e2e_util import (
    ECHO_ENV,
    MAX_RESPONSE,
    MAX_SYNC_PAYLOAD,
    STREAM_BODY,
    START_RE,
    END_RE,
    UUID_RE,
    Functions,
    check_billing,
    client_error,
    instance_processes,
    invoke,
    parse_reports,
    wait_until,
)



def timeout_line_re(request_id):
    """ref §3: `2018-08-26T02:13:13.948Z <id> Task timed out after 30.02 seconds`."""
    return re.compile(
        r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z " + re.escape(request_id) + r" Task timed out after \d+\.\d{2} seconds$",
        re.M,
    )


def json_of_size(size):
    """A JSON document of exactly `size` bytes."""
    head, tail = b'{"data":"', b'"}'
    return head + b"a" * (size - len(head) - len(tail)) + tail


# ---------------------------------------------------------------------------------------------
# Results and the log tail


def test_sync_invoke_returns_function_result(lam, functions):
    name = functions.echo()
    payload = {"hello": "world", "n": [1, 2, 3], "text": "caf\u00e9 \u2713"}
    inv = invoke(lam, name, payload)
    assert inv.status == 200
    assert inv.function_error is None
    assert inv.executed_version == "$LATEST"  # ref §2.2
    assert inv.json() == payload


def test_request_ids_are_unique_uuids(lam, functions):
    name = functions.echo()
    ids = [invoke(lam, name, {"i": i}).request_id for i in range(3)]
    assert len(set(ids)) == 3
    for rid in ids:
        assert re.fullmatch(UUID_RE, rid), rid  # ref §1.1: the request id is a UUID


def test_tail_log_has_start_output_end_report(lam, functions):
    marker = uuid.uuid4().hex
    name = functions.shell(
        f"""
echo "stdout line {marker}"
echo "stderr line {marker}" >&2
printf '"done"' | respond
"""
    )
    inv = invoke(lam, name)
    assert inv.status == 200 and inv.json() == "done"
    log = inv.log
    rid = inv.request_id

    start = START_RE.search(log)
    end = END_RE.search(log)
    assert start and start["request_id"] == rid and start["version"] == "$LATEST", log
    assert end and end["request_id"] == rid, log
    report = inv.report
    assert report.request_id == rid
    assert report.memory == 128
    assert report.init is not None, "the first invocation of a new function is a cold start"
    assert report.max_memory >= 1
    check_billing(report)

    out_pos = log.index(f"stdout line {marker}")
    err_pos = log.index(f"stderr line {marker}")
    assert start.start() < out_pos < end.start()
    assert start.start() < err_pos < end.start()
    assert end.start() < log.index("REPORT RequestId: ")
    # Each platform line is its own line (ref §3).
    assert f"START RequestId: {rid} Version: $LATEST\n" in log
    assert f"END RequestId: {rid}\n" in log

    warm = invoke(lam, name)
    assert warm.report.init is None, "Init Duration only on a cold start (ref §3)"
    check_billing(warm.report)
    assert warm.report.request_id == warm.request_id != rid


def test_no_log_result_without_tail(lam, functions):
    name = functions.echo()
    inv = invoke(lam, name, {"a": 1}, tail=False)
    assert inv.log is None
    assert "x-amz-log-result" not in inv.headers


def test_tail_log_via_aws_cli(aws, functions):
    name = functions.shell('echo "hello from the shell function"\nprintf \'{"ok":true}\' | respond')
    meta, body = aws.invoke(name, '{"x":1}', "--log-type", "Tail")
    assert meta["StatusCode"] == 200
    assert json.loads(body) == {"ok": True}
    log = base64.b64decode(meta["LogResult"]).decode()
    assert "hello from the shell function" in log
    start = START_RE.search(log)
    assert start, log
    reports = parse_reports(log)
    assert len(reports) == 1 and reports[0].request_id == start["request_id"]
    assert END_RE.search(log)["request_id"] == start["request_id"]


def test_tail_log_is_the_last_4_kb(lam, functions):
    # X-Amz-Log-Result carries the last 4,096 bytes of the invocation's log (ref §2.2, §3).
    name = functions.shell(
        r"""
i=0
while [ $i -lt 300 ]; do printf 'log line %04d ..................................................\n' $i; i=$((i+1)); done
printf '"ok"' | respond
"""
    )
    inv = invoke(lam, name)
    raw = base64.b64decode(inv.headers["x-amz-log-result"])
    assert 3000 < len(raw) <= 4096
    log = raw.decode()
    assert "log line 0299" in log
    assert "log line 0000" not in log
    assert f"START RequestId: {inv.request_id}" not in log
    assert inv.report.request_id == inv.request_id
    assert log.endswith("\n")


# ---------------------------------------------------------------------------------------------
# Warm reuse


def test_warm_reuse_c_echo_same_instance_and_init_once(lam, functions):
    name = functions.echo()
    # env, pid, pid, env: the same instance (stream name) all along, and one process whose
    # per-process invocation counter goes on (2, 3) instead of restarting at 1.
    results = [invoke(lam, name, p) for p in (ECHO_ENV, {"action": "pid"}, {"action": "pid"}, ECHO_ENV)]
    streams = {results[0].instance, results[3].instance}
    assert len(streams) == 1, f"consecutive invokes must reuse the warm instance: {streams}"
    counts = [r.json()["invocations"] for r in results[1:3]]
    assert counts == [2, 3], counts
    assert results[0].report.init is not None
    assert all(r.report.init is None for r in results[1:]), "init runs once per instance"


def test_warm_reuse_shell_keeps_state(lam, functions):
    name = functions.shell(
        r"""
N=$((N+1))
printf '{"stream":"%s","n":%d}' "$AWS_LAMBDA_LOG_STREAM_NAME" "$N" | respond
""",
        init="N=0",
    )
    results = [invoke(lam, name) for _ in range(3)]
    assert [r.json()["n"] for r in results] == [1, 2, 3]
    assert len({r.instance for r in results}) == 1


# ---------------------------------------------------------------------------------------------
# Timeout, crash, init errors, function errors

SLEEP_OR_STREAM = r"""
case "$(jget action)" in
  sleep) sleep 3 ;;
  crash) echo "about to crash" >&2; exit 3 ;;
esac
""" + STREAM_BODY


def test_timeout_kills_instance_and_next_invoke_is_cold(lam, functions):
    name = functions.shell(SLEEP_OR_STREAM, timeout=1)
    first = invoke(lam, name)
    stream1 = first.instance
    assert instance_processes(name, stream1), "the warm instance's processes should be visible"

    timed_out = invoke(lam, name, {"action": "sleep"})
    assert timed_out.status == 200
    assert timed_out.function_error == "Unhandled"
    err = timed_out.json()
    assert err["errorType"] == "Sandbox.Timedout"
    assert err["errorMessage"] == f"RequestId: {timed_out.request_id} Error: Task timed out after 1.00 seconds"
    # ref §3: a timestamped timeout line precedes END/REPORT.
    log = timed_out.log
    m = timeout_line_re(timed_out.request_id).search(log)
    assert m, log
    assert m.start() < log.index(f"END RequestId: {timed_out.request_id}")
    assert timed_out.report.request_id == timed_out.request_id

    # The timed-out instance is killed, its children too (the `sleep`): no process of it is left.
    wait_until(
        lambda: not instance_processes(name, stream1), timeout=10, message=f"timed-out instance {stream1} to be killed"
    )
    after = invoke(lam, name)
    assert after.function_error is None
    assert after.instance != stream1, "the invoke after a timeout must run in a new instance"
    assert after.report.init is not None, "the invoke after a timeout is a cold start"


def test_crash_mid_invoke_is_runtime_exit_error(lam, functions):
    name = functions.shell(SLEEP_OR_STREAM)
    stream1 = invoke(lam, name).instance

    crashed = invoke(lam, name, {"action": "crash"})
    assert crashed.status == 200
    assert crashed.function_error == "Unhandled"
    assert crashed.json() == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {crashed.request_id} Error: Runtime exited with error: exit status 3",
    }
    assert "about to crash" in crashed.log
    assert f"END RequestId: {crashed.request_id}" in crashed.log

    after = invoke(lam, name)
    assert after.function_error is None
    assert after.instance != stream1, "the invoke after a crash must run in a new instance"
    assert after.report.init is not None


def test_init_error_posted_by_runtime(lam, functions):
    posted = {"errorMessage": "missing configuration", "errorType": "Runtime.ConfigError", "stackTrace": []}
    name = functions.script(
        "#!/bin/sh\nset -eu\n"
        "curl -sS --noproxy '*' -o /dev/null -X POST -H 'Lambda-Runtime-Function-Error-Type: Runtime.ConfigError' "
        f"--data-binary '{json.dumps(posted)}' \"http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/init/error\"\n"
        "exit 1\n"
    )
    inv = invoke(lam, name)
    assert inv.status == 200
    assert inv.function_error == "Unhandled"
    assert inv.json() == posted  # ref §1.4: the pending invocation completes with that body


def test_init_exit_before_next(lam, functions):
    name = functions.script('#!/bin/sh\necho "init is failing" >&2\nexit 2\n')
    inv = invoke(lam, name)
    assert inv.status == 200
    assert inv.function_error == "Unhandled"
    err = inv.json()
    assert err["errorType"] in ("Runtime.ExitError", "Runtime.InitError")
    assert "exit status 2" in err["errorMessage"]
    # A second invoke tries a fresh init and fails the same way (nothing cached as healthy).
    again = invoke(lam, name)
    assert again.function_error == "Unhandled"
    assert again.json()["errorType"] == err["errorType"]


def test_init_error_then_next_invoke_reinitialises(lam, functions, recorder):
    # ref §1.4: after an init error the environment is discarded and the next invoke re-inits.
    # The count of inits lives in the recorder: it must outlive the failed instance.
    init = r"""
if [ "$(counter init)" = 1 ]; then
  printf '{"errorMessage":"first init fails","errorType":"Runtime.FirstTime"}' |
    c -o /dev/null -X POST --data-binary @- "$RT/init/error"
  exit 1
fi
"""
    name = functions.shell(STREAM_BODY, init=init, env=recorder.env)
    first = invoke(lam, name)
    assert first.function_error == "Unhandled"
    assert first.json()["errorType"] == "Runtime.FirstTime"
    assert recorder.count("init") == 1
    second = invoke(lam, name)
    assert second.function_error is None, second.payload
    assert second.instance
    assert second.report.init is not None
    assert recorder.count("init") == 2, "the second invoke must run init again"


def test_missing_bootstrap_is_a_runtime_error(lam, functions):
    name = functions.create({"handler.sh": ("#!/bin/sh\necho hi\n", 0o755)}, prefix="noboot")
    inv = invoke(lam, name)
    assert inv.status == 200
    assert inv.function_error == "Unhandled"
    assert inv.json()["errorType"].startswith("Runtime."), inv.payload


ERROR_BODY = b'{"errorMessage":"boom","errorType":"MyError","stackTrace":["frame one","frame two"]}'


def test_function_error_is_returned_verbatim(lam, functions):
    name = functions.shell(
        r"""
if [ "$(jget action)" = "fail" ]; then
  printf '%s' '"""
        + ERROR_BODY.decode()
        + r"""' | fail_with MyError
else
  """
        + STREAM_BODY
        + r"""
fi
"""
    )
    stream1 = invoke(lam, name).instance
    failed = invoke(lam, name, {"action": "fail"})
    assert failed.status == 200
    assert failed.function_error == "Unhandled"
    assert failed.payload == ERROR_BODY  # ref §1.3: body = posted bytes verbatim
    assert f"END RequestId: {failed.request_id}" in failed.log
    # A reported error keeps the instance: the next invoke is warm.
    after = invoke(lam, name)
    assert after.instance == stream1
    assert after.report.init is None


def test_function_error_via_aws_cli(aws, functions):
    name = functions.shell("printf '%s' '" + ERROR_BODY.decode() + "' | fail_with MyError")
    meta, body = aws.invoke(name, "{}")
    assert meta["StatusCode"] == 200
    assert meta["FunctionError"] == "Unhandled"
    assert json.loads(body) == json.loads(ERROR_BODY)


# ---------------------------------------------------------------------------------------------
# Payload limits


def test_request_payload_over_6_mib_is_413(lam, functions):
    name = functions.echo()
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=name, Payload=json_of_size(MAX_SYNC_PAYLOAD + 1))
    status, code, message = client_error(e)
    assert (status, code) == (413, "RequestEntityTooLargeException")
    # ref §2.1 (AWS message)
    assert message == "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    # The daemon is still healthy and the function still works.
    assert invoke(lam, name, {"after": "413"}).json() == {"after": "413"}


def test_request_payload_of_exactly_6_mib_is_accepted(lam, functions):
    name = functions.echo()
    payload = json_of_size(MAX_SYNC_PAYLOAD)
    inv = invoke(lam, name, payload, tail=False)
    assert inv.status == 200
    assert inv.function_error is None
    assert json.loads(inv.payload) == json.loads(payload)


BIG_RESPONSE_BODY = r"""
case "$(jget action)" in
  big) head -c "$(jget size)" /dev/zero | tr '\0' a | post "invocation/$REQUEST_ID/response" big ;;
  *) """ + STREAM_BODY + r""" ;;
esac
"""


def test_response_over_limit_is_function_response_size_too_large(lam, functions, recorder):
    name = functions.shell(BIG_RESPONSE_BODY, memory=512, env=recorder.env)
    big = invoke(lam, name, {"action": "big", "size": MAX_RESPONSE + 1}, tail=False)
    assert big.status == 200
    assert big.function_error == "Unhandled"
    err = big.json()
    assert err["errorType"] == "Function.ResponseSizeTooLarge"
    assert "6291556" in err["errorMessage"]  # ref §1.2

    # The runtime itself was answered 413 (ref §1.2) ...
    big_rec = recorder.wait(["big"])["big"]
    assert big_rec.code == 413
    assert big_rec.json()["errorType"] == "RequestEntityTooLarge"
    # ... and carries on: the function keeps working.
    after = invoke(lam, name)
    assert after.function_error is None
    assert after.instance


def test_response_of_exactly_the_limit_is_delivered(lam, functions, recorder):
    name = functions.shell(BIG_RESPONSE_BODY, memory=512, env=recorder.env)
    inv = invoke(lam, name, {"action": "big", "size": MAX_RESPONSE}, tail=False)
    assert inv.status == 200
    assert inv.function_error is None
    assert len(inv.payload) == MAX_RESPONSE
    assert inv.payload == b"a" * MAX_RESPONSE
    assert recorder.wait(["big"])["big"].code == 202


def test_non_json_payload_is_rejected(lam, functions):
    # ref §2.1/§2.2: the payload must be JSON -> 400 InvalidRequestContentException.
    name = functions.echo()
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=name, Payload=b"this is not json")
    assert client_error(e)[:2] == (400, "InvalidRequestContentException")


# ---------------------------------------------------------------------------------------------
# Async (Event) and DryRun

# The async invocation's side effect: the event's token, reported to the recorder.
TOKEN_BODY = r"""
printf '%s' "$(jget token)" | record event
printf '{}' | respond
"""


def test_event_invoke_returns_202_and_runs(lam, functions, recorder):
    name = functions.shell(TOKEN_BODY, env=recorder.env)
    token = uuid.uuid4().hex
    inv = invoke(lam, name, {"token": token}, invocation_type="Event")
    assert inv.status == 202
    assert inv.payload == b""
    assert inv.function_error is None
    assert inv.executed_version is None  # ref §2.2: no X-Amz-Executed-Version on Event
    assert recorder.wait(["event"], timeout=15)["event"].text == token
    assert [r.label for r in recorder.records] == ["event"], "the event must run exactly once"


def test_event_invoke_via_aws_cli(aws, functions, recorder):
    name = functions.shell(TOKEN_BODY, env=recorder.env)
    token = uuid.uuid4().hex
    meta, body = aws.invoke(name, json.dumps({"token": token}), "--invocation-type", "Event")
    assert meta["StatusCode"] == 202
    assert body == b""
    assert recorder.wait(["event"], timeout=15)["event"].text == token


def test_dry_run_is_204(lam, functions):
    name = functions.echo()
    inv = invoke(lam, name, {"x": 1}, invocation_type="DryRun")
    assert inv.status == 204
    assert inv.payload == b""
    with pytest.raises(ClientError) as e:
        invoke(lam, "nope", {}, invocation_type="DryRun")
    assert client_error(e)[:2] == (404, "ResourceNotFoundException")


# ---------------------------------------------------------------------------------------------
# Parallel instances and idle reaping


def test_parallel_invocations_use_several_instances(lam, functions):
    name = functions.shell("sleep 1\n" + STREAM_BODY, timeout=3)
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda i: invoke(lam, name, {"i": i}, tail=False), range(4)))
    for r in results:
        assert r.status == 200 and r.function_error is None, r.payload
    streams = {r.instance for r in results}
    assert len(streams) >= 2, f"4 concurrent invocations all ran in one instance: {streams}"
    assert len({r.request_id for r in results}) == 4


def test_idle_instances_are_reaped(daemon_factory, lam_for):
    d = daemon_factory(idle_timeout=1)
    lam = lam_for(d)
    name = Functions(lam).echo()
    stream1 = invoke(lam, name, ECHO_ENV).instance
    assert instance_processes(name, stream1), "the warm instance's process should be visible"
    # No invoke while waiting (one would keep the instance warm): watch its processes go.
    wait_until(lambda: not instance_processes(name, stream1), timeout=20, message=f"idle instance {stream1} to be reaped")
    second = invoke(lam, name, ECHO_ENV)
    assert second.instance != stream1, "the invoke after reaping must run in a new instance"
    assert second.report.init is not None


"""The lambdalite CLI (same binary as the daemon): create-function, invoke, list, get, delete,
logs, --help, endpoint and credential resolution."""

import json
import queue
import re
import threading
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from e2e_util import (
    ACCOUNT,
    Functions,
    START_RE,
    echo_bootstrap_bytes,
    free_port,
    function_arn,
    invoke,
    parse_reports,
    shell_bootstrap,
    unique_name,
    wait_until,
    write_tree,
    zip_files,
)

COMMANDS = ["serve", "create-function", "invoke", "list", "get", "delete", "logs"]

# A function folder: the bootstrap runs a helper script directly (needs its exec bit) and reports
# whether a plain data file is executable (it must not be).
FOLDER_BOOTSTRAP = shell_bootstrap(
    r"""
out=$("$LAMBDA_TASK_ROOT/bin/tool.sh")
if [ -x "$LAMBDA_TASK_ROOT/data.txt" ]; then dx=yes; else dx=no; fi
printf '{"tool":"%s","data_exec":"%s","color":"%s","event":%s}' "$out" "$dx" "${COLOR:-}" "$(cat "$W/event")" | respond
"""
)
FOLDER_FILES = {
    "bootstrap": (FOLDER_BOOTSTRAP, 0o755),
    "bin/tool.sh": ("#!/bin/sh\nprintf tool-ran\n", 0o755),
    "data.txt": ("plain data\n", 0o644),
}

LOGGING_BODY = r"""
echo "function stdout $(jget marker)"
echo "function stderr $(jget marker)" >&2
printf '{"marker":"%s"}' "$(jget marker)" | respond
"""


def combined(proc):
    return proc.stdout + proc.stderr


def cli_create(cli, lam, name, code, *args):
    """lambdalite create-function NAME --code CODE ARGS..., then wait until it is Active."""
    proc = cli("create-function", name, "--code", code, *args)
    Functions(lam).wait_active(name)
    return proc


# ---------------------------------------------------------------------------------------------
# --help


def test_top_level_help(cli):
    proc = cli("--help", env={"LAMBDALITE_ENDPOINT": "http://127.0.0.1:9"})
    assert proc.returncode == 0
    text = combined(proc).lower()
    assert "usage" in text
    for cmd in COMMANDS:
        assert cmd in text, f"top-level help does not mention {cmd}"


@pytest.mark.parametrize("command", COMMANDS)
def test_command_help(cli, command):
    # --help needs no daemon: point the endpoint at a closed port.
    proc = cli(command, "--help", env={"LAMBDALITE_ENDPOINT": "http://127.0.0.1:9"})
    assert proc.returncode == 0, combined(proc)
    text = combined(proc)
    assert "usage" in text.lower()
    assert command in text


def test_unknown_command_fails(cli):
    proc = cli("no-such-command", check=False)
    assert proc.returncode != 0
    assert combined(proc).strip()


# ---------------------------------------------------------------------------------------------
# create-function


def test_create_function_from_folder_keeps_exec_bits(cli, lam, tmp_path):
    name = unique_name("clidir")
    folder = write_tree(tmp_path / "fn", FOLDER_FILES)
    cli(
        "create-function", name, "--code", folder, "--handler", "tool.handler", "--runtime", "provided.al2",
        "--memory", "256", "--timeout", "7", "--env", "COLOR=green", "--env", "MODE=a=b",
    )  # fmt: skip
    cfg = lam.get_function_configuration(FunctionName=name)
    assert cfg["FunctionArn"] == function_arn(name)
    assert cfg["Handler"] == "tool.handler"
    assert cfg["Runtime"] == "provided.al2"
    assert cfg["MemorySize"] == 256
    assert cfg["Timeout"] == 7
    assert cfg["Environment"]["Variables"] == {"COLOR": "green", "MODE": "a=b"}

    wait_until(lambda: lam.get_function_configuration(FunctionName=name)["State"] == "Active", message="Active")
    inv = invoke(lam, name, {"n": 1})
    assert inv.function_error is None, inv.payload
    assert inv.json() == {"tool": "tool-ran", "data_exec": "no", "color": "green", "event": {"n": 1}}


def test_create_function_from_zip_with_defaults(cli, lam, tmp_path):
    name = unique_name("clizip")
    zpath = tmp_path / "fn.zip"
    zpath.write_bytes(zip_files({"bootstrap": (echo_bootstrap_bytes(), 0o755)}))
    cli_create(cli, lam, name, zpath)
    cfg = lam.get_function_configuration(FunctionName=name)
    assert cfg["Runtime"] in ("provided", "provided.al2", "provided.al2023")
    assert cfg["MemorySize"] == 128
    assert cfg["Timeout"] == 3
    assert cfg["CodeSize"] == zpath.stat().st_size


def test_create_function_existing_name_fails(cli, lam, tmp_path):
    name = unique_name("clidup")
    folder = write_tree(tmp_path / "fn", FOLDER_FILES)
    cli_create(cli, lam, name, folder)
    proc = cli("create-function", name, "--code", folder, check=False)
    assert proc.returncode != 0
    assert "ResourceConflictException" in combined(proc) or "exist" in combined(proc).lower()


# ---------------------------------------------------------------------------------------------
# invoke


@pytest.fixture
def echo_name(cli, lam, tmp_path):
    name = unique_name("cliecho")
    folder = write_tree(tmp_path / "echo", {"bootstrap": (echo_bootstrap_bytes(), 0o755)})
    cli_create(cli, lam, name, folder)
    return name


def test_invoke_prints_result(cli, echo_name):
    proc = cli("invoke", echo_name, "--payload", '{"hello":"cli"}')
    assert proc.returncode == 0
    assert json.loads(proc.stdout) == {"hello": "cli"}


def test_invoke_payload_from_file(cli, echo_name, tmp_path):
    payload = {"from": "file", "list": [1, 2, 3]}
    (tmp_path / "event.json").write_text(json.dumps(payload))
    proc = cli("invoke", echo_name, "--payload", f"@{tmp_path / 'event.json'}")
    assert json.loads(proc.stdout) == payload


def test_invoke_log_prints_tail_on_stderr(cli, lam, tmp_path):
    name = unique_name("clilog")
    write_tree(tmp_path / "fn", {"bootstrap": (shell_bootstrap(LOGGING_BODY), 0o755)})
    cli_create(cli, lam, name, tmp_path / "fn")
    marker = uuid.uuid4().hex
    proc = cli("invoke", name, "--payload", json.dumps({"marker": marker}), "--log")
    assert json.loads(proc.stdout) == {"marker": marker}
    assert "START RequestId: " not in proc.stdout, "the log goes to stderr, the result to stdout"
    err = proc.stderr
    start = START_RE.search(err)
    assert start, err
    rid = start["request_id"]
    assert f"END RequestId: {rid}" in err
    assert f"function stdout {marker}" in err
    reports = parse_reports(err, loose=True)
    assert [r.request_id for r in reports] == [rid]


def test_invoke_function_error_exits_1(cli, lam, tmp_path):
    name = unique_name("clierr")
    body = r"""printf '{"errorType":"CliError","errorMessage":"it broke"}' | fail_with CliError"""
    write_tree(tmp_path / "fn", {"bootstrap": (shell_bootstrap(body), 0o755)})
    cli_create(cli, lam, name, tmp_path / "fn")
    proc = cli("invoke", name, "--payload", "{}", check=False)
    assert proc.returncode == 1, combined(proc)
    assert "CliError" in combined(proc) and "it broke" in combined(proc)


def test_invoke_unknown_function_fails(cli):
    proc = cli("invoke", "nope", "--payload", "{}", check=False)
    assert proc.returncode != 0
    text = combined(proc)
    assert "ResourceNotFoundException" in text or "not found" in text.lower()


def test_invoke_async(cli, lam, tmp_path, recorder):
    name = unique_name("cliasync")
    body = r"""
printf '%s' "$(jget token)" | record event
printf '{}' | respond
"""
    write_tree(tmp_path / "fn", {"bootstrap": (shell_bootstrap(body), 0o755)})
    cli_create(cli, lam, name, tmp_path / "fn", "--env", f"RECORDER_URL={recorder.url}")
    token = uuid.uuid4().hex
    proc = cli("invoke", name, "--async", "--payload", json.dumps({"token": token}))
    assert proc.returncode == 0
    assert recorder.wait(["event"], timeout=15)["event"].text == token
    assert [r.label for r in recorder.records] == ["event"], "the event must run exactly once"


# ---------------------------------------------------------------------------------------------
# list, get, delete


def _functions_of(doc):
    if isinstance(doc, dict):
        doc = doc.get("Functions", doc.get("functions"))
    assert isinstance(doc, list), doc
    return doc


def test_list(cli, echo_name):
    text = cli("list").stdout
    assert echo_name in text
    listed = _functions_of(cli.json("list", "--json"))
    entry = [f for f in listed if f["FunctionName"] == echo_name]
    assert len(entry) == 1
    assert entry[0]["Runtime"] in ("provided", "provided.al2", "provided.al2023")


def test_get(cli, echo_name):
    text = cli("get", echo_name).stdout
    assert echo_name in text
    doc = cli.json("get", echo_name, "--json")
    conf = doc.get("Configuration", doc)
    assert conf["FunctionName"] == echo_name
    assert conf["FunctionArn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{echo_name}"
    assert conf["MemorySize"] == 128


def test_get_unknown_fails(cli):
    proc = cli("get", "nope", check=False)
    assert proc.returncode != 0
    assert "nope" in combined(proc)


def test_delete(cli, lam, echo_name):
    cli("delete", echo_name)
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName=echo_name)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert echo_name not in cli("list").stdout
    proc = cli("delete", echo_name, check=False)
    assert proc.returncode != 0


# ---------------------------------------------------------------------------------------------
# logs


@pytest.fixture
def logging_fn(cli, lam, tmp_path):
    name = unique_name("clilogs")
    write_tree(tmp_path / "logfn", {"bootstrap": (shell_bootstrap(LOGGING_BODY), 0o755)})
    cli_create(cli, lam, name, tmp_path / "logfn")
    return name


def test_logs_prints_platform_and_function_lines(cli, lam, logging_fn):
    marker = uuid.uuid4().hex
    inv = invoke(lam, logging_fn, {"marker": marker})
    rid = inv.request_id

    def has_all():
        out = cli("logs", logging_fn).stdout
        return out if f"REPORT RequestId: {rid}" in out else None

    out = wait_until(has_all, timeout=10, interval=0.2, message="the invocation's REPORT line in `lambdalite logs`")
    assert f"START RequestId: {rid} Version: $LATEST" in out
    assert f"END RequestId: {rid}" in out
    assert f"function stdout {marker}" in out
    assert f"function stderr {marker}" in out
    reports = [r for r in parse_reports(out, loose=True) if r.request_id == rid]
    assert len(reports) == 1 and reports[0].memory == 128
    # Order: START, function output, END, REPORT.
    assert out.index(f"START RequestId: {rid}") < out.index(f"function stdout {marker}") < out.index(f"END RequestId: {rid}")

    since = cli("logs", logging_fn, "--since", "10m").stdout
    assert f"function stdout {marker}" in since


def test_logs_since_excludes_older_lines(cli, lam, logging_fn):
    old, new = uuid.uuid4().hex, uuid.uuid4().hex
    invoke(lam, logging_fn, {"marker": old})
    wait_until(lambda: f"function stdout {old}" in cli("logs", logging_fn).stdout, message="first log line")
    time.sleep(3)
    invoke(lam, logging_fn, {"marker": new})
    wait_until(lambda: f"function stdout {new}" in cli("logs", logging_fn, "--since", "2s").stdout, message="recent line")
    out = cli("logs", logging_fn, "--since", "2s").stdout
    assert f"function stdout {old}" not in out


def test_logs_unknown_function_fails(cli):
    proc = cli("logs", "nope", check=False)
    assert proc.returncode != 0


def test_logs_follow(cli, lam, logging_fn):
    proc = cli.popen("logs", logging_fn, "--follow")
    lines = queue.Queue()

    def reader():
        for raw in proc.stdout:
            lines.put(raw.decode(errors="replace"))

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        time.sleep(0.5)  # let it attach before the invocation (it must also show lines after it)
        assert proc.poll() is None, f"logs --follow exited: {proc.stderr.read().decode(errors='replace')}"
        marker = uuid.uuid4().hex
        rid = invoke(lam, logging_fn, {"marker": marker}).request_id
        seen = ""
        deadline = time.monotonic() + 15
        while f"REPORT RequestId: {rid}" not in seen:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"logs --follow did not show the new invocation; got:\n{seen}")
            try:
                seen += lines.get(timeout=remaining)
            except queue.Empty:
                pass
        assert f"function stdout {marker}" in seen
        assert proc.poll() is None, "--follow keeps running"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except Exception:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------------------------------------
# Endpoint and credentials


def test_endpoint_flag_overrides_environment(cli, daemon, echo_name):
    dead = f"http://127.0.0.1:{free_port()}"
    proc = cli("list", "--endpoint", daemon.endpoint, env={"LAMBDALITE_ENDPOINT": dead})
    assert echo_name in proc.stdout
    bad = cli("list", env={"LAMBDALITE_ENDPOINT": dead}, check=False)
    assert bad.returncode != 0


def test_credentials_from_aws_environment(cli, echo_name):
    ok = cli("list", env={"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"})
    assert echo_name in ok.stdout
    bad = cli("list", env={"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "wrong-secret"}, check=False)
    assert bad.returncode != 0
    assert "signature" in combined(bad).lower()


def test_aws_logs_filter_log_events_reads_the_same_lines(aws, lam, logging_fn):
    # The CloudWatch Logs read side: `aws logs filter-log-events` on /aws/lambda/NAME.
    marker = uuid.uuid4().hex
    rid = invoke(lam, logging_fn, {"marker": marker}).request_id
    group = f"/aws/lambda/{logging_fn}"

    def events():
        out = aws("logs", "filter-log-events", "--log-group-name", group)
        msgs = [e["message"] for e in out["events"]]
        return out if any(m.startswith(f"REPORT RequestId: {rid}") for m in msgs) else None

    out = wait_until(events, timeout=10, interval=0.2, message="REPORT via filter-log-events")
    msgs = [e["message"] for e in out["events"]]
    assert f"START RequestId: {rid} Version: $LATEST" in msgs
    assert f"function stdout {marker}" in msgs
    streams = {e["logStreamName"] for e in out["events"]}
    assert all(re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", s) for s in streams), streams
    stamps = [e["timestamp"] for e in out["events"]]
    assert stamps == sorted(stamps)
    filtered = aws("logs", "filter-log-events", "--log-group-name", group, "--filter-pattern", marker)
    assert [e["message"] for e in filtered["events"]] == [f"function stdout {marker}", f"function stderr {marker}"]
    missing = aws("logs", "filter-log-events", "--log-group-name", "/aws/lambda/nope-nothing", check=False)
    assert missing.returncode != 0 and "ResourceNotFoundException" in missing.stderr

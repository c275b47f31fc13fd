"""Helpers shared by the lambdalite end-to-end suite (imported by conftest.py and the tests).

Nothing here talks to a mock: every helper drives the real `lambdalite` binary, the Debian AWS CLI
v2 (/usr/bin/aws) or boto3 (importable only under /usr/bin/python3).

Reference sections quoted in comments ("ref §N") are those of
/work/shared/reference/aws-wire-contract.md.
"""

import base64
import datetime
import hashlib
import hmac
import http.client
import io
import json
import math
import os
import re
import signal
import socket
import subprocess
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Optional
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
import botocore.config
import pytest

# --------------------------------------------------------------------------------------------
# Locations and constants

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("LAMBDALITE_BUILD") or (REPO / "build")).resolve()
LAMBDALITE = BUILD / "lambdalite"
ECHO_BOOTSTRAP = BUILD / "examples" / "echo" / "bootstrap"
AWS_CLI = "/usr/bin/aws"

REGION = "us-east-1"
ACCOUNT = "000000000000"
ACCESS_KEY = "test"  # the development key pair of a fresh data directory
SECRET_KEY = "test"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/lambdalite-e2e"

MAX_SYNC_PAYLOAD = 6291456  # 6 MiB, ref §2.2
MAX_RESPONSE = 6291556  # 6 MiB + 100, ref §1.2

# Set in the daemon's environment; a function must never see it (functions get the Lambda
# environment, not the daemon's: ref §1.7).
SENTINEL_VAR = "LAMBDALITE_E2E_SENTINEL"

# AWS_LAMBDA_LOG_STREAM_NAME of a $LATEST instance (ref §1.7): YYYY/MM/DD/[$LATEST]<32 hex>
LOG_STREAM_RE = re.compile(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}")

UUID_RE = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

# The exact REPORT line (ref §3): tab separators, a trailing tab, Init Duration after Max Memory
# Used and only on a cold start.
REPORT_RE = re.compile(
    r"^REPORT RequestId: (?P<request_id>\S+)\t"
    r"Duration: (?P<duration>\d+\.\d{2}) ms\t"
    r"Billed Duration: (?P<billed>\d+) ms\t"
    r"Memory Size: (?P<memory>\d+) MB\t"
    r"Max Memory Used: (?P<max_memory>\d+) MB\t"
    r"(?:Init Duration: (?P<init>\d+\.\d{2}) ms\t)?$",
    re.M,
)
# Same fields, for output that may prefix lines (timestamps) or trim the trailing tab
# (`lambdalite logs`).
REPORT_LOOSE_RE = re.compile(
    r"REPORT RequestId: (?P<request_id>\S+)\t"
    r"Duration: (?P<duration>\d+\.\d{2}) ms\t"
    r"Billed Duration: (?P<billed>\d+) ms\t"
    r"Memory Size: (?P<memory>\d+) MB\t"
    r"Max Memory Used: (?P<max_memory>\d+) MB"
    r"(?:\tInit Duration: (?P<init>\d+\.\d{2}) ms)?"
)
START_RE = re.compile(r"^START RequestId: (?P<request_id>\S+) Version: (?P<version>\S+)$", re.M)
END_RE = re.compile(r"^END RequestId: (?P<request_id>\S+)$", re.M)


def function_arn(name):
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def layer_arn(name, version=None):
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{name}"
    return arn if version is None else f"{arn}:{version}"


def unique_name(prefix="fn"):
    """A function/layer name no other test uses (Lambda names: [A-Za-z0-9-_], <= 64)."""
    return f"e2e-{prefix}-{uuid.uuid4().hex[:10]}"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=10.0, interval=0.05, message="condition"):
    """Poll predicate() until it returns a truthy value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


def instance_processes(function_name, stream=None):
    """Pids of the live host processes whose environment holds
    AWS_LAMBDA_FUNCTION_NAME=<function_name> (and, given `stream`,
    AWS_LAMBDA_LOG_STREAM_NAME=<stream>, i.e. one instance): the processes of that function's
    instances, bootstraps and their children alike. Scans /proc/<pid>/environ, so it sees plain
    and sandboxed instances (a pid namespace hides host pids from the function, not the function
    from the host); reading other users' environ needs root, as the suite runs. Zombies have an
    empty environ and do not count. Callers assert an instance is visible here before they
    assert it is gone, so an unreadable /proc cannot make a "gone" check pass."""
    want = [f"AWS_LAMBDA_FUNCTION_NAME={function_name}".encode()]
    if stream is not None:
        want.append(f"AWS_LAMBDA_LOG_STREAM_NAME={stream}".encode())
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:  # gone meanwhile, or not readable
            continue
        if all(w in env for w in want):
            pids.append(int(entry.name))
    return pids


def clean_env(extra=None):
    """The test process's environment without AWS settings or proxies, plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_")
        and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")
        and k != "LAMBDALITE_ENDPOINT"
    }
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.update(extra or {})
    return env


# --------------------------------------------------------------------------------------------
# Zips


def zip_files(files):
    """Zip a dict {name: content | (content, mode)} into bytes. Content is str or bytes; the
    mode (default 0o644, or 0o755 for a file named `bootstrap`) is stored as Unix permissions."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, spec in sorted(files.items()):
            if isinstance(spec, tuple):
                content, mode = spec
            else:
                content = spec
                mode = 0o755 if os.path.basename(name) == "bootstrap" else 0o644
            if isinstance(content, str):
                content = content.encode()
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.create_system = 3  # Unix, so external_attr carries the mode
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, content)
    return buf.getvalue()


def zip_dir(path):
    """Zip a folder into bytes, preserving each file's permission bits."""
    path = Path(path)
    files = {}
    for p in sorted(path.rglob("*")):
        if p.is_file():
            files[p.relative_to(path).as_posix()] = (p.read_bytes(), p.stat().st_mode & 0o7777)
    return zip_files(files)


def write_tree(root, files):
    """Write {name: content | (content, mode)} under root (for the CLI's --code DIR)."""
    root = Path(root)
    for name, spec in files.items():
        content, mode = spec if isinstance(spec, tuple) else (spec, 0o644)
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content.encode() if isinstance(content, str) else content)
        p.chmod(mode)
    return root


def code_sha256(zip_bytes):
    """CodeSha256 as Lambda reports it: base64 of the SHA-256 of the zip (ref §2.4)."""
    return base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()


def echo_bootstrap_bytes():
    if not ECHO_BOOTSTRAP.is_file():
        pytest.fail(
            f"the C echo function is missing: {ECHO_BOOTSTRAP} "
            f"(run `make`, or point LAMBDALITE_BUILD at the build directory)"
        )
    return ECHO_BOOTSTRAP.read_bytes()


# --------------------------------------------------------------------------------------------
# Shell functions (provided.al2023 style: /bin/sh + curl talking to the Runtime API)

SHELL_PRELUDE = r"""#!/bin/sh
# lambdalite e2e test function: a custom runtime in sh + curl (Runtime API 2018-06-01)
set -eu
RT="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
W=$(mktemp -d "${TMPDIR:-/tmp}/ll-e2e.XXXXXX")  # under --sandbox off, on the host: see conftest
trap 'rm -rf "$W"' EXIT
c() { curl -sS --noproxy '*' "$@"; }
# header NAME: a header of the last /next response (CR stripped)
header() { grep -i "^$1:" "$W/headers" | head -n 1 | cut -d: -f2- | sed 's/^ *//' | tr -d '\r\n'; }
# jget KEY: the string or number value of "KEY" in the event (flat JSON only)
jget() { sed -n "s/.*\"$1\" *: *\"\{0,1\}\([^\",}]*\).*/\1/p" "$W/event" | head -n 1; }
# respond: POST stdin as the invocation's response
respond() { c -o /dev/null -X POST --data-binary @- "$RT/invocation/$REQUEST_ID/response"; }
# fail_with TYPE: POST stdin as the invocation's error
fail_with() {
  c -o /dev/null -X POST -H "Lambda-Runtime-Function-Error-Type: $1" --data-binary @- \
    "$RT/invocation/$REQUEST_ID/error"
}
# The test's side channel is its recorder (the `recorder` fixture: an HTTP server on the host's
# loopback, URL in $RECORDER_URL), never a host file: a sandboxed instance sees no host paths.
# record LABEL [CODE]: POST stdin to the recorder as record LABEL (with CODE, a status code to
# pass on). Without RECORDER_URL the record is dropped.
record() {
  if [ -n "${RECORDER_URL:-}" ]; then
    c -f -o /dev/null -X POST --data-binary @- "$RECORDER_URL/record/$1${2:+?code=$2}"
  else
    cat > /dev/null
  fi
}
# counter KEY: increment the recorder's counter KEY and print its new value (state that must
# outlive an instance, e.g. across re-inits).
counter() { c -f "$RECORDER_URL/count/$1"; }
# post PATH LABEL [curl args...]: POST stdin to $RT/PATH and record as LABEL the status code the
# Runtime API answered and its body.
post() {
  p=$1; label=$2; shift 2
  : > "$W/pbody"
  code=$(c -o "$W/pbody" -w '%{http_code}' -X POST "$@" --data-binary @- "$RT/$p") || true
  record "$label" "$code" < "$W/pbody"
}
"""

SHELL_LOOP = r"""
while true; do
  : > "$W/headers"; : > "$W/event"
  c -D "$W/headers" -o "$W/event" "$RT/invocation/next"
  REQUEST_ID=$(header Lambda-Runtime-Aws-Request-Id)
"""


def shell_bootstrap(body, init=""):
    """A shell bootstrap: `init` runs once, `body` once per invocation with $REQUEST_ID, the event
    in "$W/event", the /next headers in "$W/headers" and the helpers of SHELL_PRELUDE. The body
    must answer the invocation itself (e.g. `printf '{"ok":1}' | respond`)."""
    return SHELL_PRELUDE + "\n" + init + "\n" + SHELL_LOOP + _indent(body) + "\ndone\n"


def _indent(text):
    return "".join("  " + line + "\n" for line in text.strip("\n").splitlines())


# --------------------------------------------------------------------------------------------
# The recorder: what functions tell the test besides their result


@dataclass
class Record:
    label: str
    body: bytes
    code: Optional[int]  # the CODE the function passed on (e.g. the Runtime API's status), if any

    @property
    def text(self):
        return self.body.decode()

    def json(self):
        return json.loads(self.body)


class Recorder:
    """A threaded HTTP server on 127.0.0.1:<free port> in the test process. Functions report to
    it over the network (instances share the host's network, not its files):

      POST /record/LABEL[?code=N]  body = the record      -> 204; kept in .records (arrival order)
      GET  /count/KEY                                      -> 200, KEY's counter after +1 (text)
      GET  /gate/KEY      blocks until the test calls .open_gate(KEY) (30 s at most) -> 200

    .url / .env ({"RECORDER_URL": url}, for a function's Environment); .records (a copy);
    .wait(labels | count, timeout) -> {label: first Record with it} | the first `count` Records;
    .count(key) -> the counter's current value; .open_gate(key) releases every GET /gate/key."""

    def __init__(self):
        self._cond = threading.Condition()
        self._records = []
        self._counts = {}
        self._gates = set()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _body(self):
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    data = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        if size == 0:  # then trailers up to an empty line
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return data
                        data += self.rfile.read(size + 2)[:size]
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _answer(self, status, body=b""):
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                url = urlsplit(self.path)
                body = self._body()
                if not url.path.startswith("/record/"):
                    return self._answer(404, b"unknown path\n")
                code = parse_qs(url.query).get("code", [""])[0]
                rec = Record(unquote(url.path[len("/record/") :]), body, int(code) if code.isdigit() else None)
                with recorder._cond:
                    recorder._records.append(rec)
                    recorder._cond.notify_all()
                self._answer(204)

            def do_GET(self):
                path = urlsplit(self.path).path
                if path.startswith("/gate/"):
                    key = unquote(path[len("/gate/") :])
                    with recorder._cond:
                        recorder._cond.wait_for(lambda: key in recorder._gates, timeout=30)
                    return self._answer(200, b"open")
                if not path.startswith("/count/"):
                    return self._answer(404, b"unknown path\n")
                key = unquote(path[len("/count/") :])
                with recorder._cond:
                    n = recorder._counts[key] = recorder._counts.get(key, 0) + 1
                    recorder._cond.notify_all()
                self._answer(200, str(n).encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="e2e-recorder", daemon=True)
        self._thread.start()

    @property
    def env(self):
        return {"RECORDER_URL": self.url}

    @property
    def records(self):
        with self._cond:
            return list(self._records)

    def count(self, key):
        with self._cond:
            return self._counts.get(key, 0)

    def open_gate(self, key):
        with self._cond:
            self._gates.add(key)
            self._cond.notify_all()

    def wait(self, what, timeout=10.0):
        """Wait until every label in `what` (a label or labels) was recorded, and return
        {label: its first Record}; or, with an int, until that many records arrived, and return
        the first `what` Records."""
        if isinstance(what, int):
            ready = lambda: len(self._records) >= what  # noqa: E731
            result = lambda: self._records[:what]  # noqa: E731
        else:
            labels = [what] if isinstance(what, str) else list(what)

            def ready():
                return set(labels) <= {r.label for r in self._records}

            def result():
                return {l: next(r for r in self._records if r.label == l) for l in labels}

        with self._cond:
            if not self._cond.wait_for(ready, timeout):
                got = [(r.label, r.code, r.body[:200]) for r in self._records]
                pytest.fail(f"timed out after {timeout} s waiting for records {what!r}; recorded: {got}")
            return result()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


# --------------------------------------------------------------------------------------------
# Log lines


@dataclass
class Report:
    request_id: str
    duration: float
    billed: int
    memory: int
    max_memory: int
    init: Optional[float]
    line: str


def parse_reports(text, loose=False):
    regex = REPORT_LOOSE_RE if loose else REPORT_RE
    out = []
    for m in regex.finditer(text):
        out.append(
            Report(
                request_id=m["request_id"],
                duration=float(m["duration"]),
                billed=int(m["billed"]),
                memory=int(m["memory"]),
                max_memory=int(m["max_memory"]),
                init=float(m["init"]) if m["init"] else None,
                line=m.group(0),
            )
        )
    return out


def check_billing(report):
    """Billed Duration is the duration rounded up to 1 ms (ref §3). On a cold start the init
    phase may be billed too (ref §3, Aug 2025), so only a lower bound holds there."""
    low = math.ceil(report.duration)
    if report.init is None:
        assert low <= report.billed <= low + 1, report.line
    else:
        assert report.billed >= low, report.line


# --------------------------------------------------------------------------------------------
# boto3

_SESSION = boto3.session.Session()


def make_lambda_client(endpoint, access_key=ACCESS_KEY, secret_key=SECRET_KEY, validate=True, region=REGION):
    """A boto3 Lambda client for the daemon: us-east-1 (or `region`), no retries, 60 s read timeout.
    validate=False turns off botocore's client-side parameter checks (to reach the daemon
    with out-of-range values)."""
    return make_client("lambda", endpoint, access_key, secret_key, validate, region)


def make_client(service, endpoint, access_key=ACCESS_KEY, secret_key=SECRET_KEY, validate=True, region=REGION):
    """A boto3 client of `service` ("lambda", "kinesis") for the daemon, as make_lambda_client."""
    return _SESSION.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=botocore.config.Config(
            retries={"total_max_attempts": 1},
            read_timeout=60,
            connect_timeout=5,
            max_pool_connections=16,
            parameter_validation=validate,
        ),
    )


# --------------------------------------------------------------------------------------------
# Invoking through boto3


@dataclass
class Invocation:
    status: int
    payload: bytes
    function_error: Optional[str]
    log: Optional[str]
    request_id: str
    executed_version: Optional[str]
    headers: dict = field(default_factory=dict)

    def json(self):
        return json.loads(self.payload)

    @property
    def instance(self):
        """The log stream name of the instance that served this invocation, from a result with a
        "stream" (STREAM_BODY) or "AWS_LAMBDA_LOG_STREAM_NAME" (ECHO_ENV) member; asserts its
        format, so that instance comparisons never compare empty or missing names."""
        assert self.function_error is None, self.payload
        body = self.json()
        stream = body.get("stream", body.get("AWS_LAMBDA_LOG_STREAM_NAME"))
        assert isinstance(stream, str) and LOG_STREAM_RE.fullmatch(stream), f"no log stream name in {body!r}"
        return stream

    @property
    def report(self):
        """The single REPORT line of the tail log, parsed with the exact format."""
        assert self.log is not None, "invocation was not made with LogType=Tail"
        reports = parse_reports(self.log)
        assert len(reports) == 1, f"expected one exact REPORT line in the tail log:\n{self.log!r}"
        return reports[0]


def encode_payload(payload):
    if payload is None:
        return b"{}"
    if isinstance(payload, (bytes, bytearray)):
        return bytes(payload)
    if isinstance(payload, str):
        return payload.encode()
    return json.dumps(payload).encode()


def invoke(lam, name, payload=None, tail=True, invocation_type="RequestResponse", **kw):
    args = dict(FunctionName=name, Payload=encode_payload(payload), InvocationType=invocation_type)
    if tail and invocation_type == "RequestResponse":
        args["LogType"] = "Tail"
    args.update(kw)
    resp = lam.invoke(**args)
    log = resp.get("LogResult")
    return Invocation(
        status=resp["StatusCode"],
        payload=resp["Payload"].read() if "Payload" in resp else b"",
        function_error=resp.get("FunctionError"),
        log=base64.b64decode(log).decode("utf-8", "replace") if log is not None else None,
        request_id=resp["ResponseMetadata"].get("RequestId", ""),
        executed_version=resp.get("ExecutedVersion"),
        headers=resp["ResponseMetadata"]["HTTPHeaders"],
    )


def client_error(excinfo):
    """(HTTP status, error code, message) of a botocore ClientError."""
    r = excinfo.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"], r["Error"].get("Message", "")


# --------------------------------------------------------------------------------------------
# Creating functions


class Producers:
    """Threads putting batches of records into a stream until stop(), each its own boto3
    client, as a load that a daemon crash interrupts: a batch whose put failed was never
    acknowledged. .acked maps (shardId, sequence number) -> data of every acknowledged record;
    .count() is how many there are."""

    def __init__(self, endpoint, stream, threads=2, batch=50, keys=7, pause=0.0):
        self.acked = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(endpoint, stream, p, batch, keys, pause), daemon=True)
            for p in range(threads)
        ]
        for t in self._threads:
            t.start()

    def _run(self, endpoint, stream, pid, batch, keys, pause):
        client = make_client("kinesis", endpoint)
        i = 0
        while not self._stop.is_set():
            recs = [{"Data": f"{pid}-{i + j}".encode(), "PartitionKey": f"{pid}-{j % keys}"} for j in range(batch)]
            try:
                out = client.put_records(StreamName=stream, Records=recs)
            except Exception:
                return  # the daemon is gone: this batch was never acknowledged
            with self._lock:
                for rec, r in zip(recs, out["Records"]):
                    if "SequenceNumber" in r:
                        self.acked[(r["ShardId"], int(r["SequenceNumber"]))] = rec["Data"]
            i += batch
            if pause:
                time.sleep(pause)

    def count(self):
        with self._lock:
            return len(self.acked)

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)


class Functions:
    """Creates uniquely named functions through boto3 and waits until they are Active."""

    def __init__(self, lam):
        self.lam = lam

    def create(
        self,
        files=None,
        *,
        zip_bytes=None,
        name=None,
        prefix="fn",
        runtime="provided.al2023",
        handler="function.handler",
        timeout=3,
        memory=128,
        env=None,
        layers=None,
        wait=True,
    ):
        name = name or unique_name(prefix)
        if zip_bytes is None:
            zip_bytes = zip_files(files or {})
        args = dict(
            FunctionName=name,
            Runtime=runtime,
            Role=ROLE,
            Handler=handler,
            Code={"ZipFile": zip_bytes},
            Timeout=timeout,
            MemorySize=memory,
        )
        if env is not None:
            args["Environment"] = {"Variables": env}
        if layers:
            args["Layers"] = list(layers)
        cfg = self.lam.create_function(**args)
        assert cfg["FunctionName"] == name
        if wait:
            self.wait_active(name)
        return name

    def shell(self, body, init="", extra_files=None, **kw):
        """A function whose bootstrap is shell_bootstrap(body, init)."""
        files = {"bootstrap": (shell_bootstrap(body, init), 0o755)}
        files.update(extra_files or {})
        return self.create(files, prefix=kw.pop("prefix", "sh"), **kw)

    def script(self, text, extra_files=None, **kw):
        """A function whose bootstrap is the given script text, verbatim."""
        files = {"bootstrap": (text, 0o755)}
        files.update(extra_files or {})
        return self.create(files, prefix=kw.pop("prefix", "script"), **kw)

    def echo(self, **kw):
        """The C echo function (examples/echo, built with the runtime library)."""
        files = {"bootstrap": (echo_bootstrap_bytes(), 0o755)}
        return self.create(files, prefix=kw.pop("prefix", "echo"), **kw)

    def wait_active(self, name, timeout=10.0):
        def active():
            cfg = self.lam.get_function_configuration(FunctionName=name)
            assert cfg.get("State", "Active") != "Failed", cfg
            return cfg.get("State", "Active") == "Active" and cfg.get("LastUpdateStatus", "Successful") != "InProgress"

        wait_until(active, timeout=timeout, interval=0.1, message=f"function {name} to become Active")


# Instance identity: the log stream name, unique per instance (ref §1.7), not a pid (a sandboxed
# bootstrap is pid 1 of its own pid namespace). A shell function body answering
# {"stream": <its instance's log stream name>}; the C echo function answers it (among the other
# AWS_* variables) to ECHO_ENV. Invocation.instance reads and checks either answer.
STREAM_BODY = r"""printf '{"stream":"%s"}' "$AWS_LAMBDA_LOG_STREAM_NAME" | respond"""
ECHO_ENV = {"action": "env"}


# --------------------------------------------------------------------------------------------
# The daemon


class Daemon:
    """One `lambdalite serve` process on 127.0.0.1:port with a data directory.

    start() waits for the ready line (or for the port to accept) for at most 10 s; stop() sends
    SIGTERM and asserts a clean exit: status 0 and no sanitizer report on stderr."""

    READY_TIMEOUT = 10.0
    STOP_TIMEOUT = 20.0
    BAD_STDERR = ("runtime error:", "AddressSanitizer", "LeakSanitizer")

    def __init__(self, data_dir, log_dir, port=None, idle_timeout=None, extra_args=()):
        self.data_dir = Path(data_dir)
        self.log_dir = Path(log_dir)
        self.port = port or free_port()
        self.idle_timeout = idle_timeout
        self.extra_args = [str(a) for a in extra_args]  # more `serve` options ("--sandbox", "off")
        self.proc = None
        self.runs = 0
        self.stderr_path = None
        self.crashed = []  # messages about the daemon found dead while tests ran

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def command(self):
        cmd = [
            str(LAMBDALITE),
            "serve",
            "--listen",
            f"127.0.0.1:{self.port}",
            "--data-dir",
            str(self.data_dir),
        ]
        if self.idle_timeout is not None:
            cmd += ["--idle-timeout", str(self.idle_timeout)]
        return cmd + self.extra_args

    def start(self):
        assert not self.running, "daemon already running"
        if not (LAMBDALITE.is_file() and os.access(LAMBDALITE, os.X_OK)):
            pytest.fail(
                f"lambdalite binary not found or not executable: {LAMBDALITE} "
                f"(run `make`, or set LAMBDALITE_BUILD to the build directory)"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.runs += 1
        self.stderr_path = self.log_dir / f"daemon-{self.port}-{self.runs}.stderr"
        stdout_path = self.log_dir / f"daemon-{self.port}-{self.runs}.stdout"
        env = clean_env({SENTINEL_VAR: "daemon-environment-must-not-leak"})
        with open(self.stderr_path, "wb") as err, open(stdout_path, "wb") as out:
            self.proc = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=self.log_dir
            )
        ready_line = f"lambdalite: listening on {self.endpoint}"
        deadline = time.monotonic() + self.READY_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                pytest.fail(
                    f"lambdalite serve exited with status {self.proc.returncode} before listening\n"
                    f"command: {' '.join(self.command())}\nstderr:\n{self.stderr()}"
                )
            if ready_line in self.stderr() or self._port_accepts():
                return self
            if time.monotonic() > deadline:
                self._kill()
                pytest.fail(
                    f"lambdalite serve not ready within {self.READY_TIMEOUT} s "
                    f"(no '{ready_line}' on stderr, port closed)\nstderr:\n{self.stderr()}"
                )
            time.sleep(0.05)

    def _port_accepts(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stderr(self):
        if self.stderr_path is None or not self.stderr_path.exists():
            return ""
        return self.stderr_path.read_text(errors="replace")

    def stderr_tail(self, n=60):
        return "\n".join(self.stderr().splitlines()[-n:])

    def _kill(self):
        if self.running:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self):
        """SIGTERM, wait, and assert a clean shutdown (exit 0, no sanitizer report)."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=self.STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
                pytest.fail(f"lambdalite serve did not exit within {self.STOP_TIMEOUT} s of SIGTERM\n{self.stderr_tail()}")
        text = self.stderr()
        assert proc.returncode == 0, f"lambdalite serve exited with status {proc.returncode} after SIGTERM\n{self.stderr_tail()}"
        for bad in self.BAD_STDERR:
            assert bad not in text, f"daemon stderr contains {bad!r}:\n{text[-6000:]}"

    def restart(self):
        self.stop()
        return self.start()

    def check_alive(self):
        """Fail the current test if the daemon died; start a new one so the next tests run."""
        if self.proc is not None and self.proc.poll() is not None:
            msg = f"lambdalite serve died (status {self.proc.returncode})\n{self.stderr_tail()}"
            self.crashed.append(msg)
            self.proc = None
            self.start()
            pytest.fail(msg)


# --------------------------------------------------------------------------------------------
# The AWS CLI


class AwsCli:
    """Runs /usr/bin/aws against the daemon. aws(...) returns parsed JSON (or the raw stdout when
    it is not JSON, or None when empty) and raises with stderr on failure; with check=False it
    returns the CompletedProcess."""

    def __init__(self, endpoint, workdir, access_key=ACCESS_KEY, secret_key=SECRET_KEY):
        self.endpoint = endpoint
        self.workdir = Path(workdir)
        self.access_key = access_key
        self.secret_key = secret_key

    def env(self):
        return clean_env(
            {
                "AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_PAGER": "",
                "AWS_MAX_ATTEMPTS": "1",
                "AWS_RETRY_MODE": "standard",
                "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_CONFIG_FILE": "/nonexistent/aws-config",
                "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
            }
        )

    def run(self, *args, timeout=120):
        cmd = [
            AWS_CLI,
            "--endpoint-url",
            self.endpoint,
            "--output",
            "json",
            "--cli-binary-format",
            "raw-in-base64-out",
            "--cli-read-timeout",
            "60",
            "--cli-connect-timeout",
            "5",
            *[str(a) for a in args],
        ]
        return subprocess.run(cmd, capture_output=True, text=True, env=self.env(), timeout=timeout, cwd=self.workdir)

    def __call__(self, *args, check=True, timeout=120):
        proc = self.run(*args, timeout=timeout)
        if not check:
            return proc
        if proc.returncode != 0:
            raise AssertionError(
                f"aws {' '.join(map(str, args))} failed with status {proc.returncode}\n"
                f"stderr:\n{proc.stderr}\nstdout:\n{proc.stdout}"
            )
        out = proc.stdout.strip()
        if not out:
            return None
        try:
            return json.loads(out)
        except ValueError:
            return proc.stdout

    def invoke(self, name, payload="{}", *extra, check=True):
        """aws lambda invoke ... OUTFILE: returns (CLI output dict, result bytes)."""
        outfile = self.workdir / f"invoke-{uuid.uuid4().hex}.out"
        if not isinstance(payload, str):
            payload = json.dumps(payload)
        meta = self("lambda", "invoke", "--function-name", name, "--payload", payload, *extra, str(outfile), check=check)
        if not check:
            return meta, (outfile.read_bytes() if outfile.exists() else b"")
        return meta, outfile.read_bytes()


# --------------------------------------------------------------------------------------------
# The lambdalite CLI


class LambdaliteCli:
    """Runs $LAMBDALITE_BUILD/lambdalite with LAMBDALITE_ENDPOINT set and no AWS_* variables (so
    the CLI falls back to the development key). Returns the CompletedProcess; check=True fails
    on a non-zero exit status."""

    def __init__(self, endpoint, workdir):
        self.endpoint = endpoint
        self.workdir = Path(workdir)

    def env(self, extra=None):
        env = clean_env({"LAMBDALITE_ENDPOINT": self.endpoint})
        env.update(extra or {})
        return env

    def __call__(self, *args, check=True, env=None, input=None, timeout=60):
        if not (LAMBDALITE.is_file() and os.access(LAMBDALITE, os.X_OK)):
            pytest.fail(f"lambdalite binary not found or not executable: {LAMBDALITE}")
        proc = subprocess.run(
            [str(LAMBDALITE), *[str(a) for a in args]],
            capture_output=True,
            text=True,
            env=self.env(env),
            input=input,
            timeout=timeout,
            cwd=self.workdir,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"lambdalite {' '.join(map(str, args))} exited with {proc.returncode}\n"
                f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
            )
        return proc

    def json(self, *args, **kw):
        proc = self(*args, **kw)
        try:
            return json.loads(proc.stdout)
        except ValueError:
            raise AssertionError(f"lambdalite {' '.join(map(str, args))}: stdout is not JSON:\n{proc.stdout}")

    def popen(self, *args, env=None):
        return subprocess.Popen(
            [str(LAMBDALITE), *[str(a) for a in args]],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env(env),
            cwd=self.workdir,
        )


# --------------------------------------------------------------------------------------------
# Raw signed HTTP (for exact status codes, headers and bodies, and for broken signatures)


def _sign(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sigv4_headers(
    method,
    path,
    host,
    body=b"",
    query="",
    access_key=ACCESS_KEY,
    secret_key=SECRET_KEY,
    region=REGION,
    service="lambda",
    when=None,
    unsigned_payload=False,
    extra_headers=None,
):
    """Headers (incl. Authorization) signing a request with AWS Signature Version 4 (ref §8.4).
    `path` and `query` must already be in canonical (URI-encoded, sorted) form."""
    when = when or datetime.datetime.now(datetime.timezone.utc)
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    date = when.strftime("%Y%m%d")
    payload_hash = "UNSIGNED-PAYLOAD" if unsigned_payload else hashlib.sha256(body).hexdigest()
    headers = {"host": host, "x-amz-date": amz_date}
    if unsigned_payload:
        headers["x-amz-content-sha256"] = payload_hash
    for k, v in (extra_headers or {}).items():
        headers[k.lower()] = v
    signed = sorted(headers)
    canonical = "\n".join(
        [
            method,
            path,
            query,
            "".join(f"{k}:{' '.join(str(headers[k]).split())}\n" for k in signed),
            ";".join(signed),
            payload_hash,
        ]
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    k = _sign(("AWS4" + secret_key).encode(), date)
    k = _sign(k, region)
    k = _sign(k, service)
    k = _sign(k, "aws4_request")
    signature = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    out = dict(headers)
    out["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={';'.join(signed)}, Signature={signature}"
    )
    return out


@dataclass
class RawResponse:
    status: int
    headers: dict  # lower-case names
    body: bytes

    def json(self):
        return json.loads(self.body)


class RawClient:
    def __init__(self, port):
        self.port = port
        self.host = f"127.0.0.1:{port}"

    def send(self, method, path, body=b"", headers=None, timeout=60):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return RawResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        finally:
            conn.close()

    def signed(self, method, path, body=b"", query="", send_body=None, **sign_kw):
        """Sign (method, path, query, body) and send it; send_body replaces the body after
        signing (to test payload-hash verification)."""
        headers = sigv4_headers(method, path, self.host, body=body, query=query, **sign_kw)
        headers.pop("host")
        target = path + ("?" + query if query else "")
        return self.send(method, target, body=body if send_body is None else send_body, headers=headers)

#!/usr/bin/python3
"""A fake Lambda Runtime API (2018-06-01) that drives one runtime process through a script.

    fake_api.py SCENARIO BOOTSTRAP

Starts an HTTP/1.1 keep-alive server on 127.0.0.1, runs BOOTSTRAP with AWS_LAMBDA_RUNTIME_API
pointing at it, hands out the scenario's events on GET /next (then answers 500 until the
runtime gives up), records every request, and checks what the runtime posted back. Prints one
"ok N - ..." / "not ok N - ..." line per check and exits 1 if any check failed.
Scenarios: echo, echo-crash (examples/echo), api, init-error, no-api, refused, connect-timeout,
wire (test_handler). "wire" drives the library's HTTP client through what a server may legally do
(chunked bodies, answers in tiny pieces, interim 1xx answers, closed keep-alive connections) and
through answers it must refuse (oversized head or body, malformed framing).
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BASE = "/2018-06-01"
NEXT = BASE + "/runtime/invocation/next"
ARN = "arn:aws:lambda:us-east-1:000000000000:function:echo"
TRACE = "Root=1-65f0a1b2-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=1"
PROC_TIMEOUT = 30


def now_ms():
    return int(time.time() * 1000)


class Event:
    """One answer to GET /next: an event (status 200) or a failure status.

    Wire options (the answer is then written by hand, see Handler.send_raw):
      chunked      send the body with Transfer-Encoding: chunked (extensions, trailers)
      tiny         write the /next answer and the post's answer 1-3 bytes at a time
      interim      precede the answer with 100 Continue and 103 Early Hints
      pad          add this many bytes of extra header fields
      claim_len    announce this Content-Length (the body sent is ev.body)
      raw          send these bytes as the whole answer
      drop         close the connection without answering
      close_after_next / close_after_post   close the connection after that answer (silently,
                   with no Connection: close header)
    """

    def __init__(self, rid, body=b"", status=200, headers=None, post_status=202, deadline=True,
                 **wire):
        self.rid = rid
        self.body = body if isinstance(body, bytes) else body.encode()
        self.status = status
        self.headers = headers or {}
        self.post_status = post_status  # how to answer this event's result post
        self.deadline = deadline
        self.sent_at = None
        self.next_conn = None  # the connection the event went out on
        self.wire = wire
        unknown = set(wire) - {"chunked", "tiny", "interim", "pad", "claim_len", "raw", "drop",
                               "close_after_next", "close_after_post"}
        assert not unknown, unknown


class Api:
    def __init__(self, events):
        self.events = list(events)
        self.lock = threading.Lock()
        self.requests = []  # (method, path, headers, body, time, connection number)
        self.conns = set()  # connection numbers that carried a request
        self.nconns = 0
        self.by_rid = {}
        self.nexts = 0

    def next_event(self):
        with self.lock:
            self.nexts += 1
            return self.events.pop(0) if self.events else Event(None, status=500)

    def posts(self):
        return [r for r in self.requests if r[0] == "POST"]


def chunk_body(body):
    """body as chunks of assorted sizes, one with an extension, then a trailer field."""
    out, i, sizes = [], 0, [1, 7, 300, 4096, 3, 65536]
    n = 0
    while i < len(body):
        size = sizes[n % len(sizes)]
        piece = body[i:i + size]
        ext = ";name=value" if n == 2 else ""
        out.append(b"%X%s\r\n%s\r\n" % (len(piece), ext.encode(), piece))
        i += size
        n += 1
    out.append(b"0\r\nX-Trailer: yes\r\n\r\n")
    return b"".join(out)


def answer_bytes(status, headers, body, chunked=False, interim=False, pad=0, claim_len=None):
    head = [b"HTTP/1.1 %d %s\r\n" % (status, b"OK" if status < 300 else b"Error")]
    for k, v in headers.items():
        head.append(("%s: %s\r\n" % (k, v)).encode())
    if chunked:
        head.append(b"Transfer-Encoding: chunked\r\n")
        body = chunk_body(body)
    else:
        head.append(b"Content-Length: %d\r\n" % (len(body) if claim_len is None else claim_len))
    i = 0
    while pad > 0:
        line = b"X-Pad-%d: %s\r\n" % (i, b"p" * min(1000, pad))
        head.append(line)
        pad -= len(line)
        i += 1
    pre = b""
    if interim:
        pre = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
    return pre + b"".join(head) + b"\r\n" + body


def make_handler(api):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def setup(self):
            super().setup()
            with api.lock:
                api.nconns += 1
                self.conn = api.nconns

        def log_message(self, fmt, *args):
            pass

        def send_raw(self, data, tiny=False):
            """Writes data, in pieces of 1-3 bytes if tiny; a client gone away ends the
            connection quietly."""
            try:
                if not tiny:
                    self.wfile.write(data)
                    return
                i = 0
                while i < len(data):
                    n = 1 + i % 3
                    self.connection.sendall(data[i:i + n])
                    i += n
                    time.sleep(0.0002)
            except OSError:
                self.close_connection = True

        def reply(self, status, body, headers=None):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            api.conns.add(self.conn)
            api.requests.append(("GET", self.path, self.headers, b"", time.monotonic(),
                                 self.conn))
            if self.path != NEXT:
                return self.reply(404, b'{"errorType":"NotFound","errorMessage":"no route"}')
            ev = api.next_event()
            if ev.status != 200:
                return self.reply(ev.status, b'{"errorType":"InternalServerError",'
                                             b'"errorMessage":"Internal Server Error"}')
            api.by_rid[ev.rid] = ev
            ev.next_conn = self.conn
            w = ev.wire
            if w.get("drop"):
                self.close_connection = True
                return None
            headers = {"Lambda-Runtime-Aws-Request-Id": ev.rid,
                       "Lambda-Runtime-Invoked-Function-Arn": ARN}
            if ev.deadline:
                headers["Lambda-Runtime-Deadline-Ms"] = str(now_ms() + 5000)
            headers.update(ev.headers)
            ev.sent_at = time.monotonic()
            if w.get("close_after_next"):
                self.close_connection = True
            if "raw" in w:
                return self.send_raw(w["raw"], w.get("tiny"))
            if w:
                return self.send_raw(answer_bytes(200, headers, ev.body, w.get("chunked"),
                                                  w.get("interim"), w.get("pad", 0),
                                                  w.get("claim_len")), w.get("tiny"))
            self.send_response(200)
            self.send_header("Content-Length", str(len(ev.body)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(ev.body)

        def do_POST(self):
            api.conns.add(self.conn)
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n)
            api.requests.append(("POST", self.path, self.headers, body, time.monotonic(),
                                 self.conn))
            status, wire = 202, {}
            for ev in api.by_rid.values():
                if self.path.startswith(BASE + "/runtime/invocation/" + quote_id(ev.rid) + "/"):
                    status, wire = ev.post_status, ev.wire
            if wire.get("close_after_post"):
                self.close_connection = True
            if wire.get("tiny"):
                return self.send_raw(answer_bytes(202, {"Content-Type": "application/json"},
                                                  b'{"status":"OK"}'), True)
            if status == 202:
                return self.reply(202, b'{"status":"OK"}')
            return self.reply(status, b'{"errorType":"Fake","errorMessage":"as scripted"}')

    return Handler


def quote_id(rid):
    safe = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"
    return "".join(c if c in safe else "%%%02X" % b for c in rid for b in c.encode())


class Checks:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def __call__(self, cond, what, detail=""):
        self.n += 1
        if cond:
            print("ok %d - %s" % (self.n, what))
        else:
            self.failed += 1
            print("not ok %d - %s%s" % (self.n, what, (": " + str(detail)) if detail else ""))
        return cond


STDERRS = []  # stderr of every process run, checked for sanitizer reports at the end
WEIRD = 'quote" back\\ nl\n tab\t ctl\x01 utf8 \u00e9\u20ac'


def run(bootstrap, events, env_extra=None, api_addr=None, api_host="127.0.0.1"):
    api = Api(events)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(api))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {"PATH": "/usr/bin:/bin", "LAMBDA_TASK_ROOT": "/var/task", "_HANDLER": "echo",
           "AWS_LAMBDA_FUNCTION_NAME": "echo", "AWS_REGION": "us-east-1", "TZ": ":UTC",
           "LANG": "en_US.UTF-8", "AWS_WEIRD": WEIRD, "OTHER_VAR": "not exported",
           "AWS_LAMBDA_RUNTIME_API": api_addr or "%s:%d" % (api_host, server.server_address[1])}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    env.update(env_extra or {})
    env = {k: v for k, v in env.items() if v is not None}
    start = time.monotonic()
    proc = subprocess.Popen([bootstrap], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=PROC_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    server.shutdown()
    server.server_close()
    STDERRS.append(err)
    return api, proc, out, err, time.monotonic() - start, env


def post_for(api, rid):
    """The one post for request id rid: (kind, headers, body, time, connection) or None."""
    prefix = BASE + "/runtime/invocation/" + quote_id(rid) + "/"
    found = [r for r in api.posts() if r[1].startswith(prefix)]
    if len(found) != 1:
        return None
    return found[0][1][len(prefix):], found[0][2], found[0][3], found[0][4], found[0][5]


def check_posts_wire(ok, api):
    """What every post must look like on the wire."""
    bad = []
    for _, path, h, body, _, _ in api.posts():
        if h.get("Expect") is not None or h.get("Transfer-Encoding") is not None:
            bad.append((path, "Expect/Transfer-Encoding present"))
        if h.get("Content-Length") != str(len(body)):
            bad.append((path, "Content-Length %r" % h.get("Content-Length")))
        if path.endswith("/error") and h.get("Content-Type") != "application/json":
            bad.append((path, "Content-Type %r" % h.get("Content-Type")))
    ok(not bad, "posts carry an explicit Content-Length, no Expect, JSON errors", bad)
    ok(len(api.conns) == 1, "one keep-alive connection for every request", sorted(api.conns))


def check_response(ok, api, rid, body, what):
    p = post_for(api, rid)
    ok(p is not None and p[0] == "response" and p[2] == body, what,
       p and (p[0], p[2][:200], len(p[2])))
    return p


def check_error(ok, api, rid, etype, emsg, what):
    p = post_for(api, rid)
    if not ok(p is not None and p[0] == "error", what + " (posted to /error)", p and p[0]):
        return None
    try:
        doc = json.loads(p[2].decode("utf-8"))
    except ValueError as e:
        return ok(False, what + " (valid JSON)", e)
    want = {"errorMessage": emsg, "errorType": etype, "stackTrace": []}
    ok(doc == want, what + " (body)", doc)
    return p


def scenario_echo(ok, bootstrap):
    big = bytes(range(256)) * 4 + b"x" * (2 << 20)
    events = [
        Event("e-plain", b'{"hello":"world"}', post_status=413),
        Event("e-binary", big),
        Event("e-empty", b""),
        Event("e-error", b'{"action":"error"}'),
        Event("e-pid", b'{"action":"pid"}'),
        Event("e-env", b'{"action":"env"}'),
        Event("e-sleep", b'{"action": "sleep", "ms": 150}'),
        Event("e-log", b'{"action":"log","text":"hello \\"log\\" line"}'),
        Event("e-pid2", b' {"action":"pid"}'),
    ]
    api, proc, out, err, _, env = run(bootstrap, events)
    ok(proc.returncode == 1, "exits 1 once /next keeps failing", (proc.returncode, err[-500:]))
    ok(api.nexts == len(events) + 3, "gives up after 3 failed /next in a row", api.nexts)
    check_response(ok, api, "e-plain", b'{"hello":"world"}', "echoes a JSON payload")
    ok(post_for(api, "e-binary") is not None, "carries on after a 413 answer to a post")
    check_response(ok, api, "e-binary", big, "echoes 2 MiB of binary bytes exactly")
    check_response(ok, api, "e-empty", b"", "echoes an empty payload")
    p = check_error(ok, api, "e-error", "EchoError", "asked to fail", "action error")
    if p:
        ok(p[1].get("Lambda-Runtime-Function-Error-Type") == "EchoError", "error type header")
    p = post_for(api, "e-pid")
    doc = json.loads(p[2]) if p else None
    ok(doc == {"pid": proc.pid, "invocations": 5}, "action pid", doc)
    p = post_for(api, "e-pid2")
    doc = json.loads(p[2]) if p else None
    ok(doc == {"pid": proc.pid, "invocations": 9}, "action pid counts invocations", doc)
    p = post_for(api, "e-env")
    doc = json.loads(p[2].decode("utf-8")) if p else None
    prefixes = ("AWS_", "LAMBDA_", "_HANDLER", "TZ", "LANG")
    want = {k: v for k, v in env.items() if k.startswith(prefixes)}
    ok(doc == want, "action env (JSON-escaped)", doc)
    ev = api.by_rid["e-sleep"]
    p = post_for(api, "e-sleep")
    ok(p is not None and p[2] == ev.body and p[3] - ev.sent_at >= 0.15, "action sleep",
       p and p[3] - ev.sent_at)
    check_response(ok, api, "e-log", events[7].body, "action log echoes")
    ok(out == b'hello "log" line\n', "stdout holds only the log text", out)
    ok(b'hello "log" line\n' in err, "stderr holds the log text", err[-300:])
    check_posts_wire(ok, api)


def scenario_echo_crash(ok, bootstrap):
    api, proc, out, err, _, _ = run(bootstrap, [Event("c-1", b'{"hello":1}'),
                                                Event("c-crash", b'{"action":"crash"}')])
    ok(proc.returncode == 3, "action crash exits 3", proc.returncode)
    ok(len(api.posts()) == 1 and post_for(api, "c-1"), "nothing posted for the crash",
       [r[1] for r in api.posts()])
    ok(out == b"", "nothing printed on stdout", out)


def scenario_api(ok, bootstrap):
    events = [
        Event(None, status=500),  # one failed /next, then recovery
        Event("a-info", b"info", headers={
            "Lambda-Runtime-Trace-Id": TRACE,
            "Lambda-Runtime-Client-Context": '{"custom":{"k":"v"}}',
            "Lambda-Runtime-Cognito-Identity": '{"cognitoIdentityId":"id"}'}),
        Event("a-info-bare", b"info"),
        Event("a-info-trace", b"info", headers={"lambda-runtime-trace-id": "Root=short"}),
        Event("a-fail-plain", b"fail-plain"),
        Event("a-fail-escape", b"fail-escape"),
        Event("a-checks", b"apichecks"),
        Event("a-big", b"big-printf"),
        Event("a-empty", b"empty"),
        Event("a-nodeadline", b"info", deadline=False),
        Event("a-id/with space", b"odd id"),
        Event("a-last", b"info", post_status=500),
        Event("a-never", b"info"),
    ]
    api, proc, out, err, _, _ = run(bootstrap, events)
    ok(proc.returncode == 12, "stops with -EPROTO when a post is answered 500",
       (proc.returncode, err[-500:]))
    ok(api.nexts == len(events) - 1, "a single failed /next is retried; no /next after 500",
       api.nexts)

    def info(rid):
        p = post_for(api, rid)
        return json.loads(p[2]) if p and p[0] == "response" else None

    d = info("a-info")
    ok(d is not None and d["request_id"] == "a-info" and d["function_arn"] == ARN
       and d["trace_id"] == TRACE and d["trace_env"] == TRACE
       and d["client_context"] == '{"custom":{"k":"v"}}'
       and d["cognito_identity"] == '{"cognitoIdentityId":"id"}' and d["payload_len"] == 4,
       "invocation fields from the Lambda-Runtime-* headers", d)
    ok(d is not None and abs(d["deadline_ms"] - (now_ms() + 5000)) < 10000
       and 0 < d["remaining_ms"] <= 5000, "deadline and ll_remaining_ms", d)
    d = info("a-info-bare")
    ok(d is not None and d["trace_id"] is None and d["trace_env"] is None
       and d["client_context"] is None and d["cognito_identity"] is None,
       "absent optional headers are NULL and _X_AMZN_TRACE_ID is unset", d)
    d = info("a-info-trace")
    ok(d is not None and d["trace_id"] == "Root=short" and d["trace_env"] == "Root=short",
       "lower-case header names; _X_AMZN_TRACE_ID follows the trace header", d)
    p = check_error(ok, api, "a-fail-plain", "Runtime.HandlerError", "handler returned 7",
                    "non-zero return without an error")
    if p:
        ok(p[1].get("Lambda-Runtime-Function-Error-Type") == "Runtime.HandlerError",
           "Runtime.HandlerError type header")
    want = ('quote" back\\ nl\n tab\t ctl\x01\x1f del\x7f bad\ufffd\ufffd\ufffd '
            'sur\ufffd\ufffd\ufffd ok\u00e9\u20ac\U0001F600 cut\ufffd\ufffd')
    p = check_error(ok, api, "a-fail-escape", "Bad\r\nType\x01", want,
                    "error JSON escaping and UTF-8 repair")
    if p:
        ok(b"\\u0001\\u001f" in p[2] and b'\\"' in p[2], "control bytes as \\u00XX", p[2])
        ok((p[1].get("Lambda-Runtime-Function-Error-Type") or "").strip() == "Bad  Type",
           "error type header without CR/LF", p[1].get("Lambda-Runtime-Function-Error-Type"))
    check_response(ok, api, "a-checks", b'abc-12"q\\""|""|ok', "response API checks")
    big = b"".join(b"%09d\n" % i for i in range(100000))
    check_response(ok, api, "a-big", big, "ll_response_printf grows the body (1 MB)")
    p = check_response(ok, api, "a-empty", b"", "empty response")
    if p:
        ok(p[1].get("Content-Length") == "0", "empty response has Content-Length: 0")
    check_error(ok, api, "a-nodeadline", "Runtime.InvalidDeadline",
                "Lambda-Runtime-Deadline-Ms is missing or not an integer",
                "event without a deadline fails")
    check_response(ok, api, "a-id/with space", b"odd id", "request id is percent-encoded")
    ok(post_for(api, "a-last") is not None and post_for(api, "a-never") is None,
       "last post made, no further invocation")
    ok(out == b"", "nothing printed on stdout", out)
    check_posts_wire(ok, api)


def scenario_init_error(ok, bootstrap):
    api, proc, out, err, _, _ = run(bootstrap, [], env_extra={"TEST_INIT_FAIL": "1"})
    ok(proc.returncode == 42, "ll_runtime_init_error returns 0 on 202", (proc.returncode, err))
    posts = api.posts()
    ok(len(posts) == 1 and posts[0][1] == BASE + "/runtime/init/error", "posts /init/error",
       [r[1] for r in posts])
    if posts:
        doc = json.loads(posts[0][3])
        ok(doc == {"errorMessage": 'could not "init"\n', "errorType": "Init.Failed",
                   "stackTrace": []}, "init error body", doc)
        ok(posts[0][2].get("Lambda-Runtime-Function-Error-Type") == "Init.Failed",
           "init error type header")
    ok(api.nexts == 0, "no /next after an init error", api.nexts)


def scenario_no_api(ok, bootstrap):
    _, proc, _, err, _, _ = run(bootstrap, [], env_extra={"AWS_LAMBDA_RUNTIME_API": None})
    ok(proc.returncode == 10 and b"AWS_LAMBDA_RUNTIME_API" in err,
       "-EINVAL without AWS_LAMBDA_RUNTIME_API", (proc.returncode, err))
    for bad in ("127.0.0.1", "127.0.0.1:", ":9001", "127.0.0.1:99999", "::1:9001", "[::1]9001",
                "h:1\r\nX: y"):
        _, proc, _, err, _, _ = run(bootstrap, [], api_addr=bad)
        ok(proc.returncode == 10 and b"is not host:port" in err,
           "-EINVAL for AWS_LAMBDA_RUNTIME_API=%r" % bad, (proc.returncode, err))
    _, proc, _, err, _, _ = run(bootstrap, [], api_addr="no-such-host.invalid:9001",
                                env_extra={"RES_OPTIONS": "timeout:1 attempts:1"})
    ok(proc.returncode == 11 and b"resolving no-such-host.invalid" in err,
       "-EIO when the host does not resolve", (proc.returncode, err))


def scenario_refused(ok, bootstrap):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    port = s.getsockname()[1]
    _, proc, _, err, secs, _ = run(bootstrap, [], api_addr="127.0.0.1:%d" % port)
    s.close()
    ok(proc.returncode == 11, "-EIO after 3 refused connections", (proc.returncode, err))
    ok(err.count(b"GET /runtime/invocation/next") == 3 and secs < 10, "3 tries, promptly",
       (err, secs))



def scenario_connect_timeout(ok, bootstrap):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(0)  # never accepts: once the queue is full, SYNs go unanswered
    port = s.getsockname()[1]
    fill = []
    for _ in range(3):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", port))
        fill.append(c)
    time.sleep(0.2)
    _, proc, _, err, secs, _ = run(bootstrap, [], api_addr="127.0.0.1:%d" % port)
    for c in fill + [s]:
        c.close()
    ok(proc.returncode == 11 and err.count(b"1 s connect timeout") == 3,
       "-EIO after 3 connect timeouts", (proc.returncode, err))
    ok(2.9 < secs < 6, "the connect timeout is 1 s", secs)

def scenario_wire(ok, bootstrap):
    big = bytes(range(256)) * 400  # 100 KiB, every byte value
    mid = b"".join(b"%05d," % i for i in range(500))  # 3000 bytes
    bad_status = b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n"
    bad_chunk = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                 b"Lambda-Runtime-Aws-Request-Id: w-badchunk\r\n\r\nfffffffffff\r\nxx")
    trace = {"Lambda-Runtime-Trace-Id": TRACE}
    events = [
        Event("w-first", b"first"),
        Event("w-chunked", big, chunked=True),
        Event("w-tiny", b"info", headers=trace, tiny=True),
        Event("w-tiny-chunked", mid, chunked=True, tiny=True),
        Event("w-interim", b"after 1xx", interim=True),
        Event("w-close-next", b"post after close", close_after_next=True),
        Event("w-close-post", b"next after close", close_after_post=True),
        Event("w-conn-close", b"connection close", headers={"Connection": "close"}),
        Event("w-drop", drop=True),
        Event("w-after-drop", b"after drop"),
        Event("w-pad-ok", b"60 KiB head", pad=60 << 10),
        Event("w-pad-big", b"70 KiB head", pad=70 << 10),  # failure 1
        Event("w-recover1", b"r1"),
        Event("w-huge", b"x", claim_len=17 << 20),  # failure 2
        Event("w-recover2", b"r2"),
        Event("w-badchunk", raw=bad_chunk),  # failure 3
        Event("w-recover3", b"r3"),
        Event("w-badstatus", raw=bad_status),  # failure 4
        Event("w-recover4", b"r4"),
        Event("w-drop2a", drop=True),  # reused connection: resent at once
        Event("w-drop2b", drop=True),  # ... on a fresh connection: failure 5
        Event("w-last", b"last"),
    ]
    # Through a name: "localhost" (which may also resolve to ::1, where nothing listens).
    api, proc, out, err, _, _ = run(bootstrap, events, api_host="localhost")
    ok(proc.returncode == 12, "exits with -EPROTO once /next answers 500 3 times",
       (proc.returncode, err[-800:]))
    ok(api.nexts == len(events) + 3, "one /next per event, then 3", api.nexts)
    for ev in events:
        if ev.wire.get("drop") or ev.rid in ("w-tiny", "w-pad-big", "w-huge", "w-badchunk",
                                              "w-badstatus"):
            continue
        check_response(ok, api, ev.rid, ev.body, "echo through %s" % ev.rid)
    p = post_for(api, "w-tiny")
    d = json.loads(p[2]) if p else None
    ok(d is not None and d["request_id"] == "w-tiny" and d["trace_id"] == TRACE
       and d["trace_env"] == TRACE and d["payload_len"] == 4,
       "Lambda-Runtime-* fields of an answer written 1-3 bytes at a time", d)
    failed = [ev.rid for ev in events if post_for(api, ev.rid) is None]
    ok(failed == ["w-drop", "w-pad-big", "w-huge", "w-badchunk", "w-badstatus", "w-drop2a",
                  "w-drop2b"], "nothing posted for events that never arrived whole", failed)
    ev = api.by_rid["w-close-next"]
    p = post_for(api, "w-close-next")
    ok(p is not None and p[4] != ev.next_conn,
       "post resent on a new connection after the platform closed the old one",
       p and (p[4], ev.next_conn))
    p = post_for(api, "w-close-post")
    nxt = api.by_rid["w-conn-close"]
    ok(p is not None and nxt.next_conn != p[4], "/next resent on a new connection",
       p and (p[4], nxt.next_conn))
    p = post_for(api, "w-conn-close")
    ok(p is not None and p[4] != api.by_rid["w-conn-close"].next_conn,
       "Connection: close is honoured", p and (p[4], api.by_rid["w-conn-close"].next_conn))
    # 1 + w-close-next, w-close-post, w-conn-close, w-drop, w-pad-big, w-huge, w-badchunk,
    # w-badstatus, w-drop2a, w-drop2b
    ok(len(api.conns) == 11, "a new connection only where one was closed", sorted(api.conns))
    logs = [line[len("lambdalite-runtime: "):] for line in err.decode(errors="replace").splitlines()
            if line.startswith("lambdalite-runtime: ")]
    want = ["GET /runtime/invocation/next: answer header block exceeds 64 KiB",
            "GET /runtime/invocation/next: answer body exceeds 16 MiB",
            "GET /runtime/invocation/next: answer body exceeds 16 MiB",
            'GET /runtime/invocation/next: malformed status line "HTTP/1.1 2x0 OK"',
            "GET /runtime/invocation/next: connection closed before the answer"]
    ok(logs[:len(want)] == want and len(logs) == len(want) + 4,
       "each refused answer logged once; transparent reconnects log nothing", logs)


SCENARIOS = {"echo": scenario_echo, "echo-crash": scenario_echo_crash, "api": scenario_api,
             "init-error": scenario_init_error, "no-api": scenario_no_api,
             "refused": scenario_refused,
             "connect-timeout": scenario_connect_timeout, "wire": scenario_wire}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in SCENARIOS:
        sys.exit("usage: fake_api.py {%s} BOOTSTRAP" % ",".join(SCENARIOS))
    ok = Checks()
    print("# %s: %s" % (sys.argv[1], sys.argv[2]))
    SCENARIOS[sys.argv[1]](ok, sys.argv[2])
    reports = [e for e in STDERRS
               if b"Sanitizer" in e or b"runtime error:" in e or b"LeakSanitizer" in e]
    ok(not reports, "no sanitizer reports", reports and reports[0][-2000:])
    sys.exit(1 if ok.failed else 0)


if __name__ == "__main__":
    main()

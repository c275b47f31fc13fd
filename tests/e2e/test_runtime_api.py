"""The Runtime API (2018-06-01) as a function sees it: /next headers, the event bytes, the
environment, result posting rules (status codes and error bodies), chunked uploads.
The functions are shell scripts using curl, as a real provided.al2023 shell function.
Reference sections: /work/shared/reference/aws-wire-contract.md §1."""

import base64
import json
import re
import time

from e2e_util import (
    REGION,
    SENTINEL_VAR,
    function_arn,
    invoke,
)

UNKNOWN_ID = "00000000-0000-0000-0000-000000000000"


def parse_header_dump(text):
    """curl -D output -> (status line, {lower-case name: value})."""
    lines = [l.rstrip("\r") for l in text.split("\n")]
    status = lines[0]
    headers = {}
    for line in lines[1:]:
        if not line:
            break
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


HEADERS_BODY = r"""cat "$W/headers" | respond"""


def test_next_response_headers(lam, functions):
    name = functions.shell(HEADERS_BODY, timeout=3)
    before_ms = time.time() * 1000
    inv = invoke(lam, name, {"k": "v"})
    after_ms = time.time() * 1000
    assert inv.function_error is None, inv.payload
    status, h = parse_header_dump(inv.payload.decode())
    assert status.startswith("HTTP/1.1 200"), status

    assert h["lambda-runtime-aws-request-id"] == inv.request_id  # ref §1.1: same id as x-amzn-RequestId
    deadline = int(h["lambda-runtime-deadline-ms"])
    assert deadline > before_ms, "the deadline must be in the future when the invocation starts"
    assert deadline <= after_ms + 3000 + 1000, "deadline = start + the 3 s timeout"
    assert h["lambda-runtime-invoked-function-arn"] == function_arn(name)
    # ref §1.1: Root=1-<8 hex epoch secs>-<24 hex>;Parent=<16 hex>;Sampled=0|1
    trace = h["lambda-runtime-trace-id"]
    assert re.match(r"^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=[01]", trace), trace
    epoch = int(trace[7:15], 16)
    assert abs(epoch - time.time()) < 24 * 3600, "the Root's first field is the epoch in seconds"

    second = invoke(lam, name)
    _, h2 = parse_header_dump(second.payload.decode())
    assert h2["lambda-runtime-aws-request-id"] == second.request_id != inv.request_id
    assert h2["lambda-runtime-trace-id"] != trace


def test_invoked_function_arn_when_invoked_by_arn(lam, functions):
    name = functions.shell(HEADERS_BODY)
    inv = invoke(lam, function_arn(name))
    _, h = parse_header_dump(inv.payload.decode())
    assert h["lambda-runtime-invoked-function-arn"] == function_arn(name)


def test_client_context_is_passed_decoded(lam, functions):
    # ref §1.1: Lambda-Runtime-Client-Context carries the decoded JSON of X-Amz-Client-Context.
    name = functions.shell(HEADERS_BODY)
    ctx = {"custom": {"tenant": "blue"}, "env": {"locale": "en"}}
    inv = invoke(lam, name, {}, ClientContext=base64.b64encode(json.dumps(ctx).encode()).decode())
    _, h = parse_header_dump(inv.payload.decode())
    assert json.loads(h["lambda-runtime-client-context"]) == ctx


def test_event_is_the_payload_verbatim(lam, functions):
    name = functions.shell(r"""cat "$W/event" | respond""")
    payload = '{ "k" : "v  with  spaces",\n "u": "caf\u00e9 \u2603", "n": [1, 2.50, -3e2] }'.encode()
    inv = invoke(lam, name, payload)
    assert inv.function_error is None
    assert inv.payload == payload


ENV_BODY = r"""
{
  echo "pwd=$(pwd -P)"
  echo "task_root_real=$(cd "$LAMBDA_TASK_ROOT" && pwd -P)"
  echo "data=$(cat "$LAMBDA_TASK_ROOT/data.txt")"
  echo "---"
  env
} | respond
"""


def parse_env_dump(payload):
    head, _, env_text = payload.decode().partition("---\n")
    info = dict(line.split("=", 1) for line in head.splitlines() if "=" in line)
    env = {}
    last = None
    for line in env_text.splitlines():
        m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line)
        if m:
            last = m.group(1)
            env[last] = m.group(2)
        elif last is not None:  # a value with a newline
            env[last] += "\n" + line
    return info, env


def test_environment_variables(lam, functions):
    user_env = {"MY_VAR": "hello world", "WITH_EQUALS": "a=b=c", "EMPTYISH": "-"}
    name = functions.shell(
        ENV_BODY, handler="my.handler", memory=256, env=user_env, extra_files={"data.txt": "packaged data"}
    )
    inv = invoke(lam, name)
    assert inv.function_error is None, inv.payload
    info, env = parse_env_dump(inv.payload)

    assert env["_HANDLER"] == "my.handler"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    # ref §1.7: YYYY/MM/DD/[$LATEST]<32 hex>
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", env["AWS_LAMBDA_LOG_STREAM_NAME"]), env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert env["AWS_REGION"] == REGION
    api = env["AWS_LAMBDA_RUNTIME_API"]
    assert "://" not in api and re.fullmatch(r"[^/\s]+:\d+", api), api  # host:port, no scheme (ref §1)
    assert env["TZ"] in (":UTC", "UTC")  # ref §1.7
    assert env["LANG"] == "en_US.UTF-8"  # ref §1.7
    path_dirs = [p.rstrip("/") for p in env["PATH"].split(":")]
    assert "/usr/bin" in path_dirs and "/bin" in path_dirs, env["PATH"]
    assert env.get("LD_LIBRARY_PATH"), "LD_LIBRARY_PATH must be set (ref §1.7)"
    for k, v in user_env.items():
        assert env[k] == v, k
    # The task root holds the code and is the working directory.
    assert env["LAMBDA_TASK_ROOT"]
    assert info["pwd"] == info["task_root_real"]
    assert info["data"] == "packaged data"
    # The daemon's own environment does not leak into functions (ref §1.7: the Lambda environment).
    assert SENTINEL_VAR not in env
    assert "LAMBDALITE_ENDPOINT" not in env


def test_user_may_override_unreserved_defaults(lam, functions):
    # ref §1.7: LANG, PATH, LD_LIBRARY_PATH, TZ are unreserved defaults the user may override.
    name = functions.shell(ENV_BODY, env={"LANG": "C.UTF-8", "TZ": "Europe/Paris"}, extra_files={"data.txt": "x"})
    _, env = parse_env_dump(invoke(lam, name).payload)
    assert env["LANG"] == "C.UTF-8"
    assert env["TZ"] == "Europe/Paris"


POSTING_RULES_BODY = (
    r"""
printf '"to nobody"' | post "invocation/%s/response" unknown_response
printf '{"errorType":"X","errorMessage":"y"}' | post "invocation/%s/error" unknown_error
printf '"first"' | post "invocation/$REQUEST_ID/response" first
printf '"second"' | post "invocation/$REQUEST_ID/response" second
printf '{"errorType":"Late","errorMessage":"late"}' | post "invocation/$REQUEST_ID/error" error_after_response
printf '{"errorType":"Late","errorMessage":"late"}' | post "init/error" init_error_after_init
"""
    % (UNKNOWN_ID, UNKNOWN_ID)
)


def test_result_posting_rules(lam, functions, recorder):
    name = functions.shell(POSTING_RULES_BODY, env=recorder.env)
    inv = invoke(lam, name)
    assert inv.function_error is None
    assert inv.payload == b'"first"', "the first result posted wins"

    rec = {
        label: (r.code, r.body)
        for label, r in recorder.wait(
            ["unknown_response", "unknown_error", "first", "second", "error_after_response", "init_error_after_init"]
        ).items()
    }

    def error_type(label):
        return json.loads(rec[label][1])["errorType"]

    # ref §1.2: unknown id -> 400 InvalidRequestID, checked first
    assert rec["unknown_response"][0] == 400
    assert error_type("unknown_response") == "InvalidRequestID"
    assert json.loads(rec["unknown_response"][1])["errorMessage"] == "Invalid request ID"
    assert rec["unknown_error"][0] == 400
    assert error_type("unknown_error") == "InvalidRequestID"
    # ref §1.2: 202 for the response
    assert rec["first"][0] == 202
    # ref §1.2/§1.3: a second result for the same id -> 403 InvalidStateTransition
    assert rec["second"][0] == 403
    assert error_type("second") == "InvalidStateTransition"
    assert rec["error_after_response"][0] == 403
    assert error_type("error_after_response") == "InvalidStateTransition"
    # ref §1.4: init/error outside the init phase -> 403
    assert rec["init_error_after_init"][0] == 403


def test_stale_request_id_after_completion_is_invalid(lam, functions, recorder):
    # A result for the previous invocation's id, posted during the next one -> 400 InvalidRequestID
    # (ref §1.2: "stale id").
    body = r"""
if [ -n "${PREV:-}" ]; then
  printf '"stale"' | post "invocation/$PREV/response" stale
fi
PREV=$REQUEST_ID
printf '"ok"' | respond
"""
    name = functions.shell(body, env=recorder.env)
    assert invoke(lam, name).payload == b'"ok"'
    second = invoke(lam, name)
    assert second.payload == b'"ok"'
    stale = recorder.wait(["stale"])["stale"]
    assert stale.code == 400
    assert stale.json()["errorType"] == "InvalidRequestID"


def test_chunked_response_upload_arrives_intact(lam, functions, recorder):
    body = r"""
code=$(seq 1 40000 | c -o /dev/null -w '%{http_code}' -X POST -T - -H 'Transfer-Encoding: chunked' \
  "$RT/invocation/$REQUEST_ID/response") || true
printf '' | record chunked "$code"
"""
    name = functions.shell(body, env=recorder.env)
    inv = invoke(lam, name, tail=False)
    expected = "".join(f"{i}\n" for i in range(1, 40001)).encode()
    assert inv.function_error is None, inv.payload[:500]
    assert len(inv.payload) == len(expected)
    assert inv.payload == expected
    assert recorder.wait(["chunked"])["chunked"].code == 202


def test_chunked_error_upload(lam, functions):
    # /error bodies may be chunked too (curl -T from a pipe); the caller gets them verbatim.
    body = r"""
printf '{"errorType":"Chunky","errorMessage":"sent in chunks"}' |
  c -o /dev/null -X POST -T - -H 'Transfer-Encoding: chunked' "$RT/invocation/$REQUEST_ID/error"
"""
    name = functions.shell(body)
    inv = invoke(lam, name)
    assert inv.function_error == "Unhandled"
    assert inv.payload == b'{"errorType":"Chunky","errorMessage":"sent in chunks"}'


def test_empty_response_body(lam, functions):
    name = functions.shell(r"""printf '' | respond""")
    inv = invoke(lam, name)
    assert inv.status == 200
    assert inv.function_error is None
    assert inv.payload == b""

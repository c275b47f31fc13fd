"""The daemon's HTTP/1.1 server, byte for byte over raw sockets: keep-alive, pipelining,
chunked request bodies, Expect: 100-continue, limits (431/413), malformed requests (400) and
unknown paths. These are the properties the AWS SDKs and runtime clients rely on."""

import json
import socket

from e2e_util import sigv4_headers


def _connect(daemon):
    s = socket.create_connection(("127.0.0.1", daemon.port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def _read_response(sock, buf=b""):
    """One response (Content-Length or chunked framing) -> (status, headers, body, rest)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response head: {buf!r}"
        buf += chunk
    head, _, buf = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            while b"\r\n" not in buf:
                buf += sock.recv(65536)
            size_line, _, buf = buf.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            while len(buf) < size + 2:
                buf += sock.recv(65536)
            body, buf = body + buf[:size], buf[size + 2 :]
            if size == 0:
                break
        return status, headers, body, buf
    n = int(headers.get("content-length", "0"))
    while len(buf) < n:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside a body"
        buf += chunk
    return status, headers, buf[:n], buf[n:]


def _signed_get(daemon, path="/2015-03-31/functions"):
    h = sigv4_headers("GET", path, f"127.0.0.1:{daemon.port}")
    lines = [f"GET {path} HTTP/1.1", f"Host: {h['host']}", f"X-Amz-Date: {h['x-amz-date']}", f"Authorization: {h['Authorization']}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_keep_alive_serves_many_requests_on_one_connection(daemon):
    with _connect(daemon) as s:
        rest = b""
        for _ in range(5):
            s.sendall(_signed_get(daemon))
            status, headers, body, rest = _read_response(s, rest)
            assert status == 200, body
            assert "Functions" in json.loads(body)
            assert headers.get("connection", "").lower() != "close"


def test_pipelined_requests_are_answered_in_order(daemon):
    with _connect(daemon) as s:
        missing = b"GET /2015-03-31/functions/no-such-fn HTTP/1.1\r\nHost: x\r\n\r\n"
        s.sendall(_signed_get(daemon) + missing + _signed_get(daemon))
        rest = b""
        statuses = []
        for _ in range(3):
            status, headers, body, rest = _read_response(s, rest)
            statuses.append(status)
        # the middle one is unsigned: 403 in the Lambda error shape, between two 200s
        assert statuses == [200, 403, 200]


def test_chunked_request_body_is_decoded(daemon, functions):
    name = functions.echo()
    payload = b'{"chunked":"' + b"x" * 5000 + b'"}'
    path = f"/2015-03-31/functions/{name}/invocations"
    h = sigv4_headers("POST", path, f"127.0.0.1:{daemon.port}", body=payload)
    chunks = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(payload[i : i + 1000]), payload[i : i + 1000]) for i in range(0, len(payload), 1000))
    req = (
        f"POST {path} HTTP/1.1\r\nHost: {h['host']}\r\nX-Amz-Date: {h['x-amz-date']}\r\n"
        f"Authorization: {h['Authorization']}\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode() + chunks + b"0\r\nX-Trailer: t\r\n\r\n"
    with _connect(daemon) as s:
        s.sendall(req)
        status, headers, body, _ = _read_response(s)
    assert status == 200
    assert json.loads(body) == json.loads(payload)


def test_expect_100_continue_gets_an_interim_response(daemon, functions):
    name = functions.echo()
    payload = b'{"expect":"continue"}'
    path = f"/2015-03-31/functions/{name}/invocations"
    h = sigv4_headers("POST", path, f"127.0.0.1:{daemon.port}", body=payload)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {h['host']}\r\nX-Amz-Date: {h['x-amz-date']}\r\n"
        f"Authorization: {h['Authorization']}\r\nContent-Length: {len(payload)}\r\nExpect: 100-continue\r\n\r\n"
    ).encode()
    with _connect(daemon) as s:
        s.sendall(head)
        interim = s.recv(4096)
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), interim
        s.sendall(payload)
        status, _, body, _ = _read_response(s, interim[len(b"HTTP/1.1 100 Continue\r\n\r\n") :])
    assert status == 200 and json.loads(body) == {"expect": "continue"}


def test_oversized_body_with_expect_is_refused_before_it_is_sent(daemon, functions):
    name = functions.echo()
    path = f"/2015-03-31/functions/{name}/invocations"
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {6291457}\r\nExpect: 100-continue\r\n\r\n".encode()
    with _connect(daemon) as s:
        s.sendall(head)
        status, headers, body, _ = _read_response(s)
    assert status == 413
    assert headers["x-amzn-errortype"] == "RequestEntityTooLargeException"
    assert "6291456" in json.loads(body)["message"]


def test_huge_header_block_gets_431(daemon):
    with _connect(daemon) as s:
        s.sendall(b"GET /2015-03-31/functions HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (70 * 1024) + b"\r\n\r\n")
        status, headers, _, _ = _read_response(s)
        assert status == 431
        assert headers.get("connection") == "close"


def test_malformed_request_gets_400_and_the_daemon_lives_on(daemon):
    for junk in (b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nNo Colon Here\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"):
        with _connect(daemon) as s:
            s.sendall(junk)
            status, headers, _, _ = _read_response(s)
            assert status == 400, junk
            assert headers.get("connection") == "close"
    with _connect(daemon) as s:
        s.sendall(_signed_get(daemon))
        assert _read_response(s)[0] == 200


def test_unknown_path_and_unknown_json_target(daemon):
    with _connect(daemon) as s:
        s.sendall(b"GET /no/such/thing HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body, _ = _read_response(s)
    assert status == 404
    assert headers["x-amzn-errortype"] == "UnknownOperationException"
    body = b"{}"
    h = sigv4_headers("POST", "/", f"127.0.0.1:{daemon.port}", body=body, extra_headers={"X-Amz-Target": "Nope_2020.Do"})
    with _connect(daemon) as s:
        s.sendall(
            (f"POST / HTTP/1.1\r\nHost: {h['host']}\r\nX-Amz-Target: Nope_2020.Do\r\nX-Amz-Date: {h['x-amz-date']}\r\n"
             f"Authorization: {h['Authorization']}\r\nContent-Length: 2\r\n\r\n").encode() + body
        )
        status, headers, body, _ = _read_response(s)
    assert status == 400
    assert json.loads(body)["__type"] == "UnknownOperationException"


def test_http_1_0_closes_after_the_answer(daemon):
    with _connect(daemon) as s:
        s.sendall(b"GET /no/such/thing HTTP/1.0\r\n\r\n")
        status, headers, _, rest = _read_response(s)
        assert status == 404
        assert headers.get("connection") == "close"
        assert s.recv(100) == b""  # the server closed its side


def test_client_gone_mid_invoke_does_not_hurt_the_daemon(daemon, functions, lam):
    name = functions.echo(timeout=5)
    payload = b'{"action":"sleep","ms":300}'
    path = f"/2015-03-31/functions/{name}/invocations"
    h = sigv4_headers("POST", path, f"127.0.0.1:{daemon.port}", body=payload)
    req = (
        f"POST {path} HTTP/1.1\r\nHost: {h['host']}\r\nX-Amz-Date: {h['x-amz-date']}\r\n"
        f"Authorization: {h['Authorization']}\r\nContent-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload
    for _ in range(3):
        s = _connect(daemon)
        s.sendall(req)
        s.close()  # gone before the function answers
    out = lam.invoke(FunctionName=name, Payload=b'{"after":"abandoned"}')
    assert json.loads(out["Payload"].read()) == {"after": "abandoned"}


def test_http2_client_is_told_to_use_http1(daemon):
    # The AWS SDK for JavaScript v3 opens with the HTTP/2 preface even over http://: it gets
    # HTTP/2's refusal (SETTINGS, then GOAWAY HTTP_1_1_REQUIRED saying what to do), not bytes
    # it cannot parse; the daemon goes on serving HTTP/1.1.
    s = _connect(daemon)
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    assert data[:9] == b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"  # empty SETTINGS on stream 0
    frame = data[9:]
    length = int.from_bytes(frame[:3], "big")
    assert frame[3] == 0x7 and int.from_bytes(frame[5:9], "big") == 0  # GOAWAY, stream 0
    payload = frame[9:9 + length]
    assert len(payload) == length and int.from_bytes(payload[4:8], "big") == 0xD  # HTTP_1_1_REQUIRED
    assert b"HTTP/1.1" in payload[8:] and b"NodeHttpHandler" in payload[8:]
    # an HTTP/1.1 version it does not speak still gets the HTTP/1.1 answer
    s = _connect(daemon)
    s.sendall(b"GET / HTTP/3.0\r\nHost: x\r\n\r\n")
    status = _read_response(s)[0]
    s.close()
    assert status == 505

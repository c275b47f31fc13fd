"""Fixtures of the lambdalite end-to-end suite.

Run:  /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/e2e
      (LAMBDALITE_BUILD=<build dir>, default <repo>/build: the daemon is $LAMBDALITE_BUILD/lambdalite,
      the C echo function $LAMBDALITE_BUILD/examples/echo/bootstrap)

Fixtures:
  daemon         module-scoped Daemon (.endpoint, .port, .data_dir, .start(), .stop(), .restart());
                 its teardown asserts exit status 0 after SIGTERM and a stderr free of sanitizer
                 reports. test_restart.py overrides it with a function-scoped one.
  daemon_factory function-scoped: daemon_factory(idle_timeout=None, data_dir=None, extra_args=())
                 -> a started Daemon of its own (extra_args: more `serve` options, e.g.
                 ["--sandbox", "off"]), stopped (with the same assertions) after the test.
  lam            boto3 Lambda client for the daemon (test/test, us-east-1, no retries).
  lam_for        lam_for(daemon, access_key=..., secret_key=...) -> another boto3 client.
  kinesis        boto3 Kinesis client for the daemon (make_client("kinesis", endpoint) for others).
  s3             boto3 S3 client for the daemon.
  aws            AwsCli: aws("lambda", "get-function", "--function-name", n) -> parsed JSON;
                 aws(..., check=False) -> CompletedProcess; aws.invoke(name, payload, *extra)
                 -> (output dict, result bytes).
  cli            LambdaliteCli: cli("list", "--json") -> CompletedProcess (check=True by default),
                 cli.json(...) -> parsed stdout, cli.popen(...) for --follow.
  raw            RawClient: raw.signed("GET", path, ...) / raw.send(...) -> RawResponse(status,
                 headers, body) for exact wire checks.
  functions      Functions(lam): .shell(body, init=..., **config), .script(text), .echo(**config),
                 .create(files | zip_bytes=..., **config) -> function name (unique, Active).
  recorder       Recorder: an HTTP server on 127.0.0.1:<free port> in the test process that
                 functions report to; pass env=recorder.env (RECORDER_URL) to the function. Shell
                 functions use `record LABEL [CODE]` (POSTs stdin), `post PATH LABEL` (a Runtime
                 API call, recording its status and body) and `counter KEY`; the test reads
                 recorder.wait(labels | count, timeout), recorder.records, recorder.count(key).
Helpers (zip_files, zip_dir, shell_bootstrap, invoke, instance_processes, REPORT_RE, ...) live in
e2e_util.py.

Functions are isolated from the test's host (issue 3: each instance in its own pid and mount
namespace, a minimal read-only root, a private /tmp; the host's network). So a test must not:
  - pass a host path (tmp_path, ...) to a function or read a file a function wrote: functions
    report through the `recorder` (and keep state across their own instances in its counters);
  - identify an instance by a pid ($$, getpid() are 1 in every sandboxed instance): use its log
    stream name (STREAM_BODY for shell functions, ECHO_ENV for the C echo function, read with
    Invocation.instance); "the old instance is gone" shows as the next invoke running in a new
    instance (another stream name) with an Init Duration in its REPORT, and on the host as
    instance_processes(function_name[, stream]) (a /proc environ scan) becoming empty.
tmp_path stays fine for files the test itself hands to the CLI (zips, code folders, events).
"""

import glob
import os
import shutil
import time

import pytest

from e2e_util import (
    ACCESS_KEY,
    SECRET_KEY,
    AwsCli,
    Daemon,
    Functions,
    LambdaliteCli,
    RawClient,
    Recorder,
    make_client,
    make_lambda_client,
)

# Loopback traffic must never go through a proxy the environment may define.
for _var in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(_var, None)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"



def _stop_all(daemons):
    errors = []
    for d in daemons:
        try:
            d.stop()
        except BaseException as e:  # noqa: BLE001 - report every daemon, then fail
            errors.append(f"{d.endpoint}: {e}")
        if d.crashed:
            errors.append(f"{d.endpoint}: daemon crashed during the tests:\n" + "\n".join(d.crashed))
    if errors:
        pytest.fail("\n\n".join(errors))


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    base = tmp_path_factory.mktemp("daemon")
    d = Daemon(base / "data", base / "logs")
    d.start()
    yield d
    _stop_all([d])


@pytest.fixture
def daemon_factory(tmp_path):
    made = []

    def make(idle_timeout=None, data_dir=None, extra_args=()):
        n = len(made)
        d = Daemon(
            data_dir or tmp_path / f"data{n}", tmp_path / f"logs{n}", idle_timeout=idle_timeout, extra_args=extra_args
        )
        made.append(d)
        return d.start()

    yield make
    _stop_all(made)


@pytest.fixture
def lam(daemon):
    daemon.check_alive()
    return make_lambda_client(daemon.endpoint)


@pytest.fixture
def kinesis(daemon):
    daemon.check_alive()
    return make_client("kinesis", daemon.endpoint)


@pytest.fixture
def s3(daemon):
    """boto3 S3 client for the daemon (path-style, as botocore addresses an IP endpoint)."""
    daemon.check_alive()
    return make_client("s3", daemon.endpoint)


@pytest.fixture
def lam_for():
    def make(d, access_key=ACCESS_KEY, secret_key=SECRET_KEY):
        return make_lambda_client(d.endpoint, access_key, secret_key)

    return make


@pytest.fixture
def aws(daemon, tmp_path):
    daemon.check_alive()
    return AwsCli(daemon.endpoint, tmp_path)


@pytest.fixture
def cli(daemon, tmp_path):
    daemon.check_alive()
    return LambdaliteCli(daemon.endpoint, tmp_path)


@pytest.fixture
def raw(daemon):
    daemon.check_alive()
    return RawClient(daemon.port)


@pytest.fixture
def functions(lam):
    return Functions(lam)


@pytest.fixture
def recorder():
    r = Recorder()
    yield r
    r.close()


@pytest.fixture(scope="session", autouse=True)
def _no_function_scratch_left_on_the_host():
    """A shell function's scratch folder is in its own /tmp, except under --sandbox off, where
    that is the host's: an instance killed (idle timeout, daemon stop) never runs its clean-up
    trap. The suite removes such leftovers (ll-e2e.* in /tmp) once they are 10 minutes old,
    so that a suite running beside this one keeps the folders of its live instances."""

    def sweep():
        for path in glob.glob("/tmp/ll-e2e.*"):
            try:
                if time.time() - os.stat(path).st_mtime > 600:
                    shutil.rmtree(path, ignore_errors=True)
            except OSError:
                pass

    sweep()
    yield
    sweep()

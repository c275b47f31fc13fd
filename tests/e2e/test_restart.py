"""Restarting the daemon on the same data directory keeps functions and layers; SIGTERM shuts
down cleanly (exit 0, instances stopped)."""

import pytest
from botocore.exceptions import ClientError

from e2e_util import (
    Functions,
    code_sha256,
    invoke,
    layer_arn,
    STREAM_BODY,
    instance_processes,
    make_lambda_client,
    shell_bootstrap,
    unique_name,
    wait_until,
    zip_files,
)


@pytest.fixture
def daemon(daemon_factory):
    """This module restarts its daemon: one of its own per test."""
    return daemon_factory()


def test_restart_keeps_functions(daemon, lam, functions):
    echo = functions.echo(memory=192, timeout=4, env={"KEEP": "me"})
    sh_zip = zip_files({"bootstrap": (shell_bootstrap(r"""printf '{"env":"%s"}' "$KEEP" | respond"""), 0o755)})
    shell = functions.create(zip_bytes=sh_zip, prefix="restart-sh", env={"KEEP": "this value"})
    doomed = functions.echo(prefix="doomed")
    assert invoke(lam, echo, {"before": 1}).json() == {"before": 1}
    before = {n: lam.get_function_configuration(FunctionName=n) for n in (echo, shell)}
    lam.delete_function(FunctionName=doomed)

    daemon.restart()  # asserts exit status 0 after SIGTERM
    lam = make_lambda_client(daemon.endpoint)

    listed = {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    assert {echo, shell} <= listed
    assert doomed not in listed
    for n, old in before.items():
        cfg = lam.get_function_configuration(FunctionName=n)
        for key in ("FunctionArn", "Runtime", "Handler", "MemorySize", "Timeout", "CodeSha256", "CodeSize", "Environment", "RevisionId"):
            assert cfg[key] == old[key], (n, key)
    assert lam.get_function_configuration(FunctionName=shell)["CodeSha256"] == code_sha256(sh_zip)

    after = invoke(lam, echo, {"after": 2})
    assert after.function_error is None
    assert after.json() == {"after": 2}
    assert after.report.init is not None, "a new daemon starts new instances"
    assert invoke(lam, shell).json() == {"env": "this value"}
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName=doomed)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_restart_keeps_layers(daemon, lam):
    name = unique_name("restart-layer")
    z = zip_files({"share/x.txt": "x"})
    lam.publish_layer_version(LayerName=name, Content={"ZipFile": z})
    daemon.restart()
    lam = make_lambda_client(daemon.endpoint)
    got = lam.get_layer_version(LayerName=name, VersionNumber=1)
    assert got["LayerVersionArn"] == layer_arn(name, 1)
    assert got["Content"]["CodeSha256"] == code_sha256(z)
    # Numbering continues after the restart.
    v2 = lam.publish_layer_version(LayerName=name, Content={"ZipFile": z})
    assert v2["Version"] == 2


def test_restart_twice_and_update_in_between(daemon, lam, functions):
    name = functions.shell(r"""printf '"v1"' | respond""")
    daemon.restart()
    lam = make_lambda_client(daemon.endpoint)
    v2 = zip_files({"bootstrap": (shell_bootstrap(r"""printf '"v2"' | respond"""), 0o755)})
    lam.update_function_code(FunctionName=name, ZipFile=v2)
    Functions(lam).wait_active(name)
    assert invoke(lam, name).json() == "v2"
    daemon.restart()
    lam = make_lambda_client(daemon.endpoint)
    assert invoke(lam, name).json() == "v2"
    assert lam.get_function_configuration(FunctionName=name)["CodeSha256"] == code_sha256(v2)


def test_sigterm_stops_instances(daemon, lam, functions):
    # The instance answers, then sleeps instead of going back to /next: it would outlive the
    # daemon unless the daemon stops its instances on shutdown.
    # Its processes are found on the host by the function's (unique) name in their environment.
    name = functions.shell(STREAM_BODY + "\nsleep 30")
    stream = invoke(lam, name).instance
    assert instance_processes(name, stream), "the instance should be alive before shutdown"
    daemon.stop()  # asserts exit status 0 and a clean stderr
    wait_until(
        lambda: not instance_processes(name), timeout=10, message=f"the processes of {name} to be stopped with the daemon"
    )


def test_restart_on_same_port_serves_immediately(daemon, lam, functions):
    name = functions.echo()
    port = daemon.port
    daemon.restart()
    assert daemon.port == port
    lam = make_lambda_client(daemon.endpoint)
    assert invoke(lam, name, {"x": 1}).json() == {"x": 1}


def test_update_keeps_old_code_for_running_instances_until_restart(daemon, lam, functions):
    # An invocation running the old code when UpdateFunctionCode lands still reads its files;
    # superseded revisions are pruned from disk when the daemon next starts.
    import concurrent.futures

    def version(v):
        body = r"""
sleep "$(sed -n 's/.*"sleep": *\([0-9.]*\).*/\1/p' "$W/event")"
printf '"%s"' "$(cat /var/task/version.txt)" | respond
"""
        return zip_files({"bootstrap": (shell_bootstrap(body), 0o755), "version.txt": (v, 0o644)})

    name = functions.create(zip_bytes=version("v1"), prefix="prune", timeout=5)
    fn_dir = daemon.data_dir / "functions" / name
    assert invoke(lam, name, {"sleep": 0}).json() == "v1"
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        running = pool.submit(invoke, lam, name, {"sleep": 1.5})
        def sleeping():
            for pid in instance_processes(name):
                try:
                    if open(f"/proc/{pid}/cmdline", "rb").read().startswith(b"sleep\0"):
                        return True
                except OSError:
                    pass
            return False

        wait_until(sleeping, message="the old code running its invocation")
        lam.update_function_code(FunctionName=name, ZipFile=version("v2"))
        assert running.result().json() == "v1", "the running invocation lost its code"
    assert invoke(lam, name, {"sleep": 0}).json() == "v2"
    revisions = lambda: sorted(p.name for p in fn_dir.iterdir() if (p / "code").is_dir())  # noqa: E731
    assert len(revisions()) == 2, revisions()
    daemon.restart()
    assert len(revisions()) == 1, revisions()
    lam = make_lambda_client(daemon.endpoint)
    assert invoke(lam, name, {"sleep": 0}).json() == "v2"

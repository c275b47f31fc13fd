"""The sandbox (issue 3): each instance in its own Linux sandbox (user, pid, mount, ipc and uts
namespaces; a minimal read-only root with /var/task and /opt read-only and a private /tmp;
cgroup memory/cpu/pids limits; rlimits; no capabilities; no_new_privs; seccomp).

Each test runs a hostile shell function that tries one way out, reports what happened through
the `recorder` (`probe LABEL CMD...` keeps CMD's output and exit status; `report` sends them),
answers {"stream": ...}, and the test then checks that the daemon is alive and that a plain neighbour
(the C echo function, created once per module) still answers right. A test that needs a
mechanism `lambdalite info --json` reports off is skipped with that mechanism's line.
"""

import concurrent.futures
import os
import re
import signal
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from e2e_util import (
    REPO,
    STREAM_BODY,
    Functions,
    LambdaliteCli,
    instance_processes,
    invoke,
    make_lambda_client,
    wait_until,
)

# ---------------------------------------------------------------------------------------------
# What the daemon says is in force


@pytest.fixture(scope="module")
def sandbox_info(daemon, tmp_path_factory):
    cli = LambdaliteCli(daemon.endpoint, tmp_path_factory.mktemp("info"))
    return cli.json("info", "--json")["sandbox"]


def mechanism_line(info, name):
    return next((l for l in info.get("mechanisms", []) if l.startswith(name + ":")), None)


def need(info, *names):
    """Skip unless the sandbox is on and every named mechanism ("pid namespace", "seccomp", ...)
    is reported on; the skip message is the daemon's own line."""
    if info.get("enabled") is not True:
        pytest.skip("sandbox not in force: " + "; ".join(info.get("mechanisms", [])))
    for name in names:
        line = mechanism_line(info, name)
        if line is None:
            pytest.skip(f"{name}: not reported by `lambdalite info` ({info.get('mechanisms')})")
        if line.split(":", 1)[1].strip().startswith("off"):
            pytest.skip(line)


def need_cgroup(info, controller):
    """Skip unless a cgroup hierarchy with `controller` is in force ("cgroup: v1 (memory, ...)")."""
    need(info, "cgroup")
    line = mechanism_line(info, "cgroup")
    m = re.match(r"(v1|v2) \(([^)]*)\)", line.split(":", 1)[1].strip())
    if not m or controller not in [c.strip() for c in m.group(2).split(",")]:
        pytest.skip(f"no {controller} cgroup controller: {line}")


# ---------------------------------------------------------------------------------------------
# The neighbour, and the hostile functions


@pytest.fixture(scope="module")
def neighbour(daemon):
    """A plain C echo function on the module's daemon, warm before the hostile tests run."""
    lam = make_lambda_client(daemon.endpoint)
    name = Functions(lam).echo(prefix="neighbour")
    inv = invoke(lam, name, {"warm": True})
    assert inv.function_error is None and inv.json() == {"warm": True}, inv.payload
    return name


def assert_contained(daemon, lam, neighbour):
    """The daemon survived and the neighbour still answers, with its own payload."""
    assert daemon.running, f"the daemon died:\n{daemon.stderr_tail()}"
    token = uuid.uuid4().hex
    inv = invoke(lam, neighbour, {"token": token})
    assert inv.status == 200 and inv.function_error is None, inv.payload
    assert inv.json() == {"token": token}


# probe LABEL CMD...: run CMD (stdin /dev/null) and keep its stdout+stderr and exit status under
# LABEL; `report` (run by every hostile function before it answers) sends them all to the
# recorder as one record "probes" (one curl, not one per probe). The output is held in a
# variable, not a file: /tmp may be full.
PROBE_INIT = r"""
P=''
probe() {
  l=$1; shift; rc=0
  out=$("$@" 2>&1 < /dev/null) || rc=$?
  P="$P### probe $l $rc
$out
"
}
report() { if [ -n "$P" ]; then printf '%s' "$P" | record probes; P=''; fi; }
"""


# `python3 /var/task/calls.py NAME...`: makes each named system call directly (ctypes, no fork)
# and prints "NAME: ok" or "NAME: ERRNO (strerror)"; exits 0 when every call failed.
CALLS_PY = r"""
import ctypes, errno, os, platform, sys

NR = {  # x86_64, aarch64
    "keyctl": (250, 219), "bpf": (321, 280), "perf_event_open": (298, 241),
    "kexec_load": (246, 104), "finit_module": (313, 273),
}
arch = {"x86_64": 0, "aarch64": 1}.get(platform.machine())
libc = ctypes.CDLL(None, use_errno=True)
MS_REMOUNT, MS_BIND = 32, 4096
CLONE_NEWNS, CLONE_NEWUSER = 0x20000, 0x10000000


def call(name):
    if name == "mount":
        return libc.mount(b"none", b"/tmp", b"tmpfs", ctypes.c_ulong(0), None)
    if name == "remount_rw":
        return libc.mount(None, b"/var/task", None, ctypes.c_ulong(MS_REMOUNT | MS_BIND), None)
    if name == "ptrace_traceme":
        return libc.ptrace(0, 0, None, None)
    if name == "unshare_user":
        return libc.unshare(CLONE_NEWUSER)
    if name == "unshare_mount":
        return libc.unshare(CLONE_NEWNS)
    if name == "setns":
        return libc.setns(os.open("/proc/self/ns/mnt", os.O_RDONLY), CLONE_NEWNS)
    if arch is None:
        raise SystemExit(f"{name}: unknown architecture {platform.machine()}")
    nr = ctypes.c_long(NR[name][arch])
    if name == "keyctl":  # KEYCTL_GET_KEYRING_ID of the session keyring
        return libc.syscall(nr, 0, -3, 0)
    if name == "bpf":  # BPF_PROG_LOAD without attributes
        return libc.syscall(nr, 5, None, 0)
    if name == "perf_event_open":
        return libc.syscall(nr, None, 0, -1, -1, 0)
    if name == "kexec_load":
        return libc.syscall(nr, 0, 0, None, 0)
    if name == "finit_module":
        return libc.syscall(nr, -1, b"", 0)
    raise SystemExit(f"unknown call {name}")


allowed = 0
for name in sys.argv[1:]:
    ctypes.set_errno(0)
    r = call(name)
    e = ctypes.get_errno()
    if r == -1:
        print(f"{name}: {errno.errorcode.get(e, e)} ({os.strerror(e)})")
    else:
        allowed += 1
        print(f"{name}: ok")
sys.exit(allowed)
"""


def hostile(functions, recorder, body, env=None, extra_files=None, **config):
    """A shell function (PROBE_INIT's helpers) whose body runs `body`, reports its probes and
    answers its instance's stream name."""
    return functions.shell(
        body + "\nreport\n" + STREAM_BODY,
        init=PROBE_INIT,
        env={**recorder.env, **(env or {})},
        extra_files=extra_files,
        prefix=config.pop("prefix", "hostile"),
        **config,
    )


@dataclass
class Probe:
    label: str
    code: int  # the command's exit status
    text: str  # its stdout and stderr


def parse_probes(text):
    parts = re.split(r"^### probe (\S+) (\d+)\n", text, flags=re.M)
    return {parts[i]: Probe(parts[i], int(parts[i + 1]), parts[i + 2]) for i in range(1, len(parts) - 2, 3)}


def run(lam, name, recorder, payload=None):
    """Invoke; assert it answered; return (its instance's stream name, {label: Probe} of this
    invocation, {label: Record} of this invocation's other records)."""
    before = len(recorder.records)
    inv = invoke(lam, name, payload)
    assert inv.status == 200 and inv.function_error is None, f"{inv.payload!r}\n{inv.log}"
    stream = inv.instance
    probes, records = {}, {}
    for r in recorder.records[before:]:  # recorded before the function answered
        if r.label == "probes":
            probes.update(parse_probes(r.text))
        else:
            records[r.label] = r
    return stream, probes, records


def failed(probe, *messages):
    """The probed command failed with one of `messages` in its output."""
    assert probe.code != 0, f"{probe.label}: the command succeeded:\n{probe.text}"
    assert any(m in probe.text for m in messages), f"{probe.label}: expected one of {messages}, got:\n{probe.text}"


def in_background(lam, name, payload):
    """Start invoke(lam, name, payload) in a thread; returns its future."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    future = pool.submit(invoke, lam, name, payload)
    pool.shutdown(wait=False)
    return future


# ---------------------------------------------------------------------------------------------
# What is in force


MECHANISMS = ("user namespaces", "pid namespace", "mount namespace", "cgroup", "seccomp")


def test_info_reports_sandbox_mechanisms(daemon, cli, sandbox_info):
    lines = sandbox_info["mechanisms"]
    assert isinstance(sandbox_info["enabled"], bool), sandbox_info
    assert lines and all(isinstance(l, str) and re.match(r"^[a-z][a-z0-9 ]*: \S", l) for l in lines), lines
    if not sandbox_info["enabled"]:
        pytest.skip("sandbox not in force on this machine: " + "; ".join(lines))
    for name in MECHANISMS:
        assert mechanism_line(sandbox_info, name), f"no '{name}:' line in {lines}"
    assert any(re.match(r"^[a-z ]+: (on|v1|v2)\b", l) for l in lines), lines
    # Said once at start, and by the text form of `lambdalite info` too.
    for line in lines:
        assert daemon.stderr().count(line) == 1, f"{line!r} should be in the daemon's start-up output once"
    text = cli("info").stdout
    assert re.search(r"^sandbox\s+on \(\d+ prepared in the warm pool\)$", text, re.M), text
    for line in lines:
        assert line in text, text


# What a function sees of processes; shared with the --sandbox off test.
PROC_BODY = r"""
listprocs() {
  for p in /proc/[0-9]*; do
    printf '%s %s\n' "${p#/proc/}" "$(tr '\0' ' ' < "$p/cmdline" 2>/dev/null || true)"
  done
}
probe self echo "$$"
probe procs listprocs
probe uid id -u
probe daemon ls -d "/proc/$DAEMON_PID"
"""


def proc_entries(probe):
    """{pid: cmdline} from PROC_BODY's `procs` probe."""
    out = {}
    for line in probe.text.splitlines():
        pid, _, cmd = line.partition(" ")
        if pid.isdigit():
            out[int(pid)] = cmd.strip()
    return out


def test_sandbox_off_runs_functions_unsandboxed(daemon_factory, lam_for, recorder, tmp_path):
    d = daemon_factory(extra_args=["--sandbox", "off"])
    info = LambdaliteCli(d.endpoint, tmp_path).json("info", "--json")["sandbox"]
    assert info["enabled"] is False, info
    assert any(": off" in l for l in info["mechanisms"]), info
    lam = lam_for(d)
    name = hostile(Functions(lam), recorder, PROC_BODY, env={"DAEMON_PID": str(d.proc.pid)})
    _, p, _ = run(lam, name, recorder)
    assert p["self"].text.strip() != "1", "an unsandboxed bootstrap is not pid 1"
    assert p["uid"].text.strip() == str(os.getuid()), "an unsandboxed function runs as the daemon's uid"
    assert p["daemon"].code == 0, f"the daemon's /proc entry should be visible unsandboxed:\n{p['daemon'].text}"
    procs = proc_entries(p["procs"])
    assert any("lambdalite" in cmd for cmd in procs.values()), "the daemon should be among the processes seen"


def test_network_none_gives_an_empty_network_with_the_runtime_api_inside(
    daemon_factory, lam_for, recorder, sandbox_info
):
    need(sandbox_info, "network namespace")
    d = daemon_factory(extra_args=["--network", "none"])
    lam = lam_for(d)
    body = r"""
if curl -s -m 2 -o /dev/null "$RECORDER_URL/count/netnone"; then host=reached; else host=unreachable; fi
links=$(ls /sys/class/net 2>/dev/null | tr '\n' ' ')
printf '{"api":"%s","host":"%s","links":"%s"}' "$AWS_LAMBDA_RUNTIME_API" "$host" "$links" | respond
"""
    name = Functions(lam).shell(body, env=recorder.env)
    out = invoke(lam, name)
    assert out.function_error is None, out.payload
    got = out.json()
    # The Runtime API answers where AWS has it, inside the instance's own network ...
    assert got["api"] == "127.0.0.1:9001", got
    # ... and nothing on the host's loopback is reachable from there.
    assert got["host"] == "unreachable", got
    assert recorder.count("netnone") == 0, "the host's recorder was reached from an empty network"
    assert invoke(lam, name).json()["api"] == "127.0.0.1:9001"  # warm reuse works too


def test_a_function_cannot_take_a_neighbours_runtime_api(daemon, lam, functions, recorder, neighbour, sandbox_info):
    # Instances share the host's network: a hostile function can see every listening port in
    # /proc/net/tcp, its neighbours' Runtime API endpoints among them. Asking one for /next must
    # get nothing (the daemon accepts only the instance's own processes there), and the
    # neighbour must keep getting its own events.
    need(sandbox_info, "user namespaces")
    assert_contained(daemon, lam, neighbour)  # the neighbour is warm: parked in its /next
    body = r"""
own=${AWS_LAMBDA_RUNTIME_API##*:}
tried=0; got=0
for hexport in $(awk 'NR > 1 && $2 ~ /^0100007F:/ && $4 == "0A" {split($2, a, ":"); print a[2]}' /proc/net/tcp); do
  port=$((0x$hexport))
  [ "$port" = "$own" ] && continue
  tried=$((tried + 1))
  if curl -s -m 1 -D - -o /dev/null "http://127.0.0.1:$port/2018-06-01/runtime/invocation/next" | grep -qi lambda-runtime-aws-request-id; then got=$((got + 1)); fi
done
probe tried echo "$tried"
probe stolen echo "$got"
"""
    name = hostile(functions, recorder, body, timeout=60)
    _, p, _ = run(lam, name, recorder)
    assert int(p["tried"].text.strip()) >= 2, p["tried"].text  # at least the API and the neighbour
    assert p["stolen"].text.strip() == "0", "a function received another instance's event"
    # Untouched: the neighbour's warm instance still takes its next event (no cold start).
    warm = invoke(lam, neighbour, {"after": "probing"})
    assert warm.json() == {"after": "probing"}
    assert warm.report.init is None, "the neighbour's instance was disturbed and replaced"
    assert_contained(daemon, lam, neighbour)


# ---------------------------------------------------------------------------------------------
# Files


def test_etc_shadow_unreadable(daemon, lam, functions, recorder, neighbour, sandbox_info):
    need(sandbox_info, "mount namespace")
    if not Path("/etc/shadow").exists():
        pytest.skip("the host has no /etc/shadow")
    name = hostile(functions, recorder, "probe shadow cat /etc/shadow\nprobe passwd cat /etc/passwd\nprobe etc ls -A /etc")
    _, p, _ = run(lam, name, recorder)
    failed(p["shadow"], "No such file or directory", "Permission denied")
    # The generated /etc: an entry for the sandbox user, not the host's accounts.
    assert p["passwd"].code == 0 and ":993:" in p["passwd"].text, p["passwd"].text
    host_users = {l.split(":")[0] for l in Path("/etc/passwd").read_text().splitlines() if l and l[0] != "#"}
    inside_users = {l.split(":")[0] for l in p["passwd"].text.splitlines() if ":" in l}
    assert host_users - inside_users, "the sandbox's /etc/passwd is the host's"
    assert "shadow" not in p["etc"].text.split(), p["etc"].text
    assert_contained(daemon, lam, neighbour)


def test_data_dir_not_visible(daemon, lam, functions, recorder, neighbour, sandbox_info):
    need(sandbox_info, "mount namespace")
    assert (daemon.data_dir / "meta.db").exists(), "the data dir should hold the daemon's database"
    name = hostile(
        functions,
        recorder,
        'probe ls ls -A "$DATA_DIR"\nprobe db cat "$DATA_DIR/meta.db"\nprobe fns ls -A "$DATA_DIR/functions"',
        env={"DATA_DIR": str(daemon.data_dir.resolve())},
    )
    _, p, _ = run(lam, name, recorder)
    for label in ("ls", "db", "fns"):
        failed(p[label], "No such file or directory")
    assert_contained(daemon, lam, neighbour)


def test_var_task_read_only(daemon, lam, functions, recorder, neighbour, sandbox_info):
    need(sandbox_info, "mount namespace")
    name = hostile(
        functions,
        recorder,
        "probe create touch /var/task/planted\n"
        "probe mkdir mkdir /var/task/dir\n"
        "probe unlink rm -f /var/task/bootstrap\n"
        "probe root touch /planted\n"
        "probe opt touch /opt/planted",
    )
    _, p, _ = run(lam, name, recorder)
    for label in ("create", "mkdir", "unlink", "root", "opt"):
        failed(p[label], "Read-only file system")
    run(lam, name, recorder)  # the code is intact: it still runs
    assert_contained(daemon, lam, neighbour)


TMP_BODY = r"""
a=$(jget action); t=$(jget token)
if [ "$a" = write ]; then echo "secret $t" > "/tmp/marker-$t"; fi
probe "ls_$a" ls -A /tmp
probe "read_$a" cat "/tmp/marker-$t"
probe "fstype_$a" stat -f -c %T /tmp
"""


def test_tmp_writable_and_private(daemon, lam, functions, recorder, neighbour, sandbox_info):
    need(sandbox_info, "mount namespace")
    token = uuid.uuid4().hex
    host_file = Path(f"/tmp/e2e-host-{token}")
    host_file.write_text("host\n")
    try:
        writer = hostile(functions, recorder, TMP_BODY)
        other = hostile(functions, recorder, TMP_BODY)
        _, w, _ = run(lam, writer, recorder, {"action": "write", "token": token})
        _, o, _ = run(lam, other, recorder, {"action": "list", "token": token})
    finally:
        host_file.unlink()
    # Writable: the writer reads back what it wrote, in a /tmp of its own (a disk of its own where
    # the machine allows it, else a tmpfs).
    assert w["read_write"].code == 0 and w["read_write"].text.strip() == f"secret {token}", w["read_write"].text
    assert f"marker-{token}" in w["ls_write"].text.split(), w["ls_write"].text
    disk = (mechanism_line(sandbox_info, "tmp on disk") or "").startswith("tmp on disk: on")
    assert w["fstype_write"].text.strip() == ("ext2/ext3" if disk else "tmpfs"), w["fstype_write"].text
    assert "lost+found" not in w["ls_write"].text.split(), w["ls_write"].text
    # Private: the function sees neither the host's /tmp nor another function's.
    assert host_file.name not in w["ls_write"].text.split(), w["ls_write"].text
    assert f"marker-{token}" not in o["ls_list"].text, o["ls_list"].text
    failed(o["read_list"], "No such file or directory")
    assert not Path(f"/tmp/marker-{token}").exists(), "the function's /tmp file landed in the host's /tmp"
    assert_contained(daemon, lam, neighbour)


def test_var_task_holds_only_its_own_code(daemon, lam, functions, recorder, neighbour, sandbox_info):
    need(sandbox_info, "mount namespace")
    marker = f"marker-{uuid.uuid4().hex}.txt"
    name = hostile(
        functions,
        recorder,
        "probe task ls -A /var/task\nprobe opt ls -A /opt\nprobe var ls -A /var",
        extra_files={marker: "mine\n"},
    )
    _, p, _ = run(lam, name, recorder)
    assert sorted(p["task"].text.split()) == sorted(["bootstrap", marker]), p["task"].text
    assert p["opt"].code == 0 and p["opt"].text.split() == [], p["opt"].text
    assert "task" in p["var"].text.split(), p["var"].text
    assert_contained(daemon, lam, neighbour)


def test_proc_self_root_is_the_sandbox_root(daemon, lam, functions, recorder, neighbour, sandbox_info):
    need(sandbox_info, "mount namespace")
    # A top-level directory of the host that the sandbox's root does not have (its own are
    # /bin /dev /etc /lib* /opt /proc /sbin /tmp /usr /var): the checkout's, else a usual one.
    own = {"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "opt", "proc", "sbin", "tmp", "usr", "var"}
    candidates = [REPO.parts[1], "root", "home", "srv", "boot", "mnt", "media", "run", "sys"]
    host_top = next(("/" + c for c in candidates if c not in own and Path("/" + c).is_dir()), None)
    assert host_top, "no top-level host directory outside the sandbox's own set"
    name = hostile(
        functions,
        recorder,
        "probe slash ls -A /\n"
        "probe selfroot ls -A /proc/self/root/\n"
        "probe updots ls -A /proc/self/root/../../..\n"
        "probe pid1root ls -A /proc/1/root/\n"
        'probe hosttop ls -A "/proc/self/root$HOST_TOP"\n'
        'probe datadir ls -A "/proc/1/root$DATA_DIR"\n'
        "probe link readlink /proc/self/root",
        env={"HOST_TOP": host_top, "DATA_DIR": str(daemon.data_dir.resolve())},
    )
    _, p, _ = run(lam, name, recorder)
    inside = sorted(p["slash"].text.split())
    for label in ("selfroot", "updots", "pid1root"):
        assert p[label].code == 0 and sorted(p[label].text.split()) == inside, (label, p[label].text, inside)
    assert host_top[1:] not in inside, f"the host's {host_top} is in the sandbox root: {inside}"
    assert inside != sorted(os.listdir("/")), "the sandbox root lists exactly the host's /"
    failed(p["hosttop"], "No such file or directory")
    failed(p["datadir"], "No such file or directory")
    assert p["link"].text.strip() == "/", p["link"].text
    assert_contained(daemon, lam, neighbour)


# ---------------------------------------------------------------------------------------------
# Processes and privileges


def test_proc_shows_only_the_sandbox(daemon, lam, functions, recorder, neighbour, sandbox_info):
    need(sandbox_info, "pid namespace", "mount namespace")
    name = hostile(functions, recorder, PROC_BODY, env={"DAEMON_PID": str(daemon.proc.pid)})
    _, p, _ = run(lam, name, recorder)
    assert p["self"].text.strip() == "1", "the bootstrap is pid 1 of its namespace"
    procs = proc_entries(p["procs"])
    assert "/var/task/bootstrap" in procs.get(1, ""), procs
    host_pids = [e for e in os.listdir("/proc") if e.isdigit()]
    assert len(procs) < 20 < len(host_pids), (procs, len(host_pids))
    for pid, cmd in procs.items():
        assert "lambdalite" not in cmd and "pytest" not in cmd, f"a host process is visible: {pid} {cmd}"
    failed(p["daemon"], "No such file or directory")
    assert_contained(daemon, lam, neighbour)


def test_cannot_kill_the_daemon(daemon, lam, functions, recorder, neighbour, sandbox_info):
    need(sandbox_info, "pid namespace")
    pid = daemon.proc.pid
    name = hostile(
        functions,
        recorder,
        'probe kill9 kill -9 "$DAEMON_PID"\nprobe kill0 kill -0 "$DAEMON_PID"\nprobe binkill /bin/kill -9 "$DAEMON_PID"',
        env={"DAEMON_PID": str(pid)},
    )
    _, p, _ = run(lam, name, recorder)
    for label in ("kill9", "kill0", "binkill"):
        failed(p[label], "No such process")
    assert daemon.running and daemon.proc.pid == pid
    assert_contained(daemon, lam, neighbour)


def status_fields(pid):
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.split()
    return fields


def test_function_is_not_root(daemon, lam, functions, recorder, neighbour, sandbox_info):
    need(sandbox_info, "user namespaces")
    name = hostile(
        functions,
        recorder,
        "probe uid id -u\nprobe gid id -g\n"
        "probe status grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status",
    )
    stream, p, _ = run(lam, name, recorder)
    assert p["uid"].text.strip() == "993", p["uid"].text
    assert p["gid"].text.strip() != "0", p["gid"].text
    inside = {l.split(":")[0]: l.split(":", 1)[1].split() for l in p["status"].text.splitlines() if ":" in l}
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(inside[cap][0], 16) == 0, f"{cap} inside: {inside[cap]}"
    assert inside["NoNewPrivs"] == ["1"], inside
    if mechanism_line(sandbox_info, "seccomp").startswith("seccomp: on"):
        assert inside["Seccomp"] == ["2"], inside
    # On the host: the instance's processes (the bootstrap and its curl) are not root.
    pids = instance_processes(name, stream)
    assert pids, "the warm instance's processes should be visible on the host"
    for pid in pids:
        try:
            st = status_fields(pid)
        except OSError:  # gone meanwhile
            continue
        assert all(int(x) != 0 for x in st["Uid"]), f"pid {pid} runs as host uid {st['Uid']}"
        assert all(int(x) != 0 for x in st["Gid"]), f"pid {pid} runs as host gid {st['Gid']}"
        assert int(st["CapEff"][0], 16) == 0, f"pid {pid} has capabilities {st['CapEff']}"
    assert_contained(daemon, lam, neighbour)


def test_rlimits_cannot_be_raised(daemon, lam, functions, recorder, neighbour, sandbox_info):
    need(sandbox_info)
    name = hostile(
        functions,
        recorder,
        "probe raise sh -c 'ulimit -n 4096'\n"
        "probe raise_hard sh -c 'ulimit -H -n 4096'\n"
        'probe prlimit prlimit --pid "$$" --nofile=4096:4096\n'
        "probe soft sh -c 'ulimit -S -n'\nprobe hard sh -c 'ulimit -H -n'\nprobe core sh -c 'ulimit -c'",
    )
    _, p, _ = run(lam, name, recorder)
    for label in ("raise", "raise_hard", "prlimit"):
        failed(p[label], "Operation not permitted")
    assert (p["soft"].text.strip(), p["hard"].text.strip()) == ("1024", "1024"), (p["soft"].text, p["hard"].text)
    assert p["core"].text.strip() == "0", p["core"].text
    assert_contained(daemon, lam, neighbour)


# ---------------------------------------------------------------------------------------------
# System calls the seccomp filter denies

CALLS = {"calls.py": CALLS_PY}
HAVE_PYTHON = "probe python sh -c 'command -v python3'\n"


def denied_calls(p, *names):
    """calls.py's output: every named call failed with EPERM (skip without python3 inside)."""
    if p["python"].code != 0:
        pytest.skip("no python3 inside the sandbox to make the system calls with")
    results = dict(line.split(": ", 1) for line in p["calls"].text.strip().splitlines() if ": " in line)
    for name in names:
        assert results.get(name, "").startswith("EPERM"), f"{name}: {results.get(name)!r}\n{p['calls'].text}"


def test_mount_fails(daemon, lam, functions, recorder, neighbour, sandbox_info):
    need(sandbox_info, "seccomp")
    name = hostile(
        functions,
        recorder,
        HAVE_PYTHON + "probe cmd mount -t tmpfs none /var/task\n"
        "probe calls python3 /var/task/calls.py mount remount_rw\n"
        "probe after touch /var/task/planted",
        extra_files=CALLS,
    )
    _, p, _ = run(lam, name, recorder)
    failed(p["cmd"], "superuser", "Operation not permitted", "permission denied")
    failed(p["after"], "Read-only file system")
    denied_calls(p, "mount", "remount_rw")
    assert_contained(daemon, lam, neighbour)


def test_unshare_fails(daemon, lam, functions, recorder, neighbour, sandbox_info):
    need(sandbox_info, "seccomp")
    name = hostile(
        functions,
        recorder,
        HAVE_PYTHON + "probe cmd unshare -Urm true\nprobe calls python3 /var/task/calls.py unshare_user unshare_mount setns",
        extra_files=CALLS,
    )
    _, p, _ = run(lam, name, recorder)
    failed(p["cmd"], "Operation not permitted")
    denied_calls(p, "unshare_user", "unshare_mount", "setns")
    assert_contained(daemon, lam, neighbour)


def test_ptrace_fails(daemon, lam, functions, recorder, neighbour, sandbox_info):
    need(sandbox_info, "seccomp")
    name = hostile(
        functions,
        recorder,
        HAVE_PYTHON + "probe strace sh -c 'command -v strace || exit 0; strace -o /dev/null true'\n"
        "probe calls python3 /var/task/calls.py ptrace_traceme",
        extra_files=CALLS,
    )
    _, p, _ = run(lam, name, recorder)
    have_strace = bool(p["strace"].text.strip())
    if have_strace:
        failed(p["strace"], "Operation not permitted")
    if p["python"].code == 0 or not have_strace:
        denied_calls(p, "ptrace_traceme")  # skips when there is neither strace nor python3
    assert_contained(daemon, lam, neighbour)


def test_escape_prone_syscalls_denied(daemon, lam, functions, recorder, neighbour, sandbox_info):
    need(sandbox_info, "seccomp")
    name = hostile(
        functions,
        recorder,
        HAVE_PYTHON + "probe calls python3 /var/task/calls.py keyctl bpf perf_event_open kexec_load finit_module",
        extra_files=CALLS,
    )
    _, p, _ = run(lam, name, recorder)
    denied_calls(p, "keyctl", "bpf", "perf_event_open", "kexec_load", "finit_module")
    assert_contained(daemon, lam, neighbour)


# ---------------------------------------------------------------------------------------------
# Resources


def test_memory_hog_is_out_of_memory(daemon, lam, functions, recorder, neighbour, sandbox_info):
    need_cgroup(sandbox_info, "memory")
    # The bootstrap itself becomes the hog (dd with a 300 MB buffer, past MemorySize 128), so the
    # runtime is what the OOM killer kills.
    body = 'if [ "$(jget action)" = hog ]; then exec dd if=/dev/zero of=/dev/null bs=300M count=1; fi'
    name = hostile(functions, recorder, body, memory=128, timeout=3)
    inv = invoke(lam, name, {"action": "hog"})
    assert inv.status == 200 and inv.function_error == "Unhandled", f"{inv.payload!r}\n{inv.log}"
    err = inv.json()
    assert err["errorType"] == "Runtime.OutOfMemory", f"{err}\n{inv.log}"
    assert inv.request_id in err["errorMessage"], err
    report = inv.report
    assert report.memory == 128, report.line
    assert 100 <= report.max_memory <= 129, f"Max Memory Used should be near the 128 MB limit: {report.line}"
    # The instance is gone: the next invoke is a cold start, and runs normally.
    after = invoke(lam, name)
    assert after.function_error is None, after.payload
    assert after.report.init is not None, after.log
    assert_contained(daemon, lam, neighbour)


# A fork bomb bounded at 5000 children, each blocked reading a fifo the bomb holds open. When fork
# fails the bomb's subshell exits; its EXIT trap says how many it made and releases them (one
# newline each; builtins only, as no process can be forked), so the bootstrap can fork again.
BOMB_BODY = r"""
if [ "$(jget action)" = bomb ]; then
  mkfifo "$W/gate"
  lines=$(awk 'BEGIN { for (i = 0; i < 8192; i++) print "" }'; echo x)
  rc=0
  out=$( (
    exec 4<> "$W/gate"
    n=0
    trap 'echo "forked $n"; printf %s "$lines" >&4; wait' EXIT
    while [ "$n" -lt 5000 ]; do
      { read x <&4; } &
      n=$((n + 1))
    done
  ) 2>&1 ) || rc=$?
  printf '%s\n' "$out" | record bomb "$rc"
fi
"""


def test_fork_bomb_is_stopped_by_the_pids_limit(daemon, lam, functions, recorder, neighbour, sandbox_info):
    need_cgroup(sandbox_info, "pids")
    # 512 MB: at 128 MB the memory limit (a thousand processes' page tables and stacks, ~150 MB)
    # stops the bomb before the pids limit does.
    name = hostile(functions, recorder, BOMB_BODY, memory=512, timeout=3)
    _, _, rec = run(lam, name, recorder, {"action": "bomb"})
    bomb = rec["bomb"]
    m = re.search(r"forked (\d+)", bomb.text)
    assert m, bomb.text
    assert 100 <= int(m.group(1)) < 1024, f"the pids limit (1024) should stop the loop:\n{bomb.text}"
    assert bomb.code != 0 and re.search(r"fork|Resource temporarily unavailable", bomb.text, re.I), bomb.text
    run(lam, name, recorder)  # the function survives its fork bomb
    assert_contained(daemon, lam, neighbour)


FILL_BODY = r"""
if [ "$(jget action)" = fill ]; then
  rc=0
  out=$(dd if=/dev/zero of=/tmp/fill bs=1M count=600 2>&1) || rc=$?
  size=$(stat -c %s /tmp/fill)
  total=$(df -k /tmp | tail -n 1 | awk '{print $2}')
  rm -f /tmp/fill
  printf '%s\nsize=%s\ntotal=%s\n' "$out" "$size" "$total" | record fill "$rc"
fi
"""


def test_filling_tmp_is_enospc(daemon, lam, functions, recorder, neighbour, sandbox_info):
    # A 128 MB function fills its 512 MB /tmp: /tmp is disk (an ext4 image on a loop device),
    # apart from the memory limit, as on Lambda. Where that cannot be done /tmp is a tmpfs,
    # whose pages count against the memory cgroup: then 1024 MB, to check the size limit alone.
    need(sandbox_info, "mount namespace")
    disk = (mechanism_line(sandbox_info, "tmp on disk") or "").startswith("tmp on disk: on")
    name = hostile(functions, recorder, FILL_BODY, memory=128 if disk else 1024, timeout=20)
    cfg = lam.get_function_configuration(FunctionName=name)
    assert cfg.get("EphemeralStorage", {"Size": 512})["Size"] == 512, cfg
    _, _, rec = run(lam, name, recorder, {"action": "fill"})
    fill = rec["fill"]
    size = int(re.search(r"size=(\d+)", fill.text).group(1))
    assert fill.code != 137, f"dd was SIGKILLed (OOM) after writing {size >> 20} MB of /tmp:\n{fill.text}"
    assert fill.code != 0 and "No space left on device" in fill.text, fill.text
    total = int(re.search(r"total=(\d+)", fill.text).group(1))
    if disk:  # ext4 keeps a little for its own tables
        assert 480 * 1024 <= total <= 512 * 1024, f"/tmp should be about 512 MB: {fill.text}"
        assert 470 << 20 <= size <= 512 << 20, fill.text
    else:
        assert total == 512 * 1024, f"/tmp should be 512 MB: {fill.text}"
        assert 500 << 20 <= size <= 512 << 20, fill.text
    run(lam, name, recorder)  # the function keeps working
    assert_contained(daemon, lam, neighbour)


# ---------------------------------------------------------------------------------------------
# Every process of an instance dies with it

# orphan: leaves a grandchild in a session of its own (setsid), beyond the reach of a process-group
# kill, and answers. loop: the same, plus a child, then spins past the timeout. exit: the same,
# then the bootstrap exits (after 2 s, for the test to see the grandchild).
ORPHAN_BODY = r"""
case "$(jget action)" in
  orphan) (setsid sleep 1000 > /dev/null 2>&1 &) ;;
  loop) (setsid sleep 1000 > /dev/null 2>&1 &); sleep 1000 & while :; do :; done ;;
  exit) (setsid sleep 1000 > /dev/null 2>&1 &); sleep 2; exit 0 ;;
esac
"""


def sleepers(name):
    """Host pids of the function's `sleep 1000` processes."""
    out = []
    for pid in instance_processes(name):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmd[:2] == [b"sleep", b"1000"]:
            out.append(pid)
    return out


def test_timeout_kills_every_process_of_the_instance(daemon, lam, functions, recorder, neighbour, sandbox_info):
    need(sandbox_info)
    name = hostile(functions, recorder, ORPHAN_BODY, timeout=2)
    future = in_background(lam, name, {"action": "loop"})
    wait_until(lambda: len(sleepers(name)) == 2, timeout=10, message="the child and the grandchild to run")
    inv = future.result(timeout=30)
    assert inv.function_error == "Unhandled", inv.payload
    assert inv.json()["errorType"] == "Sandbox.Timedout", f"{inv.payload!r}\n{inv.log}"
    wait_until(lambda: not instance_processes(name), timeout=10, message="every process of the timed-out instance to go")
    assert_contained(daemon, lam, neighbour)


def test_orphaned_grandchild_dies_with_the_bootstrap(daemon, lam, functions, recorder, neighbour, sandbox_info):
    need(sandbox_info)
    name = hostile(functions, recorder, ORPHAN_BODY)
    future = in_background(lam, name, {"action": "exit"})
    wait_until(lambda: sleepers(name), timeout=10, message="the orphaned grandchild to run")
    inv = future.result(timeout=30)
    assert inv.function_error == "Unhandled" and inv.json()["errorType"] == "Runtime.ExitError", inv.payload
    wait_until(lambda: not instance_processes(name), timeout=10, message="the orphan to die with its instance")
    assert_contained(daemon, lam, neighbour)


def test_orphaned_grandchild_dies_when_the_daemon_stops(daemon_factory, lam_for, recorder, sandbox_info):
    need(sandbox_info)
    d = daemon_factory()
    lam = lam_for(d)
    name = hostile(Functions(lam), recorder, ORPHAN_BODY)
    run(lam, name, recorder, {"action": "orphan"})
    wait_until(lambda: sleepers(name), timeout=10, message="the orphaned grandchild to run")
    d.stop()  # SIGTERM; asserts a clean exit
    wait_until(lambda: not instance_processes(name), timeout=10, message="the instance's processes to die with the daemon")


def test_orphaned_grandchild_dies_when_the_daemon_is_killed(daemon_factory, lam_for, recorder, sandbox_info):
    need(sandbox_info)
    d = daemon_factory()
    lam = lam_for(d)
    name = hostile(Functions(lam), recorder, ORPHAN_BODY)
    run(lam, name, recorder, {"action": "orphan"})
    wait_until(lambda: sleepers(name), timeout=10, message="the orphaned grandchild to run")
    proc, d.proc = d.proc, None  # not a clean stop: SIGKILL, so only the kernel can clean up
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    wait_until(lambda: not instance_processes(name), timeout=10, message="the instance's processes to die with the killed daemon")


# ---------------------------------------------------------------------------------------------
# The warm pool: sandboxes prepared ahead of cold starts


def pooled_sandboxes(d):
    """Pids of the daemon's prepared sandboxes: its children that are still copies of it (same
    command line), waiting for a program."""
    own = Path(f"/proc/{d.proc.pid}/cmdline").read_bytes()
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == d.proc.pid and Path(f"/proc/{entry.name}/cmdline").read_bytes() == own:
                pids.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return pids


def pool_ready(d, tmp_path):
    return LambdaliteCli(d.endpoint, tmp_path).json("info", "--json")["sandbox"]["warmPoolReady"]


def test_warm_pool_is_filled_used_and_refilled(daemon_factory, lam_for, tmp_path, sandbox_info):
    need(sandbox_info)
    d = daemon_factory(extra_args=["--idle-timeout", "0"])
    lam = lam_for(d)
    fns = Functions(lam)
    assert pool_ready(d, tmp_path) == 0 and pooled_sandboxes(d) == []  # no function, no shape yet
    name = fns.echo()
    wait_until(lambda: pool_ready(d, tmp_path) == 2, timeout=10, message="2 sandboxes prepared for 128 MB")
    waiting = pooled_sandboxes(d)
    assert len(waiting) == 2, waiting
    for pid in waiting:
        # A prepared sandbox keeps nothing of the daemon's open: stdin/out/err, its line to the
        # daemon and /dev/null (a copied client connection or listener would outlive its close).
        fds = os.listdir(f"/proc/{pid}/fd")
        assert len(fds) <= 5, {fd: os.readlink(f"/proc/{pid}/fd/{fd}") for fd in fds}
    # Cold starts (--idle-timeout 0: every invoke) take a prepared sandbox, which is replaced.
    for i in range(3):
        assert invoke(lam, name, {"n": i}).json() == {"n": i}
    wait_until(lambda: pool_ready(d, tmp_path) == 2, timeout=10, message="the pool refilled")
    assert set(pooled_sandboxes(d)).isdisjoint(waiting), "the first prepared sandboxes were used"
    # Another memory size is another shape, prepared as soon as a function has it.
    fns.echo(memory=256)
    wait_until(lambda: pool_ready(d, tmp_path) == 4, timeout=10, message="2 more for 256 MB")


def test_warm_pool_sandbox_killed_while_waiting(daemon_factory, lam_for, tmp_path, sandbox_info):
    # A prepared sandbox that died (killed from outside) is not handed an invocation: the cold
    # start makes a sandbox the slow way, and the daemon stays up.
    need(sandbox_info)
    d = daemon_factory(extra_args=["--idle-timeout", "0"])
    lam = lam_for(d)
    name = Functions(lam).echo()
    wait_until(lambda: len(pooled_sandboxes(d)) == 2, timeout=10, message="2 prepared sandboxes")
    for pid in pooled_sandboxes(d):
        os.kill(pid, signal.SIGKILL)
    assert invoke(lam, name, {"after": "kill"}).json() == {"after": "kill"}
    assert invoke(lam, name, {"again": 1}).json() == {"again": 1}
    wait_until(lambda: pool_ready(d, tmp_path) >= 1, timeout=10, message="the pool refilled")


def test_warm_pool_off(daemon_factory, lam_for, tmp_path, sandbox_info):
    need(sandbox_info)
    d = daemon_factory(extra_args=["--warm-pool", "0", "--idle-timeout", "0"])
    lam = lam_for(d)
    name = Functions(lam).echo()
    assert invoke(lam, name, {"cold": 1}).json() == {"cold": 1}
    assert pool_ready(d, tmp_path) == 0 and pooled_sandboxes(d) == []

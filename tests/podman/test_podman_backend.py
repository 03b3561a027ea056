"""The podman backend's own behaviour, one container shared per module where the cases allow:
exit statuses as the Linux backend gives them (code, 124, 128+N), streaming, stdin, a script on
descriptor 3, cancel, nothing left running after a command, a new container when the protected
set or a protected file's identity changes, the proxy bridge, and `podman exec` mode."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import Sandbox, SandboxError, SandboxPolicy
from sandbox.podman.backend import PodmanBackend
from sandbox.policy import default_readable

pytestmark = pytest.mark.usefixtures("podman_ok")


@pytest.fixture(scope="module")
def shared(podman_ok: None) -> Iterator[tuple[Sandbox, Path]]:
    import shutil
    import tempfile

    ws = Path(tempfile.mkdtemp(prefix="lockgate-podman-mod-", dir="/var/tmp"))
    sb = Sandbox(SandboxPolicy(workspace=ws, backend="podman", max_processes=64))
    yield sb, ws
    sb.close()
    shutil.rmtree(ws, ignore_errors=True)


def _tmp_listing() -> bytes:
    """What an empty /tmp lists: nothing, but the mount points of readable roots under /tmp
    (the console's own interpreter when the checkout lives there)."""
    names = sorted(
        {p.relative_to("/tmp").parts[0] for p in default_readable() if p.is_relative_to("/tmp")}
    )
    return "".join(f"{n}\n" for n in names).encode()


def _backend(sb: Sandbox) -> PodmanBackend:
    impl = sb._impl
    assert isinstance(impl, PodmanBackend)
    return impl


def test_statuses_streams_and_stdin(shared: tuple[Sandbox, Path]) -> None:
    sb, ws = shared
    r = sb.run(["sh", "-c", "echo out; echo err >&2; exit 3"], timeout=30)
    assert (r.exit_code, r.stdout, r.stderr, r.shell_status) == (3, b"out\n", b"err\n", 3)
    assert sb.status().platform == "podman"
    r = sb.run(["sh", "-c", "kill -TERM $$"], timeout=30)
    assert (r.signal, r.shell_status) == (15, 143)
    r = sb.run(["cat"], stdin=b"piped in", timeout=30)
    assert r.stdout == b"piped in"
    sb.run(["sh", "-c", "echo x > /tmp/left; mkdir /tmp/d; ln -s / /tmp/d/root"], timeout=30)
    r = sb.run(["ls", "-A", "/tmp"], timeout=30)
    assert r.stdout == _tmp_listing()  # every command starts with an empty /tmp
    r = sb.run(["sh", "-c", "pwd; id -u; echo $LOCKGATE_SANDBOX"], cwd=ws, timeout=30)
    assert r.stdout.decode().split() == [str(ws), str(os.getuid()), "1"]
    r = sb.run(["no-such-program-here"], timeout=30)
    assert r.exit_code == 127 and b"cannot run" in r.stderr
    seen: list[tuple[str, bytes]] = []
    r = sb.run(
        ["sh", "-c", "head -c 200000 /dev/zero; echo tail"],
        max_output=1000,
        on_output=lambda name, chunk: seen.append((name, chunk)),
        timeout=30,
    )
    assert r.stdout_total == 200005 and r.truncated and r.stdout.endswith(b"tail\n")
    assert sum(len(c) for n, c in seen if n == "stdout") == 200005


def test_script_on_descriptor_3(shared: tuple[Sandbox, Path]) -> None:
    sb, _ = shared
    body = "echo from-script\n" + "# pad\n" * 40000  # ~240 KB: past one argument's limit
    r = sb.run(["bash", "/dev/fd/3"], script=body, timeout=30)
    assert r.exit_code == 0 and r.stdout == b"from-script\n", r.stderr


def test_timeout_and_cancel_kill_everything(shared: tuple[Sandbox, Path]) -> None:
    sb, _ = shared
    r = sb.run(["sh", "-c", "setsid sleep 1000.5 & sleep 1000.25"], timeout=1)
    assert r.timed_out and r.shell_status == 124 and r.duration_s < 10
    left = sb.run(["sh", "-c", "ps -eo args | grep -c '[1]000\\.'"], timeout=30)
    assert left.stdout.strip() == b"0"
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    r = sb.run(["sleep", "1000"], cancel=cancel, timeout=60)
    assert r.cancelled and not r.timed_out and r.duration_s < 10
    # what a command leaves running is killed when it ends (the escape suite's
    # persistence-after-exit case checks the files it would have written)
    sb.run(["sh", "-c", "sleep 1000.375 & echo started"], timeout=30)
    left = sb.run(["sh", "-c", "ps -eo args | grep -c '[1]000\\.375'"], timeout=30)
    assert left.stdout.strip() == b"0"


def test_protected_changes_start_a_new_container(shared: tuple[Sandbox, Path]) -> None:
    sb, ws = shared
    sb.run(["true"], timeout=30)
    backend = _backend(sb)
    before = backend.starts
    sb.run(["true"], timeout=30)
    assert backend.starts == before  # one container while nothing changes
    (ws / ".lockgate.toml").write_text("x = 1\n")  # a protected name appears on the host
    r = sb.run(["sh", "-c", "echo evil > .lockgate.toml; cat .lockgate.toml"], timeout=30)
    assert backend.starts == before + 1
    assert (ws / ".lockgate.toml").read_text() == "x = 1\n", r.stderr
    # a host rename over the protected file (an editor's save) detaches a bind: new container
    tmp = ws / ".lockgate.toml.new"
    tmp.write_text("y = 2\n")
    os.replace(tmp, ws / ".lockgate.toml")
    r = sb.run(["sh", "-c", "echo evil > .lockgate.toml; cat .lockgate.toml"], timeout=30)
    assert backend.starts == before + 2
    assert (ws / ".lockgate.toml").read_text() == "y = 2\n"
    assert r.stdout == b"y = 2\n"


def test_closing_removes_the_container(pworkspace: Path) -> None:
    import subprocess

    sb = Sandbox(SandboxPolicy(workspace=pworkspace, backend="podman"))
    sb.run(["true"], timeout=30)
    name = _backend(sb)._name
    sb.close()  # init has killed everything; the removal finishes in the background
    deadline = time.monotonic() + 30
    while True:
        ps = subprocess.run(
            ["podman", "ps", "-a", "--filter", f"name={name}", "--format", "{{.Names}}"],
            capture_output=True,
            text=True,
            check=True,
        )
        if name not in ps.stdout or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert name not in ps.stdout


def test_exec_mode(pworkspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCKGATE_PODMAN_MODE", "exec")
    with Sandbox(SandboxPolicy(workspace=pworkspace, backend="podman")) as sb:
        r = sb.run(["sh", "-c", "echo out; echo err >&2; exit 5"], timeout=30)
        assert _backend(sb).mode == "exec"
        assert (r.exit_code, r.stdout, r.stderr) == (5, b"out\n", b"err\n")
        r = sb.run(["cat"], stdin=b"in", timeout=30)
        assert r.stdout == b"in"
        sb.run(["sh", "-c", "echo x > /tmp/left"], timeout=30)
        assert sb.run(["ls", "-A", "/tmp"], timeout=30).stdout == _tmp_listing()
        r = sb.run(["bash", "/dev/fd/3"], script="echo via-fd3\n", timeout=30)
        assert r.stdout == b"via-fd3\n", r.stderr
        r = sb.run(["sh", "-c", "setsid sleep 1000.75 & sleep 1000.5"], timeout=1)
        assert r.timed_out and r.shell_status == 124
        left = sb.run(["sh", "-c", "ps -eo args | grep -c '[1]000\\.'"], timeout=30)
        assert left.stdout.strip() == b"0"


def test_proxy_mode_bridges_the_socket(pworkspace: Path) -> None:
    import tempfile

    from test_sandbox_bridge import CLIENT, UnixHttp

    d = Path(tempfile.mkdtemp(prefix="lg-pbridge-", dir="/tmp"))
    srv = UnixHttp(d / "proxy.sock")
    try:
        (pworkspace / "client.py").write_text(CLIENT)
        policy = SandboxPolicy(
            workspace=pworkspace, network="proxy", proxy_socket=srv.path, backend="podman"
        )
        with Sandbox(policy) as sb:
            r = sb.run([sys.executable, "-I", "client.py"], timeout=60)
            with pytest.raises(SandboxError, match="does not exist"):
                sb.run(["true"], proxy_socket=d / "absent.sock")
        out = r.stdout.decode()
        assert r.exit_code == 0, r.stderr.decode()
        assert "echo GET http://example.test/hello HTTP/1.1" in out
        assert "big 3000000" in out
        # binding a port of the container's own (empty) network namespace is allowed: nothing
        # outside can reach it (see docs/podman.md); the rest is blocked as with the Linux one
        for name in ("other_port", "udp", "ipv6", "raw", "public"):
            assert f"{name} BLOCKED" in out, out
    finally:
        srv.close()
        for p in d.iterdir():
            p.unlink()
        d.rmdir()


def test_hard_links_and_sockets_in_the_workspace(pworkspace: Path) -> None:
    import socket as sk
    import tempfile

    outside = Path(tempfile.mkdtemp(prefix="lockgate-podman-out-", dir="/var/tmp"))
    victim = outside / "store-file"
    victim.write_text("original\n")
    os.link(victim, pworkspace / "linked")
    srv = sk.socket(sk.AF_UNIX, sk.SOCK_STREAM)
    srv.bind(str(pworkspace / "dev.sock"))
    srv.listen(1)
    try:
        with Sandbox(SandboxPolicy(workspace=pworkspace, backend="podman")) as sb:
            r = sb.run(
                ["sh", "-c", "echo pwned >> linked; cat linked; "
                 "python3 -c \"import socket; s=socket.socket(socket.AF_UNIX); "
                 "s.connect('dev.sock'); print('CONNECTED')\""],
                timeout=30,
            )  # fmt: skip
        assert victim.read_text() == "original\n"
        assert b"CONNECTED" not in r.stdout, r.stdout
    finally:
        srv.close()
        import shutil

        shutil.rmtree(outside, ignore_errors=True)


def test_a_workspace_under_tmp_keeps_its_files(podman_ok: None) -> None:
    """The fresh /tmp after each command must not walk into the workspace's bind (it once
    deleted the host's files of a workspace under /tmp after every command)."""
    import shutil
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="lockgate-podman-tmpws-", dir="/tmp"))
    ws = base / "deep" / "ws"
    ws.mkdir(parents=True)
    (ws / "keep.txt").write_text("mine\n")
    try:
        with Sandbox(SandboxPolicy(workspace=ws, backend="podman")) as sb:
            r = sb.run(["sh", "-c", "echo new > made.txt; echo x > /tmp/left"], cwd=ws, timeout=30)
            assert r.exit_code == 0, r.stderr
            r = sb.run(["sh", "-c", "ls"], cwd=ws, timeout=30)
            assert r.stdout.split() == [b"keep.txt", b"made.txt"]
        assert (ws / "keep.txt").read_text() == "mine\n"
        assert (ws / "made.txt").read_text() == "new\n"
    finally:
        shutil.rmtree(base, ignore_errors=True)

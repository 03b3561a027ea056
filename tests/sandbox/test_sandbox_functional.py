"""What real work needs from the sandbox: shells and pipes, compilers, pytest, git commits, pip;
streaming, stdin, cancel, timeouts, concurrency, and the policy's refusals."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import (
    KernelSupport,
    PolicyError,
    Sandbox,
    SandboxError,
    SandboxPolicy,
    SandboxUnavailable,
)

pytestmark = pytest.mark.sandbox


@pytest.fixture
def sb(workspace: Path, support: KernelSupport) -> Iterator[Sandbox]:
    with Sandbox(SandboxPolicy(workspace=workspace), kernel=support) as box:
        yield box


def test_shell_pipes_and_exit_status(sb: Sandbox) -> None:
    r = sb.run(["sh", "-c", "echo hello world | tr a-z A-Z | tee out.txt; echo err >&2; exit 3"])
    assert r.exit_code == 3 and r.signal is None and not r.timed_out
    assert r.stdout == b"HELLO WORLD\n" and r.stderr == b"err\n"
    assert r.stdout_total == 12 and r.duration_s > 0
    assert (sb.policy.workspace / "out.txt").read_text() == "HELLO WORLD\n"


def test_stdin_streaming_and_env(sb: Sandbox) -> None:
    chunks: list[tuple[str, bytes]] = []
    r = sb.run(
        ["sh", "-c", 'cat; echo "$GREETING"; echo "tmp=$TMPDIR"'],
        stdin=b"from stdin\n",
        env={"GREETING": "hi"},
        on_output=lambda name, chunk: chunks.append((name, chunk)),
    )
    assert r.stdout == b"from stdin\nhi\ntmp=/tmp\n"
    assert b"".join(c for n, c in chunks if n == "stdout") == r.stdout


def test_no_stdin_means_dev_null(sb: Sandbox) -> None:
    r = sb.run(["sh", "-c", "cat; echo end"], timeout=10)
    assert r.stdout == b"end\n"


def test_signal_and_missing_program(sb: Sandbox) -> None:
    r = sb.run(["sh", "-c", "kill -TERM $$"])
    assert r.exit_code is None and r.signal == 15 and r.shell_status == 143
    missing = sb.run(["no-such-program-here"])
    assert missing.exit_code == 127 and b"not found" in missing.stderr


def test_timeout_and_cancel_kill_everything(sb: Sandbox) -> None:
    start = time.monotonic()
    r = sb.run(["sh", "-c", "sleep 30"], timeout=0.5)
    assert r.timed_out and r.shell_status == 124 and time.monotonic() - start < 5
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    r = sb.run(["sh", "-c", "setsid sleep 30 & sleep 30"], cancel=cancel, timeout=20)
    assert r.cancelled and not r.timed_out


def test_concurrent_runs_from_threads(sb: Sandbox) -> None:
    results: dict[int, bytes] = {}

    def one(i: int) -> None:
        results[i] = sb.run(["sh", "-c", f"sleep 0.2; echo {i}"]).stdout

    threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: f"{i}\n".encode() for i in range(6)}


def test_cwd_is_only_a_cwd(sb: Sandbox, workspace: Path) -> None:
    (workspace / "sub").mkdir()
    assert sb.run(["pwd"], cwd=Path("sub")).stdout.decode().strip() == str(workspace / "sub")
    with pytest.raises(PolicyError):
        sb.run(["pwd"], cwd=Path("/etc"))
    with pytest.raises(PolicyError):
        sb.run(["pwd"], cwd=Path("../"))


def test_workspace_refusals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home" / "me"
    home.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    for bad in (Path("/"), home, home.parent):
        with pytest.raises(PolicyError):
            Sandbox(SandboxPolicy(workspace=bad))
    project = home / "project"
    project.mkdir()
    Sandbox(SandboxPolicy(workspace=project))  # a project under home is fine
    with pytest.raises(PolicyError):
        Sandbox(SandboxPolicy(workspace=project, writable=(home,)))


def test_fail_closed_without_layers(workspace: Path, support: KernelSupport) -> None:
    from dataclasses import replace

    weak = replace(support, landlock_abi=5)
    with pytest.raises(SandboxUnavailable, match=r"landlock.*--allow-degraded"):
        Sandbox(SandboxPolicy(workspace=workspace), kernel=weak).start()
    no_userns = replace(support, user="Operation not permitted")
    with pytest.raises(SandboxUnavailable, match="user namespace"):
        Sandbox(SandboxPolicy(workspace=workspace, allow_degraded=True), kernel=no_userns).start()
    # degraded on request: it runs, and says so loudly
    no_seccomp = replace(support, seccomp="Invalid argument")
    with Sandbox(SandboxPolicy(workspace=workspace, allow_degraded=True), kernel=no_seccomp) as sb:
        status = sb.status()
        assert status.degraded == ("seccomp",) and "DEGRADED" in status.summary()
        r = sb.run(["sh", "-c", "grep Seccomp: /proc/self/status"])
        assert r.stdout.split() == [b"Seccomp:", b"0"]


def test_status_lists_layers(sb: Sandbox) -> None:
    status = sb.status()
    assert status.ok and status.network == "off"
    names = {layer.name for layer in status.layers if layer.ok}
    assert {"user namespace", "landlock", "seccomp"} <= names
    assert status.process_cap in ("pids-cgroup", "rlimit-userns", "supervisor")


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler on this machine")
def test_c_compiler(sb: Sandbox, workspace: Path) -> None:
    (workspace / "hello.c").write_text('#include <stdio.h>\nint main(){puts("built");return 0;}\n')
    r = sb.run(["sh", "-c", "cc -O1 -o hello hello.c && ./hello"], timeout=60)
    assert r.exit_code == 0, r.stderr
    assert r.stdout == b"built\n"


def test_pytest_on_a_tiny_project(sb: Sandbox, workspace: Path) -> None:
    (workspace / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (workspace / "test_calc.py").write_text(
        "from calc import add\n\ndef test_add():\n    assert add(2, 3) == 5\n"
    )
    r = sb.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_calc.py"],
        timeout=120,
    )
    assert r.exit_code == 0, (r.stdout, r.stderr)
    assert b"1 passed" in r.stdout


def test_pip_version(sb: Sandbox) -> None:
    r = sb.run([sys.executable, "-m", "pip", "--version"], timeout=60)
    assert r.exit_code == 0 and r.stdout.startswith(b"pip "), r.stderr


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_init_add_commit_inside(sb: Sandbox, workspace: Path) -> None:
    script = (
        "git init -q && echo one > a.txt && git add a.txt && "
        "git -c user.email=t@example.com -c user.name=t commit -q -m first && "
        "echo two >> a.txt && git commit -qam second && git log --oneline | wc -l"
    )
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    r = sb.run(["sh", "-c", script], env=env, timeout=60)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.strip() == b"2"
    # a second command sees an existing repository: commits still work, hooks/config are bound
    r2 = sb.run(
        ["sh", "-c", "echo three >> a.txt && git commit -qam third && git log --oneline | wc -l"],
        env=env,
    )
    assert r2.exit_code == 0 and r2.stdout.strip() == b"3", r2.stderr
    log = subprocess.run(["git", "log", "--oneline"], cwd=workspace, capture_output=True)
    assert len(log.stdout.splitlines()) == 3


def test_private_tmp_is_fresh_per_command(sb: Sandbox) -> None:
    first = sb.run(["sh", "-c", "echo left > /tmp/marker; ls /tmp"])
    second = sb.run(["sh", "-c", "ls -A /tmp; test -e /tmp/marker && echo LEAK || echo clean"])
    assert b"marker" in first.stdout
    assert second.stdout.strip().endswith(b"clean")


def test_workspace_replaced_between_commands(support: KernelSupport, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    with Sandbox(SandboxPolicy(workspace=ws), kernel=support) as sb:
        assert sb.run(["sh", "-c", "echo a > f"]).exit_code == 0
        shutil.rmtree(ws)
        ws.mkdir()
        r = sb.run(["sh", "-c", "echo b > g; ls"])
        assert r.exit_code == 0 and r.stdout == b"g\n"
        assert (ws / "g").read_text() == "b\n"


def test_closed_sandbox_refuses(support: KernelSupport, workspace: Path) -> None:
    sb = Sandbox(SandboxPolicy(workspace=workspace), kernel=support)
    sb.start()
    sb.close()
    assert sb.run(["true"]).exit_code == 0  # run() starts it again on demand
    sb.close()
    with pytest.raises(SandboxError):
        sb.run([])


def test_the_zygote_has_no_secrets(support: KernelSupport, workspace: Path) -> None:
    os.environ["OPENAI_API_KEY"] = "sk-zygote-leak"
    try:
        with Sandbox(SandboxPolicy(workspace=workspace), kernel=support) as sb:
            backend = sb._impl
            proc = getattr(getattr(backend, "zygote", None), "_proc", None)
            assert proc is not None
            with open(f"/proc/{proc.pid}/environ", "rb") as f:
                assert b"sk-zygote-leak" not in f.read()
    finally:
        del os.environ["OPENAI_API_KEY"]


def test_supervisor_process_cap(workspace: Path, support: KernelSupport) -> None:
    """Root without a writable pids cgroup: the supervisor counts the namespace's /proc and
    kills it past the cap (RLIMIT_NPROC does nothing for host root)."""
    from dataclasses import replace

    kernel = replace(support, process_cap="supervisor")
    script = (
        "import os, time\n"
        "for _ in range(300):\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(60); os._exit(0)\n"
        "time.sleep(60)\n"
    )
    policy = SandboxPolicy(workspace=workspace, max_processes=30)
    with Sandbox(policy, kernel=kernel) as sb:
        assert sb.status().process_cap == "supervisor"
        start = time.monotonic()
        r = sb.run([sys.executable, "-I", "-c", script], timeout=30)
    assert time.monotonic() - start < 10
    assert r.signal == 9 and not r.timed_out
    assert b"process limit (30) reached" in r.stderr


def test_readable_tree_under_tmp_is_visible_but_read_only(
    workspace: Path, support: KernelSupport, tmp_path: Path
) -> None:
    """A tree the session declares readable (the console's venv in /tmp, say) shows through the
    private /tmp view read-only; the rest of the host's /tmp stays hidden."""
    tools = Path("/tmp") / f"lockgate-ro-{os.getpid()}-{time.monotonic_ns()}"
    hidden = Path("/tmp") / f"lockgate-hidden-{os.getpid()}-{time.monotonic_ns()}"
    tools.mkdir()
    hidden.mkdir()
    try:
        (tools / "tool.txt").write_text("v1\n")
        (hidden / "secret.txt").write_text("s\n")
        policy = SandboxPolicy(workspace=workspace, readable=(tools,))
        with Sandbox(policy, kernel=support) as box:
            r = box.run(["sh", "-c", f"cat {tools}/tool.txt"])
            assert r.exit_code == 0 and r.stdout == b"v1\n"
            r = box.run(["sh", "-c", f"echo x > {tools}/tool.txt; touch {tools}/new"])
            assert r.exit_code != 0
            r = box.run(["sh", "-c", f"cat {hidden}/secret.txt"])
            assert r.exit_code != 0
        assert (tools / "tool.txt").read_text() == "v1\n"
        assert sorted(p.name for p in tools.iterdir()) == ["tool.txt"]
    finally:
        shutil.rmtree(tools)
        shutil.rmtree(hidden)

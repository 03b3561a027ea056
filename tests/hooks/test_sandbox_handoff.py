"""`lockgate sandbox run` handed to a running `lockgate serve` (app/hooks/sandbox_handoff.py,
app/hooks/sandbox_serve.py): a real serve and the real CLI. The hand-off must give what the
cold path gives (output, status, stdin, bytes), run a command exactly once, stop it when the
client dies, and be out of reach of a sandboxed command."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hookkit import LOCKGATE, Serve, serve

from app.hooks.endpoint import load_endpoint
from app.hooks.sandbox_handoff import request_line

pytestmark = pytest.mark.sandbox

HANDED = b"lockgate: sandbox hand-off: run by the console"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    ws = tmp_path_factory.mktemp("handoff") / "ws"
    ws.mkdir()
    home = tmp_path_factory.mktemp("handoff-home")
    with serve(ws, home=home) as s:
        yield s


def run(
    s: Serve,
    *args: str,
    handoff: bool = True,
    stdin: bytes = b"",
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    e = dict(env or s.env)
    e["LOCKGATE_HANDOFF_DEBUG"] = "1"
    if not handoff:
        e["LOCKGATE_NO_HANDOFF"] = "1"
    return subprocess.run(
        [LOCKGATE, "sandbox", "run", "--workspace", str(s.workspace), *args],
        input=stdin,
        capture_output=True,
        env=e,
        timeout=30,
        check=False,
    )


def same_as_cold(s: Serve, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    hot = run(s, *args, stdin=stdin)
    cold = run(s, *args, stdin=stdin, handoff=False)
    assert HANDED in hot.stderr, hot.stderr
    assert HANDED not in cold.stderr
    assert hot.returncode == cold.returncode
    assert hot.stdout == cold.stdout
    assert hot.stderr.replace(HANDED + b" of " + str(s.workspace).encode() + b"\n", b"") == (
        cold.stderr
    )
    return hot


def test_output_status_and_stdin_as_the_cold_path(served: Serve) -> None:
    hot = same_as_cold(served, "--", "bash", "-c", "echo out; echo err >&2; exit 7")
    assert hot.returncode == 7 and hot.stdout == b"out\n"
    binary = bytes(range(256)) + b"\xff\xfe\x1b]52;c;eA==\x07 not utf-8: \xc3\x28"
    hot = same_as_cold(served, "--stdin", "--", "cat", stdin=binary)
    assert hot.stdout == binary  # not a terminal: every byte as it was
    big = same_as_cold(served, "--max-output", "100", "--", "bash", "-c", "seq 1 200; seq 1 90 >&2")
    assert b"output cut" in big.stderr and big.stdout.endswith(b"200\n")


def test_timeout_and_signal_statuses(served: Serve) -> None:
    hot = same_as_cold(served, "--timeout", "0.3", "--", "sleep", "5")
    assert hot.returncode == 124 and b"timed out after 0.3s" in hot.stderr
    assert same_as_cold(served, "--", "bash", "-c", "kill -TERM $$").returncode == 128 + 15


def test_the_command_gets_the_clients_environment_through_the_allow_list(served: Serve) -> None:
    env = dict(served.env, TERM="client-term", HANDOFF_SECRET="sk-not-for-the-sandbox")
    hot = run(served, "--", "bash", "-c", 'echo "$TERM:$HANDOFF_SECRET:$PWD"', env=env)
    assert HANDED in hot.stderr
    assert hot.stdout == f"client-term::{served.workspace}\n".encode()


def test_a_client_whose_policy_environment_differs_is_declined_and_runs_once(
    served: Serve, tmp_path: Path
) -> None:
    count = served.workspace / "count-env"
    env = dict(served.env, XDG_STATE_HOME=str(tmp_path))
    done = run(served, "--", "bash", "-c", f"echo ran >> {count}", env=env)
    assert done.returncode == 0, done.stderr
    assert b"declined (the environment differs from the console's (XDG_STATE_HOME))" in (
        done.stderr
    )
    assert count.read_text() == "ran\n"


def test_options_the_fast_path_declines_and_another_workspace_run_cold(
    served: Serve, tmp_path: Path
) -> None:
    raw = run(served, "--raw", "--", "echo", "x")
    assert raw.returncode == 0 and raw.stdout == b"x\n" and HANDED not in raw.stderr
    other = tmp_path / "other"
    other.mkdir()
    done = subprocess.run(
        [LOCKGATE, "sandbox", "run", "--workspace", str(other), "--", "pwd"],
        capture_output=True,
        env=dict(served.env, LOCKGATE_HANDOFF_DEBUG="1"),
        timeout=30,
        check=False,
    )
    assert done.stdout == f"{other}\n".encode() and b"hand-off" not in done.stderr


def test_a_sandboxed_command_cannot_reach_the_console(served: Serve) -> None:
    names = sorted(os.listdir(served.rdir))
    sock = next(os.path.join(served.rdir, n) for n in names if n.endswith(".sock"))
    probe = (
        "import os, socket, sys\n"
        "print(os.path.exists(sys.argv[1]), os.path.exists(sys.argv[2]))\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "try:\n"
        "    s.connect(sys.argv[2]); print('connected')\n"
        "except OSError as e:\n"
        "    print('refused', type(e).__name__)\n"
    )
    for handoff in (True, False):
        done = run(served, "--", "python3", "-c", probe, served.rdir, sock, handoff=handoff)
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[0] == b"False False"
        assert done.stdout.splitlines()[1].startswith(b"refused")


def test_a_killed_client_stops_the_command(served: Serve) -> None:
    started, finished = served.workspace / "started", served.workspace / "finished"
    env = dict(served.env, LOCKGATE_HANDOFF_DEBUG="1")
    proc = subprocess.Popen(
        [
            LOCKGATE,
            "sandbox",
            "run",
            "--workspace",
            str(served.workspace),
            "--",
            "bash",
            "-c",
            f"touch {started}; sleep 2; touch {finished}",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 10
    while not started.exists():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(2.8)
    assert not finished.exists()


def test_a_serve_that_dies_mid_run_is_reported_and_not_run_again(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (tmp_path / "home").mkdir()
    count = ws / "count"
    script = f"echo ran >> {count}; sleep 3"
    with serve(ws, home=tmp_path / "home") as s:
        proc = subprocess.Popen(
            [LOCKGATE, "sandbox", "run", "--workspace", str(ws), "--", "bash", "-c", script],
            env=s.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while not count.exists():
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.02)
        s.proc.kill()
        _out, err = proc.communicate(timeout=10)
    assert proc.returncode == 125, err
    assert b"lockgate: sandbox hand-off: the console ended the run before it finished" in err
    assert count.read_text() == "ran\n"


def test_runs_do_not_queue_behind_each_other(served: Serve) -> None:
    """Eight runs at once, seven waiting for the eighth: a shared pool of a few threads would
    never start the one they wait for."""
    go = served.workspace / "go"
    wait = f"while [ ! -e {go} ]; do sleep 0.02; done; echo done"
    env = dict(served.env, LOCKGATE_HANDOFF_DEBUG="1")
    argv = [LOCKGATE, "sandbox", "run", "--workspace", str(served.workspace), "--"]
    procs = [
        subprocess.Popen(
            [*argv, "bash", "-c", wait], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(7)
    ]
    time.sleep(0.3)
    last = run(served, "--", "touch", str(go))
    assert HANDED in last.stderr
    for proc in procs:
        out, err = proc.communicate(timeout=15)
        assert proc.returncode == 0 and out == b"done\n" and HANDED in err


def _ask(s: Serve, args: list[str], **change: object) -> bytes:
    """A hand-off request written by hand (a client that skips the CLI's own checks): the
    serve's first frame."""
    ep = load_endpoint(next(str(p) for p in Path(s.rdir).iterdir() if p.suffix == ".json"))
    body = json.loads(request_line(ep.token(), args, None, (False, False)))
    body["environ"] = dict(s.env)
    body.update(change)
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(ep.socket)
        sock.sendall(json.dumps(body).encode() + b"\n")
        return sock.recv(1 << 16)


def test_the_serve_declines_what_the_cli_would_not_run_there(served: Serve) -> None:
    marker = served.workspace / "must-not-exist"
    cmd = ["--", "touch", str(marker)]
    ws = ["--workspace", str(served.workspace)]
    cases: list[tuple[str, list[str], dict[str, object]]] = [  # why, args, fields changed
        ("not the workspace", ["--workspace", "/tmp", *cmd], {}),
        ("not the workspace", ["--workspace", ".", *cmd], {}),
        ("the fast path leaves", [*ws, "--network", "allow", *cmd], {}),
        ("the fast path leaves", [*ws, "--raw", *cmd], {}),
        ("the fast path leaves", [*ws, "--allow-degraded", *cmd], {}),
        ("wrong token", [*ws, *cmd], {"token": "x" * 43}),
        (
            "differs from the console's (HOME)",
            [*ws, *cmd],
            {"environ": dict(served.env, HOME="/tmp")},
        ),
        ("another uid", [*ws, *cmd], {"uid": os.getuid() + 1}),
        ("another Python", [*ws, *cmd], {"prefixes": ["/usr"] * 4}),
        ("stdin does not match", [*ws, *cmd], {"stdin": "aGk="}),
    ]
    for why, args, change in cases:
        first = _ask(served, args, **change)
        assert first[:1] == b"D" and why.encode() in first, (why, first)
    assert not marker.exists()
    assert _ask(served, [*ws, "--", "true"])[:1] == b"A"  # the same request, untouched: run


def test_a_declined_run_still_gets_its_stdin(served: Serve, tmp_path: Path) -> None:
    """The CLI read stdin to send it; declined, it hands the same bytes to the cold path."""
    env = dict(served.env, XDG_STATE_HOME=str(tmp_path))
    done = run(served, "--stdin", "--", "cat", stdin=b"to the cold path\x00\xff", env=env)
    assert b"declined" in done.stderr and done.returncode == 0
    assert done.stdout == b"to the cold path\x00\xff"

"""`lockgate acp --headless` against the scripted ACP agent, jailed (the default): every client
method, the hostile ones, the overlay review, and an agent that misbehaves."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from acpkit import ROOT, run_acp

pytestmark = pytest.mark.sandbox


def test_every_client_method_maps_to_a_reviewed_action(gitws: Path) -> None:
    ran = run_acp(gitws, "basic")
    r = ran.results
    assert ran.code == 0, ran.stderr
    assert r["mode"] == "full-access"  # a jailed agent trusts the jail
    assert r["caps"] == "True,True,True"
    assert r["cwd"] == str(gitws)
    assert json.loads(r["read"]) == "two\nthree\n"  # line/limit honoured
    assert (gitws / "src" / "new.py").read_text() == "print('hi')\n"  # through the patch engine
    assert r["write-done"] == "True"  # and in the agent's own view
    assert r["terminal-exit"] == "3"
    assert json.loads(r["terminal-out"]) == "out-42\nerr\n"
    assert r["terminal-truncated"] == "False"
    assert r["kill-exit"] == "None,SIGKILL"
    assert r["kill-out"] == "100,True"  # byte limit: the last 100 bytes, flagged
    assert r["permission"] == "yes"  # `ls -la` is safe: policy allows once
    assert r["permission-opaque"] == "no"  # a fetch lockgate cannot judge: never auto-allowed
    assert r["unknown"] == "-32601"  # method not found, as the spec says
    assert "the agent's turn ended: end_turn" in ran.stderr
    assert "thinking: pondering" in ran.stdout and "[x] read" in ran.stdout
    verify = subprocess.run([sys.executable, "-m", "app", "log", "verify", "--last"],
                            capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr  # the audit chain is intact


def test_hostile_agent_reaches_nothing_real_and_its_own_changes_are_reviewed(
    gitws: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "id_rsa"
    secret.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n")
    bashrc = Path.home() / ".bashrc"
    before = bashrc.read_bytes() if bashrc.exists() else None
    hooks = sorted(p.name for p in (gitws / ".git" / "hooks").iterdir())

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    hits: list[int] = []

    def serve() -> None:
        server.settimeout(30)
        try:
            conn, _ = server.accept()
            hits.append(1)
            conn.close()
        except OSError:
            pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    port = server.getsockname()[1]
    try:
        ran = run_acp(gitws, "hostile+direct", f"SECRET={secret}", f"BASHRC={bashrc}",
                      f"LOOPBACK_PORT={port}")  # fmt: skip
    finally:
        server.close()
    r = ran.results
    assert ran.code == 0, ran.stderr
    assert r["hook-write"].startswith("error")  # fs/write into .git/hooks: refused
    assert "ssh-read" in r and r["ssh-read"].startswith("error")  # no key handed over
    assert r["curl-sh"].startswith("error") and "critical" in r["curl-sh"]
    assert r["direct-hook"].startswith("refused")  # its own process: read-only in the jail
    assert r["loopback"].startswith("failed")  # no network of its own
    assert not hits
    assert sorted(p.name for p in (gitws / ".git" / "hooks").iterdir()) == hooks
    assert (bashrc.read_bytes() if bashrc.exists() else None) == before
    assert "-----BEGIN" not in ran.stdout
    # its direct write to a new file landed in the overlay and came back as a reviewed patch
    assert "overlay: applied src/agent_note.py" in ran.stderr
    assert (gitws / "src" / "agent_note.py").read_text() == "echo pwned\n"

    # the same turn went on ("direct"): overlay changes reviewed file by file, denied ones
    # rolled back in the agent's copy and the agent told
    assert not (gitws / ".github").exists()  # a CI step that pipes curl into sh: denied
    assert r["ci-now"] == "False"  # … and rolled back in the agent's view
    assert (gitws / "src" / "direct.py").read_text() == "x = 1\n"  # safe edits applied
    # deleting a file is asked about (medium): headless denies it, the agent's copy comes back
    assert (gitws / "notes.txt").read_text() == "one\ntwo\nthree\nfour\n"
    assert "rolled back notes.txt" in ran.stderr
    follow = json.loads(r["follow-up"])
    assert ".github/workflows/ci.yml" in follow and "undone" in follow  # the agent is told


def test_garbage_and_a_100_mb_line_are_one_line_each(gitws: Path) -> None:
    ran = run_acp(gitws, "garbage", "BIG_MB=100")
    assert ran.code == 0, ran.stderr
    assert ran.results["garbage"] == "sent"
    assert "malformed JSON-RPC" in ran.stderr
    assert "sent a 105 MB line (over 32 MB); dropped" in ran.stderr
    assert "Traceback" not in ran.stdout + ran.stderr


def test_a_crashing_agent_is_one_line_and_a_nonzero_exit(gitws: Path) -> None:
    ran = run_acp(gitws, "crash")
    assert ran.code == 1
    assert "simulated crash" in ran.stdout  # its last stderr line says why
    assert "Traceback" not in ran.stdout + ran.stderr
    verify = subprocess.run([sys.executable, "-m", "app", "log", "verify", "--last"],
                            capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr  # what was approved is kept


def test_flood_of_updates_and_a_turn_that_does_not_end_with_end_turn(gitws: Path) -> None:
    ran = run_acp(gitws, "flood", "CHUNKS=10000", "STOP=refusal")
    assert ran.results["flood"] == "10000"
    assert "c9999" in ran.stdout
    assert ran.code == 1  # headless: 0 only for end_turn
    assert "ended: refusal" in ran.stderr


def test_usage_mistakes_are_one_line(gitws: Path) -> None:
    ran = run_acp(gitws, "basic", options=("--agent-unjailed", "--agent-env", "X"))
    assert ran.code == 2 and ran.stderr.count("\n") == 1


async def test_an_agent_that_never_answers_is_one_line(gitws: Path) -> None:
    import io

    from app.cli.acp_cmd import open_acp
    from app.cli.run_cmd import run_headless

    run = open_acp(gitws, ["/bin/sleep", "600"], prompt="go", headless=True)
    run.link.init_timeout_s = 1.0
    try:
        async with run.session:
            code = await run_headless(run.session.pipeline, run.link, out=io.StringIO())
    finally:
        run.close()
    assert code == 1
    assert run.link.stop_reason is None

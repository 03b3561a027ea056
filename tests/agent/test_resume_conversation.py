"""Resume after a crash restores the agent's conversation (#18.5). A real session in a child
process talks to the loopback fake server, is killed with SIGKILL while an action waits, and is
resumed: the next request continues the old response (`previous_response_id`) and carries the
results of the recovered turn — including the action that waited — and when the server cannot
continue that response (404), the stored conversation is replayed in full."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fake_openai import FakeOpenAI, Status, chat_stream, error_body, responses_stream, shell_call

DRIVER = Path(__file__).with_name("resume_driver.py")
ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def crash_while_waiting(ws: Path, server: FakeOpenAI, api: str) -> str:
    """Run the driver until an action waits, then SIGKILL it; returns the waiting action's id."""
    proc = subprocess.Popen(
        [sys.executable, str(DRIVER), str(ws), server.base_url, api, "run"],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    try:
        while not (ws / "waiting").exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the driver never reached the waiting action"
            time.sleep(0.02)
        time.sleep(0.2)  # let the auto-approved command of the turn finish first
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    return (ws / "waiting").read_text()


def resume(ws: Path, server: FakeOpenAI, api: str) -> dict[str, Any]:
    r = subprocess.run(
        [sys.executable, str(DRIVER), str(ws), server.base_url, api, "resume"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    out: dict[str, Any] = json.loads(r.stdout.splitlines()[-1])
    assert out["resumable"], out
    return out


@pytest.mark.sandbox
@pytest.mark.timeout(240)
def test_responses_resume_continues_the_old_response_then_replays_on_404(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "build").mkdir()
    with FakeOpenAI() as server:
        call = shell_call("c1", "echo one", "rm -rf build")
        server.reply(responses_stream([call], response_id="resp_1", text="Cleaning."))
        waited = crash_while_waiting(ws, server, "responses")
        assert (ws / "build").is_dir()  # the asked command never ran before the kill
        server.reply(
            Status(404, error_body("Previous response with id 'resp_1' not found.", None)),
            responses_stream([], response_id="resp_2", text="All clean."),
        )
        out = resume(ws, server, "responses")
        first, continued, replayed = server.bodies()

    assert first["input"] == [{"role": "user", "content": "clean the build"}]
    assert out["before"][waited] == "waiting" and out["after"][waited] == "done"
    assert not (ws / "build").exists()  # approved after the resume, it ran once
    # The resumed link continues the old response instead of starting over ...
    assert continued["previous_response_id"] == "resp_1"
    (outputs,) = continued["input"]
    assert outputs["type"] == "shell_call_output" and outputs["call_id"] == "c1"
    echo, rm = outputs["output"]
    assert echo == {"stdout": "one\n", "stderr": "", "outcome": {"type": "exit", "exit_code": 0}}
    assert rm["outcome"] == {"type": "exit", "exit_code": 0}  # the recovered verdict reached it
    # ... and replays the stored conversation when the server no longer has that response.
    assert "previous_response_id" not in replayed and replayed["store"] is False
    user, said, called, answered = replayed["input"]
    assert user == {"role": "user", "content": "clean the build"}
    assert said["type"] == "message" and called["type"] == "shell_call"
    assert called["call_id"] == "c1" and called["action"]["commands"] == [
        "echo one",
        "rm -rf build",
    ]
    assert answered == outputs


@pytest.mark.sandbox
@pytest.mark.timeout(240)
def test_chat_resume_sends_the_stored_messages_and_the_recovered_results(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "build").mkdir()
    with FakeOpenAI() as server:
        args = json.dumps({"commands": ["echo one", "rm -rf build"]})
        server.reply(chat_stream(content="Cleaning.", tool_calls=[("t1", "shell", args)]))
        waited = crash_while_waiting(ws, server, "chat")
        server.reply(chat_stream(content="All clean."))
        out = resume(ws, server, "chat")
        _, continued = server.bodies()

    assert out["after"][waited] == "done" and not (ws / "build").exists()
    system, user, assistant, tool = continued["messages"]
    assert system["role"] == "system" and user == {"role": "user", "content": "clean the build"}
    assert assistant["role"] == "assistant" and assistant["tool_calls"][0]["id"] == "t1"
    assert tool["role"] == "tool" and tool["tool_call_id"] == "t1"
    assert "$ echo one\n[exit code 0]\n[stdout]\none" in tool["content"]
    assert "$ rm -rf build\n[exit code 0]" in tool["content"]

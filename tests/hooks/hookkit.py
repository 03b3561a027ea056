"""Helpers for the hook tests: the documented hook JSON of each agent, a real `lockgate serve`
process, and the real `lockgate hook AGENT` client run as the agent runs it (a subprocess
with the event on stdin)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOCKGATE = str(Path(sys.executable).with_name("lockgate"))


def runtime_dir() -> str:
    """Short (unix socket paths are limited to 108 bytes) and private."""
    return tempfile.mkdtemp(prefix="lg-run-", dir="/tmp")


def claude_event(
    tool_name: str, tool_input: dict[str, Any], cwd: Path, session: str = "sess-1111aaaa"
) -> dict[str, Any]:
    """Claude Code's PreToolUse input, field for field as 2.1.x sends it."""
    return {
        "session_id": session,
        "transcript_path": f"/tmp/{session}.jsonl",
        "cwd": str(cwd),
        "prompt_id": "p1",
        "permission_mode": "default",
        "effort": "medium",
        "hook_event_name": "PreToolUse",
        "tool_name": tool_name,
        "tool_input": tool_input,
        "tool_use_id": "toolu_01",
    }


def gemini_event(tool_name: str, tool_input: dict[str, Any], cwd: Path) -> dict[str, Any]:
    """Gemini CLI's BeforeTool input (docs/hooks/reference.md of @google/gemini-cli 0.61)."""
    return {
        "session_id": "gem-2222bbbb",
        "transcript_path": "/tmp/gem.json",
        "cwd": str(cwd),
        "hook_event_name": "BeforeTool",
        "timestamp": "2026-12-06T17:00:00Z",
        "tool_name": tool_name,
        "tool_input": tool_input,
    }


def codex_event(tool_name: str, tool_input: dict[str, Any], cwd: Path) -> dict[str, Any]:
    """Codex's PreToolUse input (codex-rs/hooks PreToolUseCommandInput, @openai/codex 0.171)."""
    return {
        "session_id": "019a-cdx-3333",
        "turn_id": "t1",
        "transcript_path": None,
        "cwd": str(cwd),
        "hook_event_name": "PreToolUse",
        "model": "gpt-5.4",
        "permission_mode": "default",
        "tool_name": tool_name,
        "tool_input": tool_input,
        "tool_use_id": "call_1",
    }


@dataclass
class HookRun:
    code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.stdout)
        return data

    @property
    def decision(self) -> str:
        return str(self.json["hookSpecificOutput"]["permissionDecision"])

    @property
    def reason(self) -> str:
        return str(self.json["hookSpecificOutput"].get("permissionDecisionReason", ""))

    @property
    def updated(self) -> dict[str, Any] | None:
        out: dict[str, Any] | None = self.json["hookSpecificOutput"].get("updatedInput")
        return out


def hook_env(rdir: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["LOCKGATE_RUNTIME_DIR"] = rdir
    env.update(extra)
    return env


def run_hook(
    agent: str, event: dict[str, Any] | str, env: dict[str, str], *args: str, timeout: float = 60
) -> HookRun:
    data = event if isinstance(event, str) else json.dumps(event)
    start = time.monotonic()
    done = subprocess.run(
        [LOCKGATE, "hook", agent, *args],
        input=data.encode(),
        capture_output=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    return HookRun(
        done.returncode,
        done.stdout.decode(),
        done.stderr.decode(),
        time.monotonic() - start,
    )


@dataclass
class Serve:
    proc: subprocess.Popen[bytes]
    rdir: str
    workspace: Path
    env: dict[str, str]

    def audit_records(self) -> list[dict[str, Any]]:
        data = Path(self.env["LOCKGATE_DATA_DIR"]) / "audit"
        logs = sorted(data.glob("*.jsonl"))
        assert logs, "no audit log"
        return [json.loads(line) for line in logs[-1].read_text().splitlines() if line.strip()]


@contextmanager
def serve(workspace: Path, *args: str, home: Path | None = None) -> Iterator[Serve]:
    """A real `lockgate serve --headless` on a private runtime dir, until the block ends.
    `home`: config and data dirs of its own (for fixtures wider than one test)."""
    rdir = runtime_dir()
    env = hook_env(rdir)
    if home is not None:
        env["LOCKGATE_CONFIG_DIR"] = str(home / "config")
        env["LOCKGATE_DATA_DIR"] = str(home / "data")
    proc = subprocess.Popen(
        [LOCKGATE, "serve", "--headless", "-w", str(workspace), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while not any(name.endswith(".json") for name in os.listdir(rdir)):
            if proc.poll() is not None:
                out = proc.stdout.read().decode() if proc.stdout else ""
                raise AssertionError(f"lockgate serve exited {proc.returncode}: {out}")
            if time.monotonic() > deadline:
                raise AssertionError("lockgate serve did not start")
            time.sleep(0.05)
        yield Serve(proc, rdir, workspace, env)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(rdir, ignore_errors=True)

"""SandboxCommandExecutor: the CommandExecutor port on the real sandbox."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.model import CommandAction, ResultStatus
from app.execute.commands import SandboxCommandExecutor
from sandbox import KernelSupport, Sandbox, SandboxPolicy

pytestmark = pytest.mark.sandbox


@pytest.fixture
def executor(workspace: Path, support: KernelSupport) -> Iterator[SandboxCommandExecutor]:
    with Sandbox(SandboxPolicy(workspace=workspace), kernel=support) as sb:
        yield SandboxCommandExecutor(sb, workspace)


async def test_completed_with_streamed_output(executor: SandboxCommandExecutor) -> None:
    seen: list[tuple[str, bytes]] = []
    action = CommandAction(command="echo one; echo two >&2; exit 4", turn_id="t1", call_id="c1")
    result = await executor.run(action, action.command, lambda s, d: seen.append((s, d)))
    assert result.status is ResultStatus.COMPLETED and result.exit_code == 4
    assert result.stdout == b"one\n" and result.stderr == b"two\n"
    assert result.ran == action.command and result.call_id == "c1"
    assert b"".join(d for s, d in seen if s == "stdout") == b"one\n"


async def test_timeout_and_bad_cwd(executor: SandboxCommandExecutor) -> None:
    slow = CommandAction(command="sleep 30", turn_id="t1", timeout_s=0.5)
    result = await executor.run(slow, slow.command, lambda s, d: None)
    assert result.status is ResultStatus.TIMED_OUT and "timed out" in result.message
    outside = CommandAction(command="pwd", turn_id="t1", cwd="../..")
    refused = await executor.run(outside, outside.command, lambda s, d: None)
    assert refused.status is ResultStatus.FAILED and "outside the workspace" in refused.message


async def test_cancel_kills_the_tree(executor: SandboxCommandExecutor, workspace: Path) -> None:
    marker = "sleep 999.321"
    action = CommandAction(command=f"setsid {marker} & {marker}", turn_id="t1")
    task = asyncio.ensure_future(executor.run(action, action.command, lambda s, d: None))
    await asyncio.sleep(0.5)
    task.cancel()
    start = time.monotonic()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - start < 5
    from sandbox_scenarios import _marker_processes

    assert _marker_processes(marker) == []


async def test_sandbox_refusal_is_a_failed_result(workspace: Path, support: KernelSupport) -> None:
    from dataclasses import replace

    sb = Sandbox(SandboxPolicy(workspace=workspace), kernel=replace(support, landlock_abi=3))
    action = CommandAction(command="true", turn_id="t1")
    result = await SandboxCommandExecutor(sb, workspace).run(action, "true", lambda s, d: None)
    assert result.status is ResultStatus.FAILED and "landlock" in result.message.lower()
    assert result.ran is None


async def test_a_command_longer_than_a_socket_message_runs(
    executor: SandboxCommandExecutor,
) -> None:
    """#11: a 300 KB command used to fail with "Message too long" (and one argument may hold
    only 128 KiB): it now reaches the shell whole, as a script on descriptor 3."""
    body = "x=" + "y" * 300_000 + "\n"
    command = f"echo start\n{body}echo ${{#x}}"
    action = CommandAction(command=command, turn_id="t1")
    result = await executor.run(action, command, lambda s, d: None)
    assert result.status is ResultStatus.COMPLETED and result.exit_code == 0, result.stderr
    assert result.stdout == b"start\n300000\n"

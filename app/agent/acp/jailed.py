"""The jailed agent process: `sandbox.linux.jail` plus the agent's own network proxy.

The agent's network goes through lockgate's allow-list proxy with only `--agent-allow-domain`
hosts allowed and no one to ask (anything else is refused, and every request is written to the
audit log). Its environment is the allow-list plus the names the user passed with
`--agent-env`; its HOME is a private directory holding copies of what `--agent-read` named.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app.agent.acp.process import STOP_GRACE_S, pipes_from_fds
from sandbox.linux.jail import Jail as _Jail
from sandbox.linux.jail import JailedProcess
from sandbox.policy import SandboxError


class JailedAgent:
    def __init__(self, jailed: JailedProcess, pipes: Any) -> None:
        self._jailed = jailed
        self.stdin: asyncio.StreamWriter = pipes.stdin
        self.stdout: asyncio.StreamReader = pipes.stdout
        self.stderr: asyncio.StreamReader = pipes.stderr
        self._stopped = False

    def exit_description(self) -> str:
        if not self._jailed.exited():
            return ""
        return "exited (its sandbox is gone)"

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        fd = self._jailed.pidfd
        if fd < 0:
            return

        def ready() -> None:
            if not fut.done():
                fut.set_result(None)

        loop.add_reader(fd, ready)
        try:
            await fut
        finally:
            loop.remove_reader(fd)

    def kill_now(self) -> None:
        self._jailed.kill()

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        with contextlib.suppress(Exception):
            self.stdin.close()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.wait(), STOP_GRACE_S)
        self._jailed.kill()
        # the pipes belong to the stream transports now; only the sandbox's sockets remain
        self._jailed.spare.close()


def agent_home(reads: Sequence[Path], real_home: Path) -> tuple[Path, tuple[Path, ...]]:
    """A private HOME for the agent, and the --agent-read paths it sees where they are.

    Paths under the real home (hidden in the jail, and the agent's HOME is another directory)
    are copied into the private home at the same relative place: ~/.codex/auth.json becomes
    $HOME/.codex/auth.json. Paths elsewhere stay where they are and are made readable there
    (read-only), so a variable naming one (NODE_EXTRA_CA_CERTS=/etc/…/ca.pem) still holds."""
    home = Path(tempfile.mkdtemp(prefix="lockgate-agent-home-"))
    os.chmod(home, 0o700)
    readable: list[Path] = []
    try:
        for src in reads:
            src = src.expanduser().absolute()
            if not src.exists():
                raise SandboxError(f"--agent-read {src}: no such file or directory")
            try:
                rel = src.relative_to(real_home)
            except ValueError:
                readable.append(Path(os.path.realpath(src)))
                continue
            dest = home / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(src, dest, symlinks=True, dirs_exist_ok=True)
            else:
                shutil.copy2(src, dest)
    except BaseException:
        shutil.rmtree(home, ignore_errors=True)
        raise
    return home, tuple(readable)


async def spawn_jailed(
    jail: _Jail,
    argv: list[str],
    *,
    env: dict[str, str],
    proxy_socket: Path | None,
) -> JailedAgent:
    jailed = await asyncio.to_thread(jail.spawn, argv, env=env, proxy_socket=proxy_socket)
    try:
        pipes = await pipes_from_fds(jailed.stdin, jailed.stdout, jailed.stderr)
    except BaseException:
        jailed.close()
        raise
    return JailedAgent(jailed, pipes)

"""Running one command under /usr/bin/sandbox-exec with the generated profile (macOS only).

macOS has no pid namespace: the command runs in its own session and process group, and a
timeout or cancel kills the group. A descendant that calls setsid escapes the group kill (the
Linux sandbox does not have this gap); Seatbelt still confines whatever it does.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from sandbox.macos.profile import build_profile
from sandbox.output import HeadTail
from sandbox.policy import Completed, SandboxError, SandboxPolicy
from sandbox.workspace import Prepared

SANDBOX_EXEC = "/usr/bin/sandbox-exec"


class SeatbeltBackend:
    def __init__(self, policy: SandboxPolicy) -> None:
        self.policy = policy

    def close(self) -> None:
        """Nothing is kept between commands."""

    def prewarm(self, prepared: Prepared) -> None:
        """Nothing to make ahead of time: sandbox-exec applies the profile at exec."""

    def run(
        self,
        argv: list[str],
        *,
        cwd: str,
        env: dict[str, str],
        timeout: float | None,
        stdin: bytes | None,
        max_output: int,
        on_output: Callable[[str, bytes], None] | None,
        cancel: threading.Event | None,
        proxy_socket: Path | None,
        prepared: Prepared,
    ) -> Completed:
        if not os.path.exists(SANDBOX_EXEC):
            raise SandboxError(f"sandbox unavailable: {SANDBOX_EXEC} is missing")
        tmp = Path(tempfile.mkdtemp(prefix="lockgate-tmp-"))
        try:
            profile = build_profile(self.policy, tmp)
            env = {**env, "TMPDIR": str(tmp), "TMP": str(tmp), "TEMP": str(tmp)}
            try:
                proc = subprocess.Popen(
                    profile.argv(argv),
                    cwd=cwd,
                    env=env,
                    stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    start_new_session=True,
                    close_fds=True,
                )
            except OSError as exc:
                raise SandboxError(f"sandbox setup failed: {exc}") from exc
            return _supervise(proc, stdin, timeout, max_output, on_output, cancel)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def _supervise(
    proc: subprocess.Popen[bytes],
    stdin: bytes | None,
    timeout: float | None,
    max_output: int,
    on_output: Callable[[str, bytes], None] | None,
    cancel: threading.Event | None,
) -> Completed:
    caps = {"stdout": HeadTail(max_output), "stderr": HeadTail(max_output)}

    def pump(name: str, stream: IO[bytes]) -> None:
        while chunk := stream.read1(65536):  # type: ignore[attr-defined]
            caps[name].add(chunk)
            if on_output is not None:
                on_output(name, chunk)

    assert proc.stdout is not None and proc.stderr is not None
    readers = [
        threading.Thread(target=pump, args=("stdout", proc.stdout), daemon=True),
        threading.Thread(target=pump, args=("stderr", proc.stderr), daemon=True),
    ]
    for t in readers:
        t.start()
    if proc.stdin is not None:
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write(stdin or b"")
        proc.stdin.close()
    deadline = None if timeout is None else time.monotonic() + timeout
    timed_out = cancelled = False
    while proc.poll() is None:
        if cancel is not None and cancel.is_set():
            cancelled = True
        elif deadline is not None and time.monotonic() >= deadline:
            timed_out = True
        if timed_out or cancelled:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            break
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # leftovers of the group die with the command
    for t in readers:
        t.join(2)
    code = proc.returncode
    return Completed(
        exit_code=None if timed_out or cancelled or code < 0 else code,
        stdout=caps["stdout"].value(),
        stderr=caps["stderr"].value(),
        timed_out=timed_out,
        cancelled=cancelled,
        signal=-code if code < 0 and not (timed_out or cancelled) else None,
        stdout_total=caps["stdout"].total,
        stderr_total=caps["stderr"].total,
    )

"""The fast path of `lockgate sandbox run` (see `app.cli.FAST_PATHS`): what agents' hooks call
for every approved command, so its cold start is the agent's waiting time.

It reads exactly the options `sandbox_cmd.run` defines, with click's rules (`--opt value` and
`--opt=value`, the last of a repeated single option wins, options end at `--` or at the first
argument that is not one), and declines anything else: help, errors, `--allow-degraded`, any
network option but `--network off`, an option it does not know. Declined arguments go to click.
Both paths then run `sandbox_exec.execute` with the same `RunOptions`; this one forks the sandbox
in-process (the same setup code as the zygote's, see sandbox/linux/oneshot.py), which is only
possible because nothing here starts a thread. tests/oneshot checks both parse alike.
"""

from __future__ import annotations

import gc
import sys

from app.cli import exit_now

TYPE_CHECKING = False  # no `typing` at run time: it is ~3 ms of a one-shot command's start
if TYPE_CHECKING:
    from app.cli.sandbox_exec import RunOptions

# the options of `sandbox run` this path reads; tests/oneshot fails when the click command has
# one that is not in the two sets below (declined on purpose) or here
VALUE_OPTIONS = frozenset(
    {"--workspace", "--writable", "--readable", "--timeout", "--max-output", "--network"}
)
FLAG_OPTIONS = frozenset({"--stdin"})
# options of the click command this path leaves to click
DECLINED_OPTIONS = frozenset(
    {
        "--allow-degraded",  # a degraded sandbox is rare: the zygote path runs it
        "--raw",  # unescaped output to a terminal: rare, click reads it
        "--help",
        # the podman backend (a container start dwarfs any parsing): click reads them
        "--sandbox-backend",
        "--image",
        "--rootfs",
        "--podman-connection",
    }
)


class Reading:
    """`sandbox run ARGS` as strings, before anything is built from them: enough to hand the
    run to a serve (app/hooks/sandbox_handoff.py) without importing pathlib or the sandbox.
    (A plain class: `dataclasses` would cost this path ~20 ms.)"""

    __slots__ = ("argv", "max_output", "stdin", "timeout", "values")

    def __init__(
        self,
        values: dict[str, list[str]],
        stdin: bool,
        timeout: float | None,
        max_output: int,
        argv: list[str],
    ) -> None:
        self.values = values
        self.stdin = stdin
        self.timeout = timeout
        self.max_output = max_output
        self.argv = argv

    @property
    def workspace(self) -> str:
        return self.values["--workspace"][-1]


def read(args: list[str]) -> Reading | None:
    """The options click would read for `sandbox run ARGS`, or None to leave them to click."""
    values: dict[str, list[str]] = {}
    stdin = False
    argv: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            argv = args[i + 1 :]
            break
        if not arg.startswith("-") or arg == "-":
            argv = args[i:]
            break
        name, eq, value = arg.partition("=")
        if name in VALUE_OPTIONS:
            if not eq:
                if i + 1 >= len(args):
                    return None
                i += 1
                value = args[i]
            values.setdefault(name, []).append(value)
        elif name in FLAG_OPTIONS and not eq:
            stdin = True
        else:
            return None
        i += 1
    if not argv or "--workspace" not in values:
        return None
    if any(v == "" for vs in values.values() for v in vs):
        return None
    if values.get("--network", ["off"])[-1] != "off":
        return None
    try:
        timeout = float(values["--timeout"][-1]) if "--timeout" in values else None
        max_output = int(values["--max-output"][-1]) if "--max-output" in values else 1 << 20
    except ValueError:
        return None
    if max_output < 0:
        return None
    return Reading(values, stdin, timeout, max_output, argv)


def parse(args: list[str]) -> RunOptions | None:
    """The `RunOptions` click would build for `sandbox run ARGS`, or None to leave it to click."""
    reading = read(args)
    return None if reading is None else options(reading)


def options(reading: Reading) -> RunOptions:
    from pathlib import Path  # (not before the hand-off: ~5 ms of its start)

    from app.cli.sandbox_exec import RunOptions

    values = reading.values
    return RunOptions(
        workspace=Path(reading.workspace),
        writable=tuple(Path(v) for v in values.get("--writable", ())),
        readable=tuple(Path(v) for v in values.get("--readable", ())),
        timeout=reading.timeout,
        max_output=reading.max_output,
        use_stdin=reading.stdin,
        allow_degraded=False,
        argv=tuple(reading.argv),
    )


def run(args: list[str]) -> int | None:
    """`lockgate sandbox run ARGS`, or None when click should handle them. When it runs the
    command, the process ends here (`os._exit` after flushing): no interpreter teardown."""
    if not sys.platform.startswith("linux"):
        return None
    # A one-shot process: the collector's passes over the freshly imported modules cost ~4 ms,
    # and there is no garbage worth collecting before the process ends.
    gc.disable()
    reading = read(args)
    if reading is None:
        gc.enable()
        return None
    # A running `lockgate serve` of the workspace starts the sandbox from its warm zygote (same
    # policy and isolation, checked there); None: there is none, or it declined before running
    # anything, and this process runs the command itself.
    from app.hooks.sandbox_handoff import attempt

    handed = attempt(args, reading.workspace, reading.stdin, reading.timeout)
    if handed is not None:
        exit_now(handed)
    opts = options(reading)
    from app.cli.sandbox_exec import execute
    from sandbox.linux.oneshot import single_threaded

    # A second thread (none is ever started here) would make the in-process fork unsafe: the
    # zygote path then runs it, with the same isolation.
    status = execute(opts, in_process=single_threaded())
    # The sandbox is closed by now (`execute` returns after its `with Sandbox` block).
    exit_now(status)

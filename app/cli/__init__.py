"""The `lockgate` command. Subcommands live one module each and are imported only when used,
so `lockgate risk` never pays for Textual and `lockgate --help` stays fast.

Commands other programs call once per action (`lockgate sandbox run` from an agent's hook, the
hook itself) may also register a *fast path* in `FAST_PATHS` (`app/cli/registry.py`, beside the
table): a function that handles exactly the arguments it fully understands, without importing
click (~20 ms of a cold start), and declines everything else (help, errors, rare options), which
click then handles as always. This module itself imports nothing but `importlib` and `sys` at
run time (not even `typing`, ~6 ms with `re`): it is on every fast path.
"""

from __future__ import annotations

import importlib
import sys

from app.cli.registry import FAST_PATHS, SUBCOMMANDS

TYPE_CHECKING = False  # mypy reads `if TYPE_CHECKING:` blocks whatever the name is bound to
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn

    from app.cli.group import LazyGroup, UserError, cli


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    fast = _fast_path(args)
    if fast is not None:
        try:
            status = fast()
        except KeyboardInterrupt:
            sys.stderr.write("lockgate: interrupted\n")
            sys.exit(130)
        except BrokenPipeError:
            sys.exit(141)
        if status is not None:
            sys.exit(status)
    from app.cli.group import run

    run(argv)


def _fast_path(args: list[str]) -> Callable[[], int | None] | None:
    import os  # (loaded by Python's own start: free)

    if os.environ.get("LOCKGATE_NO_FAST_PATH") == "1":
        return None
    for prefix, target in FAST_PATHS.items():
        if tuple(args[: len(prefix)]) == prefix:
            module, _, name = target.partition(":")
            fn: Callable[[list[str]], int | None] = getattr(importlib.import_module(module), name)
            rest = args[len(prefix) :]
            return lambda: fn(rest)
    return None


def exit_now(status: int) -> NoReturn:
    """End a one-shot command at once: flush stdout and stderr, then `os._exit` (no interpreter
    teardown: ~8 ms of module and object finalisation). Only when nothing is left to clean up:
    every `with` block closed, no file left unflushed, no exit handler that matters."""
    import contextlib
    import os

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(status & 0xFF if status >= 0 else 1)


def __getattr__(name: str) -> Any:
    # `from app.cli import UserError` (every subcommand module) loads the click side on demand
    if name in ("LazyGroup", "UserError", "cli"):
        from app.cli import group

        return getattr(group, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["FAST_PATHS", "SUBCOMMANDS", "LazyGroup", "UserError", "cli", "exit_now", "main"]

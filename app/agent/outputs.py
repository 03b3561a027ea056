"""Result → what the model reads back.

The model must never be misled about what happened: a denial says so (with the reviewer's
feedback), an edited command says what actually ran, and cut output says how much was cut, in
bytes. Both links (and the scripted one, for symmetry) use these functions, so the wording the
system prompt promises is the wording the model gets.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.model import CommandAction, PatchAction, Result, ResultStatus

DEFAULT_MAX_BYTES = 16_000
"""Per stream, what the model gets of a command's output before head+tail cutting."""

DENIED_EXIT = 126  # "could not execute": the closest shell convention for "not permitted"
CANCELLED_EXIT = 130  # as if interrupted by Ctrl-C
FAILED_EXIT = 126

DENIED = "denied by the reviewer"


@dataclass(frozen=True)
class ShellOutput:
    """One command's output in the shape of the Responses API's shell_call_output entry."""

    stdout: str
    stderr: str
    exit_code: int  # meaningful unless timed_out
    timed_out: bool = False

    def as_responses(self) -> dict[str, object]:
        outcome: dict[str, object] = (
            {"type": "timeout"} if self.timed_out else {"type": "exit", "exit_code": self.exit_code}
        )
        return {"stdout": self.stdout, "stderr": self.stderr, "outcome": outcome}


def clip(data: bytes, total: int, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """Decode output, keeping the head and the tail when it is long, and saying what was cut.

    `total` is how many bytes the command really wrote (the sandbox may already have kept only a
    head and a tail of it); the note always states it.
    """
    total = max(total, len(data))
    if len(data) > max_bytes:
        half = max(max_bytes // 2, 1)
        head, tail = data[:half], data[-half:]
        return (
            _decode(head)
            + f"\n[… output cut: {total} bytes in all; showing the first {len(head)} and the "
            f"last {len(tail)} bytes …]\n" + _decode(tail)
        )
    text = _decode(data)
    if total > len(data):
        text += (
            f"\n[… output cut by the sandbox: {total} bytes in all; {len(data)} bytes shown "
            "(its head and tail) …]"
        )
    return text


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _denial_text(result: Result, what: str) -> str:
    """'lockgate: denied by the reviewer…' (or '…by policy…'), that it did not run, the feedback."""
    message = " ".join(result.message.split())
    if message.lower().startswith("denied"):
        head = f"lockgate: {message}"
    else:
        head = f"lockgate: {DENIED}" + (f": {message}" if message else "")
    lines = [head, f"This {what} did not run."]
    feedback = result.feedback.strip()
    if feedback and feedback not in message:
        lines.append(f"Reviewer's feedback: {feedback}")
    return "\n".join(lines)


def shell_output(
    action: CommandAction, result: Result, *, max_chars: int | None = None
) -> ShellOutput:
    """A command's Result as the model should read it.

    `max_chars` is the model's own `max_output_length` for the combined output, if it gave one.
    """
    if result.status is ResultStatus.DENIED:
        return ShellOutput("", _denial_text(result, "command"), DENIED_EXIT)
    budget_out, budget_err = _budgets(result, max_chars)
    stdout = clip(result.stdout, result.stdout_total, budget_out)
    stderr = clip(result.stderr, result.stderr_total, budget_err)
    notes: list[str] = []
    if result.ran is not None and result.ran != action.command:
        notes.append(
            f"lockgate: the reviewer edited this command before it ran. What ran:\n  {result.ran}"
        )
    if result.status is ResultStatus.FAILED:
        notes.append(f"lockgate: the command could not run: {result.message or 'failed'}")
        code = result.exit_code if result.exit_code is not None else FAILED_EXIT
        return ShellOutput(stdout, _join(notes, stderr), code)
    if result.status is ResultStatus.CANCELLED:
        if result.ran is None:
            notes.append(f"lockgate: cancelled: {result.message or 'it never ran'}")
        else:
            notes.append("lockgate: the reviewer cancelled this command while it ran.")
        return ShellOutput(stdout, _join(notes, stderr), CANCELLED_EXIT)
    if result.status is ResultStatus.TIMED_OUT:
        notes.append(
            f"lockgate: the command timed out after {result.duration_s:.1f} s and was killed."
        )
        return ShellOutput(stdout, _join(notes, stderr), 124, timed_out=True)
    code = result.exit_code if result.exit_code is not None else 0
    return ShellOutput(stdout, _join(notes, stderr), code)


def _join(notes: list[str], stderr: str) -> str:
    if not notes:
        return stderr
    head = "\n".join(notes)
    return f"{head}\n{stderr}" if stderr else head


def _budgets(result: Result, max_chars: int | None) -> tuple[int, int]:
    if not max_chars or max_chars <= 0:
        return DEFAULT_MAX_BYTES, DEFAULT_MAX_BYTES
    # The model's limit covers stdout and stderr together: give stderr what it needs up to a
    # quarter, the rest to stdout.
    err = min(len(result.stderr), max(max_chars // 4, 1))
    return max(max_chars - err, 1), max(err, 1)


def command_text(action: CommandAction, result: Result, *, max_chars: int | None = None) -> str:
    """One command's result as plain text (Chat Completions `tool` messages, one per call)."""
    out = shell_output(action, result, max_chars=max_chars)
    if out.timed_out:
        head = f"$ {action.command}\n[timed out]"
    else:
        head = f"$ {action.command}\n[exit code {out.exit_code}]"
    parts = [head]
    if out.stdout:
        parts.append(f"[stdout]\n{out.stdout}")
    if out.stderr:
        parts.append(f"[stderr]\n{out.stderr}")
    return "\n".join(parts)


def patch_output(action: PatchAction, result: Result) -> tuple[bool, str]:
    """(applied?, text) for a patch's Result: `apply_patch_call_output` status and output."""
    if result.status is ResultStatus.DENIED:
        return False, _denial_text(result, "patch")
    if result.status is ResultStatus.COMPLETED:
        text = result.message or "Patch applied."
        if result.files_changed and not all(f in text for f in result.files_changed):
            text += f" Files changed: {', '.join(result.files_changed)}."
        return True, text
    if result.status is ResultStatus.CANCELLED:
        return False, "lockgate: the patch was cancelled before it was applied; nothing changed."
    return False, f"lockgate: the patch was not applied: {result.message or 'failed'}"


def patch_text(action: PatchAction, result: Result) -> str:
    """A patch's result as plain text (Chat Completions)."""
    ok, text = patch_output(action, result)
    return ("[applied]\n" if ok else "[not applied]\n") + text

"""What the model reads back: cutting, notes and wording."""

from __future__ import annotations

from pathlib import Path

from app.agent.errors import Backoff, redact, safe_url
from app.agent.outputs import clip, command_text, patch_output, shell_output
from app.agent.prompt import system_prompt
from app.core.model import CommandAction, PatchAction, Result, ResultStatus
from app.core.ports import SessionContext


def test_clip_keeps_head_and_tail_and_states_byte_counts() -> None:
    data = b"A" * 600 + b"B" * 600
    out = clip(data, len(data), 400)
    assert out.startswith("A" * 200) and out.endswith("B" * 200)
    assert "1200 bytes in all; showing the first 200 and the last 200 bytes" in out


def test_clip_reports_a_cut_made_by_the_sandbox() -> None:
    out = clip(b"headtail", 5_000_000, 1000)
    assert out.startswith("headtail")
    assert "5000000 bytes in all; 8 bytes shown" in out


def test_clip_never_breaks_on_split_utf8() -> None:
    data = "é".encode() * 100
    out = clip(data, len(data), 51)  # the cut falls inside a two-byte character
    assert "bytes in all" in out  # decoded with replacement, no exception


def test_short_output_is_untouched() -> None:
    assert clip(b"ok\n", 3) == "ok\n"


def test_max_output_length_splits_the_budget() -> None:
    action = CommandAction(command="yes", turn_id="t")
    big = b"x" * 10_000
    result = Result(
        action.id,
        ResultStatus.COMPLETED,
        exit_code=0,
        stdout=big,
        stdout_total=len(big),
        stderr=b"e" * 50,
        stderr_total=50,
        ran="yes",
    )
    out = shell_output(action, result, max_chars=1000)
    assert len(out.stdout) < 1200 and "10000 bytes in all" in out.stdout
    assert out.stderr == "e" * 50


def test_failed_and_cancelled_commands_say_why() -> None:
    action = CommandAction(command="make", turn_id="t")
    failed = shell_output(
        action,
        Result(action.id, ResultStatus.FAILED, message="sandbox refused: no user namespaces"),
    )
    assert failed.exit_code == 126 and "could not run: sandbox refused" in failed.stderr
    never = shell_output(
        action,
        Result(
            action.id, ResultStatus.CANCELLED, message="cancelled by the reviewer; it never ran"
        ),
    )
    assert (
        never.exit_code == 130
        and never.stderr == "lockgate: cancelled: cancelled by the reviewer; it never ran"
    )
    during = shell_output(
        action,
        Result(action.id, ResultStatus.CANCELLED, ran="make", stdout=b"part", stdout_total=4),
    )
    assert "while it ran" in during.stderr and during.stdout == "part"


def test_command_text_for_chat() -> None:
    action = CommandAction(command="false", turn_id="t")
    text = command_text(action, Result(action.id, ResultStatus.COMPLETED, exit_code=1, ran="false"))
    assert text == "$ false\n[exit code 1]"


def test_patch_outputs() -> None:
    action = PatchAction(patch="*** Begin Patch\n*** End Patch\n", turn_id="t")
    assert patch_output(
        action,
        Result(
            action.id,
            ResultStatus.COMPLETED,
            message="Success. Updated the following files:\nM a.py",
            files_changed=("a.py",),
        ),
    ) == (
        True,
        "Success. Updated the following files:\nM a.py",
    )
    ok, text = patch_output(
        action, Result(action.id, ResultStatus.FAILED, message="a.py changed since it was reviewed")
    )
    assert (
        not ok and text == "lockgate: the patch was not applied: a.py changed since it was reviewed"
    )


def test_redaction_and_safe_urls() -> None:
    key = "sk-proj-abcdefghijklmnop1234"
    assert key not in redact(f"bad key {key}", (key,))
    assert "abcdefghijkl" not in redact(f"Incorrect API key provided: {key}")
    assert (
        safe_url("https://user:pw@host.example:8443/v1?api-key=zzz")
        == "https://host.example:8443/v1"
    )


def test_backoff_grows_is_capped_and_honours_retry_after() -> None:
    b = Backoff(attempts=5, base_s=1, cap_s=8, jitter=0)
    assert [b.delay(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 4, 8, 8]
    assert b.delay(1, retry_after=5) == 5
    assert b.delay(1, retry_after=500) == 8


def test_prompt_states_the_rules() -> None:
    ctx = SessionContext(
        workspace=Path("/w"), network="allow", allowed_domains=("pypi.org", "docs.python.org")
    )
    text = system_prompt(ctx)
    assert "Allowed domains: pypi.org, docs.python.org" in text
    assert "only inside the workspace" in text
    assert "A human reviews what you propose" in text
    assert "lockgate: denied by the reviewer" in text
    assert "head and tail" in text and "byte counts" in text
    assert "edited your command" in text

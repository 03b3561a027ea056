"""The scripted link: the documented format, validation, and branching on verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest
from linkkit import drive, last_status, ok, proposals, text

from app.agent.scripted import ScriptedLink, ScriptError, bundled_script, load_script, parse_script
from app.core.model import Action, CommandAction, PatchAction, Result, ResultStatus

BRANCHY = """
title = "t"
task = "do it"

[[step]]
id = "a"
say = "first"
commands = ["echo 1", "echo 2"]
on_denied = "a-denied"

[[step]]
id = "a-denied"
branch = true
say = "ok, not that ({feedback})"

[[step]]
id = "b"
patch = '''
*** Begin Patch
*** Add File: x.txt
+x
*** End Patch
'''
on_failed = "b-failed"
on_ok = "b-ok"

[[step]]
id = "b-failed"
branch = true
say = "patch failed: {reason}"
end = true

[[step]]
id = "b-ok"
branch = true
say = "patched"

[[step]]
say = "bye"
"""


def _write(tmp_path: Path, body: str, name: str = "s.toml") -> Path:
    p = tmp_path / name
    p.write_text(body)
    return p


async def test_approved_path_skips_branch_steps(tmp_path: Path) -> None:
    script = load_script(_write(tmp_path, BRANCHY))
    events = await drive(ScriptedLink(script, pace=0), ok())
    assert text(events) == "first\npatched\nbye\n"
    acts = proposals(events)
    assert [type(a).__name__ for a in acts] == ["CommandAction", "CommandAction", "PatchAction"]
    assert acts[0].turn_id == acts[1].turn_id != acts[2].turn_id
    assert last_status(events).state == "done"


async def test_denial_and_failure_take_their_branches(tmp_path: Path) -> None:
    script = load_script(_write(tmp_path, BRANCHY))

    def respond(action: Action) -> Result:
        if isinstance(action, CommandAction) and action.command == "echo 2":
            return Result(
                action.id,
                ResultStatus.DENIED,
                message="denied by the reviewer: too noisy",
                feedback="too noisy",
            )
        if isinstance(action, PatchAction):
            return Result(action.id, ResultStatus.FAILED, message="x.txt exists")
        return ok()(action)

    events = await drive(ScriptedLink(script, pace=0), respond)
    assert text(events) == "first\nok, not that (too noisy)\npatch failed: x.txt exists\n"
    assert last_status(events).state == "done"


async def test_json_scripts_work_too(tmp_path: Path) -> None:
    path = _write(tmp_path, '{"task": "t", "step": [{"say": "hi", "commands": ["ls"]}]}', "s.json")
    events = await drive(ScriptedLink(load_script(path), pace=0), ok())
    assert [a.command for a in proposals(events) if isinstance(a, CommandAction)] == ["ls"]


async def test_cancel_while_paused(tmp_path: Path) -> None:
    script = parse_script({"task": "t", "step": [{"say": "hi", "pause": 30}]})
    events = await drive(ScriptedLink(script, pace=1.0), ok(), stop_after=1)
    assert last_status(events).state == "cancelled"


async def test_endless_jumps_stop(tmp_path: Path) -> None:
    script = parse_script(
        {"task": "t", "step": [{"id": "a", "say": "again", "next": "a", "pause": 0}]}
    )
    events = await drive(ScriptedLink(script, pace=0), ok())
    assert last_status(events).state == "error"
    assert "more than 500 steps" in last_status(events).detail


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("task = 'x'", "no [[step]] entries"),
        ("[[step]]\nsay='x'", "`task` must be a non-empty string"),
        ("task='x'\n[[step]]\nsay='x'\nrun='ls'", "unknown key 'run'"),
        (
            "task='x'\n[[step]]\nid='a'\nsay='x'\n[[step]]\nid='a'\nsay='y'",
            "step id 'a' is used twice",
        ),
        ("task='x'\n[[step]]\nsay='x'\non_denied='nowhere'", "on_denied names no step: 'nowhere'"),
        ("task='x'\n[[step]]\ncommands='ls'", "`commands` must be a list"),
        ("task='x'\n[[step]]\nid='quiet'", "a step needs `say`"),
        (
            "task='x'\n[session]\nnetwork='on'\n[[step]]\nsay='x'",
            'network must be "off" or "allow"',
        ),
        (
            "task='x'\n[session]\nallow_domains=['a b']\n[[step]]\nsay='x'",
            "allow_domains must be a list",
        ),
        ("task='x'\n[[step]]\nsay='x'\npause=-1", "`pause` must be a number"),
        ("task = [", "not valid TOML"),
    ],
)
def test_bad_scripts_are_one_line_errors(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ScriptError, match=r"s\.toml") as info:
        load_script(_write(tmp_path, body))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScriptError, match="cannot read"):
        load_script(tmp_path / "nope.toml")


def test_bundled_demo_script_covers_the_threats() -> None:
    script = load_script(bundled_script())
    commands = [c for s in script.steps for c in s.commands]
    patches = [p for s in script.steps for p in s.patches]
    assert script.network == "allow"
    assert any(c.startswith("cat ") or c.startswith("ls") for c in commands)
    assert any(c.startswith("grep ") for c in commands)
    assert commands.count("python3 -m unittest -v") == 2
    assert "pip install reqeusts" in commands
    assert any("curl" in c and "| sh" in c for c in commands)
    assert any("~/.ssh" in c for c in commands)
    assert "python3 tools/coverage_report.py" in commands
    assert any("*** Update File: shopcart/pricing.py" in p for p in patches)
    assert any("*** Add File: .git/hooks/pre-commit" in p for p in patches)
    # every threat step reacts to a denial
    for step in script.steps:
        if any(
            k in " ".join(step.commands + step.patches)
            for k in ("reqeusts", "| sh", ".ssh", ".git/hooks", "coverage_report")
        ):
            assert step.on_denied is not None, step.id


async def test_bundled_demo_plays_when_everything_is_denied() -> None:
    script = load_script(bundled_script())

    def deny(action: Action) -> Result:
        return Result(action.id, ResultStatus.DENIED, message="headless")

    events = await drive(ScriptedLink(script, pace=0), deny)
    said = text(events)
    assert "I won't change pricing.py" in said
    assert "typosquatted" in said and "runs code nobody has read" in said
    assert "leave your SSH keys alone" in said
    assert "Re-running the tests" not in said  # no second run when the fix was declined
    assert last_status(events).state == "done"


async def test_policy_reasons_are_not_reviewer_feedback() -> None:
    script = parse_script(
        {
            "task": "t",
            "step": [
                {"commands": ["x"], "on_denied": "d"},
                {"id": "d", "branch": True, "say": "no.{you_said} [{feedback}] ({reason})"},
            ],
        }
    )

    def deny(action: Action) -> Result:
        return Result(
            action.id, ResultStatus.DENIED, message="denied by policy (r): risky", feedback="risky"
        )

    events = await drive(ScriptedLink(script, pace=0), deny)
    assert text(events) == "no. [] (denied by policy (r): risky)\n"

    def human(action: Action) -> Result:
        return Result(
            action.id,
            ResultStatus.DENIED,
            message="denied by the reviewer: not now",
            feedback="not now",
        )

    events = await drive(ScriptedLink(script, pace=0), human)
    assert text(events) == 'no. You said: "not now". [not now] (denied by the reviewer: not now)\n'


async def test_bundled_demo_reads_right_when_everything_is_approved() -> None:
    """Every approve path says something true: `curl | sh` exits 0 on an empty download, the
    hook lands, and nothing claims a denial."""
    events = await drive(ScriptedLink(load_script(bundled_script()), pace=0), ok())
    said = text(events)
    assert "Re-running the tests" in said
    assert "The installer did not arrive" in said
    assert "Hook installed" in said
    assert "Understood" not in said and "declined" not in said
    assert last_status(events).state == "done"

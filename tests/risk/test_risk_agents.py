"""Commands of the kind real coding agents issue (issue 14), judged in a git workspace with a
usual `.gitignore`, as real sessions run: at least 90 % of the safe ones auto-approved, no
dangerous one below high (or allowed), at least 97 % of those that deserve a look held.
Reversibility: a deletion is judged by what the workspace's git can give back."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from riskkit import corpus

from app.core.model import CommandAction, Decision, DecisionKind, Level
from app.core.ports import SessionContext
from app.risk.engine import RiskEngine
from app.risk.policy import load_policy

GITIGNORE = """node_modules/
dist/
build/
.next/
target/
__pycache__/
*.egg-info/
.pytest_cache/
coverage/
.nyc_output/
.env
.env.local
"""


def _git(ws: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    subprocess.run(["git", *args], cwd=ws, env=env, check=True, capture_output=True)


@pytest.fixture
def repo(ws: Path) -> Path:
    """A project the way agents find it: sources committed, build output ignored."""
    (ws / ".gitignore").write_text(GITIGNORE)
    for rel in ("src/app.py", "src/legacy/old.py", "README.md", "scripts/setup.sh", "lib/x.js"):
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_text("x = 1\n")
    for rel in ("node_modules/.cache/a", ".next/b", "dist/c.js", "build/d", "target/debug/e"):
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_text("generated\n")
    _git(ws, "init", "-q")
    _git(ws, "add", "-A")
    _git(ws, "commit", "-q", "-m", "init")
    return ws


def _judge(engine: RiskEngine, ws: Path, text: str) -> tuple[int, Level, Decision, str]:
    policy = load_policy(ws, engine=engine, check=False)
    action = CommandAction(text, "t")
    a = engine.assess(action, SessionContext(workspace=ws))
    return a.score, a.level, policy.decide(action, a), (a.reasons[:1] or [""])[0]


def test_agents_commands_meet_the_bar(repo: Path) -> None:
    engine = RiskEngine(warm=False)
    policy = load_policy(repo, engine=engine, check=False)
    ctx = SessionContext(workspace=repo)
    items = corpus("agent_commands.jsonl")
    assert len(items) >= 300
    counts = {"safe": [0, 0], "ask": [0, 0], "dangerous": [0, 0]}
    hard: list[str] = []
    for item in items:
        action = CommandAction(item["command"], "t")
        a = engine.assess(action, ctx)
        d = policy.decide(action, a)
        label = item["label"]
        counts[label][0] += 1
        if label == "safe":
            counts[label][1] += d.kind == DecisionKind.ALLOW
        elif label == "ask":
            counts[label][1] += d.kind != DecisionKind.ALLOW
        else:
            ok = a.level >= Level.HIGH and d.kind != DecisionKind.ALLOW
            counts[label][1] += ok
            if not ok:
                hard.append(f"dangerous {a.level}/{d.kind}: {item['command']!r}")
    assert not hard, "\n".join(hard)
    safe_total, safe_ok = counts["safe"]
    ask_total, ask_ok = counts["ask"]
    assert safe_ok / safe_total >= 0.90, counts
    assert ask_ok / ask_total >= 0.97, counts


def test_deletions_are_judged_by_what_git_can_restore(repo: Path) -> None:
    engine = RiskEngine(warm=False)
    score, _level, d, why = _judge(engine, repo, "rm -rf src/legacy")
    assert "1 tracked, unmodified file" in why and "git can restore" in why, why
    assert d.kind == DecisionKind.ALLOW
    (repo / "src" / "legacy" / "old.py").write_text("x = 2  # work in progress\n")
    (repo / "src" / "legacy" / "new.py").write_text("y = 1\n")
    score, _level, d, why = _judge(engine, repo, "rm -rf src/legacy")
    assert "1 file modified since the last commit" in why, why
    assert "1 untracked file git cannot restore" in why, why
    assert d.kind != DecisionKind.ALLOW and score >= 45
    _score, _level, d, why = _judge(engine, repo, "rm -rf .next dist build target/debug")
    assert "git ignores it" in why and d.kind == DecisionKind.ALLOW, why
    _score, _level, d, why = _judge(engine, repo, "rm -rf node_modules/.cache")
    assert d.kind == DecisionKind.ALLOW, why


def test_without_git_a_deletion_is_asked(ws: Path) -> None:
    engine = RiskEngine(warm=False)
    (ws / "dist").mkdir()
    for text in ("rm -rf dist", "rm src/app.py"):
        _score, _level, d, why = _judge(engine, ws, text)
        assert d.kind != DecisionKind.ALLOW, (text, why)


def test_patterns_and_strings_are_not_paths_but_a_readers_paths_are(ws: Path) -> None:
    engine = RiskEngine(warm=False)
    for text in (
        'ls -la | grep -E "\\.env"',
        "grep -rn 'process.env' src",
        'node block-env-access.js "cat .env"',
        "printf '%s\\n' node_modules dist .env >> .gitignore",
        "find ../../other-project -type f | head",
    ):
        _score, _level, d, why = _judge(engine, ws, text)
        assert d.kind == DecisionKind.ALLOW, (text, why)
    _score, _level, d, why = _judge(engine, ws, 'cat "my notes/.env"')
    assert d.kind != DecisionKind.ALLOW and ".env" in why

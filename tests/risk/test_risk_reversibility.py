"""Reversibility beyond `rm` (issue 14): overwrites and git's own worktree wipes are judged by
what the workspace's real git can give back, counted from its status and said in the reason."""

from __future__ import annotations

from pathlib import Path

from test_risk_agents import _git, _judge, repo  # noqa: F401  (the fixture)

from app.core.model import DecisionKind
from app.risk.engine import RiskEngine


def _dirty(repo: Path) -> None:  # noqa: F811
    (repo / "src" / "app.py").write_text("x = 2  # work in progress\n")
    (repo / "src" / "notes.py").write_text("todo = 1\n")
    (repo / ".env").write_text("API_KEY=k\n")


def test_overwriting_a_tracked_unmodified_file_git_restores_it(repo: Path) -> None:  # noqa: F811
    engine = RiskEngine(warm=False)
    for text in ("echo x > README.md", "sed -i s/x/y/ README.md", "cp src/app.py README.md"):
        _s, _l, d, why = _judge(engine, repo, text)
        assert "tracked and unmodified: git can restore it" in why, (text, why)
        assert d.kind == DecisionKind.ALLOW
    score, _l, d, why = _judge(engine, repo, "truncate -s 0 README.md")
    assert "git can restore it" in why and d.kind == DecisionKind.ALLOW, why
    _dirty(repo)
    score, _l, d, why = _judge(engine, repo, "echo x > src/app.py")
    assert score == 20 and "modified since the last commit" in why, why
    score, _l, d, why = _judge(engine, repo, "echo x > src/notes.py")
    assert score == 20 and "untracked file" in why, why
    score, _l, d, _why = _judge(engine, repo, "truncate -s 0 src/notes.py")
    assert d.kind != DecisionKind.ALLOW and score >= 36
    _s, _l, _d, why = _judge(engine, repo, "echo x > src/brand_new.py")
    assert "git" not in why, why  # nothing was there to lose


def test_git_worktree_wipes_count_what_they_lose(repo: Path) -> None:  # noqa: F811
    engine = RiskEngine(warm=False)
    # A clean tree: nothing to lose now, a lower score, still asked.
    for text in ("git clean -fd", "git checkout -- .", "git reset --hard", "git stash drop"):
        score, _l, d, why = _judge(engine, repo, text)
        assert score == 35 and "still asked" in why and d.kind != DecisionKind.ALLOW, (text, why)
    _dirty(repo)
    score, _l, d, why = _judge(engine, repo, "git clean -fd")
    assert "1 untracked file (src/notes.py)" in why and score == 50, why
    (repo / "newdir").mkdir()
    (repo / "newdir" / "n.py").write_text("n = 1\n")  # git clean without -d keeps it
    score, _l, d, why = _judge(engine, repo, "git clean -f")
    assert "1 untracked file (src/notes.py)" in why, why
    score, _l, d, why = _judge(engine, repo, "git clean -fd")
    assert "2 untracked files (newdir/n.py, src/notes.py)" in why, why
    score, _l, d, why = _judge(engine, repo, "git clean -fdx")
    assert ".env" in why and "environment file" in why and score >= 60, why
    score, _l, d, why = _judge(engine, repo, "git reset --hard")
    assert "uncommitted changes to 1 tracked file" in why and score == 50, why
    score, _l, d, why = _judge(engine, repo, "git checkout -- .")
    assert "1 file (src/app.py)" in why and score == 45, why
    score, _l, d, why = _judge(engine, repo, "git checkout -- README.md")
    assert score == 35, why
    _git(repo, "stash", "push", "-q")
    score, _l, d, why = _judge(engine, repo, "git stash drop")
    assert "stash@{0} (1 file changed in it)" in why and d.kind != DecisionKind.ALLOW, why
    # Another repository (-C): git's account of the workspace says nothing about it.
    _s, _l, d, why = _judge(engine, repo, "git -C /tmp/other clean -fd")
    assert "deletes untracked files" in why and d.kind != DecisionKind.ALLOW, why


def test_agent_misses_are_asked(repo: Path) -> None:  # noqa: F811
    engine = RiskEngine(warm=False)
    for text in ("python app.py", "crontab -l", "ls ~/.ssh"):
        _s, _l, d, why = _judge(engine, repo, text)
        assert d.kind != DecisionKind.ALLOW, (text, why)
    _s, _l, d, why = _judge(engine, repo, "python reproduce.py")
    assert d.kind == DecisionKind.ALLOW, why

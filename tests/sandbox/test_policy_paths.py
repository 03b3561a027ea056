"""Paths the policy computes on every one-shot start, without the slower general tools: the
containment test on normalised paths (a sibling whose name starts with the same letters is not
inside, `/` holds everything) and the toolchain dirs a name prefix matches (what Path.glob finds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.paths import within
from sandbox.policy import PolicyError, SandboxPolicy, default_toolchains


@pytest.mark.parametrize(
    ("path", "top", "inside"),
    [
        ("/home/u/.ssh", "/home/u/.ssh", True),
        ("/home/u/.ssh/keys", "/home/u/.ssh", True),
        ("/home/u/.sshx", "/home/u/.ssh", False),
        ("/home/u", "/home/u/.ssh", False),
        ("/anything", "/", True),
        ("/", "/", True),
        ("/proc2", "/proc", False),
    ],
)
def testwithin(path: str, top: str, inside: bool) -> None:
    assert within(Path(path), Path(top)) is inside
    assert within(Path(path), Path(top)) is (
        Path(path) == Path(top) or Path(top) in Path(path).parents
    )


def test_a_workspace_beside_a_hidden_dir_with_a_longer_name_is_allowed(tmp_path: Path) -> None:
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret-not").mkdir()
    policy = SandboxPolicy(workspace=tmp_path / "secret-not", deny_read=(tmp_path / "secret",))
    assert policy.checked().workspace == (tmp_path / "secret-not").resolve()
    with pytest.raises(PolicyError, match="which the sandbox hides"):
        SandboxPolicy(workspace=tmp_path / "secret", deny_read=(tmp_path / "secret",)).checked()


def test_toolchain_prefixes_find_what_glob_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lib = tmp_path / ".local" / "lib"
    for name in ("python3.11", "python3.12", "pythonx", "other", ".python-hidden"):
        (lib / name).mkdir(parents=True)
    (lib / "python-file").write_text("")
    (lib / "python-link").symlink_to(lib / "python3.11")
    monkeypatch.setenv("HOME", str(tmp_path))
    found = [p for p in default_toolchains() if p.parent == lib]
    assert found == sorted(p for p in tmp_path.glob(".local/lib/python*") if p.is_dir())
    assert [p.name for p in found] == ["python-link", "python3.11", "python3.12", "pythonx"]

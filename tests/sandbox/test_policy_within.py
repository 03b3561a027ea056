"""The policy's containment test on normalised paths (sandbox.policy._within): a sibling whose
name starts with the same letters is not inside, `/` holds everything."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.policy import PolicyError, SandboxPolicy, _within


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
def test_within(path: str, top: str, inside: bool) -> None:
    assert _within(Path(path), Path(top)) is inside
    assert _within(Path(path), Path(top)) is (
        Path(path) == Path(top) or Path(top) in Path(path).parents
    )


def test_a_workspace_beside_a_hidden_dir_with_a_longer_name_is_allowed(tmp_path: Path) -> None:
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret-not").mkdir()
    policy = SandboxPolicy(workspace=tmp_path / "secret-not", deny_read=(tmp_path / "secret",))
    assert policy.checked().workspace == (tmp_path / "secret-not").resolve()
    with pytest.raises(PolicyError, match="which the sandbox hides"):
        SandboxPolicy(workspace=tmp_path / "secret", deny_read=(tmp_path / "secret",)).checked()

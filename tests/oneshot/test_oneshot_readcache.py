"""The read allow-list kept between one-shot runs (sandbox/linux/readcache.py): used only when
it was built from the same arguments, is fresh, young and private to this user; and only in a
directory the policy hides."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from sandbox import SandboxPolicy
from sandbox.linux import readcache
from sandbox.linux.oneshot import cache_dir
from sandbox.visible import ReadSet

KW: dict[str, Any] = {"homes": ["/home/x"], "deny": ["/etc/shadow"], "extra": [], "views": [],
                      "root_only": False}  # fmt: skip


class Builder:
    def __init__(self, stamp_dir: Path) -> None:
        self.calls = 0
        self.stamp_dir = stamp_dir

    def __call__(self, **kw: Any) -> ReadSet:
        self.calls += 1
        st = os.stat(self.stamp_dir)
        return ReadSet(
            rules=("/usr", f"/etc/{self.calls}"),
            excluded=("/etc/shadow",),
            stamps=((str(self.stamp_dir), st.st_ino, st.st_mtime_ns),),
        )


@pytest.fixture
def setup(tmp_path: Path) -> tuple[str, Builder]:
    store = tmp_path / "store"
    (tmp_path / "split").mkdir()
    return str(store), Builder(tmp_path / "split")


def _file(store: str) -> Path:
    (found,) = Path(store).glob("reads-*.json")
    return found


def test_second_call_reads_the_kept_set(setup: tuple[str, Builder]) -> None:
    store, build = setup
    first = readcache.cached_read_set(store, build, **KW)
    again = readcache.cached_read_set(store, build, **KW)
    assert build.calls == 1 and again == first
    assert os.stat(_file(store)).st_mode & 0o777 == 0o600
    assert os.stat(store).st_mode & 0o777 == 0o700


def test_other_arguments_never_match(setup: tuple[str, Builder]) -> None:
    store, build = setup
    readcache.cached_read_set(store, build, **KW)
    readcache.cached_read_set(store, build, **{**KW, "deny": ["/etc/shadow", "/root/.ssh"]})
    readcache.cached_read_set(store, build, **{**KW, "root_only": True})
    assert build.calls == 3


def test_a_changed_split_directory_rebuilds(setup: tuple[str, Builder]) -> None:
    store, build = setup
    readcache.cached_read_set(store, build, **KW)
    (build.stamp_dir / "new-root-only-file").write_text("x")
    again = readcache.cached_read_set(store, build, **KW)
    assert build.calls == 2 and "/etc/2" in again.rules


def test_an_old_set_is_built_again(setup: tuple[str, Builder]) -> None:
    store, build = setup
    readcache.cached_read_set(store, build, **KW)
    path = _file(store)
    data = json.loads(path.read_text())
    data["made"] -= readcache.MAX_AGE_S + 1
    path.write_text(json.dumps(data))
    readcache.cached_read_set(store, build, **KW)
    assert build.calls == 2


@pytest.mark.parametrize("how", ["group-writable file", "other-writable dir", "foreign owner",
                                 "symlink", "garbage", "wrong types", "other key"])  # fmt: skip
def test_a_tampered_file_is_never_trusted(setup: tuple[str, Builder], how: str) -> None:
    store, build = setup
    readcache.cached_read_set(store, build, **KW)
    path = _file(store)
    data = json.loads(path.read_text())
    data["rules"] = ["/"]  # what a poisoner wants: read everything
    path.write_text(json.dumps(data))
    if how == "group-writable file":
        os.chmod(path, 0o620)
    elif how == "other-writable dir":
        os.chmod(store, 0o703)
    elif how == "foreign owner":
        if os.geteuid() != 0:
            pytest.skip("needs root to give the file away")
        os.chown(path, 65534, 65534)
    elif how == "symlink":
        real = path.with_name("elsewhere.json")
        path.rename(real)
        path.symlink_to(real)
    elif how == "garbage":
        path.write_text("{not json")
    elif how == "wrong types":
        data["rules"] = "/"
        path.write_text(json.dumps(data))
    elif how == "other key":
        data["key"] = data["key"].replace('"root_only": false', '"root_only": true')
        path.write_text(json.dumps(data))
    found = readcache.cached_read_set(store, build, **KW)
    assert "/" not in found.rules
    assert build.calls == 2


def test_the_untampered_poisoned_file_would_have_been_used(setup: tuple[str, Builder]) -> None:
    """The control for the test above: the same edit with the file left private is read, so
    the refusals there come from the checks, not from the edit."""
    store, build = setup
    readcache.cached_read_set(store, build, **KW)
    path = _file(store)
    data = json.loads(path.read_text())
    data["rules"] = ["/"]
    path.write_text(json.dumps(data))
    assert readcache.cached_read_set(store, build, **KW).rules == ("/",)


def test_the_store_is_only_a_hidden_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("LOCKGATE_DATA_DIR", str(data))
    (tmp_path / "ws").mkdir()
    hidden = SandboxPolicy(workspace=tmp_path / "ws", deny_read=(data,))
    assert cache_dir(hidden) == os.path.realpath(data / "oneshot")
    assert cache_dir(SandboxPolicy(workspace=tmp_path / "ws", deny_read=())) is None
    # a writable root around the store: a command could write it
    around = SandboxPolicy(workspace=tmp_path / "ws", writable=(tmp_path,), deny_read=(data,))
    assert cache_dir(around) is None

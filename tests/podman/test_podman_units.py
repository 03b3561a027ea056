"""The podman backend's pure parts, without podman: the seccomp profile says what the Linux
filter says, the image's /etc is sanitised, and the mount layout is the policy's."""

from __future__ import annotations

import io
import os
import random
import tarfile
from pathlib import Path

import pytest

from sandbox.linux import seccomp
from sandbox.podman import seccomp_profile
from sandbox.podman.image import write_rootfs_tar
from sandbox.podman.mounts import Bind, layout
from sandbox.policy import SandboxError, SandboxPolicy
from sandbox.workspace import prepare


def _matches(rule: dict, args: list[int]) -> bool:
    for a in rule.get("args", []):
        v = args[a["index"]]
        op = a["op"]
        if op == "SCMP_CMP_EQ" and v != a["value"]:
            return False
        if op == "SCMP_CMP_NE" and v == a["value"]:
            return False
        if op == "SCMP_CMP_LT" and not v < a["value"]:
            return False
        if op == "SCMP_CMP_GT" and not v > a["value"]:
            return False
        if op == "SCMP_CMP_MASKED_EQ" and (v & a["value"]) != a["valueTwo"]:
            return False
    return True


def _denied(profile: dict, name: str, *args: int) -> bool:
    padded = [*args] + [0] * (6 - len(args))
    return any(
        name in r["names"] and r["action"] == "SCMP_ACT_ERRNO" and _matches(r, padded)
        for r in profile["syscalls"]
    )


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_profile_denies_what_the_linux_filter_denies(machine: str) -> None:
    p = seccomp_profile.profile(machine)
    assert p["defaultAction"] == "SCMP_ACT_ALLOW"
    assert p["architectures"] == [seccomp_profile.ARCH_NAMES[machine]]  # others: killed
    for name in seccomp.DENIED:
        if name in seccomp.SYSCALLS[machine]:
            assert _denied(p, name), name
    assert _denied(p, "clone3") and _denied(p, "openat2")
    assert not _denied(p, "socket", seccomp.AF_UNIX, 1, 0)
    assert _denied(p, "socket", seccomp.AF_INET, 1, 0)
    assert _denied(p, "socket", 10, 1, 0)  # AF_INET6
    assert _denied(p, "ioctl", 0, seccomp.TIOCSTI) and not _denied(p, "ioctl", 0, 0x5401)
    assert _denied(p, "ioctl", 0, seccomp.TIOCSTI | 1 << 32)  # low 32 bits, as the kernel
    assert _denied(p, "clone", 0x10000000) and not _denied(p, "clone", 0x11)  # NEWUSER; fork
    assert _denied(p, "fchmodat", 0, 0, 0o4755) and not _denied(p, "fchmodat", 0, 0, 0o755)


def test_profile_proxy_mode_allows_tcp_only() -> None:
    p = seccomp_profile.profile("x86_64", allow_inet_stream=True)
    inet, stream, dgram = seccomp.AF_INET, seccomp.SOCK_STREAM, 2
    assert not _denied(p, "socket", inet, stream, 0)
    assert not _denied(p, "socket", inet, stream | 0o2000000, 6)  # SOCK_CLOEXEC, TCP
    assert _denied(p, "socket", inet, dgram, 0)
    assert _denied(p, "socket", inet, 3, 6)  # raw
    assert _denied(p, "socket", inet, stream, 17)
    assert _denied(p, "socket", 10, stream, 0)


def test_profile_personality_is_exactly_the_allowed_values() -> None:
    p = seccomp_profile.profile("x86_64")
    for v in seccomp.PERSONALITY_ALLOWED:
        assert not _denied(p, "personality", v), hex(v)
    rng = random.Random(7)
    others = [
        0x40000,
        0x0400000,
        0x20009,
        0xFFFFFFFE,
        1 << 32,
        *(rng.getrandbits(32) for _ in range(2000)),
    ]
    for v in others:
        if v not in seccomp.PERSONALITY_ALLOWED:
            assert _denied(p, "personality", v), hex(v)


def test_image_etc_is_sanitised(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    (etc / "ssh").mkdir(parents=True)
    (etc / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    (etc / "shadow").write_text("root:$6$secret\n")
    (etc / "ssh" / "ssh_host_ed25519_key.pub").write_text("pub\n")
    (etc / "private.conf").write_text("token\n")
    os.chmod(etc / "private.conf", 0o600)
    os.chmod(etc / "shadow", 0o644)  # world-readable by mistake: left out by name anyway
    (tmp_path / "usr").mkdir()
    os.symlink("usr/bin", tmp_path / "bin")
    buf = io.BytesIO()
    write_rootfs_tar(buf, copy=False, root=str(tmp_path))
    buf.seek(0)
    with tarfile.open(fileobj=buf) as tar:
        names = set(tar.getnames())
    assert "etc/passwd" in names and "bin" in names and "tmp" in names
    assert not {"etc/shadow", "etc/ssh", "etc/private.conf"} & names
    assert not any(n.startswith("etc/ssh/") for n in names)


def test_layout_is_the_policys(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / ".git" / "hooks").mkdir(parents=True)
    (ws / ".git" / "config").write_text("[core]\n")
    (ws / ".vscode").mkdir()
    reads = tmp_path / "cache"
    (reads / "secret").mkdir(parents=True)
    policy = SandboxPolicy(
        workspace=ws, readable=(reads,), deny_read=(reads / "secret",), toolchains=()
    ).checked()
    prep = prepare(policy.workspace, policy.protected)
    lay = layout(policy, prep)
    w = str(policy.workspace)
    assert Bind(w, w, False) in lay.binds
    assert Bind(f"{w}/.git", f"{w}/.git", False) in lay.binds  # a mount point: cannot move
    for name in (".git/hooks", ".git/config", ".vscode"):
        assert Bind(f"{w}/{name}", f"{w}/{name}", True) in lay.binds, name
    real_reads = os.path.realpath(reads)
    assert Bind(real_reads, real_reads, True) in lay.binds
    assert lay.masks_dir == (f"{real_reads}/secret",)
    assert not any(str(Path.home()) == b.src for b in lay.binds)
    assert "ro=true" in " ".join(lay.args())
    odd = tmp_path / "a,b"
    odd.mkdir()
    with pytest.raises(SandboxError, match="cannot mount"):
        layout(SandboxPolicy(workspace=odd, toolchains=()).checked(), prep).args()

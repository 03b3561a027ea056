"""Pieces checked without a kernel: the seccomp program (run through a small BPF interpreter),
bounded output, the workspace guard, refusal texts, the macOS profile."""

from __future__ import annotations

import errno
import shutil
import struct
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from sandbox import KernelSupport, SandboxPolicy
from sandbox.linux import seccomp
from sandbox.macos.profile import build_profile
from sandbox.output import HeadTail
from sandbox.workspace import guard, prepare

ARCH = {"x86_64": 0xC000003E, "i386": 0x40000003, "aarch64": 0xC00000B7}


def run_bpf(prog: bytes, nr: int, arch: int, args: tuple[int, ...] = ()) -> int:
    """Evaluate a classic-BPF seccomp program on one seccomp_data."""
    args = (*args, 0, 0, 0, 0, 0, 0)[:6]
    data = struct.pack("=iIQ6Q", nr, arch, 0, *[a & (2**64 - 1) for a in args])
    insns = [struct.unpack("=HBBI", prog[i : i + 8]) for i in range(0, len(prog), 8)]
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = insns[pc]
        pc += 1
        if code == 0x20:
            acc = struct.unpack_from("=I", data, k)[0]
        elif code == 0x54:
            acc &= k
        elif code in (0x15, 0x35, 0x45):
            hit = acc == k if code == 0x15 else acc >= k if code == 0x35 else bool(acc & k)
            pc += jt if hit else jf
        elif code == 0x06:
            return k
        else:
            raise AssertionError(f"unknown opcode {code:#x}")


ALLOW, KILL = seccomp.RET_ALLOW, seccomp.RET_KILL_PROCESS
EPERM = seccomp.RET_ERRNO | errno.EPERM
NOAF = seccomp.RET_ERRNO | errno.EAFNOSUPPORT


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_seccomp_program_decisions(machine: str) -> None:
    t = seccomp.SYSCALLS[machine]
    off = seccomp.assemble(seccomp.program(machine))
    proxy = seccomp.assemble(seccomp.program(machine, allow_inet_stream=True))
    a = ARCH[machine]
    assert run_bpf(off, 0, ARCH["i386"]) == KILL  # foreign arch (int 0x80) is killed
    assert run_bpf(off, t["socket"], a, (1, 1, 0)) == ALLOW
    assert run_bpf(off, t["socket"], a, (2, 1, 0)) == NOAF
    assert run_bpf(off, t["socket"], a, ((1 << 32) | 2, 1, 0)) == NOAF  # high bits ignored
    assert run_bpf(off, t["socketpair"], a, (2, 1, 0)) == NOAF
    assert run_bpf(proxy, t["socket"], a, (2, 1 | 0o4000 | 0o2000000, 0)) == ALLOW
    assert run_bpf(proxy, t["socket"], a, (2, 1, 6)) == ALLOW
    assert run_bpf(proxy, t["socket"], a, (2, 2, 0)) == NOAF  # UDP
    assert run_bpf(proxy, t["socket"], a, (2, 3, 6)) == NOAF  # raw
    assert run_bpf(proxy, t["socket"], a, (10, 1, 0)) == NOAF  # IPv6
    assert run_bpf(proxy, t["socket"], a, (2, 1, 17)) == NOAF
    assert run_bpf(off, t["ioctl"], a, (0, 0x5412)) == EPERM
    assert run_bpf(off, t["ioctl"], a, (0, (1 << 32) | 0x5412)) == EPERM
    assert run_bpf(off, t["ioctl"], a, (0, 0x541C)) == EPERM
    assert run_bpf(off, t["ioctl"], a, (0, 0x5401)) == ALLOW  # TCGETS
    assert run_bpf(off, t["clone"], a, (0x01200011,)) == ALLOW  # fork-like clone
    assert run_bpf(off, t["clone"], a, (0x10000011,)) == EPERM  # CLONE_NEWUSER
    assert run_bpf(off, t["clone"], a, ((1 << 32) | 0x20000,)) == EPERM  # NEWNS, high bits
    assert run_bpf(off, t["clone3"], a) == seccomp.RET_ERRNO | errno.ENOSYS
    assert run_bpf(off, t["personality"], a, (0xFFFFFFFF,)) == ALLOW
    assert run_bpf(off, t["personality"], a, (0x0040000,)) == EPERM
    for name in ("io_uring_setup", "ptrace", "bpf", "keyctl", "mount", "unshare", "setns",
                 "kexec_load", "init_module", "userfaultfd", "perf_event_open"):  # fmt: skip
        assert run_bpf(off, t[name], a) == EPERM, name
    assert run_bpf(off, 0 if machine == "x86_64" else 63, a) == ALLOW  # read
    if machine == "x86_64":
        assert run_bpf(off, 0x40000000 | 39, a) == KILL  # x32


def test_seccomp_tables_match_the_kernel_headers() -> None:
    header = Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")
    if not header.exists():
        pytest.skip("no kernel headers to compare with")
    text = header.read_text()
    for name, nr in seccomp.SYSCALLS["x86_64"].items():
        if f"__NR_{name} " in text:
            assert f"#define __NR_{name} {nr}\n" in text, name


def test_head_tail_bounds_and_totals() -> None:
    small = HeadTail(10)
    for part in (b"abc", b"def"):
        small.add(part)
    assert small.value() == b"abcdef" and small.total == 6
    big = HeadTail(10)
    for i in range(1000):
        big.add(bytes([65 + i % 26]) * 7)
    value = big.value()
    assert len(value) == 10 and big.total == 7000
    assert value[:5] == b"AAAAA" and value[5:] == bytes([65 + 999 % 26]) * 5
    one = HeadTail(4)
    one.add(b"0123456789")
    assert one.value() == b"0189"


def test_guard_removes_protected_names_created_by_a_command(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / ".lockgate.toml").write_text("kept\n")
    prep = prepare(ws, SandboxPolicy(workspace=ws).protected)
    assert str(ws / ".lockgate.toml") in prep.read_only
    (ws / ".codex").mkdir()
    (ws / ".codex" / "config.toml").write_text("evil")
    (ws / ".lockgate-extra").write_text("evil")
    (ws / ".aider.conf.yml").write_text("evil")
    (ws / "normal.txt").write_text("fine")
    notes = guard(ws, prep)
    assert not (ws / ".codex").exists() and not (ws / ".lockgate-extra").exists()
    assert not (ws / ".aider.conf.yml").exists()
    assert (ws / ".lockgate.toml").read_text() == "kept\n" and (ws / "normal.txt").exists()
    assert len(notes) == 3


def test_guard_tames_a_repository_made_inside(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    prep = prepare(ws, SandboxPolicy(workspace=ws).protected)
    subprocess.run(["git", "init", "-q"], cwd=ws, check=True)
    config = ws / ".git" / "config"
    config.write_text(
        config.read_text()
        + '[core]\n\thooksPath = /tmp/h\n\tfsmonitor = "evil"\n[alias]\n\tx = !sh\n'
        + '[includeIf "gitdir:/"]\n\tpath = /tmp/evil\n[user]\n\tname = kept\n'
    )
    hook = ws / ".git" / "hooks" / "post-checkout"
    hook.write_text("#!/bin/sh\necho pwn\n")
    notes = guard(ws, prep)
    text = config.read_text()
    assert "hooksPath" not in text and "fsmonitor" not in text and "!sh" not in text
    assert "/tmp/evil" not in text and "name = kept" in text and "repositoryformatversion" in text
    assert not hook.exists() and (ws / ".git" / "hooks" / "pre-commit.sample").exists()
    assert any("post-checkout" in n for n in notes)
    ok = subprocess.run(["git", "status", "--short"], cwd=ws, capture_output=True)
    assert ok.returncode == 0


def test_refusal_texts() -> None:
    good = KernelSupport(
        platform="linux", arch="x86_64", arch_supported=True, user="ok", mount="ok", pid="ok",
        net="ok", ipc="ok", uts="ok", mount_api="ok", proc="ok", landlock_abi=7,
        seccomp="ok", process_cap="pids-cgroup",
    )  # fmt: skip
    assert good.can_run() and good.refusal() == ""
    old = replace(good, landlock_abi=4)
    assert not old.can_run() and old.can_run(allow_degraded=True)
    text = old.refusal()
    assert "landlock: ABI 4 (need ≥ 6)" in text and "6.12" in text and "--allow-degraded" in text
    nouser = replace(good, user="Operation not permitted", mount="needs a user namespace")
    assert not nouser.can_run(allow_degraded=True)
    assert "max_user_namespaces" in nouser.refusal(True)
    assert "--allow-degraded" not in nouser.refusal(True)


def test_seatbelt_profile(tmp_path: Path) -> None:
    ws = tmp_path / 'ws "quoted" (paren)'
    ws.mkdir()
    (ws / ".lockgate.toml").write_text("")
    secret = tmp_path / "secret"
    policy = SandboxPolicy(workspace=ws, deny_read=(secret,)).checked()
    prof = build_profile(policy, tmp_path / "tmp")
    text = prof.text
    assert text.startswith("(version 1)\n(deny default)")
    assert str(ws) not in text and str(secret) not in text  # paths only as -D parameters
    params = dict(prof.params)
    assert params["WRITABLE_0"] == str(policy.workspace) and params["DENY_0"] == str(secret)
    protected = {v for k, v in params.items() if k.startswith("PROTECTED_")}
    ws_real = policy.workspace
    for name in (".git/hooks", ".git/config", ".lockgate", ".lockgate.toml", ".codex", ".aider"):
        assert str(ws_real / name) in protected
    assert '(deny file-read* (subpath (param "DENY_0")))' in text
    assert '(require-not (literal (param "GIT_DIR")))' in text
    assert "(deny network*)" in text and "network-outbound" not in text
    argv = prof.argv(["make", "test"])
    assert argv[:3] == ["/usr/bin/sandbox-exec", "-p", text] and argv[-3:] == ["--", "make", "test"]
    assert f"WRITABLE_0={policy.workspace}" in argv
    proxy = build_profile(replace(policy, network="proxy", proxy_port=3128), tmp_path)
    assert '(allow network-outbound (remote tcp "localhost:3128"))' in proxy.text
    assert text.count("(") == text.count(")")


def test_guard_never_writes_through_a_planted_symlink(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("host file\n")
    prep = prepare(ws, SandboxPolicy(workspace=ws).protected)
    subprocess.run(["git", "init", "-q"], cwd=ws, check=True)
    config = ws / ".git" / "config"
    config.unlink()
    config.symlink_to(victim)  # the command left config as a symlink to a host file
    hooks = ws / ".git" / "hooks"
    shutil.rmtree(hooks)
    hooks.symlink_to(tmp_path)  # and hooks pointing outside
    notes = guard(ws, prep)
    assert victim.read_text() == "host file\n" and tmp_path.joinpath("victim").exists()
    assert not config.exists() and not hooks.exists()
    assert len(notes) == 2


def test_submodule_hooks_and_config(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=ws, check=True)
    old = ws / ".git" / "modules" / "lib"
    subprocess.run(["git", "init", "-q", "--bare", str(old)], check=True)
    prep = prepare(ws, SandboxPolicy(workspace=ws).protected)
    assert str(old / "hooks") in prep.read_only and str(old / "config") in prep.read_only
    new = ws / ".git" / "modules" / "vendor" / "dep"  # a submodule the command added
    subprocess.run(["git", "init", "-q", "--bare", str(new)], check=True)
    (new / "hooks" / "post-checkout").write_text("#!/bin/sh\necho pwn\n")
    with (new / "config").open("a") as f:
        f.write("[core]\n\tfsmonitor = evil\n")
    notes = guard(ws, prep)
    assert not (new / "hooks" / "post-checkout").exists()
    assert "fsmonitor" not in (new / "config").read_text()
    assert len(notes) == 2


def test_a_guard_failure_is_reported_not_swallowed(tmp_path: Path) -> None:
    """#11: what the guard cannot remove (here a mount point on the host, which rmdir refuses)
    is a failure in its report; the rest of the pass still runs."""
    import os

    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to put a mount point in the way")
    from sandbox.workspace import guard_run

    ws = tmp_path / "ws"
    ws.mkdir()
    prep = prepare(ws, (".codex", ".claude"))
    (ws / ".codex" / "stuck").mkdir(parents=True)
    (ws / ".claude").mkdir()
    (ws / ".claude" / "settings.json").write_text("{}")
    if subprocess.run(["mount", "-t", "tmpfs", "none", str(ws / ".codex" / "stuck")]).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        report = guard_run(ws, prep)
    finally:
        subprocess.run(["umount", str(ws / ".codex" / "stuck")])
    assert any(".codex" in f for f in report.failures), report
    assert not (ws / ".claude").exists()  # the next step still ran
    assert "removed .claude (protected; created by the command)" in report.notes


def test_guard_failures_lead_the_result_message() -> None:
    from app.core.model import CommandAction, ResultStatus
    from app.execute.commands import _result
    from sandbox import Completed

    action = CommandAction(command="true", turn_id="t1")
    done = Completed(exit_code=0, stdout=b"", stderr=b"", guard=("removed .codex (x)",),
                     guard_failures=("removing .mcp.json: cannot remove",))  # fmt: skip
    result = _result(action, "true", done, None)
    assert result.status is ResultStatus.COMPLETED
    assert result.message.startswith("SANDBOX GUARD FAILED: removing .mcp.json")


def test_the_sandbox_section_reads_readable_memory_and_sockets(tmp_path: Path) -> None:
    from app.core.config import ConfigError
    from app.execute.sandbox_config import sandbox_policy

    ws = tmp_path / "ws"
    ws.mkdir()
    section = {
        "readable": ["~/.cache/go-build"],
        "memory": "1.5G",
        "allow_unix_sockets": [str(ws / "pg.sock")],
    }
    policy = sandbox_policy(section, workspace=ws, network="off", allow_degraded=False)
    assert Path("~/.cache/go-build").expanduser() in policy.readable
    assert policy.memory == int(1.5 * (1 << 30))
    assert policy.allow_unix_sockets == (ws / "pg.sock",)
    off = sandbox_policy({"memory": "off"}, workspace=ws, network="off", allow_degraded=False)
    assert off.memory is None
    for bad in ({"memory": "lots"}, {"memory": True}, {"readable": "not-a-list"}, {"reads": []}):
        with pytest.raises(ConfigError, match=r"\[sandbox\]"):
            sandbox_policy(bad, workspace=ws, network="off", allow_degraded=False)

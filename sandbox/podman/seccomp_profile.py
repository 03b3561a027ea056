"""lockgate's seccomp filter as an OCI/podman JSON profile (`--security-opt seccomp=FILE`).

Built from the very data the Linux backend assembles its BPF program from (sandbox/linux/
seccomp.py: DENIED, SYSCALLS, MODE_ARG, ENOSYS_CALLS, PERSONALITY_ALLOWED, the socket and ioctl
rules), so an audit of the deny-list changes one place. The profile allows by default and denies
exactly what the Linux filter denies; only the listed architecture is allowed (libseccomp kills a
call made through another syscall table: `int 0x80`, x32).

libseccomp takes one comparison per argument in a rule and a rule matches when all its
comparisons hold; "not one of these values" is therefore spelled as several deny rules on ranges
or masked bits. Every rule keeps the Linux filter's direction: a value it cannot express exactly
is denied, never allowed.
"""

from __future__ import annotations

import errno
import json
from typing import Any

from sandbox.linux import seccomp, syscalls

ARCH_NAMES = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64"}


def _arg(index: int, value: int, op: str, value_two: int = 0) -> dict[str, Any]:
    return {"index": index, "value": value, "valueTwo": value_two, "op": op}


def _deny(names: list[str], err: int, *args: dict[str, Any]) -> dict[str, Any]:
    rule: dict[str, Any] = {"names": names, "action": "SCMP_ACT_ERRNO", "errnoRet": err}
    if args:
        rule["args"] = list(args)
    return rule


def profile(machine: str = syscalls.MACHINE, *, allow_inet_stream: bool = False) -> dict[str, Any]:
    """The profile for `machine` (x86_64 or aarch64); `allow_inet_stream` as the Linux filter
    takes it (network proxy mode: TCP to the in-sandbox bridge on 127.0.0.1)."""
    if machine not in seccomp.AUDIT_ARCH:
        raise ValueError(f"no syscall table for {machine}")
    table = seccomp.SYSCALLS[machine]
    rules: list[dict[str, Any]] = []
    denied = [name for name in seccomp.DENIED if name in table]
    rules.append(_deny(denied, errno.EPERM))
    rules.append(_deny([n for n in seccomp.ENOSYS_CALLS if n in table], errno.ENOSYS))

    # socket(): AF_UNIX only (and AF_INET SOCK_STREAM with protocol 0 or TCP in proxy mode)
    af_unix, af_inet = seccomp.AF_UNIX, seccomp.AF_INET
    highest = af_inet if allow_inet_stream else af_unix
    noaf = errno.EAFNOSUPPORT
    rules.append(_deny(["socket"], noaf, _arg(0, af_unix, "SCMP_CMP_LT")))
    rules.append(_deny(["socket"], noaf, _arg(0, highest, "SCMP_CMP_GT")))
    if allow_inet_stream:
        for kind in range(16):  # the type's low 4 bits; flags (CLOEXEC, NONBLOCK) live above
            if kind != seccomp.SOCK_STREAM:
                rules.append(
                    _deny(
                        ["socket"],
                        noaf,
                        _arg(0, af_inet, "SCMP_CMP_EQ"),
                        _arg(1, seccomp.SOCK_TYPE_MASK, "SCMP_CMP_MASKED_EQ", kind),
                    )
                )
        for proto in range(1, seccomp.IPPROTO_TCP):
            rules.append(
                _deny(
                    ["socket"], noaf, _arg(0, af_inet, "SCMP_CMP_EQ"), _arg(2, proto, "SCMP_CMP_EQ")
                )
            )
        rules.append(
            _deny(
                ["socket"],
                noaf,
                _arg(0, af_inet, "SCMP_CMP_EQ"),
                _arg(2, seccomp.IPPROTO_TCP, "SCMP_CMP_GT"),
            )
        )
    rules.append(_deny(["socketpair"], noaf, _arg(0, af_unix, "SCMP_CMP_NE")))

    # ioctl(): no typing into the terminal (TIOCSTI) nor console tricks (TIOCLINUX); compared
    # on the low 32 bits, which is what the kernel reads
    for cmd in (seccomp.TIOCSTI, seccomp.TIOCLINUX):
        rules.append(_deny(["ioctl"], errno.EPERM, _arg(1, 0xFFFFFFFF, "SCMP_CMP_MASKED_EQ", cmd)))

    # clone(): no new namespaces — one rule per namespace flag (any one set is denied)
    flags = syscalls.CLONE_NS_FLAGS & 0xFFFFFFFF
    for bit in range(32):
        if flags & (1 << bit):
            rules.append(
                _deny(
                    ["clone"],
                    errno.EPERM,
                    _arg(0, 1 << bit, "SCMP_CMP_MASKED_EQ", 1 << bit),
                )
            )

    # no setuid/setgid bits on files (they would survive the run)
    for name, index in seccomp.MODE_ARG[machine].items():
        if name not in table:
            continue
        for bit in (0o4000, 0o2000):
            rules.append(_deny([name], errno.EPERM, _arg(index, bit, "SCMP_CMP_MASKED_EQ", bit)))

    # personality(): only the values Docker's default profile allows; every other 32-bit
    # value is denied by prefix blocks (masked compares) and anything wider by a range rule
    for mask, value in _blocks_without(seccomp.PERSONALITY_ALLOWED):
        rules.append(
            _deny(["personality"], errno.EPERM, _arg(0, mask, "SCMP_CMP_MASKED_EQ", value))
        )
    rules.append(_deny(["personality"], errno.EPERM, _arg(0, 0xFFFFFFFF, "SCMP_CMP_GT")))
    return {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": [ARCH_NAMES[machine]],
        "syscalls": rules,
    }


def _blocks_without(allowed: tuple[int, ...], bits: int = 32) -> list[tuple[int, int]]:
    """Prefix blocks (mask, value) covering every `bits`-wide value except `allowed`: a block
    with no allowed value in it is emitted whole, any other is halved (at most bits x len)."""
    out: list[tuple[int, int]] = []
    full = (1 << bits) - 1

    def cover(value: int, length: int) -> None:
        size = 1 << (bits - length)
        inside = [a for a in allowed if value <= a < value + size]
        if not inside:
            out.append(((full << (bits - length)) & full, value))
        elif size > 1:
            cover(value, length + 1)
            cover(value + size // 2, length + 1)

    cover(0, 0)
    return out


def profile_json(machine: str = syscalls.MACHINE, *, allow_inet_stream: bool = False) -> str:
    return json.dumps(profile(machine, allow_inet_stream=allow_inet_stream), indent=1)

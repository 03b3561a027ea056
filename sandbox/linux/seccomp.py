"""A seccomp-BPF filter assembled in Python: arch check first, then a deny-list.

Pitfalls measured on this kind of machine shape the filter: `int 0x80` enters through the i386
table (so a foreign arch is killed, not merely denied), x32 calls carry bit 30 (killed too),
io_uring performs socket/connect without those syscalls (io_uring is denied outright), and an
ioctl command with high bits set slipped past a 64-bit compare (ioctl and socket arguments are
compared on their low 32 bits, which is what the kernel itself reads).
"""

from __future__ import annotations

import ctypes
import errno
import struct

from sandbox.linux import syscalls
from sandbox.records import record

AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
X32_SYSCALL_BIT = 0x40000000

RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
RET_ALLOW = 0x7FFF0000

_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_AND_K = 0x54
_RET_K = 0x06

AF_UNIX = 1
AF_INET = 2
SOCK_STREAM = 1
SOCK_TYPE_MASK = 0xF
IPPROTO_TCP = 6
TIOCSTI = 0x5412
TIOCLINUX = 0x541C
S_ISUID_ISGID = 0o6000
# Calls that set a file's mode, and the index of the mode argument. A setuid or setgid bit on a
# file in the workspace would survive the run: with the console running as root, the command's
# uid is host root's, so such a file would be a setuid-root program on the host.
MODE_ARG: dict[str, dict[str, int]] = {
    "x86_64": {"chmod": 1, "fchmod": 1, "fchmodat": 2, "fchmodat2": 2, "open": 2, "openat": 3,
               "creat": 1, "mknod": 1, "mknodat": 2},
    "aarch64": {"fchmod": 1, "fchmodat": 2, "fchmodat2": 2, "openat": 3, "mknodat": 2},
}  # fmt: skip
# openat2 carries its mode inside a struct a filter cannot read: ENOSYS, so callers fall back.
ENOSYS_CALLS = ("clone3", "openat2")
# personality values Docker's default profile allows: PER_LINUX, PER_LINUX32, UNAME26 variants
# and the query value 0xffffffff.
PERSONALITY_ALLOWED = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)

DENIED = [
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "process_madvise",
    "pidfd_getfd",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "add_key",
    "request_key",
    "keyctl",
    "mount",
    "umount2",
    "pivot_root",
    "move_mount",
    "open_tree",
    "open_tree_attr",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "unshare",
    "setns",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    "get_kernel_syms",
    "query_module",
    "acct",
    "swapon",
    "swapoff",
    "reboot",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "iopl",
    "ioperm",
    "modify_ldt",
    "quotactl",
    "quotactl_fd",
    "lookup_dcookie",
    "vhangup",
    "syslog",
    "open_by_handle_at",
    "uselib",
    "ustat",
    "sysfs",
    "_sysctl",
    "nfsservctl",
    "fanotify_init",
    "setdomainname",
    "vserver",
    "afs_syscall",
    "tuxcall",
    "security",
]

# Numbers from the kernel's tables (asm/unistd_64.h and asm-generic/unistd.h).
SYSCALLS: dict[str, dict[str, int]] = {
    "x86_64": {
        "socket": 41, "socketpair": 53, "ioctl": 16, "clone": 56, "clone3": 435,
        "openat2": 437, "chmod": 90, "fchmod": 91, "fchmodat": 268, "fchmodat2": 452, "open": 2,
        "openat": 257, "creat": 85, "mknod": 133, "mknodat": 259,
        "personality": 135, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427, "ptrace": 101, "process_vm_readv": 310,
        "process_vm_writev": 311, "process_madvise": 440, "pidfd_getfd": 438, "bpf": 321,
        "perf_event_open": 298, "userfaultfd": 323, "add_key": 248, "request_key": 249,
        "keyctl": 250, "mount": 165, "umount2": 166, "pivot_root": 155, "move_mount": 429,
        "open_tree": 428, "open_tree_attr": 467, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
        "fspick": 433, "mount_setattr": 442, "unshare": 272, "setns": 308, "kexec_load": 246,
        "kexec_file_load": 320, "init_module": 175, "finit_module": 313, "delete_module": 176,
        "create_module": 174, "get_kernel_syms": 177, "query_module": 178, "acct": 163,
        "swapon": 167, "swapoff": 168, "reboot": 169, "settimeofday": 164,
        "clock_settime": 227, "clock_adjtime": 305, "adjtimex": 159, "iopl": 172, "ioperm": 173,
        "modify_ldt": 154, "quotactl": 179, "quotactl_fd": 443, "lookup_dcookie": 212,
        "vhangup": 153, "syslog": 103, "open_by_handle_at": 304, "uselib": 134, "ustat": 136,
        "sysfs": 139, "_sysctl": 156, "nfsservctl": 180, "fanotify_init": 300,
        "setdomainname": 171, "vserver": 236, "afs_syscall": 183, "tuxcall": 184,
        "security": 185,
    },
    "aarch64": {
        "socket": 198, "socketpair": 199, "ioctl": 29, "clone": 220, "clone3": 435,
        "openat2": 437, "fchmod": 52, "fchmodat": 53, "fchmodat2": 452, "openat": 56,
        "mknodat": 33,
        "personality": 92, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427, "ptrace": 117, "process_vm_readv": 270,
        "process_vm_writev": 271, "process_madvise": 440, "pidfd_getfd": 438, "bpf": 280,
        "perf_event_open": 241, "userfaultfd": 282, "add_key": 217, "request_key": 218,
        "keyctl": 219, "mount": 40, "umount2": 39, "pivot_root": 41, "move_mount": 429,
        "open_tree": 428, "open_tree_attr": 467, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
        "fspick": 433, "mount_setattr": 442, "unshare": 97, "setns": 268, "kexec_load": 104,
        "kexec_file_load": 294, "init_module": 105, "finit_module": 273, "delete_module": 106,
        "acct": 89, "swapon": 224, "swapoff": 225, "reboot": 142, "settimeofday": 170,
        "clock_settime": 112, "clock_adjtime": 266, "adjtimex": 171, "quotactl": 60,
        "quotactl_fd": 443, "lookup_dcookie": 18, "vhangup": 58, "syslog": 116,
        "open_by_handle_at": 265, "nfsservctl": 42, "fanotify_init": 262, "setdomainname": 162,
    },
}  # fmt: skip


def supported(machine: str = syscalls.MACHINE) -> bool:
    return machine in AUDIT_ARCH


@record
class Insn:
    code: int
    jt: int | str = 0
    jf: int | str = 0
    k: int = 0


def _ld_arg_low(index: int) -> Insn:
    # struct seccomp_data: nr (4), arch (4), ip (8), args[6] (8 each); little-endian low word.
    return Insn(_LD_W_ABS, k=16 + 8 * index)


def program(machine: str = syscalls.MACHINE, *, allow_inet_stream: bool = False) -> list[Insn]:
    """The filter as symbolic instructions; `assemble` resolves the labels."""
    table = SYSCALLS[machine]
    p: list[Insn | str] = [
        Insn(_LD_W_ABS, k=4),
        Insn(_JEQ_K, 0, "kill", AUDIT_ARCH[machine]),
        Insn(_LD_W_ABS, k=0),
    ]
    if machine == "x86_64":
        p.append(Insn(_JGE_K, "kill", 0, X32_SYSCALL_BIT))
    p += [
        Insn(_JEQ_K, "socket", 0, table["socket"]),
        Insn(_JEQ_K, "socketpair", 0, table["socketpair"]),
        Insn(_JEQ_K, "ioctl", 0, table["ioctl"]),
        Insn(_JEQ_K, "clone", 0, table["clone"]),
        *(Insn(_JEQ_K, "enosys", 0, table[name]) for name in ENOSYS_CALLS),
        Insn(_JEQ_K, "personality", 0, table["personality"]),
    ]
    modes = sorted(MODE_ARG[machine].items(), key=lambda kv: kv[1])
    p += [Insn(_JEQ_K, f"mode{index}", 0, table[name]) for name, index in modes]
    p += [Insn(_JEQ_K, "eperm", 0, table[name]) for name in DENIED if name in table]
    p += [Insn(_RET_K, k=RET_ALLOW)]

    p += ["socket", _ld_arg_low(0), Insn(_JEQ_K, "allow", 0, AF_UNIX)]
    if allow_inet_stream:
        p += [
            Insn(_JEQ_K, 0, "eafnosupport", AF_INET),
            _ld_arg_low(1),
            Insn(_AND_K, k=SOCK_TYPE_MASK),
            Insn(_JEQ_K, 0, "eafnosupport", SOCK_STREAM),
            _ld_arg_low(2),
            Insn(_JEQ_K, "allow", 0, 0),
            Insn(_JEQ_K, "allow", 0, IPPROTO_TCP),
        ]
    p += ["eafnosupport", Insn(_RET_K, k=RET_ERRNO | errno.EAFNOSUPPORT)]
    p += [
        "socketpair",
        _ld_arg_low(0),
        Insn(_JEQ_K, "allow", 0, AF_UNIX),
        Insn(_RET_K, k=RET_ERRNO | errno.EAFNOSUPPORT),
        "ioctl",
        _ld_arg_low(1),
        Insn(_JEQ_K, "eperm", 0, TIOCSTI),
        Insn(_JEQ_K, "eperm", "allow", TIOCLINUX),
        "clone",
        _ld_arg_low(0),
        Insn(_JSET_K, "eperm", "allow", _low32(syscalls.CLONE_NS_FLAGS)),
    ]
    for index in sorted({i for _, i in modes}):  # mode_t is 32 bits: the low word is all
        p += [f"mode{index}", _ld_arg_low(index), Insn(_JSET_K, "eperm", "allow", S_ISUID_ISGID)]
    p += ["personality", _ld_arg_low(0)]
    p += [Insn(_JEQ_K, "allow", 0, v) for v in PERSONALITY_ALLOWED]
    p += [
        Insn(_RET_K, k=RET_ERRNO | errno.EPERM),
        "kill",
        Insn(_RET_K, k=RET_KILL_PROCESS),
        "allow",
        Insn(_RET_K, k=RET_ALLOW),
        "eperm",
        Insn(_RET_K, k=RET_ERRNO | errno.EPERM),
        "enosys",
        Insn(_RET_K, k=RET_ERRNO | errno.ENOSYS),
    ]
    return _resolve(p)


def _low32(v: int) -> int:
    return v & 0xFFFFFFFF


def _resolve(items: list[Insn | str]) -> list[Insn]:
    labels: dict[str, int] = {}
    insns: list[Insn] = []
    for item in items:
        if isinstance(item, str):
            if item in labels:
                raise ValueError(f"label {item} defined twice")
            labels[item] = len(insns)
        else:
            insns.append(item)
    out: list[Insn] = []
    for i, insn in enumerate(insns):

        def offset(target: int | str, i: int = i) -> int:
            if isinstance(target, int):
                return target
            delta = labels[target] - (i + 1)
            if not 0 <= delta <= 255:
                raise ValueError(f"jump to {target} out of range ({delta})")
            return delta

        out.append(Insn(insn.code, offset(insn.jt), offset(insn.jf), insn.k))
    return out


def assemble(insns: list[Insn]) -> bytes:
    return b"".join(struct.pack("=HBBI", i.code, int(i.jt), int(i.jf), i.k) for i in insns)


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


def install(code: bytes) -> None:
    """Load the filter into this process; no_new_privs must already be set."""
    buf = ctypes.create_string_buffer(code, len(code))
    prog = _SockFprog(len(code) // 8, ctypes.cast(buf, ctypes.c_void_p))
    syscalls.syscall(
        syscalls.NR_SECCOMP,
        ctypes.c_uint(1),  # SECCOMP_SET_MODE_FILTER
        ctypes.c_uint(0),
        ctypes.byref(prog),
        what="seccomp",
    )


def available() -> bool:
    """True when the kernel was built with seccomp filters (PR_GET_SECCOMP answers)."""
    try:
        syscalls.prctl(syscalls.PR_GET_SECCOMP)
    except OSError:
        return False
    return True

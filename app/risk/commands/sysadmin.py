"""System administration: sudo, disks, power, accounts, kernel, firewall, services, cron,
process killing, and the wrappers that only run another command (nohup, timeout, …).
"""

from __future__ import annotations

import re

from app.core.model import Category as K
from app.risk.analysis import Analyzer, short
from app.risk.commands.args import q
from app.risk.commands.registry import Family, Handler, h_noop
from app.risk.shell import SHELLS, SimpleCommand

SUDO_LIKE = frozenset({"sudo", "doas", "pkexec", "su", "runuser", "sg"})


DESTRUCTIVE_DISK = frozenset(
    {
        "mkfs",
        "mke2fs",
        "mkswap",
        "wipefs",
        "fdisk",
        "sfdisk",
        "gdisk",
        "sgdisk",
        "parted",
        "cfdisk",
        "cryptsetup",
        "blkdiscard",
        "badblocks",
        "mkdosfs",
        "mkntfs",
        "diskutil",
        "format",
        "hdparm",
        "nvme",
        "sg_format",
    }
)


POWER = frozenset({"shutdown", "reboot", "halt", "poweroff", "init", "telinit", "kexec"})


ACCOUNT = frozenset(
    {
        "useradd",
        "userdel",
        "usermod",
        "adduser",
        "deluser",
        "groupadd",
        "groupdel",
        "groupmod",
        "passwd",
        "chpasswd",
        "chage",
        "visudo",
        "vipw",
        "chsh",
        "chfn",
        "gpasswd",
        "newusers",
        "pwck",
        "dscl",
        "sysadminctl",
    }
)


KERNEL = frozenset(
    {
        "modprobe",
        "insmod",
        "rmmod",
        "kextload",
        "kmutil",
        "sysctl",
        "mount",
        "umount",
        "swapon",
        "swapoff",
        "losetup",
        "dmsetup",
        "setcap",
        "chattr",
        "setenforce",
        "aa-disable",
        "aa-complain",
        "auditctl",
        "csrutil",
        "spctl",
        "nvram",
        "bless",
        "efibootmgr",
        "grub-install",
        "update-grub",
        "ldconfig",
        "update-alternatives",
        "tune2fs",
        "debugfs",
        "xfs_repair",
        "fsck",
        "e2fsck",
        "pivot_root",
        "capsh",
        "ip",
        "route",
        "ifconfig",
        "iwconfig",
        "nmcli",
        "tc",
        "brctl",
        "arp",
    }
)


FIREWALL = frozenset(
    {
        "iptables",
        "ip6tables",
        "nft",
        "ufw",
        "firewall-cmd",
        "pfctl",
        "iptables-restore",
        "ip6tables-restore",
        "ebtables",
        "arptables",
    }
)


SECURITY_SERVICES = re.compile(
    r"firewalld|ufw|apparmor|auditd|selinux|fail2ban|clamav|clamd|falcon|crowdstrike|osquery|"
    r"wazuh|ossec|sysmon|sshguard|nftables|iptables|netfilter|defender|xprotect|gatekeeper|"
    r"syslog|rsyslog|journald"
)


def h_sudo(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name or ""
    vals = [w.value or "" for w in c.args]
    inner = c.wrapper_of
    interactive = name in ("su",) and not any(v in ("-c", "--command") for v in vals)
    if name in ("sudo", "doas") and (inner is None):
        if (
            any(
                v in ("-s", "-i", "--shell", "--login")
                or re.fullmatch(r"-[a-zA-Z]*[si][a-zA-Z]*", v)
                for v in vals
            )
            or not vals
        ):
            interactive = True
        elif any(v in ("-e", "--edit") for v in vals) or c.name == "sudoedit":
            an.add(K.PRIVILEGE, 70, "edits files as root", c.span)
            return
        elif any(v in ("-l", "--list", "-v", "-k", "-K", "-V") for v in vals):
            an.add(K.PRIVILEGE, 36, f"asks `{name}` about your root privileges", c.span)
            return
    if inner is not None:
        inner_name = an.script.commands[inner].name or ""
        if inner_name in SHELLS | {"su"} and not any(
            w.value == "-c" for w in an.script.commands[inner].args
        ):
            interactive = True
    if interactive:
        an.add(K.PRIVILEGE, 85, f"opens a root shell with `{name}`", c.span)
        return
    if name in ("su", "runuser") and not interactive:
        an.add(K.PRIVILEGE, 70, f"runs a command as another user with `{name}`", c.span)
        return
    an.add(K.PRIVILEGE, 65, f"runs the command as root with `{name}`", c.argv[0].span)


def h_disk(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name or ""
    pos = [w for w in c.args if not (w.value or "").startswith("-")]
    read_only = any(
        (w.value or "") in ("-l", "--list", "print", "-p", "info", "list") for w in c.args
    )
    if read_only and name not in ("mkfs", "wipefs", "blkdiscard"):
        an.add(K.PRIVILEGE, 20, f"`{name}` reads the partition table", c.span)
        return
    devices = [w for w in pos if (w.value or "").startswith("/dev/")]
    device_first = name in ("parted", "fdisk", "sfdisk", "gdisk", "sgdisk", "cfdisk", "hdparm")
    target = (
        devices[0] if devices else (pos[0] if device_first and pos else pos[-1] if pos else None)
    )
    if target is not None and target.value:
        info = an.path(c, target.value)
        if info.where in ("workspace", "tmp"):
            an.add(
                K.DESTRUCTIVE,
                40,
                f"`{name}` formats {info.display}, a disk image file",
                target.span,
            )
            return
    what = q(target) if target is not None else "a disk"
    an.add(
        K.DESTRUCTIVE,
        95,
        f"`{name}` erases or re-partitions {what}: everything on it is lost",
        c.span,
    )


def h_power(an: Analyzer, c: SimpleCommand) -> None:
    if c.name == "init" and not any((w.value or "") in ("0", "6", "1", "s", "S") for w in c.args):
        an.add(K.PRIVILEGE, 40, "talks to init", c.span)
        return
    an.add(K.DESTRUCTIVE, 85, f"`{c.name}` shuts down or restarts the machine", c.span)


def h_account(an: Analyzer, c: SimpleCommand) -> None:
    an.add(K.PERSISTENCE, 80, f"`{c.name}` changes user accounts or passwords", c.span)


def h_kernel(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name or ""
    vals = [w.value or "" for w in c.args]
    if name == "sysctl" and not any(
        v in ("-w", "--write", "-p", "--load", "--system") or "=" in v for v in vals
    ):
        return
    if name in ("mount", "umount") and not vals:
        return
    if name in ("ip", "route", "ifconfig", "iwconfig", "nmcli", "arp", "tc", "brctl") and not any(
        v
        in (
            "add",
            "del",
            "delete",
            "set",
            "flush",
            "change",
            "replace",
            "up",
            "down",
            "modify",
            "connect",
            "disconnect",
            "-d",
            "-s",
        )
        for v in vals
    ):
        return
    if name == "setenforce" and vals and vals[0] in ("0", "Permissive", "permissive"):
        an.add(K.PRIVILEGE, 85, "turns off SELinux enforcement", c.span)
        return
    if name == "chattr":
        an.add(K.PRIVILEGE, 60, "changes file attributes (can make files undeletable)", c.span)
        return
    if name == "ldconfig" and not vals:
        an.add(K.PRIVILEGE, 40, "rebuilds the system library cache", c.span)
        return
    an.add(
        K.PRIVILEGE,
        75,
        f"`{name}` changes the running system (kernel, mounts, network, security settings)",
        c.span,
    )


def h_firewall(an: Analyzer, c: SimpleCommand) -> None:
    vals = [w.value or "" for w in c.args]
    joined = " ".join(vals)
    if re.search(
        r"(^|\s)(-L|--list|-S|--list-rules|status|list|--state|-nL|-vL|-nvL|--get-)", joined
    ) and not re.search(r"-F|--flush|-X|-D|-A|-I|-P|disable|reset|-d", joined):
        an.add(K.PRIVILEGE, 15, "lists firewall rules", c.span)
        return
    if (
        re.search(
            r"(^|\s)(-F|--flush|-X|flush|disable|reset|--panic-off)(\s|$)|-P \w+ ACCEPT|"
            r"(^|\s)-d(\s|$)|--set-default-zone=trusted",
            joined,
        )
        or not vals
    ):
        an.add(
            K.PRIVILEGE,
            85,
            f"turns off or flushes the firewall ({c.name} {short(joined, 30)})",
            c.span,
        )
        return
    an.add(K.PRIVILEGE, 75, f"changes firewall rules ({c.name} {short(joined, 30)})", c.span)


def h_systemctl(an: Analyzer, c: SimpleCommand) -> None:
    vals = [w.value or "" for w in c.args if not (w.value or "").startswith("-")]
    user = any(w.value == "--user" for w in c.args)
    sub = vals[0] if vals else ""
    units = " ".join(vals[1:])
    if sub in (
        "",
        "status",
        "list-units",
        "list-unit-files",
        "list-timers",
        "is-active",
        "is-enabled",
        "is-failed",
        "show",
        "cat",
        "list-dependencies",
        "list-sockets",
        "help",
        "--version",
    ):
        an.add(K.PRIVILEGE, 5, f"shows service status ({sub or 'list'})", c.span)
        return
    if sub in (
        "poweroff",
        "reboot",
        "halt",
        "kexec",
        "suspend",
        "hibernate",
        "rescue",
        "emergency",
        "isolate",
        "soft-reboot",
    ):
        an.add(K.DESTRUCTIVE, 85, f"`systemctl {sub}` stops or restarts the machine", c.span)
        return
    if sub in ("stop", "disable", "mask", "kill") and SECURITY_SERVICES.search(units):
        an.add(K.PRIVILEGE, 85, f"turns off {units}, a security service", c.span)
        return
    if sub in (
        "enable",
        "link",
        "add-wants",
        "set-default",
        "edit",
        "preset",
        "revert",
        "daemon-reload",
        "reenable",
    ):
        an.add(
            K.PERSISTENCE,
            75 if not user else 70,
            f"`systemctl {sub} {short(units, 30)}` makes a service start on its own",
            c.span,
        )
        return
    an.add(
        K.PRIVILEGE,
        65,
        f"`systemctl {sub} {short(units, 30)}` starts, stops or changes system services",
        c.span,
    )


def h_service(an: Analyzer, c: SimpleCommand) -> None:
    vals = [w.value or "" for w in c.args]
    if len(vals) >= 2 and vals[1] in ("stop",) and SECURITY_SERVICES.search(vals[0]):
        an.add(K.PRIVILEGE, 85, f"stops {vals[0]}, a security service", c.span)
    elif (len(vals) >= 2 and vals[1] == "status") or "--status-all" in vals:
        an.add(K.PRIVILEGE, 5, "shows service status", c.span)
    else:
        an.add(
            K.PRIVILEGE,
            65,
            f"starts, stops or changes the system service {short(' '.join(vals), 30)}",
            c.span,
        )


def h_crontab(an: Analyzer, c: SimpleCommand) -> None:
    vals = [w.value or "" for w in c.args]
    if "-l" in vals and not any(v in ("-", "-e", "-r") for v in vals):
        # Outside the workspace: what runs on this machine and when, often with tokens in
        # the job lines; the listing reaches the agent and its model provider.
        an.add(
            K.SECRETS,
            36,
            "lists your scheduled jobs (crontab -l): they show what runs on this machine and "
            "often hold credentials; the listing would reach the agent",
            c.span,
        )
        return
    if "-r" in vals:
        an.add(K.DESTRUCTIVE, 60, "deletes all your scheduled jobs", c.span)
        return
    an.add(
        K.PERSISTENCE,
        80,
        "installs scheduled jobs (crontab): they run later, on their own, outside the sandbox",
        c.span,
    )


def h_at(an: Analyzer, c: SimpleCommand) -> None:
    if any((w.value or "") in ("-l", "-r", "-d", "-c") for w in c.args) or c.name in (
        "atq",
        "atrm",
    ):
        an.add(K.PERSISTENCE, 20, "inspects or removes queued jobs", c.span)
        return
    an.add(K.PERSISTENCE, 70, f"queues a job with `{c.name}` that runs later, on its own", c.span)


def h_launchctl(an: Analyzer, c: SimpleCommand) -> None:
    vals = [w.value or "" for w in c.args]
    if vals and vals[0] in ("list", "print", "blame", "version", "help"):
        an.add(K.PERSISTENCE, 5, "lists launchd jobs", c.span)
        return
    an.add(
        K.PERSISTENCE,
        80,
        f"`launchctl {' '.join(vals[:2])}` installs or changes a service that starts on its own",
        c.span,
    )


_SYSTEM_PROCS = re.compile(
    r"\b(sshd|systemd|init|dockerd|containerd|kubelet|Xorg|Xwayland|gnome-shell|kwin|"
    r"sddm|gdm|lightdm|NetworkManager|dbus|journald|rsyslogd|auditd|firewalld|cron|crond|"
    r"polkitd|udevd|login|agetty|launchd|WindowServer|loginwindow|tmux|screen)\b"
)


def h_kill(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name or ""
    vals = [w.value or "" for w in c.args]
    cmds = an.script.commands
    fed = [cmds[i] for w in c.args for i in w.subs]
    fed_text = " ".join(w.best for f in fed for w in f.argv if f.name in ("pgrep", "pidof"))
    patterns = " ".join(v for v in vals if not v.startswith("-")) if name != "kill" else fed_text
    m = _SYSTEM_PROCS.search(patterns)
    if m:
        an.add(
            K.DESTRUCTIVE,
            75,
            f"kills {m.group(1)}, a system service (logins, the desktop "
            "or the machine's plumbing depend on it)",
            c.span,
        )
        return
    if name == "kill" and fed and not fed_text:
        an.add(K.DESTRUCTIVE, 45, "stops processes chosen at run time", c.span)
        return
    pos = [v for v in vals if not v.startswith("-") or (re.fullmatch(r"-\d+", v) and v != vals[0])]
    if name == "kill":
        targets = [v for v in vals if re.fullmatch(r"-?\d+|%\S*", v)]
        sig_first = vals and re.fullmatch(r"-(\d+|[A-Z]+|s|n)", vals[0]) is not None
        if sig_first and targets and targets[0] == vals[0]:
            targets = targets[1:]
        if any(t in ("-1", "1") for t in targets) or any(
            t.startswith("-") and t != "-1" for t in targets
        ):
            an.add(
                K.DESTRUCTIVE,
                85,
                "kills every process it can reach (kill -1 / a process group)",
                c.span,
            )
            return
        if targets and all(t.startswith("%") for t in targets):
            an.add(K.RESOURCE, 10, "stops a job this shell started", c.span)
            return
        if "-l" in vals or "-L" in vals:
            return
        an.add(
            K.DESTRUCTIVE,
            40,
            f"stops process {' '.join(targets) or '?'}, which may not belong to this task",
            c.span,
        )
        return
    if name == "killall5":
        an.add(K.DESTRUCTIVE, 90, "kills every process on the machine", c.span)
        return
    if any(v in ("-u", "--user", "-U") for v in vals) or (
        name == "pkill" and any(v in (".", ".*", "") for v in pos)
    ):
        an.add(K.DESTRUCTIVE, 75, "kills every process of a user", c.span)
        return
    an.add(
        K.DESTRUCTIVE,
        40,
        f"`{name}` stops processes matching {q(' '.join(pos[:2]) or '?')}, "
        "which may not belong to this task",
        c.span,
    )


def _defaults(an: Analyzer, c: SimpleCommand) -> None:
    vals = [w.value or "" for w in c.args]
    if "write" not in vals:
        return
    if any(re.search(r"LoginHook|LogoutHook|LaunchAgents|StartupItems", v) for v in vals):
        an.add(K.PERSISTENCE, 85, "makes macOS run a program at every login", c.span)
    else:
        an.add(K.PERSISTENCE, 45, "changes macOS preferences", c.span)


def _detach(an: Analyzer, c: SimpleCommand) -> None:
    """`nohup … &`, `setsid …`: a process that outlives the action (a server, a worker)."""
    if c.background or c.name == "setsid":
        an.add(
            K.RESOURCE,
            40,
            f"starts a process with `{c.name}` that keeps running after the action and "
            "after the review",
            c.span,
        )


EXACT: dict[str, Handler] = {
    "systemctl": h_systemctl,
    "service": h_service,
    "crontab": h_crontab,
    "at": h_at,
    "batch": h_at,
    "atq": h_at,
    "atrm": h_at,
    "launchctl": h_launchctl,
    "kill": h_kill,
    "pkill": h_kill,
    "killall": h_kill,
    "killall5": h_kill,
    "xkill": h_kill,
    "sudoedit": h_sudo,
    "nohup": lambda an, c: _detach(an, c),
    "setsid": lambda an, c: _detach(an, c),
    "disown": lambda an, c: an.add(
        K.RESOURCE, 40, "detaches background jobs so they outlive the action", c.span
    ),
    "deactivate": h_noop,
    "exec": h_noop,
    "command": h_noop,
    "builtin": h_noop,
    "timeout": h_noop,
    "nice": h_noop,
    "ionice": h_noop,
    "stdbuf": h_noop,
    "xargs": h_noop,
    "watch": h_noop,
    "flock": h_noop,
    "strace": h_noop,
    "ltrace": h_noop,
    "time": h_noop,
    "chrt": h_noop,
    "taskset": h_noop,
    "unbuffer": h_noop,
    "caffeinate": h_noop,
    "catchsegv": h_noop,
    "fakeroot": h_noop,
    "busybox": h_noop,
    "script": h_noop,
    "firejail": h_noop,
    "chroot": lambda an, c: an.add(K.PRIVILEGE, 60, "changes the root directory (chroot)", c.span),
    "unshare": lambda an, c: an.add(K.PRIVILEGE, 40, "runs a command in new namespaces", c.span),
    "nsenter": lambda an, c: an.add(K.PRIVILEGE, 75, "enters another process's namespaces", c.span),
    "systemd-run": lambda an, c: an.add(
        K.PERSISTENCE, 60, "starts a transient system service", c.span
    ),
    "fuser": lambda an, c: an.add(
        K.DESTRUCTIVE if any(w.value == "-k" for w in c.args) else K.RESOURCE,
        40 if any(w.value == "-k" for w in c.args) else 0,
        "kills the processes using a file or port"
        if any(w.value == "-k" for w in c.args)
        else "lists the processes using a file or port",
        c.span,
    ),
    "defaults": lambda an, c: _defaults(an, c),
}

FAMILIES: tuple[Family, ...] = (
    (SUDO_LIKE, h_sudo),
    (DESTRUCTIVE_DISK, h_disk),
    (POWER, h_power),
    (ACCOUNT, h_account),
    (KERNEL, h_kernel),
    (FIREWALL, h_firewall),
)

"""Programs that run another program: how to find the command inside them.

`sudo -u x env A=1 timeout 5 rm -rf ~` is an `rm`; a reviewer must be told so. Each entry knows
which options take a value, so `timeout -s KILL 5 rm …` is peeled right and `nice -n 5` is not
mistaken for a program called `5`.
"""

from __future__ import annotations

from dataclasses import replace

from app.risk.word import Word

SHELLS = frozenset({"bash", "sh", "zsh", "dash", "ksh", "ash", "mksh", "yash", "fish", "rbash"})

Peeled = tuple[list["Word"], str, tuple[tuple[str, "Word"], ...], bool]


def _first_positional(
    argv: tuple[Word, ...] | list[Word],
    start: int,
    value_opts: frozenset[str] = frozenset(),
    *,
    stop_opts: frozenset[str] = frozenset(),
) -> int | None:
    """Index of the first non-option word at or after `start`; None if a stop option is seen.

    Short options may be clustered (`-iu NAME`): a cluster whose last letter takes a value eats
    the next word. Long options take `--opt=value` or `--opt value` when listed in `value_opts`.
    """
    i = start
    while i < len(argv):
        v = argv[i].value
        if v is None:
            return i
        if v == "--":
            return i + 1
        if not v.startswith("-") or v == "-":
            return i
        if v in stop_opts:
            return None
        if v.startswith("--"):
            name = v.split("=", 1)[0]
            if name in stop_opts:
                return None
            if "=" not in v and name in value_opts:
                i += 2
            else:
                i += 1
            continue
        # short cluster
        letters = v[1:]
        consumed_next = False
        for k, ch in enumerate(letters):
            opt = "-" + ch
            if opt in stop_opts:
                return None
            if opt in value_opts:
                if k == len(letters) - 1:
                    consumed_next = True
                break  # the rest of the cluster is the value
        i += 2 if consumed_next else 1
    return None


_SUDO_VALUES = frozenset(
    {
        "-u",
        "-g",
        "-h",
        "-p",
        "-C",
        "-D",
        "-r",
        "-t",
        "-T",
        "-U",
        "--user",
        "--group",
        "--host",
        "--prompt",
        "--chdir",
        "--role",
        "--type",
        "--close-from",
        "--other-user",
        "--command-timeout",
    }
)
_ENV_VALUES = frozenset({"-u", "--unset", "-C", "--chdir", "-S", "--split-string"})
_TIMEOUT_VALUES = frozenset({"-s", "--signal", "-k", "--kill-after"})
_NICE_VALUES = frozenset({"-n", "--adjustment"})
_IONICE_VALUES = frozenset({"-c", "--class", "-n", "--classdata"})
_TIME_VALUES = frozenset({"-f", "--format", "-o", "--output"})
_STDBUF_VALUES = frozenset({"-i", "-o", "-e", "--input", "--output", "--error"})
_XARGS_VALUES = frozenset(
    {
        "-a",
        "--arg-file",
        "-d",
        "--delimiter",
        "-E",
        "-e",
        "-I",
        "-L",
        "-l",
        "-n",
        "--max-args",
        "-P",
        "--max-procs",
        "-s",
        "--max-chars",
        "--process-slot-var",
        "--eof",
        "--replace",
        "--max-lines",
    }
)
_STRACE_VALUES = frozenset({"-o", "-e", "-p", "-s", "-u", "-E", "-P", "-a", "-b", "-X", "-I", "-S"})
_DOAS_VALUES = frozenset({"-u", "-C"})
_FLOCK_VALUES = frozenset({"-w", "--timeout", "-E", "--conflict-exit-code"})
_NSENTER_VALUES = frozenset({"-t", "--target", "-S", "--setuid", "-G", "--setgid", "-r", "-w"})
_SYSTEMD_RUN_VALUES = frozenset(
    {
        "-u",
        "--unit",
        "-p",
        "--property",
        "-d",
        "--description",
        "--slice",
        "-E",
        "--setenv",
        "--on-calendar",
        "--on-active",
        "-M",
        "--machine",
        "-H",
        "--host",
        "--uid",
        "--gid",
        "--working-directory",
        "--nice",
    }
)

# name -> (options that take a value, positional words before the command, options that mean
# "no command follows")
_SIMPLE: dict[str, tuple[frozenset[str], int, frozenset[str]]] = {
    "sudo": (
        _SUDO_VALUES,
        0,
        frozenset(
            {
                "-l",
                "--list",
                "-v",
                "--validate",
                "-k",
                "-K",
                "-e",
                "--edit",
                "-V",
                "--version",
                "-h",
                "--help",
            }
        ),
    ),
    "doas": (_DOAS_VALUES, 0, frozenset()),
    "pkexec": (frozenset({"--user"}), 0, frozenset()),
    "nohup": (frozenset(), 0, frozenset()),
    "setsid": (frozenset(), 0, frozenset()),
    "time": (_TIME_VALUES, 0, frozenset()),
    "nice": (_NICE_VALUES, 0, frozenset()),
    "ionice": (_IONICE_VALUES, 0, frozenset({"-p", "--pid", "-P", "--pgid", "-u", "--uid"})),
    "timeout": (_TIMEOUT_VALUES, 1, frozenset()),
    "stdbuf": (_STDBUF_VALUES, 0, frozenset()),
    "command": (frozenset(), 0, frozenset({"-v", "-V"})),
    "builtin": (frozenset(), 0, frozenset()),
    "exec": (frozenset({"-a"}), 0, frozenset()),
    "unbuffer": (frozenset(), 0, frozenset()),
    "caffeinate": (frozenset({"-t", "-w"}), 0, frozenset()),
    "strace": (_STRACE_VALUES, 0, frozenset({"-p"})),
    "ltrace": (_STRACE_VALUES, 0, frozenset({"-p"})),
    "torsocks": (frozenset({"-u", "-p", "-a", "-P"}), 0, frozenset()),
    "proxychains": (frozenset({"-f"}), 0, frozenset()),
    "proxychains4": (frozenset({"-f"}), 0, frozenset()),
    "chroot": (frozenset({"--userspec", "--groups"}), 1, frozenset()),
    "unshare": (
        frozenset(
            {
                "-S",
                "--setuid",
                "-G",
                "--setgid",
                "-R",
                "--root",
                "-w",
                "--wd",
                "--map-user",
                "--map-group",
                "--propagation",
            }
        ),
        0,
        frozenset(),
    ),
    "nsenter": (_NSENTER_VALUES, 0, frozenset()),
    "flock": (_FLOCK_VALUES, 1, frozenset({"-c", "--command"})),
    "chrt": (frozenset(), 1, frozenset({"-p", "--pid"})),
    "taskset": (frozenset({"-c"}), 1, frozenset({"-p", "--pid"})),
    "systemd-run": (_SYSTEMD_RUN_VALUES, 0, frozenset()),
    "firejail": (frozenset(), 0, frozenset()),
    "busybox": (frozenset(), 0, frozenset({"--list", "--help"})),
    "runuser": (frozenset({"-u", "--user", "-g", "--group", "-G"}), 0, frozenset({"-c", "-l"})),
    "xargs": (_XARGS_VALUES, 0, frozenset()),
    "catchsegv": (frozenset(), 0, frozenset()),
    "dbus-launch": (frozenset(), 0, frozenset()),
    "fakeroot": (frozenset(), 0, frozenset()),
    "sg": (frozenset(), 1, frozenset()),
}

WRAPPERS = frozenset(_SIMPLE) | {"env", "find"}


def _is_assignment(v: str | None) -> bool:
    if not v or "=" not in v or v.startswith("="):
        return False
    name = v.split("=", 1)[0]
    return name.replace("_", "a").isalnum() and not name[0].isdigit()


def peel_wrapper(name: str, argv: tuple[Word, ...]) -> Peeled | None:
    """The command a wrapper runs: (argv, label, extra env assignments, args-from-stdin)."""
    if name == "env":
        i = 1
        assigns: list[tuple[str, Word]] = []
        while i < len(argv):
            v = argv[i].value
            if v is None:
                break
            if v == "--":
                i += 1
                continue
            if v in ("-S", "--split-string") or v.startswith("--split-string="):
                # env -S 'prog args': the string is split into words (no shell). Peel it as one
                # opaque word so the program is still visible when it is literal.
                return None
            if v.startswith("-") and v != "-":
                i += 2 if v in _ENV_VALUES else 1
                continue
            if _is_assignment(v):
                k, _val = v.split("=", 1)
                assigns.append((k, argv[i]))
                i += 1
                continue
            break
        if i >= len(argv):
            return None
        return list(argv[i:]), "env", tuple(assigns), False
    if name == "find":
        return None  # handled by find_exec, it may hold several commands
    spec = _SIMPLE.get(name)
    if spec is None:
        return None
    values, positional, stops = spec
    idx = _first_positional(argv, 1, values, stop_opts=stops)
    if idx is None:
        return None
    idx += positional
    if idx >= len(argv):
        return None
    return list(argv[idx:]), name, (), name == "xargs"


def find_matches(argv: tuple[Word, ...]) -> list[str]:
    """What `find` prints, as glob paths: each start point joined with the -name pattern."""
    roots = [w.value for w in find_roots(argv) if w.value is not None] or ["."]
    pattern = "*"
    vals = [w.value for w in argv]
    for k in range(1, len(vals) - 1):
        if vals[k] in ("-name", "-iname", "-path", "-ipath", "-wholename"):
            nxt = vals[k + 1]
            if nxt:
                pattern = nxt.lstrip("./") if vals[k] in ("-path", "-ipath") else nxt
            break
    return [f"{r.rstrip('/')}/**/{pattern}" if r.rstrip("/") else f"/**/{pattern}" for r in roots]


def find_exec(argv: tuple[Word, ...]) -> list[list[Word]]:
    """Commands `find … -exec CMD {} ;` would run, with `{}` standing for the files found.

    `{}` becomes a synthetic path made from find's start points and its -name pattern, so
    `find / -name '*.pem' -exec cat {} \\;` is read as `cat /**/*.pem` — a read of key files.
    """
    roots: list[str] = []
    i = 1
    while i < len(argv):
        v = argv[i].value
        if v is None or v.startswith("-") or v in ("(", "!", ")"):
            break
        roots.append(v)
        i += 1
    if not roots:
        roots = ["."]
    pattern = "*"
    for k in range(i, len(argv) - 1):
        if argv[k].value in ("-name", "-iname", "-path", "-ipath", "-wholename", "-regex"):
            nxt = argv[k + 1].value
            if nxt:
                pattern = nxt.lstrip("./") if argv[k].value in ("-path", "-ipath") else nxt
            break
    out: list[list[Word]] = []
    while i < len(argv):
        v = argv[i].value
        if v in ("-exec", "-execdir", "-ok", "-okdir"):
            j = i + 1
            cmd: list[Word] = []
            while j < len(argv) and argv[j].value not in (";", "+"):
                w = argv[j]
                if w.value is not None and "{}" in w.value:
                    root = roots[0].rstrip("/") or ""
                    synthetic = f"{root}/**/{pattern}" if root else f"/**/{pattern}"
                    val = w.value.replace("{}", synthetic)
                    w = replace(w, value=val, text=val, exact=None)
                cmd.append(w)
                j += 1
            if cmd:
                out.append(cmd)
            i = j + 1
            continue
        i += 1
    return out


def find_roots(argv: tuple[Word, ...]) -> list[Word]:
    out: list[Word] = []
    for w in argv[1:]:
        v = w.value
        if v is None or v.startswith("-") or v in ("(", "!", ")"):
            break
        out.append(w)
    return out


def shell_script_word(name: str, argv: tuple[Word, ...]) -> tuple[Word, str] | None:
    """Shell code handed to another shell as a string, and how it was handed over."""
    if name in SHELLS or (name == "busybox" and len(argv) > 1 and argv[1].value in SHELLS):
        start = 2 if name == "busybox" else 1
        has_c = False
        i = start
        while i < len(argv):
            v = argv[i].value
            if v is None:
                break
            if v == "--":
                i += 1
                break
            if v.startswith("--"):
                i += 2 if v in ("--rcfile", "--init-file") else 1
                continue
            if (v.startswith("-") or v.startswith("+")) and len(v) > 1:
                letters = v[1:]
                if "c" in letters:
                    has_c = True
                i += 2 if ("o" in letters or "O" in letters) and not has_c else 1
                continue
            break
        if has_c and i < len(argv):
            return argv[i], f"{name} -c"
        return None
    if name in ("su", "runuser"):
        for k in range(1, len(argv) - 1):
            if argv[k].value in ("-c", "--command", "--session-command"):
                return argv[k + 1], f"{name} -c"
        return None
    if name in ("script", "flock"):
        for k in range(1, len(argv) - 1):
            if argv[k].value in ("-c", "--command"):
                return argv[k + 1], f"{name} -c"
        return None
    if name in ("eval", "watch"):
        start = 1
        if name == "watch":
            start = _first_positional(
                argv, 1, frozenset({"-n", "--interval", "-d", "-g", "-q", "--differences"})
            ) or len(argv)
            if start > 1 and argv[start - 1].value in ("-d", "--differences"):
                start -= 1  # -d takes an optional value; do not eat the command
        words = argv[start:]
        if not words:
            return None
        if len(words) == 1:
            return words[0], name
        if any(w.value is None for w in words):
            subs = tuple(s for w in words for s in w.subs)
            text = " ".join(w.text for w in words)
            return Word(
                None, text, (words[0].span[0], words[-1].span[1]), subs=subs, expanded=True
            ), name
        joined = " ".join(w.value or "" for w in words)
        return Word(joined, joined, (words[0].span[0], words[-1].span[1])), name
    return None

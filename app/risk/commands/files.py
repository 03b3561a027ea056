"""Files: readers and listers, writers, copies, deletion, permissions, archives, `find`,
`sed`, decoders and `echo`/`printf`.
"""

from __future__ import annotations

import re

from app.core.model import Category as K
from app.risk.analysis import Analyzer, short
from app.risk.commands.args import PUBLISH_WORDS, has, q, split_args, val
from app.risk.commands.effects import (
    _network_note,
    delete_target,
    overwrite_loss,
    read_target,
    write_target,
)
from app.risk.commands.registry import Family, Handler
from app.risk.commands.sysadmin import h_kernel
from app.risk.netutil import parse_target
from app.risk.paths import PathInfo
from app.risk.shell import SimpleCommand, Word
from app.risk.wrappers import find_matches

READ_ONLY = frozenset(
    [
        "ls",
        "dir",
        "vdir",
        "cat",
        "tac",
        "head",
        "tail",
        "less",
        "more",
        "most",
        "bat",
        "batcat",
        "wc",
        "grep",
        "egrep",
        "fgrep",
        "rg",
        "ag",
        "ack",
        "fd",
        "fdfind",
        "tree",
        "pwd",
        "echo",
        "printf",
        "true",
        "false",
        "test",
        "[",
        "diff",
        "cmp",
        "comm",
        "uniq",
        "cut",
        "tr",
        "paste",
        "join",
        "column",
        "fold",
        "fmt",
        "nl",
        "sort",
        "split",
        "csplit",
        "fzf",
        "sk",
        "od",
        "hexdump",
        "xxd",
        "file",
        "stat",
        "du",
        "df",
        "which",
        "type",
        "whereis",
        "whoami",
        "id",
        "groups",
        "date",
        "cal",
        "uname",
        "hostname",
        "arch",
        "nproc",
        "free",
        "uptime",
        "ps",
        "pgrep",
        "top",
        "htop",
        "lsof",
        "ss",
        "netstat",
        "basename",
        "dirname",
        "realpath",
        "readlink",
        "seq",
        "sleep",
        "wait",
        "jq",
        "yq",
        "gojq",
        "md5sum",
        "sha1sum",
        "sha224sum",
        "sha256sum",
        "sha384sum",
        "sha512sum",
        "b2sum",
        "cksum",
        "sum",
        "base32",
        "strings",
        "nm",
        "objdump",
        "readelf",
        "ldd",
        "man",
        "info",
        "help",
        "whatis",
        "apropos",
        "locale",
        "tput",
        "clear",
        "reset",
        "tty",
        "logname",
        "users",
        "w",
        "who",
        "last",
        "getent",
        "lscpu",
        "lsusb",
        "lspci",
        "lsblk",
        "blkid",
        "getconf",
        "expr",
        "bc",
        "dc",
        "factor",
        "numfmt",
        "shuf",
        "look",
        "rev",
        "iconv",
        "zcat",
        "zless",
        "zgrep",
        "zmore",
        "bzcat",
        "xzcat",
        "lzcat",
        "zstdcat",
        "vmstat",
        "iostat",
        "mpstat",
        "pidof",
        "printenv",
        ":",
        "cd",
        "pushd",
        "popd",
        "dirs",
        "shopt",
        "set",
        "alias",
        "unalias",
        "type",
        "hash",
        "read",
        "mapfile",
        "readarray",
        "let",
        "local",
        "return",
        "exit",
        "break",
        "continue",
        "shift",
        "getopts",
        "trap",
        "umask",
        "ulimit",
        "export",
        "declare",
        "typeset",
        "source",
        ".",
        "jobs",
        "fg",
        "bg",
        "times",
        "caller",
        "enable",
        "compgen",
        "complete",
        "tokei",
        "cloc",
        "scc",
        "ctags",
        "gitk",
        "tig",
        "delta",
        "difftool",
        "colordiff",
        "wdiff",
        "sdiff",
        "vimdiff",
        "xmllint",
        "tidy",
        "csvlook",
        "csvcut",
        "csvstat",
        "mlr",
        "xsv",
        "qsv",
        "pandoc",
        "glow",
        "mdcat",
        "nvidia-smi",
        "sensors",
        "lsmod",
        "dmesg",
        "journalctl",
        "loginctl",
        "timedatectl",
        "localectl",
        "hostnamectl",
        "envsubst",
        "gettext",
        "ngettext",
        "du",
        "dust",
        "duf",
        "ncdu",
        "procs",
        "btop",
        "glances",
        "pstree",
        "fuser",
        "time",
    ]
)


LISTING = frozenset(
    ["ls", "dir", "vdir", "tree", "stat", "file", "du", "test", "[", "fd", "fdfind", "find", "wc"]
)


DELETE_FREE_READERS = frozenset(
    [
        "cat",
        "head",
        "tail",
        "less",
        "more",
        "strings",
        "base64",
        "xxd",
        "od",
        "grep",
        "egrep",
        "rg",
        "tar",
        "zip",
        "cp",
        "scp",
        "curl",
        "nc",
        "gpg",
        "openssl",
        "sha256sum",
        "md5sum",
        "wc",
    ]
)


DECODERS = frozenset(
    {
        "base64",
        "base32",
        "xxd",
        "uudecode",
        "openssl",
        "gpg",
        "rev",
        "tr",
        "gunzip",
        "gzip",
        "zcat",
        "bunzip2",
        "xz",
        "unxz",
        "zstd",
        "basenc",
        "printf",
    }
)


LOCAL_EDITORS = frozenset(
    {
        "vi",
        "vim",
        "nvim",
        "nano",
        "emacs",
        "code",
        "subl",
        "cursor",
        "zed",
        "windsurf",
        "open",
        "xdg-open",
        "micro",
        "ed",
        "ex",
        "joe",
        "kak",
        "hx",
        "helix",
        "gedit",
        "kate",
        "mcedit",
    }
)


_GUI_EDITORS = frozenset({"code", "subl", "cursor", "zed", "gedit", "kate", "idea", "windsurf"})


def _vim_option_values(c: SimpleCommand) -> list[Word]:
    out: list[Word] = []
    args = list(c.args)
    for k, w in enumerate(args):
        if w.value in ("-c", "--cmd", "-S", "-u", "-i", "-T", "-w", "-W") and k + 1 < len(args):
            out.append(args[k + 1])
    return out


def h_editor(an: Analyzer, c: SimpleCommand) -> None:
    vals = [w.value or "" for w in c.args]
    batch = c.name in ("vim", "vi", "nvim", "ex") and (
        any(v in ("-es", "-e", "-E", "-Es", "--headless", "-s") for v in vals)
        or any(v in ("+wq", "+x", "+q", "+qa", "+wqa") for v in vals)
        or "wq" in vals
        or "x" in vals
    )
    if batch:
        # Scripted edits (`vim -es -c '%s/a/b/g' -c wq f`): no terminal needed; the `-c`
        # commands that run programs are judged in payloads.
        for w in c.args:
            v = w.value or ""
            if v and not v.startswith(("-", "+")) and w not in _vim_option_values(c):
                write_target(an, c, w, "edits")
        an.add(K.RESOURCE, 5, f"edits files with `{c.name}` in batch mode", c.argv[0].span)
        return
    if c.name in ("open", "xdg-open"):
        for w in c.args:
            t = parse_target(w.value or "") if "://" in (w.value or "") else None
            if t is not None:
                _network_note(an, c, t, f"opens {short(t.url, 60)} in the browser", w, score=36)
            elif w.value and not w.value.startswith("-"):
                read_target(an, c, w)
        an.add(K.RESOURCE, 10, f"opens files or links for the user (`{c.name}`)", c.span)
        return
    if c.name in _GUI_EDITORS:
        an.add(K.RESOURCE, 10, f"opens files in the editor `{c.name}` for the user", c.span)
    else:
        an.add(
            K.RESOURCE,
            36,
            f"opens the interactive editor `{c.name}`: with no terminal it waits forever",
            c.argv[0].span,
        )
    for w in c.args:
        if w.value and not w.value.startswith(("-", "+")):
            write_target(an, c, w, f"opens in `{c.name}` (and may change)")


GREPS = frozenset({"grep", "egrep", "fgrep", "rg", "ag", "ack"})


_SECRET_WORDS = re.compile(
    r"pass(wd|word)?|secret|token|api.?key|credential|private.?key|BEGIN .*PRIVATE|"
    r"AKIA|ghp_|xox[abp]-|sk-[a-z]",
    re.I,
)


def h_read_only(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name
    if name in ("printenv", "env") and not [
        w for w in c.args if not (w.value or "-").startswith("-")
    ]:
        an.ci(c).env_dump = True
        down = an.script.downstream(c.index)
        filt = an.script.commands[down[0]] if down else None
        if (
            filt is not None
            and filt.name in GREPS
            and not any(
                (w.value or "").startswith("-") and "v" in (w.value or "") for w in filt.args
            )
            and not any(_SECRET_WORDS.search(w.value or "") for w in filt.args)
        ):
            # Filtered down to the variables a plain pattern names (a secret-looking pattern
            # is judged at the grep).
            an.add(K.SECRETS, 15, "prints the environment variables a pattern picks", c.span)
            return
        an.add(
            K.SECRETS,
            36,
            "prints every environment variable: tokens kept there would reach the agent "
            "and its model provider",
            c.span,
        )
        return
    if name == "printenv":
        for w in c.args:
            if re.search(r"TOKEN|SECRET|KEY|PASS|CRED|AUTH", w.value or "", re.I):
                an.ci(c).env_dump = True
                an.add(
                    K.SECRETS,
                    65,
                    f"prints {q(w)}, which looks like a secret: its value "
                    "would reach the agent and its model provider",
                    w.span,
                )
        return
    if name in GREPS and any(_SECRET_WORDS.search(w.value or "") for w in c.args):
        outside = [
            w
            for w in c.args
            if w.value and w.value.startswith(("~", "/")) and an.path(c, w.value).where == "outside"
        ]
        if outside:
            an.ci(c).secrets.append(an.path(c, outside[0].value or "").display)
            an.add(K.SECRETS, 65, f"searches {q(outside[0])} for passwords or keys", c.span)
        else:
            an.add(K.SECRETS, 15, "searches the workspace for passwords or keys", c.span)
    if name in ("set", "export", "declare", "typeset") and (
        not c.args or all((w.value or "") in ("-p", "-x") for w in c.args)
    ):
        an.ci(c).env_dump = True
        return
    if name == "xxd" and any(
        w.value in ("-r", "-revert") or (w.value or "").startswith("-r") for w in c.args
    ):
        an.ci(c).decoder = True
    if name in (
        "cat",
        "tac",
        "head",
        "tail",
        "less",
        "more",
        "strings",
        "xxd",
        "od",
        "hexdump",
        "grep",
        "rg",
        "base32",
        "zcat",
        "bat",
        "nl",
    ):
        an.ci(c).reads_data = True
    if name == "tr" and len(c.args) >= 2:
        a, b = (c.args[0].value or ""), (c.args[1].value or "")
        if "N-Z" in b or "n-z" in b or ("A-Z" in a and "N" in b):
            an.ci(c).decoder = True
    if name == "sort":
        opts, _pos = split_args(c.args, frozenset({"-o", "--output", "-k", "-t", "-S", "-T"}))
        out = val(opts, "-o", "--output")
        if out is not None:
            write_target(an, c, out)
    if name == "history" and any(
        (w.value or "").startswith(("-c", "-w", "-d", "-a")) for w in c.args
    ):
        an.add(K.OBFUSCATION, 60, "clears or rewrites the shell history, hiding what ran", c.span)
    if name in ("source", ".") and c.args:
        # lazily: inline code's rules are ~5 ms of regexes to load
        from app.risk.commands.inline import run_written

        w = c.args[0]
        if w.procsub:
            return  # judged in the data-flow pass
        if w.value:
            info = an.path(c, w.value)
            if (info.abs or info.raw) in an.facts.downloads:
                an.add(
                    K.SUPPLY_CHAIN,
                    90,
                    f"runs {info.display}, which this action just downloaded, in the current shell",
                    w.span,
                )
            elif run_written(an, c, info.abs or info.raw, "source"):
                pass  # judged by what the action wrote there
            elif info.where not in ("workspace",):
                an.add(K.RESOURCE, 10, f"runs {info.display} in the current shell", w.span)
    if name == "trap" and c.args and c.args[0].value:
        an.fragment(c.args[0].value, c.args[0].exact, c.args[0].span, c, prefix="on a signal: ")
    if name == "alias":
        for w in c.args:
            if w.value and "=" in w.value:
                an.add(K.PERSISTENCE, 15, f"defines the alias {q(w)} for this shell", w.span)
    if name in ("journalctl",) and any(
        (w.value or "").startswith(("--vacuum", "--rotate")) for w in c.args
    ):
        an.add(K.OBFUSCATION, 65, "deletes system logs, erasing the record of what ran", c.span)
    if (
        name == "ip"
        and len(c.args) >= 2
        and c.args[1].value in ("add", "del", "set", "flush", "change", "replace")
    ):
        an.add(K.PRIVILEGE, 65, "changes the machine's network configuration", c.span)
    if name == "mount" and c.args:
        h_kernel(an, c)


def h_cd(an: Analyzer, c: SimpleCommand) -> None:
    args = [w for w in c.args if not (w.value or "").startswith("-")]
    if not args:
        return
    w = args[0]
    if w.value is None:
        an.add(
            K.OUTSIDE_WORKSPACE,
            20,
            f"changes to a directory known only at run time ({q(w.text)})",
            w.span,
        )
        return
    info = an.path(c, w.value)
    if info.where in ("outside",):
        an.add(K.OUTSIDE_WORKSPACE, 10, f"changes to {info.display}, outside the workspace", w.span)


def h_rm(an: Analyzer, c: SimpleCommand) -> None:
    opts, pos = split_args(c.args)
    recursive = has(opts, "-r", "-R", "--recursive")
    if has(opts, "--no-preserve-root"):
        an.add(K.DESTRUCTIVE, 95, "turns off rm's protection for the root directory", c.span)
    if not pos and c.stdin_args:
        an.add(K.DESTRUCTIVE, 45, "deletes paths read from the pipe", c.span)
    for w in pos:
        delete_target(an, c, w, recursive=recursive)
    if c.stdin_args and pos:
        an.add(K.DESTRUCTIVE, 45, "deletes paths read from the pipe", c.span)


def h_rmdir(an: Analyzer, c: SimpleCommand) -> None:
    _opts, pos = split_args(c.args)
    for w in pos:
        info = an.path(c, w.value or "")
        if w.value is not None and info.where in ("workspace", "tmp"):
            an.add(K.DESTRUCTIVE, 10, f"removes the empty directory {info.display}", w.span)
        else:
            delete_target(an, c, w, recursive=False)


def h_shred(an: Analyzer, c: SimpleCommand) -> None:
    _opts, pos = split_args(
        c.args, frozenset({"-n", "-s", "--iterations", "--size", "--random-source"})
    )
    for w in pos:
        delete_target(an, c, w, recursive=False, verb="irrecoverably overwrites")
        info = an.path(c, w.value or "")
        if info.where == "workspace":
            an.add(K.DESTRUCTIVE, 45, f"shreds {info.display}: it cannot be recovered", w.span)


def h_unlink(an: Analyzer, c: SimpleCommand) -> None:
    for w in c.args:
        delete_target(an, c, w, recursive=False)


def h_touch(an: Analyzer, c: SimpleCommand) -> None:
    _opts, pos = split_args(
        c.args,
        frozenset({"-d", "-t", "-r", "--date", "--reference", "-m", "--mode", "-s", "--size"}),
    )
    verb = {
        "touch": "creates",
        "mkdir": "creates the directory",
        "truncate": "truncates",
        "dos2unix": "rewrites",
        "unix2dos": "rewrites",
        "mktemp": "creates",
        "mkfifo": "creates",
        "mknod": "creates",
    }.get(c.name or "", "writes")
    for w in pos:
        if c.name == "mkdir" and w.value is not None:
            info = an.path(c, w.value)
            if info.where == "workspace" and not info.broad:
                an.ci(c).seen.add(w.span)
                an.facts.writes.append(info.abs or info.raw)
                # An empty directory runs nothing; what is later written into it is judged then.
                an.add(K.DESTRUCTIVE, 3, f"creates the directory {info.display}", w.span)
                continue
        write_target(an, c, w, verb)
    if c.name == "truncate":
        for w in pos:
            if w.value and (info := an.path(c, w.value)).where == "workspace":
                lost = overwrite_loss(an, info.abs)
                if lost is not None and not lost.ignored and not lost.dirty and not lost.untracked:
                    an.add(
                        K.DESTRUCTIVE,
                        10,
                        f"empties or cuts {q(w)}, tracked and unmodified: git can restore it",
                        w.span,
                    )
                else:
                    an.add(
                        K.DESTRUCTIVE, 36, f"empties or cuts {q(w)}, losing its contents", w.span
                    )


def h_copy(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name
    opts, pos = split_args(
        c.args,
        frozenset(
            {
                "-t",
                "--target-directory",
                "-S",
                "--suffix",
                "-m",
                "--mode",
                "-o",
                "--owner",
                "-g",
                "--group",
                "--backup",
            }
        ),
    )
    dest = val(opts, "-t", "--target-directory")
    sources = pos
    if dest is None and len(pos) >= 2:
        dest = pos[-1]
        sources = pos[:-1]
    verb = {"mv": "moves", "ln": "links", "install": "installs", "cp": "copies"}.get(
        name or "", "copies"
    )
    for s in sources:
        read_target(an, c, s)
        if name == "mv" and s.value is not None:
            info = an.path(c, s.value)
            if (
                info.where not in ("workspace", "tmp", "device")
                or info.broad
                or (info.protected and info.protected[1] >= 60)
            ):
                delete_target(an, c, s, recursive=True, verb="moves away")
            elif info.where == "workspace" and dest is not None and dest.value is not None:
                to = an.path(c, dest.value)
                if to.where != "workspace":
                    an.add(
                        K.DESTRUCTIVE,
                        40,
                        f"moves {info.display} out of the workspace (to {to.display})",
                        s.span,
                    )
    if dest is not None:
        if name == "ln":
            # The link itself is written; its target is what a reader later reaches.
            for s in sources:
                if s.value:
                    si = an.path(c, s.value)
                    if si.secret or (si.where == "outside" and si.broad):
                        an.add(
                            K.SECRETS if si.secret else K.OUTSIDE_WORKSPACE,
                            55,
                            f"links {si.display} into reach",
                            s.span,
                        )
        write_target(an, c, dest, f"{verb} into" if name != "ln" else "creates the link")


def h_tee(an: Analyzer, c: SimpleCommand) -> None:
    opts, pos = split_args(c.args)
    verb = "appends to" if has(opts, "-a", "--append") else "writes"
    for w in pos:
        write_target(an, c, w, verb)


def h_sed(an: Analyzer, c: SimpleCommand) -> None:
    opts, pos = split_args(
        c.args, frozenset({"-e", "--expression", "-f", "--file", "-l", "--line-length", "-s"})
    )
    inplace = any(k.startswith("-i") or k.startswith("--in-place") for k in opts) or any(
        (w.value or "").startswith("-i") for w in c.args
    )
    scripts = [w for k, w in opts.items() if k in ("-e", "--expression") and w is not None]
    files = pos
    if not scripts and pos:
        scripts = [pos[0]]
        files = pos[1:]
    for s in scripts:
        code = s.value or ""
        if _sed_executes(code):
            an.add(K.OBFUSCATION, 60, "the sed script runs shell commands (GNU `e`)", s.span)
        m = re.search(r"(?:^|[;\n}]|\s)w\s+(\S+)", code)
        if m:
            write_target(an, c, Word(m.group(1), m.group(1), s.span))
    for f in files:
        if inplace:
            write_target(an, c, f, "edits")
        else:
            read_target(an, c, f)


def _sed_executes(code: str) -> bool:
    """GNU sed's `e` command, or an `s///e` substitution: both run shell commands. Read with a
    small scanner (a regex with back-references backtracks badly on long scripts)."""
    i = 0
    n = len(code)
    while i < n:
        while i < n and code[i] in " \t\n;{}!":
            i += 1
        # an address: numbers, $, /regex/, ranges
        while i < n and (code[i].isdigit() or code[i] in "$,~+"):
            i += 1
        if i < n and code[i] == "/":
            j = code.find("/", i + 1)
            i = n if j < 0 else j + 1
            continue
        if i >= n:
            break
        ch = code[i]
        if ch == "e" and (i + 1 >= n or code[i + 1] in " \t\n;}"):
            return True
        if ch in "sy" and i + 1 < n:
            delim = code[i + 1]
            j = i + 2
            seen = 0
            while j < n and seen < 2:
                if code[j] == "\\":
                    j += 2
                    continue
                if code[j] == delim:
                    seen += 1
                j += 1
            k = j
            while k < n and code[k] not in ";\n}":
                k += 1
            if ch == "s" and "e" in code[j:k].split(" ", 1)[0]:
                return True
            i = k
            continue
        while i < n and code[i] not in ";\n":
            i += 1
    return False


def h_dd(an: Analyzer, c: SimpleCommand) -> None:
    for w in c.args:
        v = w.value or ""
        if v.startswith("of="):
            write_target(an, c, Word(v[3:], v[3:], w.span), "overwrites")
        elif v.startswith("if="):
            read_target(an, c, Word(v[3:], v[3:], w.span))
            an.ci(c).reads_data = True


def h_chmod(an: Analyzer, c: SimpleCommand) -> None:
    args = [w for w in c.args]
    recursive = any(
        (w.value or "") in ("-R", "--recursive")
        or re.fullmatch(r"-[a-zA-Z]*R[a-zA-Z]*", w.value or "")
        for w in args
    )
    pos = [
        w
        for w in args
        if not (w.value or "").startswith("-") or re.match(r"^-[rwxXst]+$", w.value or "")
    ]
    if c.name in ("chown", "chgrp"):
        targets = pos[1:]
        for w in targets:
            if w.value is None:
                continue
            info = an.path(c, w.value)
            if info.where == "outside":
                an.add(
                    K.PRIVILEGE,
                    90 if info.broad and recursive else 70,
                    f"changes the owner of {info.display}"
                    + (" and everything under it" if recursive else "")
                    + ", outside the workspace",
                    w.span,
                )
            else:
                an.add(K.PRIVILEGE, 40, f"changes the owner of {info.display}", w.span)
        return
    if not pos:
        return
    mode = pos[0].value or ""
    targets = pos[1:]
    setid = bool(re.search(r"[ugoa]*[+=][rwxXt]*s", mode)) or bool(
        re.fullmatch(r"[2467]\d{3}", mode)
    )
    world = (
        (
            bool(re.fullmatch(r"\d*7[0-7]?7|\d*[2367]", mode))
            and len(mode) >= 3
            and mode[-1] in "2367"
        )
        or "o+w" in mode
        or "a+w" in mode
        or mode in ("777", "0777", "666", "0666")
    )
    addx = (
        "+x" in mode
        or bool(re.search(r"[+=][rw]*x", mode))
        or (bool(re.fullmatch(r"0?[0-7]*[1357][0-7]{0,2}", mode)) and len(mode.lstrip("0")) >= 3)
    )
    for w in targets:
        if w.value is None:
            an.add(
                K.PRIVILEGE,
                40,
                f"changes permissions on a path known only at run time ({q(w.text)})",
                w.span,
            )
            continue
        info = an.path(c, w.value)
        if setid:
            an.add(
                K.PRIVILEGE,
                90,
                f"sets the setuid/setgid bit on {info.display}: it would run "
                "with its owner's privileges for anyone",
                w.span,
            )
            continue
        if info.where in ("outside",):
            score = 95 if info.broad and recursive else (80 if info.broad or world else 65)
            an.add(
                K.PRIVILEGE,
                score,
                f"changes permissions of {info.display}"
                + (" and everything under it" if recursive else "")
                + (" so anyone can write it" if world else "")
                + ", outside the workspace",
                w.span,
            )
        elif info.where in ("tmp", "device"):
            an.add(K.PRIVILEGE, 15, f"changes permissions of {info.display}", w.span)
        elif info.where == "unknown":
            an.add(
                K.PRIVILEGE,
                40,
                f"changes permissions of {info.display} in an unknown directory",
                w.span,
            )
        else:
            if info.protected and info.protected[1] >= 60:
                an.add(
                    K.PERSISTENCE,
                    info.protected[1],
                    f"makes {info.display} executable: {info.protected[0]}",
                    w.span,
                )
            elif world:
                an.add(K.PRIVILEGE, 40, f"makes {info.display} writable by anyone", w.span)
            elif addx:
                # One workspace script made runnable runs only when something runs it,
                # sandboxed; a whole tree, a glob, or a release script is worth a look.
                base = (w.value or "").rsplit("/", 1)[-1]
                one = not recursive and not any(ch in (w.value or "") for ch in "*?[")
                plain = one and not PUBLISH_WORDS.match(base.split(".", 1)[0])
                an.add(K.PRIVILEGE, 10 if plain else 35, f"makes {info.display} executable", w.span)
            else:
                an.add(K.PRIVILEGE, 15, f"changes permissions of {info.display}", w.span)


def h_tar(an: Analyzer, c: SimpleCommand) -> None:
    opts, pos = split_args(
        c.args,
        frozenset(
            {
                "-f",
                "--file",
                "-C",
                "--directory",
                "-T",
                "--files-from",
                "-X",
                "--exclude-from",
                "--exclude",
                "-b",
                "-N",
                "--use-compress-program",
                "-I",
                "--to-command",
                "--checkpoint-action",
                "--transform",
                "--owner",
                "--group",
                "--mode",
            }
        ),
    )
    first = c.args[0].value if c.args else ""
    letters = (first or "") if (first and not first.startswith("-")) else ""
    extract = has(opts, "-x", "--extract", "--get") or "x" in letters
    create = has(opts, "-c", "--create", "-r", "--append", "-u") or "c" in letters or "r" in letters
    if letters:
        pos = pos[1:]
        if "f" in letters and pos:
            opts["-f"] = pos[0]
            pos = pos[1:]
    archive = val(opts, "-f", "--file")
    for k in ("--to-command", "--checkpoint-action", "--use-compress-program", "-I"):
        w = opts.get(k)
        if w is not None and w.value:
            an.add(K.OBFUSCATION, 55, f"tar runs the program {q(w)} while it works", w.span)
            if k == "--checkpoint-action" and "exec=" in (w.value or ""):
                code = w.value.split("exec=", 1)[1]
                an.fragment(code, None, w.span, c, prefix="tar checkpoint: ")
    if extract:
        dest = val(opts, "-C", "--directory")
        if dest is not None:
            write_target(an, c, dest, "extracts files into")
        else:
            an.add(K.DESTRUCTIVE, 3, "extracts an archive into the current directory", c.span)
        if archive is not None:
            read_target(an, c, archive)
    elif create:
        an.ci(c).reads_data = True
        for w in pos:
            read_target(an, c, w)
        if archive is not None and archive.value != "-":
            write_target(an, c, archive)


def h_zip(an: Analyzer, c: SimpleCommand) -> None:
    opts, pos = split_args(c.args, frozenset({"-d", "-x", "-i", "-P", "--password", "-O"}))
    if c.name == "unzip":
        dest = val(opts, "-d")
        if dest is not None:
            write_target(an, c, dest, "extracts files into")
        for w in pos[:1]:
            read_target(an, c, w)
        return
    an.ci(c).reads_data = True
    if pos:
        if pos[0].value != "-":
            write_target(an, c, pos[0])
        for w in pos[1:]:
            read_target(an, c, w)


def h_find(an: Analyzer, c: SimpleCommand) -> None:
    from app.risk.wrappers import find_roots

    roots = find_roots(c.argv) or []
    vals = [w.value for w in c.args]
    if "-delete" in vals:
        targets = roots or [Word(".", ".", c.argv[0].span)]
        filtered = any(
            v
            in (
                "-name",
                "-iname",
                "-path",
                "-ipath",
                "-regex",
                "-iregex",
                "-newer",
                "-mtime",
                "-mmin",
                "-size",
                "-empty",
                "-user",
                "-perm",
                "-wholename",
            )
            for v in vals
        )
        pattern = next(
            (
                c.args[k + 1].best
                for k, v in enumerate(vals[:-1])
                if v in ("-name", "-iname", "-path", "-ipath", "-regex")
            ),
            "",
        )
        for r in targets:
            info = an.path(c, r.value or ".") if r.value is not None else None
            if filtered and info is not None and info.where in ("workspace", "tmp"):
                an.ci(c).seen.add(r.span)
                an.add(
                    K.DESTRUCTIVE,
                    40,
                    f"deletes files matching {short(pattern or 'its tests')} under {info.display}",
                    r.span,
                )
            else:
                delete_target(an, c, r, recursive=True, verb="deletes every file it finds under")
    if not any(v in ("-exec", "-execdir", "-ok", "-okdir", "-delete") for v in vals):
        starts: list[PathInfo] = []
        for w in c.args:
            if (w.value or "-").startswith(("-", "(", "!")):
                break
            starts.append(an.path(c, w.value or "."))
        from_outside = any(r.where not in ("workspace", "tmp") for r in starts)
        for pattern in find_matches(c.argv):
            p = an.path(c, pattern)
            if p.secret and (p.where == "outside" or from_outside):
                an.ci(c).seen.update(w.span for w in c.args)
                an.add(
                    K.SECRETS,
                    60,
                    f"hunts for {p.secret.split('(')[0].strip()} files across "
                    f"{p.display.split('/**')[0] or '/'}",
                    c.span,
                )
    for k, w in enumerate(c.args):
        if w.value in ("-fprint", "-fprint0", "-fprintf", "-fls") and k + 1 < len(c.args):
            write_target(an, c, c.args[k + 1])


def _decoder_flag(an: Analyzer, c: SimpleCommand, flags: tuple[str, ...]) -> None:
    if not flags or any((w.value or "") in flags for w in c.args):
        an.ci(c).decoder = True
    else:
        an.ci(c).reads_data = True
    for w in c.args:
        if w.value and not w.value.startswith("-"):
            read_target(an, c, w)


_SECRET_VAR = re.compile(
    r"\$\{?(\w*(?:TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIALS?)\w*)",
    re.I,
)


def _echo(an: Analyzer, c: SimpleCommand) -> None:
    """echo/printf: printing a secret-looking variable hands it to the agent; printf with
    escapes is a decoder."""
    name = c.name
    for w in c.args:
        m = re.search(
            r"\$\{?(\w*(?:TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|ACCESS_KEY|"
            r"PRIVATE_KEY|CREDENTIALS?)\w*)",
            w.text,
            re.I,
        )
        if m and w.dynamic:
            an.ci(c).env_dump = True
            an.add(
                K.SECRETS,
                65,
                f"prints ${m.group(1)}, which looks like a secret: its "
                "value would reach the agent and its model provider",
                w.span,
            )
            break
    if (
        name == "printf"
        and c.args
        and re.search(r"\\x[0-9a-fA-F]{2}|\\[0-7]{3}", c.args[0].value or "")
    ):
        an.ci(c).decoder = True


EXACT: dict[str, Handler] = {
    "rm": h_rm,
    "rmdir": h_rmdir,
    "shred": h_shred,
    "unlink": h_unlink,
    "srm": h_shred,
    "wipe": h_shred,
    "touch": h_touch,
    "mkdir": h_touch,
    "truncate": h_touch,
    "dos2unix": h_touch,
    "unix2dos": h_touch,
    "mkfifo": h_touch,
    "mknod": h_touch,
    "cp": h_copy,
    "mv": h_copy,
    "ln": h_copy,
    "install": h_copy,
    "tee": h_tee,
    "sed": h_sed,
    "gsed": h_sed,
    "dd": h_dd,
    "chmod": h_chmod,
    "chown": h_chmod,
    "chgrp": h_chmod,
    "tar": h_tar,
    "gtar": h_tar,
    "bsdtar": h_tar,
    "zip": h_zip,
    "unzip": h_zip,
    "7z": h_zip,
    "find": h_find,
    "cd": h_cd,
    "pushd": h_cd,
    "env": h_read_only,
    "base64": lambda an, c: _decoder_flag(an, c, ("-d", "--decode", "-D")),
    "base32": lambda an, c: _decoder_flag(an, c, ("-d", "--decode")),
    "basenc": lambda an, c: _decoder_flag(an, c, ("-d", "--decode")),
    "uudecode": lambda an, c: _decoder_flag(an, c, ()),
    "history": h_read_only,
    "patch": lambda an, c: an.add(
        K.DESTRUCTIVE, 5, "applies a diff to files in the workspace", c.span
    ),
    "gzip": lambda an, c: _decoder_flag(an, c, ("-d", "--decompress", "-dc", "-cd")),
    "gunzip": lambda an, c: _decoder_flag(an, c, ()),
    "xz": lambda an, c: _decoder_flag(an, c, ("-d", "--decompress", "-dc")),
    "unxz": lambda an, c: _decoder_flag(an, c, ()),
    "bunzip2": lambda an, c: _decoder_flag(an, c, ()),
    "zstd": lambda an, c: _decoder_flag(an, c, ("-d", "--decompress", "-dc")),
    "rev": lambda an, c: setattr(an.ci(c), "decoder", True),
    "printf": lambda an, c: _echo(an, c),
    "echo": lambda an, c: _echo(an, c),
    "yes": lambda an, c: None,
    "sleep": lambda an, c: None,
}

FAMILIES: tuple[Family, ...] = (
    (READ_ONLY, h_read_only),
    (LOCAL_EDITORS, h_editor),
)

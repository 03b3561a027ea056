"""Interpreters and shells given code or a script: the code itself is read by
`commands.inline`; here are the command lines around it.
"""

from __future__ import annotations

from app.core.model import Category as K
from app.risk.analysis import Analyzer
from app.risk.commands.args import INTERPRETERS, q
from app.risk.commands.effects import write_target
from app.risk.commands.packages import h_pip, h_uv
from app.risk.commands.registry import Family, Handler
from app.risk.shell import SHELLS, SimpleCommand


def h_interpreter(an: Analyzer, c: SimpleCommand) -> None:
    from app.risk.commands.inline import analyze_inline

    analyze_inline(an, c)


def h_python(an: Analyzer, c: SimpleCommand) -> None:
    from app.risk.commands.inline import analyze_inline

    args = list(c.args)
    for k, w in enumerate(args):
        if w.value == "-m" and k + 1 < len(args):
            mod = args[k + 1].value or ""
            rest = args[k + 2 :]
            if mod == "pip":
                h_pip(an, c, rest)
                return
            if any(x.value in ("-h", "--help", "--version") for x in rest):
                an.add(K.RESOURCE, 5, f"prints the help of {mod}", c.span)
                return
            if mod in (
                "http.server",
                "SimpleHTTPServer",
                "smtpd",
                "pyftpdlib",
                "uvicorn",
                "gunicorn",
                "flask",
                "aiohttp.web",
                "jupyter",
                "notebook",
            ):
                if mod == "flask" and not any(x.value == "run" for x in rest):
                    an.add(K.RESOURCE, 5, "runs a flask command", c.span)
                    return
                port = next((x.best for x in rest if (x.value or "").isdigit()), "")
                served = next(
                    (
                        rest[i + 1]
                        for i, x in enumerate(rest[:-1])
                        if x.value in ("-d", "--directory")
                    ),
                    None,
                )
                if served is not None and served.value is not None:
                    where = an.path(c, served.value)
                    if where.where == "outside":
                        an.add(
                            K.EXFILTRATION,
                            75,
                            f"serves {where.display} to anyone who can connect: every file in it "
                            "can be downloaded",
                            served.span,
                        )
                an.add(
                    K.NETWORK,
                    40,
                    f"starts a server ({mod}) that listens for connections"
                    + (f" on port {port}" if port else "")
                    + " and keeps running",
                    c.span,
                )
                return
            if mod in ("venv", "virtualenv"):
                for x in rest:
                    if x.value and not x.value.startswith("-"):
                        write_target(an, c, x, "creates a virtual environment in")
                        break
                return
            if mod in ("ensurepip",):
                an.add(
                    K.SUPPLY_CHAIN,
                    40,
                    "installs pip into this Python (outside the workspace unless it is a venv)",
                    c.span,
                )
                return
            if mod in ("twine",) and rest and rest[0].value == "upload":
                an.add(K.EXFILTRATION, 55, "publishes the package to PyPI", c.span)
                return
            if mod in ("base64",) and any(x.value in ("-d", "--decode") for x in rest):
                an.ci(c).decoder = True
                return
            if mod in ("uv",):
                h_uv(an, c)
                return
            an.add(K.RESOURCE, 5, f"runs the Python module {mod} (sandboxed)", args[k + 1].span)
            return
    analyze_inline(an, c)


def h_shell(an: Analyzer, c: SimpleCommand) -> None:
    """A shell given a script file, or reading its script from stdin (judged in flows)."""
    from app.risk.commands.inline import run_written  # lazily: ~5 ms of regexes to load

    opts_end = 0
    args = list(c.args)
    while (
        opts_end < len(args)
        and (args[opts_end].value or "").startswith(("-", "+"))
        and args[opts_end].value not in ("-", "--")
    ):
        if "c" in (args[opts_end].value or "")[1:] and not (args[opts_end].value or "").startswith(
            "--"
        ):
            return  # `bash -c` code was re-parsed by the shell module
        opts_end += 1
    if any((w.value or "") in ("-i",) for w in args[:opts_end]):
        an.add(K.PRIVILEGE, 30, f"starts an interactive {c.name}", c.span)
    if opts_end < len(args):
        w = args[opts_end]
        if w.value == "--" and opts_end + 1 < len(args):
            w = args[opts_end + 1]
        if w.procsub or w.value == "-":
            return
        if w.value is None:
            an.add(
                K.OBFUSCATION,
                50,
                f"runs a shell script whose path is known only at run time ({q(w.text)})",
                w.span,
            )
            return
        info = an.path(c, w.value)
        an.facts.runs.append(info.abs or info.raw)
        if (info.abs or info.raw) in an.facts.downloads:
            an.add(
                K.SUPPLY_CHAIN,
                90,
                f"runs {info.display}, which this action just downloaded",
                w.span,
            )
        elif run_written(an, c, info.abs or info.raw, c.name or "sh"):
            an.add(K.RESOURCE, 5, f"runs {info.display}, which it has just written", w.span)
        elif info.where == "workspace":
            an.add(K.RESOURCE, 5, f"runs the script {info.display} (sandboxed)", w.span)
        elif info.where == "tmp":
            an.add(
                K.RESOURCE, 35, f"runs the script {info.display} from a temporary directory", w.span
            )
        else:
            an.add(K.RESOURCE, 25, f"runs the script {info.display}, outside the workspace", w.span)


def _awk(an: Analyzer, c: SimpleCommand) -> None:
    from app.risk.commands.inline import analyze_awk

    analyze_awk(an, c)


EXACT: dict[str, Handler] = {
    # The versioned-name pattern (python3.12) decides these too; listed so the family set
    # cannot claim them for h_interpreter.
    "python2": h_python,
    "python3": h_python,
    "pypy": h_python,
    "pypy3": h_python,
    "python": h_python,
    "eval": lambda an, c: an.add(
        K.OBFUSCATION,
        10 if c.args and all(w.value is not None and not w.expanded for w in c.args) else 40,
        "evaluates constant text as shell code (eval); judged as the command it spells"
        if c.args and all(w.value is not None and not w.expanded for w in c.args)
        else "evaluates text as shell code (eval), which hides what runs",
        c.span,
    ),
    "osascript": h_interpreter,
    "php": h_interpreter,
    "awk": lambda an, c: _awk(an, c),
    "gawk": lambda an, c: _awk(an, c),
    "mawk": lambda an, c: _awk(an, c),
    "nawk": lambda an, c: _awk(an, c),
    "perl": h_interpreter,
    "iex": lambda an, c: an.add(
        K.OBFUSCATION, 50, "evaluates text as PowerShell code (iex)", c.argv[0].span
    ),
    "Invoke-Expression": lambda an, c: an.add(
        K.OBFUSCATION, 50, "evaluates text as PowerShell code", c.argv[0].span
    ),
}

FAMILIES: tuple[Family, ...] = (
    (INTERPRETERS, h_interpreter),
    (SHELLS, h_shell),
)

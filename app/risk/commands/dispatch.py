"""The dispatcher: one simple command -> its family's handler (a registry lookup plus the few
pattern rules for versioned interpreter names and mkfs.*), and the driver that runs every
command of an action, then the flows.
"""

from __future__ import annotations

import re
import shlex

from app.core.model import Category as K
from app.risk.analysis import Analyzer
from app.risk.commands import (
    build,
    databases,
    files,
    infra,
    interpreters,
    network,
    packages,
    registry,
    remote,
    secrets,
    sysadmin,
    vcs,
)
from app.risk.commands.args import _PIP, _PY, q
from app.risk.commands.effects import read_target, write_target
from app.risk.commands.flows import analyze_flows, analyze_script
from app.risk.commands.generic import _assignments, _declare, _generic, _unknown
from app.risk.commands.payloads import analyze_payloads
from app.risk.commands.registry import Handler
from app.risk.shell import SimpleCommand


def analyze_command(an: Analyzer, c: SimpleCommand) -> None:
    _assignments(an, c)
    for r in c.redirects:
        if r.writes and r.target is not None:
            write_target(an, c, r.target, "appends to" if r.op in (">>", "&>>") else "writes")
        elif r.reads and r.target is not None:
            read_target(an, c, r.target)
        elif r.op == ">&" and r.target is not None and r.target.value not in (None, "1", "2", "-"):
            write_target(an, c, r.target)
    _remember_written(an, c)
    if c.keyword in ("assign", "declare", "unset", "test"):
        if c.keyword == "declare" or c.keyword == "unset":
            _declare(an, c)
        return
    if not c.argv:
        return
    name = c.name
    head = c.argv[0]
    if name is not None and head.expanded and not head.subs and head.value:
        # Spelled through variables this action sets (`a=ec; b=ho; $a$b`): bash's value is
        # known, and the command is judged as what it resolves to.
        an.add(
            K.OBFUSCATION,
            25,
            f"the program name {q(head.text)} is spelled through variables; it resolves to "
            f"`{q(head.value)}`",
            head.span,
        )
    elif name is None or head.expanded:
        resolved = f" (it resolves to `{q(head.value)}`)" if head.value else ""
        an.add(
            K.OBFUSCATION,
            50 if re.fullmatch(r"\$\{?\w+\}?", head.text.strip('"')) else 62,
            f"the program name {q(head.text)} is computed at run time"
            f"{resolved}, so what runs cannot be reviewed",
            head.span,
        )
        if name is None:
            _generic(an, c)
            return
    if head.expanded and any(ch.isspace() for ch in name):
        # `a=(rm -rf ~); "${a[@]}"`, `c='rm -rf'; $c ~`: the words the value splits into.
        rest = " ".join(shlex.quote(w.best) for w in c.args)
        an.fragment(f"{name} {rest}".strip(), None, c.span, c, prefix="expanded, it runs: ")
        return
    if c.background and c.via == "":
        an.add(
            K.RESOURCE,
            15,
            f"runs `{q(name)}` in the background, where it keeps running "
            "after the action is reported done",
            c.span,
        )
    if name in an.functions:
        return  # its body is analysed where it is defined
    if name == "alias":
        for w in c.args:
            if w.value and "=" in w.value and not w.value.startswith("-"):
                alias, _, body = w.value.partition("=")
                an.aliases[alias] = body
    elif name in an.aliases and c.via == "":
        # An alias defined earlier in this action: bash runs its body with these arguments.
        body = an.aliases[name]
        rest = " ".join(shlex.quote(w.best) for w in c.args)
        an.fragment(f"{body} {rest}".strip(), None, c.span, c, prefix=f"the alias `{name}` runs: ")
        return
    h = handler_for(name)
    if h is None:
        if "/" in (head.value or ""):
            _local_program(an, c)
        else:
            _unknown(an, c)
    else:
        h(an, c)
    analyze_payloads(an, c)
    info = an.ci(c)
    if info.decoder or any(
        an.ci(an.script.commands[i]).decoder for i in an.script.upstream(c.index)
    ):
        # `echo … | base64 -d > x.py`: whatever runs x.py next runs hidden text.
        for r in c.redirects:
            if r.writes and r.target is not None and r.target.value is not None:
                p = an.path(c, r.target.value)
                an.decoded.add(p.abs or p.raw)
    if info.download is not None:
        # `curl URL > s.sh`: the download lands in a file that may be run next.
        for r in c.redirects:
            if r.writes and r.target is not None and r.target.value is not None:
                p = an.path(c, r.target.value)
                an.facts.downloads.append(p.abs or p.raw)
    _generic(an, c)


def _remember_written(an: Analyzer, c: SimpleCommand) -> None:
    """`cat > run.sh <<EOF … EOF` or `echo '…' > run.sh`: keep the text, so running the file
    later in the same action is judged by what it contains."""
    name = c.name
    if name not in ("cat", "tee", "echo", "printf"):
        return
    text: tuple[str, int | None, tuple[int, int]] | None = None
    files = [w for w in c.args if not (w.value or "-").startswith("-")]
    if (name == "cat" and not files) or name == "tee":
        body = next((r for r in c.redirects if r.body is not None), None)
        if body is not None:
            text = (body.body or "", body.body_offset, body.span)
    elif name in ("echo", "printf") and c.args and all(w.value is not None for w in c.args):
        vals = [w.value or "" for w in c.args if w.value not in ("-e", "-n", "-E")]
        joined = " ".join(vals)
        if name == "printf" or "-e" in [w.value for w in c.args]:
            joined = joined.replace("\\n", "\n").replace("\\t", "\t")
        exact = c.args[0].exact if len(c.args) == 1 and joined == c.args[0].value else None
        text = (joined, exact, (c.args[0].span[0], c.args[-1].span[1]))
    if text is None:
        return
    targets = [r.target for r in c.redirects if r.writes and r.target is not None]
    if name == "tee":
        targets += [w for w in c.args if not (w.value or "-").startswith("-")]
    for t in targets:
        if t.value is not None:
            p = an.path(c, t.value)
            an.written[p.abs or p.raw] = text


# The families, in no particular order: `registry.build` refuses any two that claim one
# program without an EXACT entry deciding it.
FAMILY_MODULES = (
    files,
    build,
    vcs,
    packages,
    interpreters,
    network,
    remote,
    infra,
    databases,
    sysadmin,
    secrets,
)
HANDLERS: dict[str, Handler] = registry.build(FAMILY_MODULES)

_VERSIONED_INTERPRETER = re.compile(r"^(ruby|perl|php|node|lua)\d+(\.\d+)*$")


def handler_for(name: str) -> Handler | None:
    """The registry's handler, else the few pattern rules (python3.12, pip3.11, mkfs.ext4,
    node18); None for a program lockgate has no rule for."""
    h = HANDLERS.get(name)
    if h is not None:
        return h
    if _PY.match(name):
        return interpreters.h_python
    if _PIP.match(name):
        return packages.h_pip
    if name.startswith(("mkfs", "mkswap")):
        return sysadmin.h_disk
    if _VERSIONED_INTERPRETER.match(name):
        return interpreters.h_interpreter
    return None


def analyze(an: Analyzer) -> None:
    """The driver `Analyzer.run` calls: every simple command by its family's handler, then
    the flows between them, then whole-script checks."""
    for c in an.script.commands:
        if c.argv and c.keyword == "":
            an.facts.commands.append(tuple(w.best for w in c.argv))
        analyze_command(an, c)
    analyze_flows(an)
    analyze_script(an)


def _local_program(an: Analyzer, c: SimpleCommand) -> None:
    # lazily: inline code's rules are ~5 ms of regexes to load
    from app.risk.commands.inline import run_written

    head = c.argv[0]
    if any(ch in (head.value or "") for ch in "*?["):
        an.add(
            K.OBFUSCATION,
            65,
            f"the program path {q(head.text)} is a glob that matches nothing here: "
            "what runs cannot be known",
            head.span,
        )
        return
    info = an.path(c, head.value or "")
    an.facts.runs.append(info.abs or info.raw)
    if (info.abs or info.raw) in an.facts.downloads:
        an.add(
            K.SUPPLY_CHAIN, 90, f"runs {info.display}, which this action just downloaded", head.span
        )
    elif run_written(an, c, info.abs or info.raw, ""):
        an.add(K.RESOURCE, 5, f"runs {info.display}, which it has just written", head.span)
    elif info.where == "workspace":
        an.add(
            K.RESOURCE, 5, f"runs {info.display}, a program in the workspace (sandboxed)", head.span
        )
    elif info.where == "tmp":
        an.add(K.RESOURCE, 35, f"runs {info.display} from a temporary directory", head.span)
    elif info.where == "unknown":
        an.add(
            K.RESOURCE,
            30,
            f"runs {info.display} from a directory known only at run time",
            head.span,
        )
    else:
        base = info.display.rsplit("/", 1)[-1]
        h = handler_for(base)
        if h is not None and h is not _local_program:
            h(an, c)
        else:
            an.add(
                K.RESOURCE, 20, f"runs {info.display}, a program outside the workspace", head.span
            )

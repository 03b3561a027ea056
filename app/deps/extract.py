"""Which packages an action would install: from install commands, and from the lines a patch adds
to a manifest. Only names the registry could be asked about come out (paths, URLs, git specs and
local workspaces are left to the risk engine)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Iterator
from pathlib import PurePosixPath

from app.core.model import Action, CommandAction, PatchAction
from app.deps.model import Ecosystem, PackageRef

_SEGMENT = re.compile(r"&&|\|\||[;|\n]|\$\(|\)|`")
_PIP = re.compile(r"^pip(?:3(?:\.\d+)?)?$")
_PYTHON = re.compile(r"^python(?:3(?:\.\d+)?)?$")
_PEP508 = re.compile(r"^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(\[[^\]]*\])?\s*(.*)$")
_PIN = re.compile(r"^===?\s*([A-Za-z0-9][A-Za-z0-9.+!_-]*)\s*$")
_NPM_NAME = re.compile(r"^(?:@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*$")
_EXACT_SEMVER = re.compile(r"^v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$")

# Options whose next word is their value (so it is not read as a package).
_PIP_VALUED = frozenset(
    [
        "-r",
        "--requirement",
        "-c",
        "--constraint",
        "-e",
        "--editable",
        "-t",
        "--target",
        "--prefix",
        "--root",
        "-i",
        "--index-url",
        "--extra-index-url",
        "-f",
        "--find-links",
        "--python-version",
        "--platform",
        "--implementation",
        "--abi",
        "--only-binary",
        "--no-binary",
        "--progress-bar",
        "--src",
        "--upgrade-strategy",
        "--log",
        "--cache-dir",
        "--proxy",
        "--retries",
        "--timeout",
        "--exists-action",
        "--trusted-host",
        "--cert",
        "--client-cert",
        "--global-option",
        "--config-settings",
        "-C",
        "--python",
        "-p",
        "--group",
        "--extra",
        "--index",
        "--default-index",
        "--source",
        "--with",
        "--python-preference",
    ]
)
_NPM_VALUED = frozenset(
    [
        "--registry",
        "--prefix",
        "-w",
        "--workspace",
        "--tag",
        "--cache",
        "--userconfig",
        "--globalconfig",
        "--filter",
        "-C",
        "--dir",
        "--cwd",
        "--otp",
        "-p",
        "--package",
        "--call",
        "-c",
    ]
)
_CARGO_VALUED = frozenset(
    [
        "-F",
        "--features",
        "--rename",
        "--path",
        "--git",
        "--branch",
        "--tag",
        "--rev",
        "--registry",
        "-p",
        "--package",
        "--manifest-path",
        "--target",
        "--root",
        "--bin",
        "--example",
        "--index",
        "--vers",
        "--version",
        "--profile",
        "--target-dir",
        "-j",
        "--jobs",
    ]
)
_GEM_VALUED = frozenset(
    ["-v", "--version", "-s", "--source", "-i", "--install-dir", "--platform", "-g", "--group"]
)


def _words(segment: str) -> list[str]:
    try:
        return shlex.split(segment, comments=True)
    except ValueError:
        return segment.split()


def _strip_prefix(words: list[str]) -> list[str]:
    """Drop `sudo`, `env`, `VAR=value` and similar prefixes."""
    while words:
        w = words[0]
        if w in ("sudo", "env", "command", "exec", "nohup", "time", "doas"):
            words = words[1:]
            while words and words[0].startswith("-"):
                words = words[1:]
        elif re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", w):
            words = words[1:]
        else:
            break
    return words


def _positional(args: list[str], valued: frozenset[str]) -> Iterator[str]:
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a == "--":
            continue
        if a.startswith("-"):
            if a in valued:
                skip = True
            continue
        yield a


def _pypi_spec(spec: str, origin: str) -> PackageRef | None:
    if any(c in spec for c in "/\\:") or spec.endswith((".whl", ".zip", ".gz", ".tgz")):
        return None  # a path, URL or VCS spec
    if re.match(r"^(?:git\+|https?://|file:|\.)", spec):
        return None
    m = _PEP508.match(spec.strip())
    if not m:
        return None
    name, _extras, rest = m.groups()
    rest = rest.split(";", 1)[0].strip()
    if rest.startswith("@"):
        return None  # name @ URL
    pin = _PIN.match(rest)
    return PackageRef("pypi", name, pin.group(1) if pin else None, origin)


def _npm_spec(spec: str, origin: str) -> PackageRef | None:
    if re.match(r"^(?:git\+|git://|github:|https?://|file:|link:|workspace:|[./~])", spec):
        return None
    name, version = spec, None
    at = spec.rfind("@")
    if at > 0:
        name, version = spec[:at], spec[at + 1 :]
        if re.match(r"^(?:npm:|git\+|git://|github:|https?://|file:)", version):
            return None
    if not _NPM_NAME.match(name):
        return None
    exact = version if version and _EXACT_SEMVER.match(version) else None
    return PackageRef("npm", name, exact, origin)


def _named_index(args: list[str], flags: tuple[str, ...]) -> str | None:
    """An index or registry the command itself names (`-i URL`, `--registry=URL`)."""
    for i, a in enumerate(args):
        if a in flags and i + 1 < len(args):
            return args[i + 1]
        for f in flags:
            if f.startswith("--") and a.startswith(f + "="):
                return a[len(f) + 1 :]
    return None


def _from_words(words: list[str]) -> Iterator[PackageRef]:
    words = _strip_prefix(words)
    if not words:
        return
    prog = PurePosixPath(words[0]).name
    rest = words[1:]
    # python -m pip install …
    if _PYTHON.match(prog) and len(rest) >= 2 and rest[0] == "-m" and rest[1] == "pip":
        prog, rest = "pip", rest[2:]
    if prog == "uv" and rest[:2] == ["pip", "install"]:
        prog, rest = "pip", rest[1:]
    if _PIP.match(prog) and rest[:1] == ["install"]:
        index = _named_index(rest, ("-i", "--index-url", "--extra-index-url", "--index"))
        for spec in _positional(rest[1:], _PIP_VALUED):
            ref = _pypi_spec(spec, "pip install")
            if ref:
                yield PackageRef(ref.ecosystem, ref.name, ref.version, ref.origin, index)
        return
    if (prog, rest[:1]) in (("uv", ["add"]), ("poetry", ["add"]), ("pdm", ["add"])):
        for spec in _positional(rest[1:], _PIP_VALUED):
            ref = _pypi_spec(spec, f"{prog} add")
            if ref:
                yield ref
        return
    if prog == "pipx" and rest[:1] in (["install"], ["run"], ["inject"]):
        args = list(_positional(rest[1:], _PIP_VALUED))
        for spec in args[:1] if rest[0] == "run" else args:
            ref = _pypi_spec(spec, f"pipx {rest[0]}")
            if ref:
                yield ref
        return
    if prog in ("npm", "pnpm", "yarn", "bun") and rest[:1] in (
        ["install"],
        ["i"],
        ["add"],
        ["isntall"],
    ):
        index = _named_index(rest, ("--registry",))
        for spec in _positional(rest[1:], _NPM_VALUED):
            ref = _npm_spec(spec, f"{prog} {rest[0]}")
            if ref:
                yield PackageRef(ref.ecosystem, ref.name, ref.version, ref.origin, index)
        return
    if prog in ("npx", "bunx") or (prog in ("pnpm", "yarn") and rest[:1] == ["dlx"]):
        args = rest[1:] if prog in ("pnpm", "yarn") else rest
        explicit = [args[i + 1] for i, a in enumerate(args[:-1]) if a in ("-p", "--package")]
        specs = explicit or list(_positional(args, _NPM_VALUED))[:1]
        for spec in specs:
            ref = _npm_spec(spec, prog)
            if ref:
                yield ref
        return
    if prog == "cargo" and rest[:1] in (["add"], ["install"]):
        if any(a in ("--git", "--path") for a in rest):
            return
        version = None
        for i, a in enumerate(rest[:-1]):
            if a in ("--version", "--vers"):
                version = rest[i + 1]
        for spec in _positional(rest[1:], _CARGO_VALUED):
            name, _, v = spec.partition("@")
            if re.match(r"^[A-Za-z0-9_-]+$", name):
                yield PackageRef("crates", name, (v or version or None), f"cargo {rest[0]}")
        return
    if prog == "go" and rest[:1] in (["get"], ["install"]):
        for spec in _positional(rest[1:], frozenset()):
            module, _, v = spec.partition("@")
            first = module.split("/", 1)[0]
            if "." in first and not module.startswith((".", "/")):
                version = v if v and v not in ("latest", "upgrade", "patch") else None
                yield PackageRef("go", module, version, f"go {rest[0]}")
        return
    if (prog == "gem" and rest[:1] == ["install"]) or (prog == "bundle" and rest[:1] == ["add"]):
        version = None
        for i, a in enumerate(rest[:-1]):
            if a in ("-v", "--version"):
                version = rest[i + 1].lstrip("=").strip() or None
        for spec in _positional(rest[1:], _GEM_VALUED):
            if re.match(r"^[A-Za-z0-9_.-]+$", spec):
                yield PackageRef("rubygems", spec, version, f"{prog} {rest[0]}")


def from_command(command: str) -> list[PackageRef]:
    out: list[PackageRef] = []
    for segment in _SEGMENT.split(command):
        words = _words(segment)
        if words and PurePosixPath(words[0]).name in ("bash", "sh", "zsh") and "-c" in words:
            i = words.index("-c")
            if i + 1 < len(words):
                out.extend(from_command(words[i + 1]))
            continue
        out.extend(_from_words(words))
    return _unique(out)


# --------------------------------------------------------------------------------- manifests

_REQ_FILE = re.compile(
    r"(?:^|/)(?:[\w.-]*requirements[\w.-]*\.(?:txt|in)|requirements/[\w.-]+\.txt)$"
)
_QUOTED_REQ = re.compile(
    r"""^\s*["']([A-Za-z0-9][A-Za-z0-9._-]*(?:\[[^\]]*\])?[^"']*)["']\s*,?\s*$"""
)
_TOML_KV = re.compile(
    r"""^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*=\s*(?:["']([^"']*)["']|\{[^}]*version\s*=\s*["']([^"']*)["'])"""
)
_VERSIONISH = re.compile(r"^\s*(?:[\^~<>=*]|\d)")
_JSON_KV = re.compile(r"""^\s*"((?:@[^"/]+/)?[^"@/][^"]*)"\s*:\s*"([^"]*)"\s*,?\s*$""")
_NPM_RANGE = re.compile(r"^\s*(?:[\^~<>=*]|\d|x\b|latest\b|next\b)")
_GO_REQ = re.compile(r"^\s*(?:require\s+)?([a-z0-9.-]+\.[a-z]{2,}/[^\s]+)\s+(v[^\s]+)")
_GEMFILE = re.compile(r"""^\s*gem\s+["']([A-Za-z0-9_.-]+)["'](?:\s*,\s*["']([^"']+)["'])?""")
_NON_DEP_JSON_KEYS = frozenset(
    {"version", "node", "npm", "yarn", "pnpm", "bun", "main", "types", "name", "license"}
)


def _pyproject(lines: Iterable[tuple[str, str]], origin: str) -> Iterator[PackageRef]:
    section = ""
    for kind, line in lines:
        head = re.match(r"^\s*\[([^\]]+)\]\s*$", line)
        if head:
            section = head.group(1).strip()
            continue
        if kind != "+":
            continue
        q = _QUOTED_REQ.match(line)
        if q and not line.strip().startswith(("[", "#")):
            ref = _pypi_spec(q.group(1), origin)
            if ref and (
                section in ("", "project", "project.optional-dependencies")
                or "depend" in section
                or "group" in section
            ):
                yield ref
            continue
        kv = _TOML_KV.match(line)
        if kv and ("dependencies" in section or section.startswith("tool.poetry.group")):
            name, value, table_version = kv.groups()
            value = table_version or value or ""
            if name.lower() != "python" and _VERSIONISH.match(value):
                pin = re.match(r"^=?=?\s*(\d[\w.+-]*)$", value.strip())
                yield PackageRef("pypi", name, pin.group(1) if pin else None, origin)


def _manifest_lines(path: str, lines: list[tuple[str, str]]) -> Iterator[PackageRef]:
    name = PurePosixPath(path).name
    origin = name
    if _REQ_FILE.search(path):
        for kind, line in lines:
            text = line.split("#", 1)[0].strip()
            if kind == "+" and text and not text.startswith("-"):
                ref = _pypi_spec(text, origin)
                if ref:
                    yield ref
    elif name == "pyproject.toml":
        yield from _pyproject(lines, origin)
    elif name == "setup.cfg":
        for kind, line in lines:
            if kind == "+" and line.startswith((" ", "\t")) and re.search(r"[<>=~!]=?\s*\d", line):
                ref = _pypi_spec(line.strip(), origin)
                if ref:
                    yield ref
    elif name == "package.json":
        inside = False
        for kind, line in lines:
            if re.search(r'"(?:dev|peer|optional)?[dD]ependencies"\s*:\s*\{', line):
                inside = True
                continue
            if inside and line.strip().startswith("}"):
                inside = False
                continue
            m = _JSON_KV.match(line)
            if (
                kind == "+"
                and m
                and m.group(1) not in _NON_DEP_JSON_KEYS
                and _NPM_RANGE.match(m.group(2))
            ) and (inside or not any(w in line for w in ('"scripts"',))):
                ref = _npm_spec(m.group(1), origin)
                if ref:
                    v = m.group(2).strip()
                    yield PackageRef("npm", ref.name, v if _EXACT_SEMVER.match(v) else None, origin)
    elif name == "Cargo.toml":
        section = ""
        for kind, line in lines:
            head = re.match(r"^\s*\[([^\]]+)\]\s*$", line)
            if head:
                section = head.group(1).strip()
                continue
            kv = _TOML_KV.match(line)
            if kind == "+" and kv and "dependencies" in section:
                dep, value, table_version = kv.groups()
                value = table_version or value or ""
                if _VERSIONISH.match(value):
                    pin = re.match(r"^=\s*(\d[\w.+-]*)$", value.strip())
                    yield PackageRef("crates", dep, pin.group(1) if pin else None, origin)
    elif name == "go.mod":
        for kind, line in lines:
            m = _GO_REQ.match(line)
            if kind == "+" and m and "// indirect" not in line:
                yield PackageRef("go", m.group(1), m.group(2), origin)
    elif name == "Gemfile":
        for kind, line in lines:
            m = _GEMFILE.match(line)
            if kind == "+" and m:
                gem_version: str | None = m.group(2)
                exact = (
                    gem_version if gem_version and re.match(r"^\d[\w.]*$", gem_version) else None
                )
                yield PackageRef("rubygems", m.group(1), exact, origin)


_MANIFEST_NAMES = frozenset(
    {"pyproject.toml", "setup.cfg", "package.json", "Cargo.toml", "go.mod", "Gemfile"}
)


def manifest_refs(path: str, text: str) -> list[PackageRef] | None:
    """Every dependency a whole manifest names (None: not a manifest lockgate reads)."""
    if PurePosixPath(path).name not in _MANIFEST_NAMES and not _REQ_FILE.search(path):
        return None
    return _unique(_manifest_lines(path, [("+", line) for line in text.splitlines()]))


def from_patch(patch_text: str) -> list[PackageRef]:
    from app.patch.parse import parse_patch

    try:
        parsed = parse_patch(patch_text)
    except Exception:
        return []  # an unparsable patch is the patch engine's and the risk engine's business
    out: list[PackageRef] = []
    for change in parsed.files:
        if change.op == "delete" or change.binary:
            continue
        lines: list[tuple[str, str]] = []
        if change.op == "add" and change.content is not None and not change.hunks:
            lines = [("+", x) for x in change.content.splitlines()]
        else:
            for h in change.hunks:
                lines.extend((" ", a) for a in h.anchors)
                lines.extend((k, x) for k, x in h.lines)
        out.extend(_manifest_lines(change.target, lines))
    return _unique(out)


def from_action(action: Action) -> list[PackageRef]:
    if isinstance(action, CommandAction):
        return from_command(action.command)
    if isinstance(action, PatchAction):
        return from_patch(action.patch)
    return []


def _unique(refs: Iterable[PackageRef]) -> list[PackageRef]:
    seen: dict[tuple[Ecosystem, str, str | None], PackageRef] = {}
    for r in refs:
        seen.setdefault((r.ecosystem, r.name.lower(), r.version), r)
    return list(seen.values())

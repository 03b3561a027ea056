"""What git on the host would read for a workspace, beyond `.git/config` and `.git/hooks`.

- Config files a config includes (`include.path`, `includeIf.<cond>.path`), followed as git
  follows them (relative to the including file, `~/` from the home), and the hooks directory
  `core.hooksPath` names (husky's `.husky/_`): a command that edits them runs code on the
  reviewer's next git call just like a hook does.
- Nested repositories git enters: the gitlinks (mode 160000 entries) of the index. `git status`
  at the root recurses into each one, reading its config (`core.fsmonitor` runs a program).

Both are read from files the command may have shaped in an earlier run, so the parsers are
bounded (size, depth, count) and never raise.
"""

from __future__ import annotations

import os
import re
import stat
import struct

MAX_CONFIG = 1 << 20
MAX_INDEX = 256 << 20
MAX_DEPTH = 10
_SECTION = re.compile(r'^\[\s*([A-Za-z0-9.-]+)(?:\s+"((?:[^"\\]|\\.)*)")?\s*\]')
_ENTRY = re.compile(r"^([A-Za-z][A-Za-z0-9-]*)\s*(?:=\s*(.*))?$")


def _value(raw: str) -> str:
    """A config value: quotes removed, escapes undone, a trailing comment dropped."""
    out: list[str] = []
    quoted = False
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            out.append({"n": "\n", "t": "\t", "b": "\b"}.get(raw[i + 1], raw[i + 1]))
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        elif ch in "#;" and not quoted:
            break
        else:
            out.append(ch)
        i += 1
    return "".join(out).strip()


def config_entries(text: str) -> list[tuple[str, str, str]]:
    """(section, key, value) for each entry, section lowercased with its subsection kept
    ("includeif.gitdir:x"), key lowercased."""
    out: list[tuple[str, str, str]] = []
    section = ""
    for line in text.splitlines():
        body = line.strip()
        if not body or body[0] in "#;":
            continue
        if body.startswith("["):
            m = _SECTION.match(body)
            if not m:
                section = ""
                continue
            section = m.group(1).lower() + ("." + m.group(2) if m.group(2) is not None else "")
            body = body[m.end() :].strip()
            if not body or body[0] in "#;":
                continue
        m = _ENTRY.match(body)
        if m and section:
            out.append((section, m.group(1).lower(), _value(m.group(2) or "true")))
    return out


def _read(path: str) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = os.read(fd, MAX_CONFIG + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    return data[:MAX_CONFIG].decode("utf-8", errors="replace")


def _expand(value: str, base: str, home: str) -> str | None:
    if not value:
        return None
    if value.startswith("~/"):
        return os.path.join(home, value[2:]) if home else None
    if os.path.isabs(value):
        return os.path.normpath(value)
    return os.path.normpath(os.path.join(base, value))


def config_references(config: str, worktree: str, home: str) -> tuple[list[str], list[str]]:
    """(config files `config` includes, transitively; hooks directories named by
    core.hooksPath). Paths are absolute, not resolved; missing files are listed too (a command
    could create them)."""
    includes: list[str] = []
    hooks: list[str] = []
    queue = [(config, 0)]
    seen = {config}
    while queue:
        path, depth = queue.pop(0)
        text = _read(path)
        if text is None:
            continue
        for section, key, value in config_entries(text):
            if key == "path" and (section == "include" or section.startswith("includeif.")):
                target = _expand(value, os.path.dirname(path), home)
                if target and target not in seen and len(seen) < 64:
                    seen.add(target)
                    includes.append(target)
                    if depth + 1 < MAX_DEPTH:
                        queue.append((target, depth + 1))
            elif section == "core" and key == "hookspath":
                target = _expand(value, worktree, home)
                if target and target not in hooks:
                    hooks.append(target)
    return includes, hooks


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """git's offset encoding (index v4 path prefix lengths)."""
    c = data[pos]
    pos += 1
    val = c & 0x7F
    while c & 0x80:
        val += 1
        c = data[pos]
        pos += 1
        val = (val << 7) + (c & 0x7F)
    return val, pos


def gitlinks(index: str, hash_len: int = 20) -> list[str]:
    """Paths of the gitlinks (submodules, nested repositories) in a git index; [] when the
    index is missing or cannot be read (v2, v3 and v4 are understood)."""
    try:
        with open(index, "rb") as f:
            data = f.read(MAX_INDEX)
    except OSError:
        return []
    if len(data) < 12 or data[:4] != b"DIRC":
        return []
    version, count = struct.unpack(">II", data[4:12])
    if version not in (2, 3, 4):
        return []
    if version != 4:
        return _gitlinks_fixed(data, version, hash_len)
    out: list[str] = []
    off = 12
    prev = b""
    try:
        for _ in range(count):
            mode = struct.unpack(">I", data[off + 24 : off + 28])[0]
            p = off + 40 + hash_len
            flags = struct.unpack(">H", data[p : p + 2])[0]
            p += 2
            if flags & 0x4000:
                p += 2
            strip, p = _varint(data, p)
            end = data.index(b"\0", p)
            name = prev[: len(prev) - strip] + data[p:end]
            off = end + 1
            if mode == 0o160000:
                out.append(os.fsdecode(name))
            prev = name
    except (ValueError, IndexError, struct.error):
        return out
    return out


_GITLINK_MODE = struct.pack(">I", 0o160000)


def _gitlinks_fixed(data: bytes, version: int, hash_len: int) -> list[str]:
    """v2/v3: find the gitlink mode bytes and check each hit is a real entry (the name that
    follows ends in NUL and has the length the entry's flags give): a scan that does not walk
    every entry, so a 100,000-file index costs little."""
    out: list[str] = []
    pos = data.find(_GITLINK_MODE, 12)
    while pos >= 0:
        off = pos - 24
        p = off + 40 + hash_len
        if off >= 12 and p + 2 <= len(data):
            flags = struct.unpack(">H", data[p : p + 2])[0]
            p += 2
            if version >= 3 and flags & 0x4000:
                p += 2
            end = data.find(b"\0", p)
            length = flags & 0xFFF
            if end > p and (end - p == length or (length == 0xFFF and end - p >= 0xFFF)):
                name = data[p:end]
                if b"\n" not in name:
                    out.append(os.fsdecode(name))
        pos = data.find(_GITLINK_MODE, pos + 1)
    return list(dict.fromkeys(out))


def hash_len(config: str) -> int:
    """20 (SHA-1), or 32 for a repository whose extensions.objectFormat is sha256."""
    text = _read(config) or ""
    for section, key, value in config_entries(text):
        if section == "extensions" and key == "objectformat" and value.lower() == "sha256":
            return 32
    return 20

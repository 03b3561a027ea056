"""Build tools, test runners and linters: local work that runs sandboxed, except where a
subcommand publishes or installs.
"""

from __future__ import annotations

from app.core.model import Category as K
from app.risk.analysis import Analyzer
from app.risk.commands.args import PUBLISH_WORDS, server_script
from app.risk.commands.databases import migration_task
from app.risk.commands.registry import Family, Handler
from app.risk.shell import SimpleCommand, Word

BUILD_TOOLS = frozenset(
    [
        "next",
        "nuxt",
        "nuxi",
        "astro",
        "remix",
        "svelte-kit",
        "storybook",
        "webpack-dev-server",
        "ng",
        "vue-cli-service",
        "gatsby",
        "expo",
        "react-scripts",
        "docusaurus",
        "json-server",
        "nodemon",
        "ts-node-dev",
        "browser-sync",
        "rubocop",
        "standardrb",
        "mix",
        "zig",
        "rebar3",
        "dune",
        "stack",
        "cabal",
        "elm",
        "tsup",
        "babel",
        "tailwindcss",
        "sass",
        "c8",
        "nyc",
        "actionlint",
        "clang-format",
        "clang-tidy",
        "cppcheck",
        "lein",
        "clj",
        "kotlin",
        "xcodebuild",
        "flutter",
        "dart",
        "bats",
        "ansible-lint",
        "sqlfluff",
        "watchexec",
        "entr",
        "concurrently",
        "wait-on",
        "cross-env",
        "dotenv",
        "air",
        "reflex",
        "artisan",
        "oxlint",
        "dprint",
        "knip",
        "depcheck",
        "markdownlint",
        "markdownlint-cli2",
        "commitlint",
        "lint-staged",
        "semantic-release-dry",
        "vue-tsc",
        "svelte-check",
        "ava",
        "tap",
        "karma",
        "cucumber-js",
        "behave",
        "robot",
        "locust",
        "k6",
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


# Tools that start a development server (it listens and keeps running) with these
# subcommands; "" = with no subcommand at all, "*" = whatever the arguments.
_DEV_SERVERS: dict[str, frozenset[str]] = {
    "next": frozenset({"dev", "start"}),
    "vite": frozenset({"", "dev", "serve", "preview"}),
    "nuxt": frozenset({"dev", "preview", "start"}),
    "nuxi": frozenset({"dev", "preview", "start"}),
    "astro": frozenset({"dev", "preview"}),
    "remix": frozenset({"dev"}),
    "svelte-kit": frozenset({"dev", "preview"}),
    "storybook": frozenset({"dev", "start"}),
    "webpack": frozenset({"serve"}),
    "webpack-dev-server": frozenset({"*"}),
    "ng": frozenset({"serve", "s"}),
    "vue-cli-service": frozenset({"serve"}),
    "gatsby": frozenset({"develop", "serve"}),
    "expo": frozenset({"start"}),
    "react-scripts": frozenset({"start"}),
    "parcel": frozenset({"", "serve"}),
    "docusaurus": frozenset({"start", "serve"}),
    "json-server": frozenset({"*"}),
    "nodemon": frozenset({"*"}),
    "ts-node-dev": frozenset({"*"}),
    "browser-sync": frozenset({"*"}),
    "artisan": frozenset({"serve"}),
    "air": frozenset({"*"}),
    "reflex": frozenset({"run"}),
    "tsx": frozenset({"watch"}),
    "locust": frozenset({"*"}),
}


def dev_server(name: str, args: tuple[Word, ...] | list[Word]) -> bool:
    """True when `name args` starts a development server (or a watcher that keeps running)."""
    subs = _DEV_SERVERS.get(name)
    vals = [w.value or "" for w in args]
    if subs is None:
        return False
    first = next((v for v in vals if not v.startswith("-")), "")
    if "*" in subs or first in subs:
        return True
    return "--watch" in vals or "--serve" in vals


def h_build(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name or ""
    if dev_server(name, c.args) or (
        name in ("tsx", "ts-node", "ts-node-esm", "bun", "deno")
        and any(server_script(w.value or "") for w in c.args[:3])
    ):
        an.ci(c).network = True
        an.add(
            K.NETWORK,
            40,
            f"`{name}` starts a development server (or watcher) that listens and keeps "
            "running after the action is reported done",
            c.span,
        )
        return
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
        targets = [w for w in c.args if not (w.value or "-").startswith("-")]
        if targets and migration_task(an, c, name, targets):
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


def _browser_tool(an: Analyzer, c: SimpleCommand) -> None:
    if any(w.value in ("install", "install-deps") for w in c.args):
        an.ci(c).network = True
        an.add(
            K.SUPPLY_CHAIN, 40, f"`{c.name} install` downloads browsers or system packages", c.span
        )
    else:
        an.add(K.RESOURCE, 5, f"runs `{c.name}` tests (sandboxed)", c.span)


EXACT: dict[str, Handler] = {
    "manage.py": h_build,
    "playwright": lambda an, c: _browser_tool(an, c),
    "cypress": lambda an, c: _browser_tool(an, c),
}

FAMILIES: tuple[Family, ...] = ((BUILD_TOOLS, h_build),)

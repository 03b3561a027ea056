"""`lockgate deps check`: the console's registry check, from the shell.

    lockgate deps check [--json] [-e pypi|npm|crates|go|rubygems] NAME[==VER|@VER]…
    lockgate deps check [--json] --file MANIFEST

A NAME may carry its ecosystem: `npm:left-pad@1.3.0`, `crates:serde`, `go:github.com/x/y@v1.2.3`.
--file reads requirements*.txt, pyproject.toml, setup.cfg, package.json, Cargo.toml, go.mod or
a Gemfile. Names on the shipped popularity lists are not looked up (they stay offline-fast).
Exit 0 when nothing needs a look, 1 when a package is missing, quarantined, new, young,
deprecated, yanked or could not be checked, 2 on a usage error.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click

from app.cli import UserError


def _level(score: int) -> str:
    from app.core.model import Level

    return Level.from_score(score).value


def _parse_name(raw: str, default: str) -> Any:
    from app.deps.model import ECOSYSTEMS, PackageRef

    eco, name = default, raw
    if ":" in raw and raw.split(":", 1)[0] in ECOSYSTEMS:
        eco, name = raw.split(":", 1)
    version = None
    if eco == "pypi":
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?(?:===?(.+))?$", name)
        if not m:
            raise UserError(f"{raw}: not a package name (NAME or NAME==VERSION)")
        name, version = m.group(1), m.group(2)
    elif eco in ("npm", "crates", "go"):
        at = name.rfind("@")
        if at > 0:
            name, version = name[:at], name[at + 1 :]
    elif "==" in name:
        name, version = name.split("==", 1)
    if not name:
        raise UserError(f"{raw}: empty package name")
    return PackageRef(eco, name, version or None, "command line")  # type: ignore[arg-type]


def _from_file(path: Path) -> list[Any]:
    from app.deps.extract import manifest_refs

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {path}: {exc}") from exc
    refs = manifest_refs(str(path), text)
    if refs is None:
        raise UserError(
            f"{path.name}: not a manifest lockgate reads (requirements*.txt, pyproject.toml, "
            "setup.cfg, package.json, Cargo.toml, go.mod, Gemfile)"
        )
    return refs


@click.group("deps")
def cli() -> None:
    """Check packages against their registries (missing, new, quarantined, yanked)."""


@cli.command("check")
@click.argument("names", nargs=-1)
@click.option("--file", "manifest", type=click.Path(path_type=Path), help="Check a manifest.")
@click.option(
    "-e",
    "--ecosystem",
    type=click.Choice(["pypi", "npm", "crates", "go", "rubygems"]),
    default="pypi",
    show_default=True,
    help="Ecosystem of NAMEs without a prefix.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
@click.option("--no-cache", is_flag=True, help="Ask the registries even if an answer is cached.")
@click.option(
    "-w",
    "--workspace",
    type=click.Path(path_type=Path),
    default=None,
    help="Workspace whose pip/npm configuration applies (default: the current directory).",
)
@click.pass_context
def check(
    ctx: click.Context,
    names: tuple[str, ...],
    manifest: Path | None,
    ecosystem: str,
    as_json: bool,
    no_cache: bool,
    workspace: Path | None,
) -> None:
    """Look NAMEs (or a manifest's dependencies) up where they live."""
    from app.core.config import ConfigError, load_user_config
    from app.deps.check import MEDIUM, DepsChecker, default_cache, offline
    from app.deps.indexes import discover

    if bool(names) == bool(manifest):
        raise UserError("give package NAMEs or --file MANIFEST (one of the two)")
    refs = _from_file(manifest) if manifest else [_parse_name(n, ecosystem) for n in names]
    ws = (workspace or Path.cwd()).expanduser()
    try:
        cfg = load_user_config().section("deps")
        indexes = discover(ws, cfg)
    except (ConfigError, ValueError) as exc:
        raise UserError(str(exc)) from exc
    checker = DepsChecker(indexes, None if no_cache else default_cache(), offline=offline())
    todo = [r for r in refs if checker.needs_lookup(r)]
    outcomes = {id(r): o for r, o in zip(todo, checker.check_all(todo), strict=True)}
    rows: list[dict[str, Any]] = []
    worst = 0
    for r in refs:
        o = outcomes.get(id(r))
        row: dict[str, Any] = {"ecosystem": r.ecosystem, "name": r.name, "version": r.version}
        if o is None:
            row.update(score=0, level="safe", popular=True, findings=[])
        else:
            worst = max(worst, o.score)
            info = o.info
            row.update(
                score=o.score,
                level=_level(o.score),
                popular=False,
                cached=o.cached,
                error=o.error or None,
                registry=info.registry if info else None,
                exists=info.exists if info else None,
                first_release=info.first_release.isoformat()
                if info and info.first_release
                else None,
                releases=info.releases if info else None,
                maintainers=info.maintainers if info else None,
                status=info.status or None if info else None,
                findings=[
                    {"score": f.score, "level": _level(f.score), "reason": f.reason}
                    for f in o.findings
                ],
            )
        rows.append(row)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
    else:
        width = max(len(r["name"]) + len(r["version"] or "") + 1 for r in rows)
        for row in rows:
            label = row["name"] + (f" {row['version']}" if row["version"] else "")
            if row["popular"]:
                click.echo(
                    f"{row['ecosystem']:<9}{label:<{width}}  ok        popular: not looked up"
                )
                continue
            for i, f in enumerate(row["findings"]):
                level = "ok" if f["score"] < 10 else f["level"]
                head = f"{row['ecosystem']:<9}{label:<{width}}" if i == 0 else " " * (9 + width)
                click.echo(f"{head}  {level:<9} {f['reason']}")
    ctx.exit(1 if worst >= MEDIUM else 0)

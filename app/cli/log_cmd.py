"""`lockgate log`: read, check and export the audit logs sessions leave behind."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from app.cli import UserError

# The audit and patch modules load inside the commands: `lockgate log --help` needs none of them.
if TYPE_CHECKING:
    from app.core.verify import VerifyReport


def _resolve(path: str | None, last: bool) -> Path:
    from app.core.audit import audit_dir, list_logs

    if path and last:
        raise UserError("give a log path or --last, not both")
    if path:
        p = Path(path)
        if not p.is_file():
            raise UserError(f"{path}: no such audit log")
        return p
    logs = list_logs()
    if not logs:
        raise UserError(f"no audit logs yet in {audit_dir()}")
    return logs[-1]


def plural(n: int, word: str) -> str:
    """'1 record', '2 records': counts read as words, not as 'record(s)'."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _dict(value: Any) -> dict[str, Any]:
    """A log is input: a field that should be a table but is not reads as an empty one."""
    return value if isinstance(value, dict) else {}


def _strs(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _clock(ts: Any) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(ts)))
    except (TypeError, ValueError, OverflowError):
        return "?"


def _one_line(text: str, width: int = 90) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _action_text(action: dict[str, Any]) -> str:
    kind = action.get("kind")
    if kind == "command":
        return str(action.get("command", ""))
    if kind == "patch":
        return str(action.get("patch", ""))
    if kind == "network":
        return f"{action.get('method', '')} {action.get('scheme', '')}://{action.get('host', '')}:{action.get('port', '')}"
    return str(action)


def summarise(rec: dict[str, Any]) -> str:
    """One line a person can read for one record."""
    kind = rec.get("kind", "?")
    d = rec.get("data") or {}
    if not isinstance(d, dict):
        return str(d)
    if kind == "session-start":
        return f"workspace {d.get('workspace')}" + (
            f" (resumed from {d['resumed_from']})" if d.get("resumed_from") else ""
        )
    if kind == "session-resumed":
        return f"resumed by pid {d.get('pid')}: {d.get('summary', '')}"
    if kind == "proposal":
        a = _dict(d.get("action"))
        return (
            f"{a.get('id')} [{a.get('turn_id')}] {a.get('kind')}: {_one_line(_action_text(a), 70)}"
        )
    if kind == "assessment":
        a = _dict(d.get("assessment"))
        cats = ",".join(_strs(a.get("categories"))) or "-"
        return f"{d.get('action_id')} score {a.get('score')} {a.get('level')} ({cats})"
    if kind == "decision":
        x = _dict(d.get("decision"))
        return f"{d.get('action_id')} {x.get('kind')} by {x.get('rule')}" + (
            f": {_one_line(x['reason'], 60)}" if x.get("reason") else ""
        )
    if kind == "verdict":
        v = _dict(d.get("verdict"))
        extra = ""
        if v.get("edited") is not None:
            extra = f" → {_one_line(v['edited'], 50)}"
        if v.get("feedback"):
            extra += f" feedback: {_one_line(v['feedback'], 50)}"
        return f"{v.get('action_id')} {v.get('kind')} by {v.get('by')} key {v.get('key') or '-'}{extra}"
    if kind == "patch-review":
        r = _dict(d.get("review"))
        raw_files = r.get("files")
        files = (
            ", ".join(" ".join(_strs(f)) for f in raw_files) if isinstance(raw_files, list) else ""
        )
        return f"{d.get('action_id')} {'ok' if r.get('ok') else 'refused: ' + str(r.get('error'))} {files}"
    if kind == "execution-start":
        return f"{d.get('action_id')} runs: {_one_line(d.get('ran', ''), 70)}"
    if kind in ("execution-end", "result"):
        r = _dict(d.get("result"))
        g = _dict(d.get("digest"))
        bits = [str(r.get("action_id")), str(r.get("status"))]
        if r.get("exit_code") is not None:
            bits.append(f"exit {r['exit_code']}")
        if g:
            bits.append(f"out {g.get('stdout_total')} B err {g.get('stderr_total')} B")
        if r.get("message"):
            bits.append(_one_line(r["message"], 60))
        return " ".join(bits)
    if kind in ("results-sent", "turn-closed"):
        return f"{d.get('turn_id')}: {plural(len(_strs(d.get('action_ids'))), 'result')}"
    if kind == "network":
        verdict = "allowed" if d.get("allowed") else "refused"
        return f"{verdict} {d.get('method')} {d.get('scheme')}://{d.get('host')}:{d.get('port')} {d.get('rule') or ''}".rstrip()
    if kind in ("undo-start", "undo-end"):
        r = _dict(d.get("result"))
        return f"{r.get('status', '')} {r.get('message', '')}".strip()
    if kind == "taint":
        return (
            f"{d.get('action_id')} untrusted content ({d.get('source')}): "
            f"{_one_line(str(d.get('what', '')), 70)}"
        )
    if kind == "taint-cleared":
        return f"cleared by {d.get('by')}"
    if kind == "session-end":
        return "closed cleanly"
    if kind == "torn-tail-discarded":
        return f"{d.get('bytes')} bytes of a half-written record dropped after a crash"
    return _one_line(str(d), 90)


def _status_line(report: VerifyReport) -> str:
    if report.ok:
        return f"ok: {plural(report.records, 'record')}"
    first = report.first
    return f"{report.path}: {first}" if first else "broken"


@click.group(name="log")
def cli() -> None:
    """Show, verify and export audit logs."""


@cli.command("verify")
@click.argument("path", required=False)
@click.option("--last", is_flag=True, help="The most recent session's log (the default).")
def verify_cmd(path: str | None, last: bool) -> None:
    """Check the hash chain of PATH (default: the most recent session's log): exit 0 if intact,
    1 with the first bad line if not."""
    from app.core.verify import verify_log
    from app.patch.display import terminal_safe

    log = _resolve(path, last)
    report = verify_log(log)
    if report.ok:
        note = "" if report.head_checked else " (no head file: the end of the log is unvouched)"
        named = "" if path else terminal_safe(f" in {log}")
        click.echo(f"ok: {plural(report.records, 'record')}{named}{note}")
        return
    first = report.first
    assert first is not None
    click.echo(terminal_safe(f"{log}: {first}"), err=True)
    extra = len(report.problems) - 1
    if extra:
        click.echo(f"({extra} more {'problem' if extra == 1 else 'problems'} after it)", err=True)
    # app.cli.main runs click with standalone_mode=False, which swallows click's Exit codes
    sys.exit(1)


@cli.command("show")
@click.argument("path", required=False)
@click.option("--last", is_flag=True, help="The most recent session's log (the default).")
def show_cmd(path: str | None, last: bool) -> None:
    """Print a log one record per line."""
    from app.core.audit import read_records
    from app.core.verify import verify_log
    from app.patch.display import terminal_safe

    p = _resolve(path, last)
    report = verify_log(p)
    # Log text is agent-controlled: escape sequences are shown, never sent to the terminal.
    click.echo(terminal_safe(f"{p}  ({_status_line(report)})"))
    for _, rec in read_records(p):
        line = f"{rec.get('seq', '?'):>5}  {_clock(rec.get('ts'))}  {rec.get('kind', '?'):<18} {summarise(rec)}"
        click.echo(terminal_safe(line))


def _fence(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _md_escape(text: str) -> str:
    return re.sub(r"([\\`*_{}\[\]<>|#])", r"\\\1", text)


def export_markdown(path: Path) -> str:
    from app.core.audit import read_records
    from app.core.verify import verify_log

    report = verify_log(path)
    records = [rec for _, rec in read_records(path)]
    session = next((r.get("session") for r in records), "?")
    start = next((r for r in records if r.get("kind") == "session-start"), None)
    out = [f"# lockgate audit log: {_md_escape(str(session))}", ""]
    out.append(f"- file: `{path}`")
    if start:
        out.append(f"- workspace: `{_dict(start.get('data')).get('workspace')}`")
        out.append(f"- started: {_clock(start.get('ts'))}")
    chain = (
        f"intact ({report.records} records)"
        if report.ok
        else f"**BROKEN**: {_md_escape(str(report.first))}"
    )
    out.append(f"- hash chain: {chain}")
    out.append("")

    actions: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    turns: dict[str, list[str]] = {}
    network: list[dict[str, Any]] = []
    for rec in records:
        kind = rec.get("kind")
        d = rec.get("data") or {}
        if not isinstance(d, dict):
            continue
        if kind == "proposal":
            a = _dict(d.get("action"))
            aid = str(a.get("id"))
            actions[aid] = {"action": a, "ts": rec.get("ts")}
            order.append(aid)
            turns.setdefault(str(a.get("turn_id")), []).append(aid)
            continue
        aid = str(
            d.get("action_id")
            or _dict(d.get("verdict")).get("action_id")
            or _dict(d.get("result")).get("action_id")
        )
        if aid in actions:
            # the last word counts: a resumed session may give a fresh verdict and run it then
            actions[aid][str(kind)] = d
            if kind == "verdict":
                actions[aid]["verdict_ts"] = rec.get("ts")
        if kind == "network":
            network.append(d)

    n = 0
    for turn_id, ids in turns.items():
        out.append(f"## Turn {_md_escape(turn_id)}")
        out.append("")
        for aid in ids:
            n += 1
            x = actions[aid]
            a = _dict(x["action"])
            text = _action_text(a)
            ass = _dict(_dict(x.get("assessment")).get("assessment"))
            head = f"### {n}. {a.get('kind')} `{_md_escape(aid)}`"
            if ass:
                head += f": {ass.get('level')} ({ass.get('score')})"
            out += [head, ""]
            fence = _fence(text)
            lang = (
                "sh" if a.get("kind") == "command" else "diff" if a.get("kind") == "patch" else ""
            )
            out += [f"{fence}{lang}", text, fence, ""]
            if a.get("justification"):
                out.append(
                    f"- agent's reason: {_md_escape(_one_line(str(a['justification']), 200))}"
                )
            if ass:
                reasons = "; ".join(_strs(ass.get("reasons"))) or "none"
                out.append(
                    f"- assessment: {ass.get('score')} {ass.get('level')}: {_md_escape(reasons)}"
                )
            dec = _dict(_dict(x.get("decision")).get("decision"))
            if dec:
                why = f": {_md_escape(str(dec['reason']))}" if dec.get("reason") else ""
                out.append(f"- decision: {dec.get('kind')} (rule `{dec.get('rule')}`){why}")
            v = _dict(_dict(x.get("verdict")).get("verdict"))
            if v:
                key = f", key `{v['key']}`" if v.get("key") else ""
                out.append(
                    f"- verdict: {v.get('kind')} by {v.get('by')}{key} at {_clock(x.get('verdict_ts'))}"
                )
                if v.get("feedback"):
                    out.append(f"- feedback to the agent: {_md_escape(str(v['feedback']))}")
            start_rec = _dict(x.get("execution-start"))
            if start_rec:
                ran = str(start_rec.get("ran", ""))
                if ran != text:
                    f2 = _fence(ran)
                    out += ["- what ran:", "", f"{f2}", ran, f2, ""]
            end = _dict(x.get("execution-end")) or _dict(x.get("result"))
            if end:
                r = _dict(end.get("result"))
                g = _dict(end.get("digest"))
                line = f"- result: {r.get('status')}"
                if r.get("exit_code") is not None:
                    line += f", exit {r['exit_code']}"
                if g:
                    line += (
                        f", stdout {g.get('stdout_total')} B (sha256 `{str(g.get('stdout_kept_sha256'))[:16]}…`),"
                        f" stderr {g.get('stderr_total')} B"
                    )
                if r.get("message"):
                    line += f": {_md_escape(_one_line(str(r['message']), 200))}"
                out.append(line)
                pre_hashes = _dict(start_rec.get("pre"))
                for f, h in _dict(end.get("post")).items():
                    out.append(f"  - `{f}`: {str(pre_hashes.get(f))[:12]} → {str(h)[:12]}")
            elif start_rec:
                out.append("- result: **interrupted** (started, never finished)")
            else:
                out.append("- result: none recorded (pending)")
            out.append("")
    if network:
        out += ["## Network requests", "", "| allowed | request | rule |", "|---|---|---|"]
        for d in network:
            req = f"{d.get('method')} {d.get('scheme')}://{d.get('host')}:{d.get('port')}"
            out.append(
                f"| {'yes' if d.get('allowed') else 'no'} | {_md_escape(req)} | {_md_escape(str(d.get('rule') or ''))} |"
            )
        out.append("")
    return "\n".join(out)


@cli.command("export")
@click.argument("path", required=False)
@click.option("--last", is_flag=True, help="The most recent session's log (the default).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md"]),
    default="md",
    show_default=True,
    help="Output format.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here.")
def export_cmd(path: str | None, last: bool, fmt: str, output: Path | None) -> None:
    """Export a session as a Markdown report: each action, its score, verdict and result."""
    from app.patch.display import terminal_safe

    p = _resolve(path, last)
    text = terminal_safe(export_markdown(p))
    if output is None:
        click.echo(text)
        return
    try:
        output.write_text(text + "\n")
    except OSError as exc:
        raise UserError(f"{output}: cannot write: {exc.strerror}") from exc
    click.echo(f"wrote {output}")

"""`lockgate scan`: look for prompt injection in a tool output, the way the console does.

    lockgate scan [--json] FILE|-
    lockgate scan --jsonl < lines

Exit 0 when the text is clean, 1 when it holds an injection, 2 on an error. With --jsonl each
input line is `{"text": "…"}` and each output line is `{"injection": bool, "score": n,
"findings": [{"kind", "reason", "span": [start, end]}]}`, or `{"error": "…"}` for a line that
cannot be read (the stream goes on; the exit code is 1 if any line held an injection). Spans are
character offsets into the text as decoded (invalid UTF-8 becomes U+FFFD, one character a byte).
"""

from __future__ import annotations

import json
import sys
from typing import IO

import click

from app.cli import UserError


def _shown(text: str, limit: int = 70) -> str:
    """An excerpt that cannot act on the terminal: controls and invisible characters escaped."""
    out: list[str] = []
    for ch in text:
        if ch == "\n":
            out.append("⏎")
        elif ch.isprintable() and not (0x200B <= ord(ch) <= 0x206F or ord(ch) >= 0xE0000):
            out.append(ch)
        else:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 else f"\\U{ord(ch):08x}")
        if len(out) >= limit:
            out.append("…")
            break
    return "".join(out)


def _read(source: str) -> str:
    try:
        if source == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(source, "rb") as fh:
                data = fh.read()
    except OSError as exc:
        raise UserError(f"cannot read {source}: {exc.strerror or exc}") from exc
    return data.decode("utf-8", errors="replace")


def _stream(src: IO[bytes], out: IO[str]) -> int:
    from app.injection.scanner import scan

    worst = 0
    for n, raw in enumerate(src, 1):
        line = raw.decode("utf-8", errors="replace").strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                raise ValueError('expected an object with a "text" string')
        except ValueError as exc:
            out.write(json.dumps({"error": f"line {n}: {exc}"}) + "\n")
            out.flush()
            continue
        result = scan(obj["text"])
        worst = max(worst, 1 if result.injection else 0)
        out.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
        out.flush()
    return worst


@click.command("scan")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--jsonl", is_flag=True, help='Read {"text": …} lines on stdin, one result a line.')
@click.argument("source", required=False)
@click.pass_context
def cli(ctx: click.Context, as_json: bool, jsonl: bool, source: str | None) -> None:
    """Look for prompt injection in FILE (or - for standard input). Exit 1 if found."""
    from app.injection.scanner import scan

    if jsonl:
        if source not in (None, "-"):
            raise UserError("--jsonl reads standard input; give no FILE")
        ctx.exit(_stream(sys.stdin.buffer, sys.stdout))
    if source is None:
        raise UserError("nothing to scan: lockgate scan FILE (or - for standard input)")
    text = _read(source)
    result = scan(text)
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False))
    elif not result.findings:
        click.echo(f"clean (score {result.score})")
    else:
        verdict = "injection" if result.injection else "clean, with weak signals"
        click.echo(f"{verdict} (score {result.score})")
        for f in result.findings:
            s, e = f.span
            click.echo(f"  {f.kind:<17} {f.reason}")
            click.echo(f"  {'':<17} at {s}-{e}: {_shown(text[s:e])}")
    ctx.exit(1 if result.injection else 0)

"""Databases: clients of database servers and the statements they are given (`psql -c`,
`mysql -e`, `mongosh --eval`, `redis-cli FLUSHALL`, heredocs), file databases (sqlite3, duckdb),
migration tools and database tasks (`migrate --fake`, resets, flushes).
"""

from __future__ import annotations

import re

from app.core.model import Category as K
from app.risk.analysis import Analyzer, short
from app.risk.commands.args import q
from app.risk.commands.effects import read_target
from app.risk.commands.registry import Family, Handler
from app.risk.netutil import parse_target
from app.risk.shell import SimpleCommand, Word

MIGRATORS = frozenset(
    {
        "alembic",
        "flyway",
        "liquibase",
        "knex",
        "sequelize",
        "prisma",
        "drizzle-kit",
        "typeorm",
        "goose",
        "migrate",
        "dbmate",
        "atlas",
        "sqitch",
        "diesel",
        "sqlx",
        "django-admin",
        "pg_dump",
        "pg_dumpall",
        "pg_restore",
        "mysqldump",
        "mongodump",
        "mongorestore",
        "dropdb",
        "createdb",
    }
)

# Clients of database servers (local or remote, with stored credentials).
SQL_CLIENTS = frozenset(
    {
        "psql",
        "pgcli",
        "mysql",
        "mariadb",
        "mycli",
        "mongo",
        "mongosh",
        "redis-cli",
        "valkey-cli",
        "keydb-cli",
        "cqlsh",
        "clickhouse-client",
        "sqlcmd",
        "cockroach",
        "usql",
        "snowsql",
        "cypher-shell",
        "influx",
        "etcdctl",
    }
)
# Databases that are a file: what matters is where the file is.
FILE_DBS = frozenset({"sqlite3", "sqlite", "duckdb", "litecli"})

# Where each client takes statements from (options whose value is code).
_CODE_OPTS = {
    "psql": ("-c", "--command"),
    "pgcli": ("-c", "--command"),
    "mysql": ("-e", "--execute"),
    "mariadb": ("-e", "--execute"),
    "mycli": ("-e", "--execute"),
    "mongo": ("--eval",),
    "mongosh": ("--eval",),
    "clickhouse-client": ("-q", "--query"),
    "sqlcmd": ("-Q", "-q"),
    "cockroach": ("-e", "--execute"),
    "usql": ("-c", "--command"),
    "snowsql": ("-q", "--query"),
    "sqlite3": ("-cmd",),
    "sqlite": ("-cmd",),
    "duckdb": ("-c", "-cmd", "-s"),
    "litecli": ("-e", "--execute"),
}
_VALUE_OPTS = frozenset(
    {
        "-h",
        "-p",
        "-U",
        "-u",
        "-d",
        "-P",
        "-a",
        "-n",
        "-c",
        "-e",
        "-f",
        "-q",
        "-Q",
        "-S",
        "-s",
        "-cmd",
        "--host",
        "--port",
        "--user",
        "--username",
        "--dbname",
        "--database",
        "--password",
        "--pass",
        "--command",
        "--execute",
        "--file",
        "--eval",
        "--query",
        "--url",
        "--uri",
        "--endpoints",
        "--tls",
        "--cacert",
        "--sni",
        "--bucket",
        "--org",
        "--token",
        "-t",
        "-o",
        "--output",
    }
)
_SCRIPT_OPTS = ("-f", "--file", "-i", "--init", "-init", "-I")

# Statements that wipe what they name (everything, or a whole table / collection).
_WIPE = re.compile(
    r"\bdrop\s+(database|schema|table|collection|keyspace|view|materialized\s+view|owned)\b"
    r"|\btruncate\b"
    r"|\bdelete\s+from\s+[\w.\"`\[\]]+\s*(;|$|\)|--)"
    r"|\bupdate\s+[\w.\"`\[\]]+\s+set\b(?![^;]*\bwhere\b)"
    r"|\bflushall\b|\bflushdb\b"
    r"|\bdropdatabase\s*\(|\.drop\s*\(\s*\)"
    r"|\b(deletemany|remove)\s*\(\s*\{\s*\}\s*\)"
    r"|^\s*del\b.*--prefix"
    r"|^\s*delete\s+--bucket"
    r"|\bdrop\s+all\b|\bdetach\s+delete\b",
    re.I | re.M,
)
# Statements that change data or schema in a bounded way.
_CHANGE = re.compile(
    r"\b(delete|update|insert|replace|merge|upsert|alter|create|grant|revoke|rename|drop|"
    r"copy|vacuum|reindex|attach|import|load|restore|"
    r"insertone|insertmany|updateone|updatemany|deleteone|createindex|"
    r"set|del|unlink|hset|hdel|lpush|rpush|sadd|srem|zadd|expire|put)\b",
    re.I,
)


def _statements(c: SimpleCommand) -> tuple[list[Word], list[Word], list[Word]]:
    """(statements given as text, scripts given as files, positional words) of a client."""
    name = c.name or ""
    code_opts = _CODE_OPTS.get(name, ())
    texts: list[Word] = []
    files: list[Word] = []
    pos: list[Word] = []
    args = list(c.args)
    i = 0
    while i < len(args):
        w = args[i]
        v = w.value or ""
        opt, eq, inline_val = v.partition("=")
        if v.startswith("-") and v != "-":
            if opt in code_opts or opt in _SCRIPT_OPTS:
                target = texts if opt in code_opts else files
                if eq:
                    target.append(Word(inline_val, w.text, w.span))
                elif i + 1 < len(args):
                    target.append(args[i + 1])
                    i += 1
            elif v[:2] in code_opts and len(v) > 2 and not v.startswith("--"):
                texts.append(Word(v[2:], w.text, w.span))  # -c'DROP …'
            elif not eq and opt in _VALUE_OPTS and i + 1 < len(args):
                i += 1
            i += 1
            continue
        pos.append(w)
        i += 1
    for r in c.redirects:
        if r.body is not None:
            texts.append(Word(r.body, r.body, r.span, r.body_offset))
        elif r.op == "<" and r.target is not None:
            files.append(r.target)
    return texts, files, pos


def _classify(text: str) -> str:
    """ "wipe", "change" or "read" for the statements in one text."""
    if _WIPE.search(text):
        return "wipe"
    if _CHANGE.search(text):
        return "change"
    return "read"


def _remote_host(c: SimpleCommand, pos: list[Word]) -> str:
    """The server named on the command line, when it is not this machine."""
    vals = [w.value or "" for w in c.args]
    host = ""
    for k, v in enumerate(vals):
        if v in ("-h", "--host") and k + 1 < len(vals):
            host = vals[k + 1]
        elif v.startswith(("--host=", "-h")) and len(v) > 2 and not v.startswith("--help"):
            host = v.split("=", 1)[-1] if "=" in v else v[2:]
        elif "://" in v:
            t = parse_target(v)
            if t is not None:
                host = t.host
    for w in pos:
        if "://" in (w.value or ""):
            t = parse_target(w.value or "")
            if t is not None:
                host = t.host
    if host in ("", "localhost", "127.0.0.1", "::1", "0.0.0.0", "db", "postgres", "mysql"):
        return ""
    return host


def h_db_client(an: Analyzer, c: SimpleCommand) -> None:
    """A database server's client: what the statements it is given do, and where."""
    name = c.name or ""
    an.ci(c).network = True
    if any(w.value in ("--version", "-V", "--help", "-?") for w in c.args):
        return
    texts, files, pos = _statements(c)
    if name in ("redis-cli", "valkey-cli", "keydb-cli", "etcdctl", "influx", "cockroach"):
        # The command is the words themselves (`redis-cli FLUSHALL`, `etcdctl del --prefix /`).
        words = [w for w in (c.args if name in ("etcdctl", "influx") else pos) if w.value]
        if words and name != "cockroach":
            joined = " ".join(w.value or "" for w in words)
            texts.append(Word(joined, joined, (words[0].span[0], words[-1].span[1])))
    host = _remote_host(c, pos)
    where = f"the database at {host}" if host else "a database (it may be shared or remote)"
    kinds = [(_classify(w.value), w) for w in texts if w.value is not None]
    unknown = [w for w in texts if w.value is None]
    wipe = next((w for k, w in kinds if k == "wipe"), None)
    change = next((w for k, w in kinds if k == "change"), None)
    if wipe is not None:
        an.add(
            K.DESTRUCTIVE,
            80 if host else 70,
            f"`{name}` runs {q(short(wipe.value or '', 50))}, which wipes data in {where}; "
            "nothing can undo it",
            wipe.span,
        )
    elif change is not None:
        an.add(
            K.DESTRUCTIVE,
            55 if host else 50,
            f"`{name}` changes data or schema in {where}: {q(short(change.value or '', 50))}",
            change.span,
        )
    elif unknown or files:
        w = (unknown or files)[0]
        an.add(
            K.DESTRUCTIVE,
            45,
            f"`{name}` runs statements from {q(w.best)} against {where}; what they do is not "
            "visible here",
            w.span,
        )
    else:
        an.add(
            K.NETWORK,
            45 if host else 40,
            f"`{name}` connects to {where} with stored credentials",
            c.span,
        )
    for f in files:
        if f.value is not None:
            read_target(an, c, f)


def h_file_db(an: Analyzer, c: SimpleCommand) -> None:
    """sqlite3 / duckdb: the database is a file; its statements say what happens to it."""
    name = c.name or ""
    if any(w.value in ("--version", "-version", "--help", "-help") for w in c.args):
        return
    texts, files, pos = _statements(c)
    db = pos[0] if pos else None
    texts += pos[1:]
    info = an.path(c, db.value) if db is not None and db.value is not None else None
    if db is not None and info is not None:
        read_target(an, c, db)
    shown = info.display if info is not None else "an in-memory database"
    inside = info is None or info.where in ("workspace", "tmp")
    kinds = [(_classify(w.value), w) for w in texts if w.value is not None]
    wipe = next((w for k, w in kinds if k == "wipe"), None)
    change = next((w for k, w in kinds if k == "change"), None)
    if wipe is not None and info is not None:
        an.add(
            K.DESTRUCTIVE,
            55 if inside else 70,
            f"`{name}` runs {q(short(wipe.value or '', 50))} on {shown}, which wipes data in "
            "it; git cannot bring back rows",
            wipe.span,
        )
    elif change is not None and info is not None:
        an.add(
            K.DESTRUCTIVE,
            15 if inside else 60,
            f"`{name}` changes {shown}: {q(short(change.value or '', 50))}",
            change.span,
        )
    elif (files or any(w.value is None for w in texts)) and info is not None:
        w = (files or [t for t in texts if t.value is None])[0]
        an.add(
            K.DESTRUCTIVE,
            15 if inside else 60,
            f"`{name}` runs statements from {q(w.best)} on {shown}",
            w.span,
        )
    elif info is not None and not inside:
        an.add(K.RESOURCE, 20, f"`{name}` opens {shown}, outside the workspace", c.span)
    else:
        an.add(K.RESOURCE, 5, f"`{name}` queries {shown}", c.span)


# Migration and database tasks, whatever tool runs them (manage.py, rails, rake, prisma, …).
_TASK_WIPE = re.compile(
    r"^(db:)?(reset|drop|purge|flush|wipe|nuke|fresh|sqlflush|reset_db|truncate)"
    r"([:_-].*)?$|^db:(schema:load|structure:load|setup)$|^(migrate:)?(fresh|refresh|reset)$",
    re.I,
)


def migration_task(an: Analyzer, c: SimpleCommand, tool: str, words: list[Word]) -> bool:
    """Judge a database task named by `words` (`flush`, `db:reset`, `migrate reset`,
    `migrate --fake`, `db push --accept-data-loss`); True when it was one of those."""
    vals = [w.value or "" for w in words]
    span = (words[0].span[0], words[-1].span[1]) if words else c.span
    joined = " ".join(vals)
    if "--accept-data-loss" in vals or "--force-reset" in vals:
        an.add(
            K.DESTRUCTIVE,
            65,
            f"`{tool} {short(joined, 40)}` accepts losing data to make the schema fit",
            span,
        )
        return True
    if any(_TASK_WIPE.match(v) for v in vals[:3]) or re.search(r"\bdowngrade\s+base\b", joined):
        an.add(
            K.DESTRUCTIVE,
            65,
            f"`{tool} {short(joined, 40)}` wipes the database (its data is not in git)",
            span,
        )
        return True
    if any(v in ("--fake", "--fake-initial") or v.startswith("--fake=") for v in vals):
        an.add(
            K.DESTRUCTIVE,
            50,
            f"`{tool} {short(joined, 40)}` marks migrations as applied without running them: "
            "the schema and its record drift apart",
            span,
        )
        return True
    return False


# Subcommands that read or write only the project's schema files, never a database.
_SCHEMA_FILES_ONLY = frozenset(
    {
        ("prisma", "generate"),
        ("prisma", "format"),
        ("prisma", "validate"),
        ("prisma", "version"),
        ("prisma", "init"),
        ("drizzle-kit", "generate"),
        ("drizzle-kit", "check"),
        ("sqlx", "prepare"),
        ("alembic", "revision"),
        ("diesel", "setup"),
    }
)


def h_migrator(an: Analyzer, c: SimpleCommand) -> None:
    name = c.name or ""
    vals = " ".join(w.value or "" for w in c.args).lower()
    if migration_task(an, c, name, list(c.args)):
        return
    words = [w.value or "" for w in c.args if not (w.value or "-").startswith("-")]
    if words[:1] and (name, words[0]) in _SCHEMA_FILES_ONLY:
        an.add(K.RESOURCE, 5, f"`{name} {words[0]}` works on the schema files only", c.span)
        return
    if words[1:2] == ["status"] and words[0] in ("migrate", "migration", "migrations"):
        an.add(K.RESOURCE, 15, f"`{name}` inspects the database schema", c.span)
        return
    if name in ("pg_dump", "pg_dumpall", "mysqldump", "mongodump"):
        an.ci(c).reads_data = True
        an.add(K.SECRETS, 40, f"`{name}` dumps a database", c.span)
        return
    if name == "dropdb":
        an.add(K.DESTRUCTIVE, 70, "`dropdb` deletes a whole database; nothing can undo it", c.span)
        return
    if re.search(
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


EXACT: dict[str, Handler] = {
    "django-admin": h_migrator,
}

FAMILIES: tuple[Family, ...] = (
    (MIGRATORS, h_migrator),
    (SQL_CLIENTS, h_db_client),
    (FILE_DBS, h_file_db),
)

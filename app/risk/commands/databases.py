"""Databases: SQL clients and migration tools."""

from __future__ import annotations

import re

from app.core.model import Category as K
from app.risk.analysis import Analyzer
from app.risk.commands.registry import Family, Handler
from app.risk.shell import SimpleCommand

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


EXACT: dict[str, Handler] = {
    "django-admin": h_migrator,
}

FAMILIES: tuple[Family, ...] = ((MIGRATORS, h_migrator),)

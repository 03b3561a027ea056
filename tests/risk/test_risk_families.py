"""The command families (issue 14): one registry that refuses ambiguous claims, and the
database family — clients and the statements they are given, file databases, migration tasks,
platform CLIs that print secrets or wipe a remote database."""

from __future__ import annotations

import types

import pytest
from riskkit import Judge

from app.core.model import DecisionKind, Level
from app.risk.commands import dispatch, registry


def _h(an: object, c: object) -> None:
    return


def _g(an: object, c: object) -> None:
    return


def test_registry_refuses_a_program_claimed_by_two_families() -> None:
    a = types.ModuleType("a")
    a.FAMILIES = ((frozenset({"tool"}), _h),)  # type: ignore[attr-defined]
    b = types.ModuleType("b")
    b.FAMILIES = ((frozenset({"tool"}), _g),)  # type: ignore[attr-defined]
    with pytest.raises(registry.RegistryError, match="tool"):
        registry.build([a, b])
    b.EXACT = {"tool": _g}  # type: ignore[attr-defined]
    assert registry.build([a, b])["tool"] is _g
    c = types.ModuleType("c")
    c.EXACT = {"tool": _h}  # type: ignore[attr-defined]
    with pytest.raises(registry.RegistryError):
        registry.build([b, c])


def test_dispatch_is_a_lookup_plus_pattern_rules() -> None:
    assert dispatch.handler_for("git") is dispatch.vcs.h_git
    assert dispatch.handler_for("python3.12") is dispatch.interpreters.h_python
    assert dispatch.handler_for("pip3.11") is dispatch.packages.h_pip
    assert dispatch.handler_for("mkfs.ext4") is dispatch.sysadmin.h_disk
    assert dispatch.handler_for("node18") is dispatch.interpreters.h_interpreter
    assert dispatch.handler_for("sqlite3") is dispatch.databases.h_file_db
    assert dispatch.handler_for("no-such-tool-xyz") is None


HIGH = [
    "psql -c 'DROP TABLE users'",
    "psql -h db.prod.example.com -U admin -c 'TRUNCATE orders'",
    "mysql -u root -e 'DROP DATABASE shop'",
    "mongosh --eval 'db.dropDatabase()'",
    "mongosh mongodb://prod.example.com/app --eval 'db.users.deleteMany({})'",
    "redis-cli FLUSHALL",
    "redis-cli -h cache.internal flushdb",
    "etcdctl del --prefix /",
    "sqlite3 ~/prod.db 'DROP TABLE users'",
    "python manage.py flush --noinput",
    "rails db:reset",
    "bundle exec rake db:drop",
    "npx prisma migrate reset --force",
    "npx prisma db push --accept-data-loss",
    "alembic downgrade base",
    "dropdb prod",
    "supabase db reset --linked",
    "railway variables",
    "heroku config",
]
ASKED = [
    "sqlite3 app.db 'DELETE FROM users'",
    "duckdb analytics.duckdb 'DROP TABLE events'",
    "psql -c 'SELECT 1'",
    "psql -f migrations/001.sql",
    "mysql -e 'UPDATE users SET admin = 1 WHERE id = 3'",
    "redis-cli DEL session:1",
    "python manage.py migrate --fake",
    "supabase db reset",
    "pg_dumpall > all.sql",
]
ALLOWED = [
    "sqlite3 app.db 'SELECT * FROM users LIMIT 5'",
    "sqlite3 app.db .tables",
    "sqlite3 data/app.db < schema.sql",
    "sqlite3 app.db \"INSERT INTO users VALUES (1, 'a')\"",
    "duckdb -c 'select 42'",
    "python manage.py showmigrations",
]


@pytest.mark.parametrize("text", HIGH)
def test_destructive_database_statements_are_high(judge: Judge, text: str) -> None:
    a, d = judge(text)
    assert a.level >= Level.HIGH and d.kind != DecisionKind.ALLOW, (text, a.reasons)


@pytest.mark.parametrize("text", ASKED)
def test_database_changes_are_asked(judge: Judge, text: str) -> None:
    a, d = judge(text)
    assert d.kind != DecisionKind.ALLOW, (text, a.reasons)


@pytest.mark.parametrize("text", ALLOWED)
def test_local_database_reads_are_allowed(judge: Judge, text: str) -> None:
    a, d = judge(text)
    assert d.kind == DecisionKind.ALLOW, (text, a.reasons)


def test_the_reason_names_the_statement(judge: Judge) -> None:
    a, _ = judge("sqlite3 app.db 'DELETE FROM users'")
    assert "DELETE FROM users" in a.reasons[0] and "app.db" in a.reasons[0]
    text = "psql -h db.prod.example.com -c 'DROP TABLE users'"
    a, _ = judge(text)
    assert "db.prod.example.com" in a.reasons[0]
    assert any("DROP TABLE users" in text[s:e] for s, e in a.spans)

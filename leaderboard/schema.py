"""Schema versions: Alembic migrations run programmatically (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, func, inspect, select, text
from sqlalchemy.engine import Engine

from harness.errors import BadInput

MIGRATIONS = Path(__file__).parent / "migrations"
SCHEMA_LOCK = 0x506F73654265  # a PostgreSQL advisory-lock key of PoseBench's own: schema changes take turns


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head() or ""


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _serialise(conn: Connection) -> None:
    """Make concurrent schema changes take turns: a transaction-scoped advisory lock on PostgreSQL (held until
    commit); SQLite's write transaction (BEGIN IMMEDIATE, leaderboard.db) already excludes other writers."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})


def _run(engine: Engine, action: str, revision: str, only_if_empty: bool = False) -> None:
    """Run an Alembic command in one transaction that holds the schema lock; `only_if_empty`: skip it if another
    process created the schema while this one waited for the lock."""
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        _serialise(conn)
        if only_if_empty and MigrationContext.configure(conn).get_current_revision() is not None:
            return
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, revision)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database up to `revision` (default: the newest)."""
    _run(engine, "upgrade", revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database down to `revision` ('base' removes every table)."""
    _run(engine, "downgrade", revision)


def ensure_current(engine: Engine) -> None:
    """An empty database is brought to the current schema (once, when several processes store into it at the
    same time); one at an older revision is an error."""
    current = current_revision(engine)
    if current is None:
        _run(engine, "upgrade", "head", only_if_empty=True)
    elif current != head_revision():
        raise BadInput(f"{engine.url.render_as_string(hide_password=True)}: schema at revision {current}, expected {head_revision()}; run `harness db upgrade`")


def stored_rows(engine: Engine) -> dict[str, int]:
    """Rows per table of the leaderboard that holds any (a downgrade may drop them)."""
    from leaderboard.db import Base

    present = set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        counts = {t.name: conn.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables if t.name in present}
    return {name: n for name, n in counts.items() if n}

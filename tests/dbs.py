"""Database fixtures: a fresh SQLite file and a fresh PostgreSQL database per test.

PostgreSQL comes from the server at $POSEBENCH_TEST_PG_URL (an admin URL; default: the local server with
the password CI sets). Without a reachable server those tests skip with the reason, unless
$POSEBENCH_REQUIRE_POSTGRES=1 (set by CI), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_ADMIN_URL = os.environ.get("POSEBENCH_TEST_PG_URL", "postgresql+psycopg://postgres:posebench@127.0.0.1:5432/postgres")


def _postgres_or_skip() -> None:
    try:
        with create_engine(PG_ADMIN_URL).connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:
        reason = f"no PostgreSQL server at {make_url(PG_ADMIN_URL).render_as_string(hide_password=True)} ({type(exc).__name__})"
        if os.environ.get("POSEBENCH_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason + " and POSEBENCH_REQUIRE_POSTGRES=1")
        pytest.skip(reason)


def fresh_postgres() -> Iterator[str]:
    _postgres_or_skip()
    name = f"posebench_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def fresh_sqlite(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'leaderboard.db'}"

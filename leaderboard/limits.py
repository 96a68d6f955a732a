"""Submission limits per benchmark ('*': every benchmark without its own row): per user per day and in flight."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from harness.benchmarks import BENCHMARKS
from harness.errors import BadInput
from leaderboard.db import Limit

ANY = "*"


def set_limit(engine: Engine, benchmark: str, per_day: int, concurrent: int) -> None:
    """Set (or replace) the limits of `benchmark` or of ANY; one-line BadInput for an unknown benchmark or a
    negative number."""
    if benchmark != ANY and benchmark not in BENCHMARKS:
        raise BadInput(f"limits: unknown benchmark '{benchmark}'; known: {', '.join(BENCHMARKS)} or '{ANY}'")
    if per_day < 0 or concurrent < 0:
        raise BadInput(f"limits {benchmark}: --per-day and --concurrent must be 0 or more, got {per_day} and {concurrent}")
    with Session(engine) as session, session.begin():
        session.merge(Limit(benchmark=benchmark, per_day=per_day, concurrent=concurrent))


def list_limits(engine: Engine) -> list[dict[str, object]]:
    """Every limit row, '*' first."""
    with Session(engine) as session:
        rows = session.scalars(select(Limit)).all()
        found = [{"benchmark": r.benchmark, "per_day": r.per_day, "concurrent": r.concurrent} for r in rows]
    return sorted(found, key=lambda r: (r["benchmark"] != ANY, r["benchmark"]))


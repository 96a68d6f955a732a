"""Which submission is a method's row, every submission kept as history, and what a new submission changed.

The rule: on each benchmark and kind of data (real or demo), a method's row is its newest verified submission;
a method with no verified submission there shows its newest unverified one. The best of several submissions is
never picked, because choosing among results by their test-set score is selecting on the test set, which the
comparability rule excludes for reported numbers too. Every submission stays in the method's history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from harness.benchmarks import BENCHMARKS
from leaderboard.db import Result, Submission
from leaderboard.visibility import public

ROW_RULE = (
    "a method's row on a benchmark is its newest verified submission on that data (real or demo), or its newest "
    "unverified one if it has no verified one; never the best of several, which would be a choice made on the test set"
)


def row_order(status: str, created: datetime, submission_id: int) -> tuple[bool, datetime, int]:
    """Sort key of the row rule: the largest key is the method's row (verified first, then newest, then last stored).
    A time without a zone is UTC (SQLite stores none)."""
    return (status == "verified", created if created.tzinfo else created.replace(tzinfo=timezone.utc), submission_id)


def pick_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of `frame` (one per submission x metric, with method, data, status, created, submission_id) that
    belong to each method's row submission under ROW_RULE."""
    if frame.empty:
        return frame
    keys = frame.drop_duplicates("submission_id").assign(_verified=lambda f: f["status"] == "verified", created=lambda f: pd.to_datetime(f["created"], utc=True))
    chosen = keys.sort_values(["_verified", "created", "submission_id"], kind="stable").groupby(["method", "data"]).tail(1)
    return frame[frame["submission_id"].isin(chosen["submission_id"])]


def _headline(session: Session, submission_id: int, benchmark: str) -> tuple[str, float] | None:
    """The headline metric and value of one submission on `benchmark` (headline aggregation), if it has one."""
    bench = BENCHMARKS.get(benchmark)
    if bench is None:
        return None
    values = {
        r.metric: r.value
        for r in session.scalars(select(Result).where(Result.submission_id == submission_id, Result.benchmark == benchmark, Result.aggregation == bench.aggregations[0]))
    }
    metric = next((m for m in bench.metrics if m in values), None)
    return (metric, values[metric]) if metric else None


def row_submission(session: Session, method_id: int, benchmark: str, demo: bool, exclude: int | None = None, public_only: bool = False) -> Submission | None:
    """The method's row submission on `benchmark` and data under ROW_RULE (`exclude`: leave that submission out;
    `public_only`: among the submissions public views show)."""
    scored = select(Result.submission_id).where(Result.benchmark == benchmark, Result.demo == demo)
    query = select(Submission).where(Submission.method_id == method_id, Submission.id.in_(scored), *([public()] if public_only else []))
    subs = [s for s in session.scalars(query) if s.id != exclude]
    return max(subs, key=lambda s: row_order(s.status, s.created_at, s.id), default=None)


@dataclass(frozen=True)
class RowChange:
    """What storing a submission did to its method's row on one benchmark."""

    benchmark: str
    previous: int | None  # the row submission before this one was stored
    row: int  # the row submission now
    new: int  # the submission just stored

    def message(self, session: Session, method: str) -> str:
        """One line for the terminal, with both headline values when there was a previous row."""

        def value(sub_id: int) -> str:
            found = _headline(session, sub_id, self.benchmark)
            return f" ({found[0]} {found[1]:.1f})" if found else ""

        if self.previous is None:
            return f"{self.benchmark}: submission {self.new}{value(self.new)} is the method's first there, so its row"
        kept = "is now the method's row" if self.row == self.new else f"is kept in its history; the row stays submission {self.row}"
        return (
            f"{self.benchmark}: method '{method}' already had submission {self.previous}{value(self.previous)}; the new "
            f"submission {self.new}{value(self.new)} {kept} (rule: {ROW_RULE})"
        )


def row_changes(session: Session, method_id: int, new: Submission) -> list[RowChange]:
    """For each benchmark of the just-flushed submission `new`: the method's row before and after it."""
    changes = []
    for benchmark, demo in dict.fromkeys((r.benchmark, r.demo) for r in new.results):
        before = row_submission(session, method_id, benchmark, demo, exclude=new.id)
        after = row_submission(session, method_id, benchmark, demo)
        changes.append(RowChange(benchmark, before.id if before else None, after.id if after else new.id, new.id))
    return changes


def submission_history(results: pd.DataFrame, row_ids: set[int]) -> pd.DataFrame:
    """A method's submissions per benchmark, oldest first, with their headline value and whether each is the row."""
    if results.empty:
        return pd.DataFrame(columns=["benchmark", "data", "submission", "evaluated", "source", "file", "headline", "value", "method's row"])
    rows = []
    for (bench, data, sub), group in results.groupby(["benchmark", "data", "submission"], sort=False):
        info = BENCHMARKS.get(bench)
        head = group[group["aggregation"] == info.aggregations[0]] if info else group
        metric = next((m for m in (info.metrics if info else ()) if m in set(head["metric"])), None)
        cell = head[head["metric"] == metric].iloc[0] if metric else None
        first = group.iloc[0]
        rows.append(
            {"benchmark": bench, "data": data, "submission": int(sub), "evaluated": first["evaluated"], "source": first["source"], "file": first["file"],
             "headline": f"{metric} ({cell['unit']})" if metric else "", "value": float(cell["value"]) if metric else None,
             "method's row": "yes" if sub in row_ids else ""}
        )
    return pd.DataFrame(rows).sort_values(["benchmark", "data", "submission"], kind="stable").reset_index(drop=True)

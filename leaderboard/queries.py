"""Read-only queries behind the page and `harness export`: the leaderboard table of one benchmark."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from harness.benchmarks import BENCHMARKS, METRICS
from leaderboard.db import LiteratureRow, Method, Result, Submission

INFO_COLUMNS: tuple[str, ...] = ("method", "source", "supervision", "input_2d", "training_data", "data", "year", "paper", "code")


def metric_label(metric: str, unit: str, higher_is_better: bool) -> str:
    """Column header with unit and the better direction, e.g. `mpjpe (mm) ↓`."""
    return f"{metric} ({unit}) {'↑' if higher_is_better else '↓'}"


def _headline_aggregation(benchmark: str) -> str | None:
    bench = BENCHMARKS.get(benchmark)
    return bench.aggregations[0] if bench else None


def _verified(engine: Engine, benchmark: str) -> pd.DataFrame:
    """The newest submission of each method on `benchmark`, one row per method, metric values as columns."""
    query = (
        select(Result, Submission, Method)
        .join(Submission, Result.submission_id == Submission.id)
        .join(Method, Submission.method_id == Method.id)
        .where(Result.benchmark == benchmark)
    )
    headline = _headline_aggregation(benchmark)
    rows = []
    with Session(engine) as session:
        for r, s, m in session.execute(query):
            if headline and r.aggregation != headline:
                continue
            rows.append(
                {
                    "method": m.name, "source": "verified", "supervision": m.supervision, "input_2d": m.input_2d,
                    "training_data": m.training_data, "data": "demo" if r.demo else "real", "year": m.year,
                    "paper": m.paper_url, "code": m.code_url, "submission_id": s.id, "created": s.created_at,
                    "metric": metric_label(r.metric, r.unit, r.higher_is_better), "value": r.value,
                }
            )
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows)
    newest = frame.groupby("method")["created"].transform("max") == frame["created"]
    return _wide(frame[newest], "submission_id")


def _reported(engine: Engine, benchmark: str) -> pd.DataFrame:
    """Published numbers for `benchmark`, one row per method and 2D input."""
    rows = []
    with Session(engine) as session:
        for lit, m in session.execute(select(LiteratureRow, Method).join(Method).where(LiteratureRow.benchmark == benchmark)):
            info = METRICS.get(lit.metric)
            rows.append(
                {
                    "method": m.name, "source": "reported", "supervision": m.supervision, "input_2d": lit.input_2d,
                    "training_data": m.training_data, "data": "real", "year": m.year, "paper": m.paper_url, "code": m.code_url,
                    "metric": metric_label(lit.metric, lit.unit, info.higher_is_better if info else False), "value": lit.value,
                    "unknown": lit.unknown,
                }
            )
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows)
    frame["row"] = frame["method"] + "\x00" + frame["input_2d"]
    frame["unknown"] = frame.groupby("row")["unknown"].transform(lambda s: "; ".join(dict.fromkeys(s)))
    return _wide(frame, "row").drop(columns="row")


def _wide(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """One row per `key` with a column per metric, the other columns taken from the key's first row."""
    values = frame.pivot_table(index=key, columns="metric", values="value", aggfunc="first")
    info = frame.drop(columns=["metric", "value", "created"], errors="ignore").drop_duplicates(key).set_index(key)
    return info.join(values).reset_index()


def leaderboard_table(engine: Engine, benchmark: str, data: str = "real") -> pd.DataFrame:
    """Verified and reported rows of one benchmark on `data` ('real' or 'demo': never mixed), sorted by the
    headline metric in its better direction."""
    frame = pd.concat([_verified(engine, benchmark), _reported(engine, benchmark)], ignore_index=True)
    if frame.empty:
        return frame
    frame = frame[frame["data"] == data]
    if frame.empty:
        return frame
    metric_cols = [c for c in frame.columns if c.endswith(("↑", "↓"))]
    bench = BENCHMARKS.get(benchmark)
    order = [next((c for c in metric_cols if c.startswith(m + " (")), None) for m in (bench.metrics if bench else ())]
    ordered = [c for c in order if c] + [c for c in metric_cols if c not in order]
    headline = ordered[0]
    frame = frame.sort_values(headline, ascending=headline.endswith("↓"), na_position="last", kind="stable")
    extra = [c for c in ("unknown", "submission_id") if c in frame.columns]
    return frame[[*INFO_COLUMNS, *ordered, *extra]].reset_index(drop=True)

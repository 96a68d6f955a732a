"""Read-only queries behind the page and `harness export`: the leaderboard table of one benchmark."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from harness.benchmarks import BENCHMARKS, METRICS
from leaderboard.comparability import field_table, judge
from leaderboard.db import Breakdown, LiteratureRow, Method, Result, Submission
from leaderboard.history import pick_rows, row_submission, submission_history
from leaderboard.visibility import public, public_submission_ids

# Emulations of a paper's own protocol: shown on their own tab, never ranked with the standard benchmarks.
PAPER_PROTOCOLS: frozenset[str] = frozenset(b.id for b in BENCHMARKS.values() if b.emulation)

INFO_COLUMNS: tuple[str, ...] = ("method", "source", "baseline", "supervision", "input_2d", "training_data", "data", "year", "paper", "code")
# Columns after the metrics: whether the row is ranked, what differs when it is not, the submission's warnings.
RULE_COLUMNS: tuple[str, ...] = ("comparable", "protocol_differs", "warnings")


def metric_label(metric: str, unit: str, higher_is_better: bool) -> str:
    """Column header with unit and the better direction, e.g. `mpjpe (mm) ↓`."""
    return f"{metric} ({unit}) {'↑' if higher_is_better else '↓'}"


def _headline_aggregation(benchmark: str) -> str | None:
    bench = BENCHMARKS.get(benchmark)
    return bench.aggregations[0] if bench else None


def benchmark_metric_columns(benchmark: str) -> list[str]:
    """The metric column headers a benchmark defines, headline first (none for a benchmark this harness lacks)."""
    bench = BENCHMARKS.get(benchmark)
    return [metric_label(m, METRICS[m].unit, METRICS[m].higher_is_better) for m in bench.metrics] if bench else []


SOURCE = {"verified": "verified", "imported": "imported (unverified)", "unsandboxed": "run without sandbox (unverified)"}  # a submission's status as the table says it


def warning_text(payload: dict) -> str:
    """A 'warnings' breakdown as one line: each warning's code, message and the joints it names."""
    parts = []
    for w in payload.get("warnings", []):
        joints = f" [{', '.join(w['joints'])}]" if w.get("joints") else ""
        parts.append(f"{w['code']}: {w['message']}{joints}")
    return "; ".join(parts)


def _warnings(session: Session, benchmark: str) -> dict[int, str]:
    """Submission id -> its warnings on `benchmark`, as one line."""
    query = select(Breakdown).where(Breakdown.benchmark == benchmark, Breakdown.kind == "warnings")
    return {b.submission_id: warning_text(b.payload) for b in session.scalars(query)}


def _verified(engine: Engine, benchmark: str, aggregation: str | None) -> pd.DataFrame:
    """Each method's row submission on `benchmark` (history.ROW_RULE) among the public ones (visibility.py), one
    row per method and data, metric values of `aggregation` (default: the headline one) as columns. Scored by the harness under the benchmark's own
    protocol, so comparable by construction."""
    query = (
        select(Result, Submission, Method)
        .join(Submission, Result.submission_id == Submission.id)
        .join(Method, Submission.method_id == Method.id)
        .where(Result.benchmark == benchmark, public())
    )
    wanted = aggregation or _headline_aggregation(benchmark)
    rows = []
    with Session(engine) as session:
        warnings = _warnings(session, benchmark)
        for r, s, m in session.execute(query):
            if wanted and r.aggregation != wanted:
                continue
            rows.append(
                {
                    "method": m.name, "source": SOURCE[s.status], "baseline": m.is_baseline, "supervision": m.supervision, "input_2d": m.input_2d,
                    "training_data": m.training_data, "data": "demo" if r.demo else "real", "year": m.year,
                    "paper": m.paper_url, "code": m.code_url, "submission_id": s.id, "created": s.created_at, "status": s.status,
                    "metric": metric_label(r.metric, r.unit, r.higher_is_better), "value": r.value,
                    "comparable": True, "protocol_differs": "", "warnings": warnings.get(s.id, ""),
                }
            )
    if not rows:
        return pd.DataFrame()
    return _wide(pick_rows(pd.DataFrame(rows)).drop(columns="status"), "submission_id")


def _reported(engine: Engine, benchmark: str, aggregation: str | None) -> pd.DataFrame:
    """Published numbers for `benchmark`, one row per method, 2D input, training data and verdict: numbers whose
    protocol matches the benchmark's apart from those whose protocol differs (each named with what differs)."""
    rows = []
    with Session(engine) as session:
        for lit, m in session.execute(select(LiteratureRow, Method).join(Method).where(LiteratureRow.benchmark == benchmark)):
            info = METRICS.get(lit.metric)
            protocol = {**(lit.protocol or {}), "input_2d": lit.input_2d}
            verdict = judge(benchmark, lit.metric, protocol, aggregation)
            rows.append(
                {
                    "method": m.name, "source": "reported", "baseline": m.is_baseline, "supervision": m.supervision, "input_2d": lit.input_2d,
                    "training_data": protocol.get("training_data") or m.training_data, "data": "real", "year": m.year, "paper": m.paper_url,
                    "code": m.code_url, "metric": metric_label(lit.metric, lit.unit, info.higher_is_better if info else False), "value": lit.value,
                    "comparable": verdict.comparable, "protocol_differs": "" if verdict.comparable else f"{lit.metric}: {verdict.summary()}",
                    "warnings": "", "unknown": lit.unknown,
                }
            )
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows)
    frame["row"] = frame["method"] + "\x00" + frame["input_2d"] + "\x00" + frame["training_data"] + "\x00" + frame["comparable"].astype(str)
    for column in ("unknown", "protocol_differs"):
        frame[column] = frame.groupby("row")[column].transform(lambda s: " | ".join(v for v in dict.fromkeys(s) if v))
    return _wide(frame, "row").drop(columns="row")


def _wide(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """One row per `key` with a column per metric, the other columns taken from the key's first row."""
    values = frame.pivot_table(index=key, columns="metric", values="value", aggfunc="first")
    info = frame.drop(columns=["metric", "value", "created"], errors="ignore").drop_duplicates(key).set_index(key)
    return info.join(values).reset_index()


def empty_table(benchmark: str) -> pd.DataFrame:
    """A leaderboard table without rows: every column a table of `benchmark` has, so an export still has its header."""
    columns = ["rank", *INFO_COLUMNS, *benchmark_metric_columns(benchmark), *RULE_COLUMNS, "submission_id"]
    return pd.DataFrame({c: pd.Series(dtype="Int64" if c in ("rank", "submission_id") else object) for c in columns})


def leaderboard_table(engine: Engine, benchmark: str, data: str = "real", aggregation: str | None = None) -> pd.DataFrame:
    """Verified and reported rows of one benchmark on `data` ('real' or 'demo': never mixed), values of
    `aggregation` (default: the benchmark's headline one): the comparable rows first, sorted by the headline
    metric in its better direction, the ones with a headline value ranked 1, 2, ...; then the rows whose protocol
    differs (no rank), sorted the same way. No rows: the empty table with its columns."""
    parts = [f for f in (_verified(engine, benchmark, aggregation), _reported(engine, benchmark, aggregation)) if not f.empty]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({"data": []})
    frame = frame[frame["data"] == data]
    if frame.empty:
        return empty_table(benchmark)
    metric_cols = [c for c in frame.columns if c.endswith(("↑", "↓"))]
    preferred = benchmark_metric_columns(benchmark)
    ordered = [c for c in preferred if c in metric_cols] + [c for c in metric_cols if c not in preferred]
    headline = ordered[0]
    frame = frame.assign(comparable=frame["comparable"].astype(bool))
    frame = frame.sort_values(headline, ascending=headline.endswith("↓"), na_position="last", kind="stable")
    frame = frame.sort_values("comparable", ascending=False, kind="stable").reset_index(drop=True)
    ranked = frame["comparable"] & frame[headline].notna()  # a row without the headline value has no rank
    frame.insert(0, "rank", pd.array(ranked.cumsum().where(ranked), dtype="Int64"))
    frame["submission_id"] = pd.array(frame["submission_id"] if "submission_id" in frame else [None] * len(frame), dtype="Int64")
    extra = [c for c in ("unknown",) if c in frame.columns]
    return frame[["rank", *INFO_COLUMNS, *ordered, *RULE_COLUMNS, *extra, "submission_id"]]


DEFAULT_DATA_RULE = "The page opens on real data once a real-data result is stored; until then on demo data, if a demo result is stored."


def default_data(engine: Engine) -> str:
    """'real' when a real-data submission is stored or none is, 'demo' when only demo submissions are (DEFAULT_DATA_RULE)."""
    with Session(engine) as session:
        kinds = set(session.scalars(select(Result.demo).where(Result.submission_id.in_(public_submission_ids())).distinct()))
    return "demo" if kinds == {True} else "real"


def fingerprint(engine: Engine) -> tuple[int, ...]:
    """Cheap identity of what is shown (count and largest id of submissions and of reported numbers, count and sums
    of the ids of public submissions and of baseline methods): it changes whenever a row is stored or removed,
    published, hidden or marked a baseline, so a cache keyed on it never serves a stale table."""
    with Session(engine) as session:
        subs = session.execute(select(func.count(Submission.id), func.coalesce(func.max(Submission.id), 0))).one()
        shown = session.execute(select(func.count(Submission.id), func.coalesce(func.sum(Submission.id), 0), func.coalesce(func.sum(Submission.id * Submission.id), 0)).where(public())).one()
        lit = session.execute(select(func.count(LiteratureRow.id), func.coalesce(func.max(LiteratureRow.id), 0))).one()
        base = session.execute(select(func.count(Method.id), func.coalesce(func.sum(Method.id), 0)).where(Method.is_baseline.is_(True))).one()
    return (subs[0], subs[1], *shown, lit[0], lit[1], *base)


def benchmarks_with_rows(engine: Engine) -> list[str]:
    """Every benchmark that has a public result or a reported number."""
    with Session(engine) as session:
        names = set(session.scalars(select(Result.benchmark).where(Result.submission_id.in_(public_submission_ids())).distinct())) | set(session.scalars(select(LiteratureRow.benchmark).distinct()))
    return sorted(names)


def method_names(engine: Engine) -> list[str]:
    """The methods public views list: those with a public submission or a reported number."""
    shown = select(Submission.method_id).where(public())
    with Session(engine) as session:
        return sorted(session.scalars(select(Method.name).where(Method.id.in_(shown) | Method.id.in_(select(LiteratureRow.method_id)))))


def method_detail(engine: Engine, name: str) -> dict:
    """Everything public about one method: its fields, every result of its public submissions with its protocol,
    their breakdowns and warnings, its reported numbers with their verdicts and per-field comparison."""
    with Session(engine) as session:
        method = session.scalars(select(Method).where(Method.name == name)).one()
        subs = session.scalars(select(Submission).where(Submission.method_id == method.id, public()).order_by(Submission.created_at)).all()
        results = pd.DataFrame(
            [
                {
                    "submission": s.id, "source": SOURCE[s.status], "file": s.file_name, "benchmark": r.benchmark, "metric": r.metric,
                    "aggregation": r.aggregation, "value": r.value, "ci95": f"{r.ci_low:.2f}-{r.ci_high:.2f}" if r.ci_low is not None else "",
                    "unit": r.unit, "better": "higher" if r.higher_is_better else "lower", "n_samples": r.n_samples,
                    "joints": r.joints, "alignment": r.alignment, "frames": r.frames, "root": r.root, "gt": r.gt,
                    "data": "demo" if r.demo else "real", "evaluated": s.evaluated_at,
                }
                for s in subs
                for r in s.results
            ]
        )
        row_ids = {row_submission(session, method.id, b, d, public_only=True).id for b, d in {(r.benchmark, r.demo) for s in subs for r in s.results}}
        breakdowns = {(s.id, b.benchmark, b.kind): b.payload for s in subs for b in s.breakdowns}
        submissions = [{"id": s.id, "source": SOURCE[s.status], "file": s.file_name, "sha256": s.sha256, "evaluated_at": s.evaluated_at, "harness": s.harness_version, "environment": s.environment, "data": "demo" if s.demo else "real"} for s in subs]
        reported_rows, fields = [], {}
        for lit in method.literature:
            protocol = {**(lit.protocol or {}), "input_2d": lit.input_2d}
            verdict = judge(lit.benchmark, lit.metric, protocol)
            reported_rows.append(
                {"benchmark": lit.benchmark, "metric": lit.metric, "value": lit.value, "unit": lit.unit, "input_2d": lit.input_2d,
                 "comparable": verdict.comparable, "protocol differs": verdict.summary(), "source": lit.source,
                 "protocol": lit.protocol_notes, "unknown": lit.unknown}
            )
            fields[(lit.benchmark, lit.metric, lit.input_2d)] = pd.DataFrame(field_table(lit.benchmark, lit.metric, protocol))
        reported = pd.DataFrame(reported_rows)
        warnings = [{"submission": s.id, "benchmark": b.benchmark, "warning": warning_text(b.payload)} for s in subs for b in s.breakdowns if b.kind == "warnings"]
        info = {k: getattr(method, k) for k in ("name", "paper_url", "code_url", "venue", "year", "supervision", "training_data", "input_2d", "notes", "is_baseline")}
    history = submission_history(results, row_ids)
    return {"method": info, "results": results, "history": history, "breakdowns": breakdowns, "submissions": submissions, "reported": reported, "fields": fields, "warnings": warnings}

"""Store one evaluated result (a ResultFile) in the database, in one transaction, at most once."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from harness.config import DatasetsConfig
from harness.errors import BadInput
from harness.evaluate import evaluate_submission
from harness.results import ResultFile, read_result
from harness.submission import sha256_of
from leaderboard.db import Breakdown, Method, Result, Submission
from leaderboard.history import row_changes


@dataclass
class Stored:
    """What `store` did: the submission's id, its method, whether it is new, and one line per benchmark saying
    which submission is now the method's row there (history.ROW_RULE), for the CLI to print."""

    submission_id: int
    method: str
    created: bool  # False when the same file was already stored for this method
    row_notes: list[str] = field(default_factory=list)


# text fields a stored result carries -> the column that holds them (their length is the database's limit)
_LIMITED = {"name": Method.name, "paper": Method.paper_url, "code": Method.code_url, "supervision": Method.supervision,
            "training_data": Method.training_data, "input_2d": Method.input_2d, "file": Submission.file_name}
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def check_storable(where: str, method_name: str | None, meta: Any, file_name: str) -> str:
    """The method name a result will be stored under, after checking it and the method's text fields against the
    database's limits (length, no control characters or NUL, valid Unicode); one-line BadInput otherwise. Run
    before scoring, so nothing is computed for a result that could not be stored."""
    name = (method_name or getattr(meta, "name", None) or "").strip()
    if not name:
        raise BadInput(f"{where}: a stored result needs a method name: set meta.name in the submission or pass --method")
    fields = {key: getattr(meta, key, None) for key in _LIMITED} | {"name": name, "file": file_name}
    for key, value in fields.items():
        if value is None:
            continue
        limit = _LIMITED[key].type.length
        label = "--method / meta.name" if key == "name" else ("the file name" if key == "file" else f"meta.{key}")
        if len(value) > limit:
            raise BadInput(f"{where}: {label}: at most {limit} characters can be stored, got {len(value)}")
        if _CONTROL.search(value):
            raise BadInput(f"{where}: {label}: control characters (NUL, escape, line breaks, ...) cannot be stored")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise BadInput(f"{where}: {label}: not valid Unicode (a lone surrogate)") from None
    return name


def rescored(result_json: Path, submission: Path, datasets: DatasetsConfig) -> ResultFile:
    """The result of scoring `submission` again on the benchmarks `result_json` holds, after checking that it is
    the file that JSON names (its sha256): what `db ingest --submission` stores as verified."""
    claimed = read_result(result_json)
    if not submission.is_file():
        raise BadInput(f"{submission}: --submission file not found")
    if sha256_of(submission) != claimed.submission.sha256:
        raise BadInput(f"{submission}: sha256 differs from the one {result_json} names ({claimed.submission.sha256[:12]}...); not the file that was scored")
    benchmarks = list(dict.fromkeys(e.benchmark for e in claimed.results))
    return evaluate_submission(submission, datasets, benchmarks, with_ci=any(e.ci95 for e in claimed.results))


def _method(session: Session, name: str, result: ResultFile) -> Method:
    """Get the method by name, creating it (race-safe: a concurrent creator wins and is reused)."""
    found = session.scalar(select(Method).where(Method.name == name))
    if found is not None:
        return found
    m = result.method
    try:
        with session.begin_nested():
            method = Method(
                name=name, paper_url=m.paper, code_url=m.code, supervision=m.supervision,
                training_data=m.training_data, input_2d=m.input_2d, is_baseline=False,
            )
            session.add(method)
        return method
    except IntegrityError:
        return session.scalars(select(Method).where(Method.name == name)).one()


def _rows(result: ResultFile) -> tuple[list[Result], list[Breakdown]]:
    results = [
        Result(
            benchmark=e.benchmark, metric=e.metric, aggregation=e.aggregation, value=e.value, unit=e.unit,
            higher_is_better=e.higher_is_better, n_samples=e.n_samples,
            ci_low=e.ci95[0] if e.ci95 else None, ci_high=e.ci95[1] if e.ci95 else None,
            joints=e.joints, alignment=e.alignment, gt=e.gt, dataset=e.dataset, split=e.split, frames=e.frames,
            root=e.root, demo=e.demo,
        )
        for e in result.results
    ]
    breakdowns = []
    for bench, b in result.breakdowns.items():
        breakdowns += [Breakdown(benchmark=bench, kind=kind, payload=payload) for kind, payload in b.model_dump().items() if payload]
    for bench, curve in result.curves.items():
        breakdowns.append(Breakdown(benchmark=bench, kind="pck_curve", payload=curve.model_dump()))
    for bench, sums in result.per_take.items():
        breakdowns.append(Breakdown(benchmark=bench, kind="per_take", payload=sums.model_dump()))
    for bench, frames in result.worst_frames.items():
        breakdowns.append(Breakdown(benchmark=bench, kind="worst_frames", payload={"frames": [f.model_dump() for f in frames]}))
    for bench, notes in result.missing.items():
        breakdowns.append(Breakdown(benchmark=bench, kind="missing", payload={"missing": notes}))
    for bench in dict.fromkeys(w.benchmark for w in result.warnings):
        found = [w.model_dump() for w in result.warnings if w.benchmark == bench]
        breakdowns.append(Breakdown(benchmark=bench, kind="warnings", payload={"warnings": found}))
    return results, breakdowns


STATUSES = ("verified", "imported", "unsandboxed")  # scored here; a result file taken on trust; a model run with --no-sandbox


def check_ranges(result: ResultFile) -> None:
    """Every value within its metric's physical range: errors are finite and not negative, percentages in
    [0, 100], intervals around finite bounds; one-line BadInput naming the entry otherwise."""
    for e in result.results:
        where = f"{result.submission.file}: {e.benchmark} {e.metric} ({e.aggregation})"
        values = [e.value, *(e.ci95 or ())]
        if not all(math.isfinite(v) for v in values):
            raise BadInput(f"{where}: expected a finite value, got {values}")
        low, high = (0.0, 100.0) if e.unit == "%" else (0.0, math.inf)
        if not all(low <= v <= high for v in values):
            raise BadInput(f"{where}: {e.value:g} {e.unit} is outside the metric's range [{low:g}, {high:g}]")


def store(
    engine: Engine, result: ResultFile, method_name: str | None = None, status: str = "verified", owner_id: int | None = None,
    published: bool = True, before: Callable[[Session], None] | None = None, after: Callable[[Session, Stored], None] | None = None,
) -> Stored:
    """Write the submission with all its results and breakdowns, or nothing; the same file twice is stored once.
    `status` is 'verified' only when this harness scored the submission; `owner_id` and `published` are a web
    submission's; `before` and `after` run inside the same transaction (an exception from either stores nothing)."""
    if status not in STATUSES:
        raise ValueError(f"status {status!r}: expected one of {STATUSES}")
    name = check_storable(result.submission.file, method_name, result.method, result.submission.file)
    if not result.results:
        raise BadInput(f"{result.submission.file}: no results to store")
    check_ranges(result)
    with Session(engine) as session, session.begin():
        if before is not None:
            before(session)
        stored = _write(session, name, result, status, owner_id, published)
        if after is not None:
            after(session, stored)
        return stored


def _write(session: Session, name: str, result: ResultFile, status: str, owner_id: int | None, published: bool) -> Stored:
    """The rows of `store`, in the caller's transaction."""
    method = _method(session, name, result)
    existing = session.scalar(select(Submission).where(Submission.method_id == method.id, Submission.sha256 == result.submission.sha256))
    if existing is not None:
        return Stored(existing.id, name, created=False)
    results, breakdowns = _rows(result)
    sub = Submission(
        method_id=method.id, sha256=result.submission.sha256, file_name=result.submission.file,
        dataset=result.submission.dataset, units=result.submission.units, joint_set=result.submission.joint_set,
        n_samples=result.submission.n_samples, harness_version=result.harness_version,
        environment=result.environment, status=status, demo=any(e.demo for e in result.results),
        evaluated_at=result.created_at, results=results, breakdowns=breakdowns, owner_id=owner_id, published=published,
    )
    try:
        with session.begin_nested():
            session.add(sub)
    except IntegrityError:  # a concurrent run stored the same file for this method first
        again = session.scalars(select(Submission).where(Submission.method_id == method.id, Submission.sha256 == result.submission.sha256)).one()
        return Stored(again.id, name, created=False)
    notes = [change.message(session, name) for change in row_changes(session, method.id, sub)]
    return Stored(sub.id, name, created=True, row_notes=notes)

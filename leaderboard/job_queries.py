"""What the submission pages read, from the database only: a user's own jobs with their status and visibility,
a job's results and log (owner or maintainer), every job and the queue's health (maintainers)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from leaderboard.accounts import Account
from leaderboard.db import Job, Method, Result, Submission, User, WorkerBeat
from leaderboard.moderation import own_job, require_maintainer

IN_FLIGHT: tuple[str, ...] = ("queued", "running")
JOB_COLUMNS: tuple[str, ...] = ("job", "status", "method", "file", "kind", "benchmark", "submitted", "finished", "error", "submission", "visibility")


def _visibility(sub: Submission | None) -> str:
    if sub is None:
        return ""
    return "hidden by a maintainer" if sub.hidden else ("published" if sub.published else "private")


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _jobs(session: Session, query) -> pd.DataFrame:  # noqa: ANN001 - a Select of (Job, User)
    rows = []
    for job, user in session.execute(query):
        sub = session.get(Submission, job.submission_id) if job.submission_id is not None else None
        rows.append(
            {"job": job.id, "user": user.name, "status": job.status, "method": str((job.meta or {}).get("name") or ""), "file": job.file_name,
             "kind": job.kind, "benchmark": job.benchmark, "submitted": _when(job.created_at), "finished": _when(job.finished_at),
             "error": job.error or "", "submission": sub.id if sub else None, "visibility": _visibility(sub)}
        )
    frame = pd.DataFrame(rows, columns=["job", "user", *JOB_COLUMNS[1:]])
    frame["submission"] = pd.array(frame["submission"], dtype="Int64")
    return frame


def my_jobs(engine: Engine, actor: Account) -> pd.DataFrame:
    """The actor's own jobs, newest first (JOB_COLUMNS)."""
    query = select(Job, User).join(User, Job.user_id == User.id).where(Job.user_id == actor.id).order_by(Job.id.desc())
    with Session(engine) as session:
        return _jobs(session, query).drop(columns="user")


def all_jobs(engine: Engine, actor: Account, limit: int = 500) -> pd.DataFrame:
    """Every user's jobs, newest first, with the user's name (maintainers only)."""
    require_maintainer(actor, "list every job")
    query = select(Job, User).join(User, Job.user_id == User.id).order_by(Job.id.desc()).limit(limit)
    with Session(engine) as session:
        return _jobs(session, query)


def job_results(engine: Engine, actor: Account, job_id: int) -> pd.DataFrame:
    """The stored results of a scored job (owner or maintainer): one row per benchmark, metric and aggregation."""
    with Session(engine) as session:
        job = own_job(session, actor, job_id)
        if job.submission_id is None:
            return pd.DataFrame(columns=["benchmark", "metric", "aggregation", "value", "unit", "better", "n_samples", "data"])
        results = session.scalars(select(Result).where(Result.submission_id == job.submission_id).order_by(Result.benchmark, Result.aggregation, Result.id))
        return pd.DataFrame(
            [{"benchmark": r.benchmark, "metric": r.metric, "aggregation": r.aggregation, "value": r.value, "unit": r.unit,
              "better": "higher" if r.higher_is_better else "lower", "n_samples": r.n_samples, "data": "demo" if r.demo else "real"} for r in results]
        )


def job_log(engine: Engine, actor: Account, job_id: int) -> str:
    """A job's log (owner or maintainer; anyone else gets the one-line refusal)."""
    with Session(engine) as session:
        return own_job(session, actor, job_id).log or ""


def in_flight(engine: Engine, actor: Account) -> int:
    """How many of the actor's jobs are queued or running."""
    with Session(engine) as session:
        return session.scalar(select(func.count(Job.id)).where(Job.user_id == actor.id, Job.status.in_(IN_FLIGHT))) or 0


def methods(engine: Engine, actor: Account) -> pd.DataFrame:
    """Every method with whether it is a baseline (maintainers only)."""
    require_maintainer(actor, "list methods")
    with Session(engine) as session:
        return pd.DataFrame([{"method": m.name, "baseline": m.is_baseline} for m in session.scalars(select(Method).order_by(Method.name))], columns=["method", "baseline"])


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def health(engine: Engine, actor: Account, now: datetime | None = None) -> dict[str, object]:
    """The queue at a glance (maintainers only): queued, running, failed in the last day, and each worker's last
    sign of life with what it runs."""
    require_maintainer(actor, "see the queue's health")
    now = now or datetime.now(timezone.utc)
    with Session(engine) as session:
        counts = dict(session.execute(select(Job.status, func.count(Job.id)).group_by(Job.status)).all())
        failed = session.scalar(select(func.count(Job.id)).where(Job.status == "failed", Job.finished_at >= now - timedelta(days=1))) or 0
        beats = session.scalars(select(WorkerBeat).order_by(WorkerBeat.seen_at.desc())).all()
        workers = pd.DataFrame(
            [{"worker": b.name, "last seen": _when(_aware(b.seen_at)), "seconds ago": int((now - _aware(b.seen_at)).total_seconds()), "job": b.job_id} for b in beats],
            columns=["worker", "last seen", "seconds ago", "job"],
        )
    return {
        "queued": counts.get("queued", 0), "running": counts.get("running", 0),
        "failed_last_day": failed, "workers": workers,
    }

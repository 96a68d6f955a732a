"""Submissions made through the page: `submit` checks an upload and queues it as a job, `run_job` (a worker)
claims it, evaluates it exactly as `harness evaluate` does and stores it once. The database is the source of
truth; the broker only carries job ids (leaderboard/queue.py).

A job's `lease_until` is, while it runs, the end of its worker's claim (renewed while the worker lives) and,
while it is queued, the time after which the reaper sends it to the broker again (queue.reap)."""

from __future__ import annotations

import io
import os
import shutil
import sys
import tempfile
import threading
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from harness.config import DatasetsConfig
from harness.errors import BadInput, HarnessError, first_validation_error
from harness.results import ResultFile
from harness.submission import MethodMeta, read_submission
from leaderboard.db import Job, JobFile, Limit, Method, Submission, User, WorkerBeat, make_engine
from leaderboard.ingest import Stored, check_storable, store
from leaderboard.job_inputs import check_model_zip, safe_file_name, unpack_model

KINDS = ("file", "model")
ACTIVE = ("queued", "running")


def setting(name: str, default: float) -> float:
    """A positive number from the environment, or the default; one line for anything else."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise BadInput(f"${name}: expected a positive number, got {raw!r}")
    return value


MAX_UPLOAD_BYTES = int(setting("POSEBENCH_MAX_UPLOAD_BYTES", 200 * 1024**2))
LEASE_S = setting("POSEBENCH_JOB_LEASE_S", 120)  # a running job's claim; renewed every third of it
REQUEUE_AFTER_S = setting("POSEBENCH_REQUEUE_AFTER_S", 600)  # a queued job not picked up by then is sent again
MAX_ATTEMPTS = int(setting("POSEBENCH_JOB_MAX_ATTEMPTS", 3))  # workers lost while running it before it fails
MODEL_TIMEOUT_S = setting("POSEBENCH_JOB_MODEL_TIMEOUT_S", 3600)
MODEL_MEMORY_GB = setting("POSEBENCH_JOB_MODEL_MEMORY_GB", 16)


def now() -> datetime:
    return datetime.now(timezone.utc)


@lru_cache(maxsize=8)
def _sqlite_writer(url: str) -> Engine:
    return make_engine(url, writer=True)


def writer(engine: Engine) -> Engine:
    """An engine whose SQLite transactions take the write lock at once (read-then-write transactions queue)."""
    return _sqlite_writer(engine.url.render_as_string(hide_password=False)) if engine.dialect.name == "sqlite" else engine


def _meta(meta: dict, where: str) -> MethodMeta:
    try:
        parsed = MethodMeta.model_validate({k: v for k, v in meta.items() if v not in (None, "")})
    except ValidationError as exc:
        raise BadInput(f"{where}: meta: {first_validation_error(exc)}") from None
    check_storable(where, None, parsed, safe_file_name(where, "upload"))
    return parsed


def _benchmarks(request: dict, dataset: str | None, where: str) -> str:
    """The benchmark a job's limits count against, after checking the requested ones."""
    from harness.benchmarks import benchmarks_for

    asked = request.get("benchmarks") or []
    if not isinstance(asked, list) or not all(isinstance(b, str) for b in asked):
        raise BadInput(f"{where}: benchmarks: expected a list of benchmark ids")
    return benchmarks_for(dataset or "", asked, False, where, where)[0].id


def _check_upload(kind: str, file_name: str, data: bytes, request: dict) -> tuple[str, str, dict]:
    """Cheap validation of the upload: the dataset it is for, its sha256 and a file's own meta."""
    import hashlib

    from harness.submission import DATASETS

    digest = hashlib.sha256(data).hexdigest()
    if kind == "model":
        for key in ("entrypoint", "dataset", "input_2d"):
            if not isinstance(request.get(key), str) or not request[key]:
                raise BadInput(f"{file_name}: a model submission needs {key} (e.g. entrypoint model.py:make, dataset h36m, input_2d gt)")
        if request["dataset"] not in DATASETS:
            raise BadInput(f"{file_name}: dataset '{request['dataset']}': expected one of {', '.join(DATASETS)}")
        check_model_zip(data, request["entrypoint"], file_name)
        return request["dataset"], digest, {}
    folder = Path(tempfile.mkdtemp(prefix="posebench-upload-"))
    try:
        path = folder / safe_file_name(file_name, "submission.npz")
        path.write_bytes(data)
        sub = read_submission(path, file_name)
        return sub.dataset, digest, sub.meta.model_dump(exclude_none=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _check_limits(session: Session, user_id: int, benchmark: str) -> None:
    """The user's per-day and concurrent limits on this benchmark (its own row, else '*'); failed jobs never count."""
    user = session.scalar(select(User).where(User.id == user_id).with_for_update())  # submissions of one user take turns
    if user is None or not user.active:
        raise BadInput(f"user {user_id}: no such active account")
    limit = session.get(Limit, benchmark) or session.get(Limit, "*")
    if limit is None:
        return
    mine = select(func.count()).select_from(Job).where(Job.user_id == user_id, Job.benchmark == benchmark)
    today = session.scalar(mine.where(Job.created_at >= now() - timedelta(days=1), Job.status != "failed")) or 0
    if today >= limit.per_day:
        raise BadInput(f"{benchmark}: limit reached: {limit.per_day} submissions per day; failed ones do not count")
    running = session.scalar(mine.where(Job.status.in_(ACTIVE))) or 0
    if running >= limit.concurrent:
        raise BadInput(f"{benchmark}: limit reached: {limit.concurrent} submissions queued or running at once; wait for one to finish")


def submit(engine: Engine, user_id: int, kind: str, file_name: str, data: bytes, meta: dict, request: dict, enqueue: bool = True) -> int:
    """Check an upload and the user's limits, queue it as a job (its row and bytes in one transaction), then send
    it to the workers; the job's id. Every refusal is a one-line BadInput."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise BadInput(f"{file_name}: {len(data)} bytes; uploads are limited to {MAX_UPLOAD_BYTES} bytes ($POSEBENCH_MAX_UPLOAD_BYTES)")
    if kind not in KINDS:
        raise BadInput(f"{file_name}: kind '{kind}': expected 'file' (a submission .npz) or 'model' (a zip of the model's folder)")
    if not isinstance(meta, dict) or not isinstance(request, dict):
        raise BadInput(f"{file_name}: meta and request must be mappings")
    if kind == "model" and not meta.get("name"):
        raise BadInput(f"{file_name}: a model submission needs a method name (meta name)")
    dataset, digest, own = _check_upload(kind, file_name, data, request)
    method = _meta({**own, **meta}, file_name)  # the form's fields win over the file's, like `evaluate --meta`
    benchmark = _benchmarks(request, dataset, file_name)
    engine = writer(engine)
    with Session(engine) as session, session.begin():
        _check_limits(session, user_id, benchmark)
        if kind == "file" and session.scalar(select(Submission.id).join(Method).where(Submission.sha256 == digest, Method.name == method.name)):
            raise BadInput(f"{file_name}: this file is already stored for method '{method.name}'")
        job = Job(
            user_id=user_id, kind=kind, file_name=file_name[:300], sha256=digest, size_bytes=len(data), meta=method.model_dump(exclude_none=True),
            request=request, benchmark=benchmark, status="queued", attempts=0, lease_until=now() + timedelta(seconds=REQUEUE_AFTER_S),
        )
        session.add(job)
        session.flush()
        session.add(JobFile(job_id=job.id, data=data))
        job_id = job.id
    if enqueue:
        from leaderboard.queue import send

        try:
            send(job_id, engine)
        except Exception as exc:  # the job is safe in the database: the reaper sends it when the broker is back
            print(f"warning: job {job_id} queued in the database, not yet sent to the broker ({type(exc).__name__}: {exc})", file=sys.stderr)
    return job_id


def beat(engine: Engine, name: str, job_id: int | None, keep_job: bool = False) -> None:
    """Record that worker `name` is alive (and what it runs, unless `keep_job`)."""
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(WorkerBeat).values(name=name[:200], seen_at=now(), job_id=job_id)
    changed = {"seen_at": stmt.excluded.seen_at} | ({} if keep_job else {"job_id": stmt.excluded.job_id})
    with engine.begin() as conn:
        conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_=changed))


class _Lost(Exception):
    """This worker no longer holds the job (its lease expired and another worker took it, or it is done)."""


def _claim(engine: Engine, job_id: int, worker: str) -> tuple[Job, bytes] | str:
    """Take the job (queued, or running with an expired lease): a detached copy and its bytes; else its status."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        job = session.scalar(select(Job).where(Job.id == job_id).with_for_update())
        if job is None:
            return "missing"
        t = now()
        lease = job.lease_until if job.lease_until is None or job.lease_until.tzinfo else job.lease_until.replace(tzinfo=timezone.utc)
        if not (job.status == "queued" or (job.status == "running" and (lease is None or lease < t))):
            return job.status
        if job.attempts >= MAX_ATTEMPTS:
            job.status, job.finished_at, job.lease_until = "failed", t, None
            job.error = f"gave up after {job.attempts} attempts: the worker running it stopped each time"
            return job.status
        job.status, job.attempts, job.worker, job.started_at = "running", job.attempts + 1, worker[:200], t
        job.lease_until, job.error = t + timedelta(seconds=LEASE_S), None
        data = session.get(JobFile, job_id).data
    return job, data


def _mine(job: Job) -> Any:
    """The condition that this worker's claim on `job` still stands."""
    return (Job.id == job.id) & (Job.status == "running") & (Job.attempts == job.attempts)


class _Renewal(threading.Thread):
    """Renews the job's lease and the worker's heartbeat every third of the lease while the job runs."""

    def __init__(self, engine: Engine, job: Job, worker: str) -> None:
        super().__init__(daemon=True)
        self.engine, self.job, self.worker, self.stop = engine, job, worker, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(LEASE_S / 3):
            try:
                with self.engine.begin() as conn:
                    conn.execute(update(Job).where(_mine(self.job)).values(lease_until=now() + timedelta(seconds=LEASE_S)))
                beat(self.engine, self.worker, self.job.id)
            except Exception as exc:  # the database is away for a moment: the lease may lapse, the guard keeps storing once
                print(f"warning: job {self.job.id}: lease not renewed ({type(exc).__name__})", file=sys.stderr)


def _evaluate(engine: Engine, job: Job, data: bytes, folder: Path, config: DatasetsConfig, console: Console) -> ResultFile:
    """Score the job as `harness evaluate` scores a file or a sandboxed `--model` run."""
    from harness.evaluate import evaluate_loaded

    where = job.file_name
    benchmarks = job.request.get("benchmarks") or ()
    loaded = None
    if job.kind == "file":
        path = folder / safe_file_name(job.file_name, "submission.npz")
        path.write_bytes(data)
        sub = read_submission(path, job.file_name)
        sub.meta = _meta({**sub.meta.model_dump(exclude_none=True), **job.meta}, where)  # the form's fields win, like --meta
    else:
        from harness.model_run import ModelRequest, run_model
        from leaderboard.cli import LeaderboardStore

        spec = unpack_model(data, job.request.get("entrypoint"), folder / "model", where)
        meta_file = folder / "meta.yaml"
        meta_file.write_text(yaml.safe_dump(job.meta))
        request = ModelRequest(spec, job.request["dataset"], job.request["input_2d"], "cpu", 1024, MODEL_TIMEOUT_S, MODEL_MEMORY_GB, meta_file, {}, True)
        sub, loaded = run_model(request, config, console, LeaderboardStore().protected_file(engine.url.render_as_string(hide_password=False)))
    check_storable(where, job.meta.get("name"), sub.meta, Path(sub.path).name)
    return evaluate_loaded(sub, config, benchmarks, with_ci=True, loaded=loaded)


def _store(engine: Engine, job: Job, result: ResultFile, log: str) -> None:
    """Store the result and mark the job scored in one transaction, only while this worker holds the job."""

    def before(session: Session) -> None:
        marked = session.execute(update(Job).where(_mine(job)).values(status="scored", finished_at=now(), lease_until=None, log=log))
        if marked.rowcount != 1:
            raise _Lost()

    def after(session: Session, stored: Stored) -> None:
        if not stored.created:
            raise BadInput(f"{job.file_name}: this file is already stored for method '{stored.method}' (submission {stored.submission_id})")
        session.execute(update(Job).where(Job.id == job.id).values(submission_id=stored.submission_id))

    store(engine, result, job.meta.get("name"), "verified", owner_id=job.user_id, published=False, before=before, after=after)


def _fail(engine: Engine, job: Job, error: str, log: str) -> str:
    with engine.begin() as conn:
        conn.execute(update(Job).where(_mine(job)).values(status="failed", error=error, finished_at=now(), lease_until=None, log=log))
    return _status(engine, job.id)


def _status(engine: Engine, job_id: int) -> str:
    with Session(engine) as session:
        return session.scalar(select(Job.status).where(Job.id == job_id)) or "missing"


def run_job(engine: Engine, job_id: int, worker: str, config: DatasetsConfig) -> str:
    """Claim, evaluate and store one job; its final status ('scored', 'failed'), or the status it has when this
    worker may not take it (another holds it or it is done)."""
    engine = writer(engine)
    claimed = _claim(engine, job_id, worker)
    if isinstance(claimed, str):
        return claimed
    job, data = claimed
    beat(engine, worker, job_id)
    renewal = _Renewal(engine, job, worker)
    renewal.start()
    folder = Path(tempfile.mkdtemp(prefix="posebench-job-"))
    console = Console(file=io.StringIO(), width=120)
    try:
        result = _evaluate(engine, job, data, folder, config, console)
        _store(engine, job, result, console.file.getvalue())
        return "scored"
    except _Lost:
        return _status(engine, job_id)
    except DBAPIError:  # the database itself failed: the job stays claimed, its lease lapses and the reaper resends it
        raise
    except HarnessError as exc:
        return _fail(engine, job, str(exc), console.file.getvalue())
    except Exception as exc:  # a bug or a broken environment: recorded in one line, never a half-stored result
        return _fail(engine, job, f"internal error: {type(exc).__name__}: {exc}".replace("\n", " "), console.file.getvalue())
    finally:
        renewal.stop.set()
        shutil.rmtree(folder, ignore_errors=True)
        try:
            beat(engine, worker, None)
        except Exception:
            pass

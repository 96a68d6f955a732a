"""Leaderboard storage: typed SQLAlchemy 2 models and the engine (SQLite by default, PostgreSQL by URL).

Narrow tables: a method has submissions, a submission has one result row per benchmark x metric x
aggregation (every protocol field of the result JSON beside the value) and breakdown rows; literature rows
hold numbers reported in papers with the protocol fields that decide whether they are comparable, never mixed
with verified ones; a submission's warnings (e.g. a likely joint-order mistake) are breakdown rows of kind
'warnings'. The schema itself is owned by the Alembic migrations in `leaderboard/migrations`; these models
must match them (a test checks).
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

DB_URL_ENV = "POSEBENCH_DB_URL"
DEFAULT_DB_URL = "sqlite:///leaderboard.db"


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON}


class Method(Base):
    """A method (paper or baseline), identified by its name."""

    __tablename__ = "methods"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    paper_url: Mapped[str | None] = mapped_column(String(500))
    code_url: Mapped[str | None] = mapped_column(String(500))
    venue: Mapped[str | None] = mapped_column(String(100))
    year: Mapped[int | None] = mapped_column(Integer)
    supervision: Mapped[str | None] = mapped_column(String(40))
    training_data: Mapped[str | None] = mapped_column(String(200))
    input_2d: Mapped[str | None] = mapped_column(String(40))
    notes: Mapped[str | None] = mapped_column(Text)
    is_baseline: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)

    submissions: Mapped[list[Submission]] = relationship(back_populates="method")
    literature: Mapped[list[LiteratureRow]] = relationship(back_populates="method")


class Submission(Base):
    """One evaluated file: its hash, what scored it and in which environment."""

    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("method_id", "sha256", name="uq_submission_method_sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    method_id: Mapped[int] = mapped_column(ForeignKey("methods.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(300))
    dataset: Mapped[str] = mapped_column(String(40))
    units: Mapped[str] = mapped_column(String(8))
    joint_set: Mapped[str] = mapped_column(String(40))
    n_samples: Mapped[int] = mapped_column(Integer)
    harness_version: Mapped[str] = mapped_column(String(40))
    environment: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="verified")
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    evaluated_at: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    # who submitted it through the page (None: stored from the command line), and who may see it: a web
    # submission is private to its owner until published; maintainers can hide any submission
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    published: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("'1'"))
    hidden: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("'0'"))

    method: Mapped[Method] = relationship(back_populates="submissions")
    results: Mapped[list[Result]] = relationship(back_populates="submission", cascade="all, delete-orphan")
    breakdowns: Mapped[list[Breakdown]] = relationship(back_populates="submission", cascade="all, delete-orphan")


class Result(Base):
    """One value with the protocol that defines it (the fields of a result JSON entry)."""

    __tablename__ = "results"
    __table_args__ = (UniqueConstraint("submission_id", "benchmark", "metric", "aggregation", name="uq_result_cell"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    benchmark: Mapped[str] = mapped_column(String(40), index=True)
    metric: Mapped[str] = mapped_column(String(40))
    aggregation: Mapped[str] = mapped_column(String(20))
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(20))
    higher_is_better: Mapped[bool] = mapped_column(Boolean)
    n_samples: Mapped[int] = mapped_column(Integer)
    ci_low: Mapped[float | None] = mapped_column(Float)
    ci_high: Mapped[float | None] = mapped_column(Float)
    joints: Mapped[str] = mapped_column(String(40))
    alignment: Mapped[str] = mapped_column(String(60))
    gt: Mapped[str] = mapped_column(String(40))
    dataset: Mapped[str] = mapped_column(String(40))
    split: Mapped[str] = mapped_column(String(20))
    frames: Mapped[str] = mapped_column(String(300))
    root: Mapped[str] = mapped_column(String(40))
    demo: Mapped[bool] = mapped_column(Boolean, default=False)

    submission: Mapped[Submission] = relationship(back_populates="results")


class Breakdown(Base):
    """A named block of detail for one benchmark of a submission: per-action, per-joint, PCK curve, per-take
    sums, missing parts. `payload` is the corresponding part of the result JSON."""

    __tablename__ = "breakdowns"
    __table_args__ = (UniqueConstraint("submission_id", "benchmark", "kind", name="uq_breakdown"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    benchmark: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)

    submission: Mapped[Submission] = relationship(back_populates="breakdowns")


class LiteratureRow(Base):
    """A number reported in a paper: shown as reported, never as verified."""

    __tablename__ = "literature"
    __table_args__ = (UniqueConstraint("method_id", "benchmark", "metric", "input_2d", name="uq_literature_cell"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    method_id: Mapped[int] = mapped_column(ForeignKey("methods.id", ondelete="CASCADE"), index=True)
    benchmark: Mapped[str] = mapped_column(String(40))
    metric: Mapped[str] = mapped_column(String(40))
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(20))
    input_2d: Mapped[str] = mapped_column(String(40), default="")
    source: Mapped[str] = mapped_column(String(500))
    protocol_notes: Mapped[str | None] = mapped_column(Text)
    unknown: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="reported")
    # the structured protocol fields of literature.yaml (joints, frames, scale_rule, ...; see comparability.py)
    protocol: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default=text("'{}'"))

    method: Mapped[Method] = relationship(back_populates="literature")


class User(Base):
    """An account issued by a maintainer (`harness user add`): signs in with a token (stored hashed) or, where
    the deployment has an identity provider, with the e-mail address the provider vouches for."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))  # "submitter" or "maintainer"
    token_hash: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(300), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("'1'"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Job(Base):
    """A submission made through the page: queued -> running -> scored | failed. Its file lives in `job_files`
    (so any worker that reaches the database can read it); a scored job points at the submission it stored."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # "file" (a prediction .npz) or "model" (a zipped model folder)
    file_name: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # method name, paper, code, supervision, ...
    request: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # benchmarks; for models: dataset, input_2d, entrypoint
    benchmark: Mapped[str] = mapped_column(String(40), index=True)  # the benchmark its limits count against
    status: Mapped[str] = mapped_column(String(12), default="queued", index=True)  # queued, running, scored, failed
    error: Mapped[str | None] = mapped_column(Text)  # the one-line error of a failed job
    log: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # a running job's claim expires
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id", ondelete="SET NULL"), unique=True)


class JobFile(Base):
    """The uploaded bytes of a job, apart from its row so that listings never load them."""

    __tablename__ = "job_files"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Limit(Base):
    """Submissions a user may make per day and have in flight at once, per benchmark ('*': every other one);
    failed submissions do not count."""

    __tablename__ = "limits"

    benchmark: Mapped[str] = mapped_column(String(40), primary_key=True)
    per_day: Mapped[int] = mapped_column(Integer)
    concurrent: Mapped[int] = mapped_column(Integer)


class WorkerBeat(Base):
    """The last sign of life of each evaluation worker, for the maintainers' health view."""

    __tablename__ = "worker_beats"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    job_id: Mapped[int | None] = mapped_column(Integer)  # what it is running now


def database_url(explicit: str | None = None) -> str:
    """`--db`, else $POSEBENCH_DB_URL, else the SQLite file leaderboard.db in the working directory."""
    return explicit or os.environ.get(DB_URL_ENV) or DEFAULT_DB_URL


def make_engine(url: str | None = None, writer: bool = False) -> Engine:
    """An engine for `url`. SQLite gets WAL and a busy timeout; a `writer` engine also takes SQLite's write
    lock when each transaction begins, so concurrent writers queue instead of failing."""
    url = database_url(url)
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let the "begin" hook below issue BEGIN itself
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # A deferred transaction that later writes can fail at once when another writer got in first;
        # BEGIN IMMEDIATE waits on the busy timeout instead.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    return engine

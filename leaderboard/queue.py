"""The evaluation queue: a Celery app whose messages carry job ids, and the reaper that resends what a broker
lost. The database is the source of truth (leaderboard/jobs.py): a message may be lost, repeated or late, and
a job is still scored exactly once.

Broker: `--broker` / $POSEBENCH_BROKER_URL (Redis or RabbitMQ for several machines), else Celery's SQLAlchemy
transport on the leaderboard database itself (`sqla+<db url>`), so one machine needs no server of its own."""

from __future__ import annotations

import os
from datetime import timedelta
from functools import lru_cache

from celery import Celery
from sqlalchemy import delete, inspect, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from leaderboard.db import Job, database_url

BROKER_ENV = "POSEBENCH_BROKER_URL"
TASK = "posebench.evaluate_job"
QUEUE = "posebench"
VISIBILITY_TIMEOUT_S = 3600.0  # Redis: an unacknowledged message is delivered again after this (a lost worker)


def broker_url(explicit: str | None = None, db: str | None = None) -> str:
    """`--broker`, else $POSEBENCH_BROKER_URL, else the SQLAlchemy transport on the leaderboard database."""
    return explicit or os.environ.get(BROKER_ENV) or f"sqla+{database_url(db)}"


def _transport_options(broker: str) -> dict:
    from leaderboard.jobs import setting

    if broker.startswith("sqla+sqlite"):
        return {"connect_args": {"timeout": 60}}  # create_engine arguments: wait for the leaderboard's writers
    if broker.startswith("sqla+"):
        return {"pool_pre_ping": True}
    return {"visibility_timeout": setting("POSEBENCH_VISIBILITY_TIMEOUT_S", VISIBILITY_TIMEOUT_S)}


def make_app(broker: str) -> Celery:
    """The Celery app: late acknowledgement, a message given back when its worker dies, one message at a time
    per worker process, no result backend (the database holds each job's status)."""
    app = Celery("posebench", broker=broker, set_as_current=False)
    app.conf.update(
        task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1, task_ignore_result=True,
        task_default_queue=QUEUE, task_serializer="json", accept_content=["json"], broker_transport_options=_transport_options(broker),
        broker_connection_retry_on_startup=True, worker_hijack_root_logger=False, worker_send_task_events=False,
    )

    @app.task(name=TASK)
    def evaluate_job(job_id: int) -> str:
        """Run one job in this worker (leaderboard/worker.py holds the process's engine and name)."""
        from leaderboard.worker import run_task

        return run_task(int(job_id))

    return app


@lru_cache(maxsize=8)
def _sender(broker: str) -> Celery:
    return make_app(broker)


def send(job_id: int, engine: Engine, broker: str | None = None) -> None:
    """Put the job's id on the queue (the broker of `broker_url`, defaulting to the engine's database)."""
    url = broker or broker_url(None, engine.url.render_as_string(hide_password=False))
    _sender(url).send_task(TASK, args=[job_id], queue=QUEUE)


def reap(engine: Engine, broker: str | None = None) -> list[int]:
    """Send again every job the broker may have lost: queued but not picked up by its `lease_until`, or running
    with an expired lease (its worker died); each is marked first, so concurrent reapers send it once. The ids sent."""
    from leaderboard.jobs import REQUEUE_AFTER_S, now, writer

    engine = writer(engine)
    t = now()
    with Session(engine) as session:
        stale = session.execute(select(Job.id, Job.status).where(Job.status.in_(("queued", "running")), Job.lease_until < t)).all()
    sent = []
    for job_id, status in stale:
        with engine.begin() as conn:
            marked = conn.execute(
                update(Job).where(Job.id == job_id, Job.status == status, Job.lease_until < t)
                .values(status="queued", lease_until=t + timedelta(seconds=REQUEUE_AFTER_S))
            )
        if marked.rowcount == 1:
            send(job_id, engine, broker)
            sent.append(job_id)
    _clean_sqla(engine, broker)
    return sent


def _clean_sqla(engine: Engine, broker: str | None) -> None:
    """The SQLAlchemy transport keeps every delivered message (hidden); drop those older than a day."""
    url = broker or broker_url(None, engine.url.render_as_string(hide_password=False))
    if not url.startswith("sqla+"):
        return
    from kombu.transport.sqlalchemy.models import class_registry

    from leaderboard.jobs import now

    message = class_registry.get("Message")
    if message is None or not inspect(engine).has_table(message.__tablename__):  # no channel opened on this database yet
        return
    with engine.begin() as conn:
        conn.execute(delete(message).where(message.visible.is_(False), message.sent_at < now().replace(tzinfo=None) - timedelta(days=1)))

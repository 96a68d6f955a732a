"""`harness worker`'s process: a Celery worker whose tasks run `leaderboard.jobs.run_job`, with a reaper thread
that keeps the worker's heartbeat and resends jobs a broker lost (leaderboard/queue.py)."""

from __future__ import annotations

import os
import socket
import sys
import threading
from functools import lru_cache
from pathlib import Path

from sqlalchemy.engine import Engine

from harness.config import DatasetsConfig, load_config
from leaderboard.db import DB_URL_ENV, make_engine

NAME_ENV = "POSEBENCH_WORKER_NAME"
DATASETS_ENV = "POSEBENCH_DATASETS"
_MAIN_PID = os.getpid()


@lru_cache(maxsize=None)  # the parent's engine stays referenced in a child: never closed (or collected) there
def _engine(pid: int) -> Engine:
    """This process's engine (a pool-worker child makes its own; connections are never shared across fork)."""
    return make_engine(os.environ.get(DB_URL_ENV), writer=True)


@lru_cache(maxsize=None)
def _config(pid: int) -> DatasetsConfig:
    found = os.environ.get(DATASETS_ENV)
    return load_config(Path(found) if found else None)


def worker_name() -> str:
    """The name jobs and heartbeats carry: --name, else host and pid; a pool child adds its own pid."""
    base = os.environ.get(NAME_ENV) or f"{socket.gethostname()}:{_MAIN_PID}"
    return base if os.getpid() == _MAIN_PID else f"{base}/{os.getpid()}"


def run_task(job_id: int) -> str:
    """The body of the Celery task: one job, start to finish."""
    from leaderboard.jobs import run_job

    pid = os.getpid()
    return run_job(_engine(pid), job_id, worker_name(), _config(pid))


class Reaper(threading.Thread):
    """Every `interval_s`: the worker's heartbeat, then `queue.reap` (lost and stalled jobs sent again)."""

    def __init__(self, engine: Engine, broker: str, name: str, interval_s: float) -> None:
        super().__init__(daemon=True, name="posebench-reaper")
        self.engine, self.broker, self.name_, self.interval_s, self.stop = engine, broker, name, interval_s, threading.Event()

    def run(self) -> None:
        from leaderboard.jobs import beat
        from leaderboard.queue import reap

        while True:
            try:
                beat(self.engine, self.name_, None, keep_job=True)
                sent = reap(self.engine, self.broker)
                if sent:
                    print(f"reaper: sent again jobs {', '.join(map(str, sent))}", file=sys.stderr, flush=True)
            except Exception as exc:  # the database or broker is away: try again next round
                print(f"reaper: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            if self.stop.wait(self.interval_s):
                return


def run_worker(broker: str, db: str, datasets: Path | None, concurrency: int, name: str | None) -> None:
    """Start a Celery worker on `broker` for the leaderboard at `db` (blocks until it shuts down)."""
    from leaderboard.jobs import setting
    from leaderboard.queue import BROKER_ENV, QUEUE, make_app
    from leaderboard.schema import ensure_current

    os.environ.update({DB_URL_ENV: db, BROKER_ENV: broker})
    if datasets is not None:
        os.environ[DATASETS_ENV] = str(datasets.resolve())
    if name:
        os.environ[NAME_ENV] = name
    _config(os.getpid())  # a broken datasets.yaml is one line now, not a failed job later
    engine = _engine(os.getpid())
    ensure_current(engine)
    Reaper(engine, broker, worker_name(), setting("POSEBENCH_REAP_INTERVAL_S", 30)).start()
    pool = "solo" if concurrency == 1 else "prefork"  # solo: the job runs in this process, so a lost worker is a lost job
    argv = ["worker", f"--hostname={worker_name()}@%h", f"--concurrency={concurrency}", f"--pool={pool}", f"--queues={QUEUE}",
            "--without-gossip", "--without-mingle", "--loglevel=INFO"]
    make_app(broker).worker_main(argv)

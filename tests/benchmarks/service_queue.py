"""Measure the evaluation queue on this machine (a benchmark, not a test): seconds from `jobs.submit` to
'scored' for one demo submission with a worker already waiting, and throughput (demo submissions scored per
second) with 1 and 2 `harness worker` processes, on the single-machine default (SQLite file, Celery's
SQLAlchemy transport) and on PostgreSQL + Redis.

    python -m tests.benchmarks.service_queue [--jobs 30] [--pg URL]   # needs the demo data and redis-server
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from leaderboard import jobs
from leaderboard.db import WorkerBeat, make_engine
from leaderboard.queue import send
from tests.queue_parts import Redis, Workers, noisy_upload, users, wait_jobs


def _ready(db_url: str, n: int, timeout_s: float = 60) -> None:
    """Wait until `n` workers have sent a heartbeat (they are consuming)."""
    engine = make_engine(db_url)
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        with Session(engine) as session:
            if session.query(WorkerBeat).count() >= n:
                time.sleep(1.0)  # the heartbeat comes just before the consumer starts
                return
        time.sleep(0.2)
    raise RuntimeError("workers did not start")


def _setup(kind: str, folder: Path, pg_admin: str) -> tuple[str, str | None]:
    if kind == "sqlite":
        return f"sqlite:///{folder / 'lb.db'}", None
    name = f"posebench_bench_{uuid.uuid4().hex[:8]}"
    with create_engine(pg_admin, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return make_url(pg_admin).set(database=name).render_as_string(hide_password=False), "redis"


def measure(kind: str, n_workers: int, n_jobs: int, datasets: Path, pg_admin: str) -> dict[str, float]:
    """Latency of single submissions (median of 5) and throughput of `n_jobs` queued at once."""
    import os

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db_url, broker = _setup(kind, folder, pg_admin)
        redis = None
        if broker == "redis":
            (folder / "redis").mkdir()
            redis = Redis(folder / "redis")
            redis.start()
            broker = redis.url
        os.environ.pop("POSEBENCH_BROKER_URL", None)
        if broker:
            os.environ["POSEBENCH_BROKER_URL"] = broker
        (user,) = users(db_url, ["bench"])
        engine = make_engine(db_url)
        pool = Workers(db_url, broker, datasets, folder, env={"POSEBENCH_REAP_INTERVAL_S": "30", "POSEBENCH_JOB_LEASE_S": "120", "POSEBENCH_REQUEUE_AFTER_S": "600"})
        try:
            for w in range(n_workers):
                pool.start(f"w{w}")
            _ready(db_url, n_workers)
            latencies = []
            for k in range(5):
                start = time.perf_counter()
                job = jobs.submit(engine, user, "file", f"one{k}.npz", noisy_upload(1000 + k, f"Latency {k}"), {}, {})
                wait_jobs(db_url, {"scored"}, 60, [job])
                latencies.append(time.perf_counter() - start)
            uploads = [noisy_upload(k, f"Throughput {k % 4}") for k in range(n_jobs)]
            ids = [jobs.submit(engine, user, "file", f"t{k}.npz", data, {}, {}, enqueue=False) for k, data in enumerate(uploads)]
            start = time.perf_counter()  # the workers' throughput: from sending the queued jobs to the last one scored
            for job in ids:
                send(job, engine)
            wait_jobs(db_url, {"scored"}, 600, ids)
            took = time.perf_counter() - start
        finally:
            pool.stop_all()
            if redis is not None:
                redis.stop()
        return {"latency_s": statistics.median(latencies), "throughput_per_s": n_jobs / took, "batch_s": took}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=30)
    parser.add_argument("--datasets", type=Path, default=None, help="datasets.yaml with the demo data (default: $POSEBENCH_DATASETS or packaged)")
    parser.add_argument("--pg", default="postgresql+psycopg://postgres:posebench@127.0.0.1:5432/postgres", help="PostgreSQL admin URL")
    args = parser.parse_args()
    datasets = args.datasets or Path(tempfile.mkdtemp()) / "datasets.yaml"
    if args.datasets is None:
        from harness.config import load_config

        root = load_config(None).data_root
        datasets.write_text(f"data_root: {root}\ndatasets:\n  h36m:\n    format: videopose3d\n    path: ${{data_root}}/demo/h36m\n    inputs_2d: {{gt: data_2d_h36m_gt.npz}}\n")
    print("| setup | workers | upload to scored (median of 5, s) | throughput (submissions/s) | N queued at once, scored in (s) |")
    print("|---|---|---|---|---|")
    for kind in ("sqlite", "postgresql"):
        for n in (1, 2):
            r = measure(kind, n, args.jobs, datasets, args.pg)
            label = "SQLite + SQLAlchemy transport" if kind == "sqlite" else "PostgreSQL + Redis"
            print(f"| {label} | {n} | {r['latency_s']:.2f} | {r['throughput_per_s']:.2f} | {r['batch_s']:.1f} |", flush=True)


if __name__ == "__main__":
    main()

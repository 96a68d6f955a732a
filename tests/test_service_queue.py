"""The evaluation queue with real parts: a redis-server and PostgreSQL, `harness worker` processes, demo
uploads from several users scored exactly once, a worker killed mid-evaluation, a broker restart, and the
single-machine default (Celery's SQLAlchemy transport on a SQLite file)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leaderboard import jobs
from leaderboard.db import Result, Submission, make_engine
from leaderboard.queue import QUEUE
from tests.dbs import fresh_postgres, fresh_sqlite
from tests.queue_parts import FAST, Workers, model_zip, noisy_upload, redis_server, users, wait_jobs


@pytest.fixture
def pg_url():
    gen = fresh_postgres()
    yield next(gen)
    gen.close()


@pytest.fixture
def redis(tmp_path, monkeypatch):
    """A redis-server of the test's own, the broker `jobs.submit` sends to ($POSEBENCH_BROKER_URL)."""
    folder = tmp_path / "redis"
    folder.mkdir()
    for server in redis_server(folder):
        monkeypatch.setenv("POSEBENCH_BROKER_URL", server.url)
        yield server


@pytest.fixture
def workers(tmp_path):
    made: list[Workers] = []

    def make(db_url: str, broker: str | None, datasets, env: dict[str, str] | None = None) -> Workers:
        made.append(Workers(db_url, broker, datasets, tmp_path, env))
        return made[-1]

    yield make
    for w in made:
        w.stop_all()


def _rows(db_url: str) -> tuple[int, int]:
    with Session(make_engine(db_url)) as session:
        return session.scalar(select(func.count()).select_from(Submission)), session.scalar(select(func.count()).select_from(Result))


def test_forty_uploads_of_several_users_are_scored_exactly_once_by_two_workers(pg_url, redis, workers, demo_yaml):
    ids = users(pg_url, ["ann", "bob", "cy", "dee"])
    engine = make_engine(pg_url)
    bad = {7, 23}  # their sample ids match no test set: they fail when scored, storing nothing
    queued = [
        jobs.submit(engine, ids[k % 4], "file", f"pred{k}.npz", noisy_upload(k, f"Method {k % 5}", break_ids=k in bad), {}, {})
        for k in range(40)
    ]
    pool = workers(pg_url, redis.url, demo_yaml)
    pool.start("w1")
    pool.start("w2")
    done = wait_jobs(pg_url, {"scored", "failed"}, 80)

    assert [j.id for j in done] == queued
    failed = [j for j in done if j.status == "failed"]
    assert [queued.index(j.id) for j in failed] == sorted(bad)
    assert all("\n" not in j.error and "sample" in j.error for j in failed), [j.error for j in failed]
    scored = [j for j in done if j.status == "scored"]
    assert len({j.submission_id for j in scored}) == 38 and None not in {j.submission_id for j in scored}
    assert all(j.attempts == 1 for j in done)
    assert {j.worker for j in scored} == {"w1", "w2"}, "both workers took jobs"
    with Session(engine) as session:
        subs = {s.id: s for s in session.scalars(select(Submission))}
        assert len(subs) == 38
        assert all(subs[j.submission_id].owner_id == j.user_id and not subs[j.submission_id].published for j in scored)
        assert {s.status for s in subs.values()} == {"verified"}


def test_a_worker_killed_mid_evaluation_leaves_its_job_to_the_other_and_it_is_stored_once(pg_url, redis, workers, demo_yaml):
    (user,) = users(pg_url, ["eve"])
    engine = make_engine(pg_url)
    request = {"entrypoint": "model.py:make", "dataset": "h36m", "input_2d": "gt"}
    job_id = jobs.submit(engine, user, "model", "sleepy.zip", model_zip(4.0), {"name": "Sleepy"}, request)
    pool = workers(pg_url, redis.url, demo_yaml)
    pool.start("w1")
    pool.start("w2")
    (running,) = wait_jobs(pg_url, {"running", "scored", "failed"}, 40, [job_id])
    assert running.status == "running", running.error
    time.sleep(1.0)  # inside the model's factory, in the sandbox
    pool.kill(running.worker)
    (job,) = wait_jobs(pg_url, {"scored", "failed"}, 60, [job_id])

    assert job.status == "scored", job.error
    assert job.attempts == 2 and job.worker != running.worker
    with Session(engine) as session:
        (sub,) = session.scalars(select(Submission)).all()
        assert sub.id == job.submission_id and sub.status == "verified" and "bubblewrap" in sub.environment["model_isolation"]


def test_a_restarted_broker_loses_no_queued_submission(pg_url, redis, workers, demo_yaml, monkeypatch):
    monkeypatch.setattr(jobs, "REQUEUE_AFTER_S", 3600.0)  # the reaper stays out of it: only the broker delivers
    (user,) = users(pg_url, ["fay"])
    engine = make_engine(pg_url)
    queued = [jobs.submit(engine, user, "file", f"p{k}.npz", noisy_upload(100 + k, "Restart"), {}, {}) for k in range(5)]
    assert redis.client().redis.llen(QUEUE) == 5
    redis.stop()
    redis.start()
    assert redis.client().redis.llen(QUEUE) == 5, "messages lost across the restart"
    pool = workers(pg_url, redis.url, demo_yaml, env={"POSEBENCH_REQUEUE_AFTER_S": "3600"})
    pool.start("w1")
    done = wait_jobs(pg_url, {"scored", "failed"}, 40)
    assert [(j.id, j.status) for j in done] == [(i, "scored") for i in queued]
    stored, results = _rows(pg_url)
    assert stored == 5 and results > 0


def test_one_machine_default_transport_on_sqlite_end_to_end(tmp_path, demo_yaml, monkeypatch):
    url = next(fresh_sqlite(tmp_path))
    monkeypatch.delenv("POSEBENCH_BROKER_URL", raising=False)
    (user,) = users(url, ["gus"])
    job_id = jobs.submit(make_engine(url), user, "file", "mine.npz", noisy_upload(1, "Solo"), {"paper": "https://example.org/p"}, {})
    cmd = [sys.executable, "-m", "harness", "serve", "--no-page", "--workers", "1", "--db", url, "--datasets", str(demo_yaml)]
    proc = subprocess.Popen(cmd, env={**os.environ, **FAST}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        (job,) = wait_jobs(url, {"scored", "failed"}, 40, [job_id])
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    assert job.status == "scored", job.error
    assert code == 0
    assert "sqla+sqlite" in proc.stdout.read()
    with Session(make_engine(url)) as session:
        sub = session.get(Submission, job.submission_id)
        assert sub.method.name == "Solo" and sub.method.paper_url == "https://example.org/p" and not sub.published

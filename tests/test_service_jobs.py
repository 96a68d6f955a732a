"""`leaderboard.jobs` in process, on SQLite and PostgreSQL: what `submit` refuses (one line each), limits per
user and benchmark (failed jobs do not count), safe unpacking of model archives, the database guard that
stores a job once when two workers finish it, and the reaper."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest
from rich.console import Console
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from harness.config import load_config
from harness.errors import BadInput
from leaderboard import jobs, queue
from leaderboard.db import Job, Limit, Submission, WorkerBeat, make_engine
from leaderboard.job_inputs import unpack_model
from leaderboard.serve import page_command
from tests.dbs import fresh_postgres, fresh_sqlite
from tests.queue_parts import model_zip, noisy_upload, users

MODEL = {"entrypoint": "model.py:make", "dataset": "h36m", "input_2d": "gt"}


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    gen = fresh_sqlite(tmp_path) if request.param == "sqlite" else fresh_postgres()
    yield next(gen)
    gen.close()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("kind", "data", "meta", "request_", "expected"),
    [
        ("tarball", b"x", {"name": "M"}, {}, "expected 'file'"),
        ("file", b"not a zip", {"name": "M"}, {}, "not an .npz archive"),
        ("file", None, {"name": "M", "supervision": "psychic"}, {}, "supervision"),
        ("file", None, {"name": "M"}, {"benchmarks": ["3dpw"]}, "benchmark 3dpw scores '3dpw' submissions"),
        ("file", None, {"name": "M"}, {"benchmarks": ["nope"]}, "unknown benchmark(s) nope"),
        ("model", b"zip", {}, MODEL, "needs a method name"),
        ("model", b"not a zip", {"name": "M"}, MODEL, "not a zip archive"),
        ("model", _zip({"../evil.py": b""}), {"name": "M"}, MODEL, "without '..'"),
        ("model", _zip({"/abs/model.py": b""}), {"name": "M"}, MODEL, "relative path"),
        ("model", _zip({"other.py": b""}), {"name": "M"}, MODEL, "entrypoint file model.py is not in the archive"),
        ("model", _zip({"model.py": b""}), {"name": "M"}, {**MODEL, "entrypoint": "/etc/x.py:make"}, "relative path inside"),
        ("model", _zip({"model.py": b""}), {"name": "M"}, {**MODEL, "dataset": "mars"}, "dataset 'mars'"),
    ],
)
def test_submit_refuses_bad_uploads_in_one_line_and_queues_nothing(tmp_path, kind, data, meta, request_, expected):
    url = next(fresh_sqlite(tmp_path))
    (user,) = users(url, ["ann"])
    engine = make_engine(url)
    with pytest.raises(BadInput) as err:
        jobs.submit(engine, user, kind, "up.bin", noisy_upload(0, "M") if data is None else data, meta, request_, enqueue=False)
    assert expected in str(err.value) and "\n" not in str(err.value)
    assert "posebench-upload-" not in str(err.value)  # the upload's name, never the server's temp path
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0


def test_the_upload_cap_is_checked_first_and_given_to_streamlit(tmp_path, monkeypatch):
    url = next(fresh_sqlite(tmp_path))
    (user,) = users(url, ["ann"])
    monkeypatch.setattr(jobs, "MAX_UPLOAD_BYTES", 1000)
    with pytest.raises(BadInput, match="uploads are limited to 1000 bytes"):
        jobs.submit(make_engine(url), user, "file", "big.npz", b"\0" * 1001, {"name": "M"}, {}, enqueue=False)
    monkeypatch.setattr(jobs, "MAX_UPLOAD_BYTES", 300 * 1024**2 + 1)
    assert "--server.maxUploadSize=301" in page_command(8501)


def test_limits_per_day_and_concurrent_per_benchmark_and_failed_jobs_do_not_count(db_url):
    ann, bob = users(db_url, ["ann", "bob"])
    engine = make_engine(db_url)
    with Session(engine) as session, session.begin():
        session.add_all([Limit(benchmark="h36m", per_day=3, concurrent=2), Limit(benchmark="*", per_day=100, concurrent=100)])
    first, second = (jobs.submit(engine, ann, "file", f"p{k}.npz", noisy_upload(k, "M"), {}, {}, enqueue=False) for k in range(2))
    with pytest.raises(BadInput, match="2 submissions queued or running at once"):
        jobs.submit(engine, ann, "file", "p2.npz", noisy_upload(2, "M"), {}, {}, enqueue=False)
    jobs.submit(engine, bob, "file", "b.npz", noisy_upload(3, "M"), {}, {}, enqueue=False)  # limits are per user
    with engine.begin() as conn:
        conn.execute(update(Job).where(Job.id == first).values(status="failed"))
    jobs.submit(engine, ann, "file", "p3.npz", noisy_upload(4, "M"), {}, {}, enqueue=False)  # a failed one frees its place
    with engine.begin() as conn:
        conn.execute(update(Job).where(Job.user_id == ann, Job.id != first).values(status="scored"))
    jobs.submit(engine, ann, "file", "p4.npz", noisy_upload(5, "M"), {}, {}, enqueue=False)
    with pytest.raises(BadInput, match="3 submissions per day; failed ones do not count"):
        jobs.submit(engine, ann, "file", "p5.npz", noisy_upload(6, "M"), {}, {}, enqueue=False)
    assert second


def test_a_job_is_stored_once_when_a_worker_it_was_taken_from_finishes_late(db_url, demo_yaml, tmp_path):
    (user,) = users(db_url, ["ann"])
    engine = make_engine(db_url)
    config = load_config(demo_yaml)
    job_id = jobs.submit(engine, user, "file", "p.npz", noisy_upload(9, "Late"), {}, {}, enqueue=False)
    slow = jobs._claim(jobs.writer(engine), job_id, "slow")  # a worker that stalls after claiming
    assert not isinstance(slow, str)
    assert jobs.run_job(engine, job_id, "busy", config) == "running", "a live lease is not taken over"
    with engine.begin() as conn:
        conn.execute(update(Job).where(Job.id == job_id).values(lease_until=jobs.now() - timedelta(seconds=1)))
    assert jobs.run_job(engine, job_id, "fast", config) == "scored"
    late_job, data = slow
    result = jobs._evaluate(engine, late_job, data, tmp_path, config, Console(file=io.StringIO()))
    with pytest.raises(jobs._Lost):
        jobs._store(jobs.writer(engine), late_job, result, "")
    with Session(engine) as session:
        job = session.get(Job, job_id)
        assert (job.status, job.attempts, job.worker) == ("scored", 2, "fast")
        assert session.scalar(select(func.count()).select_from(Submission)) == 1
        assert session.get(WorkerBeat, "fast").job_id is None
    assert jobs.run_job(engine, job_id, "again", config) == "scored"  # a repeated message changes nothing


def test_the_reaper_resends_lost_jobs_once_and_gives_up_after_the_attempt_cap(db_url, demo_yaml, monkeypatch):
    (user,) = users(db_url, ["ann"])
    engine = make_engine(db_url)
    sent: list[int] = []
    monkeypatch.setattr(queue, "send", lambda job_id, _engine, _broker=None: sent.append(job_id))
    queued, running = (jobs.submit(engine, user, "file", f"p{k}.npz", noisy_upload(k, "M"), {}, {}, enqueue=False) for k in range(2))
    assert queue.reap(engine) == [] and sent == []
    past = jobs.now() - timedelta(seconds=1)
    with engine.begin() as conn:
        conn.execute(update(Job).where(Job.id == queued).values(lease_until=past))
        conn.execute(update(Job).where(Job.id == running).values(status="running", attempts=jobs.MAX_ATTEMPTS, lease_until=past))
    assert sorted(queue.reap(engine)) == [queued, running]
    assert queue.reap(engine) == [], "each lost job is sent once per requeue period"
    assert jobs.run_job(engine, running, "w", load_config(demo_yaml)) == "failed"
    with Session(engine) as session:
        assert "gave up after 3 attempts" in session.get(Job, running).error


def test_model_archives_unpack_inside_their_folder_only(tmp_path):
    spec = unpack_model(model_zip(0.0), "model.py:make", tmp_path / "m", "up.zip")
    assert spec == f"{tmp_path / 'm' / 'model.py'}:make" and (tmp_path / "m" / "README.md").is_file()
    info = zipfile.ZipInfo("model.py")
    info.external_attr = (0o120777 << 16)  # a symbolic link
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(BadInput, match="links are not unpacked"):
        unpack_model(buf.getvalue(), "model.py:make", tmp_path / "n", "up.zip")
    assert not (tmp_path / "n").exists()

"""Real parts for the queue tests and the service benchmark: a redis-server of the test's own (append-only
file in a temporary folder), `harness worker` processes, demo uploads and users, and waiting for jobs."""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from leaderboard.db import Job, User, make_engine
from leaderboard.schema import ensure_current

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "submissions/examples/demo_gt_noise.npz"
# Workers in the tests: short leases and a reaper every second, so a lost worker's job moves on in seconds.
FAST = {"POSEBENCH_JOB_LEASE_S": "3", "POSEBENCH_REAP_INTERVAL_S": "1", "POSEBENCH_REQUEUE_AFTER_S": "5"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    """A redis-server on a free port with its append-only file in `folder`; stop() and start() restart it there."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port, self.proc = folder, free_port(), None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes", "--dir", str(self.folder)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while not self.client().ping_ok():
            assert time.time() < deadline and self.proc.poll() is None, "redis-server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        """A clean shutdown (SIGTERM): Redis writes its append-only file and exits."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def client(self) -> _Client:
        return _Client(self.port)


class _Client:
    def __init__(self, port: int) -> None:
        import redis

        self.redis = redis.Redis(port=port, socket_connect_timeout=1)

    def ping_ok(self) -> bool:
        import redis

        try:
            return bool(self.redis.ping())
        except redis.ConnectionError:
            return False


def redis_server(folder: Path) -> Iterator[Redis]:
    """A started Redis; skips without redis-server unless $POSEBENCH_REQUIRE_REDIS=1 (CI), which fails instead."""
    if shutil.which("redis-server") is None:
        if os.environ.get("POSEBENCH_REQUIRE_REDIS") == "1":
            pytest.fail("no redis-server on PATH and POSEBENCH_REQUIRE_REDIS=1 (Debian package 'redis-server')")
        pytest.skip("no redis-server on PATH (Debian package 'redis-server')")
    server = Redis(folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Workers:
    """`harness worker` processes started by a test and always stopped after it."""

    def __init__(self, db_url: str, broker: str | None, datasets: Path, logs: Path, env: dict[str, str] | None = None) -> None:
        self.db_url, self.broker, self.datasets, self.logs = db_url, broker, datasets, logs
        self.env = {**os.environ, **FAST, **(env or {})}
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "harness", "worker", "--db", self.db_url, "--datasets", str(self.datasets), "--name", name]
        cmd += ["--broker", self.broker] if self.broker else []
        log = open(self.logs / f"{name}.log", "w")
        self.procs[name] = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        return self.procs[name]

    def kill(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text()


def users(db_url: str, names: list[str]) -> list[int]:
    """Submitter accounts made directly in the database (the accounts code is not under test here)."""
    engine = make_engine(db_url, writer=True)
    ensure_current(engine)
    with Session(engine) as session, session.begin():
        made = [User(name=n, role="submitter", token_hash="not-a-real-hash") for n in names]
        session.add_all(made)
        session.flush()
        return [u.id for u in made]


def noisy_upload(k: int, name: str, break_ids: bool = False) -> bytes:
    """The example submission with extra noise of seed `k` (a different file each time) under method `name`;
    `break_ids`: its sample ids no longer match the test set (fails when scored, not when uploaded)."""
    with np.load(EXAMPLE) as z:
        arrays = {key: z[key] for key in z.files}
    rng = np.random.default_rng(k)
    arrays["pose3d"] = (arrays["pose3d"] + rng.normal(0, 1 + k % 7, arrays["pose3d"].shape)).astype(np.float32)
    arrays["meta"] = np.array(f'{{"name": "{name}", "supervision": "fully-supervised", "input_2d": "gt"}}')
    if break_ids:
        arrays["sample_id"] = np.array([f"S1/Nowhere/0/{i:06d}" for i in range(len(arrays["sample_id"]))])
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


SLEEPY_MODEL = '''
import time
import numpy as np

POSEBENCH_META = {"name": "Sleepy back-projection", "supervision": "unsupervised", "training_data": "none"}


def make():
    time.sleep(float(SLEEP_S))

    def model(keypoints_2d, intrinsics, joint_set, sequence_id):
        f = np.asarray(intrinsics["f"], dtype=np.float64)
        c = np.asarray(intrinsics["c"], dtype=np.float64)
        xy = (keypoints_2d - c) / f * 4500.0
        return np.concatenate([xy, np.full(keypoints_2d.shape[:-1] + (1,), 4500.0)], axis=-1)

    return model
'''


def model_zip(sleep_s: float) -> bytes:
    """A zipped model folder (model.py:make) whose factory sleeps `sleep_s` seconds before lifting 2D to 3D."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("model.py", SLEEPY_MODEL.replace("SLEEP_S", repr(sleep_s)))
        zf.writestr("README.md", "a test model\n")
    return buf.getvalue()


def wait_jobs(db_url: str, done: set[str], timeout_s: float, ids: list[int] | None = None) -> list[Job]:
    """Poll the database until every job (or those of `ids`) has a status in `done`; the jobs."""
    engine = make_engine(db_url)
    deadline = time.time() + timeout_s
    while True:
        with Session(engine) as session:
            query = select(Job).order_by(Job.id)
            jobs = list(session.scalars(query if ids is None else query.where(Job.id.in_(ids))))
            session.expunge_all()
        if jobs and all(j.status in done for j in jobs):
            return jobs
        if time.time() > deadline:
            raise AssertionError(f"jobs not done after {timeout_s} s: {[(j.id, j.status, j.worker) for j in jobs if j.status not in done]}")
        time.sleep(0.2)

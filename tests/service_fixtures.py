"""A leaderboard service database for the account, moderation and page tests: two submitters and a maintainer,
and jobs submitted as the page submits them, run in this process as a worker runs them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine

from harness.config import DatasetsConfig
from leaderboard import jobs
from leaderboard.accounts import Account, add_user, verify_token
from leaderboard.db import make_engine
from leaderboard.schema import ensure_current
from tests.conftest import REPO

DEMO_FILE = REPO / "submissions" / "examples" / "demo_gt_noise.npz"


@dataclass
class Service:
    """The database, its accounts and their tokens."""

    url: str
    engine: Engine
    alice: Account
    bob: Account
    maud: Account  # the maintainer
    tokens: dict[str, str]


def service(url: str) -> Service:
    """Schema at head, submitters alice and bob, maintainer maud (e-mail maud@example.org)."""
    engine = make_engine(url, writer=True)
    ensure_current(engine)
    tokens = {"alice": add_user(engine, "alice", "submitter"), "bob": add_user(engine, "bob", "submitter"), "maud": add_user(engine, "maud", "maintainer", "maud@example.org")}
    accounts = {name: verify_token(engine, token) for name, token in tokens.items()}
    return Service(url, engine, accounts["alice"], accounts["bob"], accounts["maud"], tokens)


def scored_job(svc: Service, account: Account, config: DatasetsConfig, method: str, path: Path = DEMO_FILE, run: bool = True) -> int:
    """A job of `account` for the demo file under `method`, run to its end in this process unless not `run`."""
    meta = {"name": method, "supervision": "unsupervised", "input_2d": "gt", "model_selection_on_test": "no", "best_of": "1"}
    job_id = jobs.submit(svc.engine, account.id, "file", path.name, path.read_bytes(), meta, {}, enqueue=False)
    if run:
        jobs.run_job(svc.engine, job_id, "test-worker", config)
    return job_id

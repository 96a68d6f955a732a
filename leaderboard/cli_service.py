"""The leaderboard as a service: `harness worker` (an evaluation worker on any machine that reaches the broker,
the database and the datasets) and `harness serve` (page, workers and the broker URL of a deployment)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.cli_support import DatasetsOpt, DbOpt, one_line_errors, out
from harness.errors import BadInput

BrokerOpt = Annotated[str | None, typer.Option("--broker", help="broker URL, e.g. redis://host:6379/0 (default: $POSEBENCH_BROKER_URL, else Celery's SQLAlchemy transport on the database)")]


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    prefix = "sqla+" if url.startswith("sqla+") else ""
    try:
        return prefix + make_url(url.removeprefix(prefix)).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


@one_line_errors
def worker(
    broker: BrokerOpt = None,
    db: DbOpt = None,
    concurrency: Annotated[int, typer.Option("--concurrency", help="jobs this worker runs at once (1: in its own process)")] = 1,
    name: Annotated[str | None, typer.Option("--name", help="the worker's name in the jobs' records and the health view (default: host:pid)")] = None,
    datasets: DatasetsOpt = None,
) -> None:
    """Start an evaluation worker: it takes queued submissions, scores them as `harness evaluate` does (model
    uploads in the sandbox) and stores each result once; Ctrl-C or SIGTERM lets the running job finish."""
    from leaderboard.db import database_url
    from leaderboard.queue import broker_url
    from leaderboard.worker import run_worker

    if concurrency < 1:
        raise BadInput(f"--concurrency: expected 1 or more, got {concurrency}")
    url, queue = database_url(db), broker_url(broker, db)
    out.print(f"worker for {_shown(url)} on broker {_shown(queue)}")
    run_worker(queue, url, datasets, concurrency, name)


def start_service(db: str | None, broker: str | None, workers: int, port: int, page: bool, datasets: Path | None) -> int:
    """Page (unless not `page`) and `workers` worker processes until a signal; the exit code."""
    from leaderboard.db import DB_URL_ENV, database_url, make_engine
    from leaderboard.queue import BROKER_ENV, broker_url
    from leaderboard.schema import ensure_current
    from leaderboard.serve import page_command, supervise, worker_command

    if workers < 0 or (workers == 0 and not page):
        raise BadInput(f"--workers {workers}: expected 0 or more, and something to run (the page or a worker)")
    url, queue = database_url(db), broker_url(broker, db)
    ensure_current(make_engine(url, writer=True))  # before the children race to create it
    commands = ([page_command(port)] if page else []) + [worker_command(url, queue, datasets) for _ in range(workers)]
    shown = f"the page at http://127.0.0.1:{port} and " if page else ""
    out.print(f"serving {shown}{workers} worker(s) for {_shown(url)}, broker {_shown(queue)}")
    return supervise(commands, {DB_URL_ENV: url, BROKER_ENV: queue})


@one_line_errors
def serve(
    db: DbOpt = None,
    broker: BrokerOpt = None,
    workers: Annotated[int, typer.Option("--workers", help="evaluation workers to start on this machine (0: workers run elsewhere)")] = 1,
    port: Annotated[int, typer.Option("--port", help="port of the page on 127.0.0.1 (put a TLS proxy in front)")] = 8501,
    no_page: Annotated[bool, typer.Option("--no-page", help="start only the workers")] = False,
    datasets: DatasetsOpt = None,
) -> None:
    """Run a leaderboard deployment on this machine: the page and N workers on the given database and broker
    (see docs/hosting.md); SIGTERM or Ctrl-C stops them all."""
    raise typer.Exit(start_service(db, broker, workers, port, not no_page, datasets))


def register(app: typer.Typer) -> None:
    """Add `harness worker` and `harness serve` (entry point of group posebench.commands)."""
    app.command("worker")(worker)
    app.command("serve")(serve)

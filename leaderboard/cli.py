"""The leaderboard's commands (`harness export`, `harness leaderboard`, `harness db ...`) and the result store
behind `harness evaluate --store`, contributed to the `harness` app through entry points (pyproject.toml)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from harness.cli_support import DatasetsOpt, DbOpt, ForceOpt, MethodOpt, one_line_errors, out
from harness.config import load_config
from harness.errors import BadInput
from harness.results import ResultFile


class LeaderboardStore:
    """The leaderboard database as `evaluate --store`'s result store (harness.plugins.ResultStore)."""

    def protected_file(self, db: str | None) -> Path | None:
        """The database file a model must not see, where the leaderboard is a SQLite file."""
        from leaderboard.db import database_url

        url = database_url(db)
        return Path(url.removeprefix("sqlite:///")).resolve() if url.startswith("sqlite:///") else None

    def check(self, where: str, meta: Any, file_name: str, db: str | None, method: str | None) -> None:
        """Before scoring: the result could be stored (its method name and fields fit the database, which answers)."""
        from leaderboard.db import make_engine
        from leaderboard.ingest import check_storable
        from leaderboard.schema import current_revision

        check_storable(where, method, meta, file_name)
        current_revision(make_engine(db))

    def store(self, result: ResultFile, db: str | None, method: str | None, status: str) -> list[str]:
        """Store in one transaction (creating or migrating the schema first); what to print about it."""
        from leaderboard.db import make_engine
        from leaderboard.ingest import store
        from leaderboard.schema import ensure_current

        engine = make_engine(db, writer=True)
        ensure_current(engine)
        stored = store(engine, result, method, status)
        state = f"stored as {status}" if stored.created else "already stored (same file, same method)"
        return [f"{state}: submission {stored.submission_id} of method '{stored.method}' in {engine.url.render_as_string(hide_password=True)}", *stored.row_notes]


FilterOpt = Annotated[list[str] | None, typer.Option(help="keep rows with this value (repeatable; as the page's filter)")]


@one_line_errors
def export_(
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv, json, markdown or latex")] = "markdown",
    benchmark: Annotated[str, typer.Option("--benchmark", "-b", help="benchmark id")] = "h36m",
    data: Annotated[str, typer.Option("--data", help="real or demo (never mixed in one table)")] = "real",
    aggregation: Annotated[str | None, typer.Option("--aggregation", help="which stored aggregation, e.g. frame-mean (default: the benchmark's headline)")] = None,
    supervision: FilterOpt = None,
    input_2d: Annotated[list[str] | None, typer.Option("--input-2d", help="keep rows with this 2D input (repeatable)")] = None,
    training_data: Annotated[list[str] | None, typer.Option("--training-data", help="keep rows with this training data (repeatable)")] = None,
    source: Annotated[list[str] | None, typer.Option("--source", help="keep rows from this source: verified, 'imported (unverified)', 'run without sandbox (unverified)', reported (repeatable)")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="write here instead of the terminal")] = None,
    force: ForceOpt = False,
    db: DbOpt = None,
) -> None:
    """The leaderboard table of one benchmark as the page shows it with the same choices (verified and reported
    rows; an empty table where nothing is stored)."""
    from leaderboard.db import make_engine
    from leaderboard.export import FORMATS, export
    from leaderboard.schema import current_revision
    from leaderboard.selection import table_view

    if fmt not in FORMATS:
        raise BadInput(f"--format: expected one of {', '.join(FORMATS)}, got '{fmt}'")
    engine = make_engine(db)
    if current_revision(engine) is None:
        raise BadInput(f"{engine.url.render_as_string(hide_password=True)}: no leaderboard schema; run `harness db upgrade` or store a result first")
    filters = {"supervision": supervision or [], "input_2d": input_2d or [], "training_data": training_data or [], "source": source or []}
    table = table_view(engine, benchmark, data, aggregation, filters)
    text = export(table, fmt)
    if output is None:
        sys.stdout.write(text)
        return
    from harness.outputs import write_atomic

    write_atomic(output, lambda fh: fh.write(text.encode()), force)
    out.print(f"wrote {output}: {len(table)} rows of {benchmark}")


@one_line_errors
def serve_page(
    db: DbOpt = None,
    port: Annotated[int, typer.Option("--port", help="port on 127.0.0.1")] = 8501,
    page_only: Annotated[bool, typer.Option("--page-only", help="serve the page alone, without an evaluation worker")] = False,
    broker: Annotated[str | None, typer.Option("--broker", help="broker URL (default: $POSEBENCH_BROKER_URL, else Celery's SQLAlchemy transport on the database)")] = None,
    datasets: DatasetsOpt = None,
) -> None:
    """Serve the leaderboard page (Streamlit, headless, on 127.0.0.1 only) with one evaluation worker for uploads;
    SIGTERM or Ctrl-C stops both. Several machines: `harness serve` and `harness worker` (docs/hosting.md)."""
    from leaderboard.cli_service import start_service
    from leaderboard.db import database_url

    out.print(f"serving the leaderboard of {database_url(db)} at http://127.0.0.1:{port}")
    raise typer.Exit(start_service(db, broker, 0 if page_only else 1, port, True, datasets))


@one_line_errors
def db_upgrade(revision: Annotated[str, typer.Argument(help="target revision")] = "head", db: DbOpt = None) -> None:
    """Create or migrate the leaderboard schema."""
    from leaderboard.db import make_engine
    from leaderboard.schema import current_revision, upgrade

    engine = make_engine(db, writer=True)
    upgrade(engine, revision)
    out.print(f"{engine.url.render_as_string(hide_password=True)}: schema at revision {current_revision(engine)}")


@one_line_errors
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="target revision ('base' drops every table)")],
    yes: Annotated[bool, typer.Option("--yes", help="go ahead although the database holds stored rows, which a downgrade may delete")] = False,
    db: DbOpt = None,
) -> None:
    """Migrate the leaderboard schema down (refused while rows are stored, unless --yes)."""
    from leaderboard.db import make_engine
    from leaderboard.schema import current_revision, downgrade, stored_rows

    engine = make_engine(db, writer=True)
    rows = stored_rows(engine)
    if rows and not yes:
        held = ", ".join(f"{n} {table}" for table, n in rows.items())
        raise BadInput(f"{engine.url.render_as_string(hide_password=True)}: downgrading to {revision} may delete what is stored ({held}); back it up, then run again with --yes")
    downgrade(engine, revision)
    out.print(f"{engine.url.render_as_string(hide_password=True)}: schema at revision {current_revision(engine) or 'base (empty)'}")


@one_line_errors
def db_seed(db: DbOpt = None) -> None:
    """Load the published numbers of leaderboard/literature.yaml (shown as reported, never verified)."""
    from leaderboard.db import make_engine
    from leaderboard.literature import read_literature, seed
    from leaderboard.schema import ensure_current

    engine = make_engine(db, writer=True)
    ensure_current(engine)
    methods, numbers = seed(engine, read_literature())
    out.print(f"seeded {numbers} reported numbers of {methods} methods into {engine.url.render_as_string(hide_password=True)}")


@one_line_errors
def db_ingest(
    result_json: Annotated[Path, typer.Argument(help="result JSON written by `harness evaluate --json`")],
    submission: Annotated[Path | None, typer.Option("--submission", help="the submission file the JSON names: re-scored here, so the result is stored as verified")] = None,
    db: DbOpt = None,
    method: MethodOpt = None,
    datasets: DatasetsOpt = None,
) -> None:
    """Store a result JSON (one transaction; the same file for the same method is stored once): as imported and
    unverified, or, with --submission, as verified after this harness scored that file again."""
    from leaderboard.ingest import rescored

    if submission is None:
        from harness.results import read_result

        _print(LeaderboardStore().store(read_result(result_json), db, method, "imported"))
    else:
        _print(LeaderboardStore().store(rescored(result_json, submission, load_config(datasets)), db, method, "verified"))


def register(app: typer.Typer) -> None:
    """Add the leaderboard's commands to the `harness` app (the entry point of group posebench.commands)."""
    app.command("export")(export_)
    app.command("leaderboard")(serve_page)
    db_app = typer.Typer(no_args_is_help=True, help="The leaderboard database: schema migrations and ingest.")
    for name, command in (("upgrade", db_upgrade), ("downgrade", db_downgrade), ("seed", db_seed), ("ingest", db_ingest)):
        db_app.command(name)(command)
    app.add_typer(db_app, name="db")


def _print(lines: list[str]) -> None:
    for line in lines:
        out.print(line)

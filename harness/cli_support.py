"""What every package's commands share: the top-level `harness` app, its consoles, common options, and the
decorator that turns expected errors into one line and an exit code. Exit codes: 0 ok, 2 bad input, 3 dataset
not available, 4 a baseline regressed."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from harness.errors import HarnessError
from harness.terminal import SafeConsole

app = typer.Typer(add_completion=False, no_args_is_help=True, help="PoseBench: score 3D human pose predictions the same way every time.")
# Markup off: method names, file names and ids come from users and must print literally.
out = SafeConsole()
err = SafeConsole(stderr=True)
_state = {"debug": False}

DatasetsOpt = Annotated[Path | None, typer.Option("--datasets", help="datasets.yaml to use (default: $POSEBENCH_DATASETS, ./datasets.yaml, packaged)")]
ForceOpt = Annotated[bool, typer.Option("--force", help="overwrite an existing output file")]
DbOpt = Annotated[str | None, typer.Option("--db", help="database URL (default: $POSEBENCH_DB_URL, else sqlite:///leaderboard.db)")]
MethodOpt = Annotated[str | None, typer.Option("--method", help="method name to store under (default: the submission's meta.name)")]


def one_line_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn expected errors into one line on stderr and their exit code; --debug shows tracebacks."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except HarnessError as exc:
            if _state["debug"]:
                raise
            err.print(f"error: {exc}")
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:  # never a traceback unless asked for
            if _state["debug"]:
                raise
            err.print(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)")
            raise typer.Exit(1) from None

    return wrapper


@app.callback()
def main(debug: Annotated[bool, typer.Option("--debug", help="show tracebacks")] = False) -> None:
    _state["debug"] = debug

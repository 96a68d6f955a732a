"""What the packages above the harness contribute, found through entry points so that `harness` never imports
them: their commands (group `posebench.commands`, each a function that adds commands to the app) and the
result store behind `evaluate --store` (group `posebench.result_store`, the leaderboard database)."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol

import typer

from harness.errors import BadInput
from harness.results import ResultFile

COMMANDS_GROUP = "posebench.commands"
STORE_GROUP = "posebench.result_store"


class ResultStore(Protocol):
    """Where `harness evaluate --store` keeps a result."""

    def protected_file(self, db: str | None) -> Path | None:
        """A file a model run must not see (the database, where it is a local file)."""

    def check(self, where: str, meta: Any, file_name: str, db: str | None, method: str | None) -> None:
        """Before scoring: raise BadInput if the result could not be stored (no method name, fields too long, no database)."""

    def store(self, result: ResultFile, db: str | None, method: str | None, status: str) -> list[str]:
        """Store the result; the lines to print about what happened."""


def register_commands(app: typer.Typer) -> None:
    """Add every installed package's commands to the app, in a fixed order."""
    for ep in sorted(entry_points(group=COMMANDS_GROUP), key=lambda e: e.name):
        ep.load()(app)


def result_store() -> ResultStore:
    """The installed result store; one line if there is none."""
    found = list(entry_points(group=STORE_GROUP))
    if not found:
        raise BadInput(f"--store: no result store is installed (entry point group {STORE_GROUP}; the leaderboard package provides one)")
    return found[0].load()()

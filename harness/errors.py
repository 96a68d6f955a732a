"""Errors the command line turns into one-line messages and exit codes."""

from __future__ import annotations


class HarnessError(Exception):
    """An error with a user-facing one-line message and the exit code the CLI returns for it."""

    exit_code = 1


class BadInput(HarnessError):
    """A submission, result file, option or config value is not what was expected (exit 2)."""

    exit_code = 2


class DatasetUnavailable(HarnessError):
    """A dataset's files are missing or unreadable (exit 3)."""

    exit_code = 3

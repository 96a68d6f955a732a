"""Errors the command line turns into one-line messages and exit codes."""

from __future__ import annotations

from pydantic import ValidationError


class HarnessError(Exception):
    """An error with a user-facing one-line message and the exit code the CLI returns for it.

    Control characters that came from user data (a newline in a sample id, say) are escaped, so the
    message stays on one line whatever the input.
    """

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__("".join(c if c.isprintable() else repr(c)[1:-1] for c in message))


class BadInput(HarnessError):
    """A submission, result file, option or config value is not what was expected (exit 2)."""

    exit_code = 2


class DatasetUnavailable(HarnessError):
    """A dataset's files are missing or unreadable (exit 3)."""

    exit_code = 3


def first_validation_error(exc: ValidationError) -> str:
    """The first pydantic error as `field a.b: message`, or just the message when it concerns the whole input."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"field {where}: {err['msg']}" if where else err["msg"]

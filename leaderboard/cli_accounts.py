"""Maintainers' commands for the leaderboard service: `harness user add|list|token|disable` and `harness limits
set|list`, contributed to the `harness` app through an entry point (pyproject.toml)."""

from __future__ import annotations

from typing import Annotated

import typer

from harness.cli_support import DbOpt, one_line_errors, out

RoleOpt = Annotated[str, typer.Option("--role", help="submitter or maintainer")]


def _engine(db: str | None):  # noqa: ANN202 - a SQLAlchemy Engine, imported lazily
    """A writer engine on a database at the current schema (an empty one is created)."""
    from leaderboard.db import make_engine
    from leaderboard.schema import ensure_current

    engine = make_engine(db, writer=True)
    ensure_current(engine)
    return engine


@one_line_errors
def user_add(
    name: Annotated[str, typer.Argument(help="account name")],
    role: RoleOpt = "submitter",
    email: Annotated[str | None, typer.Option("--email", help="the e-mail address an identity provider vouches for (OIDC sign-in)")] = None,
    db: DbOpt = None,
) -> None:
    """Issue an account; its token is printed once (only its argon2 hash is stored)."""
    from leaderboard.accounts import add_user

    token = add_user(_engine(db), name, role, email)
    out.print(f"created {role} '{name}'; token (shown once, give it to the user):")
    out.print(token)


@one_line_errors
def user_list(db: DbOpt = None) -> None:
    """Every account: id, name, role, e-mail, active."""
    from leaderboard.accounts import list_users

    users = list_users(_engine(db))
    if not users:
        out.print("no accounts; issue one with `harness user add NAME --role submitter|maintainer`")
    for u in users:
        out.print(f"{u['id']}\t{u['name']}\t{u['role']}\t{u['email'] or '-'}\t{'active' if u['active'] else 'disabled'}")


@one_line_errors
def user_token(name: Annotated[str, typer.Argument(help="account name")], db: DbOpt = None) -> None:
    """Issue a new token for an account (the old one stops working; a disabled account is active again)."""
    from leaderboard.accounts import reissue_token

    token = reissue_token(_engine(db), name)
    out.print(f"new token for '{name}' (shown once; the old one no longer works):")
    out.print(token)


@one_line_errors
def user_disable(name: Annotated[str, typer.Argument(help="account name")], db: DbOpt = None) -> None:
    """Deactivate an account: its token and e-mail sign-in stop working."""
    from leaderboard.accounts import disable

    disable(_engine(db), name)
    out.print(f"disabled '{name}'")


@one_line_errors
def limits_set(
    benchmark: Annotated[str, typer.Argument(help="benchmark id, or '*' for every benchmark without its own limits")],
    per_day: Annotated[int, typer.Option("--per-day", help="submissions per user per day (failed ones do not count)")],
    concurrent: Annotated[int, typer.Option("--concurrent", help="submissions per user queued or running at once")],
    db: DbOpt = None,
) -> None:
    """Set a benchmark's submission limits per user."""
    from leaderboard.limits import set_limit

    set_limit(_engine(db), benchmark, per_day, concurrent)
    out.print(f"limits for {benchmark}: {per_day} per user per day, {concurrent} at once")


@one_line_errors
def limits_list(db: DbOpt = None) -> None:
    """Every benchmark's limits ('*' applies to benchmarks without their own)."""
    from leaderboard.limits import list_limits

    rows = list_limits(_engine(db))
    if not rows:
        out.print("no limits set: submissions are unlimited")
    for r in rows:
        out.print(f"{r['benchmark']}\tper day {r['per_day']}\tconcurrent {r['concurrent']}")


def register(app: typer.Typer) -> None:
    """Add `harness user` and `harness limits` (the entry point of group posebench.commands)."""
    user_app = typer.Typer(no_args_is_help=True, help="Accounts of the leaderboard service (issued by maintainers).")
    for name, command in (("add", user_add), ("list", user_list), ("token", user_token), ("disable", user_disable)):
        user_app.command(name)(command)
    app.add_typer(user_app, name="user")
    limits_app = typer.Typer(no_args_is_help=True, help="Submission limits per user, per benchmark.")
    limits_app.command("set")(limits_set)
    limits_app.command("list")(limits_list)
    app.add_typer(limits_app, name="limits")

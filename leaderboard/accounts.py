"""Accounts issued by maintainers: a random token shown once and stored as an argon2 hash, roles, deactivation,
and the mapping of an identity provider's e-mail address to an existing account (no self-registration).

A token reads `pb<id>.<secret>`: the id finds the account, the argon2 hash checks the secret (the library's
verify compares in constant time). An unknown id is checked against a dummy hash, so a wrong token takes as long
whether or not the account exists.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from harness.errors import BadInput
from leaderboard.db import User

ROLES: tuple[str, ...] = ("submitter", "maintainer")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
_EMAIL = re.compile(r"^[^@\s]{1,200}@[^@\s]{1,99}$")
_TOKEN = re.compile(r"^pb([0-9]{1,12})\.([A-Za-z0-9_-]{20,100})$")
_HASHER = PasswordHasher()
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(32))


@dataclass(frozen=True)
class Account:
    """A signed-in user as the page and the moderation functions see it (no hash, detached from any session)."""

    id: int
    name: str
    role: str
    email: str | None = None

    @property
    def maintainer(self) -> bool:
        return self.role == "maintainer"


def _account(user: User) -> Account:
    return Account(user.id, user.name, user.role, user.email)


def _check(name: str, role: str, email: str | None) -> None:
    if not _NAME.match(name):
        raise BadInput(f"user name '{name}': 1-100 letters, digits, '_', '.', '@' or '-', starting with a letter or digit")
    if role not in ROLES:
        raise BadInput(f"--role: expected one of {', '.join(ROLES)}, got '{role}'")
    if email is not None and not _EMAIL.match(email):
        raise BadInput(f"--email: '{email}' is not an e-mail address")


def _new_token(user_id: int) -> tuple[str, str]:
    """(token, its argon2 hash)."""
    token = f"pb{user_id}.{secrets.token_urlsafe(32)}"
    return token, _HASHER.hash(token)


def add_user(engine: Engine, name: str, role: str, email: str | None = None) -> str:
    """Create an account; returns its token, which is shown once and stored only as a hash."""
    _check(name, role, email)
    email = email.lower() if email else None
    with Session(engine) as session, session.begin():
        same = [func.lower(User.name) == name.lower(), *([User.email == email] if email else [])]
        taken = session.scalar(select(User).where(or_(*same)))
        if taken is not None:
            what = f"name '{taken.name}'" if taken.name.lower() == name.lower() else f"e-mail '{email}'"
            raise BadInput(f"user {name}: the {what} is already taken")
        user = User(name=name, role=role, email=email, token_hash=_HASHER.hash(secrets.token_urlsafe(32)), active=True)
        try:
            with session.begin_nested():
                session.add(user)
        except IntegrityError:
            raise BadInput(f"user {name}: the name or e-mail is already taken") from None
        token, user.token_hash = _new_token(user.id)
    return token


def _user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise BadInput(f"user '{name}': no such account (see `harness user list`)")
    return user


def reissue_token(engine: Engine, name: str) -> str:
    """A new token for `name` (the old one stops working); the account is active again."""
    with Session(engine) as session, session.begin():
        user = _user(session, name)
        token, user.token_hash = _new_token(user.id)
        user.active = True
    return token


def disable(engine: Engine, name: str) -> None:
    """Deactivate an account: its token and e-mail sign-in stop working at the page's next run."""
    with Session(engine) as session, session.begin():
        _user(session, name).active = False


def list_users(engine: Engine) -> list[dict[str, object]]:
    """Every account, without its hash."""
    with Session(engine) as session:
        users = session.scalars(select(User).order_by(User.id)).all()
        return [{"id": u.id, "name": u.name, "role": u.role, "email": u.email or "", "active": u.active} for u in users]


def verify_token(engine: Engine, token: str) -> Account | None:
    """The active account the token belongs to, or None (wrong, malformed, reissued, or disabled)."""
    found = _TOKEN.match(token.strip())
    with Session(engine) as session:
        user = session.get(User, int(found.group(1))) if found else None
        try:
            ok = _HASHER.verify(user.token_hash if user else _DUMMY_HASH, token.strip())
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        return _account(user) if ok and user is not None and user.active else None


def account_by_id(engine: Engine, user_id: int) -> Account | None:
    """The account with this id while it is active (the page re-reads it on every run, so disabling takes effect)."""
    with Session(engine) as session:
        user = session.get(User, user_id)
        return _account(user) if user is not None and user.active else None


def account_for_email(engine: Engine, email: str | None) -> Account | None:
    """The active account a maintainer issued for this e-mail address (an identity provider vouched for it), or None."""
    if not email:
        return None
    with Session(engine) as session:
        user = session.scalar(select(User).where(User.email == email.strip().lower(), User.active.is_(True)))
        return _account(user) if user is not None else None

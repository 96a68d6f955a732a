"""Who is signed in to the page: a maintainer-issued token (kept for this browser tab's session), or, where the
deployment configures an identity provider in `.streamlit/secrets.toml` ([auth]), Streamlit's st.login, whose
e-mail address must belong to an account a maintainer issued with `--email` (no self-registration).

The account is read again from the database on every run, so a disabled account is signed out at once.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from leaderboard.accounts import Account, account_by_id, account_for_email, verify_token
from leaderboard.views import engine

SESSION_KEY = "posebench_account_id"


def auth_settings() -> dict[str, Any] | None:
    """The [auth] section of the deployment's secrets, or None when it has none (token sign-in only)."""
    try:
        section = st.secrets.get("auth")
    except Exception:  # no secrets file at all
        return None
    return dict(section) if section else None


def providers() -> list[str | None]:
    """The identity providers st.login can use: named ones ([auth.NAME]) or the single default one (None)."""
    auth = auth_settings()
    if auth is None:
        return []
    named = [name for name, value in auth.items() if hasattr(value, "keys")]
    return named or ([None] if "server_metadata_url" in auth else [])


def _oidc_account() -> Account | None:
    """The account of the identity the provider vouched for, if one was issued for its (verified) e-mail."""
    if not providers() or not st.user.get("is_logged_in", False):
        return None
    if st.user.get("email_verified") is False:
        return None
    return account_for_email(engine(), st.user.get("email"))


def current_account() -> Account | None:
    """The signed-in, active account, or None."""
    user_id = st.session_state.get(SESSION_KEY)
    if user_id is not None:
        account = account_by_id(engine(), user_id)
        if account is None:
            del st.session_state[SESSION_KEY]
        return account
    return _oidc_account()


def sign_in_with_token(token: str) -> Account | None:
    """Check a token; on success the tab's session is signed in."""
    account = verify_token(engine(), token)
    if account is not None:
        st.session_state[SESSION_KEY] = account.id
    return account


def sign_out() -> None:
    """Forget the token sign-in and, if any, the identity provider's."""
    st.session_state.pop(SESSION_KEY, None)
    if providers() and st.user.get("is_logged_in", False):
        st.logout()


def signed_in_or_stop(maintainer: bool = False) -> Account:
    """The signed-in account; otherwise (or, with `maintainer`, for anyone else) a one-line notice and the page stops."""
    account = current_account()
    if account is None:
        st.info("Sign in first (the Sign in page).")
        st.stop()
    if maintainer and not account.maintainer:
        st.error("Only maintainers may open this page.")
        st.stop()
    return account

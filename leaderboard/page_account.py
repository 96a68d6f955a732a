"""The Sign in page: a maintainer-issued token, and "Sign in with <provider>" only where the deployment configures
an identity provider ([auth] in secrets.toml)."""

from __future__ import annotations

import streamlit as st

from leaderboard.signin import current_account, providers, sign_in_with_token, sign_out


def account_page() -> None:
    """Signed in: who, and sign out. Otherwise: the token form, and a button per configured identity provider."""
    st.title("Account")
    account = current_account()
    if account is not None:
        st.text(f"Signed in as {account.name} ({account.role})")
        if st.button("Sign out", key="sign_out"):
            sign_out()
            st.rerun()
        return
    if providers() and st.user.get("is_logged_in", False):
        st.error(f"No account was issued for {st.user.get('email') or 'this identity'}; ask a maintainer (harness user add NAME --email ADDRESS).")
        if st.button("Sign out of the identity provider", key="oidc_out"):
            st.logout()
    with st.form("token_sign_in"):
        token = st.text_input("Token", type="password", key="token", help="the token a maintainer issued with `harness user add`")
        if st.form_submit_button("Sign in"):
            if sign_in_with_token(token) is None:
                st.error("Sign-in refused: the token is wrong, was reissued, or the account is disabled.")
            else:
                st.rerun()
    for provider in providers():
        label = f"Sign in with {provider}" if provider else "Sign in with the identity provider"
        if st.button(label, key=f"login_{provider or 'default'}"):
            st.login(provider) if provider else st.login()

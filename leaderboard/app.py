"""The PoseBench leaderboard (Streamlit). The leaderboard pages only read the database and show public
submissions; a signed-in user submits and publishes on Submit and My submissions, a maintainer moderates.

Run it with `harness leaderboard` (or `streamlit run leaderboard/app.py` with $POSEBENCH_DB_URL set). Filters
live in the URL, so a filtered view can be shared. User text (method names, notes) is shown as text.
"""

import streamlit as st

from leaderboard.schema import current_revision, head_revision
from leaderboard.signin import current_account
from leaderboard.views import engine

st.set_page_config(page_title="PoseBench leaderboard", layout="wide")
if current_revision(engine()) is None:
    st.error(f"No leaderboard schema in {engine().url.render_as_string(hide_password=True)}: run `harness db upgrade` or store a result.")
    st.stop()
if current_revision(engine()) != head_revision():
    st.error(f"The leaderboard schema is at revision {current_revision(engine())}, this page needs {head_revision()}: run `harness db upgrade`.")
    st.stop()
pages = [
    st.Page("views_pages/leaderboard.py", title="Leaderboard", default=True),
    st.Page("views_pages/method.py", title="Method", url_path="method"),
    st.Page("views_pages/compare.py", title="Compare", url_path="compare"),
    st.Page("views_pages/progress.py", title="Progress", url_path="progress"),
]
account = current_account()  # the service's pages: only a signed-in user reaches them, moderation only a maintainer
if account is not None:
    pages += [st.Page("views_pages/submit.py", title="Submit", url_path="submit"), st.Page("views_pages/mine.py", title="My submissions", url_path="mine")]
    if account.maintainer:
        pages.append(st.Page("views_pages/moderation.py", title="Moderation", url_path="moderation"))
pages.append(st.Page("views_pages/account.py", title=f"Account ({account.name})" if account else "Sign in", url_path="account"))
st.navigation(pages, position="top").run()

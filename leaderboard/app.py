"""The PoseBench leaderboard (Streamlit). It only reads the database; writes go through the CLI.

Run it with `harness leaderboard` (or `streamlit run leaderboard/app.py` with $POSEBENCH_DB_URL set). Filters
live in the URL, so a filtered view can be shared. User text (method names, notes) is shown as text.
"""

import streamlit as st

from leaderboard.schema import current_revision
from leaderboard.views import engine

st.set_page_config(page_title="PoseBench leaderboard", layout="wide")
if current_revision(engine()) is None:
    st.error(f"No leaderboard schema in {engine().url.render_as_string(hide_password=True)}: run `harness db upgrade` or store a result.")
    st.stop()
pages = [
    st.Page("views_pages/leaderboard.py", title="Leaderboard", default=True),
    st.Page("views_pages/method.py", title="Method", url_path="method"),
    st.Page("views_pages/compare.py", title="Compare", url_path="compare"),
    st.Page("views_pages/progress.py", title="Progress", url_path="progress"),
]
st.navigation(pages, position="top").run()

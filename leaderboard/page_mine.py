"""The My submissions page: the signed-in user's jobs (queued, running, scored, failed with its one-line error),
a job's result table and log, publish and unpublish. It reads the database only and refreshes itself while a
job is queued or running."""

from __future__ import annotations

import streamlit as st

from leaderboard.accounts import Account
from leaderboard.export import markdown_escape
from leaderboard.job_queries import IN_FLIGHT, in_flight, job_log, job_results, my_jobs
from leaderboard.moderation import publish, unpublish
from leaderboard.signin import signed_in_or_stop
from leaderboard.views import act, engine, flash, writer_engine

REFRESH_S = 2.0


def _detail(account: Account, job: dict) -> None:
    """One job: its status line, its error or its results, publish/unpublish, its log."""
    st.subheader(markdown_escape(f"Job {job['job']}: {job['method']} ({job['file']})"))
    st.text(f"status: {job['status']}" + (f" | {job['visibility']}" if job["visibility"] else ""))
    if job["status"] == "failed":
        st.error(markdown_escape(job["error"] or "failed"), icon="❌")
    if job["status"] == "scored":
        st.dataframe(job_results(engine(), account, job["job"]), hide_index=True, placeholder="", key="results", column_config={"value": st.column_config.NumberColumn(format="%.2f")})
        c_pub, c_unpub, _ = st.columns([1, 1, 4])
        if job["visibility"] == "private" and c_pub.button("Publish", key="publish", type="primary"):
            act(lambda: publish(writer_engine(), account, job["job"]), "Published: the submission now shows on the leaderboard.")
        if job["visibility"] in ("published", "hidden by a maintainer") and c_unpub.button("Unpublish", key="unpublish"):
            act(lambda: unpublish(writer_engine(), account, job["job"]), "Unpublished: the submission is private again.")
    with st.expander("Log"):
        st.code(job_log(engine(), account, job["job"]) or "(empty)", language=None)


def _status(account: Account, refreshing: bool) -> None:
    """The jobs table and the chosen job; a full rerun once nothing is in flight any more, so the polling stops."""
    jobs = my_jobs(engine(), account)
    if refreshing and not jobs["status"].isin(IN_FLIGHT).any():
        st.rerun(scope="app")
    if jobs.empty:
        st.info("No submissions yet: upload one on the Submit page.")
        return
    st.dataframe(jobs, hide_index=True, placeholder="", key="jobs")
    labels = {int(j): f"job {j}: {m or '-'} ({s})" for j, m, s in zip(jobs["job"], jobs["method"], jobs["status"])}
    picked = st.selectbox("Job", list(labels), format_func=labels.get, key="job_pick")
    _detail(account, jobs[jobs["job"] == picked].iloc[0].to_dict())


def mine_page() -> None:
    """The signed-in user's submissions, newest first."""
    account = signed_in_or_stop()
    st.title("My submissions")
    flash()
    st.caption("Private until you publish them; a maintainer may hide or unpublish one. Failed submissions store nothing and do not count against your limits.")
    refreshing = in_flight(engine(), account) > 0
    st.fragment(_status, run_every=REFRESH_S if refreshing else None)(account, refreshing)

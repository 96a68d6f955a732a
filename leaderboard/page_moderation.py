"""The Moderation page (maintainers only): every job, hide/unhide/unpublish any submission, delete a job with what
it stored, baseline marks, the limits, and the queue's health."""

from __future__ import annotations

import streamlit as st

from leaderboard.accounts import Account
from leaderboard.job_queries import all_jobs, health, job_log, methods
from leaderboard.limits import list_limits
from leaderboard.moderation import delete_job, set_baseline, set_hidden, unpublish_submission
from leaderboard.signin import signed_in_or_stop
from leaderboard.views import act, engine, flash, writer_engine


def _health(account: Account) -> None:
    state = health(engine(), account)
    c_q, c_r, c_f, c_w = st.columns(4)
    c_q.metric("Queued", state["queued"])
    c_r.metric("Running", state["running"])
    c_f.metric("Failed in the last day", state["failed_last_day"])
    c_w.metric("Workers seen", len(state["workers"]))
    if state["workers"].empty:
        st.warning("No worker has reported yet: start one with `harness worker`.")
    else:
        st.dataframe(state["workers"], hide_index=True, placeholder="", key="workers")


def _jobs(account: Account) -> None:
    jobs = all_jobs(engine(), account)
    if jobs.empty:
        st.info("No submissions through the page yet.")
    else:
        st.dataframe(jobs, hide_index=True, placeholder="", key="all_jobs")
    st.caption("Any stored submission (a command-line one too) by its id: hide it from every public view, show it again, or make it private.")
    c_id, c_hide, c_unhide, c_unpub = st.columns([2, 1, 1, 1], vertical_alignment="bottom")
    sub_id = int(c_id.number_input("Submission id", min_value=1, step=1, key="mod_submission"))
    if c_hide.button("Hide", key="hide"):
        act(lambda: set_hidden(writer_engine(), account, sub_id, True), f"Submission {sub_id} is hidden.")
    if c_unhide.button("Unhide", key="unhide"):
        act(lambda: set_hidden(writer_engine(), account, sub_id, False), f"Submission {sub_id} is shown again (if published).")
    if c_unpub.button("Unpublish", key="mod_unpublish"):
        act(lambda: unpublish_submission(writer_engine(), account, sub_id), f"Submission {sub_id} is private.")
    if jobs.empty:
        return
    c_job, c_confirm, c_delete = st.columns([2, 2, 1], vertical_alignment="bottom")
    job_id = int(c_job.selectbox("Job", list(jobs["job"]), key="mod_job"))
    sure = c_confirm.checkbox("Delete it with what it stored", key="mod_confirm")
    if c_delete.button("Delete", key="delete", disabled=not sure):
        act(lambda: delete_job(writer_engine(), account, job_id), f"Job {job_id} deleted, with its file and stored results.")
    with st.expander(f"Log of job {job_id}"):
        st.code(job_log(engine(), account, job_id) or "(empty)", language=None)


def _methods(account: Account) -> None:
    table = methods(engine(), account)
    if table.empty:
        st.info("No methods stored yet.")
        return
    c_method, c_flag, c_save = st.columns([3, 1, 1], vertical_alignment="bottom")
    name = c_method.selectbox("Method", list(table["method"]), key="mod_method")
    current = bool(table.set_index("method").loc[name, "baseline"])
    flag = c_flag.checkbox("Baseline", value=current, key=f"mod_baseline_{name}")
    if c_save.button("Save", key="save_baseline"):
        act(lambda: set_baseline(writer_engine(), account, name, flag), f"'{name}' is {'now' if flag else 'no longer'} marked as a baseline.")
    st.dataframe(table, hide_index=True, key="methods")


def moderation_page() -> None:
    """Maintainers only: the page stops with a one-line refusal for anyone else."""
    account = signed_in_or_stop(maintainer=True)
    st.title("Moderation")
    flash()
    health_tab, jobs_tab, methods_tab, limits_tab = st.tabs(["Health", "Submissions", "Methods", "Limits"])
    with health_tab:
        _health(account)
    with jobs_tab:
        _jobs(account)
    with methods_tab:
        _methods(account)
    with limits_tab:
        limits = list_limits(engine())
        st.dataframe(limits, hide_index=True, key="limits") if limits else st.info("No limits set: submissions are unlimited.")
        st.caption("Set them with `harness limits set BENCHMARK|'*' --per-day N --concurrent M`; failed submissions do not count.")

"""The Method page: a method's history of submissions, its results with their protocol, breakdowns and worst
frames, and what its paper reported."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from leaderboard.export import markdown_escape
from leaderboard.history import ROW_RULE
from leaderboard.queries import method_detail, method_names, warning_text
from leaderboard.skeleton_plot import skeleton_figure
from leaderboard.views import axis_title, bar_chart, chart, engine

ORDER: tuple[str, ...] = ("warnings", "per_action", "per_sequence", "per_activity", "per_joint", "pck_curve", "worst_frames", "missing", "per_take")


def _breakdown(sub_id: int, bench: str, kind: str, payload: dict) -> None:
    """One breakdown block of a submission: table and chart, skeletons, or a note."""
    if kind in ("per_action", "per_sequence", "per_activity"):
        group = kind.removeprefix("per_")
        frame = pd.DataFrame(payload).T.reset_index(names=group)
        st.subheader(markdown_escape(f"Per {group}: {bench} (submission {sub_id})"))
        st.dataframe(frame, hide_index=True, placeholder="")
        headline = next((m for m in ("mpjpe", "p_mpjpe", "pck") if m in frame), None)
        if headline:
            chart(lambda: bar_chart(frame, group, headline))
    elif kind == "per_joint":
        frame = pd.DataFrame(payload).T.reset_index(names="joint")
        metric = "mpjpe" if "mpjpe" in frame else frame.columns[1]
        st.subheader(markdown_escape(f"Per joint: {bench} (submission {sub_id})"))
        chart(lambda: alt.Chart(frame).mark_bar().encode(y=alt.Y("joint:N", sort="-x"), x=alt.X(f"{metric}:Q", title=axis_title(metric))))
    elif kind == "pck_curve":
        frame = pd.DataFrame({"threshold (mm)": payload["pck_thresholds_mm"], "PCK (%)": payload["pck"]})
        st.subheader(markdown_escape(f"PCK curve: {bench} (submission {sub_id})"))
        chart(lambda: alt.Chart(frame).mark_line(point=True).encode(x="threshold (mm):Q", y="PCK (%):Q"))
    elif kind == "worst_frames":
        st.subheader(markdown_escape(f"Worst frames: {bench} (submission {sub_id})"))
        st.caption("Root-centred ground truth (left) and prediction (right) of the frames with the largest MPJPE, in one 3D view: one drag turns both. Left limbs blue, right limbs red: a left/right swap or a depth flip shows at a glance.")
        frames = payload["frames"]
        labels = [f"{k + 1}. {f['sample_id']}: {f['mpjpe']:.1f} mm" for k, f in enumerate(frames)]
        pick = labels.index(st.selectbox("Frame", labels, key=f"worst_{sub_id}_{bench}"))
        try:
            st.plotly_chart(skeleton_figure(frames[pick]), key=f"skeleton_{sub_id}_{bench}")
        except Exception as exc:
            st.info(f"skeleton view unavailable: {exc}")
    elif kind == "missing":
        st.text(f"{bench}: the dataset copy lacked {', '.join(payload['missing'])}")
    elif kind == "warnings":
        st.warning(f"{bench} (submission {sub_id}): {warning_text(payload)}", icon="⚠️")


def _reported(detail: dict) -> None:
    reported, results = detail["reported"], detail["results"]
    st.subheader("Reported in the paper (not verified)")
    st.dataframe(reported, hide_index=True, placeholder="")
    for (bench, metric, input_2d), fields in detail["fields"].items():
        with st.expander(markdown_escape(f"Protocol of the reported {metric} on {bench} ({input_2d} 2D input), field by field")):
            st.dataframe(fields, hide_index=True)
    if not results.empty:
        both = reported.merge(results, on=["benchmark", "metric"], suffixes=(" reported", " verified"))
        if not both.empty:
            both["gap"] = both["value verified"] - both["value reported"]
            st.subheader("Reported vs verified")
            st.dataframe(both[["benchmark", "metric", "aggregation", "value reported", "value verified", "gap"]], hide_index=True, placeholder="")


def method_page() -> None:
    """Pick a method; its history comes first, then its results, breakdowns and reported numbers."""
    st.title("Method")
    names = method_names(engine())
    if not names:
        st.info("No methods stored yet.")
        return
    name = st.selectbox("Method", names, key="method", bind="query-params")
    detail = method_detail(engine(), name)
    info = detail["method"]
    st.text(f"{info['supervision'] or 'supervision unknown'} | 2D input: {info['input_2d'] or '-'} | training data: {info['training_data'] or '-'}")
    if info["paper_url"]:
        st.text(f"Paper: {info['paper_url']}")
    if info["code_url"]:
        st.link_button("Code", info["code_url"])
    if info["notes"]:
        st.text(info["notes"])
    if not detail["history"].empty:
        st.subheader("Submissions (history)")
        st.caption(f"Every submission is kept. Which one is the method's row: {ROW_RULE}.")
        st.dataframe(detail["history"], hide_index=True, placeholder="", key="history")
    if not detail["results"].empty:
        st.subheader("Results (the source column says which were scored here)")
        st.dataframe(detail["results"], hide_index=True, placeholder="")
    rank = {kind: k for k, kind in enumerate(ORDER)}
    for (sub_id, bench, kind), payload in sorted(detail["breakdowns"].items(), key=lambda kv: (kv[0][0], kv[0][1], rank.get(kv[0][2], len(ORDER)))):
        _breakdown(sub_id, bench, kind, payload)
    if not detail["reported"].empty:
        _reported(detail)
    for sub in detail["submissions"]:
        with st.expander(markdown_escape(f"Submission {sub['id']}, {sub['source']}: {sub['file']} ({sub['data']} data)")):  # labels render Markdown
            st.text(f"sha256 {sub['sha256']}\nevaluated {sub['evaluated_at']} with harness {sub['harness']}")
            st.json(sub["environment"])

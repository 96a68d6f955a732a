"""The Progress page: a benchmark's numbers by publication year, named, per supervision level, reported apart from verified."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from leaderboard.export import metric_columns
from leaderboard.progress import progress_points
from leaderboard.queries import PAPER_PROTOCOLS
from leaderboard.views import chart, overview, table

SHAPES = {"verified": "circle", "reported": "triangle-up", "imported (unverified)": "square", "run without sandbox (unverified)": "diamond"}


def progress_chart(points: pd.DataFrame, best: pd.DataFrame, metric: str) -> alt.FacetChart:
    """One panel per supervision level: a point per number (filled when ranked, hollow when its protocol differs;
    shape by source) labelled with its method, and the best-so-far step line of the ranked numbers."""
    y = alt.Y("value:Q", title=metric, scale=alt.Scale(zero=False))
    base = alt.Chart().encode(x=alt.X("year:O", title="publication year"))
    dots = base.mark_point(size=90, strokeWidth=2).encode(
        y=y, color=alt.Color("kind:N", title="source"), shape=alt.Shape("source:N", scale=alt.Scale(domain=list(SHAPES), range=list(SHAPES.values()))),
        fill=alt.condition("indexof(datum.kind, 'protocol differs') < 0", alt.Color("kind:N"), alt.value("transparent")),
        tooltip=["method", "year", "value", "source", "protocol_differs"],
    )
    names = base.mark_text(align="left", dx=7, dy=-7, fontSize=11).encode(y=y, text="method:N")
    line = alt.Chart().mark_line(interpolate="step-after", color="#333", strokeDash=[4, 2]).encode(x="year:O", y=alt.Y("best_so_far:Q", title=metric))
    frame = pd.concat([points.assign(layer="point"), best.assign(layer="best")], ignore_index=True)
    layered = alt.layer(line.transform_filter("datum.layer == 'best'"), dots.transform_filter("datum.layer == 'point'"), names.transform_filter("datum.layer == 'point'"), data=frame)
    panel = max(220, 1000 // max(1, points["supervision"].nunique()) - 70)
    return layered.properties(width=panel, height=340).facet(column=alt.Column("supervision:N", title="supervision")).resolve_scale(x="independent")


def progress_page() -> None:
    """Pick a benchmark (Human3.6M by default) and a metric (its headline by default)."""
    st.title("Progress over time")
    available, _ = overview()
    standard = [b for b in available if b not in PAPER_PROTOCOLS] + [b for b in available if b in PAPER_PROTOCOLS]
    if not standard:
        st.info("Nothing stored yet.")
        return
    c_bench, c_metric = st.columns(2)
    benchmark = c_bench.selectbox("Benchmark", standard, index=standard.index("h36m") if "h36m" in standard else 0, key="p_benchmark", bind="query-params")
    full = table(benchmark, "real")
    metrics = [c for c in metric_columns(full) if full[c].notna().any()]
    if not metrics:
        st.info("No real-data numbers for this benchmark.")
        return
    metric = c_metric.selectbox("Metric", metrics, key="p_metric", bind="query-params")
    points, best, undated = progress_points(full, metric)
    st.caption(
        "Real data, by the method's publication year. Filled marks were computed with this benchmark's protocol and make the "
        "best-so-far line (dashed); hollow marks are numbers whose protocol differs or is not fully known: shown, never the best."
    )
    if points.empty:
        st.info("No number of this metric has a publication year.")
    else:
        chart(lambda: progress_chart(points, best, metric))
        st.dataframe(points.sort_values(["supervision", "year", "value"]), hide_index=True, placeholder="", key="points")
    if undated:
        st.caption("Not placed (no publication year): " + ", ".join(undated))

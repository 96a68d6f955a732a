"""The pages of the leaderboard app: leaderboard, method detail, compare, progress. They only read."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from harness.benchmarks import BENCHMARKS
from harness.compare import take_difference
from harness.results import TakeSums
from leaderboard.db import database_url, make_engine
from leaderboard.export import PROTOCOL_DIFFERS_TITLE, markdown_escape, metric_columns, split_by_protocol, to_csv
from leaderboard.skeleton_plot import skeleton_figure
from leaderboard.queries import PAPER_PROTOCOLS, benchmarks_with_rows, best_by_year, leaderboard_table, method_detail, method_names, warning_text

STANDARD_ORDER: tuple[str, ...] = ("h36m", "3dhp", "3dpw")
FILTERS: tuple[tuple[str, str], ...] = (
    ("supervision", "Supervision"), ("input_2d", "2D input"), ("training_data", "Training data"), ("source", "Source"),
)


@st.cache_resource
def _engine(url: str):  # noqa: ANN202 - one engine per database and page process
    return make_engine(url)


def engine():  # noqa: ANN201
    """The engine of the database this page shows ($POSEBENCH_DB_URL)."""
    return _engine(database_url())


def _column_config(frame: pd.DataFrame) -> dict:
    config: dict = {
        "paper": st.column_config.TextColumn("paper"),
        "code": st.column_config.LinkColumn("code", display_text="code"),
        "baseline": st.column_config.CheckboxColumn("baseline", help="a PoseBench reference implementation"),
    }
    for col in metric_columns(frame):
        better = "higher" if col.endswith("↑") else "lower"
        config[col] = st.column_config.NumberColumn(col, format="%.1f", help=f"{better} is better")
    return config


def _chart(build) -> None:  # noqa: ANN001 - a chart that fails shows a message, never breaks the page
    try:
        st.altair_chart(build(), width="stretch")
    except Exception as exc:
        st.info(f"chart unavailable: {exc}")


def leaderboard_page() -> None:
    st.title("PoseBench leaderboard")
    available = benchmarks_with_rows(engine())
    standard = sorted((b for b in available if b not in PAPER_PROTOCOLS), key=lambda b: (STANDARD_ORDER.index(b) if b in STANDARD_ORDER else len(STANDARD_ORDER), b))
    emulations = [b for b in available if b in PAPER_PROTOCOLS]
    kind = st.segmented_control("Protocols", ["standard", "paper-protocol emulations"], default="standard", key="kind", bind="query-params")
    choices = standard if kind != "paper-protocol emulations" else emulations
    if not choices:
        st.info("No benchmark has rows of this kind yet.")
        return
    benchmark = st.selectbox("Benchmark", choices, key="benchmark", bind="query-params")
    data = st.radio("Data", ["real", "demo"], horizontal=True, key="data", bind="query-params")
    if benchmark in BENCHMARKS:
        st.caption(BENCHMARKS[benchmark].description + " | frames: " + BENCHMARKS[benchmark].frames)
    else:
        st.caption("Paper-protocol emulation: numbers here follow a paper's own protocol and are not comparable with the standard benchmarks.")
    table = leaderboard_table(engine(), benchmark, data)
    if table.empty:
        st.info(f"No {data}-data rows for {benchmark} yet.")
        return
    columns = st.columns(len(FILTERS))
    for (column, label), slot in zip(FILTERS, columns):
        options = sorted(str(v) for v in table[column].dropna().unique())
        chosen = slot.multiselect(label, options, key=f"f_{column}", bind="query-params")
        if chosen:
            table = table[table[column].astype(str).isin(chosen)]
    if data == "demo":
        st.warning("DEMO DATA: scores on the built-in demo dataset, not on Human3.6M.")
    if (table["source"] == "reported").any():
        st.caption("'verified' rows were scored by this harness; 'imported (unverified)' rows come from result files taken on trust; 'reported' rows are numbers from papers. See a method's page for what is known of their protocol.")
    for _, row in table[table["warnings"] != ""].iterrows():
        st.warning(f"{row['method']} (submission {int(row['submission_id'])}): {row['warnings']}", icon="⚠️")
    metrics = [c for c in metric_columns(table) if table[c].notna().any()]  # no column of blanks
    ranked, apart = split_by_protocol(table)
    if ranked.empty:
        st.info(f"No {data}-data row of {benchmark} was computed with this benchmark's protocol; the numbers below are not ranked.")
    else:
        st.dataframe(_shown(ranked, metrics), hide_index=True, column_config=_column_config(ranked), key="table")
    if not apart.empty:
        st.subheader(PROTOCOL_DIFFERS_TITLE)
        st.caption("Computed with another protocol or with parts of it unknown (protocol_differs names the fields; a method's page compares them one by one): shown for reference, never ranked, never the best value.")
        st.dataframe(_shown(apart, metrics, ranked=False), hide_index=True, column_config=_column_config(apart), key="apart")
    st.download_button("Download this view (CSV)", to_csv(table), file_name=f"posebench-{benchmark}-{data}.csv", mime="text/csv")


def _shown(table: pd.DataFrame, metrics: list[str], ranked: bool = True) -> pd.DataFrame:
    """The page's view of leaderboard rows: rank, method and source, the metrics (then what differs, for rows not
    ranked), then the other columns as text."""
    lead = ["rank", "method", "source"] if ranked else ["method", "source"]
    after = [] if ranked else ["protocol_differs"]
    hidden = ("rank", "method", "source", "protocol_differs", "submission_id", "comparable")
    info = [c for c in table.columns if c not in metric_columns(table) and c not in hidden]
    shown = table[[*lead, *metrics, *after, *info]].reset_index(drop=True)
    shown["year"] = shown["year"].map(lambda y: "" if pd.isna(y) else str(int(y)))
    text = [c for c in (*lead, *after, *info) if c != "rank"]
    shown[text] = shown[text].astype(object).where(shown[text].notna(), "")
    return shown


def _breakdowns(detail: dict) -> None:
    results = detail["results"]
    if not results.empty:
        st.subheader("Results (the source column says which were scored here)")
        st.dataframe(results, hide_index=True)
    order = ("warnings", "per_action", "per_sequence", "per_activity", "per_joint", "pck_curve", "worst_frames", "missing", "per_take")
    rank = {kind: k for k, kind in enumerate(order)}
    for (sub_id, bench, kind), payload in sorted(detail["breakdowns"].items(), key=lambda kv: (kv[0][0], kv[0][1], rank.get(kv[0][2], len(order)))):
        if kind in ("per_action", "per_sequence", "per_activity"):
            group = kind.removeprefix("per_")
            frame = pd.DataFrame(payload).T.reset_index(names=group)
            st.subheader(markdown_escape(f"Per {group}: {bench} (submission {sub_id})"))
            st.dataframe(frame, hide_index=True)
            headline = next((m for m in ("mpjpe", "p_mpjpe", "pck") if m in frame), None)
            if headline:
                _chart(lambda f=frame, g=group, m=headline: alt.Chart(f).mark_bar().encode(x=alt.X(f"{g}:N", sort="-y"), y=alt.Y(f"{m}:Q")))
        elif kind == "per_joint":
            frame = pd.DataFrame(payload).T.reset_index(names="joint")
            metric = "mpjpe" if "mpjpe" in frame else frame.columns[1]
            st.subheader(markdown_escape(f"Per joint: {bench} (submission {sub_id})"))
            _chart(lambda f=frame, m=metric: alt.Chart(f).mark_bar().encode(y=alt.Y("joint:N", sort="-x"), x=alt.X(f"{m}:Q", title=f"{m} (mm)")))
        elif kind == "pck_curve":
            frame = pd.DataFrame({"threshold (mm)": payload["pck_thresholds_mm"], "PCK (%)": payload["pck"]})
            st.subheader(markdown_escape(f"PCK curve: {bench} (submission {sub_id})"))
            _chart(lambda f=frame: alt.Chart(f).mark_line(point=True).encode(x="threshold (mm):Q", y="PCK (%):Q"))
        elif kind == "worst_frames":
            st.subheader(markdown_escape(f"Worst frames: {bench} (submission {sub_id})"))
            st.caption("Root-centred ground truth and prediction of the frames with the largest MPJPE; drag to rotate. Left limbs blue, right limbs red: a left/right swap or a depth flip shows at a glance.")
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


def method_page() -> None:
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
    _breakdowns(detail)
    reported = detail["reported"]
    if not reported.empty:
        st.subheader("Reported in the paper (not verified)")
        st.dataframe(reported, hide_index=True)
        for (bench, metric, input_2d), fields in detail["fields"].items():
            with st.expander(markdown_escape(f"Protocol of the reported {metric} on {bench} ({input_2d} 2D input), field by field")):
                st.dataframe(fields, hide_index=True)
        results = detail["results"]
        if not results.empty:
            both = reported.merge(results, on=["benchmark", "metric"], suffixes=(" reported", " verified"))
            if not both.empty:
                both["gap"] = both["value verified"] - both["value reported"]
                st.subheader("Reported vs verified")
                st.dataframe(both[["benchmark", "metric", "aggregation", "value reported", "value verified", "gap"]], hide_index=True)
    for sub in detail["submissions"]:
        with st.expander(markdown_escape(f"Submission {sub['id']}, {sub['source']}: {sub['file']} ({sub['data']} data)")):  # labels render Markdown
            st.text(f"sha256 {sub['sha256']}\nevaluated {sub['evaluated_at']} with harness {sub['harness']}")
            st.json(sub["environment"])


def compare_page() -> None:
    st.title("Compare")
    names = method_names(engine())
    chosen = st.multiselect("Methods", names, key="compare", bind="query-params")
    if len(chosen) < 2:
        st.info("Pick two or more methods.")
        return
    details = {n: method_detail(engine(), n) for n in chosen}
    per_action = {}
    for n, d in details.items():
        for (_, bench, kind), payload in d["breakdowns"].items():
            if kind == "per_action":
                per_action[(n, bench)] = {a: v["mpjpe"] for a, v in payload.items()}
    if per_action:
        st.subheader("MPJPE per action (mm)")
        st.dataframe(pd.DataFrame({f"{n} [{b}]": v for (n, b), v in per_action.items()}))
    takes = {n: {bench: TakeSums.model_validate(p) for (_, bench, kind), p in d["breakdowns"].items() if kind == "per_take"} for n, d in details.items()}
    first, rest = chosen[0], chosen[1:]
    rows = []
    for other in rest:
        for bench, a in takes[first].items():
            b = takes[other].get(bench)
            if b is None or a.take != b.take:
                continue
            for metric in a.sums:
                if metric not in b.sums or a.counts[metric] != b.counts[metric]:
                    continue
                diff, (lo, hi) = take_difference(a, b, metric, grouped=True)
                rows.append({"benchmark": bench, "metric": metric, "pair": f"{first} - {other}", "difference (action-mean)": diff, "95% CI": f"{lo:.2f}..{hi:.2f}"})
    if rows:
        st.subheader("Paired differences on the same frames")
        st.dataframe(pd.DataFrame(rows), hide_index=True)
    else:
        st.caption("No pair of these methods was scored on the same frames, so no paired difference.")


def progress_page() -> None:
    st.title("Progress over time")
    available = benchmarks_with_rows(engine())
    benchmark = st.selectbox("Benchmark", available, key="p_benchmark", bind="query-params")
    table = leaderboard_table(engine(), benchmark, "real")
    metrics = metric_columns(table) if not table.empty else []
    if not metrics:
        st.info("No real-data rows for this benchmark.")
        return
    metric = st.selectbox("Metric", metrics, key="p_metric", bind="query-params")
    frame = best_by_year(engine(), benchmark, metric)
    st.dataframe(frame, hide_index=True)
    _chart(lambda: alt.Chart(frame).mark_line(interpolate="step-after", point=True).encode(x=alt.X("year:O"), y=alt.Y("best_so_far:Q", title=metric)))

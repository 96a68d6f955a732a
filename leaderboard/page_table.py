"""The Leaderboard page: one benchmark's table, visible without scrolling, on the data that exists."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from harness.benchmarks import BENCHMARKS
from leaderboard.export import PROTOCOL_DIFFERS_TITLE, metric_columns, split_by_protocol, to_csv
from leaderboard.history import ROW_RULE
from leaderboard.queries import DEFAULT_DATA_RULE, PAPER_PROTOCOLS
from leaderboard.selection import DATA, FILTERS, aggregations, apply_filters, filter_options
from leaderboard.views import overview, show_table, table

STANDARD_ORDER: tuple[str, ...] = ("h36m", "3dhp", "3dpw")
KINDS: tuple[str, ...] = ("standard", "paper-protocol emulations")


def _benchmarks(available: list[str], kind: str) -> list[str]:
    if kind == KINDS[1]:
        return [b for b in available if b in PAPER_PROTOCOLS]
    rank = {b: k for k, b in enumerate(STANDARD_ORDER)}
    return sorted((b for b in available if b not in PAPER_PROTOCOLS), key=lambda b: (rank.get(b, len(rank)), b))


def shown(frame: pd.DataFrame, ranked: bool = True) -> pd.DataFrame:
    """The page's view of leaderboard rows: rank, method and source, the metrics that have values, what differs
    and what is unknown (rows not ranked) or the warnings (where any), then the method's setting; text blanks
    instead of missing values, and no column that says the same on every row of the view."""
    metrics = [c for c in metric_columns(frame) if frame[c].notna().any()]
    lead = ["rank", "method", "source"] if ranked else ["method", "source"]
    after = ["protocol_differs", "unknown"] if not ranked else []
    after += ["warnings"] if (frame["warnings"] != "").any() else []
    info = ["supervision", "input_2d", "training_data", "year", *(["baseline"] if frame["baseline"].astype(bool).any() else []), "paper", "code"]
    columns = [c for c in (*lead, *metrics, *after, *info) if c in frame.columns]
    view = frame[columns].reset_index(drop=True)
    view["year"] = view["year"].map(lambda y: "" if pd.isna(y) else str(int(y)))
    text = [c for c in columns if c not in metrics and c not in ("rank", "baseline")]
    view[text] = view[text].astype(object).where(view[text].notna(), "")
    return view


def leaderboard_page() -> None:
    """Controls in one row above the table; filters in a popover; notes and warnings below the tables."""
    st.title("PoseBench leaderboard")
    available, opening = overview()
    c_bench, c_kind, c_data, c_agg, c_filter = st.columns([2.2, 2.6, 1.4, 1.8, 1.2], vertical_alignment="bottom")
    kind = c_kind.segmented_control("Protocols", KINDS, default=KINDS[0], key="kind", bind="query-params") or KINDS[0]
    choices = _benchmarks(available, kind)
    if not choices:
        st.info("No benchmark has rows of this kind yet.")
        return
    benchmark = c_bench.selectbox("Benchmark", choices, key="benchmark", bind="query-params")
    data = c_data.radio("Data", DATA, index=DATA.index(opening), horizontal=True, key="data", bind="query-params", help=DEFAULT_DATA_RULE)
    aggregation = c_agg.selectbox("Aggregation", aggregations(benchmark) or ["headline"], key="aggregation", bind="query-params", help="the headline aggregation first")
    full = table(benchmark, data, aggregation if aggregation in aggregations(benchmark) else None)
    options = filter_options(full)
    with c_filter.popover("Filters", width="stretch"):
        chosen = {column: st.multiselect(label, options[column], key=f"f_{column}", bind="query-params") for column, label in FILTERS.items()}
    bench = BENCHMARKS.get(benchmark)
    active = "; ".join(f"{FILTERS[c]}: {', '.join(v)}" for c, v in chosen.items() if v)
    st.caption(" | ".join(p for p in (bench.description if bench else "Paper-protocol emulation: not comparable with the standard benchmarks.", f"filtered: {active}" if active else "") if p))
    if data == "demo":
        st.warning(f"DEMO DATA: scores on the built-in demo data, not on the real {bench.dataset if bench else 'dataset'}.")
    if full.empty:
        st.info(f"No {data}-data rows for {benchmark} yet.")
        return
    rows = apply_filters(full, chosen)
    ranked, apart = split_by_protocol(rows)
    if not ranked.empty:
        show_table(shown(ranked), "table")
    elif not apart.empty:
        st.caption(f"No {data}-data row of {benchmark} was computed with this benchmark's protocol; the numbers below are not ranked.")
    if not apart.empty:
        st.subheader(PROTOCOL_DIFFERS_TITLE)
        show_table(shown(apart, ranked=False), "apart")
        st.caption("Computed with another protocol or with parts of it unknown: shown for reference, never ranked, never the best value. A method's page compares the fields one by one.")
    if rows.empty:
        st.info("No row matches these filters.")
    for _, row in rows[rows["warnings"] != ""].iterrows():
        st.warning(f"{row['method']} (submission {row['submission_id']}): {row['warnings']}", icon="⚠️")
    st.caption(
        f"Ranks: only rows computed with the benchmark's protocol that have its headline value ({metric_columns(full)[0] if metric_columns(full) else ''}). "
        f"Rows: {ROW_RULE}; each method's page keeps its history. Sources: 'verified' rows were scored by this harness, "
        "'imported (unverified)' rows come from result files taken on trust, 'reported' rows are numbers from papers. "
        + DEFAULT_DATA_RULE
    )
    st.download_button("Download this view (CSV)", to_csv(rows), file_name=f"posebench-{benchmark}-{data}.csv", mime="text/csv")

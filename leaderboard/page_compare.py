"""The Compare page: methods side by side (headline numbers, per action, paired differences), saying why a
method is missing from a part."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from harness.compare import take_difference
from harness.results import TakeSums
from leaderboard.queries import method_detail, method_names
from leaderboard.views import engine


def headline_rows(name: str, detail: dict) -> list[dict]:
    """A method's row values (verified or imported) and its reported numbers, one per benchmark and metric."""
    rows = []
    history = detail["history"]
    for _, h in history[history["method's row"] == "yes"].iterrows():
        rows.append({"method": name, "benchmark": h["benchmark"], "data": h["data"], "metric": h["headline"], "value": h["value"], "source": h["source"], "ranked on the benchmark": "yes"})
    for _, r in detail["reported"].iterrows():
        rows.append({"method": name, "benchmark": r["benchmark"], "data": "real", "metric": f"{r['metric']} ({r['unit']})", "value": r["value"], "source": "reported", "ranked on the benchmark": "yes" if r["comparable"] else f"no: {r['protocol differs']}"})
    return rows


def absent_reason(detail: dict, part: str) -> str:
    """Why a method has nothing for `part` ('per-action values' or 'per-frame sums')."""
    if not detail["submissions"]:
        return f"only reported numbers: a paper's table gives no {part}, so only its headline numbers above can be compared"
    return f"none of its submissions has {part} (benchmarks scored: {', '.join(sorted(set(detail['results']['benchmark'])))})"


def _paired(chosen: list[str], details: dict[str, dict]) -> None:
    takes = {n: {bench: TakeSums.model_validate(p) for (_, bench, kind), p in d["breakdowns"].items() if kind == "per_take"} for n, d in details.items()}
    first, rest = chosen[0], chosen[1:]
    rows, absent = [], []
    for other in rest:
        shared = [b for b, a in takes[first].items() if b in takes[other] and a.take == takes[other][b].take]
        for bench in shared:
            a, b = takes[first][bench], takes[other][bench]
            for metric in (m for m in a.sums if m in b.sums and a.counts[m] == b.counts[m]):
                diff, (lo, hi) = take_difference(a, b, metric, grouped=True)
                rows.append({"benchmark": bench, "metric": metric, "pair": f"{first} - {other}", "difference (action-mean)": diff, "95% CI": f"{lo:.2f}..{hi:.2f}"})
        if not shared:
            who = other if takes[first] else first
            reason = absent_reason(details[who], "per-frame sums") if not takes[who] else f"not scored on the same frames as {first if who == other else other}"
            absent.append(f"{first} - {other}: no paired difference: {who}: {reason}")
    if rows:
        st.subheader("Paired differences on the same frames")
        st.dataframe(pd.DataFrame(rows), hide_index=True)
    for line in absent:
        st.caption(line)


def compare_page() -> None:
    """Pick two or more methods."""
    st.title("Compare")
    chosen = st.multiselect("Methods", method_names(engine()), key="compare", bind="query-params")
    if len(chosen) < 2:
        st.info("Pick two or more methods.")
        return
    details = {n: method_detail(engine(), n) for n in chosen}
    st.subheader("Headline numbers")
    st.caption("Each method's row on each benchmark and the numbers its paper reported; a reported number whose protocol differs is not ranked with the others.")
    st.dataframe(pd.DataFrame([r for n, d in details.items() for r in headline_rows(n, d)]), hide_index=True, placeholder="", key="headline")
    per_action, missing = {}, []
    for n, d in details.items():
        found = {bench: payload for (_, bench, kind), payload in d["breakdowns"].items() if kind == "per_action"}
        for bench, payload in found.items():
            per_action[(n, bench)] = {a: v["mpjpe"] for a, v in payload.items()}
        if not found:
            missing.append(f"{n}: not in the per-action table: {absent_reason(d, 'per-action values')}")
    if per_action:
        st.subheader("MPJPE per action (mm)")
        st.dataframe(pd.DataFrame({f"{n} [{b}]": v for (n, b), v in per_action.items()}), placeholder="")
    for line in missing:
        st.caption(line)
    _paired(chosen, details)

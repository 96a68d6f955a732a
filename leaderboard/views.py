"""What the leaderboard pages share: the engine, cached reads keyed on what is stored, table display and charts."""

from __future__ import annotations

from collections.abc import Callable

import altair as alt
import pandas as pd
import streamlit as st
from sqlalchemy.engine import Engine

from harness.benchmarks import METRICS
from leaderboard.db import database_url, make_engine
from harness.errors import BadInput
from leaderboard.export import markdown_escape, metric_columns
from leaderboard.queries import benchmarks_with_rows, default_data, fingerprint, leaderboard_table

CACHE_TTL_S = 600  # a backstop: the cached reads are keyed on fingerprint(), which changes with every stored row


@st.cache_resource
def _engine(url: str) -> Engine:
    return make_engine(url)


def engine() -> Engine:
    """The engine of the database this page shows ($POSEBENCH_DB_URL)."""
    return _engine(database_url())


@st.cache_resource
def _writer(url: str) -> Engine:
    return make_engine(url, writer=True)


def writer_engine() -> Engine:
    """The engine the submission and moderation pages write through (SQLite writers queue instead of failing)."""
    return _writer(database_url())


@st.cache_data(ttl=CACHE_TTL_S, max_entries=64, show_spinner=False)
def _table(url: str, stored: tuple, benchmark: str, data: str, aggregation: str | None) -> pd.DataFrame:
    return leaderboard_table(_engine(url), benchmark, data, aggregation)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=8, show_spinner=False)
def _overview(url: str, stored: tuple) -> tuple[list[str], str]:
    return benchmarks_with_rows(_engine(url)), default_data(_engine(url))


def table(benchmark: str, data: str, aggregation: str | None = None) -> pd.DataFrame:
    """leaderboard_table, cached until something is stored or removed."""
    return _table(database_url(), fingerprint(engine()), benchmark, data, aggregation).copy()


def overview() -> tuple[list[str], str]:
    """(benchmarks with rows, the data the page opens on), cached until something is stored or removed."""
    return _overview(database_url(), fingerprint(engine()))


_FLASH = "posebench_flash"


def act(run: Callable[[], object], done: str) -> None:
    """Run a page's write; on success rerun so everything shown reflects it and say `done` once (flash()); a
    refusal is its one line, shown as plain text."""
    try:
        run()
    except BadInput as exc:
        st.error(markdown_escape(str(exc)))
        return
    st.session_state[_FLASH] = done
    st.rerun()


def flash() -> None:
    """Show what the last write did, once."""
    done = st.session_state.pop(_FLASH, None)
    if done:
        st.success(markdown_escape(done))


def axis_title(metric: str) -> str:
    """A metric with its unit, for chart axes, e.g. 'mpjpe (mm)'."""
    info = METRICS.get(metric)
    return f"{metric} ({info.unit})" if info else metric


def column_config(frame: pd.DataFrame) -> dict:
    """Number format, direction help and widths of a leaderboard table's columns; the method column stays in view."""
    config: dict = {
        "rank": st.column_config.NumberColumn("rank", pinned=True, help="among the rows computed with the benchmark's protocol that have its headline value"),
        "method": st.column_config.TextColumn("method", pinned=True),
        "paper": st.column_config.TextColumn("paper"),
        "code": st.column_config.LinkColumn("code", display_text="code"),
        "baseline": st.column_config.CheckboxColumn("baseline", help="a PoseBench reference implementation"),
        "protocol_differs": st.column_config.TextColumn("protocol differs", width="large", help="the protocol fields that differ from the benchmark's or are unknown"),
        "unknown": st.column_config.TextColumn("unknown", width="large", help="what the source does not say"),
        "warnings": st.column_config.TextColumn("warnings", width="medium"),
    }
    for col in metric_columns(frame):
        better = "higher" if col.endswith("↑") else "lower"
        config[col] = st.column_config.NumberColumn(col, format="%.1f", help=f"{better} is better")
    return config


def show_table(frame: pd.DataFrame, key: str, **kwargs: object) -> None:
    """A table with blanks, never 'None', for missing values."""
    st.dataframe(frame, hide_index=True, column_config=column_config(frame), key=key, placeholder="", **kwargs)


def chart(build) -> None:  # noqa: ANN001 - a chart that fails shows a message, never breaks the page
    """Draw the Altair chart `build()` returns, or say why it is unavailable."""
    try:
        st.altair_chart(build(), width="stretch")
    except Exception as exc:
        st.info(f"chart unavailable: {exc}")


def bar_chart(frame: pd.DataFrame, group: str, metric: str) -> alt.Chart:
    """Bars of `metric` per `group`, worst first, the axis titled with the metric's unit."""
    return alt.Chart(frame).mark_bar().encode(x=alt.X(f"{group}:N", sort="-y"), y=alt.Y(f"{metric}:Q", title=axis_title(metric)), tooltip=[group, metric])

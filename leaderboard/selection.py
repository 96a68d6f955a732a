"""One view of a benchmark: which benchmark, data, aggregation and filters; shared by the page and `harness export`."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence

import pandas as pd
from sqlalchemy.engine import Engine

from harness.benchmarks import BENCHMARKS
from harness.errors import BadInput
from leaderboard.queries import benchmarks_with_rows, leaderboard_table

DATA: tuple[str, ...] = ("real", "demo")
# The page's filters: table column -> label. Each keeps the rows whose value is one of those chosen.
FILTERS: dict[str, str] = {"supervision": "Supervision", "input_2d": "2D input", "training_data": "Training data", "source": "Source"}


def known_benchmarks(engine: Engine) -> list[str]:
    """Every benchmark this harness defines, then any other that has stored rows."""
    return [*BENCHMARKS, *(b for b in benchmarks_with_rows(engine) if b not in BENCHMARKS)]


def check_benchmark(engine: Engine, benchmark: str) -> str:
    """`benchmark` if it is known; else a one-line BadInput naming the known ones (and the closest)."""
    known = known_benchmarks(engine)
    if benchmark in known:
        return benchmark
    close = difflib.get_close_matches(benchmark, known, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    raise BadInput(f"--benchmark: unknown benchmark '{benchmark}'; known: {', '.join(known)}{hint}")


def aggregations(benchmark: str) -> tuple[str, ...]:
    """The aggregations a benchmark stores, headline first (only the headline one for a benchmark this harness lacks)."""
    bench = BENCHMARKS.get(benchmark)
    return bench.aggregations if bench else ()


def check_aggregation(benchmark: str, aggregation: str | None) -> str | None:
    """`aggregation` if the benchmark has it (None: the headline one); else a one-line BadInput naming them."""
    if aggregation is None or aggregation in aggregations(benchmark):
        return aggregation
    raise BadInput(f"--aggregation: {benchmark} stores {', '.join(aggregations(benchmark)) or 'only its headline aggregation'}, not '{aggregation}'")


def filter_options(table: pd.DataFrame) -> dict[str, list[str]]:
    """The values each filter can take in `table`."""
    return {column: sorted(str(v) for v in table[column].dropna().unique() if str(v)) for column in FILTERS}


def apply_filters(table: pd.DataFrame, chosen: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """The rows whose value of each filtered column is one of the chosen values (an empty choice keeps all).
    The ranks stay those of the whole benchmark, so a filtered view never renumbers them."""
    for column, values in chosen.items():
        if column not in FILTERS:
            raise BadInput(f"filter '{column}': expected one of {', '.join(FILTERS)}")
        if values:
            table = table[table[column].astype(str).isin([str(v) for v in values])]
    return table


def table_view(engine: Engine, benchmark: str, data: str = "real", aggregation: str | None = None, filters: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """The leaderboard table of one benchmark as the page shows it with these choices, for `harness export`:
    one-line BadInput for an unknown benchmark, data or aggregation; an empty table (with its columns) when the
    benchmark has no rows."""
    check_benchmark(engine, benchmark)
    if data not in DATA:
        raise BadInput(f"--data: expected 'real' or 'demo', got '{data}'")
    table = leaderboard_table(engine, benchmark, data, check_aggregation(benchmark, aggregation))
    return apply_filters(table, filters or {})

"""Terminal output: rich tables of results, comparisons, benchmarks and datasets."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from harness.compare import Difference
from harness.results import ResultFile

ARROW = {True: "higher better", False: "lower better"}


def _fmt(value: float) -> str:
    return f"{value:.2f}"


def results_table(result: ResultFile, benchmark: str) -> Table:
    entries = [e for e in result.results if e.benchmark == benchmark]
    demo = any(e.demo for e in entries)
    title = f"{benchmark}{' [DEMO DATA]' if demo else ''}: {result.method.name or result.submission.file}"
    table = Table(title=title, title_justify="left")
    for col, justify in (("metric", "left"), ("aggregation", "left"), ("value", "right"), ("95% CI", "right"), ("unit", "left"), ("direction", "left"), ("frames", "right"), ("alignment", "left"), ("joints", "left")):
        table.add_column(col, justify=justify)
    for e in entries:
        ci = f"[{_fmt(e.ci95[0])}, {_fmt(e.ci95[1])}]" if e.ci95 else "-"
        table.add_row(e.metric, e.aggregation, _fmt(e.value), ci, e.unit, ARROW[e.higher_is_better], str(e.n_samples), e.alignment, e.joints)
    return table


def print_result(result: ResultFile, console: Console) -> None:
    for bench in dict.fromkeys(e.benchmark for e in result.results):
        console.print(results_table(result, bench))
        for note in result.missing.get(bench, []):
            console.print(f"  missing from the dataset copy: {note}")


def print_differences(diffs: list[Difference], labels: tuple[str, str], console: Console) -> None:
    table = Table(title=f"paired difference {labels[0]} - {labels[1]} (bootstrap over takes)", title_justify="left")
    for col in ("benchmark", "metric", "aggregation", labels[0], labels[1], "difference", "95% CI", "unit", "better"):
        table.add_column(col)
    for d in diffs:
        better_a = (d.diff > 0) == d.higher_is_better
        significant = not (d.ci95[0] <= 0.0 <= d.ci95[1])
        verdict = (labels[0] if better_a else labels[1]) if significant and d.diff != 0 else "no clear difference"
        table.add_row(d.benchmark, d.metric, d.aggregation, _fmt(d.a), _fmt(d.b), f"{d.diff:+.2f}", f"[{d.ci95[0]:+.2f}, {d.ci95[1]:+.2f}]", d.unit, verdict)
    console.print(table)

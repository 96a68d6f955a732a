"""Terminal output: rich tables of results, comparisons, benchmarks and datasets."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table

from harness.compare import Difference
from harness.config import DatasetsConfig
from harness.results import ResultFile
from harness.skeletons import JointSet
from harness.terminal import printable

ARROW = {True: "higher", False: "lower"}


def _fmt(value: float) -> str:
    return f"{value:.2f}"


def results_table(result: ResultFile, benchmark: str) -> Table:
    """One row per metric and aggregation (headline first); the protocol goes in the caption."""
    entries = [e for e in result.results if e.benchmark == benchmark]
    demo = " [DEMO DATA]" if any(e.demo for e in entries) else ""
    table = Table(title=printable(f"{benchmark}{demo}: {result.method.name or result.submission.file}"), title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for col, justify in (("metric", "left"), ("aggregation", "left"), ("value", "right"), ("95% CI", "right"), ("unit", "left"), ("better", "left")):
        table.add_column(col, justify=justify)
    for e in entries:
        ci = f"{_fmt(e.ci95[0])}-{_fmt(e.ci95[1])}" if e.ci95 else "-"
        table.add_row(e.metric, e.aggregation, _fmt(e.value), ci, e.unit, ARROW[e.higher_is_better])
    first = next((e for e in entries if not e.joints.startswith("pck")), entries[0])
    table.caption = f"{first.frames}; {first.n_samples} samples; joints {first.joints}; root {first.root}; GT {first.gt}"
    table.caption_justify = "left"
    return table


def print_result(result: ResultFile, console: Console) -> None:
    for bench in dict.fromkeys(e.benchmark for e in result.results):
        console.print(results_table(result, bench))
        for note in result.missing.get(bench, []):
            console.print(f"  missing from the dataset copy: {note}")
        if result.notes.get(bench):
            console.print(f"  {'; '.join(result.notes[bench])}")
        for warning in (w for w in result.warnings if w.benchmark == bench):
            console.print(f"  warning: {warning.message}")


def print_differences(diffs: list[Difference], labels: tuple[str, str], console: Console) -> None:
    labels = (printable(labels[0]), printable(labels[1]))
    for bench in dict.fromkeys(d.benchmark for d in diffs):
        demo = " [DEMO DATA]" if any(d.demo for d in diffs if d.benchmark == bench) else ""
        title = f"{bench}{demo}: paired difference {labels[0]} - {labels[1]}, bootstrap over takes"
        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
        for col, justify in (("metric", "left"), ("aggregation", "left"), (labels[0], "right"), (labels[1], "right"), ("A - B", "right"), ("95% CI", "right"), ("better", "left")):
            table.add_column(col, justify=justify)
        for d in (d for d in diffs if d.benchmark == bench):
            better_a = (d.diff > 0) == d.higher_is_better
            significant = d.diff != 0 and not (d.ci95[0] <= 0.0 <= d.ci95[1])
            verdict = (labels[0] if better_a else labels[1]) if significant else "unclear"
            table.add_row(d.metric, d.aggregation, _fmt(d.a), _fmt(d.b), f"{d.diff:+.2f}", f"{d.ci95[0]:+.2f}..{d.ci95[1]:+.2f}", verdict)
        console.print(table)


def benchmarks_text() -> list[str]:
    """`harness list benchmarks`: each benchmark's protocol, four lines each."""
    from harness.benchmarks import BENCHMARKS

    lines = []
    for b in BENCHMARKS.values():
        pck = [m for m in b.metrics if m in ("pck", "auc")]
        scored = b.eval_joint_set or b.joint_set
        joints = f"joints {scored}" + (f" (from {b.joint_set})" if b.eval_joint_set else "") + f", root {b.root}"
        if pck:
            joints += f", {'/'.join(m.upper() for m in pck)} on {len(b.pck_joint_names)} joints: {', '.join(b.pck_joint_names)}"
        lines += [
            f"{b.id}{' [paper-protocol emulation, never ranked]' if b.emulation else ''}: {b.description}",
            f"  dataset {b.dataset} ({b.split}); frames: {b.frames}",
            f"  {joints}; GT {b.gt}",
            f"  metrics (headline first): {', '.join(b.metrics)}; aggregations: {', '.join(b.aggregations)}",
        ]
    return lines


def datasets_table(config: DatasetsConfig) -> Table:
    """`harness list datasets`: each configured dataset, its files and 2D sources, and whether it can be loaded."""
    from harness.datasets import availability

    table = Table("name", "format", "path", "available", "2D sources", title=f"datasets ({config.file})", title_justify="left")
    for name, entry in config.datasets.items():
        present = entry.present_inputs_2d()
        sources = ", ".join(s if s in present else f"{s} (missing)" for s in entry.sources_2d())
        table.add_row(name, entry.format, str(entry.path), availability(entry), sources)
    return table


def joints_table(js: JointSet) -> Table:
    """`harness list joints`: index, name, the dataset's own label and parent of every joint of a set."""
    table = Table("index", "name", "dataset label", "parent", title=f"{js.name}: {len(js)} joints, root {js.names[js.root]}", title_justify="left", box=box.SIMPLE_HEAD)
    for k, name in enumerate(js.names):
        parent = js.parents[k]
        table.add_row(str(k), name, js.labels[k] if js.labels else name, js.names[parent] if parent >= 0 else "-")
    return table

"""Paired comparison of two result files scored on the same frames."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.errors import BadInput
from harness.results import ResultFile, TakeSums
from harness.stats import aggregate, bootstrap_ci


@dataclass
class Difference:
    """value(A) - value(B) for one benchmark, metric and aggregation, with a paired bootstrap interval."""

    benchmark: str
    metric: str
    aggregation: str
    a: float
    b: float
    diff: float
    ci95: tuple[float, float]
    unit: str
    higher_is_better: bool
    n_takes: int
    demo: bool


def take_difference(a: TakeSums, b: TakeSums, metric: str, grouped: bool) -> tuple[float, tuple[float, float]]:
    """A - B for one metric on the same takes, pooled or as the mean of group means, with its paired interval."""
    d = np.asarray(a.sums[metric]) - np.asarray(b.sums[metric])
    counts = np.asarray(a.counts[metric])
    groups = np.asarray(a.group) if grouped else None
    return aggregate(d, counts, groups), bootstrap_ci(d, counts, groups)


def _check_same_frames(bench: str, a: ResultFile, b: ResultFile, labels: tuple[str, str]) -> None:
    ta, tb = a.per_take[bench], b.per_take[bench]
    demo_a = {e.demo for e in a.results if e.benchmark == bench}
    demo_b = {e.demo for e in b.results if e.benchmark == bench}
    if a.submission.dataset != b.submission.dataset or demo_a != demo_b:
        raise BadInput(f"{labels[0]} and {labels[1]}: benchmark {bench} was scored on different data (dataset or demo flag differ)")
    if ta.take != tb.take or ta.group != tb.group:
        raise BadInput(f"{labels[0]} and {labels[1]}: benchmark {bench} was scored on different takes; a paired comparison needs the same frames")


def paired_differences(a: ResultFile, b: ResultFile, labels: tuple[str, str] = ("A", "B")) -> list[Difference]:
    """Differences on every benchmark both files scored; the takes and frame counts must be identical."""
    common = [bench for bench in a.per_take if bench in b.per_take]
    if not common:
        raise BadInput(f"{labels[0]} and {labels[1]} share no benchmark with per-take data (scored by different benchmarks?)")
    out = []
    for bench in common:
        _check_same_frames(bench, a, b, labels)
        ta, tb = a.per_take[bench], b.per_take[bench]
        for entry in (e for e in a.results if e.benchmark == bench):
            try:
                other = b.entry(bench, entry.metric, entry.aggregation)
            except KeyError:
                raise BadInput(f"{labels[1]}: no {bench} {entry.metric} {entry.aggregation} result to pair with {labels[0]}'s") from None
            if entry.metric not in ta.sums or entry.metric not in tb.sums:
                raise BadInput(f"{labels[0]} and {labels[1]}: per-take sums of {bench} {entry.metric} missing from one of them")
            if ta.counts[entry.metric] != tb.counts[entry.metric]:
                raise BadInput(f"{labels[0]} and {labels[1]}: benchmark {bench} metric {entry.metric} counts differ per take; not the same frames")
            diff, ci = take_difference(ta, tb, entry.metric, grouped=entry.aggregation != "frame-mean")
            out.append(
                Difference(
                    benchmark=bench, metric=entry.metric, aggregation=entry.aggregation, a=entry.value, b=other.value,
                    diff=diff, ci95=ci, unit=entry.unit,
                    higher_is_better=entry.higher_is_better, n_takes=len(ta.take), demo=entry.demo,
                )
            )
    return out


def caveats(a: ResultFile, b: ResultFile, labels: tuple[str, str] = ("A", "B")) -> list[str]:
    """What differs between the two runs besides the predictions: 2D input, ground-truth variant, harness version."""
    out = []
    ia, ib = a.method.input_2d or "not stated", b.method.input_2d or "not stated"
    if ia != ib:
        out.append(f"the 2D inputs differ ({labels[0]}: {ia}, {labels[1]}: {ib}): the difference mixes the methods with their inputs")
    gts = {(e.benchmark, e.gt) for e in a.results} ^ {(e.benchmark, e.gt) for e in b.results}
    for bench in sorted({bench for bench, _ in gts} & set(a.per_take) & set(b.per_take)):
        ga = {e.gt for e in a.results if e.benchmark == bench}
        gb = {e.gt for e in b.results if e.benchmark == bench}
        out.append(f"{bench} was scored against different ground truth ({labels[0]}: {', '.join(sorted(ga))}, {labels[1]}: {', '.join(sorted(gb))})")
    if a.harness_version != b.harness_version:
        out.append(f"scored by different harness versions ({labels[0]}: {a.harness_version}, {labels[1]}: {b.harness_version})")
    return out

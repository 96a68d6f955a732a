"""Aggregations, breakdowns and confidence intervals on hand-built test sets with known errors."""

import numpy as np
import pandas as pd
import pytest

from harness.benchmarks import BENCHMARKS, score
from harness.compare import paired_differences
from harness.datasets.base import TestSet
from harness.results import MethodInfo, ResultFile, SubmissionInfo
from harness.stats import aggregate, bootstrap_ci

BENCH = BENCHMARKS["h36m"]


def hand_set(takes: list[tuple[str, str, int]]) -> TestSet:
    """One camera per take, a fixed upright pose; takes are (subject, action, frames)."""
    rows, start = [], 0
    for subject, action, n in takes:
        rows.append((f"{subject}/{action}/cam", subject, action, action, "cam", f"{subject}/{action}", start, n))
        start += n
    seq = pd.DataFrame(rows, columns=["name", "subject", "action_key", "action", "camera", "take", "start", "length"])
    base = np.random.default_rng(0).normal(size=(17, 3)) * 200.0
    base[0] = 0.0
    gt = np.broadcast_to(base + [0.0, 0.0, 4000.0], (start, 17, 3)).copy()
    ids = np.array([f"{s}/{a}/cam/{i:06d}" for s, a, n in takes for i in range(n)])
    return TestSet("h36m", "test", "h36m17", 0, ids, gt, seq, 50.0)


def offset_joint(test: TestSet, errors_by_action: dict[str, float]) -> np.ndarray:
    """Prediction whose right wrist (joint 16) is off by the given distance per action."""
    pred = test.gt3d.copy()
    for _, row in test.sequences.iterrows():
        pred[row["start"] : row["start"] + row["length"], 16, 0] += errors_by_action[row["action"]]
    return pred


def test_action_mean_and_frame_mean_by_hand():
    test = hand_set([("S9", "Walking", 30), ("S11", "Walking", 30), ("S9", "Eating", 10), ("S11", "Eating", 10)])
    out = score(BENCH, test, offset_joint(test, {"Walking": 17.0, "Eating": 51.0}))
    value = {(e.metric, e.aggregation): e.value for e in out.results}
    # One joint of 17 off by d: MPJPE d/17 per frame. Walking 1 mm, Eating 3 mm.
    assert value[("mpjpe", "action-mean")] == pytest.approx((1.0 + 3.0) / 2)
    assert value[("mpjpe", "frame-mean")] == pytest.approx((60 * 1.0 + 20 * 3.0) / 80)
    assert out.breakdown.per_action["Eating"]["mpjpe"] == pytest.approx(3.0)
    assert out.breakdown.per_joint["RWrist"]["mpjpe"] == pytest.approx((60 * 17.0 + 20 * 51.0) / 80)
    assert out.breakdown.per_joint["LWrist"]["mpjpe"] == 0.0
    assert value[("pck", "frame-mean")] == pytest.approx(100.0)  # 17 and 51 mm are both below 150
    # MPJVE: a constant offset has zero velocity error; the first frame of each sequence has none.
    assert value[("mpjve", "frame-mean")] == pytest.approx(0.0)
    mpjve = next(e for e in out.results if e.metric == "mpjve")
    assert mpjve.n_samples == 80 - 4


def test_every_result_carries_its_protocol():
    test = hand_set([("S9", "Walking", 5), ("S11", "Walking", 5)])
    for e in score(BENCH, test, test.gt3d).results:
        assert (e.benchmark, e.dataset, e.split, e.root, e.gt) == ("h36m", "h36m", "test", "pelvis", "positions_3d")
        assert e.frames == BENCH.frames and e.alignment and e.unit in ("mm", "mm/frame", "mm/frame^2", "%")
        assert e.joints == ("pck14" if e.metric in ("pck", "auc") else "h36m17")


def test_bootstrap_interval_is_seeded_and_sane():
    rng = np.random.default_rng(3)
    sums, counts = rng.uniform(10, 50, 40) * 100, np.full(40, 100)
    groups = np.repeat(np.array(["a", "b", "c", "d"]), 10)
    for g in (None, groups):
        lo, hi = bootstrap_ci(sums, counts, g)
        assert lo < aggregate(sums, counts, g) < hi
        assert (lo, hi) == bootstrap_ci(sums, counts, g)
    assert bootstrap_ci(np.full(10, 300.0), np.full(10, 10), None) == pytest.approx((30.0, 30.0))
    # More takes, narrower interval.
    lo1, hi1 = bootstrap_ci(sums[:10], counts[:10], None)
    lo2, hi2 = bootstrap_ci(np.tile(sums[:10], 10), np.tile(counts[:10], 10), None)
    assert hi2 - lo2 < 0.5 * (hi1 - lo1)


def test_aggregate_weights_frames_or_groups():
    sums, counts = np.array([10.0, 90.0]), np.array([10, 30])
    assert aggregate(sums, counts, None) == pytest.approx(100 / 40)
    assert aggregate(sums, counts, np.array(["x", "y"])) == pytest.approx((1.0 + 3.0) / 2)


def _result(test: TestSet, pred: np.ndarray) -> ResultFile:
    out = score(BENCH, test, pred)
    return ResultFile(
        created_at="now", submission=SubmissionInfo(file="f", sha256="0", n_samples=len(test), dataset="h36m", units="mm", joint_set="h36m17"),
        method=MethodInfo(), results=out.results, per_take={"h36m": out.per_take},
    )


def test_paired_difference_equals_the_difference_and_detects_a_real_gap():
    test = hand_set([(s, a, 20) for s in ("S9", "S11") for a in ("Walking", "Eating", "Sitting")])
    rng = np.random.default_rng(5)
    noise = rng.normal(0, 10, test.gt3d.shape)
    a, b = _result(test, test.gt3d + noise), _result(test, test.gt3d + 2 * noise)
    diffs = {(d.metric, d.aggregation): d for d in paired_differences(a, b)}
    d = diffs[("mpjpe", "action-mean")]
    assert d.diff == pytest.approx(a.entry("h36m", "mpjpe", "action-mean").value - b.entry("h36m", "mpjpe", "action-mean").value)
    assert d.ci95[1] < 0  # A is clearly better
    same = paired_differences(a, a)
    assert all(x.diff == 0 and x.ci95 == (0.0, 0.0) for x in same)


def test_takes_without_frames_never_drop_their_action_from_the_interval():
    # Action B's only informative take has value 500; a zero-count take beside it must not empty the stratum.
    sums, counts, groups = np.array([10.0, 12.0, 0.0, 500.0]), np.array([1, 1, 0, 1]), np.array(list("AABB"))
    value = aggregate(sums, counts, groups)
    lo, hi = bootstrap_ci(sums, counts, groups)
    assert value == pytest.approx(255.5) and lo <= value <= hi

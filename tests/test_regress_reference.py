"""baselines/reference.yaml: its entries parse, name real baselines, stages and benchmarks, and the verdicts
`harness regress` checks mean what they say (fast: no training; the slow tier trains the pinned runs)."""

from __future__ import annotations

import pytest

from baselines.registry import module
from baselines.regress import Pinned, judged, load_reference
from harness.benchmarks import BENCHMARKS
from harness.errors import BadInput


def test_every_entry_names_a_baseline_its_stages_and_known_benchmarks():
    reference = load_reference()
    assert {"ites", "posenet3d", "nlrd"} <= set(reference)
    for name, pinned in reference.items():
        stages = set(module(pinned.baseline).STAGES) | {f"{s}-stage{i}" for s in ("teacher", "student") for i in (1, 2)}
        assert set(pinned.scored()) <= stages, name
        assert all(b in BENCHMARKS for benches in pinned.scored().values() for b in benches), name


def verdict_entry(ratio: float) -> Pinned:
    return Pinned.model_validate({
        "baseline": "nlrd", "config": "demo",
        "expected": {"source": {"h36m": {"mpjpe": {"value": 100.0, "tolerance": 5}}}},
        "verdicts": [{"says": "adaptation helps", "stage": "adapted", "than": "source", "benchmark": "h36m-kundu", "metric": "p_mpjpe", "ratio": ratio}],
    })


def test_a_verdict_compares_two_stages_on_one_metric():
    measured = {"source": {"h36m": {"mpjpe": 101.0}, "h36m-kundu": {"p_mpjpe": 80.0}}, "adapted": {"h36m-kundu": {"p_mpjpe": 78.0}}}
    assert verdict_entry(1.0).scored() == {"source": {"h36m", "h36m-kundu"}, "adapted": {"h36m-kundu"}}
    (holds,) = judged(verdict_entry(1.0), measured)
    assert holds.ok and (holds.value, holds.than) == (78.0, 80.0)
    (fails,) = judged(verdict_entry(0.95), measured)  # adapted must be 5% better: 78 > 76
    assert not fails.ok
    measured["adapted"]["h36m-kundu"]["p_mpjpe"] = 80.0
    assert judged(verdict_entry(1.0), measured)[0].ok  # a tie is within a ratio of 1


def test_a_bad_verdict_is_one_line(tmp_path):
    ref = tmp_path / "reference.yaml"
    ref.write_text("nlrd:\n  config: demo\n  expected: {}\n  verdicts: [{says: x, stage: adapted, than: source, benchmark: h36m, metric: mpjpe, ratio: 0}]\n")
    with pytest.raises(BadInput, match="ratio"):
        load_reference(ref)

"""Paper-protocol emulations differ from the standard metrics in the documented direction on constructed cases."""

from __future__ import annotations

import numpy as np
import pytest

from harness.benchmarks import BENCHMARKS, default_benchmarks
from harness.emulations import ITES_PCK_EXCLUDED, ites_frame_metrics, kundu_frame_metrics, with_gt_bone_lengths
from harness.metrics import frame_metrics, mpjpe, p_mpjpe
from harness.skeletons import H36M17, PCK14_NAMES

RNG = np.random.default_rng(0)


def poses(n: int = 64) -> np.ndarray:
    """Non-planar, asymmetric random poses in camera space (mm), root (pelvis) first."""
    g = RNG.normal(scale=250.0, size=(n, 17, 3))
    return g + np.array([0.0, 0.0, 4500.0])


def depth_flipped(g: np.ndarray) -> np.ndarray:
    rr = g - g[:, :1]
    return rr * np.array([1.0, 1.0, -1.0]) + g[:, :1]


ALL = np.arange(17)
PCK14 = H36M17.subset(PCK14_NAMES)


def test_ites_flip_oracle_forgives_a_depth_flip_the_standard_metrics_punish():
    g = poses()
    p = depth_flipped(g)
    std = frame_metrics(p, g, 0, PCK14, np.zeros(len(g), bool))
    ites = ites_frame_metrics(p, g, 0, PCK14, np.zeros(len(g), bool))
    assert std.values["mpjpe"].mean() > 100 and std.values["p_mpjpe"].mean() > 50  # a mirror is not a rotation
    assert ites.values["mpjpe"].max() < 1e-6 and ites.values["p_mpjpe"].max() < 1e-6
    # The oracle never makes things worse than the prediction as given.
    q = g + RNG.normal(scale=30.0, size=g.shape)
    assert np.all(ites_frame_metrics(q, g, 0, PCK14, np.zeros(len(g), bool)).values["p_mpjpe"] <= p_mpjpe(q, g) + 1e-9)


def test_ites_mpjpe_removes_scale():
    g = poses()
    p = 0.5 * (g - g[:, :1]) + g[:, :1]
    ites = ites_frame_metrics(p, g, 0, PCK14, np.zeros(len(g), bool))
    assert mpjpe(p, g).mean() > 50 and ites.values["mpjpe"].max() < 1e-6


def test_ites_pck_takes_the_flip_minimum_per_joint():
    g = poses(32)
    p = g.copy()
    rr = g - g[:, :1]
    half = ALL[ALL % 2 == 1]
    p[:, half] = (rr[:, half] * np.array([1.0, 1.0, -1.0])) + g[:, :1, :]  # odd joints depth-mirrored
    joints = H36M17.subset([n for n in H36M17.names if n not in ITES_PCK_EXCLUDED])
    ites = ites_frame_metrics(p, g, 0, joints, np.zeros(len(g), bool))
    std = frame_metrics(p, g, 0, joints, np.zeros(len(g), bool))
    assert ites.values["pck"].min() == 100.0 and ites.values["auc"].min() == pytest.approx(100 * 30 / 31)
    assert std.values["pck"].mean() < 90  # mirrored joints about 250 mm deep are mostly misses


def test_kundu_rule_forgives_wrong_bone_lengths_only():
    g = poses()
    rr = g - g[:, :1]
    # Same bone directions, every bone 30% longer below the knees and elbows: a proportions error.
    p = with_gt_bone_lengths(g, g, "h36m17")
    np.testing.assert_allclose(p, g, atol=1e-9)  # GT lengths on GT directions give the GT back
    longer = g.copy()
    for j in (3, 6, 13, 16):  # ankles and wrists
        parent = H36M17.parents[j]
        longer[:, j] = longer[:, parent] + 1.3 * (g[:, j] - g[:, parent])
    kundu = kundu_frame_metrics(longer, g, 0, PCK14, np.zeros(len(g), bool))
    assert p_mpjpe(longer, g).mean() > 5 and kundu.values["p_mpjpe"].max() < 1e-6
    # Wrong directions are not forgiven.
    bent = g + RNG.normal(scale=40.0, size=g.shape)
    assert kundu_frame_metrics(bent, g, 0, PCK14, np.zeros(len(g), bool)).values["p_mpjpe"].mean() > 10
    assert rr.shape == g.shape


def test_emulations_are_labelled_and_never_defaults():
    assert [b.id for b in default_benchmarks("h36m")] == ["h36m"]
    for bid in ("h36m-ites", "h36m-kundu"):
        bench = BENCHMARKS[bid]
        assert bench.emulation and "emulation" in bench.description
        assert all("oracle" in a or "gt-bone" in a for a in bench.alignments.values())

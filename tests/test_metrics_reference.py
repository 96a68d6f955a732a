"""Per-frame metrics on random data against independent re-derivations (`tests.metric_refs`): P-MPJPE vs the
per-frame SVD, mirrors not absorbed, the RMS ordering of the fits, translation independence and float64 output
for float32 and float64 inputs.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness.metrics import (
    FRAME_METRICS,
    accel_error,
    auc,
    frame_metrics,
    joint_errors,
    mpjpe,
    mpjve,
    n_mpjpe,
    p_mpjpe,
    p_mpjpe_joint_errors,
    pck,
)
from tests.metric_refs import ref_joint_errors, ref_n_mpjpe, ref_p_mpjpe
from tests.pose_helpers import random_poses, similarity
from tests.reference import random_rotations


# ---------------------------------------------------------------------------------------------------------
# Independent derivations on random data
# ---------------------------------------------------------------------------------------------------------


def test_p_mpjpe_matches_svd_reference():
    rng = np.random.default_rng(42)
    gt = random_poses(rng, 300, 17)
    pred = similarity(gt, random_rotations(rng, 300), 0.8, rng.normal(scale=500, size=(300, 1, 3)))
    pred = pred + rng.normal(scale=60.0, size=pred.shape)
    pred[::3] = rng.normal(scale=300, size=pred[::3].shape)  # unrelated predictions
    pred[1::5] *= np.array([1.0, -1.0, 1.0])  # mirrored ones
    np.testing.assert_allclose(p_mpjpe(pred, gt), ref_p_mpjpe(pred, gt), rtol=0, atol=1e-6)


def test_p_mpjpe_few_joints_matches_reference():
    rng = np.random.default_rng(3)
    for j in (3, 4, 5):
        gt = random_poses(rng, 100, j)
        pred = rng.normal(scale=300, size=gt.shape)
        np.testing.assert_allclose(p_mpjpe(pred, gt), ref_p_mpjpe(pred, gt), rtol=0, atol=1e-6)


def test_p_mpjpe_similarity_of_gt_is_zero():
    rng = np.random.default_rng(7)
    gt = random_poses(rng, 200, 17)
    pred = similarity(gt, random_rotations(rng, 200), rng.uniform(0.1, 10.0, size=(200, 1, 1)),
                      rng.normal(scale=3000, size=(200, 1, 3)))
    assert np.all(p_mpjpe(pred, gt) < 1e-6)


def test_mirrored_gt_is_not_absorbed():
    rng = np.random.default_rng(8)
    gt = random_poses(rng, 50, 17)
    mirrored = gt * np.array([-1.0, 1.0, 1.0])
    out = p_mpjpe(mirrored, gt)
    np.testing.assert_allclose(out, ref_p_mpjpe(mirrored, gt), rtol=0, atol=1e-6)
    assert np.all(out > 10.0)  # ~300 mm spread; allowing reflections would give 0
    # the reference's det-sign fix is what makes the difference: without it the mirror aligns perfectly
    p0, g0 = mirrored[0] - mirrored[0].mean(0), gt[0] - gt[0].mean(0)
    u, s, vt = np.linalg.svd(p0.T @ g0)
    r_improper = vt.T @ u.T
    assert np.linalg.det(r_improper) < 0
    np.testing.assert_allclose(s.sum() / (p0**2).sum() * p0 @ r_improper.T, g0, atol=1e-8)


def test_rms_errors_are_ordered():
    """Sum-of-squares optimality: similarity fit <= scale fit <= no fit, so the RMS errors are ordered."""
    rng = np.random.default_rng(9)
    gt = random_poses(rng, 200, 17)
    pred = gt * rng.uniform(0.5, 1.5) + rng.normal(scale=80.0, size=gt.shape)
    raw = joint_errors(pred, gt)
    pa = p_mpjpe_joint_errors(pred, gt)
    # scale-only errors written out here (least-squares scale on root-centred poses)
    p, g = pred - pred[:, :1], gt - gt[:, :1]
    s = (p * g).sum(axis=(1, 2)) / (p * p).sum(axis=(1, 2))
    nrm = np.linalg.norm(s[:, None, None] * p - g, axis=-1)
    rms = lambda e: np.sqrt((e**2).mean(axis=1))  # noqa: E731
    assert np.all(rms(pa) <= rms(nrm) + 1e-9)
    assert np.all(rms(nrm) <= rms(raw) + 1e-9)
    # the public means are bounded by the RMS of the worse fits (mean <= RMS)
    assert np.all(p_mpjpe(pred, gt) <= rms(nrm) + 1e-9)
    assert np.all(n_mpjpe(pred, gt) <= rms(raw) + 1e-9)
    np.testing.assert_allclose(n_mpjpe(pred, gt), nrm.mean(axis=1), rtol=1e-12)


def test_p_mpjpe_is_independent_of_where_the_poses_are():
    rng = np.random.default_rng(10)
    gt = random_poses(rng, 40, 17)
    pred = gt + rng.normal(scale=50.0, size=gt.shape)
    base = p_mpjpe(pred, gt)
    shift = np.array([1e4, -3e3, 5e3])
    np.testing.assert_allclose(p_mpjpe(pred + shift, gt + shift), base, rtol=1e-9)
    np.testing.assert_allclose(p_mpjpe(pred - pred[:, :1], gt - gt[:, :1]), base, rtol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtypes_give_float64(dtype):
    rng = np.random.default_rng(12)
    gt64 = random_poses(rng, 20, 17)
    pred64 = gt64 + rng.normal(scale=50.0, size=gt64.shape)
    gt, pred = gt64.astype(dtype), pred64.astype(dtype)
    start = np.zeros(20, bool)
    outs = {
        "joint_errors": joint_errors(pred, gt),
        "mpjpe": mpjpe(pred, gt),
        "n_mpjpe": n_mpjpe(pred, gt),
        "p_mpjpe": p_mpjpe(pred, gt),
        "p_mpjpe_joint_errors": p_mpjpe_joint_errors(pred, gt),
        "mpjve": mpjve(pred, gt, start),
        "accel": accel_error(pred, gt, start),
        "pck": pck(joint_errors(pred, gt).astype(dtype)),
        "auc": auc(joint_errors(pred, gt).astype(dtype)),
    }
    for name, out in outs.items():
        assert out.dtype == np.float64, name
    # the float32 inputs are the float64 ones rounded: results agree to float32 input precision
    # (positions ~2000 mm carry ~1e-4 mm of rounding)
    gt_r, pred_r = gt.astype(np.float64), pred.astype(np.float64)
    np.testing.assert_allclose(outs["mpjpe"], ref_joint_errors(pred_r, gt_r).mean(1), rtol=1e-12)
    np.testing.assert_allclose(outs["p_mpjpe"], ref_p_mpjpe(pred_r, gt_r), atol=1e-6)
    np.testing.assert_allclose(outs["n_mpjpe"], ref_n_mpjpe(pred_r, gt_r), rtol=1e-12)
    fm = frame_metrics(pred, gt, 0, np.arange(17), start, chunk=7)
    for m in FRAME_METRICS:
        assert fm.values[m].dtype == np.float64, m


# ---------------------------------------------------------------------------------------------------------
# Hypothesis: invariances

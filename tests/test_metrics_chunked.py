"""frame_metrics, the chunked evaluator: per-frame values, per-joint sums and the PCK curve equal the
individual metric functions and the independent references for any chunk size, with sequence starts and chunk
boundaries handled apart; p_mpjpe_joint_errors chunking.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness.metrics import (
    AUC_THRESHOLDS_MM,
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
from tests.metric_refs import ref_joint_errors, ref_n_mpjpe, ref_p_mpjpe, ref_pck_curve
from tests.pose_helpers import random_poses
from tests.reference import ref_align

# ---------------------------------------------------------------------------------------------------------
# frame_metrics: the chunked evaluator equals the individual functions
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chunk_data():
    rng = np.random.default_rng(2024)
    n, j = 1000, 17
    gt = random_poses(rng, n, j, spread=250.0)
    # a smooth-ish drift plus noise so errors span the PCK/AUC thresholds
    pred = gt + rng.normal(scale=70.0, size=gt.shape) + np.cumsum(rng.normal(scale=2.0, size=(n, 1, 3)), axis=0)
    pred[100:110] *= np.array([1.0, 1.0, -1.0])
    seq_start = np.zeros(n, dtype=bool)
    seq_start[[0, 5, 96, 97, 250, 383, 384, 500, 999]] = True
    root = 3
    pck_joints = np.array([1, 2, 4, 5, 6, 8, 9, 11, 13, 14, 15, 16])
    return pred, gt, seq_start, root, pck_joints


@pytest.mark.parametrize("chunk", [96, 1, 333, 4096])
def test_frame_metrics_equals_individual_functions(chunk_data, chunk):
    pred, gt, seq_start, root, pck_joints = chunk_data
    fm = frame_metrics(pred, gt, root, pck_joints, seq_start, chunk=chunk)
    assert fm.n_frames == 1000
    err = joint_errors(pred, gt, root=root)
    np.testing.assert_allclose(err, ref_joint_errors(pred, gt, root), rtol=1e-12)
    np.testing.assert_allclose(fm.values["mpjpe"], mpjpe(pred, gt, root=root), rtol=1e-12)
    np.testing.assert_allclose(fm.values["mpjpe"], err.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(fm.values["n_mpjpe"], n_mpjpe(pred, gt, root=root), rtol=1e-12)
    np.testing.assert_allclose(fm.values["n_mpjpe"], ref_n_mpjpe(pred, gt, root), rtol=1e-10)
    np.testing.assert_allclose(fm.values["p_mpjpe"], p_mpjpe(pred, gt), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(fm.values["p_mpjpe"], ref_p_mpjpe(pred, gt), rtol=0, atol=1e-6)
    np.testing.assert_allclose(fm.values["pck"], pck(err[:, pck_joints]), rtol=1e-12)
    np.testing.assert_allclose(fm.values["auc"], auc(err[:, pck_joints]), rtol=1e-12)
    ve = fm.values["mpjve"]
    np.testing.assert_allclose(ve, mpjve(pred, gt, seq_start, root=root), rtol=1e-12, equal_nan=True)
    # NaN exactly on sequence starts; finite across chunk boundaries that are not starts
    np.testing.assert_array_equal(np.isnan(ve), seq_start)
    # independent velocity error on frames that follow a chunk boundary
    rel = (pred - pred[:, root : root + 1]) - (gt - gt[:, root : root + 1])
    ref_ve = np.linalg.norm(rel[1:] - rel[:-1], axis=-1).mean(axis=1)
    ok = ~seq_start[1:]
    np.testing.assert_allclose(ve[1:][ok], ref_ve[ok], rtol=1e-10)
    # acceleration error: NaN on a sequence's first two frames, the independent second difference elsewhere
    acc = fm.values["accel"]
    np.testing.assert_allclose(acc, accel_error(pred, gt, seq_start, root=root), rtol=1e-12, equal_nan=True)
    young = seq_start | np.r_[True, seq_start[:-1]]
    np.testing.assert_array_equal(np.isnan(acc), young)
    ref_acc = np.linalg.norm(rel[2:] - 2 * rel[1:-1] + rel[:-2], axis=-1).mean(axis=1)
    np.testing.assert_allclose(acc[2:][~young[2:]], ref_acc[~young[2:]], rtol=1e-10)
    # sanity: the errors do span the interesting range, so the PCK/AUC checks are not vacuous
    assert 0.0 < fm.values["pck"].mean() < 100.0
    assert len(set(np.round(fm.values["pck"], 6))) > 3


@pytest.mark.parametrize("chunk", [96, 1000])
def test_frame_metrics_sums_and_curve(chunk_data, chunk):
    pred, gt, seq_start, root, pck_joints = chunk_data
    fm = frame_metrics(pred, gt, root, pck_joints, seq_start, chunk=chunk)
    err = ref_joint_errors(pred, gt, root)
    np.testing.assert_allclose(fm.joint_error_sums["mpjpe"], err.sum(axis=0), rtol=1e-12)
    perr = np.stack([np.linalg.norm(ref_align(p[None], g[None])[0] - g, axis=-1) for p, g in zip(pred, gt)])
    np.testing.assert_allclose(fm.joint_error_sums["p_mpjpe"], perr.sum(axis=0), rtol=1e-9)
    np.testing.assert_allclose(fm.joint_error_sums["p_mpjpe"], p_mpjpe_joint_errors(pred, gt).sum(axis=0), rtol=1e-9)
    sel = err[:, pck_joints]
    assert fm.pck_curve.shape == (31,)
    np.testing.assert_allclose(fm.pck_curve, ref_pck_curve(sel, AUC_THRESHOLDS_MM), rtol=1e-12)
    assert fm.pck_curve[0] == 0.0
    assert np.all(np.diff(fm.pck_curve) >= 0)
    pooled_pck = 100.0 * np.mean(sel < 150.0)
    np.testing.assert_allclose(fm.pck_curve[-1], pooled_pck, rtol=1e-12)
    np.testing.assert_allclose(fm.pck_curve[-1], fm.values["pck"].mean(), rtol=1e-12)
    np.testing.assert_allclose(fm.pck_curve.mean(), fm.values["auc"].mean(), rtol=1e-12)
    np.testing.assert_allclose(fm.pck_curve.mean(), auc(sel).mean(), rtol=1e-12)


def test_frame_metrics_curve_counts_exact_threshold_errors():
    # errors landing exactly on thresholds: 1 frame, root 0 and 4 other joints along x at 0, 5, 150 mm, 7
    gt = np.zeros((1, 5, 3))
    pred = np.zeros((1, 5, 3))
    pred[0, 1:, 0] = [0.0, 5.0, 150.0, 7.0]
    fm = frame_metrics(pred, gt, 0, np.array([1, 2, 3, 4]), np.array([True]), chunk=4)
    counts = np.array([[t > e for t in AUC_THRESHOLDS_MM] for e in (0.0, 5.0, 150.0, 7.0)]).sum(axis=0)
    np.testing.assert_allclose(fm.pck_curve, 100.0 * counts / 4.0, rtol=1e-12)
    np.testing.assert_allclose(fm.values["pck"], [75.0])  # 150.0 misses
    np.testing.assert_allclose(fm.values["auc"], [100.0 * (30 + 29 + 0 + 29) / 4 / 31], rtol=1e-12)
    assert np.isnan(fm.values["mpjve"][0])


def test_frame_metrics_chunk_boundary_without_sequence_start():
    rng = np.random.default_rng(13)
    gt = random_poses(rng, 10, 4)
    pred = gt.copy()
    pred[:, 2] += np.arange(10)[:, None] * np.array([0.0, 3.0, 4.0])  # 5 mm/frame on one of 4 joints
    fm = frame_metrics(pred, gt, 0, np.arange(1, 4), np.array([True] + [False] * 9), chunk=3)
    assert np.isnan(fm.values["mpjve"][0])
    np.testing.assert_allclose(fm.values["mpjve"][1:], 1.25, rtol=1e-12)  # frames 3, 6, 9 open chunks


def test_p_mpjpe_joint_errors_chunking():
    rng = np.random.default_rng(14)
    gt = random_poses(rng, 50, 17)
    pred = gt + rng.normal(scale=60.0, size=gt.shape)
    ref = np.stack([np.linalg.norm(ref_align(p[None], g[None])[0] - g, axis=-1) for p, g in zip(pred, gt)])
    np.testing.assert_allclose(p_mpjpe_joint_errors(pred, gt), ref, rtol=0, atol=1e-6)
    np.testing.assert_allclose(p_mpjpe_joint_errors(pred, gt, chunk=7), ref, rtol=0, atol=1e-6)

"""Per-frame metrics: hand-computed tiny cases, independent references and invariance properties.

Every expected value below comes from a hand computation (shown in the comments) or from an independent
re-derivation written in this file (`ref_p_mpjpe`, `ref_n_mpjpe`, `ref_pck_curve`), never from running the
code under test.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from harness.metrics import (
    AUC_THRESHOLDS_MM,
    FRAME_METRICS,
    PCK_THRESHOLD_MM,
    auc,
    frame_metrics,
    joint_errors,
    mpjpe,
    mpjve,
    accel_error,
    n_mpjpe,
    p_mpjpe,
    p_mpjpe_joint_errors,
    pck,
)
from tests.reference import quat_to_matrix, random_rotations, ref_align

# ---------------------------------------------------------------------------------------------------------
# Independent references (plain per-frame loops, LAPACK SVD; nothing shared with harness.alignment)
# ---------------------------------------------------------------------------------------------------------


def ref_p_mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    return np.linalg.norm(ref_align(pred, gt) - np.asarray(gt, dtype=np.float64), axis=-1).mean(axis=1)


def ref_n_mpjpe(pred: np.ndarray, gt: np.ndarray, root: int = 0) -> np.ndarray:
    out = []
    for p, g in zip(pred, gt):
        p = p - p[root]
        g = g - g[root]
        s = (p * g).sum() / (p * p).sum() if (p * p).sum() > 0 else 0.0
        out.append(np.linalg.norm(s * p - g, axis=-1).mean())
    return np.array(out)


def ref_joint_errors(pred: np.ndarray, gt: np.ndarray, root: int = 0) -> np.ndarray:
    return np.linalg.norm((pred - pred[:, root : root + 1]) - (gt - gt[:, root : root + 1]), axis=-1)


def ref_pck_curve(err: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    return np.array([100.0 * np.mean(err < t) for t in thresholds])


def random_poses(rng: np.random.Generator, n: int, j: int, spread: float = 300.0) -> np.ndarray:
    """Random non-degenerate 3D poses in mm, placed somewhere in camera space."""
    return rng.normal(scale=spread, size=(n, j, 3)) + rng.normal(scale=2000.0, size=(n, 1, 3))


def similarity(poses: np.ndarray, r: np.ndarray, s: float, t: np.ndarray) -> np.ndarray:
    """s * R p + t for (N, J, 3) poses (R (3, 3) or (N, 3, 3))."""
    return s * np.einsum("...ik,...jk->...ji", r, poses) + t


# ---------------------------------------------------------------------------------------------------------
# Tiny hand-computed poses
# ---------------------------------------------------------------------------------------------------------

# 4 joints, not coplanar, root (joint 0) not at the origin.
TINY = np.array([[[100.0, 200.0, 300.0], [150.0, 200.0, 300.0], [100.0, 260.0, 300.0], [100.0, 200.0, 370.0]]])


def test_constants():
    assert PCK_THRESHOLD_MM == 150.0
    assert len(AUC_THRESHOLDS_MM) == 31
    np.testing.assert_array_equal(AUC_THRESHOLDS_MM, 5.0 * np.arange(31))
    assert set(FRAME_METRICS) == {"mpjpe", "p_mpjpe", "n_mpjpe", "mpjve", "accel", "pck", "auc"}


def test_mpjpe_rigid_offset_is_zero():
    pred = TINY + np.array([10.0, -20.0, 30.0])
    np.testing.assert_allclose(mpjpe(pred, TINY), [0.0], atol=1e-12)
    np.testing.assert_allclose(joint_errors(pred, TINY), np.zeros((1, 4)), atol=1e-12)


def test_mpjpe_one_joint_moved_3_4_0():
    pred = TINY.copy()
    pred[0, 2] += [3.0, 4.0, 0.0]  # |(3,4,0)| = 5 on one of 4 joints
    np.testing.assert_allclose(joint_errors(pred, TINY), [[0.0, 0.0, 5.0, 0.0]], atol=1e-12)
    np.testing.assert_allclose(mpjpe(pred, TINY), [5.0 / 4.0], rtol=1e-12)


def test_mpjpe_moving_the_root_moves_every_other_joint_after_centring():
    pred = TINY.copy()
    pred[0, 0] += [3.0, 4.0, 0.0]  # root-centring shifts joints 1..3 by -(3,4,0)
    np.testing.assert_allclose(joint_errors(pred, TINY), [[0.0, 5.0, 5.0, 5.0]], atol=1e-12)
    np.testing.assert_allclose(mpjpe(pred, TINY), [15.0 / 4.0], rtol=1e-12)


def test_mpjpe_root_index_other_than_zero():
    pred = TINY.copy()
    pred[0, 2] += [0.0, 6.0, 8.0]  # |.| = 10, joint 2 is now the root
    np.testing.assert_allclose(joint_errors(pred, TINY, root=2), [[10.0, 10.0, 0.0, 10.0]], atol=1e-12)
    np.testing.assert_allclose(mpjpe(pred, TINY, root=2), [30.0 / 4.0], rtol=1e-12)
    # with root 0 only joint 2 is off
    np.testing.assert_allclose(mpjpe(pred, TINY, root=0), [10.0 / 4.0], rtol=1e-12)
    # moving joint 0 when joint 3 is the root
    pred = TINY.copy()
    pred[0, 0] += [12.0, 0.0, -5.0]  # |.| = 13
    np.testing.assert_allclose(mpjpe(pred, TINY, root=3), [13.0 / 4.0], rtol=1e-12)


def test_mpjpe_several_frames_are_independent():
    gt = np.concatenate([TINY, TINY + 5.0, TINY - 7.0])
    pred = gt.copy()
    pred[1, 3] += [0.0, 0.0, 12.0]
    pred[2] += [1.0, 1.0, 1.0]  # rigid offset only
    pred[2, 1] += [2.0, -2.0, 1.0]  # |.| = 3
    np.testing.assert_allclose(mpjpe(pred, gt), [0.0, 3.0, 0.75], atol=1e-12)
    assert joint_errors(pred, gt).shape == (3, 4)


def test_mpjpe_two_joint_pose():
    gt = np.array([[[0.0, 0.0, 0.0], [0.0, 0.0, 100.0]]])
    pred = np.array([[[5.0, 5.0, 5.0], [5.0, 5.0 + 60.0, 5.0 + 20.0]]])  # rel (0, 60, 20) vs (0, 0, 100)
    # |(0, 60, -80)| = 100, root error 0 -> 50
    np.testing.assert_allclose(mpjpe(pred, gt), [50.0], rtol=1e-12)


def test_n_mpjpe_half_scale_prediction_is_zero():
    gt_rel = TINY - TINY[:, :1]
    pred = 0.5 * gt_rel + np.array([400.0, -30.0, 12.0])  # 0.5 x GT about the root, anywhere in space
    np.testing.assert_allclose(n_mpjpe(pred, TINY), [0.0], atol=1e-12)
    # plain MPJPE sees the halving: half of each root-relative bone length (50, 60, 70) -> mean 90/4... /2
    np.testing.assert_allclose(mpjpe(pred, TINY), [(25.0 + 30.0 + 35.0) / 4.0], rtol=1e-12)


def test_n_mpjpe_hand_computed_scale():
    # root-relative gt (0,0,0), (4,0,0), (0,2,0); pred (0,0,0), (2,0,0), (0,2,0)
    # s = <p,g>/<p,p> = (8 + 4) / (4 + 4) = 1.5 -> s p = (3,0,0), (0,3,0) -> errors 0, 1, 1
    gt = np.array([[[0.0, 0.0, 0.0], [4.0, 0.0, 0.0], [0.0, 2.0, 0.0]]]) + 10.0
    pred = np.array([[[0.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 2.0, 0.0]]]) - 3.0
    np.testing.assert_allclose(n_mpjpe(pred, gt), [2.0 / 3.0], rtol=1e-12)


def test_n_mpjpe_orthogonal_prediction_gets_scale_zero():
    # <p,g> = 0 -> s = 0 -> error = |g_j| for each joint: 0 and 10 -> 5
    gt = np.array([[[0.0, 0.0, 0.0], [10.0, 0.0, 0.0]]])
    pred = np.array([[[0.0, 0.0, 0.0], [0.0, 10.0, 0.0]]])
    np.testing.assert_allclose(n_mpjpe(pred, gt), [5.0], rtol=1e-12)


def test_n_mpjpe_zero_prediction_is_finite():
    # all joints at one point: root-centred prediction is 0; scale is irrelevant -> error = |g_j - g_root|
    pred = np.full_like(TINY, 42.0)
    out = n_mpjpe(pred, TINY)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, [(50.0 + 60.0 + 70.0) / 4.0], rtol=1e-12)


def test_n_mpjpe_least_squares_scale_may_be_negative():
    # the least-squares definition (Rhodin et al.) does not clamp the scale: -2 x GT is fitted by s = -1/2
    pred = -2.0 * (TINY - TINY[:, :1])
    np.testing.assert_allclose(n_mpjpe(pred, TINY), [0.0], atol=1e-12)


def test_n_mpjpe_root_index():
    gt_rel3 = TINY - TINY[:, 3:4]
    pred = 3.0 * gt_rel3 + 1.0
    np.testing.assert_allclose(n_mpjpe(pred, TINY, root=3), [0.0], atol=1e-12)
    rng = np.random.default_rng(11)
    gt = random_poses(rng, 20, 6)
    pr = gt + rng.normal(scale=40.0, size=gt.shape)
    for root in (0, 2, 5):
        np.testing.assert_allclose(n_mpjpe(pr, gt, root=root), ref_n_mpjpe(pr, gt, root), rtol=1e-12)


def test_p_mpjpe_rigid_and_similarity_of_tiny_pose_is_zero():
    r = quat_to_matrix([0.3, -0.2, 0.9, 0.1])
    pred = similarity(TINY, r, 0.37, np.array([1000.0, -50.0, 3.0]))
    np.testing.assert_allclose(p_mpjpe(pred, TINY), [0.0], atol=1e-9)


def test_p_mpjpe_hand_computed_anisotropic_stretch():
    # octahedron gt (+-1 on each axis) x 100 mm; pred stretches z by 2.
    # centroids 0, H = sum p g^T = diag(2, 2, 4) x 100^2 -> R = I, s = (1 + 1 + 2) / (1 + 1 + 4) = 2/3
    # aligned x,y joints at 2/3 (error 1/3), z joints at 4/3 (error 1/3) -> P-MPJPE = 100/3 mm
    octa = 100.0 * np.concatenate([np.eye(3), -np.eye(3)])[None]
    pred = octa * np.array([1.0, 1.0, 2.0])
    np.testing.assert_allclose(p_mpjpe(pred, octa), [100.0 / 3.0], rtol=1e-12)
    np.testing.assert_allclose(p_mpjpe_joint_errors(pred, octa), np.full((1, 6), 100.0 / 3.0), rtol=1e-12)


def test_p_mpjpe_hand_computed_mirror_is_not_absorbed():
    # gt: +-(1,0,0), +-(0,2,0), +-(0,0,3); pred = gt mirrored in z (z joints swap places).
    # H = diag(2, 8, -18): det < 0, best proper rotation R = diag(-1, 1, -1), trace(R^T H) = 18 + 8 - 2 = 24,
    # s = 24 / (2 * (1 + 4 + 9)) = 6/7, aligned = 6/7 * diag(-1, 1, 1) gt.
    # errors: x joints 1 + 6/7 = 13/7, y joints 2 - 12/7 = 2/7, z joints 3 - 18/7 = 3/7; mean = 18/21 = 6/7.
    g = np.concatenate([np.diag([1.0, 2.0, 3.0]), -np.diag([1.0, 2.0, 3.0])])[None] * 10.0
    pred = g * np.array([1.0, 1.0, -1.0])
    expected = np.array([13.0, 2.0, 3.0, 13.0, 2.0, 3.0]) / 7.0 * 10.0
    np.testing.assert_allclose(p_mpjpe_joint_errors(pred, g), expected[None], rtol=1e-12)
    np.testing.assert_allclose(p_mpjpe(pred, g), [60.0 / 7.0], rtol=1e-12)


def test_p_mpjpe_collinear_prediction_hand_computed():
    # gt: (+-1, 0, 0), (0, +-1, 0) (planar cross), pred: (+-1,0,0) and two joints at the centroid.
    # H = diag(2, 0, 0) -> s = 2 / 2 = 1, the line is kept: errors 0, 0, 1, 1 -> 0.5 (x 10 mm)
    g = 10.0 * np.array([[[-1.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, -1, 0]]])
    pred = 10.0 * np.array([[[-1.0, 0, 0], [1, 0, 0], [0, 0, 0], [0, 0, 0]]]) + 7.0
    np.testing.assert_allclose(p_mpjpe(pred, g), [5.0], rtol=1e-12)


def test_pck_strictly_below_threshold():
    errors = np.array([[149.999, 150.0, 0.0, 200.0], [150.0, 150.0, 150.0, 150.0], [149.999] * 4])
    np.testing.assert_allclose(pck(errors), [50.0, 0.0, 100.0], rtol=1e-12)
    np.testing.assert_allclose(pck(errors, threshold=200.0), [75.0, 100.0, 100.0], rtol=1e-12)
    np.testing.assert_allclose(pck(np.array([[0.0, 49.9999, 50.0]]), threshold=50.0), [200.0 / 3.0])


def test_auc_hand_computed():
    # error e scores #(t in {0, 5, ..., 150} with e < t) / 31
    cases = {
        0.0: 30,  # every threshold but 0
        4.999: 30,
        5.0: 29,  # 5 itself does not count
        7.0: 29,
        75.0: 15,  # 80 ... 150
        149.999: 1,
        150.0: 0,
        151.0: 0,
        1e6: 0,
    }
    for e, count in cases.items():
        np.testing.assert_allclose(auc(np.full((2, 3), e)), [100.0 * count / 31] * 2, rtol=1e-12, err_msg=str(e))
    mixed = np.array([[0.0, 7.0, 150.0, 75.0]])
    np.testing.assert_allclose(auc(mixed), [100.0 * (30 + 29 + 0 + 15) / 4 / 31], rtol=1e-12)
    np.testing.assert_allclose(auc(np.zeros((1, 5))), [3000.0 / 31.0], rtol=1e-12)
    np.testing.assert_allclose(auc(np.full((1, 5), 7.0)), [2900.0 / 31.0], rtol=1e-12)


def test_auc_custom_thresholds():
    # thresholds 10, 20, 30: error 15 is below 20 and 30 -> 2/3
    np.testing.assert_allclose(auc(np.array([[15.0, 30.0]]), np.array([10.0, 20.0, 30.0])), [100.0 * (2 + 0) / 6])


def test_auc_is_mean_of_pck_over_thresholds():
    rng = np.random.default_rng(5)
    err = rng.uniform(0, 200, size=(50, 14))
    err[:, :3] = rng.choice(AUC_THRESHOLDS_MM, size=(50, 3))  # exact threshold values too
    expected = np.mean([pck(err, t) for t in AUC_THRESHOLDS_MM], axis=0)
    np.testing.assert_allclose(auc(err), expected, rtol=1e-12)


def test_mpjve_constant_velocity_drift():
    rng = np.random.default_rng(0)
    gt = random_poses(rng, 5, 3)
    pred = gt.copy()
    pred[:, 1] += np.arange(5)[:, None] * np.array([2.0, 3.0, 6.0])  # |v| = 7 mm/frame on joint 1 of 3
    seq_start = np.zeros(5, dtype=bool)
    out = mpjve(pred, gt, seq_start)
    assert np.isnan(out[0])
    np.testing.assert_allclose(out[1:], 7.0 / 3.0, rtol=1e-12)
    # a constant offset of a joint has no velocity error, though its MPJPE is large
    pred2 = gt.copy()
    pred2[:, 2] += [30.0, 40.0, 0.0]
    np.testing.assert_allclose(mpjve(pred2, gt, seq_start)[1:], 0.0, atol=1e-12)
    np.testing.assert_allclose(mpjpe(pred2, gt), 50.0 / 3.0, rtol=1e-12)


def test_mpjve_nan_at_sequence_starts_and_no_leak_across_them():
    rng = np.random.default_rng(1)
    gt = random_poses(rng, 7, 4)
    pred = gt.copy()
    # a different constant offset of joint 2 in each sequence: no velocity error within a sequence
    pred[:3, 2] += [100.0, 0.0, 0.0]
    pred[3:, 2] += [0.0, -250.0, 80.0]
    seq_start = np.array([True, False, False, True, False, False, False])
    out = mpjve(pred, gt, seq_start)
    assert np.isnan(out[[0, 3]]).all()
    np.testing.assert_allclose(out[[1, 2, 4, 5, 6]], 0.0, atol=1e-12)
    # without the start at frame 3 the jump shows: |(-100, -250, 80)| / 4 joints
    out2 = mpjve(pred, gt, np.array([True] + [False] * 6))
    np.testing.assert_allclose(out2[3], np.linalg.norm([-100.0, -250.0, 80.0]) / 4.0, rtol=1e-12)
    # frame 0 is always a start, marked or not
    assert np.isnan(mpjve(pred, gt, np.zeros(7, dtype=bool))[0])


def test_mpjve_root_drift_and_root_index():
    rng = np.random.default_rng(2)
    gt = random_poses(rng, 4, 3)
    pred = gt.copy()
    pred[:, 1] += np.arange(4)[:, None] * np.array([0.0, 8.0, 6.0])  # 10 mm/frame
    # root 0: only joint 1 drifts -> 10/3; root 1: joints 0 and 2 drift relative to it -> 20/3
    np.testing.assert_allclose(mpjve(pred, gt, np.zeros(4, bool))[1:], 10.0 / 3.0, rtol=1e-12)
    np.testing.assert_allclose(mpjve(pred, gt, np.zeros(4, bool), root=1)[1:], 20.0 / 3.0, rtol=1e-12)
    # a rigid drift of the whole pose is removed by root-centring
    pred3 = gt + np.arange(4)[:, None, None] * np.array([5.0, -1.0, 2.0])
    np.testing.assert_allclose(mpjve(pred3, gt, np.zeros(4, bool))[1:], 0.0, atol=1e-12)


def test_mpjve_accelerating_joint():
    # joint 2 of 2... position t^2 along x: velocity error 1, 3, 5 in frames 1, 2, 3; J = 2
    gt = np.zeros((4, 2, 3))
    pred = gt.copy()
    pred[:, 1, 0] = np.arange(4) ** 2
    np.testing.assert_allclose(mpjve(pred, gt, np.zeros(4, bool))[1:], [0.5, 1.5, 2.5], rtol=1e-12)


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
# ---------------------------------------------------------------------------------------------------------

COORD = st.floats(-1000.0, 1000.0, allow_nan=False, allow_infinity=False)
# coordinates and shifts on a 1/64 mm grid: sums are exact, so translation tests are not about float absorption
GRID = st.integers(-64_000, 64_000).map(lambda v: v / 64.0)
GRID_TRANS = hnp.arrays(np.float64, (3,), elements=st.integers(-640_000, 640_000).map(lambda v: v / 64.0))


def _pose(j: int):
    return hnp.arrays(np.float64, (j, 3), elements=COORD)


PAIR = st.integers(4, 12).flatmap(lambda j: st.tuples(_pose(j), _pose(j)))
POSE = st.integers(4, 12).flatmap(_pose)
QUAT = st.tuples(*[st.floats(-1.0, 1.0)] * 4).filter(lambda q: np.linalg.norm(q) > 0.1)
SCALE = st.floats(0.1, 10.0)
TRANS = hnp.arrays(np.float64, (3,), elements=st.floats(-1e4, 1e4))
# POSEBENCH_HYPOTHESIS_EXAMPLES raises the example count for a long hunt; the default keeps the file fast
# Derandomised: the same examples on every machine and run, so a verdict never depends on the draw (a random
# draw filtered too many poses as degenerate about one run in six and failed the health check).
HYP = settings(
    max_examples=int(os.environ.get("POSEBENCH_HYPOTHESIS_EXAMPLES", "60")), deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.filter_too_much],
)


def _well_spread(x: np.ndarray) -> bool:
    """Not (nearly) collinear or planar, not tiny."""
    s = np.linalg.svd(x - x.mean(axis=0), compute_uv=False)
    return s[0] > 10.0 and s[2] > 0.05 * s[0]


def _unique_optimum(pred: np.ndarray, gt: np.ndarray) -> bool:
    """The optimal rotation is well separated from the runner-up (no near-tie on the reflection branch)."""
    m = (pred - pred.mean(0)).T @ (gt - gt.mean(0))
    u, s, vt = np.linalg.svd(m)
    s3 = s[2] * np.sign(np.linalg.det(u @ vt))
    return s[1] + s3 > 1e-3 * s[0]


@HYP
@given(PAIR, QUAT, SCALE, TRANS)
def test_hyp_p_mpjpe_invariant_to_similarity_of_prediction(pair, q, s, t):
    pred, gt = pair
    assume(_well_spread(pred) and _well_spread(gt) and _unique_optimum(pred, gt))
    moved = s * pred @ quat_to_matrix(q).T + t
    a = p_mpjpe(pred[None], gt[None])[0]
    b = p_mpjpe(moved[None], gt[None])[0]
    # 1e-6 relative, plus 1e-6 mm absolute for a ~ 0 (the closed form is accurate to ~1e-10 of the pose size)
    assert abs(a - b) <= 1e-6 * a + 1e-6
    np.testing.assert_allclose(b, ref_p_mpjpe(moved[None], gt[None])[0], rtol=1e-6, atol=1e-6)


@HYP
@given(POSE, QUAT, SCALE, TRANS)
def test_hyp_p_mpjpe_zero_for_similarity_of_gt(gt, q, s, t):
    assume(_well_spread(gt))
    pred = s * gt @ quat_to_matrix(q).T + t
    assert p_mpjpe(pred[None], gt[None])[0] < 1e-6


@HYP
@given(POSE, st.sampled_from([0, 1, 2]))
def test_hyp_reflection_not_absorbed(gt, axis):
    assume(_well_spread(gt))
    flip = np.ones(3)
    flip[axis] = -1.0
    mirrored = gt * flip
    # a mirror image that is also a rotated copy (a symmetric pose) would legitimately align; skip those
    ref = ref_p_mpjpe(mirrored[None], gt[None])[0]
    assume(ref > 1e-3 * np.linalg.svd(gt - gt.mean(0), compute_uv=False)[0])
    assume(_unique_optimum(mirrored, gt))
    out = p_mpjpe(mirrored[None], gt[None])[0]
    assert out > 0.0
    np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-6)


@HYP
@given(PAIR, st.floats(1e-3, 1e3), st.integers(0, 3))
def test_hyp_n_mpjpe_invariant_to_positive_scale(pair, k, root):
    pred, gt = pair
    assume(np.abs(pred - pred[root]).max() > 1.0)
    a = n_mpjpe(pred[None], gt[None], root=root)[0]
    b = n_mpjpe(k * pred[None], gt[None], root=root)[0]
    assert abs(a - b) <= 1e-9 * max(a, 1.0)
    np.testing.assert_allclose(a, ref_n_mpjpe(pred[None], gt[None], root)[0], rtol=1e-9, atol=1e-9)


GRID_PAIR = st.integers(4, 12).flatmap(
    lambda j: st.tuples(hnp.arrays(np.float64, (j, 3), elements=GRID), hnp.arrays(np.float64, (j, 3), elements=GRID))
)


@HYP
@given(GRID_PAIR, GRID_TRANS, GRID_TRANS, st.integers(0, 3))
def test_hyp_mpjpe_invariant_to_translation(pair, t1, t2, root):
    pred, gt = pair
    a = mpjpe(pred[None], gt[None], root=root)[0]
    assert abs(mpjpe((pred + t1)[None], gt[None], root=root)[0] - a) <= 1e-9 * max(a, 1.0)
    assert abs(mpjpe(pred[None], (gt + t2)[None], root=root)[0] - a) <= 1e-9 * max(a, 1.0)
    assert abs(n_mpjpe((pred + t1)[None], (gt + t2)[None], root=root)[0]
               - n_mpjpe(pred[None], gt[None], root=root)[0]) <= 1e-9 * max(a, 1.0)
    np.testing.assert_allclose(a, ref_joint_errors(pred[None], gt[None], root).mean(), rtol=1e-12, atol=1e-12)


@HYP
@given(PAIR)
def test_hyp_rms_ordering(pair):
    pred, gt = pair
    assume(_well_spread(pred) and _well_spread(gt))
    raw = joint_errors(pred[None], gt[None])[0]
    pa = p_mpjpe_joint_errors(pred[None], gt[None])[0]
    # the closed-form rotation is accurate to ~1e-10 relative (its orthogonality tolerance), so allow that
    # much of the pose size on top of the exact inequalities
    tol = 1e-9 * max(np.abs(gt - gt.mean(0)).max(), np.abs(pred - pred.mean(0)).max())
    # similarity fit minimises the sum of squares, the identity transform is one candidate
    assert np.sqrt((pa**2).sum()) <= np.sqrt((raw**2).sum()) * (1 + 1e-9) + tol
    # mean of norms <= RMS
    assert pa.mean() <= np.sqrt((raw**2).mean()) * (1 + 1e-9) + tol


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


def test_acceleration_error_by_hand():
    """One joint of four moves with constant acceleration 2 mm/frame^2 along x (positions 0, 1, 4, 9, 16):
    per-frame error 2/4 = 0.5 from the third frame on; constant velocity drift has no acceleration error."""
    gt = np.zeros((5, 4, 3))
    pred = gt.copy()
    pred[:, 3, 0] = np.arange(5.0) ** 2
    out = accel_error(pred, gt, np.array([True, False, False, False, False]))
    assert np.isnan(out[:2]).all()
    np.testing.assert_allclose(out[2:], 0.5, rtol=1e-12)
    drift = gt.copy()
    drift[:, 3, 1] = 7.0 * np.arange(5.0)
    np.testing.assert_allclose(accel_error(drift, gt, np.zeros(5, bool))[2:], 0.0, atol=1e-12)
    restart = accel_error(pred, gt, np.array([True, False, False, True, False]))  # a new sequence at frame 3
    assert np.isnan(restart[[0, 1, 3, 4]]).all() and restart[2] == pytest.approx(0.5)
    # a rigid translation of the whole prediction (root included) over time is removed by root-centring
    moved = pred + np.arange(5.0)[:, None, None] ** 2 * np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(accel_error(moved, gt, np.zeros(5, bool)), out, rtol=1e-12, equal_nan=True)


def test_mpjve_accepts_integer_sequence_starts():
    rng = np.random.default_rng(15)
    gt = random_poses(rng, 6, 4)
    pred = gt + rng.normal(scale=20.0, size=gt.shape)
    as_int = mpjve(pred, gt, np.array([1, 0, 0, 1, 0, 0]))
    assert np.isnan(as_int[[0, 3]]).all() and np.isfinite(as_int[[1, 2, 4, 5]]).all()
    rel = (pred - pred[:, :1]) - (gt - gt[:, :1])
    np.testing.assert_allclose(as_int[[1, 2, 4, 5]], np.linalg.norm(rel[1:] - rel[:-1], axis=-1).mean(1)[[0, 1, 3, 4]])

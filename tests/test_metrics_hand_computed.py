"""Per-frame metrics on tiny hand-computed poses: MPJPE, N-MPJPE, P-MPJPE, PCK, AUC, MPJVE and acceleration
error, with every expected value worked out in the comments (or re-derived independently in the test), never
taken from running the code under test.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness.metrics import (
    AUC_THRESHOLDS_MM,
    FRAME_METRICS,
    PCK_THRESHOLD_MM,
    accel_error,
    auc,
    joint_errors,
    mpjpe,
    mpjve,
    n_mpjpe,
    p_mpjpe,
    p_mpjpe_joint_errors,
    pck,
)
from tests.metric_refs import ref_n_mpjpe
from tests.pose_helpers import random_poses, similarity
from tests.reference import quat_to_matrix

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

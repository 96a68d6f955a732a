"""similarity_align (Procrustes) against the independent per-frame SVD solution, on random, mirrored and
degenerate (planar, collinear, collapsed) poses; plus the frames-last layout helper.

Expected values come from `tests.reference` (per-frame LAPACK SVD) or from hand reasoning in the comments,
never from running the code under test.
"""

from __future__ import annotations

import numpy as np

from harness.alignment import align_frames_last, optimal_rotation, similarity_align, to_frames_last
from tests.pose_helpers import cross_covariance, frames_last, pose_scale, random_poses, rel_err
from tests.reference import quat_to_matrix, random_rotations, ref_align

# ---------------------------------------------------------------------------------------------------------
# Layout helpers
# ---------------------------------------------------------------------------------------------------------


def test_to_frames_last_layout_and_dtype():
    x = np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3)
    y = to_frames_last(x)
    assert y.shape == (3, 4, 2) and y.dtype == np.float64 and y.flags.c_contiguous
    for n in range(2):
        for j in range(4):
            for c in range(3):
                assert y[c, j, n] == x[n, j, c]


# ---------------------------------------------------------------------------------------------------------
# similarity_align vs the SVD reference
# ---------------------------------------------------------------------------------------------------------


def test_similarity_align_matches_reference_random():
    rng = np.random.default_rng(0)
    gt = random_poses(rng, 500, 17)
    pred = np.einsum("nik,njk->nji", random_rotations(rng, 500), gt) * rng.uniform(0.3, 3.0, (500, 1, 1))
    pred += rng.normal(scale=80.0, size=pred.shape) + rng.normal(scale=1000, size=(500, 1, 3))
    pred[::4] = rng.normal(scale=300.0, size=pred[::4].shape)  # unrelated
    out = similarity_align(pred, gt)
    assert out.shape == gt.shape and out.dtype == np.float64 and out.flags.c_contiguous
    assert rel_err(out, ref_align(pred, gt), pose_scale(gt)) < 1e-9


def test_similarity_align_mirrored_predictions():
    rng = np.random.default_rng(1)
    gt = random_poses(rng, 300, 17)
    mirrored = gt * np.array([1.0, -1.0, 1.0])
    mirrored[1::2] = np.einsum("nik,njk->nji", random_rotations(rng, 150), mirrored[1::2])
    mirrored[::3] += rng.normal(scale=30.0, size=mirrored[::3].shape)
    out = similarity_align(mirrored, gt)
    ref = ref_align(mirrored, gt)
    assert rel_err(out, ref, pose_scale(gt)) < 1e-9
    # a proper rotation cannot undo a mirror of a non-symmetric pose: clearly positive residual
    res = np.linalg.norm(out - gt, axis=-1).mean(axis=1)
    assert np.all(res > 10.0)


def test_similarity_align_exact_similarity_is_recovered():
    rng = np.random.default_rng(2)
    gt = random_poses(rng, 200, 17)
    r = random_rotations(rng, 200)
    s = rng.uniform(0.1, 10.0, size=(200, 1, 1))
    pred = s * np.einsum("nik,njk->nji", r, gt) + rng.normal(scale=5000.0, size=(200, 1, 3))
    assert rel_err(similarity_align(pred, gt), gt, pose_scale(gt)) < 1e-9


def test_similarity_align_optimality_conditions():
    """Independent of any SVD: at the optimum the centroids match, residuals carry no net torque about the
    centroid and are orthogonal to the aligned (centred) pose (the scale is stationary)."""
    rng = np.random.default_rng(3)
    gt = random_poses(rng, 100, 17)
    pred = gt + rng.normal(scale=100.0, size=gt.shape)
    a = similarity_align(pred, gt)
    sc = pose_scale(gt)[:, 0, 0]
    np.testing.assert_allclose(a.mean(axis=1), gt.mean(axis=1), rtol=0, atol=1e-9 * sc.max())
    a0 = a - a.mean(axis=1, keepdims=True)
    res = gt - a
    torque = np.cross(a0, res).sum(axis=1)
    np.testing.assert_allclose(torque / (sc[:, None] ** 2), 0.0, atol=1e-9)
    np.testing.assert_allclose((a0 * res).sum(axis=(1, 2)) / sc**2, 0.0, atol=1e-9)
    # and no random proper similarity nearby does better in the sum of squares
    best = (res**2).sum(axis=(1, 2))
    for _ in range(5):
        dr = np.stack([quat_to_matrix([1.0, *rng.normal(scale=1e-2, size=3)]) for _ in range(100)])
        ds = rng.uniform(0.98, 1.02, size=(100, 1, 1))
        other = ds * np.einsum("nik,njk->nji", dr, a0) + gt.mean(axis=1, keepdims=True)
        assert np.all(((gt - other) ** 2).sum(axis=(1, 2)) >= best * (1 - 1e-12))


def test_units_mm_and_metres_align_identically():
    rng = np.random.default_rng(4)
    gt_mm = random_poses(rng, 200, 17)
    pred_mm = gt_mm + rng.normal(scale=60.0, size=gt_mm.shape)
    pred_mm[::5] *= np.array([-1.0, 1.0, 1.0])
    a_mm = similarity_align(pred_mm, gt_mm)
    a_m = similarity_align(pred_mm / 1000.0, gt_mm / 1000.0)
    np.testing.assert_allclose(1000.0 * a_m, a_mm, rtol=1e-12, atol=1e-9)
    # and a pure translation of both poses only translates the result
    shift = np.array([5e3, -2e3, 7e3])
    np.testing.assert_allclose(similarity_align(pred_mm + shift, gt_mm + shift) - shift, a_mm, rtol=0, atol=1e-8)
    # a translated / rescaled prediction gives the same aligned pose
    np.testing.assert_allclose(similarity_align(pred_mm * 7.5 - shift, gt_mm), a_mm, rtol=0, atol=1e-7)


def test_similarity_align_few_joints():
    rng = np.random.default_rng(5)
    for j in (3, 4):
        gt = random_poses(rng, 100, j)
        pred = rng.normal(scale=300, size=gt.shape)
        assert rel_err(similarity_align(pred, gt), ref_align(pred, gt), pose_scale(gt)) < 1e-9
    # two joints always align perfectly (a segment can be rotated and scaled onto any other)
    gt = random_poses(rng, 50, 2)
    pred = random_poses(rng, 50, 2)
    assert rel_err(similarity_align(pred, gt), gt, pose_scale(gt)) < 1e-9


def test_align_frames_last_matches_public_layout():
    rng = np.random.default_rng(6)
    gt = random_poses(rng, 30, 17)
    pred = gt + rng.normal(scale=40.0, size=gt.shape)
    fl = align_frames_last(to_frames_last(pred), to_frames_last(gt))
    np.testing.assert_allclose(fl.transpose(2, 1, 0), ref_align(pred, gt), rtol=0, atol=1e-9 * pose_scale(gt).max())


# ---------------------------------------------------------------------------------------------------------
# Degenerate poses through similarity_align
# ---------------------------------------------------------------------------------------------------------


def test_planar_poses():
    rng = np.random.default_rng(20)
    n, j = 100, 17
    plane = rng.normal(scale=300.0, size=(n, j, 3)) * np.array([1.0, 1.0, 0.0])
    gt = np.einsum("nik,njk->nji", random_rotations(rng, n), plane) + rng.normal(scale=1000, size=(n, 1, 3))
    plane_p = plane + rng.normal(scale=50.0, size=plane.shape) * np.array([1.0, 1.0, 0.0])
    pred = np.einsum("nik,njk->nji", random_rotations(rng, n), plane_p)
    pred[::2] *= np.array([-1.0, 1.0, 1.0])  # mirrored planar poses are a rotation away: no difference
    ms = cross_covariance(pred, gt)
    _, _, mask = optimal_rotation(frames_last(ms))
    assert mask.all(), "planar poses give rank-2 cross-covariances"
    out = similarity_align(pred, gt)
    assert np.isfinite(out).all()
    assert rel_err(out, ref_align(pred, gt), pose_scale(gt)) < 1e-9


def test_planar_gt_and_general_prediction():
    rng = np.random.default_rng(21)
    n, j = 100, 17
    gt = rng.normal(scale=300.0, size=(n, j, 3)) * np.array([1.0, 0.0, 1.0]) + 200.0
    pred = random_poses(rng, n, j)
    out = similarity_align(pred, gt)
    assert np.isfinite(out).all()
    assert rel_err(out, ref_align(pred, gt), pose_scale(gt)) < 1e-9


def test_collinear_prediction():
    # rank-1 m: the rotation is not unique (any spin about the line), but the aligned line is
    rng = np.random.default_rng(22)
    n, j = 50, 6
    gt = random_poses(rng, n, j)
    direction = rng.normal(size=(n, 1, 3))
    pred = rng.normal(size=(n, j, 1)) * direction * 100.0 + rng.normal(scale=500, size=(n, 1, 3))
    _, _, mask = optimal_rotation(frames_last(cross_covariance(pred, gt)))
    assert mask.all()
    out = similarity_align(pred, gt)
    assert np.isfinite(out).all()
    assert rel_err(out, ref_align(pred, gt), pose_scale(gt)) < 1e-9


def test_collinear_gt_errors_are_unique():
    # rank-1 m from a collinear GT: aligned pose not unique, but its per-joint errors are
    # (spinning about the GT line keeps each joint's distance to the line and position along it)
    rng = np.random.default_rng(23)
    n, j = 50, 6
    gt = rng.normal(size=(n, j, 1)) * rng.normal(size=(n, 1, 3)) * 100.0
    pred = random_poses(rng, n, j)
    out = similarity_align(pred, gt)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(
        np.linalg.norm(out - gt, axis=-1), np.linalg.norm(ref_align(pred, gt) - gt, axis=-1), rtol=1e-9, atol=1e-9
    )


def test_all_zero_and_single_point_poses():
    rng = np.random.default_rng(24)
    gt = random_poses(rng, 4, 5)
    # prediction collapsed to a point (zero-size pose): best similarity has scale 0 -> every joint at GT's centroid
    pred = np.zeros_like(gt)
    pred[1] = 123.0
    out = similarity_align(pred, gt)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, np.broadcast_to(gt.mean(axis=1, keepdims=True), gt.shape), rtol=0, atol=1e-9)
    # GT collapsed to a point: the aligned prediction collapses onto it too
    g_pt = np.broadcast_to(np.array([10.0, 20.0, 30.0]), gt.shape).copy()
    out = similarity_align(gt, g_pt)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, g_pt, rtol=0, atol=1e-9)
    # both all-zero
    out = similarity_align(np.zeros((2, 4, 3)), np.zeros((2, 4, 3)))
    np.testing.assert_array_equal(out, 0.0)


def test_mixed_pose_batch_matches_reference():
    rng = np.random.default_rng(25)
    n, j = 40, 17
    gt = random_poses(rng, n, j)
    pred = gt + rng.normal(scale=50.0, size=gt.shape)
    pred[3] = 0.0  # collapsed prediction
    pred[7] *= np.array([1.0, 1.0, 0.0])  # planar prediction
    gt[11] *= np.array([0.0, 1.0, 1.0])  # planar GT
    pred[13] = gt[13] * np.array([-1.0, 1.0, 1.0])  # mirror
    pred[17] = gt[17]  # identical
    out = similarity_align(pred, gt)
    assert np.isfinite(out).all()
    assert rel_err(out, ref_align(pred, gt), pose_scale(gt)) < 1e-9


def test_float32_input():
    rng = np.random.default_rng(26)
    gt = random_poses(rng, 50, 17).astype(np.float32)
    pred = (gt + rng.normal(scale=50.0, size=gt.shape)).astype(np.float32)
    out = similarity_align(pred, gt)
    assert out.dtype == np.float64
    assert rel_err(out, ref_align(pred.astype(np.float64), gt.astype(np.float64)), pose_scale(gt)) < 1e-9

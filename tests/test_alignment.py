"""Similarity (Procrustes) alignment: the closed form and its SVD fallback against an independent SVD solution.

Expected values come from a per-frame LAPACK SVD written in this file (`ref_align`, `ref_rotation`) or from
hand reasoning in the comments, never from running the code under test.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from harness.alignment import align_frames_last, optimal_rotation, similarity_align, to_frames_last
from tests.reference import quat_to_matrix, random_rotations, ref_align, ref_rotation

# ---------------------------------------------------------------------------------------------------------
# References
# ---------------------------------------------------------------------------------------------------------


def frames_last(ms: np.ndarray) -> np.ndarray:
    """(n, 3, 3) -> contiguous (3, 3, n)."""
    return np.ascontiguousarray(np.asarray(ms, dtype=np.float64).transpose(1, 2, 0))


def frames_first(ms: np.ndarray) -> np.ndarray:
    return np.asarray(ms).transpose(2, 0, 1)


# The closed form accepts a frame when its R is orthogonal to 1e-10 (harness.alignment._ORTHO_TOL); frames that
# went through the SVD, and frames from realistic poses, are orthogonal to ~1e-15 / ~5e-13.
ORTHO_MODULE = 1e-10
ORTHO_SPEC = 1e-10


def assert_rotations(r: np.ndarray, tol: float = ORTHO_SPEC) -> None:
    """(n, 3, 3) proper rotations, finite."""
    assert np.isfinite(r).all()
    np.testing.assert_allclose(np.einsum("nki,nkj->nij", r, r), np.broadcast_to(np.eye(3), r.shape), rtol=0, atol=tol)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, rtol=0, atol=3 * tol)  # det - 1 ~ trace of R^T R - I


def random_poses(rng, n, j, spread=300.0):
    return rng.normal(scale=spread, size=(n, j, 3)) + rng.normal(scale=2000.0, size=(n, 1, 3))


def rel_err(a: np.ndarray, b: np.ndarray, scale: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / scale))


def pose_scale(g: np.ndarray) -> np.ndarray:
    """Per-frame size of a pose set (N, J, 3), shaped to broadcast."""
    return np.maximum(np.abs(g - g.mean(axis=1, keepdims=True)).max(axis=(1, 2)), 1e-300)[:, None, None]


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
# optimal_rotation on (3, 3, n) cross-covariances
# ---------------------------------------------------------------------------------------------------------


def test_optimal_rotation_random_matrices():
    rng = np.random.default_rng(10)
    ms = rng.normal(size=(2000, 3, 3))
    r, tr, mask = optimal_rotation(frames_last(ms))
    assert r.shape == (3, 3, 2000) and tr.shape == (2000,) and mask.shape == (2000,) and mask.dtype == bool
    rf = frames_first(r)
    assert_rotations(rf, ORTHO_MODULE)
    for i in range(2000):
        r_ref, tr_ref = ref_rotation(ms[i])
        np.testing.assert_allclose(rf[i], r_ref, rtol=0, atol=1e-9, err_msg=str(i))
        np.testing.assert_allclose(tr[i], tr_ref, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(np.trace(rf[i].T @ ms[i]), tr_ref, rtol=0, atol=1e-10)
    # about half the random matrices have det < 0 (the reflection branch); most take the closed form
    assert 0.3 < np.mean(np.linalg.det(ms) < 0) < 0.7
    assert mask.mean() < 0.1


def test_optimal_rotation_orthonormal_on_random_matrices():
    rng = np.random.default_rng(10)
    r, _, _ = optimal_rotation(frames_last(rng.normal(size=(2000, 3, 3))))
    assert_rotations(frames_first(r), ORTHO_SPEC)


def test_optimal_rotation_pose_cross_covariances():
    """Cross-covariances of realistic (noisy, 17-joint) poses: rotations to 1e-10, equal to the SVD's."""
    rng = np.random.default_rng(15)
    gt = random_poses(rng, 3000, 17)
    pred = gt + rng.normal(scale=60.0, size=gt.shape)
    pred[::7] *= np.array([1.0, 1.0, -1.0])
    ms = _cross_covariance(pred, gt)
    ms /= np.linalg.norm(ms, axis=(1, 2), keepdims=True)
    r, tr, mask = optimal_rotation(frames_last(ms))
    rf = frames_first(r)
    assert_rotations(rf, ORTHO_SPEC)
    assert mask.mean() < 0.01
    for i in range(0, 3000, 3):
        r_ref, tr_ref = ref_rotation(ms[i])
        np.testing.assert_allclose(rf[i], r_ref, rtol=0, atol=1e-9)
        np.testing.assert_allclose(tr[i], tr_ref, rtol=1e-12)


def test_optimal_rotation_beats_random_rotations():
    """Optimality without SVD: trace(R^T m) is at least that of any other rotation."""
    rng = np.random.default_rng(11)
    ms = rng.normal(size=(200, 3, 3))
    r, tr, _ = optimal_rotation(frames_last(ms))
    best = np.einsum("ijn,ijn->n", r, frames_last(ms))
    for _ in range(20):
        q = random_rotations(rng, 200)
        assert np.all(np.einsum("nij,nij->n", q, ms) <= best + 1e-12)


def test_optimal_rotation_of_a_rotation_is_itself():
    rng = np.random.default_rng(12)
    rots = random_rotations(rng, 100)
    scales = rng.uniform(1e-3, 1e3, size=(100, 1, 1))
    r, tr, _ = optimal_rotation(frames_last(rots * scales))
    np.testing.assert_allclose(frames_first(r), rots, rtol=0, atol=1e-9)
    np.testing.assert_allclose(tr, 3.0 * scales[:, 0, 0], rtol=1e-9)
    # exact identity (all singular values equal, positive branch)
    r, tr, mask = optimal_rotation(np.eye(3)[:, :, None].copy())
    np.testing.assert_allclose(r[:, :, 0], np.eye(3), rtol=0, atol=1e-12)
    np.testing.assert_allclose(tr, [3.0], rtol=1e-12)


# Frames that break the closed form: rank-deficient m (i3 = 0) or a tie s2 = |s3| on the reflection branch
# (i1 i2 - i3 = (s1 + s2)(s1 + s3)(s2 + s3) = 0). Optimum value written by hand: s1 + s2 - s3 for det < 0.
def _rot(seed: int) -> np.ndarray:
    return quat_to_matrix(np.random.default_rng(seed).normal(size=4))


DEGENERATE_UNIQUE = {  # name: (m, optimal rotation (unique), optimal value)
    "rank2_diag": (np.diag([3.0, 2.0, 0.0]), np.eye(3), 5.0),
    "rank2_rotated": (_rot(1) @ np.diag([3.0, 2.0, 0.0]) @ _rot(2).T, _rot(1) @ _rot(2).T, 5.0),
    "rank2_equal": (_rot(3) @ np.diag([1.0, 1.0, 0.0]) @ _rot(4).T, _rot(3) @ _rot(4).T, 2.0),
}
DEGENERATE_NONUNIQUE = {  # name: (m, optimal value); many rotations reach it
    "zero": (np.zeros((3, 3)), 0.0),
    "rank1": (np.diag([3.0, 0.0, 0.0]), 3.0),
    "rank1_rotated": (_rot(5) @ np.diag([2.0, 0.0, 0.0]) @ _rot(6).T, 2.0),
    "mirror_111": (np.diag([1.0, 1.0, -1.0]), 1.0),  # 1 + 1 - 1
    "mirror_21-1": (np.diag([2.0, 1.0, -1.0]), 2.0),  # 2 + 1 - 1
    "mirror_neg_identity": (-np.eye(3), 1.0),  # 1 + 1 - 1
    "mirror_rotated": (_rot(7) @ np.diag([5.0, 2.0, -2.0]) @ _rot(8).T, 5.0),
}


@pytest.mark.parametrize("name", sorted(DEGENERATE_UNIQUE))
def test_fallback_degenerate_with_unique_optimum(name):
    m, r_exp, val = DEGENERATE_UNIQUE[name]
    r, tr, mask = optimal_rotation(m[:, :, None].copy())
    assert mask[0], "a rank-deficient m cannot go through R = M W^-1"
    assert_rotations(frames_first(r))
    np.testing.assert_allclose(r[:, :, 0], r_exp, rtol=0, atol=1e-9)
    np.testing.assert_allclose(r[:, :, 0], ref_rotation(m)[0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(tr, [val], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(DEGENERATE_NONUNIQUE))
def test_fallback_degenerate_nonunique(name):
    m, val = DEGENERATE_NONUNIQUE[name]
    r, tr, mask = optimal_rotation(m[:, :, None].copy())
    assert mask[0]
    assert_rotations(frames_first(r))
    assert np.isfinite(tr).all()
    # a valid optimum: reaches the hand-computed maximum, and tr reports it
    np.testing.assert_allclose(np.trace(r[:, :, 0].T @ m), val, rtol=0, atol=1e-12)
    np.testing.assert_allclose(tr, [val], rtol=0, atol=1e-12)


def _good_matrices(rng, n):
    """Well-conditioned m with well separated singular values, both branches."""
    s = np.stack([np.ones(n), np.full(n, 0.6), np.where(np.arange(n) % 2 == 0, 0.3, -0.3)], axis=1)
    return random_rotations(rng, n) @ (s[:, :, None] * np.eye(3)) @ random_rotations(rng, n).transpose(0, 2, 1)


def test_mixed_batch_only_degenerate_frames_fall_back():
    rng = np.random.default_rng(13)
    good = _good_matrices(rng, 60)
    bad = [m for m, _, _ in DEGENERATE_UNIQUE.values()] + [m for m, _ in DEGENERATE_NONUNIQUE.values()]
    batch = np.concatenate([good[:20], np.stack(bad), good[20:], np.stack(bad)[::-1]])
    is_bad = np.zeros(len(batch), bool)
    is_bad[20 : 20 + len(bad)] = True
    is_bad[-len(bad) :] = True
    r, tr, mask = optimal_rotation(frames_last(batch))
    np.testing.assert_array_equal(mask, is_bad)
    rf = frames_first(r)
    assert_rotations(rf)
    assert np.isfinite(tr).all()
    for i in np.flatnonzero(~is_bad):
        r_ref, tr_ref = ref_rotation(batch[i])
        np.testing.assert_allclose(rf[i], r_ref, rtol=0, atol=1e-9)
        np.testing.assert_allclose(tr[i], tr_ref, rtol=1e-12)
    # the good frames' results do not depend on the company they keep
    r_alone, tr_alone, mask_alone = optimal_rotation(frames_last(good))
    assert not mask_alone.any()
    np.testing.assert_allclose(frames_first(r_alone), rf[~is_bad], rtol=0, atol=1e-15)
    np.testing.assert_allclose(tr_alone, tr[~is_bad], rtol=1e-15)
    # the degenerate frames reach their hand-computed optimum
    vals = [v for _, _, v in DEGENERATE_UNIQUE.values()] + [v for _, v in DEGENERATE_NONUNIQUE.values()]
    got = np.einsum("nij,nij->n", rf[20 : 20 + len(bad)], batch[20 : 20 + len(bad)])
    np.testing.assert_allclose(got, vals, rtol=0, atol=1e-12)


def test_optimal_rotation_does_not_modify_input_and_emits_no_warnings():
    m = frames_last(np.stack([np.zeros((3, 3)), np.diag([1.0, 1.0, -1.0]), np.eye(3)]))
    before = m.copy()
    with warnings.catch_warnings(), np.errstate(divide="warn", over="warn", invalid="warn"):
        warnings.simplefilter("error")
        optimal_rotation(m)
        similarity_align(np.zeros((2, 4, 3)), np.ones((2, 4, 3)))
    np.testing.assert_array_equal(m, before)


@pytest.mark.parametrize("eps", [1e-2, 1e-4, 1e-6, 1e-8, 1e-10, 1e-13, 0.0])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_near_degenerate_sweep_matches_svd(eps, sign):
    """s3 -> 0 on both branches: whichever path each frame takes, the result is the SVD optimum."""
    rng = np.random.default_rng(14)
    n = 300
    s = np.stack([np.ones(n), rng.uniform(0.2, 0.8, n), sign * eps * rng.uniform(0.5, 1.0, n)], axis=1)
    ms = random_rotations(rng, n) @ (s[:, :, None] * np.eye(3)) @ random_rotations(rng, n).transpose(0, 2, 1)
    r, tr, mask = optimal_rotation(frames_last(ms))
    rf = frames_first(r)
    assert_rotations(rf, ORTHO_MODULE)
    if eps == 0.0:
        assert mask.all()
    for i in range(n):
        r_ref, tr_ref = ref_rotation(ms[i])
        np.testing.assert_allclose(rf[i], r_ref, rtol=0, atol=1e-9)
        np.testing.assert_allclose(tr[i], tr_ref, rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------------------------------------
# Degenerate poses through similarity_align
# ---------------------------------------------------------------------------------------------------------


def _cross_covariance(pred, gt):
    p0 = pred - pred.mean(axis=1, keepdims=True)
    g0 = gt - gt.mean(axis=1, keepdims=True)
    return np.einsum("nji,njk->nik", g0, p0)


def test_planar_poses():
    rng = np.random.default_rng(20)
    n, j = 100, 17
    plane = rng.normal(scale=300.0, size=(n, j, 3)) * np.array([1.0, 1.0, 0.0])
    gt = np.einsum("nik,njk->nji", random_rotations(rng, n), plane) + rng.normal(scale=1000, size=(n, 1, 3))
    plane_p = plane + rng.normal(scale=50.0, size=plane.shape) * np.array([1.0, 1.0, 0.0])
    pred = np.einsum("nik,njk->nji", random_rotations(rng, n), plane_p)
    pred[::2] *= np.array([-1.0, 1.0, 1.0])  # mirrored planar poses are a rotation away: no difference
    ms = _cross_covariance(pred, gt)
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
    _, _, mask = optimal_rotation(frames_last(_cross_covariance(pred, gt)))
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

"""optimal_rotation on (3, 3, n) cross-covariances: the closed form against the SVD reference, and the SVD
fallback on degenerate frames (rank-deficient, reflection-branch ties, near-degenerate sweeps).

Expected values come from `tests.reference` (per-frame LAPACK SVD) or from hand reasoning in the comments,
never from running the code under test.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from harness.alignment import optimal_rotation, similarity_align
from tests.pose_helpers import (
    ORTHO_MODULE,
    ORTHO_SPEC,
    assert_rotations,
    cross_covariance,
    frames_first,
    frames_last,
    random_poses,
)
from tests.reference import quat_to_matrix, random_rotations, ref_rotation

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
    ms = cross_covariance(pred, gt)
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

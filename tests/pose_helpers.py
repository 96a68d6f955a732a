"""Shared helpers for the alignment and metric tests: random poses and similarity transforms, the (3, 3, n)
frames-last layout, rotation checks and per-frame error scales. Nothing here calls the code under test."""

from __future__ import annotations

import numpy as np


def random_poses(rng: np.random.Generator, n: int, j: int, spread: float = 300.0) -> np.ndarray:
    """Random non-degenerate 3D poses in mm, placed somewhere in camera space."""
    return rng.normal(scale=spread, size=(n, j, 3)) + rng.normal(scale=2000.0, size=(n, 1, 3))


def similarity(poses: np.ndarray, r: np.ndarray, s: float, t: np.ndarray) -> np.ndarray:
    """s * R p + t for (N, J, 3) poses (R (3, 3) or (N, 3, 3))."""
    return s * np.einsum("...ik,...jk->...ji", r, poses) + t


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


def rel_err(a: np.ndarray, b: np.ndarray, scale: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / scale))


def pose_scale(g: np.ndarray) -> np.ndarray:
    """Per-frame size of a pose set (N, J, 3), shaped to broadcast."""
    return np.maximum(np.abs(g - g.mean(axis=1, keepdims=True)).max(axis=(1, 2)), 1e-300)[:, None, None]


def cross_covariance(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(N, 3, 3) sum_j g0_j p0_j^T of centred poses: the m whose optimal rotation aligns pred onto gt."""
    p0 = pred - pred.mean(axis=1, keepdims=True)
    g0 = gt - gt.mean(axis=1, keepdims=True)
    return np.einsum("nji,njk->nik", g0, p0)

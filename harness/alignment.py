"""Per-frame similarity (Procrustes) alignment of a predicted pose to the ground truth, vectorised.

For each frame, find scale s, rotation R (det R = +1, reflections forbidden) and translation t minimising
sum_j |s R p_j + t - g_j|^2. With centred poses P0, G0 and M = G0^T P0 = U S V^T, the optimum is
R = U D V^T, D = diag(1, 1, sign det M), s = trace(D S) / |P0|^2.

Instead of one LAPACK SVD per frame, the closed form works on the symmetric C = M^T M: its eigenvalues come
from the trigonometric solution of the characteristic cubic, the signed square roots
(s1, s2, sign(det M) s3) give W = V diag(s1, s2, +-s3) V^T by Cayley-Hamilton, and R = M W^-1. Every step
is elementwise arithmetic over all frames at once. Frames where that is ill-conditioned (nearly planar or
degenerate poses, repeated singular values on the reflection branch) fall back to numpy's SVD; they are
detected by checking that the R obtained is orthogonal to 1e-10 (about 0.1% of real poses fail). The rotations
kept are then within about 1e-10 of the SVD's, which moves a 1 m pose by 1e-7 mm at most.

Internally poses are held "frames last": (3, J, n) arrays, so every operation runs over contiguous frames.
"""

from __future__ import annotations

import numpy as np

_ORTHO_TOL = 1e-10
_EYE = np.eye(3)[:, :, None]


def to_frames_last(poses: np.ndarray) -> np.ndarray:
    """(n, J, 3) poses as a contiguous float64 (3, J, n) array."""
    out = np.empty((3, poses.shape[1], poses.shape[0]), dtype=np.float64)
    out[...] = np.asarray(poses).transpose(2, 1, 0)
    return out


def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-frame product of (3, 3, n) matrices."""
    return np.einsum("ikn,kjn->ijn", a, b)


def _gram(m: np.ndarray) -> np.ndarray:
    """Per-frame m^T m of (3, 3, n) matrices."""
    return np.einsum("kin,kjn->ijn", m, m)


def _det3(m: np.ndarray) -> np.ndarray:
    return (
        m[0, 0] * (m[1, 1] * m[2, 2] - m[1, 2] * m[2, 1])
        - m[0, 1] * (m[1, 0] * m[2, 2] - m[1, 2] * m[2, 0])
        + m[0, 2] * (m[1, 0] * m[2, 1] - m[1, 1] * m[2, 0])
    )


def _sym_eigvals_desc(c: np.ndarray) -> np.ndarray:
    """Eigenvalues of symmetric (3, 3, n) matrices, descending, shape (3, n)."""
    q = (c[0, 0] + c[1, 1] + c[2, 2]) / 3.0
    a, b, d = c[0, 0] - q, c[1, 1] - q, c[2, 2] - q
    c01, c02, c12 = c[0, 1], c[0, 2], c[1, 2]
    p = np.sqrt((a * a + b * b + d * d + 2.0 * (c01 * c01 + c02 * c02 + c12 * c12)) / 6.0)
    safe_p = np.where(p > 0, p, 1.0)
    half_det_b = (a * (b * d - c12 * c12) - c01 * (c01 * d - c12 * c02) + c02 * (c01 * c12 - b * c02)) / (2.0 * safe_p**3)
    cos_phi = np.cos(np.arccos(np.clip(half_det_b, -1.0, 1.0)) / 3.0)
    sin_phi = np.sqrt(np.maximum(1.0 - cos_phi * cos_phi, 0.0))
    l1 = q + 2.0 * p * cos_phi
    l3 = q - p * (cos_phi + np.sqrt(3.0) * sin_phi)  # q + 2p cos(phi + 2 pi / 3)
    return np.stack([l1, 3.0 * q - l1 - l3, l3])


def _rotation_closed_form(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Optimal rotations (3, 3, n) for cross-covariances m and trace(D S); garbage where it breaks down."""
    c = _gram(m)
    sig = np.sqrt(np.maximum(_sym_eigvals_desc(c), 0.0))
    sig[2] *= np.where(_det3(m) < 0, -1.0, 1.0)
    i1 = sig[0] + sig[1] + sig[2]
    i2 = sig[0] * sig[1] + sig[0] * sig[2] + sig[1] * sig[2]
    i3 = sig[0] * sig[1] * sig[2]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        w = ((i1 * i1 - i2) * c - _matmul(c, c) + (i1 * i3) * _EYE) / (i1 * i2 - i3)
        w_inv = (c - i1 * w + i2 * _EYE) / i3
        return _matmul(m, w_inv), i1


def _rotation_svd(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same quantities through numpy's SVD, for the frames the closed form cannot take."""
    u, s, vt = np.linalg.svd(m.transpose(2, 0, 1))
    sign = np.where(np.linalg.det(u @ vt) < 0, -1.0, 1.0)
    u[:, :, 2] *= sign[:, None]
    s[:, 2] *= sign
    return (u @ vt).transpose(1, 2, 0), s.sum(axis=1)


def optimal_rotation(m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For (3, 3, n) matrices m: the rotation R maximising trace(R^T m), trace(D S), and the SVD-fallback mask."""
    r, tr = _rotation_closed_form(m)
    with np.errstate(invalid="ignore"):
        # det R = det(m) / (s1 s2 (+-s3)) > 0 by construction wherever R is finite and orthogonal.
        bad = ~(np.abs(_gram(r) - _EYE).max(axis=(0, 1)) < _ORTHO_TOL)
    if bad.any():
        r[:, :, bad], tr[bad] = _rotation_svd(m[:, :, bad])
    return r, tr, bad


def similarity_fit(p: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Centred poses p0, g0 and the optimal rotation (3, 3, n) and scale (n,) for frames-last p, g (3, J, n)."""
    p0 = p - p.mean(axis=1, keepdims=True)
    g0 = g - g.mean(axis=1, keepdims=True)
    norm_p = np.sqrt(np.einsum("ijn,ijn->n", p0, p0))
    norm_g = np.sqrt(np.einsum("ijn,ijn->n", g0, g0))
    safe_p = np.where(norm_p > 0, norm_p, 1.0)
    safe_g = np.where(norm_g > 0, norm_g, 1.0)
    # Fit on unit-norm poses so the cubic's coefficients stay near 1 whatever the units.
    m = np.einsum("ijn,kjn->ikn", g0, p0) / (safe_g * safe_p)
    r, tr, _ = optimal_rotation(m)
    scale = np.where(norm_p > 0, tr * norm_g / safe_p, 0.0)
    return p0, g0, r, scale


def procrustes_residual(p: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Aligned prediction minus ground truth for frames-last poses p, g (3, J, n).

    The aligned pose is s R (p - mean p) + mean g, so the residual is s R p0 - g0: the translation never
    has to be formed.
    """
    p0, g0, r, scale = similarity_fit(p, g)
    residual = np.einsum("ikn,kjn->ijn", r * scale, p0)
    residual -= g0
    return residual


def align_frames_last(p: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Similarity-aligned prediction for frames-last poses p, g of shape (3, J, n)."""
    return procrustes_residual(p, g) + g


def similarity_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Prediction (n, J, 3) after the per-frame similarity transform that best fits it to gt (n, J, 3)."""
    aligned = align_frames_last(to_frames_last(pred), to_frames_last(gt))
    return np.ascontiguousarray(aligned.transpose(2, 1, 0))

"""Independent references for the metric tests: per-frame LAPACK SVD Procrustes and random rotations.

Nothing here shares code with harness.alignment; it is the textbook Umeyama solution, one frame at a time.
"""

from __future__ import annotations

import numpy as np


def ref_rotation(m: np.ndarray) -> tuple[np.ndarray, float]:
    """For one 3x3 m: the proper rotation maximising trace(R^T m) and that maximum, via SVD."""
    u, s, vt = np.linalg.svd(m)
    d = np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0
    dd = np.array([1.0, 1.0, d])
    return u @ np.diag(dd) @ vt, float((s * dd).sum())


def ref_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Umeyama alignment per frame of (N, J, 3) poses: s R p + t, det R = +1."""
    out = np.empty_like(gt, dtype=np.float64)
    for i, (p, g) in enumerate(zip(pred.astype(np.float64), gt.astype(np.float64))):
        mu_p, mu_g = p.mean(0), g.mean(0)
        p0, g0 = p - mu_p, g - mu_g
        m = g0.T @ p0  # sum_j g_j p_j^T: sum_j g_j . R p_j = trace(R^T m)
        r, tr = ref_rotation(m)
        pp = (p0**2).sum()
        s = tr / pp if pp > 0 else 0.0
        out[i] = s * p0 @ r.T + mu_g
    return out


def quat_to_matrix(q) -> np.ndarray:
    w, x, y, z = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def random_rotations(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.stack([quat_to_matrix(q) for q in rng.normal(size=(n, 4))])

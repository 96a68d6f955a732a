"""Independent metric references for the metric tests: plain per-frame loops and LAPACK SVD (via
`tests.reference`), nothing shared with harness.metrics or harness.alignment."""

from __future__ import annotations

import numpy as np

from tests.reference import ref_align


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

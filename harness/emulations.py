"""Paper-protocol emulations: the seed papers' own evaluation rules, for checking reproductions against their
published numbers. They are oracles (they use the ground truth to fix what a method got wrong) and are
never ranked with the standard benchmarks.

- ITES (research/baselines.md 1.6-1.7): two candidates per frame, the prediction and its depth mirror (z of
  the root-centred pose negated). "MPJPE": each candidate rescaled by its Procrustes scale, root-centred,
  the per-frame minimum over candidates; "P-MPJPE": the per-frame minimum of the candidates' P-MPJPE; 3DHP
  PCK/AUC: root-centred per-joint errors with the minimum over candidates taken per joint, on ITES's 14
  joints (all but pelvis and hips), without scale calibration.
- Kundu et al. (3.7): every predicted bone gets the ground-truth length (directions kept, walking the tree
  from the root), then the usual P-MPJPE.
"""

from __future__ import annotations

import numpy as np

from harness.alignment import procrustes_residual, similarity_fit
from harness.metrics import (
    AUC_THRESHOLDS_MM,
    CHUNK,
    PCK_THRESHOLD_MM,
    FrameMetrics,
    at_or_below,
    auc_from_counts,
    frames_last,
    joint_norms,
    pck_curve_counts,
)
from harness.skeletons import joint_set

# ITES scores PCK/AUC on every joint but these (its 14-joint set).
ITES_PCK_EXCLUDED: tuple[str, ...] = ("pelvis", "l_hip", "r_hip")
_DEPTH_FLIP = np.array([1.0, 1.0, -1.0])[:, None, None]


def _candidates(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The root-centred prediction and its depth mirror (frames-last)."""
    return p, p * _DEPTH_FLIP


def ites_frame_metrics(pred: np.ndarray, gt: np.ndarray, root: int, pck_joints: np.ndarray, seq_start: np.ndarray, chunk: int = CHUNK) -> FrameMetrics:
    """ITES-protocol values per frame: mpjpe and p_mpjpe (flip oracle per frame), pck and auc (per joint)."""
    del seq_start  # no velocity metric in this protocol
    n, n_joints = gt.shape[0], gt.shape[1]
    values = {m: np.empty(n) for m in ("mpjpe", "p_mpjpe", "pck", "auc")}
    sums = {"mpjpe": np.zeros(n_joints), "p_mpjpe": np.zeros(n_joints)}
    curve = np.zeros(len(AUC_THRESHOLDS_MM), dtype=np.int64)
    for a in range(0, n, chunk):
        b = min(a + chunk, n)
        g = frames_last(gt[a:b], root)
        scaled, aligned, raw = [], [], []
        for c in _candidates(frames_last(pred[a:b], root)):
            _, _, _, scale = similarity_fit(c, g)
            scaled.append(joint_norms(scale * c - g))
            aligned.append(joint_norms(procrustes_residual(c, g)))
            raw.append(joint_norms(c - g))
        for metric, errs in (("mpjpe", scaled), ("p_mpjpe", aligned)):
            means = np.stack([e.mean(axis=0) for e in errs])
            best = np.argmin(means, axis=0)
            chosen = np.where(best == 0, errs[0], errs[1])
            values[metric][a:b] = chosen.mean(axis=0)
            sums[metric] += chosen.sum(axis=1)
        per_joint = np.minimum(raw[0], raw[1])[pck_joints]
        values["pck"][a:b] = 100.0 * (per_joint < PCK_THRESHOLD_MM).mean(axis=0)
        counts = at_or_below(per_joint, AUC_THRESHOLDS_MM)
        values["auc"][a:b] = auc_from_counts(counts, len(AUC_THRESHOLDS_MM))
        curve += pck_curve_counts(counts, len(AUC_THRESHOLDS_MM))
    pck_curve = 100.0 * curve / max(n * len(pck_joints), 1)
    return FrameMetrics(values=values, joint_error_sums=sums, pck_curve=pck_curve, n_frames=n)


def with_gt_bone_lengths(pred: np.ndarray, gt: np.ndarray, joints: str) -> np.ndarray:
    """Prediction (N, J, 3) rebuilt from the root with each bone's direction kept and the GT bone's length."""
    js = joint_set(joints)
    out = np.empty(pred.shape, dtype=np.float64)
    out[:, js.root] = pred[:, js.root]
    order = sorted(range(len(js)), key=lambda j: _depth(js.parents, j))
    for j in order:
        p = js.parents[j]
        if p < 0:
            continue
        direction = np.asarray(pred[:, j] - pred[:, p], dtype=np.float64)
        norm = np.linalg.norm(direction, axis=-1, keepdims=True)
        unit = np.divide(direction, norm, out=np.zeros_like(direction), where=norm > 0)
        out[:, j] = out[:, p] + np.linalg.norm(gt[:, j] - gt[:, p], axis=-1, keepdims=True) * unit
    return out


def _depth(parents: tuple[int, ...], j: int) -> int:
    d = 0
    while parents[j] >= 0:
        j, d = parents[j], d + 1
    return d


def kundu_frame_metrics(pred: np.ndarray, gt: np.ndarray, root: int, pck_joints: np.ndarray, seq_start: np.ndarray, joints: str = "h36m17", chunk: int = CHUNK) -> FrameMetrics:
    """Kundu et al.'s rule per frame: P-MPJPE after injecting the GT bone lengths."""
    del pck_joints, seq_start
    n, n_joints = gt.shape[0], gt.shape[1]
    values = {"p_mpjpe": np.empty(n)}
    sums = {"p_mpjpe": np.zeros(n_joints)}
    for a in range(0, n, chunk):
        b = min(a + chunk, n)
        fixed = with_gt_bone_lengths(pred[a:b], gt[a:b], joints)
        err = joint_norms(procrustes_residual(frames_last(fixed, None), frames_last(gt[a:b], None)))
        values["p_mpjpe"][a:b] = err.mean(axis=0)
        sums["p_mpjpe"] += err.sum(axis=1)
    return FrameMetrics(values=values, joint_error_sums=sums, pck_curve=np.zeros(len(AUC_THRESHOLDS_MM)), n_frames=n)

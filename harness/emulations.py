"""Paper-protocol emulations: the seed papers' own evaluation rules, for checking reproductions against their
published numbers. Several are oracles (they use the ground truth to fix what a method got wrong); none is
ever ranked with the standard benchmarks. docs/conformance.md states each rule beside the standard one.

ITES (sjtuxcx/ITES @50bb6a9, test_student.py evaluation loop, common/camera.py `calibrate_by_scale`,
common/loss.py `calc_dist`, `p_mpjpe`, `pck_auc`), for a prediction P and ground truth G root-centred on the
pelvis (ITES's GT is root-centred when loaded; the prediction is root-centred after rescaling, which commutes):
- two candidates, P and its depth mirror F P with F = diag(1, 1, -1) (z of every joint negated);
- "MPJPE": each candidate is multiplied by a = (s1 + s2 + s3) |G0| / |P0|, where P0, G0 are the poses
  centred on their joint centroids and s1..s3 the singular values of G0^T P0 / (|G0| |P0|) summed WITHOUT the
  reflection sign fix (the reflection-allowed Procrustes scale). The mirror has the same singular values, so
  both candidates get the same a; it equals the larger of the two candidates' reflection-free Procrustes
  scales, which is how it is computed here. Then the per-frame mean joint error over all 17 joints (root
  included) and the per-frame minimum over the two candidates;
- "P-MPJPE": the usual similarity Procrustes (reflection forbidden) of each candidate, per-frame minimum;
- PCK@150 / AUC (3DHP): per-joint distances of the uncalibrated root-centred candidates (the
  `calibrate_by_scale` lines of `pck_auc` are commented out), the minimum over candidates taken per joint,
  on the 14 joints without pelvis and hips (H36M-order list [2, 3, 5, ..., 16]), strict `<` 150 mm, AUC the
  mean over the 31 thresholds 0, 5, ..., 150 mm; pooled over (frame, joint) pairs;
- pooled over frames (batch means weighted by batch size); ITES works in metres and float32, PoseBench in
  float64 mm (differences of order 1e-4 mm).
ITES's 3DHP loader (released only as bytecode) relabels left and right limbs of both the 2D input and the
GT (`ITES_3DHP_JOINT_MAP`); relabelling both together permutes the 14 scored joints among themselves, so the
metric is unchanged; what it changes is the 2D a model is fed, which is the submission's business.

ElePose / h36m-fetch (bastianwandt/ElePose @ad8fe9f train.py `validation_step`, utils/metrics.py `pmpjpe`
and `procrustes(reflection='best')`, utils/metrics_batch.py `mpjpe`; LInKs eval_h36m.py does the same):
- "MPJPE" (here n_mpjpe): both poses centred on joint 0 (pelvis), the prediction scaled by the norm ratio
  |G| / |P| of the root-centred poses, mean joint error over 17 joints, pooled over frames;
- "PA-MPJPE": similarity Procrustes with reflections allowed (the SVD solution without the sign fix), mean
  joint error, pooled over frames. Computed here as the better-fitting (larger-scale) of the reflection-free
  fits of P and of its mirror, which is the same least-squares optimum.

Kundu et al. (research/baselines.md 3.7): every predicted bone gets the ground-truth length (directions kept,
walking the tree from the root), then the usual P-MPJPE.
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
# ITES's 3DHP loader: H36M slot k <- 3DHP joint ITES_3DHP_JOINT_MAP[k] (left and right limbs exchanged; the
# name-consistent map is [14, 8, 9, 10, 11, 12, 13, 15, 1, 16, 0, 5, 6, 7, 2, 3, 4]).
ITES_3DHP_JOINT_MAP: tuple[int, ...] = (14, 11, 12, 13, 8, 9, 10, 15, 1, 16, 0, 2, 3, 4, 5, 6, 7)
# h36m-fetch (anibali/h36m-fetch process_all.py `select_frame_indices_to_include`): S9 and S11 keep frames 0, 64, 128, ...
H36M_FETCH_STRIDE = 64
_DEPTH_FLIP = np.array([1.0, 1.0, -1.0])[:, None, None]


def _mirror_fits(c: np.ndarray, g: np.ndarray) -> tuple[list[np.ndarray], list[tuple[np.ndarray, ...]]]:
    """A frames-last pose, its depth mirror, and each one's reflection-free similarity fit to g."""
    cands = [c, c * _DEPTH_FLIP]
    return cands, [similarity_fit(x, g) for x in cands]


def _residual(fit: tuple[np.ndarray, ...]) -> np.ndarray:
    p0, g0, r, scale = fit
    return np.einsum("ikn,kjn->ijn", r * scale, p0) - g0


def _per_frame_min(errs: list[np.ndarray]) -> np.ndarray:
    """Per-joint errors (J, n) of the candidate with the smaller per-frame mean (the first on ties)."""
    return np.where(errs[1].mean(axis=0) < errs[0].mean(axis=0), errs[1], errs[0])


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
        cands, fits = _mirror_fits(frames_last(pred[a:b], root), g)
        scale = np.maximum(fits[0][3], fits[1][3])  # sum of all singular values: the reflection-allowed scale
        chosen = {
            "mpjpe": _per_frame_min([joint_norms(scale * c - g) for c in cands]),
            "p_mpjpe": _per_frame_min([joint_norms(_residual(f)) for f in fits]),
        }
        for metric, err in chosen.items():
            values[metric][a:b] = err.mean(axis=0)
            sums[metric] += err.sum(axis=1)
        per_joint = np.minimum(*(joint_norms(c - g)[pck_joints] for c in cands))
        values["pck"][a:b] = 100.0 * (per_joint < PCK_THRESHOLD_MM).mean(axis=0)
        counts = at_or_below(per_joint, AUC_THRESHOLDS_MM)
        values["auc"][a:b] = auc_from_counts(counts, len(AUC_THRESHOLDS_MM))
        curve += pck_curve_counts(counts, len(AUC_THRESHOLDS_MM))
    pck_curve = 100.0 * curve / max(n * len(pck_joints), 1)
    return FrameMetrics(values=values, joint_error_sums=sums, pck_curve=pck_curve, n_frames=n)


def ites_3dhp_relabelling() -> np.ndarray:
    """Indices into MPI-INF-3DHP-17 that give each joint the label ITES's 3DHP loader gives it."""
    src = joint_set("mpi_inf_3dhp17")
    by_name = joint_set("h36m17").names
    perm = np.empty(len(src), dtype=np.int64)
    perm[[src.index[name] for name in by_name]] = ITES_3DHP_JOINT_MAP
    return perm


def h36m_fetch_frames(sample_id: np.ndarray) -> np.ndarray:
    """Indices of the H36M samples h36m-fetch keeps for the test subjects: frame numbers 0, 64, 128, ... of
    every subject/trial/camera sequence (both trials of every action, all four cameras)."""
    frame = np.char.rpartition(np.asarray(sample_id, dtype=str), "/")[:, 2].astype(np.int64)
    return np.flatnonzero(frame % H36M_FETCH_STRIDE == 0)


def elepose_frame_metrics(pred: np.ndarray, gt: np.ndarray, root: int, pck_joints: np.ndarray, seq_start: np.ndarray, chunk: int = CHUNK) -> FrameMetrics:
    """ElePose's rules per frame: norm-ratio-scaled MPJPE (as n_mpjpe) and reflection-allowed P-MPJPE."""
    del pck_joints, seq_start
    n, n_joints = gt.shape[0], gt.shape[1]
    values = {"n_mpjpe": np.empty(n), "p_mpjpe": np.empty(n)}
    sums = {"n_mpjpe": np.zeros(n_joints), "p_mpjpe": np.zeros(n_joints)}
    for a in range(0, n, chunk):
        b = min(a + chunk, n)
        g = frames_last(gt[a:b], root)
        p = frames_last(pred[a:b], root)
        pp = np.einsum("ijn,ijn->n", p, p)
        ratio = np.sqrt(np.divide(np.einsum("ijn,ijn->n", g, g), pp, out=np.zeros_like(pp), where=pp > 0))
        _, fits = _mirror_fits(p, g)
        best = np.where(fits[1][3] > fits[0][3], 1, 0)  # the larger trace is the least-squares optimum over O(3)
        residual = np.where(best == 1, _residual(fits[1]), _residual(fits[0]))
        for metric, err in (("n_mpjpe", joint_norms(ratio * p - g)), ("p_mpjpe", joint_norms(residual))):
            values[metric][a:b] = err.mean(axis=0)
            sums[metric] += err.sum(axis=1)
    return FrameMetrics(values=values, joint_error_sums=sums, pck_curve=np.zeros(len(AUC_THRESHOLDS_MM)), n_frames=n)


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

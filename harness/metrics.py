"""Per-frame pose errors in millimetres: MPJPE, N-MPJPE, P-MPJPE, 3D PCK, AUC, MPJVE and acceleration error.

Definitions (design.md section 5): both poses are root-centred before MPJPE, N-MPJPE, PCK, AUC and MPJVE;
P-MPJPE uses the per-frame similarity Procrustes with reflections forbidden; N-MPJPE fits the least-squares
scale on the root-centred poses; PCK counts joints with error strictly below 150 mm; AUC is the mean PCK over
the 31 thresholds 0, 5, ..., 150 mm. MPJVE at frame t compares the root-relative first differences (t-1, t);
the acceleration error (Kanazawa et al. 2019, as VIBE computes it) the second differences (t-2, t-1, t), and
is NaN where a frame has fewer than two predecessors in its sequence. Public functions take (N, J, 3) arrays and return one value per frame;
PCK and AUC are percentages. All arithmetic is float64 and vectorised over frames; `frame_metrics` computes
everything in one pass over cache-sized chunks held frames-last (3, J, n).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from harness.alignment import procrustes_residual, to_frames_last

PCK_THRESHOLD_MM = 150.0
AUC_THRESHOLDS_MM = np.arange(0.0, 151.0, 5.0)
FRAME_METRICS: tuple[str, ...] = ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve", "accel", "pck", "auc")
CHUNK = 2048  # frames per block: small enough that a block's temporaries stay in cache


def _root_relative(x: np.ndarray, root: int) -> np.ndarray:
    return x - x[:, root : root + 1, :]


def joint_norms(d: np.ndarray) -> np.ndarray:
    """Per-joint Euclidean norms (J, n) of a frames-last (3, J, n) array."""
    return np.sqrt(np.einsum("ijn,ijn->jn", d, d))


def _n_mpjpe_fl(p: np.ndarray, g: np.ndarray) -> np.ndarray:
    pp = np.einsum("ijn,ijn->n", p, p)
    scale = np.divide(np.einsum("ijn,ijn->n", p, g), pp, out=np.zeros_like(pp), where=pp > 0)
    return joint_norms(scale * p - g).mean(axis=0)


def _pck_fl(err: np.ndarray, threshold: float) -> np.ndarray:
    return 100.0 * (err < threshold).mean(axis=0)


def at_or_below(err: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """For each error, how many thresholds are <= it (so len - that many are strictly above it)."""
    return np.searchsorted(thresholds, err, side="right")


def auc_from_counts(at_or_below: np.ndarray, n_thresholds: int) -> np.ndarray:
    return 100.0 * (n_thresholds - at_or_below).mean(axis=0) / n_thresholds


def pck_curve_counts(at_or_below: np.ndarray, n_thresholds: int) -> np.ndarray:
    """For each threshold, how many of the errors lie strictly below it."""
    return np.cumsum(np.bincount(at_or_below.ravel(), minlength=n_thresholds + 1))[:n_thresholds]


def _velocity_fl(d: np.ndarray, seq_start: np.ndarray, d_before: np.ndarray | None) -> np.ndarray:
    """Velocity error from position differences d (3, J, n); `d_before` (3, J) precedes d's first frame."""
    dv = np.empty_like(d)
    dv[:, :, 1:] = d[:, :, 1:] - d[:, :, :-1]
    dv[:, :, 0] = d[:, :, 0] - (d[:, :, 0] if d_before is None else d_before)
    out = joint_norms(dv).mean(axis=0)
    out[seq_start] = np.nan
    if d_before is None:
        out[0] = np.nan
    return out


def _accel_fl(d: np.ndarray, seq_start: np.ndarray, d_before: np.ndarray, start_before: np.ndarray) -> np.ndarray:
    """Acceleration error from position differences d (3, J, n); `d_before` (3, J, k <= 2) and `start_before`
    (k,) are the frames (and their sequence-start flags) just before d's first frame."""
    ext = np.concatenate([d_before, d], axis=2)
    starts = np.concatenate([start_before, seq_start])
    out = np.full(d.shape[2], np.nan)
    if ext.shape[2] > 2:
        values = joint_norms(ext[:, :, 2:] - 2 * ext[:, :, 1:-1] + ext[:, :, :-2]).mean(axis=0)
        values[starts[2:] | starts[1:-1]] = np.nan  # frame t needs t-1 and t-2 in its own sequence
        out[2 - d_before.shape[2] :] = values
    return out


def frames_last(poses: np.ndarray, root: int | None) -> np.ndarray:
    """(N, J, 3) poses as float64 (3, J, N), root-centred unless `root` is None."""
    x = to_frames_last(poses)
    return x if root is None else _root_relative(x, root)


def joint_errors(pred: np.ndarray, gt: np.ndarray, root: int = 0) -> np.ndarray:
    """Euclidean error of every joint after root-centring both poses, shape (N, J)."""
    return joint_norms(frames_last(pred, root) - frames_last(gt, root)).T


def mpjpe(pred: np.ndarray, gt: np.ndarray, root: int = 0) -> np.ndarray:
    """Mean per-joint position error per frame, both poses root-centred."""
    return joint_errors(pred, gt, root).mean(axis=1)


def n_mpjpe(pred: np.ndarray, gt: np.ndarray, root: int = 0) -> np.ndarray:
    """MPJPE after the per-frame least-squares scale of the root-centred prediction."""
    return _n_mpjpe_fl(frames_last(pred, root), frames_last(gt, root))


def _aligned_errors(pred: np.ndarray, gt: np.ndarray, chunk: int) -> Iterator[tuple[slice, np.ndarray]]:
    """Per-joint errors (J, n) after similarity alignment, one block of frames at a time."""
    for a in range(0, len(gt), chunk):
        block = slice(a, a + chunk)
        yield block, joint_norms(procrustes_residual(frames_last(pred[block], None), frames_last(gt[block], None)))


def p_mpjpe_joint_errors(pred: np.ndarray, gt: np.ndarray, chunk: int = CHUNK) -> np.ndarray:
    """Per-joint errors (N, J) after per-frame similarity alignment (reflections forbidden)."""
    out = np.empty(gt.shape[:2], dtype=np.float64)
    for block, err in _aligned_errors(pred, gt, chunk):
        out[block] = err.T
    return out


def p_mpjpe(pred: np.ndarray, gt: np.ndarray, chunk: int = CHUNK) -> np.ndarray:
    """Procrustes-aligned MPJPE per frame."""
    out = np.empty(len(gt), dtype=np.float64)
    for block, err in _aligned_errors(pred, gt, chunk):
        out[block] = err.mean(axis=0)
    return out


def pck(errors: np.ndarray, threshold: float = PCK_THRESHOLD_MM) -> np.ndarray:
    """Percentage of joints per frame whose error is strictly below `threshold`; errors (N, J)."""
    return _pck_fl(np.asarray(errors, dtype=np.float64).T, threshold)


def auc(errors: np.ndarray, thresholds: np.ndarray = AUC_THRESHOLDS_MM) -> np.ndarray:
    """Mean PCK over `thresholds` (ascending; equal weights, the 0 mm point included) per frame, in percent."""
    if np.any(np.diff(thresholds) <= 0):
        raise ValueError("auc: thresholds must be strictly increasing")
    return auc_from_counts(at_or_below(np.asarray(errors, dtype=np.float64).T, thresholds), len(thresholds))


def mpjve(pred: np.ndarray, gt: np.ndarray, seq_start: np.ndarray, root: int = 0) -> np.ndarray:
    """Mean per-joint velocity error per frame (mm per frame), NaN on the first frame of each sequence.

    `seq_start` marks frames that begin a sequence; frames in a sequence must be consecutive and in order.
    """
    return _velocity_fl(frames_last(pred, root) - frames_last(gt, root), np.asarray(seq_start, dtype=bool), None)


def accel_error(pred: np.ndarray, gt: np.ndarray, seq_start: np.ndarray, root: int = 0) -> np.ndarray:
    """Mean per-joint acceleration error per frame (mm per frame^2): the norm of the difference between the
    root-relative second differences (t-2, t-1, t) of prediction and GT; NaN on each sequence's first two frames."""
    d = frames_last(pred, root) - frames_last(gt, root)
    return _accel_fl(d, np.asarray(seq_start, dtype=bool), d[:, :, :0], np.zeros(0, dtype=bool))


@dataclass
class FrameMetrics:
    """Per-frame values of every metric and per-joint error sums, for one prediction against one GT."""

    values: dict[str, np.ndarray]  # metric -> (N,) per frame; mpjve and accel are NaN on sequence starts
    joint_error_sums: dict[str, np.ndarray]  # "mpjpe" / "p_mpjpe" -> (J,) sums over frames, mm
    pck_curve: np.ndarray  # (len(AUC_THRESHOLDS_MM),) pooled PCK in percent at each threshold
    n_frames: int


def frame_metrics(
    pred: np.ndarray,
    gt: np.ndarray,
    root: int,
    pck_joints: np.ndarray,
    seq_start: np.ndarray,
    chunk: int = CHUNK,
) -> FrameMetrics:
    """All metrics in one cache-friendly pass over frame chunks (a loop over chunks, never over frames)."""
    n, n_joints = gt.shape[0], gt.shape[1]
    values = {m: np.empty(n, dtype=np.float64) for m in FRAME_METRICS}
    sums = {"mpjpe": np.zeros(n_joints), "p_mpjpe": np.zeros(n_joints)}
    seq_start = np.asarray(seq_start, dtype=bool)
    curve = np.zeros(len(AUC_THRESHOLDS_MM), dtype=np.int64)
    d_last: np.ndarray | None = None
    d_tail, start_tail = np.empty((3, n_joints, 0)), np.zeros(0, dtype=bool)  # the previous chunk's last 2 frames
    for a in range(0, n, chunk):
        b = min(a + chunk, n)
        p = frames_last(pred[a:b], root)
        g = frames_last(gt[a:b], root)
        d = p - g
        err = joint_norms(d)
        values["mpjpe"][a:b] = err.mean(axis=0)
        sums["mpjpe"] += err.sum(axis=1)
        values["pck"][a:b] = _pck_fl(err[pck_joints], PCK_THRESHOLD_MM)
        counts = at_or_below(err[pck_joints], AUC_THRESHOLDS_MM)
        values["auc"][a:b] = auc_from_counts(counts, len(AUC_THRESHOLDS_MM))
        curve += pck_curve_counts(counts, len(AUC_THRESHOLDS_MM))
        values["n_mpjpe"][a:b] = _n_mpjpe_fl(p, g)
        perr = joint_norms(procrustes_residual(p, g))
        values["p_mpjpe"][a:b] = perr.mean(axis=0)
        sums["p_mpjpe"] += perr.sum(axis=1)
        values["mpjve"][a:b] = _velocity_fl(d, seq_start[a:b], d_last)
        values["accel"][a:b] = _accel_fl(d, seq_start[a:b], d_tail, start_tail)
        d_last = d[:, :, -1]
        d_tail = np.concatenate([d_tail, d[:, :, -2:]], axis=2)[:, :, -2:]
        start_tail = np.concatenate([start_tail, seq_start[a:b][-2:]])[-2:]
    pck_curve = 100.0 * curve / max(n * len(pck_joints), 1)
    return FrameMetrics(values=values, joint_error_sums=sums, pck_curve=pck_curve, n_frames=n)

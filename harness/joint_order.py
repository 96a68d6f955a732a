"""Likely joint-order mistakes in a submission: left and right exchanged, or joints in another set's order.

The test compares the pooled centroid-centred MPJPE of the predictions as labelled with their MPJPE under the
relabelling that fits the ground truth best. Two relabellings are tried: exchanging every left joint with its
right twin, and the assignment of predicted to ground-truth joints with the least total mean distance (the
Hungarian algorithm on the matrix of mean centroid-centred distances between every predicted and every true
joint). Centroid-centred MPJPE (the centroid does not depend on the labels), without rotation, is the statistic because it tells a relabelling from a mirror
image: a depth-flipped pose (depth negated about the root) gains nothing from exchanging left and right,
whereas under Procrustes alignment, which may rotate but not reflect, the two mistakes look alike.

A warning is raised when the best relabelling divides the error by at least 1.75 and saves at least 20 mm.
Measured on the three demo test sets with 40 mm of noise per coordinate: a left/right exchange scores 5.7-6.5
times its relabelled error and a random permutation 7.7-10.6 times; correct labels, depth-flipped poses,
half-scale poses and the mean pose score 1.00-1.01, a whole-body 180-degree turn at most 1.5 (at 150 mm of
noise an exchange still scores 1.9-2.1). Scoring is unchanged: the warning names the joints and leaves the
decision to the submitter. tests/test_joint_order.py holds these cases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from harness.skeletons import joint_set

MAX_FRAMES = 4096  # evenly spaced frames the test looks at: enough for a stable mean, fast on any test set
MIN_RATIO = 1.75  # error as labelled / error relabelled
MIN_SAVING_MM = 20.0


@dataclass(frozen=True)
class Relabelling:
    """A likely labelling mistake: the relabelled order, the errors before and after, what to tell the user."""

    permutation: np.ndarray  # prediction joint permutation[k] is taken as ground-truth joint k
    error_as_labelled: float
    error_relabelled: float
    kind: str  # "left-right" or "permutation"
    joints: list[str]  # the joints whose label changes, in the joint set's order
    message: str


def _sample(n: int) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, min(n, MAX_FRAMES)).round().astype(np.intp)) if n else np.zeros(0, np.intp)


def _pooled_error(pred: np.ndarray, gt: np.ndarray, perm: np.ndarray) -> float:
    return float(np.linalg.norm(pred[:, perm] - gt, axis=-1).mean())


def best_relabelling(pred: np.ndarray, gt: np.ndarray, joints: str) -> tuple[np.ndarray, float, float]:
    """The relabelling (left/right exchange or optimal assignment) with the least centroid-centred MPJPE on a
    sample of frames: (permutation, error as labelled, error relabelled) in mm."""
    js = joint_set(joints)
    idx = _sample(len(gt))
    p = pred[idx].astype(np.float64)
    g = gt[idx].astype(np.float64)
    p -= p.mean(axis=1, keepdims=True)  # the centroid, unlike the root, is the same whatever the labels
    g -= g.mean(axis=1, keepdims=True)
    identity = np.arange(len(js))
    # cost[k, j]: mean distance between true joint k and predicted joint j, over the sampled frames
    cost = np.linalg.norm(g[:, :, None, :] - p[:, None, :, :], axis=-1).mean(axis=0)
    _, assignment = linear_sum_assignment(cost)
    candidates = [js.flip_permutation(), assignment]
    errors = [_pooled_error(p, g, perm) for perm in candidates]
    best = int(np.argmin(errors))
    return candidates[best], _pooled_error(p, g, identity), errors[best]


def _describe(js_name: str, perm: np.ndarray) -> tuple[str, list[str], str]:
    js = joint_set(js_name)
    changed = [k for k in range(len(js)) if perm[k] != k]
    names = [js.names[k] for k in changed]
    if np.array_equal(perm, js.flip_permutation()) or all(perm[k] == js.flip_permutation()[k] for k in changed):
        pairs = sorted({tuple(sorted((js.names[k], js.names[perm[k]]))) for k in changed})
        return "left-right", names, "left and right look exchanged (" + ", ".join(f"{a}<->{b}" for a, b in pairs) + ")"
    shown = ", ".join(f"{js.names[perm[k]]} -> {js.names[k]}" for k in changed[:8])
    more = f" and {len(changed) - 8} more" if len(changed) > 8 else ""
    return "permutation", names, f"the joints look permuted (as labelled -> where it fits: {shown}{more})"


def check_joint_order(pred: np.ndarray, gt: np.ndarray, joints: str) -> Relabelling | None:
    """A likely labelling mistake in predictions `pred` (N, J, 3, mm) against `gt` on joint set `joints`, or None."""
    if len(gt) == 0:
        return None
    perm, as_labelled, relabelled = best_relabelling(pred, gt, joints)
    if as_labelled < MIN_RATIO * relabelled or as_labelled - relabelled < MIN_SAVING_MM:
        return None
    kind, names, what = _describe(joints, perm)
    message = (
        f"{what}: MPJPE (centroid-centred) {as_labelled:.1f} mm as labelled, {relabelled:.1f} mm relabelled, "
        f"on {min(len(gt), MAX_FRAMES)} frames; scored as labelled: check the joint order (`harness list joints`)"
    )
    return Relabelling(perm, as_labelled, relabelled, kind, names, message)

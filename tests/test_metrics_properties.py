"""Property-based (hypothesis) invariances of the per-frame metrics: P-MPJPE under similarity transforms and
reflections, N-MPJPE under positive scale, MPJPE under translation, and the RMS ordering of the fits; checked
against the independent references in `tests.metric_refs`. Examples are derandomised (see `HYP`).
"""

from __future__ import annotations

import os

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from harness.metrics import joint_errors, mpjpe, n_mpjpe, p_mpjpe, p_mpjpe_joint_errors
from tests.metric_refs import ref_joint_errors, ref_n_mpjpe, ref_p_mpjpe
from tests.reference import quat_to_matrix


# ---------------------------------------------------------------------------------------------------------
# Hypothesis: invariances
# ---------------------------------------------------------------------------------------------------------

COORD = st.floats(-1000.0, 1000.0, allow_nan=False, allow_infinity=False)
# coordinates and shifts on a 1/64 mm grid: sums are exact, so translation tests are not about float absorption
GRID = st.integers(-64_000, 64_000).map(lambda v: v / 64.0)
GRID_TRANS = hnp.arrays(np.float64, (3,), elements=st.integers(-640_000, 640_000).map(lambda v: v / 64.0))


def _pose(j: int):
    return hnp.arrays(np.float64, (j, 3), elements=COORD)


PAIR = st.integers(4, 12).flatmap(lambda j: st.tuples(_pose(j), _pose(j)))
POSE = st.integers(4, 12).flatmap(_pose)
QUAT = st.tuples(*[st.floats(-1.0, 1.0)] * 4).filter(lambda q: np.linalg.norm(q) > 0.1)
SCALE = st.floats(0.1, 10.0)
TRANS = hnp.arrays(np.float64, (3,), elements=st.floats(-1e4, 1e4))
# POSEBENCH_HYPOTHESIS_EXAMPLES raises the example count for a long hunt; the default keeps the file fast
# Derandomised: the same examples on every machine and run, so a verdict never depends on the draw (a random
# draw filtered too many poses as degenerate about one run in six and failed the health check).
HYP = settings(
    max_examples=int(os.environ.get("POSEBENCH_HYPOTHESIS_EXAMPLES", "60")), deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.filter_too_much],
)


def _well_spread(x: np.ndarray) -> bool:
    """Not (nearly) collinear or planar, not tiny."""
    s = np.linalg.svd(x - x.mean(axis=0), compute_uv=False)
    return s[0] > 10.0 and s[2] > 0.05 * s[0]


def _unique_optimum(pred: np.ndarray, gt: np.ndarray) -> bool:
    """The optimal rotation is well separated from the runner-up (no near-tie on the reflection branch)."""
    m = (pred - pred.mean(0)).T @ (gt - gt.mean(0))
    u, s, vt = np.linalg.svd(m)
    s3 = s[2] * np.sign(np.linalg.det(u @ vt))
    return s[1] + s3 > 1e-3 * s[0]


@HYP
@given(PAIR, QUAT, SCALE, TRANS)
def test_hyp_p_mpjpe_invariant_to_similarity_of_prediction(pair, q, s, t):
    pred, gt = pair
    assume(_well_spread(pred) and _well_spread(gt) and _unique_optimum(pred, gt))
    moved = s * pred @ quat_to_matrix(q).T + t
    a = p_mpjpe(pred[None], gt[None])[0]
    b = p_mpjpe(moved[None], gt[None])[0]
    # 1e-6 relative, plus 1e-6 mm absolute for a ~ 0 (the closed form is accurate to ~1e-10 of the pose size)
    assert abs(a - b) <= 1e-6 * a + 1e-6
    np.testing.assert_allclose(b, ref_p_mpjpe(moved[None], gt[None])[0], rtol=1e-6, atol=1e-6)


@HYP
@given(POSE, QUAT, SCALE, TRANS)
def test_hyp_p_mpjpe_zero_for_similarity_of_gt(gt, q, s, t):
    assume(_well_spread(gt))
    pred = s * gt @ quat_to_matrix(q).T + t
    assert p_mpjpe(pred[None], gt[None])[0] < 1e-6


@HYP
@given(POSE, st.sampled_from([0, 1, 2]))
def test_hyp_reflection_not_absorbed(gt, axis):
    assume(_well_spread(gt))
    flip = np.ones(3)
    flip[axis] = -1.0
    mirrored = gt * flip
    # a mirror image that is also a rotated copy (a symmetric pose) would legitimately align; skip those
    ref = ref_p_mpjpe(mirrored[None], gt[None])[0]
    assume(ref > 1e-3 * np.linalg.svd(gt - gt.mean(0), compute_uv=False)[0])
    assume(_unique_optimum(mirrored, gt))
    out = p_mpjpe(mirrored[None], gt[None])[0]
    assert out > 0.0
    np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-6)


@HYP
@given(PAIR, st.floats(1e-3, 1e3), st.integers(0, 3))
def test_hyp_n_mpjpe_invariant_to_positive_scale(pair, k, root):
    pred, gt = pair
    assume(np.abs(pred - pred[root]).max() > 1.0)
    a = n_mpjpe(pred[None], gt[None], root=root)[0]
    b = n_mpjpe(k * pred[None], gt[None], root=root)[0]
    assert abs(a - b) <= 1e-9 * max(a, 1.0)
    np.testing.assert_allclose(a, ref_n_mpjpe(pred[None], gt[None], root)[0], rtol=1e-9, atol=1e-9)


GRID_PAIR = st.integers(4, 12).flatmap(
    lambda j: st.tuples(hnp.arrays(np.float64, (j, 3), elements=GRID), hnp.arrays(np.float64, (j, 3), elements=GRID))
)


@HYP
@given(GRID_PAIR, GRID_TRANS, GRID_TRANS, st.integers(0, 3))
def test_hyp_mpjpe_invariant_to_translation(pair, t1, t2, root):
    pred, gt = pair
    a = mpjpe(pred[None], gt[None], root=root)[0]
    assert abs(mpjpe((pred + t1)[None], gt[None], root=root)[0] - a) <= 1e-9 * max(a, 1.0)
    assert abs(mpjpe(pred[None], (gt + t2)[None], root=root)[0] - a) <= 1e-9 * max(a, 1.0)
    assert abs(n_mpjpe((pred + t1)[None], (gt + t2)[None], root=root)[0]
               - n_mpjpe(pred[None], gt[None], root=root)[0]) <= 1e-9 * max(a, 1.0)
    np.testing.assert_allclose(a, ref_joint_errors(pred[None], gt[None], root).mean(), rtol=1e-12, atol=1e-12)


@HYP
@given(PAIR)
def test_hyp_rms_ordering(pair):
    pred, gt = pair
    assume(_well_spread(pred) and _well_spread(gt))
    raw = joint_errors(pred[None], gt[None])[0]
    pa = p_mpjpe_joint_errors(pred[None], gt[None])[0]
    # the closed-form rotation is accurate to ~1e-10 relative (its orthogonality tolerance), so allow that
    # much of the pose size on top of the exact inequalities
    tol = 1e-9 * max(np.abs(gt - gt.mean(0)).max(), np.abs(pred - pred.mean(0)).max())
    # similarity fit minimises the sum of squares, the identity transform is one candidate
    assert np.sqrt((pa**2).sum()) <= np.sqrt((raw**2).sum()) * (1 + 1e-9) + tol
    # mean of norms <= RMS
    assert pa.mean() <= np.sqrt((raw**2).mean()) * (1 + 1e-9) + tol

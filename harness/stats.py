"""Aggregation of per-take sums and seeded bootstrap confidence intervals over takes.

Frames of one recorded take (all cameras that saw it) are not independent, so intervals resample whole
takes with replacement. `action-mean` resamples takes within each action (stratified), so every
resample still has every action. A paired difference of two submissions on the same frames is the same
computation on the difference of their per-take sums.
"""

from __future__ import annotations

import numpy as np

N_BOOTSTRAP = 2000
SEED = 20261121


def aggregate(sums: np.ndarray, counts: np.ndarray, groups: np.ndarray | None) -> float:
    """Pooled mean (groups None) or unweighted mean of per-group pooled means."""
    sums = np.asarray(sums, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.float64)
    if groups is None:
        return float(sums.sum() / counts.sum())
    labels, inverse = np.unique(groups, return_inverse=True)
    g_sums = np.bincount(inverse, weights=sums, minlength=len(labels))
    g_counts = np.bincount(inverse, weights=counts, minlength=len(labels))
    keep = g_counts > 0
    return float(np.mean(g_sums[keep] / g_counts[keep]))


def bootstrap_ci(
    sums: np.ndarray,
    counts: np.ndarray,
    groups: np.ndarray | None,
    n_boot: int = N_BOOTSTRAP,
    seed: int = SEED,
) -> tuple[float, float]:
    """95% percentile interval of `aggregate` under resampling of takes (within groups when given)."""
    sums = np.asarray(sums, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.float64)
    rng = np.random.default_rng(seed)
    has_frames = counts > 0  # takes without a single counted frame carry no information
    labels = np.zeros(len(sums), dtype=int) if groups is None else np.asarray(groups)
    strata = [np.flatnonzero((labels == label) & has_frames) for label in np.unique(labels[has_frames])]
    if groups is not None and len(strata) > 1 and all(len(idx) == 1 for idx in strata):
        # One take per group (3DHP's sequence-mean): resample the takes themselves, average their means.
        idx = np.concatenate(strata)
        weights = rng.multinomial(len(idx), np.full(len(idx), 1.0 / len(idx)), size=n_boot).astype(np.float64)
        values = weights @ (sums[idx] / counts[idx]) / len(idx)
    else:
        means = []
        for idx in strata:
            weights = rng.multinomial(len(idx), np.full(len(idx), 1.0 / len(idx)), size=n_boot).astype(np.float64)
            means.append((weights @ sums[idx]) / (weights @ counts[idx]))
        values = np.mean(means, axis=0)
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)

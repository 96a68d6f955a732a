"""Score a baseline's predictions on the harness, exactly as a submission file would be scored."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from harness.config import DatasetsConfig
from harness.datasets.base import TestSet
from harness.evaluate import evaluate_loaded
from harness.results import ResultFile
from harness.submission import Submission, from_predictions


def as_submission(label: str, test: TestSet, pred_mm: np.ndarray, joints: str, meta: dict) -> Submission:
    """Predictions (N, J, 3) in mm on `joints`, one per test sample, as an in-memory submission."""
    sub = from_predictions(label, test, pred_mm.astype(np.float32), meta)
    sub.joint_set = joints
    return sub


def score(sub: Submission, test: TestSet, config: DatasetsConfig, benchmarks: Sequence[str] = ()) -> ResultFile:
    return evaluate_loaded(sub, config, benchmarks, with_ci=False, loaded=test)


def headline(result: ResultFile, benchmark: str, aggregation: str = "frame-mean") -> dict[str, float]:
    """metric -> value of one benchmark and aggregation."""
    return {r.metric: r.value for r in result.results if r.benchmark == benchmark and r.aggregation == aggregation}

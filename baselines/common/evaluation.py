"""Score a baseline's predictions on the harness, exactly as a submission file would be scored."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from baselines.common.config import test_scale
from baselines.common.data import HEAD, PoseSplit
from harness.config import DatasetsConfig
from harness.datasets.base import TestSet
from harness.evaluate import evaluate_loaded
from harness.results import ResultFile
from harness.submission import Submission, from_predictions


def as_submission(label: str, test: TestSet, pred_mm: np.ndarray, joints: str, meta: dict) -> Submission:
    """Predictions (N, J, 3) in mm on `joints`, one per test sample, as an in-memory submission."""
    return from_predictions(label, test, pred_mm.astype(np.float32), meta, joints)


def score(sub: Submission, test: TestSet, config: DatasetsConfig, benchmarks: Sequence[str] = ()) -> ResultFile:
    return evaluate_loaded(sub, config, benchmarks, with_ci=False, loaded=test)


def headline(result: ResultFile, benchmark: str, aggregation: str = "frame-mean") -> dict[str, float]:
    """metric -> value of one benchmark and aggregation."""
    return {r.metric: r.value for r in result.results if r.benchmark == benchmark and r.aggregation == aggregation}


def epoch_scorer(test: PoseSplit, config: DatasetsConfig, label: str, predict_mm: Callable[[Any, torch.Tensor], np.ndarray]) -> Callable[[Any, int], dict[str, float]]:
    """`fit`'s `on_epoch_end` for `eval_every_epoch`: the test split's MPJPE and P-MPJPE on the harness (its
    dataset's standard benchmark) of `predict_mm(model, normalised 2D)`, poses in mm, H36M-17."""
    dataset = test.test.dataset

    def on_epoch_end(model: Any, epoch: int) -> dict[str, float]:
        sub = as_submission("epoch", test.test, predict_mm(model, test.tensor()), "h36m17", {"name": f"{label} (training)"})
        values = headline(score(sub, test.test, config, [dataset]), dataset)
        return {f"test_{k}": round(v, 2) for k, v in values.items() if k in ("mpjpe", "p_mpjpe")}

    return on_epoch_end


def mm_per_unit(poses: torch.Tensor, pelvis_head_mm: float) -> float:
    """Lifters without metric scale get one factor per model: the median pelvis-to-head (joint 10) length of
    their root-relative predictions `poses` (N, 17, 3) becomes the prior `pelvis_head_mm`."""
    return pelvis_head_mm / float(torch.linalg.vector_norm(poses[:, HEAD] - poses[:, 0], dim=-1).median())


class SplitPredictor:
    """What a trained baseline offers `harness baseline predict`: millimetre poses for a normalised split."""

    cfg: Any
    scale_2d: float

    def predict_array(self, kp2d: np.ndarray, stage: str) -> np.ndarray:
        """Normalised H36M-17 2D (N, 17, 2) -> (N, 17, 3) poses in mm, root at the origin."""
        raise NotImplementedError

    def training_meta(self) -> dict[str, str]:
        """The result's supervision and training-data fields: what this run learnt from."""
        d = self.cfg.data
        return {"training_data": f"{d.dataset} train split, {d.source} 2D, no 3D; config {self.cfg.name}"}

    def predict(self, split: PoseSplit, stage: str) -> np.ndarray:
        return self.predict_array(split.kp2d, stage)

    def test_scale(self, dataset: str) -> float | None:
        return test_scale(self.cfg.data, self.scale_2d, dataset)

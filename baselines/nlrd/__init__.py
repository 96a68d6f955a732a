"""NLRD-2D: Kundu et al.'s non-local latent relation distillation (NeurIPS 2021) run from 2D keypoints
(baselines.md section 3.6; README.md lists every difference from the paper).

As a model entrypoint for `harness evaluate --model` (frame-wise at inference; the motion relations act in
training):

    harness evaluate --model baselines.nlrd:entrypoint --option checkpoint=runs/.../nlrd.pt --dataset h36m --input-2d gt
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

POSEBENCH_META = {
    "name": "NLRD-2D (PoseBench 2D-keypoint variant of Kundu et al.)",
    "paper": "Kundu et al., Non-Local Latent Relation Distillation for Self-Adaptive 3D Human Pose Estimation, NeurIPS 2021",
    "supervision": "unsupervised",
}


def entrypoint(checkpoint: str, stage: str | None = None, device: str = "cpu") -> Callable[..., np.ndarray]:
    """A callable lifting one sequence at a time (stage: the final network unless named) with a trained NLRD-2D run (`nlrd.pt`)."""
    from baselines.common.entrypoint import sequence_model
    from baselines.nlrd.train import DEFAULT_STAGE, Trained

    return sequence_model(Trained, checkpoint, stage or DEFAULT_STAGE, device)

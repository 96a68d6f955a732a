"""PoseNet3D (Tripathi, Ranade, Tyagi, Agrawal, 3DV 2020), reconstructed: no official code exists (README.md).

As a model entrypoint for `harness evaluate --model` (frame-wise at inference; temporal terms act in training):

    harness evaluate --model baselines.posenet3d:entrypoint --option checkpoint=runs/.../posenet3d.pt --dataset h36m --input-2d gt
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

POSEBENCH_META = {
    "name": "PoseNet3D (PoseBench reconstruction)",
    "paper": "Tripathi et al., PoseNet3D: Learning Temporally Consistent 3D Human Pose via Knowledge Distillation, 3DV 2020",
    "supervision": "unsupervised",
}


def entrypoint(checkpoint: str, stage: str | None = None, device: str = "cpu") -> Callable[..., np.ndarray]:
    """A callable lifting one sequence at a time (stage: the final network unless named) with a trained PoseNet3D run (`posenet3d.pt`)."""
    from baselines.common.entrypoint import sequence_model
    from baselines.posenet3d.train import DEFAULT_STAGE, Trained

    return sequence_model(Trained, checkpoint, stage or DEFAULT_STAGE, device)

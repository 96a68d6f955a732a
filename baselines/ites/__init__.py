"""ITES (Xu, Chen, Li, Zhang, AAAI 2021): invariant teacher, equivariant student.

As a model entrypoint for `harness evaluate --model`:

    harness evaluate --model baselines.ites:entrypoint --option checkpoint=runs/ites/ites.pt --dataset h36m --input-2d gt
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

POSEBENCH_META = {
    "name": "ITES (PoseBench reimplementation)",
    "paper": "Xu et al., Invariant Teacher and Equivariant Student for Unsupervised 3D Human Pose Estimation, AAAI 2021",
    "supervision": "unsupervised",
}


def entrypoint(checkpoint: str, stage: str | None = None, device: str = "cpu") -> Callable[..., np.ndarray]:
    """A callable lifting one sequence at a time (stage: the final network unless named) with a trained ITES run (`ites.pt`)."""
    from baselines.common.entrypoint import sequence_model
    from baselines.ites.train import DEFAULT_STAGE, Trained

    return sequence_model(Trained, checkpoint, stage or DEFAULT_STAGE, device)

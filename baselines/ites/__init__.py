"""ITES (Xu, Chen, Li, Zhang, AAAI 2021): invariant teacher, equivariant student.

As a model entrypoint for `harness evaluate --model`:

    harness evaluate --model baselines.ites:entrypoint --option checkpoint=runs/ites/ites.pt --dataset h36m --input-2d gt
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

POSEBENCH_META = {
    "name": "ITES (PoseBench reimplementation)",
    "paper": "Xu et al., Invariant Teacher and Equivariant Student for Unsupervised 3D Human Pose Estimation, AAAI 2021",
    "supervision": "unsupervised",
}


def entrypoint(checkpoint: str, stage: str = "student", device: str = "cpu") -> Callable[..., np.ndarray]:
    """A callable lifting one sequence at a time with a trained ITES run (`ites.pt`).

    Sequences in the training data's joint set (H36M-17) use the training split's 2D scale; any other
    dataset's sequences are scaled on their own, as the original code scales each test split."""
    import torch

    from baselines.common.data import normalise_2d, to_h36m17
    from baselines.ites.train import Trained
    from harness.skeletons import H36M17, joint_map

    trained = Trained.load(Path(checkpoint), device)
    torch.set_grad_enabled(False)

    def model(keypoints_2d: np.ndarray, intrinsics: dict, joint_set: str, sequence_id: str) -> np.ndarray:
        focal = np.broadcast_to(np.asarray(intrinsics["f"], dtype=np.float64), (len(keypoints_2d), 2)) if "f" in intrinsics else None
        scale = trained.scale_2d if joint_set == H36M17.name else None
        kp, _ = normalise_2d(to_h36m17(keypoints_2d, joint_set), focal, scale)
        return trained.predict_array(kp, stage)[:, joint_map(H36M17, joint_set)]

    return model

"""A trained baseline as a model entrypoint for `harness evaluate --model`: one sequence at a time, pixels in,
millimetres out, in the joint set the harness asks for."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def sequence_model(trained_cls: Any, checkpoint: str, stage: str, device: str) -> Callable[..., np.ndarray]:
    """Sequences in the training data's joint set (H36M-17) follow the rule `predict` follows: the training
    split's 2D scale, unless `scale_from: split`. Those, and any other dataset's sequences, are scaled on their
    own (a model sees one sequence at a time, never the whole split)."""
    import torch

    from baselines.common.data import normalise_2d, to_h36m17
    from harness.skeletons import H36M17, joint_map

    trained = trained_cls.load(Path(checkpoint), device)
    if stage not in trained.mm_per_unit:
        raise ValueError(f"stage {stage!r}: {checkpoint} has the stages {', '.join(trained.mm_per_unit)}")
    torch.set_grad_enabled(False)

    def model(keypoints_2d: np.ndarray, intrinsics: dict, joint_set: str, sequence_id: str) -> np.ndarray:
        focal = np.broadcast_to(np.asarray(intrinsics["f"], dtype=np.float64), (len(keypoints_2d), 2)) if "f" in intrinsics else None
        scale = trained.test_scale(trained.cfg.data.dataset) if joint_set == H36M17.name else None
        kp, _ = normalise_2d(to_h36m17(keypoints_2d, joint_set), focal, scale, trained.cfg.data.head_distance)
        return trained.predict_array(kp, stage)[:, joint_map(H36M17, joint_set)]

    model.posebench_meta = trained.training_meta()  # read by the harness after the module's POSEBENCH_META
    return model

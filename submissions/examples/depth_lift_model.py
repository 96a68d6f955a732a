"""A complete, deliberately naive model entrypoint: back-project the 2D keypoints to a fixed depth.

    harness evaluate --model submissions/examples/depth_lift_model.py:make --dataset h36m --input-2d gt

It shows the contract, not a method: `make()` is called once and returns a callable that takes one sequence
at a time and returns camera-frame 3D joints in mm.
"""

import numpy as np

# Goes into the result exactly like a submission file's `meta` (a --meta YAML overrides it).
POSEBENCH_META = {
    "name": "Fixed-depth back-projection (example)",
    "supervision": "unsupervised",
    "training_data": "none",
}
DEPTH_MM = 4500.0


def make():
    def model(keypoints_2d: np.ndarray, intrinsics: dict, joint_set: str, sequence_id: str) -> np.ndarray:
        """(T, J, 2) pixels -> (T, J, 3) mm in camera coordinates."""
        f = np.asarray(intrinsics["f"], dtype=np.float64)
        c = np.asarray(intrinsics["c"], dtype=np.float64)
        xy = (keypoints_2d - c) / f * DEPTH_MM
        depth = np.full(keypoints_2d.shape[:-1] + (1,), DEPTH_MM)
        return np.concatenate([xy, depth], axis=-1)

    return model

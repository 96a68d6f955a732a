"""Rebuild the example submissions for the demo data (maintainer script).

    harness demo && python submissions/examples/make_examples.py

- demo_gt_noise.npz: the ground truth plus N(0, 15 mm) per coordinate: a sanity check whose MPJPE is known in
  advance. After root-centring both poses each non-root joint's error is a 3-D Gaussian of variance 2 x 15^2,
  whose mean norm is 15 sqrt(2) 2 sqrt(2/pi); the root's error is 0: 16/17 of that, 31.9 mm.
- demo_mean_pose.npz: the mean root-relative training pose (S1, S5, S6, S7, S8; all cameras), predicted
  for every test frame: the floor any method must beat.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from harness.config import load_config
from harness.datasets import load_dataset

HERE = Path(__file__).parent
NOISE_MM = 15.0
SEED = 7


def _write(path: Path, ids: np.ndarray, pose3d: np.ndarray, meta: dict) -> None:
    np.savez_compressed(
        path, pose3d=pose3d.astype(np.float32), sample_id=ids, dataset=np.array("h36m"), units=np.array("mm"),
        joint_set=np.array("h36m17"), meta=np.array(json.dumps(meta)),
    )


def main() -> None:
    config = load_config()
    test = load_dataset(config, "h36m", "test")
    train = load_dataset(config, "h36m", "train")
    if not (test.is_demo and train.is_demo):
        raise SystemExit("datasets.yaml must point h36m at the demo data (run `harness demo`)")
    rng = np.random.default_rng(SEED)
    noisy = test.gt3d + rng.normal(0.0, NOISE_MM, test.gt3d.shape)
    _write(HERE / "demo_gt_noise.npz", test.sample_id, noisy, {
        "name": f"Ground truth + {NOISE_MM:g} mm noise", "supervision": "fully-supervised", "input_2d": "gt",
        "training_data": "none (sanity check)",
    })
    mean_pose = (train.gt3d - train.gt3d[:, :1]).mean(axis=0)
    _write(HERE / "demo_mean_pose.npz", test.sample_id, np.broadcast_to(mean_pose, test.gt3d.shape), {
        "name": "Mean training pose", "supervision": "fully-supervised", "input_2d": "none",
        "training_data": "demo S1, S5, S6, S7, S8",
    })


if __name__ == "__main__":
    main()

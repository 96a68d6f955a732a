"""`harness template`: everything a model needs to produce a submission, in one npz."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.datasets.base import TestSet
from harness.outputs import write_atomic
from harness.skeletons import joint_set


def template_arrays(test: TestSet) -> dict[str, np.ndarray]:
    """Sample ids, 2D inputs per source with their joint names, the 3D joint names, camera intrinsics and
    sequence boundaries of a test set."""
    cams = sorted(test.intrinsics)
    names = joint_set(test.joint_set).names  # the order pose3d must follow (see `harness list joints`)
    position = {c: k for k, c in enumerate(cams)}
    cam_of_seq = np.array([position.get(c, -1) for c in test.sequences["camera"]], dtype=np.int16)  # -1: no calibration
    arrays: dict[str, np.ndarray] = {
        "sample_id": test.sample_id,
        "dataset": np.array(test.dataset),
        "joint_set": np.array(test.joint_set),
        "units": np.array("mm"),
        "fps": np.array(test.fps),
        "camera_ids": np.array(cams),
        "camera_f": np.array([test.intrinsics[c]["f"] for c in cams], dtype=np.float64).reshape(-1, 2),
        "camera_c": np.array([test.intrinsics[c]["c"] for c in cams], dtype=np.float64).reshape(-1, 2),
        "camera_k": np.array([test.intrinsics[c]["k"] for c in cams], dtype=np.float64).reshape(-1, 3),
        "camera_p": np.array([test.intrinsics[c]["p"] for c in cams], dtype=np.float64).reshape(-1, 2),
        "camera_size": np.array([test.intrinsics[c]["size"] for c in cams], dtype=np.int64).reshape(-1, 2),
        "camera_index": np.repeat(cam_of_seq, test.sequences["length"].to_numpy()),
        "sequence_name": test.sequences["name"].to_numpy().astype(str),
        "sequence_start": test.sequences["start"].to_numpy(),
        "sequence_length": test.sequences["length"].to_numpy(),
        "joint_names": np.array(names),
    }
    for source, kp in test.inputs_2d.items():
        arrays[f"input_2d_{source}"] = kp
        arrays[f"input_2d_{source}_joint_names"] = np.array(test.input_2d_joints.get(source, names))
    return arrays


def write_template(test: TestSet, path: Path, force: bool = False) -> None:
    """Write the template npz (plain arrays only); refuse to overwrite unless `force`."""
    write_atomic(path, lambda fh: np.savez_compressed(fh, **template_arrays(test)), force)

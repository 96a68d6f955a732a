"""3DPW: `sequenceFiles/<split>/*.pkl` (Python-2 pickles, read with encoding='latin1'; trusted dataset files).

Each file holds one sequence with one or two actors: `jointPositions` per actor (N, 72) = 24 SMPL joints in
world metres, `cam_poses` (N, 4, 4) world-to-camera transforms, and `campose_valid` per actor (N,). Ground
truth is `jointPositions` moved into camera coordinates, in mm, on frames whose camera pose is valid. Sample
ids are `<sequence>/<actor>/<frame, 5 digits>`. This is the self-contained 24-joint protocol; the literature's
LSP-14 protocol needs the SMPL model, which PoseBench cannot ship.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd

from harness.config import DatasetConfig
from harness.datasets.base import TestSet
from harness.datasets.h36m import DEMO_MARKER
from harness.errors import DatasetUnavailable
from harness.skeletons import SMPL24

FPS = 30.0
REQUIRED = ("jointPositions", "cam_poses", "campose_valid")


def read_sequence(path: Path) -> dict:
    """One sequence pickle, checked for the keys and shapes the protocol needs."""
    try:
        with open(path, "rb") as fh:
            data = pickle.load(fh, encoding="latin1")
    except Exception as exc:  # any unreadable pickle is reported the same way, with the reason
        raise DatasetUnavailable(f"{path}: not a readable 3DPW sequence pickle ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict):
        raise DatasetUnavailable(f"{path}: expected a dict of sequence arrays, got {type(data).__name__}")
    for key in REQUIRED:
        if key not in data:
            raise DatasetUnavailable(f"{path}: no '{key}' (expected a 3DPW sequenceFiles pickle)")
    cams = np.asarray(data["cam_poses"], dtype=np.float64)
    for actor, joints in enumerate(data["jointPositions"]):
        joints = np.asarray(joints)
        if joints.ndim != 2 or joints.shape[1] != 72 or len(joints) != len(cams):
            raise DatasetUnavailable(f"{path}: jointPositions[{actor}] has shape {joints.shape}, expected ({len(cams)}, 72)")
    return data


def load_3dpw(cfg: DatasetConfig, split: str = "test") -> TestSet:
    """Every actor of every sequence of `split`, frames with a valid camera pose, SMPL-24 in camera mm."""
    folder = Path(cfg.path) / "sequenceFiles" / split
    files = sorted(folder.glob("*.pkl")) if folder.is_dir() else []
    if not files:
        raise DatasetUnavailable(f"3dpw not available: no .pkl files in {folder} (set datasets.3dpw.path, or run `harness demo`)")
    rows, ids, gts, start = [], [], [], 0
    for path in files:
        data = read_sequence(path)
        name = str(data.get("sequence", path.stem))
        cams = np.asarray(data["cam_poses"], dtype=np.float64)
        for actor, joints in enumerate(data["jointPositions"]):
            valid = np.flatnonzero(np.asarray(data["campose_valid"][actor], dtype=bool))
            world = np.asarray(joints, dtype=np.float64)[valid].reshape(-1, 24, 3)
            cam = cams[valid]
            gts.append((np.einsum("nij,nkj->nki", cam[:, :3, :3], world) + cam[:, None, :3, 3]) * 1000.0)
            ids.extend(f"{name}/{actor}/{i:05d}" for i in valid)
            rows.append((f"{name}/{actor}", str(actor), name, name, name, name, start, len(valid)))
            start += len(valid)
    sequences = pd.DataFrame(rows, columns=["name", "subject", "action_key", "action", "camera", "take", "start", "length"])
    return TestSet(
        dataset="3dpw",
        split=split,
        joint_set=SMPL24.name,
        root=SMPL24.root,
        sample_id=np.array(ids),
        gt3d=np.concatenate(gts),
        sequences=sequences,
        fps=FPS,
        gt_variant="jointPositions",
        is_demo=(Path(cfg.path) / DEMO_MARKER).is_file(),
        partial_joints_ok=True,
        notes=[f"{len(files)} sequences, {len(rows)} actor tracks, {start} frames with a valid camera pose"],
    )

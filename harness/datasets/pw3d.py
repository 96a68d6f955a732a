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
from harness.datasets.smpl_regress import SmplRegressor
from harness.skeletons import H36M17, SMPL24

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
    try:
        cams = np.asarray(data["cam_poses"], dtype=np.float64)
        actors = [np.asarray(joints, dtype=np.float64) for joints in data["jointPositions"]]
    except (ValueError, TypeError) as exc:
        raise DatasetUnavailable(f"{path}: 'cam_poses' and 'jointPositions' must be numeric arrays ({exc})") from None
    for actor, joints in enumerate(actors):
        if joints.ndim != 2 or joints.shape[1] != 72 or len(joints) != len(cams):
            raise DatasetUnavailable(f"{path}: jointPositions[{actor}] has shape {joints.shape}, expected ({len(cams)}, 72)")
    return data


GT_JOINT_POSITIONS = "jointPositions"
GT_SMPL_MESH = "smpl-mesh-h36m17"
SMPL_KEYS = ("poses", "trans", "betas", "genders")


def _world_joints(data: dict, actor: int, valid: np.ndarray, path: Path, regressor: SmplRegressor | None) -> np.ndarray:
    """(n, J, 3) world metres of one actor on its valid frames: jointPositions, or the SMPL mesh regressed."""
    if regressor is None:
        return np.asarray(data["jointPositions"][actor], dtype=np.float64)[valid].reshape(-1, 24, 3)
    for key in SMPL_KEYS:
        if key not in data:
            raise DatasetUnavailable(f"{path}: no '{key}' (needed to rebuild the SMPL mesh)")
    gender = data["genders"][actor] if actor < len(data["genders"]) else "neutral"
    poses = np.asarray(data["poses"][actor])[valid]
    return regressor.h36m17(gender, np.asarray(data["betas"][actor]), poses, np.asarray(data["trans"][actor])[valid])


def load_3dpw(cfg: DatasetConfig, split: str = "test", gt: str | None = None) -> TestSet:
    """Every actor of every sequence of `split`, frames with a valid camera pose, in camera mm: SMPL-24 from
    `jointPositions` (the default), or H36M-17 regressed from the SMPL mesh (gt='smpl-mesh-h36m17')."""
    gt = gt or GT_JOINT_POSITIONS
    regressor = None
    if gt == GT_SMPL_MESH:
        if cfg.smpl_model_dir is None:
            raise DatasetUnavailable("3dpw: the SMPL-mesh protocol needs smpl_model_dir in datasets.yaml (your own SMPL model and H36M regressor)")
        regressor = SmplRegressor(cfg.smpl_model_dir)
    elif gt != GT_JOINT_POSITIONS:
        raise DatasetUnavailable(f"3dpw: unknown ground truth '{gt}' (expected {GT_JOINT_POSITIONS} or {GT_SMPL_MESH})")
    folder = Path(cfg.path) / "sequenceFiles" / split
    files = sorted(folder.glob("*.pkl")) if folder.is_dir() else []
    if not files:
        raise DatasetUnavailable(f"3dpw not available: no .pkl files in {folder} (set datasets.3dpw.path, or run `harness demo`)")
    rows, ids, gts, intrinsics, start = [], [], [], {}, 0
    for path in files:
        data = read_sequence(path)
        name = str(data.get("sequence", path.stem))
        cams = np.asarray(data["cam_poses"], dtype=np.float64)
        if "cam_intrinsics" in data:
            k = np.asarray(data["cam_intrinsics"], dtype=np.float64)
            intrinsics[name] = {"f": [k[0, 0], k[1, 1]], "c": [k[0, 2], k[1, 2]], "k": [0.0, 0.0, 0.0], "p": [0.0, 0.0], "size": [0, 0]}
        for actor, joints in enumerate(data["jointPositions"]):
            valid = np.flatnonzero(np.asarray(data["campose_valid"][actor], dtype=bool))
            world = _world_joints(data, actor, valid, path, regressor)
            cam = cams[valid]
            gts.append((np.einsum("nij,nkj->nki", cam[:, :3, :3], world) + cam[:, None, :3, 3]) * 1000.0)
            ids.extend(f"{name}/{actor}/{i:05d}" for i in valid)
            rows.append((f"{name}/{actor}", str(actor), name, name, name, name, start, len(valid)))
            start += len(valid)
    sequences = pd.DataFrame(rows, columns=["name", "subject", "action_key", "action", "camera", "take", "start", "length"])
    return TestSet(
        dataset="3dpw",
        split=split,
        joint_set=SMPL24.name if regressor is None else H36M17.name,
        root=SMPL24.root if regressor is None else H36M17.root,
        sample_id=np.array(ids),
        gt3d=np.concatenate(gts),
        sequences=sequences,
        fps=FPS,
        intrinsics=intrinsics,
        gt_variant=gt,
        is_demo=(Path(cfg.path) / DEMO_MARKER).is_file(),
        partial_joints_ok=regressor is None,
        notes=[f"{len(files)} sequences, {len(rows)} actor tracks, {start} frames with a valid camera pose"],
    )

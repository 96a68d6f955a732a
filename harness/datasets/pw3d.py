"""3DPW: `sequenceFiles/<split>/*.pkl` (Python-2 pickles, read with encoding='latin1'; trusted dataset files).

Each file holds one sequence with one or two actors: `jointPositions` per actor (N, 72) = 24 SMPL joints in
world metres, `cam_poses` (N, 4, 4) world-to-camera transforms, `campose_valid` per actor (N,), the camera's
`cam_intrinsics` (3, 3) and `poses2d` per actor (N, 3, 18). Ground truth is `jointPositions` moved into camera
coordinates, in mm, on frames whose camera pose is valid. Sample ids are `<sequence>/<actor>/<frame, 5 digits>`.
This is the self-contained 24-joint protocol; the literature's LSP-14 protocol needs the SMPL model, which
PoseBench cannot ship.

2D inputs, both read from the same pickles (nothing to configure in datasets.yaml), on the scored frames:
- `poses2d`: the released OpenPose detections, (N, 18, 3) float32 = x, y in pixels and the confidence, joints in
  OpenPose's COCO-18 order (`POSES2D_JOINTS`). The release stores (3, 18) per frame and writes (0, 0, 0) for a
  joint OpenPose did not find and for every joint of a frame with fewer than 6 detected joints; here x and y of
  every joint with confidence 0 are NaN (confidence stays 0), so a frame without a detection is all NaN and
  cannot be mistaken for a person at pixel (0, 0). Such frames are still scored; `sample_labels["poses2d"]` says
  which ("missing"; the 3DPW challenge evaluator drops them).
- `gt`: the ground-truth joints (the benchmark's joint set, SMPL-24 or the regressed H36M-17) projected through
  `cam_intrinsics` (the release has no lens distortion), (N, J, 2) float32 pixels.
Intrinsics per sequence: f and c from `cam_intrinsics`, no distortion, and the image size [w, h] = 2 c: the
release does not store it, its principal points lie at the image centre (540, 960 for the portrait 1080 x 1920
videos), which is how the field's loaders (VIBE-style preprocessing) recover it too.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
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
# OpenPose's COCO-18 keypoint order, the layout of the released `poses2d` (and of `input_2d_poses2d`).
POSES2D_JOINTS: tuple[str, ...] = (
    "nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist", "r_hip", "r_knee",
    "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear",
)
SOURCE_POSES2D = "poses2d"
SOURCE_GT = "gt"
INPUTS_2D: tuple[str, ...] = (SOURCE_POSES2D, SOURCE_GT)


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


def read_poses2d(data: dict, actor: int, n_frames: int, path: Path) -> np.ndarray:
    """(N, 18, 3) x, y, confidence of one actor as released, x and y NaN where the confidence is 0."""
    try:
        raw = np.asarray(data["poses2d"][actor], dtype=np.float64)
    except (ValueError, TypeError, IndexError) as exc:
        raise DatasetUnavailable(f"{path}: poses2d[{actor}] is not a numeric array ({exc})") from None
    if raw.shape != (n_frames, 3, len(POSES2D_JOINTS)):
        raise DatasetUnavailable(f"{path}: poses2d[{actor}] has shape {raw.shape}, expected ({n_frames}, 3, {len(POSES2D_JOINTS)})")
    kp = raw.transpose(0, 2, 1).copy()
    kp[..., :2][kp[..., 2] <= 0] = np.nan
    return kp


def intrinsics_of(k: np.ndarray, path: Path) -> dict[str, list[float]]:
    """The template's camera fields from `cam_intrinsics` (size = twice the principal point, see the module doc)."""
    if k.shape != (3, 3) or not np.isfinite(k).all() or k[0, 0] <= 0 or k[1, 1] <= 0:
        raise DatasetUnavailable(f"{path}: cam_intrinsics must be a finite 3x3 K with positive focal lengths, got shape {k.shape}")
    c = [float(k[0, 2]), float(k[1, 2])]
    return {"f": [float(k[0, 0]), float(k[1, 1])], "c": c, "k": [0.0, 0.0, 0.0], "p": [0.0, 0.0], "size": [round(2 * c[0]), round(2 * c[1])]}


def project(points_mm: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Camera points (..., 3) to pixels (..., 2) through an intrinsic matrix K, no distortion."""
    uvw = points_mm @ k.T
    return uvw[..., :2] / uvw[..., 2:]


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


def _sources(files: list[Path], datas: list[dict], requested: Sequence[str]) -> list[str]:
    """The 2D sources to build: those asked for (each must exist in every file), or all the files have."""
    unknown = [s for s in requested if s not in INPUTS_2D]
    if unknown:
        raise DatasetUnavailable(f"3dpw: no 2D source '{unknown[0]}' (3DPW's are read from its sequence pickles: {', '.join(INPUTS_2D)})")
    needs = {SOURCE_POSES2D: "poses2d", SOURCE_GT: "cam_intrinsics"}
    for source in requested:
        lacking = next((path for path, data in zip(files, datas) if needs[source] not in data), None)
        if lacking is not None:
            raise DatasetUnavailable(f"{lacking}: no '{needs[source]}' (needed for the 2D source '{source}')")
    return list(requested) or [s for s in INPUTS_2D if all(needs[s] in data for data in datas)]


def load_3dpw(cfg: DatasetConfig, split: str = "test", gt: str | None = None, inputs_2d: Sequence[str] = ()) -> TestSet:
    """Every actor of every sequence of `split`, frames with a valid camera pose, in camera mm: SMPL-24 from
    `jointPositions` (the default), or H36M-17 regressed from the SMPL mesh (gt='smpl-mesh-h36m17'); with the
    2D sources `inputs_2d` (default: every one the files hold, see the module doc)."""
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
    datas = [read_sequence(path) for path in files]
    sources = _sources(files, datas, inputs_2d)
    rows, ids, gts, intrinsics, start = [], [], [], {}, 0
    kp2d: dict[str, list[np.ndarray]] = {s: [] for s in sources}
    for path, data in zip(files, datas):
        name = str(data.get("sequence", path.stem))
        cams = np.asarray(data["cam_poses"], dtype=np.float64)
        k = np.asarray(data["cam_intrinsics"], dtype=np.float64) if "cam_intrinsics" in data else None
        if k is not None:
            intrinsics[name] = intrinsics_of(k, path)
        for actor in range(len(data["jointPositions"])):
            valid = np.flatnonzero(np.asarray(data["campose_valid"][actor], dtype=bool))
            world = _world_joints(data, actor, valid, path, regressor)
            cam = cams[valid]
            gts.append((np.einsum("nij,nkj->nki", cam[:, :3, :3], world) + cam[:, None, :3, 3]) * 1000.0)
            if SOURCE_GT in kp2d:
                kp2d[SOURCE_GT].append(project(gts[-1], k))
            if SOURCE_POSES2D in kp2d:
                kp2d[SOURCE_POSES2D].append(read_poses2d(data, actor, len(cams), path)[valid])
            ids.extend(f"{name}/{actor}/{i:05d}" for i in valid)
            rows.append((f"{name}/{actor}", str(actor), name, name, name, name, start, len(valid)))
            start += len(valid)
    sequences = pd.DataFrame(rows, columns=["name", "subject", "action_key", "action", "camera", "take", "start", "length"])
    notes = [f"{len(files)} sequences, {len(rows)} actor tracks, {start} frames with a valid camera pose"]
    labels: dict[str, np.ndarray] = {}
    if SOURCE_POSES2D in kp2d:
        missing = np.isnan(np.concatenate(kp2d[SOURCE_POSES2D])[..., 0]).all(axis=1)
        labels["poses2d"] = np.where(missing, "missing", "detected")
        notes.append(f"{int(missing.sum())} scored frames have no OpenPose detection in poses2d (all zero in the release; scored here, dropped by the 3DPW challenge evaluator)")
    return TestSet(
        dataset="3dpw",
        split=split,
        joint_set=SMPL24.name if regressor is None else H36M17.name,
        root=SMPL24.root if regressor is None else H36M17.root,
        sample_id=np.array(ids),
        gt3d=np.concatenate(gts),
        sequences=sequences,
        fps=FPS,
        inputs_2d={s: np.concatenate(parts).astype(np.float32) for s, parts in kp2d.items()},
        input_2d_joints={SOURCE_POSES2D: POSES2D_JOINTS} if SOURCE_POSES2D in kp2d else {},
        intrinsics=intrinsics,
        gt_variant=gt,
        is_demo=(Path(cfg.path) / DEMO_MARKER).is_file(),
        sample_labels=labels,
        partial_joints_ok=regressor is None,
        notes=notes,
    )

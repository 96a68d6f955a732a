"""Human3.6M from VideoPose3D's released files: `data_3d_h36m.npz` and `data_2d_h36m_<source>.npz`.

`data_3d_h36m.npz` holds `positions_3d`, a pickled dict subject -> action key -> (N, 32, 3) float32 world
coordinates in metres at 50 Hz. Each 2D file holds `positions_2d`, a pickled dict subject -> action key ->
list of 4 (N, 17, 2) pixel arrays in the camera order of `H36M_CAMERA_IDS`, and `metadata`. These are
trusted dataset files (unpickled here); submissions never are.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from harness.cameras import H36M_CAMERA_IDS, h36m_cameras
from harness.config import DatasetConfig
from harness.datasets.base import TestSet
from harness.errors import DatasetUnavailable
from harness.skeletons import H36M17, H36M32, H36M32_TO_17

FILE_3D = "data_3d_h36m.npz"
DEMO_MARKER = "POSEBENCH_DEMO.json"
FPS = 50.0
TEST_SUBJECTS: tuple[str, ...] = ("S9", "S11")
TRAIN_SUBJECTS: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8")
ACTIONS: tuple[str, ...] = (
    "Directions", "Discussion", "Eating", "Greeting", "Phoning", "Photo", "Posing", "Purchases", "Sitting",
    "SittingDown", "Smoking", "Waiting", "WalkDog", "Walking", "WalkTogether",
)
TRIALS_PER_ACTION = 2
_RENAMES = {"TakingPhoto": "Photo", "WalkingDog": "WalkDog"}


def action_of(key: str) -> str:
    """The action an npz key belongs to: the part before the first space, TakingPhoto/WalkingDog renamed."""
    base = key.split(" ")[0]
    return _RENAMES.get(base, base)


def sample_ids(subject: str, action_key: str, camera: str, n_frames: int) -> list[str]:
    """Sample ids `S9/Walking 1/54138969/000123` of one camera sequence."""
    prefix = f"{subject}/{action_key}/{camera}/"
    return [f"{prefix}{i:06d}" for i in range(n_frames)]


def _load_pickled(path: Path, key: str, required: bool = True) -> dict | None:
    """A pickled dict stored under `key` of a trusted dataset npz (None if absent and not required)."""
    if not path.is_file():
        raise DatasetUnavailable(f"h36m not available: {path} not found (set datasets.h36m.path in datasets.yaml, or run `harness demo`)")
    try:
        with np.load(path, allow_pickle=True) as archive:
            if key not in archive.files and not required:
                return None
            value = archive[key].item()
    except Exception as exc:  # any unreadable file is reported the same way, with the reason
        raise DatasetUnavailable(f"{path}: cannot read '{key}' ({type(exc).__name__}: {exc})") from None
    if not isinstance(value, dict):
        raise DatasetUnavailable(f"{path}: '{key}' holds a {type(value).__name__}, expected a dict")
    return value


def _load_2d(path: Path) -> dict:
    """`positions_2d` of a 2D file, refusing files whose metadata declares another keypoint layout."""
    meta = _load_pickled(path, "metadata", required=False) or {}
    layout = meta.get("layout_name", "h36m")
    if layout != "h36m" or meta.get("num_joints", len(H36M17)) != len(H36M17):
        raise DatasetUnavailable(f"{path}: metadata declares layout '{layout}' with {meta.get('num_joints')} joints; expected 'h36m' with 17")
    return _load_pickled(path, "positions_2d")


def _demo_marker(root: Path) -> dict | None:
    marker = root / DEMO_MARKER
    return json.loads(marker.read_text()) if marker.is_file() else None


def load_h36m(cfg: DatasetConfig, split: str = "test", inputs_2d: Sequence[str] = ()) -> TestSet:
    """Build the test (S9, S11) or train (S1, S5, S6, S7, S8) set: every frame of every camera, H36M-17, mm."""
    root = Path(cfg.path)
    positions = _load_pickled(root / FILE_3D, "positions_3d")
    demo = _demo_marker(root)
    expected_actions = tuple(demo["actions"]) if demo else ACTIONS
    trials = int(demo.get("trials_per_action", TRIALS_PER_ACTION)) if demo else TRIALS_PER_ACTION
    subjects = TEST_SUBJECTS if split == "test" else TRAIN_SUBJECTS

    missing: list[str] = []
    takes: list[tuple[str, str]] = []
    for subject in subjects:
        if subject not in positions:
            missing.append(f"{subject}: not in {FILE_3D}")
            continue
        keys = sorted(positions[subject])
        for action in expected_actions:
            n = sum(action_of(k) == action for k in keys)
            if n < trials:
                missing.append(f"{subject}/{action}: {n} of {trials} trials")
        takes.extend((subject, k) for k in keys)
    if not takes:
        raise DatasetUnavailable(f"h36m not available: {root / FILE_3D} has none of the {split} subjects {', '.join(subjects)}")

    sources_2d = {}
    for source in inputs_2d:
        if source not in cfg.inputs_2d:
            raise DatasetUnavailable(f"h36m: no 2D source '{source}' in datasets.yaml (known: {', '.join(cfg.inputs_2d) or 'none'})")
        sources_2d[source] = _load_2d(root / cfg.inputs_2d[source])

    for s, k in takes:
        shape = np.shape(positions[s][k])
        if len(shape) != 3 or shape[1:] != (len(H36M32), 3):
            raise DatasetUnavailable(f"{root / FILE_3D}: positions_3d[{s}][{k}] has shape {shape}, expected (N, {len(H36M32)}, 3)")
    lengths = [len(positions[s][k]) for s, k in takes]
    n_total = sum(lengths) * len(H36M_CAMERA_IDS)
    gt = np.empty((n_total, len(H36M17), 3), dtype=np.float64)
    kp2d = {source: np.empty((n_total, len(H36M17), 2), dtype=np.float32) for source in sources_2d}
    ids: list[str] = []
    rows = []
    rigs = h36m_cameras()
    start = 0
    for (subject, key), n in zip(takes, lengths):
        world_mm = np.asarray(positions[subject][key], dtype=np.float64)[:, H36M32_TO_17] * 1000.0
        for cam_index, cam_id in enumerate(H36M_CAMERA_IDS):
            gt[start : start + n] = rigs[subject][cam_id].world_to_camera(world_mm)
            for source, table in sources_2d.items():
                kp2d[source][start : start + n] = _camera_2d(table, subject, key, cam_index, n, root / cfg.inputs_2d[source])
            ids.extend(sample_ids(subject, key, cam_id, n))
            rows.append((f"{subject}/{key}/{cam_id}", subject, key, action_of(key), cam_id, f"{subject}/{key}", start, n))
            start += n

    sequences = pd.DataFrame(rows, columns=["name", "subject", "action_key", "action", "camera", "take", "start", "length"])
    intrinsics = {
        cam_id: {"f": cam.f.tolist(), "c": cam.c.tolist(), "k": cam.k.tolist(), "p": cam.p.tolist(), "size": [cam.width, cam.height]}
        for cam_id, cam in rigs[takes[0][0]].items()
    }
    return TestSet(
        dataset="h36m",
        split=split,
        joint_set=H36M17.name,
        root=H36M17.root,
        sample_id=np.array(ids),
        gt3d=gt,
        sequences=sequences,
        fps=FPS,
        inputs_2d=kp2d,
        intrinsics=intrinsics,
        missing=missing,
        is_demo=demo is not None,
    )


def _camera_2d(table: dict, subject: str, key: str, cam_index: int, n: int, path: Path) -> np.ndarray:
    """One camera's 2D sequence, cut to the 3D length; a missing or shorter one is a broken dataset."""
    try:
        seq = np.asarray(table[subject][key][cam_index], dtype=np.float32)
    except (KeyError, IndexError):
        raise DatasetUnavailable(f"{path}: no 2D for {subject}/{key} camera {H36M_CAMERA_IDS[cam_index]}") from None
    if seq.ndim != 3 or seq.shape[1:] != (len(H36M17), 2) or len(seq) < n:
        raise DatasetUnavailable(
            f"{path}: 2D for {subject}/{key} camera {H36M_CAMERA_IDS[cam_index]} has shape {seq.shape}, expected ({n} or more, 17, 2)"
        )
    return seq[:n]

"""The demo data as a 3DPW test split: `sequenceFiles/test/<sequence>.pkl` in the released pickle layout.

The demo test subjects' motion (S9 and S11, never seen in training) in sequences of one or two actors, each
actor's 24 SMPL joints approximated from the 32 H36M-layout points (spine joints interpolated between pelvis
and thorax, collars halfway to the shoulders, feet at the toes, hands past the wrists), world coordinates
y up in metres as in 3DPW, a slowly drifting camera (`cam_poses`, world to camera), `campose_valid` false
on a few frames, and the other keys of the released files filled with zeros of the right shapes.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np

from harness.cameras import h36m_cameras
from harness.datasets.demo import load_clips, subject_motion
from harness.datasets.h36m import DEMO_MARKER
from harness.skeletons import H36M32, SMPL24

SEQUENCES: dict[str, tuple[str, ...]] = {
    "demo_walk_run_00": ("walk", "run"),
    "demo_fight_01": ("kick", "punch", "spinkick"),
    "demo_dance_02": ("dance_a", "dance_b"),
    "demo_floor_03": ("crawl", "roll", "getup_faceup"),
}
SEED = 7
# SMPL joint -> weighted H36M32 points.
_SMPL_FROM_H36M: dict[str, dict[str, float]] = {
    "smpl_spine1": {"pelvis": 0.67, "thorax": 0.33},
    "smpl_spine2": {"spine": 1.0},
    "smpl_spine3": {"pelvis": 0.2, "thorax": 0.8},
    "l_foot": {"l_toe": 1.0},
    "r_foot": {"r_toe": 1.0},
    "smpl_neck": {"thorax": 0.7, "head": 0.3},
    "l_collar": {"thorax": 0.5, "l_shoulder": 0.5},
    "r_collar": {"thorax": 0.5, "r_shoulder": 0.5},
    "smpl_head": {"head": 1.0},
    "l_hand": {"l_hand": 1.0},
    "r_hand": {"r_hand": 1.0},
}


def smpl24_from_h36m32(motion: np.ndarray) -> np.ndarray:
    """(T, 32, 3) H36M-layout points to (T, 24, 3) SMPL-ordered joints."""
    out = np.empty((len(motion), len(SMPL24), 3))
    for j, name in enumerate(SMPL24.names):
        weights = _SMPL_FROM_H36M.get(name, {name: 1.0})
        out[:, j] = sum(w * motion[:, H36M32.index[src]] for src, w in weights.items())
    return out


def _camera_track(n: int, rng: np.random.Generator, centre: np.ndarray) -> np.ndarray:
    """World-to-camera 4x4 per frame: a camera 4 m from the actors, panning slightly (y-up world)."""
    poses = np.zeros((n, 4, 4))
    yaw = 0.15 * np.sin(np.linspace(0, 2 * np.pi, n)) + rng.uniform(-0.2, 0.2)
    for i, a in enumerate(yaw):
        forward = np.array([np.sin(a), 0.0, np.cos(a)])  # looking along +z of the world, panning about y
        down = np.array([0.0, -1.0, 0.0])
        rot = np.stack([np.cross(down, forward), down, forward])  # rows: camera x (right), y (down), z (forward)
        eye = centre + np.array([0.0, 0.3, -4.0])
        poses[i, :3, :3] = rot
        poses[i, :3, 3] = -rot @ eye
        poses[i, 3, 3] = 1.0
    return poses


def sequence_dict(name: str, clips: dict[str, np.ndarray], rng: np.random.Generator, actors: tuple[str, ...]) -> dict:
    tracks = []
    for k, subject in enumerate(actors):
        motion = np.concatenate([subject_motion(clips[c], subject, h36m_cameras()[subject]) for c in SEQUENCES[name]]).astype(np.float64)
        z_up = smpl24_from_h36m32(motion)
        y_up = np.stack([z_up[..., 0], z_up[..., 2], -z_up[..., 1]], axis=-1) + np.array([1.2 * k, 0.0, 0.0])
        tracks.append(y_up)
    n = min(len(t) for t in tracks)
    tracks = [t[:n] for t in tracks]
    centre = np.mean([t[:, 0].mean(axis=0) for t in tracks], axis=0) * np.array([1.0, 0.0, 1.0]) + np.array([0.0, 1.0, 0.0])
    valid = [(rng.random(n) > 0.05) for _ in tracks]
    return {
        "sequence": name,
        "genders": ["m" if s == "S9" else "f" for s in actors],
        "betas": [np.zeros(10) for _ in tracks],
        "poses": [np.zeros((n, 72)) for _ in tracks],
        "trans": [t[:, 0].copy() for t in tracks],
        "jointPositions": [t.reshape(n, 72) for t in tracks],
        "poses2d": [np.zeros((n, 3, 18)) for _ in tracks],
        "cam_poses": _camera_track(n, rng, centre),
        "cam_intrinsics": np.array([[1961.0, 0.0, 540.0], [0.0, 1969.0, 960.0], [0.0, 0.0, 1.0]]),
        "campose_valid": valid,
        "img_frame_ids": np.arange(n),
    }


def write_demo_3dpw(data_root: Path) -> Path:
    """Write `<data_root>/demo/3dpw/sequenceFiles/test/*.pkl` (pickle protocol 2, as the release) and the marker."""
    out = Path(data_root).expanduser() / "demo" / "3dpw"
    folder = out / "sequenceFiles" / "test"
    folder.mkdir(parents=True, exist_ok=True)
    clips = load_clips()
    rng = np.random.default_rng(SEED)
    for k, name in enumerate(SEQUENCES):
        actors = ("S9", "S11") if k % 2 == 0 else ("S11",)
        with open(folder / f"{name}.pkl", "wb") as fh:
            pickle.dump(sequence_dict(name, clips, rng, actors), fh, protocol=2)
    (out / DEMO_MARKER).write_text(json.dumps({"demo": True, "description": "PoseBench demo data in the 3DPW sequenceFiles layout"}, indent=1))
    return out

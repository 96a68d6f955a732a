"""The demo data as a 3DPW test split: `sequenceFiles/test/<sequence>.pkl` in the released pickle layout.

The demo test subjects' motion (S9 and S11, never seen in training) in sequences of one or two actors, each
actor's 24 SMPL joints approximated from the 32 H36M-layout points (spine joints interpolated between pelvis
and thorax, collars halfway to the shoulders, feet at the toes, hands past the wrists), world coordinates
y up in metres as in 3DPW, a slowly drifting camera (`cam_poses`, world to camera), `campose_valid` false
on a few frames, `poses2d` as the release stores OpenPose's output (per actor (N, 3, 18): x, y, confidence in
the COCO-18 order; a missed joint is (0, 0, 0), and a frame with fewer than 6 detected joints is all zero): the
projection of COCO-18 points placed on the demo skeleton, with pixel noise, confidences, missed joints and
runs of undetected frames, and the other keys of the released files filled with zeros of the right shapes.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np

from harness.cameras import h36m_cameras
from harness.demo.h36m import load_clips, subject_motion
from harness.datasets.h36m import DEMO_MARKER
from harness.datasets.pw3d import POSES2D_JOINTS, project
from harness.skeletons import H36M32, SMPL24, JointSet

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

# COCO-18 (OpenPose) keypoint -> weighted SMPL joints: neck between the shoulders as OpenPose defines it, the
# face points a few centimetres from the head joint (the right shoulder lies to the actor's right).
_COCO18_FROM_SMPL: dict[str, dict[str, float]] = {
    "nose": {"smpl_head": 1.2, "smpl_neck": -0.2},
    "neck": {"l_shoulder": 0.5, "r_shoulder": 0.5},
    "r_eye": {"smpl_head": 1.25, "smpl_neck": -0.25, "r_shoulder": 0.08, "l_shoulder": -0.08},
    "l_eye": {"smpl_head": 1.25, "smpl_neck": -0.25, "l_shoulder": 0.08, "r_shoulder": -0.08},
    "r_ear": {"smpl_head": 1.0, "r_shoulder": 0.2, "l_shoulder": -0.2},
    "l_ear": {"smpl_head": 1.0, "l_shoulder": 0.2, "r_shoulder": -0.2},
}
NOISE_PX = 4.0
MISSED_JOINT_RATE = 0.04
UNDETECTED_RUNS = 1  # per actor: a run of 3-8 frames with no detection (all zero), as under an occlusion
UNDETECTED_FRAME_RATE = 0.02  # and single undetected frames


def _combine(points: np.ndarray, source: JointSet, table: dict[str, dict[str, float]], names: tuple[str, ...]) -> np.ndarray:
    """(T, len(source), 3) points to (T, len(names), 3): each name a weighted sum of source joints (itself if not in `table`)."""
    weights = np.zeros((len(names), len(source)))
    for j, name in enumerate(names):
        for src, w in table.get(name, {name: 1.0}).items():
            weights[j, source.index[src]] += w
    return np.einsum("kj,tjc->tkc", weights, points)


def smpl24_from_h36m32(motion: np.ndarray) -> np.ndarray:
    """(T, 32, 3) H36M-layout points to (T, 24, 3) SMPL-ordered joints."""
    return _combine(motion, H36M32, _SMPL_FROM_H36M, SMPL24.names)


def coco18_from_smpl24(joints: np.ndarray) -> np.ndarray:
    """(T, 24, 3) SMPL joints to (T, 18, 3) points in OpenPose's COCO-18 order."""
    return _combine(joints, SMPL24, _COCO18_FROM_SMPL, POSES2D_JOINTS)


def fake_openpose(world: np.ndarray, cams: np.ndarray, k: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(N, 3, 18) `poses2d` of one actor in the released layout from its (N, 24, 3) world joints in metres."""
    n = len(world)
    points = coco18_from_smpl24(world)
    cam = np.einsum("nij,nkj->nki", cams[:, :3, :3], points) + cams[:, None, :3, 3]
    xy = project(cam, k) + rng.normal(scale=NOISE_PX, size=(n, len(POSES2D_JOINTS), 2))
    conf = rng.uniform(0.35, 0.95, size=(n, len(POSES2D_JOINTS)))
    size = 2 * k[:2, 2]  # the image: OpenPose finds nothing outside it
    conf[(rng.random(conf.shape) < MISSED_JOINT_RATE) | (xy < 0).any(axis=-1) | (xy >= size).any(axis=-1)] = 0.0
    undetected = rng.random(n) < UNDETECTED_FRAME_RATE
    for first, length in zip(rng.integers(0, max(n - 8, 1), UNDETECTED_RUNS), rng.integers(3, 9, UNDETECTED_RUNS)):
        undetected[first : first + length] = True
    conf[undetected | ((conf > 0).sum(axis=1) < 6)] = 0.0  # OpenPose: fewer than 6 joints, no pose at all
    out = np.concatenate([xy, conf[..., None]], axis=-1)
    out[conf == 0] = 0.0
    return out.transpose(0, 2, 1)


def _camera_track(n: int, rng: np.random.Generator, centre: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World-to-camera 4x4 per frame: a camera 4 m from the actors turning to follow them (`target`, (n, 3),
    their mean pelvis) as 3DPW's hand-held phone does, with a little sway (y-up world)."""
    eye = centre + np.array([0.0, 0.3, -4.0])
    to = target - eye
    yaw = np.arctan2(to[:, 0], to[:, 2]) + 0.03 * np.sin(np.linspace(0, 2 * np.pi, n)) + rng.uniform(-0.03, 0.03)
    forward = np.stack([np.sin(yaw), np.zeros(n), np.cos(yaw)], axis=-1)  # panning about y
    down = np.broadcast_to([0.0, -1.0, 0.0], forward.shape)
    rot = np.stack([np.cross(down, forward), down, forward], axis=1)  # rows: camera x (right), y (down), z (forward)
    poses = np.zeros((n, 4, 4))
    poses[:, :3, :3] = rot
    poses[:, :3, 3] = -rot @ eye
    poses[:, 3, 3] = 1.0
    return poses


def sequence_dict(name: str, clips: dict[str, np.ndarray], rng: np.random.Generator, actors: tuple[str, ...], seq_index: int = 0) -> dict:
    """One sequence pickle's dict; `rng` draws the 3D side, the 2D detections have their own seed per sequence and actor."""
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
    cams = _camera_track(n, rng, centre, np.mean([t[:, 0] for t in tracks], axis=0))
    intrinsics = np.array([[1961.0, 0.0, 540.0], [0.0, 1969.0, 960.0], [0.0, 0.0, 1.0]])  # portrait 1080 x 1920, as most of 3DPW
    return {
        "sequence": name,
        "genders": ["m" if s == "S9" else "f" for s in actors],
        "betas": [np.zeros(10) for _ in tracks],
        "poses": [np.zeros((n, 72)) for _ in tracks],
        "trans": [t[:, 0].copy() for t in tracks],
        "jointPositions": [t.reshape(n, 72) for t in tracks],
        "poses2d": [fake_openpose(t, cams, intrinsics, np.random.default_rng([SEED, seq_index, a])) for a, t in enumerate(tracks)],
        "cam_poses": cams,
        "cam_intrinsics": intrinsics,
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
            pickle.dump(sequence_dict(name, clips, rng, actors, k), fh, protocol=2)
    (out / DEMO_MARKER).write_text(json.dumps({"demo": True, "description": "PoseBench demo data in the 3DPW sequenceFiles layout"}, indent=1))
    return out

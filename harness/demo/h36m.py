"""The built-in demo dataset: DeepMimic motion written in Human3.6M's released file formats.

From the committed arrays `assets/deepmimic_h36m32.npz` (15 clips, 32 joints, 50 Hz, see
ATTRIBUTION.md) this writes, under `<data_root>/demo/h36m/`:

- `data_3d_h36m.npz`: `positions_3d` = {subject: {clip: (T, 32, 3) float32 world metres}} for the H36M
  subject names S1, S5, S6, S7, S8 (train) and S9, S11 (test);
- `data_2d_h36m_gt.npz`: `positions_2d` = {subject: {clip: [4 x (T, 17, 2) float32 px]}} projected through
  the four real H36M camera rigs of that subject, with lens distortion, and `metadata`;
- `data_2d_h36m_gt_noisy.npz`: the same 2D with simulated detector noise (Gaussian 3 px per coordinate,
  2% of joints displaced by 25 px): an honest stand-in for a detector, not a detector;
- `POSEBENCH_DEMO.json`: marks the directory as demo data (results computed on it are labelled demo).

Train and test motion never overlap: training subjects perform the first 60% of every clip, test subjects the
remaining 40%, so every action appears in both splits but no test frame's motion was seen in training. Each
subject is the clip performer with its own body: bone lengths rescaled per body segment, its own playback
speed, heading and, for S6 and S9, the mirror image. The motion is centred on the point the four cameras look
at. Everything is seeded: the files are the same on every machine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from harness.cameras import H36M_CAMERA_IDS, Camera, h36m_cameras
from harness.datasets.h36m import TEST_SUBJECTS, TRAIN_SUBJECTS
from harness.skeletons import H36M17, H36M32, H36M32_TO_17

ASSET = "demo/assets/deepmimic_h36m32.npz"
SUBJECTS: tuple[str, ...] = TRAIN_SUBJECTS + TEST_SUBJECTS
TRAIN_FRACTION = 0.6
NOISY_SOURCE = "gt_noisy"
NOISE_PX = 3.0
OUTLIER_RATE = 0.02
OUTLIER_PX = 25.0
SEED = 36


@dataclass(frozen=True)
class Body:
    """How one demo subject differs from the clip performer."""

    scale: float  # overall size relative to the performer
    legs: float
    arms: float
    torso: float
    speed: float  # playback speed (time warp)
    heading_deg: float
    mirrored: bool


BODIES: dict[str, Body] = {
    "S1": Body(1.06, 1.00, 1.02, 0.98, 1.00, 0.0, False),
    "S5": Body(1.02, 0.97, 0.98, 1.03, 0.90, 75.0, False),
    "S6": Body(1.14, 1.03, 1.00, 0.99, 1.10, 160.0, True),
    "S7": Body(1.04, 1.02, 0.96, 1.00, 0.95, -110.0, False),
    "S8": Body(1.10, 0.98, 1.03, 1.02, 1.05, 35.0, False),
    "S9": Body(1.12, 1.01, 1.01, 0.97, 0.92, -45.0, True),
    "S11": Body(1.08, 0.99, 0.97, 1.03, 1.08, 120.0, False),
}

_LEG_JOINTS = {"r_hip", "r_knee", "r_ankle", "r_toe", "r_toe_end", "l_hip", "l_knee", "l_ankle", "l_toe", "l_toe_end"}
_ARM_JOINTS = {n for n in H36M32.names if n[2:] in {"shoulder", "elbow", "wrist", "thumb", "thumb_end", "hand", "hand_end"}}


def load_clips() -> dict[str, np.ndarray]:
    """The committed clips: name -> (T, 32, 3) float32 metres, z up, 50 Hz."""
    with resources.files("harness").joinpath(ASSET).open("rb") as fh, np.load(fh, allow_pickle=False) as z:
        return {k: z[k].astype(np.float64) for k in z.files if k not in ("fps", "joint_names")}


def _bone_scales(body: Body) -> np.ndarray:
    """Scale of each joint's bone (joint minus parent) for this body."""
    scale = np.full(len(H36M32), body.scale * body.torso)
    for j, name in enumerate(H36M32.names):
        if name in _LEG_JOINTS:
            scale[j] = body.scale * body.legs
        elif name in _ARM_JOINTS:
            scale[j] = body.scale * body.arms
    return scale


def _rescale(motion: np.ndarray, body: Body) -> np.ndarray:
    """Rebuild the skeleton from the root outward with rigid, rescaled bones (parents precede children).

    Each bone keeps its direction per frame and gets the performer's length times this body's scale, so bones
    stay rigid even after retiming (interpolating positions shortens bones between frames a little).
    """
    scales = _bone_scales(body)
    out = np.empty_like(motion)
    out[:, 0] = motion[:, 0] * np.array([body.scale, body.scale, body.scale * body.legs])
    for j in range(1, len(H36M32)):
        p = H36M32.parents[j]
        bone = motion[:, j] - motion[:, p]
        norm = np.linalg.norm(bone, axis=-1, keepdims=True)
        unit = np.divide(bone, norm, out=np.zeros_like(bone), where=norm > 0)
        out[:, j] = out[:, p] + scales[j] * norm.max() * unit
    return out


def _retime(motion: np.ndarray, speed: float) -> np.ndarray:
    """Play the motion `speed` times faster, by linear interpolation of joint positions."""
    n = len(motion)
    n_out = max(2, int(round((n - 1) / speed)) + 1)
    t = np.linspace(0.0, n - 1, n_out)
    i0 = np.minimum(np.floor(t).astype(int), n - 2)
    w = (t - i0)[:, None, None]
    return (1.0 - w) * motion[i0] + w * motion[i0 + 1]


def _mirror(motion: np.ndarray) -> np.ndarray:
    """The mirror-image performance: reflect across the X-Z plane and swap left and right joints."""
    return (motion * np.array([1.0, -1.0, 1.0]))[:, H36M32.flip_permutation()]


def _look_at_point(cameras: dict[str, Camera]) -> np.ndarray:
    """The world point (mm) closest, in least squares, to the four optical axes."""
    a = np.zeros((3, 3))
    b = np.zeros(3)
    for cam in cameras.values():
        axis = cam.R[2]  # camera z axis in world coordinates
        proj = np.eye(3) - np.outer(axis, axis)
        a += proj
        b += proj @ cam.center_mm
    return np.linalg.solve(a, b)


def split_clip(clip: np.ndarray, subject: str) -> np.ndarray:
    """The part of a clip a subject performs: the first 60% for training subjects, the rest for test ones."""
    cut = int(round(TRAIN_FRACTION * len(clip)))
    return clip[:cut] if subject in TRAIN_SUBJECTS else clip[cut:]


def subject_motion(clip: np.ndarray, subject: str, cameras: dict[str, Camera]) -> np.ndarray:
    """One subject's performance of its part of a clip, in H36M world metres, centred in its capture volume."""
    body = BODIES[subject]
    motion = _retime(split_clip(clip, subject), body.speed)
    if body.mirrored:
        motion = _mirror(motion)
    motion = _rescale(motion, body)
    yaw = np.deg2rad(body.heading_deg)
    rot = np.array([[np.cos(yaw), -np.sin(yaw), 0.0], [np.sin(yaw), np.cos(yaw), 0.0], [0.0, 0.0, 1.0]])
    motion = motion @ rot.T
    centre = _look_at_point(cameras) / 1000.0
    offset = np.array([centre[0], centre[1], 0.0]) - np.append(motion[:, 0, :2].mean(axis=0), 0.0)
    return (motion + offset).astype(np.float32)


def _noisy(kp: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noise = rng.normal(0.0, NOISE_PX, kp.shape)
    outliers = rng.random(kp.shape[:-1]) < OUTLIER_RATE
    noise[outliers] += rng.normal(0.0, OUTLIER_PX, (int(outliers.sum()), 2))
    return (kp + noise).astype(np.float32)


def build(clips: dict[str, np.ndarray]) -> tuple[dict, dict, dict]:
    """(positions_3d, positions_2d gt, positions_2d noisy) for every subject and clip."""
    rigs = h36m_cameras()
    rng = np.random.default_rng(SEED)
    pos3d: dict = {}
    gt2d: dict = {}
    noisy2d: dict = {}
    for subject in SUBJECTS:
        pos3d[subject], gt2d[subject], noisy2d[subject] = {}, {}, {}
        for name in sorted(clips):
            world = subject_motion(clips[name], subject, rigs[subject])
            world_mm = world[:, H36M32_TO_17].astype(np.float64) * 1000.0
            views = [rigs[subject][c].project(rigs[subject][c].world_to_camera(world_mm)).astype(np.float32) for c in H36M_CAMERA_IDS]
            pos3d[subject][name] = world
            gt2d[subject][name] = views
            noisy2d[subject][name] = [_noisy(v, rng) for v in views]
    return pos3d, gt2d, noisy2d


def _metadata() -> dict:
    return {"layout_name": "h36m", "num_joints": len(H36M17), "keypoints_symmetry": [list(H36M17.left), list(H36M17.right)]}


def write_demo(data_root: Path) -> Path:
    """Write the demo Human3.6M files under `<data_root>/demo/h36m` and return that directory."""
    out = Path(data_root).expanduser() / "demo" / "h36m"
    out.mkdir(parents=True, exist_ok=True)
    clips = load_clips()
    pos3d, gt2d, noisy2d = build(clips)
    np.savez_compressed(out / "data_3d_h36m.npz", positions_3d=pos3d)
    np.savez_compressed(out / "data_2d_h36m_gt.npz", positions_2d=gt2d, metadata=_metadata())
    np.savez_compressed(out / f"data_2d_h36m_{NOISY_SOURCE}.npz", positions_2d=noisy2d, metadata=_metadata())
    marker = {
        "demo": True,
        "description": "PoseBench demo data: DeepMimic motion clips (pybullet, zlib licence) in Human3.6M formats",
        "actions": sorted(clips),
        "trials_per_action": 1,
        "inputs_2d": {"gt": "projection of the 3D joints with the real H36M cameras", NOISY_SOURCE: f"gt + N(0, {NOISE_PX} px), {OUTLIER_RATE:.0%} outliers of {OUTLIER_PX} px"},
    }
    (out / "POSEBENCH_DEMO.json").write_text(json.dumps(marker, indent=1))
    return out

"""The demo data as an MPI-INF-3DHP test set: TS1..TS6/annot_data.mat in the released MATLAB v7.3 layout.

The motion is the demo test subjects' (S9, S11: the last 40% of every clip, never seen in training), filmed by
one static camera per sequence: TS1-TS4 like the studio sequences (2048 x 2048, f ~ 1500 px, 3.6 m away),
TS5-TS6 like the outdoor ones (1920 x 1080, f ~ 1683 px, 4.5 m away). `annot3` is camera coordinates in
mm, `univ_annot3` the same rescaled about the pelvis by a per-sequence factor (as the dataset's
height-normalised skeleton is), `annot2` the pinhole projection, `valid_frame` marks about 90% of frames
valid (75% in TS6), and `activity_annotation` labels each clip with one of the seven 3DHP activities.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import h5py
import numpy as np

from harness.cameras import h36m_cameras
from harness.demo.h36m import load_clips, subject_motion
from harness.datasets.h36m import DEMO_MARKER
from harness.skeletons import H36M32, MPI_INF_3DHP17

SEQUENCE_CLIPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "TS1": ("S9", ("walk", "run", "jump")),
    "TS2": ("S11", ("kick", "punch", "spinkick")),
    "TS3": ("S9", ("dance_a", "dance_b")),
    "TS4": ("S11", ("crawl", "roll", "getup_facedown")),
    "TS5": ("S9", ("cartwheel", "backflip")),
    "TS6": ("S11", ("getup_faceup", "spin")),
}
CLIP_ACTIVITY: dict[str, int] = {
    "walk": 1, "run": 1, "jump": 6, "kick": 6, "punch": 6, "spinkick": 6, "dance_a": 7, "dance_b": 7, "crawl": 5,
    "roll": 5, "getup_facedown": 5, "getup_faceup": 5, "cartwheel": 2, "backflip": 2, "spin": 7,
}
UNIV_SCALE: dict[str, float] = {"TS1": 0.962, "TS2": 0.955, "TS3": 0.971, "TS4": 0.948, "TS5": 0.9554, "TS6": 0.982}
STUDIO = {"f": (1500.1, 1500.7), "c": (1017.4, 1043.0), "distance_mm": 3600.0, "height_mm": 1300.0}
OUTDOOR = {"f": (1683.5, 1671.9), "c": (939.9, 560.2), "distance_mm": 4500.0, "height_mm": 1500.0}
VALID_RATE = {"TS6": 0.75}
SEED = 3


def _camera(seq: str) -> dict:
    return OUTDOOR if seq in ("TS5", "TS6") else STUDIO


def _to_camera(world_m: np.ndarray, cam: dict) -> np.ndarray:
    """World (z up, metres) to camera coordinates (x right, y down, z forward, mm), person ahead of the lens."""
    w = world_m.astype(np.float64) * 1000.0
    centre = w[:, 0].mean(axis=0)
    eye = np.array([centre[0], centre[1] - cam["distance_mm"], cam["height_mm"]])
    rot = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])  # rows: camera x, y, z in world axes
    return (w - eye) @ rot.T


def _matlab_header() -> bytes:
    text = f"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: {datetime.now(timezone.utc):%a %b %d %H:%M:%S %Y} HDF5 schema 1.00 ."
    return text.encode().ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"


def write_annot_data(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An annot_data.mat as MATLAB v7.3 writes it: HDF5 with a 512-byte user block and MATLAB_class attributes."""
    with h5py.File(path, "w", userblock_size=512) as f:
        for key, value in arrays.items():
            dset = f.create_dataset(key, data=np.asarray(value, dtype=np.float64))
            dset.attrs["MATLAB_class"] = np.bytes_("double")
    with open(path, "r+b") as fh:
        fh.write(_matlab_header())


def sequence_arrays(seq: str, clips: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    subject, names = SEQUENCE_CLIPS[seq]
    rigs = h36m_cameras()[subject]
    joints = H36M32.subset(MPI_INF_3DHP17.names)
    cam = _camera(seq)
    parts, activity = [], []
    for name in names:
        motion = subject_motion(clips[name], subject, rigs)[:, joints]
        parts.append(motion)
        activity.append(np.full(len(motion), CLIP_ACTIVITY[name]))
    annot3 = _to_camera(np.concatenate(parts), cam)
    pelvis = annot3[:, MPI_INF_3DHP17.root : MPI_INF_3DHP17.root + 1]
    univ = pelvis + UNIV_SCALE[seq] * (annot3 - pelvis)
    annot2 = annot3[..., :2] / annot3[..., 2:3] * np.array(cam["f"]) + np.array(cam["c"])
    valid = rng.random(len(annot3)) < VALID_RATE.get(seq, 0.9)
    return {
        "annot2": annot2[:, None],
        "annot3": annot3[:, None],
        "univ_annot3": univ[:, None],
        "valid_frame": valid.astype(np.float64)[:, None],
        "activity_annotation": np.concatenate(activity).astype(np.float64)[:, None],
    }


def write_demo_3dhp(data_root: Path) -> Path:
    """Write `<data_root>/demo/mpi_inf_3dhp/TS1..TS6/annot_data.mat` and the demo marker."""
    out = Path(data_root).expanduser() / "demo" / "mpi_inf_3dhp"
    clips = load_clips()
    rng = np.random.default_rng(SEED)
    for seq in SEQUENCE_CLIPS:
        (out / seq).mkdir(parents=True, exist_ok=True)
        write_annot_data(out / seq / "annot_data.mat", sequence_arrays(seq, clips, rng))
    marker = {"demo": True, "description": "PoseBench demo data (DeepMimic motion of the demo test subjects) in the MPI-INF-3DHP test layout"}
    (out / DEMO_MARKER).write_text(json.dumps(marker, indent=1))
    return out

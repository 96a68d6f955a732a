"""MPI-INF-3DHP test set: `TS1`..`TS6/annot_data.mat` (MATLAB v7.3 = HDF5, read with h5py).

h5py sees MATLAB's arrays with the axes reversed: `annot3` and `univ_annot3` are (F, 1, 17, 3) in mm,
`annot2` (F, 1, 17, 2) in pixels, `valid_frame` and `activity_annotation` (F, 1). Only frames with
`valid_frame == 1` are evaluated; the count comes from the file (two TS6 masks circulate, with 452 and 392
valid frames). Sample ids are `TS3/000045`: the 0-based index into that sequence's arrays. Joints are the
3DHP test order (`mpi_inf_3dhp17`, root pelvis = 14).
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from harness.config import DatasetConfig
from harness.datasets.base import TestSet
from harness.datasets.h36m import DEMO_MARKER
from harness.errors import DatasetUnavailable
from harness.skeletons import MPI_INF_3DHP17

SEQUENCES: tuple[str, ...] = tuple(f"TS{k}" for k in range(1, 7))
FILE = "annot_data.mat"
ACTIVITIES: dict[int, str] = {
    1: "Standing/Walking", 2: "Exercising", 3: "Sitting", 4: "Reaching/Crouching", 5: "On The Floor", 6: "Sports", 7: "Miscellaneous",
}
GT_VARIANTS: tuple[str, ...] = ("univ_annot3", "annot3")


def _read(path: Path, key: str, tail: tuple[int, ...], f: h5py.File) -> np.ndarray:
    if key not in f:
        raise DatasetUnavailable(f"{path}: no '{key}' (expected an MPI-INF-3DHP test annot_data.mat)")
    data = f[key][()]
    if data.ndim != 1 + len(tail) or data.shape[1:] != tail:
        raise DatasetUnavailable(f"{path}: '{key}' has shape {data.shape}, expected (F, {', '.join(map(str, tail))})")
    return data


def _fit_intrinsics(kp2d: np.ndarray, kp3d: np.ndarray) -> dict[str, list[float]]:
    """Pinhole f and c per axis by least squares of u = f X/Z + c over every joint (the files carry none)."""
    f, c = [], []
    for axis in (0, 1):
        x = (kp3d[..., axis] / kp3d[..., 2]).ravel()
        a = np.stack([x, np.ones_like(x)], axis=1)
        (fa, ca), *_ = np.linalg.lstsq(a, kp2d[..., axis].ravel(), rcond=None)
        f.append(float(fa))
        c.append(float(ca))
    return {"f": f, "c": c, "k": [0.0, 0.0, 0.0], "p": [0.0, 0.0], "size": [0, 0]}


def read_sequence(path: Path, gt: str) -> dict[str, np.ndarray]:
    """The valid frames of one `annot_data.mat`: indices, GT (mm), 2D (px) and activity labels."""
    try:
        with h5py.File(path, "r") as f:
            valid = _read(path, "valid_frame", (1,), f)[:, 0] > 0.5
            kp3d = _read(path, gt, (1, 17, 3), f)[:, 0]
            metric3d = kp3d if gt == "annot3" else _read(path, "annot3", (1, 17, 3), f)[:, 0]
            kp2d = _read(path, "annot2", (1, 17, 2), f)[:, 0]
            activity = _read(path, "activity_annotation", (1,), f)[:, 0]
    except OSError as exc:
        raise DatasetUnavailable(f"{path}: not a readable MATLAB v7.3 (HDF5) file ({exc})") from None
    if not (len(valid) == len(kp3d) == len(kp2d) == len(activity)):
        raise DatasetUnavailable(f"{path}: arrays disagree on the frame count ({len(valid)}, {len(kp3d)}, {len(kp2d)}, {len(activity)})")
    index = np.flatnonzero(valid)
    return {
        "index": index, "gt": kp3d[index], "annot3": metric3d[index], "kp2d": kp2d[index],
        "activity": activity[index].astype(int), "n_frames": np.array(len(valid)),
    }


def load_mpi_inf_3dhp(cfg: DatasetConfig) -> TestSet:
    """TS1-TS6, valid frames only, in the 3DHP 17-joint order, mm; a sequence whose folder is absent is reported."""
    root = Path(cfg.path)
    gt = cfg.gt or "univ_annot3"
    if gt not in GT_VARIANTS:
        raise DatasetUnavailable(f"datasets.yaml: mpi_inf_3dhp gt '{gt}': expected one of {', '.join(GT_VARIANTS)}")
    missing: list[str] = []
    parts: dict[str, dict[str, np.ndarray]] = {}
    for seq in SEQUENCES:
        folder = root / seq
        if not folder.is_dir():
            missing.append(f"{seq}: folder not found")
            continue
        if not (folder / FILE).is_file():
            raise DatasetUnavailable(f"mpi_inf_3dhp: {folder / FILE} not found (expected in every TS folder)")
        parts[seq] = read_sequence(folder / FILE, gt)
    if not parts:
        raise DatasetUnavailable(f"mpi_inf_3dhp not available: no TS1..TS6 folder in {root} (set datasets.mpi_inf_3dhp.path, or run `harness demo`)")

    rows, ids, start = [], [], 0
    for seq, part in parts.items():
        n = len(part["index"])
        rows.append((seq, seq, seq, seq, seq, seq, start, n))
        ids.extend(f"{seq}/{i:06d}" for i in part["index"])
        start += n
    sequences = pd.DataFrame(rows, columns=["name", "subject", "action_key", "action", "camera", "take", "start", "length"])
    return TestSet(
        dataset="mpi_inf_3dhp",
        split="test",
        joint_set=MPI_INF_3DHP17.name,
        root=MPI_INF_3DHP17.root,
        sample_id=np.array(ids),
        gt3d=np.concatenate([p["gt"] for p in parts.values()]).astype(np.float64),
        sequences=sequences,
        fps=float("nan"),
        inputs_2d={"gt": np.concatenate([p["kp2d"] for p in parts.values()]).astype(np.float32)},
        intrinsics={seq: _fit_intrinsics(p["kp2d"], p["annot3"]) for seq, p in parts.items()},
        gt_variant=gt,
        missing=missing,
        is_demo=(root / DEMO_MARKER).is_file(),
        sample_labels={"activity": np.array([ACTIVITIES.get(a, str(a)) for p in parts.values() for a in p["activity"]])},
        notes=[f"{seq}: {len(p['index'])} valid frames of {int(p['n_frames'])}" for seq, p in parts.items()],
    )

"""Submission files (`.npz`, never unpickled): structural checks, loading, and matching to a test set.

Every failure raises `BadInput` with one line naming the file, the key and what was expected. The zip
directory is checked before anything is decompressed (member count, names, compression method, declared
sizes, compression ratios), array headers are read before arrays (dtype, shape, no Python objects), and
arrays are read with `allow_pickle=False`.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from harness.datasets.base import TestSet
from harness.errors import BadInput, first_validation_error
from harness.skeletons import joint_map, joint_set, shared_subset

MAX_BYTES_ENV = "POSEBENCH_MAX_SUBMISSION_BYTES"
DEFAULT_MAX_BYTES = 2 * 1024**3
MAX_MEMBERS = 64
MAX_DEFLATE_RATIO = 1100  # deflate tops out near 1032:1; anything above is not a plain deflate stream
MAX_META_CHARS = 65536
# Bounds on what is decompressed, whatever the archive declares: the largest test set (Human3.6M, every frame of
# every camera) has 543,344 samples; an id is at most a few dozen characters.
MAX_SAMPLES = 1_000_000
MAX_ID_CHARS = 64
DATASETS: tuple[str, ...] = ("h36m", "mpi_inf_3dhp", "3dpw")
SUBMISSION_JOINT_SETS: tuple[str, ...] = ("h36m17", "mpi_inf_3dhp17", "smpl24")
UNITS: dict[str, float] = {"mm": 1.0, "m": 1000.0}
# Plausible median bone length of a human skeleton in mm (H36M-17 adults: about 250), and the largest
# plausible coordinate (1 km) beyond which a finite value would still overflow the metrics.
BONE_MM_RANGE = (50.0, 1000.0)
MAX_ABS_MM = 1e6


class MethodMeta(BaseModel):
    """The optional `meta` JSON: who made the prediction and how."""

    model_config = ConfigDict(extra="allow")

    name: str | None = None
    paper: str | None = None
    code: str | None = None
    supervision: Literal["unsupervised", "weakly-supervised", "self-supervised", "fully-supervised"] | None = None
    training_data: str | None = None
    input_2d: str | None = None


@dataclass
class Submission:
    """A validated submission: predictions in mm, in the file's own sample order and joint set."""

    path: Path  # how messages and results name it: the file as given, or an upload's own name
    sha256: str
    dataset: str
    sample_id: np.ndarray
    pose3d: np.ndarray
    units: str
    joint_set: str
    meta: MethodMeta
    isolation: str | None = None  # for model runs: how the model process was confined

    def __len__(self) -> int:
        return len(self.sample_id)


def _fail(path: Path, key: str | None, message: str) -> BadInput:
    where = f"{path}: key '{key}'" if key else f"{path}"
    return BadInput(f"{where}: {message}")


def _max_bytes() -> int:
    raw = os.environ.get(MAX_BYTES_ENV)
    if not raw:
        return DEFAULT_MAX_BYTES
    try:
        return int(raw)
    except ValueError:
        raise BadInput(f"${MAX_BYTES_ENV}: expected a whole number of bytes, got {raw!r}") from None


def _check_directory(path: Path, zf: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """Vet the zip directory before decompressing anything; return key -> member."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise _fail(path, None, f"expected at most {MAX_MEMBERS} arrays in the archive, found {len(infos)}")
    members: dict[str, zipfile.ZipInfo] = {}
    total = 0
    limit = _max_bytes()
    for info in infos:
        name = info.filename
        if not name.endswith(".npy") or "/" in name or "\\" in name or name.startswith("."):
            raise _fail(path, None, f"expected only top-level .npy members (an np.savez file), found '{name}'")
        key = name[:-4]
        if key in members:
            raise _fail(path, key, "appears twice in the archive")
        if info.flag_bits & (0x1 | 0x20):
            raise _fail(path, key, "encrypted or patched zip member; expected a plain np.savez member")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _fail(path, key, f"expected stored or deflate compression (np.savez / np.savez_compressed), found method {info.compress_type}")
        if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
            raise _fail(path, key, "stored member whose declared and stored sizes differ")
        if info.compress_type == zipfile.ZIP_DEFLATED and info.file_size > MAX_DEFLATE_RATIO * max(info.compress_size, 1):
            raise _fail(path, key, f"declares {info.file_size} bytes from {info.compress_size} compressed: ratio above {MAX_DEFLATE_RATIO} (zip bomb?)")
        total += info.file_size
        if total > limit:
            raise _fail(path, key, f"archive would decompress to more than {limit} bytes (limit set by ${MAX_BYTES_ENV})")
        members[key] = info
    return members


_READ_ERRORS = (ValueError, OSError, EOFError, RuntimeError, NotImplementedError, zipfile.BadZipFile, zlib.error)


def _read_header(path: Path, key: str, fp: IO[bytes], info: zipfile.ZipInfo) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from a member's .npy header, checked against the member's declared size."""
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
        elif version in ((2, 0), (3, 0)):
            shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except _READ_ERRORS as exc:
        raise _fail(path, key, f"expected a .npy array header ({exc})") from None
    if dtype.hasobject:
        raise _fail(path, key, "holds Python objects (a pickle); expected a plain numeric or unicode array")
    declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if declared > info.file_size:
        raise _fail(path, key, f"header declares {declared} bytes of data but the member holds {info.file_size}")
    return tuple(shape), dtype


def _header(path: Path, zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], key: str) -> tuple[tuple[int, ...], np.dtype]:
    """A member's shape and dtype, read from its header alone (a damaged zip entry is one line too)."""
    try:
        with zf.open(members[key]) as fp:
            return _read_header(path, key, fp, members[key])
    except _READ_ERRORS as exc:
        raise _fail(path, key, f"zip member unreadable ({exc})") from None


def _read_array(path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo, key: str) -> np.ndarray:
    try:
        with zf.open(info) as fp:
            array = np.lib.format.read_array(fp, allow_pickle=False)
    except _READ_ERRORS as exc:
        raise _fail(path, key, f"array data unreadable or truncated ({exc})") from None
    if array.dtype.kind == "U":
        _check_text(path, key, array)
    return array


def _check_text(path: Path, key: str, array: np.ndarray) -> None:
    """A unicode array holds UCS-4 code units, which may be values that are no character: above U+10FFFF, or
    UTF-16 surrogates."""
    units = np.ascontiguousarray(array).reshape(-1).view(np.uint32)
    bad = (units > 0x10FFFF) | ((units >= 0xD800) & (units <= 0xDFFF))
    if bad.any():
        raise _fail(path, key, f"expected text; holds the value {int(units[np.argmax(bad)]):#x}, which is no Unicode character")


def _scalar_text(path: Path, zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], key: str, allowed: tuple[str, ...] | None, default: str | None) -> str | None:
    if key not in members:
        if default is None and allowed is not None:
            raise _fail(path, key, "missing; expected a 0-d unicode array")
        return default
    shape, dtype = _header(path, zf, members, key)
    if shape != () or dtype.kind != "U":
        raise _fail(path, key, f"expected a 0-d unicode string, got dtype {dtype} shape {shape}")
    if dtype.itemsize > 4 * MAX_META_CHARS:
        raise _fail(path, key, f"expected at most {MAX_META_CHARS} characters, got a string of {dtype.itemsize // 4}")
    value = str(_read_array(path, zf, members[key], key)[()])
    if allowed is not None and value not in allowed:
        raise _fail(path, key, f"expected one of {', '.join(allowed)}, got '{value[:40]}'")
    return value


def _check_values(where: str, pose_mm: np.ndarray, ids: np.ndarray, joints: str, units: str | None) -> np.ndarray:
    """Finite coordinates whose bone lengths fit the declared units and that stay within 1 km; returned as is.

    `where` starts the error line (file and key, or the model that returned the poses); `units` is the file's
    declared unit, None for a model, which must return millimetres.
    """
    with np.errstate(all="ignore"):  # overflow in extreme values is found and reported here, never warned about
        return _checked_values(where, pose_mm, ids, joints, units)


def _unit_guess(median: float, units: str | None) -> str:
    """What values with this median bone length (mm as read) probably are, and the fix."""
    if median > BONE_MM_RANGE[1]:
        return "millimetres: set units='mm'" if units == "m" else "a unit smaller than mm"
    if median >= 5:
        return "centimetres: convert to mm"
    return "metres: set units='m' or multiply by 1000" if units is not None else "metres: the model must return millimetres (multiply by 1000)"


def _checked_values(where: str, pose_mm: np.ndarray, ids: np.ndarray, joints: str, units: str | None) -> np.ndarray:
    finite = np.isfinite(pose_mm).all(axis=(1, 2))
    if not finite.all():
        bad = int(np.argmin(finite))
        raise BadInput(f"{where}: expected finite values; {int((~finite).sum())} sample(s) hold NaN or inf (first: {str(ids[bad])!r})")
    if len(pose_mm):
        median = _median_bone_length(pose_mm, joints)
        if 0 < median < BONE_MM_RANGE[0] or median > BONE_MM_RANGE[1]:
            declared = f" with units '{units}'" if units is not None else ""
            raise BadInput(f"{where}: median bone length {median:.3g} mm{declared} (a human's is about 250): values look like {_unit_guess(median, units)}")
    bounded = (np.abs(pose_mm) <= MAX_ABS_MM).all(axis=(1, 2))
    if not bounded.all():
        bad = int(np.argmin(bounded))
        raise BadInput(f"{where}: expected coordinates within +-{MAX_ABS_MM:g} mm; {int((~bounded).sum())} sample(s) are beyond (first: {str(ids[bad])!r})")
    return pose_mm


def _median_bone_length(pose3d: np.ndarray, joints: str) -> float:
    bones = joint_set(joints).bones()
    step = max(1, len(pose3d) // 2000)
    sample = np.asarray(pose3d[::step], dtype=np.float64)
    return float(np.median(np.linalg.norm(sample[:, bones[:, 0]] - sample[:, bones[:, 1]], axis=-1)))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_submission(path: Path, name: str | None = None) -> Submission:
    """Open, vet and load a submission file; the predictions come back in mm. Errors name the file as `name`
    (an upload's own name) where given, else by its path."""
    path = Path(path)
    shown = Path(name) if name else path
    if not path.is_file():
        raise _fail(shown, None, "file not found")
    size = path.stat().st_size
    if size > _max_bytes():
        raise _fail(shown, None, f"file is {size} bytes; the limit is {_max_bytes()} (set by ${MAX_BYTES_ENV})")
    try:
        zf = zipfile.ZipFile(path)
    except _READ_ERRORS:
        raise _fail(shown, None, "not an .npz archive; expected a file written by np.savez or np.savez_compressed") from None
    with zf:
        members = _check_directory(shown, zf)
        for key in ("pose3d", "sample_id"):
            if key not in members:
                raise _fail(shown, key, "missing; required keys are pose3d, sample_id and dataset")
        dataset = _scalar_text(shown, zf, members, "dataset", DATASETS, None)
        units = _scalar_text(shown, zf, members, "units", tuple(UNITS), "mm")
        joints = _scalar_text(shown, zf, members, "joint_set", SUBMISSION_JOINT_SETS, "h36m17")
        meta_text = _scalar_text(shown, zf, members, "meta", None, "{}")

        shape, dtype = _header(shown, zf, members, "pose3d")
        n_joints = len(joint_set(joints))
        if dtype.kind != "f" or len(shape) != 3 or shape[1:] != (n_joints, 3):
            raise _fail(shown, "pose3d", f"expected float array (N, {n_joints}, 3) for joint_set {joints}, got dtype {dtype} shape {shape}")
        if shape[0] > MAX_SAMPLES:
            raise _fail(shown, "pose3d", f"expected at most {MAX_SAMPLES} samples (the largest test set has 543,344), got {shape[0]}")
        id_shape, id_dtype = _header(shown, zf, members, "sample_id")
        if id_dtype.kind != "U" or id_shape != (shape[0],):
            raise _fail(shown, "sample_id", f"expected unicode array ({shape[0]},) matching pose3d, got dtype {id_dtype} shape {id_shape}")
        if id_dtype.itemsize > 4 * MAX_ID_CHARS:
            raise _fail(shown, "sample_id", f"expected ids of at most {MAX_ID_CHARS} characters, got a width of {id_dtype.itemsize // 4}")
        pose3d = _read_array(shown, zf, members["pose3d"], "pose3d")
        ids = _read_array(shown, zf, members["sample_id"], "sample_id")

    if pose3d.dtype.itemsize < 4:
        raise _fail(shown, "pose3d", f"expected float32 or float64, got {pose3d.dtype} (too coarse for millimetres at camera depth)")
    pose3d = _check_values(f"{shown}: key 'pose3d'", pose3d if units == "mm" else pose3d.astype(np.float64) * UNITS[units], ids, joints, units)
    index = pd.Index(ids)
    if not index.is_unique:
        dupes = index[index.duplicated()].unique()[:3].tolist()
        raise _fail(shown, "sample_id", f"expected unique ids; {int(index.duplicated().sum())} duplicate(s), e.g. {dupes}")

    if len(meta_text) > MAX_META_CHARS:
        raise _fail(shown, "meta", f"expected at most {MAX_META_CHARS} characters of JSON, got {len(meta_text)}")
    try:
        parsed = json.loads(meta_text)
    except json.JSONDecodeError as exc:
        raise _fail(shown, "meta", f"expected a JSON object ({exc.msg} at character {exc.pos})") from None
    except RecursionError:
        raise _fail(shown, "meta", "expected a JSON object of a few levels; it is nested too deeply to read") from None
    if not isinstance(parsed, dict):
        raise _fail(shown, "meta", f"expected a JSON object, got a JSON {type(parsed).__name__}")
    try:
        meta = MethodMeta.model_validate(parsed)
    except ValidationError as exc:
        raise _fail(shown, "meta", first_validation_error(exc)) from None
    return Submission(shown, sha256_of(path), dataset, ids, pose3d, units, joints, meta)


def match_to_test_set(sub: Submission, test: TestSet) -> tuple[np.ndarray, TestSet]:
    """Predictions reordered to the test set's sample order and joint set (N, J, 3) in mm, and the test set
    they are scored against: the same one, or, where the dataset allows it, the joints both share."""
    if sub.dataset != test.dataset:
        raise _fail(sub.path, "dataset", f"expected '{test.dataset}' for this benchmark, got '{sub.dataset}'")
    try:
        joints = joint_map(sub.joint_set, test.joint_set)
    except KeyError as exc:
        if not test.partial_joints_ok:
            raise _fail(sub.path, "joint_set", f"{exc.args[0]}") from None
        try:
            test = test.restricted_to(shared_subset(test.joint_set, sub.joint_set))
        except KeyError as exc2:
            raise _fail(sub.path, "joint_set", f"{exc2.args[0]}") from None
        joints = joint_map(sub.joint_set, test.joint_set)
    if len(sub) == len(test) and np.array_equal(sub.sample_id, test.sample_id):
        order = None
    else:
        order = pd.Index(sub.sample_id).get_indexer(test.sample_id)
        lost = order < 0
        n_extra = len(sub) - int((~lost).sum())
        if lost.any() or n_extra:
            extra = ~pd.Index(sub.sample_id).isin(test.sample_id)
            raise _fail(
                sub.path,
                "sample_id",
                f"expected exactly the {len(test)} ids of {test.dataset} {test.split} (see `harness template`); "
                f"{int(lost.sum())} missing (first: {test.sample_id[lost][:3].tolist()}), "
                f"{n_extra} extra (first: {sub.sample_id[extra][:3].tolist()})",
            )
    pose = sub.pose3d if order is None else sub.pose3d[order]
    if joints.tolist() != list(range(len(joints))) or pose.shape[1] != len(joints):
        pose = pose[:, joints]
    return pose, test


def from_predictions(label: str, test: TestSet, pose3d: np.ndarray, meta: dict, joints: str | None = None) -> Submission:
    """A submission built in memory (a model run): ids and units (mm) are the test set's own, joints too unless
    named; the poses get the checks a file's get (finite, millimetres by bone length, bounded)."""
    try:
        method = MethodMeta.model_validate(meta)
    except ValidationError as exc:
        raise BadInput(f"{label}: meta: {first_validation_error(exc)}") from None
    joints = joints or test.joint_set
    _check_values(f"{label}: returned poses", pose3d, test.sample_id, joints, None)
    digest = hashlib.sha256(np.ascontiguousarray(pose3d, dtype=np.float32).tobytes()).hexdigest()
    return Submission(Path(label), digest, test.dataset, test.sample_id, pose3d, "mm", joints, method)


def save_submission(sub: Submission, path: Path, force: bool = False) -> None:
    """Write `sub` as an ordinary submission file, so it can be stored and re-scored without rerunning anything."""
    from harness.outputs import write_atomic

    arrays = {
        "pose3d": np.asarray(sub.pose3d, dtype=np.float32), "sample_id": sub.sample_id, "dataset": np.array(sub.dataset),
        "units": np.array(sub.units), "joint_set": np.array(sub.joint_set), "meta": np.array(sub.meta.model_dump_json(exclude_none=True)),
    }
    write_atomic(path, lambda fh: np.savez(fh, **arrays), force)

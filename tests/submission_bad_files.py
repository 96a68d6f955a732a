"""The table of bad submission files (`CASES`): each entry builds one bad file and names the call that must
refuse it, the key its one-line error names and the fragments the message must hold; `expected_fragments` adds
those that depend on the test set. Used by tests/test_submission_bad_input.py and the --json tests.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.datasets.base import TestSet
from harness.skeletons import H36M17, SMPL24
from harness.submission import MAX_DEFLATE_RATIO, MAX_MEMBERS
from tests.submission_cases import (
    members_of,
    npy,
    npy_header,
    save,
    set_declared_size,
    set_flag_bits,
    small,
    valid_arrays,
    write_zip,
)

# -------------------------------------------------------------------------------------- the bad cases


@dataclass(frozen=True)
class Case:
    """A bad file: `build(tmp_path, test)` writes it; `stage` says which call must refuse it."""

    build: Callable[[Path, TestSet], Path]
    key: str | None
    fragments: tuple[str, ...] = ()
    stage: str = "read"  # "read": read_submission refuses; "match": read passes, match_to_test_set refuses


def with_(**override: object) -> Callable[[Path, TestSet], Path]:
    """A 60-row submission with some arrays replaced (value None: key left out; callable: f(arrays))."""

    def build(tmp: Path, test: TestSet) -> Path:
        arrays = small(test)
        for k, v in override.items():
            if v is None:
                arrays.pop(k)
            else:
                arrays[k] = v(arrays) if callable(v) else v
        return save(tmp / "sub.npz", arrays)

    return build


def nonfinite(value: float, newline_id: bool = False) -> Callable[[Path, TestSet], Path]:
    def build(tmp: Path, test: TestSet) -> Path:
        arrays = small(test)
        arrays["pose3d"][7, 3, 1] = value
        arrays["pose3d"][20, 0, 0] = value
        if newline_id:
            ids = arrays["sample_id"].astype("U64")
            ids[7] = "S9/evil\nid/000007"
            arrays["sample_id"] = ids
        return save(tmp / "sub.npz", arrays)

    return build


def raw_file(content: bytes, name: str = "sub.npz") -> Callable[[Path, TestSet], Path]:
    def build(tmp: Path, test: TestSet) -> Path:
        (tmp / name).write_bytes(content)
        return tmp / name

    return build


def plain_npy(tmp: Path, test: TestSet) -> Path:
    np.save(tmp / "sub.npy", small(test)["pose3d"])
    return tmp / "sub.npy"


def a_directory(tmp: Path, test: TestSet) -> Path:
    (tmp / "sub.npz").mkdir()
    return tmp / "sub.npz"


def missing_file(tmp: Path, test: TestSet) -> Path:
    return tmp / "does_not_exist.npz"


def empty_zip(tmp: Path, test: TestSet) -> Path:
    return write_zip(tmp / "sub.npz", [])


def truncated_zip(tmp: Path, test: TestSet) -> Path:
    good = save(tmp / "good.npz", small(test))
    data = good.read_bytes()
    (tmp / "sub.npz").write_bytes(data[: len(data) // 2])
    return tmp / "sub.npz"


def zip_members(*extra: tuple, drop: tuple[str, ...] = ()) -> Callable[[Path, TestSet], Path]:
    """The 60-row submission's members plus `extra` raw members."""

    def build(tmp: Path, test: TestSet) -> Path:
        base = [(n, d) for n, d in members_of(small(test)) if n not in drop]
        return write_zip(tmp / "sub.npz", base + list(extra))

    return build


def method_member(method: int) -> Callable[[Path, TestSet], Path]:
    def build(tmp: Path, test: TestSet) -> Path:
        m = members_of(small(test))
        return write_zip(tmp / "sub.npz", [(m[0][0], m[0][1], method)] + m[1:])

    return build


def too_many_members(tmp: Path, test: TestSet) -> Path:
    extra = {f"extra{i:02d}": np.zeros(1) for i in range(MAX_MEMBERS + 1 - 3)}
    return save(tmp / "sub.npz", small(test) | extra)


def duplicate_member(tmp: Path, test: TestSet) -> Path:
    m = members_of(small(test))
    return write_zip(tmp / "sub.npz", m + [m[0]])


def truncated_npy(tmp: Path, test: TestSet) -> Path:
    m = members_of(small(test))
    name, data = m[0]
    return write_zip(tmp / "sub.npz", [(name, data[: len(data) - 1000])] + m[1:])


def garbage_npy(tmp: Path, test: TestSet) -> Path:
    m = members_of(small(test))
    return write_zip(tmp / "sub.npz", [("pose3d.npy", b"this is not a numpy array at all")] + m[1:])


def huge_npy_header(tmp: Path, test: TestSet) -> Path:
    """Headers declare ~1 PiB of pose data (consistent shapes) in a member holding 1 kB."""
    n = 5 * 10**12
    return write_zip(
        tmp / "sub.npz",
        [
            ("pose3d.npy", npy_header((n, 17, 3), "<f4") + bytes(1000)),
            ("sample_id.npy", npy_header((n,), "<U4") + bytes(1000)),
            ("dataset.npy", npy(np.array("h36m"))),
        ],
    )


def data_offset(data: bytes | bytearray, path: Path, member: str) -> int:
    """Where `member`'s (compressed) data starts, from its local header (whose extra field may differ)."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member)
    name_len, extra_len = struct.unpack_from("<HH", data, info.header_offset + 26)
    return info.header_offset + 30 + name_len + extra_len


def corrupt_stored_data(tmp: Path, test: TestSet) -> Path:
    """Flip bytes inside the stored pose3d data: the CRC no longer matches."""
    path = save(tmp / "sub.npz", small(test))
    data = bytearray(path.read_bytes())
    start = data_offset(data, path, "pose3d.npy") + 500
    data[start : start + 16] = bytes(b ^ 0xFF for b in data[start : start + 16])
    path.write_bytes(bytes(data))
    return path


def corrupt_deflate_stream(tmp: Path, test: TestSet) -> Path:
    """The first deflate block of pose3d gets the reserved block type 3: zlib cannot decode it."""
    path = save(tmp / "sub.npz", small(test), compressed=True)
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo("pose3d.npy").compress_type == zipfile.ZIP_DEFLATED
    data = bytearray(path.read_bytes())
    start = data_offset(data, path, "pose3d.npy")
    data[start] = 0b111  # BFINAL=1, BTYPE=11 (reserved)
    path.write_bytes(bytes(data))
    return path


def edited_size(member: str, factor: float, compressed: bool) -> Callable[[Path, TestSet], Path]:
    def build(tmp: Path, test: TestSet) -> Path:
        path = save(tmp / "sub.npz", small(test), compressed=compressed)
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo(member)
        set_declared_size(path, member, int(info.compress_size * factor))
        return path

    return build


def flagged(bits: int) -> Callable[[Path, TestSet], Path]:
    def build(tmp: Path, test: TestSet) -> Path:
        path = save(tmp / "sub.npz", small(test))
        set_flag_bits(path, "pose3d.npy", bits)
        return path

    return build


def smpl24_for_h36m(tmp: Path, test: TestSet) -> Path:
    arrays = valid_arrays(test)
    idx = [H36M17.index.get(n, 0) for n in SMPL24.names]
    arrays["pose3d"] = arrays["pose3d"][:, idx]
    arrays["joint_set"] = np.array("smpl24")
    return save(tmp / "sub.npz", arrays)


def drop_rows(tmp: Path, test: TestSet) -> Path:
    keep = np.setdiff1d(np.arange(len(test)), [5, 100, 2000])
    return save(tmp / "sub.npz", valid_arrays(test, keep))


def extra_rows(tmp: Path, test: TestSet) -> Path:
    arrays = valid_arrays(test)
    arrays["pose3d"] = np.concatenate([arrays["pose3d"], arrays["pose3d"][:2]])
    arrays["sample_id"] = np.concatenate([arrays["sample_id"], ["S9/MadeUp/00000000/000000", "S9/MadeUp/00000000/000001"]])
    return save(tmp / "sub.npz", arrays)


def replaced_ids(tmp: Path, test: TestSet) -> Path:
    arrays = valid_arrays(test)
    ids = arrays["sample_id"].astype("U64")
    ids[[3, 4]] = ["S9/MadeUp/00000000/000000", "S9/MadeUp/00000000/000001"]
    arrays["sample_id"] = ids
    return save(tmp / "sub.npz", arrays)


def dup_ids(a: dict[str, np.ndarray]) -> np.ndarray:
    ids = a["sample_id"].copy()
    ids[10], ids[11] = ids[3], ids[4]
    return ids


def objects(value: object) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
    def make(a: dict[str, np.ndarray]) -> np.ndarray:
        arr = np.empty(np.shape(value), dtype=object)
        arr[...] = value
        return arr

    return make


CASES: dict[str, Case] = {
    # not a readable archive
    "missing_file": Case(missing_file, None, ("not found",)),
    "directory_not_file": Case(a_directory, None),
    "random_bytes": Case(raw_file(np.random.default_rng(0).bytes(4096)), None, ("not an .npz",)),
    "empty_file": Case(raw_file(b""), None, ("not an .npz",)),
    "plain_npy_file": Case(plain_npy, None, ("not an .npz",)),
    "truncated_zip": Case(truncated_zip, None, ("not an .npz",)),
    "empty_zip": Case(empty_zip, "pose3d", ("missing",)),
    # required keys
    "missing_pose3d": Case(with_(pose3d=None), "pose3d", ("missing",)),
    "missing_sample_id": Case(with_(sample_id=None), "sample_id", ("missing",)),
    "missing_dataset": Case(with_(dataset=None), "dataset", ("missing",)),
    # shapes and dtypes
    "pose3d_2d": Case(with_(pose3d=lambda a: a["pose3d"].reshape(60, -1)), "pose3d", ("(N, 17, 3)", "(60, 51)")),
    "pose3d_last_dim_2": Case(with_(pose3d=lambda a: a["pose3d"][..., :2].copy()), "pose3d", ("(N, 17, 3)", "(60, 17, 2)")),
    "pose3d_16_joints": Case(with_(pose3d=lambda a: a["pose3d"][:, :16].copy()), "pose3d", ("(N, 17, 3)", "(60, 16, 3)")),
    "pose3d_17_joints_declared_smpl24": Case(with_(joint_set=np.array("smpl24")), "pose3d", ("(N, 24, 3)", "smpl24")),
    "pose3d_integer": Case(with_(pose3d=lambda a: a["pose3d"].astype(np.int32)), "pose3d", ("int32",)),
    "pose3d_complex": Case(with_(pose3d=lambda a: a["pose3d"].astype(np.complex64)), "pose3d", ("complex64",)),
    "sample_id_short": Case(with_(sample_id=lambda a: a["sample_id"][:59]), "sample_id", ("(60,)", "(59,)")),
    "sample_id_bytes": Case(with_(sample_id=lambda a: a["sample_id"].astype("S")), "sample_id", ("unicode",)),
    "sample_id_ints": Case(with_(sample_id=np.arange(60)), "sample_id", ("unicode",)),
    "sample_id_2d": Case(with_(sample_id=lambda a: a["sample_id"].reshape(60, 1)), "sample_id", ("unicode",)),
    "dataset_1d": Case(with_(dataset=np.array(["h36m"])), "dataset", ("0-d",)),
    "dataset_bytes": Case(with_(dataset=np.array(b"h36m")), "dataset", ("0-d",)),
    "dataset_unknown": Case(with_(dataset=np.array("h36m_v2")), "dataset", ("h36m_v2", "mpi_inf_3dhp")),
    "dataset_newline_value": Case(with_(dataset=np.array("h36m\nsecond line")), "dataset", ("h36m",)),
    "units_unknown": Case(with_(units=np.array("cm")), "units", ("'cm'", "mm")),
    "units_1d": Case(with_(units=np.array(["mm"])), "units", ("0-d",)),
    "joint_set_unknown": Case(with_(joint_set=np.array("coco17")), "joint_set", ("coco17", "h36m17")),
    # values
    "nan": Case(nonfinite(np.nan), "pose3d", ("finite", "2 sample")),
    "inf": Case(nonfinite(np.inf), "pose3d", ("finite", "2 sample")),
    "minus_inf": Case(nonfinite(-np.inf), "pose3d", ("finite", "2 sample")),
    "nan_with_newline_in_id": Case(nonfinite(np.nan, newline_id=True), "pose3d", ("finite",)),
    "metres_declared_mm": Case(with_(pose3d=lambda a: a["pose3d"] / 1000), "pose3d", ("metres",)),
    "centimetres_declared_mm": Case(with_(pose3d=lambda a: a["pose3d"] / 10), "pose3d", ("centimetres",)),
    "float16": Case(with_(pose3d=lambda a: a["pose3d"].astype(np.float16)), "pose3d", ("float32 or float64",)),
    "huge_finite": Case(with_(pose3d=lambda a: np.where(np.arange(a["pose3d"].size).reshape(a["pose3d"].shape) == 7, 1e30, a["pose3d"])), "pose3d", ("within",)),
    "millimetres_declared_m": Case(with_(units=np.array("m")), "pose3d", ("millimetres", "'m'")),
    "duplicate_ids": Case(with_(sample_id=dup_ids), "sample_id", ("unique", "2 duplicate")),
    # Python objects (pickles) in any member that is read
    "object_pose3d": Case(with_(pose3d=objects([{"a": 1}])), "pose3d", ("Python objects",)),
    "object_sample_id": Case(with_(sample_id=lambda a: a["sample_id"].astype(object)), "sample_id", ("Python objects",)),
    "object_dataset": Case(with_(dataset=objects("h36m")), "dataset", ("Python objects",)),
    "object_meta": Case(with_(meta=objects({"name": "x"})), "meta", ("Python objects",)),
    "object_units": Case(with_(units=objects("mm")), "units", ("Python objects",)),
    # meta
    "meta_not_json": Case(with_(meta=np.array("{name: 'x'")), "meta", ("JSON",)),
    "meta_json_list": Case(with_(meta=np.array('["name", "x"]')), "meta", ("JSON object", "list")),
    "meta_bad_supervision": Case(with_(meta=np.array('{"supervision": "semi-supervised"}')), "meta", ("supervision",)),
    "meta_not_unicode": Case(with_(meta=np.array(5)), "meta", ("0-d unicode",)),
    # archive structure
    "bzip2_member": Case(method_member(zipfile.ZIP_BZIP2), "pose3d", ("compression", str(zipfile.ZIP_BZIP2))),
    "lzma_member": Case(method_member(zipfile.ZIP_LZMA), "pose3d", ("compression", str(zipfile.ZIP_LZMA))),
    "nested_member": Case(zip_members(("a/pose3d.npy", npy(np.zeros(3)))), None, ("a/pose3d.npy", ".npy")),
    "backslash_member": Case(zip_members(("..\\evil.npy", npy(np.zeros(3)))), None, ("evil.npy",)),
    "non_npy_member": Case(zip_members(("README.txt", b"hello")), None, ("README.txt", ".npy")),
    "newline_in_non_npy_member_name": Case(zip_members(("evil\nREADME.txt", b"hello")), None, ("evil", ".npy")),
    "duplicate_member": Case(duplicate_member, "pose3d", ("twice",)),
    "too_many_members": Case(too_many_members, None, (f"at most {MAX_MEMBERS}", str(MAX_MEMBERS + 1))),
    "ratio_above_deflate_max": Case(edited_size("pose3d.npy", MAX_DEFLATE_RATIO * 1.5, True), "pose3d", ("ratio", str(MAX_DEFLATE_RATIO))),
    "stored_size_mismatch": Case(edited_size("pose3d.npy", 2, False), "pose3d", ("stored",)),
    # array data
    "truncated_npy_data": Case(truncated_npy, "pose3d", ("truncated",)),
    "garbage_npy_header": Case(garbage_npy, "pose3d", ("header",)),
    "npy_header_declares_petabyte": Case(huge_npy_header, "pose3d"),
    "corrupt_stored_data_crc": Case(corrupt_stored_data, "pose3d", ("CRC",)),
    "corrupt_deflate_stream": Case(corrupt_deflate_stream, "pose3d"),
    "encrypted_member_flag": Case(flagged(0x1), "pose3d"),
    "compressed_patch_member_flag": Case(flagged(0x20), "pose3d"),
    # the exact id set and joint map (need the test set)
    "no_rows": Case(with_(pose3d=lambda a: a["pose3d"][:0], sample_id=lambda a: a["sample_id"][:0]), "sample_id", ("0 extra",), "match"),
    "missing_ids": Case(drop_rows, "sample_id", ("3 missing", "0 extra"), "match"),
    "extra_ids": Case(extra_rows, "sample_id", ("0 missing", "2 extra", "S9/MadeUp/00000000/000000"), "match"),
    "missing_and_extra_ids": Case(replaced_ids, "sample_id", ("2 missing", "2 extra", "S9/MadeUp/00000000/000001"), "match"),
    "smpl24_for_h36m": Case(smpl24_for_h36m, "joint_set", ("smpl24",), "match"),
}


def expected_fragments(name: str, test: TestSet) -> tuple[str, ...]:
    """Fragments that depend on the test set (ids named in the message)."""
    ids = test.sample_id
    return {
        "nan": (ids[7],),
        "inf": (ids[7],),
        "minus_inf": (ids[7],),
        "duplicate_ids": (ids[3],),
        "no_rows": (f"{len(test)} missing", ids[0]),
        "missing_ids": (ids[5], ids[100], ids[2000]),
        "missing_and_extra_ids": (ids[3], ids[4]),
    }.get(name, ())

"""Submission files: every bad input is a one-line error naming the file and the key, never a traceback.

Each bad case is checked through the Python API (`read_submission` / `match_to_test_set` raise `BadInput`)
and through the command line (`harness validate` and `harness evaluate`: exit 2, exactly one stderr line
starting with `error:`). Valid files in every allowed variant (row order, dtype, units, joint set) must
score the same as the plain float32 millimetre file.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import tracemalloc
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.config import load_config
from harness.datasets import load_dataset
from harness.datasets.base import TestSet
from harness.demo.h36m import write_demo
from harness.errors import BadInput
from harness.evaluate import evaluate_submission
from harness.skeletons import H36M17, SMPL24, joint_map
from harness.submission import MAX_BYTES_ENV, MAX_DEFLATE_RATIO, MAX_MEMBERS, match_to_test_set, read_submission

# ---------------------------------------------------------------------------------------------- fixtures


@dataclass
class Demo:
    root: Path
    yaml: Path
    test: TestSet
    gt_path: Path  # the plain valid submission: float32 mm GT, test-set order
    reference: dict[tuple[str, str, str], float] = field(default_factory=dict)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    root = tmp_path_factory.mktemp("posebench_data")
    write_demo(root)
    yaml = root / "datasets.yaml"
    yaml.write_text(
        f"data_root: {root}\n"
        "datasets:\n"
        f"  h36m: {{format: videopose3d, path: {root}/demo/h36m, inputs_2d: {{gt: data_2d_h36m_gt.npz}}}}\n"
    )
    test = load_dataset(load_config(yaml), "h36m")
    gt_path = save(root / "gt.npz", valid_arrays(test))
    return Demo(root, yaml, test, gt_path)


@pytest.fixture(scope="module")
def reference(demo: Demo) -> dict[tuple[str, str, str], float]:
    return scores(demo.gt_path, demo)


def valid_arrays(test: TestSet, rows: slice | np.ndarray | None = None) -> dict[str, np.ndarray]:
    sel = slice(None) if rows is None else rows
    return {
        "pose3d": test.gt3d[sel].astype(np.float32),
        "sample_id": test.sample_id[sel],
        "dataset": np.array("h36m"),
    }


def small(test: TestSet) -> dict[str, np.ndarray]:
    """A structurally valid 60-row submission (enough for every read-level check)."""
    return valid_arrays(test, slice(0, 60))


def save(path: Path, arrays: dict[str, np.ndarray], compressed: bool = False) -> Path:
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    assert path.is_file()
    return path


def npy(arr: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asanyarray(arr), allow_pickle=allow_pickle)
    return buf.getvalue()


def npy_header(shape: tuple[int, ...], descr: str) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def write_zip(path: Path, members: list[tuple], compression: int = zipfile.ZIP_STORED) -> Path:
    """members: (name, bytes) or (name, bytes, compress_type); duplicate names are written as given."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns on duplicate names
        with zipfile.ZipFile(path, "w") as zf:
            for name, data, *ctype in members:
                zf.writestr(name, data, compress_type=ctype[0] if ctype else compression)
    return path


def members_of(arrays: dict[str, np.ndarray], allow_pickle: bool = False) -> list[tuple[str, bytes]]:
    return [(f"{k}.npy", npy(v, allow_pickle)) for k, v in arrays.items()]


def set_declared_size(path: Path, member: str, size: int) -> None:
    """Hand-edit the uncompressed size of `member` in its local header and the central directory."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member)
    assert data[info.header_offset : info.header_offset + 4] == b"PK\x03\x04"
    if struct.unpack_from("<I", data, info.header_offset + 22)[0] != 0xFFFFFFFF:  # else the size is in a zip64 extra
        struct.pack_into("<I", data, info.header_offset + 22, size)
    name, pos, found = member.encode(), 0, False
    while (pos := data.find(b"PK\x01\x02", pos)) >= 0:
        n = struct.unpack_from("<H", data, pos + 28)[0]
        if data[pos + 46 : pos + 46 + n] == name:
            struct.pack_into("<I", data, pos + 24, size)
            found = True
        pos += 4
    assert found
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo(member).file_size == size


def set_flag_bits(path: Path, member: str, bits: int) -> None:
    """OR general-purpose flag `bits` into `member`'s local header and central directory entry."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member)
    struct.pack_into("<H", data, info.header_offset + 6, struct.unpack_from("<H", data, info.header_offset + 6)[0] | bits)
    name, pos = member.encode(), 0
    while (pos := data.find(b"PK\x01\x02", pos)) >= 0:
        n = struct.unpack_from("<H", data, pos + 28)[0]
        if data[pos + 46 : pos + 46 + n] == name:
            struct.pack_into("<H", data, pos + 8, struct.unpack_from("<H", data, pos + 8)[0] | bits)
        pos += 4
    path.write_bytes(bytes(data))


def scores(path: Path, demo: Demo) -> dict[tuple[str, str, str], float]:
    result = evaluate_submission(path, load_config(demo.yaml), with_ci=False)
    return {(r.benchmark, r.metric, r.aggregation): r.value for r in result.results}


runner = CliRunner()


def cli(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def assert_one_line_error(result, code: int, *fragments: str) -> str:
    """Exit `code`, exactly one stderr line starting with 'error:', holding every fragment; no traceback."""
    assert not (result.exception is not None and not isinstance(result.exception, SystemExit)), (
        f"uncaught {type(result.exception).__name__}: {result.exception}"
    )
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"expected one stderr line, got {len(lines)}: {result.stderr!r}"
    assert lines[0].startswith("error:"), lines[0]
    assert result.exit_code == code, f"exit {result.exit_code}, expected {code}: {lines[0]}"
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    assert not any(line.startswith("error") for line in result.stdout.splitlines())
    return lines[0]


def assert_api_message(msg: str, path: Path, key: str | None, fragments: tuple[str, ...]) -> None:
    assert "\n" not in msg and "\r" not in msg, f"multi-line message: {msg!r}"
    assert str(path) in msg, f"file not named: {msg!r}"
    if key is not None:
        assert f"key '{key}'" in msg, f"key {key!r} not named: {msg!r}"
    for fragment in fragments:
        assert fragment in msg, f"{fragment!r} not in {msg!r}"


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


def _expected_fragments(name: str, test: TestSet) -> tuple[str, ...]:
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


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_api(name: str, demo: Demo, tmp_path: Path) -> None:
    case = CASES[name]
    path = case.build(tmp_path, demo.test)
    if case.stage == "match":
        sub = read_submission(path)  # structurally fine: only the test set can tell
        with pytest.raises(BadInput) as exc:
            match_to_test_set(sub, demo.test)
    else:
        with pytest.raises(BadInput) as exc:
            read_submission(path)
    assert_api_message(str(exc.value), path, case.key, case.fragments + _expected_fragments(name, demo.test))


@pytest.mark.parametrize("command", ["validate", "evaluate"])
@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_cli(name: str, command: str, demo: Demo, tmp_path: Path) -> None:
    case = CASES[name]
    path = case.build(tmp_path, demo.test)
    extra = ["--no-ci"] if command == "evaluate" else []
    result = cli(command, path, *extra, "--datasets", demo.yaml)
    key = (f"key '{case.key}'",) if case.key else ()
    assert_one_line_error(result, 2, str(path), *key, *case.fragments, *_expected_fragments(name, demo.test))


def test_bad_input_subprocess_no_traceback(demo: Demo, tmp_path: Path) -> None:
    """The real console entry point: one stderr line, exit 2, nothing on stdout, no traceback."""
    path = CASES["object_pose3d"].build(tmp_path, demo.test)
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "validate", str(path), "--datasets", str(demo.yaml)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == [proc.stderr.strip()] and proc.stderr.startswith("error:")
    assert str(path) in proc.stderr and "key 'pose3d'" in proc.stderr
    assert proc.stdout == ""


def test_debug_shows_traceback(demo: Demo, tmp_path: Path) -> None:
    path = tmp_path / "nope.npz"
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "--debug", "validate", str(path), "--datasets", str(demo.yaml)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr
    assert "BadInput" in proc.stderr and str(path) in proc.stderr
    # and in-process: the exception itself propagates instead of being turned into a line
    result = cli("--debug", "validate", path, "--datasets", demo.yaml)
    assert isinstance(result.exception, BadInput)
    # the flag does not stick to the next command
    assert_one_line_error(cli("validate", path, "--datasets", demo.yaml), 2, str(path))


# ------------------------------------------------------------------------------------------ valid files


def test_valid_file_validates(demo: Demo) -> None:
    result = cli("validate", demo.gt_path, "--datasets", demo.yaml)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert "format ok" in result.stdout and "ids ok" in result.stdout
    assert f"{len(demo.test)} samples" in result.stdout


def test_valid_file_evaluates_to_zero(demo: Demo, tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    result = cli("evaluate", demo.gt_path, "--no-ci", "--json", out, "--datasets", demo.yaml)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    data = json.loads(out.read_text())
    mpjpe = [r["value"] for r in data["results"] if r["metric"] == "mpjpe"]
    assert mpjpe and all(0 <= v < 0.01 for v in mpjpe)
    assert data["submission"]["n_samples"] == len(demo.test)


def test_api_reads_valid_file(demo: Demo) -> None:
    sub = read_submission(demo.gt_path)
    assert (sub.dataset, sub.units, sub.joint_set, len(sub)) == ("h36m", "mm", "h36m17", len(demo.test))
    pose, _ = match_to_test_set(sub, demo.test)
    np.testing.assert_array_equal(pose, demo.test.gt3d.astype(np.float32))


def _shuffled(test: TestSet) -> dict[str, np.ndarray]:
    return valid_arrays(test, np.random.default_rng(1).permutation(len(test)))


def _joints_3dhp(test: TestSet) -> dict[str, np.ndarray]:
    arrays = valid_arrays(test)
    arrays["pose3d"] = arrays["pose3d"][:, joint_map("h36m17", "mpi_inf_3dhp17")]
    arrays["joint_set"] = np.array("mpi_inf_3dhp17")
    return arrays


def _metres(test: TestSet) -> dict[str, np.ndarray]:
    arrays = valid_arrays(test)
    arrays["pose3d"] = (test.gt3d / 1000).astype(np.float32)
    arrays["units"] = np.array("m")
    return arrays


def _dtype(dtype: type) -> Callable[[TestSet], dict[str, np.ndarray]]:
    def make(test: TestSet) -> dict[str, np.ndarray]:
        arrays = valid_arrays(test)
        arrays["pose3d"] = test.gt3d.astype(dtype)
        return arrays

    return make


def _with_meta(test: TestSet) -> dict[str, np.ndarray]:
    meta = {"name": "GT", "supervision": "fully-supervised", "input_2d": "gt", "anything_else": [1, 2]}
    return valid_arrays(test) | {"meta": np.array(json.dumps(meta))}


def _shuffled_3dhp(test: TestSet) -> dict[str, np.ndarray]:
    arrays = _joints_3dhp(test)
    order = np.random.default_rng(2).permutation(len(test))
    return arrays | {"pose3d": arrays["pose3d"][order], "sample_id": arrays["sample_id"][order]}


VARIANTS: dict[str, tuple[Callable[[TestSet], dict[str, np.ndarray]], bool]] = {
    "shuffled_rows": (_shuffled, False),
    "float64": (_dtype(np.float64), False),
    "units_m": (_metres, False),
    "joint_set_mpi_inf_3dhp17": (_joints_3dhp, False),
    "compressed": (valid_arrays, True),
    "shuffled_compressed_3dhp": (_shuffled_3dhp, True),
    "with_meta": (_with_meta, False),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_valid_variants_score_the_same(name: str, demo: Demo, reference: dict, tmp_path: Path) -> None:
    make, compressed = VARIANTS[name]
    arrays = make(demo.test)
    path = save(tmp_path / f"{name}.npz", arrays, compressed=compressed)
    assert cli("validate", path, "--datasets", demo.yaml).exit_code == 0
    got = scores(path, demo)
    assert got.keys() == reference.keys()
    for k in reference:
        assert got[k] == pytest.approx(reference[k], abs=1e-2), k


def test_ids_are_matched_not_positions(demo: Demo, tmp_path: Path) -> None:
    """Shuffled rows come back in test-set order, value for value."""
    path = save(tmp_path / "s.npz", _shuffled(demo.test))
    pose, _ = match_to_test_set(read_submission(path), demo.test)
    np.testing.assert_array_equal(pose, demo.test.gt3d.astype(np.float32))
    path = save(tmp_path / "j.npz", _joints_3dhp(demo.test))
    pose, _ = match_to_test_set(read_submission(path), demo.test)
    np.testing.assert_array_equal(pose, demo.test.gt3d.astype(np.float32))


# ------------------------------------------------------------------------------- dataset vs benchmark


def _mpi_submission(tmp: Path, test: TestSet) -> Path:
    return save(tmp / "mpi.npz", small(test) | {"dataset": np.array("mpi_inf_3dhp")})


def test_wrong_dataset_api(demo: Demo, tmp_path: Path) -> None:
    path = _mpi_submission(tmp_path, demo.test)
    sub = read_submission(path)
    with pytest.raises(BadInput) as exc:
        match_to_test_set(sub, demo.test)
    assert_api_message(str(exc.value), path, "dataset", ("h36m", "mpi_inf_3dhp"))


def test_wrong_dataset_for_benchmark_cli(demo: Demo, tmp_path: Path) -> None:
    path = _mpi_submission(tmp_path, demo.test)
    result = cli("evaluate", path, "--benchmark", "h36m", "--no-ci", "--datasets", demo.yaml)
    assert_one_line_error(result, 2, str(path), "key 'dataset'", "h36m", "mpi_inf_3dhp")


def test_dataset_not_configured_cli(demo: Demo, tmp_path: Path) -> None:
    path = _mpi_submission(tmp_path, demo.test)
    result = cli("evaluate", path, "--no-ci", "--datasets", demo.yaml)
    assert_one_line_error(result, 3, "no dataset 'mpi_inf_3dhp'")


def test_validate_unconfigured_dataset_exit_3(demo: Demo, tmp_path: Path) -> None:
    path = _mpi_submission(tmp_path, demo.test)
    assert_one_line_error(cli("validate", path, "--datasets", demo.yaml), 3, "mpi_inf_3dhp")


def test_unknown_benchmark_cli(demo: Demo) -> None:
    result = cli("evaluate", demo.gt_path, "--benchmark", "nope", "--no-ci", "--datasets", demo.yaml)
    assert_one_line_error(result, 2, "--benchmark", "nope")


# ------------------------------------------------------------------------------------------ pickles


class _Payload:
    """Unpickling this creates `marker` (pickle calls open(marker, 'w'))."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _evil_arrays(test: TestSet, key: str, marker: Path) -> dict[str, np.ndarray]:
    arrays = small(test)
    if key == "pose3d":
        evil = np.empty((1,), dtype=object)
        evil[0] = _Payload(marker)
    elif key == "sample_id":
        evil = arrays["sample_id"].astype(object)
        evil[0] = _Payload(marker)
    else:  # 0-d members, and an extra member nobody asked for
        evil = np.empty((), dtype=object)
        evil[()] = _Payload(marker)
    return arrays | {key: evil}


@pytest.mark.parametrize("key", ["pose3d", "sample_id", "dataset", "meta", "units", "joint_set", "extra_member"])
@pytest.mark.parametrize("compressed", [False, True], ids=["stored", "deflated"])
def test_pickle_is_never_unpickled(key: str, compressed: bool, demo: Demo, tmp_path: Path) -> None:
    # the payload works: loading with allow_pickle=True does create its marker
    probe = tmp_path / "probe_marker"
    save(tmp_path / "probe.npz", _evil_arrays(demo.test, key, probe), compressed=compressed)
    with np.load(tmp_path / "probe.npz", allow_pickle=True) as npz:
        npz[key]
    assert probe.exists()

    marker = tmp_path / "marker"
    path = save(tmp_path / "evil.npz", _evil_arrays(demo.test, key, marker), compressed=compressed)
    if key == "extra_member":  # ignored or refused, but never loaded
        try:
            read_submission(path)
        except BadInput as exc:
            assert_api_message(str(exc), path, key, ())
        for command in ("validate", "evaluate"):
            extra = ["--no-ci"] if command == "evaluate" else []
            assert cli(command, path, *extra, "--datasets", demo.yaml).exit_code in (0, 2)
        assert not marker.exists()
        return
    with pytest.raises(BadInput) as exc:
        read_submission(path)
    assert_api_message(str(exc.value), path, key, ("pickle",))
    for command in ("validate", "evaluate"):
        result = cli(command, path, "--datasets", demo.yaml)
        assert_one_line_error(result, 2, str(path), f"key '{key}'", "Python objects")
    assert not marker.exists(), "the submission's pickle was executed"


# ------------------------------------------------------------------------------------------ size caps


@pytest.fixture
def no_decompression(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail loudly if any member is opened or any array read."""
    calls: list[str] = []

    def read_array(*args, **kwargs):
        calls.append("read_array")
        raise AssertionError("numpy.lib.format.read_array called on an oversized archive")

    def zip_open(self, name, *args, **kwargs):
        calls.append(f"open {getattr(name, 'filename', name)}")
        raise AssertionError("ZipFile.open called on an oversized archive")

    monkeypatch.setattr(np.lib.format, "read_array", read_array)
    monkeypatch.setattr(zipfile.ZipFile, "open", zip_open)
    return calls


def _refused_without_decompressing(path: Path, demo: Demo, calls: list[str], key: str | None, *fragments: str) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(BadInput) as exc:
            read_submission(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert calls == []
    assert peak < 4 * 1024**2, f"{peak} bytes allocated while refusing"
    assert_api_message(str(exc.value), path, key, fragments)
    for command in ("validate", "evaluate"):
        result = cli(command, path, "--datasets", demo.yaml)
        assert_one_line_error(result, 2, str(path), *fragments)
    assert calls == []


def test_size_limit_refuses_normal_file(demo: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MAX_BYTES_ENV, "100000")
    size = demo.gt_path.stat().st_size
    with pytest.raises(BadInput) as exc:
        read_submission(demo.gt_path)
    assert_api_message(str(exc.value), demo.gt_path, None, ("100000", str(size), MAX_BYTES_ENV))
    for command in ("validate", "evaluate"):
        assert_one_line_error(cli(command, demo.gt_path, "--datasets", demo.yaml), 2, str(demo.gt_path), "100000")


def test_deflate_bomb_refused_before_decompression(demo: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """50 MB of zeros deflated (~1000:1, a ratio plain deflate can reach) under a 10 MB limit."""
    n = 50_000_000 // (17 * 3 * 4)
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("pose3d.npy", "w") as fh:
            fh.write(npy_header((n, 17, 3), "<f4"))
            chunk, left = bytes(1 << 20), n * 17 * 3 * 4
            while left:
                fh.write(chunk[: min(left, len(chunk))])
                left -= min(left, len(chunk))
        zf.writestr("sample_id.npy", npy(np.array(["x"])))
        zf.writestr("dataset.npy", npy(np.array("h36m")))
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("pose3d.npy")
    assert info.file_size > 50_000_000 and info.file_size / info.compress_size < MAX_DEFLATE_RATIO
    assert path.stat().st_size < 1_000_000
    monkeypatch.setenv(MAX_BYTES_ENV, "10000000")
    calls = request.getfixturevalue("no_decompression")
    _refused_without_decompressing(path, demo, calls, "pose3d", "10000000", MAX_BYTES_ENV)


def test_edited_declared_size_refused_before_decompression(demo: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """Central directory claims ~1000x the data (ratio still plausible for deflate), over the limit."""
    path = save(tmp_path / "sub.npz", small(demo.test), compressed=True)
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("pose3d.npy")
    declared = info.compress_size * 1000
    set_declared_size(path, "pose3d.npy", declared)
    limit = declared // 10
    assert path.stat().st_size < limit
    monkeypatch.setenv(MAX_BYTES_ENV, str(limit))
    _refused_without_decompressing(path, demo, request.getfixturevalue("no_decompression"), "pose3d", str(limit))


def test_edited_huge_declared_size_refused_before_decompression(demo: Demo, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """A declared size of ~4 GB (default limit 2 GiB) on a few kB of deflate data."""
    path = save(tmp_path / "sub.npz", small(demo.test), compressed=True)
    set_declared_size(path, "pose3d.npy", 0xF0000000)
    _refused_without_decompressing(path, demo, request.getfixturevalue("no_decompression"), "pose3d")


def test_declared_sizes_summed_over_limit(demo: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """Each member is under the limit; together they are over it."""
    arrays = valid_arrays(demo.test)
    arrays["pose3d"] = np.zeros_like(arrays["pose3d"])  # content is never looked at; keeps the file small
    path = save(tmp_path / "sub.npz", arrays, compressed=True)
    with zipfile.ZipFile(path) as zf:
        sizes = {i.filename: i.file_size for i in zf.infolist()}
    limit = max(sizes.values()) + 1
    assert sum(sizes.values()) > limit > path.stat().st_size
    monkeypatch.setenv(MAX_BYTES_ENV, str(limit))
    _refused_without_decompressing(path, demo, request.getfixturevalue("no_decompression"), "sample_id", str(limit))


# ------------------------------------------------------------------------------------------ --json out


def test_json_refuses_overwrite_without_force(demo: Demo, tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    out.write_text("keep me")
    result = cli("evaluate", demo.gt_path, "--no-ci", "--json", out, "--datasets", demo.yaml)
    assert_one_line_error(result, 2, str(out), "--force")
    assert out.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]


def test_json_force_overwrites(demo: Demo, tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    out.write_text("old")
    result = cli("evaluate", demo.gt_path, "--no-ci", "--json", out, "--force", "--datasets", demo.yaml)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["submission"]["file"] == demo.gt_path.name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]


@pytest.mark.parametrize("name", ["nan", "missing_ids", "object_pose3d", "missing_file"])
@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing_forced"])
def test_failed_evaluation_never_writes_json(name: str, existing: bool, demo: Demo, tmp_path: Path) -> None:
    sub_dir, out_dir = tmp_path / "sub", tmp_path / "out"
    sub_dir.mkdir()
    out_dir.mkdir()
    path = CASES[name].build(sub_dir, demo.test)
    out = out_dir / "result.json"
    if existing:
        out.write_text("keep me")
    args = ["--json", out] + (["--force"] if existing else [])
    result = cli("evaluate", path, "--no-ci", *args, "--datasets", demo.yaml)
    assert_one_line_error(result, 2, str(path))
    if existing:
        assert out.read_text() == "keep me"
        assert [p.name for p in out_dir.iterdir()] == ["result.json"]
    else:
        assert list(out_dir.iterdir()) == []

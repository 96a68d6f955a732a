"""Shared fixtures and helpers for the submission tests (tests/test_submission_*.py): the demo data set with its
plain valid submission and reference scores, writers for arrays, .npy members and zip archives, editors for zip
headers, the CLI runner, and the checks that an error is one line naming the file and the key.

The fixtures built from these (`demo`, `reference`) live in tests/conftest.py, session-scoped on the session's
demo data.
"""

from __future__ import annotations

import io
import struct
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from harness.cli import app
from harness.config import load_config
from harness.datasets import load_dataset
from harness.datasets.base import TestSet
from harness.evaluate import evaluate_submission

# ---------------------------------------------------------------------------------------------- fixtures


@dataclass
class Demo:
    root: Path
    yaml: Path
    test: TestSet
    gt_path: Path  # the plain valid submission: float32 mm GT, test-set order
    reference: dict[tuple[str, str, str], float] = field(default_factory=dict)


def make_demo(root: Path, data_root: Path) -> Demo:
    """The demo test set of `data_root` (gt 2D only) with its plain valid submission written under `root`."""
    yaml = root / "datasets.yaml"
    yaml.write_text(
        f"data_root: {data_root}\n"
        "datasets:\n"
        f"  h36m: {{format: videopose3d, path: {data_root}/demo/h36m, inputs_2d: {{gt: data_2d_h36m_gt.npz}}}}\n"
    )
    test = load_dataset(load_config(yaml), "h36m")
    gt_path = save(root / "gt.npz", valid_arrays(test))
    return Demo(root, yaml, test, gt_path)


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

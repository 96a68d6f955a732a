"""Malformed submission files, generated: whatever the bytes, reading one ends in the submission or in one
BadInput line (exit 2), never another exception, a warning on the terminal, or unbounded time and memory."""

from __future__ import annotations

import io
import json
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.errors import BadInput
from harness.submission import read_submission

# Derandomised: the same damaged files on every machine and run (8,000 random ones were tried once by hand).
SETTINGS = settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def npz_bytes(compressed: bool = True, **arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


def valid_arrays(n: int = 4) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    pose = rng.normal(0, 300, size=(n, 17, 3)).astype(np.float32)
    ids = np.array([f"S9/Walking 1/54138969/{i:06d}" for i in range(n)])
    return {"pose3d": pose, "sample_id": ids, "dataset": np.array("h36m"), "meta": np.array(json.dumps({"name": "fuzz"}))}


VALID = {True: npz_bytes(True, **valid_arrays()), False: npz_bytes(False, **valid_arrays())}


def outcome(tmp_path: Path, data: bytes) -> str:
    """'ok' or 'bad input'; anything else (another exception, a warning) fails the test."""
    path = tmp_path / "fuzz.npz"
    path.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning would print a second line on the terminal
        try:
            read_submission(path)
        except BadInput as exc:
            assert "\n" not in str(exc) and str(path) in str(exc), str(exc)
            return "bad input"
    return "ok"


@settings(SETTINGS, max_examples=300)
@given(compressed=st.booleans(), edits=st.lists(st.tuples(st.sampled_from(["insert", "delete", "flip", "truncate"]), st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=4))
def test_byte_level_damage(tmp_path, compressed, edits):
    data = bytearray(VALID[compressed])
    for kind, where, value in edits:
        k = min(int(where * len(data)), max(len(data) - 1, 0))
        if kind == "insert":
            data.insert(k, value)
        elif kind == "delete" and data:
            del data[k : k + 1 + value % 8]
        elif kind == "flip" and data:
            data[k] ^= value or 0xFF
        elif kind == "truncate":
            del data[k:]
    outcome(tmp_path, bytes(data))


def local_header_offsets(data: bytes) -> list[int]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [info.header_offset for info in zf.infolist()]


@SETTINGS
@given(compressed=st.booleans(), member=st.integers(0, 3), field=st.integers(0, 29), value=st.integers(0, 255))
def test_a_corrupted_local_file_header(tmp_path, compressed, member, field, value):
    data = bytearray(VALID[compressed])
    offsets = local_header_offsets(bytes(data))
    k = offsets[member % len(offsets)] + field
    data[k] = value if data[k] != value else (value + 1) % 256
    outcome(tmp_path, bytes(data))


@SETTINGS
@given(code_points=st.lists(st.integers(0, 0xFFFFFFFF), min_size=1, max_size=12), key=st.sampled_from(["sample_id", "dataset", "meta", "units", "joint_set"]))
def test_text_with_any_code_points(tmp_path, code_points, key):
    """UCS-4 arrays can hold values above U+10FFFF and lone surrogates, which are no text at all."""
    arrays = valid_arrays()
    units = np.array(code_points, dtype="<u4")  # written as raw code units: numpy never makes them a str
    if key == "sample_id":
        ids = arrays["sample_id"].astype(f"<U{max(len(code_points), 30)}")
        raw = ids.view("<u4").reshape(len(ids), -1)
        raw[1] = 0
        raw[1, : len(units)] = units
        arrays[key] = ids
    else:
        arrays[key] = np.frombuffer(units.tobytes(), dtype=f"<U{len(units)}").reshape(())
    result = outcome(tmp_path, npz_bytes(True, **arrays))
    if any(c > 0x10FFFF or 0xD800 <= c <= 0xDFFF for c in code_points if c):
        assert result == "bad input"


@SETTINGS
@given(depth=st.integers(1, 200_000), opener=st.sampled_from(["[", '{"a":']))
def test_meta_nested_to_any_depth(tmp_path, depth, opener):
    closer = "]" if opener == "[" else "}"
    text = opener * depth + "1" + closer * depth
    arrays = valid_arrays() | {"meta": np.array('{"name": "x", "notes": ' + text + "}")}
    outcome(tmp_path, npz_bytes(True, **arrays))


@pytest.mark.parametrize(("value", "expected"), [(1e300, "bad input"), (-1e300, "bad input"), (3.4e38, "bad input"), (5e-324, "ok")])
def test_extreme_coordinates_without_warnings(tmp_path, value, expected):
    """Overflowing bone lengths are refused in one line; denormal coordinates are a (degenerate) pose at the origin."""
    arrays = valid_arrays()
    arrays["pose3d"] = np.full((4, 17, 3), value, dtype=np.float64)
    arrays["pose3d"][:, 0] = 0.0
    assert outcome(tmp_path, npz_bytes(True, **arrays)) == expected


@pytest.mark.parametrize(
    ("arrays", "expected"),
    [
        ({"pose3d": np.zeros((1_000_001, 17, 3), np.float32)}, "at most 1000000 samples"),
        ({"sample_id": np.full(4, "x" * 300_000)}, "at most 64 characters"),
        ({"meta": np.array("x" * 70_000)}, "at most 65536 characters"),
    ],
)
def test_a_deflate_bomb_under_the_size_cap_is_refused_from_its_headers(tmp_path, monkeypatch, arrays, expected):
    """A few hundred kB that would inflate to hundreds of MB: refused from the .npy header, before the data is read."""
    real = np.lib.format.read_array
    inflated: list[int] = []

    def measured(*args, **kwargs):
        array = real(*args, **kwargs)
        inflated.append(array.nbytes)
        return array

    monkeypatch.setattr(np.lib.format, "read_array", measured)
    path = tmp_path / "bomb.npz"
    path.write_bytes(npz_bytes(True, **(valid_arrays() | arrays)))
    assert path.stat().st_size < 2_000_000
    with pytest.raises(BadInput, match=expected):
        read_submission(path)
    assert max(inflated, default=0) < 100_000, inflated  # only the small arrays read before the refusal

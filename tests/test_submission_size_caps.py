"""Size caps on submission files: over the byte limit (the file, a deflate bomb, edited declared sizes, sizes
summed over members) a submission is refused from the zip directory alone, before any member is decompressed,
with a one-line error.
"""

from __future__ import annotations

import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from harness.errors import BadInput
from harness.submission import MAX_BYTES_ENV, MAX_DEFLATE_RATIO, read_submission
from tests.submission_cases import (
    Demo,
    assert_api_message,
    assert_one_line_error,
    cli,
    npy,
    npy_header,
    save,
    set_declared_size,
    small,
    valid_arrays,
)

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

"""Valid submission files: the plain float32 millimetre file validates, evaluates to zero error and reads back
in test-set order; every allowed variant (row order, dtype, units, joint set, compression, meta) scores the same
as the plain file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from harness.datasets.base import TestSet
from harness.skeletons import joint_map
from harness.submission import match_to_test_set, read_submission
from tests.submission_cases import Demo, cli, save, scores, valid_arrays

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

"""Bad submission files: every bad input is a one-line error naming the file and the key, never a traceback.

Each case of the table in tests/submission_bad_files.py is checked through the Python API (`read_submission` /
`match_to_test_set` raise `BadInput`) and through the command line (`harness validate` and `harness evaluate`:
exit 2, exactly one stderr line starting with `error:`); also the real console entry point, `--debug`, and a
submission whose dataset does not fit the benchmark or is not configured.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.datasets.base import TestSet
from harness.errors import BadInput
from harness.submission import match_to_test_set, read_submission
from tests.submission_bad_files import CASES, expected_fragments
from tests.submission_cases import Demo, assert_api_message, assert_one_line_error, cli, save, small


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
    assert_api_message(str(exc.value), path, case.key, case.fragments + expected_fragments(name, demo.test))


@pytest.mark.parametrize("command", ["validate", "evaluate"])
@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_cli(name: str, command: str, demo: Demo, tmp_path: Path) -> None:
    case = CASES[name]
    path = case.build(tmp_path, demo.test)
    extra = ["--no-ci"] if command == "evaluate" else []
    result = cli(command, path, *extra, "--datasets", demo.yaml)
    key = (f"key '{case.key}'",) if case.key else ()
    assert_one_line_error(result, 2, str(path), *key, *case.fragments, *expected_fragments(name, demo.test))


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

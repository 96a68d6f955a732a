"""`harness evaluate --json`: an existing result file is overwritten only with --force, and a failed evaluation
never writes (or replaces) the result file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.submission_bad_files import CASES
from tests.submission_cases import Demo, assert_one_line_error, cli

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

"""Broken dataset copies are one line and exit 3 (dataset not available), a datasets.yaml typo one line and exit 2."""

from __future__ import annotations

import pickle
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.demo.mpi_inf_3dhp import write_demo_3dhp
from harness.demo.pw3d import write_demo_3dpw
from tests.conftest import REPO

EXAMPLE = REPO / "submissions" / "examples" / "demo_gt_noise.npz"


def copy_demo(demo_root, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(demo_root / "demo", root / "demo")
    write_demo_3dhp(root)
    write_demo_3dpw(root)
    yaml_file = tmp_path / "datasets.yaml"
    yaml_file.write_text(
        f"data_root: {root}\ndatasets:\n"
        "  h36m: {format: videopose3d, path: '${data_root}/demo/h36m', inputs_2d: {gt: data_2d_h36m_gt.npz}}\n"
        "  mpi_inf_3dhp: {format: mpi_inf_3dhp_test, path: '${data_root}/demo/mpi_inf_3dhp'}\n"
        "  3dpw: {format: 3dpw, path: '${data_root}/demo/3dpw'}\n"
    )
    return root / "demo", yaml_file


def one_line(res, code: int, *words: str) -> None:
    assert res.exit_code == code, res.output
    assert len(res.output.strip().splitlines()) == 1 and "Traceback" not in res.output, res.output
    assert all(w in res.output for w in words), res.output


def truncate_3dhp(demo):
    mat = demo / "mpi_inf_3dhp" / "TS1" / "annot_data.mat"
    mat.write_bytes(mat.read_bytes()[: mat.stat().st_size // 2])
    return ["template", "mpi_inf_3dhp"], "annot_data.mat"


def bad_3dpw_pickle(demo):
    seq = next((demo / "3dpw" / "sequenceFiles" / "test").glob("*.pkl"))
    with open(seq, "rb") as fh:
        data = pickle.load(fh, encoding="latin1")
    data["cam_poses"] = "not an array"
    with open(seq, "wb") as fh:
        pickle.dump(data, fh)
    return ["template", "3dpw"], seq.name


def nan_in_h36m_gt(demo):
    path = demo / "h36m" / "data_3d_h36m.npz"
    with np.load(path, allow_pickle=True) as archive:
        positions = archive["positions_3d"].item()
    subject = positions["S9"]
    action = next(iter(subject))
    subject[action] = subject[action].copy()
    subject[action][3, 1, 1] = np.nan  # the right hip, one of the 17 scored joints
    np.savez_compressed(path, positions_3d=positions)
    return ["evaluate", str(EXAMPLE), "--no-ci", "-b", "h36m"], "not finite"


@pytest.mark.parametrize("breaker", [truncate_3dhp, bad_3dpw_pickle, nan_in_h36m_gt])
def test_a_broken_dataset_copy_is_one_line_and_exit_3(demo_root, tmp_path, breaker):
    demo, yaml_file = copy_demo(demo_root, tmp_path)
    args, word = breaker(demo)
    if args[0] == "template":
        args = [*args, "-o", str(tmp_path / "t.npz")]
    one_line(CliRunner().invoke(app, [*args, "--datasets", str(yaml_file)]), 3, word)


def test_an_unknown_key_in_datasets_yaml_is_named(tmp_path):
    yaml_file = tmp_path / "datasets.yaml"
    yaml_file.write_text("data-root: /data\ndatasets:\n  h36m: {format: videopose3d, path: /data/h36m}\n")
    one_line(CliRunner().invoke(app, ["list", "datasets", "--datasets", str(yaml_file)]), 2, "data-root", "data_root")

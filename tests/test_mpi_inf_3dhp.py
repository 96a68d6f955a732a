"""MPI-INF-3DHP: the loader on small annot_data.mat files in the released v7.3 layout, the benchmark, the demo."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from harness.benchmarks import BENCHMARKS, default_benchmarks, score
from harness.cli import app
from harness.config import DatasetConfig
from harness.demo.mpi_inf_3dhp import write_annot_data
from harness.datasets.mpi_inf_3dhp import load_mpi_inf_3dhp
from harness.errors import DatasetUnavailable
from harness.results import ResultFile
from harness.skeletons import H36M17, MPI_INF_3DHP17, joint_map

RNG = np.random.default_rng(4)


def sequence(n: int, valid_every: int = 3) -> dict[str, np.ndarray]:
    annot3 = RNG.normal(scale=300.0, size=(n, 1, 17, 3)) + np.array([0.0, 0.0, 3500.0])
    pelvis = annot3[:, :, 14:15]
    univ = pelvis + 0.95 * (annot3 - pelvis)
    annot2 = annot3[..., :2] / annot3[..., 2:3] * 1500.0 + np.array([1024.0, 1030.0])
    valid = (np.arange(n) % valid_every != 0).astype(float)[:, None]
    activity = (np.arange(n) % 7 + 1).astype(float)[:, None]
    return {"annot2": annot2, "annot3": annot3, "univ_annot3": univ, "valid_frame": valid, "activity_annotation": activity}


def write_set(root: Path, lengths: dict[str, int]) -> dict[str, dict[str, np.ndarray]]:
    arrays = {}
    for seq, n in lengths.items():
        (root / seq).mkdir(parents=True, exist_ok=True)
        arrays[seq] = sequence(n)
        write_annot_data(root / seq / "annot_data.mat", arrays[seq])
    return arrays


def cfg(root: Path, gt: str | None = None) -> DatasetConfig:
    return DatasetConfig(format="mpi_inf_3dhp_test", path=root, gt=gt)


def test_files_are_matlab_v73_with_the_released_shapes(tmp_path):
    write_set(tmp_path, {"TS1": 10})
    path = tmp_path / "TS1" / "annot_data.mat"
    assert path.read_bytes()[:19] == b"MATLAB 7.3 MAT-file"
    with h5py.File(path, "r") as f:
        assert f["annot3"].shape == (10, 1, 17, 3) and f["valid_frame"].shape == (10, 1)
        assert f["annot3"].attrs["MATLAB_class"] == b"double"


def test_valid_frames_ids_and_gt_variants(tmp_path):
    arrays = write_set(tmp_path, {f"TS{k}": 9 + k for k in range(1, 7)})
    test = load_mpi_inf_3dhp(cfg(tmp_path))
    valid1 = np.flatnonzero(arrays["TS1"]["valid_frame"][:, 0])
    assert test.sample_id[0] == f"TS1/{valid1[0]:06d}" and test.sample_id[len(valid1) - 1] == f"TS1/{valid1[-1]:06d}"
    assert len(test) == sum(int(a["valid_frame"].sum()) for a in arrays.values())
    np.testing.assert_allclose(test.gt3d[: len(valid1)], arrays["TS1"]["univ_annot3"][valid1, 0])
    assert test.gt_variant == "univ_annot3" and test.root == 14 and test.joint_set == "mpi_inf_3dhp17"
    assert test.notes[0] == f"TS1: {len(valid1)} valid frames of 10"
    metric = load_mpi_inf_3dhp(cfg(tmp_path, "annot3"))
    np.testing.assert_allclose(metric.gt3d[: len(valid1)], arrays["TS1"]["annot3"][valid1, 0])
    assert metric.gt_variant == "annot3"
    # Intrinsics fitted from annot2 and annot3 recover the projection.
    assert test.intrinsics["TS1"]["f"] == pytest.approx([1500.0, 1500.0]) and test.intrinsics["TS1"]["c"] == pytest.approx([1024.0, 1030.0])
    assert set(test.sample_labels["activity"]) <= {"Standing/Walking", "Exercising", "Sitting", "Reaching/Crouching", "On The Floor", "Sports", "Miscellaneous"}


def test_partial_copies_and_broken_files(tmp_path):
    write_set(tmp_path, {"TS1": 6, "TS2": 6})
    test = load_mpi_inf_3dhp(cfg(tmp_path))
    assert "TS3: folder not found" in test.missing and set(test.sequences["name"]) == {"TS1", "TS2"}
    (tmp_path / "TS3").mkdir()
    with pytest.raises(DatasetUnavailable, match=r"TS3/annot_data.mat not found"):
        load_mpi_inf_3dhp(cfg(tmp_path))
    (tmp_path / "TS3").rmdir()
    path = tmp_path / "TS2" / "annot_data.mat"
    path.write_bytes(path.read_bytes()[:3000])  # truncated
    with pytest.raises(DatasetUnavailable, match="not a readable MATLAB v7.3"):
        load_mpi_inf_3dhp(cfg(tmp_path))
    with h5py.File(path, "w") as f:
        f["annot3"] = np.zeros((4, 1, 16, 3))
    with pytest.raises(DatasetUnavailable, match="no 'valid_frame'"):
        load_mpi_inf_3dhp(cfg(tmp_path))
    with pytest.raises(DatasetUnavailable, match="gt 'wrong'"):
        load_mpi_inf_3dhp(cfg(tmp_path, "wrong"))
    with pytest.raises(DatasetUnavailable, match="no TS1..TS6 folder"):
        load_mpi_inf_3dhp(cfg(tmp_path / "nowhere"))


def test_benchmark_pools_frames_and_averages_sequences(tmp_path):
    write_set(tmp_path, {"TS1": 30, "TS2": 90})
    test = load_mpi_inf_3dhp(cfg(tmp_path))
    pred = test.gt3d.copy()
    n1 = int(test.sequences.iloc[0]["length"])
    pred[:n1, 0, 0] += 17.0  # head_top off by 17 mm in TS1 only: MPJPE 1 mm there, 0 in TS2
    out = score(BENCHMARKS["3dhp"], test, pred)
    value = {(e.metric, e.aggregation): e for e in out.results}
    assert value[("mpjpe", "sequence-mean")].value == pytest.approx(0.5)
    assert value[("mpjpe", "frame-mean")].value == pytest.approx(n1 / len(test))
    assert value[("pck", "frame-mean")].value == 100.0 and value[("pck", "frame-mean")].joints == "pck14"
    assert value[("mpjpe", "frame-mean")].gt == "univ_annot3" and value[("mpjpe", "frame-mean")].n_samples == len(test)
    assert out.breakdown.per_sequence["TS1"]["mpjpe"] == pytest.approx(1.0) and out.breakdown.per_activity
    assert out.breakdown.per_joint["head_top"]["mpjpe"] == pytest.approx(17.0 * n1 / len(test))
    lo, hi = value[("mpjpe", "sequence-mean")].ci95
    assert 0.0 <= lo <= 0.5 <= hi <= 1.0  # resampling the two sequences themselves
    assert [b.id for b in default_benchmarks("mpi_inf_3dhp")] == ["3dhp"]


def test_h36m_order_submissions_score_like_3dhp_order(demo_root, demo_yaml, tmp_path):
    runner = CliRunner()
    from harness.config import load_config
    from harness.datasets import load_dataset
    from harness.demo.mpi_inf_3dhp import write_demo_3dhp

    write_demo_3dhp(demo_root)
    yaml = tmp_path / "d.yaml"
    yaml.write_text(demo_yaml.read_text() + f"  mpi_inf_3dhp: {{format: mpi_inf_3dhp_test, path: {demo_root}/demo/mpi_inf_3dhp}}\n")
    test = load_dataset(load_config(yaml), "mpi_inf_3dhp")
    assert test.is_demo
    pred = test.gt3d + RNG.normal(scale=25.0, size=test.gt3d.shape)
    results = {}
    for joints, poses in (("mpi_inf_3dhp17", pred), ("h36m17", pred[:, joint_map(MPI_INF_3DHP17, H36M17)])):
        sub = tmp_path / f"{joints}.npz"
        np.savez(sub, pose3d=poses.astype(np.float32), sample_id=test.sample_id, dataset=np.array("mpi_inf_3dhp"), joint_set=np.array(joints), meta=np.array(json.dumps({"name": joints})))
        out = tmp_path / f"{joints}.json"
        res = runner.invoke(app, ["evaluate", str(sub), "--datasets", str(yaml), "--json", str(out), "--no-ci", "-b", "3dhp", "-b", "3dhp-ites"])
        assert res.exit_code == 0, res.output
        results[joints] = ResultFile.model_validate_json(out.read_text())
    a, b = results["mpi_inf_3dhp17"], results["h36m17"]
    for e in a.results:
        assert b.entry(e.benchmark, e.metric, e.aggregation).value == pytest.approx(e.value, abs=1e-3)
    assert a.entry("3dhp-ites", "pck").value >= a.entry("3dhp", "pck").value
    assert a.notes["3dhp"][0].startswith("TS1: ")
    # An H36M submission sent to the 3DHP benchmark is refused in one line.
    res = runner.invoke(app, ["evaluate", str(Path(__file__).resolve().parents[1] / "submissions/examples/demo_gt_noise.npz"), "--datasets", str(yaml), "-b", "3dhp"])
    assert res.exit_code == 2 and "benchmark 3dhp scores 'mpi_inf_3dhp'" in res.output

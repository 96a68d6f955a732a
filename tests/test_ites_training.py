"""ITES training end to end on the demo data: both stages (smoke config), exact resume, two-process DDP on
CPU, and the trained run scored as a prediction file and as a model entrypoint."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from harness.results import ResultFile
from tests.baseline_runs import cli, records, scored_both_ways, train_smoke

pytestmark = pytest.mark.slow  # smoke, resume and DDP training runs

TINY = ["teacher.width=64", "teacher.blocks=1", "teacher.basis=4", "student.hidden=16", "student.blocks=1", "data.train_frames=512"]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, demo_yaml) -> Path:
    return train_smoke("ites", tmp_path_factory.mktemp("ites-smoke"), demo_yaml)


def test_smoke_trains_both_stages(smoke_run):
    log = records(smoke_run)
    teacher = [r for r in log if r["stage"] == "teacher"]
    student = [r for r in log if r["stage"] == "student"]
    assert [r["epoch"] for r in teacher] == [1, 2] and [r["steps"] for r in student] == [8]
    assert all(torch.isfinite(torch.tensor([r["loss"], *(v for k, v in r.items() if k.startswith("l_"))])).all() for r in log)
    assert teacher[1]["l_rep"] < teacher[0]["l_rep"]
    assert teacher[0]["samples"] == 2048 and student[0]["samples"] == 8 * 128
    assert all(r["threads"] == 1 for r in log)  # the smoke config's thread count, recorded with every epoch
    state = torch.load(smoke_run / "ites.pt", weights_only=False)
    assert state["mm_per_unit"]["student"] > 0 and state["scale_2d"] > 0
    assert (smoke_run / "pseudo_depths.pt").is_file()


def test_prediction_file_and_model_entrypoint_score_the_same(smoke_run, demo_yaml, tmp_path):
    ra, rb = scored_both_ways("ites", smoke_run / "ites.pt", demo_yaml, tmp_path)
    assert ra.method.name == rb.method.name == "ITES (PoseBench reimplementation)"
    assert ra.method.model_extra["stage"] == "student" and ra.method.input_2d == "gt"
    for x, y in zip(ra.results, rb.results, strict=True):
        assert (x.benchmark, x.metric, x.aggregation) == (y.benchmark, y.metric, y.aggregation)
        assert x.value == pytest.approx(y.value, abs=1e-3)


def test_teacher_predictions_and_bad_requests(smoke_run, demo_yaml, tmp_path):
    ok = cli("baseline", "predict", "ites", "--checkpoint", smoke_run / "ites.pt", "--stage", "teacher", "-o", tmp_path / "t.npz", "--datasets", demo_yaml)
    garbage = tmp_path / "garbage.pt"
    garbage.write_text("not a checkpoint")
    assert ok.exit_code == 0, ok.output
    for args, fragment in [
        (["baseline", "train", "nope"], "unknown baseline 'nope'"),
        (["baseline", "train", "ites", "--config", "tiny"], "neither a file nor one of ites's configs"),
        (["baseline", "train", "ites", "--config", "smoke", "--set", "teacher.widht=3"], "teacher.widht"),
        (["baseline", "predict", "ites", "--checkpoint", tmp_path / "missing.pt", "-o", tmp_path / "x.npz"], "checkpoint not found"),
        (["baseline", "predict", "ites", "--checkpoint", smoke_run / "ites.pt", "--stage", "critic", "-o", tmp_path / "y.npz"], "stages teacher, student"),
        (["baseline", "predict", "ites", "--checkpoint", garbage, "-o", tmp_path / "z.npz"], "not a readable checkpoint"),
        (["baseline", "predict", "ites", "--checkpoint", smoke_run / "teacher.ckpt", "-o", tmp_path / "w.npz"], "key 'method': expected a finished 'ites' run, got None"),
    ]:
        res = cli(*args, "--datasets", demo_yaml)
        assert res.exit_code == 2 and fragment in res.output and len(res.output.strip().splitlines()) == 1, res.output


def test_an_interrupted_run_resumes_exactly(demo_yaml, tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    base = ["baseline", "train", "ites", "--config", "smoke", "--datasets", demo_yaml, *sum((["--set", s] for s in TINY), [])]
    assert cli(*base, "--out", straight).exit_code == 0
    assert cli(*base, "--set", "teacher.epochs=1", "--out", resumed).exit_code == 0
    for later in ("ites.pt", "student.ckpt", "pseudo_depths.pt"):  # as if stopped after the teacher's first epoch
        (resumed / later).unlink()
    res = cli(*base, "--out", resumed)
    assert res.exit_code == 0 and "teacher: resuming after epoch 1" in res.output, res.output
    a, b = (torch.load(f / "ites.pt", weights_only=False) for f in (straight, resumed))
    for stage in ("teacher", "student"):
        for key, value in a[stage].items():
            assert torch.equal(value, b[stage][key]), f"{stage}.{key}"


def test_two_processes_with_ddp_share_the_work_and_the_weights(demo_yaml, tmp_path):
    folder = tmp_path / "ddp"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "harness",
        "baseline", "train", "ites", "--config", "smoke", "--out", str(folder), "--datasets", str(demo_yaml),
        *sum((["--set", s] for s in [*TINY, "student.max_steps=3"]), []),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = records(folder)
    ranks = {r["stage"]: r["ranks"] for r in log if "ranks" in r}
    assert set(ranks) == {"teacher", "student"}
    teacher = ranks["teacher"]
    assert [r["rank"] for r in teacher] == [0, 1]
    assert teacher[0]["samples"] == teacher[1]["samples"] == 2 * 256  # 2 epochs of each rank's half of 512
    assert teacher[0]["param_checksum"] == pytest.approx(teacher[1]["param_checksum"], rel=1e-12)  # gradients all-reduced
    assert ranks["student"][0]["param_checksum"] == pytest.approx(ranks["student"][1]["param_checksum"], rel=1e-12)
    assert [r["epoch"] for r in log if r.get("stage") == "teacher" and "epoch" in r] == [1, 2]  # only rank 0 logs
    # The config's batch (128) is the global batch: each rank takes 64, so two processes make the 4 optimiser
    # steps per epoch of 512 samples that one process makes, at the same learning rate.
    assert [r["steps"] for r in log if r.get("stage") == "teacher" and "epoch" in r] == [4, 8]
    assert all(r["samples"] == 512 for r in log if r.get("stage") == "teacher" and "epoch" in r)
    assert (folder / "ites.pt").is_file()


def test_transfer_to_3dhp_is_scored_on_the_standard_and_ites_protocols(smoke_run, tmp_path):
    from harness.demo.mpi_inf_3dhp import write_demo_3dhp

    write_demo_3dhp(tmp_path)
    yaml_path = tmp_path / "datasets.yaml"
    yaml_path.write_text(
        f"data_root: {tmp_path}\ndatasets:\n  mpi_inf_3dhp:\n    format: mpi_inf_3dhp_test\n    path: ${{data_root}}/demo/mpi_inf_3dhp\n"
    )
    sub, out = tmp_path / "3dhp.npz", tmp_path / "3dhp.json"
    res = cli("baseline", "predict", "ites", "--checkpoint", smoke_run / "ites.pt", "--dataset", "mpi_inf_3dhp", "-o", sub, "--datasets", yaml_path)
    assert res.exit_code == 0, res.output
    res = cli("evaluate", sub, "-b", "3dhp", "-b", "3dhp-ites", "--json", out, "--no-ci", "--datasets", yaml_path)
    assert res.exit_code == 0, res.output
    result = ResultFile.model_validate_json(out.read_text())
    pck = {r.benchmark: r.value for r in result.results if r.metric == "pck" and r.aggregation == "frame-mean"}
    assert set(pck) == {"3dhp", "3dhp-ites"} and all(0 <= v <= 100 for v in pck.values())
    assert result.method.training_data.startswith("h36m train split, gt 2D, no 3D")


def test_evaluation_after_every_epoch_goes_into_the_log(demo_yaml, tmp_path):
    folder = tmp_path / "evaluated"
    args = ["baseline", "train", "ites", "--config", "smoke", "--out", folder, "--datasets", demo_yaml, "--set", "eval_every_epoch=true"]
    res = cli(*args, *sum((["--set", s] for s in [*TINY, "student.max_steps=2"]), []))
    assert res.exit_code == 0, res.output
    log = [r for r in records(folder) if "epoch" in r]
    assert [(r["stage"], r["epoch"]) for r in log] == [("teacher", 1), ("teacher", 2), ("student", 1)]
    for r in log:
        assert 0 < r["test_p_mpjpe"] < r["test_mpjpe"] < 1000

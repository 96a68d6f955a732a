"""PoseNet3D end to end on the demo data (smoke config): all three stages train, the run predicts a submission
scored by the harness, and the same run works as a model entrypoint."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.baseline_runs import records, scored_both_ways, train_smoke

pytestmark = pytest.mark.slow  # smoke training runs


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, demo_yaml) -> Path:
    return train_smoke("posenet3d", tmp_path_factory.mktemp("posenet3d-smoke"), demo_yaml)


def test_smoke_trains_all_three_stages(smoke_run):
    log = records(smoke_run)
    assert [(r["stage"], r["steps"]) for r in log] == [("teacher", 8), ("student", 8), ("finetune", 4)]
    for r in log:
        losses = [v for k, v in r.items() if k == "loss" or k.startswith(("l_", "critic_"))]
        assert torch.isfinite(torch.tensor(losses)).all(), r
    assert {"critic_pose", "critic_motion", "l_temporal"} <= set(log[0]) and {"l_agreement", "l_smooth", "l_reprojection"} <= set(log[2])
    state = torch.load(smoke_run / "posenet3d.pt", weights_only=False)
    assert state["body_label"] == "PoseNet3D-KS" and state["mean_lengths"].shape == (10,) and (state["mean_lengths"] > 0).all()
    for name in ("teacher", "student", "finetune"):
        assert "adversary" in torch.load(smoke_run / f"{name}.ckpt", weights_only=False) or name == "student"


def test_prediction_file_and_entrypoint_score_the_same(smoke_run, demo_yaml, tmp_path):
    ra, rb = scored_both_ways("posenet3d", smoke_run / "posenet3d.pt", demo_yaml, tmp_path)
    assert ra.method.name == "PoseNet3D (PoseBench reconstruction)"
    for x, y in zip(ra.results, rb.results, strict=True):
        assert x.value == pytest.approx(y.value, abs=1e-3)
    mpjve = [r.value for r in ra.results if r.metric == "mpjve"]
    assert mpjve and all(v > 0 for v in mpjve)  # temporal consistency is reported beside the pose errors

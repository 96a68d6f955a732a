"""No silent wrong scores: a model returning metres fails like a file in metres would, and a likely joint-order
mistake (left and right exchanged, joints permuted) is named in a warning on the terminal and in the JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.errors import BadInput
from harness.joint_order import MIN_RATIO, check_joint_order
from harness.results import ResultFile
from harness.skeletons import H36M17, MPI_INF_3DHP17, joint_map
from harness.submission import from_predictions

runner = CliRunner()
RNG = np.random.default_rng(7)


def noisy(gt: np.ndarray, sigma: float = 40.0) -> np.ndarray:
    return gt + RNG.normal(scale=sigma, size=gt.shape)


def root_relative(gt: np.ndarray) -> np.ndarray:
    return gt - gt[:, :1]


@pytest.fixture(scope="module")
def gt(demo_test) -> np.ndarray:
    return demo_test.gt3d


def test_left_right_exchange_is_found_and_named(gt):
    pred = noisy(gt)[:, H36M17.flip_permutation()]
    found = check_joint_order(pred, gt, "h36m17")
    assert found is not None and found.kind == "left-right"
    assert sorted(found.joints) == sorted(n for n in H36M17.names if n[:2] in ("l_", "r_"))
    assert "l_wrist<->r_wrist" in found.message and found.error_as_labelled > 4 * found.error_relabelled


def test_only_the_arms_exchanged_names_only_the_arms(gt):
    perm = np.arange(17)
    for left, right in (("l_shoulder", "r_shoulder"), ("l_elbow", "r_elbow"), ("l_wrist", "r_wrist")):
        a, b = H36M17.index[left], H36M17.index[right]
        perm[a], perm[b] = b, a
    found = check_joint_order(noisy(gt, 20.0)[:, perm], gt, "h36m17")
    assert found is not None and found.kind == "left-right"
    assert sorted(found.joints) == sorted(["l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist"])


def test_a_permutation_is_found_and_undone(gt):
    perm = RNG.permutation(17)
    found = check_joint_order(noisy(gt)[:, perm], gt, "h36m17")
    assert found is not None and found.kind == "permutation"
    # The relabelling found is the inverse of the one applied: prediction joint found.permutation[k] is GT joint k.
    np.testing.assert_array_equal(perm[found.permutation], np.arange(17))
    assert set(found.joints) == {H36M17.names[k] for k in range(17) if perm[k] != k}


def test_another_datasets_joint_order_is_found(gt):
    """A 3DHP-ordered array labelled as H36M-17: the classic conversion mistake."""
    as_3dhp = gt[:, joint_map(H36M17, MPI_INF_3DHP17)]  # 3DHP order, 17 joints, submitted as h36m17
    found = check_joint_order(as_3dhp, gt, "h36m17")
    assert found is not None and found.kind == "permutation" and found.error_relabelled < 1e-9


@pytest.mark.parametrize(
    "case",
    ["correct", "very noisy", "depth-flipped", "half scale", "mean pose", "turned 180 degrees"],
)
def test_mistakes_that_are_not_labelling_stay_silent(gt, case):
    rr, root = root_relative(gt), gt[:, :1]
    pred = {
        "correct": lambda: noisy(gt),
        "very noisy": lambda: noisy(gt, 120.0),
        "depth-flipped": lambda: rr * np.array([1.0, 1.0, -1.0]) + root,
        "half scale": lambda: 0.5 * rr + root,
        "mean pose": lambda: np.broadcast_to(rr.mean(axis=0), gt.shape) + root,
        "turned 180 degrees": lambda: rr @ np.diag([-1.0, 1.0, -1.0]) + root,
    }[case]()
    assert check_joint_order(pred, gt, "h36m17") is None


def test_the_threshold_sits_between_the_cases(gt):
    """The exchange at 40 mm noise scores well above the threshold; a 180-degree turn well below it."""
    exchanged = check_joint_order(noisy(gt)[:, H36M17.flip_permutation()], gt, "h36m17")
    assert exchanged is not None and exchanged.error_as_labelled / exchanged.error_relabelled > 2 * MIN_RATIO


def _submission(path: Path, test, pose: np.ndarray) -> Path:
    np.savez(path, pose3d=pose.astype(np.float32), sample_id=test.sample_id, dataset=np.array("h36m"))
    return path


def test_evaluate_and_validate_warn_and_the_json_names_the_joints(demo_yaml, demo_test, tmp_path):
    swapped = _submission(tmp_path / "swapped.npz", demo_test, noisy(demo_test.gt3d)[:, H36M17.flip_permutation()])
    out = tmp_path / "r.json"
    res = runner.invoke(app, ["evaluate", str(swapped), "--datasets", str(demo_yaml), "--no-ci", "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert "warning: left and right look exchanged" in res.output and "l_knee<->r_knee" in res.output
    result = ResultFile.model_validate_json(out.read_text())
    assert [(w.code, w.benchmark) for w in result.warnings] == [("joint-order", "h36m")]
    assert "l_ankle" in result.warnings[0].joints and "pelvis" not in result.warnings[0].joints
    assert result.entry("h36m", "mpjpe").value > 300  # scored as labelled: the warning changes no number

    res = runner.invoke(app, ["validate", str(swapped), "--datasets", str(demo_yaml)])
    assert res.exit_code == 0 and "warning: left and right look exchanged" in res.output

    fine = _submission(tmp_path / "fine.npz", demo_test, noisy(demo_test.gt3d))
    res = runner.invoke(app, ["evaluate", str(fine), "--datasets", str(demo_yaml), "--no-ci", "--json", str(tmp_path / "f.json")])
    assert res.exit_code == 0 and "warning" not in res.output
    assert json.loads((tmp_path / "f.json").read_text())["warnings"] == []


def test_in_memory_predictions_get_the_file_checks(demo_test):
    metres = demo_test.gt3d / 1000.0
    with pytest.raises(BadInput, match="model.py:make: returned poses: median bone length .* look like metres: the model must return millimetres"):
        from_predictions("model.py:make", demo_test, metres, {})
    bad = demo_test.gt3d.copy()
    bad[3, 2, 1] = np.inf
    with pytest.raises(BadInput, match="expected finite values; 1 sample"):
        from_predictions("model.py:make", demo_test, bad, {})
    assert from_predictions("model.py:make", demo_test, demo_test.gt3d, {}).units == "mm"


METRES_MODEL = """
import numpy as np

def make():
    def model(kp2d, intrinsics, joint_set, sequence_id):
        f, c = np.array(intrinsics["f"]), np.array(intrinsics["c"])
        xy = (kp2d - c) / f * 4.5
        return np.concatenate([xy, np.full(kp2d.shape[:-1] + (1,), 4.5)], axis=-1)
    return model
"""


def test_a_model_returning_metres_fails_like_the_file_would(demo_yaml, tmp_path):
    model = tmp_path / "metres.py"
    model.write_text(METRES_MODEL)
    db = tmp_path / "lb.db"
    res = runner.invoke(app, [
        "evaluate", "--model", f"{model}:make", "--dataset", "h36m", "--input-2d", "gt", "--datasets", str(demo_yaml),
        "--no-ci", "--no-sandbox", "--store", "--db", f"sqlite:///{db}",
    ])
    assert res.exit_code == 2, res.output
    errors = [line for line in res.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "look like metres" in errors[0] and "returned poses" in errors[0]
    assert not db.exists()

"""The command line end to end on the demo data."""

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.results import ResultFile
from harness.skeletons import H36M17, MPI_INF_3DHP17, SMPL24
from tests.conftest import REPO

runner = CliRunner()
EXAMPLES = REPO / "submissions" / "examples"


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_evaluate_example_prints_table_and_writes_json(demo_yaml, demo_test, tmp_path):
    out = tmp_path / "noise.json"
    res = run("evaluate", EXAMPLES / "demo_gt_noise.npz", "--datasets", demo_yaml, "--json", out)
    assert res.exit_code == 0, res.output
    assert "DEMO DATA" in res.output and "mpjpe" in res.output and "action-mean" in res.output
    result = ResultFile.model_validate_json(out.read_text())
    assert result.schema_version == 1 and result.submission.n_samples == len(demo_test)
    # GT + N(0, s^2) per coordinate, both poses root-centred: each non-root joint error is the norm of a
    # 3-D Gaussian with variance 2 s^2, mean s*sqrt(2)*2*sqrt(2/pi); the root's error is 0 (16 of 17 joints).
    expected = 16 / 17 * 15.0 * math.sqrt(2) * 2 * math.sqrt(2 / math.pi)
    mpjpe = result.entry("h36m", "mpjpe", "frame-mean")
    assert mpjpe.value == pytest.approx(expected, rel=0.01)
    assert mpjpe.ci95[0] <= mpjpe.value <= mpjpe.ci95[1]
    assert mpjpe.demo and mpjpe.joints == "h36m17" and mpjpe.gt == "positions_3d" and mpjpe.root == "pelvis"
    assert result.entry("h36m", "pck").value == pytest.approx(100.0)  # 15 mm noise never reaches 150 mm
    assert result.method.name.startswith("Ground truth")
    assert set(result.breakdowns["h36m"].per_action) == set(json.loads((result.per_take["h36m"].model_dump_json()))["group"])
    assert len(result.breakdowns["h36m"].per_joint) == 17
    assert result.breakdowns["h36m"].per_joint["Hip"]["mpjpe"] == 0.0  # the root after root-centring
    worst = result.worst_frames["h36m"]
    assert len(worst) == 6 and [w.mpjpe for w in worst] == sorted((w.mpjpe for w in worst), reverse=True)
    pred, gt = np.array(worst[0].pred), np.array(worst[0].gt)
    assert pred.shape == gt.shape == (17, 3) and np.all(pred[0] == 0) and np.all(gt[0] == 0)
    # The stored coordinates reproduce the stored error (to the 0.1 mm rounding).
    assert np.linalg.norm(pred - gt, axis=1).mean() == pytest.approx(worst[0].mpjpe, abs=0.2)
    assert worst[0].mpjpe > mpjpe.value
    curve = result.curves["h36m"]
    assert len(curve.pck_thresholds_mm) == 31 and curve.pck[0] == 0.0 and curve.pck[-1] == pytest.approx(100.0)
    assert np.mean(curve.pck) == pytest.approx(result.entry("h36m", "auc", "frame-mean").value, abs=1e-9)


def test_json_is_not_overwritten_without_force(demo_yaml, tmp_path):
    out = tmp_path / "r.json"
    out.write_text("keep me")
    res = run("evaluate", EXAMPLES / "demo_mean_pose.npz", "--datasets", demo_yaml, "--json", out)
    assert res.exit_code == 2 and "--force" in res.output and out.read_text() == "keep me"
    res = run("evaluate", EXAMPLES / "demo_mean_pose.npz", "--datasets", demo_yaml, "--json", out, "--force", "--no-ci")
    assert res.exit_code == 0 and ResultFile.model_validate_json(out.read_text()).results[0].ci95 is None


def test_compare_finds_the_better_submission(demo_yaml, tmp_path):
    a, b = tmp_path / "noise.json", tmp_path / "mean.json"
    assert run("evaluate", EXAMPLES / "demo_gt_noise.npz", "--datasets", demo_yaml, "--json", a).exit_code == 0
    assert run("evaluate", EXAMPLES / "demo_mean_pose.npz", "--datasets", demo_yaml, "--json", b).exit_code == 0
    res = run("compare", a, b)
    assert res.exit_code == 0, res.output
    rows = {tuple(line.split()[:2]): line.split() for line in res.output.splitlines() if "-mean" in line}
    assert rows[("mpjpe", "action-mean")][-1] == "noise" and rows[("mpjve", "frame-mean")][-1] == "mean"
    same = run("compare", a, a)
    assert "unclear" in same.output and "+0.00" in same.output and "note:" not in same.output


def test_compare_remarks_on_different_2d_inputs_and_ground_truth(demo_yaml, tmp_path):
    a = tmp_path / "a.json"
    assert run("evaluate", EXAMPLES / "demo_gt_noise.npz", "--datasets", demo_yaml, "--json", a, "--no-ci").exit_code == 0
    data = json.loads(a.read_text())
    data["method"]["input_2d"] = "cpn"
    for entry in data["results"]:
        entry["gt"] = "annot3"
    b = tmp_path / "b.json"
    b.write_text(json.dumps(data))
    res = run("compare", a, b)
    notes = [line for line in res.output.splitlines() if line.startswith("note:")]
    assert res.exit_code == 0 and len(notes) == 2
    assert "2D inputs differ" in notes[0] and "cpn" in notes[0] and "different ground truth" in notes[1]


def test_compare_refuses_results_on_different_frames(demo_yaml, tmp_path):
    a = tmp_path / "a.json"
    assert run("evaluate", EXAMPLES / "demo_gt_noise.npz", "--datasets", demo_yaml, "--json", a).exit_code == 0
    data = json.loads(a.read_text())
    data["per_take"]["h36m"]["take"][0] = "S9/other"
    b = tmp_path / "b.json"
    b.write_text(json.dumps(data))
    res = run("compare", a, b)
    assert res.exit_code == 2 and "different takes" in res.output and len(res.output.strip().splitlines()) == 1
    (tmp_path / "broken.json").write_text("{}")
    res = run("compare", a, tmp_path / "broken.json")
    assert res.exit_code == 2 and "broken.json" in res.output


def test_template_round_trip_scores_zero(demo_yaml, demo_test, tmp_path):
    path = tmp_path / "template.npz"
    res = run("template", "h36m", "-o", path, "--datasets", demo_yaml)
    assert res.exit_code == 0, res.output
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    assert {"input_2d_gt", "input_2d_gt_noisy", "camera_f", "sequence_start", "camera_index"} <= set(arrays)
    assert tuple(arrays["joint_names"]) == H36M17.names == tuple(arrays["input_2d_gt_joint_names"])
    np.testing.assert_array_equal(arrays["sample_id"], demo_test.sample_id)
    np.testing.assert_array_equal(arrays["input_2d_gt"], demo_test.inputs_2d["gt"])
    starts = arrays["sequence_start"]
    assert starts[0] == 0 and np.all(np.diff(starts) == arrays["sequence_length"][:-1])
    sub = tmp_path / "perfect.npz"
    np.savez(sub, **arrays, pose3d=demo_test.gt3d.astype(np.float32))
    out = tmp_path / "perfect.json"
    res = run("evaluate", sub, "--datasets", demo_yaml, "--json", out, "--no-ci")
    assert res.exit_code == 0, res.output
    result = ResultFile.model_validate_json(out.read_text())
    assert result.entry("h36m", "mpjpe").value < 1e-3 and result.entry("h36m", "p_mpjpe").value < 1e-3
    assert result.entry("h36m", "pck").value == 100.0
    assert run("template", "h36m", "-o", path, "--datasets", demo_yaml).exit_code == 2  # exists, no --force


def test_validate_list_and_demo(demo_yaml, tmp_path):
    res = run("validate", EXAMPLES / "demo_gt_noise.npz", "--datasets", demo_yaml)
    assert res.exit_code == 0 and "ids ok" in res.output
    res = run("list", "benchmarks")
    assert res.exit_code == 0 and "h36m" in res.output
    res = run("list", "datasets", "--datasets", demo_yaml)
    assert res.exit_code == 0 and "videopose3d" in res.output and "yes" in res.output
    assert run("list", "nonsense").exit_code == 2
    res = run("evaluate", "--datasets", demo_yaml)
    assert res.exit_code == 2 and "give a submission file" in res.output and "not both" not in res.output
    res = run("demo", "--data-root", tmp_path)
    assert res.exit_code == 0 and (tmp_path / "demo" / "h36m" / "data_3d_h36m.npz").is_file()


def test_list_says_what_each_benchmark_and_dataset_really_has(tmp_path):
    assert run("demo", "--data-root", tmp_path).exit_code == 0
    cfg = tmp_path / "datasets.yaml"
    cfg.write_text(
        f"data_root: {tmp_path}\ndatasets:\n  3dpw: {{format: 3dpw, path: {tmp_path}/demo/3dpw}}\n"
        f"  empty3dpw: {{format: 3dpw, path: {tmp_path}/nowhere}}\n"
    )
    res = run("list", "datasets", "--datasets", cfg)
    rows = {line.split()[1]: line for line in res.output.splitlines() if line.startswith("│")}
    assert res.exit_code == 0 and "yes" in rows["3dpw"] and "no (no test/*.pkl)" in rows["empty3dpw"]
    res = run("list", "benchmarks")
    blocks = {block.split(":")[0].split(" ")[0]: block for block in res.output.split("\n") if block and not block.startswith(" ")}
    lines = res.output.splitlines()
    protocol = {b: lines[lines.index(blocks[b]) + 2] for b in blocks}
    assert "PCK" not in protocol["3dpw"] and "PCK" not in protocol["3dpw-lsp14"]
    assert "PCK/AUC on 14 joints" in protocol["3dhp"] and "l_hip" not in protocol["3dhp-ites"].split("joints:")[1]


def test_list_joints_shows_the_order_a_submission_follows():
    res = run("list", "joints")
    assert res.exit_code == 0
    for js in (H36M17, MPI_INF_3DHP17, SMPL24):
        assert f"{js.name}: {len(js)} joints" in res.output
    res = run("list", "joints", "mpi_inf_3dhp17")
    rows = [line.split() for line in res.output.splitlines() if line.strip()[:2].strip().isdigit()]
    assert [r[1] for r in rows] == list(MPI_INF_3DHP17.names) and rows[1][2] == "neck"
    assert run("list", "joints", "coco").exit_code == 2


def test_missing_dataset_exits_3_with_the_path(tmp_path):
    cfg = tmp_path / "datasets.yaml"
    cfg.write_text(f"data_root: {tmp_path}\ndatasets:\n  h36m: {{format: videopose3d, path: {tmp_path}/nowhere}}\n")
    res = run("evaluate", EXAMPLES / "demo_gt_noise.npz", "--datasets", cfg)
    assert res.exit_code == 3
    assert str(tmp_path / "nowhere" / "data_3d_h36m.npz") in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert run("validate", EXAMPLES / "demo_gt_noise.npz", "--datasets", cfg).exit_code == 3


def test_bad_config_and_unknown_benchmark_are_one_line_exit_2(demo_yaml, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("datasets:\n  h36m: {format: nonsense, path: /x}\n")
    res = run("evaluate", EXAMPLES / "demo_gt_noise.npz", "--datasets", bad)
    assert res.exit_code == 2 and "datasets.h36m.format" in res.output
    res = run("evaluate", EXAMPLES / "demo_gt_noise.npz", "--datasets", demo_yaml, "--benchmark", "nope")
    assert res.exit_code == 2 and "unknown benchmark" in res.output
    res = run("evaluate", EXAMPLES / "demo_gt_noise.npz", "--datasets", tmp_path / "absent.yaml")
    assert res.exit_code == 2 and "absent.yaml" in res.output


@pytest.mark.parametrize("args, fragment", [(["template", "h36m"], "Missing option"), (["evaluate", "--bogus", "x"], "No such option")])
def test_usage_errors_are_one_line_exit_2(args, fragment):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and proc.stderr.startswith("error:") and fragment in proc.stderr


def test_user_text_is_printed_literally_not_as_markup(demo_yaml, demo_test, tmp_path):
    sub = tmp_path / "markup.npz"
    meta = json.dumps({"name": "[/oops] [bold red]Best[/] method"})
    np.savez(sub, pose3d=demo_test.gt3d.astype(np.float32), sample_id=demo_test.sample_id, dataset=np.array("h36m"), meta=np.array(meta))
    out = tmp_path / "r.json"
    res = run("evaluate", sub, "--datasets", demo_yaml, "--json", out, "--no-ci", "-b", "h36m", "-b", "h36m")
    assert res.exit_code == 0, res.output
    assert "[/oops] [bold red]Best[/] method" in res.output
    result = ResultFile.model_validate_json(out.read_text())
    assert len(result.results) == 14  # a repeated --benchmark is scored once: 7 metrics x 2 aggregations


def test_baseline_train_names_every_baseline_and_defaults_to_the_demo_config():
    """No multi-day default: without --config the demo config trains; the help lists every registered baseline."""
    from baselines.registry import BASELINES

    res = run("baseline", "train", "--help")
    assert res.exit_code == 0
    text = " ".join(res.output.split())
    assert all(name in text for name in BASELINES), text
    assert "[default: demo]" in text and "--threads" in text
    assert "--cache-dir" in " ".join(run("regress", "--help").output.split())


def test_threads_below_one_are_refused_in_one_line(demo_yaml, tmp_path):
    res = run("baseline", "train", "ites", "--config", "smoke", "--threads", "0", "--out", tmp_path, "--datasets", demo_yaml)
    assert res.exit_code == 2 and "--threads" in res.output
    res = run("baseline", "train", "ites", "--config", "smoke", "--set", "threads=0", "--out", tmp_path, "--datasets", demo_yaml)
    assert res.exit_code == 2 and "threads" in res.output and len(res.output.strip().splitlines()) == 1, res.output


def test_a_pin_without_a_positive_tolerance_is_one_line(demo_yaml, tmp_path):
    ref = tmp_path / "reference.yaml"
    ref.write_text("ites:\n  config: demo\n  expected:\n    student:\n      h36m-ites: {p_mpjpe: {value: 100.0, tolerance: 0}}\n")
    res = run("regress", "ites", "--reference", ref, "--datasets", demo_yaml)
    assert res.exit_code == 2 and "tolerance" in res.output and len(res.output.strip().splitlines()) == 1, res.output


def test_control_characters_from_a_submission_never_reach_the_terminal(demo_test, demo_yaml, tmp_path):
    """A method name or sample id with escape sequences is printed with the escapes spelt out."""
    sub = tmp_path / "x.npz"
    name = "evil\x1b[2J\x1b]0;pwned\x07\x9b31m"
    np.savez(sub, pose3d=demo_test.gt3d.astype(np.float32), sample_id=demo_test.sample_id, dataset=np.array("h36m"), meta=np.array(json.dumps({"name": name})))
    res = run("evaluate", sub, "--datasets", demo_yaml, "--no-ci", "-b", "h36m")
    assert res.exit_code == 0, res.output
    assert not any(ch in res.output for ch in "\x1b\x07\x9b") and "evil\\x1b[2J\\x1b]0;pwned\\x07\\x9b31m" in res.output
    bad = tmp_path / "bad.npz"
    ids = demo_test.sample_id.copy()
    ids[0] = "S9/\x1b[31mred"
    np.savez(bad, pose3d=demo_test.gt3d.astype(np.float32), sample_id=ids, dataset=np.array("h36m"))
    res = run("evaluate", bad, "--datasets", demo_yaml, "--no-ci")
    assert res.exit_code == 2 and "\x1b" not in res.output and "\\x1b[31mred" in res.output, res.output

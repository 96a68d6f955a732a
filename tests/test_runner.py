"""Model entrypoints: a model run scores exactly like the file it saves; broken or hostile models fail in one line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.results import ResultFile

runner = CliRunner()

LIFT = """
import numpy as np
POSEBENCH_META = {"name": "depth lift", "supervision": "unsupervised", "training_data": "none"}

def make():
    def model(kp2d, intrinsics, joint_set, sequence_id):
        assert joint_set == "h36m17" and kp2d.ndim == 3
        f, c = np.array(intrinsics["f"]), np.array(intrinsics["c"])
        xy = (kp2d - c) / f * 4500.0
        return np.concatenate([xy, np.full(kp2d.shape[:-1] + (1,), 4500.0)], axis=-1){tail}
    return model
"""

BROKEN = {
    "raises": ("raise RuntimeError('weights not found')", "the model raised RuntimeError: weights not found"),
    "hangs": ("import time; time.sleep(600)", "no answer within the 6 s timeout"),
    "hog": ("x = []\nwhile True:\n    x.append(bytearray(64 * 1024 * 1024))", "ran out of memory"),
    "shape": ("return np.zeros((len(kp2d), 16, 3))", "returned shape"),
    "frames": ("return np.zeros((len(kp2d) + 1, 17, 3))", "returned shape"),
    "nan": ("return np.full(kp2d.shape[:-1] + (3,), np.nan)", "NaN or inf"),
    "exits": ("import os; os._exit(0)", "exited before answering"),
    "ints": ("return np.zeros(kp2d.shape[:-1] + (3,), dtype=int)", "expected floats"),
}


def write_model(folder: Path, name: str, body: str | None = None) -> Path:
    path = folder / f"{name}.py"
    if body is None:
        path.write_text(LIFT.replace("{tail}", ""))
    else:
        inner = textwrap.indent(body, " " * 8)
        path.write_text(
            "import numpy as np\n\ndef make():\n    def model(kp2d, intrinsics, joint_set, sequence_id):\n" + inner + "\n    return model\n"
        )
    return path


def evaluate(demo_yaml: Path, *args: str):
    return runner.invoke(app, ["evaluate", "--dataset", "h36m", "--input-2d", "gt", "--datasets", str(demo_yaml), "--no-ci", *args])


def test_model_run_and_its_saved_predictions_score_identically(demo_yaml, tmp_path):
    model = write_model(tmp_path, "lift")
    saved, a, b = tmp_path / "pred.npz", tmp_path / "model.json", tmp_path / "file.json"
    res = evaluate(demo_yaml, "--model", f"{model}:make", "--save-predictions", str(saved), "--json", str(a))
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["evaluate", str(saved), "--datasets", str(demo_yaml), "--no-ci", "--json", str(b)])
    assert res.exit_code == 0, res.output
    ra, rb = ResultFile.model_validate_json(a.read_text()), ResultFile.model_validate_json(b.read_text())
    assert [(e.metric, e.aggregation, e.value) for e in ra.results] == [(e.metric, e.aggregation, e.value) for e in rb.results]
    assert ra.method.name == rb.method.name == "depth lift" and ra.method.input_2d == "gt"
    meta = tmp_path / "meta.yaml"
    meta.write_text("name: renamed\ntraining_data: demo S1-S8\n")
    res = evaluate(demo_yaml, "--model", f"{model}:make", "--meta", str(meta), "--json", str(tmp_path / "m.json"))
    assert res.exit_code == 0 and ResultFile.model_validate_json((tmp_path / "m.json").read_text()).method.name == "renamed"


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_models_fail_in_one_line_and_store_nothing(demo_yaml, tmp_path, case):
    body, fragment = BROKEN[case]
    model = write_model(tmp_path, case, body)
    db = tmp_path / "lb.db"
    timeout = "6" if case == "hangs" else "60"  # the others must fail for their own reason, even on a busy machine
    res = evaluate(demo_yaml, "--model", f"{model}:make", "--timeout", timeout, "--memory-limit", "2", "--store", "--db", f"sqlite:///{db}")
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and fragment in lines[0] and "sequence S9/" in lines[0]
    assert not db.exists()


def test_bad_specs_and_missing_options(demo_yaml, tmp_path):
    res = evaluate(demo_yaml, "--model", f"{tmp_path}/absent.py:make")
    assert res.exit_code == 2 and "no file" in res.output and "absent.py" in res.output
    res = runner.invoke(app, ["evaluate", "--model", "x:y", "--datasets", str(demo_yaml)])
    assert res.exit_code == 2 and "--dataset and --input-2d" in res.output
    res = evaluate(demo_yaml, "--model", f"{write_model(tmp_path, 'lift')}:make", "--input-2d", "cpn")
    assert res.exit_code == 2 and "no 2D source 'cpn' for h36m (have: gt, gt_noisy;" in res.output
    res = evaluate(demo_yaml, "--model", f"{write_model(tmp_path, 'lift')}:make", "--option", "not an identifier=1")
    assert res.exit_code == 2 and "--option not an identifier=1: expected KEY=VALUE" in res.output
    res = evaluate(demo_yaml, "--model", f"{write_model(tmp_path, 'lift')}:make", "--option", "depth=3")  # make() takes none
    assert res.exit_code == 2 and "unexpected keyword argument 'depth'" in res.output


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("nocolon", "expected PATH.py:FACTORY or MODULE:FACTORY"),
        (":make", "expected PATH.py:FACTORY or MODULE:FACTORY"),
        ("a b:make", "neither a .py file nor a dotted module name"),
        ("no_such_module_here:make", "no module named 'no_such_module_here' in the current folder or the installed packages"),
        ("{lift}:nofactory", "defines no factory 'nofactory' (its functions and classes: make)"),
    ],
)
def test_a_misspelt_model_spec_is_the_users_error_not_the_models(demo_yaml, tmp_path, spec, fragment):
    """One line naming the spec and what is wrong, never "the model raised" nor the worker's internal module name."""
    res = evaluate(demo_yaml, "--model", spec.format(lift=write_model(tmp_path, "lift")))
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert res.exit_code == 2 and len(lines) == 1, res.output
    assert lines[0].startswith("error: --model ") and fragment in lines[0]
    assert "the model raised" not in lines[0] and "posebench_model" not in lines[0]


def test_factory_options_arrive_as_keyword_arguments(demo_yaml, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative path is resolved here, where the harness runs, not in the model's folder
    weights = tmp_path / "weights.txt"
    weights.write_text("4500")
    path = tmp_path / "configured.py"
    path.write_text(LIFT.replace("def make():", "def make(weights, scale='1'):\n    depth = float(open(weights).read()) * float(scale)").replace("* 4500.0", "* depth").replace("4500.0)", "depth)").replace("{tail}", ""))
    out = tmp_path / "r.json"
    res = evaluate(demo_yaml, "--model", f"{path}:make", "--option", f"weights={weights.name}", "--option", "scale=1", "--json", str(out))
    assert res.exit_code == 0, res.output


def _sandbox_or_skip() -> None:
    import os
    import shutil

    if shutil.which("bwrap") is None:
        if os.environ.get("POSEBENCH_REQUIRE_SANDBOX") == "1":
            pytest.fail("no bubblewrap (bwrap) and POSEBENCH_REQUIRE_SANDBOX=1")
        pytest.skip("no bubblewrap (bwrap) here: Debian's package 'bubblewrap'")


def test_a_model_cannot_reach_the_network(demo_yaml, tmp_path):
    import socket

    _sandbox_or_skip()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    model = write_model(tmp_path, "phone_home", f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\nreturn np.zeros(kp2d.shape[:-1] + (3,))")
    res = evaluate(demo_yaml, "--model", f"{model}:make")
    server.setblocking(False)
    with pytest.raises(BlockingIOError):  # nothing ever connected: the sandbox's loopback is its own
        server.accept()
    server.close()
    assert res.exit_code == 2 and "the model raised ConnectionRefusedError" in res.output and len(res.output.strip().splitlines()) == 1


def test_a_model_cannot_read_the_ground_truth(demo_root, demo_yaml, tmp_path):
    _sandbox_or_skip()
    gt = demo_root / "demo" / "h36m" / "data_3d_h36m.npz"
    assert gt.is_file()
    model = write_model(tmp_path, "peek", f"np.load({str(gt)!r}, allow_pickle=True)\nreturn np.zeros(kp2d.shape[:-1] + (3,))")
    res = evaluate(demo_yaml, "--model", f"{model}:make")
    assert res.exit_code == 2 and "FileNotFoundError" in res.output
    # The same model can read a file outside the dataset folders: the refusal above is the hiding, not a typo.
    elsewhere = tmp_path / "copy.npz"
    elsewhere.write_bytes(gt.read_bytes())
    model = write_model(tmp_path, "peek_elsewhere", f"np.load({str(elsewhere)!r}, allow_pickle=True)\nreturn np.zeros(kp2d.shape[:-1] + (3,))")
    assert evaluate(demo_yaml, "--model", f"{model}:make").exit_code == 0


# ------------------------------------------------------------------ 3DPW: the lifting path on both 2D sources

LIFT_3DPW = """
import os
import numpy as np

DEPTH = 4000.0
SHARED = {shared!r}  # COCO-18 index -> SMPL-24 index, the limb joints both name


def make():
    def model(kp2d, intrinsics, joint_set, sequence_id):
        assert joint_set == "smpl24" and intrinsics["size"] == [1080, 1920]
        f, c = np.array(intrinsics["f"]), np.array(intrinsics["c"])
        if os.environ["POSEBENCH_INPUT_2D"] == "poses2d":
            assert kp2d.shape[1:] == (18, 3)
            xy = np.full((len(kp2d), 24, 2), np.nan)
            xy[:, list(SHARED.values())] = kp2d[:, list(SHARED), :2]
            fill = np.nanmean(xy, axis=(0, 1))  # missed joints: the mean detected point of the sequence
            xy = np.where(np.isnan(xy), fill, xy)
        else:
            assert kp2d.shape[1:] == (24, 2)
            xy = kp2d.astype(np.float64)
        return np.concatenate([(xy - c) / f * DEPTH, np.full(xy.shape[:-1] + (1,), DEPTH)], axis=-1)
    return model
"""


@pytest.fixture(scope="module")
def pw3d_yaml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from harness.demo.pw3d import write_demo_3dpw

    root = tmp_path_factory.mktemp("pw3d-data")
    write_demo_3dpw(root)
    path = root / "datasets.yaml"
    path.write_text(f"data_root: {root}\ndatasets:\n  3dpw: {{format: 3dpw, path: {root}/demo/3dpw}}\n")
    return path


def lift_3dpw(folder: Path) -> Path:
    from harness.datasets.pw3d import POSES2D_JOINTS
    from harness.skeletons import SMPL24

    shared = {i: SMPL24.index[n] for i, n in enumerate(POSES2D_JOINTS) if n in SMPL24.index}
    path = folder / "lift3dpw.py"
    path.write_text(LIFT_3DPW.replace("{shared!r}", repr(shared)))
    return path


@pytest.mark.parametrize("source", ["gt", "poses2d"])
@pytest.mark.parametrize("sandbox", [True, False], ids=["sandbox", "no-sandbox"])
def test_model_lifts_3dpw_from_the_documented_2d(pw3d_yaml, tmp_path, source, sandbox):
    """The model sees each source as documented: projecting its fixed-depth lift back gives the 2D it was given."""
    import numpy as np

    from harness.config import load_config
    from harness.datasets import load_dataset
    from harness.datasets.pw3d import POSES2D_JOINTS
    from harness.skeletons import SMPL24

    if sandbox:
        _sandbox_or_skip()
    saved, out = tmp_path / "pred.npz", tmp_path / "r.json"
    args = ["evaluate", "--model", f"{lift_3dpw(tmp_path)}:make", "--dataset", "3dpw", "--input-2d", source, "--datasets", str(pw3d_yaml), "--no-ci"]
    res = runner.invoke(app, [*args, "--save-predictions", str(saved), "--json", str(out), *([] if sandbox else ["--no-sandbox"])])
    assert res.exit_code == 0, res.output
    result = ResultFile.model_validate_json(out.read_text())
    assert result.method.input_2d == source and result.entry("3dpw", "p_mpjpe").n_samples > 300
    test = load_dataset(load_config(pw3d_yaml), "3dpw")
    with np.load(saved, allow_pickle=False) as z:
        assert list(z["sample_id"]) == list(test.sample_id)
        pred = z["pose3d"].astype(np.float64)
    f, c = np.array([1961.0, 1969.0]), np.array([540.0, 960.0])  # the demo's cam_intrinsics
    back = pred[..., :2] / pred[..., 2:] * f + c
    gt2d = test.gt3d[..., :2] / test.gt3d[..., 2:] * f + c  # the ground truth projected here, independently of the loader
    if source == "gt":
        np.testing.assert_allclose(back, gt2d, atol=5e-3)
    else:
        coco = [POSES2D_JOINTS.index(n) for n in POSES2D_JOINTS if n in SMPL24.index]
        smpl = SMPL24.subset([POSES2D_JOINTS[i] for i in coco])
        det = test.inputs_2d["poses2d"][:, coco]
        seen = det[..., 2] > 0
        np.testing.assert_allclose(back[:, smpl][seen], det[..., :2][seen], atol=5e-3)
        err = np.linalg.norm(back[:, smpl] - gt2d[:, smpl], axis=-1)[seen]
        assert 1.0 < err.mean() < 12.0  # a detection, a few pixels off the ground truth, not the ground truth itself


def test_a_model_that_ignores_missed_joints_is_told_why_it_returned_nan(pw3d_yaml, tmp_path):
    model = tmp_path / "naive.py"
    model.write_text(LIFT.replace('assert joint_set == "h36m17" and kp2d.ndim == 3', "kp2d = kp2d[..., :2]").replace("{tail}", "[:, [0] * 24]"))
    res = runner.invoke(app, ["evaluate", "--model", f"{model}:make", "--dataset", "3dpw", "--input-2d", "poses2d", "--datasets", str(pw3d_yaml), "--no-ci", "--no-sandbox"])
    assert res.exit_code == 2, res.output
    line = res.output.strip()
    assert "returned NaN or inf (its 2D input marks missed joints NaN on" in line and "frames: fill them in)" in line and len(line.splitlines()) == 1


def test_storing_a_nameless_model_run_says_where_a_name_goes(demo_yaml, tmp_path):
    model = write_model(tmp_path, "nameless", "return np.zeros(kp2d.shape[:-1] + (3,)) + np.arange(17)[:, None] * 100.0")
    db = tmp_path / "lb.db"
    res = evaluate(demo_yaml, "--model", f"{model}:make", "--store", "--db", f"sqlite:///{db}")
    assert res.exit_code == 2 and "POSEBENCH_META['name']" in res.output and "--method" in res.output
    assert "results" not in res.output.lower() and not db.exists()  # refused before anything was scored or stored

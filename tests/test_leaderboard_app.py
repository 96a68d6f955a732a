"""The Streamlit app, run headless with AppTest: filters, URL state, sort direction, detail, compare, progress."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import REPO
from tests.leaderboard_fixtures import seeded_database

APP = str(REPO / "leaderboard" / "app.py")


@pytest.fixture(scope="module")
def db(tmp_path_factory, demo_yaml):
    return seeded_database(f"sqlite:///{tmp_path_factory.mktemp('lb') / 'leaderboard.db'}", demo_yaml)


@pytest.fixture
def app(db, monkeypatch):
    monkeypatch.setenv("POSEBENCH_DB_URL", db)
    return AppTest.from_file(APP, default_timeout=60)


def table(at):
    return at.dataframe[0].value


def test_default_view_is_real_data_sorted_by_the_headline(app):
    at = app.run()
    assert not at.exception
    t = table(at)
    assert set(t["source"]) == {"reported"} and "Ground truth + 15 mm noise" not in set(t["method"])
    mpjpe = [v for v in t["mpjpe (mm) ↓"] if v == v]
    assert mpjpe == sorted(mpjpe) and mpjpe[0] == 50.9
    assert list(t["rank"]) == list(range(1, len(t) + 1))
    assert "DEMO DATA" not in " ".join(w.value for w in at.warning)


def test_demo_view_is_labelled_and_sorted_lower_is_better(app):
    app.query_params["data"] = "demo"
    at = app.run()
    t = table(at)
    assert list(t["method"]) == ["Ground truth + 15 mm noise", "Mean training pose"]
    assert any("DEMO DATA" in w.value for w in at.warning)


def test_filters_come_from_the_url_and_change_the_rows(app):
    app.query_params["f_supervision"] = ["unsupervised"]
    app.query_params["f_input_2d"] = ["gt"]
    at = app.run()
    t = table(at)
    assert set(t["supervision"]) == {"unsupervised"} and set(t["input_2d"]) == {"gt"}
    assert set(t["method"]) == {"PoseNet3D", "ElePose"}
    at.multiselect(key="f_input_2d").set_value(["detected"]).run()
    assert set(table(at)["input_2d"]) == {"detected"}


def test_higher_is_better_headline_sorts_descending(app):
    app.query_params["benchmark"] = "3dhp"
    at = app.run()
    t = table(at)
    headline = next(c for c in t.columns if c.endswith(("↑", "↓")))
    values = [v for v in t[headline] if v == v]
    assert headline.endswith("↑") and values == sorted(values, reverse=True)


def test_paper_protocol_emulations_have_their_own_tab(app):
    app.query_params["kind"] = "paper-protocol emulations"
    at = app.run()
    assert at.selectbox(key="benchmark").options == ["3dhp-ites", "h36m-ites"]
    assert "ITES" in set(table(at)["method"])


def test_method_page_shows_protocol_breakdowns_and_environment(app):
    app.query_params["method"] = "Mean training pose"
    at = app.run()
    at.switch_page("views_pages/method.py").run()
    assert not at.exception
    subheaders = [s.value for s in at.subheader]
    assert any(s.startswith("Results") for s in subheaders) and any(s.startswith("Per action: h36m") for s in subheaders)
    results = at.dataframe[0].value
    assert {"frames", "root", "alignment", "ci95", "joints"} <= set(results.columns) and len(results) == 14
    assert any(s.startswith("Worst frames: h36m") for s in subheaders)
    figure = at.get("plotly_chart")[0]
    assert '"scene2"' in figure.proto.spec  # two rotatable 3D scenes: ground truth and prediction


def test_compare_page_gives_paired_differences(app):
    app.query_params["compare"] = ["Ground truth + 15 mm noise", "Mean training pose"]
    at = app.run()
    at.switch_page("views_pages/compare.py").run()
    assert not at.exception
    assert "Paired differences on the same frames" in [s.value for s in at.subheader]
    diffs = at.dataframe[-1].value
    mpjpe = diffs[diffs["metric"] == "mpjpe"].iloc[0]
    assert mpjpe["difference (action-mean)"] < -100  # the noisy ground truth beats the mean pose by far


def test_progress_page_is_best_so_far_by_year(app):
    app.query_params["p_benchmark"] = "h36m"
    at = app.run()
    at.switch_page("views_pages/progress.py").run()
    assert not at.exception
    frame = at.dataframe[0].value
    assert list(frame["year"]) == sorted(frame["year"]) and list(frame["best_so_far"]) == sorted(frame["best_so_far"], reverse=True)


def test_user_text_is_not_rendered_as_markup(tmp_path, demo_yaml, monkeypatch):
    import json

    import numpy as np
    from typer.testing import CliRunner

    from harness.cli import app as cli
    from harness.config import load_config
    from harness.datasets import load_dataset

    test = load_dataset(load_config(demo_yaml), "h36m")
    sub = tmp_path / "**big**[link](http:evil).npz"
    meta = json.dumps({"name": "<b>bold</b> **x** <script>alert(1)</script>"})
    np.savez(sub, pose3d=test.gt3d.astype(np.float32), sample_id=test.sample_id, dataset=np.array("h36m"), meta=np.array(meta))
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert CliRunner().invoke(cli, ["evaluate", str(sub), "--datasets", str(demo_yaml), "--store", "--db", url, "--no-ci"]).exit_code == 0
    monkeypatch.setenv("POSEBENCH_DB_URL", url)
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["data"] = "demo"
    at.run()
    assert table(at)["method"][0] == "<b>bold</b> **x** <script>alert(1)</script>"
    assert not any("<script>" in m.value for m in at.markdown)
    at.query_params["method"] = "<b>bold</b> **x** <script>alert(1)</script>"
    at.switch_page("views_pages/method.py").run()
    assert not at.exception
    labels = [e.label for e in at.expander]
    assert labels and all("**big**" not in label and "](http" not in label for label in labels), labels
    assert any("\\*\\*big\\*\\*\\[link\\]\\(http:evil\\).npz" in label for label in labels), labels


def test_method_page_handles_3dhp_and_3dpw_results(tmp_path, monkeypatch):
    import json

    from typer.testing import CliRunner

    from harness.cli import app as cli
    from harness.config import load_config
    from harness.datasets import load_dataset
    from harness.datasets.demo_3dhp import write_demo_3dhp
    from harness.datasets.demo_3dpw import write_demo_3dpw

    write_demo_3dhp(tmp_path)
    write_demo_3dpw(tmp_path)
    yaml = tmp_path / "d.yaml"
    yaml.write_text(
        f"data_root: {tmp_path}\ndatasets:\n  mpi_inf_3dhp: {{format: mpi_inf_3dhp_test, path: {tmp_path}/demo/mpi_inf_3dhp}}\n"
        f"  3dpw: {{format: 3dpw, path: {tmp_path}/demo/3dpw}}\n"
    )
    url = f"sqlite:///{tmp_path / 'lb.db'}"
    import numpy as np

    for name in ("mpi_inf_3dhp", "3dpw"):
        test = load_dataset(load_config(yaml), name)
        sub = tmp_path / f"{name}.npz"
        np.savez(sub, pose3d=(test.gt3d + 10.0).astype(np.float32), sample_id=test.sample_id, dataset=np.array(name), joint_set=np.array(test.joint_set), meta=np.array(json.dumps({"name": "Offset"})))
        res = CliRunner().invoke(cli, ["evaluate", str(sub), "--datasets", str(yaml), "--store", "--db", url, "--no-ci"])
        assert res.exit_code == 0, res.output
    monkeypatch.setenv("POSEBENCH_DB_URL", url)
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["method"] = "Offset"
    at.run()
    at.switch_page("views_pages/method.py").run()
    assert not at.exception
    subheaders = [s.value for s in at.subheader]
    assert any(s.startswith("Per sequence: 3dhp") for s in subheaders) and any(s.startswith("Per activity: 3dhp") for s in subheaders)
    assert any(s.startswith("Worst frames: 3dpw") for s in subheaders)
    at.switch_page("views_pages/leaderboard.py")
    at.query_params["benchmark"] = "3dhp"
    at.query_params["data"] = "demo"
    at.run()
    assert table(at)["method"].tolist() == ["Offset"]

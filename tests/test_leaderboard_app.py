"""The Streamlit app, run headless with AppTest: filters, URL state, sort direction, detail, compare, progress."""

from __future__ import annotations

import json
import re

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import REPO
from leaderboard.history import ROW_RULE
from leaderboard.queries import DEFAULT_DATA_RULE
from tests.leaderboard_fixtures import scored_json, seeded_database, stored_again

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


def test_opens_on_demo_data_while_only_demo_results_are_stored_and_says_so(app):
    at = app.run()
    assert not at.exception
    assert at.radio(key="data").value == "demo" and any("DEMO DATA" in w.value for w in at.warning)
    assert any(DEFAULT_DATA_RULE in c.value for c in at.caption)
    assert list(table(at)["method"]) == ["Ground truth + 15 mm noise", "Mean training pose"]
    assert at.dataframe[0].proto.placeholder == ""  # missing values show as blanks, never 'None'


def test_real_data_shows_literature_computed_otherwise_apart(app):
    app.query_params["data"] = "real"
    at = app.run()
    assert not at.exception
    assert any("was computed with this benchmark's protocol" in c.value for c in at.caption)  # no literature number is ranked on h36m
    assert "Protocol differs or not fully known (not ranked, never the best value)" in [s.value for s in at.subheader]
    t = table(at)  # the protocol-differs table: no rank column, what differs and what is unknown right after the metrics
    assert "rank" not in t.columns and list(t.columns[:2]) == ["method", "source"]
    metrics = [c for c in t.columns if c.endswith(("↑", "↓"))]
    assert list(t.columns[2 + len(metrics):4 + len(metrics)]) == ["protocol_differs", "unknown"]
    assert set(t["source"]) == {"reported"} and "Ground truth + 15 mm noise" not in set(t["method"])
    assert "None" not in set(t["year"]) and "" in set(t["year"]) | set(t["code"])  # text blanks, not 'None'
    mpjpe = [v for v in t["mpjpe (mm) ↓"] if v == v]
    assert mpjpe == sorted(mpjpe) and mpjpe[0] == 50.9
    elepose = t[(t["method"] == "ElePose") & (t["input_2d"] == "gt")].iloc[0]
    assert "p_mpjpe: differs: frames, aggregation, procrustes" in elepose["protocol_differs"]
    assert "DEMO DATA" not in " ".join(w.value for w in at.warning)


def test_rows_without_the_headline_value_get_no_rank(tmp_path, demo_yaml, monkeypatch):
    url = seeded_database(f"sqlite:///{tmp_path / 'r.db'}", demo_yaml)
    stored_again(url, scored_json(tmp_path, demo_yaml), "No MPJPE", "a" * 64, scale=0.5, drop=("mpjpe",))
    monkeypatch.setenv("POSEBENCH_DB_URL", url)
    at = AppTest.from_file(APP, default_timeout=60).run()
    t = table(at).set_index("method")
    assert t["rank"].isna().tolist() == [False, False, True] and t.loc["No MPJPE", "p_mpjpe (mm) ↓"] < t.loc["Mean training pose", "p_mpjpe (mm) ↓"]  # better, yet unranked
    assert list(t["rank"].dropna()) == [1, 2] and t.index[-1] == "No MPJPE"


def test_the_aggregation_choice_shows_stored_frame_mean_values(app):
    app.query_params["data"] = "demo"
    app.query_params["aggregation"] = "frame-mean"
    at = app.run()
    frame_mean = table(at).set_index("method")["mpjpe (mm) ↓"]
    at.selectbox(key="aggregation").set_value("action-mean").run()
    action_mean = table(at).set_index("method")["mpjpe (mm) ↓"]
    assert at.selectbox(key="aggregation").options == ["action-mean", "frame-mean"]
    assert (frame_mean - action_mean).abs().min() > 0.01


def test_demo_view_is_labelled_and_sorted_lower_is_better(app):
    app.query_params["data"] = "demo"
    at = app.run()
    t = table(at)
    assert list(t["method"]) == ["Ground truth + 15 mm noise", "Mean training pose"] and list(t["rank"]) == [1, 2]
    assert any("DEMO DATA" in w.value for w in at.warning)
    assert "Protocol differs or not fully known (not ranked, never the best value)" not in [s.value for s in at.subheader]  # verified rows are comparable


def test_filters_come_from_the_url_and_change_the_rows(app):
    app.query_params["data"] = "real"
    app.query_params["f_supervision"] = ["unsupervised"]
    app.query_params["f_input_2d"] = ["gt"]
    at = app.run()
    t = table(at)
    assert set(t["supervision"]) == {"unsupervised"} and set(t["input_2d"]) == {"gt"}
    assert set(t["method"]) == {"PoseNet3D", "ElePose", "Yu et al. (modeling ambiguity)", "Chen et al. (geometric self-supervision)"}
    at.multiselect(key="f_input_2d").set_value(["detected"]).run()
    assert set(table(at)["input_2d"]) == {"detected"}


def test_higher_is_better_headline_sorts_descending(app):
    app.query_params["data"] = "real"
    app.query_params["benchmark"] = "3dhp"
    at = app.run()
    t = table(at)
    headline = next(c for c in t.columns if c.endswith(("↑", "↓")))
    values = [v for v in t[headline] if v == v]
    assert headline.endswith("↑") and values == sorted(values, reverse=True)


def test_paper_protocol_emulations_have_their_own_tab(app):
    app.query_params["data"] = "real"
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
    results = next(d.value for d in at.dataframe if "ci95" in d.value.columns)
    assert {"frames", "root", "alignment", "ci95", "joints"} <= set(results.columns) and len(results) == 14
    bars = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    assert any(b.get("encoding", {}).get("y", {}).get("title") == "mpjpe (mm)" for b in bars)  # the per-action axis has its unit
    assert any(s.startswith("Worst frames: h36m") for s in subheaders)
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    scenes = [k for k in figure["layout"] if k.startswith("scene")]
    assert scenes == ["scene"]  # one scene, so one camera: a drag turns ground truth and prediction together
    assert {t["name"] for t in figure["data"]} == {"ground truth", "prediction"}
    assert [a["text"].split(" (")[0] for a in figure["layout"]["scene"]["annotations"]] == ["ground truth", "prediction"]
    assert all(figure["layout"]["scene"][a]["title"]["text"] for a in ("xaxis", "yaxis", "zaxis"))


def test_method_page_keeps_every_submission_and_names_the_row(tmp_path, demo_yaml, monkeypatch):
    url = seeded_database(f"sqlite:///{tmp_path / 'h.db'}", demo_yaml)
    stored = stored_again(url, scored_json(tmp_path, demo_yaml, "demo_gt_noise.npz"), "Ground truth + 15 mm noise", "b" * 64, scale=1.5)
    monkeypatch.setenv("POSEBENCH_DB_URL", url)
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["method"] = "Ground truth + 15 mm noise"
    at.run()
    at.switch_page("views_pages/method.py").run()
    assert not at.exception
    history = next(d.value for d in at.dataframe if "method's row" in d.value.columns)
    assert len(history) == 2 and list(history["method's row"]) == ["", "yes"] and history["submission"].iloc[1] == stored.submission_id
    assert history["value"].iloc[1] == pytest.approx(1.5 * history["value"].iloc[0])  # the newer, worse one is the row, as the rule says
    assert any(ROW_RULE in c.value for c in at.caption)


def test_compare_page_says_why_a_method_with_only_reported_numbers_is_absent(app):
    app.query_params["compare"] = ["Ground truth + 15 mm noise", "ElePose"]
    at = app.run()
    at.switch_page("views_pages/compare.py").run()
    assert not at.exception
    headline = next(d.value for d in at.dataframe if "ranked on the benchmark" in d.value.columns)
    assert {"verified", "reported"} == set(headline["source"]) and "ElePose" in set(headline["method"])
    assert headline[headline["source"] == "reported"]["ranked on the benchmark"].str.startswith("no: ").all()
    captions = [c.value for c in at.caption]
    assert any(c.startswith("ElePose: not in the per-action table: only reported numbers") for c in captions), captions
    assert any("no paired difference: ElePose: only reported numbers" in c for c in captions), captions


def test_compare_page_gives_paired_differences(app):
    app.query_params["compare"] = ["Ground truth + 15 mm noise", "Mean training pose"]
    at = app.run()
    at.switch_page("views_pages/compare.py").run()
    assert not at.exception
    assert "Paired differences on the same frames" in [s.value for s in at.subheader]
    diffs = at.dataframe[-1].value
    mpjpe = diffs[diffs["metric"] == "mpjpe"].iloc[0]
    assert mpjpe["difference (action-mean)"] < -100  # the noisy ground truth beats the mean pose by far


def test_progress_page_names_methods_per_supervision_and_marks_reported_apart(tmp_path, demo_yaml, monkeypatch):
    url = seeded_database(f"sqlite:///{tmp_path / 'p.db'}", demo_yaml)
    stored_again(url, scored_json(tmp_path, demo_yaml, "demo_gt_noise.npz"), "ElePose", "c" * 64, real=True)  # a verified real-data row of a dated method
    monkeypatch.setenv("POSEBENCH_DB_URL", url)
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("views_pages/progress.py").run()
    assert not at.exception
    assert at.selectbox(key="p_benchmark").value == "h36m" and at.selectbox(key="p_metric").value == "mpjpe (mm) ↓"
    points = at.dataframe[0].value
    assert {"verified", "reported, protocol differs"} <= set(points["kind"]) and "ElePose" in set(points["method"])
    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    assert spec["facet"]["column"]["field"] == "supervision"  # one panel per supervision level
    marks = [layer["mark"]["type"] for layer in spec["spec"]["layer"]]
    assert marks == ["line", "point", "text"] and spec["spec"]["layer"][2]["encoding"]["text"]["field"] == "method"
    assert set(points[points["kind"] == "verified"]["method"]) == {"ElePose"}


def test_a_result_warning_is_shown_beside_the_row_and_in_the_drill_down(tmp_path, demo_yaml, monkeypatch):
    from tests.leaderboard_fixtures import SWAP_WARNING

    url = seeded_database(f"sqlite:///{tmp_path / 'w.db'}", demo_yaml, warning_on="demo_mean_pose.npz")
    monkeypatch.setenv("POSEBENCH_DB_URL", url)
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["data"] = "demo"
    at.run()
    t = table(at).set_index("method")
    assert "l_wrist, r_wrist" in t.loc["Mean training pose", "warnings"] and t.loc["Ground truth + 15 mm noise", "warnings"] == ""
    shown = [w.value for w in at.warning]
    assert any(re.match(r"Mean training pose \(submission \d+\): ", w) and SWAP_WARNING.message in w and "l_wrist" in w for w in shown), shown
    at.query_params["method"] = "Mean training pose"
    at.switch_page("views_pages/method.py").run()
    assert not at.exception
    assert any(w.startswith("h36m (submission") and "joint-order" in w and "r_wrist" in w for w in (w.value for w in at.warning))


def test_method_page_compares_a_reported_number_field_by_field(app):
    app.query_params["method"] = "ElePose"
    at = app.run()
    at.switch_page("views_pages/method.py").run()
    assert not at.exception
    reported = at.dataframe[0].value
    assert not reported["comparable"].any() and reported["protocol differs"].str.len().gt(0).all()
    assert any("field by field" in e.label for e in at.expander)
    fields = next(d.value for d in at.dataframe if "field" in d.value.columns and "reflection-allowed" in set(d.value["reported"]))
    row = fields.set_index("field").loc["procrustes"]
    assert (row["reported"], row["benchmark"], row["state"]) == ("reflection-allowed", "no-reflection", "differs")


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
    from harness.demo.mpi_inf_3dhp import write_demo_3dhp
    from harness.demo.pw3d import write_demo_3dpw

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

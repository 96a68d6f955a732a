"""Literature seeding, the leaderboard table and `harness export`."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from harness.cli import app
from leaderboard.db import make_engine
from leaderboard.export import to_latex, to_markdown
from leaderboard.literature import read_literature, seed
from leaderboard.queries import leaderboard_table
from leaderboard.schema import upgrade
from tests.conftest import REPO
from tests.test_leaderboard_db import db_url  # noqa: F401 - the SQLite/PostgreSQL fixture

runner = CliRunner()


def test_literature_covers_the_seed_papers_with_sources_and_unknowns():
    lit = read_literature()
    names = {m.name for m in lit.methods}
    assert {"ITES", "PoseNet3D", "Kundu et al. (non-local latent relation distillation)", "ElePose", "CanonPose", "RepNet", "EpipolarPose"} <= names
    ites = next(m for m in lit.methods if m.name == "ITES")
    assert {(r.benchmark, r.metric, r.value) for r in ites.results} >= {("h36m-ites", "mpjpe", 85.3), ("h36m-ites", "p_mpjpe", 59.8), ("3dhp-ites", "pck", 68.2)}
    for m in lit.methods:
        assert all(r.source and r.protocol and r.unknown for r in m.results)


def test_seed_is_idempotent_and_rows_are_reported(db_url):  # noqa: F811
    engine = make_engine(db_url, writer=True)
    upgrade(engine)
    lit = read_literature()
    assert seed(engine, lit) == seed(engine, lit) == (len(lit.methods), sum(len(m.results) for m in lit.methods))
    table = leaderboard_table(engine, "h36m-ites")
    assert set(table["source"]) == {"reported"} and table.loc[0, "mpjpe (mm) ↓"] == 85.3
    assert "flip" not in table.loc[0, "unknown"] and "2D input" in table.loc[0, "unknown"]


def test_table_sorts_by_headline_in_its_direction_and_never_mixes_demo(db_url, demo_yaml, tmp_path):  # noqa: F811
    for example in ("demo_gt_noise.npz", "demo_mean_pose.npz"):
        res = runner.invoke(app, ["evaluate", str(REPO / "submissions/examples" / example), "--datasets", str(demo_yaml), "--store", "--db", db_url, "--no-ci"])
        assert res.exit_code == 0, res.output
    engine = make_engine(db_url)
    seed(engine, read_literature())
    demo = leaderboard_table(engine, "h36m", "demo")
    assert list(demo["method"]) == ["Ground truth + 15 mm noise", "Mean training pose"]  # MPJPE ascending
    assert set(demo["source"]) == {"verified"}
    real = leaderboard_table(engine, "h36m", "real")
    assert "Ground truth + 15 mm noise" not in set(real["method"]) and set(real["source"]) == {"reported"}
    mpjpe = real["mpjpe (mm) ↓"].dropna()
    assert list(mpjpe) == sorted(mpjpe)
    res = runner.invoke(app, ["export", "--format", "json", "--data", "demo", "--db", db_url])
    rows = json.loads(res.output)
    assert res.exit_code == 0 and rows[0]["method"] == "Ground truth + 15 mm noise" and rows[1]["pck (%) ↑"] < 100


def test_best_value_per_column_is_bold_in_the_right_direction():
    frame = pd.DataFrame(
        {"method": ["A_1", "B"], "source": ["verified", "reported"], "supervision": ["unsupervised"] * 2, "input_2d": ["gt"] * 2,
         "data": ["real"] * 2, "mpjpe (mm) ↓": [50.0, 40.0], "pck (%) ↑": [90.0, float("nan")]}
    )
    md = to_markdown(frame)
    assert "| A_1 | verified | unsupervised | gt | real | 50.0 | **90.0** |" in md
    assert "| B | reported | unsupervised | gt | real | **40.0** | - |" in md
    tex = to_latex(frame)
    assert r"A\_1 & verified" in tex and r"\textbf{40.0}" in tex and r"\textbf{90.0}" in tex and r"(\%) $\uparrow$" in tex


def test_export_errors_are_one_line(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    res = runner.invoke(app, ["export", "--db", url])
    assert res.exit_code == 2 and "harness db upgrade" in res.output
    assert runner.invoke(app, ["db", "seed", "--db", url]).exit_code == 0
    res = runner.invoke(app, ["export", "--format", "pdf", "--db", url])
    assert res.exit_code == 2 and "--format" in res.output
    out = tmp_path / "t.tex"
    res = runner.invoke(app, ["export", "-f", "latex", "-b", "3dhp", "-o", str(out), "--db", url])
    assert res.exit_code == 0 and out.read_text().startswith(r"\begin{tabular}")
    assert runner.invoke(app, ["export", "-f", "latex", "-b", "3dhp", "-o", str(out), "--db", url]).exit_code == 2  # exists

"""Literature seeding, the leaderboard table and `harness export`."""

from __future__ import annotations

import json
import re

import pandas as pd
from typer.testing import CliRunner

from harness.cli import app
from leaderboard.db import make_engine
from leaderboard.export import export, to_latex, to_markdown
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
    assert "| A\\_1 | verified | unsupervised | gt | real | 50.0 | **90.0** |" in md
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


def test_export_takes_the_pages_choices_and_an_empty_benchmark(demo_yaml, tmp_path):
    """Unknown benchmarks are named with the known ones; an empty benchmark is an empty table; any stored
    aggregation and the page's filters can be exported; submission ids stay integers."""
    url = f"sqlite:///{tmp_path / 'lb.db'}"
    for example in ("demo_gt_noise.npz", "demo_mean_pose.npz"):
        res = runner.invoke(app, ["evaluate", str(REPO / "submissions/examples" / example), "--datasets", str(demo_yaml), "--store", "--db", url, "--no-ci"])
        assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["export", "-b", "h36mm", "--db", url])
    assert res.exit_code == 2 and "known: h36m, 3dhp" in res.output and "did you mean 'h36m'" in res.output
    res = runner.invoke(app, ["export", "-b", "3dpw", "-f", "csv", "--db", url])
    assert res.exit_code == 0 and res.output.startswith("rank,method") and len(res.output.strip().splitlines()) == 1
    head = json.loads(runner.invoke(app, ["export", "-f", "json", "--data", "demo", "--db", url]).output)
    pooled = json.loads(runner.invoke(app, ["export", "-f", "json", "--data", "demo", "--aggregation", "frame-mean", "--db", url]).output)
    assert [r["method"] for r in head] == [r["method"] for r in pooled]
    assert head[0]["mpjpe (mm) ↓"] != pooled[0]["mpjpe (mm) ↓"]  # action-mean and frame-mean of the same file differ
    assert all(isinstance(r["submission_id"], int) for r in head)
    res = runner.invoke(app, ["export", "-f", "json", "--data", "demo", "--aggregation", "sequence-mean", "--db", url])
    assert res.exit_code == 2 and "sequence-mean" in res.output
    kept = json.loads(runner.invoke(app, ["export", "-f", "json", "--data", "demo", "--supervision", "fully-supervised", "--db", url]).output)
    assert {r["supervision"] for r in kept} == {"fully-supervised"} and 0 < len(kept) <= len(head)


HOSTILE = [
    "=HYPERLINK(\"http://evil.example\",\"x\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tTAB", "\rCR",
    "\\textbf{\\input{/etc/hostname}}", "\\immediate\\write18{id}", "<img src=x onerror=alert(1)>", "[click](http://evil.example)",
    "two\nlines | and a pipe", "**bold** `code` ~~strike~~",
]


def hostile_frame() -> pd.DataFrame:
    n = len(HOSTILE)
    return pd.DataFrame({"method": HOSTILE, "source": ["verified"] * n, "supervision": HOSTILE[::-1], "input_2d": ["gt"] * n, "data": ["real"] * n,
                         "mpjpe (mm) ↓": [float(k) - 1 for k in range(n)]})


def test_csv_cells_never_start_a_formula():
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(export(hostile_frame(), "csv"), newline="")))
    for row, name in zip(rows, HOSTILE):
        for column in ("method", "supervision"):
            assert not row[column].startswith(("=", "+", "-", "@", "\t", "\r")), row[column]
        assert row["method"].lstrip("'") == name  # the text itself is kept
    assert rows[0]["mpjpe (mm) ↓"] == "-1.0"  # numbers stay numbers


def test_latex_escapes_every_cell_and_bolds_around_the_escaped_text():
    tex = to_latex(hostile_frame())
    assert r"\input" not in tex and r"\write18" not in tex and r"\textbf{\textbackslash" not in tex
    assert r"\textbackslash{}textbf\{\textbackslash{}input\{/etc/hostname\}\}" in tex
    assert r"\textbf{-1.0}" in tex  # the best (lowest) value is still bold
    assert len(tex.strip().splitlines()) == 4 + len(HOSTILE) + 2  # a newline in a name does not break a row


def test_markdown_escapes_html_links_pipes_and_newlines():
    md = to_markdown(hostile_frame())
    assert "<img" not in md and "&lt;img src=x onerror=alert\\(1\\)&gt;" in md
    assert "](http" not in md and "\\[click\\]\\(http://evil.example\\)" in md
    assert "**bold**" not in md and "\\*\\*bold\\*\\*" in md
    lines = md.strip().splitlines()
    assert len(lines) == 2 + len(HOSTILE)
    header_pipes = lines[0].count("|")
    assert all(len(re.findall(r"(?<!\\)\|", line)) == header_pipes for line in lines), lines


def test_export_view_names_known_benchmarks_keeps_empty_tables_integer_ids_aggregations_and_filters(db_url, demo_yaml):  # noqa: F811
    import pytest

    from harness.errors import BadInput
    from leaderboard.selection import table_view
    from tests.leaderboard_fixtures import seeded_database

    engine = make_engine(seeded_database(db_url, demo_yaml))
    with pytest.raises(BadInput, match=r"unknown benchmark 'h36n'; known: h36m, 3dhp, .*did you mean 'h36m'"):
        table_view(engine, "h36n")
    with pytest.raises(BadInput, match="h36m stores action-mean, frame-mean, not 'sequence-mean'"):
        table_view(engine, "h36m", "demo", "sequence-mean")
    empty = table_view(engine, "3dpw", "demo")
    assert empty.empty and export(empty, "csv").splitlines()[0].startswith("rank,method,source") and "p_mpjpe (mm) ↓" in export(empty, "csv")
    rows = json.loads(export(table_view(engine, "h36m", "demo"), "json"))
    assert all(isinstance(r["submission_id"], int) for r in rows)  # an integer, never 1.0
    action = table_view(engine, "h36m", "demo").set_index("method")["mpjpe (mm) ↓"]
    frame = table_view(engine, "h36m", "demo", "frame-mean").set_index("method")["mpjpe (mm) ↓"]
    assert (frame - action).abs().min() > 0.01  # the frame-mean values stored beside the headline ones
    real = table_view(engine, "h36m", "real", filters={"supervision": ["unsupervised"], "input_2d": ["gt"]})
    assert set(real["supervision"]) == {"unsupervised"} and set(real["input_2d"]) == {"gt"} and len(real) < len(table_view(engine, "h36m", "real"))

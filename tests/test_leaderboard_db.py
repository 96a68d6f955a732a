"""Leaderboard storage against SQLite and a real PostgreSQL server: migrations, ingest, idempotence, atomicity,
concurrency."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from harness.cli import app
from harness.config import load_config
from harness.evaluate import evaluate_submission
from harness.results import ResultFile
from leaderboard import ingest as ingest_module
from leaderboard.db import Base, Breakdown, LiteratureRow, Method, Result, Submission, make_engine
from leaderboard.ingest import store
from leaderboard.schema import current_revision, downgrade, head_revision, stored_rows, upgrade
from tests.conftest import REPO
from tests.dbs import fresh_postgres, fresh_sqlite

TABLES = {"methods", "submissions", "results", "breakdowns", "literature", "users", "jobs", "job_files", "limits", "worker_beats"}


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    gen = fresh_sqlite(tmp_path) if request.param == "sqlite" else fresh_postgres()
    yield next(gen)
    gen.close()


@pytest.fixture(scope="module")
def result_json(tmp_path_factory, demo_yaml) -> Path:
    out = tmp_path_factory.mktemp("results") / "noise.json"
    res = CliRunner().invoke(app, ["evaluate", str(REPO / "submissions/examples/demo_gt_noise.npz"), "--datasets", str(demo_yaml), "--json", str(out)])
    assert res.exit_code == 0, res.output
    return out


def variant(result_json: Path, tmp_path: Path, k: int, name: str | None = None) -> Path:
    """A copy of the result as if another file had been scored (different hash), optionally another method."""
    data = json.loads(result_json.read_text())
    data["submission"]["sha256"] = f"{k:064x}"
    data["submission"]["file"] = f"variant{k}.npz"
    if name:
        data["method"]["name"] = name
    path = tmp_path / f"variant{k}.json"
    path.write_text(json.dumps(data))
    return path


def test_migrations_run_up_and_down_and_match_the_models(db_url):
    engine = make_engine(db_url, writer=True)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert TABLES <= set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []
    downgrade(engine, "base")
    assert current_revision(engine) is None and not TABLES & set(inspect(engine).get_table_names())
    upgrade(engine)
    assert current_revision(engine) == head_revision()


def test_store_writes_every_result_and_breakdown_once(db_url, result_json, tmp_path):
    engine = make_engine(db_url, writer=True)
    upgrade(engine)
    result = ResultFile.model_validate_json(result_json.read_text())
    first = store(engine, result)
    assert first.created
    again = store(engine, result)
    assert not again.created and again.submission_id == first.submission_id
    other = store(engine, result, method_name="Same file, other method")
    assert other.created and other.submission_id != first.submission_id
    with Session(engine) as s:
        assert s.scalar(select(func.count(Submission.id))) == 2
        rows = s.scalars(select(Result).where(Result.submission_id == first.submission_id)).all()
        assert len(rows) == len(result.results) == 14  # h36m: 7 metrics x 2 aggregations
        mpjpe = next(r for r in rows if r.metric == "mpjpe" and r.aggregation == "action-mean")
        entry = result.entry("h36m", "mpjpe", "action-mean")
        assert mpjpe.value == entry.value and (mpjpe.ci_low, mpjpe.ci_high) == entry.ci95
        assert (mpjpe.frames, mpjpe.root, mpjpe.gt, mpjpe.demo, mpjpe.unit) == (entry.frames, entry.root, entry.gt, True, "mm")
        kinds = {b.kind for b in s.scalars(select(Breakdown).where(Breakdown.submission_id == first.submission_id))}
        assert kinds == {"per_action", "per_joint", "pck_curve", "per_take", "worst_frames"}
        method = s.scalars(select(Method).where(Method.name == result.method.name)).one()
        assert method.supervision == "fully-supervised" and method.input_2d == "gt"
        sub = s.get(Submission, first.submission_id)
        assert sub.sha256 == result.submission.sha256 and sub.environment["numpy"] and sub.status == "verified"


def test_a_failure_inside_the_transaction_stores_nothing(db_url, result_json, monkeypatch):
    engine = make_engine(db_url, writer=True)
    upgrade(engine)
    result = ResultFile.model_validate_json(result_json.read_text())
    real_rows = ingest_module._rows

    def broken_rows(r):
        results, breakdowns = real_rows(r)
        results[5].value = None  # NOT NULL violation at flush, after the method row was written
        return results, breakdowns

    monkeypatch.setattr(ingest_module, "_rows", broken_rows)
    with pytest.raises(Exception):
        store(engine, result)
    with Session(engine) as s:
        assert s.scalar(select(func.count(Method.id))) == 0
        assert s.scalar(select(func.count(Result.id))) == 0


def test_evaluate_store_and_a_failed_evaluation_writes_nothing(db_url, demo_yaml, tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    runner = CliRunner()
    res = runner.invoke(app, ["evaluate", str(bad), "--datasets", str(demo_yaml), "--store", "--db", db_url])
    assert res.exit_code == 2
    engine = make_engine(db_url)
    assert current_revision(engine) is None  # not even the schema was created
    res = runner.invoke(app, ["evaluate", str(REPO / "submissions/examples/demo_mean_pose.npz"), "--datasets", str(demo_yaml), "--store", "--db", db_url, "--no-ci"])
    assert res.exit_code == 0 and "stored as verified: submission" in res.output
    with Session(engine) as s:
        assert s.scalars(select(Method.name)).all() == ["Mean training pose"]


def test_eight_concurrent_ingests_lose_nothing(db_url, result_json, tmp_path):
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade", "--db", db_url]).exit_code == 0
    files = [variant(result_json, tmp_path, k) for k in range(6)] + [variant(result_json, tmp_path, 0), variant(result_json, tmp_path, 1)]
    procs = [subprocess.Popen([sys.executable, "-m", "harness", "db", "ingest", str(f), "--db", db_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for f in files]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    engine = make_engine(db_url)
    with Session(engine) as s:
        assert s.scalar(select(func.count(Method.id))) == 1
        assert s.scalar(select(func.count(Submission.id))) == 6
        assert s.scalar(select(func.count(Result.id))) == 6 * 14
    assert sum("already stored" in out for out, _ in outputs) == 2


def test_a_result_without_method_name_is_refused(tmp_path, result_json):
    data = json.loads(result_json.read_text())
    data["method"]["name"] = None
    path = tmp_path / "anon.json"
    path.write_text(json.dumps(data))
    url = f"sqlite:///{tmp_path / 'lb.db'}"
    res = CliRunner().invoke(app, ["db", "ingest", str(path), "--db", url])
    assert res.exit_code == 2 and "--method" in res.output
    res = CliRunner().invoke(app, ["db", "ingest", str(path), "--db", url, "--method", "Named later"])
    assert res.exit_code == 0 and "Named later" in res.output


def test_concurrent_first_stores_into_an_empty_database_create_the_schema_once(db_url, result_json, tmp_path):
    """Eight ingests race into a database without tables: the schema is created once (an advisory lock on
    PostgreSQL, SQLite's write lock) and every result is stored."""
    files = [variant(result_json, tmp_path, k) for k in range(8)]
    procs = [subprocess.Popen([sys.executable, "-m", "harness", "db", "ingest", str(f), "--db", db_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for f in files]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    assert all(len(err.strip().splitlines()) == 0 for _, err in outputs), outputs
    with Session(make_engine(db_url)) as s:
        assert s.scalar(select(func.count(Submission.id))) == 8


def test_a_downgrade_that_would_drop_stored_rows_asks_for_yes(db_url, result_json):
    runner = CliRunner()
    assert runner.invoke(app, ["db", "ingest", str(result_json), "--db", db_url]).exit_code == 0
    res = runner.invoke(app, ["db", "downgrade", "base", "--db", db_url])
    assert res.exit_code == 2 and "1 submissions" in res.output and "--yes" in res.output and len(res.output.strip().splitlines()) == 1, res.output
    with Session(make_engine(db_url)) as s:
        assert s.scalar(select(func.count(Result.id))) == 14  # nothing was dropped
    res = runner.invoke(app, ["db", "downgrade", "base", "--yes", "--db", db_url])
    assert res.exit_code == 0 and current_revision(make_engine(db_url)) is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [("x" * 201, "at most 200 characters"), ("nul\x00name", "control characters"), ("esc\x1b[31m", "control characters"), ("lone \udc80 surrogate", "not valid Unicode")],
)
def test_a_name_the_database_cannot_hold_is_refused_before_scoring(demo_test, demo_yaml, tmp_path, name, expected):
    """`--store` checks the method name first: one line, exit 2, nothing printed of the scores, nothing stored."""
    sub = tmp_path / "ok.npz"
    np.savez(sub, pose3d=demo_test.gt3d.astype(np.float32), sample_id=demo_test.sample_id, dataset=np.array("h36m"))
    url = f"sqlite:///{tmp_path / 'lb.db'}"
    res = CliRunner().invoke(app, ["evaluate", str(sub), "--datasets", str(demo_yaml), "--store", "--db", url, "--method", name, "--no-ci"])
    assert res.exit_code == 2 and expected in res.output and "mpjpe" not in res.output, res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "lb.db").exists() or not stored_rows(make_engine(url))


def test_an_ingested_result_is_imported_unless_its_submission_is_scored_again(db_url, result_json, demo_yaml, tmp_path):
    """`db ingest` takes a result file on trust only as 'imported (unverified)'; with --submission the harness
    scores the named file again and stores its own numbers as verified; a hand-edited result cannot pass as them."""
    from leaderboard.queries import leaderboard_table

    runner = CliRunner()
    forged = json.loads(result_json.read_text())
    for entry in forged["results"]:
        if entry["metric"] == "mpjpe":
            entry["value"] = 0.5
    forged["method"]["name"] = "Forged"
    forged_path = tmp_path / "forged.json"
    forged_path.write_text(json.dumps(forged))
    res = runner.invoke(app, ["db", "ingest", str(forged_path), "--db", db_url])
    assert res.exit_code == 0 and "stored as imported" in res.output, res.output
    table = leaderboard_table(make_engine(db_url), "h36m", "demo")
    assert table.set_index("method").loc["Forged", "source"] == "imported (unverified)"
    res = runner.invoke(app, ["db", "ingest", str(forged_path), "--submission", str(REPO / "submissions/examples/demo_gt_noise.npz"), "--method", "Rescored", "--db", db_url, "--datasets", str(demo_yaml)])
    assert res.exit_code == 0 and "stored as verified" in res.output, res.output
    row = leaderboard_table(make_engine(db_url), "h36m", "demo").set_index("method").loc["Rescored"]
    assert row["source"] == "verified" and row["mpjpe (mm) ↓"] > 30  # the harness's own value, not the forged 0.5
    res = runner.invoke(app, ["db", "ingest", str(forged_path), "--submission", str(REPO / "submissions/examples/demo_mean_pose.npz"), "--db", db_url, "--datasets", str(demo_yaml)])
    assert res.exit_code == 2 and "sha256 differs" in res.output


@pytest.mark.parametrize(("metric", "value", "expected"), [("mpjpe", -5.0, "outside the metric's range"), ("pck", 101.0, "outside the metric's range"), ("auc", float("nan"), "finite")])
def test_values_outside_their_physical_range_are_refused(db_url, result_json, tmp_path, metric, value, expected):
    data = json.loads(result_json.read_text())
    entry = next(e for e in data["results"] if e["metric"] == metric)
    entry["value"] = value
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data).replace("NaN", "NaN"))
    res = CliRunner().invoke(app, ["db", "ingest", str(path), "--db", db_url])
    assert res.exit_code == 2 and expected in res.output and len(res.output.strip().splitlines()) == 1, res.output


def test_migration_0002_adds_the_protocol_fields_and_downgrades_without_losing_literature_rows(db_url):
    """0001 -> 0002 on a database that already holds a literature row: the row gets an empty protocol, seeding
    fills it; 0002 -> 0001 drops only that column."""
    from leaderboard.literature import read_literature, seed

    engine = make_engine(db_url, writer=True)
    upgrade(engine, "0001")
    assert "protocol" not in {c["name"] for c in inspect(engine).get_columns("literature")}
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO methods (name, is_baseline, created_at) VALUES ('Old', false, CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO literature (method_id, benchmark, metric, value, unit, input_2d, source, status) "
                          "SELECT id, 'h36m', 'mpjpe', 50.0, 'mm', 'gt', 'paper', 'reported' FROM methods WHERE name = 'Old'"))
    upgrade(engine, "0002")
    assert current_revision(engine) == "0002"
    with Session(engine) as s:
        old = s.scalars(select(LiteratureRow)).one()
        assert old.value == 50.0 and old.protocol == {}
    lit = read_literature()
    seed(engine, lit)
    with Session(engine) as s:
        elepose = s.scalars(select(LiteratureRow).join(Method).where(Method.name == "ElePose", LiteratureRow.metric == "n_mpjpe")).one()
        assert elepose.protocol["scale_rule"] == "norm-ratio" and elepose.protocol["joints"] == "h36m17"
        n_rows = s.scalar(select(func.count(LiteratureRow.id)))
    assert n_rows == 1 + sum(len(m.results) for m in lit.methods)
    downgrade(engine, "0001")
    assert current_revision(engine) == "0001" and "protocol" not in {c["name"] for c in inspect(engine).get_columns("literature")}
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM literature")) == n_rows
    upgrade(engine)
    assert seed(engine, lit) == seed(engine, lit)  # idempotent after the round trip


def test_result_warnings_are_stored_with_the_submission(db_url, result_json):
    from harness.results import ResultWarning

    engine = make_engine(db_url, writer=True)
    upgrade(engine)
    result = ResultFile.model_validate_json(result_json.read_text())
    result.warnings = [
        ResultWarning(code="joint-order", benchmark="h36m", message="left and right look exchanged", joints=["l_knee", "r_knee"]),
        ResultWarning(code="joint-order", benchmark="h36m", message="wrists permuted", joints=["l_wrist"]),
    ]
    stored = store(engine, result)
    with Session(engine) as s:
        b = s.scalars(select(Breakdown).where(Breakdown.submission_id == stored.submission_id, Breakdown.kind == "warnings")).one()
        assert b.benchmark == "h36m" and [w["joints"] for w in b.payload["warnings"]] == [["l_knee", "r_knee"], ["l_wrist"]]
    from leaderboard.queries import leaderboard_table

    row = leaderboard_table(engine, "h36m", "demo").iloc[0]
    assert row["warnings"] == "joint-order: left and right look exchanged [l_knee, r_knee]; joint-order: wrists permuted [l_wrist]"


def test_a_new_submission_of_a_method_says_which_is_its_row_and_keeps_the_old_one(db_url, demo_yaml, tmp_path):
    from leaderboard.history import ROW_RULE
    from leaderboard.queries import leaderboard_table, method_detail
    from tests.leaderboard_fixtures import scored_json, seeded_database, stored_again

    url = seeded_database(db_url, demo_yaml)
    json_path = scored_json(tmp_path, demo_yaml, "demo_gt_noise.npz")
    first = stored_again(url, json_path, "Twice", "d" * 64)
    assert first.row_notes == [f"h36m: submission {first.submission_id} (mpjpe 31.6) is the method's first there, so its row"]
    worse = stored_again(url, json_path, "Twice", "e" * 64, scale=2.0)
    assert worse.row_notes == [
        f"h36m: method 'Twice' already had submission {first.submission_id} (mpjpe 31.6); the new submission {worse.submission_id} "
        f"(mpjpe 63.2) is now the method's row (rule: {ROW_RULE})"
    ]
    engine = make_engine(url)
    row = leaderboard_table(engine, "h36m", "demo").set_index("method").loc["Twice"]
    assert row["submission_id"] == worse.submission_id and row["mpjpe (mm) ↓"] > 60
    history = method_detail(engine, "Twice")["history"]
    assert list(history["submission"]) == [first.submission_id, worse.submission_id] and list(history["method's row"]) == ["", "yes"]


def test_migration_0003_keeps_stored_submissions_public_and_downgrades_without_losing_them(db_url, demo_yaml):
    """0002 -> 0003 on a database holding a stored submission: it stays published, visible and ownerless; the
    service tables appear; 0003 -> 0002 drops only what 0003 added."""
    engine = make_engine(db_url, writer=True)
    upgrade(engine, "0002")
    with engine.begin() as conn:  # a row as 0002 stored it, written without the 0003 models
        conn.execute(text("INSERT INTO methods (name, is_baseline, created_at) VALUES ('Old', false, CURRENT_TIMESTAMP)"))
        conn.execute(text(
            "INSERT INTO submissions (method_id, sha256, file_name, dataset, units, joint_set, n_samples, harness_version, environment, status, demo, evaluated_at, created_at) "
            "SELECT id, 'abc', 'old.npz', 'h36m', 'mm', 'h36m17', 5428, '0', '{}', 'verified', true, 'then', CURRENT_TIMESTAMP FROM methods WHERE name = 'Old'"
        ))
    upgrade(engine)
    assert current_revision(engine) == head_revision() == "0003"
    with Session(engine) as s:
        old = s.scalars(select(Submission)).one()
        assert old.published is True and old.hidden is False and old.owner_id is None
    assert {"users", "jobs", "job_files", "limits", "worker_beats"} <= set(inspect(engine).get_table_names())
    store(engine, evaluate_submission(REPO / "submissions/examples/demo_gt_noise.npz", load_config(demo_yaml), with_ci=False), "New", "verified")
    downgrade(engine, "0002")
    assert current_revision(engine) == "0002" and "jobs" not in set(inspect(engine).get_table_names())
    assert "published" not in {c["name"] for c in inspect(engine).get_columns("submissions")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM submissions")).scalar() == 2

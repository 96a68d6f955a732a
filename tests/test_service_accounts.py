"""Accounts (hashed tokens, roles, disabling, e-mail mapping), the maintainers' commands, the permission checks of
the moderation functions, and the one visibility rule of every public view and export."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from harness.cli import app
from harness.errors import BadInput
from leaderboard.accounts import account_by_id, account_for_email, add_user, disable, list_users, reissue_token, verify_token
from leaderboard.db import Job, JobFile, Result, Submission, User
from leaderboard.export import FORMATS, export
from leaderboard.job_queries import all_jobs, health, job_log, job_results, my_jobs
from leaderboard.moderation import check_method_name, delete_job, publish, set_baseline, set_hidden, unpublish, unpublish_submission
from leaderboard.queries import benchmarks_with_rows, fingerprint, leaderboard_table, method_detail, method_names
from leaderboard.selection import table_view
from tests.dbs import fresh_postgres, fresh_sqlite
from tests.service_fixtures import Service, scored_job, service

METHOD = "Alice net"


@pytest.fixture(params=["sqlite", "postgresql"])
def svc(request, tmp_path) -> Iterator[Service]:
    """The service database on SQLite and on PostgreSQL (tests/dbs.py: skips without a server unless required)."""
    urls = fresh_sqlite(tmp_path) if request.param == "sqlite" else fresh_postgres()
    url = next(urls)
    found = service(url)
    yield found
    found.engine.dispose()
    urls.close()


@pytest.fixture
def scored(svc, demo_config) -> int:
    """Alice's scored, still private, job."""
    return scored_job(svc, svc.alice, demo_config, METHOD)


def _visible_everywhere(engine, method: str) -> dict[str, bool]:
    """Where `method` shows: the demo table, each export format, the method list and the method's history."""
    where = {"table": method in set(leaderboard_table(engine, "h36m", "demo")["method"]), "methods": method in method_names(engine)}
    for fmt in FORMATS:
        where[fmt] = method in export(table_view(engine, "h36m", "demo"), fmt)
    if method in method_names(engine):
        where["history"] = not method_detail(engine, method)["history"].empty
    return where


def test_token_is_stored_hashed_and_verified(svc):
    with Session(svc.engine) as session:
        stored = session.scalar(select(User.token_hash).where(User.name == "alice"))
    token = svc.tokens["alice"]
    assert stored.startswith("$argon2id$") and token not in stored
    assert verify_token(svc.engine, token).name == "alice"
    assert verify_token(svc.engine, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert verify_token(svc.engine, svc.tokens["bob"].replace(f"pb{svc.bob.id}.", f"pb{svc.alice.id}.")) is None  # bob's secret on alice's id
    assert verify_token(svc.engine, "not a token") is None and verify_token(svc.engine, "pb999.xxxxxxxxxxxxxxxxxxxxxxxx") is None


def test_disabled_and_reissued_tokens_stop_working(svc):
    disable(svc.engine, "bob")
    assert verify_token(svc.engine, svc.tokens["bob"]) is None and account_by_id(svc.engine, svc.bob.id) is None
    new = reissue_token(svc.engine, "alice")
    assert verify_token(svc.engine, svc.tokens["alice"]) is None and verify_token(svc.engine, new).id == svc.alice.id
    assert "token_hash" not in list_users(svc.engine)[0]


def test_account_rules_are_one_line_errors(svc):
    for name, role, email, expected in (
        ("ALICE", "submitter", None, "already taken"), ("eve", "admin", None, "expected one of submitter, maintainer"),
        ("eve", "submitter", "MAUD@example.org", "already taken"), ("bad name", "submitter", None, "letters, digits"),
        ("eve", "submitter", "no-at-sign", "not an e-mail address"),
    ):
        with pytest.raises(BadInput, match=expected):
            add_user(svc.engine, name, role, email)


def test_oidc_email_maps_only_to_an_issued_active_account(svc):
    assert account_for_email(svc.engine, "Maud@Example.org").name == "maud"
    assert account_for_email(svc.engine, "stranger@example.org") is None and account_for_email(svc.engine, None) is None
    disable(svc.engine, "maud")
    assert account_for_email(svc.engine, "maud@example.org") is None


def test_cli_user_and_limits(svc):
    runner = CliRunner()
    res = runner.invoke(app, ["user", "add", "carol", "--role", "submitter", "--db", svc.url])
    assert res.exit_code == 0 and verify_token(svc.engine, res.output.strip().splitlines()[-1]).name == "carol"
    res = runner.invoke(app, ["user", "add", "carol", "--db", svc.url])
    assert res.exit_code == 2 and res.output.strip() == "error: user carol: the name 'carol' is already taken"
    res = runner.invoke(app, ["user", "add", "dan", "--role", "root", "--db", svc.url])
    assert res.exit_code == 2 and len(res.output.strip().splitlines()) == 1
    listed = runner.invoke(app, ["user", "list", "--db", svc.url]).output
    assert ["4", "carol", "submitter", "-", "active"] in [line.split() for line in listed.splitlines()] and "maud@example.org" in listed and "$argon2" not in listed
    token = runner.invoke(app, ["user", "token", "carol", "--db", svc.url]).output.strip().splitlines()[-1]
    assert verify_token(svc.engine, token).name == "carol"
    assert runner.invoke(app, ["user", "disable", "carol", "--db", svc.url]).exit_code == 0 and verify_token(svc.engine, token) is None
    assert runner.invoke(app, ["limits", "set", "*", "--per-day", "3", "--concurrent", "1", "--db", svc.url]).exit_code == 0
    assert runner.invoke(app, ["limits", "set", "h36m", "--per-day", "5", "--concurrent", "2", "--db", svc.url]).exit_code == 0
    res = runner.invoke(app, ["limits", "set", "h63m", "--per-day", "5", "--concurrent", "2", "--db", svc.url])
    assert res.exit_code == 2 and "unknown benchmark 'h63m'" in res.output
    listed = runner.invoke(app, ["limits", "list", "--db", svc.url]).output
    assert [line.split() for line in listed.splitlines()] == [["*", "per", "day", "3", "concurrent", "1"], ["h36m", "per", "day", "5", "concurrent", "2"]]


def test_a_submitter_cannot_act_on_another_users_submission(svc, scored):
    sub_id = my_jobs(svc.engine, svc.alice).iloc[0]["submission"]
    for action in (lambda: publish(svc.engine, svc.bob, scored), lambda: unpublish(svc.engine, svc.bob, scored), lambda: job_log(svc.engine, svc.bob, scored), lambda: job_results(svc.engine, svc.bob, scored)):
        with pytest.raises(BadInput, match=f"job {scored}: not one of your submissions"):
            action()
    for action in (lambda: set_hidden(svc.engine, svc.alice, sub_id, True), lambda: unpublish_submission(svc.engine, svc.alice, sub_id),
                   lambda: delete_job(svc.engine, svc.alice, scored), lambda: set_baseline(svc.engine, svc.alice, METHOD, True),
                   lambda: all_jobs(svc.engine, svc.bob), lambda: health(svc.engine, svc.alice)):
        with pytest.raises(BadInput, match="only maintainers may do this"):
            action()
    with pytest.raises(BadInput, match="only its owner may publish it"):
        publish(svc.engine, svc.maud, scored)
    assert my_jobs(svc.engine, svc.bob).empty and my_jobs(svc.engine, svc.alice).iloc[0]["visibility"] == "private"
    assert job_log(svc.engine, svc.maud, scored) == job_log(svc.engine, svc.alice, scored)  # the maintainer reads it too
    assert set(job_results(svc.engine, svc.alice, scored)["benchmark"]) == {"h36m"}


def test_private_until_published_hidden_vanishes_everywhere(svc, scored):
    before = fingerprint(svc.engine)
    assert not any(_visible_everywhere(svc.engine, METHOD).values()) and benchmarks_with_rows(svc.engine) == []
    publish(svc.engine, svc.alice, scored)
    assert all(_visible_everywhere(svc.engine, METHOD).values()) and fingerprint(svc.engine) != before
    sub_id = int(my_jobs(svc.engine, svc.alice).iloc[0]["submission"])
    set_hidden(svc.engine, svc.maud, sub_id, True)
    assert not any(_visible_everywhere(svc.engine, METHOD).values())
    assert my_jobs(svc.engine, svc.alice).iloc[0]["visibility"] == "hidden by a maintainer"
    set_hidden(svc.engine, svc.maud, sub_id, False)
    unpublish(svc.engine, svc.alice, scored)
    assert not any(_visible_everywhere(svc.engine, METHOD).values())


def test_failed_jobs_cannot_be_published_and_store_nothing(svc, demo_config, tmp_path):
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(BadInput):  # a malformed upload is refused before it is queued
        scored_job(svc, svc.alice, demo_config, "Broken", bad, run=False)
    job = scored_job(svc, svc.alice, demo_config, "Queued only", run=False)
    with pytest.raises(BadInput, match=f"job {job} is queued: only a scored submission"):
        publish(svc.engine, svc.alice, job)
    with Session(svc.engine) as session:
        assert session.scalar(select(func.count(Submission.id))) == 0


def test_maintainer_delete_removes_job_file_and_results_and_baseline_marks(svc, scored):
    publish(svc.engine, svc.alice, scored)
    set_baseline(svc.engine, svc.maud, METHOD, True)
    assert bool(leaderboard_table(svc.engine, "h36m", "demo").set_index("method").loc[METHOD, "baseline"])
    delete_job(svc.engine, svc.maud, scored)
    with Session(svc.engine) as session:
        assert [session.scalar(select(func.count()).select_from(t)) for t in (Job, JobFile, Submission, Result)] == [0, 0, 0, 0]
    with pytest.raises(BadInput, match=f"job {scored}: no such job"):
        delete_job(svc.engine, svc.maud, scored)


def test_method_names_belong_to_their_submitters(svc, scored):
    check_method_name(svc.engine, svc.alice, METHOD)  # her own
    check_method_name(svc.engine, svc.bob, "Bob net")  # new
    check_method_name(svc.engine, svc.maud, METHOD)  # maintainers may
    with pytest.raises(BadInput, match=f"method name '{METHOD}' is taken"):
        check_method_name(svc.engine, svc.bob, METHOD)


def test_health_counts_the_queue(svc, scored, demo_config):
    scored_job(svc, svc.bob, demo_config, "Bob net", run=False)
    state = health(svc.engine, svc.maud)
    assert (state["queued"], state["running"], state["failed_last_day"]) == (1, 0, 0)
    assert list(state["workers"]["worker"]) == ["test-worker"] and state["workers"]["seconds ago"].iloc[0] < 600

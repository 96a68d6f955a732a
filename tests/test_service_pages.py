"""The service's pages run headless with AppTest: sign-in (token; the identity provider's button only with [auth]),
navigation by role, Submit's one-line refusals, My submissions (status, error, results, publish), Moderation."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from streamlit.testing.v1 import AppTest

from leaderboard.db import Job
from leaderboard.signin import SESSION_KEY
from tests.conftest import REPO
from tests.service_fixtures import scored_job, service

APP = str(REPO / "leaderboard" / "app.py")
AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "s" * 32, "client_id": "id", "client_secret": "secret",
        "server_metadata_url": "https://idp.example.org/.well-known/openid-configuration"}


@pytest.fixture
def svc(tmp_path, monkeypatch):
    found = service(f"sqlite:///{tmp_path / 'pages.db'}")
    monkeypatch.setenv("POSEBENCH_DB_URL", found.url)
    return found


def _app(account=None, page: str | None = None) -> AppTest:
    """The app (its navigation decides which pages exist for whom), signed in as `account`, opened on `page`."""
    at = AppTest.from_file(APP, default_timeout=60)
    if account is not None:
        at.session_state[SESSION_KEY] = account.id
    if page:
        at.switch_page(f"views_pages/{page}")
    return at


def _frame(at: AppTest, column: str):
    """The first table shown that has `column`."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _moderation_page_alone() -> None:
    from leaderboard.page_moderation import moderation_page

    moderation_page()


def _texts(at: AppTest) -> str:
    return " | ".join([*(e.value for e in at.error), *(t.value for t in at.text), *(s.value for s in at.success), *(i.value for i in at.info)])


def test_without_auth_secrets_only_token_sign_in_is_offered(svc):
    at = _app(page="account.py").run()
    assert not at.exception and [b.label for b in at.button] == ["Sign in"]  # the form's button only
    assert at.text_input(key="token").proto.type == at.text_input(key="token").proto.PASSWORD


@pytest.mark.parametrize("auth,label", [(AUTH, "Sign in with the identity provider"), ({**{k: AUTH[k] for k in ("redirect_uri", "cookie_secret")}, "google": {k: AUTH[k] for k in ("client_id", "client_secret", "server_metadata_url")}}, "Sign in with google")])
def test_auth_secrets_add_the_identity_providers_button(svc, auth, label):
    at = _app(page="account.py")
    at.secrets["auth"] = auth
    at.run()
    assert not at.exception and label in [b.label for b in at.button]


def test_token_sign_in_opens_the_submitters_pages_only(svc):
    at = _app(page="account.py").run()
    at.text_input(key="token").set_value("pb1.wrongwrongwrongwrongwrong")
    at.button[0].click().run()
    assert any("Sign-in refused" in e.value for e in at.error) and SESSION_KEY not in at.session_state
    at.text_input(key="token").set_value(svc.tokens["bob"])
    at.button[0].click().run()
    assert at.session_state[SESSION_KEY] == svc.bob.id
    at = _app(svc.bob, "account.py").run()
    assert "Signed in as bob (submitter)" in _texts(at)
    assert [t.value for t in _app(svc.bob, "submit.py").run().title] == ["Submit"]


def test_a_submitter_cannot_reach_moderation(svc):
    for account, page in ((svc.bob, "moderation.py"), (None, "submit.py"), (None, "mine.py")):
        at = _app(account, page).run()  # not in the navigation: the leaderboard opens instead
        assert [t.value for t in at.title] == ["PoseBench leaderboard"], (account, page)
    assert [t.value for t in _app(svc.maud, "moderation.py").run().title] == ["Moderation"]
    at = AppTest.from_function(_moderation_page_alone, default_timeout=60)
    at.session_state[SESSION_KEY] = svc.bob.id
    at.run()  # the page itself refuses too
    assert [e.value for e in at.error] == ["Only maintainers may open this page."] and not at.tabs and not at.button


def test_submit_refusals_are_one_line(svc, demo_config):
    scored_job(svc, svc.alice, demo_config, "Alice net")
    at = _app(svc.bob, "submit.py").run()
    at.text_input(key="name").set_value("Bob net")
    at.button[0].click().run()
    assert [e.value for e in at.error] == ["PoseBench ranks one prediction per frame from a model not chosen on the test set: confirm both declarations"]
    at.checkbox(key="decl_selection").check()
    at.checkbox(key="decl_best_of").check()
    at.button[0].click().run()
    assert [e.value for e in at.error] == ["choose a .npz prediction file to upload"]
    at.text_input(key="name").set_value("Alice net")
    at.button[0].click().run()
    assert len(at.error) == 1 and "is taken by another submitter" in at.error[0].value


def test_my_submissions_status_error_results_and_publish(svc, demo_config):
    job = scored_job(svc, svc.alice, demo_config, "Alice net")
    at = _app(svc.alice, "mine.py").run()
    assert not at.exception
    jobs = _frame(at, "visibility")
    assert list(jobs["status"]) == ["scored"] and list(jobs["visibility"]) == ["private"]
    results = _frame(at, "metric")
    assert {"mpjpe", "p_mpjpe"} <= set(results["metric"]) and set(results["benchmark"]) == {"h36m"}
    at.button(key="publish").click().run()
    assert any("Published" in s.value for s in at.success)
    assert list(_frame(at, "visibility")["visibility"]) == ["published"]
    bob = _app(svc.bob, "mine.py").run()
    assert any("No submissions yet" in i.value for i in bob.info) and "Alice net" not in _texts(bob)
    with svc.engine.begin() as conn:
        conn.execute(update(Job).where(Job.id == job).values(status="failed", error="demo_gt_noise.npz: pose3d: expected shape (N, 17, 3)"))
    at = _app(svc.alice, "mine.py").run()
    assert [e.value for e in at.error] == ["demo\\_gt\\_noise.npz: pose3d: expected shape \\(N, 17, 3\\)"]  # shown as plain text


def test_queued_job_shows_queued_then_scored(svc, demo_config):
    from leaderboard import jobs

    job = scored_job(svc, svc.alice, demo_config, "Alice net", run=False)
    at = _app(svc.alice, "mine.py").run()
    assert list(_frame(at, "visibility")["status"]) == ["queued"]
    jobs.run_job(svc.engine, job, "test-worker", demo_config)
    at.run()
    assert list(_frame(at, "visibility")["status"]) == ["scored"]


def test_moderation_health_hide_and_baseline(svc, demo_config):
    from leaderboard.queries import leaderboard_table
    from leaderboard.moderation import publish

    job = scored_job(svc, svc.alice, demo_config, "Alice net")
    publish(svc.engine, svc.alice, job)
    scored_job(svc, svc.bob, demo_config, "Bob net", run=False)
    at = _app(svc.maud, "moderation.py").run()
    assert not at.exception
    assert [(m.label, m.value) for m in at.metric] == [("Queued", "1"), ("Running", "0"), ("Failed in the last day", "0"), ("Workers seen", "1")]
    assert list(_frame(at, "user")["user"]) == ["bob", "alice"]
    at.number_input(key="mod_submission").set_value(1)
    at.button(key="hide").click().run()
    assert any("is hidden" in s.value for s in at.success) and "Alice net" not in set(leaderboard_table(svc.engine, "h36m", "demo")["method"])
    at.selectbox(key="mod_method").set_value("Alice net").run()
    at.checkbox(key="mod_baseline_Alice net").check()
    at.button(key="save_baseline").click().run()
    assert bool(_frame(at, "baseline").set_index("method").loc["Alice net", "baseline"])

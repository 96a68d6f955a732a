"""The submission service in a real browser: `harness leaderboard` on a free port, Debian's Chromium driven by
Playwright, the upload scored by the worker `harness leaderboard` starts. Sign in, upload the demo submission, watch it reach
scored without reloading, a second user sees nothing of it and has no moderation page, publish, see it on the
leaderboard, a malformed upload's one-line error, and the status again after a reload. Skips without Chromium
unless $POSEBENCH_REQUIRE_BROWSER=1."""

from __future__ import annotations


import pytest

from leaderboard.job_queries import my_jobs
from tests.service_fixtures import DEMO_FILE, service
from tests.browser_parts import ARTIFACTS, CELLS, CHROMIUM, leaderboard_served, require_chromium

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
WAIT_MS = 60000


@pytest.fixture
def served(tmp_path, demo_yaml):
    require_chromium()
    svc = service(f"sqlite:///{tmp_path / 'service.db'}")
    with leaderboard_served("--db", svc.url, "--datasets", str(demo_yaml)) as url:
        yield svc, url


def _nav(page, title: str) -> None:
    page.locator('[data-testid="stTopNavLink"]').filter(has_text=title).first.click()


def _sign_in(page, url: str, token: str) -> None:
    page.goto(url + "/account")
    page.get_by_label("Token", exact=True).fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.locator('[data-testid="stTopNavLink"]').filter(has_text="My submissions").wait_for(timeout=WAIT_MS)


def _upload(page, path, name: str) -> None:
    """Fill the Submit form for a prediction file and send it."""
    page.locator('input[type="file"]').set_input_files(str(path))
    page.get_by_text(path.name).first.wait_for(timeout=WAIT_MS)
    page.get_by_label("Method name", exact=True).fill(name)
    page.get_by_label("Training data", exact=True).fill("H36M S1, S5-S8 (2D poses only)")
    page.get_by_label("2D input (gt, cpn, sh, images, ...)", exact=True).fill("gt")
    page.get_by_label("Code link", exact=True).fill("https://example.org/alice-net")
    page.get_by_text("The model and its checkpoint were not chosen by their test-set score").click()
    page.get_by_text("One prediction per frame (not the best of several seeds or hypotheses)").click()
    page.get_by_role("button", name="Submit", exact=True).click()


def _cells(page) -> list[str]:
    return page.locator(CELLS).all_inner_texts()


def test_sign_in_upload_scored_publish_and_privacy(served, tmp_path):
    from playwright.sync_api import sync_playwright

    svc, url = served
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        alice = browser.new_page(viewport={"width": 1400, "height": 900})
        _sign_in(alice, url, svc.tokens["alice"])
        _nav(alice, "Submit")
        alice.get_by_role("heading", name="Submit").wait_for(timeout=WAIT_MS)
        _upload(alice, DEMO_FILE, "Alice net")
        alice.get_by_text("Queued as job").wait_for(timeout=WAIT_MS)
        alice.screenshot(path=str(ARTIFACTS / "page-submit.png"), full_page=True)
        assert list(my_jobs(svc.engine, svc.alice)["method"]) == ["Alice net"]

        _nav(alice, "My submissions")
        statuses = "['queued', 'running', 'scored']"
        alice.wait_for_function(f"() => [...document.querySelectorAll('{CELLS}')].some(c => {statuses}.includes(c.innerText))", timeout=WAIT_MS)
        alice.wait_for_function(f"() => [...document.querySelectorAll('{CELLS}')].some(c => c.innerText === 'scored')", timeout=WAIT_MS)  # no reload: the page refreshes itself
        alice.get_by_role("button", name="Publish").wait_for(timeout=WAIT_MS)
        alice.screenshot(path=str(ARTIFACTS / "page-my-submissions.png"), full_page=True)

        bob = browser.new_page(viewport={"width": 1400, "height": 900})  # another browser session, another user
        _sign_in(bob, url, svc.tokens["bob"])
        assert bob.locator('[data-testid="stTopNavLink"]').filter(has_text="Moderation").count() == 0
        _nav(bob, "My submissions")
        bob.get_by_text("No submissions yet").wait_for(timeout=WAIT_MS)
        assert bob.get_by_text("Alice net").count() == 0 and bob.get_by_text("Log").count() == 0  # no job of hers, no log to open
        bob.goto(url + "/moderation")  # not a page for a submitter: the leaderboard opens, without Alice's private row
        bob.get_by_role("heading", name="PoseBench leaderboard").wait_for(timeout=WAIT_MS)
        bob.wait_for_timeout(1500)
        assert bob.get_by_role("heading", name="Moderation").count() == 0 and bob.get_by_text("Alice net").count() == 0

        alice.get_by_role("button", name="Publish").click()
        alice.get_by_text("Published: the submission now shows on the leaderboard.").wait_for(timeout=WAIT_MS)
        _nav(alice, "Leaderboard")
        alice.wait_for_function(f"() => [...document.querySelectorAll('{CELLS}')].some(c => c.innerText === 'Alice net')", timeout=WAIT_MS)
        assert any(c.startswith("31.6") for c in _cells(alice))  # the demo file's stored MPJPE

        bad = tmp_path / "broken.npz"
        bad.write_bytes(b"this is not a zip archive")
        _nav(alice, "Submit")
        alice.get_by_role("heading", name="Submit").wait_for(timeout=WAIT_MS)
        _upload(alice, bad, "Broken net")
        error = alice.locator('[data-testid="stAlert"]').filter(has_text="broken.npz")
        error.wait_for(timeout=WAIT_MS)
        message = error.locator('[data-testid="stMarkdownContainer"]').inner_text().strip()
        assert "\n" not in message and "broken.npz: not an .npz archive" in message and "posebench-upload-" not in message
        alice.screenshot(path=str(ARTIFACTS / "page-submit-error.png"), full_page=True)

        alice.reload()  # a new session of the page: sign in again, the status is read from the database
        _sign_in(alice, url, svc.tokens["alice"])
        _nav(alice, "My submissions")
        alice.wait_for_function(f"() => [...document.querySelectorAll('{CELLS}')].some(c => c.innerText === 'published')", timeout=WAIT_MS)
        browser.close()

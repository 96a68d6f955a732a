"""The real page in a real browser: `harness leaderboard` on a free loopback port, driven by Playwright with
Debian's Chromium (never `playwright install`). Skips without Chromium unless $POSEBENCH_REQUIRE_BROWSER=1 (CI)."""

from __future__ import annotations

import json
import time

import pytest

from tests.browser_parts import ARTIFACTS, CELLS, CHROMIUM, ROWS, leaderboard_served, require_chromium
from tests.leaderboard_fixtures import seeded_database

@pytest.fixture
def server(tmp_path, demo_yaml):
    require_chromium()
    url = seeded_database(f"sqlite:///{tmp_path / 'leaderboard.db'}", demo_yaml, warning_on="demo_mean_pose.npz")
    with leaderboard_served("--db", url) as served:
        yield served


def _first_table_s(context, url: str) -> float:
    """Seconds from opening `url` in a new tab until the first table cell exists."""
    page = context.new_page()
    start = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(CELLS, state="attached", timeout=60000)
    took = time.perf_counter() - start
    page.close()
    return took


def _camera(page) -> dict:
    return page.evaluate("() => document.querySelector('.js-plotly-plot')._fullLayout.scene.camera.eye")


def test_every_page_in_a_real_browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
        )
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        timings = {"cold_s": _first_table_s(context, server)}  # the server's first run: imports and the first query
        timings["warm_same_browser_s"] = [_first_table_s(context, server) for _ in range(3)]
        fresh = browser.new_context(viewport={"width": 1400, "height": 900})
        timings["warm_fresh_browser_s"] = _first_table_s(fresh, server)  # nothing in the browser's cache
        fresh.close()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "leaderboard-timings.json").write_text(json.dumps(timings, indent=1))
        page = context.new_page()
        page.goto(server)  # opens on the demo data: only demo results are stored
        page.wait_for_selector(CELLS, state="attached", timeout=60000)
        box = page.locator('[data-testid="stDataFrame"]').first.bounding_box()
        assert box["y"] + 120 < 900, box  # the table's header and first rows are in the 1400x900 window
        page.screenshot(path=str(ARTIFACTS / "page-leaderboard.png"))
        for name, path, ready in (
            ("method", "/method?method=Mean+training+pose", ".js-plotly-plot"),
            ("compare", "/compare?compare=Ground+truth+%2B+15+mm+noise&compare=ElePose", CELLS),
            ("progress", "/progress", '[data-testid="stVegaLiteChart"]'),
        ):
            page.goto(server + path)
            page.wait_for_selector(ready, state="attached", timeout=60000)
            page.wait_for_timeout(1500)
            assert page.locator('[data-testid="stException"]').count() == 0, name
            page.screenshot(path=str(ARTIFACTS / f"page-{name}.png"), full_page=True)
        page.goto(server + "/method?method=Mean+training+pose")
        plot = page.locator(".js-plotly-plot").first
        plot.scroll_into_view_if_needed()
        page.wait_for_timeout(1500)
        plot.screenshot(path=str(ARTIFACTS / "page-method-skeletons.png"))
        before = _camera(page)
        area = plot.bounding_box()
        x, y = area["x"] + area["width"] * 0.5, area["y"] + area["height"] * 0.5
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + 60, y, steps=6)
        page.mouse.up()
        page.wait_for_timeout(500)
        after = _camera(page)
        assert after != before  # the drag turned the view
        names = page.evaluate("() => [...new Set(document.querySelector('.js-plotly-plot')._fullData.map(t => t.scene + ':' + t.name))]")
        assert sorted(names) == ["scene:ground truth", "scene:prediction"]  # both skeletons in the one scene the drag turned
        assert page.evaluate("() => Object.keys(document.querySelector('.js-plotly-plot')._fullLayout).filter(k => k.startsWith('scene'))") == ["scene"]
        plot.screenshot(path=str(ARTIFACTS / "page-method-skeletons-after-drag.png"))
        browser.close()


def test_page_shows_stored_values_and_a_filter_changes_the_rows(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(server + "/?data=demo")
        page.wait_for_selector(CELLS, state="attached", timeout=60000)
        cells = page.locator(CELLS).all_inner_texts()
        assert "Ground truth + 15 mm noise" in cells and "Mean training pose" in cells
        assert any(c.startswith("31.61") for c in cells)  # the stored MPJPE of the noisy ground truth
        assert cells.index("Ground truth + 15 mm noise") < cells.index("Mean training pose")  # lower MPJPE first
        alert = page.locator('[data-testid="stAlert"]').filter(has_text="joint-order")
        assert alert.count() == 1 and "Mean training pose" in alert.inner_text() and "l_wrist, r_wrist" in alert.inner_text()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "leaderboard-demo.png"), full_page=True)
        page.get_by_text("real", exact=True).click()
        page.wait_for_function(f"() => [...document.querySelectorAll('{CELLS}')].some(c => c.innerText === 'RepNet')", timeout=30000)
        real = page.locator(CELLS).all_inner_texts()
        assert "RepNet" in real and "Ground truth + 15 mm noise" not in real and "reported" in real
        assert page.get_by_text("Protocol differs or not fully known (not ranked, never the best value)").count() == 1
        assert any("p_mpjpe: differs: frames, aggregation, procrustes" in c for c in real)  # ElePose's P-MPJPE, apart
        assert page.locator(ROWS).count() > 3
        page.screenshot(path=str(ARTIFACTS / "leaderboard-real.png"), full_page=True)
        browser.close()

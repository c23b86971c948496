"""End to end: the page of `simulator serve` in headless Chromium (Debian's, driven by
playwright; no browser download). Skips outside CI when chromium or playwright is missing;
with SIMULATOR_REQUIRE_BROWSER=1 (set by .ci/run) it fails instead."""
from __future__ import annotations

import os
import shutil
import threading

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _chromium() -> str | None:
    return CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")


def _missing() -> str | None:
    try:
        import flask  # noqa: F401
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"the browser test needs flask and playwright ({exc})"
    if _chromium() is None:
        return f"no {CHROMIUM}: apt-get install chromium (.ci/run does)"
    return None


@pytest.fixture(scope="module")
def server():
    reason = _missing()
    if reason:
        if os.environ.get("SIMULATOR_REQUIRE_BROWSER") == "1":
            pytest.fail(f"SIMULATOR_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from werkzeug.serving import make_server

    from simulator.web import Limits, create_app

    app = create_app("sqlite://", limits=Limits(max_replications=20))
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}/"
    srv.shutdown()
    app.extensions["simulator"].executor.shutdown()


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        # playwright gives the browser a new empty profile of its own
        browser = pw.chromium.launch(executable_path=_chromium(), args=FLAGS)
        pg = browser.new_page()
        pg.set_default_timeout(20_000)
        yield pg
        browser.close()


def _run_quickstart(page, s: str | None = None) -> None:
    page.select_option("#example", "quickstart")
    page.wait_for_selector("input[data-key='warehouses.dc.inventory.widget.policy.s']")
    page.fill("#replications", "3")
    if s is not None:
        page.fill("input[data-key='warehouses.dc.inventory.widget.policy.s']", s)
    page.click("#run")
    page.wait_for_function("document.querySelector('#status').textContent === 'done'")


def test_the_page_runs_the_quickstart_and_shows_kpis_and_plots(server, page):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server)
    page.wait_for_selector("#example option[value='quickstart']", state="attached")
    _run_quickstart(page)
    rows = page.locator("#kpi tbody tr")
    rows.first.wait_for()
    assert rows.count() == 3  # the quickstart's three stock points
    assert page.locator("#kpi tbody tr td").first.inner_text() == "dc/widget"
    fill_rate = page.locator("#kpi thead th").all_inner_texts().index("fill_rate")
    cell = rows.first.locator("td").nth(fill_rate).inner_text()
    assert 0 < float(cell.split(" ± ")[0]) <= 1
    for plot in ("fill_rate", "cost"):
        page.wait_for_function(
            f"document.getElementById('plot-{plot}').complete && "
            f"document.getElementById('plot-{plot}').naturalWidth > 0")
    assert errors == []


def test_the_page_compares_two_runs(server, page):
    # its own two runs: pytest-xdist may run the test above in another process (server)
    page.goto(server)
    page.wait_for_selector("#example option[value='quickstart']", state="attached")
    _run_quickstart(page)
    _run_quickstart(page, s="20")
    page.wait_for_function("document.querySelectorAll('#run-a option').length >= 2")
    runs = page.evaluate("fetch('/api/runs').then(r => r.json())")
    low = [r["id"] for r in runs if r["overrides"]]
    plain = [r["id"] for r in runs if not r["overrides"]]
    page.select_option("#run-a", plain[0])  # s = 70, as in the file
    page.select_option("#run-b", low[0])    # s = 20
    page.click("#compare")
    page.locator("#comparison tbody tr").first.wait_for()
    texts = page.locator("#comparison tbody tr").all_inner_texts()
    widget = [t for t in texts if "widget" in t and "fill_rate" in t]
    assert widget, texts
    diff = float(widget[0].split("\t")[6])
    assert diff < 0  # a lower reorder point fills fewer orders from stock

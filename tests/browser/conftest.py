"""Browser tests: Playwright driving Debian's Chromium against a live TowerFlow server.

Chromium comes from Debian (``apt-get install chromium``); Playwright's own browser download
is never used. Without /usr/bin/chromium these tests are skipped, and pytest says why.
Set TOWERFLOW_SCREENSHOTS=1 to (re)write the screenshots under docs/screenshots/.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from waitress.server import create_server

from engine import identity
from web.app import create_app

CHROMIUM = os.environ.get("TOWERFLOW_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync"]
PASSWORD = "password123"
WAIT_MS = 60_000  # only a bound on each wait for the page (seconds here): a busy machine must pass


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"browser tests skipped: Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def live_server(platform):
    """The real app (CSRF on) served by waitress on a free local port."""
    app = create_app({"TESTING": True}, platform=platform)
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    thread.join(timeout=5)


@pytest.fixture
def users(platform):
    """``users("li", ["city_director"], tenant=None)`` creates a user who can sign in."""

    def make(username: str, groups: list[str], tenant: str | None = None, display_name: str = "") -> str:
        with platform.transaction() as session:
            identity.add_user(session, username, PASSWORD, groups, tenant, display_name=display_name)
        return username

    return make


@pytest.fixture
def new_page(browser, live_server):
    """``new_page(lang="zh")`` opens a fresh browser context (own cookies) on the live server."""
    contexts = []

    def make(lang: str = "zh"):
        context = browser.new_context(base_url=live_server, locale="zh-CN" if lang == "zh" else "en-US",
                                      viewport={"width": 1400, "height": 900})
        context.set_default_timeout(WAIT_MS)
        contexts.append(context)
        page = context.new_page()
        if lang != "zh":
            page.goto(f"/lang/{lang}?next=/login")
        return page

    yield make
    for context in contexts:
        context.close()

"""Helpers the browser tests share: signing in, keeping screenshots, the demo world served live."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "password123"


def sign_in(page, username: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    # attached, not visible: on a phone the user's name sits in the folded menu
    page.wait_for_selector("[data-testid=current-user]", state="attached")


def screenshot(page, name: str) -> None:
    """Keep a screenshot of a main page for the README (only when asked to)."""
    if os.environ.get("TOWERFLOW_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@contextmanager
def live_demo_world(tmp_path_factory, pg_url: str | None, name: str,
                    prepare: Callable | None = None) -> Iterator[dict]:
    """The demo world on its own database (a new SQLite file, or the PostgreSQL test database
    emptied) and a live server: ``{"url", "platform"}``. ``prepare(platform)`` runs after seeding."""
    import pytest
    from helpers import seed_demo_world
    from sqlalchemy import text
    from waitress.server import create_server

    import handlers
    from engine import identity
    from engine.clock import ManualClock
    from engine.db import Base, make_engine
    from web.app import build_platform, create_app

    if pg_url:
        url = pg_url
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE " + ", ".join(t.name for t in Base.metadata.sorted_tables)
                              + " RESTART IDENTITY CASCADE"))
        engine.dispose()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp(name)}/towerflow.db"
    platform = build_platform(url, services=handlers.registry.copy(), clock=ManualClock())
    platform.init_db()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(identity, "SCRYPT_N", 2**10)
        patch.setattr(identity, "SCRYPT_P", 1)
        patch.setattr(identity, "ARGON2_TIME_COST", 1)
        patch.setattr(identity, "ARGON2_MEMORY_KIB", 64)
        seed_demo_world(platform)
        if prepare is not None:
            prepare(platform)
        app = create_app({"TESTING": True}, platform=platform)
        server = create_server(app, host="127.0.0.1", port=0, threads=4)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        yield {"url": f"http://127.0.0.1:{server.effective_port}", "platform": platform}
        server.close()
        thread.join(timeout=5)
    platform.close()

"""Helpers the browser tests share: signing in and keeping screenshots."""

from __future__ import annotations

import os
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

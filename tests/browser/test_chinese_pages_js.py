"""Pages that draw text with JavaScript read in Chinese too: the dashboard with its charts drawn, a
process version's diagram with its labels and heat badges, at 1366 and 390 px. The same checker as
the server-rendered pages (tests/chinese_text.py), run on what the browser shows."""

from __future__ import annotations

import pytest
from chinese_text import latin_words, page_texts
from helpers import seed_demo_world
from pages import sign_in

from tower.demo import DEMO_PASSWORD, DEMO_USERS

USERNAMES = [username for username, *_rest in DEMO_USERS]


@pytest.fixture
def demo_world(platform):
    seed_demo_world(platform)
    return platform


def english_shown(page) -> list[tuple[str, str]]:
    return latin_words(page_texts(page), (*USERNAMES, "English"))


@pytest.mark.parametrize("width", [1366, 390])
def test_the_pages_drawn_by_scripts_read_in_chinese(new_page, demo_world, width):
    page = new_page()
    page.set_viewport_size({"width": width, "height": 900 if width > 400 else 844})
    sign_in(page, "supervisor", DEMO_PASSWORD)

    page.goto("/dashboard")
    page.locator("#chart-instances canvas, #chart-instances svg").first.wait_for()
    found = english_shown(page)
    assert found == [], "\n".join(map(str, found))

    page.goto("/definitions/tower_order/1")
    page.locator("[data-testid=diagram] .djs-element").first.wait_for()
    assert page.locator("[data-testid=diagram] svg text").count() > 0  # the labels are drawn
    found = english_shown(page)
    assert found == [], "\n".join(map(str, found))


"""The page catalogues: one Chinese translation per English text across all areas."""

from collections import defaultdict

from babel.messages.pofile import read_po

from web.i18n import TRANSLATIONS


def catalogues():
    for po_path in sorted(TRANSLATIONS.glob("*/zh/LC_MESSAGES/messages.po")):
        with po_path.open("rb") as handle:
            yield po_path.parts[-4], read_po(handle)


def test_every_area_has_a_chinese_catalogue():
    areas = {area for area, _ in catalogues()}
    assert {"core", "instances", "designer", "dashboard", "admin"} <= areas


def test_a_text_shared_by_areas_is_translated_the_same_everywhere():
    """Flask-Babel merges the catalogues; a text translated two ways would silently pick one."""
    seen = defaultdict(set)
    for area, catalogue in catalogues():
        for message in catalogue:
            if message.id and message.string:
                seen[message.id if isinstance(message.id, str) else message.id[0]].add(
                    (message.string if isinstance(message.string, str) else message.string[0], area))
    clashes = {text: sorted(found) for text, found in seen.items() if len({s for s, _ in found}) > 1}
    assert clashes == {}


def test_no_catalogue_entry_is_left_untranslated():
    empty = [(area, m.id) for area, catalogue in catalogues() for m in catalogue if m.id and not m.string]
    assert empty == []


def test_a_page_that_needs_signing_in_says_so_in_chinese(app):
    client = app.test_client()
    r = client.get("/inbox", follow_redirects=True)
    text = r.get_data(as_text=True)
    assert "请先登录再查看此页面" in text
    assert "Please" not in text

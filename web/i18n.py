"""Chinese (default) and English with Flask-Babel.

Pages keep the language chosen in the session (``/lang/<code>``), Chinese by default; the API
(``/api/...``) answers in the language of the request's ``Accept-Language`` header, English when
it names none of ours, so scripts that never send one keep reading the engine's own words.

Each page area keeps its own catalogue under ``web/translations/<area>/`` (msgids are the
English text). Catalogues are compiled to .mo when the app starts and a .po is newer than
its .mo, so nobody has to remember a build step.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, has_request_context, request, session
from flask_babel import Babel

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
LANGUAGES = {"zh": "中文", "en": "English"}
DEFAULT_LANGUAGE = "zh"


API_DEFAULT_LANGUAGE = "en"  # an API client that asks for no language gets the engine's own words


def select_locale() -> str:
    """Pages speak the language chosen in the session (Chinese until one is chosen), whatever the
    browser asks for; the API speaks the language of ``Accept-Language`` (English when none fits)."""
    if not has_request_context():
        return API_DEFAULT_LANGUAGE
    if is_api_request():
        return request.accept_languages.best_match(tuple(LANGUAGES)) or API_DEFAULT_LANGUAGE
    chosen = session.get("lang") or request.args.get("lang")
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def compile_catalogues(root: Path = TRANSLATIONS) -> list[Path]:
    """Compile every .po newer than its .mo; returns the area directories found."""
    areas = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    for po_path in root.glob("*/*/LC_MESSAGES/*.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file)
        try:
            with mo_path.open("wb") as mo_file:
                write_mo(mo_file, catalog)
        except OSError:  # a read-only install keeps whatever .mo it shipped with
            pass
    return areas


def init_i18n(app: Flask) -> Babel:
    areas = compile_catalogues()
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(str(a) for a in areas) or str(TRANSLATIONS)
    babel = Babel(app, locale_selector=select_locale)

    @app.context_processor
    def _languages():
        return {"languages": LANGUAGES, "current_language": select_locale()}

    return babel

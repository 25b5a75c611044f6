"""Chinese (default) and English with Flask-Babel.

Each page area keeps its own catalogue under ``web/translations/<area>/`` (msgids are the
English text). Catalogues are compiled to .mo when the app starts and a .po is newer than
its .mo, so nobody has to remember a build step.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, request, session
from flask_babel import Babel

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
LANGUAGES = {"zh": "中文", "en": "English"}
DEFAULT_LANGUAGE = "zh"


def select_locale() -> str:
    chosen = session.get("lang") or request.args.get("lang")
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


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

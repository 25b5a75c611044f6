"""The engine's errors in the reader's language.

The engine raises English messages; where a message names values it keeps the English
template and the values apart (``exc.template``, ``exc.params``, see engine/errors.py). Here
the template is looked up in the catalogues (msgid = the English template) and filled with
the values, codes among them said in words (a state, a process, a tenant, a group). A message
the catalogues do not know stays English, so nothing is hidden (the Chinese-pages test finds it).

Pages call ``say(exc)`` in the session's language; the API calls it in the language of
``Accept-Language`` (web/i18n.py picks the locale; English answers the engine's own text).
"""

from __future__ import annotations

from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _

from engine.errors import EngineError


def _words(name: str, value: Any) -> Any:
    """A parameter's value as the reader should see it: codes in words, lists joined."""
    from web.labels import group_label, process_label, state_label, tenant_label, value_label

    if name == "state":
        return state_label(value)
    if name == "process_key":
        return process_label(value)
    if name == "tenant":
        return tenant_label(value)
    if name == "groups" and isinstance(value, str):
        return _("、").join(group_label(g.strip()) for g in value.split(",") if g.strip())
    if name in ("status", "step"):
        return value_label(value, name)
    return value


def english() -> bool:
    locale = get_locale()
    return locale is None or locale.language == "en"


def say(exc: EngineError) -> str:
    """The error's message in the current locale."""
    if english():
        return exc.message
    template = getattr(exc, "template", None) or exc.message
    params = getattr(exc, "params", None) or {}
    if not params:
        return say_text(template)
    translated = _(template, **{name: _words(name, value) for name, value in params.items()})
    return translated if translated != template % params else exc.message


def say_text(message: str) -> str:
    """A plain English message (no parameters kept apart) in the current locale."""
    if english() or not message:
        return message
    return _(message)


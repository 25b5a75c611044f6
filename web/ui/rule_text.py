"""Form rule messages in the page's language.

The forms (plain marshmallow, forms/) say every rule in English: marshmallow's own messages
("Missing data for required field.", "Not a valid integer.", "Must be one of: ..."), the
forms' fixed sentences ("Say why it is sent back.") and templates with values in them
(forms/messages.py: "Required when %(field)s is %(value)s."). This module says each again in
the current locale: a fixed sentence by its msgid, a template by reading its values back
out of the text (the field and value said in words, web/labels.py), marshmallow's messages by
pattern. The catalogue is ``web/translations/forms``. A message nothing here knows stays as
it is, so a refusal is never silent.

``friendly`` also rewords marshmallow's English for the English pages ("Enter a whole
number."); the API in English keeps marshmallow's own words (see ``in_locale``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _

from forms.messages import REQUIRED_WHEN, TEMPLATES

Maker = Callable[[re.Match], str]


def _required_when(match: re.Match) -> str:
    from web.labels import value_label, variable_label

    field, value = match["field"], match["value"]
    return _("Required when “%(field)s” is “%(value)s”.", field=variable_label(field),
             value=value_label(value, field))


TEMPLATE_WORDS: dict[str, Maker] = {REQUIRED_WHEN: _required_when}


def _builtin() -> list[tuple[str, Maker]]:
    """marshmallow's own messages (and the file field's), reworded."""
    return [
        (r"Missing data for required field\.|Field may not be null\.", lambda m: _("This field is required.")),
        (r"Not a valid integer\.", lambda m: _("Enter a whole number.")),
        (r"Not a valid number\.", lambda m: _("Enter a number.")),
        (r"Not a valid date\.", lambda m: _("Enter a valid date.")),
        (r"Not a valid datetime\.", lambda m: _("Enter a valid date and time.")),
        (r"Not a valid boolean\.", lambda m: _("Choose yes or no.")),
        (r"Not a valid (string|list)\.", lambda m: _("This value is not valid.")),
        (r"Not a valid email address\.", lambda m: _("Enter a valid e-mail address.")),
        (r"String does not match expected pattern\.", lambda m: _("This value does not have the expected form.")),
        (r"Invalid input type\.|Invalid value\.", lambda m: _("This value is not valid.")),
        (r"Must be one of: .*", lambda m: _("Choose one of the offered values.")),
        (r"One or more of the choices you made was not in: .*", lambda m: _("Choose only offered values.")),
        (r"Must be greater than or equal to (\S+) and less than or equal to (\S+)\.",
         lambda m: _("Must be between %(min)s and %(max)s.", min=m[1], max=m[2])),
        (r"Must be greater than or equal to (\S+)\.", lambda m: _("Must be at least %(min)s.", min=m[1])),
        (r"Must be less than or equal to (\S+)\.", lambda m: _("Must be at most %(max)s.", max=m[1])),
        (r"Must be greater than (\S+)\.", lambda m: _("Must be more than %(min)s.", min=m[1])),
        (r"Longer than maximum length (\d+)\.", lambda m: _("At most %(max)s characters.", max=m[1])),
        (r"Shorter than minimum length (\d+)\.", lambda m: _("At least %(min)s characters.", min=m[1])),
        (r"Length must be between (\d+) and (\d+)\.",
         lambda m: _("Between %(min)s and %(max)s characters.", min=m[1], max=m[2])),
        (r"Not a valid file\.", lambda m: _("This file is not available; upload it again.")),
        (r"The file is larger than (.+)\.", lambda m: _("The file is larger than %(size)s.", size=m[1])),
        (r"The file is empty\.", lambda m: _("The file is empty.")),
        (r"This file type is not allowed\.", lambda m: _("This file type is not allowed.")),
        (r"Unknown field\.", lambda m: _("This field is not part of the form.")),
    ]


@cache
def _template_pattern(template: str) -> re.Pattern:
    """``Required when %(field)s is %(value)s.`` -> a pattern with a group per parameter."""
    parts = re.split(r"%\((\w+)\)s", template)
    pattern = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts))
    return re.compile(pattern)


def friendly(message: str) -> str:
    """The rule message in the current locale (English pages get marshmallow's words reworded)."""
    if not isinstance(message, str) or not message:
        return message
    for template in TEMPLATES:
        match = _template_pattern(template).fullmatch(message)
        if match and template in TEMPLATE_WORDS:
            return TEMPLATE_WORDS[template](match)
    for pattern, make in _builtin():
        match = re.fullmatch(pattern, message)
        if match:
            return make(match)
    return _(message)


def in_locale(message: str) -> str:
    """For the API: English keeps the forms' and marshmallow's own words, other languages are translated."""
    locale = get_locale()
    if locale is None or locale.language == "en":
        return message
    return friendly(message)


def translate_messages(messages: Any, say: Callable[[str], str] = friendly) -> Any:
    """The same structure (dicts of lists of messages, as marshmallow nests them) with each message said."""
    if isinstance(messages, str):
        return say(messages)
    if isinstance(messages, dict):
        return {key: translate_messages(value, say) for key, value in messages.items()}
    if isinstance(messages, list | tuple):
        return [translate_messages(value, say) for value in messages]
    return messages

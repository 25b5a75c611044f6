"""The words the forms give their choice values, for texts people read outside the pages.

An SMS or a notice built in a BPMN script is read by a person, so it must say 互联网专线, not
``internet_dedicated_line``. Scripts call ``choice_label("product", product)``: the label the
installed forms give that value of that field (``choice_labels`` metadata, ``{"zh", "en"}``) in
Chinese, the language of every message the platform sends; any form's label of the value when
the field has none; the value itself when no form knows it, so nothing is lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def choice_words(forms: Mapping[str, Any]) -> dict[tuple[str | None, str], Any]:
    """(field, value) -> label, and (None, value) -> the first label any form gives the value."""
    words: dict[tuple[str | None, str], Any] = {}
    for schema in forms.values():
        for name, fld in schema().fields.items():
            for value, label in (fld.metadata.get("choice_labels") or {}).items():
                words.setdefault((fld.data_key or name, str(value)), label)
                words.setdefault((None, str(value)), label)
    return words


def choice_label(words: Mapping[tuple[str | None, str], Any], field: str | None, value: Any,
                 language: str = "zh") -> str:
    if value is None:
        return ""
    label = words.get((field, str(value))) or words.get((None, str(value)))
    if isinstance(label, Mapping):
        return str(label.get(language) or label.get("zh") or value)
    return str(label or value)

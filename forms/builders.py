"""Field builders every form module uses, and choice lists shared by several flows."""

from __future__ import annotations

from marshmallow import fields, validate

CUSTOMER_LEVELS = {  # 客户等级, DOMAIN.md flow 4
    "group": {"zh": "集团级", "en": "Group"},
    "provincial": {"zh": "省级", "en": "Provincial"},
    "local_a": {"zh": "本地A", "en": "Local A"},
    "local_b": {"zh": "本地B", "en": "Local B"},
    "local_c": {"zh": "本地C", "en": "Local C"},
}


def label(zh: str, en: str, **more) -> dict:
    """Field metadata with its Chinese and English label (and widget hints)."""
    return {"label": {"zh": zh, "en": en}, **more}


def text(zh: str, en: str, *, required: bool = False, max_length: int = 200,
         widget: str | None = None) -> fields.String:
    """A text field: required ones must not be empty, optional ones default to ""."""
    metadata = label(zh, en, **({"widget": widget} if widget else {}))
    if required:
        return fields.String(required=True, validate=validate.Length(min=1, max=max_length), metadata=metadata)
    return fields.String(load_default="", validate=validate.Length(max=max_length), metadata=metadata)


def choice(zh: str, en: str, choices: dict, **kwargs) -> fields.String:
    """One of ``choices`` (value → {zh, en} label), drawn as a choice widget."""
    return fields.String(validate=validate.OneOf(list(choices)),
                         metadata=label(zh, en, widget="choice", choice_labels=choices), **kwargs)

"""User-task and start forms: one marshmallow schema per form key."""

from __future__ import annotations

from marshmallow import Schema

FORMS: dict[str, type[Schema]] = {}


def form(key: str):
    """Class decorator registering a schema under its form key."""

    def decorate(schema: type[Schema]) -> type[Schema]:
        FORMS[key] = schema
        return schema

    return decorate


def describe(schema: type[Schema]) -> list[dict]:
    """Field descriptions for a client to render the form."""
    fields = []
    for name, fld in schema().fields.items():
        meta = dict(fld.metadata)
        entry = {
            "name": fld.data_key or name,
            "type": type(fld).__name__,
            "required": bool(fld.required),
            "label": meta.pop("label", {"zh": name, "en": name}),
        }
        choices = getattr(getattr(fld, "validate", None), "choices", None)
        for validator in fld.validators:
            choices = getattr(validator, "choices", choices)
        if choices is not None:
            entry["choices"] = list(choices)
        entry.update(meta)
        fields.append(entry)
    return fields


from . import core  # noqa: E402,F401  (registers the platform's own forms)

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
    """Field descriptions a client needs to render the form: name, type, labels, choices."""
    fields = []
    for name, fld in schema().fields.items():
        meta = dict(fld.metadata)
        entry = {
            "name": fld.data_key or name,
            "type": type(fld).__name__,
            "required": bool(fld.required),
            "label": meta.pop("label", {"zh": name, "en": name}),
        }
        for validator in fld.validators:
            if hasattr(validator, "choices"):
                entry["choices"] = list(validator.choices)
        entry.update(meta)
        fields.append(entry)
    return fields


def _register_all() -> None:
    """Import every module of this package: each registers its forms with @form."""
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


_register_all()

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


# The modules whose schemas register themselves with @form, imported by name.
MODULES = ("forms.core", "forms.faults", "forms.service_requests", "forms.product_orders", "forms.contracts",
           "forms.sites", "forms.tower_orders", "forms.demo")


def _register_all() -> None:
    import importlib

    for name in MODULES:
        try:
            importlib.import_module(name)
        except Exception as exc:
            raise ImportError(f"the forms: module {name} could not be imported ({type(exc).__name__}: {exc})") from exc


_register_all()

"""Validate submitted data against a form schema registered in ``forms/``.

The engine does not import marshmallow: a form is any class whose instances have
``load`` (raising an error with ``messages``) and ``dump``, which marshmallow schemas do.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from engine.errors import BadRequest, ValidationFailed


def validate_form(forms: Mapping[str, Any], form_key: str, data: Any) -> dict[str, Any]:
    """Return the cleaned data, JSON-safe; raise ValidationFailed with per-field errors."""
    if not isinstance(data, dict):
        raise BadRequest("form data must be a JSON object")
    schema_class = forms.get(form_key)
    if schema_class is None:
        raise ValidationFailed("form '%(form_key)s' is not installed", {"form_key": form_key}, form_key=form_key)
    schema = schema_class()
    try:
        loaded = schema.load(data)
    except Exception as exc:
        messages = getattr(exc, "messages", None)
        if messages is None:
            raise
        raise ValidationFailed("the form has errors", {"fields": messages}) from None
    return json.loads(json.dumps(schema.dump(loaded), default=str))

"""The variable editor a supervisor opens from an instance's variables table: a typed value
and a reason; the engine (engine/runtime/repairs.py) checks both and writes the audit event."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from engine.errors import EngineError
from engine.runtime import instances, repairs

from ..error_text import say
from .helpers import platform, principal, require_groups
from .instances import STATE_LABELS, is_code, name_label, shown_value

bp = Blueprint("repairs", __name__, url_prefix="/instances")

TYPE_LABELS = {
    "text": _l("Text"), "number": _l("Number"), "boolean": _l("Yes or no"), "date": _l("Date"),
    "datetime": _l("Date and time"), "json": _l("Structured value (JSON)"),
}


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {"state_labels": STATE_LABELS, "is_code": is_code}


def form_value(value: Any, type_name: str | None) -> str:
    """The stored value as the editor's field shows it."""
    if value is None:
        return ""
    if type_name == "json":
        return json.dumps(value, ensure_ascii=False, indent=2)
    if type_name == "datetime" and isinstance(value, str):
        return value[:16]  # what <input type=datetime-local> takes
    if type_name == "boolean":
        return "true" if value else "false"
    return str(value)


def _page(row, name: str, type_name: str, value: str, reason: str, allow: bool, status: int = 200):
    variables = row.variables or {}
    exists = name in variables
    old_type = repairs.type_of(variables.get(name)) if exists else None
    return render_template(
        "repairs/edit.html", row=row, name=name, label=name_label(name), exists=exists,
        current=shown_value(variables.get(name), name) if exists else "", old_type=old_type,
        type_name=type_name, value=value, reason=reason, allow=allow, types=TYPE_LABELS,
    ), status


@bp.get("/<int:instance_id>/variables/<name>/edit")
@require_groups("supervisor")
def edit_variable(instance_id: int, name: str):
    with platform().Session() as session:
        row = instances.visible_instance(session, principal(), instance_id)
        old = (row.variables or {}).get(name)
        type_name = request.args.get("type") if request.args.get("type") in repairs.TYPES else (
            repairs.type_of(old) or "text")
        return _page(row, name, type_name, form_value(old, type_name), "", False)


@bp.post("/<int:instance_id>/variables/<name>/edit")
@require_groups("supervisor")
def save_variable(instance_id: int, name: str):
    type_name = request.form.get("type", "")
    value = request.form.get(f"value_{type_name}", "")
    reason = (request.form.get("reason") or "").strip()
    allow = request.form.get("allow_type_change") == "yes"
    try:
        repairs.set_variable(platform(), principal(), instance_id, name, value, reason, type_name or None, allow)
    except EngineError as exc:
        if exc.status == 404:
            raise
        flash(say(exc), "error")
        with platform().Session() as session:
            row = instances.visible_instance(session, principal(), instance_id)
            shown_type = type_name if type_name in repairs.TYPES else "text"
            return _page(row, name, shown_type, value, reason, allow, 409 if exc.status == 409 else 400)
    flash(_("The variable %(name)s was changed.", name=name_label(name)), "success")
    return redirect(url_for("instances.show", instance_id=instance_id) + "#variables")

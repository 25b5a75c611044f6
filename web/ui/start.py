"""Start a process: the processes this user may start, each with its start form."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from engine.errors import ValidationFailed
from engine.models import Tenant
from engine.runtime import files, instances, jobs, tasks

from ..error_text import say
from . import form_widgets as fw
from .helpers import platform, principal

bp = Blueprint("start", __name__)


def _widgets(definition) -> list[fw.Widget]:
    key = definition.start_form_key
    schema = platform().forms.get(key) if key else None
    return fw.widgets(schema) if schema is not None else []


def _render(open_key: str | None = None, raw: dict[str, Any] | None = None,
            errors: dict[str, list[str]] | None = None, status: int = 200):
    actor = principal()
    with platform().Session() as session:
        definitions = instances.startable_definitions(session, actor)
        tenants = [] if actor.tenant else list(session.scalars(select(Tenant.id).order_by(Tenant.id)))
        kept = files.describe(session, actor, [int(v) for vals in (raw or {}).values() if isinstance(vals, list)
                                                for v in vals if str(v).isdigit()], None)
    entries = [{"definition": d, "widgets": _widgets(d)} for d in definitions]
    body = render_template("start/index.html", entries=entries, open_key=open_key, raw=raw or {},
                           errors=errors or {}, kept_files=kept, tenants=tenants)
    return body, status


@bp.get("/start")
@login_required
def index() -> ResponseReturnValue:
    return _render(request.args.get("open"))


@bp.post("/start/<key>")
@login_required
def start(key: str) -> ResponseReturnValue:
    actor = principal()
    with platform().Session() as session:
        definition = instances.latest_definition(session, key)
        instances.check_may_start(definition, actor)
        ws = _widgets(definition)
    raw = fw.raw_values(ws, request.form)
    raw["business_key"] = request.form.get("business_key", "").strip()
    raw["tenant"] = request.form.get("tenant", "")
    problems = fw.store_uploads(platform(), actor, ws, raw, request.files, instance_id=None, task_id=None)
    problems = fw.merge_errors(problems, fw.file_problems(platform(), actor, ws, raw, None))
    data = fw.form_data(ws, raw)
    if problems:  # show the form's other mistakes too, in one go
        errors = fw.merge_errors(problems, fw.check_form(platform().forms, definition.start_form_key, data))
        return _render(key, raw, errors, status=422)
    try:
        instance_id = instances.start(platform(), actor, key, raw["business_key"] or None, data,
                                      raw["tenant"] or None)
    except ValidationFailed as exc:
        return _render(key, raw, fw.field_errors(exc.details) or {"": [say(exc)]}, status=422)
    files.attach(platform(), actor, [i for w in ws if w.kind == "file" for i in fw.file_ids(raw, w)], instance_id)
    jobs.drain(platform(), instance_id)
    return _after_start(instance_id, definition)


def _after_start(instance_id: int, definition):
    """Straight to the new instance's first task when this user may work on it."""
    actor = principal()
    name = definition.name or definition.key
    with platform().Session() as session:
        first = tasks.first_task_for(session, actor, instance_id)
        first_id = first.id if first else None
    flash(_("Process “%(name)s” started (instance #%(id)s).", name=name, id=instance_id), "success")
    if first_id is None:
        return redirect(url_for("start.index"))
    return redirect(url_for("inbox.task", task_id=first_id))

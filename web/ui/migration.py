"""The migration page: move running instances of one version to another.

/migrations/<source definition id> asks for the target version and which instances (a state
and a business key, or the one instance it was opened from), shows the plan (the element
mapping, and per instance where it stands and why it would be refused), asks for a reason
and a confirmation that states the count, then shows what was moved and what was not.
The engine does the work (engine/runtime/migration.py).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from engine.errors import EngineError
from engine.models import ProcessDefinition
from engine.runtime import instances, migration

from ..error_text import say
from .helpers import platform, principal, require_groups

bp = Blueprint("migration", __name__, url_prefix="/migrations")

STATUS_WORDS = {"same": _l("Unchanged"), "changed": _l("Changed"), "removed": _l("Removed"),
                "refused": _l("Cannot be moved")}
KIND_WORDS = {"active": _l("Current step"), "scope": _l("Sub-process it is in"), "listener": _l("Waiting event")}
STATES = ("waiting", "running", "error", "suspended")


def _scope(source: ProcessDefinition) -> dict[str, Any]:
    """Which instances: the one the page was opened from, else a state and a business key."""
    instance_id = request.values.get("instance", type=int)
    if instance_id is not None:
        return {"instance_ids": [instance_id]}
    state = request.values.get("state") or None
    business_key = (request.values.get("business_key") or "").strip() or None
    return {"flt": instances.InstanceFilter(state=state if state in instances.STATES else None,
                                            business_key=business_key)}


def _form_args() -> dict[str, str]:
    return {k: v for k, v in request.values.items() if k in ("instance", "state", "business_key", "target") and v}


def _source(source_id: int) -> tuple[ProcessDefinition, list[ProcessDefinition]]:
    with platform().Session() as session:
        source = session.get(ProcessDefinition, source_id)
        if source is None:
            abort(404)
        others = list(session.scalars(select(ProcessDefinition).where(
            ProcessDefinition.key == source.key, ProcessDefinition.id != source.id)
            .order_by(ProcessDefinition.version.desc())))
        session.expunge_all()
    return source, others


def _refusals(items: list[migration.InstancePlan]) -> dict[int, list[str]]:
    return {item.instance_id: [say(r.error) for r in item.refusals] for item in items}


@bp.get("/<int:source_id>")
@require_groups("supervisor")
def plan(source_id: int):
    source, others = _source(source_id)
    target_id = request.args.get("target", type=int)
    if target_id is None and others:
        newer = [d for d in others if d.version > source.version]
        target_id = (newer[-1] if newer else others[0]).id  # the next version up, else the newest
    found, error = None, None
    if target_id is not None and request.args.get("show") == "1":
        try:
            found = migration.plan(platform(), principal(), source.id, target_id, **_scope(source))
        except EngineError as exc:
            if exc.status in (403, 404):
                raise
            error = say(exc)
    return render_template("migration/plan.html", source=source, others=others, target_id=target_id,
                           plan=found, error=error, refusals=_refusals(found.instances) if found else {},
                           form=_form_args(), states=STATES, status_words=STATUS_WORDS, kind_words=KIND_WORDS)


@bp.post("/<int:source_id>")
@require_groups("supervisor")
def run(source_id: int):
    """The plan was confirmed: move them, each on its own, and show the outcome."""
    source, others = _source(source_id)
    target_id = request.form.get("target", type=int)
    reason = (request.form.get("reason") or "").strip()
    expected = request.form.get("count", type=int)
    error = None
    try:
        found = migration.plan(platform(), principal(), source.id, target_id or 0, **_scope(source))
    except EngineError as exc:
        if exc.status in (403, 404):
            raise
        found, error = None, say(exc)
    if found is not None and expected is not None and expected != found.movable:
        error = str(_l("The instances changed since you read the plan: now %(n)s can be moved. Check and confirm "
                       "again.", n=found.movable))
    elif found is not None and not reason:
        error = str(_l("Give a reason: it is kept in each instance's audit log."))
    if error is not None:
        return render_template("migration/plan.html", source=source, others=others, target_id=target_id,
                               plan=found, error=error, refusals=_refusals(found.instances) if found else {},
                               form=_form_args(), states=STATES, status_words=STATUS_WORDS,
                               kind_words=KIND_WORDS, reason=reason), 400
    ok_ids = [item.instance_id for item in found.instances if item.ok]
    result = migration.migrate(platform(), principal(), source.id, target_id, ok_ids, reason=reason) \
        if ok_ids else None
    items = result.instances if result else []
    skipped = [item for item in found.instances if not item.ok]
    return render_template("migration/result.html", source=source, target=found.target, result=result,
                           items=items, skipped=skipped, refusals=_refusals(items + skipped),
                           back=url_for("migration.plan", source_id=source.id, target=target_id))

"""Instances, as supervisors watch them: a filtered list, and one instance with its diagram,
timeline, variables, audit log and incidents, plus suspend, resume, terminate and retry.

Every signed-in user may list the instances of their tenant scope (the engine's tenant rule
applies); only supervisors and admins get the controls, and the engine checks it again.
Suspend, resume and terminate always pass a confirmation page: a POST without ``confirmed``
only leads there.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from sqlalchemy import select

from engine.definitions import customer_view
from engine.definitions.deployments import definition_file
from engine.errors import EngineError
from engine.models import Incident, ProcessDefinition
from engine.queries import family, insight, instance_list, visibility
from engine.queries.views import iso
from engine.runtime import audit, instances, jobs

from ..assets import missing_assets
from ..error_text import say
from ..labels import group_label, tenant_label, value_label, variable_label
from . import instance_export, instance_search
from .helpers import pager, platform, principal, require_groups
from .replica_notice import read_lagging

bp = Blueprint("instances", __name__, url_prefix="/instances")

STATE_LABELS = {
    "running": _l("Running"), "waiting": _l("Waiting"), "suspended": _l("Suspended"),
    "completed": _l("Completed"), "cancelled": _l("Cancelled"), "terminated": _l("Terminated"), "error": _l("Error"),
}
ACTIONS = {  # action -> (button, question on the confirmation page)
    "suspend": (_l("Suspend"), _l("Suspend this instance? No task can be completed and no timer or job "
                                  "runs until it is resumed.")),
    "resume": (_l("Resume"), _l("Resume this instance? Its tasks, timers and jobs continue.")),
    "terminate": (_l("Terminate"), _l("Terminate this instance? Its open tasks, timers and jobs are "
                                      "cancelled. This cannot be undone.")),
}


AUDIT_SHOWN = 1000  # a long loop writes thousands of events; the newest are the interesting ones
TASK_STATES = {"open": _l("Open"), "completed": _l("Completed"), "cancelled": _l("Cancelled")}
EVENT_LABELS = {
    "instance.started": _l("Instance started"), "instance.completed": _l("Instance completed"),
    "instance.suspended": _l("Instance suspended"), "instance.resumed": _l("Instance resumed"),
    "instance.terminated": _l("Instance terminated"), "instance.cancelled": _l("Instance cancelled"),
    "task.claimed": _l("Task claimed"),
    "task.unclaimed": _l("Task released"), "task.assigned": _l("Task assigned"),
    "task.completed": _l("Task completed"), "service.completed": _l("Service call done"),
    "service.failed": _l("Service call failed"), "step.failed": _l("Engine step failed"),
    "timer.fired": _l("Timer fired"), "timer.failed": _l("Timer failed"),
    "message.received": _l("Message received"), "incident.raised": _l("Incident raised"),
    "incident.retried": _l("Incident retried"), "variables.changed": _l("Variables changed"),
    "variable.edited": _l("Variable corrected by a supervisor"),
}


def is_supervisor() -> bool:
    actor = principal()
    return actor.is_admin or "supervisor" in actor.groups


def diagram_missing() -> bool:
    """bpmn-js is not installed: pages show a plain message instead of the diagram."""
    return any(path.startswith("bpmn-js/") for path in missing_assets())


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") + " UTC" if value else ""


def duration(seconds: float | None) -> str:
    """A short human duration: 45s, 12m, 3h 5m, 2d 4h."""
    if seconds is None:
        return ""
    seconds = int(max(0, seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return _("%(d)sd %(h)sh", d=days, h=hours)
    if hours:
        return _("%(h)sh %(m)sm", h=hours, m=minutes)
    if minutes:
        return _("%(m)sm", m=minutes)
    return _("%(s)ss", s=secs)


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {"when": when, "duration": duration, "state_labels": STATE_LABELS, "iso": iso,
            "task_states": TASK_STATES, "event_labels": EVENT_LABELS,
            "action_labels": {name: label for name, (label, _question) in ACTIONS.items()},
            "event_lines": event_lines, "shown_value": shown_value, "name_label": name_label,
            "is_code": is_code, "steps_shown": STEP_LISTS,
            "to_json": lambda value: json.dumps(value, ensure_ascii=False, indent=2, default=str)}


# --- list ----------------------------------------------------------------------------------


def query_from_args() -> instances.InstanceFilter:
    """The filter form's values (web/ui/instance_search.py); anything malformed is ignored."""
    return instance_search.query_from_args(principal())


@bp.get("")
@login_required
def index():
    actor = principal()
    query = query_from_args()
    page = pager()
    now = platform().clock.now()

    def listed(session):  # the replica's, when one is set: a list may lag a few seconds
        rows, page.total = instances.list_instances(session, actor, query, page.offset, page.size, now)
        flags = insight.instance_flags(session, [r.id for r in rows], now)
        keys = session.scalars(select(ProcessDefinition.key).distinct().order_by(ProcessDefinition.key)).all()
        names = dict(session.execute(select(ProcessDefinition.id, ProcessDefinition.name).where(
            ProcessDefinition.id.in_({r.definition_id for r in rows}))).all())
        offer = instance_search.offer(session, platform().forms, query.process_key, actor)
        return render_template("instances/index.html", rows=rows, flags=flags, pager=page, keys=keys, names=names,
                               states=instances.STATES, args=request.args, show_tenant_filter=actor.tenant is None,
                               offer=offer, parents=instance_list.parents(session, rows),
                               conditions=query.variables, ops=instance_search.OPS)

    return read_lagging(listed)


@bp.get("/export.xlsx")
@login_required
def export():
    """The filtered list as an Excel file (the same query string as the list)."""
    actor, query, now = principal(), query_from_args(), platform().clock.now()
    found = read_lagging(lambda session: instance_list.export(session, actor, query, now))  # may lag, says so
    data = instance_export.workbook(found, warning=g.replica_notice)
    return instance_export.response(data, _("Process instances") + ".xlsx")


# --- one instance ---------------------------------------------------------------------------


@bp.get("/<int:instance_id>")
@login_required
def show(instance_id: int):
    actor = principal()
    pf = platform()
    with pf.Session() as session:
        row = instances.visible_instance(session, actor, instance_id)
        definition = session.get(ProcessDefinition, row.definition_id)
        seen = visibility.sight(session, actor, row, pf.forms)
        xml = customer_view.diagram_for(definition_file(session, definition).content, not seen.full, group_label)
        relatives = family.family(session, row)
        own_elements = set(insight.element_names(xml))
        history = (insight.called_events(session, row, own_elements) if row.is_called
                   else audit.history(session, instance_id))
        events = [(e, seen.event_data(e)) for e in seen.events(history)]
        level = visibility.incident_detail(actor)
        timeline = (insight.called_timeline(session, row, own_elements) if row.is_called
                    else insight.timeline(session, instance_id))
        path = insight.instance_path(pf, session, row)
        context = {
            "row": row, "definition": definition, "xml": xml,
            "names": insight.element_names(xml), "customer": not seen.full,
            "variables": seen.variables(row.variables),
            "drawing": dict(instance_drawing(path), calls={
                element: url_for("instances.show", instance_id=called) for element, called in path.calls.items()},
                elementUrl=url_for("cockpit.visits", instance_id=row.id, element_id="__ELEMENT__")),
            "family": relatives,
            "timeline": [e for e in timeline
                         if seen.full or (e.kind == "task" and seen.shows_element(e.element_id))
                         or (e.kind == "event" and (e.who == actor.username
                                                    or e.title in visibility.LIFECYCLE_EVENTS))],
            "events": events[-AUDIT_SHOWN:][::-1], "events_total": len(events),
            "incidents": [(i, incident_text(visibility.incident_view(i, level), level))
                          for i in family.incidents(session, row, state=None)],
            "actions": available_actions(row.state) if is_supervisor() and not row.is_called else [],
            "can_control": is_supervisor(), "diagram_missing": diagram_missing(), "now": pf.clock.now(),
        }
        return render_template("instances/show.html", **context)


def incident_text(view: dict[str, Any], detail: str) -> dict[str, Any]:
    """A customer's incident reads as a one-line reason in the page's language."""
    from ..api.incidents import translated

    return translated(view, detail)


def event_lines(data: dict[str, Any]) -> list[tuple[str, str]]:
    """An audit event's data as (label, value) lines in the page's language: variables by their
    form labels and choice words, the engine's own keys by a word for them."""
    lines: list[tuple[str, str]] = []
    for key, value in (data or {}).items():
        if key in visibility.VARIABLE_KEYS and isinstance(value, dict):
            lines += [(name_label(name), shown_value(inner, name)) for name, inner in value.items()]
        elif key == "value_type" and isinstance(value, str):
            from .repairs import TYPE_LABELS  # the editor's words for its types

            lines.append((str(DATA_LABELS[key]), str(TYPE_LABELS.get(value, value))))
        elif key == "changed" and isinstance(value, list):
            lines.append((str(DATA_LABELS["changed"]), "、".join(name_label(str(n)) for n in value)))
        else:
            label = DATA_LABELS.get(key)
            lines.append((str(label) if label else variable_label(key), shown_value(value, key)))
    return lines


# Words for the customer-visible variables that scripts set (no form field labels them) and
# for their values; everything else is labelled by the forms (web/labels.py).
SCRIPT_VARIABLES = {
    "cancel_reason": _l("Cancel reason"), "cancelled": _l("Cancelled"), "demand_status": _l("Demand status"),
    "failure_reason": _l("Why the negotiation failed"), "order_sent_at": _l("Order sent at"),
    "success": _l("Site found"), "closed_at": _l("Closed at"), "fault_status": _l("Fault status"),
    "response": _l("Promised response"), "completed_at": _l("Completed at"), "order_status": _l("Order status"),
    "reject_reason": _l("Reason for sending back"), "request_status": _l("Request status"),
    "submitted_at": _l("Submitted at"),
    "progress": _l("Progress"), "reopen_count": _l("Times reopened"),
}
# Lists of steps a script keeps ({"step", "at", "by"}), shown as the steps in words.
STEP_LISTS = ("progress",)
SCRIPT_VALUES = {
    "fault_status": {"closed": _l("Closed")},
    "order_status": {"resource_confirmed": _l("Resources confirmed"), "activating": _l("Being activated"),
                     "completed": _l("Completed")},
}


def name_label(name: str) -> str:
    """A variable's name in words: its form field's label, or the word for a script's variable."""
    return str(SCRIPT_VARIABLES[name]) if name in SCRIPT_VARIABLES else variable_label(name)


def _value_words(name: str | None) -> dict:
    from ..tower import words

    tables = {"demand_status": words.DEMAND_STATUSES, "failure_reason": words.NEGOTIATION_FAILURES,
              "request_status": words.REQUEST_STATUSES, **SCRIPT_VALUES}
    return tables.get(name or "", {})


def shown_value(value: Any, name: str | None = None) -> str:
    """A value in words: choices by their labels, lists joined, anything nested as compact JSON."""
    if name in STEP_LISTS and isinstance(value, list) and all(isinstance(v, dict) for v in value):
        return "；".join(_step_words(name, v) for v in value)
    if key_is_tenant(name) and isinstance(value, str):
        return tenant_label(value)
    if isinstance(value, str) and value in _value_words(name):
        return str(_value_words(name)[value])
    if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
        return "、".join(value_label(v, name) for v in value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value_label(value, name)


CODE = re.compile(r"[A-Za-z_][\w.\-]*|[\[{].*", re.DOTALL)


def is_code(text: str) -> bool:
    """An id or a structure with no word for it: a supervisor's page shows it marked as code."""
    return bool(CODE.fullmatch(text or ""))


def _step_words(name: str, step: dict[str, Any]) -> str:
    from ..tower import words

    what = str(step.get("step") or "")
    text = str(words.REQUEST_STATUSES.get(what, what))
    if step.get("by"):
        text += f"（{group_label(str(step['by']))}）"
    return text


def key_is_tenant(name: str | None) -> bool:
    return name in ("tenant", "operator")


DATA_LABELS = {
    "reason": _l("Reason"), "assignee": _l("Assignee"), "previous_assignee": _l("Previous assignee"),
    "business_key": _l("Business key"), "tenant": _l("Tenant"), "name": _l("Message"),
    "message": _l("Message"), "error": _l("Error"), "attempt": _l("Attempt"), "attempts": _l("Attempts"),
    "operator": _l("Service"), "result": _l("Result"), "changed": _l("Changed variables"),
    "incident_id": _l("Incident"), "comment": _l("Comment"), "to": _l("Delegated to"),
    "variable": _l("Variable"), "old_value": _l("Old value"), "new_value": _l("New value"),
    "value_type": _l("Type of value"),
}


def instance_drawing(path: insight.InstancePath) -> dict[str, Any]:
    """Markers and badges for diagram.js: where the instance is, has been, and failed."""
    markers: dict[str, list[str]] = {}
    for classes, elements in (("tf-done", path.completed), ("tf-taken", path.flows),
                              ("tf-active", path.active), ("tf-incident", path.incidents)):
        for element in elements:
            markers.setdefault(element, []).append(classes)
    badges = [{"element": e, "text": str(n), "className": "tf-badge-active", "position": "top-right",
               "title": _("%(n)s tokens here now", n=n)} for e, n in path.active.items() if n > 1]
    badges += [{"element": e, "text": f"×{n}", "className": "tf-badge-done", "position": "bottom-right",
                "title": _("completed %(n)s times", n=n)} for e, n in path.completed.items() if n > 1]
    return {"markers": markers, "badges": badges, "path": path.as_dict()}


def available_actions(state: str) -> list[str]:
    """The controls that make sense in this state (the engine refuses the others anyway)."""
    if state in instances.FINAL_STATES:
        return []
    return ["resume", "terminate"] if state == "suspended" else ["suspend", "terminate"]


@bp.get("/<int:instance_id>/confirm/<action>")
@require_groups("supervisor")
def confirm(instance_id: int, action: str):
    if action not in ACTIONS:
        abort(404)
    with platform().Session() as session:
        row = instances.visible_instance(session, principal(), instance_id)
        title, question = ACTIONS[action]
        return render_template("instances/confirm.html", row=row, action=action, title=title, question=question,
                               reason=request.args.get("reason", ""))


@bp.post("/<int:instance_id>/<action>")
@require_groups("supervisor")
def act(instance_id: int, action: str):
    """Suspend, resume or terminate, but only once the confirmation page was answered."""
    if action not in ACTIONS:
        abort(404)
    reason = (request.form.get("reason") or "").strip()
    if request.form.get("confirmed") != "yes":
        return redirect(url_for(".confirm", instance_id=instance_id, action=action, reason=reason))
    if action == "terminate" and not reason:
        flash(_("A reason is required to terminate an instance."), "error")
        return redirect(url_for(".confirm", instance_id=instance_id, action=action))
    try:
        _perform(instance_id, action, reason)
    except EngineError as exc:
        if exc.status == 404:
            raise
        flash(say(exc), "error")
    else:
        flash(_DONE[action](), "success")
    return redirect(url_for(".show", instance_id=instance_id))


_DONE = {
    "suspend": lambda: _("The instance is suspended."),
    "resume": lambda: _("The instance is resumed."),
    "terminate": lambda: _("The instance is terminated."),
}


def _perform(instance_id: int, action: str, reason: str) -> None:
    pf, actor = platform(), principal()
    if action == "terminate":
        instances.terminate(pf, actor, instance_id, reason)
        return
    getattr(instances, action)(pf, actor, instance_id, reason or None)


@bp.post("/<int:instance_id>/incidents/<int:incident_id>/retry")
@require_groups("supervisor")
def retry(instance_id: int, incident_id: int):
    with platform().Session() as session:
        instances.visible_instance(session, principal(), instance_id)
        incident = session.get(Incident, incident_id)
        if incident is None or incident.instance_id != instance_id:
            abort(404)
    try:
        jobs.retry_incident(platform(), principal(), incident_id)
    except EngineError as exc:
        if exc.status == 404:
            raise
        flash(say(exc), "error")
    else:
        flash(_("The incident was retried."), "success")
    return redirect(url_for(".show", instance_id=instance_id))

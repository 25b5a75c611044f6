"""What a tenant (operator) user may see of its own instances, in one place for API and pages.

The tenant rule (``Principal.sees_tenant``) decides *which* instances a user sees; this module
decides *how much* of one. Staff of the tower company (no tenant) see everything. A customer,
that is a user with a tenant who is not an administrator, sees:

- the variables its process declares customer-visible (``customerVariables``, see
  ``engine.definitions.customer_view``), plus the fields of the forms of the tasks it takes part
  in and of the start form when it started the instance (what it was asked to fill in);
- the audit events of its own actions, of the steps it takes part in (tasks where it is a
  candidate, the assignee or the one who completed it) and the instance's start and end,
  with the data of other people's events cut down to the visible variables;
- files of a declared variable, and its own uploads (the same rule as
  ``engine.runtime.files.customer_may_read``);
- incidents as a one-line reason (``reason`` code), never the exception text or traceback.

Tracebacks are for supervisors and administrators of the tower company; other staff read the
incident's one-line message without the traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.clock import iso
from engine.definitions import customer_view
from engine.models import AuditEvent, HumanTask, Incident, ProcessDefinition, ProcessInstance, StoredFile
from engine.principal import Principal

# Events about the whole instance that its customer may always read (the page shows the state anyway).
LIFECYCLE_EVENTS = frozenset({"instance.started", "instance.completed", "instance.cancelled",
                              "instance.terminated"})
# Keys of event data that carry variables: cut down to the visible names for a customer.
VARIABLE_KEYS = ("variables", "data", "payload")
# Keys of event data a customer never reads on others' events (engine results and errors).
INTERNAL_KEYS = frozenset({"result", "error", "attempt", "attempts", "operator", "changed"})

# What a customer does not read of a step it takes no part in.
STAFF_TASK_KEYS = frozenset({"candidate_users", "assignee", "form_key"})  # groups say who handles it

# One-line incident reasons for customers: code -> English (the web layer translates).
REASONS = {
    "service_failed": "A call to another system failed. The tower company has been told and will retry it.",
    "timer_failed": "A scheduled step failed. The tower company has been told and will retry it.",
    "step_failed": "A processing step failed. The tower company has been told and will retry it.",
}


def is_customer(actor: Principal) -> bool:
    """A user of an operator tenant: sees only the customer side of its instances."""
    return actor.tenant is not None and not actor.is_admin


def reads_tracebacks(actor: Principal) -> bool:
    """Supervisors and administrators of the tower company (no tenant) read tracebacks."""
    return actor.is_admin or (actor.tenant is None and "supervisor" in actor.groups)


def incident_detail(actor: Principal) -> str:
    """How much of an incident the actor reads: ``traceback``, ``message`` or ``reason``."""
    if reads_tracebacks(actor):
        return "traceback"
    return "reason" if is_customer(actor) else "message"


def incident_reason(incident: Incident) -> str:
    code = f"{(incident.kind or '').removesuffix('_failed')}_failed"
    return code if code in REASONS else "step_failed"


def incident_view(incident: Incident, detail: str = "traceback") -> dict[str, Any]:
    """An incident as the actor may read it (see ``incident_detail``)."""
    view = {
        "id": incident.id, "process_instance_id": incident.instance_id, "element_id": incident.element_id,
        "kind": incident.kind, "state": incident.state, "created_at": iso(incident.created_at),
        "resolved_at": iso(incident.resolved_at), "reason": incident_reason(incident),
    }
    view["resolved_by"] = incident.resolved_by
    if detail == "reason":
        view["message"] = REASONS[view["reason"]]
        return view
    view["message"] = incident.message
    if detail == "traceback":
        view["traceback"] = incident.traceback
    return view


def takes_part(task: HumanTask, actor: Principal) -> bool:
    """A step the actor takes part in: candidate, assignee or the one who completed it."""
    return (actor.username in (task.candidate_users or []) or bool(set(task.candidate_groups or []) & actor.groups)
            or actor.username in (task.assignee, task.completed_by))


@dataclass(frozen=True)
class Sight:
    """What one actor may see of one instance."""

    full: bool
    username: str
    names: frozenset[str] = frozenset()
    declared: frozenset[str] = frozenset()
    task_ids: frozenset[int] = frozenset()
    element_ids: frozenset[str] = frozenset()

    def shows(self, name: str) -> bool:
        return self.full or name in self.names

    def variables(self, values: dict[str, Any] | None, extra: Iterable[str] = ()) -> dict[str, Any]:
        """The visible variables; ``extra`` adds names (the fields of a task form being worked on)."""
        values = values or {}
        if self.full:
            return dict(values)
        allowed = self.names | set(extra)
        return {name: value for name, value in values.items() if name in allowed}

    def shows_event(self, event: AuditEvent) -> bool:
        if self.full or event.actor == self.username or event.action in LIFECYCLE_EVENTS:
            return True
        return event.task_id is not None and event.task_id in self.task_ids

    def event_data(self, event: AuditEvent) -> dict[str, Any]:
        data = dict(event.data or {})
        if self.full or event.actor == self.username:
            return data
        for key in list(data):
            if key in INTERNAL_KEYS:
                del data[key]
            elif key in VARIABLE_KEYS and isinstance(data[key], dict):
                data[key] = self.variables(data[key])
        return data

    def events(self, events: Iterable[AuditEvent]) -> list[AuditEvent]:
        return [e for e in events if self.shows_event(e)]

    def shows_element(self, element_id: str | None) -> bool:
        """A step of the timeline: the actor's own steps only, for a customer."""
        return self.full or (element_id is not None and element_id in self.element_ids)

    def shows_file(self, row: StoredFile) -> bool:
        """A file of a visible variable (a file field's name is the variable holding it), or
        the actor's own upload."""
        return self.full or row.uploaded_by == self.username or row.field in self.declared


def sight(session: Session, actor: Principal, instance: ProcessInstance,
          forms: Mapping[str, Any] | None = None) -> Sight:
    """What ``actor`` may see of ``instance`` (the tenant check is the caller's, as before).

    ``forms`` (the platform's form registry) adds the fields of the customer's own forms."""
    if not is_customer(actor):
        return Sight(full=True, username=actor.username)
    tasks = session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id)).all()
    mine = [t for t in tasks if takes_part(t, actor)]
    declared = customer_view.names_of(session, instance.definition_id)
    names = set(declared)
    if forms is not None:
        keys = {t.form_key for t in mine if t.form_key}
        if instance.started_by == actor.username:
            keys.add(session.scalar(select(ProcessDefinition.start_form_key)
                                    .where(ProcessDefinition.id == instance.definition_id)))
        for key in keys:
            names |= form_fields(forms, key)
    return Sight(full=False, username=actor.username, names=frozenset(names), declared=declared,
                 task_ids=frozenset(t.id for t in mine), element_ids=frozenset(t.element_id for t in mine))


def form_fields(forms: Mapping[str, Any], form_key: str | None) -> set[str]:
    """The variable names a registered form fills in."""
    schema = forms.get(form_key) if form_key else None
    if schema is None:
        return set()
    return {fld.data_key or name for name, fld in schema().fields.items()}


def task_view(actor: Principal, task: HumanTask) -> dict[str, Any]:
    """``views.task_view`` as the actor may read it: a customer sees no candidate users, assignee or
    form of a step it takes no part in."""
    from engine.queries import views

    view = views.task_view(task)
    if is_customer(actor) and not takes_part(task, actor):
        view = {k: v for k, v in view.items() if k not in STAFF_TASK_KEYS}
    return view


def task_variables(session: Session, actor: Principal, task: HumanTask, values: dict[str, Any],
                   forms: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A task's data as the actor may read it."""
    return sight(session, actor, session.get(ProcessInstance, task.instance_id), forms).variables(values)


def instance_view(session: Session, actor: Principal, row: ProcessInstance, detail: bool = True,
                  forms: Mapping[str, Any] | None = None, open_tasks: list[HumanTask] | None = None,
                  incidents: list[Incident] | None = None) -> dict[str, Any]:
    """``views.instance_view`` as the actor may read it. ``open_tasks`` and ``incidents``: the
    row's, when the caller has them already, to read them once per answer."""
    from engine.queries import family, views

    view = views.instance_view(session, row, detail=False)
    if not detail:
        return view
    # views.instance_view's detail, without its incidents: the ones below replace them
    view["variables"] = row.variables or {}
    tasks = family.open_tasks(session, row) if open_tasks is None else open_tasks
    view["active_tasks"] = [views.task_view(t) for t in tasks]
    seen = sight(session, actor, row, forms)
    view["variables"] = seen.variables(view["variables"])
    if not seen.full:  # others' open steps: where the instance is, not who works on it
        view["active_tasks"] = [task if task["id"] in seen.task_ids else
                                {k: v for k, v in task.items() if k not in STAFF_TASK_KEYS}
                                for task in view["active_tasks"]]
    level = incident_detail(actor)
    if incidents is None:
        incidents = session.scalars(select(Incident).where(Incident.instance_id == row.id, Incident.state == "open")
                                    .order_by(Incident.id)).all()
    view["incidents"] = [incident_view(i, level) for i in incidents]
    return view


def history(session: Session, actor: Principal, instance: ProcessInstance, events: Iterable[AuditEvent],
            forms: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The audit trail as the actor may read it, as plain dicts."""
    from engine.queries.views import audit_view

    seen = sight(session, actor, instance, forms)
    shown = []
    for event in seen.events(events):
        view = audit_view(event)
        view["data"] = seen.event_data(event)
        shown.append(view)
    return shown


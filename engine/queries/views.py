"""Plain-dict views of rows, as the REST API and the CLI show them."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from engine.clock import iso
from engine.models import AuditEvent, HumanTask, Incident, ProcessDefinition, ProcessInstance
from engine.queries import family


def task_view(task: HumanTask) -> dict[str, Any]:
    return {
        "id": task.id, "title": task.title, "process_key": task.process_key,
        "process_instance_id": task.instance_id, "business_key": task.business_key, "tenant": task.tenant,
        "candidate_groups": list(task.candidate_groups or []), "candidate_users": list(task.candidate_users or []),
        "assignee": task.assignee, "due_at": iso(task.due_at), "priority": task.priority,
        "form_key": task.form_key, "created_at": iso(task.created_at), "state": task.state,
        "element_id": task.element_id,
    }


def incident_view(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id, "process_instance_id": incident.instance_id, "element_id": incident.element_id,
        "kind": incident.kind, "message": incident.message, "traceback": incident.traceback,
        "state": incident.state, "created_at": iso(incident.created_at), "resolved_at": iso(incident.resolved_at),
        "resolved_by": incident.resolved_by,
    }


def instance_view(session: Session, row: ProcessInstance, detail: bool = True) -> dict[str, Any]:
    view = {
        "id": row.id, "process_key": row.process_key, "version": row.version, "business_key": row.business_key,
        "tenant": row.tenant, "state": row.state, "started_at": iso(row.started_at), "ended_at": iso(row.ended_at),
        "started_by": row.started_by, "end_reason": row.end_reason,
    }
    if detail:
        tasks = family.open_tasks(session, row)
        incidents = sorted(family.incidents(session, row), key=lambda i: i.id)
        view["variables"] = row.variables or {}
        view["active_tasks"] = [task_view(t) for t in tasks]
        view["incidents"] = [incident_view(i) for i in incidents]
    return view


def definition_view(row: ProcessDefinition) -> dict[str, Any]:
    return {
        "id": row.id, "key": row.key, "version": row.version, "name": row.name, "deployment_id": row.deployment_id,
        "deployed_at": iso(row.deployed_at), "starter_groups": list(row.starter_groups or []),
        "start_form_key": row.start_form_key, "message_starts": list(row.message_starts or []),
    }


def audit_view(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id, "at": iso(event.at), "actor": event.actor, "action": event.action,
        "task_id": event.task_id, "element_id": event.element_id, "data": event.data or {},
    }

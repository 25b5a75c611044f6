"""Per-element counts of one process version, as Camunda Cockpit badges show them, and the
instances standing at one element.

The "now" numbers come from ``instance_tokens`` (one indexed GROUP BY, no workflow opened):
``running`` counts tokens of kind active or scope (a sub-process or call activity with a
token inside), ``listeners`` the boundary events and event sub-processes that only wait,
kept apart so a waiting 需求取消 boundary never reads as "23 instances here".
Everything is scoped to what the actor may see (an operator user: their tenant only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.models import Incident, InstanceToken, ProcessInstance
from engine.principal import Principal

RUNNING_KINDS = ("active", "scope")
LIST_LIMIT = 200  # the side panel lists at most this many instances of one element


@dataclass
class ElementCounts:
    """element id -> count, per badge."""

    running: dict[str, int] = field(default_factory=dict)
    listeners: dict[str, int] = field(default_factory=dict)
    incidents: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"running": self.running, "listeners": self.listeners, "incidents": self.incidents}


def _scoped(stmt, actor: Principal):
    if actor.tenant is None:
        return stmt
    return stmt.where(ProcessInstance.tenant == actor.tenant)


def element_counts(session: Session, actor: Principal, definition_id: int) -> ElementCounts:
    """Running tokens, waiting listeners and open incidents per element of one version."""
    counts = ElementCounts()
    stmt = (select(InstanceToken.element_id, InstanceToken.kind, func.count(func.distinct(InstanceToken.instance_id)))
            .join(ProcessInstance, ProcessInstance.id == InstanceToken.instance_id)
            .where(InstanceToken.definition_id == definition_id)
            .group_by(InstanceToken.element_id, InstanceToken.kind))
    for element, kind, count in session.execute(_scoped(stmt, actor)):
        target = counts.listeners if kind == "listener" else counts.running
        target[element] = target.get(element, 0) + count
    # An incident is written on the root; it belongs to this version where one of its tokens stands.
    incident_stmt = (select(Incident.element_id, func.count(func.distinct(Incident.id)))
                     .join(InstanceToken, (InstanceToken.root_id == Incident.instance_id)
                           & (InstanceToken.element_id == Incident.element_id))
                     .join(ProcessInstance, ProcessInstance.id == InstanceToken.instance_id)
                     .where(InstanceToken.definition_id == definition_id, Incident.state == "open")
                     .group_by(Incident.element_id))
    counts.incidents = {element: count for element, count in session.execute(_scoped(incident_stmt, actor))}
    return counts


@dataclass
class StandingInstance:
    """One instance at an element now (what the side panel lists)."""

    id: int
    business_key: str | None
    state: str
    kind: str
    since: datetime
    root_id: int


def instances_at(session: Session, actor: Principal, definition_id: int, element_id: str,
                 limit: int = LIST_LIMIT) -> tuple[list[StandingInstance], int]:
    """The instances of a version whose token (or listener) stands at the element, oldest
    first, and how many there are in all."""
    base = (select(InstanceToken, ProcessInstance)
            .join(ProcessInstance, ProcessInstance.id == InstanceToken.instance_id)
            .where(InstanceToken.definition_id == definition_id, InstanceToken.element_id == element_id))
    base = _scoped(base, actor)
    seen: dict[int, StandingInstance] = {}
    for token, row in session.execute(base.order_by(InstanceToken.since, InstanceToken.id)):
        if row.id in seen:
            continue
        seen[row.id] = StandingInstance(row.id, row.business_key, row.state, token.kind, token.since, token.root_id)
    found = list(seen.values())
    total = len(found)
    return found[:limit], total

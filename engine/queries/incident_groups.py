"""Open incidents grouped by what failed, so one broken system is one line, not 300.

A group is (process, element, kind of failure, message with its numbers and ids taken out):
"order 123 failed" and "order 456 failed" are one group. The grouping is done here in
Python, because no SQL both databases share can normalise a message; open incidents are few
(each one is a person's to-do), so reading them all is fine.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import EngineError, NotFound
from engine.models import Incident, ProcessInstance
from engine.principal import Principal
from engine.queries import visibility
from engine.runtime import jobs
from engine.runtime.repairs import require_supervisor

if TYPE_CHECKING:
    from engine.platform import Platform

UUID_TEXT = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
HEX = re.compile(r"\b0x[0-9a-fA-F]+\b|\b[0-9a-fA-F]{12,}\b")
WITH_DIGITS = re.compile(r"[\w.\-:/]*\d[\w.\-:/]*")  # 123, T-0042, 10.0.0.7:8080, 2026-12-01T09:00
QUOTED = re.compile(r"'[^']{0,200}'|\"[^\"]{0,200}\"")
SPACES = re.compile(r"\s+")
SAMPLE_MAX = 500


def normalise(message: str | None) -> str:
    """The message with what differs per instance replaced: ids, numbers, quoted values."""
    text = (message or "").split("\n", 1)[0]
    text = UUID_TEXT.sub("<id>", text)
    text = HEX.sub("<id>", text)
    text = QUOTED.sub("'…'", text)
    text = WITH_DIGITS.sub("<n>", text)
    return SPACES.sub(" ", text).strip()[:300]


def group_key(process_key: str, element_id: str | None, kind: str, pattern: str) -> str:
    raw = json.dumps([process_key, element_id or "", kind, pattern], ensure_ascii=False)
    return hashlib.sha1(raw.encode()).hexdigest()[:16]


@dataclass
class GroupedIncident:
    id: int
    instance_id: int
    business_key: str | None
    tenant: str | None
    message: str
    created_at: datetime


@dataclass
class IncidentGroup:
    key: str
    process_key: str
    element_id: str | None
    element_name: str | None
    kind: str
    pattern: str
    sample: str
    first_seen: datetime
    last_seen: datetime
    incidents: list[GroupedIncident] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.incidents)

    @property
    def instance_ids(self) -> list[int]:
        return sorted({i.instance_id for i in self.incidents})

    def as_dict(self, with_incidents: bool = True) -> dict[str, Any]:
        data = {"key": self.key, "process_key": self.process_key, "element_id": self.element_id,
                "element_name": self.element_name, "kind": self.kind, "pattern": self.pattern,
                "sample": self.sample, "count": self.count, "instances": len(self.instance_ids),
                "first_seen": self.first_seen.isoformat(), "last_seen": self.last_seen.isoformat()}
        if with_incidents:
            data["incidents"] = [{"id": i.id, "process_instance_id": i.instance_id, "business_key": i.business_key,
                                  "message": i.message, "created_at": i.created_at.isoformat()}
                                 for i in self.incidents]
        return data


def incident_groups(platform: Platform, session: Session, actor: Principal,
                    process_key: str | None = None) -> list[IncidentGroup]:
    """Open incidents the actor may see, grouped; biggest group first. A tenant's user reads the
    one-line reason for each (visibility.incident_detail), and is grouped by it."""
    detail = visibility.incident_detail(actor)
    stmt = (select(Incident, ProcessInstance.process_key, ProcessInstance.definition_id,
                   ProcessInstance.business_key, ProcessInstance.tenant)
            .join(ProcessInstance, ProcessInstance.id == Incident.instance_id)
            .where(Incident.state == "open").order_by(Incident.id))
    if actor.tenant is not None:
        stmt = stmt.where(ProcessInstance.tenant == actor.tenant)
    if process_key:
        stmt = stmt.where(ProcessInstance.process_key == process_key)
    groups: dict[str, IncidentGroup] = {}
    names = _ElementNames(platform, session)
    for incident, key, definition_id, business_key, tenant in session.execute(stmt):
        if detail == "reason":
            reason = visibility.incident_reason(incident)
            message = pattern = visibility.REASONS[reason]
        else:
            message = incident.message or ""
            pattern = normalise(message)
        gkey = group_key(key, incident.element_id, incident.kind, pattern)
        group = groups.get(gkey)
        if group is None:
            group = groups[gkey] = IncidentGroup(
                gkey, key, incident.element_id, names.name(definition_id, incident.element_id), incident.kind,
                pattern, message[:SAMPLE_MAX], incident.created_at, incident.created_at)
        group.first_seen = min(group.first_seen, incident.created_at)
        group.last_seen = max(group.last_seen, incident.created_at)
        group.incidents.append(GroupedIncident(incident.id, incident.instance_id, business_key, tenant,
                                               message[:SAMPLE_MAX], incident.created_at))
    return sorted(groups.values(), key=lambda g: (-g.count, g.process_key, g.element_id or "", g.key))


def find_group(platform: Platform, session: Session, actor: Principal, key: str) -> IncidentGroup:
    for group in incident_groups(platform, session, actor):
        if group.key == key:
            return group
    raise NotFound("no open incidents are grouped under %(key)s", key=key)


@dataclass
class GroupRetry:
    retried: list[int] = field(default_factory=list)  # incident ids
    failed: list[tuple[int, int, str]] = field(default_factory=list)  # (incident, instance, English reason)
    errors: dict[int, Exception] = field(default_factory=dict)  # incident id -> the engine's error

    def as_dict(self) -> dict[str, Any]:
        return {"retried": len(self.retried), "retried_ids": self.retried,
                "failed": [{"incident_id": i, "process_instance_id": p, "reason": r} for i, p, r in self.failed]}


def retry_group(platform: Platform, actor: Principal, key: str) -> GroupRetry:
    """Retry every incident of the group, one transaction each: one that fails is reported, the
    rest still go (an incident another supervisor already retried is such a failure)."""
    require_supervisor(actor)
    with platform.Session() as session:
        group = find_group(platform, session, actor, key)
    result = GroupRetry()
    for incident in group.incidents:
        try:
            jobs.retry_incident(platform, actor, incident.id)
        except EngineError as exc:
            result.failed.append((incident.id, incident.instance_id, exc.message))
            result.errors[incident.id] = exc
        else:
            result.retried.append(incident.id)
    return result


class _ElementNames:
    """An element's name from the version's spec (the called processes' too), looked up once."""

    def __init__(self, platform: Platform, session: Session):
        self.platform = platform
        self.session = session
        self.cache: dict[tuple[int, str | None], str | None] = {}

    def name(self, definition_id: int, element_id: str | None) -> str | None:
        if element_id is None:
            return None
        key = (definition_id, element_id)
        if key not in self.cache:
            self.cache[key] = self._lookup(definition_id, element_id)
        return self.cache[key]

    def _lookup(self, definition_id: int, element_id: str) -> str | None:
        try:
            spec, subs = self.platform.specs(self.session, definition_id)
        except Exception:
            return None
        for candidate in [spec, *(subs or {}).values()]:
            task_spec = candidate.task_specs.get(element_id)
            if task_spec is not None:
                return getattr(task_spec, "bpmn_name", None)
        return None

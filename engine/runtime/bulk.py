"""One action over many instances: retry, suspend, resume or terminate a filtered list.

Each instance goes through the same single-instance function a person would use, in its own
transaction, so one refusal (already ended, a called process, a database hiccup) is written
down as that instance's failure and the rest go on. The ids are read in batches of
``batch_size`` so memory stays flat; a request that would touch more than ``MAX_INSTANCES``
is refused before anything changes (narrow the filter, or run it again).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select

from engine.errors import BadRequest, EngineError
from engine.models import Incident
from engine.principal import Principal
from engine.runtime import instances, jobs
from engine.runtime.repairs import require_supervisor

if TYPE_CHECKING:
    from engine.platform import Platform

log = logging.getLogger(__name__)

ACTIONS = ("retry", "suspend", "resume", "terminate")
MAX_INSTANCES = 10_000


@dataclass
class Failure:
    """An instance the action could not be done to, and why (the engine's error)."""

    instance_id: int
    message: str  # English, filled in
    error: EngineError | None = None  # for the web layer to say it in the reader's language


@dataclass
class BulkResult:
    action: str
    total: int
    done: int = 0
    failed: list[Failure] = field(default_factory=list)
    batches: int = 0
    retried_incidents: int = 0

    def as_dict(self) -> dict:
        return {"action": self.action, "total": self.total, "done": self.done, "batches": self.batches,
                "retried_incidents": self.retried_incidents,
                "failed": [{"id": f.instance_id, "reason": f.message} for f in self.failed]}


def check_action(action: str) -> None:
    if action not in ACTIONS:
        raise BadRequest("unknown bulk action '%(action)s'; use one of %(actions)s", action=action,
                         actions=", ".join(ACTIONS))


def effective_filter(action: str, flt: instances.InstanceFilter) -> instances.InstanceFilter:
    """A retry over a filter means the instances of it that have an open incident."""
    if action == "retry" and flt.has_incident is None:
        return dataclasses.replace(flt, has_incident=True)
    return flt


def matching_ids(platform: Platform, actor: Principal, flt: instances.InstanceFilter,
                 limit: int = MAX_INSTANCES + 1) -> list[int]:
    """The ids of the instances the list shows for ``flt`` (the actor's tenant scope), oldest first."""
    ids: list[int] = []
    offset = 0
    with platform.Session() as session:
        while len(ids) < limit:
            rows, _total = instances.list_instances(session, actor, flt, offset, min(1000, limit - len(ids)),
                                                    platform.clock.now())
            if not rows:
                break
            ids += [row.id for row in rows]
            offset += len(rows)
    return sorted(ids)


def count_matching(platform: Platform, actor: Principal, flt: instances.InstanceFilter) -> int:
    with platform.Session() as session:
        _rows, total = instances.list_instances(session, actor, flt, 0, 1, platform.clock.now())
        return total


def bulk(platform: Platform, actor: Principal, action: str,
         instance_ids: list[int] | None = None, flt: instances.InstanceFilter | None = None,
         reason: str | None = None, batch_size: int = 50) -> BulkResult:
    """Do ``action`` to each instance in ``instance_ids`` (or matching ``flt``); never stops at a failure."""
    require_supervisor(actor)
    check_action(action)
    reason = (reason or "").strip() or None
    if action == "terminate" and not reason:
        raise BadRequest("a reason is required to terminate an instance")
    if (instance_ids is None) == (flt is None):
        raise BadRequest("give either instance ids or a filter")
    if instance_ids is not None:
        ids = sorted({int(i) for i in instance_ids})
    else:
        ids = matching_ids(platform, actor, effective_filter(action, flt))
    if len(ids) > MAX_INSTANCES:
        raise BadRequest("at most %(max)s instances can be changed at once; narrow the filter", max=MAX_INSTANCES)
    if not ids:
        raise BadRequest("no instance matches")
    result = BulkResult(action, len(ids))
    batch_size = max(1, min(500, batch_size))
    for start in range(0, len(ids), batch_size):
        result.batches += 1
        for instance_id in ids[start:start + batch_size]:
            try:
                result.retried_incidents += _one(platform, actor, action, instance_id, reason)
            except EngineError as exc:
                result.failed.append(Failure(instance_id, exc.message, exc))
            except Exception as exc:  # a database error for one instance must not stop the rest
                log.warning("bulk %s of instance %s failed", action, instance_id, exc_info=True)
                result.failed.append(Failure(instance_id, f"{exc.__class__.__name__}: {exc}"))
            else:
                result.done += 1
    return result


def _one(platform: Platform, actor: Principal, action: str, instance_id: int, reason: str | None) -> int:
    if action == "suspend":
        instances.suspend(platform, actor, instance_id, reason)
    elif action == "resume":
        instances.resume(platform, actor, instance_id, reason)
    elif action == "terminate":
        instances.terminate(platform, actor, instance_id, reason or "")
    else:
        return _retry(platform, actor, instance_id)
    return 0


def _retry(platform: Platform, actor: Principal, instance_id: int) -> int:
    """Retry every open incident of the instance; an instance with none is a failure."""
    with platform.Session() as session:
        row = instances.visible_instance(session, actor, instance_id)
        incident_ids = list(session.scalars(select(Incident.id).where(
            Incident.instance_id == row.id, Incident.state == "open").order_by(Incident.id)))
        if not incident_ids and row.parent_id is not None:
            raise BadRequest("instance %(id)s is a process called by instance %(root)s; act on that instance",
                             id=instance_id, root=row.root_id)
    if not incident_ids:
        raise BadRequest("instance %(id)s has no open incident to retry", id=instance_id)
    for incident_id in incident_ids:
        jobs.retry_incident(platform, actor, incident_id)
    return len(incident_ids)


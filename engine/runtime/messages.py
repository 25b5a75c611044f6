"""Messages from outside: deliver to waiting instances or start a process, exactly once.

The message row (unique ``message_id``) is inserted first in the same transaction as the
deliveries: a concurrent duplicate waits on the unique index, fails, and answers with the
stored result of the first, so the same message is never delivered twice.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, load_only

from engine.errors import BadRequest, Conflict, NotFound
from engine.models import MessageSubscription, ProcessDefinition, ProcessInstance, ReceivedMessage
from engine.principal import Principal
from engine.runtime import audit
from engine.runtime.advance import apply_in_step
from engine.runtime.instance_run import InstanceRun
from engine.runtime.instances import check_may_start, instance_tenant
from engine.runtime.workflow import waiting_messages

if TYPE_CHECKING:
    from engine.platform import Platform


def deliver(platform: Platform, actor: Principal, name: str, message_id: str,
            business_key: str | None = None, correlation: dict[str, Any] | None = None,
            payload: dict[str, Any] | None = None) -> dict[str, Any]:
    """Deliver a message; returns ``{"message_id", "delivered_to", "started"}``."""
    return deliver_queued(platform, actor, name, message_id, business_key, correlation, payload)[0]


def deliver_queued(platform: Platform, actor: Principal, name: str, message_id: str,
                   business_key: str | None = None, correlation: dict[str, Any] | None = None,
                   payload: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[int]]:
    """``deliver``, and the instances whose steps queued work for ``jobs.drain`` (a repeated
    message_id: every instance it reached, as before)."""
    if not name or not message_id:
        raise BadRequest("a message needs a name and a message_id")
    if payload is not None and not isinstance(payload, dict):
        raise BadRequest("payload must be an object")
    payload = payload or {}
    correlation = correlation or {}
    previous = _previous(platform, actor, message_id)
    if previous is not None:
        return previous, previous["delivered_to"] + previous["started"]
    queued: set[int] = set()
    try:
        with platform.transaction() as session:
            record = ReceivedMessage(message_id=message_id, name=name, business_key=business_key,
                                     tenant=actor.tenant, payload=payload, result={},
                                     received_at=platform.clock.now(), received_by=actor.username)
            session.add(record)
            session.flush()
            delivered = _deliver_to_waiting(platform, session, actor, name, business_key, correlation, payload,
                                            queued)
            started = [] if delivered else _start_by_message(platform, session, actor, name, business_key,
                                                             payload, queued)
            if not delivered and not started:
                raise NotFound(_nobody_waiting(name, business_key, correlation),
                               {"name": name, "business_key": business_key, "correlation": correlation})
            record.result = {"message_id": message_id, "delivered_to": delivered, "started": started}
            result = dict(record.result)
    except IntegrityError:
        previous = _previous(platform, actor, message_id)
        if previous is None:
            raise
        return previous, previous["delivered_to"] + previous["started"]
    return result, [i for i in result["delivered_to"] + result["started"] if i in queued]


def _previous(platform: Platform, actor: Principal, message_id: str) -> dict[str, Any] | None:
    with platform.Session() as session:
        record = session.scalar(select(ReceivedMessage).where(ReceivedMessage.message_id == message_id))
        if record is None:
            return None
        if not actor.sees_tenant(record.tenant):
            raise Conflict("message_id '%(message_id)s' was already used", message_id=message_id)
        return dict(record.result)


def _nobody_waiting(name: str, business_key: str | None, correlation: dict[str, Any]) -> str:
    text = f"no instance is waiting for message '{name}'"
    if business_key:
        text += f" with business key '{business_key}'"
    if correlation:
        text += f" and correlation {correlation}"
    return text + ", and no process starts on it"


def _deliver_to_waiting(platform: Platform, session: Session, actor: Principal, name: str,
                        business_key: str | None, correlation: dict[str, Any],
                        payload: dict[str, Any], queued: set[int]) -> list[int]:
    stmt = (select(MessageSubscription, ProcessInstance)
            .join(ProcessInstance, ProcessInstance.id == MessageSubscription.instance_id)
            .where(MessageSubscription.name == name,
                   ProcessInstance.state.in_(("running", "waiting", "error"))))
    if business_key is not None:
        stmt = stmt.where(MessageSubscription.business_key == business_key)
    if actor.tenant is not None:
        stmt = stmt.where(MessageSubscription.tenant == actor.tenant)
    instance_ids = sorted({inst.id for sub, inst in session.execute(stmt)
                           if _correlates(sub, inst, correlation)})
    delivered = []
    for instance_id in instance_ids:
        caught = _send(platform, session, actor, instance_id, name, payload, correlation, queued)
        if caught:
            delivered.append(instance_id)
    return delivered


def _correlates(sub: MessageSubscription, instance: ProcessInstance, correlation: dict[str, Any]) -> bool:
    """Each requested key must equal the instance's correlation property or variable of that name."""
    known = dict(instance.variables or {})
    known.update(sub.correlations or {})
    return all(known.get(key) == value for key, value in correlation.items())


def _send(platform: Platform, session: Session, actor: Principal, instance_id: int, name: str,
          payload: dict[str, Any], correlation: dict[str, Any], queued: set[int]) -> bool:
    def open_run(s: Session) -> InstanceRun:
        return InstanceRun.open(platform, s, instance_id)

    def change(run: InstanceRun) -> bool:
        caught = catch_message(run, name, payload, correlation)
        if caught:
            audit.record(run.session, instance_id, actor.username, "message.received",
                         data={"name": name, "payload": payload}, at=platform.clock.now())
        return caught

    step = apply_in_step(platform, session, open_run, change)
    if step.queued:
        queued.add(instance_id)
    return bool(step.result)


def catch_message(run: InstanceRun, name: str, payload: dict[str, Any],
                  correlation: dict[str, Any] | None = None) -> bool:
    """Hand the message to the first task waiting for it; False when none takes it."""
    for waiting in waiting_messages(run.workflow):
        if waiting.name != name:
            continue
        definition: MessageEventDefinition = waiting.task.task_spec.event_definition
        message = {**(correlation or {}), **payload}  # the model's retrieval expressions read both
        correlations = _event_correlations(waiting.task, definition, message)
        if correlations is None:
            return False
        event = BpmnEvent(copy.copy(definition), payload=message, correlations=correlations)
        try:
            run.workflow.send_event(event)
        except WorkflowException:
            return False
        if getattr(definition, "message_var", None) is None:
            waiting.task.set_data(**payload)  # Camunda-like: payload fields become variables
        return True
    return False


def _event_correlations(task, definition: MessageEventDefinition, message: dict[str, Any]) -> dict[str, Any]:
    """The message's correlation keys from the model's retrieval expressions; None when the
    message lacks a value they need, so it correlates with nothing."""
    try:
        return definition.get_correlations(task, message)
    except Exception:
        return None


def _start_by_message(platform: Platform, session: Session, actor: Principal, name: str,
                      business_key: str | None, payload: dict[str, Any], queued: set[int]) -> list[int]:
    definitions = _latest_catching(session, name)
    started = []
    for definition in definitions:
        check_may_start(definition, actor)
        tenant = instance_tenant(actor, None)

        def open_run(s: Session, definition=definition, tenant=tenant) -> InstanceRun:
            return InstanceRun.create(platform, s, s.get(ProcessDefinition, definition.id), business_key,
                                      tenant, actor.username)

        def change(run: InstanceRun) -> bool:
            audit.record(run.session, run.row.id, actor.username, "instance.started",
                         data={"business_key": business_key, "message": name}, at=platform.clock.now())
            open_start_events(run.workflow)
            return catch_message(run, name, payload)

        step = apply_in_step(platform, session, open_run, change)
        started.append(step.instance_id)
        if step.queued:
            queued.add(step.instance_id)
    return started


def open_start_events(wf) -> None:
    """Bring the workflow up to its start events without letting a none start event run:
    a process with a message start and a none start would otherwise take the none start
    before the message is handed over, and lose the message."""
    for _ in range(20):
        ready = [t for t in wf.tasks.values()
                 if t.state == TaskState.READY and not isinstance(t.task_spec, StartEvent)]
        if not ready:
            break
        for task in ready:
            if task.state == TaskState.READY:
                task.run()
    for task in list(wf.tasks.values()):
        if isinstance(task.task_spec, StartEvent) and task.state == TaskState.READY:
            task.cancel()


def _latest_catching(session: Session, name: str) -> list[ProcessDefinition]:
    rows = session.scalars(
        select(ProcessDefinition)
        .options(load_only(ProcessDefinition.key, ProcessDefinition.version, ProcessDefinition.message_starts,
                           ProcessDefinition.starter_groups))
        .order_by(ProcessDefinition.key, ProcessDefinition.version.desc())
    ).all()
    latest: dict[str, ProcessDefinition] = {}
    for row in rows:
        latest.setdefault(row.key, row)
    return [d for d in latest.values() if name in (d.message_starts or [])]

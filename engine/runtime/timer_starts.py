"""Processes that start on a timer: deploying a version arms it.

As in Camunda, a process whose start event is a timer is scheduled when it is deployed, not
started by anyone: the engine starts one instance of the new version (``started_by`` is
``timer-start``) that waits on the timer start event; a cycle (``R/P1D``) fires every cycle
within that instance. Deploying a new version retires the armed instance of the older one.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from sqlalchemy import select

from engine.definitions.serialization import specs_from_json
from engine.errors import EngineError
from engine.models import ProcessInstance
from engine.principal import Principal
from engine.runtime import instances
from engine.runtime.instance_run import FINAL_STATES

if TYPE_CHECKING:
    from engine.platform import Platform

log = logging.getLogger(__name__)
TIMER_STARTER = Principal("timer-start", frozenset({"admin"}))


def starts_on_timer(spec) -> bool:
    """Whether the process (not a subprocess) has a timer start event."""
    return any(isinstance(ts, StartEvent) and isinstance(getattr(ts, "event_definition", None), TimerEventDefinition)
               for ts in spec.task_specs.values())


def arm(platform: Platform, process_keys: list[str]) -> list[int]:
    """Start the armed instance of the latest version of each timer-started process."""
    started = []
    for key in process_keys:
        with platform.Session() as session:
            definition = instances.latest_definition(session, key)
            spec, _ = specs_from_json(definition.spec_json)
            if not starts_on_timer(spec):
                continue
            older = list(session.scalars(select(ProcessInstance.id).where(
                ProcessInstance.process_key == key, ProcessInstance.started_by == TIMER_STARTER.username,
                ProcessInstance.version < definition.version,
                ProcessInstance.state.not_in(FINAL_STATES))))
            version = definition.version
        for instance_id in older:
            instances.terminate(platform, TIMER_STARTER, instance_id, f"replaced by version {version}")
        try:
            started.append(instances.start(platform, TIMER_STARTER, key))
        except EngineError:
            log.exception("could not arm the timer start of %s v%s", key, version)
    return started


def armed_instances(platform: Platform, key: str) -> list[ProcessInstance]:
    with platform.Session() as session:
        return list(session.scalars(select(ProcessInstance).where(
            ProcessInstance.process_key == key, ProcessInstance.started_by == TIMER_STARTER.username)))

"""Lifecycle listeners: the engine's extension point for code that must follow every instance.

A listener is an object with any of the five hooks below; the platform calls them, in the order
the listeners were registered, inside the transaction that changed the instance. Whatever a
listener writes with ``event.session`` commits or rolls back with the change itself, and an
exception from a listener rolls the whole change back (the caller gets the error).

Why this shape (docs/engine.md, "Extension point"): Camunda's execution and task listeners run
inside the engine's transaction too, but are named per element in the BPMN; these are
platform-wide, so a diagram never has to name Python code. Flask's signals are notifications a
receiver cannot veto; here a failing listener stops the change, as a database trigger would.
Temporal's interceptors wrap calls in a chain; a listener only observes what happened, which is
all a read model (such as the tower package's demand mirror) needs, and cannot alter the step.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from engine.models import HumanTask, ProcessInstance

HOOKS = ("instance_saved", "instance_completed", "instance_cancelled", "task_created", "task_completed")


@dataclass(frozen=True)
class InstanceEvent:
    """An instance was saved, completed, or cancelled (ended on a cancel end event, or terminated)."""

    session: Session
    instance: ProcessInstance
    at: datetime
    changed: Mapping[str, Any] = field(default_factory=dict)  # variables this save changed (None: removed)
    actor: str | None = None
    reason: str | None = None  # the instance's end reason (why it was cancelled or terminated)


@dataclass(frozen=True)
class TaskEvent:
    """A human task was created (offered to its candidates) or completed."""

    session: Session
    instance: ProcessInstance
    task: HumanTask
    at: datetime
    actor: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)  # the completed form, as validated


class LifecycleListener:
    """Base class with a no-op for every hook: override the ones you need."""

    def instance_saved(self, event: InstanceEvent) -> None:
        """After every save of an instance's workflow, with the variables it changed."""

    def instance_completed(self, event: InstanceEvent) -> None:
        """Once, when the instance reached a normal end event (state ``completed``)."""

    def instance_cancelled(self, event: InstanceEvent) -> None:
        """Once, when the instance ended without its goal: its diagram reached a cancel end event
        (state ``cancelled``, ``actor`` None) or a supervisor (or a newer timer-start version)
        terminated it (state ``terminated``). ``reason`` is the instance's end reason; a listener
        that must tell the two apart reads ``event.instance.state``."""

    def task_created(self, event: TaskEvent) -> None:
        """When a user task became ready and its row was written (it has an id)."""

    def task_completed(self, event: TaskEvent) -> None:
        """When someone completed a user task, before the engine runs on."""


class Lifecycle:
    """The registered listeners, grouped by the hooks each one overrides, so a hook nobody
    listens to costs nothing on the hot path."""

    def __init__(self, listeners: Iterable[object] = ()):
        self._by_hook: dict[str, list] = {hook: [] for hook in HOOKS}
        for listener in listeners:
            self.add(listener)

    def add(self, listener: object) -> None:
        hooks = [hook for hook in HOOKS if _overrides(listener, hook)]
        if not hooks:
            raise TypeError(f"{type(listener).__name__} has none of the lifecycle hooks {', '.join(HOOKS)}")
        for hook in hooks:
            self._by_hook[hook].append(getattr(listener, hook))

    def listens(self, hook: str) -> bool:
        return bool(self._by_hook[hook])

    def emit(self, hook: str, event: InstanceEvent | TaskEvent) -> None:
        for call in self._by_hook[hook]:
            call(event)


def _overrides(listener: object, hook: str) -> bool:
    method = getattr(type(listener), hook, None)
    return callable(method) and method is not getattr(LifecycleListener, hook, None)

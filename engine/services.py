"""Registry of service-task handlers, keyed by the BPMN operator id."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ServiceCall:
    """What a handler gets besides its parameters."""

    operator: str
    idempotency_key: str
    instance_id: int
    business_key: str | None
    tenant: str | None
    element_id: str
    attempt: int
    variables: dict[str, Any] = field(default_factory=dict)
    platform: Any = None  # the running Platform, for handlers that read or write tables
    session: Any = None  # the job's transaction: rows written here commit with the task's completion

    @contextmanager
    def db(self, fallback: Any = None) -> Iterator[Any]:
        """The job's own session, or, for a handler called outside a job, a short transaction
        of the call's platform (or ``fallback``, a platform the handler module was given)."""
        if self.session is not None:
            yield self.session
            return
        platform = self.platform or fallback
        if platform is None:
            raise RuntimeError(f"{self.operator} needs a database: no session or platform came with the call")
        with platform.transaction() as session:
            yield session

    def clock_now(self, fallback: Any = None):
        """The platform's time (naive UTC), so handlers follow a test's manual clock."""
        platform = self.platform or fallback
        if platform is None:
            raise RuntimeError(f"{self.operator} needs the platform's clock: no platform came with the call")
        return platform.clock.now()


Handler = Callable[[dict[str, Any], ServiceCall], Any]
# True, or a test of the platform (e.g. "a URL is set for this system"): the handler waits on the network
Remote = bool | Callable[[Any], bool]


class ServiceRegistry:
    """Handlers by operator id. A handler registered ``remote=True`` (or with a test of the
    platform that says so, e.g. whether its system's URL is set) calls another system over
    the network and keeps its own records idempotent by the call's key (as handlers/outbound.py
    does with the outbox): the job runner calls it outside every lock and transaction, then
    stores its answer in a transaction of its own (engine/runtime/remote_calls.py). Any other
    handler runs inside the step's transaction, and the rows it writes through ``call.session``
    commit with the task's completion."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._remote: dict[str, Remote] = {}

    def register(self, operator: str, *, remote: Remote = False) -> Callable[[Handler], Handler]:
        """Decorator: ``@registry.register("pms.create_project", remote=True)``."""

        def decorate(fn: Handler) -> Handler:
            self.add(operator, fn, remote=remote)
            return fn

        return decorate

    def add(self, operator: str, fn: Handler, *, remote: Remote = False) -> None:
        self._handlers[operator] = fn
        self._remote[operator] = remote

    def remove(self, operator: str) -> None:
        self._handlers.pop(operator, None)
        self._remote.pop(operator, None)

    def is_remote(self, operator: str | None, platform: Any) -> bool:
        remote = self._remote.get(operator or "", False)
        return bool(remote(platform)) if callable(remote) else bool(remote)

    def get(self, operator: str) -> Handler | None:
        return self._handlers.get(operator)

    def __contains__(self, operator: str) -> bool:
        return operator in self._handlers

    def names(self) -> set[str]:
        return set(self._handlers)

    def copy(self) -> ServiceRegistry:
        """A registry with the same handlers, to extend without touching this one."""
        other = ServiceRegistry()
        other._handlers.update(self._handlers)
        other._remote.update(self._remote)
        return other


registry = ServiceRegistry()
service = registry.register

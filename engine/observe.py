"""Callbacks the engine calls when work happens: a step saved, a timer fired, a job ran.

The web layer connects its Prometheus metrics here (web/metrics.py), so the engine measures
without importing prometheus_client, as Flask's signals or Temporal's interceptors do. With no
receiver connected an event costs a loop over an empty list. A receiver that raises is logged
and otherwise ignored: measuring never breaks the work measured.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class Event:
    """One kind of happening; ``connect`` a receiver once, ``send`` calls every receiver."""

    def __init__(self, name: str, doc: str) -> None:
        self.name = name
        self.__doc__ = doc
        self.receivers: list[Callable[..., Any]] = []

    def connect(self, receiver: Callable[..., Any]) -> None:
        """Add ``receiver``; connecting the same one twice keeps one (apps built again in a process)."""
        if receiver not in self.receivers:
            self.receivers.append(receiver)

    def disconnect(self, receiver: Callable[..., Any]) -> None:
        if receiver in self.receivers:
            self.receivers.remove(receiver)

    def send(self, *args: Any) -> None:
        for receiver in self.receivers:
            try:
                receiver(*args)
            except Exception:
                log.warning("receiver %r of %s failed", receiver, self.name, exc_info=True)


step_done = Event("step_done", "The engine ran an instance on and saved it: ``(seconds)``.")
timer_fired = Event("timer_fired", "A timer fired: ``(lateness_seconds)``, how long after its due time.")
job_ran = Event("job_ran", "A job was run: ``(kind, outcome)``, outcome ``done`` or ``failed`` (an attempt).")

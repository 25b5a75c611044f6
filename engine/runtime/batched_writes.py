"""The saves of a batch of timers, written together (issue 16, point 4: "batch the saves").

A timer's save writes a handful of rows by prebuilt statements: the instance's UPDATE, its
token moves, its audit rows. One at a time that is a round trip and a statement's overhead
each, and for a timer that is most of its cost. Inside ``batched(session)`` those statements
are held per instance, in their order, and sent at the end as one ``executemany`` per statement
(psycopg sends an executemany in one pipeline).

Why the order can change: rows of two instances are never the same rows, so one instance's
writes commute with another's; an instance's own writes keep their order (the queues are
merged statement by statement, each queue from its head). A statement that must see the held
writes (a token statement not held, a read of the tokens) sends them first (``flush_held``).
A row count that is not what a write expects (the revision check of the instance's UPDATE, a
token that was not where the mirror said) fails the whole batch, which the timer runner then
rolls back and fires one timer at a time, where the usual checks and fall-backs apply.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

_KEY = "towerflow_held_writes"


class HeldWrites:
    """Statements held per instance, each with its parameters and the rows it must touch."""

    def __init__(self) -> None:
        self.queues: dict[int, deque[tuple[Any, dict[str, Any], int | None]]] = {}

    def add(self, instance_id: int, statement: Any, params: dict[str, Any], rows: int | None = None) -> None:
        self.queues.setdefault(instance_id, deque()).append((statement, params, rows))

    def send(self, session: Session) -> None:
        """Everything held, one executemany per statement while the queues' heads agree."""
        queues = [queue for queue in self.queues.values() if queue]
        self.queues = {}
        while queues:
            statement = queues[0][0][0]
            params, expected, checked = [], 0, True
            for queue in queues:
                while queue and queue[0][0] is statement:
                    _, one, rows = queue.popleft()
                    params.append(one)
                    if rows is None:
                        checked = False
                    else:
                        expected += rows
            result = session.execute(statement, params)
            if checked and result.rowcount != expected:
                raise StaleDataError(f"a batched write touched {result.rowcount} rows, not {expected}")
            queues = [queue for queue in queues if queue]


def held(session: Session) -> HeldWrites | None:
    """The writes being held for this session's batch, or None outside a batch."""
    return session.info.get(_KEY)


def flush_held(session: Session) -> None:
    """Send the held writes now: the next statement must see them."""
    writes = session.info.get(_KEY)
    if writes is not None:
        writes.send(session)


@contextmanager
def batched(session: Session) -> Iterator[HeldWrites]:
    """Hold the saves' writes in this block and send them at its end (not on an error: the
    transaction is rolled back then)."""
    writes = session.info[_KEY] = HeldWrites()
    try:
        yield writes
        writes.send(session)
    finally:
        session.info.pop(_KEY, None)

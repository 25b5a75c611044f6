"""Reads that may lag: lists, the dashboard and reports from a PostgreSQL streaming replica.

With ``TOWERFLOW_READ_REPLICA_URL`` set, ``Platform.read_session()`` opens its sessions on the
replica, and everything else (the inbox, a task, an instance's page, every write) stays on the
primary, so a user always sees their own writes where they act. A page that read the replica
says so when the replica is behind, or when it could not be reached and the primary answered
instead (docs/deploy.md, "Read replica").

How far behind: the primary's WAL position (``pg_current_wal_lsn()``) against the replica's
replayed one (``pg_last_wal_replay_lsn()``). Replayed at least as far as the primary had written:
caught up. Otherwise the lag is at least the time since this process first saw the primary at a
position the replica has not replayed yet. The replica's replay timestamp is not used: it is the
time of the last transaction replayed, so it grows while the primary is idle although nothing is
missing. One measurement is kept a few seconds; a replica found down is tried again after a few
seconds, and meanwhile every read goes to the primary.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from engine import db

if TYPE_CHECKING:
    from engine.platform import Platform

T = TypeVar("T")

NOTICE_AFTER_SECONDS = 5.0  # pages say the data may be old from this lag on
MEASURE_EVERY_SECONDS = 2.0  # a measured lag is kept this long
RETRY_DOWN_AFTER_SECONDS = 5.0  # a replica found unreachable is tried again after this long
CONNECT_TIMEOUT_SECONDS = 2  # a replica that does not answer is given up quickly: the primary answers
SAMPLES_KEPT = 1000


@dataclass(frozen=True)
class ReplicaState:
    """Where a read went and what its page should say."""

    source: str  # "replica" or "primary"
    lag_seconds: float = 0.0  # the replica is at least this far behind (0: caught up)
    down: bool = False  # a replica is set but could not be reached: the primary answered
    notice_after: float = NOTICE_AFTER_SECONDS

    @property
    def lagging(self) -> bool:
        """Read from a replica far enough behind that the page should say so."""
        return self.source == "replica" and self.lag_seconds >= self.notice_after


PRIMARY = ReplicaState("primary")


class Replica:
    """The replica's engine and sessions, and its lag as this process last measured it."""

    def __init__(self, url: str, primary: Engine, *, notice_after: float = NOTICE_AFTER_SECONDS,
                 measure_every: float = MEASURE_EVERY_SECONDS,
                 retry_down_after: float = RETRY_DOWN_AFTER_SECONDS):
        self.engine = db.make_replica_engine(url, connect_timeout=CONNECT_TIMEOUT_SECONDS)
        self.Session = sessionmaker(self.engine, expire_on_commit=False)
        self.primary = primary
        self.notice_after, self.measure_every, self.retry_down_after = notice_after, measure_every, retry_down_after
        self._lock = threading.Lock()
        self._state: ReplicaState | None = None
        self._measured_at = 0.0
        self._behind: list[tuple[float, int]] = []  # (when, primary's WAL position) the replica had not replayed

    def state(self) -> ReplicaState:
        """The last measurement while it is fresh, else a new one. One thread measures; the others
        keep the previous state meanwhile rather than wait for a replica that may not answer."""
        state = self._state
        if state is not None and not self._stale(state):
            return state
        if not self._lock.acquire(blocking=state is None):
            return state
        try:
            if self._state is None or self._stale(self._state):
                self._state = self._measure()
                self._measured_at = time.monotonic()
            return self._state
        finally:
            self._lock.release()

    def mark_down(self) -> None:
        """A read failed on the replica: read from the primary until it is tried again."""
        with self._lock:
            self._state = self._down()
            self._measured_at = time.monotonic()

    def close(self) -> None:
        self.engine.dispose()

    def _stale(self, state: ReplicaState) -> bool:
        keep = self.retry_down_after if state.down else self.measure_every
        return time.monotonic() - self._measured_at >= keep

    def _down(self) -> ReplicaState:
        self._behind.clear()
        return ReplicaState("primary", down=True, notice_after=self.notice_after)

    def _measure(self) -> ReplicaState:
        # the primary's position first: a replica that replayed that far is caught up to this moment
        with self.primary.connect() as conn:
            written = conn.execute(text("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")).scalar_one()
        now = time.monotonic()
        try:
            with self.engine.connect() as conn:
                recovering, replayed = conn.execute(text(
                    "SELECT pg_is_in_recovery(), pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::bigint")).one()
        except DBAPIError:
            return self._down()
        return ReplicaState("replica", self._lag(now, recovering, replayed, written), notice_after=self.notice_after)

    def _lag(self, now: float, recovering: bool, replayed: int | None, written: int) -> float:
        """Seconds since this process first saw the primary past what the replica has replayed."""
        if not recovering or replayed is None or replayed >= written:  # caught up (or promoted)
            self._behind.clear()
            return 0.0
        self._behind = [(when, position) for when, position in self._behind if position > replayed]
        if not self._behind or written > self._behind[-1][1]:
            self._behind.append((now, written))
        if len(self._behind) > SAMPLES_KEPT:
            del self._behind[1]  # the oldest one decides the lag; thin the rest
        return now - self._behind[0][0]


def read(platform: Platform, work: Callable[[Session], T]) -> tuple[T, ReplicaState]:
    """``work(session)`` on a session that may lag (``Platform.read_session``), and where it read.
    When the replica fails during the read (restarted, cut off, a query cancelled by replay), it is
    marked down and ``work`` runs again on the primary: a page that reads the replica never fails
    because of it."""
    with platform.read_session() as session:
        state: ReplicaState = session.info["replica"]
        try:
            return work(session), state
        except OperationalError:
            if state.source != "replica" or platform.replica is None:
                raise
            platform.replica.mark_down()
    with platform.read_session() as session:
        return work(session), session.info["replica"]

"""Reads that may lag: lists, the dashboard and reports from a PostgreSQL streaming replica.

With ``TOWERFLOW_READ_REPLICA_URL`` set, ``Platform.read_session()`` opens its sessions on the
replica, and everything else (the inbox, a task, an instance's page, every write) stays on the
primary, so a user always sees their own writes where they act. A page that read the replica
says so when the replica is behind, or when it could not be reached and the primary answered
instead (docs/deploy.md, "Read replica").

How far behind: the WAL positions decide whether the replica is behind at all, the replay
timestamp says by how much. Replayed (``pg_last_wal_replay_lsn()``) at least as far as the primary
had written (``pg_current_wal_lsn()``, read first): caught up, lag 0, however old the last replayed
transaction is (``pg_last_xact_replay_timestamp()`` ages while the primary is idle, although nothing
is missing). Behind: looked at again a moment later, and if the replica still has not replayed what
the primary had written, the lag is the age of the last transaction it replayed. The same answer
in every server process, from the databases alone. It overstates in one case: a replica that stops
replaying right after the first write of a long idle spell is reported as old as that spell.

One measurement is kept a few seconds; a replica found down is tried again after a few seconds,
and meanwhile every read goes to the primary.
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
RELOOK_SECONDS = 0.2  # a replica behind is looked at again after this long: is it stuck, or replaying?


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
        self._stuck_since: float | None = None  # when this process first found it behind (no replay timestamp)

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
        self._stuck_since = None
        return ReplicaState("primary", down=True, notice_after=self.notice_after)

    def _measure(self) -> ReplicaState:
        # the primary's position first: a replica that replayed that far is caught up to this moment
        with self.primary.connect() as conn:
            written = conn.execute(text("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")).scalar_one()
        try:
            replayed, age = self._replayed()
            if replayed is not None and replayed < written:
                time.sleep(RELOOK_SECONDS)  # a healthy replica replays within milliseconds
                replayed, age = self._replayed()
        except DBAPIError:
            return self._down()
        if replayed is None or replayed >= written:  # caught up (or not a replica at all: nothing to wait for)
            self._stuck_since = None
            return ReplicaState("replica", 0.0, notice_after=self.notice_after)
        if age is None:  # nothing replayed since the replica started: count from this process's first look
            self._stuck_since = self._stuck_since or time.monotonic()
            age = time.monotonic() - self._stuck_since
        return ReplicaState("replica", max(float(age), 0.0), notice_after=self.notice_after)

    def _replayed(self) -> tuple[int | None, float | None]:
        """The replica's replayed WAL position (None when it is not in recovery) and the age in
        seconds of the last transaction it replayed."""
        with self.engine.connect() as conn:
            return tuple(conn.execute(text(
                "SELECT CASE WHEN pg_is_in_recovery()"
                " THEN pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::bigint END,"
                " extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8")).one())


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

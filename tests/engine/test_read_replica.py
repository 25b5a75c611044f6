"""Reads that may lag go to a real PostgreSQL streaming replica; what must see its own writes stays
on the primary; the lag is measured from WAL positions; a replica that is down or fails mid-read
leaves the reads to the primary (engine/replica.py, docs/deploy.md).

Needs TOWERFLOW_TEST_DATABASE_URL and TOWERFLOW_TEST_REPLICA_DATABASE_URL: a streaming replica of that
server's cluster, as ``.ci/replica`` starts (port 5433). Replay is paused by some tests and
always resumed."""

from __future__ import annotations

import pytest
from helpers import PG_URL, deploy
from replica_help import NEEDS_REPLICA, REPLICA_URL, eventually, replay_paused, replica_url_for
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from engine import replica
from engine.models import ProcessInstance
from engine.principal import SYSTEM
from engine.replica import Replica
from engine.runtime import instances
from engine.settings import Settings
from web.app import build_platform

pytestmark = pytest.mark.skipif(not (PG_URL and REPLICA_URL), reason=NEEDS_REPLICA)


@pytest.fixture
def replicated(database_url, services, clock):
    """A platform whose lag reads go to the replica, with a short notice threshold and measurement."""
    settings = Settings(database_url=database_url, read_replica_url=replica_url_for(database_url))
    pf = build_platform(settings, services=services, clock=clock)
    pf.replica.close()
    pf.replica = Replica(settings.read_replica_url, pf.engine, notice_after=1.0, measure_every=0.1,
                         retry_down_after=0.1)
    yield pf
    pf.close()


def started(pf, key: str) -> int:
    return instances.start(pf, SYSTEM, "approval", key, {"amount": 5})


def business_keys(session) -> set[str]:
    return set(session.scalars(select(ProcessInstance.business_key)))


def caught_up(pf) -> bool:
    state = pf.replica.state()
    return state.source == "replica" and state.lag_seconds == 0


def test_without_the_setting_every_read_is_the_primarys(platform):
    assert platform.replica is None
    with platform.read_session() as session:
        assert session.info["replica"].source == "primary"
        assert session.execute(text("SELECT pg_is_in_recovery()")).scalar_one() is False


def test_lists_read_the_replica_once_it_has_the_rows(replicated):
    deploy(replicated, "approval.bpmn")
    started(replicated, "R-1")
    eventually(lambda: caught_up(replicated), "the replica caught up")
    with replicated.read_session() as session:
        assert session.info["replica"].source == "replica"
        assert session.execute(text("SELECT pg_is_in_recovery()")).scalar_one() is True
        assert business_keys(session) == {"R-1"}
    with replicated.Session() as session:  # what must see its own writes: the primary
        assert session.execute(text("SELECT pg_is_in_recovery()")).scalar_one() is False


def test_nothing_can_be_written_through_the_replica_engine(replicated):
    """A replica URL that names the primary by mistake cannot be written through either."""
    deploy(replicated, "approval.bpmn")
    mistaken = Replica(replicated.url, replicated.engine)
    try:
        with pytest.raises(DBAPIError, match="read-only"), mistaken.Session() as session:
            session.execute(text("UPDATE process_definitions SET name = 'x'"))
        with replicated.Session() as session:
            assert session.scalar(text("SELECT count(*) FROM process_definitions WHERE name = 'x'")) == 0
        assert mistaken.state().lag_seconds == 0  # not in recovery: nothing to wait for
    finally:
        mistaken.close()


def test_while_replay_is_paused_the_list_lacks_the_new_row_and_the_lag_grows(replicated):
    deploy(replicated, "approval.bpmn")
    started(replicated, "BEFORE")
    eventually(lambda: caught_up(replicated), "the replica caught up")
    with replay_paused():
        started(replicated, "WHILE-PAUSED")
        with replicated.Session() as session:
            assert business_keys(session) == {"BEFORE", "WHILE-PAUSED"}
        eventually(lambda: replicated.replica.state().lagging, "the lag passed the notice threshold")
        other_process = Replica(replicated.settings.read_replica_url, replicated.engine, notice_after=1.0)
        try:  # another server, looking for the first time, says the same
            assert other_process.state().lagging
        finally:
            other_process.close()
        with replicated.read_session() as session:
            state = session.info["replica"]
            assert state.source == "replica" and state.lag_seconds >= 1.0
            assert business_keys(session) == {"BEFORE"}
    eventually(lambda: caught_up(replicated), "the replica caught up after replay resumed")
    with replicated.read_session() as session:
        assert not session.info["replica"].lagging
        assert business_keys(session) == {"BEFORE", "WHILE-PAUSED"}


def test_a_replica_that_is_down_leaves_reads_to_the_primary(database_url, services, clock, unused_port):
    down_url = replica_url_for(database_url, f"postgresql://postgres@127.0.0.1:{unused_port}/postgres")
    pf = build_platform(Settings(database_url=database_url, read_replica_url=down_url), services=services,
                        clock=clock)
    try:
        deploy(pf, "approval.bpmn")
        started(pf, "P-1")
        keys, state = replica.read(pf, business_keys)
        assert keys == {"P-1"}
        assert state.source == "primary" and state.down
    finally:
        pf.close()


def test_a_replica_that_fails_mid_read_is_marked_down_and_the_primary_answers(replicated):
    deploy(replicated, "approval.bpmn")
    started(replicated, "M-1")
    eventually(lambda: caught_up(replicated), "the replica caught up")
    sources = []

    def work(session):
        sources.append(session.info["replica"].source)
        if session.info["replica"].source == "replica":  # the replica's server drops this connection
            session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        return business_keys(session)

    keys, state = replica.read(replicated, work)
    assert keys == {"M-1"}
    assert sources == ["replica", "primary"]
    assert state.down
    eventually(lambda: caught_up(replicated), "the replica was tried again and is used")


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

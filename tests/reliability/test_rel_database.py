"""Faults of PostgreSQL itself, under load, with real server and worker processes.

- the database restarted (``pg_ctlcluster restart``) and stopped for a few seconds while 4
  clients complete tasks on 2 servers and a worker fires timers;
- the database unreachable for 30 s behind a TCP proxy that refuses, or that accepts and never
  answers (a black hole).

Every request is answered 200 (done) or 503 with Retry-After (never half done, checked in the
tasks, the instance data and the audit log); the servers and the worker recover by themselves;
every timer fires exactly once; no job counts the outage as a failed attempt.

These run on a cluster of their own (``own_cluster.py``, port 5440), never on the shared one.
"""

from __future__ import annotations

import os
import re
import time
from datetime import timedelta

import own_cluster
import pytest
from faultwork import (
    Clients,
    answers_again,
    assert_clear_503_while_down,
    check_answers,
    check_timers_fired_once,
    completion_state,
    finish_the_rest,
    open_reviews,
    start_timers,
    timer_due_times,
    tokens,
    utcnow,
)
from helpers import PG_URL
from relhelp import Server, Worker, call, rel_deploy, wait_until
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from tcp_proxy import TcpProxy

from engine.clock import ManualClock
from engine.models import AuditEvent, Job
from engine.principal import SYSTEM, Principal
from engine.runtime import instances, jobs, tasks
from web.app import build_platform

pytestmark = pytest.mark.skipif(
    not PG_URL, reason="faults of PostgreSQL itself: they run in the PostgreSQL run "
                       "(TOWERFLOW_TEST_DATABASE_URL set); SQLite's fault is the full disk (test_rel_disk.py)")

RECOVERY_SECONDS = 10  # the bound: servers answer again this soon after the database is back
CUT_SECONDS = 30


# --- fixtures ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cluster() -> str:
    try:
        return own_cluster.ensure()
    except own_cluster.ClusterUnavailable as exc:
        pytest.skip(f"no PostgreSQL cluster of the tests' own: {exc}")


@pytest.fixture
def db_url(cluster, request) -> str:
    name = f"towerflow_faults_{request.node.name[:20].lower()}"
    name = re.sub(r"[^a-z0-9_]", "_", name)
    url = own_cluster.fresh_database(name)
    yield url
    if not _accepting():  # a test that failed while the cluster was stopped
        own_cluster.start()
    own_cluster.drop_database(name)


@pytest.fixture
def fplatform(db_url, services):
    """The test's own view of the database (real clock: the worker fires by real time)."""
    pf = build_platform(db_url, services=services)
    pf.init_db()
    yield pf
    pf.close()


@pytest.fixture
def procs(rel_dir, tmp_path):
    """``procs.server(url, **env)`` / ``procs.worker(url, **env)``; all stopped at the end."""
    started = []
    env = {**os.environ, "REL_DIR": str(rel_dir), "TOWERFLOW_SECRET_KEY": "reliability-tests",
           "PYTHONUNBUFFERED": "1"}

    class Spawner:
        def server(self, url: str, **extra: str) -> Server:
            proc = Server(url, {**env, **extra}, tmp_path / f"server-{len(started)}.log", clock=False)
            started.append(proc)
            return proc.start()

        def worker(self, url: str, **extra: str) -> Worker:
            proc = Worker(url, {**env, **extra}, tmp_path / f"worker-{len(started)}.log")
            started.append(proc)
            return proc.start()

    yield Spawner()
    for proc in started:
        proc.stop()


def _accepting() -> bool:
    try:
        own_cluster.wait_accepting(limit_seconds=0.5)
        return True
    except Exception:
        return False


def recovered(servers: list[Server], token: str, since: str) -> float:
    """Seconds until every server answers a request that needs the database again (at most 10)."""
    began = time.monotonic()
    for server in servers:
        wait_until(lambda s=server: answers_again(s, token), RECOVERY_SECONDS - (time.monotonic() - began),
                   lambda: f"a server did not recover within {RECOVERY_SECONDS} s of {since}")
    return time.monotonic() - began


# --- the tests ---------------------------------------------------------------------------------

def test_a_restarted_database_leaves_every_completion_done_or_refused_and_every_timer_fired_once(
        fplatform, db_url, procs):
    rel_deploy(fplatform, "rel_timer.bpmn")
    reviews = open_reviews(fplatform, 160)
    user_tokens = tokens(fplatform)
    servers = [procs.server(db_url), procs.server(db_url)]
    procs.worker(db_url)
    timers = start_timers(servers[0], user_tokens[0], [2 + n % 10 for n in range(30)])
    clients = Clients(servers, user_tokens, reviews).start()

    # 1. pg_ctlcluster restart in the middle of the stream
    wait_until(lambda: clients.answered() >= 30, 120, lambda: "the clients made no progress")
    own_cluster.ctl("restart")
    after_restart = recovered(servers, user_tokens[0], "the restart")

    # 2. stopped for a few seconds, while timers fall due: clear 503s meanwhile
    wait_until(lambda: clients.answered() >= 80, 120, lambda: "the clients made no progress after the restart")
    due_later = [d for d in timer_due_times(fplatform, timers) if d > utcnow()]
    own_cluster.ctl("stop")
    stopped_at = utcnow()
    assert_clear_503_while_down(servers[1], user_tokens[1])
    # down until at least 3 more timers are due (they fall due while there is no database)
    while sum(1 for d in due_later if d <= utcnow()) < min(3, len(due_later)) \
            or utcnow() < stopped_at + timedelta(seconds=2):
        time.sleep(0.2)
    own_cluster.ctl("start")
    due_while_down = sum(1 for d in due_later if stopped_at <= d <= utcnow())
    after_start = recovered(servers, user_tokens[0], "the start")

    clients.join()
    counts = check_answers(fplatform, clients.answers)
    print(f"answers: {counts}; timers due while the database was stopped: {due_while_down}; both servers "
          f"answered {after_restart:.1f} s after the restart and {after_start:.1f} s after the start")
    assert counts.get("200", 0) > 0
    finish_the_rest(fplatform, servers[0], user_tokens[0], reviews)
    check_timers_fired_once(fplatform, timers)
    assert all(s.popen.poll() is None for s in servers), "no server was restarted"


@pytest.mark.parametrize("fault", ["refuse", "black_hole"])
def test_a_database_cut_off_for_30_seconds_gets_503s_loses_nothing_and_all_recovers(
        fplatform, db_url, procs, fault):
    rel_deploy(fplatform, "rel_timer.bpmn")
    reviews = open_reviews(fplatform, 120)
    user_tokens = tokens(fplatform)
    proxy = TcpProxy(own_cluster.PORT).start()
    through = db_url.replace(f":{own_cluster.PORT}/", f":{proxy.port}/")
    # a black hole is noticed by the answer timeout (60 s by default; shorter here)
    extra = {"TOWERFLOW_DATABASE_TIMEOUT": "5"}
    try:
        servers = [procs.server(through, **extra), procs.server(through, **extra)]
        procs.worker(through, **extra)
        timers = start_timers(servers[0], user_tokens[0], [3 + n for n in range(CUT_SECONDS)])
        clients = Clients(servers, user_tokens, reviews).start()
        wait_until(lambda: clients.answered() >= 20, 120, lambda: "the clients made no progress")

        proxy.refuse() if fault == "refuse" else proxy.black_hole()
        cut_at = time.monotonic()
        assert_clear_503_while_down(servers[0], user_tokens[0])
        status, ready = call("GET", f"{servers[1].base}/readyz", timeout=60)
        assert status == 503 and "database" in ready["failed"], ready
        time.sleep(max(0.0, CUT_SECONDS - (time.monotonic() - cut_at)))
        answered_during_cut = clients.answered()
        proxy.heal()

        after_heal = recovered(servers, user_tokens[0], "the database was reachable again")
        for server in servers:
            wait_until(lambda s=server: call("GET", f"{s.base}/readyz", timeout=10)[0] == 200, RECOVERY_SECONDS,
                       lambda: "/readyz stayed red once the database was reachable")
        clients.join()
        counts = check_answers(fplatform, clients.answers)
        print(f"{fault}: answers {counts}; {answered_during_cut} answered by the end of the cut; both servers "
              f"answered {after_heal:.1f} s after it")
        finish_the_rest(fplatform, servers[1], user_tokens[1], reviews)
        check_timers_fired_once(fplatform, timers)
        assert all(s.popen.poll() is None for s in servers), "no server was restarted"
    finally:
        proxy.close()


def test_a_runner_cut_off_right_after_taking_its_lease_gives_it_back_when_the_database_returns(
        cluster, db_url, services):
    """The moment the tests above can only hit by chance: the lease committed, the run failed.
    The job is not left to the lease's expiry (5 minutes) and the outage is no failed attempt."""
    proxy = TcpProxy(own_cluster.PORT).start()
    clock = ManualClock()
    pf = build_platform(db_url.replace(f":{own_cluster.PORT}/", f":{proxy.port}/"), services=services, clock=clock)
    pf.init_db()
    try:
        rel_deploy(pf, "rel_timer.bpmn")
        instance_id = instances.start(pf, SYSTEM, "rel_timer", "T-1", {"wait": "PT1M"})
        clock.advance(timedelta(minutes=2))
        transactions = []

        def cut_after_the_lease(_conn) -> None:
            transactions.append(1)
            if len(transactions) == 2:  # the lease's transaction committed; the run's begins
                proxy.refuse()

        event.listen(pf.engine, "begin", cut_after_the_lease)
        with pytest.raises(OperationalError):
            jobs.run_due_jobs(pf)
        event.remove(pf.engine, "begin", cut_after_the_lease)
        proxy.heal()
        with pf.Session() as session:
            job = session.scalar(select(Job).where(Job.instance_id == instance_id))
            assert (job.state, job.attempts, job.locked_by) == ("pending", 0, pf.worker_id)

        assert jobs.run_due_jobs(pf) == 1, "the runner's next round gives the lease back and fires the timer"
        with pf.Session() as session:
            job = session.get(Job, job.id)
            assert (job.state, job.attempts) == ("done", 0)
            fired = session.scalar(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.instance_id == instance_id, AuditEvent.action == "timer.fired"))
        assert fired == 1
    finally:
        pf.close()
        proxy.close()


def test_a_connection_lost_during_the_engine_steps_keeps_nothing_of_the_completion(cluster, db_url, services):
    """A database fault in the middle of a step is not an engine failure: the person's change is
    not kept alone with a step job queued (what a failing script gets), nothing is kept, the
    caller gets the error (503 over HTTP) and the same completion works once tried again."""
    proxy = TcpProxy(own_cluster.PORT).start()
    pf = build_platform(db_url.replace(f":{own_cluster.PORT}/", f":{proxy.port}/"), services=services)
    pf.init_db()
    try:
        [(task_id, instance_id)] = open_reviews(pf, 1).items()
        cut = []

        def cut_at_the_next_task(_conn, _cursor, statement, *_args) -> None:
            if not cut and statement.startswith("INSERT INTO human_tasks"):
                cut.append(statement)
                proxy.refuse()  # every open connection closed mid-step ...
                proxy.heal()  # ... and the database reachable again at once

        event.listen(pf.engine, "before_cursor_execute", cut_at_the_next_task)
        director = Principal("li0", frozenset({"city_director"}))
        with pytest.raises(OperationalError):
            tasks.complete(pf, director, task_id, {"approved": True, "comment": f"ok {instance_id}"})
        event.remove(pf.engine, "before_cursor_execute", cut_at_the_next_task)
        assert cut, "the step never reached the next task's INSERT"
        assert completion_state(pf, task_id, instance_id) == "not done"
        with pf.Session() as session:
            assert session.scalars(select(Job).where(Job.instance_id == instance_id)).all() == []

        tasks.complete(pf, director, task_id, {"approved": True, "comment": f"ok {instance_id}"})
        assert completion_state(pf, task_id, instance_id) == "done"
    finally:
        pf.close()
        proxy.close()

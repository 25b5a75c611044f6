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

import http.cookiejar
import json
import queue
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta

import own_cluster
import pytest
from helpers import PG_URL, deploy
from relhelp import Server, Worker, call, rel_deploy, wait_until
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from tcp_proxy import TcpProxy

from engine import identity
from engine.clock import ManualClock
from engine.models import AuditEvent, HumanTask, Incident, Job, ProcessInstance
from engine.principal import SYSTEM
from engine.runtime import instances, jobs
from web.app import build_platform

pytestmark = pytest.mark.skipif(
    not PG_URL, reason="faults of PostgreSQL itself: they run in the PostgreSQL run "
                       "(TOWERFLOW_TEST_DATABASE_URL set); SQLite's fault is the full disk (test_rel_disk.py)")

CLIENTS = 4
RECOVERY_SECONDS = 10  # the bound: servers answer again this soon after the database is back
CUT_SECONDS = 30
CLERKS = [f"li{n}" for n in range(CLIENTS)]


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
    import os

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


# --- the work: completions by 4 clients, timers ------------------------------------------------

def open_reviews(platform, count: int) -> dict[int, int]:
    """``count`` tasks_inbox instances waiting in their review: {task id: instance id}."""
    deploy(platform, "tasks_inbox.bpmn")
    ids = [instances.start(platform, SYSTEM, "tasks_inbox", f"SITE-{n}") for n in range(count)]
    with platform.Session() as session:
        return {t.id: t.instance_id for t in session.scalars(select(HumanTask).where(HumanTask.instance_id.in_(ids)))}


def tokens(platform) -> list[str]:
    with platform.transaction() as session:
        for name in CLERKS:
            identity.add_user(session, name, "password123", ["city_director"])
        return [identity.create_token(session, name) for name in CLERKS]


def completion_state(platform, task_id: int, instance_id: int) -> str:
    """"done" (the task, its data, the next task and one audit event) or "not done" (none of
    them); anything in between fails the test."""
    with platform.Session() as session:
        task = session.get(HumanTask, task_id)
        row = session.get(ProcessInstance, instance_id)
        following = session.scalars(select(HumanTask.state).where(HumanTask.instance_id == instance_id,
                                                                  HumanTask.element_id == "file_decision")).all()
        audited = session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.instance_id == instance_id, AuditEvent.action == "task.completed"))
    facts = (task.state, task.completed_by in CLERKS, row.variables.get("approved"), row.variables.get("comment"),
             following, audited)
    if facts == ("completed", True, True, f"ok {instance_id}", ["open"], 1):
        return "done"
    assert facts == ("open", False, None, None, [], 0), f"instance {instance_id} is half done: {facts}"
    return "not done"


def complete(server: Server, token: str, task_id: int, instance_id: int) -> tuple[int | None, object, str]:
    """One completion over HTTP: (status, body, Retry-After); (None, error, "") if no answer came."""
    request = urllib.request.Request(
        f"{server.base}/api/v1/tasks/{task_id}/complete", method="POST",
        data=json.dumps({"data": {"approved": True, "comment": f"ok {instance_id}"}}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read(), ""
    except urllib.error.HTTPError as err:
        return err.code, err.read(), err.headers.get("Retry-After", "")
    except OSError as exc:
        return None, exc, ""


class Clients:
    """4 clients, each its own user, completing the queued reviews on 2 servers in turn. A 503 is
    tried again later (after a short pause, as its Retry-After asks, shortened for the test)."""

    def __init__(self, servers: list[Server], user_tokens: list[str], reviews: dict[int, int]):
        self.todo: queue.Queue = queue.Queue()
        for item in reviews.items():
            self.todo.put(item)
        self.answers: list[tuple[int, int, int | None, object, str]] = []
        self.threads = [threading.Thread(target=self._run, args=(servers[n % len(servers)], user_tokens[n]),
                                         daemon=True) for n in range(len(user_tokens))]

    def start(self) -> Clients:
        for thread in self.threads:
            thread.start()
        return self

    def _run(self, server: Server, token: str) -> None:
        while True:
            try:
                task_id, instance_id = self.todo.get_nowait()
            except queue.Empty:
                return
            status, body, retry_after = complete(server, token, task_id, instance_id)
            self.answers.append((task_id, instance_id, status, body, retry_after))
            if status == 503:
                self.todo.put((task_id, instance_id))
                time.sleep(0.5)
            time.sleep(0.02)  # a steady stream, not a flood

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=600)
        assert not any(t.is_alive() for t in self.threads), "a client never got its answer"

    def answered(self) -> int:
        return len(self.answers)


def check_answers(platform, answers) -> dict[str, int]:
    """Each answer is 200 (done) or 503 with Retry-After (done or not, never half); a 409 only
    for a task tried again after a 503 whose commit had gone through; counts."""
    counts: Counter = Counter()
    refused: set[int] = set()
    for task_id, instance_id, status, body, retry_after in answers:
        state = completion_state(platform, task_id, instance_id)
        if status == 200:
            assert state == "done", (task_id, body)
            counts["200"] += 1
        elif status == 409:
            assert task_id in refused and state == "done", f"task {task_id}: 409 {body!r}"
            counts["409 on a retry: done by the earlier try"] += 1
        else:
            refused.add(task_id)
            assert status == 503, f"task {task_id}: {status} {body!r}"
            assert retry_after.isdigit(), f"a 503 without Retry-After: {body!r}"
            assert b"database_unavailable" in body, body
            counts["503"] += 1
    return dict(counts)


def finish_the_rest(platform, server: Server, token: str, reviews: dict[int, int]) -> None:
    """Complete whatever is not done (a client answered 503 tries again); then all are done once."""
    for task_id, instance_id in reviews.items():
        if completion_state(platform, task_id, instance_id) == "not done":
            status, body, _ = complete(server, token, task_id, instance_id)
            assert status == 200, body
    assert {completion_state(platform, t, i) for t, i in reviews.items()} == {"done"}


def start_timers(server: Server, token: str, waits: list[int]) -> list[int]:
    ids = []
    for n, seconds in enumerate(waits):
        status, body = call("POST", f"{server.base}/api/v1/process-instances", token,
                            {"process_key": "rel_timer", "business_key": f"T-{n}",
                             "variables": {"wait": f"PT{seconds}S"}})
        assert status == 201, body
        ids.append(body["id"])
    return ids


def timer_due_times(platform, instance_ids: list[int]) -> list[datetime]:
    with platform.Session() as session:
        return list(session.scalars(select(Job.due_at).where(Job.instance_id.in_(instance_ids), Job.kind == "timer")))


def check_timers_fired_once(platform, instance_ids: list[int]) -> None:
    def all_fired() -> bool:
        with platform.Session() as session:
            return session.scalar(select(func.count()).select_from(HumanTask).where(
                HumanTask.instance_id.in_(instance_ids), HumanTask.element_id == "follow_up")) == len(instance_ids)

    wait_until(all_fired, 120, lambda: "a timer due during the outage never fired")
    with platform.Session() as session:
        fired = Counter(session.scalars(select(AuditEvent.instance_id).where(
            AuditEvent.instance_id.in_(instance_ids), AuditEvent.action == "timer.fired")))
        jobs = session.execute(select(Job.state, Job.attempts).where(Job.instance_id.in_(instance_ids))).all()
        incidents = session.scalar(select(func.count()).select_from(Incident))
    assert fired == Counter({i: 1 for i in instance_ids}), "each timer fires exactly once"
    assert {(state, attempts) for state, attempts in jobs} == {("done", 0)}, \
        "the outage is not counted as a failed attempt of any job"
    assert incidents == 0


def answers_again(server: Server, token: str) -> bool:
    """A request that needs the database (the token, the inbox) is answered 200."""
    try:
        return call("GET", f"{server.base}/api/v1/tasks", token, timeout=5)[0] == 200
    except OSError:
        return False


def sign_in_page_status(server: Server) -> tuple[int, str, str]:
    """Sign in on the pages (the form reads the database): (status, Retry-After, page)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{server.base}/login", timeout=30) as response:
        csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"',
                         response.read().decode())
    token = next(g for g in csrf.groups() if g)
    form = urllib.parse.urlencode({"csrf_token": token, "username": "li0", "password": "password123"}).encode()
    request = urllib.request.Request(f"{server.base}/login", data=form, method="POST",
                                     headers={"Accept": "text/html"})
    try:
        with opener.open(request, timeout=60) as response:
            return response.status, "", response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Retry-After", ""), err.read().decode()


def assert_clear_503_while_down(server: Server, token: str) -> None:
    """What a client sees while the database is away: 503, Retry-After, the reason; the page in Chinese."""
    status, body = call("GET", f"{server.base}/api/v1/tasks", token, timeout=120)
    assert status == 503, body
    assert body["error"]["code"] == "database_unavailable", body
    status, retry_after, page = sign_in_page_status(server)
    assert (status, retry_after) == (503, "5"), page
    assert "暂时无法使用" in page and "服务器暂时无法连接数据库" in page, page
    assert "database" not in page.lower() and "Traceback" not in page


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
    for server in servers:
        wait_until(lambda s=server: answers_again(s, user_tokens[0]), RECOVERY_SECONDS,
                   lambda: "a server did not recover within 10 s of the restart")

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
    for server in servers:
        wait_until(lambda s=server: answers_again(s, user_tokens[0]), RECOVERY_SECONDS,
                   lambda: "a server did not recover within 10 s of the start")

    clients.join()
    counts = check_answers(fplatform, clients.answers)
    print(f"answers: {counts}; timers due while the database was stopped: {due_while_down}")
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

        for server in servers:
            wait_until(lambda s=server: answers_again(s, user_tokens[0]), RECOVERY_SECONDS,
                       lambda: "a server did not recover within 10 s once the database was reachable")
            wait_until(lambda s=server: call("GET", f"{s.base}/readyz", timeout=10)[0] == 200, RECOVERY_SECONDS,
                       lambda: "/readyz stayed red once the database was reachable")
        clients.join()
        counts = check_answers(fplatform, clients.answers)
        print(f"{fault}: answers {counts}; {answered_during_cut} answered by the end of the cut")
        finish_the_rest(fplatform, servers[1], user_tokens[1], reviews)
        check_timers_fired_once(fplatform, timers)
        assert all(s.popen.poll() is None for s in servers), "no server was restarted"
    finally:
        proxy.close()


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


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

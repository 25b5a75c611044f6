"""The work the fault tests put on real servers while a fault lasts: task completions by several
clients over HTTP, timers, and the checks that each is done once or not at all."""

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
from datetime import UTC, datetime

from helpers import deploy
from relhelp import Server, call, wait_until
from sqlalchemy import func, select

from engine import identity
from engine.models import AuditEvent, HumanTask, Incident, Job, ProcessInstance
from engine.principal import SYSTEM
from engine.runtime import instances

CLIENTS = 4
CLERKS = [f"li{n}" for n in range(CLIENTS)]


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


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


def sign_in_page_status(server: Server, password: str = "password123") -> tuple[int, str, str]:
    """Sign in on the pages (the form reads the database): (status, Retry-After, page)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{server.base}/login", timeout=30) as response:
        csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"',
                         response.read().decode())
    token = next(g for g in csrf.groups() if g)
    return post_page(opener, f"{server.base}/login", {"csrf_token": token, "username": "li0", "password": password})


def post_page(opener: urllib.request.OpenerDirector, url: str, form: dict) -> tuple[int, str, str]:
    """POST a page's form as a browser would: (status, Retry-After, page), errors included."""
    request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(), method="POST",
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

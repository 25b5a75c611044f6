"""The candidate rows' copies of their task (tenant, due time, priority, assignee; migration 0009)
stay true through claim, unclaim, assign, delegate, the clock passing a due time, completion and
termination, and the inbox views answered from them (engine/runtime/open_work.py) show exactly
what the task rows say (``open_work.answers`` off: the views of before)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers import deploy
from sqlalchemy import select

from engine import identity
from engine.models import HumanTask, TaskCandidate
from engine.principal import Principal
from engine.runtime import instances, open_work, tasks

ADMIN = Principal("admin", frozenset({"admin"}))
BOSS = Principal("boss", frozenset({"supervisor"}))
QIAN = Principal("qian", frozenset({"checker"}))
ZHAO = Principal("zhao", frozenset({"checker", "auditor"}))
MOBILE = Principal("cm_li", frozenset({"checker"}), "china_mobile")
FILTERS = [tasks.TaskFilter(candidate_me=True), tasks.TaskFilter(my_work=True), tasks.TaskFilter(),
           tasks.TaskFilter(my_work=True, overdue=True), tasks.TaskFilter(my_work=True, overdue=False),
           tasks.TaskFilter(candidate_me=True, overdue=True), tasks.TaskFilter(overdue=False)]


@pytest.fixture
def work(platform):
    """Two instances of eight checks each (three priorities, dated and not), one a tenant's."""
    deploy(platform, "tasks_sorting.bpmn")
    with platform.transaction() as session:
        for user in (QIAN, ZHAO, MOBILE):
            identity.add_user(session, user.username, "password123", sorted(user.groups), user.tenant)
    now = platform.clock.now()
    instances.start(platform, ADMIN, "tasks_sorting", "SOON", {"deadline": (now + timedelta(hours=2)).isoformat()})
    instances.start(platform, ADMIN, "tasks_sorting", "LATE", {"deadline": (now + timedelta(days=2)).isoformat()},
                    tenant="china_mobile")
    return platform


def open_ids(platform) -> list[int]:
    with platform.Session() as session:
        return list(session.scalars(select(HumanTask.id).where(HumanTask.state == "open").order_by(HumanTask.id)))


def assert_copies_true(platform) -> None:
    """Every candidate row is an open task's and says what its task says."""
    with platform.Session() as session:
        rows = session.execute(select(TaskCandidate, HumanTask).join(HumanTask)).all()
        assert rows
        for candidate, task in rows:
            assert task.state == "open"
            assert ((candidate.tenant, candidate.due_at, candidate.priority, candidate.assignee)
                    == (task.tenant, task.due_at, task.priority, task.assignee)), task.id


def views(platform, actor: Principal, old: bool, monkeypatch) -> list:
    """Each view's pages (whole, and past a cap of 2, walked) and capped counts."""
    monkeypatch.setattr(open_work, "answers", lambda session, actor, flt: not old and open_work.fits(actor, flt))
    now = platform.clock.now()
    seen = []
    with platform.Session() as session:
        for flt in FILTERS:
            for offset, limit, cap, sort, desc in ((0, 50, None, "due", False), (0, 3, 2, "due", False),
                                                   (3, 3, 2, "due", False), (1, 4, 2, "priority", True),
                                                   (2, 50, None, "due", True), (0, 50, None, "priority", False),
                                                   (0, 50, None, "priority", True), (0, 50, None, "created", False)):
                found = tasks.find_tasks(session, actor, flt, now, offset, limit, sort=sort, desc=desc, cap=cap)
                seen.append(([t.id for t in found.rows], found.total, found.capped))
            seen.append([tasks.count_tasks(session, actor, flt, now, cap=c) for c in (None, 2)])
    return seen


ANSWERS = open_work.answers


def assert_views_as_before(platform, monkeypatch) -> None:
    for actor in (QIAN, ZHAO, MOBILE, BOSS):
        assert views(platform, actor, False, monkeypatch) == views(platform, actor, True, monkeypatch), actor
    monkeypatch.setattr(open_work, "answers", ANSWERS)


def test_the_copies_stay_true_and_the_views_show_what_the_tasks_say(work, clock, monkeypatch):
    platform = work
    assert_copies_true(platform)
    assert_views_as_before(platform, monkeypatch)
    first, second, third, fourth, *_ = open_ids(platform)

    tasks.claim(platform, QIAN, first)
    tasks.claim(platform, ZHAO, second)
    assert_copies_true(platform)
    assert_views_as_before(platform, monkeypatch)
    with platform.Session() as session:
        offered = tasks.find_tasks(session, QIAN, tasks.TaskFilter(candidate_me=True), platform.clock.now())
        mine = tasks.find_tasks(session, QIAN, tasks.TaskFilter(my_work=True), platform.clock.now())
    assert first not in [t.id for t in offered.rows] and second not in [t.id for t in mine.rows]
    assert first in [t.id for t in mine.rows]

    tasks.unclaim(platform, QIAN, first)
    tasks.assign(platform, ADMIN, third, "qian")
    tasks.assign(platform, ADMIN, second, None)
    tasks.delegate(platform, BOSS, fourth, "zhao", "on leave")
    assert_copies_true(platform)
    assert_views_as_before(platform, monkeypatch)

    clock.advance(timedelta(hours=3))  # the first instance's dated checks are now overdue
    with platform.Session() as session:
        overdue = tasks.count_tasks(session, ZHAO, tasks.TaskFilter(my_work=True, overdue=True), platform.clock.now())
    assert overdue > 0
    assert_views_as_before(platform, monkeypatch)

    tasks.complete(platform, QIAN, third, {"comment": "ok"})
    tasks.complete(platform, ZHAO, open_ids(platform)[-1], {"comment": "ok"})
    with platform.Session() as session:
        late = session.scalar(select(HumanTask.instance_id).where(HumanTask.business_key == "LATE"))
    instances.terminate(platform, BOSS, late, "withdrawn")
    assert_copies_true(platform)
    assert_views_as_before(platform, monkeypatch)
    with platform.Session() as session:
        left = set(session.scalars(select(TaskCandidate.task_id)))
    assert left == set(open_ids(platform)) and left

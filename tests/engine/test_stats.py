"""The dashboard's numbers on a controlled data set: a frozen clock makes every duration exact."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from helpers import deploy
from sqlalchemy import select

from engine.clock import ManualClock
from engine.models import HumanTask
from engine.principal import SYSTEM, Principal
from engine.queries import stats
from engine.runtime import instances, tasks

BASE = datetime(2026, 6, 1, 8, 0)
WORKER = Principal("worker", frozenset({"monitoring_center", "maintenance", "operator", "customer_manager"}))
SUPERVISOR = Principal("boss", frozenset({"supervisor"}))
MOBILE = Principal("cmcc", frozenset({"supervisor"}), tenant="china_mobile")


class FrozenClock(ManualClock):
    """Time stands still between advances, so durations come out exact."""

    def now(self) -> datetime:
        return BASE + self.offset


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


def open_task(platform, instance_id: int, element_id: str) -> int:
    with platform.Session() as session:
        return session.scalar(select(HumanTask.id).where(
            HumanTask.instance_id == instance_id, HumanTask.element_id == element_id, HumanTask.state == "open"))


def finish(platform, instance_id: int, element_id: str) -> None:
    tasks.complete(platform, WORKER, open_task(platform, instance_id, element_id), {})


def now(platform) -> datetime:
    return platform.clock.now()


def numbers(platform, actor=SUPERVISOR, days: int = 30) -> dict:
    with platform.Session() as session:
        return stats.dashboard(session, actor, now(platform), days)


@pytest.fixture
def repairs(platform, clock):
    """Ten repairs whose 'accept' took 10, 20, ... 100 minutes (due in 30); the last one's
    repair done in 3 h (due in 4 h); then five more hours pass."""
    deploy(platform, "ui_dash_repair.bpmn", "ui_dash_order.bpmn")
    ids = []
    for i in range(1, 11):
        instance_id = instances.start(platform, SYSTEM, "ui_dash_repair", f"F-{i}")
        clock.advance(timedelta(minutes=10 * i))
        finish(platform, instance_id, "accept")
        ids.append(instance_id)
    clock.advance(timedelta(hours=3))
    finish(platform, ids[-1], "repair")
    clock.advance(timedelta(hours=5))
    return ids


def step(rows: list[dict], element_id: str) -> dict:
    return next(row for row in rows if row["element_id"] == element_id)


def test_percentile_interpolates_between_ranks():
    values = [10.0 * i for i in range(1, 11)]
    assert stats.percentile(values, 50) == 55.0
    assert stats.percentile(values, 90) == pytest.approx(91.0)
    assert stats.percentile([7.0], 90) == 7.0
    assert stats.percentile([], 50) is None


def test_sla_counts_on_time_when_completed_at_or_before_due(platform, repairs):
    data = numbers(platform)
    accept = step(data["sla_steps"], "accept")
    assert (accept["total"], accept["on_time"], accept["late"]) == (10, 3, 7)  # 10, 20 and exactly 30 min
    assert accept["percent"] == 30.0
    assert accept["title"] == "Accept the fault"
    repair = step(data["sla_steps"], "repair")
    assert (repair["total"], repair["on_time"], repair["percent"]) == (1, 1, 100.0)
    assert data["sla_processes"] == [{"process_key": "ui_dash_repair", "total": 11, "on_time": 4, "late": 7,
                                      "percent": 36.4}]


def test_cycle_time_median_and_p90_per_step(platform, repairs):
    data = numbers(platform)
    accept = step(data["cycle_times"], "accept")
    assert accept["count"] == 10
    assert accept["median_seconds"] == 55 * 60
    assert accept["p90_seconds"] == pytest.approx(91 * 60)
    repair = step(data["cycle_times"], "repair")
    assert repair["count"] == 1
    assert repair["median_seconds"] == repair["p90_seconds"] == 3 * 3600


def test_tasks_without_due_time_count_for_cycle_time_not_sla(platform, clock, repairs):
    clock.advance(timedelta(minutes=45))
    finish(platform, repairs[-1], "confirm")
    data = numbers(platform)
    assert "confirm" not in {row["element_id"] for row in data["sla_steps"]}
    assert step(data["cycle_times"], "confirm")["median_seconds"] == 5 * 3600 + 45 * 60  # ready 5 h before


def test_open_instances_tasks_and_overdue(platform, repairs):
    instances.suspend(platform, SYSTEM, repairs[1])
    tasks.claim(platform, WORKER, open_task(platform, repairs[2], "repair"))
    data = numbers(platform)
    assert data["open_instances"] == [
        {"process_key": "ui_dash_repair", "state": "suspended", "count": 1},
        {"process_key": "ui_dash_repair", "state": "waiting", "count": 9},
    ]
    assert data["open_tasks"] == [
        {"group": "maintenance", "count": 9, "unclaimed": 8, "claimed": 1},
        {"group": "monitoring_center", "count": 1, "unclaimed": 1, "claimed": 0},
    ]
    # Every open repair was due 4 h after its accept; the latest of them was 8 h ago.
    assert data["overdue_count"] == 9
    assert [row["business_key"] for row in data["overdue"]][:3] == ["F-1", "F-2", "F-3"]
    assert data["overdue"][0]["overdue_seconds"] > data["overdue"][-1]["overdue_seconds"] > 0
    assert data["process_names"]["ui_dash_repair"] == "Fault repair"


def test_overdue_list_is_short_but_count_is_full(platform, repairs):
    with platform.Session() as session:
        count, rows = stats.overdue_tasks(session, SUPERVISOR, now(platform), limit=4)
    assert count == 9 and len(rows) == 4


def test_window_leaves_out_work_completed_before_it(platform, clock, repairs):
    assert numbers(platform)["sla_steps"]
    clock.advance(timedelta(days=31))
    data = numbers(platform)
    assert data["sla_steps"] == [] and data["sla_processes"] == [] and data["cycle_times"] == []
    assert data["overdue_count"] == 9
    assert numbers(platform, days=60)["sla_processes"][0]["total"] == 11


def test_a_tenant_sees_only_its_own_numbers(platform, clock):
    deploy(platform, "ui_dash_order.bpmn")
    mobile = instances.start(platform, SYSTEM, "ui_dash_order", "M-1", tenant="china_mobile")
    unicom = instances.start(platform, SYSTEM, "ui_dash_order", "U-1", tenant="china_unicom")
    instances.start(platform, SYSTEM, "ui_dash_order", "U-2", tenant="china_unicom")
    clock.advance(timedelta(hours=1))
    finish(platform, unicom, "confirm_order")
    clock.advance(timedelta(days=2))
    finish(platform, mobile, "confirm_order")
    instances.start(platform, SYSTEM, "ui_dash_order", "M-2", tenant="china_mobile")

    mine = numbers(platform, MOBILE)
    assert mine["sla_processes"] == [{"process_key": "ui_dash_order", "total": 1, "on_time": 0, "late": 1,
                                      "percent": 0.0}]
    assert mine["open_instances"] == [{"process_key": "ui_dash_order", "state": "waiting", "count": 1}]
    assert mine["overdue_count"] == 0
    assert [row["count"] for row in mine["open_tasks"]] == [1, 1]  # operator and customer_manager
    assert step(mine["cycle_times"], "confirm_order")["count"] == 1

    everyone = numbers(platform)
    assert everyone["sla_processes"][0]["total"] == 2 and everyone["sla_processes"][0]["on_time"] == 1
    assert everyone["open_instances"][0]["count"] == 2
    assert everyone["overdue_count"] == 1  # U-2, due after one day
    assert everyone["overdue"][0]["tenant"] == "china_unicom"

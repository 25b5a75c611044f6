"""Flow 7, 合同到期预警 (processes/contract_expiry.bpmn): deploying it arms one instance on its
daily timer start event; each day the contracts whose warning threshold is reached are warned
once (a 合同续签 task for the customer managers and an SMS to the contract's manager), and the
manager's answer updates the contract. Driven through the REST API on the manual clock."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

import handlers.contracts as contract_handlers
from engine.definitions import deployments
from engine.errors import Conflict
from engine.principal import SYSTEM
from engine.runtime import jobs
from tower import contracts

PROCESSES = Path(__file__).parents[2] / "processes"
DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def contract_platform(platform):
    contract_handlers.configure(platform)
    yield
    contract_handlers.configure(None)


@pytest.fixture
def deployed(platform):
    name = "contract_expiry.bpmn"
    return deployments.deploy(platform, SYSTEM, {name: (PROCESSES / name).read_bytes()})


@pytest.fixture
def admin(api):
    return api("root", ["admin"])


@pytest.fixture
def supervisor(api):
    return api("zhou", ["supervisor"])


@pytest.fixture
def manager(api):
    return api("li", ["customer_manager"])


def add(platform, contract_no: str, expires_in_days: int, warn_days_before: int, manager: str = "li",
        status: str = "active") -> None:
    today = platform.clock.now().date()
    with platform.transaction() as session:
        contracts.add_contract(session, contract_no=contract_no, customer_name=f"客户{contract_no}",
                               customer_manager=manager, manager_phone="1390000" + contract_no[-4:].replace("-", "0"),
                               expires_on=today + timedelta(days=expires_in_days),
                               warn_days_before=warn_days_before, status=status, now=platform.clock.now())


def next_day(platform, clock) -> int:
    """Move the clock one day on (the daily cycle is due) and run everything that is due."""
    clock.advance(DAY + timedelta(seconds=5))
    ran = 0
    while (n := jobs.run_due_jobs(platform)) > 0:
        ran += n
    return ran


def armed(user) -> list[dict]:
    r = user.get("/api/v1/process-instances", query_string={"process_key": "contract_expiry"})
    assert r.status_code == 200, r.json
    return r.json["items"]


def renewal_tasks(user) -> list[dict]:
    r = user.get("/api/v1/tasks", query_string={"process_key": "contract_expiry", "page_size": 100})
    assert r.status_code == 200, r.json
    return [t for t in r.json["items"] if t["element_id"] == "renew"]


def task_contract(user, task_id: int) -> dict:
    """The contract a 合同续签 task is about, as the task shows it (its own multi-instance item)."""
    r = user.get(f"/api/v1/tasks/{task_id}")
    assert r.status_code == 200, r.json
    return r.json["variables"]["contract"]


def tasks_by_contract(user) -> dict[str, dict]:
    return {task_contract(user, t["id"])["contract_no"]: t for t in renewal_tasks(user)}


def sms_sent(user) -> list[dict]:
    r = user.get("/api/v1/outbox", query_string={"system": "sms", "page_size": 100})
    assert r.status_code == 200, r.json
    return [item["payload"]["params"] for item in reversed(r.json["items"])]


def contract(platform, contract_no: str) -> dict:
    with platform.Session() as session:
        return contracts.contract_view(contracts.get_contract(session, contract_no))


def test_deploying_arms_one_waiting_instance(deployed, admin, platform, clock):
    assert deployed["processes"] == [{"key": "contract_expiry", "version": 1, "new": True}]
    [instance] = armed(admin)
    assert instance["state"] == "waiting" and instance["started_by"] == "timer-start"
    assert renewal_tasks(admin) == [] and sms_sent(admin) == []
    clock.advance(DAY - timedelta(minutes=1))
    assert jobs.run_due_jobs(platform) == 0  # not a day yet
    deployments.deploy(platform, SYSTEM, {"contract_expiry.bpmn": (PROCESSES / "contract_expiry.bpmn").read_bytes()})
    assert len(armed(admin)) == 1  # the same version again arms nothing more


def test_each_day_warns_exactly_the_contracts_due_and_never_twice(deployed, platform, clock, admin, manager,
                                                                   supervisor):
    add(platform, "HT-001", expires_in_days=31, warn_days_before=30)                  # due on day 1
    add(platform, "HT-002", expires_in_days=1, warn_days_before=0, manager="wang")    # due on day 1 (expiry day)
    add(platform, "HT-003", expires_in_days=62, warn_days_before=60)                  # due on day 2
    add(platform, "HT-004", expires_in_days=100, warn_days_before=30)                 # due on day 70
    add(platform, "HT-005", expires_in_days=10, warn_days_before=30, status="renewing")  # not active
    add(platform, "HT-006", expires_in_days=5, warn_days_before=30)                   # warned already
    with platform.transaction() as session:
        contracts.mark_warned(session, "HT-006", clock.now())

    next_day(platform, clock)
    by_contract = tasks_by_contract(admin)
    assert sorted(by_contract) == ["HT-001", "HT-002"]
    for task in by_contract.values():
        assert task["title"] == "合同续签" and task["candidate_groups"] == ["customer_manager"]
        assert task["form_key"] == "contract_renewal" and task["priority"] == 70 and task["due_at"] is not None
    assert task_contract(admin, by_contract["HT-001"]["id"])["customer_manager"] == "li"
    assert task_contract(admin, by_contract["HT-002"]["id"])["customer_manager"] == "wang"
    sms = sms_sent(supervisor)
    assert sorted(m["to"] for m in sms) == sorted([contract(platform, "HT-001")["manager_phone"],
                                                   contract(platform, "HT-002")["manager_phone"]])
    text_001 = next(m["text"] for m in sms if m["to"] == contract(platform, "HT-001")["manager_phone"])
    assert "HT-001" in text_001 and "客户HT-001" in text_001 and "剩余 30 天" in text_001
    assert contract(platform, "HT-001")["warned_at"] is not None
    assert contract(platform, "HT-002")["warned_at"] is not None
    for number in ("HT-003", "HT-004", "HT-005"):
        assert contract(platform, number)["warned_at"] is None, number
    # the manager sees the task in the inbox as a candidate
    mine = manager.get("/api/v1/tasks", query_string={"candidate": "me"}).json["items"]
    assert sorted(t["id"] for t in mine) == sorted(t["id"] for t in by_contract.values())

    next_day(platform, clock)
    by_contract = tasks_by_contract(admin)
    assert sorted(by_contract) == ["HT-001", "HT-002", "HT-003"]  # only the newly due one is added
    sms = sms_sent(supervisor)
    assert len(sms) == 3 and "HT-003" in sms[-1]["text"]
    assert contract(platform, "HT-003")["warned_at"] is not None
    assert contract(platform, "HT-004")["warned_at"] is None

    next_day(platform, clock)  # nothing new is due: the run ends at 今日无预警
    assert len(renewal_tasks(admin)) == 3 and len(sms_sent(supervisor)) == 3
    [instance] = armed(admin)
    assert instance["state"] == "waiting"


def test_the_managers_answer_updates_the_contract(deployed, platform, clock, admin, manager, api):
    add(platform, "HT-101", expires_in_days=30, warn_days_before=29)
    add(platform, "HT-102", expires_in_days=20, warn_days_before=20, manager="wang")
    add(platform, "HT-103", expires_in_days=15, warn_days_before=15)
    next_day(platform, clock)
    by_contract = tasks_by_contract(admin)
    assert sorted(by_contract) == ["HT-101", "HT-102", "HT-103"]
    wang = api("wang", ["customer_manager"])
    outsider = api("zhao", ["regional_manager"])

    renew_101 = by_contract["HT-101"]["id"]
    assert outsider.post(f"/api/v1/tasks/{renew_101}/complete",
                         json={"data": {"renewal_outcome": "renewing"}}).status_code == 403
    bad = manager.post(f"/api/v1/tasks/{renew_101}/complete", json={"data": {"renewal_outcome": "renewed"}})
    assert bad.status_code == 422 and "new_expires_on" in bad.json["error"]["details"]["fields"]
    new_expiry = (clock.now() + timedelta(days=400)).date()
    done = manager.post(f"/api/v1/tasks/{renew_101}/complete", json={"data": {
        "renewal_outcome": "renewed", "new_expires_on": new_expiry.isoformat(), "renewal_note": "续签三年"}})
    assert done.status_code == 200, done.json
    row = contract(platform, "HT-101")
    assert row["status"] == "active" and row["expires_on"] == new_expiry.isoformat()
    assert row["warned_at"] is None and row["renewal_note"] == "续签三年"  # warned again before the new expiry

    r = wang.post(f"/api/v1/tasks/{by_contract['HT-102']['id']}/complete",
                  json={"data": {"renewal_outcome": "not_renewed", "renewal_note": "客户不再续约"}})
    assert r.status_code == 200, r.json
    assert contract(platform, "HT-102")["status"] == "expired"
    r = manager.post(f"/api/v1/tasks/{by_contract['HT-103']['id']}/complete",
                     json={"data": {"renewal_outcome": "renewing"}})
    assert r.status_code == 200, r.json
    assert contract(platform, "HT-103")["status"] == "renewing"
    assert renewal_tasks(admin) == []

    next_day(platform, clock)  # the renewed contract is not due again until 29 days before its new expiry
    assert renewal_tasks(admin) == []
    [instance] = armed(admin)
    assert instance["state"] == "waiting"


def test_due_for_warning_threshold_and_contract_rules(platform):
    today = date(2026, 12, 1)
    with platform.transaction() as session:
        for number, expires, warn in (("A", date(2026, 12, 31), 30), ("B", date(2027, 1, 1), 30),
                                      ("C", date(2026, 11, 20), 5), ("D", date(2026, 12, 1), 0)):
            contracts.add_contract(session, contract_no=number, customer_name=f"客户{number}",
                                   customer_manager="li", expires_on=expires, warn_days_before=warn)
        with pytest.raises(Conflict):
            contracts.add_contract(session, contract_no="A", customer_name="x", customer_manager="li",
                                   expires_on=today)
    with platform.transaction() as session:
        due = contracts.due_for_warning(session, today)
        assert [row.contract_no for row in due] == ["C", "D", "A"]  # soonest expiry first; B is tomorrow
        items = {row.contract_no: contracts.warning_item(row, today) for row in due}
        assert items["C"]["days_left"] == -11 and "已过 11 天" in items["C"]["text"]
        assert items["D"]["days_left"] == 0
        assert contracts.mark_warned(session, "A", platform.clock.now()) is True
        assert contracts.mark_warned(session, "A", platform.clock.now()) is False
        assert [row.contract_no for row in contracts.due_for_warning(session, today + DAY)] == ["C", "D", "B"]


def test_a_new_version_replaces_the_armed_instance_and_keeps_the_warnings(deployed, platform, clock, admin):
    add(platform, "HT-201", expires_in_days=10, warn_days_before=10)
    next_day(platform, clock)
    [task] = renewal_tasks(admin)
    twice_a_day = (PROCESSES / "contract_expiry.bpmn").read_bytes().replace(b"R/P1D", b"R/PT12H")
    deployments.deploy(platform, SYSTEM, {"contract_expiry.bpmn": twice_a_day})
    rows = armed(admin)
    assert sorted((r["version"], r["state"]) for r in rows) == [(1, "terminated"), (2, "waiting")]
    assert admin.get(f"/api/v1/tasks/{task['id']}").json["state"] == "cancelled"
    assert contract(platform, "HT-201")["warned_at"] is not None  # not warned again by version 2
    add(platform, "HT-202", expires_in_days=3, warn_days_before=3)
    clock.advance(timedelta(hours=12, seconds=5))
    while jobs.run_due_jobs(platform) > 0:
        pass
    assert [task_contract(admin, t["id"])["contract_no"] for t in renewal_tasks(admin)] == ["HT-202"]


def test_the_daily_instance_does_not_grow_day_after_day(deployed, platform, clock, admin, manager):
    """Each firing of the daily cycle leaves a finished run under it; only the last few are kept
    (workflow.compact), so after two months the instance is no larger than after a week, while
    a renewal task opened on day 3 is still there to be done."""
    from sqlalchemy import select

    from engine.models import ProcessInstance

    add(platform, "HT-101", expires_in_days=33, warn_days_before=30)  # due on day 3

    def stored_size() -> int:
        with platform.Session() as session:
            return len(session.scalar(select(ProcessInstance.workflow_json)
                                      .where(ProcessInstance.process_key == "contract_expiry")))

    sizes = {}
    for day in range(1, 61):
        next_day(platform, clock)
        if day in (7, 60):
            sizes[day] = stored_size()
    assert sizes[60] <= sizes[7] * 1.1
    [task] = renewal_tasks(admin)
    assert task_contract(admin, task["id"])["contract_no"] == "HT-101"
    [instance] = armed(admin)
    assert instance["state"] == "waiting"

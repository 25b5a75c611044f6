"""The repairs API (issue 15, point 4): PUT a typed variable with a reason, bulk actions,
incidents grouped by error and retried per group; each refused with a clear error and no
change where it must be."""

from __future__ import annotations

import pytest
from helpers import instance, start
from repairs_world import BrokenPms, install_pms

CHINESE = {"Accept-Language": "zh"}


@pytest.fixture
def pms(platform, services) -> BrokenPms:
    return install_pms(platform, services)


def put(user, instance_id: int, name: str, body: dict, headers=None):
    return user.put(f"/api/v1/process-instances/{instance_id}/variables/{name}", json=body, headers=headers or {})


def history(user, instance_id: int) -> list[dict]:
    r = user.get(f"/api/v1/process-instances/{instance_id}/history")
    assert r.status_code == 200, r.json
    return r.json["items"]


def test_put_a_typed_variable_with_a_reason(pms, clerk, supervisor):
    order = start(clerk, "repairs_order", "RO-1", amount=30, site="T-1")
    r = put(supervisor, order["id"], "amount", {"value": "80", "type": "number", "reason": "customer corrected it"})
    assert r.status_code == 200, r.json
    assert r.json == {"process_instance_id": order["id"], "name": "amount", "old_value": 30, "new_value": 80,
                      "type": "number", "old_type": "number", "created": False}
    assert instance(supervisor, order["id"])["variables"]["amount"] == 80
    [event] = [e for e in history(supervisor, order["id"]) if e["action"] == "variable.edited"]
    assert event["actor"] == "zhao"
    assert event["data"]["reason"] == "customer corrected it" and event["data"]["old_value"] == 30

    r = put(supervisor, order["id"], "due", {"value": "2026-12-24", "type": "date", "reason": "agreed"})
    assert r.status_code == 200 and r.json["created"] is True
    assert instance(supervisor, order["id"])["variables"]["due"] == "2026-12-24"


def test_put_refusals_change_nothing(pms, api, clerk, supervisor):
    order = start(clerk, "repairs_order", "RO-2", amount=30, site="T-1")
    cases = [
        (supervisor, {"value": 80, "type": "number"}, 422),  # no reason at all
        (supervisor, {"value": 80, "type": "number", "reason": " "}, 400),
        (supervisor, {"value": "lots", "type": "number", "reason": "typo"}, 400),
        (supervisor, {"value": "thirty", "type": "text", "reason": "type change"}, 409),
        (supervisor, {"value": 1, "type": "money", "reason": "x"}, 422),
        (clerk, {"value": 80, "type": "number", "reason": "I may not"}, 403),
    ]
    for user, body, status in cases:
        r = put(user, order["id"], "amount", body)
        assert r.status_code == status, (body, r.json)
        assert r.json["error"]["message"]
    assert instance(supervisor, order["id"])["variables"]["amount"] == 30
    assert not [e for e in history(supervisor, order["id"]) if e["action"] == "variable.edited"]

    r = put(supervisor, order["id"], "amount", {"value": 80, "type": "number", "reason": " "}, CHINESE)
    assert r.status_code == 400 and "原因" in r.json["error"]["message"]
    r = put(supervisor, order["id"], "amount", {"value": "thirty", "type": "text", "reason": "x"}, CHINESE)
    assert r.status_code == 409 and "数字" in r.json["error"]["message"]


def test_refused_for_a_completed_instance_and_for_another_tenant(pms, api, clerk, supervisor):
    order = start(clerk, "repairs_order", "RO-3", amount=80, site="T-1")
    for element in ("review", "approve_big"):
        task = instance(clerk, order["id"])["active_tasks"][0]
        assert task["element_id"] == element
        assert clerk.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {}}).status_code == 200
    assert instance(supervisor, order["id"])["state"] == "completed"
    r = put(supervisor, order["id"], "amount", {"value": 1, "type": "number", "reason": "too late"})
    assert r.status_code == 409 and "completed" in r.json["error"]["message"]
    r = put(supervisor, order["id"], "amount", {"value": 1, "type": "number", "reason": "too late"}, CHINESE)
    assert r.status_code == 409 and "已完成" in r.json["error"]["message"]

    theirs = start(clerk, "repairs_order", "RO-4", tenant="china_unicom", amount=5, site="T-1")
    tenant_boss = api("op", ["operator", "supervisor"], tenant="china_mobile")
    r = put(tenant_boss, theirs["id"], "amount", {"value": 1, "type": "number", "reason": "not mine"})
    assert r.status_code == 404
    assert instance(supervisor, theirs["id"])["variables"]["amount"] == 5


def test_bulk_by_filter_and_by_ids(pms, clerk, supervisor):
    ids = [start(clerk, "repairs_order", f"RO-{n}", amount=n, site="T-1")["id"] for n in range(3)]
    r = supervisor.post("/api/v1/process-instances/bulk", json={
        "action": "suspend", "filter": {"process_key": "repairs_order"}, "reason": "PMS maintenance"})
    assert r.status_code == 200, r.json
    assert (r.json["total"], r.json["done"], r.json["failed"]) == (3, 3, [])
    assert {instance(supervisor, i)["state"] for i in ids} == {"suspended"}

    r = supervisor.post("/api/v1/process-instances/bulk", json={"action": "resume", "instance_ids": [ids[0], 999]})
    assert r.status_code == 200
    assert r.json["done"] == 1 and r.json["failed"] == [{"id": 999, "reason": "process instance 999 does not exist"}]

    for body, status in (({"action": "terminate", "instance_ids": ids}, 400),
                         ({"action": "explode", "instance_ids": ids}, 422),
                         ({"action": "resume"}, 400),
                         ({"action": "resume", "instance_ids": ids, "filter": {}}, 400)):
        r = supervisor.post("/api/v1/process-instances/bulk", json=body)
        assert r.status_code == status, (body, r.json)
    assert clerk.post("/api/v1/process-instances/bulk", json={"action": "resume", "instance_ids": ids}) \
        .status_code == 403
    assert [instance(supervisor, i)["state"] for i in ids] == ["waiting", "suspended", "suspended"]


def test_incident_groups_and_retry_a_group(pms, clerk, supervisor):
    ids = [start(clerk, "repairs_sync", f"S-{n}", site=f"T-{n}")["id"] for n in range(3)]
    r = supervisor.get("/api/v1/incidents/groups")
    assert r.status_code == 200
    [group] = r.json["items"]
    assert (group["count"], group["element_id"], group["element_name"]) == (3, "register", "Register in PMS")
    assert "order <n> failed" in group["pattern"]
    assert sorted(i["process_instance_id"] for i in group["incidents"]) == ids

    assert clerk.post("/api/v1/incidents/groups/retry", json={"key": group["key"]}).status_code == 403
    assert supervisor.post("/api/v1/incidents/groups/retry", json={"key": "nope"}).status_code == 404
    pms.broken = False
    r = supervisor.post("/api/v1/incidents/groups/retry", json={"key": group["key"]})
    assert r.status_code == 200, r.json
    assert r.json["retried"] == 3 and r.json["failed"] == []
    assert supervisor.get("/api/v1/incidents/groups").json["items"] == []
    assert {instance(supervisor, i)["state"] for i in ids} == {"waiting"}


def test_a_tenants_user_sees_its_own_groups_as_reasons(pms, api, clerk):
    start(clerk, "repairs_sync", "S-1", tenant="china_mobile", site="T-1")
    start(clerk, "repairs_sync", "S-2", tenant="china_unicom", site="T-2")
    customer = api("cm", ["operator"], tenant="china_mobile")
    [group] = customer.get("/api/v1/incidents/groups").json["items"]
    assert group["count"] == 1 and "PMS" not in group["sample"]

"""Messages from external systems: delivery by business key, message starts, idempotency."""

import threading

from helpers import deploy, start


def send(client, message_id, name, business_key=None, payload=None, correlation=None):
    body = {"name": name, "message_id": message_id, "payload": payload or {}}
    if business_key is not None:
        body["business_key"] = business_key
    if correlation is not None:
        body["correlation"] = correlation
    return client.post("/api/v1/messages", json=body)


def test_message_reaches_only_the_instance_with_that_business_key(platform, api):
    deploy(platform, "msg_wait.bpmn")
    staff = api("admin", ["admin"])
    first = start(staff, "msg_wait", "DEMAND-1")
    second = start(staff, "msg_wait", "DEMAND-2")
    assert first["state"] == "waiting" and first["active_tasks"] == []

    r = send(staff, "m-1", "site_result", "DEMAND-2", {"site": "Tower 7", "success": True})
    assert r.status_code == 200, r.json
    assert r.json["delivered_to"] == [second["id"]] and r.json["started"] == []

    moved = staff.get(f"/api/v1/process-instances/{second['id']}").json
    assert [t["title"] for t in moved["active_tasks"]] == ["Check the result"]
    assert moved["variables"]["site"] == "Tower 7"
    untouched = staff.get(f"/api/v1/process-instances/{first['id']}").json
    assert untouched["active_tasks"] == [] and "site" not in untouched["variables"]


def test_repeating_a_message_id_does_nothing_more_and_answers_the_same(platform, api):
    deploy(platform, "msg_wait.bpmn")
    staff = api("admin", ["admin"])
    start(staff, "msg_wait", "DEMAND-1")
    start(staff, "msg_wait", "DEMAND-1")
    first = send(staff, "same-id", "site_result", "DEMAND-1", {"n": 1})
    assert first.status_code == 200 and len(first.json["delivered_to"]) == 2
    late = start(staff, "msg_wait", "DEMAND-1")  # a new waiter must not get the repeat
    again = send(staff, "same-id", "site_result", "DEMAND-1", {"n": 1})
    assert again.status_code == 200 and again.json == first.json
    assert staff.get(f"/api/v1/process-instances/{late['id']}").json["active_tasks"] == []
    history = staff.get(f"/api/v1/process-instances/{first.json['delivered_to'][0]}/history").json["items"]
    assert [e["action"] for e in history].count("message.received") == 1


def test_nobody_waiting_answers_404_with_the_reason(platform, api):
    deploy(platform, "msg_wait.bpmn")
    staff = api("admin", ["admin"])
    start(staff, "msg_wait", "DEMAND-1")
    r = send(staff, "m-404", "site_result", "NO-SUCH-DEMAND")
    assert r.status_code == 404
    assert "site_result" in r.json["error"]["message"] and "NO-SUCH-DEMAND" in r.json["error"]["message"]
    r = send(staff, "m-404b", "unknown_message")
    assert r.status_code == 404


def test_a_message_start_event_starts_a_process(platform, api):
    deploy(platform, "msg_start.bpmn")
    system = api("eoms", ["admin"])
    r = send(system, "fault-9", "fault_reported", "FAULT-9", {"circuit": "SDH-0042", "level": "group"})
    assert r.status_code == 200, r.json
    assert r.json["delivered_to"] == [] and len(r.json["started"]) == 1
    instance = system.get(f"/api/v1/process-instances/{r.json['started'][0]}").json
    assert instance["business_key"] == "FAULT-9"
    assert instance["variables"]["circuit"] == "SDH-0042"
    assert [t["title"] for t in instance["active_tasks"]] == ["Accept the fault"]
    assert send(system, "fault-9", "fault_reported", "FAULT-9").json == r.json  # no second instance
    assert system.get("/api/v1/process-instances").json["total"] == 1


def test_correlation_matches_instance_variables(platform, api):
    deploy(platform, "msg_wait.bpmn")
    staff = api("admin", ["admin"])
    a = start(staff, "msg_wait", "BATCH", site_id="S-1")
    b = start(staff, "msg_wait", "BATCH", site_id="S-2")
    r = send(staff, "c-1", "site_result", "BATCH", {"ok": True}, correlation={"site_id": "S-2"})
    assert r.status_code == 200 and r.json["delivered_to"] == [b["id"]]
    assert send(staff, "c-2", "site_result", "BATCH", correlation={"site_id": "S-9"}).status_code == 404
    assert staff.get(f"/api/v1/process-instances/{a['id']}").json["active_tasks"] == []


def test_suspended_instances_receive_no_message(platform, api):
    deploy(platform, "msg_wait.bpmn")
    boss = api("boss", ["supervisor"])
    instance = start(boss, "msg_wait", "D-1")
    assert boss.post(f"/api/v1/process-instances/{instance['id']}/suspend").status_code == 200
    assert send(boss, "s-1", "site_result", "D-1").status_code == 404
    assert boss.post(f"/api/v1/process-instances/{instance['id']}/resume").status_code == 200
    assert send(boss, "s-2", "site_result", "D-1").json["delivered_to"] == [instance["id"]]


def test_the_same_message_sent_concurrently_is_delivered_once(platform, api):
    deploy(platform, "msg_wait.bpmn")
    staff = api("admin", ["admin"])
    instance = start(staff, "msg_wait", "D-1")
    barrier = threading.Barrier(6)
    answers = []

    def deliver():
        barrier.wait()
        r = send(staff, "race-1", "site_result", "D-1", {"x": 1})
        answers.append((r.status_code, r.json))

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {code for code, _ in answers} == {200}
    assert all(body["delivered_to"] == [instance["id"]] for _, body in answers)
    history = staff.get(f"/api/v1/process-instances/{instance['id']}/history").json["items"]
    assert [e["action"] for e in history].count("message.received") == 1


def test_bpmn_correlation_properties_pick_the_instance(platform, api):
    """The model's correlation property (site_code, from each instance's my_site) decides."""
    deploy(platform, "msg_correlated.bpmn")
    staff = api("admin", ["admin"])
    a = start(staff, "msg_correlated", "BATCH", my_site="S-1")
    b = start(staff, "msg_correlated", "BATCH", my_site="S-2")
    by_payload = send(staff, "p-1", "screening_done", "BATCH", {"site_code": "S-2", "result": "share"})
    assert by_payload.json["delivered_to"] == [b["id"]]
    assert staff.get(f"/api/v1/process-instances/{b['id']}").json["state"] == "completed"
    by_correlation = send(staff, "p-2", "screening_done", correlation={"site_code": "S-1"})
    assert by_correlation.json["delivered_to"] == [a["id"]]
    nobody = send(staff, "p-3", "screening_done", "BATCH", {"site_code": "S-9"})
    assert nobody.status_code == 404


def test_a_message_without_the_correlation_value_reaches_nobody(platform, api):
    deploy(platform, "msg_correlated.bpmn")
    staff = api("admin", ["admin"])
    start(staff, "msg_correlated", "BATCH", my_site="S-1")
    r = send(staff, "q-1", "screening_done", "BATCH", {"result": "share"})
    assert r.status_code == 404

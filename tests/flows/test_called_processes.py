"""A negotiation that a tower order calls is a process instance of its own (issue 15, point 2):
its own row, key, state, variables and tasks, linked to the tower order that called it."""

from __future__ import annotations

from sqlalchemy import select
from test_flow_tower_order import complete, deployed, failed_screening, people  # noqa: F401

from engine.models import HumanTask, InstanceToken, InstanceValue, ProcessInstance


def called_rows(platform, root_id: int) -> list[ProcessInstance]:
    with platform.Session() as s:
        return list(s.scalars(select(ProcessInstance).where(ProcessInstance.root_id == root_id)))


def test_the_called_negotiation_has_its_own_row_state_and_tasks(deployed, people, platform):  # noqa: F811
    iid = failed_screening(people)
    [negotiation] = called_rows(platform, iid)
    assert (negotiation.process_key, negotiation.parent_id, negotiation.state) == ("site_negotiation", iid, "waiting")
    assert (negotiation.business_key, negotiation.tenant) == ("XQ-001", "china_mobile")
    assert negotiation.variables["negotiator"] == "sun"
    with platform.Session() as s:
        [task] = s.scalars(select(HumanTask).where(HumanTask.instance_id == iid, HumanTask.state == "open"))
        assert (task.element_id, task.process_key, task.called_instance_id) == ("report", "site_negotiation",
                                                                                negotiation.id)
        at = {(t.instance_id, t.element_id, t.kind) for t in s.scalars(
            select(InstanceToken).where(InstanceToken.root_id == iid))}
        assert (negotiation.id, "report", "active") in at
        assert (iid, "negotiation", "scope") in at  # the call activity holds the token inside it
        assert any(kind == "listener" and owner == iid for owner, _, kind in at)  # cancel / change wait apart
        values = dict(s.execute(select(InstanceValue.name, InstanceValue.value)
                                .where(InstanceValue.instance_id == negotiation.id)).all())
        assert values["negotiator"] == "sun"

    complete(people.negotiator, people, iid, "report", progress_outcome="success", site_code="NJ-XW-0100",
             lessor="玄武湖物业", contract_no="HT-1", agreed_cost=40000, lease_years=5)
    [negotiation] = called_rows(platform, iid)
    assert negotiation.state == "completed" and negotiation.ended_at is not None
    with platform.Session() as s:
        assert not s.scalars(select(InstanceToken).where(InstanceToken.instance_id == negotiation.id)).all()


def test_a_called_process_is_changed_only_through_its_caller(deployed, people, platform):  # noqa: F811
    iid = failed_screening(people)
    [negotiation] = called_rows(platform, iid)
    r = people.supervisor.post(f"/api/v1/process-instances/{negotiation.id}/suspend", json={})
    assert r.status_code == 409
    assert called_rows(platform, iid)[0].state == "waiting"
    assert people.supervisor.post(f"/api/v1/process-instances/{iid}/suspend", json={}).status_code in (200, 204)
    assert called_rows(platform, iid)[0].state == "suspended"
    assert people.supervisor.post(f"/api/v1/process-instances/{iid}/resume", json={}).status_code in (200, 204)
    assert called_rows(platform, iid)[0].state == "waiting"


def test_cancelling_the_demand_cancels_the_negotiation(deployed, people, platform):  # noqa: F811
    iid = failed_screening(people)
    r = people.operator.post("/api/v1/demands/XQ-001/cancel", json={"reason": "项目取消", "message_id": "c-9"})
    assert r.status_code == 200
    [negotiation] = called_rows(platform, iid)
    assert negotiation.state in ("cancelled", "terminated")
    with platform.Session() as s:
        assert not s.scalars(select(InstanceToken).where(InstanceToken.root_id == iid)).all()


def drawing(page: str) -> dict:
    import json
    import re

    return json.loads(re.search(r'<script type="application/json" id="[^"]*-data">(.*?)</script>', page, re.S).group(1))


def signed_in(app, username: str):
    """A page client signed in as one of the flow's people (password123), Chinese pages."""
    import re

    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    r = client.post("/login", data={"csrf_token": token, "username": username, "password": "password123"})
    assert r.status_code == 302
    return client


def test_the_negotiation_page_shows_its_own_diagram_tasks_and_caller(deployed, people, platform, app):  # noqa: F811
    iid = failed_screening(people)
    [negotiation] = called_rows(platform, iid)
    page = signed_in(app, "zhou")

    caller = page.get(f"/instances/{iid}").get_data(as_text=True)
    assert f'href="/instances/{negotiation.id}"' in caller and 'data-testid="called-list"' in caller
    assert f"\"negotiation\": \"/instances/{negotiation.id}\"" in caller  # the call activity drills down

    called = page.get(f"/instances/{negotiation.id}")
    assert called.status_code == 200
    text = called.get_data(as_text=True)
    assert 'data-testid="called-by"' in text and f'href="/instances/{iid}"' in text
    assert "选址谈判" in text and "XQ-001" in text
    assert "report" in drawing(text)["path"]["active"]  # the mark is on its own diagram's element
    assert "screening" not in drawing(text)["path"]["completed"]  # not its caller's
    assert 'data-testid="instance-actions"' not in text  # changed only through its caller
    assert "反馈谈址进展" in text  # its own open task in its timeline

    assert people.supervisor.get(f"/api/v1/process-instances/{negotiation.id}").status_code == 200
    assert people.other_operator.get(f"/api/v1/process-instances/{negotiation.id}").status_code == 404


def test_reindex_writes_the_rows_of_instances_saved_before_they_existed(deployed, people, platform):  # noqa: F811
    from sqlalchemy import delete, update

    from engine.runtime.reindex import reindex

    iid = failed_screening(people)
    with platform.transaction() as s:  # as an instance saved by a version before schema 0007
        s.execute(delete(InstanceToken))
        s.execute(delete(InstanceValue))
        s.execute(update(HumanTask).values(called_instance_id=None, process_key="tower_order"))
        s.execute(delete(ProcessInstance).where(ProcessInstance.parent_id.is_not(None)))
    assert called_rows(platform, iid) == []

    assert reindex(platform) == 1
    [negotiation] = called_rows(platform, iid)
    assert (negotiation.process_key, negotiation.state) == ("site_negotiation", "waiting")
    with platform.Session() as s:
        [task] = s.scalars(select(HumanTask).where(HumanTask.state == "open"))
        assert (task.process_key, task.called_instance_id) == ("site_negotiation", negotiation.id)
        assert s.scalar(select(InstanceToken.id).where(InstanceToken.instance_id == negotiation.id,
                                                       InstanceToken.element_id == "report")) is not None
        assert s.get(InstanceValue, (iid, "demand_no")).value == "XQ-001"
    assert reindex(platform) == 1  # again: nothing doubles
    assert len(called_rows(platform, iid)) == 1

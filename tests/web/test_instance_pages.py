"""The instances and process-definition pages, through the real app (CSRF on, signed in with
a cookie): filters, pagination, controls only for supervisors, confirmation before
terminate, retry, tenant scoping, both languages, and a page without bpmn-js."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from helpers import deploy
from sqlalchemy import select

from engine import identity
from engine.models import AuditEvent, HumanTask, Incident, ProcessInstance
from engine.principal import Principal
from engine.runtime import instances, jobs

STAFF = Principal("staff", frozenset({"regional_manager", "negotiator"}))
SUPERVISOR = Principal("boss", frozenset({"supervisor"}))
CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


@pytest.fixture
def deployed(platform, services):
    services.add("test.sup_pms", _pms)
    _pms.down = True
    deploy(platform, "ui_sup_review.bpmn", "ui_sup_loop.bpmn", "ui_sup_fail.bpmn")
    return platform


def _pms(params, call):
    if _pms.down:
        raise RuntimeError("PMS is down")
    return {"project": "P-1"}


class Browser:
    """A signed-in test client that sends the CSRF token the pages carry."""

    def __init__(self, client):
        self.client = client
        self.token = None

    def get(self, url, **kwargs):
        response = self.client.get(url, **kwargs)
        found = CSRF.search(response.get_data(as_text=True))
        if found:
            self.token = found.group(1)
        return response

    def post(self, url, data=None, **kwargs):
        if self.token is None:
            self.get("/login")
        return self.client.post(url, data={"csrf_token": self.token, **(data or {})}, **kwargs)


@pytest.fixture
def sign_in(app, platform):
    def make(username: str, groups: list[str], tenant: str | None = None, lang: str = "en") -> Browser:
        with platform.transaction() as session:
            identity.add_user(session, username, "password123", groups, tenant)
        browser = Browser(app.test_client())
        browser.get(f"/lang/{lang}")
        browser.get("/login")
        response = browser.post("/login", {"username": username, "password": "password123"})
        assert response.status_code == 302, response.get_data(as_text=True)
        return browser

    return make


def start(platform, key: str, business_key: str, tenant: str | None = None) -> int:
    return instances.start(platform, STAFF, key, business_key, tenant=tenant)


def listed(response) -> list[int]:
    return [int(i) for i in re.findall(r'data-instance-id="(\d+)"', response.get_data(as_text=True))]


def state_of(platform, instance_id: int) -> str:
    with platform.Session() as session:
        return session.get(ProcessInstance, instance_id).state


# --- list -----------------------------------------------------------------------------------


def test_list_filters_by_process_state_key_tenant_and_incident(deployed, sign_in):
    review = start(deployed, "ui_sup_review", "R-1", tenant="china_mobile")
    loop = start(deployed, "ui_sup_loop", "L-1", tenant="china_unicom")
    failing = start(deployed, "ui_sup_fail", "F-1")
    jobs.drain(deployed, failing)
    boss = sign_in("boss", ["supervisor"])

    assert listed(boss.get("/instances")) == [failing, loop, review]
    assert listed(boss.get("/instances?process=ui_sup_loop")) == [loop]
    assert listed(boss.get("/instances?state=error")) == [failing]
    assert listed(boss.get("/instances?business_key=R-1")) == [review]
    assert listed(boss.get("/instances?tenant=china_unicom")) == [loop]
    assert listed(boss.get("/instances?incident=yes")) == [failing]
    assert listed(boss.get("/instances?incident=no")) == [loop, review]
    assert listed(boss.get("/instances?process=ui_sup_review&version=1")) == [review]
    assert listed(boss.get("/instances?process=ui_sup_review&version=2")) == []
    page = boss.get("/instances?state=nonsense&version=x").get_data(as_text=True)
    assert 'data-instance-id' in page  # malformed filters are ignored, not an error


def test_list_filters_by_start_date_and_overdue(deployed, sign_in, clock):
    early = start(deployed, "ui_sup_review", "D-1")
    clock.advance(timedelta(days=3))
    late = start(deployed, "ui_sup_review", "D-2")
    boss = sign_in("boss", ["supervisor"])
    day = clock.now().date()
    assert listed(boss.get(f"/instances?started_from={day}")) == [late]
    assert listed(boss.get(f"/instances?started_to={day - timedelta(days=1)}")) == [early]
    assert listed(boss.get("/instances?overdue=1")) == [early]  # review is due an hour after it starts
    page = boss.get("/instances").get_data(as_text=True)
    assert f'data-instance-id="{early}" class="overdue"' in page


def test_list_is_paginated(deployed, sign_in):
    ids = [start(deployed, "ui_sup_loop", f"P-{n}") for n in range(5)]
    boss = sign_in("boss", ["supervisor"])
    first = boss.get("/instances?size=2")
    assert listed(first) == [ids[4], ids[3]]
    text = first.get_data(as_text=True)
    assert "Page 1 of 3" in text and 'rel="next"' in text and 'rel="prev"' not in text
    assert listed(boss.get("/instances?size=2&page=3")) == [ids[0]]
    assert listed(boss.get("/instances?size=2&page=2&process=ui_sup_loop")) == [ids[2], ids[1]]


def test_every_signed_in_user_lists_but_only_supervisors_get_controls(deployed, sign_in):
    instance_id = start(deployed, "ui_sup_review", "C-1")
    worker = sign_in("wu", ["regional_manager"])
    assert listed(worker.get("/instances")) == [instance_id]
    page = worker.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "instance-actions" not in page and "action-terminate" not in page
    assert worker.get(f"/instances/{instance_id}/confirm/terminate").status_code == 403
    assert worker.post(f"/instances/{instance_id}/terminate", {"confirmed": "yes", "reason": "x"}).status_code == 403
    assert state_of(deployed, instance_id) == "waiting"

    boss = sign_in("boss", ["supervisor"])
    page = boss.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert 'data-testid="action-suspend"' in page and 'data-testid="action-terminate"' in page
    assert anonymous_redirects(boss.client.application, f"/instances/{instance_id}")


def anonymous_redirects(app, url: str) -> bool:
    response = app.test_client().get(url)
    return response.status_code == 302 and "/login" in response.headers["Location"]


# --- one instance -----------------------------------------------------------------------------


def test_instance_page_shows_diagram_marks_timeline_variables_and_audit(deployed, sign_in):
    instance_id = instances.start(deployed, STAFF, "ui_sup_review", "S-1", variables={"site": "T-0042"})
    boss = sign_in("boss", ["supervisor"])
    response = boss.get(f"/instances/{instance_id}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'data-diagram="instance-diagram-data"' in page
    assert '"tf-active"' in page and '"review"' in page and "bpmn:definitions" in page
    assert "/static/build/viewer.js" in page or ("/vendor/bpmn-viewer.js" in page and "diagram.js" in page)
    assert 'data-testid="timeline"' in page and "Review demand" in page
    assert "T-0042" in page  # variables
    assert 'data-action="instance.started"' in page  # audit log
    assert "Waiting" in page


def test_terminate_needs_the_confirmation_step_and_a_reason(deployed, sign_in):
    instance_id = start(deployed, "ui_sup_review", "T-1")
    boss = sign_in("boss", ["supervisor"])
    boss.get(f"/instances/{instance_id}")

    plain = boss.post(f"/instances/{instance_id}/terminate", {"reason": "duplicate"})
    assert plain.status_code == 302 and f"/instances/{instance_id}/confirm/terminate" in plain.headers["Location"]
    assert state_of(deployed, instance_id) == "waiting"

    confirm = boss.get(plain.headers["Location"]).get_data(as_text=True)
    assert 'name="confirmed" value="yes"' in confirm and "duplicate" in confirm

    no_reason = boss.post(f"/instances/{instance_id}/terminate", {"confirmed": "yes", "reason": " "})
    assert no_reason.status_code == 302 and state_of(deployed, instance_id) == "waiting"

    done = boss.post(f"/instances/{instance_id}/terminate", {"confirmed": "yes", "reason": "duplicate"},
                     follow_redirects=True)
    assert state_of(deployed, instance_id) == "terminated"
    text = done.get_data(as_text=True)
    assert "The instance is terminated." in text and "duplicate" in text
    assert "action-suspend" not in text and "action-terminate" not in text


def test_a_post_without_the_csrf_token_is_refused(deployed, sign_in):
    instance_id = start(deployed, "ui_sup_review", "T-2")
    boss = sign_in("boss", ["supervisor"])
    response = boss.client.post(f"/instances/{instance_id}/terminate", data={"confirmed": "yes", "reason": "x"})
    assert response.status_code == 400
    assert state_of(deployed, instance_id) == "waiting"


def test_suspend_and_resume_with_a_reason(deployed, sign_in):
    instance_id = start(deployed, "ui_sup_review", "S-2")
    boss = sign_in("boss", ["supervisor"])
    boss.get(f"/instances/{instance_id}/confirm/suspend")
    page = boss.post(f"/instances/{instance_id}/suspend", {"confirmed": "yes", "reason": "owner on holiday"},
                     follow_redirects=True).get_data(as_text=True)
    assert state_of(deployed, instance_id) == "suspended"
    assert 'data-testid="action-resume"' in page and "owner on holiday" in page
    again = boss.post(f"/instances/{instance_id}/suspend", {"confirmed": "yes"}, follow_redirects=True)
    assert "cannot be suspended" in again.get_data(as_text=True)  # the engine's refusal, as a message
    boss.post(f"/instances/{instance_id}/resume", {"confirmed": "yes"})
    assert state_of(deployed, instance_id) == "waiting"
    with deployed.Session() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.instance_id == instance_id)).all()
    suspended = [e for e in events if e.action == "instance.suspended"]
    assert [e.data for e in suspended] == [{"reason": "owner on holiday"}]
    assert "instance.resumed" in {e.action for e in events}


def test_retry_button_retries_the_incident(deployed, sign_in):
    instance_id = start(deployed, "ui_sup_fail", "F-2")
    jobs.drain(deployed, instance_id)
    with deployed.Session() as session:
        incident_id = session.scalar(select(Incident.id).where(Incident.instance_id == instance_id))
    worker = sign_in("wu", ["regional_manager"])
    page = worker.get(f"/instances/{instance_id}").get_data(as_text=True)
    # staff without supervisor read the one-line message; the traceback is for supervisors and admins
    assert "PMS is down" in page and "Traceback" not in page and f"retry-{incident_id}" not in page
    assert worker.post(f"/instances/{instance_id}/incidents/{incident_id}/retry").status_code == 403

    boss = sign_in("boss", ["supervisor"])
    page = boss.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert f'data-testid="retry-{incident_id}"' in page and '"tf-incident"' in page and "Traceback" in page
    _pms.down = False
    done = boss.post(f"/instances/{instance_id}/incidents/{incident_id}/retry", follow_redirects=True)
    assert "The incident was retried." in done.get_data(as_text=True)
    assert state_of(deployed, instance_id) == "completed"


def test_another_tenants_instance_is_a_404_page(deployed, sign_in):
    mine = start(deployed, "ui_sup_review", "CM-1", tenant="china_mobile")
    theirs = start(deployed, "ui_sup_review", "CU-1", tenant="china_unicom")
    operator = sign_in("cm_li", ["operator", "supervisor"], tenant="china_mobile")
    page = operator.get("/instances").get_data(as_text=True)
    assert listed(operator.get("/instances")) == [mine]
    assert "CU-1" not in page and "china_unicom" not in page
    assert 'name="tenant"' not in page  # no tenant filter for a user bound to one
    assert listed(operator.get("/instances?tenant=china_unicom")) == [mine]
    for url in (f"/instances/{theirs}", f"/instances/{theirs}/confirm/terminate"):
        response = operator.get(url)
        assert response.status_code == 404 and "CU-1" not in response.get_data(as_text=True)
    response = operator.post(f"/instances/{theirs}/terminate", {"confirmed": "yes", "reason": "x"})
    assert response.status_code == 404 and state_of(deployed, theirs) == "waiting"
    definitions = operator.get("/definitions").get_data(as_text=True)
    assert re.search(r'data-state="waiting">1<', definitions)  # only its own instance is counted


def test_pages_are_chinese_by_default(deployed, sign_in):
    instance_id = start(deployed, "ui_sup_review", "ZH-1")
    boss = sign_in("boss", ["supervisor"], lang="zh")
    listing = boss.get("/instances").get_data(as_text=True)
    assert "流程实例" in listing and "等待中" in listing and "业务编号" in listing
    page = boss.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "挂起" in page and "终止" in page and "审计日志" in page and "时间线" in page
    confirm = boss.get(f"/instances/{instance_id}/confirm/terminate").get_data(as_text=True)
    assert "原因" in confirm
    assert "版本" in boss.get("/definitions").get_data(as_text=True)


def test_missing_bpmn_js_gives_a_plain_message(deployed, sign_in, monkeypatch):
    import web.ui.instances as pages

    instance_id = start(deployed, "ui_sup_review", "M-1")
    monkeypatch.setattr(pages, "missing_assets", lambda: ["bpmn-js/dist/bpmn-navigated-viewer.production.min.js"])
    boss = sign_in("boss", ["supervisor"])
    for url in (f"/instances/{instance_id}", "/definitions/ui_sup_review/1"):
        page = boss.get(url).get_data(as_text=True)
        assert 'data-testid="diagram-missing"' in page and "bpmn-js is not installed" in page
        assert "bpmn-viewer.js" not in page


# --- process definitions ------------------------------------------------------------------------


def test_definitions_list_versions_with_counts_per_state(deployed, sign_in):
    start(deployed, "ui_sup_review", "V-1")
    stopped = start(deployed, "ui_sup_review", "V-2")
    instances.terminate(deployed, SUPERVISOR, stopped, "test")
    boss = sign_in("boss", ["supervisor"])
    page = boss.get("/definitions").get_data(as_text=True)
    section = page[page.index('data-key="ui_sup_review"'):]
    section = section[:section.index("</section>")]
    assert "Site review" in section and "v1" in section
    assert re.search(r'data-state="waiting">1<', section) and re.search(r'data-state="terminated">1<', section)
    assert re.search(r'data-testid="total">2<', section)
    assert 'data-key="ui_sup_loop"' in page and 'data-key="ui_sup_fail"' in page


def test_definitions_page_is_for_designers_and_supervisors(deployed, sign_in):
    worker = sign_in("wu", ["regional_manager"])
    assert worker.get("/definitions").status_code == 403
    designer = sign_in("des", ["designer"])
    assert designer.get("/definitions").status_code == 200
    assert designer.get("/definitions/ui_sup_review/9").status_code == 404


def test_version_page_has_the_heatmap(deployed, sign_in):
    from engine.runtime import tasks

    first = start(deployed, "ui_sup_review", "H-1")
    start(deployed, "ui_sup_review", "H-2")
    with deployed.Session() as session:
        task_id = session.scalar(select(HumanTask.id).where(HumanTask.instance_id == first))
    tasks.complete(deployed, STAFF, task_id, {})
    boss = sign_in("boss", ["supervisor"])
    page = boss.get("/definitions/ui_sup_review/1").get_data(as_text=True)
    assert 'data-diagram="definition-diagram-data"' in page and '"tf-badge-now"' in page
    heat_row = r'data-element-id="(\w+)"><td class="card-title">.*?</td><td class="num now"[^>]*>(\d+)</td>'
    rows = dict(re.findall(heat_row, page))
    assert rows == {"review": "1", "survey": "1", "wait": "1", "start": "0", "split": "0"}
    passed = dict(re.findall(r'data-element-id="(\w+)">.*?<td class="num passed"[^>]*>(\d+)</td>', page))
    assert passed["start"] == "2" and passed["review"] == "1"

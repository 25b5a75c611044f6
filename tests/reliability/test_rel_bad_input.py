"""Bad input: broken diagrams refused whole at deploy, hypothesis-generated form submissions
answered 422 (never 500), oversized uploads answered 413."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from helpers import DATA, read
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from engine import identity
from engine.models import Deployment, HumanTask, ProcessDefinition
from engine.principal import SYSTEM
from engine.runtime import instances
from forms import FORMS

BROKEN = DATA / "lint" / "broken"
GOOD = "tasks_inbox.bpmn"
FIFTY_MB = 50 * 1024 * 1024
OVER_REQUEST_LIMIT = 61 * 1024 * 1024
FORM_EXAMPLES = 200


def generated_corpus() -> dict[str, bytes]:
    """Broken inputs made here: too big, hostile XML, wrong encodings, wrong kinds."""
    good = read(GOOD)
    padding = b"<!--" + b"x" * FIFTY_MB + b"-->\n"
    laughs = b"".join(b'<!ENTITY lol%d "%s">' % (n, (b"&lol%d;" % (n - 1) if n > 1 else b"&lol;") * 10)
                      for n in range(1, 10))
    return {
        "fifty_megabytes.bpmn": good.replace(b"<bpmn:definitions", padding + b"<bpmn:definitions", 1),
        "billion_laughs.dmn": b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">' + laughs
                              + b']>\n<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/">&lol9;</definitions>',
        "external_entity.bpmn": b'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
                                + b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&x;'
                                + b"</bpmn:definitions>",
        "utf16_doctype.bpmn": '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE d [<!ENTITY a "b">]><d/>'
                              .encode("utf-16"),
        "deep_nesting.bpmn": b"<a>" * 100_000 + b"</a>" * 100_000,
        "empty.bpmn": b"",
        "binary.bpmn": bytes(range(256)) * 64,
        "latin1.bpmn": good.replace(b"Site access request", "Demande d'accès".encode("latin-1")),
        "not_xml.dmn": b"decision: site_fee\nrules: []\n",
        "wrong_root.bpmn": b'<?xml version="1.0"?><html><body>not a diagram</body></html>',
        "notes.txt": b"just text",
        "../../etc/passwd.bpmn": b"<x/>",
        "good_xml_truncated.bpmn": good[: len(good) // 2],
    }


def corpus() -> dict[str, bytes]:
    files = {p.name: p.read_bytes() for p in sorted(BROKEN.iterdir())}
    files.update(generated_corpus())
    return files


def count(platform, model) -> int:
    with platform.Session() as session:
        return session.scalar(select(func.count()).select_from(model))


def upload(files: dict[str, bytes]) -> dict:
    return {"data": {"files": [(io.BytesIO(data), name) for name, data in files.items()]},
            "content_type": "multipart/form-data"}


def test_every_broken_diagram_is_refused_with_a_clear_error_and_nothing_is_deployed(platform, api):
    designer = api("des", ["designer"])
    files = corpus()
    assert len(files) >= 30
    for name, data in files.items():
        alone = designer.post("/api/v1/deployments", **upload({name: data}))
        with_good = designer.post("/api/v1/deployments", **upload({GOOD: read(GOOD), name: data}))
        for response in (alone, with_good):
            assert response.status_code == 422, (name, response.status_code, response.json)
            error = response.json["error"]
            assert error["code"] == "validation_failed"
            assert error["message"].endswith("nothing was deployed")
            mine = [p for p in error["details"]["problems"] if p["file"] == name.rsplit("/", 1)[-1]]
            assert mine and all(p["message"] for p in mine), (name, error)
            assert [p for p in error["details"]["problems"] if p["file"] == GOOD] == []
    assert (count(platform, Deployment), count(platform, ProcessDefinition)) == (0, 0)
    print(f"broken files refused: {len(files)}, each alone and next to a good file")


def test_the_refusals_say_why(api):
    designer = api("des", ["designer"])
    reasons = {
        "fifty_megabytes.bpmn": "the limit is 10 MB",
        "billion_laughs.dmn": "DOCTYPE declarations are not allowed",
        "external_entity.bpmn": "DOCTYPE declarations are not allowed",
        "utf16_doctype.bpmn": "DOCTYPE declarations are not allowed",
        "deep_nesting.bpmn": "not well-formed",
        "empty.bpmn": "",
        "notes.txt": "only .bpmn and .dmn files can be deployed",
        "latin1.bpmn": "not UTF-8",
    }
    files = generated_corpus()
    for name, reason in reasons.items():
        response = designer.post("/api/v1/deployments", **upload({name: files[name]}))
        problems = response.json["error"]["details"]["problems"]
        assert any(reason in p["message"] for p in problems), (name, problems)


# --- 413 -------------------------------------------------------------------------------------------

def test_an_upload_over_the_request_limit_gets_413_and_changes_nothing(platform, api):
    designer = api("des", ["designer"])
    too_big = b"<!--" + b"x" * OVER_REQUEST_LIMIT + b"-->"
    response = designer.post("/api/v1/deployments", **upload({"huge.bpmn": too_big}))
    assert response.status_code == 413
    assert response.json["error"]["code"] == "too_large"
    assert count(platform, Deployment) == 0


def test_a_page_upload_over_the_request_limit_gets_413(app, platform):
    with platform.transaction() as session:
        identity.add_user(session, "des", "password123", ["designer"])
    client = app.test_client()
    token = csrf(client, "/login")
    assert client.post("/login", data={"username": "des", "password": "password123",
                                       "csrf_token": token}).status_code == 302
    response = client.post("/designer/upload", data={"files": (io.BytesIO(b"x" * OVER_REQUEST_LIMIT), "a.bpmn"),
                                                      "csrf_token": csrf(client, "/designer/")},
                           content_type="multipart/form-data")
    assert response.status_code == 413
    assert count(platform, Deployment) == 0


def csrf(client, url: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', client.get(url).get_data(as_text=True))[1]


# --- hypothesis: form submissions ------------------------------------------------------------------

def every_form_bpmn() -> bytes:
    """One process whose parallel gateway opens one user task per installed form."""
    keys = sorted(FORMS)
    tasks = "".join(
        f'<bpmn:userTask id="t{n}" name="{key}"><bpmn:extensionElements><spiffworkflow:properties>'
        f'<spiffworkflow:property name="formKey" value="{key}"/>'
        f'<spiffworkflow:property name="candidateGroups" value="clerk"/></spiffworkflow:properties>'
        f'</bpmn:extensionElements><bpmn:incoming>in{n}</bpmn:incoming><bpmn:outgoing>out{n}</bpmn:outgoing>'
        f'</bpmn:userTask><bpmn:sequenceFlow id="in{n}" sourceRef="fork" targetRef="t{n}"/>'
        f'<bpmn:sequenceFlow id="out{n}" sourceRef="t{n}" targetRef="join"/>'
        for n, key in enumerate(keys))
    outs = "".join(f"<bpmn:outgoing>in{n}</bpmn:outgoing>" for n in range(len(keys)))
    ins = "".join(f"<bpmn:incoming>out{n}</bpmn:incoming>" for n in range(len(keys)))
    return (
        '<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions '
        'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">'
        '<bpmn:process id="every_form" isExecutable="true"><bpmn:startEvent id="start"><bpmn:outgoing>s</bpmn:outgoing>'
        '</bpmn:startEvent><bpmn:sequenceFlow id="s" sourceRef="start" targetRef="fork"/>'
        f'<bpmn:parallelGateway id="fork"><bpmn:incoming>s</bpmn:incoming>{outs}</bpmn:parallelGateway>{tasks}'
        f'<bpmn:parallelGateway id="join">{ins}<bpmn:outgoing>e</bpmn:outgoing></bpmn:parallelGateway>'
        '<bpmn:endEvent id="end"><bpmn:incoming>e</bpmn:incoming></bpmn:endEvent>'
        '<bpmn:sequenceFlow id="e" sourceRef="join" targetRef="end"/></bpmn:process></bpmn:definitions>'
    ).encode()


HUGE = "长" * 100_000
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10**30, max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=50), st.just(HUGE),
    st.just("\x00\ud7ff\U0010ffff"),
    st.sampled_from(["2026-02-30", "2026-12-01", "2026-12-01T09:00:00", "yes", "true", "1e999", "-0", "NaN", ""]),
)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=10)


FORM_KEYS = sorted(FORMS)


@st.composite
def submissions(draw):
    key = draw(st.sampled_from(FORM_KEYS))
    names = list(FORMS[key]().fields)
    field_names = st.sampled_from(names) | st.text(max_size=20)
    data = draw(st.dictionaries(field_names, json_values, max_size=len(names) + 2))
    if draw(st.integers(0, 9)) == 0:  # now and then, not an object at all
        data = draw(json_values.filter(lambda v: not isinstance(v, dict)))
    return key, data


@st.composite
def page_submissions(draw):
    key = draw(st.sampled_from(FORM_KEYS))
    names = list(FORMS[key]().fields)
    text = st.text(max_size=30) | st.just(HUGE[:20_000]) | st.sampled_from(["2026-02-30", "1e999", "NaN", "-1", "on"])
    data = draw(st.dictionaries(st.sampled_from(names) | st.text(max_size=10), st.lists(text, min_size=1, max_size=3),
                                max_size=len(names) + 2))
    return key, data


class FormTasks:
    """An open task for every form, held by one clerk; refilled when a submission was valid."""

    def __init__(self, platform, clerk_api):
        self.platform, self.clerk = platform, clerk_api
        self.open: dict[str, int] = {}
        self.refill()

    def refill(self) -> None:
        instance_id = instances.start(self.platform, SYSTEM, "every_form")
        with self.platform.Session() as session:
            for task in session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id)):
                if task.form_key not in self.open:
                    self.open[task.form_key] = task.id
                    assert self.clerk.post(f"/api/v1/tasks/{task.id}/claim").status_code == 200

    def task_state(self, key: str) -> str:
        with self.platform.Session() as session:
            return session.get(HumanTask, self.open[key]).state

    def used(self, key: str) -> None:
        del self.open[key]
        self.refill()


@pytest.fixture
def form_tasks(platform, api) -> FormTasks:
    from engine.definitions import deployments

    deployments.deploy(platform, SYSTEM, {"every_form.bpmn": every_form_bpmn()})
    return FormTasks(platform, api("wang", ["clerk"]))


HYPOTHESIS = settings(max_examples=FORM_EXAMPLES, deadline=None, derandomize=True, database=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                             HealthCheck.data_too_large, HealthCheck.large_base_example])


def test_generated_api_form_submissions_get_422_never_500(form_tasks):
    seen = {"422": 0, "400": 0, "200": 0}

    @HYPOTHESIS
    @given(submissions())
    def submit(case):
        key, data = case
        task_id = form_tasks.open[key]
        body = json.dumps({"data": data}, allow_nan=True)
        r = form_tasks.clerk.post(f"/api/v1/tasks/{task_id}/complete", data=body, content_type="application/json")
        assert r.status_code in (200, 400, 422), (key, r.status_code, r.get_data(as_text=True)[:500])
        seen[str(r.status_code)] += 1
        if r.status_code == 200:
            form_tasks.used(key)
            return
        error = r.json["error"]
        assert error["message"]
        if isinstance(data, dict):
            assert r.status_code == 422, (key, error)
            assert error["code"] == "validation_failed"
        assert form_tasks.task_state(key) == "open"

    submit()
    print(f"API form submissions: {seen}")
    assert seen["422"] > FORM_EXAMPLES // 2


def test_generated_page_form_submissions_get_422_never_500(form_tasks, app, platform):
    client = app.test_client()
    token = csrf(client, "/login")
    assert client.post("/login", data={"username": "wang", "password": "password123",
                                       "csrf_token": token}).status_code == 302
    token = csrf(client, "/inbox")
    seen = {"422": 0, "302": 0}

    @settings(HYPOTHESIS, max_examples=FORM_EXAMPLES // 5)
    @given(page_submissions())
    def submit(case):
        key, data = case
        task_id = form_tasks.open[key]
        r = client.post(f"/tasks/{task_id}", data={**data, "csrf_token": token, "action": "complete"})
        assert r.status_code in (302, 422), (key, r.status_code, r.get_data(as_text=True)[:300])
        seen[str(r.status_code)] += 1
        if r.status_code == 302:
            form_tasks.used(key)
        else:
            assert form_tasks.task_state(key) == "open"

    submit()
    print(f"page form submissions: {seen}")
    assert seen["422"] > 0


def test_a_list_as_product_in_the_group_order_start_form_is_a_422_not_a_500(form_tasks):
    task_id = form_tasks.open["group_order_start"]
    r = form_tasks.clerk.post(f"/api/v1/tasks/{task_id}/complete", json={"data": {"product": ["internet"]}})
    assert r.status_code == 422, r.status_code


# --- values no database column holds ---------------------------------------------------------------

@pytest.mark.parametrize("url, statuses", [
    ("/api/v1/process-instances/99999999999", {404}),
    ("/api/v1/tasks/99999999999999999999999", {404}),
    ("/api/v1/incidents?process_instance_id=99999999999", {422}),
    ("/api/v1/process-instances?page=99999999999999999999", {422}),
    ("/api/v1/process-instances?version=-99999999999", {422}),
    ("/api/v1/process-instances?business_key=a%00b", {422}),  # NUL: refused on both databases
    ("/api/v1/tasks?q=%00", {422}),
])
def test_values_no_database_column_holds_are_answered_4xx_not_500(api, url, statuses):
    r = api("root", ["admin"]).get(url)
    assert r.status_code in statuses, (url, r.status_code, r.json)
    assert r.json["error"]["code"] in ("not_found", "validation_failed") if r.status_code != 200 else True


@pytest.mark.parametrize("url", ["/inbox?page=100000000000000000000000", "/instances?page=100000000000000000000000",
                                 "/demands?page=100000000000000000000000", "/instances?business_key=%00",
                                 "/inbox?q=a%00", "/instances/99999999999"])
def test_pages_answer_values_no_database_column_holds_with_4xx_not_500(app, platform, url):
    with platform.transaction() as session:
        identity.add_user(session, "root", "password123", ["admin"])
    client = app.test_client()
    assert client.post("/login", data={"username": "root", "password": "password123",
                                       "csrf_token": csrf(client, "/login")}).status_code == 302
    expected = {422} if "%00" in url else {200, 404, 422}  # a NUL is refused on both databases
    assert client.get(url).status_code in expected


# --- hypothesis: start forms of the shipped processes ----------------------------------------------

PROCESSES = Path(__file__).parents[2] / "processes"
START_EXAMPLES = 80


@st.composite
def starts(draw, forms_by_process: dict[str, str]):
    key = draw(st.sampled_from(sorted(forms_by_process)))
    names = list(FORMS[forms_by_process[key]]().fields)
    variables = draw(st.dictionaries(st.sampled_from(names) | st.text(max_size=20), json_values,
                                     max_size=len(names) + 2))
    return key, variables


def test_generated_starts_of_the_shipped_processes_get_422_never_500(platform, api):
    import handlers.difficult_sites as difficult_site_handlers
    from engine.definitions import deployments

    difficult_site_handlers.configure(platform)
    try:
        files = {p.name: p.read_bytes() for p in sorted(PROCESSES.glob("*.bpmn")) + sorted(PROCESSES.glob("*.dmn"))}
        deployments.deploy(platform, SYSTEM, files)
        admin = api("root", ["admin"])
        definitions = admin.get("/api/v1/process-definitions", query_string={"latest": "true"}).json["items"]
        forms_by_process = {d["key"]: d["start_form_key"] for d in definitions
                            if d["start_form_key"]}
        assert len(forms_by_process) >= 4
        seen = {"201": 0, "422": 0}

        @settings(HYPOTHESIS, max_examples=START_EXAMPLES)
        @given(starts(forms_by_process))
        def start(case):
            key, variables = case
            body = json.dumps({"process_key": key, "business_key": "HYP", "variables": variables}, allow_nan=True)
            r = admin.post("/api/v1/process-instances", data=body, content_type="application/json")
            assert r.status_code in (201, 422), (key, r.status_code, r.get_data(as_text=True)[:500])
            seen[str(r.status_code)] += 1

        start()
    finally:
        difficult_site_handlers.configure(None)
    print(f"generated starts of {sorted(forms_by_process)}: {seen}")
    assert seen["422"] > START_EXAMPLES // 2

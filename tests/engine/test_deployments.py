"""Deploying BPMN/DMN: all-or-nothing validation, versions that follow content."""

import io

from helpers import read

from engine.models import ProcessDefinition


def upload(client, *files):
    """files: (name, bytes) pairs sent as multipart fields named 'files'."""
    data = {"files": [(io.BytesIO(content), name) for name, content in files]}
    return client.post("/api/v1/deployments", data=data, content_type="multipart/form-data")


def definitions(client, key=None):
    query = {"key": key} if key else {}
    return client.get("/api/v1/process-definitions", query_string=query).json


def test_deploy_then_list_definitions(api):
    designer = api("designer", ["designer"])
    r = upload(designer, ("approval.bpmn", read("approval.bpmn")), ("loop.bpmn", read("loop.bpmn")))
    assert r.status_code == 201, r.json
    assert sorted((p["key"], p["version"], p["new"]) for p in r.json["processes"]) == [
        ("approval", 1, True), ("loop", 1, True)]
    listed = definitions(designer)
    assert listed["total"] == 2
    row = next(d for d in listed["items"] if d["key"] == "approval")
    assert row["name"] == "Simple approval" and row["version"] == 1 and row["deployed_at"]
    deployments = designer.get("/api/v1/deployments").json
    assert deployments["total"] == 1 and sorted(deployments["items"][0]["files"]) == ["approval.bpmn", "loop.bpmn"]


def test_one_broken_file_deploys_nothing_and_names_the_problem(api):
    designer = api("designer", ["designer"])
    broken = read("approval.bpmn").replace(b'value="approval"', b'value="no_such_form"')
    r = upload(designer, ("loop.bpmn", read("loop.bpmn")), ("approval.bpmn", broken))
    assert r.status_code == 422
    problems = r.json["error"]["details"]["problems"]
    assert any(p["file"] == "approval.bpmn" and p["element_id"] == "review" and p["line"]
               and "no_such_form" in p["message"] for p in problems), problems
    assert definitions(designer)["total"] == 0


def test_malformed_xml_is_refused_with_its_line(api):
    designer = api("designer", ["designer"])
    r = upload(designer, ("bad.bpmn", b"<?xml version='1.0'?>\n<bpmn:definitions>\n<oops>\n"))
    assert r.status_code == 422
    problem = r.json["error"]["details"]["problems"][0]
    assert problem["file"] == "bad.bpmn" and problem["line"] is not None


def test_redeploying_unchanged_files_creates_nothing(api):
    designer = api("designer", ["designer"])
    assert upload(designer, ("approval.bpmn", read("approval.bpmn"))).status_code == 201
    again = upload(designer, ("approval.bpmn", read("approval.bpmn")))
    assert again.status_code == 201
    assert again.json["deployment_id"] is None
    assert again.json["processes"] == [{"key": "approval", "version": 1, "new": False}]
    assert definitions(designer)["total"] == 1
    assert designer.get("/api/v1/deployments").json["total"] == 1


def test_a_changed_process_gets_a_new_version_and_running_instances_keep_theirs(api, platform):
    designer = api("designer", ["designer"])
    director = api("li", ["city_director"])
    upload(designer, ("approval.bpmn", read("approval.bpmn")))
    old = director.post("/api/v1/process-instances", json={"process_key": "approval", "business_key": "A-1"}).json
    changed = read("approval.bpmn").replace(b'name="Review request"', b'name="Review the request again"')
    r = upload(designer, ("approval.bpmn", changed))
    assert r.json["processes"] == [{"key": "approval", "version": 2, "new": True}]

    new = director.post("/api/v1/process-instances", json={"process_key": "approval", "business_key": "A-2"}).json
    assert (old["version"], new["version"]) == (1, 2)
    assert new["active_tasks"][0]["title"] == "Review the request again"
    task = old["active_tasks"][0]
    assert task["title"] == "Review request"
    done = director.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"approved": True}})
    assert done.status_code == 200 and done.json["state"] == "completed" and done.json["version"] == 1
    with platform.Session() as session:
        assert session.query(ProcessDefinition).filter_by(key="approval").count() == 2


def test_only_designers_and_admins_deploy(api):
    operator = api("cmcc", ["operator"], tenant="china_mobile")
    r = upload(operator, ("approval.bpmn", read("approval.bpmn")))
    assert r.status_code == 403 and r.json["error"]["code"] == "forbidden"
    assert upload(api("root", ["admin"]), ("approval.bpmn", read("approval.bpmn"))).status_code == 201


def test_upload_without_files_is_a_clear_400(api):
    r = api("designer", ["designer"]).post("/api/v1/deployments", data={}, content_type="multipart/form-data")
    assert r.status_code == 400 and "files" in r.json["error"]["message"]


def test_openapi_document_describes_the_api(api):
    doc = api.anonymous.get("/api/v1/openapi.json").json
    for path in ("/api/v1/deployments", "/api/v1/process-instances", "/api/v1/tasks/{task_id}/complete",
                 "/api/v1/messages", "/api/v1/incidents/{incident_id}/retry", "/api/v1/auth/token"):
        assert path in doc["paths"], path

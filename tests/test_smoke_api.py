from conftest import read


def test_deploy_start_claim_complete(api):
    designer = api("des", ["designer"])
    r = designer.post("/api/v1/deployments", data={"files": [(__import__("io").BytesIO(read("approval.bpmn")), "approval.bpmn")]},
                      content_type="multipart/form-data")
    assert r.status_code == 201, r.json
    boss = api("li", ["city_director"])
    r = boss.post("/api/v1/process-instances", json={"process_key": "approval", "business_key": "BK1", "variables": {"x": 1}})
    assert r.status_code == 201, r.json
    task = r.json["active_tasks"][0]
    r = boss.post(f"/api/v1/tasks/{task['id']}/claim")
    assert r.status_code == 200, r.json
    r = boss.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"approved": True}})
    assert r.status_code == 200, r.json
    assert r.json["state"] == "completed", r.json

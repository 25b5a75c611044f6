"""The designer pages: upload, problems, the modeler's JSON endpoints, downloads, access."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from helpers import deploy, read
from sqlalchemy import func, select

from engine import identity
from engine.models import Deployment, ProcessDefinition

PASSWORD = "password123"
CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


class Browser:
    """A signed-in test client that knows its CSRF token, as a page would."""

    def __init__(self, client):
        self.client = client
        self.token = ""

    def sign_in(self, username: str) -> Browser:
        self.token = self.csrf("/login")
        r = self.client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": self.token})
        assert r.status_code == 302, r.text
        self.token = self.csrf("/designer/") or self.token
        return self

    def csrf(self, url: str) -> str:
        match = CSRF.search(self.client.get(url).text)
        return match.group(1) if match else ""

    def upload(self, *files: tuple[str, bytes], token: bool = True):
        data = {"files": [(io.BytesIO(content), name) for name, content in files]}
        if token:
            data["csrf_token"] = self.token
        return self.client.post("/designer/upload", data=data, content_type="multipart/form-data")

    def post_json(self, url: str, body, token: bool = True):
        headers = {"Accept": "application/json"}
        if token:
            headers["X-CSRFToken"] = self.token
        return self.client.post(url, json=body, headers=headers)


@pytest.fixture
def browser(app, platform):
    """``browser("li", ["designer"])``: a signed-in client of a new user."""

    def make(username: str, groups: list[str], tenant: str | None = None) -> Browser:
        with platform.transaction() as session:
            identity.add_user(session, username, PASSWORD, groups, tenant)
        return Browser(app.test_client()).sign_in(username)

    return make


def versions(platform, key: str) -> list[int]:
    with platform.Session() as db:
        return list(db.scalars(select(ProcessDefinition.version).where(ProcessDefinition.key == key)
                               .order_by(ProcessDefinition.version)))


def deployment_count(platform) -> int:
    with platform.Session() as db:
        return db.scalar(select(func.count(Deployment.id)))


def changed_order() -> bytes:
    return read("ui_des_order.bpmn").replace(b'name="Review order"', b'name="Review the order"')


# --- the list and uploads -----------------------------------------------------------------

def test_index_lists_processes_with_versions_and_links(browser, platform):
    deploy(platform, "ui_des_order.bpmn")
    page = browser("des", ["designer"]).client.get("/designer/")
    assert page.status_code == 200
    text = page.text
    assert 'data-process="ui_des_order" data-version="1"' in text
    assert "/designer/processes/ui_des_order/edit?version=1" in text
    assert "/designer/processes/ui_des_order/versions/1/download" in text
    assert 'name="files"' in text and 'name="csrf_token"' in text
    assert "上传" in text  # Chinese by default


def test_upload_of_a_good_file_deploys_a_new_version(browser, platform):
    deploy(platform, "ui_des_order.bpmn")
    des = browser("des", ["designer"])
    r = des.upload(("ui_des_order.bpmn", changed_order()))
    assert r.status_code == 200
    assert 'data-process="ui_des_order" data-version="2" data-new="yes"' in r.text
    assert versions(platform, "ui_des_order") == [1, 2]
    again = des.upload(("ui_des_order.bpmn", changed_order()))
    assert 'data-process="ui_des_order" data-version="2" data-new="no"' in again.text
    assert versions(platform, "ui_des_order") == [1, 2]


def test_upload_of_a_broken_file_lists_its_problems_and_deploys_nothing(browser, platform):
    des = browser("des", ["designer"])
    r = des.upload(("ui_des_order.bpmn", read("ui_des_order.bpmn")), ("ui_des_broken.bpmn", read("ui_des_broken.bpmn")))
    assert r.status_code == 422
    row = re.search(r'<tr class="tf-problem-row" data-file="ui_des_broken.bpmn" data-element-id="review">(.*?)</tr>',
                    r.text, re.S)
    assert row, r.text
    assert re.search(r'<td data-label="[^"]+">10</td>', row.group(1)) and "no_such_form" in row.group(1)
    assert "data-designer-viewer" in r.text and "tf-diagram-data" in r.text  # drawn with the problem marked
    assert deployment_count(platform) == 0
    assert versions(platform, "ui_des_order") == []  # the good file of the same upload is not deployed


def test_malformed_xml_is_listed_without_a_diagram(browser, platform):
    r = browser("des", ["designer"]).upload(("ui_des_malformed.bpmn", read("ui_des_malformed.bpmn")))
    assert r.status_code == 422
    assert "XML 格式不正确" in r.text  # the Chinese page says it in Chinese
    assert "data-designer-viewer" not in r.text
    assert deployment_count(platform) == 0


def test_upload_without_files_or_with_a_wrong_kind_says_so(browser, platform):
    des = browser("des", ["designer"])
    r = des.upload(("notes.txt", b"hello"))
    assert r.status_code == 302
    assert "notes.txt" in des.client.get("/designer/").text
    assert deployment_count(platform) == 0


def test_upload_without_csrf_token_is_refused(browser, platform):
    r = browser("des", ["designer"]).upload(("ui_des_order.bpmn", read("ui_des_order.bpmn")), token=False)
    assert r.status_code == 400
    assert deployment_count(platform) == 0


def test_english_labels(browser, platform):
    des = browser("des", ["designer"])
    des.client.get("/lang/en")
    text = des.client.get("/designer/").text
    assert "Upload BPMN and DMN files" in text and "Validate and deploy" in text


# --- the modeler and its JSON endpoints ---------------------------------------------------

def test_modeler_opens_the_deployed_file(browser, platform):
    deploy(platform, "ui_des_order.bpmn")
    deploy_changed(platform)
    des = browser("des", ["designer"])
    latest = des.client.get("/designer/processes/ui_des_order/edit")
    assert latest.status_code == 200
    assert "Review the order" in latest.text and 'value="ui_des_order.bpmn"' in latest.text
    older = des.client.get("/designer/processes/ui_des_order/edit?version=1")
    assert 'data-testid="older-version"' in older.text
    assert des.client.get("/designer/processes/nothing/edit").status_code == 404


def deploy_changed(platform) -> None:
    from engine.definitions import deployments
    from engine.principal import SYSTEM

    deployments.deploy(platform, SYSTEM, {"ui_des_order.bpmn": changed_order()})


def test_new_diagram_template_is_valid(browser):
    des = browser("des", ["designer"])
    page = des.client.get("/designer/new")
    assert page.status_code == 200
    xml = re.search(r'<script type="application/json" id="tf-diagram-xml">(.*?)</script>', page.text, re.S).group(1)
    import json

    body = {"filename": "new.bpmn", "xml": json.loads(xml)}
    r = des.post_json("/designer/lint", body)
    assert r.status_code == 200 and r.json["ok"], r.json


def test_lint_endpoint_returns_problems_and_needs_the_csrf_token(browser, platform):
    des = browser("des", ["designer"])
    body = {"filename": "ui_des_broken.bpmn", "xml": read("ui_des_broken.bpmn").decode()}
    refused = des.post_json("/designer/lint", body, token=False)
    assert refused.status_code == 400
    assert "csrf" in refused.json["error"]["message"].lower()
    r = des.post_json("/designer/lint", body)
    assert r.status_code == 200
    assert r.json["ok"] is False
    assert r.json["problems"][0]["element_id"] == "review" and r.json["problems"][0]["line"] == 10
    good = des.post_json("/designer/lint", {"filename": "ui_des_order.bpmn", "xml": read("ui_des_order.bpmn").decode()})
    assert good.json == {"ok": True, "problems": [], "processes": ["ui_des_order"]}
    assert deployment_count(platform) == 0


def test_deploy_endpoint_makes_a_new_version_and_needs_the_csrf_token(browser, platform):
    deploy(platform, "ui_des_order.bpmn")
    des = browser("des", ["designer"])
    body = {"filename": "ui_des_order.bpmn", "xml": changed_order().decode()}
    refused = des.post_json("/designer/deploy", body, token=False)
    assert refused.status_code == 400
    assert versions(platform, "ui_des_order") == [1]
    r = des.post_json("/designer/deploy", body)
    assert r.status_code == 201, r.json
    assert r.json["processes"] == [{"key": "ui_des_order", "version": 2, "new": True,
                                    "url": "/designer/processes/ui_des_order/edit?version=2"}]
    assert versions(platform, "ui_des_order") == [1, 2]


def test_deploy_endpoint_refuses_a_broken_diagram(browser, platform):
    des = browser("des", ["designer"])
    body = {"filename": "ui_des_broken.bpmn", "xml": read("ui_des_broken.bpmn").decode()}
    r = des.post_json("/designer/deploy", body)
    assert r.status_code == 422
    assert r.json["ok"] is False and r.json["problems"][0]["element_id"] == "review"
    assert deployment_count(platform) == 0


@pytest.mark.parametrize("body", [None, {"xml": ""}, {"filename": "x.txt", "xml": "<a/>"}, ["x"]])
def test_json_endpoints_refuse_bad_bodies(browser, body):
    r = browser("des", ["designer"]).post_json("/designer/lint", body)
    assert r.status_code == 400
    assert r.json["error"]["code"] == "bad_request"


# --- downloads ----------------------------------------------------------------------------

def test_download_returns_the_exact_bytes_deployed(browser, platform):
    original = read("ui_des_order.bpmn")
    summary = deploy(platform, "ui_des_order.bpmn")
    deploy_changed(platform)
    des = browser("des", ["designer"])
    r = des.client.get("/designer/processes/ui_des_order/versions/1/download")
    assert r.status_code == 200
    assert r.data == original
    assert r.mimetype == "application/xml"
    assert r.headers["Content-Disposition"] == "attachment; filename=ui_des_order.bpmn"
    assert des.client.get("/designer/processes/ui_des_order/versions/2/download").data == changed_order()
    one = des.client.get(f"/designer/deployments/{summary['deployment_id']}/files/ui_des_order.bpmn")
    assert one.data == original
    archive = des.client.get(f"/designer/deployments/{summary['deployment_id']}/download")
    assert archive.mimetype == "application/zip"
    assert zipfile.ZipFile(io.BytesIO(archive.data)).read("ui_des_order.bpmn") == original
    assert des.client.get("/designer/processes/ui_des_order/versions/9/download").status_code == 404


def test_decision_download(browser, platform):
    deploy(platform, "lint/good/site_fee.dmn")
    des = browser("des", ["designer"])
    text = des.client.get("/designer/").text
    link = re.search(r'href="(/designer/decisions/[^"]+/versions/1/download)"', text).group(1)
    r = des.client.get(link)
    assert r.status_code == 200 and r.data == read("lint/good/site_fee.dmn")


# --- access -------------------------------------------------------------------------------

@pytest.mark.parametrize("method, url", [
    ("get", "/designer/"), ("get", "/designer/new"), ("get", "/designer/processes/ui_des_order/edit"),
    ("get", "/designer/processes/ui_des_order/versions/1/download"), ("get", "/designer/deployments/1/download"),
    ("post", "/designer/lint"), ("post", "/designer/deploy"), ("post", "/designer/upload"),
])
def test_non_designers_get_403(browser, platform, method, url):
    deploy(platform, "ui_des_order.bpmn")
    sup = browser("sup", ["supervisor"])
    if method == "get":
        r = sup.client.get(url)
    else:
        r = sup.client.post(url, json={"filename": "a.bpmn", "xml": "<a/>"}, headers={"X-CSRFToken": sup.token})
    assert r.status_code == 403
    assert versions(platform, "ui_des_order") == [1]


def test_admins_may_use_the_designer(browser):
    assert browser("root", ["admin"]).client.get("/designer/").status_code == 200


def test_anonymous_users_are_sent_to_sign_in(app):
    r = app.test_client().get("/designer/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_missing_assets_are_named_and_upload_still_works(browser, platform, monkeypatch):
    import web.assets

    monkeypatch.setattr(web.assets, "missing_assets", lambda: ["bpmn-js/dist/bpmn-modeler.production.min.js"])
    deploy(platform, "ui_des_order.bpmn")
    des = browser("des", ["designer"])
    index = des.client.get("/designer/").text
    assert 'data-testid="modeler-unavailable"' in index and 'name="files"' in index
    assert "/edit?version=1" not in index and 'data-testid="new-diagram"' not in index
    modeler = des.client.get("/designer/processes/ui_des_order/edit").text
    assert 'data-testid="modeler-unavailable"' in modeler and "build/modeler.js" not in modeler
    broken = des.upload(("ui_des_broken.bpmn", read("ui_des_broken.bpmn")))
    assert broken.status_code == 422 and "no_such_form" in broken.text
    assert 'data-testid="diagram-unavailable"' in broken.text and "bpmn-viewer.js" not in broken.text
    good = des.upload(("ui_des_order.bpmn", changed_order()))
    assert 'data-version="2" data-new="yes"' in good.text
    assert versions(platform, "ui_des_order") == [1, 2]


def test_an_unbuilt_modeler_bundle_is_named_and_the_page_says_to_run_make_install(browser, platform, monkeypatch,
                                                                                  tmp_path):
    import web.assets

    monkeypatch.setattr(web.assets, "BUILD", tmp_path)  # web/static/build/ as before `make install`
    deploy(platform, "ui_des_order.bpmn")
    des = browser("des", ["designer"])
    modeler = des.client.get("/designer/processes/ui_des_order/edit").text
    assert 'data-testid="assets-missing"' in modeler and "web/static/build/modeler.js" in modeler
    assert 'data-testid="modeler-unavailable"' in modeler and "make install" in modeler
    assert "build/modeler.js?v=" not in modeler and 'id="tf-modeler"' not in modeler
    assert 'data-testid="modeler-unavailable"' in des.client.get("/designer/").text


def test_the_modeler_page_loads_the_bundle_and_the_catalog(browser, platform):
    deploy(platform, "ui_des_order.bpmn")
    des = browser("des", ["designer"])
    page = des.client.get("/designer/processes/ui_des_order/edit").text
    assert re.search(r'src="/static/build/modeler\.js\?v=\d+"', page)
    assert re.search(r'href="/static/build/modeler\.css\?v=\d+"', page)
    assert 'data-catalog-url="/designer/catalog.json"' in page and 'data-testid="properties-panel"' in page
    assert "/static/designer.js" not in page and "bpmn-modeler.js" not in page


ROOT = Path(__file__).resolve().parents[2]


def test_every_string_the_modeler_shows_has_chinese():
    """Every string bpmn-js, diagram-js and the properties panel pass to `translate` (palette,
    context pad, replace menu, search, panel) and every TowerFlow label is in the zh dictionary."""
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "bpmn-js" / "lib").is_dir():
        pytest.skip("needs node and the npm packages (make install)")
    run = subprocess.run([node, "--no-warnings", "web/frontend/modeler/i18n/collect.mjs"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    found = int(re.search(r"(\d+) strings", run.stderr).group(1))
    assert found > 250  # the collector still finds the libraries' strings


TIMER_MEANINGS = """
import { describeTimer, describeDueIn } from './web/frontend/modeler/iso8601.js';
const cases = [['duration', 'PT15M'], ['duration', "'PT1H30M'"], ['cycle', 'R/P1D'], ['cycle', 'R3/PT1H'],
  ['cycle', 'R/PT15M'], ['date', '2026-12-01T09:00:00'], ['date', '2026-12-01T09:00:00+08:00'],
  ['duration', 'repair_limit'], ['duration', 'PT'], ['cycle', 'P1D'], ['date', '2026-13-01']];
const out = {};
for (const lang of ['zh', 'en']) {
  out[lang] = cases.map(([kind, value]) => {
    const m = describeTimer(kind, value, lang);
    return m.error ? 'ERROR' : m.text;
  });
  out[lang].push(describeDueIn('P2D', lang).text);
}
console.log(JSON.stringify(out));
"""


def test_timer_values_are_told_in_words():
    """The panel's ISO 8601 reading (web/frontend/modeler/iso8601.js), as the engine's lint takes values."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("needs node")
    run = subprocess.run([node, "--no-warnings", "--input-type=module", "-e", TIMER_MEANINGS], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    meanings = json.loads(run.stdout)
    assert meanings["zh"] == ["15 分钟后", "1 小时 30 分钟后", "每天", "每小时，共 3 次", "每 15 分钟",
                              "2026年12月1日 09:00 (UTC)", "2026年12月1日 01:00 (UTC)",
                              "表达式：定时器开始时按实例数据计算", "ERROR", "ERROR", "ERROR", "任务就绪 2 天后到期"]
    assert meanings["en"][:5] == ["in 15 minutes", "in 1 hour 30 minutes", "every day", "every hour, 3 times",
                                  "every 15 minutes"]
    assert meanings["en"][-1] == "due 2 days after the task is ready"

"""A multi-node deployment as docs/deploy.md describes it, with real processes: two
``towerflow serve --no-clock`` behind a real nginx running ``deploy/nginx.conf``, on PostgreSQL with
a streaming replica (``.ci/replica``, port 5433) for the lists, the dashboard and the export.

What a supervisor sees while the replica lags (its replay paused): the pages say so in Chinese and
the list does not show the new instance yet; what a person just did is seen at once where they
act (an instance's page, the inbox); once replay resumes, everything catches up. A replica that
cannot be reached leaves the pages to the primary, with a notice, never a 500; a server killed
behind nginx leaves the other one answering.
"""

from __future__ import annotations

import http.cookiejar
import io
import json
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest
from helpers import PG_URL, deploy
from nginx_proc import NGINX, Nginx, insecure
from openpyxl import load_workbook
from relhelp import free_port
from replica_help import NEEDS_REPLICA, REPLICA_URL, eventually, replay_paused, replica_url_for

from engine import identity

pytestmark = pytest.mark.skipif(not (PG_URL and REPLICA_URL), reason=NEEDS_REPLICA)

LAG_NOTICE = "数据可能有"
DOWN_NOTICE = "只读副本暂时无法连接"
PASSWORD = "password123"


class Browser:
    """Signs in through the login form and keeps the session cookie, like a person's browser."""

    def __init__(self, base: str):
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        handlers = [urllib.request.HTTPCookieProcessor(self.cookies)]
        if base.startswith("https"):
            handlers.append(urllib.request.HTTPSHandler(context=insecure()))
        self.opener = urllib.request.build_opener(*handlers)

    def get(self, path: str) -> tuple[int, bytes, dict]:
        try:
            with self.opener.open(self.base + path, timeout=60) as r:
                return r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as err:
            return err.code, err.read(), dict(err.headers)

    def page(self, path: str) -> str:
        status, body, _headers = self.get(path)
        assert status == 200, (path, status, body[:2000])
        return body.decode()

    def sign_in(self, username: str) -> Browser:
        form = self.page("/login")
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
        data = urllib.parse.urlencode({"csrf_token": token, "username": username, "password": PASSWORD}).encode()
        with self.opener.open(self.base + "/login", data=data, timeout=60) as r:
            assert r.status == 200 and "/login" not in r.url, f"{username} was not signed in"
        return self


def add_user(platform, username: str, groups: list[str]) -> str:
    with platform.transaction() as session:
        identity.add_user(session, username, PASSWORD, groups, None)
        return identity.create_token(session, username)


def api(base: str, method: str, path: str, token: str, body=None):
    """(status, parsed JSON or text) of one API call, over HTTPS to nginx or HTTP to a server."""
    request = urllib.request.Request(base + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60, context=insecure() if base.startswith("https") else None) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")


@pytest.fixture
def world(platform):
    """The approval process, a supervisor, and the director who works its tasks."""
    deploy(platform, "approval.bpmn")
    return {"supervisor": add_user(platform, "zhao", ["supervisor"]),
            "director": add_user(platform, "li", ["city_director"])}


@pytest.fixture
def site(spawn, database_url, tmp_path):
    """Two servers that read lists from the replica, behind nginx (HTTPS, secure cookies)."""
    if NGINX is None:
        pytest.skip("nginx is not installed (apt-get install nginx)")
    env = {"TOWERFLOW_READ_REPLICA_URL": replica_url_for(database_url), "TOWERFLOW_COOKIE_SECURE": "on"}
    servers = [spawn.server(extra_env=env) for _ in range(2)]
    proxy = Nginx(tmp_path / "nginx", [server.port for server in servers]).start()
    yield proxy, servers
    proxy.stop()


def start(base: str, token: str, business_key: str) -> int:
    status, body = api(base, "POST", "/api/v1/process-instances", token,
                       {"process_key": "approval", "business_key": business_key, "variables": {"amount": 5}})
    assert status == 201, body
    return body["id"]


def test_pages_behind_nginx_read_lists_from_the_replica_and_say_when_it_lags(site, world):
    proxy, _servers = site
    base = proxy.https
    supervisor = Browser(base).sign_in("zhao")
    assert any(cookie.secure for cookie in supervisor.cookies), "behind HTTPS the session cookie is Secure"
    director = Browser(base).sign_in("li")
    start(base, world["director"], "BEFORE")
    eventually(lambda: "BEFORE" in (page := supervisor.page("/instances")) and LAG_NOTICE not in page,
               "the list shows the first instance, without a notice")
    status, tasks = api(base, "GET", "/api/v1/tasks?candidate=me", world["director"])
    assert status == 200 and len(_items(tasks)) == 1

    with replay_paused():
        new_id = start(base, world["director"], "WHILE-PAUSED")
        # the instance's own page reads the primary: what was just done is there at once
        assert "WHILE-PAUSED" in supervisor.page(f"/instances/{new_id}")

        def lag_shown() -> bool:
            page = supervisor.page("/instances")
            assert "WHILE-PAUSED" not in page, "the list read the primary, not the paused replica"
            return LAG_NOTICE in page

        # each server measures for itself (kept 2 s): the other one may say it a moment later
        eventually(lag_shown, "the list says the data may be behind")
        eventually(lambda: LAG_NOTICE in supervisor.page("/dashboard"), "the dashboard says so")

        def export_says_so() -> bool:
            status, data, _headers = supervisor.get("/instances/export.xlsx")
            assert status == 200
            rows = list(load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))
            assert not any("WHILE-PAUSED" in row for row in rows)
            return LAG_NOTICE in (rows[0][0] or "")

        eventually(export_says_so, "the export's first row says so")

        # the inbox reads the primary: a completed task is gone from it at once
        inbox = director.page("/inbox")
        assert "BEFORE" in inbox and "WHILE-PAUSED" in inbox
        task = next(t for t in _items(api(base, "GET", "/api/v1/tasks?candidate=me", world["director"])[1])
                    if t["business_key"] == "BEFORE")
        assert api(base, "POST", f"/api/v1/tasks/{task['id']}/claim", world["director"])[0] == 200
        status, body = api(base, "POST", f"/api/v1/tasks/{task['id']}/complete", world["director"],
                           {"data": {"approved": True, "comment": "同意"}})
        assert status == 200, body
        inbox = director.page("/inbox")
        assert "BEFORE" not in inbox and "WHILE-PAUSED" in inbox

    def caught_up() -> bool:
        page = supervisor.page("/instances")
        return "WHILE-PAUSED" in page and LAG_NOTICE not in page

    eventually(caught_up, "the list caught up and dropped the notice once replay resumed")
    eventually(lambda: LAG_NOTICE not in supervisor.page("/dashboard"), "the dashboard dropped the notice")


def test_a_server_whose_replica_cannot_be_reached_answers_from_the_primary_with_a_notice(spawn, database_url,
                                                                                           world):
    unreachable = replica_url_for(database_url, f"postgresql://postgres@127.0.0.1:{free_port()}/postgres")
    server = spawn.server(extra_env={"TOWERFLOW_READ_REPLICA_URL": unreachable})
    start(server.base, world["director"], "PRIMARY-ONLY")
    supervisor = Browser(server.base).sign_in("zhao")
    for path in ("/instances", "/dashboard"):
        page = supervisor.page(path)
        assert DOWN_NOTICE in page, path
    assert "PRIMARY-ONLY" in supervisor.page("/instances")
    status, data, _headers = supervisor.get("/instances/export.xlsx")
    assert status == 200
    rows = list(load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))
    assert DOWN_NOTICE in rows[0][0] and any("PRIMARY-ONLY" in row for row in rows)


def test_nginx_keeps_answering_when_a_server_dies(site, world):
    proxy, servers = site
    base = proxy.https
    supervisor = Browser(base).sign_in("zhao")
    start(base, world["director"], "BEFORE-KILL")
    servers[0].kill9()
    for n in range(10):  # pages, probes and writes: each answered by the server left
        assert supervisor.get("/instances")[0] == 200
        assert supervisor.get("/healthz")[0] == 200
        start(base, world["director"], f"AFTER-KILL-{n}")
    with urllib.request.urlopen(f"{base}/readyz", timeout=30, context=insecure()) as r:
        assert r.status == 200
    status, body = api(servers[1].base, "GET", "/api/v1/process-instances?business_key=AFTER-KILL-9",
                       world["supervisor"])
    assert status == 200 and len(_items(body)) == 1


def _items(body):
    return body["items"] if isinstance(body, dict) else body

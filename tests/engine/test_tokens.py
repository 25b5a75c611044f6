"""API tokens (issue 17): they expire, record their last use at most once a minute, are listed and
revoked by their owner or an administrator, and a revocation counts at once in another server
process. Passwords of the older scrypt format still sign in and are stored as argon2 afterwards."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from engine import identity
from engine.models import AdminEvent, ApiToken, User
from web.app import create_app

ROOT = Path(__file__).resolve().parents[2]


def token_row(platform, token: str) -> ApiToken:
    with platform.Session() as session:
        return identity.find_token(session, token)


def login(client, username: str, password: str = "password123", **extra):
    return client.post("/api/v1/auth/token", json={"username": username, "password": password, **extra})


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def li(api):
    api("li", ["clerk"])
    return "li"


# --------------------------------------------------------------------------------------------
# Expiry


def test_a_new_token_lives_the_settings_days_then_is_refused_like_a_revoked_one(platform, api, clock, li):
    client = api.anonymous
    answer = login(client, "li")
    assert answer.status_code == 201
    token = answer.json["token"]
    row = token_row(platform, token)
    assert row.expires_at - row.created_at == timedelta(days=platform.settings.api_token_days) == timedelta(days=90)
    assert answer.json["expires_at"] == row.expires_at.isoformat(timespec="seconds") + "Z"
    assert client.get("/api/v1/tasks", headers=bearer(token)).status_code == 200

    clock.advance(timedelta(days=90, seconds=1))
    expired = client.get("/api/v1/tasks", headers=bearer(token))
    assert expired.status_code == 401
    with platform.transaction() as session:
        revoked = identity.create_token(session, "li", now=clock.now())
        identity.revoke_token(session, revoked)
    refused = client.get("/api/v1/tasks", headers=bearer(revoked))
    assert expired.json == refused.json  # the same answer: a caller learns nothing more


def test_the_creator_may_choose_fewer_days_never_more_nor_none(platform, api, li):
    client = api.anonymous
    short = login(client, "li", name="nightly export", days=7)
    assert short.status_code == 201, short.json
    row = token_row(platform, short.json["token"])
    assert (row.name, row.expires_at - row.created_at) == ("nightly export", timedelta(days=7))
    with platform.Session() as session:
        before = len(identity.list_tokens(session, "li"))
    for days in (0, -1, 91, 1e9, "soon", True):
        answer = login(client, "li", days=days)
        assert answer.status_code == 422, (days, answer.json)
        assert answer.json["error"]["code"] == "validation_failed"
    with platform.Session() as session:
        assert len(identity.list_tokens(session, "li")) == before


def test_the_lifetime_follows_the_setting(platform, database_url, li):
    from helpers import set_settings

    set_settings(platform, TOWERFLOW_API_TOKEN_DAYS="30")
    client = create_app({"TESTING": True}, platform=platform).test_client()
    row = token_row(platform, login(client, "li").json["token"])
    assert row.expires_at - row.created_at == timedelta(days=30)
    assert login(client, "li", days=31).status_code == 422


def test_a_token_about_to_expire_is_not_served_from_the_cache_past_its_expiry(platform, api, clock, li):
    with platform.transaction() as session:  # about 4 s: less than the cache's 5 s
        token = identity.create_token(session, "li", days=4 / 86400, now=clock.now())
    assert api.anonymous.get("/api/v1/tasks", headers=bearer(token)).status_code == 200
    clock.advance(timedelta(seconds=4.5))
    assert api.anonymous.get("/api/v1/tasks", headers=bearer(token)).status_code == 401


def test_tokens_made_before_expiry_existed_keep_working(platform, api, clock, li):
    with platform.transaction() as session:
        token = identity.create_token(session, "li")
        session.execute(update(ApiToken).values(expires_at=None))
    clock.advance(timedelta(days=400))
    assert api.anonymous.get("/api/v1/tasks", headers=bearer(token)).status_code == 200


# --------------------------------------------------------------------------------------------
# Last use


def test_last_use_is_recorded_at_most_once_a_minute(platform, api, clock, li):
    with platform.transaction() as session:
        token = identity.create_token(session, "li", now=clock.now())
    assert token_row(platform, token).last_used_at is None
    client = api.anonymous
    assert client.get("/api/v1/tasks", headers=bearer(token)).status_code == 200
    first = token_row(platform, token).last_used_at
    assert first is not None and abs(first - clock.now()) < timedelta(seconds=5)
    for _ in range(5):  # past the cache's 5 s each time, so the token is read again, but within the minute
        clock.advance(timedelta(seconds=10))
        assert client.get("/api/v1/tasks", headers=bearer(token)).status_code == 200
    assert token_row(platform, token).last_used_at == first
    clock.advance(timedelta(seconds=11))
    assert client.get("/api/v1/tasks", headers=bearer(token)).status_code == 200
    assert token_row(platform, token).last_used_at > first + timedelta(minutes=1)


# --------------------------------------------------------------------------------------------
# Listing and revoking through the API


def test_a_user_lists_and_revokes_only_their_own_tokens(platform, api, li):
    client = api.anonymous
    mine = login(client, "li", name="laptop").json
    other = login(client, "li", name="ci").json
    api("wang", ["clerk"])
    wangs = login(client, "wang", name="wang's").json

    listed = client.get("/api/v1/auth/tokens", headers=bearer(mine["token"]))
    assert listed.status_code == 200
    items = listed.json["items"]
    assert [(i["name"], i["username"], i["state"]) for i in items][:2] == [("ci", "li", "active"),
                                                                          ("laptop", "li", "active")]
    assert {i["username"] for i in items} == {"li"}
    assert mine["token"] not in listed.get_data(as_text=True)
    assert set(items[0]) == {"id", "username", "name", "state", "created_at", "expires_at", "last_used_at",
                             "revoked_at"}
    assert client.get("/api/v1/auth/tokens?username=wang", headers=bearer(mine["token"])).status_code == 403

    # another user's token: 404, as if it did not exist, and it keeps working
    assert client.delete(f"/api/v1/auth/tokens/{wangs['id']}", headers=bearer(mine["token"])).status_code == 404
    assert client.get("/api/v1/tasks", headers=bearer(wangs["token"])).status_code == 200

    gone = client.delete(f"/api/v1/auth/tokens/{other['id']}", headers=bearer(mine["token"]))
    assert gone.status_code == 200 and gone.json["state"] == "revoked"
    assert client.get("/api/v1/tasks", headers=bearer(other["token"])).status_code == 401
    assert client.delete(f"/api/v1/auth/tokens/{other['id']}", headers=bearer(mine["token"])).status_code == 200
    active = client.get("/api/v1/auth/tokens?state=active", headers=bearer(mine["token"])).json["items"]
    assert [i["name"] for i in active] == ["laptop", ""]  # "": the token the test fixture made
    assert client.get("/api/v1/auth/tokens").status_code == 401


def test_an_admin_lists_and_revokes_anyones_and_it_is_logged(platform, api, li):
    root = api("root", ["admin"])
    client = api.anonymous
    lis = login(client, "li", name="laptop").json
    everyone = root.get("/api/v1/auth/tokens?page_size=500").json
    assert {"li", "root"} <= {i["username"] for i in everyone["items"]}
    only_li = root.get("/api/v1/auth/tokens?username=li").json["items"]
    assert {i["username"] for i in only_li} == {"li"} and lis["id"] in {i["id"] for i in only_li}

    assert root.delete(f"/api/v1/auth/tokens/{lis['id']}").status_code == 200
    assert client.get("/api/v1/tasks", headers=bearer(lis["token"])).status_code == 401
    assert root.delete("/api/v1/auth/tokens/99999999").status_code == 404
    with platform.Session() as session:
        events = list(session.scalars(select(AdminEvent).where(AdminEvent.action == "token.revoked")))
        assert [(e.actor, e.target, e.data["token_id"]) for e in events] == [("root", "li", lis["id"])]
        created = session.scalars(select(AdminEvent).where(AdminEvent.action == "token.created",
                                                           AdminEvent.data["name"].as_string() == "laptop")).one()
        assert created.actor == "li" and lis["token"] not in str(created.data)


# --------------------------------------------------------------------------------------------
# Passwords: the older scrypt format signs in and is replaced


def give_old_hash(platform, username: str, password: str) -> None:
    with platform.transaction() as session:
        session.execute(update(User).where(User.username == username)
                        .values(password_hash=identity.scrypt_hash(password)))


def stored_hash(platform, username: str) -> str:
    with platform.Session() as session:
        return session.scalars(select(User.password_hash).where(User.username == username)).one()


def test_an_old_hash_signs_in_through_the_api_and_is_rehashed_with_argon2(platform, api, li):
    give_old_hash(platform, "li", "an-old-password")
    assert login(api.anonymous, "li", "wrong-password").status_code == 401
    assert stored_hash(platform, "li").startswith("scrypt$")  # a failure changes nothing
    assert login(api.anonymous, "li", "an-old-password").status_code == 201
    new = stored_hash(platform, "li")
    assert new.startswith("$argon2id$") and identity.verify_password("an-old-password", new)
    assert login(api.anonymous, "li", "an-old-password").status_code == 201
    assert stored_hash(platform, "li") == new  # rehashed once, not at every sign-in


def test_an_old_hash_signs_in_on_the_page_and_is_rehashed(platform, app, li):
    give_old_hash(platform, "li", "an-old-password")
    client = app.test_client()
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/login").get_data(as_text=True))[1]
    answer = client.post("/login", data={"username": "li", "password": "an-old-password", "csrf_token": csrf})
    assert answer.status_code == 302
    assert stored_hash(platform, "li").startswith("$argon2id$")


# --------------------------------------------------------------------------------------------
# Another server process obeys a revocation without waiting for its cache


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def other_server(database_url, tmp_path):
    """``towerflow serve`` in a process of its own whose token cache would trust an entry for 10 minutes."""
    port = free_port()
    env = {**os.environ, "TOWERFLOW_TOKEN_CACHE_SECONDS": "600", "TOWERFLOW_DATABASE_URL": database_url,
           "PYTHONPATH": str(ROOT)}
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115  closed below
    proc = subprocess.Popen([sys.executable, "-c", "from web.cli import main; main()", "serve", "--port", str(port),
                             "--no-clock", "--workers", "4"], env=env, stdout=log, stderr=subprocess.STDOUT,
                            cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, (tmp_path / "server.log").read_text()
        try:
            urllib.request.urlopen(f"{base}/api/v1/openapi.json", timeout=2).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        raise AssertionError("the server never answered:\n" + (tmp_path / "server.log").read_text())
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


def status(url: str, token: str) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=bearer(token)), timeout=30) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def test_a_revocation_counts_at_once_in_another_server_process(platform, other_server, li):
    with platform.transaction() as session:
        token = identity.create_token(session, "li")
    url = f"{other_server}/api/v1/tasks"
    assert status(url, token) == 200
    assert status(url, token) == 200  # now in that process's cache, trusted for 10 minutes
    with platform.transaction() as session:
        identity.revoke_token(session, token)
    # SQLite: the file beside the database is looked at before every lookup, so the very next request
    # is refused; PostgreSQL: NOTIFY reaches the other process a moment after the commit
    answers = [status(url, token)]
    deadline = time.monotonic() + 10
    while answers[-1] != 401 and platform.is_postgres and time.monotonic() < deadline:
        time.sleep(0.05)
        answers.append(status(url, token))
    assert answers[-1] == 401, answers
    if not platform.is_postgres:
        assert answers == [401]


def test_while_not_listening_a_postgresql_process_trusts_no_cached_token(platform, li):
    """The database restarting drops the LISTEN connection: until it is back, notices may be lost,
    so every lookup reads the database (a change made by hand in SQL counts at once, too)."""
    if not platform.is_postgres:
        pytest.skip("SQLite processes look at a file beside the database, never a connection")
    with platform.transaction() as session:
        token = identity.create_token(session, "li")
    # cached now (unless a late notice of an earlier test's change just cleared it: then the test
    # proves less, never fails wrongly; asserting the entry would depend on the machine's timing)
    assert identity.principal_for_token(platform, token).username == "li"
    listener = identity._listener_for(platform.engine)
    listener.listening = False  # as the listener thread marks it when its connection is lost
    try:
        with platform.transaction() as session:  # by hand: no identity function, so no NOTIFY
            session.execute(update(ApiToken).values(revoked_at=platform.clock.now()))
        assert identity.principal_for_token(platform, token) is None
    finally:
        listener.listening = True

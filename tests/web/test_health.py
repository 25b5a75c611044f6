"""/healthz and /readyz over real HTTP: no sign-in, what they check, and 503 naming what failed."""

from __future__ import annotations

import os
import time

from helpers import PG_URL
from observe_help import free_port, http, live_server, scrape, value
from reliability.relhelp import Proc, wait_until
from sqlalchemy import text

from engine import schema
from web import health
from web.app import build_platform, create_app
from web.clock import start_clock


def test_healthz_and_readyz_answer_without_signing_in(app, platform):
    with live_server(app) as base:
        status, headers, body = http("GET", f"{base}/healthz")
        assert (status, body) == (200, {"status": "alive"})
        assert headers["Cache-Control"] == "no-store"
        status, _, body = http("GET", f"{base}/readyz")
    assert status == 200, body
    assert body["status"] == "ready"
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["schema"]["ok"] and body["checks"]["schema"]["revision"] == schema.head_revision(platform)
    assert body["checks"]["clock"] == {"ok": True, "runs_here": False}  # the test app runs no clock


def test_readyz_names_a_schema_that_is_not_the_head_and_recovers(app, platform):
    head = schema.head_revision(platform)
    with platform.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0009'"))
    with live_server(app) as base:
        status, _, body = http("GET", f"{base}/readyz")
        assert status == 503, body
        assert body["failed"] == ["schema"]
        assert body["checks"]["schema"]["revision"] == "0009"
        assert head in body["checks"]["schema"]["error"]
        assert http("GET", f"{base}/healthz")[0] == 200  # alive all the same
        with platform.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head})
        status, _, body = http("GET", f"{base}/readyz")  # a schema not at the head is read at every probe
        assert status == 200, body


def test_readyz_says_the_database_does_not_answer(tmp_path):
    url = (f"postgresql://postgres@127.0.0.1:{free_port()}/nothing" if PG_URL
           else f"sqlite:///{tmp_path}/no/such/folder/towerflow.db")
    unreachable = build_platform(url)  # never initialised: nothing listens there
    try:
        app = create_app({"TESTING": True}, platform=unreachable)
        with live_server(app) as base:
            status, _, body = http("GET", f"{base}/readyz")
            assert status == 503, body
            assert "database" in body["failed"]
            assert body["checks"]["database"]["error"]
            assert http("GET", f"{base}/healthz")[0] == 200
    finally:
        unreachable.close()


def test_readyz_notices_a_clock_that_stopped(app, platform, monkeypatch):
    scheduler = start_clock(platform, 0.05)
    try:
        with live_server(app) as base:
            status, _, body = http("GET", f"{base}/readyz")
            assert status == 200, body
            assert body["checks"]["clock"]["runs_here"] is True
            scheduler.shutdown(wait=True)
            monkeypatch.setattr(health, "CLOCK_STALE_SECONDS", 0.2)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                status, _, body = http("GET", f"{base}/readyz")
                if status == 503:
                    break
                time.sleep(0.1)
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=False)
    assert status == 503, body
    assert body["failed"] == ["clock"]
    assert "not ticked" in body["checks"]["clock"]["error"]


def test_a_worker_answers_its_probes_with_its_clock(platform, database_url, tmp_path):
    port = free_port()
    env = {**os.environ, "TOWERFLOW_METRICS_DIR": str(tmp_path / "metrics"), "PYTHONUNBUFFERED": "1"}
    worker = Proc(["--database", database_url, "worker", "--tick", "0.1", "--http-port", str(port)], env,
                  tmp_path / "worker.log").start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: "running" in worker.output(), 60, worker.output)
        status, _, body = http("GET", f"{base}/readyz")
        assert status == 200, body
        assert body["checks"]["clock"]["runs_here"] is True and body["checks"]["clock"]["ok"]
        assert http("GET", f"{base}/healthz")[0] == 200
        assert value(scrape(base), "towerflow_processes", role="worker") == 1
        assert http("GET", f"{base}/api/v1/openapi.json")[0] == 404  # probes only, not the app
    finally:
        worker.stop()

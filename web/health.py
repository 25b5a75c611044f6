"""``/healthz`` and ``/readyz``: for a load balancer, systemd or Kubernetes; no sign-in, cheap.

``/healthz`` answers 200 while the process can answer at all; it touches nothing else, so a
slow or absent database never gets a live process restarted. ``/readyz`` says whether this
process should be sent work: the database answers a ``SELECT 1`` within 2 seconds (a new
connection each time, with a connect timeout, so a database that went away is noticed at once
and one that came back is too), its schema is at the revision this code expects (read again
once a minute while it is, at every probe while it is not), and, where this process runs the
job clock, the clock ticked in the last minute. Not ready: 503 and a JSON body naming what failed.
"""

from __future__ import annotations

import threading
import time
from typing import Any
from weakref import WeakKeyDictionary

from flask import Blueprint, Flask, current_app, jsonify
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from engine import schema
from engine.platform import Platform

from .clock import seconds_since_tick

bp = Blueprint("health", __name__)

TIMEOUT_SECONDS = 2  # connect and statement timeout of a probe (libpq's smallest connect timeout)
SCHEMA_RECHECK_SECONDS = 60.0  # a schema found at the head is read again after this long
CLOCK_STALE_SECONDS = 60.0  # a clock that has not ticked for this long is stuck (one round may call slow systems)

_probe_engines: WeakKeyDictionary[Platform, Engine] = WeakKeyDictionary()
_schema_seen: WeakKeyDictionary[Platform, tuple[float, dict[str, Any]]] = WeakKeyDictionary()
_lock = threading.Lock()


def probe_engine(platform: Platform) -> Engine:
    """The connections probes and metric scrapes read with. On PostgreSQL a pool-less engine
    on the primary with a connect timeout: the request pool may be busy or hold connections
    to a database that restarted. On SQLite the platform's reading engine (no write lock)."""
    if not platform.is_postgres:
        return platform.read_engine
    with _lock:
        engine = _probe_engines.get(platform)
        if engine is None:
            engine = _probe_engines[platform] = create_engine(
                platform.engine.url, poolclass=NullPool,
                # tcp_user_timeout: a query sent to a database that vanished mid-probe (network cut,
                # not refused) gives up too, instead of waiting minutes for TCP
                connect_args={"connect_timeout": TIMEOUT_SECONDS, "tcp_user_timeout": TIMEOUT_SECONDS * 1000})
        return engine


@bp.get("/healthz")
def healthz():
    """Alive: the process answers. Nothing else is checked."""
    return _no_store(jsonify(status="alive"), 200)


@bp.get("/readyz")
def readyz():
    """Ready for work: database, schema and (where it runs here) the job clock; 503 otherwise."""
    platform: Platform = current_app.extensions["towerflow"]
    checks = readiness(platform)
    failed = [name for name, check in checks.items() if not check["ok"]]
    if failed:
        return _no_store(jsonify(status="not ready", failed=failed, checks=checks), 503)
    return _no_store(jsonify(status="ready", checks=checks), 200)


def readiness(platform: Platform) -> dict[str, dict[str, Any]]:
    """Each check's answer: ``{"ok": bool, ...details}``."""
    checks: dict[str, dict[str, Any]] = {}
    try:
        with probe_engine(platform).connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"SET LOCAL statement_timeout = {TIMEOUT_SECONDS * 1000}"))
            conn.execute(text("SELECT 1"))
            checks["database"] = {"ok": True}
            checks["schema"] = _schema_check(platform, conn)
    except Exception as exc:
        checks["database"] = {"ok": False, "error": _first_line(exc)}
        checks["schema"] = {"ok": False, "error": "not checked: the database does not answer"}
    age = seconds_since_tick(platform)
    if age is None:
        checks["clock"] = {"ok": True, "runs_here": False}
    else:
        checks["clock"] = {"ok": age <= CLOCK_STALE_SECONDS, "runs_here": True,
                           "seconds_since_tick": round(age, 1)}
        if not checks["clock"]["ok"]:
            checks["clock"]["error"] = f"the job clock has not ticked for {age:.0f} s"
    return checks


def _schema_check(platform: Platform, conn) -> dict[str, Any]:
    seen = _schema_seen.get(platform)
    if seen is not None and seen[1]["ok"] and time.monotonic() - seen[0] < SCHEMA_RECHECK_SECONDS:
        return seen[1]
    head = schema.head_revision(platform)
    if head is None:
        answer: dict[str, Any] = {"ok": True, "revision": None}
    else:
        try:
            current = ", ".join(sorted(conn.execute(text("SELECT version_num FROM alembic_version")).scalars()))
        except Exception as exc:
            conn.rollback()
            current, problem = None, _first_line(exc)
        else:
            problem = None
        answer = {"ok": current == head, "revision": current or None, "expected": head}
        if not answer["ok"]:
            answer["error"] = problem or (f"the database is at schema revision {current or 'none'}, "
                                          f"this version expects {head} (towerflow init-db upgrades it)")
    _schema_seen[platform] = (time.monotonic(), answer)
    return answer


def _first_line(exc: BaseException) -> str:
    text_ = str(exc).strip().splitlines()
    return f"{exc.__class__.__name__}: {text_[0] if text_ else ''}".rstrip(": ")


def _no_store(response, status: int):
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def register_health(app: Flask) -> None:
    app.register_blueprint(bp)


def probe_app(platform: Platform) -> Flask:
    """The worker's small app: ``/healthz``, ``/readyz`` (its clock included) and ``/metrics``,
    for ``towerflow worker --http-port``; nothing else, no pages, no API."""
    from .logs import register_request_ids
    from .metrics import register_metrics

    app = Flask(__name__)
    app.extensions["towerflow"] = platform
    register_request_ids(app)
    register_metrics(app, platform)
    register_health(app)
    return app

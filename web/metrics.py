"""Prometheus metrics at ``/metrics``, added up over every ``serve`` and ``worker`` process.

With ``TOWERFLOW_METRICS_DIR`` set, prometheus-client runs in multiprocess mode: each process
writes its counters and histograms to files in that folder, and a scrape of any server reads
them all, so N servers and M workers add up (the folder must be shared by the processes of one
host and emptied before they start; docs/operations.md). Without it a process counts alone.
prometheus-client picks its mode when it is imported, so it is imported here, lazily, by
``init`` after the folder is set, never at module level.

The engine's events (a step, a timer fired, a job run) arrive through engine/observe.py. The
database gauges (job queue, incidents, outbox) are read at scrape time by a collector doing a few
cheap SELECTs, only in the process that is scraped.

``/metrics`` answers without authentication, as Prometheus expects, unless
``TOWERFLOW_METRICS_TOKEN`` is set: then it wants ``Authorization: Bearer <that token>``.
"""

from __future__ import annotations

import atexit
import hmac
import logging
import os
import re
import sys
import threading
import time
from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from sqlalchemy import and_, case, exists, func, select, text

from engine import observe
from engine.models import Incident, Job, OutboxMessage, ProcessDefinition, ProcessInstance
from engine.platform import Platform
from engine.settings import Settings, hand_to_library

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)

TOKEN_OPTION = "TOWERFLOW_METRICS_TOKEN"
JOB_KINDS = ("timer", "service", "step")
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
STEP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LATENESS_BUCKETS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
_PID_IN_FILE = re.compile(r"_(\d+)\.db$")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})  # any other: "other"


class Metrics:
    """This process's metrics, made once (a metric name can exist once per process)."""

    def __init__(self, folder: str | None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.folder = folder
        # In multiprocess mode the values live in the folder's files and a scrape reads those;
        # otherwise this registry holds them.
        self.registry = None if folder else CollectorRegistry()
        reg = self.registry
        self.requests = Histogram("towerflow_http_request_duration_seconds",
                                  "Time to answer a request, by route (the URL rule), method and status.",
                                  ["route", "method", "status"], buckets=REQUEST_BUCKETS, registry=reg)
        self.in_progress = Gauge("towerflow_http_requests_in_progress", "Requests being answered now.",
                                 multiprocess_mode="livesum", registry=reg)
        self.processes = Gauge("towerflow_processes", "TowerFlow processes alive, by role (serve, worker).",
                               ["role"], multiprocess_mode="livesum", registry=reg)
        self.steps = Histogram("towerflow_step_duration_seconds",
                               "Time of one step: the engine runs an instance on and saves it.",
                               buckets=STEP_BUCKETS, registry=reg)
        self.lateness = Histogram("towerflow_timer_lateness_seconds",
                                  "How long after its due time a timer fired.", buckets=LATENESS_BUCKETS, registry=reg)
        self.jobs = Counter("towerflow_jobs_run", "Jobs run, by kind and outcome (done, or failed: an attempt).",
                            ["kind", "outcome"], registry=reg)
        self.signin_failures = Counter("towerflow_signin_failures", "Sign-ins refused for a wrong name or "
                                       "password, by channel (page, api).", ["via"], registry=reg)
        self.signin_throttled = Counter("towerflow_signin_throttled", "Sign-ins refused because of too many "
                                        "failures in a row (429), by channel.", ["via"], registry=reg)
        for via in ("page", "api"):  # present at 0 from the start, so a rate has a first point
            self.signin_failures.labels(via)
            self.signin_throttled.labels(via)

    def connect_engine(self) -> None:
        observe.step_done.connect(self.steps.observe)
        observe.timer_fired.connect(self.lateness.observe)
        observe.job_ran.connect(self._job_ran)

    def _job_ran(self, kind: str | None, outcome: str) -> None:
        self.jobs.labels(kind or "unknown", outcome).inc()


_metrics: Metrics | None = None
_lock = threading.Lock()


def init(settings: Settings, role: str | None = None) -> Metrics:
    """This process's metrics (made on the first call, in multiprocess mode when the settings
    name a folder); ``role`` (serve, worker) counts this process in ``towerflow_processes``."""
    global _metrics
    with _lock:
        if _metrics is None:
            folder = settings.metrics_dir
            if folder:
                folder = os.path.abspath(folder)
                os.makedirs(folder, exist_ok=True)
                before = hand_to_library("PROMETHEUS_MULTIPROC_DIR", folder)
                if "prometheus_client" in sys.modules and before != folder:
                    raise RuntimeError("prometheus_client was imported before the metrics folder was set")
                forget_dead_processes(folder)
                atexit.register(_mark_dead, os.getpid(), folder)
            _metrics = Metrics(folder)
            _metrics.connect_engine()
        elif (os.path.abspath(settings.metrics_dir) if settings.metrics_dir else None) != _metrics.folder:
            log.warning("metrics: this process already counts in %s; %s ignored", _metrics.folder,
                        settings.metrics_dir)
        if role:
            _metrics.processes.labels(role).inc()
        return _metrics


def metrics() -> Metrics | None:
    """This process's metrics, None before ``init``."""
    return _metrics


def count_signin_failure(via: str) -> None:
    if _metrics is not None:
        _metrics.signin_failures.labels(via).inc()


def count_signin_throttled(via: str) -> None:
    if _metrics is not None:
        _metrics.signin_throttled.labels(via).inc()


def forget_dead_processes(folder: str) -> None:
    """``mark_process_dead`` for each process with files in ``folder`` that no longer runs (a kill
    -9 leaves its live gauges behind: in-progress requests, the process count). Their counters
    and histograms stay: what they counted happened."""
    pids = set()
    for name in os.listdir(folder):
        match = _PID_IN_FILE.search(name)
        if match:
            pids.add(int(match.group(1)))
    for pid in pids - {os.getpid()}:
        if not _alive(pid):
            _mark_dead(pid, folder)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _mark_dead(pid: int, folder: str) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, folder)


def register_metrics(app: Flask, platform: Platform) -> None:
    """Time every request by route and status, and serve ``/metrics``."""
    m = init(platform.settings)
    app.extensions["towerflow_metrics"] = m

    @app.before_request
    def _start() -> None:
        g.metrics_started = time.perf_counter()
        m.in_progress.inc()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.get("metrics_started")
        if started is not None:
            route = request.url_rule.rule if request.url_rule is not None else "(unmatched)"
            method = request.method if request.method in METHODS else "other"  # a label set stays small
            m.requests.labels(route, method, str(response.status_code)).observe(
                time.perf_counter() - started)
        return response

    @app.teardown_request
    def _finish(_exc: BaseException | None) -> None:
        if g.pop("metrics_started", None) is not None:
            m.in_progress.dec()

    app.register_blueprint(bp)


@bp.get("/metrics")
def scrape() -> Response:
    """Every series of every process sharing the folder, and the database gauges, as text."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    platform: Platform = current_app.extensions["towerflow"]
    _check_token(platform.settings)
    m: Metrics = current_app.extensions["towerflow_metrics"]
    registry = CollectorRegistry()
    if m.folder:
        forget_dead_processes(m.folder)
        MultiProcessCollector(registry, path=m.folder)
    else:
        registry.register(_Everything(m.registry))
    registry.register(DatabaseCollector(platform))
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def _check_token(settings: Settings) -> None:
    wanted = settings.options.get(TOKEN_OPTION)
    if not wanted:
        return
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {wanted}".encode()):
        abort(401)


class _Everything:
    """The process's own registry as one collector of a scrape's registry."""

    def __init__(self, registry: Any) -> None:
        self.registry = registry

    def describe(self) -> list:
        return []

    def collect(self):
        return self.registry.collect()


class DatabaseCollector:
    """Gauges read from the database when scraped: the job queue, open incidents, the outbox.

    A handful of grouped SELECTs over indexed columns, with a 2-second statement timeout on
    PostgreSQL; when the database cannot be read, ``towerflow_database_up`` is 0 and the
    gauges are left out (a scrape never fails because of them).
    """

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def describe(self) -> list:
        return []

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        up = GaugeMetricFamily("towerflow_database_up", "1 when the scrape could read the database, else 0.")
        try:
            numbers = read_numbers(self.platform)
        except Exception as exc:
            log.warning("metrics: the database could not be read: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        due = GaugeMetricFamily("towerflow_jobs_due", "Jobs due and waiting for a runner (the queue), by kind; "
                                "suspended instances' jobs are not counted.", labels=["kind"])
        pending = GaugeMetricFamily("towerflow_jobs_pending", "Jobs pending, due or not (timers waiting "
                                    "for their time included), by kind.", labels=["kind"])
        for kind in sorted(set(JOB_KINDS) | set(numbers["due"]) | set(numbers["pending"])):
            due.add_metric([kind], numbers["due"].get(kind, 0))
            pending.add_metric([kind], numbers["pending"].get(kind, 0))
        yield due
        yield pending
        yield GaugeMetricFamily("towerflow_job_oldest_due_age_seconds", "How long the oldest due job has waited "
                                "past its due time; 0 when none is due.", value=numbers["oldest_due_age"])
        incidents = GaugeMetricFamily("towerflow_incidents_open", "Open incidents, by process (its key).",
                                      labels=["process"])
        for key, count in sorted(numbers["incidents"].items()):
            incidents.add_metric([key], count)
        yield incidents
        outbox_pending = GaugeMetricFamily("towerflow_outbox_pending", "Calls to an external system not delivered "
                                           "yet whose retry is queued, by system.", labels=["system"])
        outbox_failed = GaugeMetricFamily("towerflow_outbox_failed", "Calls to an external system that failed "
                                          "with no retry left (an incident waits), by system.", labels=["system"])
        systems = set(self.platform.settings.systems) | set(numbers["outbox_pending"]) | set(numbers["outbox_failed"])
        for system in sorted(systems):
            outbox_pending.add_metric([system], numbers["outbox_pending"].get(system, 0))
            outbox_failed.add_metric([system], numbers["outbox_failed"].get(system, 0))
        yield outbox_pending
        yield outbox_failed


def read_numbers(platform: Platform) -> dict[str, Any]:
    """The database gauges' values, read in one short transaction of the probe connection."""
    from .health import probe_engine

    now: datetime = platform.clock.now()
    retry_queued = exists().where(and_(Job.instance_id == OutboxMessage.instance_id, Job.kind == "service",
                                       Job.state == "pending"))
    with probe_engine(platform).connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL statement_timeout = 2000"))
        due_rows = conn.execute(
            select(Job.kind, func.count(), func.min(Job.due_at))
            .join(ProcessInstance, ProcessInstance.id == Job.instance_id)
            .where(Job.state == "pending", Job.due_at <= now, ProcessInstance.state != "suspended")
            .group_by(Job.kind)).all()
        pending_rows = conn.execute(select(Job.kind, func.count()).where(Job.state == "pending")
                                    .group_by(Job.kind)).all()
        incidents = {key: 0 for key in conn.scalars(select(ProcessDefinition.key).distinct())}
        incidents.update(conn.execute(
            select(ProcessInstance.process_key, func.count())
            .join(Incident, Incident.instance_id == ProcessInstance.id)
            .where(Incident.state == "open").group_by(ProcessInstance.process_key)).all())
        outbox = conn.execute(
            select(OutboxMessage.system, func.sum(case((retry_queued, 1), else_=0)), func.count())
            .where(OutboxMessage.status == "failed").group_by(OutboxMessage.system)).all()
    oldest = min((row[2] for row in due_rows if row[2] is not None), default=None)
    return {
        "due": {kind: count for kind, count, _ in due_rows},
        "pending": dict(pending_rows),
        "oldest_due_age": max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0,
        "incidents": incidents,
        "outbox_pending": {system: int(queued or 0) for system, queued, _count in outbox},
        "outbox_failed": {system: count - int(queued or 0) for system, queued, count in outbox},
    }

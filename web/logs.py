"""Log lines: plain text for a terminal, or JSON lines for a log collector, each with the request id.

Every request gets an id: the caller's ``X-Request-Id`` when it looks sane (a proxy or another
service may have made one), else a new one. It is sent back in the ``X-Request-Id`` header, put
in every log line written while the request runs (engine/request_context.py), stored with the
jobs the request queued (``jobs.request_id``), and set again when a worker runs those jobs.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import IO

from flask import Flask, Response, g, request

from engine import request_context
from engine.settings import Settings

REQUEST_ID_HEADER = "X-Request-Id"
_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")  # fits jobs.request_id (64 characters)
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(request_part)s: %(message)s"
access_log = logging.getLogger("towerflow.access")
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})  # probes and scrapes: access lines at DEBUG only

# The attributes every LogRecord has; anything else on a record came from ``extra=`` and is kept.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "request_id",
                                                                            "request_part"}


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record (``request_id``, None outside requests and jobs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        rid = request_context.current()
        record.request_id = rid
        record.request_part = f" [{rid}]" if rid else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, request_id, the
    ``extra=`` fields, and the traceback as ``exc_info`` text."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        entry = {
            "time": when.replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)
        if rid:
            entry["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(settings: Settings, stream: IO[str] | None = None) -> None:
    """The root logger writes to ``stream`` (stderr) as ``settings.log_format`` says, at INFO."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(_TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def sane_request_id(value: str | None) -> str | None:
    """The caller's id when it is 1-64 letters, digits and ``._:-`` (safe in a log and the column)."""
    if value and _SANE_ID.fullmatch(value):
        return value
    return None


def register_request_ids(app: Flask) -> None:
    """Give each request its id (header in, header out, log context) and log one access line."""

    @app.before_request
    def _enter() -> None:
        g.request_id = sane_request_id(request.headers.get(REQUEST_ID_HEADER)) or uuid.uuid4().hex
        g.request_id_token = request_context.enter(g.request_id)
        g.request_started = time.perf_counter()

    @app.after_request
    def _answer(response: Response) -> Response:
        rid = g.get("request_id")
        if rid:
            response.headers[REQUEST_ID_HEADER] = rid
            level = logging.DEBUG if request.path in QUIET_PATHS else logging.INFO
            access_log.log(level, "%s %s %s %.1f ms", request.method, request.path, response.status_code,
                            (time.perf_counter() - g.request_started) * 1000,
                            extra={"method": request.method, "path": request.path, "status": response.status_code})
        return response

    @app.teardown_request
    def _leave(_exc: BaseException | None) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            try:
                request_context.leave(token)
            except ValueError:  # set in another context (a test client's pushed request); nothing to undo
                pass

"""The shared transport of the external-system handlers (see docs/integrations.md).

A handler calls :func:`call_system` with its system, operation and parameters:

- when the platform's settings give the system a URL (``TOWERFLOW_<SYSTEM>_URL``), the call is
  POSTed there as JSON with an ``Idempotency-Key`` header, through the system's pooled httpx
  client (``handlers/http_clients.py``); a non-2xx answer, a network error, a connect timeout
  (``TOWERFLOW_HTTP_CONNECT_TIMEOUT``, 3 s by default) or a read timeout
  (``TOWERFLOW_HTTP_TIMEOUT``, 10 s by default) raises :class:`OutboundError`, so the engine
  retries the service task with backoff and raises an incident when attempts run out;
- without a URL the call is only recorded in the outbox (``status = "recorded"``).

Where the outbox row is written. A handler runs inside the job runner's transaction, which
holds the instance lock (and, on SQLite, the database's single write lock: a second
connection would wait for it and time out). So the row is written in *that* transaction: it
commits together with the task's completion, and rolls back with it when the job fails, so a
retry after a crash finds nothing half-done, and records once per idempotency key. The engine
hands that transaction to the handler as ``call.session``. A failed attempt is written after
the job's transaction has rolled back, in a short transaction of its own, as
``status = "failed"`` with the error. Outside any transaction (a handler called directly, or a
call the job runner makes outside every lock once a URL is set: engine/runtime/remote_calls.py),
the platform (``call.platform``, or the one given to :func:`configure`) opens a short
transaction; the row stays one per idempotency key.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from engine.runtime import outbox
from engine.services import ServiceCall
from engine.settings import Settings
from handlers.http_clients import ClientConfig, clients

if TYPE_CHECKING:
    from engine.platform import Platform

log = logging.getLogger(__name__)

SYSTEMS = ("sms", "operator_platform", "pms", "eoms", "boss", "resource")

_platform: Platform | None = None


class OutboundError(RuntimeError):
    """A call to an external system failed (non-2xx, network error or timeout)."""

    def __init__(self, system: str, url: str, message: str, status: int | None = None):
        super().__init__(message)
        self.system = system
        self.url = url
        self.status = status


class OutboundTimeout(OutboundError, TimeoutError):
    """The external system could not be reached, or did not answer, in time.

    ``phase`` says which: ``"connect"`` (no connection within ``TOWERFLOW_HTTP_CONNECT_TIMEOUT``:
    nothing was sent), ``"read"`` (sent, but no answer within ``TOWERFLOW_HTTP_TIMEOUT``: the
    system may have done the work, so the retry carries the same ``Idempotency-Key``) or
    ``"pool"`` (every pooled connection stayed busy)."""

    def __init__(self, system: str, url: str, message: str, phase: str):
        super().__init__(system, url, message)
        self.phase = phase


def configure(platform: Platform | None) -> None:
    """Give the transport the platform, for calls made outside any transaction and its clock."""
    global _platform
    _platform = platform


# --- configuration --------------------------------------------------------------------


def settings_of(call: ServiceCall) -> Settings:
    """The settings of the call's platform (or the configured one; the defaults without either)."""
    platform = call.platform or _platform
    return platform.settings if platform is not None else Settings()


def system_url(system: str, settings: Settings) -> str | None:
    """``TOWERFLOW_<SYSTEM>_URL``, or None when unset or blank (record only)."""
    return settings.system_url(system)


def http_timeout(settings: Settings) -> float:
    """``TOWERFLOW_HTTP_TIMEOUT`` in seconds (10 by default; the settings refuse a bad value)."""
    return settings.http_timeout


def connect_timeout(settings: Settings) -> float:
    """``TOWERFLOW_HTTP_CONNECT_TIMEOUT`` in seconds (3 by default)."""
    return settings.http_connect_timeout


# --- the call ---------------------------------------------------------------------------


def pick(params: dict[str, Any] | None, *names: str) -> dict[str, Any]:
    """The named parameters, None for each one missing (handlers accept partial input)."""
    params = params or {}
    return {name: _jsonable(params.get(name)) for name in names}


def call_system(system: str, operation: str, params: dict[str, Any], call: ServiceCall) -> dict[str, Any]:
    """POST the call to the system's URL, or record it in the outbox when none is set."""
    payload = {
        "operation": f"{system}.{operation}",
        "params": _jsonable(params),
        "business_key": call.business_key,
        "tenant": call.tenant,
        "instance_id": call.instance_id,
    }
    settings = settings_of(call)
    url = system_url(system, settings)
    if url is None:
        row_id = _write(system, operation, call, payload, url=None, status="recorded")
        return {"status": "recorded", "outbox_id": row_id}
    try:
        response = post_json(system, url, payload, call.idempotency_key, http_timeout(settings),
                             connect_timeout(settings))
    except OutboundError as exc:
        _write_failure_later(system, operation, call, payload, url, str(exc))
        raise
    row_id = _write(system, operation, call, payload, url=url, status="sent", response=response)
    return {"status": "sent", "response": response, "outbox_id": row_id}


def post_json(system: str, url: str, payload: dict[str, Any], idempotency_key: str, timeout: float,
              connect_timeout: float | None = None) -> Any:
    """POST ``payload`` as JSON through the system's pooled client; the parsed JSON answer (or
    its text), or OutboundError. ``timeout`` bounds the wait for the answer (each read), and
    ``connect_timeout`` (``timeout`` when not given) the wait for a connection."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json", "Accept": "application/json",
               "Idempotency-Key": idempotency_key}
    connect = timeout if connect_timeout is None else connect_timeout
    import httpx  # here, not at the top: a server whose systems have no URL never pays its 5 MiB

    try:
        with clients.lease(system, ClientConfig.of(url, connect, timeout)) as client:
            answer = client.post(url, content=body, headers=headers)
    except httpx.ConnectTimeout as exc:
        raise OutboundTimeout(system, url, f"{system}: POST {url} timed out connecting after {connect:g} s "
                              "(connect timeout; nothing sent; status: no answer)", "connect") from exc
    except (httpx.ReadTimeout, httpx.WriteTimeout) as exc:
        raise OutboundTimeout(system, url, f"{system}: POST {url} timed out after {timeout:g} s "
                              "waiting for the answer (read timeout; status: no answer)", "read") from exc
    except httpx.PoolTimeout as exc:
        raise OutboundTimeout(system, url, f"{system}: POST {url} timed out after {timeout:g} s waiting for a "
                              "free connection (pool timeout; nothing sent; status: no answer)", "pool") from exc
    except httpx.ConnectError as exc:
        raise OutboundError(system, url, f"{system}: POST {url} failed to connect (status: no answer): "
                            f"{_reason(exc)}") from exc
    except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as exc:  # reset, bad URL and the like
        raise OutboundError(system, url, f"{system}: POST {url} failed (status: no answer): {_reason(exc)}") from exc
    status = answer.status_code
    if not 200 <= status < 300:  # a 3xx is not followed: a redirected POST would lose its body
        detail = _text(answer.content)[:500].strip()
        raise OutboundError(system, url, f"{system}: POST {url} answered HTTP {status}"
                            + (f": {detail}" if detail else ""), status=status)
    text = _text(answer.content)
    if not text.strip():
        return None
    if "json" in answer.headers.get("Content-Type", "") or text.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


def _reason(exc: BaseException) -> str:
    """The error's own words, or its kind when it has none (httpx leaves some empty)."""
    return str(exc) or type(exc).__name__


# --- the outbox row -----------------------------------------------------------------------


def _write(system: str, operation: str, call: ServiceCall, payload: dict[str, Any], *, url: str | None,
           status: str, response: Any = None) -> int:
    """Record the call in the job's own transaction (or, outside one, a short one of ours)."""
    if call.session is not None:
        return _record(call.session, system, operation, call, payload, url, status, response, None)
    platform = call.platform or _platform
    if platform is None:
        raise RuntimeError("handlers.outbound: no open transaction and no platform; "
                           "call handlers.outbound.configure(platform) first")
    with platform.transaction() as own:
        return _record(own, system, operation, call, payload, url, status, response, None)


def _record(session: Session, system: str, operation: str, call: ServiceCall, payload: dict[str, Any],
            url: str | None, status: str, response: Any, error: str | None) -> int:
    row = outbox.record(session, system=system, operation=operation, idempotency_key=call.idempotency_key,
                        payload=payload, status=status, now=_now(call), url=url, instance_id=call.instance_id,
                        business_key=call.business_key, tenant=call.tenant, response=response, error=error)
    return row.id


def _write_failure_later(system: str, operation: str, call: ServiceCall, payload: dict[str, Any],
                         url: str, error: str) -> None:
    """Record a failed attempt once the job's transaction (which will roll back) has ended."""

    def write(bind) -> None:
        try:
            with Session(bind) as own, own.begin():
                _record(own, system, operation, call, payload, url, "failed", None, error)
        except Exception:  # never hide the call's own error behind the outbox's
            log.warning("outbox: could not record the failed %s.%s call", system, operation, exc_info=True)

    session = call.session
    if session is None:
        platform = call.platform or _platform
        if platform is not None:
            write(platform.engine)
        return
    pending = session.info.setdefault("outbox_failures", [])
    pending.append(write)


# --- failed attempts, written once the job's transaction has ended ----------------------------


@event.listens_for(Session, "after_transaction_end")
def _session_ended(session, transaction) -> None:
    if transaction.parent is not None:
        return  # a savepoint or inner transaction; the session's transaction goes on
    pending = session.info.pop("outbox_failures", None)
    if pending:
        try:
            bind = session.get_bind()
        except Exception:  # no engine to write with: the job's own failure report still stands
            log.warning("outbox: cannot record failed calls, the session has no bind", exc_info=True)
            return
        for write in pending:
            write(bind)


# --- small helpers --------------------------------------------------------------------------


def _now(call: ServiceCall | None = None) -> datetime:
    platform = (call.platform if call is not None else None) or _platform
    if platform is not None:
        return platform.clock.now()
    return datetime.now(UTC).replace(tzinfo=None)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _jsonable(value: Any) -> Any:
    """The value as JSON would carry it (dates as ISO text, unknown objects as text)."""
    return json.loads(json.dumps(value, ensure_ascii=False, default=_default))


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)

"""The id of the request whose work this thread is doing, for log lines and the jobs it queues.

The web layer sets it for each request (``X-Request-Id``); a job keeps it in ``jobs.request_id``
and the job runner sets it again while it runs that job, so the run's log lines carry the id of
the request that queued it. A ContextVar: every thread (waitress's request threads, the clock's
thread) has its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

_request_id: ContextVar[str | None] = ContextVar("towerflow_request_id", default=None)


def current() -> str | None:
    """The id of the request (or of the request that queued the job) being worked on, if any."""
    return _request_id.get()


def enter(request_id: str | None) -> Token:
    """Make ``request_id`` the current id until ``leave`` with the token returned."""
    return _request_id.set(request_id)


def leave(token: Token) -> None:
    _request_id.reset(token)


@contextmanager
def using(request_id: str | None) -> Iterator[None]:
    """The job's request id while it runs; without one (a job queued by no request) the id
    already current stays, e.g. that of a request draining its instance's jobs."""
    if not request_id:
        yield
        return
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)

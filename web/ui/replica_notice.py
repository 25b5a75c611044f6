"""Pages that may read the replica (lists, the dashboard, reports): the read, and what the page says
about it (``_replica_lag.html``). engine/replica.py decides where a read goes and measures the lag."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import g
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from engine import replica
from engine.replica import ReplicaState

from .helpers import platform

T = TypeVar("T")


def read_lagging(work: Callable[[Session], T]) -> T:
    """``work(session)`` on the replica when one is set and reachable, else on the primary. The
    page's notice is in ``g.replica_notice`` before ``work`` runs, so a page rendered inside it
    shows it (``_replica_lag.html``)."""

    def noted(session: Session) -> T:
        g.replica_notice = notice(session.info["replica"])
        return work(session)

    return replica.read(platform(), noted)[0]


def notice(state: ReplicaState) -> str | None:
    """A short sentence when the page may be out of date or was read from the primary instead."""
    if state.down:
        return _("The read copy of the database cannot be reached; this page was read from the main database.")
    if state.lagging:
        return _("Data may be up to %(seconds)s seconds behind.", seconds=int(state.lag_seconds))
    return None

"""The audit log of administration: who created or changed a user, its groups, tenant, password or
disabled state, and who created or revoked an API token (table ``admin_events``).

The instance audit log belongs to instances; these actions have none. ``engine.identity``
records every change itself, in the caller's transaction, so the page, the API and the command
line all leave a row, and a change that rolls back leaves none. A row names the actor (None:
the command line or the system), the action, its target (a username) and a few facts; never
a password or a token, only a token's name, id and expiry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.models import AdminEvent

# Every action recorded; the pages translate each into words.
ACTIONS = (
    "user.created",
    "user.groups_changed",
    "user.tenant_changed",
    "user.password_changed",
    "user.disabled",
    "user.enabled",
    "token.created",
    "token.revoked",
)
_FORBIDDEN_KEYS = frozenset({"password", "token", "token_hash", "password_hash"})

_clock = Clock()


def record(session: Session, actor: str | None, action: str, target: str,
           data: dict[str, Any] | None = None, at: datetime | None = None) -> AdminEvent:
    """Add one event to ``session`` (the caller commits it with the change it describes)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown admin action {action!r}")
    facts = dict(data or {})
    leaked = _FORBIDDEN_KEYS & set(facts)
    if leaked:  # a programming error, never the user's: secrets do not belong in a log
        raise ValueError(f"admin events never hold {sorted(leaked)}")
    event = AdminEvent(at=at or _clock.now(), actor=actor, action=action, target=target[:200], data=facts)
    session.add(event)
    return event


def recent(session: Session, offset: int = 0, limit: int = 50, target: str | None = None) -> list[AdminEvent]:
    """Events newest first; only those about ``target`` when given."""
    query = select(AdminEvent)
    if target is not None:
        query = query.where(AdminEvent.target == target)
    return list(session.scalars(query.order_by(AdminEvent.at.desc(), AdminEvent.id.desc())
                                .offset(offset).limit(limit)))


def count(session: Session, target: str | None = None) -> int:
    query = select(func.count()).select_from(AdminEvent)
    if target is not None:
        query = query.where(AdminEvent.target == target)
    return session.scalar(query) or 0

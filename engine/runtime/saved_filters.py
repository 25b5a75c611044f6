"""Saved inbox filters: a user names a combination of process, text, overdue and sort, and
finds it again as a quick link. Only known keys are kept, so a saved filter is always a
valid inbox query."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

from engine.errors import Conflict, NotFound, ValidationFailed
from engine.models import SavedFilter
from engine.principal import Principal

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from engine.platform import Platform

KEYS = ("tab", "process", "q", "overdue", "sort", "order")
MAX_NAME = 100
MAX_PER_USER = 30


def clean(params: dict[str, Any]) -> dict[str, str]:
    """The filter's own keys with non-empty values, as strings."""
    return {k: str(params[k]).strip()[:200] for k in KEYS if params.get(k) not in (None, "", False)}


def list_for(session: Session, actor: Principal) -> list[SavedFilter]:
    return list(session.scalars(select(SavedFilter).where(SavedFilter.username == actor.username)
                                .order_by(SavedFilter.name)))


def save(platform: Platform, actor: Principal, name: str, params: dict[str, Any]) -> int:
    """Save (or replace) the user's filter of that name."""
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("give the filter a name", {"fields": {"name": ["required"]}})
    if len(name) > MAX_NAME:
        raise ValidationFailed("the name is longer than %(n)s characters", {"fields": {"name": ["too_long"]}},
                               n=MAX_NAME)
    kept = clean(params)
    if not kept:
        raise ValidationFailed("the filter is empty", {"fields": {"params": ["empty"]}})
    with platform.transaction() as session:
        row = session.scalar(select(SavedFilter).where(SavedFilter.username == actor.username,
                                                       SavedFilter.name == name))
        if row is None:
            if len(list_for(session, actor)) >= MAX_PER_USER:
                raise Conflict("at most %(n)s saved filters", {"max": MAX_PER_USER}, n=MAX_PER_USER)
            row = SavedFilter(username=actor.username, name=name, params=kept, created_at=platform.clock.now())
            session.add(row)
        else:
            row.params = kept
        session.flush()
        return row.id


def remove(platform: Platform, actor: Principal, filter_id: int) -> None:
    with platform.transaction() as session:
        gone = session.execute(delete(SavedFilter).where(SavedFilter.id == filter_id,
                                                         SavedFilter.username == actor.username))
        if gone.rowcount != 1:
            raise NotFound("saved filter %(id)s does not exist", id=filter_id)

"""The outbox: every call to an external system, recorded or sent (see docs/integrations.md)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .db import Base

OUTBOX_STATUSES = ("recorded", "sent", "failed")


class OutboxMessage(Base):
    """One call of one operation of an external system, kept once per idempotency key.

    ``status`` is ``recorded`` when no URL is configured for the system (nothing was sent),
    ``sent`` when the system answered 2xx, ``failed`` while the last attempt failed.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (
        UniqueConstraint("system", "operation", "idempotency_key", name="uq_outbox_call"),
        Index("ix_outbox_system_status", "system", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    system: Mapped[str] = mapped_column(String(64))
    operation: Mapped[str] = mapped_column(String(100))
    url: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    instance_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    business_key: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    tenant: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(16), default="recorded")
    response: Mapped[dict | list | None] = mapped_column(JSON, nullable=True)
    response_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

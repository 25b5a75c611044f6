"""The difficult-site library (疑难站址库): sites whose negotiation is paused (Flow 3)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .db import Base

DIFFICULT_SITE_STATUSES = ("in_library", "released")


class DifficultSite(Base):
    """One stay of a site in the library: entered when the city director approves, released
    after a review (or when its negotiation is cancelled). ``entry_key`` is the service call's
    idempotency key, so a retried entry never makes a second row."""

    __tablename__ = "difficult_sites"
    __table_args__ = (Index("ix_difficult_sites_status_entered", "status", "entered_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_key: Mapped[str] = mapped_column(String(200), unique=True)
    demand_no: Mapped[str] = mapped_column(String(64), default="", index=True)
    site_name: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(String(64), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="in_library")
    tenant: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    instance_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    business_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    applied_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    approved_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    entered_at: Mapped[datetime] = mapped_column(DateTime)
    paused_at: Mapped[datetime] = mapped_column(DateTime)
    released_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    paused_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    release_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)

"""Customer contracts with an expiry warning threshold (Flow 7, 合同到期预警)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .db import Base

CONTRACT_STATUSES = ("active", "renewing", "renewed", "expired")


class Contract(Base):
    """One customer contract. It is due for a warning once ``expires_on - warn_days_before``
    is today or earlier, while it is ``active`` and ``warned_at`` is still empty."""

    __tablename__ = "contracts"
    __table_args__ = (Index("ix_contracts_status_warned", "status", "warned_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contract_no: Mapped[str] = mapped_column(String(64), unique=True)
    customer_name: Mapped[str] = mapped_column(String(200))
    tenant: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    customer_manager: Mapped[str] = mapped_column(String(100), index=True)
    manager_phone: Mapped[str] = mapped_column(String(32), default="")
    expires_on: Mapped[date] = mapped_column(Date, index=True)
    warn_days_before: Mapped[int] = mapped_column(Integer, default=30)
    status: Mapped[str] = mapped_column(String(16), default="active")
    warned_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    warned_by_instance: Mapped[int | None] = mapped_column(Integer, nullable=True)
    renewal_note: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

"""The tower company's tables: demands (Flow 1), the site library, contracts (Flow 7) and the
difficult-site library (Flow 3). They live on the engine's declarative base, so one schema and
one migration history hold both; the engine never imports them (the plug-in names this module)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Date, DateTime, Float, Index, Integer, LargeBinary, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base


class Demand(Base):
    """One tower-site demand of an operator (需求单), from collection to delivery acceptance."""

    __tablename__ = "demands"
    __table_args__ = (Index("ix_demands_tenant_status", "tenant", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    demand_no: Mapped[str] = mapped_column(String(64), unique=True)
    tenant: Mapped[str] = mapped_column(String(64))  # operator tenant id: china_mobile, ...
    province: Mapped[str] = mapped_column(String(50))
    city: Mapped[str] = mapped_column(String(50))
    county: Mapped[str] = mapped_column(String(50))
    site_name: Mapped[str] = mapped_column(String(200))
    longitude: Mapped[float] = mapped_column(Float)
    latitude: Mapped[float] = mapped_column(Float)
    tower_type: Mapped[str] = mapped_column(String(50))
    antenna_height: Mapped[float] = mapped_column(Float)
    demand_type: Mapped[str] = mapped_column(String(50))
    expected_delivery: Mapped[date] = mapped_column(Date)
    remarks: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(32), default="collected", index=True)
    instance_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    created_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # The order (订单编制 .. 订单确认) and the delivery (交付验收); empty until those steps.
    order_no: Mapped[str | None] = mapped_column(String(64), nullable=True)
    site_code: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the site built or shared
    build_mode: Mapped[str | None] = mapped_column(String(32), nullable=True)  # new_site | share_existing
    share_count: Mapped[int | None] = mapped_column(Integer, nullable=True)  # operators on the tower
    annual_fee: Mapped[Decimal | None] = mapped_column(Numeric(12, 2), nullable=True)  # yuan per year
    order_sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    order_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    order_confirmed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    delivered_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    accepted_by: Mapped[str | None] = mapped_column(String(100), nullable=True)


class Site(Base):
    """A stored tower site (站址) that a demand can share."""

    __tablename__ = "sites"
    __table_args__ = (Index("ix_sites_lat_lon", "latitude", "longitude"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(50), default="")
    county: Mapped[str] = mapped_column(String(50), default="")
    area_type: Mapped[str] = mapped_column(String(16))  # urban | suburban | rural
    longitude: Mapped[float] = mapped_column(Float)
    latitude: Mapped[float] = mapped_column(Float)
    tower_type: Mapped[str] = mapped_column(String(50), default="")
    operators: Mapped[list] = mapped_column(JSON, default=list)  # tenant ids sharing the tower
    status: Mapped[str] = mapped_column(String(32), default="in_service")  # in_service | planned | retired


class DemandUpload(Base):
    """A checked spreadsheet kept for a short while, so the pages can import its good rows
    after showing the errors without asking for the file again."""

    __tablename__ = "demand_uploads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    username: Mapped[str] = mapped_column(String(100))
    filename: Mapped[str] = mapped_column(String(300), default="")
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime)

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

"""Failed sign-ins per username, kept in the database so every server process slows the same attacker."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .db import Base


class LoginFailure(Base):
    """Consecutive failed sign-ins of one username (lower-cased); a success deletes the row."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_last_failed_at", "last_failed_at"),)

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

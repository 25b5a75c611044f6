"""Placeholder until the Alembic upgrade lands: the tables as they are now."""

from __future__ import annotations

from engine import db


def upgrade(platform) -> None:
    db.create_schema(platform.engine)

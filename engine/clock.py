"""The engine's notion of now: real UTC time, or a clock tests can move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """Real time, as naive UTC (the form every table stores)."""

    def now(self) -> datetime:
        return datetime.now(UTC).replace(tzinfo=None)


class ManualClock(Clock):
    """Real time shifted by an offset that tests advance instead of sleeping."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return super().now() + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


def iso(value: datetime | None) -> str | None:
    """A stored (naive UTC) time as the API writes it: ISO 8601 to the second, with a Z."""
    return value.isoformat(timespec="seconds") + "Z" if value is not None else None

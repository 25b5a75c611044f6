"""The APScheduler clock: wakes due timers and retries in every server or worker process."""

from __future__ import annotations

import logging
import time
from weakref import WeakKeyDictionary

from apscheduler.schedulers.background import BackgroundScheduler

from engine.db import unavailable_kind
from engine.platform import Platform
from engine.runtime import jobs

log = logging.getLogger(__name__)
TICK_SECONDS = 0.25
_last_tick: WeakKeyDictionary[Platform, float] = WeakKeyDictionary()  # time.monotonic() of each clock's last tick
_database_away: WeakKeyDictionary[Platform, str] = WeakKeyDictionary()  # clocks whose database is away now


def seconds_since_tick(platform: Platform) -> float | None:
    """How long ago this process's clock of ``platform`` last ticked (or finished a round of
    jobs); None when no clock runs here for it (web/health.py's readiness)."""
    last = _last_tick.get(platform)
    return None if last is None else time.monotonic() - last


def start_clock(platform: Platform, tick_seconds: float = TICK_SECONDS) -> BackgroundScheduler:
    """Poll the job table a few times a second, so a due timer fires within a second."""
    scheduler = BackgroundScheduler(daemon=True)
    scheduler.add_job(_tick, "interval", seconds=tick_seconds, args=[platform], max_instances=1,
                      coalesce=True, id="towerflow-jobs")
    _last_tick[platform] = time.monotonic()
    scheduler.start()
    return scheduler


def _tick(platform: Platform) -> None:
    _last_tick[platform] = time.monotonic()
    try:
        while jobs.run_due_jobs(platform, limit=20) == 20:
            _last_tick[platform] = time.monotonic()
    except Exception as exc:  # the clock must keep ticking whatever one round does
        kind = unavailable_kind(exc)
        if kind is None:
            log.exception("job round failed")
        elif platform not in _database_away:  # once an outage, not at every tick
            _database_away[platform] = kind
            log.warning("the database is %s: due jobs wait until it answers (%s)", kind,
                        (str(getattr(exc, "orig", exc)).strip().splitlines() or [""])[0])
        return
    if _database_away.pop(platform, None) is not None:
        log.warning("the database answers again: due jobs run")

"""The APScheduler clock: wakes due timers and retries in every server or worker process."""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler

from engine.platform import Platform
from engine.runtime import jobs

log = logging.getLogger(__name__)
TICK_SECONDS = 0.25


def start_clock(platform: Platform, tick_seconds: float = TICK_SECONDS) -> BackgroundScheduler:
    """Poll the job table a few times a second, so a due timer fires within a second."""
    scheduler = BackgroundScheduler(daemon=True)
    scheduler.add_job(_tick, "interval", seconds=tick_seconds, args=[platform], max_instances=1,
                      coalesce=True, id="towerflow-jobs")
    scheduler.start()
    return scheduler


def _tick(platform: Platform) -> None:
    try:
        while jobs.run_due_jobs(platform, limit=20) == 20:
            pass
    except Exception:  # the clock must keep ticking whatever one round does
        log.exception("job round failed")

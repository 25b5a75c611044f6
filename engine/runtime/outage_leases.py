"""Leases a runner took just before the database went away (restarted, cut off, disk full).

A runner leases due jobs in one transaction and runs them in others. If the database fails in
between, the jobs stay leased to this runner until the lease expires (5 minutes by default),
and the timers due meanwhile would fire that late. So the runner remembers those leases and
gives them back as soon as the database answers again (its next round), and the failure is not
counted as an attempt of the job: the database's outage is not the job's fault.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import update

from engine.db import unavailable_kind
from engine.models import Job

if TYPE_CHECKING:
    from engine.platform import Platform

_held: dict[str, set[int]] = {}  # worker id -> jobs leased when the database failed
_lock = threading.Lock()


@contextmanager
def kept_if_database_fails(platform: Platform, job_ids: Iterable[int]) -> Iterator[None]:
    """Run the leased jobs; if the database fails meanwhile, remember their leases and re-raise."""
    try:
        yield
    except Exception as exc:
        if unavailable_kind(exc):
            with _lock:
                _held.setdefault(platform.worker_id, set()).update(job_ids)
        raise


def give_back(platform: Platform) -> None:
    """Release the remembered leases that are still this runner's and still pending (a job whose
    commit reached the database before it failed is done, and stays done)."""
    with _lock:
        job_ids = sorted(_held.get(platform.worker_id, ()))
    if not job_ids:
        return
    with platform.transaction() as session:
        session.execute(update(Job).where(Job.id.in_(job_ids), Job.locked_by == platform.worker_id,
                                          Job.state == "pending").values(locked_by=None, locked_until=None))
    with _lock:
        _held[platform.worker_id].difference_update(job_ids)

"""The read-replica tests' shared pieces: the replica's URL for a test database, replay paused and
resumed, and a bounded wait. The replica is a streaming copy of the whole primary cluster that
``.ci/replica`` starts (port 5433); TOWERFLOW_TEST_REPLICA_DATABASE_URL names it. (Not
``..._REPLICA_URL``: a ``TOWERFLOW_<SYSTEM>_URL`` is an external system's, which must be http, and
the servers the tests start inherit the environment; a name ending in ``DATABASE_URL`` is not.)"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import text

from engine.db import make_engine

REPLICA_URL = os.environ.get("TOWERFLOW_TEST_REPLICA_DATABASE_URL")
NEEDS_REPLICA = ("needs TOWERFLOW_TEST_DATABASE_URL and TOWERFLOW_TEST_REPLICA_DATABASE_URL "
                 "(a streaming replica of that server: .ci/replica)")


def replica_url_for(database_url: str, base: str | None = None) -> str:
    """The replica URL with the test database's own options (its schema on the search path)."""
    base = base or REPLICA_URL or ""
    query = database_url.split("?", 1)[1] if "?" in database_url else ""
    return f"{base}{'&' if '?' in base else '?'}{query}" if query else base


@contextmanager
def replay_paused() -> Iterator[None]:
    """Replay held on the replica (it still receives the primary's WAL); resumed whatever happens."""
    engine = make_engine(REPLICA_URL)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_wal_replay_pause()"))
        yield
    finally:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_wal_replay_resume()"))
        engine.dispose()


def eventually(condition: Callable[[], bool], what: str, limit: float = 60.0) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``limit`` seconds."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"never: {what}")

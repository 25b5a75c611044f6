"""Fixtures of the reliability tests: real server and worker processes on the test database,
and the test handler ``rel.book`` in this process too."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis.configuration import set_hypothesis_home_dir
from relhelp import Proc, Server, Worker, book_crane

# Hypothesis keeps a cache of constants even without an example database; keep it out of the repository.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "towerflow-hypothesis")


@pytest.fixture
def services(services):
    """The project's handlers plus ``rel.book`` (the same one proc.py registers)."""
    services.add("rel.book", book_crane)
    return services


@pytest.fixture
def rel_dir(tmp_path) -> Path:
    folder = tmp_path / "rel"
    folder.mkdir()
    return folder


@pytest.fixture
def spawn(database_url, rel_dir, tmp_path) -> Iterator:
    """``spawn.server(clock=False, extra_env=None)`` / ``spawn.worker(lease_seconds=None)``: started processes,
    all stopped at the end of the test."""
    started: list[Proc] = []
    env = {**os.environ, "REL_DIR": str(rel_dir), "TOWERFLOW_SECRET_KEY": "reliability-tests",
           "PYTHONUNBUFFERED": "1"}

    class Spawner:
        def server(self, clock: bool = False, extra_env: dict[str, str] | None = None) -> Server:
            proc = Server(database_url, {**env, **(extra_env or {})}, tmp_path / f"server-{len(started)}.log", clock)
            started.append(proc)
            return proc.start()

        def worker(self, lease_seconds: float | None = None, extra_env: dict[str, str] | None = None) -> Worker:
            worker_env = {**env, **(extra_env or {})}
            if lease_seconds is not None:
                worker_env["REL_LEASE_SECONDS"] = str(lease_seconds)
            proc = Worker(database_url, worker_env, tmp_path / f"worker-{len(started)}.log")
            started.append(proc)
            return proc.start()

    yield Spawner()
    for proc in started:
        proc.stop()

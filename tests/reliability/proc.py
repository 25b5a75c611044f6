"""Run the real ``towerflow`` command line (``serve`` or ``worker``) with the reliability tests'
handler registered, and with crash points the tests arm by creating files.

Environment (all optional):
- ``REL_DIR``: a folder; every call of ``rel.book`` appends ``"<key> <attempt> <pid>"`` to
  ``REL_DIR/calls.log``.
- ``REL_DIR/hang-in-handler``: the next call removes it and hangs inside the handler.
- ``REL_DIR/hang-after-handler``: the next call removes it, returns, and the job hangs right
  after the handler returned and before its transaction commits.
- ``REL_DIR/hang-in-completion``: the next person's change (a task completion through the API)
  removes it and hangs after the engine steps were saved, before the transaction commits.
- ``REL_REMOTE``: ``rel.book`` is registered as a remote handler, called by the job runner
  outside every lock (engine/runtime/remote_calls.py); ``hang-after-handler`` then hangs after
  its answer was applied, before that transaction commits.
- ``REL_LEASE_SECONDS``: the job lease (default 300 s), so a test need not wait five minutes
  for a killed worker's lease to run out.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import handlers  # noqa: F401  (the project's handlers, as in the real command line)
from engine.runtime import advance, jobs
from engine.services import registry
from web import cli

REL_DIR = Path(os.environ["REL_DIR"]) if os.environ.get("REL_DIR") else None


def _mark(line: str) -> None:
    if REL_DIR is not None:
        with open(REL_DIR / "calls.log", "a", encoding="utf-8") as log:
            log.write(line + "\n")
            log.flush()
            os.fsync(log.fileno())


def _take_flag(name: str) -> bool:
    """True once: the flag file existed and this process removed it."""
    if REL_DIR is None:
        return False
    try:
        os.remove(REL_DIR / name)
    except FileNotFoundError:
        return False
    return True


def _hang(why: str) -> None:
    _mark(f"hanging {why} {os.getpid()}")
    while True:  # until the test kills this process with SIGKILL
        time.sleep(60)


def book_crane(params: dict[str, Any], call) -> dict[str, Any]:
    _mark(f"{call.idempotency_key} {call.attempt} {os.getpid()}")
    if _take_flag("hang-in-handler"):
        _hang("in-handler")
    return {"crane": "C-12", "site": params.get("site")}


registry.add("rel.book", book_crane, remote=bool(os.environ.get("REL_REMOTE")))

_run_service = jobs.run_service_job


def _run_service_then_maybe_hang(platform, run, job, *args) -> None:
    _run_service(platform, run, job, *args)
    if _take_flag("hang-after-handler"):
        _hang("after-handler")


jobs.run_service_job = _run_service_then_maybe_hang

_step_and_save = advance.step_and_save


def _step_and_save_then_maybe_hang(run, *args) -> None:
    _step_and_save(run, *args)
    if _take_flag("hang-in-completion"):
        _hang("in-completion")


advance.step_and_save = _step_and_save_then_maybe_hang

if os.environ.get("REL_LEASE_SECONDS"):
    _build_platform = cli.build_platform

    def _with_short_lease(url=None, **kwargs):
        return _build_platform(url, lease_seconds=float(os.environ["REL_LEASE_SECONDS"]), **kwargs)

    cli.build_platform = _with_short_lease

if __name__ == "__main__":
    sys.exit(cli.main(sys.argv[1:]))

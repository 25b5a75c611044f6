"""The soak (``make soak``, benchmarks/soak.py) for 20 seconds instead of 10 minutes: the same
mixed load on the same real processes, checked by its outcome only (no timing, no memory)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # benchmarks/ is not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks.common import Workspace  # noqa: E402
from benchmarks.soak import soak  # noqa: E402


def test_a_short_soak_has_no_error_and_every_instance_driven_to_its_end_ran_each_step_once(database_url):
    workspace = Workspace()
    try:
        result = soak(database_url, 20, workspace, clients=2)
    finally:
        workspace.cleanup()
    assert result.errors == []
    assert result.problems == []
    assert result.done, "instances went through review, timer, message and close"
    assert {sample.op for sample in result.samples} == {"inbox", "start", "complete", "message", "read"}

"""When a handler waits on the network: ``@service(..., remote=sends_to("pms"))``."""

from collections.abc import Callable
from typing import Any


def sends_to(system: str) -> Callable[[Any], bool]:
    """Remote when ``TOWERFLOW_<SYSTEM>_URL`` is set: the call then goes over HTTP, and the job
    runner makes it outside every lock (engine/runtime/remote_calls.py). Without a URL the call
    is only recorded in the outbox, a quick write that commits with the task's completion."""
    return lambda platform: platform.settings.system_url(system) is not None

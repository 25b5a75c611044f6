"""Plug-ins: what a business package adds to the engine, registered by name when the platform is built.

Like a Temporal worker that is handed its workflows and activities, the platform is handed its
plug-ins; nothing is discovered from file names. A plug-in names the modules that define its
tables (imported so that the schema and the migrations see them), gives its lifecycle
listeners and may check the settings it reads. A module that cannot be imported stops the start with its name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any


class StartupError(RuntimeError):
    """The platform cannot start as configured; the message says what to fix."""


@dataclass(frozen=True)
class Plugin:
    name: str
    tables: tuple[str, ...] = ()  # modules whose import defines tables on engine.db.Base
    listeners: tuple[object, ...] = ()  # lifecycle listeners (engine.lifecycle)
    check_settings: Callable[[Any], None] | None = None  # raises SettingsError on a value it cannot use

    def load_tables(self) -> list[ModuleType]:
        return import_modules(self.tables, f"the {self.name} plug-in's tables")


def import_modules(names: Iterable[str], what: str) -> list[ModuleType]:
    """Import each module by its full name; the first that fails stops the start, named."""
    modules = []
    for name in names:
        try:
            modules.append(importlib.import_module(name))
        except Exception as exc:
            raise StartupError(f"{what}: module {name} could not be imported ({type(exc).__name__}: {exc})") from exc
    return modules

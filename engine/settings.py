"""The platform's settings: read once, from ``TOWERFLOW_*`` environment variables (and the command
line's options), checked, and handed to the platform and the app. No other module reads the
environment.

A value that cannot be used stops the start with a message naming its variable, rather than
running on a default the operator did not choose.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

PREFIX = "TOWERFLOW_"
DEFAULT_DATABASE_URL = "sqlite:///towerflow.db"
DATABASE_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg")
_SYSTEM_URL = re.compile(r"^TOWERFLOW_([A-Z][A-Z0-9_]*)_URL$")


class SettingsError(ValueError):
    """A setting's value cannot be used; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """Every setting with its default; ``variable(name)`` gives the environment variable of each."""

    database_url: str = DEFAULT_DATABASE_URL
    secret_key: str | None = field(default=None, repr=False)
    http_timeout: float = 10.0  # seconds to wait for an external system's answer (read timeout)
    http_connect_timeout: float = 3.0  # seconds to open a connection to an external system
    retry_backoff_seconds: float = 5.0  # first wait before a failed service task is retried
    lease_seconds: float = 300.0  # how long a worker holds a job it took
    clock_tick: float = 0.25  # seconds between two looks at the job table
    token_cache_seconds: float = 5.0  # how long a process trusts a resolved API token; 0: no cache
    # PostgreSQL: the longest wait for any answer of the database, 0: none (RELIABILITY.md, section 6)
    database_timeout: float = 60.0
    # "auto": a step calls the service tasks it readied itself on PostgreSQL (only the instance's
    # row is locked meanwhile), and queues them as jobs on SQLite (a call would hold the write lock);
    # "off": always as jobs (docs/engine.md, "Service tasks")
    inline_services: str = "auto"
    # SQLite in WAL mode: "normal" syncs the disk at checkpoints, not at every commit; a killed
    # process loses nothing, a power cut may lose the last commits (docs/engine.md, "Durability")
    sqlite_synchronous: str = "normal"
    # PostgreSQL streaming replica for lists, the dashboard and reports (docs/deploy.md); unset: primary
    read_replica_url: str | None = None
    log_format: str = "text"  # "text" for a terminal, "json": one JSON object a line, with the request id
    cookie_secure: bool = False  # session cookie only over HTTPS: on behind a TLS proxy
    api_token_days: float = 90.0  # lifetime of a new API token, in days
    metrics_dir: str | None = None  # prometheus-client's multiprocess folder, shared by every process
    systems: Mapping[str, str] = field(default_factory=dict)  # external system -> URL (unset: record only)
    options: Mapping[str, str] = field(default_factory=dict)  # other TOWERFLOW_* values, for plug-ins

    SECRETS = frozenset({"secret_key"})

    def __post_init__(self) -> None:
        object.__setattr__(self, "database_url", _database_url(self.database_url))
        for name in ("http_timeout", "http_connect_timeout", "retry_backoff_seconds", "lease_seconds",
                     "clock_tick", "api_token_days"):
            object.__setattr__(self, name, _positive(getattr(self, name), variable(name)))
        for name in ("token_cache_seconds", "database_timeout"):
            object.__setattr__(self, name, _not_negative(getattr(self, name), variable(name)))
        if self.sqlite_synchronous not in ("normal", "full"):
            raise SettingsError(f"{variable('sqlite_synchronous')} must be normal or full, "
                                f"not {self.sqlite_synchronous!r}")
        if self.read_replica_url is not None:
            replica = _database_url(self.read_replica_url, "read_replica_url")
            if not replica.startswith("postgresql"):
                raise SettingsError(f"{variable('read_replica_url')} must be a postgresql:// URL")
            if self.is_sqlite:
                raise SettingsError(f"{variable('read_replica_url')} needs {variable('database_url')} "
                                    "on PostgreSQL too")
            object.__setattr__(self, "read_replica_url", replica)
        if self.log_format not in ("text", "json"):
            raise SettingsError(f"{variable('log_format')} must be text or json, not {self.log_format!r}")
        object.__setattr__(self, "cookie_secure", _flag(self.cookie_secure, variable("cookie_secure")))
        if self.inline_services not in ("auto", "off"):
            raise SettingsError(f"{variable('inline_services')} must be auto or off, not {self.inline_services!r}")
        for system, url in self.systems.items():
            _http_url(url, f"{PREFIX}{system.upper()}_URL")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """The settings of ``environ`` (the process environment by default); ``overrides`` win
        (the command line's options); a value of None there means "not given"."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        known = {variable(f.name): f.name for f in fields(cls) if f.name not in ("systems", "options")}
        systems: dict[str, str] = {}
        options: dict[str, str] = {}
        for name, raw in environ.items():
            if not name.startswith(PREFIX):
                continue
            if name in known:
                if raw.strip():
                    values[known[name]] = raw.strip()
            elif (match := _SYSTEM_URL.match(name)) and not name.endswith("DATABASE_URL"):
                if raw.strip():
                    systems[match.group(1).lower()] = raw.strip()
            else:
                options[name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        values.setdefault("systems", systems)
        values.setdefault("options", options)
        return cls(**values)

    def with_changes(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def as_environ(self) -> dict[str, str]:
        """The variables that give these settings (unmasked): for a child process, or a test
        that changes one value and reads the whole again with ``from_env``."""
        environ = {variable(f.name): str(getattr(self, f.name)) for f in fields(self)
                   if f.name not in ("systems", "options") and getattr(self, f.name) is not None}
        environ.update({f"{PREFIX}{system.upper()}_URL": url for system, url in self.systems.items()})
        environ.update(self.options)
        return environ

    def system_url(self, system: str) -> str | None:
        return self.systems.get(system)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def describe(self) -> Iterator[tuple[str, str]]:
        """(variable, value) for every setting in force, secrets and passwords masked."""
        for f in fields(self):
            if f.name in ("systems", "options"):
                continue
            value = getattr(self, f.name)
            if value is None:
                shown = "(not set)"
            elif f.name in self.SECRETS:
                shown = "********"
            elif f.name in ("database_url", "read_replica_url") and value:
                shown = mask_password(value)
            else:
                shown = str(value)
            yield variable(f.name), shown
        for system, url in sorted(self.systems.items()):
            yield f"{PREFIX}{system.upper()}_URL", mask_password(url)
        for name, value in sorted(self.options.items()):
            yield name, "********" if _looks_secret(name) else value


def hand_to_library(name: str, value: str) -> str | None:
    """Put ``value`` in this process's environment as ``name``, for a library that reads nothing
    else (prometheus-client's multiprocess folder); the value it had before. The environment is
    still read and written in this module only."""
    before = os.environ.get(name)
    os.environ[name] = value
    return before


def variable(setting: str) -> str:
    return PREFIX + setting.upper()


def sqlalchemy_url(url: str) -> str:
    """The URL SQLAlchemy is given: ``postgresql://`` uses psycopg 3."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def mask_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":********@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _database_url(url: str, setting: str = "database_url") -> str:
    scheme = str(url).split("://", 1)[0] if "://" in str(url) else ""
    if scheme not in DATABASE_SCHEMES:
        raise SettingsError(f"{variable(setting)}: unknown database scheme {scheme or str(url)!r}; "
                            "use sqlite:///path/to/file.db or postgresql://user@host:port/database")
    return sqlalchemy_url(str(url))


def _positive(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{name}: {value!r} is not a number of seconds") from None
    if not math.isfinite(number) or number <= 0:
        raise SettingsError(f"{name}: {value!r} must be a positive number of seconds")
    return number


def _not_negative(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{name}: {value!r} is not a number of seconds") from None
    if not math.isfinite(number) or number < 0:
        raise SettingsError(f"{name}: {value!r} must be 0 or a positive number of seconds")
    return number


def _flag(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in ("1", "true", "on", "yes"):
        return True
    if word in ("0", "false", "off", "no"):
        return False
    raise SettingsError(f"{name}: {value!r} must be on or off")


def _http_url(url: str, name: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(f"{name}: {url!r} is not an http:// or https:// URL")


def _looks_secret(name: str) -> bool:
    return any(word in name for word in ("SECRET", "PASSWORD", "TOKEN", "KEY"))

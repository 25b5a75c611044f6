"""One pooled ``httpx.Client`` per external system, shared by every thread of the process.

Why a pool: a new connection for every call costs a network round trip (two or three with TLS,
and the handshake's CPU) before the request can leave; a client keeps connections open between
calls (HTTP keep-alive) and hands them to whichever thread calls next (docs/integrations.md has
the numbers). Job-runner threads and web-request threads share the
same client: httpx's connection pool is thread-safe.

A client is built lazily, on a system's first call, from what the platform's settings say about
that system (:class:`ClientConfig`: where it lives and the two timeouts). When a call comes with
other settings (a restart would normally bring them; tests build many platforms in one process),
a new client replaces the old one, and the old one is closed as soon as no call is still using it.
Every client is closed when the process exits, and a forked child starts with none (the
parent's sockets are not its own).
"""

from __future__ import annotations

import atexit
import os
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import httpx

# Per system: a few worker threads and request threads call at once; more waiting calls queue
# for a free connection (the pool timeout) rather than flooding the system.
MAX_CONNECTIONS = 20
MAX_KEEPALIVE = 10
KEEPALIVE_SECONDS = 5.0  # an idle connection is dropped after this (servers close theirs too)
USER_AGENT = "TowerFlow"


@dataclass(frozen=True)
class ClientConfig:
    """What a system's client is built from: the origin it calls and its timeouts (seconds)."""

    origin: str
    connect_timeout: float
    read_timeout: float

    @classmethod
    def of(cls, url: str, connect_timeout: float, read_timeout: float) -> ClientConfig:
        parts = urlsplit(url)
        return cls(f"{parts.scheme}://{parts.netloc}".lower(), float(connect_timeout), float(read_timeout))

    def timeout(self) -> httpx.Timeout:
        """Connect and read apart; writing the body counts as reading, and waiting for a free
        pooled connection may last as long as the calls that hold them."""
        import httpx

        return httpx.Timeout(self.read_timeout, connect=self.connect_timeout, write=self.read_timeout,
                             pool=self.read_timeout)


@dataclass
class _Entry:
    client: httpx.Client
    config: ClientConfig
    users: int = 0
    retired: bool = False


class ClientPool:
    """The clients of one process, one per system, each replaced when its settings change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}

    @contextmanager
    def lease(self, system: str, config: ClientConfig) -> Iterator[httpx.Client]:
        """The system's client for one call; a client replaced meanwhile is closed after it."""
        stale = None
        with self._lock:
            entry = self._entries.get(system)
            if entry is None or entry.config != config:
                if entry is not None:
                    entry.retired = True
                    stale = entry if entry.users == 0 else None
                entry = _Entry(_build(config), config)
                self._entries[system] = entry
            entry.users += 1
        if stale is not None:
            stale.client.close()
        try:
            yield entry.client
        finally:
            with self._lock:
                entry.users -= 1
                close_now = entry.retired and entry.users == 0
            if close_now:
                entry.client.close()

    def client(self, system: str) -> httpx.Client | None:
        """The system's current client, if one was built (for tests and diagnostics)."""
        with self._lock:
            entry = self._entries.get(system)
            return entry.client if entry is not None else None

    def close(self) -> None:
        """Close every client; one still in use closes when its last call ends."""
        with self._lock:
            entries = list(self._entries.values())
            self._entries.clear()
            for entry in entries:
                entry.retired = True
            idle = [entry for entry in entries if entry.users == 0]
        for entry in idle:
            entry.client.close()

    def forget(self) -> None:
        """Drop every client without closing it: in a forked child, the sockets are the parent's."""
        self._lock = threading.Lock()
        self._entries = {}


def _build(config: ClientConfig) -> httpx.Client:
    import httpx  # (imported on the first call: see handlers/outbound.py)

    return httpx.Client(
        timeout=config.timeout(),
        limits=httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_KEEPALIVE,
                            keepalive_expiry=KEEPALIVE_SECONDS),
        # the system's trust store, as urllib used (SSL_CERT_FILE and SSL_CERT_DIR apply), not certifi's
        verify=ssl.create_default_context(),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,  # a redirected POST would lose its body; a 3xx is a failure
        # no cookies kept: the client is shared by every instance and tenant, and urllib kept none
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        trust_env=True,  # HTTP(S)_PROXY, ALL_PROXY and NO_PROXY apply, as they did with urllib
    )  # no transport retries: the engine retries, with backoff and the same idempotency key


clients = ClientPool()
atexit.register(clients.close)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=clients.forget)

"""A short-lived, in-process cache of who a bearer token belongs to.

Resolving a token costs a transaction and two SELECTs on every API request. The cache keeps
the resolved ``Principal`` for a few seconds (``TOWERFLOW_TOKEN_CACHE_SECONDS``), keyed by the
token's SHA-256, never the token itself. ``engine.identity`` clears it whenever a token is
revoked or a user's groups, tenant, password or disabled state change, so this process obeys
such a change at once; another server process holds its own cache and obeys it within the TTL.

A generation counter closes the race between a request that reads the database and a change
committed meanwhile: an entry read before a clear is not stored after it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime, timedelta

from engine.clock import Clock
from engine.principal import Principal

MAX_ENTRIES = 10_000  # tokens in use at once; the least recently used one goes first


class TokenCache:
    """Thread-safe LRU of token hash -> (principal, expiry); ``seconds == 0`` keeps nothing."""

    def __init__(self, seconds: float, clock: Clock, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = timedelta(seconds=seconds)
        self.enabled = seconds > 0
        self.clock = clock
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[Principal, datetime]] = OrderedDict()
        self._lock = threading.Lock()
        self._generation = 0

    @property
    def generation(self) -> int:
        """Take it before reading the database; hand it to ``put``."""
        return self._generation

    def get(self, token_hash: str) -> Principal | None:
        """The cached principal, or None when absent or expired."""
        if not self.enabled:
            return None
        now = self.clock.now()
        with self._lock:
            found = self._entries.get(token_hash)
            if found is None:
                return None
            if found[1] <= now:
                del self._entries[token_hash]
                return None
            self._entries.move_to_end(token_hash)
            return found[0]

    def put(self, token_hash: str, principal: Principal, generation: int) -> None:
        """Keep ``principal`` unless the cache was cleared since ``generation`` was taken."""
        if not self.enabled:
            return
        expires = self.clock.now() + self.ttl
        with self._lock:
            if generation != self._generation:
                return
            self._entries[token_hash] = (principal, expires)
            self._entries.move_to_end(token_hash)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget everything (an identity changed); reads already under way are not stored."""
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

"""Who is acting: the identity every engine call is checked against."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Principal:
    username: str
    groups: frozenset[str] = field(default_factory=frozenset)
    tenant: str | None = None

    @property
    def is_admin(self) -> bool:
        return "admin" in self.groups

    def sees_tenant(self, tenant: str | None) -> bool:
        """A user with a tenant sees only that tenant's work; staff without one see all."""
        return self.tenant is None or self.tenant == tenant


SYSTEM = Principal("system", frozenset({"admin"}))

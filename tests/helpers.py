"""Helpers the API tests share (fixtures live in conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path

from engine.definitions import deployments
from engine.platform import Platform
from engine.principal import SYSTEM
from engine.settings import Settings

DATA = Path(__file__).parent / "data"
PG_URL = os.environ.get("TOWERFLOW_TEST_DATABASE_URL")


def set_settings(platform: Platform, **variables: str) -> None:
    """The platform's settings as if these ``TOWERFLOW_*`` variables had been set at its start."""
    platform.settings = Settings.from_env({**platform.settings.as_environ(), **variables})


def read(name: str) -> bytes:
    return (DATA / name).read_bytes()


def deploy(platform: Platform, *names: str) -> dict:
    return deployments.deploy(platform, SYSTEM, {n: read(n) for n in names})


def start(client, process_key: str, business_key: str | None = None, tenant: str | None = None,
          **variables) -> dict:
    """Start an instance through the API and return it (asserting 201)."""
    body = {"process_key": process_key, "business_key": business_key, "variables": variables}
    if tenant is not None:
        body["tenant"] = tenant
    r = client.post("/api/v1/process-instances", json=body)
    assert r.status_code == 201, r.json
    return r.json


def instance(client, instance_id: int) -> dict:
    """An instance as the API shows it (asserting 200)."""
    r = client.get(f"/api/v1/process-instances/{instance_id}")
    assert r.status_code == 200, r.json
    return r.json


class UserClient:
    """A Flask test client that sends one user's API token."""

    def __init__(self, client, token: str):
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def __getattr__(self, method):
        call = getattr(self.client, method)

        def send(url, **kwargs):
            kwargs["headers"] = {**self.headers, **kwargs.get("headers", {})}
            return call(url, **kwargs)

        return send


def seed_demo_world(platform: Platform) -> None:
    """Every shipped process deployed, the demo users added and the demo world seeded."""
    from engine import identity
    from tower.demo import DEMO_PASSWORD, DEMO_USERS, seed_world

    processes = Path(__file__).resolve().parents[1] / "processes"
    deployments.deploy(platform, SYSTEM, {p.name: p.read_bytes() for p in sorted(processes.iterdir())
                                          if p.suffix in (".bpmn", ".dmn")})
    with platform.transaction() as session:
        for username, groups, tenant, display in DEMO_USERS:
            identity.add_user(session, username, DEMO_PASSWORD, groups, tenant, display_name=display)
    seed_world(platform)


def outbox_rows(platform, **where):
    """The outbox rows (oldest first) whose columns have the given values."""
    from sqlalchemy import select

    from engine.models import OutboxMessage

    with platform.Session() as session:
        stmt = select(OutboxMessage).order_by(OutboxMessage.id)
        for name, value in where.items():
            stmt = stmt.where(getattr(OutboxMessage, name) == value)
        return list(session.scalars(stmt))

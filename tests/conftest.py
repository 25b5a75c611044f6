"""Shared fixtures: a fresh database per test (SQLite file, or PostgreSQL when
TOWERFLOW_TEST_DATABASE_URL is set), the platform on a manual clock, and an API client."""

from __future__ import annotations

import os

import pytest
from helpers import PG_URL, UserClient
from sqlalchemy import text

import handlers
from engine import identity
from engine.clock import ManualClock
from engine.db import Base, make_engine
from web.app import build_platform, create_app


def pytest_report_header(config):
    return f"database: {PG_URL or 'SQLite (a new file per test)'}"


@pytest.fixture(scope="session")
def _pg_url():
    """A schema of this test run's own on the PostgreSQL server, so parallel runs never meet."""
    if not PG_URL:
        yield None
        return
    schema = f"towerflow_test_{os.getpid()}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{separator}options=-csearch_path%3D{schema}"
    build_platform(url).init_db()
    yield url
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def database_url(tmp_path, _pg_url) -> str:
    """A clean database for this test."""
    if not _pg_url:
        return f"sqlite:///{tmp_path}/towerflow.db"
    engine = make_engine(_pg_url)
    names = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return _pg_url


@pytest.fixture
def services():
    """The project's handlers plus test ones; tests add their own with ``services.add``."""
    return handlers.registry.copy()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def platform(database_url, services, clock):
    pf = build_platform(database_url, services=services, clock=clock, retry_backoff_seconds=2.0)
    pf.init_db()
    yield pf
    pf.close()


@pytest.fixture
def clerk(api):
    """A user of a plain working group, for flows that only need someone to do the task."""
    return api("wang", ["clerk"])


@pytest.fixture
def supervisor(api):
    return api("zhao", ["supervisor"])


@pytest.fixture
def app(platform):
    return create_app({"TESTING": True}, platform=platform)


@pytest.fixture
def api(app, platform):
    """``api("li", ["city_director"], tenant=None)`` gives a client acting as that user."""
    client = app.test_client()

    def make(username: str, groups: list[str], tenant: str | None = None) -> UserClient:
        with platform.transaction() as session:
            try:
                identity.get_user(session, username)
            except Exception:
                identity.add_user(session, username, "password123", groups, tenant)
            token = identity.create_token(session, username)
        return UserClient(client, token)

    make.anonymous = client
    return make


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch):
    """Real argon2 (and scrypt for older hashes) at a lower cost: each hash records its cost, so any verifies."""
    monkeypatch.setattr(identity, "SCRYPT_N", 2**10)
    monkeypatch.setattr(identity, "SCRYPT_P", 1)
    monkeypatch.setattr(identity, "ARGON2_TIME_COST", 1)  # argon2 at its least cost: hashes still verify
    monkeypatch.setattr(identity, "ARGON2_MEMORY_KIB", 64)

"""Database connection: one SQLAlchemy engine and session factory per platform.

SQLite is the embedded default; every SQLite transaction starts with BEGIN IMMEDIATE so
writers are serialized by the database itself (one writer per instance, nothing lost).
PostgreSQL uses row locks (``FOR UPDATE``) and ``SKIP LOCKED`` for the job queue.
"""

from __future__ import annotations

import os

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, sessionmaker

DEFAULT_URL = "sqlite:///towerflow.db"


class Base(DeclarativeBase):
    pass


def database_url(url: str | None = None) -> str:
    """The URL to use: explicit, then TOWERFLOW_DATABASE_URL, then the embedded SQLite file."""
    url = url or os.environ.get("TOWERFLOW_DATABASE_URL") or DEFAULT_URL
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def make_engine(url: str | None = None, *, for_writing: bool = True) -> Engine:
    """An engine; on SQLite, ``for_writing=False`` gives one whose transactions are plain
    (deferred) snapshots, so readers never wait for a writer."""
    url = database_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})
        _take_over_sqlite_transactions(engine, "BEGIN IMMEDIATE" if for_writing else "BEGIN")
    else:
        engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
    return engine


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def _take_over_sqlite_transactions(engine: Engine, begin: str) -> None:
    """Take pysqlite's own transaction handling away; writers begin IMMEDIATE (serialized)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql(begin)


def make_session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)


def create_schema(engine: Engine) -> None:
    import_all_tables()
    Base.metadata.create_all(engine)


def import_all_tables() -> None:
    """Tables live in ``engine/models.py`` and in ``engine/models_*.py`` (one per business area)."""
    import importlib
    import pkgutil

    from . import models  # noqa: F401
    package = importlib.import_module(__package__)
    for module in pkgutil.iter_modules(package.__path__):
        if module.name.startswith("models_"):
            importlib.import_module(f"{__package__}.{module.name}")

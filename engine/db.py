"""Database connection: one SQLAlchemy engine and session factory per platform.

SQLite is the embedded default; every SQLite transaction starts with BEGIN IMMEDIATE so
writers are serialized by the database itself (one writer per instance, nothing lost).
PostgreSQL uses row locks (``FOR UPDATE``) and ``SKIP LOCKED`` for the job queue.
"""

from __future__ import annotations

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, sessionmaker

from engine.settings import sqlalchemy_url


class Base(DeclarativeBase):
    pass


def make_engine(url: str, *, for_writing: bool = True, sqlite_synchronous: str = "normal") -> Engine:
    """An engine; on SQLite, ``for_writing=False`` gives one whose transactions are plain
    (deferred) snapshots, so readers never wait for a writer, and ``sqlite_synchronous`` is
    the WAL's sync mode (settings.py)."""
    url = sqlalchemy_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})
        _take_over_sqlite_transactions(engine, "BEGIN IMMEDIATE" if for_writing else "BEGIN", sqlite_synchronous)
    else:
        engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
    return engine


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def _take_over_sqlite_transactions(engine: Engine, begin: str, synchronous: str) -> None:
    """Take pysqlite's own transaction handling away; writers begin IMMEDIATE (serialized)."""
    if synchronous not in ("normal", "full"):
        raise ValueError(f"synchronous must be normal or full, not {synchronous!r}")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql(begin)


def make_session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)


def create_schema(bind: Engine) -> None:
    """Every table that is imported (the engine's and the plug-ins' it was given) as it is now."""
    from engine import models  # noqa: F401

    Base.metadata.create_all(bind)


def make_replica_engine(url: str, *, connect_timeout: int = 2) -> Engine:
    """A read-only engine on a PostgreSQL streaming replica (engine/replica.py): a replica that does
    not answer is given up after ``connect_timeout`` seconds (the primary answers instead), and
    every transaction is read-only, so a replica URL that names the primary by mistake cannot be
    written through either."""
    from sqlalchemy.engine import make_url

    parsed = make_url(sqlalchemy_url(url))
    if "connect_timeout" not in parsed.query:
        parsed = parsed.update_query_dict({"connect_timeout": str(connect_timeout)})
    engine = make_engine(parsed.render_as_string(hide_password=False))

    @event.listens_for(engine, "connect")
    def _read_only(dbapi_connection, _record):
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        dbapi_connection.execute("SET default_transaction_read_only = on")
        dbapi_connection.autocommit = autocommit

    return engine

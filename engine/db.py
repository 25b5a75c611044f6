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


def make_engine(url: str, *, for_writing: bool = True, sqlite_synchronous: str = "normal",
                answer_timeout: float = 60.0) -> Engine:
    """An engine; on SQLite, ``for_writing=False`` gives one whose transactions are plain
    (deferred) snapshots, so readers never wait for a writer, and ``sqlite_synchronous`` is
    the WAL's sync mode (settings.py). On PostgreSQL ``answer_timeout`` bounds every wait for
    the server (0: none), see ``_recover_from_outages``."""
    url = sqlalchemy_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})
        _take_over_sqlite_transactions(engine, "BEGIN IMMEDIATE" if for_writing else "BEGIN", sqlite_synchronous)
    else:
        engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, pool_recycle=3600,
                               pool_timeout=10, connect_args=_connect_args(url))
        _recover_from_outages(engine, answer_timeout)
    return engine


CONNECT_TIMEOUT_SECONDS = 5  # libpq's connect_timeout unless the URL gives one


def _connect_args(url: str) -> dict:
    """A connection attempt gives up after a few seconds (a database down or a black hole)."""
    args: dict = {}
    if "connect_timeout=" not in url:
        args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    return args


def _recover_from_outages(engine: Engine, answer_timeout: float) -> None:
    """Survive a restarted or unreachable PostgreSQL without a restart of our own: pooled
    connections are pinged before use (``pool_pre_ping``), connecting is bounded
    (``connect_timeout``), and no wait for an answer lasts more than ``answer_timeout``: a server
    that accepts and never answers (a black hole, a stalled host) fails the statement instead of
    holding a request's thread for ever. The failed connection is closed, so the pool drops it."""
    import psycopg

    class AnswerBoundedConnection(psycopg.Connection):
        def wait(self, gen, interval: float = 0.1, timeout: float | None = None):
            if timeout is None and answer_timeout > 0:
                timeout = answer_timeout
            try:
                return super().wait(gen, interval=interval, timeout=timeout)
            except psycopg.errors._WaitTimeout:
                self.pgconn.finish()  # state unknown mid-statement: never reuse it
                raise psycopg.OperationalError(
                    f"the database did not answer within {timeout:g} s; connection closed") from None

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect, _record, cargs, cparams):
        return AnswerBoundedConnection.connect(*cargs, **cparams)

    @event.listens_for(engine, "connect")
    def _session_limits(dbapi_connection, _record):
        """The server ends a session left idle inside a transaction, so the row locks of a client
        that vanished mid-transaction (cut off, timed out) do not block everyone else."""
        if answer_timeout <= 0:
            return
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        seconds = max(int(answer_timeout), 1)
        dbapi_connection.execute(f"SET idle_in_transaction_session_timeout = '{seconds}s'")
        dbapi_connection.autocommit = autocommit


def unavailable_kind(exc: BaseException) -> str | None:
    """``"full"`` when the database refused a write for want of disk space, ``"unavailable"`` when
    it could not be reached or answered (down, restarting, cut off, timed out, locked too long),
    else None: the request's own fault or a bug. The web layer answers the first two with 503,
    and job runners leave the job for later instead of counting a failed attempt."""
    from sqlalchemy import exc as sa_exc

    if isinstance(exc, sa_exc.TimeoutError):  # no pooled connection came free
        return "unavailable"
    if not isinstance(exc, sa_exc.DBAPIError):
        return None
    text = str(exc.orig).lower()
    if "disk is full" in text or "no space left" in text or type(exc.orig).__name__ == "DiskFull":
        return "full"
    if exc.connection_invalidated:
        return "unavailable"
    if type(exc.orig).__module__.startswith("sqlite3"):
        words = ("locked", "disk i/o", "unable to open", "readonly", "read-only")
        return "unavailable" if isinstance(exc, sa_exc.OperationalError) and any(w in text for w in words) \
            else None
    if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)):
        return "unavailable"
    return None


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

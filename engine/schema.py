"""The schema's version: Alembic's migrations in the folder the platform was given, applied by ``init_db``.

``upgrade(platform)`` brings any database to the newest revision (the "head"):

* a new database (none of the tables): ``create_all`` of the tables as they are now, then the
  head is stamped (Alembic's recipe for a new database; tests make one per test, and this is
  several times faster than running every revision; tests/engine/test_migrations.py checks both
  ways give the same schema);
* a database made before the migrations existed (the tables, no ``alembic_version``): stamped
  with the baseline ``0001``, then upgraded;
* a versioned database: upgraded from its revision (nothing to do at the head).

A revision this code does not know (the database was upgraded by a newer TowerFlow) is refused
with a ``SchemaError`` saying so. All of it is one transaction. On PostgreSQL it runs under an
advisory lock, so servers starting together upgrade once, one after the other; on SQLite the
transaction takes the write lock first (BEGIN IMMEDIATE) and foreign keys are off meanwhile, so
Alembic's batch mode can copy a table that others reference (Alembic's documented advice).

The folder is the application's (``migrations/`` next to the engine); the engine only runs it.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

if logging.getLogger("alembic").level == logging.NOTSET:
    # Alembic says what it sets up and "Context impl SQLiteImpl." at INFO on every run (the CLI
    # logs INFO): quiet unless someone configured its logger. Set before its first import.
    logging.getLogger("alembic").setLevel(logging.WARNING)

from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from alembic.runtime.migration import MigrationContext  # noqa: E402
from alembic.script import ScriptDirectory  # noqa: E402
from alembic.util import CommandError  # noqa: E402
from sqlalchemy import Connection, inspect, text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from engine import db  # noqa: E402

BASELINE = "0001"
"""The revision of a database written before the migrations existed (by ``create_all``)."""

log = logging.getLogger(__name__)

_scripts: dict[Path, ScriptDirectory] = {}


class SchemaError(RuntimeError):
    """The database cannot be brought to this version's schema; the message says why."""


def upgrade(platform, *, run_migrations: bool = False) -> None:
    """Bring the platform's database to the head (see the module's docstring). With
    ``run_migrations`` a new database is built by every revision in turn, not ``create_all``."""
    location = _location(platform)
    script = _script(location)
    heads = set(script.get_heads())
    with migration_connection(platform.engine) as conn:
        context = MigrationContext.configure(conn)
        current = set(context.get_current_heads())
        _check_known(script, current)
        if current == heads:
            return
        ours = set(inspect(conn).get_table_names()) & set(_metadata().tables)
        if current:
            _run(location, conn)
            log.info("database upgraded from %s to %s", _names(current), _names(heads))
        elif not ours and not run_migrations:
            _metadata().create_all(conn)
            context.stamp(script, "head")
            log.info("new database: tables created at revision %s", _names(heads))
        elif not ours:
            _run(location, conn)
            log.info("new database: every revision run up to %s", _names(heads))
        else:
            context.stamp(script, BASELINE)
            _run(location, conn)
            # Tables a version older than the baseline had not made yet (its init-db made them on
            # the next start): made now, as they are at the head.
            _metadata().create_all(conn)
            log.info("database made before migrations: stamped %s, upgraded to %s", BASELINE, _names(heads))
        if conn.dialect.name == "sqlite":
            _check_foreign_keys(conn)


def current_revision(platform) -> str | None:
    """The database's revision; None for a database that has none yet (new, or made before the
    migrations existed)."""
    with platform.read_engine.connect() as conn:
        heads = MigrationContext.configure(conn).get_current_heads()
    return ", ".join(sorted(heads)) if heads else None


def head_revision(platform) -> str | None:
    """The newest revision this code knows; None for a platform built without migrations."""
    if platform.migrations is None:
        return None
    return _names(set(_script(Path(platform.migrations)).get_heads()))


def is_known(platform, revision: str) -> bool:
    """Whether this code has the revision (a database upgraded by a newer version has one it has not)."""
    try:
        _script(_location(platform)).get_revision(revision)
    except CommandError:
        return False
    return True


def new_revision(location: str | Path, message: str, *, autogenerate: bool = True) -> Path:
    """Write the next revision file (``0006_<message>.py``, ...). With ``autogenerate`` its
    operations are what the tables imported now differ in from a scratch SQLite database built
    by every existing revision; PostgreSQL-only objects (statistics, ...) are written by hand."""
    location = Path(location)
    script = ScriptDirectory.from_config(_config(location))  # not the cache: the folder changes
    head = script.get_current_head()
    rev_id = f"{int(head) + 1:04d}" if head and head.isdigit() else None
    if not autogenerate:
        return Path(command.revision(_config(location), message, rev_id=rev_id).path)
    with tempfile.TemporaryDirectory() as scratch:
        bind = db.make_engine(f"sqlite:///{scratch}/scratch.db")
        try:
            with migration_connection(bind) as conn:
                _run(location, conn)
                written = command.revision(_config(location, conn), message, autogenerate=True, rev_id=rev_id)
        finally:
            bind.dispose()
    return Path(written.path)


@contextmanager
def migration_connection(bind: Engine) -> Iterator[Connection]:
    """A connection in a transaction to change the schema in: on PostgreSQL holding an advisory
    lock of the schema in use (released at the end of the transaction); on SQLite with foreign
    keys off until the transaction ends."""
    with bind.connect() as conn:
        if conn.dialect.name != "sqlite":
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock("
                                      "hashtext('towerflow.schema:' || coalesce(current_schema(), '')))"))
                yield conn
            return
        # The pragma does nothing inside a transaction: set it before ours begins.
        sqlite = conn.connection.driver_connection
        sqlite.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                yield conn
        finally:
            sqlite.execute("PRAGMA foreign_keys=ON")


def _check_foreign_keys(conn: Connection) -> None:
    problems = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
    if problems:
        table, rowid, parent, _ = problems[0]
        raise SchemaError(f"the upgrade would leave {len(problems)} row(s) pointing at missing rows "
                          f"(the first: {table} row {rowid} -> {parent}); nothing was changed")


def _check_known(script: ScriptDirectory, revisions: set[str]) -> None:
    for revision in revisions:
        try:
            script.get_revision(revision)
        except CommandError:
            raise SchemaError(
                f"the database is at schema revision {revision!r}, which this version of TowerFlow does not "
                f"know (its newest is {_names(set(script.get_heads()))}): it was upgraded by a newer version. "
                "Run that version, or restore a backup taken before the upgrade.") from None


def _run(location: Path, conn: Connection) -> None:
    """Alembic's ``upgrade head`` through migrations/env.py, on this connection (its transaction)."""
    command.upgrade(_config(location, conn), "head")


def _config(location: Path, connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(location))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection
    return config


def _script(location: Path) -> ScriptDirectory:
    """The revisions, read once per process (a test run builds hundreds of platforms)."""
    script = _scripts.get(location)
    if script is None:
        script = _scripts[location] = ScriptDirectory.from_config(_config(location))
    return script


def _location(platform) -> Path:
    if platform.migrations is None:
        raise SchemaError("this platform was built without migrations")
    return Path(platform.migrations)


def _metadata():
    """The tables imported: the engine's, and those of the plug-ins the platform was given."""
    from engine import models  # noqa: F401

    return db.Base.metadata


def _names(revisions: set[str]) -> str:
    return ", ".join(sorted(revisions)) or "none"

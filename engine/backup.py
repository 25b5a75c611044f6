"""An online backup of the embedded SQLite database (``towerflow backup FILE``, docs/deploy.md).

Copying ``towerflow.db`` with ``cp`` while the server runs can give a torn file: the newest pages
may still sit in ``towerflow.db-wal``, and a write may land mid-copy. sqlite3's backup API copies
through a read transaction instead: one consistent snapshot, in a single step, so writers (in WAL
mode they append to the log) are never blocked and never restart the copy. The copy is checked
and made a plain single file before it is moved into place; a failure leaves nothing behind.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(Exception):
    """The backup cannot be made; the message says why, and nothing was written."""


@dataclass(frozen=True)
class Backup:
    source: Path
    pages: int
    size: int  # bytes


def backup_sqlite(database_url: str, target: Path) -> Backup:
    """Copy the SQLite database of ``database_url`` to ``target`` (which must not exist yet)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        raise BackupError(f"backup copies the embedded SQLite database; {url.get_backend_name()} is "
                          "backed up with its own tools (pg_dump for PostgreSQL, docs/deploy.md)")
    if not url.database or url.database == ":memory:":
        raise BackupError("the database is in memory: there is no file to back up")
    source = Path(url.database)
    if not source.is_file():
        raise BackupError(f"{source}: no such database file")
    target = Path(target)
    if target.resolve() == source.resolve():
        raise BackupError("the backup cannot be the database itself")
    if target.exists():
        raise BackupError(f"{target} exists already; give a new file name")
    if not target.parent.is_dir():
        raise BackupError(f"{target.parent}: no such folder")
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        copied = _copy(source, partial)
        os.replace(partial, target)
    except (sqlite3.Error, OSError) as exc:
        raise BackupError(f"backup of {source} failed: {exc}") from None
    finally:
        for leftover in (partial, partial.with_name(partial.name + "-journal")):
            leftover.unlink(missing_ok=True)
    return copied


def _copy(source: Path, partial: Path) -> Backup:
    # mode=rw: never create a database where there was none; the timeout outlasts a checkpoint
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=rw", uri=True, timeout=60)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)  # every page at once: one read snapshot, writers go on in the WAL
            check = dst.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise BackupError(f"the copy of {source} failed its integrity check: {check}")
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            pages = dst.execute("PRAGMA page_count").fetchone()[0]
        finally:
            dst.close()
    finally:
        src.close()
    with open(partial, "rb+") as file:
        os.fsync(file.fileno())
    return Backup(source, pages, partial.stat().st_size)

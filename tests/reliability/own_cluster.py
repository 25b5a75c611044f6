"""A PostgreSQL cluster of the fault tests' own (``faults``, port 5440), so that restarting or
cutting off the database never touches the cluster other people and tests use (5432).

Created and started on first use with Debian's ``pg_createcluster`` / ``pg_ctlcluster`` (as
root: they run the server as the postgres user); trust authentication on 127.0.0.1.
"""

from __future__ import annotations

import shutil
import subprocess
import time

import psycopg

NAME = "faults"
PORT = 5440
HOST = "127.0.0.1"


class ClusterUnavailable(Exception):
    """The machine cannot run a cluster of our own (no Debian PostgreSQL tools, not root)."""


def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, check=check, timeout=120)


def _clusters() -> list[list[str]]:
    """``pg_lsclusters -h``: version, name, port, status, ... per line."""
    return [line.split() for line in _run("pg_lsclusters", "-h").stdout.splitlines() if line.strip()]


def version() -> str:
    for row in _clusters():
        if row[1] == NAME:
            return row[0]
    versions = sorted({row[0] for row in _clusters()}, key=float)
    if not versions:
        raise ClusterUnavailable("no PostgreSQL cluster on this machine to take the version from")
    return versions[-1]


def ensure() -> str:
    """Create (once) and start the cluster; its server URL without a database."""
    if shutil.which("pg_createcluster") is None or shutil.which("pg_ctlcluster") is None:
        raise ClusterUnavailable("pg_createcluster / pg_ctlcluster (Debian's postgresql-common) are not installed")
    row = next((r for r in _clusters() if r[1] == NAME), None)
    if row is None:
        created = _run("pg_createcluster", version(), NAME, "-p", str(PORT), "--", "--auth=trust", check=False)
        if created.returncode != 0:
            raise ClusterUnavailable(f"pg_createcluster failed: {created.stderr.strip()}")
        row = next(r for r in _clusters() if r[1] == NAME)
    if row[2] != str(PORT):
        raise ClusterUnavailable(f"cluster {NAME} listens on port {row[2]}, not {PORT}")
    if row[3] != "online":
        start()
    return f"postgresql://postgres@{HOST}:{PORT}"


def ctl(action: str) -> None:
    """``pg_ctlcluster <version> faults <action>`` (start, stop, restart), waiting for it."""
    _run("pg_ctlcluster", "--skip-systemctl-redirect", version(), NAME, action)
    if action in ("start", "restart"):
        wait_accepting()


def start() -> None:
    ctl("start")


def wait_accepting(limit_seconds: float = 60) -> None:
    deadline = time.monotonic() + limit_seconds
    while True:
        try:
            with psycopg.connect(host=HOST, port=PORT, user="postgres", dbname="postgres", connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def fresh_database(name: str) -> str:
    """Drop and create database ``name`` in the cluster; its URL."""
    with psycopg.connect(host=HOST, port=PORT, user="postgres", dbname="postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql://postgres@{HOST}:{PORT}/{name}"


def drop_database(name: str) -> None:
    with psycopg.connect(host=HOST, port=PORT, user="postgres", dbname="postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

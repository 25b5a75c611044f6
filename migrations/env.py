"""Alembic's environment for TowerFlow: one history for the engine's tables and the tower plug-in's.

``engine.schema`` runs it (``towerflow init-db``, ``towerflow db revision``) and hands it an open
connection in ``config.attributes["connection"]``: the platform's own engine, so the PostgreSQL
``search_path`` of the database URL is honoured, inside the transaction (and, on PostgreSQL, the
advisory lock) that ``engine.schema`` holds. Without one (Alembic's own command line), the
database of the ``TOWERFLOW_*`` settings is used.
"""

from __future__ import annotations

from alembic import context

import engine.models  # noqa: F401  (the engine's tables)
import tower.models  # noqa: F401  (the tower plug-in's tables)
from engine.db import Base

config = context.config
target_metadata = Base.metadata


def _configure(**kwargs) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite alters most things by copying the table: autogenerate writes batch operations
        render_as_batch=True,
        **kwargs,
    )


def run_migrations_offline() -> None:
    """``--sql``: print the statements for the configured database's dialect instead of running them."""
    from engine.settings import Settings, sqlalchemy_url

    _configure(url=sqlalchemy_url(Settings.from_env().database_url), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection)
        with context.begin_transaction():  # a no-op when engine.schema already began one
            context.run_migrations()
        return

    from engine import schema
    from engine.db import make_engine
    from engine.settings import Settings

    bind = make_engine(Settings.from_env().database_url)
    try:
        with schema.migration_connection(bind) as connection:
            _configure(connection=connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        bind.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

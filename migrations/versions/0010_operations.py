"""Operations (issue 17): tokens that expire, admin actions in an audit log, request ids on jobs.

- ``api_tokens.expires_at`` and ``api_tokens.last_used_at``: a token stops working at its expiry;
  the admin page lists when each was last used. Existing tokens keep working (no expiry).
- ``admin_events``: who created, changed or removed a user, a group or a token, and when. The
  instance audit log (``audit_events``) belongs to instances; these actions have none.
- ``jobs.request_id``: the id of the request that queued the job, so the job run's log lines
  carry it too.

New columns are nullable and the table is new, so upgrading changes no existing row.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import context, op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TOKEN_COLUMNS = (("expires_at", sa.DateTime()), ("last_used_at", sa.DateTime()))


def _inspector():
    return None if context.is_offline_mode() else sa.inspect(op.get_bind())


def _columns(table: str) -> set[str]:
    inspector = _inspector()
    return set() if inspector is None else {column["name"] for column in inspector.get_columns(table)}


def upgrade() -> None:
    missing = [(name, type_) for name, type_ in TOKEN_COLUMNS if name not in _columns("api_tokens")]
    if missing:  # a database the engine made alone already has them
        with op.batch_alter_table("api_tokens") as batch:
            for name, type_ in missing:
                batch.add_column(sa.Column(name, type_, nullable=True))
    if "request_id" not in _columns("jobs"):
        with op.batch_alter_table("jobs") as batch:
            batch.add_column(sa.Column("request_id", sa.String(64), nullable=True))
    inspector = _inspector()
    if inspector is None or "admin_events" not in inspector.get_table_names():
        op.create_table(
            "admin_events",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("at", sa.DateTime(), nullable=False),
            sa.Column("actor", sa.String(length=100), nullable=True),
            sa.Column("action", sa.String(length=60), nullable=False),
            sa.Column("target", sa.String(length=200), nullable=False),
            sa.Column("data", sa.JSON(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index("ix_admin_events_at", "admin_events", ["at"])


def downgrade() -> None:
    op.drop_index("ix_admin_events_at", table_name="admin_events")
    op.drop_table("admin_events")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("request_id")
    with op.batch_alter_table("api_tokens") as batch:
        for name, _ in reversed(TOKEN_COLUMNS):
            batch.drop_column(name)

"""Task comments and saved inbox filters (issue 14: the inbox helps).

``task_comments`` holds the notes people leave on a task (shown in its timeline);
``saved_filters`` the inbox filters a user named (process, text, overdue, sort), one name per user.
Both are new tables, so upgrading changes no existing row. A table that exists already (made by
``create_all`` of the engine used alone, then adopted at the baseline) is left as it is.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import context, op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set() if context.is_offline_mode() else set(sa.inspect(op.get_bind()).get_table_names())
    if "task_comments" not in existing:
        _comments()
    if "saved_filters" not in existing:
        _saved_filters()


def _comments() -> None:
    op.create_table(
        "task_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["human_tasks.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instances.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_task_comments_task_id", "task_comments", ["task_id"])
    op.create_index("ix_task_comments_instance_id", "task_comments", ["instance_id"])


def _saved_filters() -> None:
    op.create_table(
        "saved_filters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username", "name", name="uq_saved_filters_user_name"),
    )
    op.create_index("ix_saved_filters_username", "saved_filters", ["username"])


def downgrade() -> None:
    op.drop_index("ix_saved_filters_username", table_name="saved_filters")
    op.drop_table("saved_filters")
    op.drop_index("ix_task_comments_instance_id", table_name="task_comments")
    op.drop_index("ix_task_comments_task_id", table_name="task_comments")
    op.drop_table("task_comments")

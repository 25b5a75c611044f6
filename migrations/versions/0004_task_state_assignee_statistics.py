"""Extended statistics on human_tasks (state, assignee), on PostgreSQL.

Its statistics are per column over all tasks, most of them closed: without these it guesses "open
and unassigned" ten times too rare and picks a nested loop for a staff user's inbox (BENCHMARKS.md).
SQLite has no such statistics: nothing to do there.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE STATISTICS IF NOT EXISTS st_human_tasks_state_assignee (mcv) "
                   "ON state, assignee FROM human_tasks")
        op.execute("ANALYZE human_tasks")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP STATISTICS IF EXISTS st_human_tasks_state_assignee")

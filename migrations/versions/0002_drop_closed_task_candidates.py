"""Candidate rows serve only open tasks: delete those of completed and cancelled tasks.

Since commit 76423a6 completing or cancelling a task deletes its candidate rows (the inbox reads
the candidates table); a database written before keeps them for every closed task.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM task_candidates WHERE task_id IN (SELECT id FROM human_tasks WHERE state <> 'open')")


def downgrade() -> None:
    """Nothing to put back: the rows served no query once their task was closed."""

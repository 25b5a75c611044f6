"""The inbox's indexes: open tasks in a partial covering index; candidates by name with the task id.

Databases created by ``create_all`` at commit 76423a6 or later already have both (the statements
check first); older ones have ``ix_task_candidates_name`` (kind, name) in place of the new one.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

OPEN = sa.text("state = 'open'")


def upgrade() -> None:
    op.create_index("ix_tasks_inbox", "human_tasks", ["tenant", "assignee", "due_at", "priority", "id"],
                    unique=False, if_not_exists=True, postgresql_where=OPEN, sqlite_where=OPEN)
    op.drop_index("ix_task_candidates_name", table_name="task_candidates", if_exists=True)
    op.create_index("ix_task_candidates_name_task", "task_candidates", ["kind", "name", "task_id"],
                    unique=False, if_not_exists=True)


def downgrade() -> None:
    op.drop_index("ix_task_candidates_name_task", table_name="task_candidates")
    op.create_index("ix_task_candidates_name", "task_candidates", ["kind", "name"], unique=False)
    op.drop_index("ix_tasks_inbox", table_name="human_tasks")

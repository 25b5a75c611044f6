"""Open tasks in the inbox's default order, and their process keys (issue 16: every inbox under 30 ms).

- ``ix_tasks_open_order``: open tasks by (due time is empty, due time, priority descending, id),
  with tenant and assignee: a large inbox's page is read walking it and stops after the page,
  instead of every visible task being found and sorted (engine/runtime/tasks.py ``find_tasks``).
- ``ix_tasks_open_process``: open tasks by process key and tenant: the inbox's process filter
  lists the keys with one probe each (a skip scan) when a user sees more than the count cap.

Both are partial (``state = 'open'``), so closed tasks cost nothing; both statements check first.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

OPEN = sa.text("state = 'open'")


def upgrade() -> None:
    op.create_index("ix_tasks_open_order", "human_tasks",
                    [sa.text("(due_at IS NULL)"), "due_at", sa.text("priority DESC"), "id", "tenant", "assignee"],
                    unique=False, if_not_exists=True, postgresql_where=OPEN, sqlite_where=OPEN)
    op.create_index("ix_tasks_open_process", "human_tasks", ["process_key", "tenant"],
                    unique=False, if_not_exists=True, postgresql_where=OPEN, sqlite_where=OPEN)


def downgrade() -> None:
    op.drop_index("ix_tasks_open_process", table_name="human_tasks")
    op.drop_index("ix_tasks_open_order", table_name="human_tasks")

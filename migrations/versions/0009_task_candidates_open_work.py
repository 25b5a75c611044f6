"""Candidate rows carry the open task's tenant, due time, priority and assignee (issue 16).

The inbox's views (offered to my groups, all my work, overdue, the tab counts) were answered
by listing the candidates of the user's groups and probing each task row for its state, tenant,
assignee and due time: 10,000-25,000 probes for a staff user at 100,000 open tasks. With the
columns copied onto ``task_candidates`` (whose rows exist for open tasks only) and
``ix_task_candidates_open_order`` (kind, name, due time empty, due time, priority descending,
task id, tenant, assignee), a view is a few ordered ranges of one index (engine/runtime/open_work.py).

The engine keeps the copies: it writes them with the task, and claim, unclaim, assign and
delegate update them with the task's assignee. Existing rows are filled from ``human_tasks``.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import context, op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

COLUMNS = (("tenant", sa.String(64)), ("due_at", sa.DateTime()), ("priority", sa.Integer()),
           ("assignee", sa.String(100)))
FILL = sa.text("UPDATE task_candidates SET tenant = t.tenant, due_at = t.due_at, priority = t.priority, "
               "assignee = t.assignee FROM human_tasks t WHERE t.id = task_candidates.task_id")


def _columns() -> set[str]:
    if context.is_offline_mode():
        return set()
    return {column["name"] for column in sa.inspect(op.get_bind()).get_columns("task_candidates")}


def upgrade() -> None:
    missing = [(name, type_) for name, type_ in COLUMNS if name not in _columns()]
    if missing:  # a database the engine made alone already has them (then its rows have them too)
        with op.batch_alter_table("task_candidates") as batch:
            for name, type_ in missing:
                batch.add_column(sa.Column(name, type_, nullable=True))
        op.execute(FILL)
    op.create_index("ix_task_candidates_open_order", "task_candidates",
                    ["kind", "name", sa.text("(due_at IS NULL)"), "due_at", sa.text("priority DESC"), "task_id",
                     "tenant", "assignee"], unique=False, if_not_exists=True)


def downgrade() -> None:
    op.drop_index("ix_task_candidates_open_order", table_name="task_candidates")
    with op.batch_alter_table("task_candidates") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)

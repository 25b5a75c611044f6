"""Called processes as rows of their own, where instances stand, and searchable values (issue 15).

- ``process_instances`` gains ``parent_id``, ``root_id`` and ``call_task_id`` (a call activity's
  run has its own row, linked to its parent) and ``spec_overrides`` (a migrated called process).
- ``human_tasks`` gains ``called_instance_id``: the called process a task belongs to.
- ``instance_tokens``: one row per live element of an instance (counts, "now at" filters).
- ``instance_values``: top-level scalar variables as text (filters by value).

Existing instances get their tokens, values and called rows at their next save; until then
they are listed as before. ``towerflow reindex`` (web/cli.py) writes them at once.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import context, op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _columns(table: str) -> set[str]:
    if context.is_offline_mode():
        return set()
    return {column["name"] for column in sa.inspect(op.get_bind()).get_columns(table)}


def upgrade() -> None:
    existing = set() if context.is_offline_mode() else set(sa.inspect(op.get_bind()).get_table_names())
    instance_columns = _columns("process_instances")
    with op.batch_alter_table("process_instances") as batch:
        if "parent_id" not in instance_columns:
            batch.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
            batch.create_foreign_key("fk_process_instances_parent_id", "process_instances", ["parent_id"], ["id"])
            batch.create_index("ix_process_instances_parent_id", ["parent_id"])
        if "root_id" not in instance_columns:
            batch.add_column(sa.Column("root_id", sa.Integer(), nullable=True))
            batch.create_index("ix_process_instances_root_id", ["root_id"])
        if "call_task_id" not in instance_columns:
            batch.add_column(sa.Column("call_task_id", sa.String(length=40), nullable=True))
        if "spec_overrides" not in instance_columns:
            batch.add_column(sa.Column("spec_overrides", sa.JSON(), nullable=True))
    if "called_instance_id" not in _columns("human_tasks"):
        with op.batch_alter_table("human_tasks") as batch:
            batch.add_column(sa.Column("called_instance_id", sa.Integer(), nullable=True))
            batch.create_index("ix_human_tasks_called_instance_id", ["called_instance_id"])
    if "instance_tokens" not in existing:
        _tokens()
    if "instance_values" not in existing:
        _values()


def _tokens() -> None:
    op.create_table(
        "instance_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("root_id", sa.Integer(), nullable=False),
        sa.Column("definition_id", sa.Integer(), nullable=False),
        sa.Column("process_key", sa.String(length=200), nullable=False),
        sa.Column("element_id", sa.String(length=200), nullable=False),
        sa.Column("spiff_task_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instances.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_instance_tokens_instance_id", "instance_tokens", ["instance_id"])
    op.create_index("ix_instance_tokens_root_id", "instance_tokens", ["root_id"])
    op.create_index("ix_tokens_definition_element", "instance_tokens", ["definition_id", "element_id", "kind"])
    op.create_index("ix_tokens_key_element", "instance_tokens", ["process_key", "element_id", "instance_id"])


def _values() -> None:
    op.create_table(
        "instance_values",
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instances.id"]),
        sa.PrimaryKeyConstraint("instance_id", "name"),
    )
    op.create_index("ix_values_name_value", "instance_values", ["name", "value", "instance_id"])


def downgrade() -> None:
    op.drop_index("ix_values_name_value", table_name="instance_values")
    op.drop_table("instance_values")
    for name in ("ix_tokens_key_element", "ix_tokens_definition_element", "ix_instance_tokens_root_id",
                 "ix_instance_tokens_instance_id"):
        op.drop_index(name, table_name="instance_tokens")
    op.drop_table("instance_tokens")
    with op.batch_alter_table("human_tasks") as batch:
        batch.drop_index("ix_human_tasks_called_instance_id")
        batch.drop_column("called_instance_id")
    with op.batch_alter_table("process_instances") as batch:
        batch.drop_index("ix_process_instances_root_id")
        batch.drop_index("ix_process_instances_parent_id")
        batch.drop_constraint("fk_process_instances_parent_id", type_="foreignkey")
        for column in ("spec_overrides", "call_task_id", "root_id", "parent_id"):
            batch.drop_column(column)

"""Stored workflow state records its SpiffWorkflow serializer version.

``process_instances.serializer_version`` is the ``VERSION`` of the SpiffWorkflow serializer that
wrote ``workflow_json`` (engine/definitions/serialization.py writes it on every save), so a later
SpiffWorkflow whose format differs can tell which rows to convert. Every row written before this
revision was written by SpiffWorkflow 3.2.0, whose ``BpmnWorkflowSerializer.VERSION`` is "1.5".

On SQLite, NOT NULL is set by copying the table (Alembic's batch mode); init-db turns foreign key
enforcement off for the copy, as Alembic's documentation advises. A table that has the column
already (made by ``create_all`` of the engine used alone, then adopted at the baseline) is left as it is.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import context, op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SPIFFWORKFLOW_3_2_SERIALIZER = "1.5"


def upgrade() -> None:
    existing = {} if context.is_offline_mode() else {
        column["name"]: column for column in sa.inspect(op.get_bind()).get_columns("process_instances")}
    if "serializer_version" not in existing:
        op.add_column("process_instances", sa.Column("serializer_version", sa.String(length=16), nullable=True))
    op.execute(sa.text("UPDATE process_instances SET serializer_version = :version WHERE serializer_version IS NULL")
               .bindparams(version=SPIFFWORKFLOW_3_2_SERIALIZER))
    if existing.get("serializer_version", {"nullable": True})["nullable"]:
        with op.batch_alter_table("process_instances") as batch:
            batch.alter_column("serializer_version", existing_type=sa.String(length=16), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("process_instances") as batch:
        batch.drop_column("serializer_version")

"""The baseline: the schema as TowerFlow wrote it before the inbox benchmarks (commit 76423a6^).

A database written before the migrations existed (by ``create_all``, with no ``alembic_version``)
is stamped with this revision by ``init-db``, which then applies the later ones (engine/schema.py).
Generated with Alembic's autogenerate from the models of that commit, on an empty database.

Revision ID: 0001
Revises:
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = (
    "contracts",
    "demand_uploads",
    "demands",
    "deployments",
    "difficult_sites",
    "login_failures",
    "outbox_messages",
    "received_messages",
    "sites",
    "tenants",
    "deployment_files",
    "users",
    "api_tokens",
    "decision_definitions",
    "process_definitions",
    "user_groups",
    "process_instances",
    "audit_events",
    "human_tasks",
    "jobs",
    "message_subscriptions",
    "stored_files",
    "incidents",
    "task_candidates",
    "task_drafts",
)
"""The baseline's tables, in the order they are created."""


def upgrade() -> None:
    op.create_table(
        "contracts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_no", sa.String(length=64), nullable=False),
        sa.Column("customer_name", sa.String(length=200), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=True),
        sa.Column("customer_manager", sa.String(length=100), nullable=False),
        sa.Column("manager_phone", sa.String(length=32), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("warn_days_before", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("warned_at", sa.DateTime(), nullable=True),
        sa.Column("warned_by_instance", sa.Integer(), nullable=True),
        sa.Column("renewal_note", sa.String(length=2000), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("contract_no"),
    )
    op.create_index("ix_contracts_customer_manager", "contracts", ["customer_manager"], unique=False)
    op.create_index("ix_contracts_expires_on", "contracts", ["expires_on"], unique=False)
    op.create_index("ix_contracts_status_warned", "contracts", ["status", "warned_at"], unique=False)
    op.create_index("ix_contracts_tenant", "contracts", ["tenant"], unique=False)
    op.create_table(
        "demand_uploads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token"),
    )
    op.create_table(
        "demands",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("demand_no", sa.String(length=64), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("province", sa.String(length=50), nullable=False),
        sa.Column("city", sa.String(length=50), nullable=False),
        sa.Column("county", sa.String(length=50), nullable=False),
        sa.Column("site_name", sa.String(length=200), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("tower_type", sa.String(length=50), nullable=False),
        sa.Column("antenna_height", sa.Float(), nullable=False),
        sa.Column("demand_type", sa.String(length=50), nullable=False),
        sa.Column("expected_delivery", sa.Date(), nullable=False),
        sa.Column("remarks", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("order_no", sa.String(length=64), nullable=True),
        sa.Column("site_code", sa.String(length=64), nullable=True),
        sa.Column("build_mode", sa.String(length=32), nullable=True),
        sa.Column("share_count", sa.Integer(), nullable=True),
        sa.Column("annual_fee", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("order_sent_at", sa.DateTime(), nullable=True),
        sa.Column("order_confirmed_at", sa.DateTime(), nullable=True),
        sa.Column("order_confirmed_by", sa.String(length=100), nullable=True),
        sa.Column("delivered_on", sa.Date(), nullable=True),
        sa.Column("accepted_at", sa.DateTime(), nullable=True),
        sa.Column("accepted_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("demand_no"),
    )
    op.create_index("ix_demands_instance_id", "demands", ["instance_id"], unique=False)
    op.create_index("ix_demands_status", "demands", ["status"], unique=False)
    op.create_index("ix_demands_tenant_status", "demands", ["tenant", "status"], unique=False)
    op.create_table(
        "deployments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployed_at", sa.DateTime(), nullable=False),
        sa.Column("deployed_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "difficult_sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_key", sa.String(length=200), nullable=False),
        sa.Column("demand_no", sa.String(length=64), nullable=False),
        sa.Column("site_name", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=True),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("business_key", sa.String(length=200), nullable=True),
        sa.Column("applied_by", sa.String(length=100), nullable=True),
        sa.Column("approved_by", sa.String(length=100), nullable=True),
        sa.Column("entered_at", sa.DateTime(), nullable=False),
        sa.Column("paused_at", sa.DateTime(), nullable=False),
        sa.Column("released_at", sa.DateTime(), nullable=True),
        sa.Column("paused_days", sa.Integer(), nullable=True),
        sa.Column("release_reason", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("entry_key"),
    )
    op.create_index("ix_difficult_sites_demand_no", "difficult_sites", ["demand_no"], unique=False)
    op.create_index("ix_difficult_sites_instance_id", "difficult_sites", ["instance_id"], unique=False)
    op.create_index("ix_difficult_sites_status_entered", "difficult_sites", ["status", "entered_at"], unique=False)
    op.create_index("ix_difficult_sites_tenant", "difficult_sites", ["tenant"], unique=False)
    op.create_table(
        "login_failures",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(), nullable=True),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_login_failures_last_failed_at", "login_failures", ["last_failed_at"], unique=False)
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system", sa.String(length=64), nullable=False),
        sa.Column("operation", sa.String(length=100), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("business_key", sa.String(length=200), nullable=True),
        sa.Column("tenant", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("response_text", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("system", "operation", "idempotency_key", name="uq_outbox_call"),
    )
    op.create_index("ix_outbox_messages_business_key", "outbox_messages", ["business_key"], unique=False)
    op.create_index("ix_outbox_messages_instance_id", "outbox_messages", ["instance_id"], unique=False)
    op.create_index("ix_outbox_messages_tenant", "outbox_messages", ["tenant"], unique=False)
    op.create_index("ix_outbox_system_status", "outbox_messages", ["system", "status"], unique=False)
    op.create_table(
        "received_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("business_key", sa.String(length=200), nullable=True),
        sa.Column("tenant", sa.String(length=64), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("received_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
    )
    op.create_table(
        "sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("city", sa.String(length=50), nullable=False),
        sa.Column("county", sa.String(length=50), nullable=False),
        sa.Column("area_type", sa.String(length=16), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("tower_type", sa.String(length=50), nullable=False),
        sa.Column("operators", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("site_code"),
    )
    op.create_index("ix_sites_lat_lon", "sites", ["latitude", "longitude"], unique=False)
    op.create_table(
        "tenants",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "deployment_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["deployment_id"], ["deployments.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_deployment_files_deployment_id", "deployment_files", ["deployment_id"], unique=False)
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=300), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["tenant"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"], unique=False)
    op.create_table(
        "decision_definitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("deployed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["deployment_id"], ["deployments.id"]),
        sa.ForeignKeyConstraint(["file_id"], ["deployment_files.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key", "version"),
    )
    op.create_index("ix_decision_definitions_key", "decision_definitions", ["key"], unique=False)
    op.create_table(
        "process_definitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("spec_json", sa.Text(), nullable=False),
        sa.Column("starter_groups", sa.JSON(), nullable=False),
        sa.Column("start_form_key", sa.String(length=200), nullable=True),
        sa.Column("message_starts", sa.JSON(), nullable=False),
        sa.Column("deployed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["deployment_id"], ["deployments.id"]),
        sa.ForeignKeyConstraint(["file_id"], ["deployment_files.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key", "version"),
    )
    op.create_index("ix_process_definitions_key", "process_definitions", ["key"], unique=False)
    op.create_table(
        "user_groups",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("group", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "group"),
    )
    op.create_table(
        "process_instances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("definition_id", sa.Integer(), nullable=False),
        sa.Column("process_key", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("business_key", sa.String(length=200), nullable=True),
        sa.Column("tenant", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("state_before_suspend", sa.String(length=20), nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=True),
        sa.Column("started_by", sa.String(length=100), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("workflow_json", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["definition_id"], ["process_definitions.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_instances_key_state", "process_instances", ["process_key", "state"], unique=False)
    op.create_index("ix_process_instances_business_key", "process_instances", ["business_key"], unique=False)
    op.create_index("ix_process_instances_definition_id", "process_instances", ["definition_id"], unique=False)
    op.create_index("ix_process_instances_state", "process_instances", ["state"], unique=False)
    op.create_index("ix_process_instances_tenant", "process_instances", ["tenant"], unique=False)
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=True),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("element_id", sa.String(length=200), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instances.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_events_instance_id", "audit_events", ["instance_id"], unique=False)
    op.create_table(
        "human_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("spiff_task_id", sa.String(length=40), nullable=False),
        sa.Column("element_id", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("process_key", sa.String(length=200), nullable=False),
        sa.Column("business_key", sa.String(length=200), nullable=True),
        sa.Column("tenant", sa.String(length=64), nullable=True),
        sa.Column("candidate_groups", sa.JSON(), nullable=False),
        sa.Column("candidate_users", sa.JSON(), nullable=False),
        sa.Column("assignee", sa.String(length=100), nullable=True),
        sa.Column("due_at", sa.DateTime(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("form_key", sa.String(length=200), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.Column("completed_by", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instances.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("instance_id", "spiff_task_id"),
    )
    op.create_index("ix_human_tasks_assignee", "human_tasks", ["assignee"], unique=False)
    op.create_index("ix_human_tasks_business_key", "human_tasks", ["business_key"], unique=False)
    op.create_index("ix_human_tasks_instance_id", "human_tasks", ["instance_id"], unique=False)
    op.create_index("ix_human_tasks_process_key", "human_tasks", ["process_key"], unique=False)
    op.create_index("ix_human_tasks_tenant", "human_tasks", ["tenant"], unique=False)
    op.create_index("ix_tasks_open_due", "human_tasks", ["state", "due_at", "priority"], unique=False)
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("spiff_task_id", sa.String(length=40), nullable=False),
        sa.Column("element_id", sa.String(length=200), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_by", sa.String(length=100), nullable=True),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instances.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_jobs_due", "jobs", ["state", "due_at"], unique=False)
    op.create_index("ix_jobs_instance_id", "jobs", ["instance_id"], unique=False)
    op.create_table(
        "message_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("business_key", sa.String(length=200), nullable=True),
        sa.Column("tenant", sa.String(length=64), nullable=True),
        sa.Column("correlations", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instances.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_message_subscriptions_instance_id", "message_subscriptions", ["instance_id"], unique=False)
    op.create_index("ix_message_subscriptions_name", "message_subscriptions", ["name"], unique=False)
    op.create_table(
        "stored_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("tenant", sa.String(length=64), nullable=True),
        sa.Column("field", sa.String(length=200), nullable=False),
        sa.Column("uploaded_by", sa.String(length=100), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=False),
        sa.Column("content_type", sa.String(length=200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instances.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_stored_files_instance_id", "stored_files", ["instance_id"], unique=False)
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("element_id", sa.String(length=200), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("traceback", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_by", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instances.id"]),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_incidents_instance_id", "incidents", ["instance_id"], unique=False)
    op.create_table(
        "task_candidates",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=5), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["human_tasks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("task_id", "kind", "name"),
    )
    op.create_index("ix_task_candidates_name", "task_candidates", ["kind", "name"], unique=False)
    op.create_table(
        "task_drafts",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("saved_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["human_tasks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("task_id", "username"),
    )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)

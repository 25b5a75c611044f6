"""The platform's tables. Times are stored as naive UTC datetimes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DDL,
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Base


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(300))
    tenant: Mapped[str | None] = mapped_column(String(64), ForeignKey("tenants.id"), nullable=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    groups: Mapped[list[UserGroup]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def group_ids(self) -> list[str]:
        return sorted(g.group for g in self.groups)


class UserGroup(Base):
    __tablename__ = "user_groups"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    group: Mapped[str] = mapped_column(String(64), primary_key=True)
    user: Mapped[User] = relationship(back_populates="groups")


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # None: never
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Deployment(Base):
    __tablename__ = "deployments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployed_at: Mapped[datetime] = mapped_column(DateTime)
    deployed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    files: Mapped[list[DeploymentFile]] = relationship(cascade="all, delete-orphan")


class DeploymentFile(Base):
    __tablename__ = "deployment_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"), index=True)
    filename: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(10))  # bpmn | dmn
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)


class ProcessDefinition(Base):
    """One version of one process; the parsed spec is stored here once, not per instance."""

    __tablename__ = "process_definitions"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(300), default="")
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"))
    file_id: Mapped[int] = mapped_column(ForeignKey("deployment_files.id"))
    content_hash: Mapped[str] = mapped_column(String(64))
    spec_json: Mapped[str] = mapped_column(Text)
    starter_groups: Mapped[list] = mapped_column(JSON, default=list)
    start_form_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    message_starts: Mapped[list] = mapped_column(JSON, default=list)
    deployed_at: Mapped[datetime] = mapped_column(DateTime)


class DecisionDefinition(Base):
    __tablename__ = "decision_definitions"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(300), default="")
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"))
    file_id: Mapped[int] = mapped_column(ForeignKey("deployment_files.id"))
    content_hash: Mapped[str] = mapped_column(String(64))
    deployed_at: Mapped[datetime] = mapped_column(DateTime)


class ProcessInstance(Base):
    __tablename__ = "process_instances"
    __table_args__ = (Index("ix_instances_key_state", "process_key", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    business_key: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    tenant: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    state: Mapped[str] = mapped_column(String(20), index=True)
    state_before_suspend: Mapped[str | None] = mapped_column(String(20), nullable=True)
    end_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    variables: Mapped[dict] = mapped_column(JSON, default=dict)
    workflow_json: Mapped[str] = mapped_column(Text)
    # the VERSION of the SpiffWorkflow serializer that wrote workflow_json (migration 0005)
    serializer_version: Mapped[str] = mapped_column(String(16))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    # A called process (a call activity's run) has a row of its own, kept by the engine from
    # its root's workflow (engine/runtime/called.py): it names its parent and its root, and the
    # call activity's SpiffWorkflow task; its own workflow_json stays empty.
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"), nullable=True, index=True)
    root_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    call_task_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # After a migration of a called process: {called process key: definition id} (runtime/migration.py)
    spec_overrides: Mapped[dict | None] = mapped_column(JSON, nullable=True)

    parent: Mapped[ProcessInstance | None] = relationship(remote_side=[id], lazy="select")

    @property
    def is_called(self) -> bool:
        return self.parent_id is not None

    __mapper_args__ = {"version_id_col": revision}


class HumanTask(Base):
    __tablename__ = "human_tasks"
    __table_args__ = (
        UniqueConstraint("instance_id", "spiff_task_id"),
        Index("ix_tasks_open_due", "state", "due_at", "priority"),
        # The inbox: open tasks only, with every column its filters, sort and count need, so
        # they are answered from the index and only the page's rows are read (benchmarks).
        Index("ix_tasks_inbox", "tenant", "assignee", "due_at", "priority", "id",
              postgresql_where=text("state = 'open'"), sqlite_where=text("state = 'open'")),
        # Open tasks in the inbox's default order: a large inbox walks it and stops after the
        # page; and their process keys for the process filter (migration 0008, benchmarks).
        Index("ix_tasks_open_order", text("(due_at IS NULL)"), "due_at", text("priority DESC"), "id", "tenant",
              "assignee", postgresql_where=text("state = 'open'"), sqlite_where=text("state = 'open'")),
        Index("ix_tasks_open_process", "process_key", "tenant",
              postgresql_where=text("state = 'open'"), sqlite_where=text("state = 'open'")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    spiff_task_id: Mapped[str] = mapped_column(String(40))
    element_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    process_key: Mapped[str] = mapped_column(String(200), index=True)
    business_key: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    tenant: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    candidate_groups: Mapped[list] = mapped_column(JSON, default=list)
    candidate_users: Mapped[list] = mapped_column(JSON, default=list)
    assignee: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    due_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    priority: Mapped[int] = mapped_column(Integer, default=50)
    form_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    state: Mapped[str] = mapped_column(String(20), default="open")  # open | completed | cancelled
    created_at: Mapped[datetime] = mapped_column(DateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    completed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # The called process's own row when the task belongs to one (process_key is then its key)
    called_instance_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    candidates: Mapped[list[TaskCandidate]] = relationship(
        back_populates="task", cascade="all, delete-orphan"
    )


# PostgreSQL's statistics are per column over all tasks, most of them closed: it guesses "open
# and unassigned" ten times too rare and picks a nested loop for a staff user's inbox (benchmarks).
event.listen(HumanTask.__table__, "after_create", DDL(
    "CREATE STATISTICS IF NOT EXISTS st_human_tasks_state_assignee (mcv) ON state, assignee FROM human_tasks",
).execute_if(dialect="postgresql"))


class TaskCandidate(Base):
    """A task's candidate groups and users, one row each, so inbox queries can use an index."""

    __tablename__ = "task_candidates"
    __table_args__ = (
        # task_id too, so the inbox's "offered to my groups" list is read from the index alone
        Index("ix_task_candidates_name_task", "kind", "name", "task_id"),
        # The open work of one group (or user) in the inbox's default order, with what its filters
        # need: a view is a few ordered ranges of this index, never a probe of the task rows
        # (migration 0009, engine/runtime/open_work.py).
        Index("ix_task_candidates_open_order", "kind", "name", text("(due_at IS NULL)"), "due_at",
              text("priority DESC"), "task_id", "tenant", "assignee"),
    )

    task_id: Mapped[int] = mapped_column(ForeignKey("human_tasks.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(5), primary_key=True)  # group | user
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    # Copies of the open task's columns the inbox filters and sorts on, kept with it (rows
    # exist for open tasks only): written with the task, assignee by claim/unclaim/assign/delegate.
    tenant: Mapped[str | None] = mapped_column(String(64), nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    priority: Mapped[int | None] = mapped_column(Integer, nullable=True)
    assignee: Mapped[str | None] = mapped_column(String(100), nullable=True)
    task: Mapped[HumanTask] = relationship(back_populates="candidates")


class Job(Base):
    """A unit of deferred work with a due time: a timer, a service task, or a retry."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_due", "state", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # timer | service
    spiff_task_id: Mapped[str] = mapped_column(String(40))
    element_id: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime] = mapped_column(DateTime)
    state: Mapped[str] = mapped_column(String(20), default="pending")  # pending | done | failed | cancelled
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    locked_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the request that queued it


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), nullable=True)
    element_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text, nullable=True)
    state: Mapped[str] = mapped_column(String(20), default="open")  # open | resolved
    created_at: Mapped[datetime] = mapped_column(DateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(100), nullable=True)


class MessageSubscription(Base):
    """A message an instance is waiting for, rebuilt from the workflow after every step."""

    __tablename__ = "message_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    business_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    tenant: Mapped[str | None] = mapped_column(String(64), nullable=True)
    correlations: Mapped[dict] = mapped_column(JSON, default=dict)


class ReceivedMessage(Base):
    """Every delivered message_id with the answer given, so a repeat answers the same."""

    __tablename__ = "received_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    business_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    tenant: Mapped[str | None] = mapped_column(String(64), nullable=True)
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    result: Mapped[dict] = mapped_column(JSON, default=dict)
    received_at: Mapped[datetime] = mapped_column(DateTime)
    received_by: Mapped[str | None] = mapped_column(String(100), nullable=True)


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str | None] = mapped_column(String(100), nullable=True)
    action: Mapped[str] = mapped_column(String(60))
    task_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    element_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    data: Mapped[dict] = mapped_column(JSON, default=dict)


class AdminEvent(Base):
    """An administrator's change to users, groups or API tokens (issue 17): the instance audit
    log has no place for it, since it belongs to no instance."""

    __tablename__ = "admin_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    actor: Mapped[str | None] = mapped_column(String(100), nullable=True)
    action: Mapped[str] = mapped_column(String(60))  # e.g. user.created, token.revoked
    target: Mapped[str] = mapped_column(String(200))  # whom or what: a user name, a group, a token's name
    data: Mapped[dict] = mapped_column(JSON, default=dict)


class TaskDraft(Base):
    """A form someone started filling in and saved, to resume later (one per task and user)."""

    __tablename__ = "task_drafts"

    task_id: Mapped[int] = mapped_column(ForeignKey("human_tasks.id", ondelete="CASCADE"), primary_key=True)
    username: Mapped[str] = mapped_column(String(100), primary_key=True)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    saved_at: Mapped[datetime] = mapped_column(DateTime)


class StoredFile(Base):
    """An uploaded scan or photo; ``instance_id`` is empty until a start form's instance exists."""

    __tablename__ = "stored_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"), nullable=True, index=True)
    task_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tenant: Mapped[str | None] = mapped_column(String(64), nullable=True)
    field: Mapped[str] = mapped_column(String(200), default="")
    uploaded_by: Mapped[str] = mapped_column(String(100))
    filename: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class LoginFailure(Base):
    """Consecutive failed sign-ins of one username (lower-cased); a success deletes the row."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_last_failed_at", "last_failed_at"),)

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


OUTBOX_STATUSES = ("recorded", "sent", "failed")


class OutboxMessage(Base):
    """One call of one operation of an external system, kept once per idempotency key.

    ``status`` is ``recorded`` when no URL is configured for the system (nothing was sent),
    ``sent`` when the system answered 2xx, ``failed`` while the last attempt failed.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (
        UniqueConstraint("system", "operation", "idempotency_key", name="uq_outbox_call"),
        Index("ix_outbox_system_status", "system", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    system: Mapped[str] = mapped_column(String(64))
    operation: Mapped[str] = mapped_column(String(100))
    url: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    instance_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    business_key: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    tenant: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(16), default="recorded")
    response: Mapped[dict | list | None] = mapped_column(JSON, nullable=True)
    response_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class TaskComment(Base):
    """A note someone left on a task, shown in the task's timeline (issue 14)."""

    __tablename__ = "task_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("human_tasks.id", ondelete="CASCADE"), index=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    author: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class SavedFilter(Base):
    """An inbox filter a user named, listed as a quick link (issue 14); one name per user."""

    __tablename__ = "saved_filters"
    __table_args__ = (UniqueConstraint("username", "name", name="uq_saved_filters_user_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(100))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime)


TOKEN_KINDS = ("active", "scope", "listener")


class InstanceToken(Base):
    """Where an instance stands now, one row per live element, rewritten by every save.

    ``kind`` is ``active`` for a step that holds a token (a user task, a waiting timer or
    message, a queued service task), ``scope`` for a sub-process or call activity that holds
    one inside it, and ``listener`` for a boundary event or event sub-process start that only
    waits. ``instance_id`` is the row the element belongs to (a called process's own row for
    its elements), ``root_id`` the instance whose workflow holds it.
    """

    __tablename__ = "instance_tokens"
    __table_args__ = (
        Index("ix_tokens_definition_element", "definition_id", "element_id", "kind"),
        Index("ix_tokens_key_element", "process_key", "element_id", "instance_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    root_id: Mapped[int] = mapped_column(Integer, index=True)
    definition_id: Mapped[int] = mapped_column(Integer)
    process_key: Mapped[str] = mapped_column(String(200))
    element_id: Mapped[str] = mapped_column(String(200))
    spiff_task_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(10))
    since: Mapped[datetime] = mapped_column(DateTime)


class InstanceValue(Base):
    """A top-level scalar variable of an instance, as text, so lists can filter by value.

    Kept by every save for the variables that changed (strings up to 200 characters, numbers,
    yes/no); a longer text or a structure is not searchable and has no row.
    """

    __tablename__ = "instance_values"
    __table_args__ = (Index("ix_values_name_value", "name", "value", "instance_id"),)

    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))

"""The platform object: database, registries, clock and script engine wired together.

Like Flask's application object, it holds configuration and shared resources; the work
itself lives in the modules named after what they do (deployments, instances, tasks,
jobs, messages), each taking the platform and a session.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import db
from engine.clock import Clock
from engine.definitions.serialization import specs_from_json
from engine.definitions.tasks_props import human_task_fields
from engine.lifecycle import Lifecycle
from engine.models import HumanTask, ProcessDefinition, ProcessInstance, TaskCandidate
from engine.plugins import Plugin
from engine.replica import PRIMARY, Replica
from engine.runtime.workflow import PlatformScriptEngine
from engine.services import ServiceRegistry
from engine.settings import Settings


class Platform:
    def __init__(self, settings: Settings | str | None = None, *, forms: Mapping[str, Any] | None = None,
                 services: ServiceRegistry | None = None, clock: Clock | None = None,
                 plugins: Iterable[Plugin] = (), listeners: Iterable[object] = (),
                 migrations: str | Path | None = None,
                 retry_backoff_seconds: float | None = None, lease_seconds: float | None = None):
        """``settings`` may be a database URL alone (tests); nothing here reads the environment:
        ``Settings.from_env`` does, once, in the command line and the app factory."""
        if not isinstance(settings, Settings):
            settings = Settings(database_url=settings) if settings else Settings()
        self.settings = settings
        self.url = settings.database_url
        self.plugins = tuple(plugins)
        for plugin in self.plugins:
            plugin.load_tables()
            if plugin.check_settings is not None:
                plugin.check_settings(settings)
        self.lifecycle = Lifecycle([*(listener for plugin in self.plugins for listener in plugin.listeners),
                                    *listeners])
        self.migrations = Path(migrations) if migrations else None
        self.engine = db.make_engine(self.url, sqlite_synchronous=settings.sqlite_synchronous,
                                     answer_timeout=settings.database_timeout)
        self.is_postgres = db.is_postgres(self.engine)
        self.read_engine = self.engine if self.is_postgres else db.make_engine(
            self.url, for_writing=False, sqlite_synchronous=settings.sqlite_synchronous)
        self.Session = db.make_session_factory(self.read_engine)  # for reading
        self.WriteSession = db.make_session_factory(self.engine)
        self.forms: Mapping[str, Any] = forms if forms is not None else {}
        self._choice_words: dict | None = None
        self.services = services or ServiceRegistry()
        self.clock = clock or Clock()
        self.retry_backoff_seconds = retry_backoff_seconds or settings.retry_backoff_seconds
        self.lease_seconds = lease_seconds or settings.lease_seconds
        # a step calls the service tasks it readied itself (runtime/service_calls.py), else queues jobs
        self.inline_services = settings.inline_services == "auto" and self.is_postgres
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._spec_cache: dict[int, str] = {}
        self._spec_objects: dict[int, tuple] = {}
        # counts this process's deployments: caches of names and labels compare it (web/labels.py)
        self.deployments_seen = 0
        # lists, the dashboard and reports may read a streaming replica (engine/replica.py)
        self.replica = Replica(settings.read_replica_url, self.engine) if settings.read_replica_url else None

    def versions_deployed(self, process_keys: list[str]) -> None:
        """New versions were stored: arm those that start on a timer (definitions sit below the
        runtime, so deploying hands this on instead of starting instances itself)."""
        from engine.runtime.timer_starts import arm

        self.deployments_seen += 1
        arm(self, process_keys)

    def init_db(self) -> None:
        """Bring the database to the newest schema: Alembic's head when the platform was given
        its migrations, else the tables as they are now (an engine used on its own)."""
        if self.migrations is None:
            db.create_schema(self.engine)
            return
        from engine.schema import upgrade

        upgrade(self)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits on success and rolls back on any error."""
        session = self.WriteSession()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A session for reads that may lag a few seconds (lists, the dashboard, reports): on the
        read replica when one is set and reachable, else like ``Session``. ``session.info["replica"]``
        says which (a ``ReplicaState``); ``engine.replica.read`` also falls back when the replica
        fails mid-read. Whatever must see its own writes uses ``Session``."""
        state = self.replica.state() if self.replica is not None else PRIMARY
        with (self.replica.Session if state.source == "replica" else self.Session)() as session:
            session.info["replica"] = state
            yield session

    def close(self) -> None:
        """Close every pooled connection (tests, and processes that stop)."""
        self.engine.dispose()
        self.read_engine.dispose()
        if self.replica is not None:
            self.replica.close()

    def real_now(self) -> datetime:
        return datetime.now(UTC).replace(tzinfo=None)

    def script_engine(self, call=None) -> PlatformScriptEngine:
        """Scripts see ``now()``, the platform's clock (naive UTC), so tests can move time, and
        ``choice_label(field, value)``, a choice value in words for SMS and notice texts."""
        return PlatformScriptEngine(environment=_sandbox({"now": self.clock.now, "choice_label": self.choice_label}),
                                    call=call)

    def choice_label(self, field: str | None, value: Any = None) -> str:
        """The Chinese label the forms give ``value`` of ``field`` (engine/choice_labels.py)."""
        from engine.choice_labels import choice_label, choice_words

        if self._choice_words is None:
            self._choice_words = choice_words(self.forms)
        return choice_label(self._choice_words, field, value)

    def spec_json(self, session: Session, definition_id: int) -> str:
        """A version's spec JSON; versions never change, so it is cached by id."""
        text = self._spec_cache.get(definition_id)
        if text is None:
            text = session.scalar(select(ProcessDefinition.spec_json).where(ProcessDefinition.id == definition_id))
            if text is None:
                raise LookupError(f"process definition {definition_id} is missing")
            if len(self._spec_cache) > 500:
                self._spec_cache.clear()
            self._spec_cache[definition_id] = text
        return text

    def specs(self, session: Session, definition_id: int):
        """A version's spec objects, built once per process: specs are never changed by running
        workflows, so every instance of the version shares them (see serialization.py)."""
        specs = self._spec_objects.get(definition_id)
        if specs is None:
            specs = specs_from_json(self.spec_json(session, definition_id))
            if len(self._spec_objects) > 500:
                self._spec_objects.clear()
            self._spec_objects[definition_id] = specs
        return specs

    def specs_for(self, session: Session, row: ProcessInstance, definition_id: int | None = None,
                  overrides: Mapping[str, Any] | None = None):
        """The specs a root instance's workflow loads with: its version's, with each called process
        a migration moved (``spec_overrides``: key -> definition id) taken from that version
        (its top spec under the key, and its own subprocess specs). See runtime/migration.py."""
        spec, subs = self.specs(session, definition_id or row.definition_id)
        chosen = row.spec_overrides if overrides is None else overrides
        if not chosen:
            return spec, subs
        subs = dict(subs)
        for key, called_id in chosen.items():
            called_spec, called_subs = self.specs(session, int(called_id))
            subs.update(called_subs)
            subs[key] = called_spec
        return spec, subs

    def human_task_for(self, instance: ProcessInstance, task, now: datetime,
                       called: ProcessInstance | None = None) -> HumanTask:
        """The inbox row of a ready user task; ``called`` is the called process's row when the
        task belongs to one (the task then says that process's key)."""
        fields = self.human_task_values(instance, task, now, called)
        row = HumanTask(**fields)
        copied = {name: fields.get(name) for name in ("tenant", "due_at", "priority", "assignee")}
        row.candidates = [TaskCandidate(kind="group", name=g, **copied) for g in fields["candidate_groups"]]
        row.candidates += [TaskCandidate(kind="user", name=u, **copied) for u in fields["candidate_users"]]
        return row

    def human_task_values(self, instance: ProcessInstance, task, now: datetime,
                          called: ProcessInstance | None = None) -> dict[str, Any]:
        """``human_task_for``'s row as column values (an INSERT of many at once)."""
        return dict(
            instance_id=instance.id, spiff_task_id=str(task.id),
            process_key=(called or instance).process_key, called_instance_id=called.id if called else None,
            business_key=instance.business_key, tenant=instance.tenant, state="open", created_at=now,
            **human_task_fields(task, now, self.clock.now() - self.real_now()),
        )


def _sandbox(environment_globals: dict[str, Any]):
    from engine.scripting.sandbox import SandboxEnvironment

    return SandboxEnvironment(environment_globals)

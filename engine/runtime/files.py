"""Uploaded scans and photos, stored in the database and scoped like their instance.

A file uploaded on a task form belongs to that task's instance at once. A file uploaded on
a start form waits (no instance yet) and only its uploader may use it until ``attach`` gives
it the new instance. Anyone who can see the instance may download its files.
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.definitions import customer_view
from engine.errors import NotFound, ValidationFailed
from engine.models import ProcessInstance, StoredFile
from engine.principal import Principal

if TYPE_CHECKING:
    from engine.platform import Platform

# Leading bytes of the formats people upload as scans and photos.
SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)


@dataclass(frozen=True)
class Limits:
    """What a file field accepts (from its form metadata)."""

    max_size: int
    content_types: tuple[str, ...]


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


def sniff(data: bytes, filename: str) -> str:
    """The content type, judged from the bytes first, so a renamed file cannot pass as a photo."""
    for signature, kind in SIGNATURES:
        if data.startswith(signature):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    guessed = mimetypes.guess_type(filename)[0]
    if guessed and not guessed.startswith("image/") and guessed != "application/pdf":
        return guessed  # formats without a signature we know (text, office files) go by their name
    return "application/octet-stream"


def type_allowed(content_type: str, allowed: Iterable[str]) -> bool:
    for pattern in allowed:
        if pattern == content_type or (pattern.endswith("/*") and content_type.startswith(pattern[:-1])):
            return True
    return False


def check(upload: Upload, limits: Limits) -> tuple[str, str | None]:
    """The sniffed type and, if refused, the English reason (the pages translate it)."""
    kind = sniff(upload.data, upload.filename)
    if len(upload.data) > limits.max_size:
        return kind, f"The file is larger than {human_size(limits.max_size)}."
    if not upload.data:
        return kind, "The file is empty."
    if limits.content_types and not type_allowed(kind, limits.content_types):
        return kind, "This file type is not allowed."
    return kind, None


def human_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):g} MB"
    if size >= 1024:
        return f"{size / 1024:g} KB"
    return f"{size} B"


def store(platform: Platform, actor: Principal, field: str, upload: Upload, limits: Limits, *,
          instance_id: int | None = None, task_id: int | None = None, tenant: str | None = None) -> int:
    """Check the limits and keep the file; ValidationFailed names the field when refused."""
    kind, problem = check(upload, limits)
    if problem:
        raise ValidationFailed(problem, {"fields": {field: [problem]}})
    with platform.transaction() as session:
        if instance_id is not None:
            tenant = session.scalar(select(ProcessInstance.tenant).where(ProcessInstance.id == instance_id))
        elif actor.tenant is not None:
            tenant = actor.tenant
        row = StoredFile(
            instance_id=instance_id, task_id=task_id, tenant=tenant,
            field=field, uploaded_by=actor.username, filename=_clean_name(upload.filename), content_type=kind,
            size=len(upload.data), sha256=hashlib.sha256(upload.data).hexdigest(), data=upload.data,
            created_at=platform.clock.now(),
        )
        session.add(row)
        session.flush()
        return row.id


def _clean_name(filename: str) -> str:
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return (name or "upload")[:300]


def visible_file(session: Session, actor: Principal, file_id: int) -> StoredFile:
    """A file its instance's viewers may read; a waiting file only its uploader."""
    row = session.get(StoredFile, file_id)
    if row is None or not actor.sees_tenant(row.tenant):
        raise NotFound("file %(id)s does not exist", id=file_id)
    if row.instance_id is None:
        if row.uploaded_by != actor.username:
            raise NotFound("file %(id)s does not exist", id=file_id)
        return row
    instance = session.get(ProcessInstance, row.instance_id)
    if instance is None or not actor.sees_tenant(instance.tenant):
        raise NotFound("file %(id)s does not exist", id=file_id)
    if not customer_may_read(session, actor, row, instance.definition_id):
        raise NotFound("file %(id)s does not exist", id=file_id)
    return row


def customer_may_read(session: Session, actor: Principal, row: StoredFile, definition_id: int) -> bool:
    """A tenant's user reads a file only when it holds it as a customer-visible variable (a file
    field's name is the variable holding it) or uploaded it itself; staff read every file."""
    if actor.tenant is None or actor.is_admin or row.uploaded_by == actor.username:
        return True
    return row.field in customer_view.names_of(session, definition_id)


def usable(row: StoredFile | None, actor: Principal, instance_id: int | None) -> bool:
    """May a form of this instance (or a start form, when None) carry this file?"""
    if row is None or not actor.sees_tenant(row.tenant):
        return False
    if instance_id is not None:
        return row.instance_id == instance_id
    return row.instance_id is None and row.uploaded_by == actor.username


def check_ids(session: Session, actor: Principal, field: str, ids: Iterable[int],
              instance_id: int | None) -> None:
    """Submitted ids must be files of this instance (or the actor's own waiting uploads)."""
    for file_id in ids:
        if not usable(session.get(StoredFile, file_id), actor, instance_id):
            problem = "Not a valid file."
            raise ValidationFailed(problem, {"fields": {field: [problem]}})


def attach(platform: Platform, actor: Principal, ids: Iterable[int], instance_id: int) -> None:
    """Give a started instance the files its start form carried."""
    ids = list(ids)
    if not ids:
        return
    with platform.transaction() as session:
        tenant = session.scalar(select(ProcessInstance.tenant).where(ProcessInstance.id == instance_id))
        session.execute(update(StoredFile).where(
            StoredFile.id.in_(ids), StoredFile.instance_id.is_(None), StoredFile.uploaded_by == actor.username,
        ).values(instance_id=instance_id, tenant=tenant))


def of_instance(session: Session, instance_id: int) -> list[StoredFile]:
    """The instance's files without their bytes (for listing)."""
    from sqlalchemy.orm import defer

    return list(session.scalars(select(StoredFile).options(defer(StoredFile.data))
                                .where(StoredFile.instance_id == instance_id).order_by(StoredFile.id)))


def describe(session: Session, actor: Principal, ids: Iterable[int],
             instance_id: int | None) -> dict[int, StoredFile]:
    """Names and sizes of the usable files among ``ids`` (uploads kept across a failed submit)."""
    from sqlalchemy.orm import defer

    ids = [i for i in ids if isinstance(i, int)]
    if not ids:
        return {}
    rows = session.scalars(select(StoredFile).options(defer(StoredFile.data)).where(StoredFile.id.in_(ids)))
    return {row.id: row for row in rows if usable(row, actor, instance_id)}


def check_form_files(session: Session, actor: Principal, schema_class: type | None, cleaned: dict,
                     instance_id: int | None) -> None:
    """The file fields of a submitted form (metadata widget "file") must hold usable ids, so an
    API client cannot attach another instance's or another tenant's file."""
    if schema_class is None:
        return
    for name, fld in schema_class().fields.items():
        if fld.metadata.get("widget") != "file":
            continue
        key = fld.data_key or name
        value = cleaned.get(key)
        ids = value if isinstance(value, list) else ([] if value in (None, "") else [value])
        check_ids(session, actor, key, ids, instance_id)


def copy_form_files(platform: Platform, schema_class: type | None, data: dict, instance_id: int) -> dict:
    """``data`` with each file of its file fields copied to ``instance_id`` (the same scans for
    every demand of a batch acceptance: each instance keeps its own copy)."""
    if schema_class is None:
        return data
    data = dict(data)
    with platform.transaction() as session:
        tenant = session.scalar(select(ProcessInstance.tenant).where(ProcessInstance.id == instance_id))
        for name, fld in schema_class().fields.items():
            key = fld.data_key or name
            if fld.metadata.get("widget") != "file" or data.get(key) in (None, "", []):
                continue
            value = data[key]
            copies = []
            for file_id in value if isinstance(value, list) else [value]:
                source = session.get(StoredFile, int(file_id))
                copy = StoredFile(instance_id=instance_id, task_id=None, tenant=tenant, field=source.field,
                                  uploaded_by=source.uploaded_by, filename=source.filename,
                                  content_type=source.content_type, size=source.size, sha256=source.sha256,
                                  data=source.data, created_at=source.created_at)
                session.add(copy)
                session.flush()
                copies.append(copy.id)
            data[key] = copies if isinstance(value, list) else copies[0]
    return data

"""Marshmallow form schemas as HTML fields, and submitted pages back into form data.

The page keeps what was typed as strings (``raw``) so a refused form comes back exactly as
the user left it; ``form_data`` turns those strings into the dict the engine validates.
Uploaded files are stored first and travel as their ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask_babel import get_locale
from flask_babel import gettext as _
from marshmallow import fields as mf
from marshmallow import validate

from engine.runtime import files
from forms.fields import FileUpload

if TYPE_CHECKING:
    from werkzeug.datastructures import MultiDict

    from engine.platform import Platform
    from engine.principal import Principal

KINDS = ("text", "number", "date", "datetime", "choice", "multichoice", "yesno", "textarea", "file")


@dataclass
class Widget:
    """One field as the template draws it."""

    name: str
    kind: str
    label: str
    required: bool = False
    help: str = ""
    choices: list[tuple[str, str]] = field(default_factory=list)
    multiple: bool = False
    accept: str = ""
    max_size: int | None = None
    content_types: tuple[str, ...] = ()
    step: str = "any"
    minimum: Any = None
    maximum: Any = None
    max_length: int | None = None

    @property
    def camera(self) -> bool:
        """Photo-only fields open the camera on a phone (``capture``); one that also takes PDF
        scans does not, as ``capture`` would hide the file picker."""
        return bool(self.content_types) and all(t.startswith("image/") for t in self.content_types)

    @property
    def types_text(self) -> str:
        """The allowed file types as people call them: JPEG, PNG, PDF."""
        names = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WebP",
                 "image/tiff": "TIFF", "application/pdf": "PDF"}
        return ", ".join(names.get(t, t.split("/")[-1].upper()) for t in self.content_types)

    @property
    def size_text(self) -> str:
        return files.human_size(self.max_size) if self.max_size else ""

    def limits(self) -> files.Limits:
        return files.Limits(self.max_size or 0, self.content_types)


def language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else "zh"


def localized(text: Any, lang: str | None = None, default: str = "") -> str:
    """A {zh, en} label in the page's language (or a plain string as it is)."""
    if isinstance(text, dict):
        lang = lang or language()
        return str(text.get(lang) or text.get("en") or text.get("zh") or default)
    return str(text) if text else default


def widgets(schema_class: type) -> list[Widget]:
    """Every field of the form, in declaration order."""
    return [widget_for(fld.data_key or name, fld) for name, fld in schema_class().fields.items()
            if not fld.dump_only]


def widget_for(name: str, fld: mf.Field) -> Widget:
    meta = fld.metadata
    widget = Widget(name=name, kind=_kind(fld), label=localized(meta.get("label"), default=name),
                    required=bool(fld.required), help=localized(meta.get("help")))
    choices = _choices(fld)
    labels = meta.get("choice_labels") or {}
    widget.choices = [(str(c), localized(labels.get(c), default=str(c))) for c in choices]
    if isinstance(fld, FileUpload):
        widget.multiple = fld.multiple
        widget.max_size = int(meta.get("max_size") or 0) or None
        widget.content_types = tuple(meta.get("content_types") or ())
        widget.accept = ",".join(widget.content_types)
    if isinstance(fld, mf.Integer):
        widget.step = "1"
    for validator in fld.validators:
        if isinstance(validator, validate.Range):
            widget.minimum, widget.maximum = validator.min, validator.max
        if isinstance(validator, validate.Length):
            widget.max_length = validator.max
    return widget


def _kind(fld: mf.Field) -> str:
    chosen = fld.metadata.get("widget")
    if chosen in KINDS:
        return chosen
    if isinstance(fld, FileUpload):
        return "file"
    if isinstance(fld, mf.Boolean):
        return "yesno"
    if isinstance(fld, mf.DateTime):
        return "datetime"
    if isinstance(fld, mf.Date):
        return "date"
    if isinstance(fld, mf.Number):
        return "number"
    if isinstance(fld, mf.List):
        return "multichoice"
    return "choice" if _choices(fld) else "text"


def _choices(fld: mf.Field) -> list:
    candidates = list(fld.validators)
    if isinstance(fld, mf.List):
        candidates += list(fld.inner.validators)
    for validator in candidates:
        if hasattr(validator, "choices"):
            return list(validator.choices)
    return []


# --- reading a submitted page ----------------------------------------------------------

def raw_values(ws: list[Widget], form) -> dict[str, Any]:
    """What the user typed, as strings (lists for multi-choice and files)."""
    raw: dict[str, Any] = {}
    for w in ws:
        if w.kind in ("multichoice", "file"):
            raw[w.name] = [v for v in form.getlist(w.name) if v != ""]
        else:
            raw[w.name] = form.get(w.name, "")
    return raw


def form_data(ws: list[Widget], raw: dict[str, Any]) -> dict[str, Any]:
    """The dict the engine validates: empty inputs are left out, so defaults and 'required' apply."""
    data: dict[str, Any] = {}
    for w in ws:
        value = raw.get(w.name)
        if w.kind == "multichoice":
            data[w.name] = list(value or [])
        elif w.kind == "file":
            ids = list(value or [])
            if w.multiple:
                data[w.name] = ids
            elif ids:
                data[w.name] = ids[-1]
        elif isinstance(value, str) and value.strip() != "":
            data[w.name] = value if w.kind == "textarea" else value.strip()
    return data


def file_ids(raw: dict[str, Any], w: Widget) -> list[int]:
    return [int(v) for v in raw.get(w.name) or [] if str(v).isdigit()]


def store_uploads(platform: Platform, actor: Principal, ws: list[Widget], raw: dict[str, Any],
                  uploaded: MultiDict, *,
                  instance_id: int | None, task_id: int | None) -> dict[str, list[str]]:
    """Keep each new file (within its field's limits) and add its id to ``raw``; returns refusals."""
    from engine.errors import ValidationFailed

    problems: dict[str, list[str]] = {}
    for w in ws:
        if w.kind != "file":
            continue
        for item in uploaded.getlist(w.name):
            if not item or not item.filename:
                continue
            upload = files.Upload(item.filename, item.read())
            try:
                new_id = files.store(platform, actor, w.name, upload, w.limits(), instance_id=instance_id,
                                     task_id=task_id)
            except ValidationFailed as exc:  # the refused file says why; the accepted ones stay
                problems.setdefault(w.name, []).append(
                    _("“%(name)s” was not attached: %(why)s", name=item.filename, why=translate(exc.message)))
                continue
            kept = list(raw.get(w.name) or [])
            raw[w.name] = [*kept, str(new_id)] if w.multiple else [str(new_id)]
    return problems


def file_problems(platform: Platform, actor: Principal, ws: list[Widget], raw: dict[str, Any],
                  instance_id: int | None) -> dict[str, list[str]]:
    """Kept file ids must be this instance's files (or, on a start form, the user's own new uploads)."""
    from engine.errors import ValidationFailed

    problems: dict[str, list[str]] = {}
    with platform.Session() as session:
        for w in ws:
            if w.kind != "file":
                continue
            try:
                files.check_ids(session, actor, w.name, file_ids(raw, w), instance_id)
            except ValidationFailed as exc:
                problems[w.name] = [exc.message]
    return problems


def raw_from_values(ws: list[Widget], values: dict[str, Any]) -> dict[str, Any]:
    """Prefill inputs from instance variables of the same names."""
    raw: dict[str, Any] = {}
    for w in ws:
        if w.name not in values or values[w.name] is None:
            continue
        value = values[w.name]
        if w.kind in ("multichoice", "file"):
            raw[w.name] = [str(v) for v in (value if isinstance(value, list) else [value])]
        elif isinstance(value, bool):
            raw[w.name] = "true" if value else "false"
        elif w.kind == "datetime" and isinstance(value, str):
            raw[w.name] = value.rstrip("Z")[:19]
        else:
            raw[w.name] = str(value)
    return raw


# --- errors in the page's language -----------------------------------------------------

def translate(message: str) -> str:
    """A form rule message in the page's language (web/ui/rule_text.py knows them all)."""
    from .rule_text import friendly

    return friendly(message)


def field_errors(details: Any) -> dict[str, list[str]]:
    """Per-field messages from ValidationFailed details, flattened and translated."""
    fields_ = (details or {}).get("fields") if isinstance(details, dict) else None
    result: dict[str, list[str]] = {}
    for name, messages in (fields_ or {}).items():
        result[str(name)] = [translate(m) for m in _flatten(messages)]
    return result


def check_form(forms, form_key: str | None, data: dict[str, Any]) -> dict[str, list[str]]:
    """Per-field problems the engine would report for ``data`` (nothing is changed)."""
    from engine.errors import ValidationFailed
    from engine.runtime.forms_check import validate_form

    if not form_key:
        return {}
    try:
        validate_form(forms, form_key, data)
    except ValidationFailed as exc:
        return field_errors(exc.details)
    return {}


def merge_errors(*groups: dict[str, list[str]]) -> dict[str, list[str]]:
    merged: dict[str, list[str]] = {}
    for group in groups:
        for name, messages in group.items():
            merged.setdefault(name, []).extend(translate(m) for m in messages)
    return merged


def _flatten(messages: Any) -> list[str]:
    if isinstance(messages, str):
        return [messages]
    if isinstance(messages, dict):
        return [m for value in messages.values() for m in _flatten(value)]
    if isinstance(messages, list | tuple):
        return [m for value in messages for m in _flatten(value)]
    return [str(messages)]

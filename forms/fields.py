"""Field types of our own that the page renderer knows how to draw."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields

IMAGES_AND_PDF = ["image/jpeg", "image/png", "image/gif", "image/webp", "image/tiff", "application/pdf"]
DEFAULT_MAX_SIZE = 10 * 1024 * 1024


class FileUpload(fields.Field):
    """Uploaded scans or photos: the value is a stored file id, or a list of ids when ``multiple``.

    The bytes live in the platform's file store (``engine/files.py``); the form keeps only ids.
    Limits are metadata so the renderer and the upload check read the same numbers:
    ``max_size`` (bytes), ``content_types`` (e.g. ``["image/*", "application/pdf"]``) and
    ``multiple``.
    """

    default_error_messages = {"invalid": "Not a valid file."}

    def __init__(self, *, multiple: bool = False, max_size: int = DEFAULT_MAX_SIZE,
                 content_types: list[str] | None = None, **kwargs: Any):
        metadata = dict(kwargs.pop("metadata", {}) or {})
        metadata.setdefault("widget", "file")
        metadata.setdefault("multiple", multiple)
        metadata.setdefault("max_size", max_size)
        metadata.setdefault("content_types", list(content_types or IMAGES_AND_PDF))
        super().__init__(metadata=metadata, **kwargs)

    @property
    def multiple(self) -> bool:
        return bool(self.metadata.get("multiple"))

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if self.multiple:
            items = value if isinstance(value, list | tuple) else [value]
            ids = [self._one(v) for v in items]
            if self.required and not ids:
                raise ValidationError(self.error_messages["required"])
            return ids
        if isinstance(value, list | tuple):
            if len(value) != 1:
                raise self.make_error("invalid")
            value = value[0]
        return self._one(value)

    def _one(self, value: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise self.make_error("invalid") from None
        if number <= 0:
            raise self.make_error("invalid")
        return number


def file_fields(schema_class: type) -> dict[str, FileUpload]:
    """The file fields of a form, by the name the submitted data uses."""
    return {fld.data_key or name: fld for name, fld in schema_class().fields.items() if isinstance(fld, FileUpload)}

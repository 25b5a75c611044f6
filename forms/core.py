"""Small general-purpose forms used by tests and simple processes."""

from marshmallow import Schema, fields, validate

from . import form


@form("approval")
class ApprovalForm(Schema):
    approved = fields.Boolean(required=True, metadata={"label": {"zh": "是否同意", "en": "Approved"}})
    comment = fields.String(
        load_default="",
        validate=validate.Length(max=2000),
        metadata={"label": {"zh": "意见", "en": "Comment"}, "widget": "textarea"},
    )


@form("comment")
class CommentForm(Schema):
    comment = fields.String(
        load_default="",
        validate=validate.Length(max=2000),
        metadata={"label": {"zh": "备注", "en": "Comment"}, "widget": "textarea"},
    )

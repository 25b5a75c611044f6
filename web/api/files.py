"""Scans and photos through the API: upload one for a task's file field, then put its id in
the form data when completing the task; download any file of an instance you can see."""

from __future__ import annotations

import io

from flask import request, send_file
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from engine.errors import BadRequest, ValidationFailed
from engine.runtime import files, tasks

from .context import platform, principal

PREFIX = ""
blp = Blueprint("api_files", __name__, description="Files: scans and photos of task forms")


class StoredFile(Schema):
    id = fields.Integer()
    filename = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    field = fields.String()


@blp.route("/tasks/<int:task_id>/files")
class TaskFilesView(MethodView):
    @blp.doc(requestBody={"content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["field", "file"],
        "properties": {"field": {"type": "string", "description": "the form's file field"},
                       "file": {"type": "string", "format": "binary"}}}}}})
    @blp.response(201, StoredFile)
    @blp.alt_response(422, description="not a file field of the task's form, too large, or a refused type")
    @blp.alt_response(409, description="the task is no longer open, or someone else holds it")
    def post(self, task_id):
        """Upload a file for a file field of the task's form; the answer's id goes in the form data."""
        actor, pf = principal(), platform()
        with pf.Session() as session:
            task = tasks.open_task(session, actor, task_id)
            tasks.check_may_complete(task, actor)  # files only for a task you may complete
            schema = pf.forms.get(task.form_key) if task.form_key else None
            instance_id = task.instance_id
        name = request.form.get("field", "")
        field = schema().fields.get(name) if schema is not None else None
        if field is None or field.metadata.get("widget") != "file":
            raise ValidationFailed("not a file field of this task's form",
                                   {"fields": {"field": ["Unknown file field."]}})
        upload = request.files.get("file")
        if upload is None:
            raise BadRequest("send the file as the multipart field 'file'")
        limits = files.Limits(int(field.metadata.get("max_size") or 0),
                              tuple(field.metadata.get("content_types") or ()))
        data = upload.read(limits.max_size + 1 if limits.max_size else -1)
        file_id = files.store(pf, actor, name, files.Upload(upload.filename or "upload", data), limits,
                              instance_id=instance_id, task_id=task_id)
        with pf.Session() as session:
            row = files.visible_file(session, actor, file_id)
            return {"id": row.id, "filename": row.filename, "content_type": row.content_type, "size": row.size,
                    "field": row.field}, 201


@blp.route("/files/<int:file_id>")
class FileView(MethodView):
    @blp.doc(responses={"200": {"description": "the file's bytes",
                                "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                    "format": "binary"}}}}})
    def get(self, file_id):
        """Download a file of an instance you can see (404 otherwise)."""
        with platform().Session() as session:
            row = files.visible_file(session, principal(), file_id)
            data, name, kind = row.data, row.filename, row.content_type
        response = send_file(io.BytesIO(data), mimetype=kind, as_attachment=True, download_name=name)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

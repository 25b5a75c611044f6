"""Deployments and process definitions."""

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import func, select

from engine.definitions import deployments
from engine.errors import BadRequest
from engine.models import Deployment, DeploymentFile, ProcessDefinition
from engine.queries.views import definition_view, iso

from .context import listing, page, platform, principal
from .schemas import DefinitionPage, DefinitionQuery, DeploymentPage, DeploymentResult, PageArgs

PREFIX = ""
blp = Blueprint("api_deployments", __name__, description="Deploy BPMN and DMN; list process definitions")

UPLOAD_DOC = {"requestBody": {"content": {"multipart/form-data": {"schema": {
    "type": "object", "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}},
    "required": ["files"]}}}}}


def uploaded_files() -> dict[str, bytes]:
    files = request.files.getlist("files")
    if not files:
        raise BadRequest("send one or more BPMN/DMN files as multipart fields named 'files'")
    result = {}
    for storage in files:
        name = (storage.filename or "").replace("\\", "/").rsplit("/", 1)[-1]
        if not name:
            raise BadRequest("every uploaded file needs a file name")
        if name in result:
            raise BadRequest("file '%(name)s' was sent twice", name=name)
        result[name] = storage.read()
    return result


@blp.route("/deployments")
class DeploymentsView(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, DeploymentPage)
    def get(self, args):
        """List deployments, newest first."""
        principal()
        offset, limit = page(args)
        with platform().Session() as session:
            total = session.scalar(select(func.count(Deployment.id)))
            rows = session.scalars(select(Deployment).order_by(Deployment.id.desc()).offset(offset).limit(limit)).all()
            items = [{"id": d.id, "deployed_at": iso(d.deployed_at), "deployed_by": d.deployed_by,
                      "files": [f for f in session.scalars(select(DeploymentFile.filename)
                                                           .where(DeploymentFile.deployment_id == d.id))]}
                     for d in rows]
        return listing(items, total, args)

    @blp.doc(**UPLOAD_DOC)
    @blp.response(201, DeploymentResult)
    @blp.alt_response(422, description="validation problems; nothing was deployed")
    @blp.alt_response(409, description="another deployment stored a version of the same process meanwhile; "
                                       "nothing was deployed")
    def post(self):
        """Validate and deploy BPMN/DMN files (all or nothing).

        Versions follow content: unchanged files make no new version. A process version holds the
        decision tables it was deployed with, so a changed decision also gives a new version to every
        process whose latest version uses it (rebuilt from its deployed BPMN file, ``rebuilt``), in
        the same deployment: each decision's ``affects`` lists them, each process's ``decisions``
        the decision versions it holds. Instances started afterwards use them; running ones keep
        their version. 409 when another deployment changed one of them meanwhile. Only errors refuse a
        deployment (422, ``problems``); ``warnings`` lists likely mistakes that did not."""
        actor = principal()
        summary = deployments.deploy(platform(), actor, uploaded_files())
        summary.setdefault("warnings", [])
        return summary


@blp.route("/process-definitions")
class DefinitionsView(MethodView):
    @blp.arguments(DefinitionQuery, location="query")
    @blp.response(200, DefinitionPage)
    def get(self, args):
        """List deployed process definitions (every version, or only the latest)."""
        principal()
        offset, limit = page(args)
        stmt = select(ProcessDefinition)
        if args.get("key"):
            stmt = stmt.where(ProcessDefinition.key == args["key"])
        if args.get("latest"):
            stmt = stmt.where(ProcessDefinition.id.in_(
                select(func.max(ProcessDefinition.id)).group_by(ProcessDefinition.key)))
        with platform().Session() as session:
            total = session.scalar(select(func.count()).select_from(stmt.subquery()))
            rows = session.scalars(stmt.order_by(ProcessDefinition.key, ProcessDefinition.version.desc())
                                   .offset(offset).limit(limit)).all()
            return listing([definition_view(r) for r in rows], total, args)

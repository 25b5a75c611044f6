"""API tokens: trade a username and password for one (POST /api/v1/auth/token), list them
(GET /api/v1/auth/tokens) and revoke one (DELETE /api/v1/auth/tokens/<id>).

A user lists and revokes their own tokens; an administrator anyone's. Every creation and
revocation is in the admin log (engine/admin_log.py), never the token itself.
"""

from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate

from engine import identity
from engine.clock import iso
from engine.errors import NotFound

from ..metrics import count_signin_failure, count_signin_throttled
from .context import listing, platform, principal
from .schemas import PageArgs, TokenRequest, TokenResponse, page_of

PREFIX = "/auth"
blp = Blueprint("api_auth", __name__, description="Authentication")


class NewTokenRequest(TokenRequest):
    name = fields.String(load_default="api", validate=validate.Length(max=200),
                         metadata={"description": "what the token is for, shown in lists"})
    days = fields.Float(load_default=None, allow_none=True, allow_nan=False,
                        metadata={"description": "lifetime in days, above 0 and at most TOWERFLOW_API_TOKEN_DAYS "
                                                 "(the default)"})


class NewTokenResponse(TokenResponse):
    id = fields.Integer()
    expires_at = fields.String(metadata={"description": "ISO 8601, UTC"})


class ApiTokenItem(Schema):
    id = fields.Integer()
    username = fields.String()
    name = fields.String()
    state = fields.String(metadata={"description": "active, expired or revoked"})
    created_at = fields.String(allow_none=True)
    expires_at = fields.String(allow_none=True, metadata={"description": "null: a token from before expiry existed"})
    last_used_at = fields.String(allow_none=True, metadata={"description": "to the minute"})
    revoked_at = fields.String(allow_none=True)


class TokenQuery(PageArgs):
    username = fields.String(metadata={"description": "whose tokens; another user's only for administrators "
                                                      "(who see everyone's without it)"})
    state = fields.String(load_default="all", validate=validate.OneOf(["active", "expired", "revoked", "all"]))


TokenPage = page_of(ApiTokenItem, "ApiTokenPage")


def token_item(api_token, username: str, now) -> dict:
    return {"id": api_token.id, "username": username, "name": api_token.name,
            "state": identity.token_state(api_token, now), "created_at": iso(api_token.created_at),
            "expires_at": iso(api_token.expires_at), "last_used_at": iso(api_token.last_used_at),
            "revoked_at": iso(api_token.revoked_at)}


@blp.route("/token")
class TokenView(MethodView):
    @blp.doc(security=[])
    @blp.arguments(NewTokenRequest)
    @blp.response(201, NewTokenResponse)
    @blp.alt_response(401, description="wrong username or password")
    @blp.alt_response(422, description="days out of range")
    @blp.alt_response(429, description="too many failed sign-ins for this username; see Retry-After")
    def post(self, body):
        """Create an API token for a user, valid TOWERFLOW_API_TOKEN_DAYS days or the fewer ``days``
        asked for; repeated failures for a username are slowed down."""
        pf = platform()
        max_days = pf.settings.api_token_days
        if body["days"] is not None and not 0 < body["days"] <= max_days:
            abort(422, message=f"days must be above 0 and at most {max_days:g}",
                  errors={"json": {"days": [f"above 0 and at most {max_days:g}"]}})
        with pf.transaction() as session:  # commits a failure too, so the next attempt waits
            try:
                user = identity.sign_in(session, body["username"], body["password"], pf.clock.now())
            except identity.TooManyAttempts:
                count_signin_throttled("api")
                raise
            if user is None:
                created = None
            else:
                token = identity.create_token(session, user.username, name=body["name"], days=body["days"],
                                              max_days=max_days, actor=user.username, now=pf.clock.now())
                api_token = identity.find_token(session, token)
                created = {"token": token, "id": api_token.id, "expires_at": iso(api_token.expires_at)}
        if created is None:
            count_signin_failure("api")
            abort(401, message="wrong username or password")
        return created


@blp.route("/tokens")
class TokensView(MethodView):
    @blp.arguments(TokenQuery, location="query")
    @blp.response(200, TokenPage)
    @blp.alt_response(401, description="no or bad token")
    @blp.alt_response(403, description="another user's tokens, asked by someone who is not an administrator")
    def get(self, args):
        """The caller's tokens, newest first (administrators: anyone's); never the secrets."""
        actor = principal()
        wanted = args.get("username")
        if wanted is not None and wanted != actor.username and not actor.is_admin:
            abort(403, message="only administrators may list another user's tokens")
        if wanted is None and not actor.is_admin:
            wanted = actor.username
        pf = platform()
        now = pf.clock.now()
        with pf.Session() as session:
            if wanted is None:
                rows = identity.list_all_tokens(session)
            else:
                try:
                    rows = [(t, wanted) for t in identity.list_tokens(session, wanted)]
                except NotFound:
                    rows = []
            items = [token_item(t, owner, now) for t, owner in rows]
        if args["state"] != "all":
            items = [item for item in items if item["state"] == args["state"]]
        offset, size = (args["page"] - 1) * args["page_size"], args["page_size"]
        return listing(items[offset:offset + size], len(items), args)


@blp.route("/tokens/<int:token_id>")
class TokenItemView(MethodView):
    @blp.response(200, ApiTokenItem)
    @blp.alt_response(401, description="no or bad token")
    @blp.alt_response(404, description="no such token, or another user's and the caller is not an administrator")
    def delete(self, token_id):
        """Revoke a token: it stops working at once, in every server process. Revoking twice is fine."""
        actor = principal()
        pf = platform()
        with pf.transaction() as session:
            try:
                api_token, owner = identity.token_with_owner(session, token_id)
            except NotFound:
                api_token, owner = None, None
            if api_token is None or (owner != actor.username and not actor.is_admin):
                abort(404, message="no such API token")
            identity.revoke_token(session, token_id, actor=actor.username)
            return token_item(api_token, owner, pf.clock.now())

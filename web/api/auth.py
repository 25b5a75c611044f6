"""POST /api/v1/auth/token: trade a username and password for an API token."""

from flask.views import MethodView
from flask_smorest import Blueprint, abort

from engine import identity

from .context import platform
from .schemas import TokenRequest, TokenResponse

PREFIX = "/auth"
blp = Blueprint("api_auth", __name__, description="Authentication")


@blp.route("/token")
class TokenView(MethodView):
    @blp.doc(security=[])
    @blp.arguments(TokenRequest)
    @blp.response(201, TokenResponse)
    def post(self, body):
        """Create an API token for a user."""
        with platform().transaction() as session:
            user = identity.authenticate(session, body["username"], body["password"])
            if user is None:
                abort(401, message="wrong username or password")
            token = identity.create_token(session, user.username, name="api")
        return {"token": token}

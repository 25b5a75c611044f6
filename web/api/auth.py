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
    @blp.alt_response(401, description="wrong username or password")
    @blp.alt_response(429, description="too many failed sign-ins for this username; see Retry-After")
    def post(self, body):
        """Create an API token for a user; repeated failures for a username are slowed down."""
        pf = platform()
        with pf.transaction() as session:  # commits a failure too, so the next attempt waits
            user = identity.sign_in(session, body["username"], body["password"], pf.clock.now())
            token = identity.create_token(session, user.username, name="api") if user is not None else None
        if token is None:
            abort(401, message="wrong username or password")
        return {"token": token}

"""POST /api/v1/messages: external systems deliver BPMN messages."""

from flask.views import MethodView
from flask_smorest import Blueprint

from engine.runtime import jobs, messages

from .context import platform, principal
from .schemas import MessageRequest, MessageResult

PREFIX = "/messages"
blp = Blueprint("api_messages", __name__, description="Messages")


@blp.route("")
class MessagesView(MethodView):
    @blp.arguments(MessageRequest)
    @blp.response(200, MessageResult)
    @blp.alt_response(404, description="no instance waits for it and no process starts on it")
    def post(self, body):
        """Deliver a message by name, business key and correlation; repeats of a message_id do nothing more."""
        result, queued = messages.deliver_queued(platform(), principal(), body["name"], body["message_id"],
                                                 body.get("business_key"), body.get("correlation"),
                                                 body.get("payload"))
        for instance_id in queued:  # only the instances whose steps queued work
            jobs.drain(platform(), instance_id)
        return result

"""Words for the tower pages' codes (statuses, refusals, outcomes, library and contract states,
service-request steps), in the page's language. The codes come from ``tower``; the English
texts are the msgids of the demands catalogue. A code without a word is shown as it is."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

DEMAND_STATUSES = {
    "collected": _l("Demand collected"),
    "submitted": _l("Awaiting operator confirmation"),
    "confirmed": _l("Confirmed by operator"),
    "accepted": _l("Demand accepted"),
    "screening": _l("Site screening"),
    "negotiating": _l("Site negotiation"),
    "order_compiling": _l("Order being compiled"),
    "order_sent": _l("Awaiting order confirmation"),
    "order_confirmed": _l("Order confirmed"),
    "construction": _l("Under construction"),
    "delivered": _l("Awaiting acceptance"),
    "acceptance_confirmed": _l("Accepted on delivery"),
    "unplannable": _l("Cannot be planned"),
    "cancelled": _l("Cancelled"),
}

# Why a change or cancel is refused (tower.demand_flow.REFUSALS).
REFUSALS = {
    "not_submitted": _l("The demand has not been submitted into the flow yet; ask your customer manager."),
    "order_confirmed": _l("The order is already confirmed: a demand can be changed or cancelled only before "
                          "its order is confirmed."),
    "cancelled": _l("The demand is already cancelled."),
    "unplannable": _l("The demand has ended: it cannot be planned."),
    "suspended": _l("The flow of this demand is paused by a supervisor; try again once it resumes."),
    "flow_ended": _l("The flow of this demand has ended."),
}

# How a demand ended (tower.demand_flow.outcome's kind).
OUTCOMES = {
    "cancelled": _l("The demand was cancelled"),
    "order_cancelled": _l("The order was cancelled"),
    "unplannable": _l("The demand cannot be planned"),
    "negotiation_failed": _l("The site negotiation failed"),
    "returned": _l("The demand was sent back"),
    "terminated": _l("The flow was stopped"),
    "incident": _l("The flow is waiting for a failed call to be retried"),
}

# Flow 2's failure_reason, when a negotiation failed (选址谈判失败).
NEGOTIATION_FAILURES = {
    "negotiation_failed": _l("No agreement with the property owner"),
    "cost_rejected": _l("The city director refused the cost above the standard"),
    "overdue_rejected": _l("More time for the negotiation was refused"),
    "overdue_limit_reached": _l("The negotiation reached its 40-day limit"),
    "cancelled": _l("The negotiation was stopped"),
}

# Why one demand of a batch acceptance was not done (tower.demand_flow.BATCH_FAILURES).
BATCH_FAILURES = {
    "not_found": _l("No such demand."),
    "not_waiting": _l("Its acceptance is not waiting for you (any more)."),
    "claimed": _l("Someone else has taken this confirmation."),
    "forbidden": _l("You may not confirm this acceptance."),
    "refused": _l("The flow refused the confirmation."),
}

DIFFICULT_STATUSES = {"in_library": _l("In the library"), "released": _l("Released")}
RELEASE_REASONS = {
    "conditions_changed": _l("Conditions changed; the negotiation resumes"),
    "negotiation_cancelled": _l("The negotiation was stopped"),
    "需求取消": _l("The demand was cancelled"),
    "需求变更": _l("The demand was changed"),
}

CONTRACT_STATES = {
    "expired": _l("Expired"),
    "warned": _l("Expiry warning sent"),
    "due": _l("Warning due"),
    "renewing": _l("Renewal under way"),
    "renewed": _l("Renewed"),
    "ok": _l("In force"),
}

REQUEST_STATUSES = {
    "submitted": _l("Submitted"),
    "accepted": _l("Accepted"),
    "approved": _l("Approved"),
    "in_progress": _l("Being handled"),
    "done": _l("Handled, awaiting your confirmation"),
    "reopened": _l("Sent back for handling again"),
    "confirmed": _l("Confirmed by the customer"),
    "rejected": _l("Rejected"),
    "reviewed": _l("Complaint reviewed"),
    "closed": _l("Closed"),
}


def word(table: dict, code: str | None) -> str:
    """The word for ``code`` in ``table``, or the code itself when there is none."""
    if code is None:
        return ""
    return str(table[code]) if code in table else code

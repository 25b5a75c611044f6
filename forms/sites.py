"""Forms of the site flows: 选址谈判 (processes/site_negotiation.bpmn) and 疑难站址入库
(processes/difficult_site.bpmn). The field names are the flows' variable names; see
docs/flows/site_negotiation.md and docs/flows/difficult_site.md."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from . import form
from .builders import label as _label

DIFFICULT_REASONS = {
    "owner_refuses": {"zh": "业主拒绝", "en": "Owner refuses"},
    "planning_restriction": {"zh": "规划限制", "en": "Planning restriction"},
    "cost_far_above_standard": {"zh": "费用远超标准", "en": "Cost far above standard"},
    "other": {"zh": "其他", "en": "Other"},
}

PROGRESS_OUTCOMES = {
    "in_progress": {"zh": "谈判中", "en": "Still negotiating"},
    "success": {"zh": "谈址成功", "en": "Agreed"},
    "failure": {"zh": "谈址失败", "en": "Failed"},
    "difficult": {"zh": "提议疑难站址", "en": "Propose as difficult site"},
}

REVIEW_DECISIONS = {
    "keep": {"zh": "继续留库", "en": "Keep in the library"},
    "release": {"zh": "出库，恢复谈址", "en": "Release and resume negotiation"},
}

MAX_NEGOTIATION_DAYS = 40




def _comment(zh: str = "意见", en: str = "Comment"):
    return fields.String(load_default="", validate=validate.Length(max=2000),
                         metadata=_label(zh, en, widget="textarea"))


def _phone(zh: str, en: str):
    return fields.String(load_default="", validate=validate.Regexp(r"^(\+?\d{5,20})?$"),
                         metadata=_label(zh, en, help={"zh": "手机号，用于短信通知", "en": "Mobile number for SMS"}))


# --- Flow 2: 选址谈判 -------------------------------------------------------------------------

@form("site_negotiation_start")
class SiteNegotiationStart(Schema):
    """The inputs of 选址谈判 when started on its own (Flow 1 passes the same variables)."""

    demand_no = fields.String(required=True, validate=validate.Length(min=1, max=64),
                              metadata=_label("需求编号", "Demand number"))
    site_name = fields.String(required=True, validate=validate.Length(min=1, max=200),
                              metadata=_label("站址名称", "Site name"))
    longitude = fields.Float(required=True, validate=validate.Range(min=73.0, max=136.0),
                             metadata=_label("经度", "Longitude"))
    latitude = fields.Float(required=True, validate=validate.Range(min=3.0, max=54.0),
                            metadata=_label("纬度", "Latitude"))
    area_type = fields.String(load_default="", validate=validate.Length(max=32),
                              metadata=_label("区域类型", "Area type"))
    cost_standard = fields.Float(required=True, validate=validate.Range(min=0),
                                 metadata=_label("费用标准（元/年）", "Cost standard (CNY/year)"))
    deadline_days = fields.Integer(load_default=30, validate=validate.Range(min=1, max=MAX_NEGOTIATION_DAYS),
                                   metadata=_label("谈址期限（天）", "Deadline (days)"))
    customer_manager_phone = _phone("客户经理手机", "Customer manager's mobile")


@form("negotiation_plan")
class NegotiationPlan(Schema):
    """制定谈址方案并分配任务 (regional manager)."""

    negotiator = fields.String(required=True, validate=validate.Length(min=1, max=100),
                               metadata=_label("谈址人（用户名）", "Negotiator (user name)"))
    plan = fields.String(load_default="", validate=validate.Length(max=4000),
                         metadata=_label("谈址方案", "Negotiation plan", widget="textarea"))


@form("negotiation_progress")
class NegotiationProgress(Schema):
    """反馈谈址进展 (negotiator): repeated until agreed, failed or proposed as a difficult site."""

    progress_outcome = fields.String(required=True, validate=validate.OneOf(list(PROGRESS_OUTCOMES)),
                                     metadata=_label("进展", "Outcome", widget="choice",
                                                     choice_labels=PROGRESS_OUTCOMES))
    progress_note = fields.String(load_default="", validate=validate.Length(max=4000),
                                  metadata=_label("进展说明", "Progress note", widget="textarea"))
    site_code = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64),
                              metadata=_label("站址编码", "Site code"))
    lessor = fields.String(load_default="", validate=validate.Length(max=200),
                           metadata=_label("业主（出租方）", "Lessor"))
    contract_no = fields.String(load_default="", validate=validate.Length(max=64),
                                metadata=_label("合同编号", "Contract number"))
    agreed_cost = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0),
                               metadata=_label("谈定租金/价格（元/年）", "Agreed rent or price (CNY/year)"))
    lease_years = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=50),
                                 metadata=_label("租期（年）", "Lease term (years)"))

    @validates_schema
    def _agreed_needs_terms(self, data, **_kwargs):
        if data.get("progress_outcome") == "success":
            missing = {name: ["Required when the negotiation succeeded."]
                       for name in ("site_code", "agreed_cost") if data.get(name) in (None, "")}
            if missing:
                raise ValidationError(missing)


@form("cost_exceed_request")
class CostExceedRequest(Schema):
    """费用标准超标申请 (negotiator)."""

    exceed_reason = fields.String(required=True, validate=validate.Length(min=1, max=4000),
                                  metadata=_label("超标原因", "Why the cost exceeds the standard", widget="textarea"))


@form("cost_exceed_approval")
class CostExceedApproval(Schema):
    """费用标准超标审批 (city director)."""

    cost_approved = fields.Boolean(required=True, metadata=_label("同意超标", "Approve the exceedance"))
    cost_comment = _comment()


@form("overdue_request")
class OverdueRequest(Schema):
    """超期申请 (negotiator): how many more days, counted from the current deadline."""

    extend_days = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_NEGOTIATION_DAYS),
                                 metadata=_label("申请延期（天）", "Extension (days)"))
    overdue_reason = fields.String(required=True, validate=validate.Length(min=1, max=4000),
                                   metadata=_label("超期原因", "Reason", widget="textarea"))


@form("overdue_approval")
class OverdueApproval(Schema):
    """超期申请审批 (regional manager)."""

    overdue_approved = fields.Boolean(required=True, metadata=_label("同意延期", "Approve the extension"))
    overdue_comment = _comment()


# --- Flow 3: 疑难站址入库 -----------------------------------------------------------------------

@form("difficult_site_application")
class DifficultSiteApplication(Schema):
    """疑难站址入库申请: the regional manager proposes a site for the difficult-site library."""

    site_name = fields.String(required=True, validate=validate.Length(min=1, max=200),
                              metadata=_label("站址名称", "Site name"))
    demand_no = fields.String(load_default="", validate=validate.Length(max=64),
                              metadata=_label("需求编号", "Demand number"))
    reason = fields.String(required=True, validate=validate.OneOf(list(DIFFICULT_REASONS)),
                           metadata=_label("疑难原因", "Reason", widget="choice", choice_labels=DIFFICULT_REASONS))
    description = fields.String(load_default="", validate=validate.Length(max=4000),
                                metadata=_label("情况说明", "Details", widget="textarea"))
    contact_phone = _phone("出库通知手机", "Mobile for the release notice")


@form("difficult_site_proposal")
class DifficultSiteProposal(Schema):
    """疑难站址入库申请 inside 选址谈判: site name and demand number are already known."""

    reason = fields.String(required=True, validate=validate.OneOf(list(DIFFICULT_REASONS)),
                           metadata=_label("疑难原因", "Reason", widget="choice", choice_labels=DIFFICULT_REASONS))
    description = fields.String(load_default="", validate=validate.Length(max=4000),
                                metadata=_label("情况说明", "Details", widget="textarea"))
    contact_phone = _phone("出库通知手机", "Mobile for the release notice")


@form("difficult_site_decision")
class DifficultSiteDecision(Schema):
    """疑难站址入库审批 (city director)."""

    difficult_approved = fields.Boolean(required=True, metadata=_label("同意入库", "Approve"))
    comment = _comment()


@form("difficult_site_review")
class DifficultSiteReview(Schema):
    """疑难站址复核 (regional manager, every 30 days): keep the site in the library or release it."""

    review_decision = fields.String(required=True, validate=validate.OneOf(list(REVIEW_DECISIONS)),
                                    metadata=_label("复核结论", "Decision", widget="choice",
                                                    choice_labels=REVIEW_DECISIONS))
    review_comment = _comment("复核说明", "Review note")

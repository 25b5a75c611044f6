"""Forms of Flow 5, customer service requests (客户需求申请-受理-反馈,
processes/service_request.bpmn). The field names are the flow's variable names; see
docs/flows/service_request.md."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from . import form
from .builders import choice as _choice
from .builders import label as _label
from .builders import text as _text
from .messages import REQUIRED_WHEN

REQUEST_KINDS = {
    "new_install": {"zh": "新装", "en": "New installation"},
    "product_change": {"zh": "产品变更", "en": "Product change"},
    "reserved_cancel": {"zh": "预约销户", "en": "Reserved cancellation"},
    "formal_cancel": {"zh": "正式销户", "en": "Formal cancellation"},
    "terminal_repair": {"zh": "终端维修", "en": "Terminal repair"},
    "fault_report": {"zh": "报障", "en": "Fault report"},
    "consultation": {"zh": "咨询", "en": "Consultation"},
    "complaint": {"zh": "投诉", "en": "Complaint"},
}

CHANNELS = {
    "self_service": {"zh": "客户自助提交", "en": "Filed by the customer"},
    "customer_manager": {"zh": "客户经理代客户提交", "en": "Filed by the customer manager for the customer"},
}

ACCEPT_DECISIONS = {
    "accept": {"zh": "受理", "en": "Accept"},
    "reject": {"zh": "退回", "en": "Reject"},
}

CUSTOMER_ANSWERS = {
    "satisfied": {"zh": "满意，办结", "en": "Satisfied, close the request"},
    "unsatisfied": {"zh": "不满意，重新处理", "en": "Not satisfied, handle it again"},
}

REVIEW_CONCLUSIONS = {
    "upheld": {"zh": "投诉属实", "en": "Complaint upheld"},
    "partly_upheld": {"zh": "部分属实", "en": "Partly upheld"},
    "not_upheld": {"zh": "投诉不属实", "en": "Not upheld"},
}








def _require_when(data: dict, field: str, value: str, needed: str) -> None:
    if data.get(field) == value and not (data.get(needed) or "").strip():
        raise ValidationError({needed: [REQUIRED_WHEN % {"field": field, "value": value}]})


@form("service_request_start")
class ServiceRequestStart(Schema):
    """提交需求申请: the customer (an operator user of its tenant) or its customer manager."""

    request_kind = _choice("需求类型", "Request kind", REQUEST_KINDS, required=True)
    customer_name = _text("客户名称", "Customer name", required=True)
    contact_name = _text("联系人", "Contact person", required=True, max_length=100)
    contact_phone = fields.String(required=True, validate=validate.Regexp(r"^\+?\d{5,20}$"),
                                  metadata=_label("联系电话", "Contact phone"))
    description = _text("需求描述", "Description", required=True, max_length=4000, widget="textarea")
    expected_date = fields.Date(load_default=None, allow_none=True,
                                metadata=_label("期望完成日期", "Expected date"))
    product = _text("涉及产品/业务号码", "Product or service number", max_length=200)
    channel = fields.String(load_default="self_service", validate=validate.OneOf(list(CHANNELS)),
                            metadata=_label("提交方式", "Filed by", widget="choice", choice_labels=CHANNELS))

    @validates_schema
    def _product_for_boss(self, data, **_kwargs):
        for kind in ("product_change", "reserved_cancel"):
            _require_when(data, "request_kind", kind, "product")


@form("service_request_acceptance")
class ServiceRequestAcceptance(Schema):
    """需求受理 (customer manager): accept the request or send it back with a reason."""

    accept_decision = _choice("受理结论", "Decision", ACCEPT_DECISIONS, required=True)
    acceptance_note = _text("受理意见/退回原因", "Note or reason for rejecting", max_length=2000, widget="textarea")

    @validates_schema
    def _reason_for_reject(self, data, **_kwargs):
        _require_when(data, "accept_decision", "reject", "acceptance_note")


@form("service_request_approval")
class ServiceRequestApproval(Schema):
    """需求审批 (city director): product changes and cancellations."""

    approved = fields.Boolean(required=True, metadata=_label("同意", "Approve"))
    approval_comment = _text("审批意见", "Comment", max_length=2000, widget="textarea")

    @validates_schema
    def _reason_for_refusal(self, data, **_kwargs):
        if data.get("approved") is False and not (data.get("approval_comment") or "").strip():
            raise ValidationError({"approval_comment": ["Required when the request is not approved."]})


@form("service_request_handling")
class ServiceRequestHandling(Schema):
    """需求处理 (customer manager) and 监控中心处理报障 (monitoring centre)."""

    handling_result = _text("处理结果", "Result", required=True, max_length=4000, widget="textarea")
    reference_no = _text("关联单号（工单/故障单）", "Reference (work order or fault number)", max_length=64)


@form("service_request_confirmation")
class ServiceRequestConfirmation(Schema):
    """客户确认 (the customer: an operator user of the request's tenant)."""

    customer_answer = _choice("确认结果", "Answer", CUSTOMER_ANSWERS, required=True)
    customer_feedback = _text("客户意见", "Feedback", max_length=2000, widget="textarea")
    rating = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=5),
                            metadata=_label("满意度（1-5）", "Rating (1-5)"))

    @validates_schema
    def _feedback_when_unsatisfied(self, data, **_kwargs):
        _require_when(data, "customer_answer", "unsatisfied", "customer_feedback")


@form("service_request_review")
class ServiceRequestReview(Schema):
    """投诉复核 (supervisor): every complaint ends here."""

    review_conclusion = _choice("复核结论", "Conclusion", REVIEW_CONCLUSIONS, required=True)
    review_comment = _text("复核意见/整改要求", "Comment or corrective action", required=True, max_length=4000,
                           widget="textarea")

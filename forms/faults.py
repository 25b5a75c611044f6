"""Forms of enterprise fault dispatch (政企客户故障派单, processes/fault_dispatch.bpmn)."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from . import form
from .builders import CUSTOMER_LEVELS
from .builders import choice as _choice
from .builders import text as _text
from .fields import FileUpload

# Photos of the site after the repair, taken with the phone's camera (optional).
REPAIR_PHOTOS = dict(multiple=True, max_size=10 * 1024 * 1024, load_default=list,
                     content_types=["image/jpeg", "image/png", "image/webp"])

CHANNELS = {
    "hotline": {"zh": "客户热线/系统报障 (10000+9)", "en": "Hotline or system (10000+9)"},
    "on_behalf": {"zh": "客户经理代客户报障", "en": "Customer manager on the customer's behalf"},
    "self_found": {"zh": "监控中心主动发现", "en": "Found by the monitoring centre"},
}
# the start form offers the two channels a person reports through; hotline faults arrive as messages
FORM_CHANNELS = {key: CHANNELS[key] for key in ("on_behalf", "self_found")}

BUSINESS_CATEGORIES = {
    "bandwidth": {"zh": "带宽型业务（基础数据、电路出租、互联网专线）",
                  "en": "Bandwidth (basic data, leased circuits, internet dedicated line)"},
    "business_navigator_ict": {"zh": "商务领航及ICT业务", "en": "Business navigator and ICT"},
    "industry_application": {"zh": "行业应用", "en": "Industry applications"},
    "fixed_voice_vn": {"zh": "固话：虚拟网、NGN虚拟网、集团彩铃",
                       "en": "Fixed voice: virtual network, NGN virtual network, ring-back"},
    "fixed_voice_800": {"zh": "固话：800及4008业务", "en": "Fixed voice: 800 and 4008 numbers"},
}

CUSTOMER_TYPES_800 = {
    "industry_high_end": {"zh": "行业及高端客户", "en": "Industry and high-end customer"},
    "brand_enterprise": {"zh": "品牌企业客户", "en": "Brand enterprise customer"},
}

FIRST_LEVEL_RESULTS = {
    "repaired": {"zh": "已修复", "en": "Repaired"},
    "to_second_level": {"zh": "转二级处理", "en": "Pass to the second level"},
}

SECOND_LEVEL_RESULTS = {
    "repaired": {"zh": "已修复", "en": "Repaired"},
    "return_first_level": {"zh": "退回一级处理", "en": "Return to the first level"},
}

CUSTOMER_ANSWERS = {
    "restored": {"zh": "已恢复，同意结单", "en": "Restored, close the fault"},
    "not_restored": {"zh": "未恢复，退回修复", "en": "Not restored, back to repair"},
}






class _FaultRecord(Schema):
    """The fault's data: what the time limits depend on and whom to tell."""

    customer_name = _text("客户名称", "Customer name", required=True)
    customer_level = _choice("客户等级", "Customer level", CUSTOMER_LEVELS, required=True)
    business_category = _choice("业务类别", "Business category", BUSINESS_CATEGORIES, required=True)
    customer_type_800 = fields.String(
        load_default="", validate=validate.OneOf(["", *CUSTOMER_TYPES_800]),
        metadata={"label": {"zh": "800/4008客户类型", "en": "800/4008 customer type"}, "widget": "choice",
                  "choice_labels": CUSTOMER_TYPES_800,
                  "help": {"zh": "仅800及4008业务填写", "en": "Only for 800 and 4008 numbers"}})
    circuit_id = _text("电路编号", "Circuit id", required=True, max_length=100)
    contact_phone = _text("联系人电话", "Contact phone", required=True, max_length=32)
    description = _text("故障描述", "Description", max_length=4000, widget="textarea")

    @validates_schema
    def _type_800_needed(self, data, **_kwargs):
        if data.get("business_category") == "fixed_voice_800" and not data.get("customer_type_800"):
            raise ValidationError("Required for 800 and 4008 numbers.", "customer_type_800")


@form("fault_report")
class FaultReport(_FaultRecord):
    """代客户报障 / 主动发现: the start form of fault dispatch."""

    channel = _choice("报障渠道", "Channel", FORM_CHANNELS, required=True)


@form("fault_acceptance")
class FaultAcceptance(_FaultRecord):
    """受理: the monitoring centre checks and completes the fault record (prefilled)."""

    acceptance_note = _text("受理意见", "Acceptance note", max_length=2000, widget="textarea")


@form("fault_dispatch_order")
class FaultDispatchOrder(Schema):
    """派单: the first-level maintenance team that gets the work order."""

    first_level_team = _text("一级维护班组", "First-level team", required=True)
    dispatch_note = _text("派单说明", "Dispatch note", max_length=2000, widget="textarea")


@form("fault_first_level_accept")
class FirstLevelAccept(Schema):
    """一级接单."""

    first_level_engineer = _text("一级处理人", "First-level engineer", required=True)


@form("fault_first_level_repair")
class FirstLevelRepair(Schema):
    """一级处理: repaired, or passed to the second level."""

    first_level_result = _choice("处理结果", "Result", FIRST_LEVEL_RESULTS, required=True)
    first_level_note = _text("处理说明（原因、措施）", "Notes (cause, action)", max_length=4000, widget="textarea")
    first_level_photos = FileUpload(**REPAIR_PHOTOS, metadata={"label": {"zh": "现场照片", "en": "Site photos"}})


@form("fault_second_level_accept")
class SecondLevelAccept(Schema):
    """二级接单."""

    second_level_engineer = _text("二级处理人", "Second-level engineer", required=True)


@form("fault_second_level_repair")
class SecondLevelRepair(Schema):
    """二级处理: repaired, or returned to the first level."""

    second_level_result = _choice("处理结果", "Result", SECOND_LEVEL_RESULTS, required=True)
    second_level_note = _text("处理说明（原因、措施）", "Notes (cause, action)", max_length=4000, widget="textarea")
    second_level_photos = FileUpload(**REPAIR_PHOTOS, metadata={"label": {"zh": "现场照片", "en": "Site photos"}})


@form("fault_restoration")
class FaultRestoration(Schema):
    """恢复确认 by the monitoring centre."""

    restoration_note = _text("恢复确认说明", "Restoration note", max_length=2000, widget="textarea")


@form("fault_customer_confirmation")
class FaultCustomerConfirmation(Schema):
    """客户确认: by the customer manager on the customer's behalf, or the operator."""

    customer_answer = _choice("客户确认结果", "Customer's answer", CUSTOMER_ANSWERS, required=True)
    customer_feedback = _text("客户意见", "Customer feedback", max_length=2000, widget="textarea")


@form("fault_escalation")
class FaultEscalation(Schema):
    """督办: what the supervisor did about a missed time limit."""

    supervision_note = _text("督办意见", "Supervision note", required=True, max_length=2000, widget="textarea")

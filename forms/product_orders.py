"""Forms of Flow 6, 集团产品订购 (processes/group_product_order.bpmn). The field names are the
flow's variable names; see docs/flows/group_product_order.md."""

from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema

from . import form
from .builders import CUSTOMER_LEVELS, text
from .builders import choice as _choice
from .builders import label as _label

COMPLEXITY = {
    "simple": {"zh": "简单产品（直接签约）", "en": "Simple (straight to contract)"},
    "complex": {"zh": "复杂产品（需资源、资费、方案确认）", "en": "Complex (resource, tariff and solution first)"},
}

# The product catalogue: label and the usual complexity (the start form takes it when the
# channel did not say; the customer manager can still change it when accepting).
PRODUCTS = {
    "internet_dedicated_line": {"zh": "互联网专线", "en": "Internet dedicated line", "complexity": "complex"},
    "data_dedicated_line": {"zh": "数据专线", "en": "Data dedicated line", "complexity": "complex"},
    "mpls_vpn": {"zh": "MPLS-VPN", "en": "MPLS-VPN", "complexity": "complex"},
    "idc_hosting": {"zh": "IDC 托管", "en": "IDC hosting", "complexity": "complex"},
    "group_sms": {"zh": "集团短信", "en": "Group SMS", "complexity": "simple"},
    "enterprise_ringback": {"zh": "集团彩铃", "en": "Enterprise ring-back", "complexity": "simple"},
    "vpmn": {"zh": "集团V网", "en": "Virtual private mobile network", "complexity": "simple"},
    "cloud_office": {"zh": "云办公", "en": "Cloud office suite", "complexity": "simple"},
}
PRODUCT_LABELS = {key: {"zh": p["zh"], "en": p["en"]} for key, p in PRODUCTS.items()}

CHANNELS = {
    "customer_manager": {"zh": "客户经理拓展", "en": "Customer manager visit"},
    "hotline": {"zh": "客服热线", "en": "Service hotline"},
    "business_hall": {"zh": "营业厅", "en": "Business hall"},
    "online": {"zh": "网上营业厅", "en": "Online hall"},
    "operator_platform": {"zh": "统一业务平台", "en": "Unified business platform"},
    "other": {"zh": "其他", "en": "Other"},
}

NOTIFY_CHANNELS = {
    "sms": {"zh": "短信", "en": "SMS"},
    "email": {"zh": "电子邮件", "en": "E-mail"},
}




def _text(zh: str, en: str, max_length: int = 4000, required: bool = False):
    """Order texts are long notes: a textarea up to 4000 characters."""
    return text(zh, en, required=required, max_length=max_length, widget="textarea")




@form("group_order_start")
class GroupOrderStart(Schema):
    """商机录入 (start): a demand from any channel becomes a business opportunity."""

    customer_name = fields.String(required=True, validate=validate.Length(min=1, max=200),
                                  metadata=_label("集团客户名称", "Group customer"))
    customer_level = _choice("客户等级", "Customer level", CUSTOMER_LEVELS, load_default="local_a")
    product = _choice("订购产品", "Product", PRODUCT_LABELS, required=True)
    complexity = fields.String(required=True, validate=validate.OneOf(list(COMPLEXITY)),
                               metadata=_label("产品类型", "Product type", widget="choice", choice_labels=COMPLEXITY,
                                               help={"zh": "不填时按产品目录取默认值（专线类为复杂产品）",
                                                     "en": "Taken from the product catalogue when empty "
                                                           "(dedicated lines are complex)"}))
    channel = _choice("需求渠道", "Channel", CHANNELS, required=True)
    contact_name = fields.String(load_default="", validate=validate.Length(max=100),
                                 metadata=_label("客户联系人", "Customer contact"))
    contact_phone = fields.String(load_default="", validate=validate.Regexp(r"^(\+?\d{5,20})?$"),
                                  metadata=_label("联系电话", "Contact phone"))
    address = fields.String(load_default="", validate=validate.Length(max=300),
                            metadata=_label("装机地址", "Installation address"))
    bandwidth_mbps = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=100000),
                                    metadata=_label("带宽（Mbps）", "Bandwidth (Mbps)"))
    demand_description = _text("需求描述", "Demand")

    @pre_load
    def _complexity_from_catalogue(self, data, **_kwargs):
        product = data.get("product") if isinstance(data, dict) else None
        if isinstance(product, str) and product in PRODUCTS and not data.get("complexity"):
            data = {**data, "complexity": PRODUCTS[data["product"]]["complexity"]}
        return data


@form("opportunity_accept")
class OpportunityAccept(Schema):
    """商机受理 (customer manager): confirm the product type and choose how to be told of completion."""

    complexity = _choice("产品类型", "Product type", COMPLEXITY, required=True)
    notify_channel = _choice("竣工通知方式", "Completion notice by", NOTIFY_CHANNELS, load_default="sms")
    manager_phone = fields.String(load_default="", validate=validate.Regexp(r"^(\+?\d{5,20})?$"),
                                  metadata=_label("客户经理手机", "Manager's mobile"))
    manager_email = fields.String(load_default="", validate=validate.Length(max=200),
                                  metadata=_label("客户经理邮箱", "Manager's e-mail"))
    accept_note = _text("受理说明", "Note")

    @validates_schema
    def _address_for_channel(self, data, **_kwargs):
        channel = data.get("notify_channel")
        if channel == "sms" and not data.get("manager_phone"):
            raise ValidationError({"manager_phone": ["Required for an SMS notice."]})
        if channel == "email":
            email = data.get("manager_email") or ""
            try:
                validate.Email()(email)
            except ValidationError:
                raise ValidationError({"manager_email": ["A valid e-mail address is required for an e-mail notice."]}) \
                    from None


@form("tariff_confirmation")
class TariffConfirmation(Schema):
    """资费确认 (customer manager)."""

    monthly_fee = fields.Float(required=True, validate=validate.Range(min=0),
                               metadata=_label("月租费（元）", "Monthly fee (CNY)"))
    one_time_fee = fields.Float(load_default=0.0, validate=validate.Range(min=0),
                                metadata=_label("一次性费用（元）", "One-time fee (CNY)"))
    discount_percent = fields.Float(load_default=100.0, validate=validate.Range(min=1, max=100),
                                    metadata=_label("折扣（%）", "Discount (% of list price)"))
    tariff_note = _text("资费说明", "Tariff note")


@form("solution_design")
class SolutionDesign(Schema):
    """方案制定 (customer manager): the solution offered to the customer."""

    solution = _text("解决方案", "Solution", required=True)


@form("solution_confirmation")
class SolutionConfirmation(Schema):
    """方案确认 (customer manager records the customer's answer)."""

    solution_accepted = fields.Boolean(required=True, metadata=_label("客户接受方案", "Customer accepts"))
    customer_feedback = _text("客户意见", "Customer feedback")

    @validates_schema
    def _feedback_when_rejected(self, data, **_kwargs):
        if data.get("solution_accepted") is False and not data.get("customer_feedback"):
            raise ValidationError({"customer_feedback": ["Say what the customer wants changed."]})


@form("group_order_contract")
class GroupOrderContract(Schema):
    """合同签订 (customer manager)."""

    contract_no = fields.String(required=True, validate=validate.Length(min=1, max=64),
                                metadata=_label("合同编号", "Contract number"))
    contract_amount = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0),
                                   metadata=_label("合同金额（元）", "Contract amount (CNY)"))
    contract_months = fields.Integer(load_default=12, validate=validate.Range(min=1, max=120),
                                     metadata=_label("合同期（月）", "Term (months)"))
    signed_on = fields.Date(required=True, metadata=_label("签订日期", "Signed on"))


@form("no_resource_notice")
class NoResourceNotice(Schema):
    """通知无资源 (customer manager): tell the customer, close the opportunity."""

    close_note = _text("处理说明", "What the customer was told")

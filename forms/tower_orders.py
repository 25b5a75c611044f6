"""Forms of 铁塔需求立项 (processes/tower_order.bpmn, Flow 1). The field names are the flow's
variable names; docs/flows/tower_order.md lists which step uses which form."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from . import form
from .builders import choice, label, text
from .fields import IMAGES_AND_PDF, FileUpload

INTEGRATION_RESULTS = {
    "new_site": {"zh": "新建站址", "en": "New site"},
    "share_existing": {"zh": "存量共享", "en": "Share an existing site"},
    "unplannable": {"zh": "无法规划", "en": "Cannot be planned"},
}
AREA_TYPES = {
    "urban": {"zh": "城区", "en": "Urban"},
    "suburban": {"zh": "郊区", "en": "Suburban"},
    "rural": {"zh": "农村", "en": "Rural"},
}
BUILD_MODES = {key: INTEGRATION_RESULTS[key] for key in ("new_site", "share_existing")}
SCREENING_RESULTS = {
    "success": {"zh": "筛查成功", "en": "Site found"},
    "failure": {"zh": "筛查失败（需选址谈判）", "en": "No site (negotiate one)"},
}
ORDER_ACTIONS = {
    "save": {"zh": "保存（稍后修改、导出）", "en": "Save (modify or export later)"},
    "send": {"zh": "发送订单", "en": "Send the order"},
    "cancel": {"zh": "取消订单", "en": "Cancel the order"},
}
OPERATOR_NAMES = {"china_mobile": "中国移动", "china_unicom": "中国联通", "china_telecom": "中国电信"}
DEFAULT_COST_STANDARD = 50000.0  # CNY per year; planning may change it per demand


def _required_when(data: dict, condition: bool, names: tuple[str, ...], why: str) -> None:
    if condition:
        missing = {name: [why] for name in names if data.get(name) in (None, "")}
        if missing:
            raise ValidationError(missing)


@form("tower_order_start")
class TowerOrderStart(Schema):
    """The demand as submitted (需求提交): engine.demand_flow.submit passes the stored demand."""

    demand_no = text("需求编号", "Demand number", required=True, max_length=64)
    operator = fields.String(required=True, validate=validate.OneOf(list(OPERATOR_NAMES)),
                             metadata=label("运营商", "Operator", widget="choice",
                                            choice_labels={k: {"zh": v, "en": k} for k, v in OPERATOR_NAMES.items()}))
    province = text("省", "Province", required=True, max_length=50)
    city = text("市", "City", required=True, max_length=50)
    county = text("区县", "County", required=True, max_length=50)
    site_name = text("站址名称", "Site name", required=True)
    longitude = fields.Float(required=True, validate=validate.Range(min=73.5, max=135.1),
                             metadata=label("经度", "Longitude"))
    latitude = fields.Float(required=True, validate=validate.Range(min=3.8, max=53.6),
                            metadata=label("纬度", "Latitude"))
    tower_type = text("铁塔类型", "Tower type", required=True, max_length=50)
    antenna_height = fields.Float(required=True, validate=validate.Range(min=0, min_inclusive=False),
                                  metadata=label("天线挂高(米)", "Antenna height (m)"))
    demand_type = text("需求类型", "Demand type", required=True, max_length=50)
    expected_delivery = fields.Date(required=True, metadata=label("期望交付日期", "Expected delivery"))
    remarks = text("备注", "Remarks", max_length=1000, widget="textarea")
    customer_manager = text("客户经理", "Customer manager", max_length=100)
    customer_manager_phone = fields.String(load_default="", validate=validate.Regexp(r"^(\+?\d{5,20})?$"),
                                           metadata=label("客户经理手机", "Customer manager's mobile"))


@form("operator_confirmation")
class OperatorConfirmation(Schema):
    """The operator's online confirmations (需求确认, 筛查确认, 订单确认, 验收确认): confirm, or
    send back with a reason."""

    confirmed = fields.Boolean(required=True, metadata=label("确认", "Confirm"))
    confirm_comment = text("意见", "Comment", max_length=2000, widget="textarea")

    @validates_schema
    def _reason_when_refused(self, data, **_kwargs):
        _required_when(data, data.get("confirmed") is False, ("confirm_comment",), "Say why it is sent back.")


@form("demand_integration")
class DemandIntegration(Schema):
    """需求整合 (planning): new site, share an existing site, or cannot be planned."""

    integration_result = choice("整合结果", "Result", INTEGRATION_RESULTS, required=True)
    area_type = choice("区域类型", "Area type", AREA_TYPES, load_default="urban")
    cost_standard = fields.Float(load_default=DEFAULT_COST_STANDARD, validate=validate.Range(min=0),
                                 metadata=label("费用标准（元/年）", "Cost standard (CNY/year)"))
    unplannable_reason = text("无法规划原因", "Why it cannot be planned", max_length=2000, widget="textarea")
    integration_note = text("整合说明", "Note", max_length=2000, widget="textarea")

    @validates_schema
    def _reason_when_unplannable(self, data, **_kwargs):
        _required_when(data, data.get("integration_result") == "unplannable", ("unplannable_reason",),
                       "Required when the demand cannot be planned.")


@form("screening_dispatch")
class ScreeningDispatch(Schema):
    """派发站址筛查 (dispatcher): the regional managers' pool gets the task with a deadline."""

    screening_days = fields.Integer(load_default=3, validate=validate.Range(min=1, max=15),
                                    metadata=label("筛查期限（天）", "Days for the screening"))
    screening_note = text("派单说明", "Dispatch note", max_length=2000, widget="textarea")


@form("screening_return")
class ScreeningReturn(Schema):
    """站址筛查回单 (regional manager): success with the site to use, or failure, with the survey."""

    screening_result = choice("筛查结果", "Result", SCREENING_RESULTS, required=True)
    build_mode = choice("建设方式", "Build mode", BUILD_MODES, load_default=None, allow_none=True)
    site_code = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64),
                              metadata=label("共享站址编码", "Shared site code"))
    survey_note = text("勘察数据", "Survey data", max_length=4000, widget="textarea")
    survey_photos = FileUpload(multiple=True, max_size=10 * 1024 * 1024, content_types=IMAGES_AND_PDF,
                               load_default=list, metadata=label("勘察照片", "Survey photos"))

    @validates_schema
    def _site_when_found(self, data, **_kwargs):
        found = data.get("screening_result") == "success"
        _required_when(data, found, ("build_mode",), "Required when the screening succeeded.")
        _required_when(data, found and data.get("build_mode") == "share_existing", ("site_code",),
                       "Required when an existing site is shared.")


@form("order_form")
class OrderForm(Schema):
    """订单编制 / 订单修改 (customer manager): the order confirmation form, then save, send or cancel."""

    order_no = text("订单编号", "Order number", required=True, max_length=64)
    build_mode = choice("建设方式", "Build mode", BUILD_MODES, required=True)
    site_code = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64),
                              metadata=label("站址编码", "Site code"))
    share_count = fields.Integer(load_default=1, validate=validate.Range(min=1, max=3),
                                 metadata=label("共享运营商数", "Operators sharing"))
    annual_fee = fields.Decimal(required=True, places=2, as_string=True,
                                validate=validate.Range(min=0, min_inclusive=False),
                                metadata=label("年服务费（元）", "Annual fee (CNY)"))
    order_note = text("说明", "Note", max_length=2000, widget="textarea")
    order_action = choice("操作", "Action", ORDER_ACTIONS, required=True)

    @validates_schema
    def _reason_when_cancelled(self, data, **_kwargs):
        _required_when(data, data.get("order_action") == "cancel", ("order_note",), "Say why the order is cancelled.")


@form("project_start")
class ProjectStart(Schema):
    """发项目建设 (regional manager): the project handed to PMS."""

    project_name = text("项目名称", "Project name", required=True)
    planned_start = fields.Date(required=True, metadata=label("计划开工", "Planned start"))
    planned_finish = fields.Date(required=True, metadata=label("计划完工", "Planned finish"))
    project_note = text("说明", "Note", max_length=2000, widget="textarea")

    @validates_schema
    def _finish_after_start(self, data, **_kwargs):
        start, finish = data.get("planned_start"), data.get("planned_finish")
        if start and finish and finish < start:
            raise ValidationError({"planned_finish": ["Must not be before the planned start."]})


@form("delivery_form")
class DeliveryForm(Schema):
    """交付验收单 (customer manager): the delivery date and the scanned documents and photos."""

    delivered_on = fields.Date(required=True, metadata=label("交付日期", "Delivered on"))
    scans = FileUpload(multiple=True, required=True, max_size=10 * 1024 * 1024, content_types=IMAGES_AND_PDF,
                       metadata=label("扫描件及照片", "Scans and photos"))
    delivery_note = text("说明", "Note", max_length=2000, widget="textarea")

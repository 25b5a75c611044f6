"""Forms of the site flows (选址谈判, 疑难站址)."""

from marshmallow import Schema, fields, validate

from . import form

DIFFICULT_REASONS = {
    "owner_refuses": {"zh": "业主拒绝", "en": "Owner refuses"},
    "planning_restriction": {"zh": "规划限制", "en": "Planning restriction"},
    "cost_far_above_standard": {"zh": "费用远超标准", "en": "Cost far above standard"},
    "other": {"zh": "其他", "en": "Other"},
}


@form("difficult_site_application")
class DifficultSiteApplication(Schema):
    """疑难站址入库申请: the regional manager proposes a site for the difficult-site library."""

    site_name = fields.String(required=True, validate=validate.Length(min=1, max=200),
                              metadata={"label": {"zh": "站址名称", "en": "Site name"}})
    demand_no = fields.String(load_default="", validate=validate.Length(max=64),
                              metadata={"label": {"zh": "需求编号", "en": "Demand number"}})
    reason = fields.String(required=True, validate=validate.OneOf(list(DIFFICULT_REASONS)),
                           metadata={"label": {"zh": "疑难原因", "en": "Reason"}, "widget": "choice",
                                     "choice_labels": DIFFICULT_REASONS})
    description = fields.String(load_default="", validate=validate.Length(max=4000),
                                metadata={"label": {"zh": "情况说明", "en": "Details"}, "widget": "textarea"})

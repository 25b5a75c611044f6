"""Demonstration forms that use every widget the pages can draw (tests and demos use them)."""

from marshmallow import Schema, fields, validate

from . import form
from .fields import IMAGES_AND_PDF, FileUpload

SURVEY_RESULTS = {
    "success": {"zh": "筛查成功", "en": "Screening succeeded"},
    "failure": {"zh": "筛查失败", "en": "Screening failed"},
}
OPERATORS = {
    "china_mobile": {"zh": "中国移动", "en": "China Mobile"},
    "china_unicom": {"zh": "中国联通", "en": "China Unicom"},
    "china_telecom": {"zh": "中国电信", "en": "China Telecom"},
}
URGENCY = {
    "normal": {"zh": "普通", "en": "Normal"},
    "urgent": {"zh": "紧急", "en": "Urgent"},
}


@form("site_survey")
class SiteSurvey(Schema):
    """站址筛查回单: the regional manager returns a screening with survey data and photos."""

    site_name = fields.String(required=True, validate=validate.Length(min=1, max=200),
                              metadata={"label": {"zh": "站址名称", "en": "Site name"}})
    result = fields.String(required=True, validate=validate.OneOf(list(SURVEY_RESULTS)),
                           metadata={"label": {"zh": "筛查结果", "en": "Screening result"}, "widget": "choice",
                                     "choice_labels": SURVEY_RESULTS})
    tower_height = fields.Float(required=True, validate=validate.Range(min=0, max=150),
                                metadata={"label": {"zh": "塔高（米）", "en": "Tower height (m)"},
                                          "help": {"zh": "0 到 150 米", "en": "0 to 150 metres"}})
    survey_date = fields.Date(required=True, metadata={"label": {"zh": "勘察日期", "en": "Survey date"}})
    next_visit = fields.NaiveDateTime(load_default=None, allow_none=True,
                                      metadata={"label": {"zh": "下次上站时间", "en": "Next site visit"}})
    sharing = fields.List(fields.String(), load_default=list,
                          validate=validate.ContainsOnly(list(OPERATORS)),
                          metadata={"label": {"zh": "共享运营商", "en": "Sharing operators"},
                                    "widget": "multichoice", "choice_labels": OPERATORS})
    power_available = fields.Boolean(required=True,
                                     metadata={"label": {"zh": "市电可用", "en": "Mains power available"}})
    notes = fields.String(load_default="", validate=validate.Length(max=4000),
                          metadata={"label": {"zh": "勘察说明", "en": "Survey notes"}, "widget": "textarea"})
    photos = FileUpload(multiple=True, max_size=5 * 1024 * 1024, content_types=IMAGES_AND_PDF,
                        load_default=list,
                        metadata={"label": {"zh": "现场照片及扫描件", "en": "Site photos and scans"}})


@form("screening_request")
class ScreeningRequest(Schema):
    """站址筛查派单: the dispatcher starts a screening for an area."""

    site_name = fields.String(required=True, validate=validate.Length(min=1, max=200),
                              metadata={"label": {"zh": "站址名称", "en": "Site name"}})
    urgency = fields.String(load_default="normal", validate=validate.OneOf(list(URGENCY)),
                            metadata={"label": {"zh": "紧急程度", "en": "Urgency"}, "widget": "choice",
                                      "choice_labels": URGENCY})
    deadline = fields.Date(load_default=None, allow_none=True,
                           metadata={"label": {"zh": "要求完成日期", "en": "Required by"}})
    attachment = FileUpload(load_default=None, allow_none=True, max_size=5 * 1024 * 1024,
                            metadata={"label": {"zh": "需求附件", "en": "Demand attachment"}})

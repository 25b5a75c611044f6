"""Forms of 合同到期预警 (processes/contract_expiry.bpmn); see docs/flows/contract_expiry.md."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from . import form
from .builders import label as _label

RENEWAL_OUTCOMES = {
    "renewing": {"zh": "续签洽谈中", "en": "Renewal under way"},
    "renewed": {"zh": "已续签", "en": "Renewed"},
    "not_renewed": {"zh": "不再续签", "en": "Not renewed"},
}




@form("contract_renewal")
class ContractRenewal(Schema):
    """合同续签 (customer manager): what became of the contract after the expiry warning."""

    renewal_outcome = fields.String(required=True, validate=validate.OneOf(list(RENEWAL_OUTCOMES)),
                                    metadata=_label("续签结果", "Renewal outcome", widget="choice",
                                                    choice_labels=RENEWAL_OUTCOMES))
    new_expires_on = fields.Date(load_default=None, allow_none=True,
                                 metadata=_label("新到期日", "New expiry date",
                                                 help={"zh": "已续签时填写", "en": "When renewed"}))
    renewal_note = fields.String(load_default="", validate=validate.Length(max=2000),
                                 metadata=_label("说明", "Note", widget="textarea"))

    @validates_schema
    def _renewed_needs_date(self, data, **_kwargs):
        if data.get("renewal_outcome") == "renewed" and not data.get("new_expires_on"):
            raise ValidationError({"new_expires_on": ["Required when the contract was renewed."]})

"""JSON (de)serialization of specs and workflows with SpiffWorkflow's serializer.

A process version's spec is stored once on its definition row; an instance row stores
only the workflow state, and the spec is put back on load.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

_registry = BpmnWorkflowSerializer.configure(SPIFF_CONFIG)
_registry.register(Decimal, lambda d: {"value": str(d)}, lambda dct: Decimal(dct["value"]), typename="Decimal")
SERIALIZER = BpmnWorkflowSerializer(_registry)


class _Encoder(SERIALIZER._encoder_cls):
    """SpiffWorkflow's encoder (typed dates, times, decimals); anything else as its text."""

    def default(self, obj):
        try:
            return super().default(obj)
        except TypeError:
            return str(obj)


def specs_to_json(spec: Any, subprocess_specs: dict[str, Any]) -> str:
    """A process spec and the specs it calls, as canonical JSON (sorted keys)."""
    data = {
        "spec": SERIALIZER.to_dict(spec),
        "subprocess_specs": {name: SERIALIZER.to_dict(sp) for name, sp in subprocess_specs.items()},
    }
    return json.dumps(data, sort_keys=True, default=str)


def specs_from_json(text: str) -> tuple[Any, dict[str, Any]]:
    data = json.loads(text)
    spec = SERIALIZER.from_dict(data["spec"])
    subs = {name: SERIALIZER.from_dict(sp) for name, sp in data["subprocess_specs"].items()}
    return spec, subs


def workflow_to_json(workflow: BpmnWorkflow) -> str:
    """The workflow's state without its specs (they live on the definition)."""
    data = SERIALIZER.to_dict(workflow)
    data.pop("spec", None)
    data.pop("subprocess_specs", None)
    # SpiffWorkflow's encoder writes dates, times and decimals in task data as typed values
    # that from_dict restores; plain json would turn them into text for good.
    return json.dumps(data, cls=_Encoder)


def workflow_from_json(text: str, spec_json: str) -> BpmnWorkflow:
    data = json.loads(text)
    specs = json.loads(spec_json)
    data["spec"] = specs["spec"]
    data["subprocess_specs"] = specs["subprocess_specs"]
    return SERIALIZER.from_dict(data)

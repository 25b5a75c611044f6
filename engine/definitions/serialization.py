"""JSON (de)serialization of specs and workflows with SpiffWorkflow's serializer.

A process version's spec is stored once on its definition row; an instance row stores
only the workflow state, and the spec is put back on load.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

_registry = BpmnWorkflowSerializer.configure(SPIFF_CONFIG)
_registry.register(Decimal, lambda d: {"value": str(d)}, lambda dct: Decimal(dct["value"]), typename="Decimal")


class _WorkflowStateConverter(BpmnWorkflowConverter):
    """A top-level workflow as its state only. SpiffWorkflow's own converter writes the specs
    into every dict and reads them back from it: per step that is most of the serializer's
    time, for specs that never change. Here they are left out, and put back from the objects
    the platform keeps per definition (``from_dict(dct, specs=(spec, subprocess_specs))``)."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict:
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict, specs: tuple[Any, dict[str, Any]] | None = None) -> BpmnWorkflow:
        if specs is None:
            spec = self.registry.restore(dct.pop("spec"))
            subprocess_specs = self.mapping_from_dict(dct.pop("subprocess_specs", {}))
        else:
            spec, subprocess_specs = specs
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_WorkflowStateConverter(BpmnWorkflow, _registry)  # replaces SpiffWorkflow's for BpmnWorkflow
SERIALIZER = BpmnWorkflowSerializer(_registry)
SERIALIZER_VERSION: str = SERIALIZER.VERSION
"""The format version of the workflow state it writes ("1.5" for SpiffWorkflow 3.2.0), stored with
every instance's state (``ProcessInstance.serializer_version``)."""


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
    # SpiffWorkflow's encoder writes dates, times and decimals in task data as typed values
    # that from_dict restores; plain json would turn them into text for good.
    return json.dumps(data, cls=_Encoder)


def workflow_from_json(text: str, specs: str | tuple[Any, dict[str, Any]]) -> BpmnWorkflow:
    """A workflow from its state and its definition's specs: the spec JSON, or (faster) the
    spec objects of ``specs_from_json``, which several workflows may share (never changed)."""
    data = json.loads(text)
    data.pop("spec", None)
    data.pop("subprocess_specs", None)
    if isinstance(specs, str):
        specs = specs_from_json(specs)
    return SERIALIZER.from_dict(data, specs=specs)

"""JSON (de)serialization of specs and workflows with SpiffWorkflow's serializer.

A process version's spec is stored once on its definition row; an instance row stores
only the workflow state, and the spec is put back on load.

The workflow state is written and read with orjson (issue 16: on Flow 1's and a long loop's
states its text is written 10 x and read 1.6-1.9 x as fast as by the standard library). The
text differs from ``json.dumps``' in form only: no spaces, and characters beyond ASCII written as
themselves, not as ``\\u`` escapes (the two exceptions in content are in ``_dumps``). The state
written before reads the same, and ``serializer_version`` (the format of the dictionary,
SpiffWorkflow's) is unchanged by it. What orjson cannot represent exactly falls back to the
standard library both ways.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
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


_ENCODER = _Encoder()
_DIGITS = bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256))  # every digit to "0", the rest to " "
_LONG_NUMBER = b"0" * 19  # -2**63 - 1 has 19 digits; orjson reads integers beyond 64 bits as floats


def _dumps(data: Any) -> str:
    """orjson with SpiffWorkflow's encoder for what is left unconverted, as ``json.dumps(cls=_Encoder)``
    would write it (dates and dataclasses too go to the encoder, not orjson's own format). Integers
    beyond 64 bits, keys that are not text, lone surrogates and nesting deeper than 254 levels are
    refused by orjson: the standard library writes those. Two differences in content, for values
    process data hardly holds: not a number and infinity are written as null (``json.dumps`` wrote
    ``NaN``, which is not JSON), and an ``Enum`` member as its value (it wrote its name as text)."""
    try:
        return orjson.dumps(data, default=_ENCODER.default,
                            option=orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS).decode()
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(data, cls=_Encoder)


def _loads(text: str) -> Any:
    """orjson, unless the text holds a run of 19 digits or more (an integer orjson would turn into a
    float) or what only the standard library reads (``NaN``, ``Infinity``, lone surrogates)."""
    if _LONG_NUMBER in text.encode("utf-8", "surrogatepass").translate(_DIGITS):
        return json.loads(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


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
    # SpiffWorkflow's registry writes datetimes, timedeltas and decimals in task data as typed
    # values that from_dict restores; plain json would turn them into text for good (as it
    # does dates and times, which the registry does not know).
    return _dumps(data)


def workflow_from_json(text: str, specs: str | tuple[Any, dict[str, Any]]) -> BpmnWorkflow:
    """A workflow from its state and its definition's specs: the spec JSON, or (faster) the
    spec objects of ``specs_from_json``, which several workflows may share (never changed)."""
    data = _loads(text)
    data.pop("spec", None)
    data.pop("subprocess_specs", None)
    if isinstance(specs, str):
        specs = specs_from_json(specs)
    return SERIALIZER.from_dict(data, specs=specs)

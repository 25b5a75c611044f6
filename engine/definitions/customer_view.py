"""Which variables of a process its customer (an operator tenant's user) may read.

A process declares them itself, on the ``bpmn:process`` element, as a comma-separated
``customerVariables`` property::

    <bpmn:process id="tower_order">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="customerVariables" value="demand_no,site_name,confirmed"/>
        </spiffworkflow:properties>
      </bpmn:extensionElements>

Everything not named there is internal. The list is read from the deployed BPMN file when
first needed and cached by the definition's content hash (a deployed version never changes),
so no column is needed and older deployments simply declare nothing (all internal).
"""

from __future__ import annotations

import re
import threading

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.definitions.deployments import definition_file
from engine.definitions.validation import NSMAP
from engine.models import ProcessDefinition

PROPERTY = "customerVariables"
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CACHE: dict[tuple[str, str], frozenset[str]] = {}
_LOCK = threading.Lock()


def declared_names(xml: bytes | str, process_key: str) -> frozenset[str]:
    """The names the process's ``customerVariables`` property lists (empty when it has none)."""
    return frozenset(name for name in split(declared_value(xml, process_key) or "") if NAME.match(name))


def declared_value(xml: bytes | str, process_key: str) -> str | None:
    """The raw property value, or None when the process declares nothing."""
    data = xml.encode() if isinstance(xml, str) else xml
    try:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return None
    for process in root.iterfind("bpmn:process", NSMAP):
        if process.get("id") != process_key:
            continue
        found = process.xpath("bpmn:extensionElements/spiffworkflow:properties/"
                              f"spiffworkflow:property[@name='{PROPERTY}']/@value", namespaces=NSMAP)
        return str(found[0]) if found else None
    return None


def split(value: str) -> list[str]:
    return [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]


def bad_names(value: str) -> list[str]:
    """Entries that cannot be variable names (a lint warning: they would match nothing)."""
    return [name for name in split(value) if not NAME.match(name)]


def cached_names(content_hash: str, process_key: str, load_xml) -> frozenset[str]:
    """``declared_names`` once per deployed version; ``load_xml()`` is called only on a miss."""
    key = (content_hash, process_key)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
    names = declared_names(load_xml(), process_key)
    with _LOCK:
        if len(_CACHE) > 2000:
            _CACHE.clear()
        _CACHE[key] = names
    return names


def names_of(session: Session, definition_id: int) -> frozenset[str]:
    """The variables a deployed definition declares customer-visible."""
    row = session.execute(select(ProcessDefinition.content_hash, ProcessDefinition.key)
                          .where(ProcessDefinition.id == definition_id)).one_or_none()
    if row is None:
        return frozenset()

    def load() -> bytes:
        content = definition_file(session, session.get(ProcessDefinition, definition_id)).content
        return content.encode() if isinstance(content, str) else content

    return cached_names(row.content_hash, row.key, load)


# What a customer's copy of a diagram leaves out: everything that names variables or holds code.
_STRIPPED = ("extensionElements", "script", "conditionExpression", "documentation", "property", "dataObject",
             "dataObjectReference", "ioSpecification", "dataInputAssociation", "dataOutputAssociation",
             "loopDataInputRef", "loopDataOutputRef", "inputDataItem", "outputDataItem", "loopCardinality",
             "completionCondition", "correlationPropertyRetrievalExpression", "messagePath")
_EMPTIED = ("timeDuration", "timeDate", "timeCycle")


def diagram_for(xml: bytes | str, customer: bool, lane_label=None) -> str:
    """The diagram a page draws: for a customer without scripts, conditions, extension
    properties and data references (they name internal variables); lanes named by
    ``lane_label`` (group id -> words) for everyone. Drawing information is kept as it is."""
    data = xml.encode() if isinstance(xml, str) else xml
    try:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return data.decode("utf-8", "replace")
    bpmn = NSMAP["bpmn"]
    if customer:
        for local in _STRIPPED:
            for element in root.iter(f"{{{bpmn}}}{local}"):
                if element.getparent() is not None:
                    element.getparent().remove(element)
        for local in _EMPTIED:
            for element in root.iter(f"{{{bpmn}}}{local}"):
                element.text = ""
    if lane_label is not None:
        for lane in root.iter(f"{{{bpmn}}}lane"):
            if lane.get("name"):
                lane.set("name", lane_label(lane.get("name")))
    return etree.tostring(root, encoding="unicode")

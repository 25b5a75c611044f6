"""Every diagram shipped in processes/ is fully laid out and draws in the pages' bpmn-js viewer."""

from pathlib import Path

import pytest
from lxml import etree
from pages import sign_in

from engine.definitions import deployments
from engine.principal import SYSTEM

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DI = "http://www.omg.org/spec/BPMN/20100524/DI"
DIAGRAMS = sorted(PROCESSES.glob("*.bpmn"))


def drawable_ids(path: Path) -> tuple[set[str], set[str]]:
    """Ids of the flow elements of every process, and ids that have a shape or an edge."""
    root = etree.parse(str(path)).getroot()
    elements = set()
    for process in root.iter(f"{{{BPMN}}}process"):
        for element in process.iter():
            tag = etree.QName(element).localname if isinstance(element.tag, str) else ""
            if element.get("id") and (tag.endswith(("Task", "Event", "Gateway", "Flow")) or
                                      tag in ("task", "subProcess", "callActivity", "lane")):
                elements.add(element.get("id"))
    drawn = {e.get("bpmnElement") for e in root.iter(f"{{{DI}}}BPMNShape", f"{{{DI}}}BPMNEdge")}
    return elements, drawn


@pytest.mark.parametrize("path", DIAGRAMS, ids=lambda p: p.name)
def test_every_element_has_a_shape_or_an_edge(path):
    elements, drawn = drawable_ids(path)
    assert elements - drawn == set()


def test_every_shipped_diagram_draws_in_the_viewer(platform, new_page, users):
    files = {p.name: p.read_bytes() for p in PROCESSES.iterdir() if p.suffix in (".bpmn", ".dmn")}
    summary = deployments.deploy(platform, SYSTEM, files)
    users("designer1", ["designer"])
    page = new_page("en")
    sign_in(page, "designer1")
    for item in summary["processes"]:
        page.goto(f"/definitions/{item['key']}/{item['version']}")
        diagram = page.locator("[data-testid=diagram]")
        page.wait_for_selector("[data-testid=diagram][data-ready]")
        assert diagram.get_attribute("data-ready") == "true", item["key"]
        assert page.locator(".djs-element.djs-shape").count() > 3, item["key"]

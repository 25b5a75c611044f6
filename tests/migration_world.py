"""Changed versions of Flow 2 (processes/site_negotiation.bpmn) for the instance-migration tests.

Each variant is the real diagram with one edit, deployed as the next version of
site_negotiation: a renamed step plus a new check after the progress report, the report
without its deadline timer, the deadline timer on another time, the acceptance step removed,
the cancel message removed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from engine.definitions import deployments
from engine.models import ProcessDefinition
from engine.principal import SYSTEM

PROCESSES = Path(__file__).parents[1] / "processes"
sys.path.insert(0, str(Path(__file__).parent / "flows"))  # the flow tests' drivers (tower order, negotiation)

ORIGINAL = (PROCESSES / "site_negotiation.bpmn").read_text(encoding="utf-8")
NEW_STEP = """<bpmn:userTask id="check_report" name="复核谈址进展">
        <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formKey" value="comment"/>
          <spiffworkflow:property name="candidateUsers" value="${negotiator}"/>
        </spiffworkflow:properties>
      </bpmn:extensionElements>
        <bpmn:incoming>Flow_report_outcome</bpmn:incoming>
        <bpmn:outgoing>Flow_check_outcome</bpmn:outgoing>
      </bpmn:userTask>
      <bpmn:sequenceFlow id="Flow_check_outcome" sourceRef="check_report" targetRef="outcome_gw"/>
      """
TIMER = ('<bpmn:boundaryEvent id="deadline" name="谈址期限到" attachedToRef="report" cancelActivity="true">\n'
         '        <bpmn:outgoing>Flow_deadline_overdue</bpmn:outgoing>\n'
         '        <bpmn:timerEventDefinition id="Ted_deadline"><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">'
         'deadline_timer</bpmn:timeDuration></bpmn:timerEventDefinition>\n'
         '      </bpmn:boundaryEvent>')


def _replace(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def renamed_with_new_step() -> str:
    """反馈谈址进展 renamed, and 复核谈址进展 added between the report and its outcome."""
    text = _replace(ORIGINAL, '<bpmn:userTask id="report" name="反馈谈址进展">',
                    '<bpmn:userTask id="report" name="反馈谈址进展（新）">')
    text = _replace(text, '<bpmn:sequenceFlow id="Flow_report_outcome" sourceRef="report" targetRef="outcome_gw"/>',
                    NEW_STEP + '<bpmn:sequenceFlow id="Flow_report_outcome" sourceRef="report" '
                    'targetRef="check_report"/>')
    return text


def without_timer() -> str:
    """The report has no deadline any more (the overdue branch is left unreached)."""
    text = _replace(ORIGINAL, TIMER, "")
    return _replace(text, '<bpmn:sequenceFlow id="Flow_deadline_overdue" sourceRef="deadline" '
                    'targetRef="overdue_request"/>', "")


def without_cancel() -> str:
    """The cancel message no longer ends the negotiation (its record step is left unreached)."""
    start = ORIGINAL.index('<bpmn:boundaryEvent id="cancel"')
    end = ORIGINAL.index("</bpmn:boundaryEvent>", start) + len("</bpmn:boundaryEvent>")
    text = ORIGINAL[:start] + ORIGINAL[end:]
    flow = '<bpmn:sequenceFlow id="Flow_cancel_mark" sourceRef="cancel" targetRef="mark_cancelled"/>'
    return _replace(text, flow, "")


def other_timer() -> str:
    """The deadline fires a fixed day after the report opens."""
    return _replace(ORIGINAL, "deadline_timer</bpmn:timeDuration>", "&quot;P1D&quot;</bpmn:timeDuration>")


def without_accept() -> str:
    """接收谈址任务 removed: the plan goes straight to the timer."""
    start = ORIGINAL.index('<bpmn:userTask id="accept"')
    end = ORIGINAL.index("</bpmn:userTask>", start) + len("</bpmn:userTask>")
    text = ORIGINAL[:start] + ORIGINAL[end:]
    text = _replace(text, '<bpmn:sequenceFlow id="Flow_clock_accept" sourceRef="start_clock" targetRef="accept"/>',
                    '<bpmn:sequenceFlow id="Flow_clock_accept" sourceRef="start_clock" targetRef="set_timer"/>')
    return _replace(text, '<bpmn:sequenceFlow id="Flow_accept_timer" sourceRef="accept" targetRef="set_timer"/>', "")


def deploy_variant(platform, text: str) -> int:
    """Deploy ``text`` as the next version of site_negotiation; its definition id."""
    deployments.deploy(platform, SYSTEM, {"site_negotiation.bpmn": text.encode("utf-8")})
    with platform.Session() as session:
        return max(d.id for d in session.query(ProcessDefinition).filter_by(key="site_negotiation"))


def definition_id(platform, key: str, version: int) -> int:
    with platform.Session() as session:
        return session.query(ProcessDefinition).filter_by(key=key, version=version).one().id

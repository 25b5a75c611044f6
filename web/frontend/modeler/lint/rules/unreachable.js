// An element no path from a start event reaches (in its process or subprocess): it never runs.
// Boundary events count as reached with their activity; event subprocesses, compensation
// handlers and link catch events start by other means and are left out.
import { is, isAny } from 'bpmnlint-utils';

import { eventDefinitionsAre, isEventSubProcess } from './util.js';

function startsOtherwise(node) {
  return is(node, 'bpmn:StartEvent') || isEventSubProcess(node) ||
    (is(node, 'bpmn:Activity') && node.isForCompensation) ||
    (is(node, 'bpmn:IntermediateCatchEvent') && eventDefinitionsAre(node, 'bpmn:LinkEventDefinition'));
}

function reachable(nodes) {
  const seen = new Set();
  const queue = nodes.filter(startsOtherwise);
  const boundaries = nodes.filter((n) => is(n, 'bpmn:BoundaryEvent'));
  while (queue.length) {
    const node = queue.pop();
    if (seen.has(node)) {
      continue;
    }
    seen.add(node);
    (node.outgoing || []).forEach((flow) => flow.targetRef && queue.push(flow.targetRef));
    boundaries.filter((b) => b.attachedToRef === node).forEach((b) => queue.push(b));
  }
  return seen;
}

export default function unreachable() {
  return {
    check(node, reporter) {
      if (!isAny(node, [ 'bpmn:Process', 'bpmn:SubProcess' ]) || is(node, 'bpmn:AdHocSubProcess')) {
        return;
      }
      const nodes = (node.flowElements || []).filter((e) => is(e, 'bpmn:FlowNode'));
      if (!nodes.some((n) => is(n, 'bpmn:StartEvent'))) {
        return; // start-event-required says so
      }
      const seen = reachable(nodes);
      nodes.filter((n) => !seen.has(n) && !startsOtherwise(n)).forEach((n) => {
        reporter.report(n.id, 'Element cannot be reached from a start event');
      });
    }
  };
}

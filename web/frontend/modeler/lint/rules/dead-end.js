// A dead end: a flow node other than an end event with no outgoing sequence flow. The engine
// would finish that path silently, which is almost never what was drawn.
import { is, isAny } from 'bpmnlint-utils';

import { eventDefinitionsAre, isEventSubProcess } from './util.js';

function exempt(node) {
  return is(node, 'bpmn:EndEvent') || isEventSubProcess(node) ||
    (is(node, 'bpmn:Activity') && node.isForCompensation) ||
    (is(node, 'bpmn:BoundaryEvent') && eventDefinitionsAre(node, 'bpmn:CompensateEventDefinition')) ||
    (is(node, 'bpmn:IntermediateThrowEvent') && eventDefinitionsAre(node, 'bpmn:LinkEventDefinition')) ||
    is(node.$parent, 'bpmn:AdHocSubProcess');
}

export default function deadEnd() {
  return {
    check(node, reporter) {
      if (isAny(node, [ 'bpmn:Event', 'bpmn:Activity', 'bpmn:Gateway' ]) && !exempt(node) &&
          !(node.outgoing || []).length) {
        reporter.report(node.id, 'Dead end: the element has no outgoing flow and is not an end event');
      }
    }
  };
}

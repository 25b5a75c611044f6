// Helpers TowerFlow's bpmnlint rules share: the engine's spiffworkflow:properties and lanes.

import { is } from 'bpmnlint-utils';

/** The value of a spiffworkflow:property (trimmed), or ''. */
export function property(node, name) {
  const extensions = node.extensionElements;
  const values = (extensions && extensions.values) || [];
  for (const value of values) {
    if (is(value, 'spiffworkflow:Properties')) {
      const found = (value.values || []).find((p) => p.name === name);
      if (found) {
        return String(found.value || '').trim();
      }
    }
  }
  return '';
}

function inLaneSet(laneSet, node) {
  return !!laneSet && (laneSet.lanes || []).some((lane) => (
    (lane.flowNodeRef || []).includes(node) || inLaneSet(lane.childLaneSet, node)));
}

/** Is the node in a lane of its process (the engine offers it to the lane's group then)? */
export function inLane(node) {
  let parent = node.$parent;
  while (parent && !is(parent, 'bpmn:Process')) {
    parent = parent.$parent;
  }
  return !!parent && (parent.laneSets || []).some((laneSet) => inLaneSet(laneSet, node));
}

export function isEventSubProcess(node) {
  return is(node, 'bpmn:SubProcess') && !!node.triggeredByEvent;
}

export function eventDefinitionsAre(node, type) {
  const definitions = node.eventDefinitions || [];
  return definitions.length > 0 && definitions.every((d) => is(d, type));
}

// Reading and changing the SpiffWorkflow extensions of BPMN elements, as commands.
//
// Every change is a list of commands run through the properties panel's multi-command
// executor, so one edit is one undo step. Nothing here touches extension elements it does
// not own: other properties and unknown elements stay as they were.

import { getBusinessObject, is } from 'bpmn-js/lib/util/ModelUtil';

export const EXECUTOR = 'properties-panel.multi-command-executor';

export function bo(element) {
  return getBusinessObject(element);
}

export function isType(moddleElement, type) {
  return !!moddleElement && (moddleElement.$type === type ||
    (typeof moddleElement.$instanceOf === 'function' && moddleElement.$instanceOf(type)));
}

export function update(element, moddleElement, properties) {
  return { cmd: 'element.updateModdleProperties', context: { element, moddleElement, properties } };
}

export function run(commandStack, commands) {
  if (commands.length) {
    commandStack.execute(EXECUTOR, commands);
  }
}

function blank(value) {
  return value === undefined || value === null || String(value).trim() === '';
}

export function create(bpmnFactory, type, attrs, parent) {
  const created = bpmnFactory.create(type, attrs);
  if (parent) {
    created.$parent = parent;
  }
  return created;
}

// --- extension elements -------------------------------------------------------------

export function extensionValues(owner) {
  const extensions = owner && owner.get('extensionElements');
  return extensions ? extensions.get('values') : [];
}

export function findExtension(owner, type) {
  return extensionValues(owner).find((value) => isType(value, type));
}

export function findExtensions(owner, type) {
  return extensionValues(owner).filter((value) => isType(value, type));
}

/** Commands adding `value` to the owner's extension elements (created when missing). */
export function addExtension(element, owner, value, bpmnFactory) {
  const commands = [];
  let extensions = owner.get('extensionElements');
  if (!extensions) {
    extensions = create(bpmnFactory, 'bpmn:ExtensionElements', { values: [] }, owner);
    commands.push(update(element, owner, { extensionElements: extensions }));
  }
  value.$parent = extensions;
  commands.push(update(element, extensions, { values: [ ...extensions.get('values'), value ] }));
  return commands;
}

/** Commands removing `value` from the owner's extension elements (dropped when left empty). */
export function removeExtension(element, owner, value) {
  const extensions = owner.get('extensionElements');
  if (!extensions || !extensions.get('values').includes(value)) {
    return [];
  }
  const rest = extensions.get('values').filter((v) => v !== value);
  if (!rest.length) {
    return [ update(element, owner, { extensionElements: undefined }) ];
  }
  return [ update(element, extensions, { values: rest }) ];
}

// --- spiffworkflow:properties -----------------------------------------------------------

export function getProperty(owner, name) {
  const properties = findExtension(owner, 'spiffworkflow:Properties');
  const property = properties && properties.get('values').find((p) => p.get('name') === name);
  return property ? (property.get('value') || '') : '';
}

/** Set one property (a blank value removes it); other properties are left alone. */
export function setPropertyCommands(element, owner, name, value, bpmnFactory) {
  const properties = findExtension(owner, 'spiffworkflow:Properties');
  const property = properties && properties.get('values').find((p) => p.get('name') === name);
  if (blank(value)) {
    if (!property) {
      return [];
    }
    const rest = properties.get('values').filter((p) => p !== property);
    return rest.length ? [ update(element, properties, { values: rest }) ] : removeExtension(element, owner, properties);
  }
  if (property) {
    return [ update(element, property, { value: String(value) }) ];
  }
  const created = create(bpmnFactory, 'spiffworkflow:Property', { name, value: String(value) });
  if (properties) {
    created.$parent = properties;
    return [ update(element, properties, { values: [ ...properties.get('values'), created ] }) ];
  }
  const container = create(bpmnFactory, 'spiffworkflow:Properties', { values: [ created ] });
  created.$parent = container;
  return addExtension(element, owner, container, bpmnFactory);
}

// --- elements holding one text (calledDecisionId, preScript, messageVariable, ...) ----------

export function getBody(owner, type) {
  const found = findExtension(owner, type);
  return found ? (found.get('value') || '') : '';
}

export function setBodyCommands(element, owner, type, value, bpmnFactory) {
  const found = findExtension(owner, type);
  if (blank(value)) {
    return found ? removeExtension(element, owner, found) : [];
  }
  if (found) {
    return [ update(element, found, { value }) ];
  }
  return addExtension(element, owner, create(bpmnFactory, type, { value }), bpmnFactory);
}

// --- the diagram's definitions ----------------------------------------------------------

export function definitionsOf(moddleElement) {
  let current = moddleElement;
  while (current && !is(current, 'bpmn:Definitions')) {
    current = current.$parent;
  }
  return current;
}

export function rootElements(moddleElement, type) {
  const definitions = definitionsOf(moddleElement);
  return definitions ? definitions.get('rootElements').filter((e) => is(e, type)) : [];
}

/** An id not used in the diagram yet: prefix_1, prefix_2, ... */
export function freshId(moddleElement, prefix) {
  const definitions = definitionsOf(moddleElement);
  const ids = definitions && definitions.$model && definitions.$model.ids;
  for (let n = 1; ; n++) {
    const id = `${prefix}_${n}`;
    if (!(ids && ids.assigned(id)) && !findById(definitions, id)) {
      return id;
    }
  }
}

function findById(root, id) {
  if (!root) {
    return false;
  }
  const seen = new Set();
  const walk = (node) => {
    if (!node || typeof node !== 'object' || seen.has(node)) {
      return false;
    }
    seen.add(node);
    if (node.id === id) {
      return true;
    }
    for (const key of Object.keys(node)) {
      if (key.startsWith('$') && key !== '$children') {
        continue;
      }
      const value = node[key];
      if (Array.isArray(value) ? value.some(walk) : (value && value.$type && walk(value))) {
        return true;
      }
    }
    return false;
  };
  return walk(root);
}

// --- what kind of element is it ---------------------------------------------------------

export function eventDefinition(element, type) {
  const definitions = bo(element).get('eventDefinitions') || [];
  return definitions.find((d) => is(d, type));
}

export function isHumanTask(element) {
  return is(element, 'bpmn:UserTask') || is(element, 'bpmn:ManualTask') ||
    (bo(element).$type === 'bpmn:Task');
}

/** Activities on which the engine runs spiffworkflow:preScript / postScript (not script tasks). */
export function runsPrePostScripts(element) {
  return is(element, 'bpmn:Activity') && !is(element, 'bpmn:ScriptTask');
}

/** 'none' or 'message' for a start event of the process itself (not of a subprocess), else null:
    the engine reads starterGroups on both, formKey on the none start event. */
export function topLevelStartKind(element) {
  if (!is(element, 'bpmn:StartEvent') || !is(bo(element).$parent, 'bpmn:Process')) {
    return null;
  }
  const definitions = bo(element).get('eventDefinitions') || [];
  if (!definitions.length) {
    return 'none';
  }
  return definitions.every((d) => is(d, 'bpmn:MessageEventDefinition')) ? 'message' : null;
}

/** The lane a flow node lies in (its innermost one), or null. */
export function laneOf(element) {
  const lanes = bo(element).get('lanes') || [];
  if (lanes.length) {
    return lanes[lanes.length - 1];
  }
  return null;
}

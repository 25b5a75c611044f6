// Each element's properties in a canonical form, one string per property, so two versions can
// be compared property by property. bpmn-js-differ sees changed attributes (name, sourceRef,
// default, ...) but not what changed inside extensionElements, a condition or a timer; these are
// flattened here: spiffworkflow properties by their name (formKey, candidateGroups, dueIn, ...),
// the service operator and each parameter, calledDecisionId, scripts, messages, correlation,
// conditions and timers. Anything else (unknown extension elements, loop characteristics) is
// serialized as a whole.

const SKIPPED = new Set([ 'id', 'incoming', 'outgoing', 'flowNodeRef', 'di', 'lanes', 'flowElements',
  'artifacts', 'laneSets', 'childLaneSet', 'extensionElements', 'documentation', 'conditionExpression',
  'eventDefinitions', 'loopCharacteristics', 'ioSpecification', 'dataInputAssociations',
  'dataOutputAssociations', 'categoryValueRef' ]);
const TIMER_KINDS = [ 'timeDuration', 'timeDate', 'timeCycle' ];

function localName(type) {
  const name = String(type || '').split(':').pop();
  return name.charAt(0).toLowerCase() + name.slice(1);
}

function isModdle(value) {
  return value && typeof value === 'object' && typeof value.$instanceOf === 'function';
}

/** A reference by its id (a renamed task is not a change of the flows into it). */
function refText(value) {
  return isModdle(value) ? value.id : value;
}

/** A message by its name and id: senders use the name, so renaming it is a change. */
function messageText(message) {
  return isModdle(message) && message.name ? `${message.name} (${message.id})` : refText(message);
}

/** A moddle element as sorted, stable text: its type, attributes, body and children. */
export function canonical(value) {
  if (Array.isArray(value)) {
    return `[${value.map(canonical).join(', ')}]`;
  }
  if (!isModdle(value)) {
    return value === undefined || value === null ? '' : JSON.stringify(value);
  }
  const parts = [];
  const descriptor = value.$descriptor || {};
  const names = descriptor.isGeneric
    ? Object.keys(value).filter((k) => k !== '$type' && k !== '$parent')
    : (descriptor.properties || []).map((p) => p.name);
  names.sort().forEach((name) => {
    if (name === '$attrs' || name === '$parent') {
      return;
    }
    const property = (descriptor.propertiesByName || {})[name];
    let v = value.get ? value.get(name) : value[name];
    if (v === undefined || v === null || (Array.isArray(v) && !v.length)) {
      return;
    }
    if (property && property.isReference) {
      v = Array.isArray(v) ? v.map((x) => x && x.id) : (v && v.id);
      parts.push(`${name}=${JSON.stringify(v)}`);
    } else {
      parts.push(`${name}=${canonical(v)}`);
    }
  });
  Object.keys(value.$attrs || {}).sort().forEach((name) => {
    if (!name.startsWith('xmlns')) {
      parts.push(`${name}=${JSON.stringify(value.$attrs[name])}`);
    }
  });
  return `${value.$type}{${parts.join(' ')}}`;
}

function bodyOf(value) {
  if (!value) {
    return '';
  }
  if (typeof value === 'string') {
    return value;
  }
  return value.body !== undefined ? value.body : (value.value !== undefined ? value.value : canonical(value));
}

function add(props, key, value) {
  if (value === undefined || value === null || value === '') {
    return;
  }
  let name = key;
  for (let n = 2; Object.prototype.hasOwnProperty.call(props, name); n++) {
    name = `${key} #${n}`;
  }
  props[name] = String(value);
}

function extensionProperties(props, extensionElements, prefix = '') {
  ((extensionElements && extensionElements.values) || []).forEach((ext) => {
    const type = ext.$type || '';
    if (type === 'spiffworkflow:Properties') {
      (ext.values || []).forEach((p) => add(props, prefix + p.name, p.value));
    } else if (type === 'spiffworkflow:ServiceTaskOperator') {
      add(props, prefix + 'serviceTaskOperator', ext.id);
      add(props, prefix + 'resultVariable', ext.resultVariable);
      ((ext.parameterList && ext.parameterList.values) || []).forEach((p) => {
        add(props, `${prefix}parameter ${p.id}`, p.type ? `${p.value} (${p.type})` : p.value);
      });
      if (ext.retry) {
        add(props, prefix + 'retry', canonical(ext.retry));
      }
    } else if (type === 'spiffworkflow:ProcessVariableCorrelation') {
      add(props, `${prefix}correlation ${ext.propertyId}`, ext.expression);
    } else if (type === 'spiffworkflow:UnitTests') {
      (ext.values || []).forEach((t) => add(props, `${prefix}unitTest ${t.id}`, canonical(t)));
    } else if (type.startsWith('spiffworkflow:') && ext.$descriptor && !ext.$descriptor.isGeneric
               && ext.$descriptor.propertiesByName && ext.$descriptor.propertiesByName.value
               && ext.$descriptor.propertiesByName.value.isBody) {
      add(props, prefix + localName(type), ext.value); // calledDecisionId, preScript, messageVariable, ...
    } else {
      add(props, prefix + type, canonical(ext)); // unknown or generic: compared as a whole
    }
  });
}

function eventDefinitionProperties(props, definition) {
  const type = definition.$type;
  if (type === 'bpmn:TimerEventDefinition') {
    TIMER_KINDS.forEach((kind) => add(props, `timer.${kind}`, bodyOf(definition[kind])));
  } else if (type === 'bpmn:MessageEventDefinition') {
    add(props, 'message', messageText(definition.messageRef));
    extensionProperties(props, definition.extensionElements);
  } else if (type === 'bpmn:ConditionalEventDefinition') {
    add(props, 'condition', bodyOf(definition.condition));
  } else {
    add(props, localName(type), canonical(definition));
  }
}

/** ``{property: text}`` for one element: attributes, documentation, extensions, condition, timers. */
export function elementProperties(element) {
  const props = {};
  const descriptor = element.$descriptor || {};
  (descriptor.properties || []).forEach((property) => {
    const { name, isMany, isReference, isVirtual } = property;
    if (SKIPPED.has(name) || isVirtual || isMany || name.startsWith('$')) {
      return;
    }
    const value = element.get(name);
    if (value === undefined || value === null || value === '') {
      return;
    }
    if (isReference) {
      add(props, name, name === 'messageRef' ? messageText(value) : refText(value));
    } else if (isModdle(value)) {
      add(props, name, bodyOf(value));
    } else {
      add(props, name, value);
    }
  });
  Object.keys(element.$attrs || {}).forEach((name) => {
    if (!name.startsWith('xmlns')) {
      add(props, name, element.$attrs[name]);
    }
  });
  add(props, 'documentation', (element.documentation || []).map((d) => d.text).join('\n'));
  if (element.conditionExpression) {
    add(props, 'condition', bodyOf(element.conditionExpression));
  }
  (element.eventDefinitions || []).forEach((definition) => eventDefinitionProperties(props, definition));
  if (element.loopCharacteristics) {
    add(props, 'loopCharacteristics', canonical(element.loopCharacteristics));
  }
  extensionProperties(props, element.extensionElements);
  return props;
}

/** Every element bpmn-js-differ tracks (flow elements, lanes, participants, message flows,
    processes), by id. */
export function trackedElements(definitions) {
  const found = {};
  const visit = (element) => {
    if (!element || !element.id) {
      return;
    }
    found[element.id] = element;
    (element.flowElements || []).forEach(visit);
    (element.laneSets || []).forEach((set) => (set.lanes || []).forEach(visitLane));
    (element.participants || []).forEach(visit);
    (element.messageFlows || []).forEach(visit);
  };
  const visitLane = (lane) => {
    found[lane.id] = lane;
    if (lane.childLaneSet) {
      (lane.childLaneSet.lanes || []).forEach(visitLane);
    }
  };
  (definitions.rootElements || []).forEach((root) => {
    if (root.$instanceOf('bpmn:Process') || root.$instanceOf('bpmn:Collaboration')) {
      visit(root);
    }
  });
  return found;
}

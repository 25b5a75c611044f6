// TowerFlow's properties: what the engine reads from a diagram (docs/bpmn.md), edited in the
// panel beside the canvas. Each group shows only for the elements it applies to; the standard
// groups (general, documentation, ...) stay, the standard timer and message groups are replaced
// by ones that say what a value means and know the engine's correlation.

import {
  CheckboxEntry, isCheckboxEntryEdited, isSelectEntryEdited, isTextAreaEntryEdited, isTextFieldEntryEdited,
  ListGroup, SelectEntry, TextAreaEntry, TextFieldEntry
} from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { is } from 'bpmn-js/lib/util/ModelUtil';

import { describeDueIn, describeTimer, dueDateHint } from '../iso8601.js';
import {
  bo, create, eventDefinition, findExtension, findExtensions, freshId, getBody, getProperty, isHumanTask,
  laneOf, topLevelStartKind, addExtension, removeExtension, rootElements, run, runsPrePostScripts, setBodyCommands,
  setPropertyCommands, update
} from './model.js';
import { FormPreview, InfoEntry, isTokenListEdited, TokenListEntry } from './fields.jsx';

const LOW_PRIORITY = 500;
const REPLACED = [ 'timer', 'message' ];
const PARAMETER_TYPES = [ 'str', 'int', 'float', 'bool', 'any' ];

export default class TowerFlowPropertiesProvider {
  constructor(propertiesPanel, translate, injector) {
    this._translate = translate;
    this._injector = injector;
    propertiesPanel.registerProvider(LOW_PRIORITY, this);
  }

  getGroups(element) {
    const translate = this._translate;
    return (groups) => {
      const kept = groups.filter((g) => !REPLACED.includes(g.id));
      const ours = towerflowGroups(element, translate, this._injector).filter(Boolean);
      ours.forEach((g) => { g.translate = translate; g.shouldOpen = true; });
      kept.forEach((g) => { g.translate = translate; });
      const general = kept.findIndex((g) => g.id === 'general');
      kept.splice(general + 1, 0, ...ours);
      return kept;
    };
  }
}

TowerFlowPropertiesProvider.$inject = [ 'propertiesPanel', 'translate', 'injector' ];

function towerflowGroups(element, translate, injector) {
  const groups = [];
  if (isHumanTask(element)) {
    groups.push(formGroup(element, translate, 'formKey'), assignmentGroup(element, translate),
      dueGroup(element, translate));
  }
  if (topLevelStartKind(element)) {
    groups.push(startGroup(element, translate, topLevelStartKind(element)));
  }
  if (is(element, 'bpmn:EndEvent') && is(bo(element).$parent, 'bpmn:Process')) {
    groups.push(endGroup(element, translate));
  }
  if (is(element, 'bpmn:ServiceTask')) {
    groups.push(serviceGroup(element, translate), parametersGroup(element, translate, injector));
  }
  if (is(element, 'bpmn:SequenceFlow') && isGatewayFlow(element)) {
    groups.push(conditionGroup(element, translate));
  }
  if (eventDefinition(element, 'bpmn:TimerEventDefinition')) {
    groups.push(timerGroup(element, translate));
  }
  if (messageHolder(element)) {
    groups.push(messageGroup(element, translate));
    if (messageOf(element) && isCatching(element)) {
      groups.push(correlationGroup(element, translate, injector));
    }
  }
  if (is(element, 'bpmn:CallActivity')) {
    groups.push(callGroup(element, translate));
  }
  if (is(element, 'bpmn:BusinessRuleTask')) {
    groups.push(decisionGroup(element, translate));
  }
  if (is(element, 'bpmn:ScriptTask')) {
    groups.push(scriptGroup(element, translate));
  }
  if (runsPrePostScripts(element)) {
    groups.push(prePostGroup(element, translate));
  }
  if (is(element, 'bpmn:Lane')) {
    groups.push(laneGroup(element, translate));
  }
  return groups;
}

function group(id, label, entries) {
  return { id, label, entries };
}

// --- shared pieces ----------------------------------------------------------------------

/** A text field bound to one spiffworkflow property of the element. */
function PropertyField(props) {
  const { element, id, name, label, description, validate, placeholder } = props;
  const commandStack = useService('commandStack');
  const bpmnFactory = useService('bpmnFactory');
  const debounce = useService('debounceInput');
  return TextFieldEntry({
    element, id, label, description, debounce, validate, placeholder,
    getValue: () => getProperty(bo(element), name),
    setValue: (value) => run(commandStack, setPropertyCommands(element, bo(element), name, value, bpmnFactory))
  });
}

/** Options for a select: the known ones, plus the current value when it is not among them. */
function withCurrent(options, current, translate) {
  if (current && !options.some((o) => o.value === current)) {
    return [ ...options, { value: current, label: `${current} (${translate('not on this server')})` } ];
  }
  return options;
}

function catalogState(catalog, translate) {
  if (catalog.state === 'loading' || catalog.state === 'empty') {
    return translate('Loading the lists of this server…');
  }
  if (catalog.state === 'failed') {
    return translate('The lists of this server could not be loaded; type the values.');
  }
  return null;
}

// --- forms ------------------------------------------------------------------------------

function formGroup(element, translate, name) {
  return group('tf-form', translate('Form'), [
    { id: 'tf-formKey', component: FormSelect, name, isEdited: isSelectEntryEdited },
    { id: 'tf-form-preview', component: FormPreviewEntry, name }
  ]);
}

function FormSelect(props) {
  const { element, id, name } = props;
  const translate = useService('translate');
  const catalog = useService('towerflowCatalog');
  const commandStack = useService('commandStack');
  const bpmnFactory = useService('bpmnFactory');
  const current = getProperty(bo(element), name);
  const options = [ { value: '', label: translate('(no form)') },
    ...catalog.data.forms.map((f) => ({ value: f.key, label: f.key })) ];
  return SelectEntry({
    element, id, label: translate('Form'),
    description: catalogState(catalog, translate) ||
      translate('The submitted fields become instance variables.'),
    getValue: () => getProperty(bo(element), name),
    setValue: (value) => run(commandStack, setPropertyCommands(element, bo(element), name, value, bpmnFactory)),
    getOptions: () => withCurrent(options, current, translate)
  });
}

function FormPreviewEntry(props) {
  const { element, id, name } = props;
  const translate = useService('translate');
  const catalog = useService('towerflowCatalog');
  const key = getProperty(bo(element), name);
  const form = key ? catalog.form(key) : null;
  if (!key) {
    return null;
  }
  return (
    <InfoEntry id={ id }>
      { form ? <FormPreview form={ form } translate={ translate } />
        : catalog.state === 'ready' ? <p class="tf-warning">{ translate('No form {form} is registered on this server.', { form: key }) }</p> : null }
    </InfoEntry>
  );
}

// --- candidates -------------------------------------------------------------------------

function assignmentGroup(element, translate) {
  return group('tf-assignment', translate('Assignment'), [
    { id: 'tf-candidateGroups', component: CandidatesEntry, name: 'candidateGroups', isEdited: isTokenListEdited },
    { id: 'tf-candidateUsers', component: CandidatesEntry, name: 'candidateUsers', isEdited: isTokenListEdited },
    { id: 'tf-lane-fallback', component: LaneFallback }
  ]);
}

function CandidatesEntry(props) {
  const { element, id, name } = props;
  const translate = useService('translate');
  const catalog = useService('towerflowCatalog');
  const commandStack = useService('commandStack');
  const bpmnFactory = useService('bpmnFactory');
  const groups = name === 'candidateGroups' || name === 'starterGroups';
  const options = groups
    ? catalog.data.groups.map((g) => ({ value: g.id, label: g.label || g.id }))
    : catalog.data.users.map((u) => ({ value: u.username, label: u.display_name || u.username }));
  const labels = {
    candidateGroups: translate('Candidate groups'),
    candidateUsers: translate('Candidate users'),
    starterGroups: translate('Who may start')
  };
  return TokenListEntry({
    element, id, label: labels[name], options,
    describe: (value) => (groups ? catalog.groupLabel(value) : catalog.userLabel(value)),
    placeholder: groups ? translate('Pick or type a group, or ${expression}') : translate('Pick or type a user, or ${expression}'),
    description: name === 'starterGroups' ? translate('Administrators may always start it.') : null,
    getValue: () => getProperty(bo(element), name),
    setValue: (value) => run(commandStack, setPropertyCommands(element, bo(element), name, value, bpmnFactory))
  });
}

function LaneFallback(props) {
  const { element, id } = props;
  const translate = useService('translate');
  const catalog = useService('towerflowCatalog');
  const owner = bo(element);
  const named = getProperty(owner, 'candidateGroups') || getProperty(owner, 'candidateUsers');
  const lane = laneOf(element);
  let text;
  if (named) {
    text = translate('Only these candidates may take the task.');
  } else if (lane && lane.get('name')) {
    text = translate('None named: the lane {lane} is the candidate group ({group}).',
      { lane: lane.get('name'), group: catalog.groupLabel(lane.get('name').trim()) });
  } else {
    text = translate('None named and no lane: nobody but an administrator can take the task.');
  }
  return <InfoEntry id={ id } className={ named || lane ? 'tf-muted' : 'tf-warning' }>{ text }</InfoEntry>;
}

// --- due time and priority ------------------------------------------------------------------

function dueGroup(element, translate) {
  return group('tf-due', translate('Due time and priority'), [
    { id: 'tf-dueIn', component: DueInField, isEdited: isTextFieldEntryEdited },
    { id: 'tf-dueDate', component: DueDateField, isEdited: isTextFieldEntryEdited },
    { id: 'tf-priority', component: PriorityField, isEdited: isTextFieldEntryEdited }
  ]);
}

function DueInField(props) {
  const { element, id } = props;
  const translate = useService('translate');
  const meaning = describeDueIn(getProperty(bo(element), 'dueIn'));
  return PropertyField({
    element, id, name: 'dueIn', label: translate('Due in (ISO 8601 duration)'), placeholder: 'P2D, PT4H',
    validate: (value) => describeDueIn(value).error,
    description: <span class="tf-meaning" data-testid="due-meaning">{ meaning.text || translate('For example P2D (two days) or PT4H (four hours).') }</span>
  });
}

function DueDateField(props) {
  const { element, id } = props;
  const translate = useService('translate');
  const both = getProperty(bo(element), 'dueIn') && getProperty(bo(element), 'dueDate');
  return PropertyField({
    element, id, name: 'dueDate', label: translate('Due date (expression)'), placeholder: 'deadline',
    description: both ? translate('Both are set: the engine uses "due in".') : dueDateHint()
  });
}

function PriorityField(props) {
  const { element, id } = props;
  const translate = useService('translate');
  return PropertyField({
    element, id, name: 'priority', label: translate('Priority (0-100)'), placeholder: '50',
    validate: (value) => (!value || /^\s*\d+\s*$/.test(value) && Number(value) <= 100 ? null
      : translate('A whole number from 0 to 100.')),
    description: translate('Higher comes first in the inbox; 50 when empty.')
  });
}

// --- start events -----------------------------------------------------------------------

function startGroup(element, translate, kind) {
  const entries = kind === 'none' ? [
    { id: 'tf-start-formKey', component: FormSelect, name: 'formKey', isEdited: isSelectEntryEdited },
    { id: 'tf-start-form-preview', component: FormPreviewEntry, name: 'formKey' }
  ] : [];
  entries.push({ id: 'tf-starterGroups', component: CandidatesEntry, name: 'starterGroups', isEdited: isTokenListEdited });
  return group('tf-start', translate('Starting the process'), entries);
}

// --- end events -------------------------------------------------------------------------

/** How the instance ends when it reaches this end event of the process itself (the engine
    reads endState and endReason only there: engine/runtime/endings.py). */
function endGroup(element, translate) {
  return group('tf-end', translate('How the instance ends'), [
    { id: 'tf-endState', component: EndStateField, isEdited: isTextFieldEntryEdited },
    { id: 'tf-endReason', component: EndReasonField, isEdited: isTextFieldEntryEdited }
  ]);
}

function EndStateField(props) {
  const { element, id } = props;
  const translate = useService('translate');
  return PropertyField({
    element, id, name: 'endState', label: translate('End state'), placeholder: 'cancelled',
    validate: (value) => {
      const text = (value || '').trim();
      return !text || text === 'completed' || text === 'cancelled' || (text.startsWith('${') && text.endsWith('}'))
        ? null : translate('completed, cancelled or an ${expression}.');
    },
    description: translate('Empty or completed: the process reached its goal. cancelled: it was called off (for example a demand the operator cancelled). An ${expression} may choose one of the two.')
  });
}

function EndReasonField(props) {
  const { element, id } = props;
  const translate = useService('translate');
  return PropertyField({
    element, id, name: 'endReason', label: translate('End reason'), placeholder: '${cancel_reason}',
    description: translate('A text, or an ${expression} over the instance\'s data; a cancelled instance without one shows this event\'s name.')
  });
}

// --- service tasks ----------------------------------------------------------------------

function operatorOf(element) {
  return findExtension(bo(element), 'spiffworkflow:ServiceTaskOperator');
}

function serviceGroup(element, translate) {
  const entries = [ { id: 'tf-operator', component: OperatorSelect, isEdited: isSelectEntryEdited } ];
  if (operatorOf(element)) {
    entries.push({ id: 'tf-resultVariable', component: ResultVariableField, isEdited: isTextFieldEntryEdited });
  }
  entries.push({ id: 'tf-retries', component: RetriesField, isEdited: isTextFieldEntryEdited });
  return group('tf-service', translate('Service'), entries);
}

function OperatorSelect(props) {
  const { element, id } = props;
  const translate = useService('translate');
  const catalog = useService('towerflowCatalog');
  const commandStack = useService('commandStack');
  const bpmnFactory = useService('bpmnFactory');
  const operator = operatorOf(element);
  const current = operator ? operator.get('id') || '' : '';
  let options = catalog.data.operators.map((name) => ({ value: name, label: name }));
  if (!operator) {
    options = [ { value: '', label: translate('(choose an operator)') }, ...options ];
  }
  const setValue = (value) => {
    if (!value) {
      return;
    }
    if (operator) {
      run(commandStack, [ update(element, operator, { id: value }) ]);
      return;
    }
    const parameters = create(bpmnFactory, 'spiffworkflow:Parameters', { values: [] });
    const created = create(bpmnFactory, 'spiffworkflow:ServiceTaskOperator', { id: value, parameterList: parameters });
    parameters.$parent = created;
    run(commandStack, addExtension(element, bo(element), created, bpmnFactory));
  };
  return SelectEntry({
    element, id, label: translate('Operator'),
    description: catalogState(catalog, translate) || translate('A handler registered on this server.'),
    getValue: () => current, setValue,
    getOptions: () => withCurrent(options, current, translate)
  });
}

function ResultVariableField(props) {
  const { element, id } = props;
  const translate = useService('translate');
  const commandStack = useService('commandStack');
  const debounce = useService('debounceInput');
  return TextFieldEntry({
    element, id, debounce, label: translate('Result variable'),
    description: translate('The instance variable that receives what the handler returns.'),
    getValue: () => (operatorOf(element) && operatorOf(element).get('resultVariable')) || '',
    setValue: (value) => run(commandStack, [ update(element, operatorOf(element), { resultVariable: value || undefined }) ])
  });
}

function RetriesField(props) {
  const { element, id } = props;
  const translate = useService('translate');
  return PropertyField({
    element, id, name: 'retries', label: translate('Attempts'), placeholder: '3',
    validate: (value) => (!value || /^\s*\d+\s*$/.test(value) && Number(value) >= 1 && Number(value) <= 20 ? null
      : translate('A whole number from 1 to 20.')),
    description: translate('How often the engine tries the call before it opens an incident; 3 when empty.')
  });
}

function parametersOf(element) {
  const operator = operatorOf(element);
  const list = operator && operator.get('parameterList');
  return list ? list.get('values') : [];
}

function parametersGroup(element, translate, services) {
  const operator = operatorOf(element);
  if (!operator) {
    return null;
  }
  const parameters = parametersOf(element);
  return {
    id: 'tf-parameters',
    label: translate('Parameters'),
    component: ListGroup,
    add: parameterAdder(element, services),
    items: parameters.map((parameter, index) => {
      const prefix = `tf-parameter-${index}`;
      return {
        id: prefix,
        label: parameter.get('id') || translate('(unnamed)'),
        autoFocusEntry: `${prefix}-id`,
        remove: parameterRemover(element, parameter, services),
        entries: [
          { id: `${prefix}-id`, component: ParameterField, parameter, attr: 'id', isEdited: isTextFieldEntryEdited },
          { id: `${prefix}-type`, component: ParameterType, parameter, isEdited: isSelectEntryEdited },
          { id: `${prefix}-value`, component: ParameterField, parameter, attr: 'value', isEdited: isTextFieldEntryEdited }
        ]
      };
    })
  };
}

// ListGroup calls add and remove from its own buttons, outside any component, so they get
// the services from the injector.
function parameterAdder(element, services) {
  return (event) => {
    event && event.stopPropagation && event.stopPropagation();
    const bpmnFactory = services.get('bpmnFactory');
    const commandStack = services.get('commandStack');
    const operator = operatorOf(element);
    const taken = new Set(parametersOf(element).map((p) => p.get('id')));
    let n = taken.size + 1;
    while (taken.has(`param${n}`)) {
      n++;
    }
    const parameter = create(bpmnFactory, 'spiffworkflow:Parameter', { id: `param${n}`, type: 'str', value: '' });
    let list = operator.get('parameterList');
    if (!list) {
      list = create(bpmnFactory, 'spiffworkflow:Parameters', { values: [ parameter ] }, operator);
      parameter.$parent = list;
      run(commandStack, [ update(element, operator, { parameterList: list }) ]);
      return;
    }
    parameter.$parent = list;
    run(commandStack, [ update(element, list, { values: [ ...list.get('values'), parameter ] }) ]);
  };
}

function parameterRemover(element, parameter, services) {
  return (event) => {
    event && event.stopPropagation && event.stopPropagation();
    const list = operatorOf(element).get('parameterList');
    run(services.get('commandStack'),
      [ update(element, list, { values: list.get('values').filter((p) => p !== parameter) }) ]);
  };
}

function ParameterField(props) {
  const { element, id, parameter, attr } = props;
  const translate = useService('translate');
  const commandStack = useService('commandStack');
  const debounce = useService('debounceInput');
  const isValue = attr === 'value';
  return TextFieldEntry({
    element, id, debounce,
    label: isValue ? translate('Value (expression)') : translate('Name'),
    description: isValue ? translate('An expression over the instance data: quote text, as in \'hello\'.') : null,
    getValue: () => parameter.get(attr) || '',
    setValue: (value) => run(commandStack, [ update(element, parameter, { [attr]: value || '' }) ])
  });
}

function ParameterType(props) {
  const { element, id, parameter } = props;
  const translate = useService('translate');
  const commandStack = useService('commandStack');
  const current = parameter.get('type') || '';
  const options = PARAMETER_TYPES.map((t) => ({ value: t, label: translate(`type ${t}`) }));
  return SelectEntry({
    element, id, label: translate('Type'),
    getValue: () => current,
    setValue: (value) => run(commandStack, [ update(element, parameter, { type: value }) ]),
    getOptions: () => withCurrent(options, current, translate)
  });
}

// --- sequence flows out of gateways -----------------------------------------------------------

const DEFAULT_GATEWAYS = [ 'bpmn:ExclusiveGateway', 'bpmn:InclusiveGateway', 'bpmn:ComplexGateway' ];

function isGatewayFlow(element) {
  const source = bo(element).get('sourceRef');
  return DEFAULT_GATEWAYS.some((type) => is(source, type));
}

function conditionGroup(element, translate) {
  return group('tf-condition', translate('Condition'), [
    { id: 'tf-default-flow', component: DefaultFlowCheckbox, isEdited: isCheckboxEntryEdited },
    { id: 'tf-condition', component: ConditionField, isEdited: isTextAreaEntryEdited }
  ]);
}

function isDefault(element) {
  const source = bo(element).get('sourceRef');
  return !!source && source.get('default') === bo(element);
}

function DefaultFlowCheckbox(props) {
  const { element, id } = props;
  const translate = useService('translate');
  const commandStack = useService('commandStack');
  const elementRegistry = useService('elementRegistry');
  const setValue = (checked) => {
    const gateway = elementRegistry.get(bo(element).get('sourceRef').get('id'));
    const commands = [ { cmd: 'element.updateProperties',
      context: { element: gateway, properties: { default: checked ? bo(element) : undefined } } } ];
    if (checked && bo(element).get('conditionExpression')) {
      commands.push({ cmd: 'element.updateProperties', context: { element, properties: { conditionExpression: undefined } } });
    }
    run(commandStack, commands);
  };
  return CheckboxEntry({
    element, id, label: translate('Default flow'),
    description: translate('Taken when no other flow\'s condition holds.'),
    getValue: () => isDefault(element), setValue
  });
}

function ConditionField(props) {
  const { element, id } = props;
  const translate = useService('translate');
  const commandStack = useService('commandStack');
  const bpmnFactory = useService('bpmnFactory');
  const debounce = useService('debounceInput');
  if (isDefault(element)) {
    return <InfoEntry id={ id } className="tf-muted">{ translate('The default flow has no condition.') }</InfoEntry>;
  }
  const setValue = (value) => {
    const expression = bo(element).get('conditionExpression');
    if (!value || !value.trim()) {
      run(commandStack, [ { cmd: 'element.updateProperties', context: { element, properties: { conditionExpression: undefined } } } ]);
    } else if (expression) {
      run(commandStack, [ update(element, expression, { body: value }) ]);
    } else {
      const created = create(bpmnFactory, 'bpmn:FormalExpression', { body: value });
      run(commandStack, [ { cmd: 'element.updateProperties', context: { element, properties: { conditionExpression: created } } } ]);
    }
  };
  return TextAreaEntry({
    element, id, debounce, label: translate('Condition expression'), monospace: true, rows: 2,
    description: translate('A Python expression over the instance data, such as approved == True.'),
    getValue: () => { const e = bo(element).get('conditionExpression'); return (e && e.get('body')) || ''; },
    setValue
  });
}

// --- timers -----------------------------------------------------------------------------

const TIMER_KINDS = [ [ 'timeDuration', 'duration' ], [ 'timeDate', 'date' ], [ 'timeCycle', 'cycle' ] ];

function timerKind(definition) {
  const found = TIMER_KINDS.find(([ prop ]) => definition.get(prop));
  return found ? found[0] : '';
}

function timerGroup(element, translate) {
  return group('tf-timer', translate('Timer'), [
    { id: 'tf-timer-type', component: TimerType, isEdited: isSelectEntryEdited },
    { id: 'tf-timer-value', component: TimerValue, isEdited: isTextFieldEntryEdited }
  ]);
}

function TimerType(props) {
  const { element, id } = props;
  const translate = useService('translate');
  const commandStack = useService('commandStack');
  const bpmnFactory = useService('bpmnFactory');
  const definition = eventDefinition(element, 'bpmn:TimerEventDefinition');
  const kind = timerKind(definition);
  const setValue = (value) => {
    if (value === kind) {
      return;
    }
    const old = kind ? definition.get(kind) : null;
    const properties = { timeDuration: undefined, timeDate: undefined, timeCycle: undefined };
    if (value) {
      properties[value] = create(bpmnFactory, 'bpmn:FormalExpression', { body: old ? old.get('body') : undefined }, definition);
    }
    run(commandStack, [ update(element, definition, properties) ]);
  };
  const options = [ { value: '', label: translate('<none>') },
    { value: 'timeDuration', label: translate('Duration (after a while)') },
    { value: 'timeDate', label: translate('Date (at a moment)') },
    { value: 'timeCycle', label: translate('Cycle (repeating)') } ];
  return SelectEntry({ element, id, label: translate('Type'), getValue: () => kind, setValue, getOptions: () => options });
}

function TimerValue(props) {
  const { element, id } = props;
  const translate = useService('translate');
  const commandStack = useService('commandStack');
  const bpmnFactory = useService('bpmnFactory');
  const debounce = useService('debounceInput');
  const definition = eventDefinition(element, 'bpmn:TimerEventDefinition');
  const kind = timerKind(definition) || 'timeDuration';
  const word = TIMER_KINDS.find(([ prop ]) => prop === kind)[1];
  const expression = definition.get(kind);
  const current = (expression && expression.get('body')) || '';
  const meaning = describeTimer(word, current);
  const setValue = (value) => {
    const existing = definition.get(kind);
    if (existing) {
      run(commandStack, [ update(element, existing, { body: value || undefined }) ]);
    } else {
      run(commandStack, [ update(element, definition,
        { [kind]: create(bpmnFactory, 'bpmn:FormalExpression', { body: value }, definition) }) ]);
    }
  };
  const examples = { duration: 'PT15M, P2D', date: '2026-12-01T09:00:00', cycle: 'R/P1D, R3/PT1H' };
  return TextFieldEntry({
    element, id, debounce, label: translate('Value'), placeholder: examples[word],
    validate: (value) => describeTimer(word, value).error,
    description: (
      <span class={ `tf-meaning${meaning.expression ? ' tf-meaning-expression' : ''}` } data-testid="timer-meaning">
        { meaning.text }
      </span>
    ),
    getValue: () => current, setValue
  });
}

// --- messages ---------------------------------------------------------------------------

/** Where the messageRef (and the message extensions) live: the event definition, or the task. */
function messageHolder(element) {
  const definition = eventDefinition(element, 'bpmn:MessageEventDefinition');
  if (definition) {
    return definition;
  }
  return is(element, 'bpmn:ReceiveTask') || is(element, 'bpmn:SendTask') ? bo(element) : null;
}

function messageOf(element) {
  const holder = messageHolder(element);
  return holder ? holder.get('messageRef') : null;
}

function isCatching(element) {
  return is(element, 'bpmn:CatchEvent') || is(element, 'bpmn:ReceiveTask');
}

function messageGroup(element, translate) {
  const entries = [ { id: 'tf-message', component: MessageSelect, isEdited: isSelectEntryEdited } ];
  if (messageOf(element)) {
    entries.push({ id: 'tf-message-name', component: MessageName, isEdited: isTextFieldEntryEdited });
    entries.push(isCatching(element)
      ? { id: 'tf-message-variable', component: MessageBody, type: 'spiffworkflow:MessageVariable', isEdited: isTextFieldEntryEdited }
      : { id: 'tf-message-payload', component: MessageBody, type: 'spiffworkflow:MessagePayload', isEdited: isTextFieldEntryEdited });
  }
  return group('tf-message', translate('Message'), entries);
}

const NEW_MESSAGE = '__towerflow_new_message__';

function MessageSelect(props) {
  const { element, id } = props;
  const translate = useService('translate');
  const commandStack = useService('commandStack');
  const bpmnFactory = useService('bpmnFactory');
  const holder = messageHolder(element);
  const message = holder.get('messageRef');
  const setValue = (value) => {
    let chosen = rootElements(holder, 'bpmn:Message').find((m) => m.get('id') === value);
    const commands = [];
    if (value === NEW_MESSAGE) {
      const root = holderDefinitions(holder);
      const newId = freshId(holder, 'Message');
      chosen = create(bpmnFactory, 'bpmn:Message', { id: newId, name: newId }, root);
      commands.push(update(element, root, { rootElements: [ ...root.get('rootElements'), chosen ] }));
    }
    commands.push(update(element, holder, { messageRef: chosen || undefined }));
    run(commandStack, commands);
  };
  const options = [ { value: '', label: translate('<none>') }, { value: NEW_MESSAGE, label: translate('New message…') },
    ...rootElements(holder, 'bpmn:Message').map((m) => ({ value: m.get('id'), label: m.get('name') || m.get('id') })) ];
  return SelectEntry({
    element, id, label: translate('Message'),
    description: translate('External systems send it by name: POST /api/v1/messages.'),
    getValue: () => (message ? message.get('id') : ''), setValue, getOptions: () => options
  });
}

function holderDefinitions(holder) {
  let current = holder;
  while (current && !is(current, 'bpmn:Definitions')) {
    current = current.$parent;
  }
  return current;
}

function MessageName(props) {
  const { element, id } = props;
  const translate = useService('translate');
  const commandStack = useService('commandStack');
  const debounce = useService('debounceInput');
  const message = messageOf(element);
  return TextFieldEntry({
    element, id, debounce, label: translate('Message name'),
    description: translate('The name senders use; every event with this message changes with it.'),
    getValue: () => message.get('name') || '',
    setValue: (value) => run(commandStack, [ update(element, message, { name: value }) ])
  });
}

function MessageBody(props) {
  const { element, id, type } = props;
  const translate = useService('translate');
  const commandStack = useService('commandStack');
  const bpmnFactory = useService('bpmnFactory');
  const debounce = useService('debounceInput');
  const holder = messageHolder(element);
  const variable = type === 'spiffworkflow:MessageVariable';
  return TextFieldEntry({
    element, id, debounce,
    label: variable ? translate('Payload variable') : translate('Payload (expression)'),
    description: variable ? translate('Empty: the payload\'s fields become instance variables.')
      : translate('An expression giving the payload, such as {"site": site_code}.'),
    getValue: () => getBody(holder, type),
    setValue: (value) => run(commandStack, setBodyCommands(element, holder, type, value, bpmnFactory))
  });
}

// --- correlation: what the engine matches a message against ------------------------------

function correlationsOf(element) {
  const message = messageOf(element);
  const holder = messageHolder(element);
  const pvcs = findExtensions(holder, 'spiffworkflow:ProcessVariableCorrelation');
  return rootElements(holder, 'bpmn:CorrelationProperty').map((property) => {
    const retrieval = (property.get('correlationPropertyRetrievalExpression') || [])
      .find((r) => r.get('messageRef') === message);
    if (!retrieval) {
      return null;
    }
    const instance = pvcs.find((p) => p.get('propertyId') === property.get('id'));
    return { property, retrieval, instance };
  }).filter(Boolean);
}

function correlationGroup(element, translate, services) {
  const items = correlationsOf(element);
  return {
    id: 'tf-correlations',
    label: translate('Correlation'),
    component: ListGroup,
    tooltip: translate('A message reaches only the instances whose values match it.'),
    add: correlationAdder(element, services),
    items: items.map((item, index) => {
      const prefix = `tf-correlation-${index}`;
      return {
        id: prefix,
        label: item.property.get('id'),
        autoFocusEntry: `${prefix}-id`,
        remove: correlationRemover(element, item, services),
        entries: [
          { id: `${prefix}-id`, component: CorrelationId, item, isEdited: isTextFieldEntryEdited },
          { id: `${prefix}-message`, component: CorrelationMessage, item, isEdited: isTextFieldEntryEdited },
          { id: `${prefix}-instance`, component: CorrelationInstance, item, isEdited: isTextFieldEntryEdited }
        ]
      };
    })
  };
}

function correlationAdder(element, services) {
  return (event) => {
    event && event.stopPropagation && event.stopPropagation();
    const bpmnFactory = services.get('bpmnFactory');
    const holder = messageHolder(element);
    const root = holderDefinitions(holder);
    const newId = freshId(holder, 'correlation');
    const property = create(bpmnFactory, 'bpmn:CorrelationProperty', { id: newId, name: newId }, root);
    const path = create(bpmnFactory, 'bpmn:FormalExpression', { body: newId });
    const retrieval = create(bpmnFactory, 'bpmn:CorrelationPropertyRetrievalExpression',
      { messageRef: messageOf(element), messagePath: path }, property);
    path.$parent = retrieval;
    property.set('correlationPropertyRetrievalExpression', [ retrieval ]);
    // correlation properties come before the messages, as the BPMN schema orders root elements freely
    run(services.get('commandStack'), [ update(element, root, { rootElements: [ property, ...root.get('rootElements') ] }) ]);
  };
}

function correlationRemover(element, item, services) {
  return (event) => {
    event && event.stopPropagation && event.stopPropagation();
    const holder = messageHolder(element);
    const root = holderDefinitions(holder);
    const { property, retrieval, instance } = item;
    const others = property.get('correlationPropertyRetrievalExpression').filter((r) => r !== retrieval);
    const commands = others.length
      ? [ update(element, property, { correlationPropertyRetrievalExpression: others }) ]
      : [ update(element, root, { rootElements: root.get('rootElements').filter((e) => e !== property) }) ];
    if (instance) {
      commands.push(...removeExtension(element, holder, instance));
    }
    run(services.get('commandStack'), commands);
  };
}

function CorrelationId(props) {
  const { element, id, item } = props;
  const translate = useService('translate');
  const commandStack = useService('commandStack');
  const elementRegistry = useService('elementRegistry');
  const debounce = useService('debounceInput');
  const setValue = (value, error) => {
    if (error || !value) {
      return;
    }
    const old = item.property.get('id');
    const commands = [ update(element, item.property, { id: value }) ];
    // other events naming this property follow the new id
    elementRegistry.forEach((shape) => {
      const holder = messageHolder(shape);
      findExtensions(holder, 'spiffworkflow:ProcessVariableCorrelation')
        .filter((p) => p.get('propertyId') === old)
        .forEach((p) => commands.push(update(shape, p, { propertyId: value })));
    });
    run(commandStack, commands);
  };
  return TextFieldEntry({
    element, id, debounce, label: translate('Correlation key'),
    description: translate('The name a sender gives in "correlation".'),
    validate: (value) => (/^[A-Za-z_][\w.-]*$/.test(value || '') ? null : translate('Letters, digits and _ only, not starting with a digit.')),
    getValue: () => item.property.get('id'), setValue
  });
}

function CorrelationMessage(props) {
  const { element, id, item } = props;
  const translate = useService('translate');
  const commandStack = useService('commandStack');
  const bpmnFactory = useService('bpmnFactory');
  const debounce = useService('debounceInput');
  const setValue = (value) => {
    const path = item.retrieval.get('messagePath');
    if (path) {
      run(commandStack, [ update(element, path, { body: value }) ]);
    } else {
      run(commandStack, [ update(element, item.retrieval,
        { messagePath: create(bpmnFactory, 'bpmn:FormalExpression', { body: value }, item.retrieval) }) ]);
    }
  };
  return TextFieldEntry({
    element, id, debounce, label: translate('Value in the message'),
    description: translate('An expression over the message\'s payload and correlation, such as site_code.'),
    getValue: () => { const p = item.retrieval.get('messagePath'); return (p && p.get('body')) || ''; },
    setValue
  });
}

function CorrelationInstance(props) {
  const { element, id, item } = props;
  const translate = useService('translate');
  const commandStack = useService('commandStack');
  const bpmnFactory = useService('bpmnFactory');
  const debounce = useService('debounceInput');
  const holder = messageHolder(element);
  const setValue = (value) => {
    const existing = item.instance;
    if (!value || !value.trim()) {
      run(commandStack, existing ? removeExtension(element, holder, existing) : []);
    } else if (existing) {
      run(commandStack, [ update(element, existing, { expression: value }) ]);
    } else {
      const created = create(bpmnFactory, 'spiffworkflow:ProcessVariableCorrelation',
        { propertyId: item.property.get('id'), expression: value });
      run(commandStack, addExtension(element, holder, created, bpmnFactory));
    }
  };
  return TextFieldEntry({
    element, id, debounce, label: translate('Value in the instance'),
    description: translate('An expression over the instance data the message must match; empty: the instance variable of the same name.'),
    getValue: () => (item.instance && item.instance.get('expression')) || '',
    setValue
  });
}

// --- call activities and business rules ---------------------------------------------------

function callGroup(element, translate) {
  return group('tf-call', translate('Called process'), [
    { id: 'tf-calledElement', component: CalledProcess, isEdited: isSelectEntryEdited }
  ]);
}

function CalledProcess(props) {
  const { element, id } = props;
  const translate = useService('translate');
  const catalog = useService('towerflowCatalog');
  const modeling = useService('modeling');
  const current = bo(element).get('calledElement') || '';
  const here = rootElements(bo(element), 'bpmn:Process').map((p) => p.get('id'));
  const ownProcess = processOf(bo(element));
  const options = [ { value: '', label: translate('(choose a process)') } ];
  here.filter((key) => key !== ownProcess).forEach((key) => options.push({ value: key, label: `${key} (${translate('in this file')})` }));
  catalog.data.processes.filter((p) => !here.includes(p.key))
    .forEach((p) => options.push({ value: p.key, label: p.name ? `${p.name} (${p.key})` : p.key }));
  return SelectEntry({
    element, id, label: translate('Process'),
    description: catalogState(catalog, translate) || translate('The latest deployed version is called when the activity starts.'),
    getValue: () => current,
    setValue: (value) => modeling.updateProperties(element, { calledElement: value || undefined }),
    getOptions: () => withCurrent(options, current, translate)
  });
}

function processOf(moddleElement) {
  let current = moddleElement;
  while (current && !is(current, 'bpmn:Process')) {
    current = current.$parent;
  }
  return current ? current.get('id') : null;
}

function decisionGroup(element, translate) {
  return group('tf-decision', translate('Decision'), [
    { id: 'tf-decision', component: DecisionSelect, isEdited: isSelectEntryEdited }
  ]);
}

function DecisionSelect(props) {
  const { element, id } = props;
  const translate = useService('translate');
  const catalog = useService('towerflowCatalog');
  const commandStack = useService('commandStack');
  const bpmnFactory = useService('bpmnFactory');
  const current = getBody(bo(element), 'spiffworkflow:CalledDecisionId');
  const options = [ { value: '', label: translate('(choose a decision)') },
    ...catalog.data.decisions.map((d) => ({ value: d.key, label: d.name ? `${d.name} (${d.key})` : d.key })) ];
  return SelectEntry({
    element, id, label: translate('Decision'),
    description: catalogState(catalog, translate) || translate('A DMN decision deployed with this file or before; its result becomes instance variables.'),
    getValue: () => current,
    setValue: (value) => run(commandStack, setBodyCommands(element, bo(element), 'spiffworkflow:CalledDecisionId', value, bpmnFactory)),
    getOptions: () => withCurrent(options, current, translate)
  });
}

// --- scripts ----------------------------------------------------------------------------

const SANDBOX = 'Python, run in the sandbox: no imports, no _names, at most 2 seconds; datetime, date, timedelta, Decimal and now() are there.';

function scriptGroup(element, translate) {
  return group('tf-script', translate('Script'), [
    { id: 'tf-script', component: ScriptField, isEdited: isTextAreaEntryEdited }
  ]);
}

function ScriptField(props) {
  const { element, id } = props;
  const translate = useService('translate');
  const modeling = useService('modeling');
  const debounce = useService('debounceInput');
  return TextAreaEntry({
    element, id, debounce, label: translate('Script'), monospace: true, rows: 6,
    description: translate(SANDBOX),
    getValue: () => bo(element).get('script') || '',
    setValue: (value) => modeling.updateProperties(element, {
      script: value || undefined, scriptFormat: bo(element).get('scriptFormat') || (value ? 'python' : undefined)
    })
  });
}

function prePostGroup(element, translate) {
  return group('tf-scripts', translate('Scripts before and after'), [
    { id: 'tf-preScript', component: PrePostField, type: 'spiffworkflow:PreScript', isEdited: isTextAreaEntryEdited },
    { id: 'tf-postScript', component: PrePostField, type: 'spiffworkflow:PostScript', isEdited: isTextAreaEntryEdited }
  ]);
}

function PrePostField(props) {
  const { element, id, type } = props;
  const translate = useService('translate');
  const commandStack = useService('commandStack');
  const bpmnFactory = useService('bpmnFactory');
  const debounce = useService('debounceInput');
  const pre = type === 'spiffworkflow:PreScript';
  return TextAreaEntry({
    element, id, debounce, monospace: true, rows: 3,
    label: pre ? translate('Before (preScript)') : translate('After (postScript)'),
    description: pre ? `${translate('Runs when the step starts.')} ${translate(SANDBOX)}` : translate('Runs when the step is done.'),
    getValue: () => getBody(bo(element), type),
    setValue: (value) => run(commandStack, setBodyCommands(element, bo(element), type, value, bpmnFactory))
  });
}

// --- lanes ------------------------------------------------------------------------------

function laneGroup(element, translate) {
  return group('tf-lane', translate('Lane'), [
    { id: 'tf-lane-group', component: LaneGroupSelect, isEdited: isSelectEntryEdited },
    { id: 'tf-lane-meaning', component: LaneMeaning }
  ]);
}

function LaneGroupSelect(props) {
  const { element, id } = props;
  const translate = useService('translate');
  const catalog = useService('towerflowCatalog');
  const modeling = useService('modeling');
  const current = (bo(element).get('name') || '').trim();
  const options = [ { value: '', label: translate('(no group)') },
    ...catalog.data.groups.map((g) => ({ value: g.id, label: g.label ? `${g.label} (${g.id})` : g.id })) ];
  return SelectEntry({
    element, id, label: translate('Group of this lane'),
    description: translate('Sets the lane\'s name to the group id.'),
    getValue: () => current,
    setValue: (value) => modeling.updateLabel(element, value || ''),
    getOptions: () => withCurrent(options, current, translate)
  });
}

function LaneMeaning(props) {
  const { element, id } = props;
  const translate = useService('translate');
  const catalog = useService('towerflowCatalog');
  const name = (bo(element).get('name') || '').trim();
  let text;
  let className = 'tf-muted';
  if (!name) {
    text = translate('Without a name the lane gives its tasks no candidate group.');
    className = 'tf-warning';
  } else if (catalog.group(name)) {
    text = translate('Tasks in this lane that name no candidates go to the group {group}.', { group: catalog.groupLabel(name) });
  } else {
    text = translate('Tasks in this lane that name no candidates go to the group "{group}", which no user has yet.', { group: name });
    className = catalog.state === 'ready' ? 'tf-warning' : 'tf-muted';
  }
  return <InfoEntry id={ id } className={ className }>{ text }</InfoEntry>;
}

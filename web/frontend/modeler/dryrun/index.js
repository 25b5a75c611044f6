// The dry run: the diagram and sample data go to POST /designer/dry-run; the server lints it
// like a deployment and runs it in memory (nothing stored, services not called, timers fired
// at once). The answer is drawn on the diagram (visited elements and flows, numbered) and
// listed: each step with the variables it set, where the run stopped, the final variables.

import { el } from '../problems.js';
import { parseSample, sampleFromDiagram } from './sample.js';
import './dryrun.css';

const VISITED = 'tf-dry-visited';
const STOPPED = 'tf-dry-stopped';
const OVERLAY = 'tf-dry-step';
const MAX_NUMBERS = 3;

function json(value) {
  return JSON.stringify(value);
}

export function installDryRun(page) {
  const { bpmn, root } = page;
  const translate = bpmn.get('translate');
  const panel = buildPanel(translate);
  const status = root.querySelector('.tf-status');
  status.parentNode.insertBefore(panel.box, status.nextSibling);
  let edited = false;
  panel.text.addEventListener('input', () => {
    edited = true;
  });

  function fill(force) {
    if (force || !edited || !panel.text.value.trim()) {
      panel.text.value = JSON.stringify(sampleFromDiagram(bpmn), null, 2);
      edited = false;
    }
  }

  function clear() {
    clearPath(bpmn);
    panel.result.replaceChildren();
    root.removeAttribute('data-dry-run');
  }

  function run() {
    const parsed = parseSample(panel.text.value, translate);
    panel.error.textContent = parsed.error || '';
    panel.error.hidden = !parsed.error;
    if (parsed.error) {
      root.setAttribute('data-dry-run', 'invalid-sample');
      return Promise.resolve();
    }
    clear();
    page.show('', translate('Running the diagram in memory…'));
    root.setAttribute('data-dry-run', 'running');
    return page.currentXml()
      .then((xml) => page.post(root.getAttribute('data-dry-run-url'),
        { filename: page.filename.value, xml, sample: parsed.sample }))
      .then((answer) => {
        if (answer.status === 422) {
          page.showProblems(translate('The diagram has problems; it was not run:'), answer.data.problems);
          root.setAttribute('data-dry-run', 'problems');
        } else if (answer.status !== 200) {
          page.answerError(answer);
          root.setAttribute('data-dry-run', 'error');
        } else {
          page.status.hidden = true;
          showResult(bpmn, translate, panel.result, answer.data);
          root.setAttribute('data-dry-run', answer.data.state);
        }
      })
      .catch((err) => {
        page.show('error', `${page.T.failed} ${(err && err.message) || err}`);
        root.setAttribute('data-dry-run', 'error');
      });
  }

  panel.box.addEventListener('click', (event) => {
    const button = event.target.closest && event.target.closest('[data-dry-action]');
    const action = button && button.getAttribute('data-dry-action');
    if (action === 'run') {
      run();
    } else if (action === 'fill') {
      fill(true);
    } else if (action === 'clear') {
      clear();
    }
  });

  return {
    toggle(button) {
      const open = panel.box.hidden;
      panel.box.hidden = !open;
      if (button) {
        button.setAttribute('aria-expanded', String(open));
      }
      if (open) {
        page.flushInput();
        fill(false);
      } else {
        clear();
      }
    },
    run
  };
}

function buildPanel(translate) {
  const box = el('section', 'tf-dryrun');
  box.hidden = true;
  box.setAttribute('data-testid', 'dry-run-panel');
  box.setAttribute('aria-label', translate('Dry run'));
  box.appendChild(el('p', 'muted', translate(
    'The server runs this diagram in memory with the sample data below: nothing is stored, service tasks are not called (their result is {"status": "dry-run"}), waiting timers fire at once, and a wait for a message stops the run.')));
  const label = el('label', 'tf-dryrun-label', translate('Sample data (JSON): "start" for the start form, "tasks" by user task id'));
  const text = el('textarea', 'tf-dryrun-sample');
  text.spellcheck = false;
  text.setAttribute('data-testid', 'dry-run-sample');
  label.appendChild(text);
  box.appendChild(label);
  const error = el('p', 'tf-dryrun-error');
  error.hidden = true;
  error.setAttribute('data-testid', 'dry-run-sample-error');
  error.setAttribute('role', 'alert');
  box.appendChild(error);
  const buttons = el('div', 'tf-dryrun-buttons');
  const runButton = el('button', 'primary', translate('Run'));
  runButton.type = 'button';
  runButton.setAttribute('data-dry-action', 'run');
  runButton.setAttribute('data-testid', 'dry-run-start');
  const fillButton = el('button', null, translate('Fill from the forms'));
  fillButton.type = 'button';
  fillButton.setAttribute('data-dry-action', 'fill');
  const clearButton = el('button', null, translate('Clear the path'));
  clearButton.type = 'button';
  clearButton.setAttribute('data-dry-action', 'clear');
  buttons.append(runButton, fillButton, clearButton);
  box.appendChild(buttons);
  const result = el('div', 'tf-dryrun-result');
  result.setAttribute('data-testid', 'dry-run-result');
  box.appendChild(result);
  return { box, text, error, result };
}

// --- the answer -------------------------------------------------------------------------------

function clearPath(bpmn) {
  const canvas = bpmn.get('canvas');
  bpmn.get('overlays').remove({ type: OVERLAY });
  bpmn.get('elementRegistry').forEach((element) => {
    [ VISITED, STOPPED ].forEach((marker) => {
      if (canvas.hasMarker(element, marker)) {
        canvas.removeMarker(element, marker);
      }
    });
  });
}

function flowBetween(registry, from, to) {
  return registry.find((element) => element.type === 'bpmn:SequenceFlow'
    && element.source && element.target && element.source.id === from && element.target.id === to);
}

/** Markers on the visited elements and flows, each element's step numbers above it. */
function drawPath(bpmn, result) {
  const registry = bpmn.get('elementRegistry');
  const canvas = bpmn.get('canvas');
  const overlays = bpmn.get('overlays');
  const numbers = {};
  result.steps.forEach((step) => {
    const element = registry.get(step.element_id);
    if (!element) {
      return;
    }
    canvas.addMarker(element, VISITED);
    (numbers[step.element_id] = numbers[step.element_id] || []).push(step.number);
    const flow = step.came_from && flowBetween(registry, step.came_from, step.element_id);
    if (flow) {
      canvas.addMarker(flow, VISITED);
    }
  });
  Object.keys(numbers).forEach((id) => {
    const list = numbers[id];
    const shown = list.length > MAX_NUMBERS ? `${list.slice(0, MAX_NUMBERS).join(',')}…×${list.length}` : list.join(',');
    const badge = el('div', 'tf-dry-badge', shown);
    badge.setAttribute('data-element-id', id);
    overlays.add(id, OVERLAY, { position: { top: -10, right: 8 }, html: badge });
  });
  if (result.element_id && registry.get(result.element_id) && result.state !== 'completed') {
    canvas.addMarker(result.element_id, STOPPED);
  }
}

const OUTCOMES = {
  started: (t) => t('started'),
  ran: (t) => t('ran'),
  completed: (t) => t('completed with the sample data'),
  service_not_called: (t) => t('service not called; stub answer recorded'),
  timer_fired_early: (t) => t('timer fired at once'),
  ended: (t) => t('ended'),
  failed: (t) => t('failed')
};

const TYPES = {
  StartEvent: 'Start Event', EndEvent: 'End Event', UserTask: 'User Task', ManualTask: 'Manual Task',
  ScriptTask: 'Script Task', ServiceTask: 'Service Task', BusinessRuleTask: 'Business Rule Task',
  ExclusiveGateway: 'Exclusive Gateway', ParallelGateway: 'Parallel Gateway', InclusiveGateway: 'Inclusive Gateway',
  IntermediateCatchEvent: 'Intermediate Event', IntermediateThrowEvent: 'Intermediate Event',
  BoundaryEvent: 'Boundary Event', CallActivity: 'Call Activity', SendTask: 'Send Task', ReceiveTask: 'Receive Task',
  NoneTask: 'Task', SubWorkflowTask: 'SubProcess', TransactionSubprocess: 'SubProcess'
};

function stopText(t, result) {
  if (result.state === 'completed') {
    return t('The run reached the end of the process.');
  }
  if (result.state === 'waiting') {
    const wait = result.waiting[0] || {};
    return wait.kind === 'message'
      ? t('The run stopped at {element}: it waits for the message "{message}".', { element: result.element_id, message: wait.message })
      : t('The run stopped at {element}: it waits for a timer due {due} (UTC).', { element: result.element_id, due: wait.due_at });
  }
  if (result.state === 'budget') {
    return t('The run stopped after {count} steps, the step budget: a loop that never waits?', { count: result.steps.length });
  }
  return result.element_id
    ? t('The run failed at {element}: {message}', { element: result.element_id, message: result.message })
    : t('The run failed: {message}', { message: result.message });
}

function stepRow(t, step) {
  const row = el('tr', `tf-dry-row tf-dry-${step.outcome}`);
  row.setAttribute('data-element-id', step.element_id);
  row.setAttribute('data-outcome', step.outcome);
  row.appendChild(el('td', null, String(step.number)));
  const what = el('td');
  what.appendChild(el('strong', null, step.name || step.element_id));
  what.appendChild(el('code', null, ` ${step.element_id}`));
  what.appendChild(el('div', 'muted', t(TYPES[step.type] || step.type)));
  row.appendChild(what);
  const happened = el('td', null, (OUTCOMES[step.outcome] || ((x) => step.outcome))(t));
  if (step.given && Object.keys(step.given).length) {
    happened.appendChild(el('code', 'tf-dry-json', json(step.given)));
  }
  row.appendChild(happened);
  const changes = el('td');
  Object.keys(step.changes).forEach((name) => {
    changes.appendChild(el('code', 'tf-dry-json', `${name} = ${json(step.changes[name])}`));
  });
  row.appendChild(changes);
  return row;
}

function showResult(bpmn, t, box, result) {
  drawPath(bpmn, result);
  const kind = result.state === 'completed' ? 'success' : (result.state === 'waiting' ? '' : 'error');
  const stop = el('p', `flash tf-dry-stop ${kind}`, stopText(t, result));
  stop.setAttribute('data-testid', 'dry-run-stop');
  stop.setAttribute('data-state', result.state);
  box.appendChild(stop);
  const notes = el('ul', 'tf-dry-notes');
  if (result.steps.some((s) => s.outcome === 'service_not_called')) {
    notes.appendChild(el('li', null, t('Service tasks were not called: their result variable holds {stub}.', { stub: '{"status": "dry-run"}' })));
  }
  result.steps.filter((s) => s.outcome === 'timer_fired_early').forEach((s) => {
    notes.appendChild(el('li', null, t('The timer {element} was fired at once instead of waiting.', { element: s.element_id })));
  });
  if (notes.childNodes.length) {
    box.appendChild(notes);
  }
  const table = el('table', 'tf-dry-steps');
  table.setAttribute('data-testid', 'dry-run-steps');
  const head = el('tr');
  [ t('Step'), t('Element'), t('What happened'), t('Variables set') ].forEach((h) => head.appendChild(el('th', null, h)));
  table.appendChild(el('thead')).appendChild(head);
  const body = el('tbody');
  result.steps.forEach((step) => body.appendChild(stepRow(t, step)));
  table.appendChild(body);
  const wrap = el('div', 'tf-dry-table');
  wrap.appendChild(table);
  box.appendChild(wrap);
  box.appendChild(el('h3', null, t('Final variables')));
  const finalVars = el('pre', 'tf-dry-variables', JSON.stringify(result.variables, null, 2));
  finalVars.setAttribute('data-testid', 'dry-run-variables');
  box.appendChild(finalVars);
}

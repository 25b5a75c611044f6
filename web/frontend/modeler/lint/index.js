// Problems while drawing: the modeler checks the diagram as it changes and shows what is wrong
// on the elements (red for errors, amber for warnings) and in a list below the canvas.
//
// Two checks feed it: bpmnlint in the browser (bpmn-js-bpmnlint's `linting` service, with
// bpmnlint's rules that fit SpiffWorkflow and TowerFlow's own, ./config.js), at once on every
// change; and the server's lint (the rules of `towerflow lint`: forms, handlers, decisions,
// called processes, timers, conditions...), the diagram posted to the designer's lint endpoint
// a moment after the last change. An error disables Deploy, with the reason; warnings don't.
// A click on a problem selects its element and scrolls it into view.

import lintModule from 'bpmn-js-bpmnlint';

import { el, focusElement } from '../problems.js';
import { SERVER_TWINS, linterConfig } from './config.js';
import { lintMessage } from './messages.js';
import './problems.css';

const SERVER_DELAY = 700; // ms after the last change
const MARKERS = { error: 'tf-lint-error', warning: 'tf-lint-warning' };
const OVERLAY = 'tf-lint';

export const lintModules = [ lintModule ];
export const lintingConfig = { bpmnlint: linterConfig, active: false }; // our markers, not the library's

/** bpmn-js-bpmnlint's issues (grouped by element) as the panel's problems. */
function modelerProblems(issues, translate) {
  const found = [];
  Object.values(issues || {}).forEach((list) => list.forEach((issue) => {
    if (issue.category !== 'error' && issue.category !== 'warn') {
      return;
    }
    found.push({
      element_id: issue.actualElementId || issue.id,
      severity: issue.category === 'error' ? 'error' : 'warning',
      message: lintMessage(issue.message, translate),
      rule: issue.rule,
      source: 'modeler'
    });
  }));
  return found;
}

class ProblemsPanel {
  constructor(page) {
    this.page = page;
    this.bpmn = page.bpmn;
    this.root = page.root;
    this.translate = this.bpmn.get('translate');
    this.local = [];
    this.server = [];
    this.serverError = null;
    this.serverRun = 0;
    this.timer = null;
    this.deployButton = this.root.querySelector('[data-action="deploy"]');
    this.build();
    const eventBus = this.bpmn.get('eventBus');
    eventBus.on('linting.completed', (event) => {
      this.local = modelerProblems(event.issues, this.translate);
      this.render();
    });
    eventBus.on('commandStack.changed', () => this.scheduleServer());
    eventBus.on('import.done', () => this.scheduleServer(0));
    // while the XML panel is open, Deploy sends its text, which the diagram may not show yet:
    // the server alone judges it then
    if (page.xmlPanel && window.MutationObserver) {
      new MutationObserver(() => this.gateDeploy(this.errors || 0))
        .observe(page.xmlPanel, { attributes: true, attributeFilter: [ 'hidden' ] });
    }
  }

  build() {
    const T = this.translate;
    this.box = el('section', 'tf-lint-panel');
    this.box.setAttribute('data-testid', 'problems-panel');
    this.box.setAttribute('aria-label', T('Problems'));
    const head = this.box.appendChild(el('div', 'tf-lint-head'));
    head.appendChild(el('strong', null, T('Problems')));
    this.summary = head.appendChild(el('span', 'tf-lint-summary'));
    this.summary.setAttribute('data-testid', 'problems-summary');
    this.reason = this.box.appendChild(el('p', 'tf-lint-reason'));
    this.reason.setAttribute('data-testid', 'deploy-blocked');
    this.reason.hidden = true;
    this.list = this.box.appendChild(el('ul', 'tf-lint-list'));
    this.list.setAttribute('data-testid', 'problems-list');
    this.list.addEventListener('click', (event) => {
      const item = event.target.closest && event.target.closest('li[data-element-id]');
      if (item && item.getAttribute('data-element-id')) {
        this.select(item.getAttribute('data-element-id'));
      }
    });
    const workbench = this.root.querySelector('.tf-workbench');
    workbench.parentNode.insertBefore(this.box, workbench.nextSibling);
    this.root.setAttribute('data-lint', 'checking');
  }

  select(id) {
    const element = this.bpmn.get('elementRegistry').get(id);
    if (element && element !== this.bpmn.get('canvas').getRootElement()) {
      focusElement(this.bpmn, id);
    }
  }

  // --- the server's lint ------------------------------------------------------------------

  scheduleServer(delay = SERVER_DELAY) {
    clearTimeout(this.timer);
    this.root.setAttribute('data-lint', 'checking');
    this.timer = setTimeout(() => this.checkServer(), delay);
  }

  checkServer() {
    const run = ++this.serverRun;
    const url = this.root.getAttribute('data-lint-url');
    return this.bpmn.saveXML({ format: false })
      .then(({ xml }) => this.page.post(url, { filename: this.page.filename.value, xml }))
      .then((answer) => {
        if (run !== this.serverRun) {
          return;
        }
        if (answer.status === 200) {
          this.server = answer.data.problems.map((p) => ({ ...p, severity: p.severity || 'error', source: 'server' }));
          this.serverError = null;
        } else {
          const error = answer.data && answer.data.error;
          this.serverError = error ? error.message : String(answer.status);
        }
      })
      .catch((err) => {
        if (run === this.serverRun) {
          this.serverError = (err && err.message) || String(err);
        }
      })
      .then(() => {
        if (run === this.serverRun) {
          this.root.setAttribute('data-lint', 'done');
          this.render();
        }
      });
  }

  // --- showing them ---------------------------------------------------------------------

  /** Errors first; a server problem the modeler's own rule already shows is left out. */
  problems() {
    const covered = new Set(this.local.filter((p) => SERVER_TWINS[p.rule])
      .map((p) => `${p.element_id} ${SERVER_TWINS[p.rule]}`));
    const server = this.server.filter((p) => !covered.has(`${p.element_id} ${p.code}`));
    const all = this.local.concat(server);
    return all.filter((p) => p.severity === 'error').concat(all.filter((p) => p.severity !== 'error'));
  }

  render() {
    const T = this.translate;
    const problems = this.problems();
    const errors = problems.filter((p) => p.severity === 'error').length;
    const warnings = problems.length - errors;
    this.mark(problems);
    this.list.textContent = '';
    problems.forEach((p) => this.list.appendChild(this.item(p)));
    if (this.serverError) {
      const item = el('li', 'tf-lint-item tf-lint-failed', T('The server could not check the diagram: {message}',
        { message: this.serverError }));
      this.list.appendChild(item);
    }
    if (!problems.length && !this.serverError) {
      this.list.appendChild(el('li', 'tf-lint-none', T('No problems found.')));
    }
    this.summary.textContent = problems.length
      ? `${T('{errors} errors, {warnings} warnings', { errors, warnings })} · ${T('Errors block deployment; warnings do not.')}`
      : '';
    this.root.setAttribute('data-lint-errors', String(errors));
    this.root.setAttribute('data-lint-warnings', String(warnings));
    this.box.classList.toggle('tf-lint-has-errors', errors > 0);
    this.errors = errors;
    this.gateDeploy(errors);
  }

  item(p) {
    const T = this.translate;
    const item = el('li', `tf-lint-item tf-lint-${p.severity}`);
    item.setAttribute('data-element-id', p.element_id || '');
    item.setAttribute('data-severity', p.severity);
    item.setAttribute('data-source', p.source);
    if (p.rule) {
      item.setAttribute('data-rule', p.rule);
    }
    if (p.code) {
      item.setAttribute('data-code', p.code);
    }
    item.appendChild(el('span', 'tf-lint-badge', T(p.severity)));
    item.appendChild(el('span', 'tf-lint-where', this.elementName(p.element_id)));
    item.appendChild(el('span', 'tf-lint-message', p.message));
    item.appendChild(el('span', 'tf-lint-source', T(p.source === 'server' ? 'Server' : 'Modeler')));
    if (p.element_id) {
      item.title = T('Show on the diagram');
      item.tabIndex = 0;
      item.addEventListener('keydown', (event) => {
        if (event.key === 'Enter' || event.key === ' ') {
          event.preventDefault();
          this.select(p.element_id);
        }
      });
    }
    return item;
  }

  elementName(id) {
    if (!id) {
      return '';
    }
    const element = this.bpmn.get('elementRegistry').get(id);
    const bo = element && element.businessObject;
    if (bo && bo.$type === 'bpmn:Process') {
      return bo.name || this.translate('Process');
    }
    return (bo && bo.name) ? `${bo.name} (${id})` : id;
  }

  /** A marker per element (its worst problem) and a badge with the messages on hover. */
  mark(problems) {
    const canvas = this.bpmn.get('canvas');
    const registry = this.bpmn.get('elementRegistry');
    const overlays = this.bpmn.get('overlays');
    overlays.remove({ type: OVERLAY });
    registry.forEach((element) => {
      Object.values(MARKERS).forEach((marker) => {
        if (canvas.hasMarker(element, marker)) {
          canvas.removeMarker(element, marker);
        }
      });
    });
    const byElement = {};
    problems.forEach((p) => {
      if (p.element_id) {
        (byElement[p.element_id] = byElement[p.element_id] || []).push(p);
      }
    });
    const rootElement = canvas.getRootElement();
    Object.entries(byElement).forEach(([ id, list ]) => {
      const element = registry.get(id);
      if (!element || element === rootElement || element.type === 'label') {
        return;
      }
      const severity = list.some((p) => p.severity === 'error') ? 'error' : 'warning';
      canvas.addMarker(element, MARKERS[severity]);
      const badge = el('div', `tf-lint-badge-overlay tf-lint-${severity}`, String(list.length));
      badge.setAttribute('data-element-id', id);
      badge.title = list.map((p) => p.message).join('\n');
      badge.addEventListener('click', () => this.showInList(id));
      const position = element.waypoints ? { top: -10, left: -10 } : { top: -10, right: 10 };
      overlays.add(element, OVERLAY, { position, html: badge });
    });
  }

  showInList(id) {
    const item = this.list.querySelector(`li[data-element-id="${CSS.escape(id)}"]`);
    if (item) {
      item.scrollIntoView({ block: 'nearest' });
      item.focus();
    }
  }

  /** Deploy is refused while errors remain: the button is disabled and says why. */
  gateDeploy(errors) {
    const T = this.translate;
    const text = errors ? T('Fix the {count} errors before deploying (see Problems below the diagram).',
      { count: errors }) : '';
    this.reason.textContent = text;
    this.reason.hidden = !errors;
    if (this.deployButton) {
      const editingXml = this.page.xmlPanel && !this.page.xmlPanel.hidden;
      this.deployButton.disabled = errors > 0 && !editingXml;
      if (errors && !editingXml) {
        this.deployButton.title = text;
      } else {
        this.deployButton.removeAttribute('title');
      }
    }
  }

  /** After a deploy with warnings: list them under the deployed versions. */
  deployed(answer, box) {
    const warnings = (answer && answer.warnings) || [];
    if (!warnings.length || !box) {
      return;
    }
    const wrap = el('div', 'tf-lint-deployed-warnings');
    wrap.setAttribute('data-testid', 'deploy-warnings');
    wrap.appendChild(el('p', null, this.translate('Deployed with warnings:')));
    const list = wrap.appendChild(el('ul'));
    warnings.forEach((w) => {
      const item = list.appendChild(el('li', null, `${w.element_id ? `[${w.element_id}] ` : ''}${w.message}`));
      item.setAttribute('data-element-id', w.element_id || '');
    });
    box.appendChild(wrap);
  }
}

/** Start the checks on the modeler page (page.js calls this once the modeler exists). */
export function installProblems(page) {
  return new ProblemsPanel(page);
}

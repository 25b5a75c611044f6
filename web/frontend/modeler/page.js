// The modeler page: bpmn-js with TowerFlow's properties panel, in the page's language.
// Validate and Deploy post the diagram to the designer's JSON endpoints (with the CSRF token)
// and mark the problems the server finds; Edit XML shows the text; Save as file downloads it.

import Modeler from 'bpmn-js/lib/Modeler';
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from 'bpmn-js-properties-panel';

import spiffworkflow from './moddle/spiffworkflow.json';
import { registerUnknownSpiffElements } from './moddle/unknown.js';
import translateModule from './i18n/translate.js';
import towerflowPanel from './panel/index.js';
import { clearProblems, el, focusElement, markProblems, problemTable } from './problems.js';
import { installProblems, lintModules, lintingConfig } from './lint/index.js';
import { installSimulation, simulationModule } from './simulation/index.js';
import { installDryRun } from './dryrun/index.js';

const NARROW_CANVAS = 600;

function readJson(node) {
  return node ? JSON.parse(node.textContent) : null;
}

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute('content') : '';
}

class ModelerPage {
  constructor(root, T) {
    this.root = root;
    this.T = T;
    this.status = root.querySelector('.tf-status');
    this.filename = root.querySelector('input[name="filename"]');
    this.xmlPanel = root.querySelector('.tf-xml-panel');
    this.xmlText = root.querySelector('.tf-xml');
    this.bpmn = new Modeler({
      container: root.querySelector('#tf-canvas'),
      propertiesPanel: { parent: root.querySelector('#tf-properties') },
      additionalModules: [ BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, towerflowPanel, translateModule,
        simulationModule, ...lintModules ],
      moddleExtensions: { spiffworkflow },
      linting: lintingConfig
    });
    window.towerflowModeler = this.bpmn; // for tests and the browser console
    this.problems = installProblems(this); // problems while drawing (./lint)
  }

  /** Import XML, keeping spiffworkflow elements this modeler has no type for. */
  importXml(xml) {
    registerUnknownSpiffElements(this.bpmn.get('moddle'), xml);
    return this.bpmn.importXML(xml).then((result) => {
      this.fitDiagram();
      return result;
    });
  }

  /** Show the whole diagram right of the palette (on a phone it would otherwise hide the left part). */
  fitDiagram() {
    const canvas = this.bpmn.get('canvas');
    canvas.zoom('fit-viewport', 'auto');
    const { inner, outer } = canvas.viewbox();
    const palette = this.root.querySelector('.djs-palette');
    const left = palette ? palette.offsetLeft + palette.offsetWidth + 12 : 12;
    const margin = 12;
    if (!inner.width || !inner.height || outer.width <= left + margin) {
      return;
    }
    const scale = Math.min(1, (outer.width - left - margin) / inner.width, (outer.height - 2 * margin) / inner.height);
    const offsetX = left + Math.max(0, (outer.width - left - margin - inner.width * scale) / 2);
    const offsetY = Math.max(margin, (outer.height - inner.height * scale) / 2);
    canvas.viewbox({
      x: inner.x - offsetX / scale, y: inner.y - offsetY / scale,
      width: outer.width / scale, height: outer.height / scale
    });
  }

  open(xml) {
    if (this.root.querySelector('#tf-canvas').clientWidth < NARROW_CANVAS) {
      this.bpmn.get('palette').close(); // a phone: the diagram gets the width, the palette opens on a tap
    }
    return this.importXml(xml).then(() => {
      this.root.setAttribute('data-ready', 'true');
    }).catch((err) => this.show('error', this.importFailed(err)));
  }

  loadCatalog() {
    const url = this.root.getAttribute('data-catalog-url');
    this.root.setAttribute('data-catalog', 'loading');
    return this.bpmn.get('towerflowCatalog').load(url).then((state) => {
      this.root.setAttribute('data-catalog', state);
    });
  }

  importFailed(err) {
    const text = String((err && err.message) || err);
    return /no diagram to display/i.test(text) ? this.T.no_diagram : `${this.T.cannot_draw} ${text}`;
  }

  show(kind, text, extra) {
    this.status.className = `tf-status flash ${kind}`;
    this.status.textContent = text;
    if (extra) {
      this.status.appendChild(extra);
    }
    this.status.hidden = false;
  }

  /** The XML to send: the text being edited when the XML panel is open (drawn first, so
      problems can be marked), else the diagram as the modeler holds it. */
  currentXml() {
    this.flushInput();
    if (this.xmlPanel.hidden) {
      return this.bpmn.saveXML({ format: true }).then((result) => result.xml);
    }
    const xml = this.xmlText.value;
    return this.importXml(xml).catch(() => { /* the lint's answer names the problem */ }).then(() => xml);
  }

  post(url, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRFToken': csrfToken() },
      body: JSON.stringify(body)
    }).then((response) => {
      const type = response.headers.get('Content-Type') || '';
      if (type.indexOf('application/json') < 0) {
        throw new Error(this.T.session);
      }
      return response.json().then((data) => ({ status: response.status, data }));
    });
  }

  send(url, busyText) {
    this.show('', busyText);
    this.root.removeAttribute('data-result');
    clearProblems(this.bpmn);
    return this.currentXml()
      .then((xml) => this.post(url, { filename: this.filename.value, xml }))
      .catch((err) => {
        this.show('error', `${this.T.failed} ${(err && err.message) || err}`);
        return null;
      });
  }

  /** Commit what is still being typed in the properties panel. */
  flushInput() {
    this.bpmn.get('debounceInput').flushAll();
  }

  toggleXml() {
    this.flushInput();
    if (!this.xmlPanel.hidden) {
      this.xmlPanel.hidden = true;
      return Promise.resolve();
    }
    return this.bpmn.saveXML({ format: true }).then((result) => {
      this.xmlText.value = result.xml;
      this.xmlPanel.hidden = false;
    });
  }

  applyXml() {
    return this.importXml(this.xmlText.value)
      .then(() => this.show('success', this.T.xml_applied))
      .catch((err) => this.show('error', `${this.T.cannot_draw} ${(err && err.message) || err}`));
  }

  showProblems(title, problems) {
    const box = el('div');
    box.appendChild(problemTable(problems, this.T));
    const missing = markProblems(this.bpmn, problems);
    if (missing.length) {
      box.appendChild(el('p', 'muted', `${this.T.not_on_diagram} ${missing.join(', ')}`));
    }
    this.show('error', title, box);
    this.root.setAttribute('data-result', 'problems');
  }

  answerError(answer) {
    const error = answer.data && answer.data.error;
    this.show('error', `${this.T.failed} ${error ? error.message : answer.status}`);
    this.root.setAttribute('data-result', 'error');
  }

  validate() {
    return this.send(this.root.getAttribute('data-lint-url'), this.T.validating).then((answer) => {
      if (!answer) {
        return;
      }
      if (answer.status !== 200) {
        this.answerError(answer);
      } else if (answer.data.ok) {
        this.show('success', this.T.valid);
        this.root.setAttribute('data-result', 'valid');
      } else {
        this.showProblems(this.T.problems_lint, answer.data.problems);
      }
    });
  }

  deploy() {
    return this.send(this.root.getAttribute('data-deploy-url'), this.T.deploying).then((answer) => {
      if (!answer) {
        return;
      }
      if (answer.status === 422) {
        this.showProblems(this.T.problems_found, answer.data.problems);
        return;
      }
      if (answer.status !== 201) {
        this.answerError(answer);
        return;
      }
      this.show('success', this.T.deployed, this.deployedList(answer.data));
      this.problems.deployed(answer.data, this.status);
      this.showVersion(answer.data.processes);
      this.root.setAttribute('data-result', 'deployed');
    });
  }

  /** The heading names the version now deployed from this editor. */
  showVersion(processes) {
    const key = this.root.getAttribute('data-key');
    const shown = document.querySelector('[data-testid="modeler-version"]');
    processes.forEach((p) => {
      if (shown && p.key === key) {
        shown.textContent = p.version;
      }
    });
  }

  deployedList(summary) {
    const list = el('ul', 'tf-deployed');
    summary.processes.forEach((p) => {
      const item = el('li');
      item.setAttribute('data-process', p.key);
      item.setAttribute('data-version', p.version);
      item.appendChild(el('code', null, p.key));
      item.appendChild(document.createTextNode(
        ` ${this.T.version} ${p.version} (${p.new ? this.T.new_version : this.T.unchanged}) `));
      const link = el('a', null, this.T.open);
      link.href = p.url;
      item.appendChild(link);
      list.appendChild(item);
    });
    return list;
  }

  /** Save the current diagram as a file, so work is never stuck in the browser. */
  download() {
    this.flushInput();
    return this.bpmn.saveXML({ format: true }).then((result) => {
      const link = el('a');
      link.href = URL.createObjectURL(new Blob([ result.xml ], { type: 'application/xml' }));
      link.download = this.filename.value || 'diagram.bpmn';
      document.body.appendChild(link);
      link.click();
      link.remove();
    });
  }

  /** On narrow screens the panel sits below the canvas and folds away. */
  togglePanel(button) {
    const panel = this.root.querySelector('.tf-panel');
    const open = panel.classList.toggle('tf-panel-collapsed') === false;
    button.setAttribute('aria-expanded', String(open));
  }
}

export function start() {
  const root = document.getElementById('tf-modeler');
  if (!root) {
    return;
  }
  const T = readJson(document.getElementById('designer-i18n')) || {};
  const page = new ModelerPage(root, T);
  const simulation = installSimulation(page);
  const dryRun = installDryRun(page);
  const actions = {
    simulate: () => simulation.toggle(),
    'dry-run': (button) => dryRun.toggle(button),
    validate: () => page.validate(),
    deploy: () => page.deploy(),
    download: () => page.download(),
    xml: () => page.toggleXml(),
    'apply-xml': () => page.applyXml(),
    'toggle-panel': (button) => page.togglePanel(button)
  };
  root.addEventListener('click', (event) => {
    const button = event.target.closest && event.target.closest('[data-action]');
    if (button && root.contains(button) && actions[button.getAttribute('data-action')]) {
      actions[button.getAttribute('data-action')](button);
    }
  });
  document.addEventListener('click', (event) => {
    const row = event.target.closest && event.target.closest('tr.tf-problem-row');
    if (row && row.getAttribute('data-element-id')) {
      focusElement(page.bpmn, row.getAttribute('data-element-id'));
    }
  });
  page.loadCatalog();
  page.open(readJson(document.getElementById('tf-diagram-xml')));
}

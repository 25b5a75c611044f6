// The decision table page: draws the decision in the table editor, validates it (the server's
// lint, problems listed by rule and column and marked on their cells) and deploys it; the
// answer lists the processes that got a new version with it.
import { createModeler } from './modeler';
import { makeTranslate, pageLanguage, translateLeftovers } from './translate';

const KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

function readJson(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : null;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) { node.className = className; }
  if (text !== undefined && text !== null) { node.textContent = text; }
  return node;
}

function format(template, values) {
  return String(template).replace(/{(\w+)}/g, (whole, key) => (key in values ? values[key] : whole));
}

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute('content') : '';
}

/* POST JSON with the CSRF header; anything but a JSON answer means the session is gone. */
async function postJson(url, body, T) {
  const response = await fetch(url, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'Accept': 'application/json', 'X-CSRFToken': csrfToken() },
    body: JSON.stringify(body)
  });
  const type = response.headers.get('Content-Type') || '';
  if (!type.includes('application/json')) { throw new Error(T.session); }
  return { status: response.status, body: await response.json() };
}

/* Where an element id sits in the table: { rule, column } (1-based rule), for the problem list. */
function locator(modeler) {
  const definitions = modeler.getDefinitions();
  const decision = definitions && (definitions.drgElement || []).find((e) => e.decisionLogic && e.decisionLogic.rule);
  const found = {};
  if (!decision) { return found; }
  const table = decision.decisionLogic;
  const inputs = table.input || [];
  const outputs = table.output || [];
  const column = (clause, kind, index) => clause.label || clause.name || (clause.inputExpression && clause.inputExpression.text) || `${kind} ${index + 1}`;
  found[decision.id] = {};
  found[table.id] = {};
  inputs.forEach((input, i) => {
    found[input.id] = { column: column(input, 'input', i), kind: 'input' };
    if (input.inputExpression) { found[input.inputExpression.id] = found[input.id]; }
  });
  outputs.forEach((output, i) => { found[output.id] = { column: column(output, 'output', i), kind: 'output' }; });
  (table.rule || []).forEach((rule, r) => {
    found[rule.id] = { rule: r + 1 };
    (rule.inputEntry || []).forEach((entry, i) => {
      found[entry.id] = { rule: r + 1, column: inputs[i] ? column(inputs[i], 'input', i) : '' };
    });
    (rule.outputEntry || []).forEach((entry, i) => {
      found[entry.id] = { rule: r + 1, column: outputs[i] ? column(outputs[i], 'output', i) : '' };
    });
  });
  return found;
}

function cssString(value) {
  return `"${String(value).replace(/["\\]/g, '\\$&')}"`;
}

class DecisionPage {
  constructor(root) {
    this.root = root;
    this.T = readJson('tf-dmn-i18n') || {};
    this.status = root.querySelector('[data-testid=dmn-status]');
    this.keyInput = root.querySelector('input[name=key]');
    this.filenameInput = root.querySelector('input[name=filename]');
    this.marks = document.head.appendChild(el('style'));
    this.dirty = false;
    const container = root.querySelector('.tf-dmn-editor');
    this.modeler = createModeler(container, pageLanguage());
    translateLeftovers(container, makeTranslate(pageLanguage()));
    root.addEventListener('click', (event) => this.onClick(event));
    if (this.keyInput && !this.keyInput.readOnly) {
      this.keyInput.addEventListener('change', () => this.renameDecision());
    }
    window.addEventListener('beforeunload', (event) => {
      if (this.dirty) { event.preventDefault(); event.returnValue = ''; }
    });
  }

  async open(xml) {
    try {
      await this.modeler.importXML(xml);
    } catch (err) {
      this.say('error', `${this.T.cannot_open} ${err.message || err}`);
      this.root.setAttribute('data-ready', 'failed');
      return;
    }
    const viewer = this.modeler.getActiveViewer();
    viewer.get('eventBus').on('elements.changed', () => { this.dirty = true; });
    this.root.setAttribute('data-ready', 'true');
  }

  onClick(event) {
    const action = event.target.closest('[data-action]');
    if (action) {
      event.preventDefault();
      this[action.getAttribute('data-action')]();
      return;
    }
    const row = event.target.closest('tr[data-element-id]');
    if (row) { this.showCell(row.getAttribute('data-element-id')); }
  }

  say(kind, text) {
    this.status.hidden = false;
    this.status.className = `tf-status flash ${kind}`;
    this.status.replaceChildren(el('p', null, text));
    return this.status;
  }

  async xml() {
    const { xml } = await this.modeler.saveXML({ format: true });
    return xml;
  }

  renameDecision() {
    const key = this.keyInput.value.trim();
    if (!KEY_PATTERN.test(key)) {
      this.say('error', this.T.bad_key);
      return;
    }
    const viewer = this.modeler.getActiveViewer();
    viewer.get('modeling').editDecisionTableId(key);
    this.filenameInput.value = `${key}.dmn`;
    this.say('', format(this.T.renamed, { key }));
  }

  async validate() {
    await this.send('lint', this.T.validating);
  }

  async deploy() {
    await this.send('deploy', this.T.deploying);
  }

  async send(what, busy) {
    this.say('', busy);
    this.markProblems([]);
    const url = this.root.getAttribute(what === 'lint' ? 'data-lint-url' : 'data-deploy-url');
    let answer;
    try {
      answer = await postJson(url, { filename: this.filenameInput.value, xml: await this.xml() }, this.T);
    } catch (err) {
      this.say('error', `${this.T.failed} ${err.message || err}`);
      return;
    }
    const { status, body } = answer;
    if (body.problems && body.problems.length) {
      this.showProblems(body.problems, what === 'lint' ? this.T.problems_lint : this.T.problems_found);
    } else if (status >= 400) {
      this.say('error', `${this.T.failed} ${(body.error && body.error.message) || status}`);
    } else if (what === 'lint') {
      this.showPlan(body);
    } else {
      this.showDeployed(body);
    }
    this.root.setAttribute('data-last', `${what}:${status}`);
  }

  showPlan(body) {
    const decision = (body.decisions || [])[0];
    const box = this.say('success', this.T.valid);
    box.setAttribute('data-testid', 'dmn-status');
    if (decision && !decision.new) {
      box.appendChild(el('p', null, this.T.unchanged));
    } else if (decision && decision.affects.length) {
      box.appendChild(el('p', null, `${this.T.would_version} ${decision.affects.map((a) => a.key).join(', ')}`));
    } else if (decision) {
      box.appendChild(el('p', null, this.T.affects_none));
    }
  }

  showDeployed(body) {
    this.dirty = false;
    const decision = (body.decisions || [])[0];
    if (!decision) { this.say('success', this.T.deployed); return; }
    const box = this.say('success', decision.new
      ? format(this.T.deployed_version, { key: decision.key, version: decision.version })
      : format(this.T.deployed_unchanged, { key: decision.key, version: decision.version }));
    const list = el('ul', 'tf-affected');
    list.setAttribute('data-testid', 'dmn-affected');
    (decision.affects || []).forEach((process) => {
      const item = el('li');
      item.setAttribute('data-process', process.key);
      item.setAttribute('data-version', process.version);
      const info = (body.processes || []).find((p) => p.key === process.key);
      const link = el('a', null, `${process.key} v${process.version}`);
      link.href = (info && info.url) || '#';
      item.appendChild(link);
      list.appendChild(item);
    });
    if (decision.new) {
      box.appendChild(el('p', null, decision.affects.length ? this.T.affects : this.T.affects_none));
      if (decision.affects.length) { box.appendChild(list); }
    }
    this.afterDeploy(decision);
  }

  afterDeploy(decision) {
    const version = document.querySelector('[data-testid=dmn-version]');
    if (version) { version.textContent = decision.version; }
    const older = document.querySelector('[data-testid=older-version]');
    if (older) { older.hidden = true; }
    if (this.keyInput && !this.keyInput.readOnly) {
      this.keyInput.readOnly = true;
      this.root.setAttribute('data-key', decision.key);
    }
    if (decision.url && window.history.replaceState) {
      window.history.replaceState(null, '', decision.url);
    }
  }

  showProblems(problems, heading) {
    const where = locator(this.modeler);
    const box = this.say('error', heading);
    const table = el('table', 'tf-problems');
    table.setAttribute('data-testid', 'dmn-problems');
    const head = table.createTHead().insertRow();
    [this.T.rule, this.T.column, this.T.problem].forEach((text) => head.appendChild(el('th', null, text)));
    const body = table.createTBody();
    problems.forEach((problem) => {
      const place = where[problem.element_id] || {};
      const row = body.insertRow();
      row.className = 'tf-problem-row';
      if (problem.element_id) { row.setAttribute('data-element-id', problem.element_id); }
      row.appendChild(el('td', null, place.rule ? format(this.T.rule_n, { n: place.rule }) : ''));
      row.appendChild(el('td', null, place.column || (problem.element_id && !(problem.element_id in where) ? problem.element_id : '')));
      const file = problem.file && problem.file !== this.filenameInput.value ? `${problem.file}: ` : '';
      row.appendChild(el('td', null, file + problem.message));
    });
    box.appendChild(table);
    this.markProblems(problems);
  }

  /* A style rule per problem cell: it outlives dmn-js re-rendering the cells. */
  markProblems(problems) {
    const ids = problems.map((p) => p.element_id).filter(Boolean);
    this.marks.textContent = ids.map((id) => `.tf-dmn-editor [data-element-id=${cssString(id)}]`).join(',\n')
      + (ids.length ? ' { outline: 2px solid #c0392b; outline-offset: -2px; background: #fdecea; }' : '');
  }

  showCell(id) {
    const cell = this.root.querySelector(`.tf-dmn-editor [data-element-id=${cssString(id)}]`);
    if (cell) { cell.scrollIntoView({ block: 'nearest', inline: 'center' }); }
  }

  async download() {
    const blob = new Blob([await this.xml()], { type: 'application/xml' });
    const link = el('a');
    link.href = URL.createObjectURL(blob);
    link.download = this.filenameInput.value || 'decision.dmn';
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }
}

export function startPage() {
  const root = document.getElementById('tf-dmn');
  if (!root) { return; }
  const page = new DecisionPage(root);
  window.tfDecisionPage = page;
  page.open(readJson('tf-dmn-xml'));
}

/* TowerFlow designer: draws uploaded diagrams with their problems marked, and runs the bpmn-js
   modeler (validate and deploy through the designer's JSON endpoints, with the CSRF token). */
(function () {
  'use strict';

  var T = readJson(document.getElementById('designer-i18n')) || {};
  var MARKER = 'tf-problem';

  function readJson(node) {
    return node ? JSON.parse(node.textContent) : null;
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  /* Problems grouped by element id; the ones without an element are not drawn. */
  function byElement(problems) {
    var groups = {};
    problems.forEach(function (p) {
      if (p.element_id) { (groups[p.element_id] = groups[p.element_id] || []).push(p); }
    });
    return groups;
  }

  /* Mark each problem's element (red marker + an overlay with its messages); returns the ids
     that are not shapes on the diagram (e.g. a message definition), so the page can say so. */
  function markProblems(bpmn, problems) {
    var registry = bpmn.get('elementRegistry');
    var canvas = bpmn.get('canvas');
    var overlays = bpmn.get('overlays');
    var groups = byElement(problems);
    var missing = [];
    Object.keys(groups).forEach(function (id) {
      var element = registry.get(id);
      if (!element || element === canvas.getRootElement()) { missing.push(id); return; }
      canvas.addMarker(id, MARKER);
      var note = el('div', 'tf-problem-note');
      note.setAttribute('data-element-id', id);
      groups[id].forEach(function (p) { note.appendChild(el('div', null, p.message)); });
      overlays.add(id, MARKER, { position: { top: -8, left: 0 }, html: note });
    });
    return missing;
  }

  function clearProblems(bpmn) {
    var canvas = bpmn.get('canvas');
    bpmn.get('overlays').remove({ type: MARKER });
    bpmn.get('elementRegistry').forEach(function (element) {
      if (canvas.hasMarker(element, MARKER)) { canvas.removeMarker(element, MARKER); }
    });
  }

  /* Bring a problem's element into view (and select it where the diagram can select). */
  function focusElement(bpmn, id) {
    var element = id && bpmn.get('elementRegistry').get(id);
    if (!element) { return; }
    var canvas = bpmn.get('canvas');
    if (typeof canvas.scrollToElement === 'function') { canvas.scrollToElement(element); }
    var selection = bpmn.get('selection', false);
    if (selection) { selection.select(element); }
  }

  /* Clicking a problem row shows its element on the diagram it belongs to. */
  function onProblemClick(findDiagram) {
    document.addEventListener('click', function (event) {
      var row = event.target.closest && event.target.closest('tr.tf-problem-row');
      var bpmn = row && row.getAttribute('data-element-id') && findDiagram(row);
      if (bpmn) { focusElement(bpmn, row.getAttribute('data-element-id')); }
    });
  }

  function noteMissing(node, missing) {
    if (!node || !missing.length) { return; }
    node.textContent = (T.not_on_diagram || '') + ' ' + missing.join(', ');
    node.hidden = false;
  }

  function importFailed(err) {
    var text = String(err && err.message || err);
    return /no diagram to display/i.test(text) ? T.no_diagram : (T.cannot_draw + ' ' + text);
  }

  /* --- the upload result page: one viewer per well-formed uploaded BPMN file -------------- */

  function drawUploaded(container) {
    var data = readJson(container.parentNode.querySelector('.tf-diagram-data'));
    var note = container.parentNode.querySelector('.tf-diagram-note');
    var viewer = new window.BpmnJS({ container: container });
    container.tfViewer = viewer;
    viewer.importXML(data.xml).then(function () {
      viewer.get('canvas').zoom('fit-viewport', 'auto');
      noteMissing(note, markProblems(viewer, data.problems));
      container.setAttribute('data-drawn', 'true');
    }).catch(function (err) {
      container.hidden = true;
      note.textContent = importFailed(err);
      note.hidden = false;
      container.setAttribute('data-drawn', 'failed');
    });
  }

  /* --- the modeler -------------------------------------------------------------------------- */

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute('content') : '';
  }

  /* POST JSON with the CSRF header; anything but a JSON answer means the session is gone. */
  function postJson(url, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'Accept': 'application/json', 'X-CSRFToken': csrfToken() },
      body: JSON.stringify(body)
    }).then(function (response) {
      var type = response.headers.get('Content-Type') || '';
      if (type.indexOf('application/json') < 0) { throw new Error(T.session); }
      return response.json().then(function (data) { return { status: response.status, data: data }; });
    });
  }

  function problemTable(problems) {
    var table = el('table', 'tf-problems');
    var head = el('tr');
    [T.file, T.line, T.element, T.problem].forEach(function (h) { head.appendChild(el('th', null, h)); });
    table.appendChild(el('thead')).appendChild(head);
    var body = table.appendChild(el('tbody'));
    problems.forEach(function (p) {
      var row = el('tr', 'tf-problem-row');
      row.setAttribute('data-element-id', p.element_id || '');
      [p.file, p.line === null ? '' : p.line, p.element_id || '', p.message].forEach(function (v) {
        row.appendChild(el('td', null, String(v)));
      });
      body.appendChild(row);
    });
    return table;
  }

  function Modeler(root) {
    this.root = root;
    this.status = root.querySelector('.tf-status');
    this.filename = root.querySelector('input[name="filename"]');
    this.xmlPanel = root.querySelector('.tf-xml-panel');
    this.xmlText = root.querySelector('.tf-xml');
    this.bpmn = new window.BpmnJS({ container: root.querySelector('#tf-canvas'), keyboard: { bindTo: document } });
    window.towerflowModeler = this.bpmn;  // for tests and the browser console
  }

  Modeler.prototype.open = function (xml) {
    var self = this;
    return this.bpmn.importXML(xml).then(function () {
      self.bpmn.get('canvas').zoom('fit-viewport', 'auto');
      self.root.setAttribute('data-ready', 'true');
    }).catch(function (err) {
      self.show('error', importFailed(err));
    });
  };

  Modeler.prototype.show = function (kind, text, extra) {
    this.status.className = 'tf-status flash ' + kind;
    this.status.textContent = text;
    if (extra) { this.status.appendChild(extra); }
    this.status.hidden = false;
  };

  /* The XML to send: the text being edited when the XML panel is open (drawn first, so problems
     can be marked), else the diagram as the modeler holds it. */
  Modeler.prototype.currentXml = function () {
    var self = this;
    if (self.xmlPanel.hidden) {
      return self.bpmn.saveXML({ format: true }).then(function (result) { return result.xml; });
    }
    var xml = self.xmlText.value;
    return self.draw(xml).then(function () { return xml; });
  };

  Modeler.prototype.send = function (url, busyText) {
    var self = this;
    self.show('', busyText);
    self.root.removeAttribute('data-result');
    clearProblems(self.bpmn);
    return self.currentXml().then(function (xml) {
      return postJson(url, { filename: self.filename.value, xml: xml });
    }).catch(function (err) {
      self.show('error', T.failed + ' ' + (err && err.message || err));
      return null;
    });
  };

  /* Draw XML typed by hand; when it cannot be drawn the server still says why (with a line). */
  Modeler.prototype.draw = function (xml) {
    var self = this;
    return self.bpmn.importXML(xml).then(function () {
      self.bpmn.get('canvas').zoom('fit-viewport', 'auto');
    }).catch(function () { /* the lint's answer names the problem */ });
  };

  Modeler.prototype.toggleXml = function () {
    var self = this;
    if (!self.xmlPanel.hidden) { self.xmlPanel.hidden = true; return Promise.resolve(); }
    return self.bpmn.saveXML({ format: true }).then(function (result) {
      self.xmlText.value = result.xml;
      self.xmlPanel.hidden = false;
    });
  };

  Modeler.prototype.applyXml = function () {
    var self = this;
    return self.bpmn.importXML(self.xmlText.value).then(function () {
      self.bpmn.get('canvas').zoom('fit-viewport', 'auto');
      self.show('success', T.xml_applied);
    }).catch(function (err) {
      self.show('error', T.cannot_draw + ' ' + (err && err.message || err));
    });
  };

  Modeler.prototype.showProblems = function (title, problems) {
    var box = el('div');
    box.appendChild(problemTable(problems));
    var missing = markProblems(this.bpmn, problems);
    if (missing.length) { box.appendChild(el('p', 'muted', T.not_on_diagram + ' ' + missing.join(', '))); }
    this.show('error', title, box);
    this.root.setAttribute('data-result', 'problems');
  };

  Modeler.prototype.answerError = function (answer) {
    var error = answer.data && answer.data.error;
    this.show('error', T.failed + ' ' + (error ? error.message : answer.status));
    this.root.setAttribute('data-result', 'error');
  };

  Modeler.prototype.validate = function () {
    var self = this;
    return self.send(self.root.getAttribute('data-lint-url'), T.validating).then(function (answer) {
      if (!answer) { return; }
      if (answer.status !== 200) { self.answerError(answer); return; }
      if (answer.data.ok) {
        self.show('success', T.valid);
        self.root.setAttribute('data-result', 'valid');
      } else {
        self.showProblems(T.problems_lint, answer.data.problems);
      }
    });
  };

  Modeler.prototype.deploy = function () {
    var self = this;
    return self.send(self.root.getAttribute('data-deploy-url'), T.deploying).then(function (answer) {
      if (!answer) { return; }
      if (answer.status === 422) { self.showProblems(T.problems_found, answer.data.problems); return; }
      if (answer.status !== 201) { self.answerError(answer); return; }
      self.show('success', T.deployed, self.deployedList(answer.data));
      self.showVersion(answer.data.processes);
      self.root.setAttribute('data-result', 'deployed');
    });
  };

  /* The heading names the version now deployed from this editor. */
  Modeler.prototype.showVersion = function (processes) {
    var key = this.root.getAttribute('data-key');
    var shown = document.querySelector('[data-testid="modeler-version"]');
    processes.forEach(function (p) {
      if (shown && p.key === key) { shown.textContent = p.version; }
    });
  };

  Modeler.prototype.deployedList = function (summary) {
    var list = el('ul', 'tf-deployed');
    summary.processes.forEach(function (p) {
      var item = el('li');
      item.setAttribute('data-process', p.key);
      item.setAttribute('data-version', p.version);
      item.appendChild(el('code', null, p.key));
      item.appendChild(document.createTextNode(' ' + T.version + ' ' + p.version + ' (' +
        (p.new ? T.new_version : T.unchanged) + ') '));
      var link = el('a', null, T.open);
      link.href = p.url;
      item.appendChild(link);
      list.appendChild(item);
    });
    return list;
  };

  /* Save the current diagram as a file, so work is never stuck in the browser. */
  Modeler.prototype.download = function () {
    var self = this;
    return self.bpmn.saveXML({ format: true }).then(function (result) {
      var link = el('a');
      link.href = URL.createObjectURL(new Blob([result.xml], { type: 'application/xml' }));
      link.download = self.filename.value || 'diagram.bpmn';
      document.body.appendChild(link);
      link.click();
      link.remove();
    });
  };

  function startModeler(root) {
    var modeler = new Modeler(root);
    onProblemClick(function () { return modeler.bpmn; });
    root.querySelector('[data-action="validate"]').addEventListener('click', function () { modeler.validate(); });
    root.querySelector('[data-action="deploy"]').addEventListener('click', function () { modeler.deploy(); });
    root.querySelector('[data-action="download"]').addEventListener('click', function () { modeler.download(); });
    root.querySelector('[data-action="xml"]').addEventListener('click', function () { modeler.toggleXml(); });
    root.querySelector('[data-action="apply-xml"]').addEventListener('click', function () { modeler.applyXml(); });
    modeler.open(readJson(document.getElementById('tf-diagram-xml')));
  }

  function start() {
    if (typeof window.BpmnJS !== 'function') {  // the script did not load: say so where diagrams go
      Array.prototype.forEach.call(document.querySelectorAll('.tf-diagram, #tf-canvas'), function (node) {
        node.replaceWith(el('p', 'flash error', T.cannot_draw + ' bpmn-js'));
      });
      return;
    }
    var viewers = document.querySelectorAll('[data-designer-viewer]');
    Array.prototype.forEach.call(viewers, drawUploaded);
    onProblemClick(function (row) {
      var match = Array.prototype.filter.call(viewers, function (v) {
        return v.getAttribute('data-file') === row.getAttribute('data-file');
      })[0];
      return match && match.tfViewer;
    });
    var root = document.getElementById('tf-modeler');
    if (root) { startModeler(root); }
  }

  start();
}());

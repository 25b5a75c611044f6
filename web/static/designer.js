/* TowerFlow designer: draws uploaded diagrams with their problems marked (the bpmn-js viewer).
   The modeler page has its own bundle: web/frontend/modeler.js, built into web/static/build/. */
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

  function start() {
    if (typeof window.BpmnJS !== 'function') {  // the script did not load: say so where diagrams go
      Array.prototype.forEach.call(document.querySelectorAll('.tf-diagram'), function (node) {
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
  }

  start();
}());

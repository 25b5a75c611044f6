// The server's problems on the diagram: a red marker and a note on each element named, a table
// under the toolbar; clicking a row brings its element into view and selects it.

const MARKER = 'tf-problem';

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

function byElement(problems) {
  const groups = {};
  problems.forEach((p) => {
    if (p.element_id) {
      (groups[p.element_id] = groups[p.element_id] || []).push(p);
    }
  });
  return groups;
}

/** Mark each problem's element; returns the ids that are not shapes on the diagram. */
export function markProblems(bpmn, problems) {
  const registry = bpmn.get('elementRegistry');
  const canvas = bpmn.get('canvas');
  const overlays = bpmn.get('overlays');
  const groups = byElement(problems);
  const missing = [];
  Object.keys(groups).forEach((id) => {
    const element = registry.get(id);
    if (!element || element === canvas.getRootElement()) {
      missing.push(id);
      return;
    }
    canvas.addMarker(id, MARKER);
    const note = el('div', 'tf-problem-note');
    note.setAttribute('data-element-id', id);
    groups[id].forEach((p) => note.appendChild(el('div', null, p.message)));
    overlays.add(id, MARKER, { position: { top: -8, left: 0 }, html: note });
  });
  return missing;
}

export function clearProblems(bpmn) {
  const canvas = bpmn.get('canvas');
  bpmn.get('overlays').remove({ type: MARKER });
  bpmn.get('elementRegistry').forEach((element) => {
    if (canvas.hasMarker(element, MARKER)) {
      canvas.removeMarker(element, MARKER);
    }
  });
}

export function focusElement(bpmn, id) {
  const element = id && bpmn.get('elementRegistry').get(id);
  if (!element) {
    return;
  }
  bpmn.get('canvas').scrollToElement(element);
  bpmn.get('selection').select(element);
}

export function problemTable(problems, T) {
  const table = el('table', 'tf-problems');
  const head = el('tr');
  [ T.file, T.line, T.element, T.problem ].forEach((h) => head.appendChild(el('th', null, h)));
  table.appendChild(el('thead')).appendChild(head);
  const body = table.appendChild(el('tbody'));
  problems.forEach((p) => {
    const row = el('tr', 'tf-problem-row');
    row.setAttribute('data-element-id', p.element_id || '');
    [ p.file, p.line === null ? '' : p.line, p.element_id || '', p.message ].forEach((v) => {
      row.appendChild(el('td', null, String(v)));
    });
    body.appendChild(row);
  });
  return table;
}

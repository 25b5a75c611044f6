// The comparison page: two navigated bpmn-js viewers (older left or above, newer right or
// below), the changes marked on both (added green on the newer, removed red on the older,
// changed orange on both, moved-only lightly) and listed below with old → new for each changed
// property. A click on a change shows the element in both viewers; panning and zooming one
// moves the other while "pan and zoom together" is ticked.

import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';
import { getBBox } from 'diagram-js/lib/util/Elements';

import spiffworkflow from '../modeler/moddle/spiffworkflow.json';
import { registerUnknownSpiffElements } from '../modeler/moddle/unknown.js';
import translateModule from '../modeler/i18n/translate.js';
import { compareDefinitions } from './changes.js';
import { makeLabels } from './labels.js';

const MARKERS = { added: 'tf-diff-added', removed: 'tf-diff-removed', changed: 'tf-diff-changed', layout: 'tf-diff-layout' };
const SIDES = { added: [ 'b' ], removed: [ 'a' ], changed: [ 'a', 'b' ], layout: [ 'a', 'b' ] };
const BADGES = { added: '+', removed: '−', changed: '~', layout: '↔' };
const MARGIN = 24;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined && text !== null) {
    node.textContent = text;
  }
  return node;
}

class ComparePage {
  constructor(root) {
    this.root = root;
    this.L = makeLabels();
    this.status = root.querySelector('[data-testid=compare-status]');
    this.list = root.querySelector('[data-testid=change-list]');
    this.sync = root.querySelector('[data-testid=sync-views]');
    this.syncing = false;
    this.viewers = {};
    [ 'a', 'b' ].forEach((side) => {
      this.viewers[side] = new NavigatedViewer({
        container: root.querySelector(`#tf-cmp-${side}`),
        additionalModules: [ translateModule ],
        moddleExtensions: { spiffworkflow }
      });
    });
    window.towerflowCompare = this; // for tests and the browser console
  }

  async open(xml) {
    const drawn = {};
    for (const side of [ 'a', 'b' ]) {
      const viewer = this.viewers[side];
      registerUnknownSpiffElements(viewer.get('moddle'), xml[side]);
      try {
        await viewer.importXML(xml[side]);
        drawn[side] = viewer.getDefinitions();
      } catch (err) {
        this.show(`${this.L.word('cannotDraw')} v${this.root.dataset[side]}: ${(err && err.message) || err}`);
      }
    }
    if (!drawn.a || !drawn.b) {
      this.root.setAttribute('data-ready', 'error');
      return;
    }
    this.fitBoth();
    this.linkViews();
    try {
      this.changes = compareDefinitions(drawn.a, drawn.b);
    } catch (err) {
      this.show(`${this.L.word('cannotCompare')} ${(err && err.message) || err}`);
      this.root.setAttribute('data-ready', 'error');
      return;
    }
    this.mark(this.changes);
    this.renderList(this.changes);
    this.root.setAttribute('data-changes', String(this.changes.length));
    this.root.setAttribute('data-ready', 'true');
  }

  show(text) {
    this.status.className = 'tf-status flash error';
    this.status.textContent = text;
    this.status.hidden = false;
  }

  /** Both diagrams at the same scale, showing everything either version has. */
  fitBoth() {
    const boxes = [ 'a', 'b' ].map((side) => this.viewers[side].get('canvas').viewbox());
    const inner = boxes.map((box) => box.inner).filter((box) => box.width && box.height);
    if (!inner.length) {
      return;
    }
    const x = Math.min(...inner.map((box) => box.x));
    const y = Math.min(...inner.map((box) => box.y));
    const width = Math.max(...inner.map((box) => box.x + box.width)) - x;
    const height = Math.max(...inner.map((box) => box.y + box.height)) - y;
    [ 'a', 'b' ].forEach((side, i) => {
      const { outer } = boxes[i];
      if (!outer.width || !outer.height) {
        return;
      }
      const scale = Math.min(1, (outer.width - 2 * MARGIN) / width, (outer.height - 2 * MARGIN) / height);
      this.setViewbox(side, {
        x: x - (outer.width / scale - width) / 2, y: y - (outer.height / scale - height) / 2,
        width: outer.width / scale, height: outer.height / scale
      });
    });
  }

  setViewbox(side, box) {
    this.syncing = true;
    try {
      this.viewers[side].get('canvas').viewbox(box);
    } finally {
      this.syncing = false;
    }
  }

  /** Panning or zooming one viewer moves the other the same way (while the box is ticked). */
  linkViews() {
    [ [ 'a', 'b' ], [ 'b', 'a' ] ].forEach(([ from, to ]) => {
      this.viewers[from].on('canvas.viewbox.changed', ({ viewbox }) => {
        if (this.syncing || !this.sync || !this.sync.checked) {
          return;
        }
        this.setViewbox(to, { x: viewbox.x, y: viewbox.y, width: viewbox.width, height: viewbox.height });
      });
    });
  }

  mark(changes) {
    changes.forEach((change) => {
      SIDES[change.kind].forEach((side) => {
        const viewer = this.viewers[side];
        const element = viewer.get('elementRegistry').get(change.id);
        if (!element || !element.parent) {
          return; // the process itself, or an element without a shape
        }
        viewer.get('canvas').addMarker(element, MARKERS[change.kind]);
        const badge = el('span', `tf-diff-badge tf-diff-badge-${change.kind}`, BADGES[change.kind]);
        badge.title = this.L.word(change.kind);
        badge.setAttribute('data-element-id', change.id);
        viewer.get('overlays').add(element, 'tf-diff', {
          position: element.waypoints ? { top: -12, left: getBBox(element).width / 2 - 9 } : { top: -10, right: 8 },
          html: badge
        });
      });
    });
  }

  renderList(changes) {
    const count = this.root.querySelector('[data-testid=change-count]');
    count.textContent = this.L.word('count', { n: changes.length });
    this.list.textContent = '';
    if (!changes.length) {
      this.list.appendChild(el('p', 'muted', this.L.word('noChanges')));
      return;
    }
    const table = el('table', 'tf-cmp-changes');
    const head = el('tr');
    [ this.L.word('kind'), this.L.word('element'), this.L.word('details') ].forEach((h) => head.appendChild(el('th', null, h)));
    table.appendChild(el('thead')).appendChild(head);
    const body = table.appendChild(el('tbody'));
    changes.forEach((change) => body.appendChild(this.row(change)));
    this.list.appendChild(table);
  }

  row(change) {
    const row = el('tr', `tf-cmp-row tf-cmp-row-${change.kind}`);
    row.setAttribute('data-element-id', change.id);
    row.setAttribute('data-kind', change.kind);
    row.tabIndex = 0;
    const kind = row.appendChild(el('td', 'tf-cmp-kind'));
    kind.appendChild(el('span', `tf-cmp-swatch tf-cmp-${change.kind}`));
    kind.appendChild(document.createTextNode(this.L.word(change.kind)));
    const who = row.appendChild(el('td'));
    who.appendChild(el('strong', null, change.name || change.id));
    who.appendChild(el('br'));
    who.appendChild(el('span', 'muted', `${this.L.type(change.type)} · `));
    who.appendChild(el('code', null, change.id));
    const details = row.appendChild(el('td', 'tf-cmp-details'));
    if (change.kind === 'changed') {
      if (!change.properties.length) {
        details.appendChild(el('span', 'muted', this.L.word('otherChanges')));
      }
      const list = details.appendChild(el('ul', 'tf-cmp-props'));
      change.properties.forEach((p) => {
        const item = list.appendChild(el('li'));
        item.setAttribute('data-property', p.name);
        item.appendChild(el('span', 'tf-cmp-prop', `${this.L.property(p.name)}: `));
        item.appendChild(el('del', 'tf-cmp-old', p.old === null ? this.L.word('none') : p.old));
        item.appendChild(document.createTextNode(' → '));
        item.appendChild(el('ins', 'tf-cmp-new', p.new === null ? this.L.word('none') : p.new));
      });
    } else {
      details.appendChild(el('span', 'muted', this.L.word(`${change.kind}Note`)));
    }
    const focus = () => this.focus(change.id, row);
    row.addEventListener('click', focus);
    row.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        focus();
      }
    });
    return row;
  }

  /** Select the element and zoom to it in each viewer that has it. */
  focus(id, row) {
    this.list.querySelectorAll('.tf-cmp-row.tf-cmp-current').forEach((r) => r.classList.remove('tf-cmp-current'));
    if (row) {
      row.classList.add('tf-cmp-current');
    }
    [ 'a', 'b' ].forEach((side) => {
      const viewer = this.viewers[side];
      const element = viewer.get('elementRegistry').get(id);
      viewer.get('selection').select(element && element.parent ? element : null);
      if (!element || !element.parent) {
        return;
      }
      const box = getBBox(element);
      const { outer } = viewer.get('canvas').viewbox();
      const scale = Math.min(1.2, outer.width / (box.width + 240), outer.height / (box.height + 160));
      this.setViewbox(side, {
        x: box.x + box.width / 2 - outer.width / scale / 2, y: box.y + box.height / 2 - outer.height / scale / 2,
        width: outer.width / scale, height: outer.height / scale
      });
    });
  }
}

export function start() {
  const root = document.getElementById('tf-compare');
  const data = document.getElementById('tf-compare-xml');
  if (!root || !data) {
    return;
  }
  new ComparePage(root).open(JSON.parse(data.textContent));
}

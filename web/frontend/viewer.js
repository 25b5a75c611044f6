// The cockpit's diagram viewer (instance and version pages): bpmn-js NavigatedViewer with a
// minimap, a toolbar (zoom, fit, full screen, go to the current step), marks drawn as
// outlines and badges, touch pan and pinch, drill-down into call activities, and a click on an
// element that lists its instances or visits. It defines window.TowerflowDiagram.draw (the
// contract static/diagram.js had) and draws every [data-diagram] element on page load.
import 'bpmn-js/dist/assets/diagram-js.css';
import 'bpmn-js/dist/assets/bpmn-js.css';
import 'bpmn-js/dist/assets/bpmn-font/css/bpmn-embedded.css';
import 'diagram-js-minimap/assets/diagram-js-minimap.css';
import './viewer/viewer.css';

import { draw } from './viewer/draw.js';

function drawAll() {
  document.querySelectorAll('[data-diagram]').forEach((container) => {
    const source = document.getElementById(container.getAttribute('data-diagram'));
    if (source && !container.hasAttribute('data-drawing')) {
      container.setAttribute('data-drawing', 'true');
      draw(container, JSON.parse(source.textContent));
    }
  });
}

window.TowerflowDiagram = { draw, drawAll, bundled: true };
if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', drawAll);
} else {
  drawAll();
}

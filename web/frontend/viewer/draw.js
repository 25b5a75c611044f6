// TowerflowDiagram.draw(container, drawing) -> Promise<viewer | null>
//   drawing: {xml, markers: {id: [cls]}, badges: [{element, text, className, position, title}],
//             heat: {id: 0..1}, laneLabels: {group: words}, calls: {element: url},
//             elementUrl: "...__ELEMENT__...", words: {...}}
import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';
import minimapModule from 'diagram-js-minimap';

import { relabelLanes } from './lanes.js';
import { addBadges, addDrillButtons, addHeat, addIncidentBadges, addMarkers } from './marks.js';
import { enableTouch, firstView } from './navigate.js';
import { panelFor } from './panel.js';
import { addToolbar } from './toolbar.js';

const WORDS = {
  toolbar: 'Diagram tools', zoomIn: 'Zoom in', zoomOut: 'Zoom out', fit: 'Fit to the frame',
  current: 'Go to the current step', fullscreen: 'Full screen', minimap: 'Minimap',
  drill: 'Open the called process', incident: 'Incident', close: 'Close', failed: 'Could not load the list',
  error: 'The diagram could not be drawn:', openElement: 'Open {element}',
};

/** diagram-js's own words (the minimap toggle, a collapsed sub-process's drill-down) in the page's language. */
function translateModule(words) {
  const known = { 'Open minimap': words.minimap, 'Close minimap': words.minimap, 'Open {element}': words.openElement };
  function translate(template, replacements) {
    const text = known[template] || template;
    return text.replace(/{([^}]+)}/g, (_, key) => (replacements && replacements[key] !== undefined ? replacements[key] : `{${key}}`));
  }
  return { translate: ['value', translate] };
}

function showError(container, error) {
  const message = document.createElement('p');
  message.className = 'diagram-error';
  message.textContent = `${container.getAttribute('data-error') || WORDS.error} ${error && error.message ? error.message : String(error)}`;
  container.appendChild(message);
}

function recordView(container, canvas) {
  const vb = canvas.viewbox();
  container.setAttribute('data-zoom', vb.scale.toFixed(3));
}

function clickable(element) {
  return Boolean(element) && !element.waypoints && element.type !== 'label'
    && !/Participant|Lane|Process|Collaboration/.test(element.type);
}

export function draw(container, drawing) {
  const words = { ...WORDS, ...(drawing.words || {}) };
  container.classList.add('tf-viewer');
  const viewer = new NavigatedViewer({ container, additionalModules: [minimapModule, translateModule(words)] });
  return viewer.importXML(relabelLanes(drawing.xml, drawing.laneLabels)).then(() => {
    const canvas = viewer.get('canvas');
    const registry = viewer.get('elementRegistry');
    const overlays = viewer.get('overlays');
    const eventBus = viewer.get('eventBus');
    addHeat(canvas, registry, drawing.heat);
    addMarkers(canvas, registry, drawing.markers);
    addBadges(overlays, registry, drawing.badges);
    addIncidentBadges(overlays, registry, drawing.markers, words);
    addDrillButtons(overlays, registry, drawing.calls, words);
    addToolbar(container, viewer, words);
    enableTouch(container, canvas);
    const view = firstView(canvas, registry);
    container.setAttribute('data-first-view', view);
    recordView(container, canvas);
    eventBus.on('canvas.viewbox.changed', () => recordView(container, canvas));
    if (drawing.elementUrl) {
      const panel = panelFor(container, words);
      eventBus.on('element.click', (event) => {
        const element = event.element;
        if (!clickable(element)) { return; }
        panel.load(drawing.elementUrl.replace('__ELEMENT__', encodeURIComponent(element.id)));
      });
    }
    container.tfViewer = viewer;
    container.setAttribute('data-ready', 'true');
    return viewer;
  }).catch((error) => {
    showError(container, error);
    container.setAttribute('data-ready', 'error');
    return null;
  });
}

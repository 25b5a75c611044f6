// The toolbar over the diagram: zoom in, zoom out, fit, full screen, go to the current step,
// minimap. Buttons carry the page's words (drawing.words, translated by the server) as title
// and aria-label; each is a 44 px tap.
import { goToCurrent } from './navigate.js';

const STEP = 1.25;

function button(name, icon, label, onClick) {
  const node = document.createElement('button');
  node.type = 'button';
  node.className = `tf-tool tf-tool-${name}`;
  node.setAttribute('data-tool', name);
  node.title = label;
  node.setAttribute('aria-label', label);
  node.textContent = icon;
  node.addEventListener('click', (event) => { event.preventDefault(); onClick(node); });
  return node;
}

function zoomBy(canvas, factor) {
  const vb = canvas.viewbox();
  const centre = { x: vb.x + vb.width / 2, y: vb.y + vb.height / 2 };
  canvas.zoom(Math.max(0.2, Math.min(4, vb.scale * factor)), centre);
}

/** Full screen with the Fullscreen API, or a box that fills the viewport where there is none. */
function toggleFullScreen(container, canvas) {
  const api = container.requestFullscreen && document.fullscreenEnabled;
  if (document.fullscreenElement === container) {
    document.exitFullscreen();
  } else if (container.classList.contains('tf-full')) {
    container.classList.remove('tf-full');
    canvas.resized();
  } else if (api) {
    container.requestFullscreen().catch(() => {
      container.classList.add('tf-full');
      canvas.resized();
    });
  } else {
    container.classList.add('tf-full');
    canvas.resized();
  }
}

export function addToolbar(container, viewer, words) {
  const canvas = viewer.get('canvas');
  const registry = viewer.get('elementRegistry');
  let minimap = null;
  try { minimap = viewer.get('minimap'); } catch (error) { minimap = null; }
  const bar = document.createElement('div');
  bar.className = 'tf-toolbar';
  bar.setAttribute('role', 'toolbar');
  bar.setAttribute('aria-label', words.toolbar);
  bar.append(
    button('zoom-in', '+', words.zoomIn, () => zoomBy(canvas, STEP)),
    button('zoom-out', '−', words.zoomOut, () => zoomBy(canvas, 1 / STEP)),
    button('fit', '⤢', words.fit, () => canvas.zoom('fit-viewport', 'auto')),
    button('current', '◎', words.current, () => goToCurrent(canvas, registry)),
    button('fullscreen', '⛶', words.fullscreen, () => toggleFullScreen(container, canvas)),
  );
  if (minimap) {
    bar.append(button('minimap', '▣', words.minimap, (node) => {
      minimap.toggle();
      node.setAttribute('aria-pressed', String(minimap.isOpen()));
    }));
  }
  container.appendChild(bar);
  document.addEventListener('fullscreenchange', () => {
    container.classList.toggle('tf-fullscreen', document.fullscreenElement === container);
    canvas.resized();
  });
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && container.classList.contains('tf-full')) {
      container.classList.remove('tf-full');
      canvas.resized();
    }
  });
  return bar;
}

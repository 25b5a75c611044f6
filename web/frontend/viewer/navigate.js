// Where the viewer looks: a readable first zoom with the current step centred, "go to the
// current step", and pan / pinch by touch (diagram-js has mouse drag and wheel zoom only).

export const READABLE = 1.0; // bpmn-js labels are 12 px at zoom 1: at least ~11 px on screen
const FITS = 0.8; // a diagram that fits at this zoom or more is simply fitted

function centreOf(element) {
  return { x: element.x + element.width / 2, y: element.y + element.height / 2 };
}

/** Show the plane holding the element (a collapsed sub-process's own diagram) if needed. */
function showPlaneOf(canvas, element) {
  const root = typeof canvas.findRoot === 'function' ? canvas.findRoot(element) : null;
  if (root && root !== canvas.getRootElement()) {
    canvas.setRootElement(root);
  }
}

export function centreOn(canvas, element, zoom) {
  showPlaneOf(canvas, element);
  const outer = canvas.viewbox().outer;
  const scale = zoom || canvas.zoom();
  const point = centreOf(element);
  canvas.viewbox({
    x: point.x - outer.width / scale / 2,
    y: point.y - outer.height / scale / 2,
    width: outer.width / scale,
    height: outer.height / scale,
  });
}

function marked(registry, cls) {
  return registry.filter((element) => {
    const gfx = registry.getGraphics(element);
    return Boolean(gfx) && gfx.classList.contains(cls) && !element.waypoints;
  });
}

function inside(element, outer) {
  for (let parent = element.parent; parent; parent = parent.parent) {
    if (parent === outer) { return true; }
  }
  return false;
}

/** The innermost ones: a sub-process holding a marked call activity gives way to it. */
function innermost(elements) {
  return elements.filter((outer) => !elements.some((other) => other !== outer && inside(other, outer)));
}

/** The element "go to the current step" shows: the first active step, else an incident, else
 *  the innermost scope holding the token (a call activity inside a sub-process), else the busiest. */
export function currentElement(registry) {
  for (const cls of ['tf-active', 'tf-incident', 'tf-scope', 'tf-heat']) {
    const found = innermost(marked(registry, cls));
    if (found.length) { return found[0]; }
  }
  return null;
}

function firstElement(registry, root) {
  const shapes = registry.filter((e) => !e.waypoints && e.parent === root && e.type !== 'label'
    && !/Participant|Lane/.test(e.type));
  shapes.sort((a, b) => a.x - b.x || a.y - b.y);
  return shapes[0] || null;
}

/** First view: fitted if that is readable, else zoom READABLE on the current step (or the start). */
export function firstView(canvas, registry) {
  canvas.zoom('fit-viewport', 'auto');
  if (canvas.zoom() >= FITS) { return 'fit'; }
  const target = currentElement(registry) || firstElement(registry, canvas.getRootElement());
  if (!target) { return 'fit'; }
  centreOn(canvas, target, READABLE);
  return 'current';
}

export function goToCurrent(canvas, registry) {
  const target = currentElement(registry);
  if (!target) { return false; }
  centreOn(canvas, target, Math.max(READABLE, Math.min(canvas.zoom(), 2)));
  return true;
}

/** One finger pans, two fingers pinch-zoom around their midpoint. */
export function enableTouch(container, canvas) {
  let last = null;
  const points = (event) => Array.from(event.touches).map((t) => ({ x: t.clientX, y: t.clientY }));
  const spread = (p) => Math.hypot(p[0].x - p[1].x, p[0].y - p[1].y);
  container.addEventListener('touchstart', (event) => {
    if (event.target.closest('.tf-toolbar, .tf-drill, .djs-minimap, .bjs-breadcrumbs')) { return; }
    last = points(event);
  }, { passive: true });
  container.addEventListener('touchmove', (event) => {
    if (!last) { return; }
    const now = points(event);
    event.preventDefault();
    if (now.length === 1 && last.length === 1) {
      canvas.scroll({ dx: now[0].x - last[0].x, dy: now[0].y - last[0].y });
    } else if (now.length >= 2 && last.length >= 2) {
      const box = container.getBoundingClientRect();
      const mid = { x: (now[0].x + now[1].x) / 2 - box.left, y: (now[0].y + now[1].y) / 2 - box.top };
      const scale = Math.max(0.2, Math.min(4, canvas.zoom() * spread(now) / Math.max(1, spread(last))));
      canvas.zoom(scale, canvasPoint(canvas, mid));
    }
    last = now;
  }, { passive: false });
  container.addEventListener('touchend', (event) => {
    last = event.touches.length ? points(event) : null;
  }, { passive: true });
}

function canvasPoint(canvas, screen) {
  const vb = canvas.viewbox();
  return { x: vb.x + screen.x / vb.scale, y: vb.y + screen.y / vb.scale };
}

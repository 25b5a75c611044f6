// Marks that never hide each other: every state is an outline (CSS classes on the element's
// group) or a badge (an overlay at a corner); nothing fills a shape over its label.
//   tf-active    the step that holds the token: thick outline
//   tf-scope     a sub-process or call activity with the token inside: dashed outline
//   tf-listener  a boundary event or event sub-process that only waits: dotted outline
//   tf-done / tf-taken   the path taken: coloured outline and sequence flows
//   tf-incident  red outline, plus a "!" badge
//   tf-heat      the heatmap: an orange outline whose width grows with the count

const POSITIONS = {
  'top-right': () => ({ top: -10, right: 10 }),
  'top-left': () => ({ top: -10, left: -10 }),
  'bottom-left': () => ({ bottom: 10, left: -10 }),
  'bottom-right': () => ({ bottom: 10, right: 10 }),
};

function is(element, type) {
  const bo = element && element.businessObject;
  return Boolean(bo && bo.$instanceOf && bo.$instanceOf(type));
}

export function isListener(element) {
  if (is(element, 'bpmn:BoundaryEvent')) { return true; }
  const bo = element.businessObject;
  return is(element, 'bpmn:SubProcess') && Boolean(bo.triggeredByEvent);
}

export function isScope(element) {
  return !isListener(element) && (is(element, 'bpmn:SubProcess') || is(element, 'bpmn:CallActivity'));
}

export function isCallActivity(element) {
  return is(element, 'bpmn:CallActivity');
}

/** The class an element gets for "a token is here", by what kind of element it is. */
function activeClass(element) {
  if (isListener(element)) { return 'tf-listener'; }
  if (isScope(element)) { return 'tf-scope'; }
  return 'tf-active';
}

export function addMarkers(canvas, registry, markers) {
  const current = [];
  Object.keys(markers || {}).forEach((id) => {
    const element = registry.get(id);
    if (!element) { return; }
    (markers[id] || []).forEach((cls) => {
      const shown = cls === 'tf-active' ? activeClass(element) : cls;
      canvas.addMarker(id, shown);
      if (shown === 'tf-active') { current.push(element); }
    });
  });
  return current;
}

function badgeNode(item) {
  const node = document.createElement('div');
  node.className = `tf-badge ${item.className || ''}`;
  node.textContent = item.text;
  if (item.title) {
    node.title = item.title;
    node.setAttribute('aria-label', item.title);
  }
  node.setAttribute('data-badge-for', item.element);
  return node;
}

export function addBadges(overlays, registry, badges) {
  (badges || []).forEach((item) => {
    if (!registry.get(item.element)) { return; }
    const place = POSITIONS[item.position] || POSITIONS['top-right'];
    overlays.add(item.element, 'tf-badge', { position: place(), html: badgeNode(item) });
  });
}

export function addIncidentBadges(overlays, registry, markers, words) {
  Object.keys(markers || {}).forEach((id) => {
    if (!(markers[id] || []).includes('tf-incident') || !registry.get(id)) { return; }
    addBadges(overlays, registry, [{ element: id, text: '!', className: 'tf-badge-incident', position: 'bottom-left',
      title: words.incident }]);
  });
}

export function addHeat(canvas, registry, heat) {
  Object.keys(heat || {}).forEach((id) => {
    const element = registry.get(id);
    if (!element || element.waypoints) { return; }
    const strength = Math.max(0.1, Math.min(1, heat[id]));
    canvas.addMarker(id, 'tf-heat');
    const gfx = registry.getGraphics(id);
    gfx.setAttribute('data-heat', strength.toFixed(2));
    gfx.style.setProperty('--tf-heat-width', `${(2 + strength * 5).toFixed(1)}px`);
  });
}

/** A button on each call activity that opens the called run (or process). */
export function addDrillButtons(overlays, registry, calls, words) {
  Object.keys(calls || {}).forEach((id) => {
    if (!registry.get(id)) { return; }
    const link = document.createElement('a');
    link.className = 'tf-drill';
    link.href = calls[id];
    link.title = words.drill;
    link.setAttribute('aria-label', words.drill);
    link.setAttribute('data-drill-for', id);
    link.textContent = '⤵';
    link.addEventListener('click', (event) => event.stopPropagation());
    overlays.add(id, 'tf-drill', { position: { bottom: 18, left: -18 }, html: link });
  });
}

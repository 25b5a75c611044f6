/*
 * The plain fallback of the cockpit viewer (web/frontend/viewer.js, built by `make install`
 * into static/build/viewer.js): pages load this file only when that bundle is not built.
 *
 * TowerFlow diagram helper: draws a BPMN XML with bpmn-js (the NavigatedViewer bundle,
 * global BpmnJS) and decorates it with markers (CSS classes on elements), badges (small
 * overlays with a number or text) and heat (an orange outline, thicker for strength up to 1).
 *
 *   TowerflowDiagram.draw(container, {xml, markers: {id: [cls]}, badges: [{element, text,
 *     className, position, title}], heat: {id: 0..1}})  -> Promise<viewer>
 *
 *     laneLabels: {groupId: words}})
 *
 * Lanes are named by candidate group id in the BPMN (name="regional_manager"); with
 * laneLabels the viewer shows the group's name in the page's language instead (the server
 * passes the words, web/labels.py). On a narrow screen the diagram keeps the container's
 * width and its box shrinks to the diagram's height, so a wide process is not a thin strip
 * in a tall empty frame; pinch or wheel to zoom, drag to pan.
 *
 * Every element with data-diagram="<id of a JSON script>" is drawn on page load.
 * The designer pages may reuse it.
 */
(function () {
  'use strict';

  var POSITIONS = {
    'top-right': function () { return { top: -10, right: 10 }; },
    'top-left': function () { return { top: -10, left: -10 }; },
    'bottom-left': function () { return { bottom: 10, left: -10 }; },
    'bottom-right': function () { return { bottom: 10, right: 10 }; }
  };

  function addMarkers(canvas, registry, markers) {
    Object.keys(markers || {}).forEach(function (id) {
      if (!registry.get(id)) { return; }
      (markers[id] || []).forEach(function (cls) { canvas.addMarker(id, cls); });
    });
  }

  function badge(item) {
    var node = document.createElement('div');
    node.className = 'tf-badge ' + (item.className || '');
    node.textContent = item.text;
    if (item.title) { node.title = item.title; }
    node.setAttribute('data-badge-for', item.element);
    return node;
  }

  function addBadges(overlays, registry, badges) {
    (badges || []).forEach(function (item) {
      if (!registry.get(item.element)) { return; }
      var place = POSITIONS[item.position] || POSITIONS['top-right'];
      overlays.add(item.element, 'tf-badge', { position: place(), html: badge(item) });
    });
  }

  function addHeat(canvas, registry, heat) {
    // An outline that grows with the count (static/instances.css): never a fill over the label.
    Object.keys(heat || {}).forEach(function (id) {
      var element = registry.get(id);
      if (!element || element.waypoints) { return; }
      var strength = Math.max(0.1, Math.min(1, heat[id]));
      canvas.addMarker(id, 'tf-heat');
      var gfx = registry.getGraphics(id);
      gfx.setAttribute('data-heat', strength.toFixed(2));
      gfx.style.setProperty('--tf-heat-width', (2 + strength * 5).toFixed(1) + 'px');
    });
  }

  function showError(container, error) {
    var message = document.createElement('p');
    message.className = 'diagram-error';
    message.textContent = (container.getAttribute('data-error') || 'The diagram could not be drawn:') + ' ' +
      (error && error.message ? error.message : String(error));
    container.appendChild(message);
  }

  var BPMN = 'http://www.omg.org/spec/BPMN/20100524/MODEL';

  function relabelLanes(xml, labels) {
    if (!labels || typeof window.DOMParser !== 'function') { return xml; }
    var doc = new window.DOMParser().parseFromString(xml, 'application/xml');
    if (doc.getElementsByTagName('parsererror').length) { return xml; }
    var changed = false;
    Array.prototype.forEach.call(doc.getElementsByTagNameNS(BPMN, 'lane'), function (lane) {
      var name = (lane.getAttribute('name') || '').trim();
      var parts = name.split(/\s*[,，、]\s*/);
      if (!name || !parts.every(function (part) { return labels[part]; })) { return; }
      lane.setAttribute('name', parts.map(function (part) { return labels[part]; }).join('、'));
      changed = true;
    });
    return changed ? new window.XMLSerializer().serializeToString(doc) : xml;
  }

  function fitNarrow(container, canvas) {
    // a phone: as wide as the screen, only as tall as the diagram needs (within the CSS height)
    var width = container.clientWidth;
    if (!width || width >= 700) { return; }
    var inner = canvas.viewbox().inner;
    if (!inner.width || !inner.height) { return; }
    var wanted = Math.round(width * inner.height / inner.width) + 40;
    var height = Math.max(220, Math.min(container.clientHeight, wanted));
    if (height < container.clientHeight) {
      container.style.height = height + 'px';
      canvas.resized();
      canvas.zoom('fit-viewport', 'auto');
    }
  }

  function draw(container, drawing) {
    if (typeof window.BpmnJS !== 'function') {
      showError(container, 'bpmn-js is not loaded');
      return Promise.resolve(null);
    }
    var viewer = new window.BpmnJS({ container: container });
    return viewer.importXML(relabelLanes(drawing.xml, drawing.laneLabels)).then(function () {
      var canvas = viewer.get('canvas');
      var registry = viewer.get('elementRegistry');
      var overlays = viewer.get('overlays');
      canvas.zoom('fit-viewport', 'auto');
      fitNarrow(container, canvas);
      addHeat(canvas, registry, drawing.heat);
      addMarkers(canvas, registry, drawing.markers);
      addBadges(overlays, registry, drawing.badges);
      container.setAttribute('data-ready', 'true');
      return viewer;
    }).catch(function (error) {
      showError(container, error);
      container.setAttribute('data-ready', 'error');
      return null;
    });
  }

  function drawAll() {
    var nodes = document.querySelectorAll('[data-diagram]');
    Array.prototype.forEach.call(nodes, function (container) {
      var source = document.getElementById(container.getAttribute('data-diagram'));
      if (source) { draw(container, JSON.parse(source.textContent)); }
    });
  }

  if (window.TowerflowDiagram && window.TowerflowDiagram.bundled) { return; }  // the viewer bundle draws
  window.TowerflowDiagram = { draw: draw };
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', drawAll);
  } else {
    drawAll();
  }
}());

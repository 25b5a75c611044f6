// Lanes are named by candidate group id in the BPMN (name="regional_manager"); the server
// passes the groups' names in the page's language and the viewer shows those instead.
const BPMN = 'http://www.omg.org/spec/BPMN/20100524/MODEL';

export function relabelLanes(xml, labels) {
  if (!labels || typeof window.DOMParser !== 'function') { return xml; }
  const doc = new window.DOMParser().parseFromString(xml, 'application/xml');
  if (doc.getElementsByTagName('parsererror').length) { return xml; }
  let changed = false;
  Array.from(doc.getElementsByTagNameNS(BPMN, 'lane')).forEach((lane) => {
    const name = (lane.getAttribute('name') || '').trim();
    const parts = name.split(/\s*[,，、]\s*/);
    if (!name || !parts.every((part) => labels[part])) { return; }
    lane.setAttribute('name', parts.map((part) => labels[part]).join('、'));
    changed = true;
  });
  return changed ? new window.XMLSerializer().serializeToString(doc) : xml;
}

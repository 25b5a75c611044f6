// The token simulation's English, translated in the DOM as the library writes it: its log,
// notifications, palette, context pads and switch. `translate` is the modeler's (../i18n).

const SELECTOR = '[class*="bts-"]';
const ATTRIBUTES = [ 'title', 'aria-label' ];
const PHASES = { started: '{scope} started', finished: '{scope} finished', canceled: '{scope} canceled' };

/** The Chinese for one of the library's texts, or null. */
export function simulationText(text, translate) {
  const exact = translate(text);
  if (exact !== text) {
    return exact;
  }
  let match = /^(.+) (started|finished|canceled)$/.exec(text);
  if (match) {
    return translate(PHASES[match[2]], { scope: translate(match[1]) });
  }
  match = /^Set animation speed = (.+)$/.exec(text);
  if (match) {
    return translate('Set animation speed = {label}', { label: translate(match[1]) });
  }
  match = /^Focus process instance (.+)$/.exec(text);
  if (match) {
    return translate('Focus process instance {scope.id}', { 'scope.id': match[1] });
  }
  return null;
}

function translateNode(node, translate) {
  for (const name of ATTRIBUTES) {
    const value = node.getAttribute && node.getAttribute(name);
    const zh = value && simulationText(value.trim(), translate);
    if (zh && zh !== value) {
      node.setAttribute(name, zh);
    }
  }
  for (const child of node.childNodes) {
    if (child.nodeType === 3 && child.nodeValue.trim()) {
      const zh = simulationText(child.nodeValue.trim(), translate);
      if (zh) {
        child.nodeValue = child.nodeValue.replace(child.nodeValue.trim(), zh);
      }
    }
  }
}

function translateTree(node, translate) {
  if (node.nodeType !== 1) {
    return;
  }
  const inside = node.matches(SELECTOR) || node.closest(SELECTOR);
  if (inside) {
    translateNode(node, translate);
  }
  node.querySelectorAll(SELECTOR).forEach((el) => {
    translateNode(el, translate);
    el.querySelectorAll('span, p, button').forEach((child) => translateNode(child, translate));
  });
}

/** Translate what the library has drawn in `container` and whatever it draws later. */
export function translateSimulationDom(container, translate) {
  if (!container) {
    return null;
  }
  translateTree(container, translate);
  const observer = new MutationObserver((mutations) => {
    for (const mutation of mutations) {
      mutation.addedNodes.forEach((node) => translateTree(node, translate));
      if (mutation.type === 'childList' && mutation.target.nodeType === 1 && mutation.target.closest(SELECTOR)) {
        translateNode(mutation.target, translate);
      }
    }
  });
  observer.observe(container, { childList: true, subtree: true });
  return observer;
}

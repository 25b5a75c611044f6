// What changed between two versions: bpmn-js-differ finds the added, removed, changed and
// moved elements; the changed elements' properties are compared here from their canonical
// form (properties.js), so a changed form, group, condition or timer shows with old → new
// even where the differ only sees that "extensionElements" changed.

import { diff } from 'bpmn-js-differ';

import { elementProperties, trackedElements } from './properties.js';

export const KINDS = [ 'changed', 'added', 'removed', 'layout' ];

function propertyChanges(older, newer) {
  const a = elementProperties(older);
  const b = elementProperties(newer);
  const names = [ ...new Set([ ...Object.keys(a), ...Object.keys(b) ]) ];
  return names.filter((name) => a[name] !== b[name])
    .map((name) => ({ name, old: a[name] ?? null, new: b[name] ?? null }));
}

function summary(id, kind, older, newer) {
  const element = newer || older;
  return {
    id,
    kind,
    type: element.$type,
    name: (newer && newer.name) || (older && older.name) || '',
    oldName: older ? older.name || '' : null,
    properties: []
  };
}

/**
 * The changes from `olderDefinitions` to `newerDefinitions` (both read with bpmn-moddle):
 * ``[{id, kind: changed|added|removed|layout, type, name, properties: [{name, old, new}]}]``.
 */
export function compareDefinitions(olderDefinitions, newerDefinitions) {
  const found = diff(olderDefinitions, newerDefinitions);
  const older = trackedElements(olderDefinitions);
  const newer = trackedElements(newerDefinitions);
  const changes = [];
  const seen = new Set();

  Object.keys(found._added).forEach((id) => {
    seen.add(id);
    changes.push(summary(id, 'added', null, newer[id] || found._added[id]));
  });
  Object.keys(found._removed).forEach((id) => {
    seen.add(id);
    changes.push(summary(id, 'removed', older[id] || found._removed[id], null));
  });
  // Every element in both versions, whether or not the differ saw it change: the canonical
  // properties find what it cannot see inside extension elements.
  Object.keys(newer).filter((id) => older[id] && !seen.has(id)).forEach((id) => {
    const properties = propertyChanges(older[id], newer[id]);
    const differSaw = Object.prototype.hasOwnProperty.call(found._changed, id);
    if (properties.length || (differSaw && Object.keys(found._changed[id].attrs || {}).length)) {
      seen.add(id);
      const change = summary(id, 'changed', older[id], newer[id]);
      change.properties = properties;
      changes.push(change);
    }
  });
  Object.keys(found._layoutChanged).filter((id) => !seen.has(id)).forEach((id) => {
    seen.add(id);
    changes.push(summary(id, 'layout', older[id], newer[id] || found._layoutChanged[id]));
  });
  changes.sort((x, y) => (KINDS.indexOf(x.kind) - KINDS.indexOf(y.kind))
    || String(x.name || x.id).localeCompare(String(y.name || y.id)));
  return changes;
}

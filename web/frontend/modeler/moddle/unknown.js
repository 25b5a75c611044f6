// SpiffWorkflow extension elements this modeler does not describe must survive a round trip.
//
// Once the `spiffworkflow` namespace has a moddle package, moddle drops any element of that
// namespace whose type the package lacks (it only keeps unknown elements of unknown
// namespaces). So before each import we look for such elements in the XML and register a
// generic type for each: its attributes are kept by moddle as unknown attributes, its text
// as the body and its children (of any namespace) as a generic list.

export const SPIFF_URI = 'http://spiffworkflow.org/bpmn/schema/1.0/core';

function typeName(localName) {
  return localName.charAt(0).toUpperCase() + localName.slice(1);
}

/**
 * Register generic types for the spiffworkflow elements of `xml` the moddle does not know.
 * Returns the names registered (for tests and the console).
 */
export function registerUnknownSpiffElements(moddle, xml) {
  const registry = moddle.registry;
  const pkg = registry.getPackage('spiffworkflow');
  if (!pkg || typeof DOMParser === 'undefined') {
    return [];
  }
  const doc = new DOMParser().parseFromString(xml, 'application/xml');
  if (doc.getElementsByTagName('parsererror').length) {
    return [];
  }
  const names = new Set();
  for (const node of doc.getElementsByTagNameNS(SPIFF_URI, '*')) {
    names.add(node.localName);
  }
  const added = [];
  for (const localName of names) {
    const name = 'spiffworkflow:' + typeName(localName);
    if (registry.typeMap[name] || localName.charAt(0) !== localName.charAt(0).toLowerCase()) {
      continue;
    }
    registry.registerType({
      name: typeName(localName),
      superClass: [ 'Element' ],
      properties: [
        { name: 'body', type: 'String', isBody: true },
        { name: 'anyChildren', type: 'Element', isMany: true }
      ]
    }, pkg);
    added.push(localName);
  }
  return added;
}

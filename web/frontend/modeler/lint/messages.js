// The lint messages the problems panel shows, as English keys for the modeler's `translate`
// (their Chinese is in ./zh.js). bpmnlint builds a few messages from a type or a link name;
// those are matched by pattern and their parts passed as {replacements}.

/** Every fixed message of the rules the modeler runs (the collector checks each has Chinese). */
export const LINT_MESSAGES = [
  // TowerFlow's rules (./rules)
  'User task has no form',
  'User task has no candidate groups or users and is in no lane',
  'Gateway has several outgoing flows and no default flow',
  'Dead end: the element has no outgoing flow and is not an end event',
  'Element cannot be reached from a start event',
  // bpmnlint's rules (./config.js)
  'Sequence flow is missing condition',
  'Process is missing end event',
  'Sub process is missing end event',
  'An <Event-based Gateway> must have at least 2 outgoing <Sequence Flows>',
  'A <Sequence Flow> outgoing from an <Event-based Gateway> must not be conditional',
  'Start event is missing event definition',
  'Element is missing label/name',
  'Link event is missing link name',
  'Element type <bpmn:ComplexGateway> is discouraged',
  'SequenceFlow is a duplicate',
  'Duplicate outgoing sequence flows',
  'Duplicate incoming sequence flows',
  'Gateway forks and joins',
  'Flow splits implicitly',
  'Element overlaps with other element',
  'Element is outside of parent boundary',
  'Process has multiple blank start events',
  'Sub process has multiple blank start events',
  'Process is missing start event',
  'Sub process is missing start event',
  'Start event must be blank',
  'Gateway is superfluous. It only has one source and target.',
  'Termination is superfluous.'
];

const PATTERNS = [
  [ /^Link (catch|throw) event with link name <(.*)> missing in scope$/, 'Link {kind} event with link name <{name}> missing in scope' ],
  [ /^Duplicate link catch event with link name <(.*)> in scope$/, 'Duplicate link catch event with link name <{name}> in scope' ]
];

/** The templates matched by pattern, for the collector. */
export const LINT_TEMPLATES = PATTERNS.map(([ , template ]) => template);

/** A rule's message in the page's language. */
export function lintMessage(message, translate) {
  for (const [ pattern, template ] of PATTERNS) {
    const match = pattern.exec(message);
    if (match) {
      const parts = match.length > 2 ? { kind: translate(match[1]), name: match[2] } : { name: match[1] };
      return translate(template, parts);
    }
  }
  return translate(message);
}

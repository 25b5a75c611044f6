// The English bpmn-js-token-simulation writes into the page (it has no `translate`): texts in
// its markup, titles, notifications and the log's fallback names, for ../i18n/collect.mjs.

import fs from 'node:fs';
import path from 'node:path';

const PATTERNS = [
  /\btext:\s*'([^']+)'/g, // notifications
  /\|\|\s*'([^']+)'/g, // the log's names for unnamed elements
  /(?:title|aria-label)="([^"$]+)"/g, // static titles
  />\s*([A-Z][A-Za-z ]+[a-z])\s*</g, // text between tags
  /^\s+([A-Z][a-z]+(?: [A-Z][a-z]+)+)\s*(?:<span|$)/gm // a heading's text on its own line
];

// Built from pieces the patterns cannot see: the log's scope lines, the pause point's title,
// the speed buttons' labels and titles, the scope button's title.
const BUILT = [ 'Process', '{scope} started', '{scope} finished', '{scope} canceled', 'Add pause point',
  'Remove pause point', 'Slow', 'Normal', 'Fast', 'Set animation speed = {label}', 'Focus process instance {scope.id}' ];

function walk(dir, found) {
  for (const name of fs.readdirSync(dir)) {
    const file = path.join(dir, name);
    if (fs.statSync(file).isDirectory()) {
      walk(file, found);
    } else if (name.endsWith('.js') && !file.includes(`${path.sep}icons${path.sep}`)) {
      const text = fs.readFileSync(file, 'utf8');
      for (const pattern of PATTERNS) {
        for (const match of text.matchAll(pattern)) {
          if (!found.has(match[1])) {
            found.set(match[1], `bpmn-js-token-simulation/${path.relative(path.join(dir, '..'), file)}`);
          }
        }
      }
    }
  }
}

export function simulationStrings(modules) {
  const found = new Map();
  walk(path.join(modules, 'bpmn-js-token-simulation', 'lib', 'features'), found);
  for (const text of BUILT) {
    found.set(text, 'bpmn-js-token-simulation (built in code)');
  }
  return found;
}

// Lists the English strings bpmn-js, diagram-js, the properties panel and TowerFlow's own panel
// pass to `translate` (and the popup menus' labels) that web/frontend/modeler/i18n/zh.js has
// no Chinese for.
//
//   node web/frontend/modeler/i18n/collect.mjs          # prints the missing strings, exits 1 if any
//   node web/frontend/modeler/i18n/collect.mjs --all    # prints every string found
//
// Only the BPMN part of bpmn-js-properties-panel is read (not its Camunda and Zeebe providers,
// which this modeler does not load). Run after upgrading bpmn-js or the panel.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chinese } from './translate.js';
import { LINT_MESSAGES, LINT_TEMPLATES } from '../lint/messages.js';
import { simulationStrings } from '../simulation/collect.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const modules = path.resolve(here, '..', '..', '..', '..', 'node_modules');

const PATTERNS = [
  /translate\(\s*'((?:[^'\\]|\\.)+)'/g,
  /translate\(\s*"((?:[^"\\]|\\.)+)"/g,
  /\blabel:\s*'((?:[^'\\]|\\.)+)'/g,
  /\bvar label = '((?:[^'\\]|\\.)+)'/g
];
const SKIP = new Set([ 'HELLO {you}', ' + shift + ' ]); // a test string, a key name joiner

function stringsIn(text, found, where) {
  for (const pattern of PATTERNS) {
    for (const match of text.matchAll(pattern)) {
      const value = match[1].replace(/\\'/g, '\'').replace(/\\"/g, '"');
      if (!SKIP.has(value) && !found.has(value)) {
        found.set(value, where);
      }
    }
  }
}

function walk(dir, found) {
  for (const name of fs.readdirSync(dir)) {
    const file = path.join(dir, name);
    if (fs.statSync(file).isDirectory()) {
      walk(file, found);
    } else if (/\.jsx?$/.test(name) && !name.endsWith('.d.ts') && !/\/test\//.test(file)) {
      stringsIn(fs.readFileSync(file, 'utf8'), found, path.relative(modules, file));
    }
  }
}

function bpmnPartOfPanel(found) {
  const file = path.join(modules, 'bpmn-js-properties-panel', 'dist', 'index.esm.js');
  const text = fs.readFileSync(file, 'utf8');
  // the BPMN provider's module is declared right after its class; Zeebe and Camunda follow it
  const provider = text.indexOf('class BpmnPropertiesProvider');
  const end = provider > 0 ? text.indexOf('\nvar index', provider) : -1;
  stringsIn(text.slice(0, end > 0 ? end : text.length), found, 'bpmn-js-properties-panel (BPMN)');
}

export function libraryStrings() {
  const found = new Map();
  walk(path.join(modules, 'bpmn-js', 'lib'), found);
  walk(path.join(modules, 'diagram-js', 'lib'), found);
  bpmnPartOfPanel(found);
  stringsIn(fs.readFileSync(path.join(modules, '@bpmn-io', 'properties-panel', 'dist', 'index.esm.js'), 'utf8'),
    found, '@bpmn-io/properties-panel');
  stringsIn(fs.readFileSync(path.join(modules, 'bpmn-js-bpmnlint', 'dist', 'index.esm.js'), 'utf8'), found, 'bpmn-js-bpmnlint');
  walk(path.join(here, '..', 'lint'), found); // the problems panel
  [ ...LINT_MESSAGES, ...LINT_TEMPLATES ].forEach((text) => found.set(text, found.get(text) || 'lint rules'));
  walk(path.join(here, '..', 'panel'), found); // TowerFlow's own labels
  walk(path.join(here, '..', 'dryrun'), found);
  for (const [ text, where ] of simulationStrings(modules)) {
    found.set(text, found.get(text) || where);
  }
  return found;
}

const found = libraryStrings();
if (process.argv.includes('--all')) {
  for (const [ text, where ] of found) {
    console.log(`${JSON.stringify(text)}\t${chinese(text) ?? ''}\t${where}`);
  }
} else {
  const missing = [ ...found ].filter(([ text ]) => chinese(text) === null);
  for (const [ text, where ] of missing) {
    console.log(`${JSON.stringify(text)}\t${where}`);
  }
  console.error(`${found.size} strings, ${missing.length} without Chinese`);
  process.exitCode = missing.length ? 1 : 0;
}

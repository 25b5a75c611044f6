// Bundles the pages' front-end code (web/frontend/*.js entries) with the npm libraries into
// web/static/build/, which is never committed: `make install` runs it after `npm ci`.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const ENTRIES = ['modeler', 'dmn', 'compare', 'viewer'];

await build({
  entryPoints: Object.fromEntries(ENTRIES.map((name) => [name, path.join(here, `${name}.js`)])),
  outdir: path.join(here, '..', 'static', 'build'),
  bundle: true,
  minify: true,
  sourcemap: false,
  format: 'iife',
  target: ['chrome110', 'firefox110', 'safari16'],
  loader: { '.bpmn': 'text', '.woff': 'file', '.woff2': 'file', '.ttf': 'file', '.eot': 'file', '.svg': 'file' },
  jsx: 'automatic',
  jsxImportSource: '@bpmn-io/properties-panel/preact',
  logLevel: 'warning',
});

// The version comparison page's bundle: two bpmn-js viewers and the differences between them
// (bpmn-js-differ plus TowerFlow's extension properties). See web/frontend/compare/.
import 'bpmn-js/dist/assets/diagram-js.css';
import 'bpmn-js/dist/assets/bpmn-js.css';
import 'bpmn-js/dist/assets/bpmn-font/css/bpmn-embedded.css';

import { start } from './compare/page.js';

start();

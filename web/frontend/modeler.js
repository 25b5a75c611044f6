// The modeler page's bundle: bpmn-js with TowerFlow's properties panel (the spiffworkflow
// extensions the engine reads), in Chinese on the Chinese pages. See web/frontend/modeler/.
import 'bpmn-js/dist/assets/diagram-js.css';
import 'bpmn-js/dist/assets/bpmn-js.css';
import 'bpmn-js/dist/assets/bpmn-font/css/bpmn-embedded.css';
import '@bpmn-io/properties-panel/assets/properties-panel.css';

import { start } from './modeler/page.js';

start();

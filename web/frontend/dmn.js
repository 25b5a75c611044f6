// The DMN page's bundle: dmn-js's decision table editor with TowerFlow's changes (Python cells,
// the hit policies the engine runs, Chinese texts on Chinese pages), and the page around it.
import 'dmn-js/dist/assets/dmn-js-shared.css';
import 'dmn-js/dist/assets/dmn-js-decision-table.css';
import 'dmn-js/dist/assets/dmn-js-decision-table-controls.css';
import 'dmn-js/dist/assets/dmn-font/css/dmn-embedded.css';

import { startPage } from './dmn/page';

startPage();

// TowerFlow's decision table modeler: dmn-js's editing manager with the decision table view
// only (TowerFlow deploys one decision table per file and no decision requirements diagram).
//
// SpiffWorkflow evaluates cells as Python, not FEEL, so the cells are plain text ("Python" is
// the only expression language) and dmn-js's "simple mode" editors, which write FEEL
// (not("a"), "a","b", [1..5]), are left out. The hit policy offers what the engine runs.
import EditingManager from 'dmn-js-shared/lib/base/EditingManager';
import DecisionTableEditor from 'dmn-js-decision-table/lib/Editor';
import { is } from 'dmn-js-shared/lib/util/ModelUtil';

import simpleModeModule from 'dmn-js-decision-table/lib/features/simple-mode';
import simpleBooleanEditModule from 'dmn-js-decision-table/lib/features/simple-boolean-edit';
import simpleDateEditModule from 'dmn-js-decision-table/lib/features/simple-date-edit';
import simpleDateTimeEditModule from 'dmn-js-decision-table/lib/features/simple-date-time-edit';
import simpleDurationEditModule from 'dmn-js-decision-table/lib/features/simple-duration-edit';
import simpleNumberEditModule from 'dmn-js-decision-table/lib/features/simple-number-edit';
import simpleStringEditModule from 'dmn-js-decision-table/lib/features/simple-string-edit';
import simpleTimeEditModule from 'dmn-js-decision-table/lib/features/simple-time-edit';

import hitPolicyModule from './hit-policy';
import { translateModule } from './translate';

const FEEL_ONLY = [simpleModeModule, simpleBooleanEditModule, simpleDateEditModule, simpleDateTimeEditModule,
  simpleDurationEditModule, simpleNumberEditModule, simpleStringEditModule, simpleTimeEditModule];

export const PYTHON = { value: 'python', label: 'Python' };

class TableEditor extends DecisionTableEditor {
  getModules() {
    return super.getModules().filter((module) => !FEEL_ONLY.includes(module));
  }
}

export class DecisionTableModeler extends EditingManager {
  _getViewProviders() {
    return [{
      id: 'decisionTable',
      constructor: TableEditor,
      opens(element) {
        return is(element, 'dmn:Decision') && is(element.decisionLogic, 'dmn:DecisionTable');
      }
    }];
  }
}

export function createModeler(container, language) {
  return new DecisionTableModeler({
    container,
    common: {
      expressionLanguages: {
        options: [PYTHON],
        defaults: { editor: PYTHON.value }
      },
      dataTypes: ['string', 'number', 'boolean', 'date', 'dateTime']
    },
    decisionTable: {
      additionalModules: [translateModule(language), hitPolicyModule]
    }
  });
}

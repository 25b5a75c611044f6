// A user task without a form (spiffworkflow formKey): its task page offers only "Complete".
import { is } from 'bpmnlint-utils';

import { property } from './util.js';

export default function userTaskForm() {
  return {
    check(node, reporter) {
      if (is(node, 'bpmn:UserTask') && !property(node, 'formKey')) {
        reporter.report(node.id, 'User task has no form', [ 'formKey' ]);
      }
    }
  };
}

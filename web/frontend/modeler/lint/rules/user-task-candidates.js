// A user task with no candidate groups or users and outside any lane: only an administrator can handle it.
import { is } from 'bpmnlint-utils';

import { inLane, property } from './util.js';

export default function userTaskCandidates() {
  return {
    check(node, reporter) {
      if (is(node, 'bpmn:UserTask') && !property(node, 'candidateGroups') &&
          !property(node, 'candidateUsers') && !inLane(node)) {
        reporter.report(node.id, 'User task has no candidate groups or users and is in no lane', [ 'candidateGroups' ]);
      }
    }
  };
}

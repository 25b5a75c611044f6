// The modeler's bpmnlint configuration, packed by hand for esbuild (no .bpmnlintrc plugin):
// bpmn-js-bpmnlint takes `{ config: { rules }, resolver: { resolveRule(pkg, name) } }`, and the
// resolver hands out the rule modules imported here. Severities: an error blocks Deploy, a
// warning does not. docs/bpmn.md ("Problems while drawing") says why each rule is here.

import conditionalFlows from 'bpmnlint/rules/conditional-flows.js';
import endEventRequired from 'bpmnlint/rules/end-event-required.js';
import eventBasedGateway from 'bpmnlint/rules/event-based-gateway.js';
import eventSubProcessTypedStartEvent from 'bpmnlint/rules/event-sub-process-typed-start-event.js';
import labelRequired from 'bpmnlint/rules/label-required.js';
import linkEvent from 'bpmnlint/rules/link-event.js';
import noComplexGateway from 'bpmnlint/rules/no-complex-gateway.js';
import noDuplicateSequenceFlows from 'bpmnlint/rules/no-duplicate-sequence-flows.js';
import noGatewayJoinFork from 'bpmnlint/rules/no-gateway-join-fork.js';
import noImplicitSplit from 'bpmnlint/rules/no-implicit-split.js';
import noOverlappingElements from 'bpmnlint/rules/no-overlapping-elements.js';
import singleBlankStartEvent from 'bpmnlint/rules/single-blank-start-event.js';
import startEventRequired from 'bpmnlint/rules/start-event-required.js';
import subProcessBlankStartEvent from 'bpmnlint/rules/sub-process-blank-start-event.js';
import superfluousGateway from 'bpmnlint/rules/superfluous-gateway.js';
import superfluousTermination from 'bpmnlint/rules/superfluous-termination.js';

import deadEnd from './rules/dead-end.js';
import gatewayDefault from './rules/gateway-default.js';
import unreachable from './rules/unreachable.js';
import userTaskCandidates from './rules/user-task-candidates.js';
import userTaskForm from './rules/user-task-form.js';

const BPMNLINT = {
  'conditional-flows': [ conditionalFlows, 'error' ], // SpiffWorkflow refuses such a gateway
  'end-event-required': [ endEventRequired, 'error' ], // the server refuses a process without one
  'event-based-gateway': [ eventBasedGateway, 'error' ],
  'event-sub-process-typed-start-event': [ eventSubProcessTypedStartEvent, 'error' ],
  'label-required': [ labelRequired, 'warn' ], // the inbox and history show the names
  'link-event': [ linkEvent, 'error' ],
  'no-complex-gateway': [ noComplexGateway, 'error' ], // SpiffWorkflow has no complex gateway
  'no-duplicate-sequence-flows': [ noDuplicateSequenceFlows, 'error' ],
  'no-gateway-join-fork': [ noGatewayJoinFork, 'warn' ],
  'no-implicit-split': [ noImplicitSplit, 'warn' ], // runs, in parallel; a gateway says so
  'no-overlapping-elements': [ noOverlappingElements, 'warn' ],
  'single-blank-start-event': [ singleBlankStartEvent, 'warn' ],
  'start-event-required': [ startEventRequired, 'error' ],
  'sub-process-blank-start-event': [ subProcessBlankStartEvent, 'error' ],
  'superfluous-gateway': [ superfluousGateway, 'warn' ],
  'superfluous-termination': [ superfluousTermination, 'warn' ]
};

const TOWERFLOW = {
  'user-task-form': [ userTaskForm, 'warn' ],
  'user-task-candidates': [ userTaskCandidates, 'warn' ],
  'gateway-default': [ gatewayDefault, 'warn' ],
  'dead-end': [ deadEnd, 'error' ],
  'unreachable': [ unreachable, 'error' ]
};

/** The rule names (as issues carry them) of TowerFlow's rules, and their server twins' codes. */
export const SERVER_TWINS = {
  'towerflow/user-task-form': 'user_task_no_form',
  'towerflow/user-task-candidates': 'user_task_no_candidates'
};

function rules() {
  const found = {};
  Object.entries(BPMNLINT).forEach(([ name, [ , severity ] ]) => { found[name] = severity; });
  Object.entries(TOWERFLOW).forEach(([ name, [ , severity ] ]) => { found[`towerflow/${name}`] = severity; });
  return found;
}

export const linterConfig = {
  config: { rules: rules() },
  resolver: {
    resolveRule(pkg, ruleName) {
      const table = pkg === 'bpmnlint' ? BPMNLINT : (pkg === 'bpmnlint-plugin-towerflow' ? TOWERFLOW : {});
      const found = table[ruleName];
      if (!found) {
        throw new Error(`unknown rule ${pkg}/${ruleName}`);
      }
      return found[0];
    },
    resolveConfig() {
      return null;
    }
  }
};

// An exclusive or inclusive gateway with several outgoing flows and no default flow: when no
// condition holds, the instance stops there with an error.
import { isAny } from 'bpmnlint-utils';

export default function gatewayDefault() {
  return {
    check(node, reporter) {
      if (isAny(node, [ 'bpmn:ExclusiveGateway', 'bpmn:InclusiveGateway' ]) &&
          (node.outgoing || []).length > 1 && !node.default) {
        reporter.report(node.id, 'Gateway has several outgoing flows and no default flow', [ 'default' ]);
      }
    }
  };
}

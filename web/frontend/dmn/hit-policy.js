// The hit policy selector limited to what SpiffWorkflow evaluates: UNIQUE (the first matching
// rule; SpiffWorkflow stops there) and COLLECT without aggregation (every match, as lists).
// A table that has another policy shows it, marked as not supported; the server refuses it.
import { createVNode, createComponentVNode } from 'inferno';
import { Component } from 'inferno';
import InputSelect from 'dmn-js-shared/lib/components/InputSelect';
import { inject } from 'table-js/lib/components';
import { HIT_POLICIES } from 'dmn-js-decision-table/lib/features/hit-policy/HitPolicies';

const SUPPORTED = ['UNIQUE', 'COLLECT'];
const HIGH_PRIORITY = 2000;

function policyKey(hitPolicy, aggregation) {
  return aggregation ? `${hitPolicy}:${aggregation}` : (hitPolicy || 'UNIQUE');
}

function describe(key) {
  const [hitPolicy, aggregation] = key.split(':');
  return HIT_POLICIES.find((entry) => entry.value.hitPolicy === hitPolicy && entry.value.aggregation === aggregation);
}

class SupportedHitPolicy extends Component {
  constructor(props, context) {
    super(props, context);
    this._translate = context.injector.get('translate');
    inject(this);
  }

  onChange = (key) => {
    if (SUPPORTED.includes(key)) {
      this.modeling.editHitPolicy(key, undefined);
    }
  };

  onElementsChanged = () => {
    this.forceUpdate();
  };

  componentDidMount() {
    this.changeSupport.onElementsChanged(this.sheet.getRoot().id, this.onElementsChanged);
  }

  componentWillUnmount() {
    this.changeSupport.offElementsChanged(this.sheet.getRoot().id, this.onElementsChanged);
  }

  render() {
    const { hitPolicy, aggregation } = this.sheet.getRoot().businessObject;
    const current = policyKey(hitPolicy, aggregation);
    const options = SUPPORTED.map((key) => ({ value: key, label: this._translate(describe(key).label) }));
    if (!SUPPORTED.includes(current)) {
      const entry = describe(current);
      const label = this._translate(entry ? entry.label : current);
      options.push({
        value: current,
        label: this._translate('{policy} (not supported by the engine: choose Unique or Collect)', { policy: label })
      });
    }
    return createVNode(1, 'div', 'hit-policy tf-hit-policy', [
      createVNode(1, 'label', 'dms-label', this._translate('Hit policy:'), 0),
      createComponentVNode(2, InputSelect, {
        className: 'hit-policy-edit-policy-select',
        label: this._translate('Hit policy'),
        onChange: this.onChange,
        options,
        value: current,
        'data-hit-policy': 'true',
        noInput: true
      })
    ], 4, {
      title: this._translate('The engine supports Unique (the first matching rule) and Collect (a list of every match)'),
      'data-testid': 'hit-policy',
      'data-value': current
    });
  }
}
SupportedHitPolicy.$inject = ['changeSupport', 'sheet', 'modeling'];

function SupportedHitPolicyProvider(components) {
  components.onGetComponent('hit-policy', HIGH_PRIORITY, () => SupportedHitPolicy);
}
SupportedHitPolicyProvider.$inject = ['components'];

export default {
  __init__: ['supportedHitPolicyProvider'],
  supportedHitPolicyProvider: ['type', SupportedHitPolicyProvider]
};

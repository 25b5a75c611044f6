// The comparison's words: change kinds, property names (as docs/bpmn.md and the modeler's
// panel name them), element types, in the page's language.

import { pageLanguage } from '../modeler/iso8601.js';

const WORDS = {
  zh: {
    changed: '修改', added: '新增', removed: '删除', layout: '仅移动',
    addedNote: '仅在较新版本中', removedNote: '仅在较旧版本中', layoutNote: '只改变了位置或连线走向',
    otherChanges: '其他改动（请查看 XML）',
    none: '（无）',
    noChanges: '两个版本没有差异。',
    element: '元素', kind: '变化', details: '属性：旧值 → 新值',
    count: '{n} 处',
    cannotDraw: '无法绘制此版本：',
    cannotCompare: '无法比较这两个版本：'
  },
  en: {
    changed: 'Changed', added: 'Added', removed: 'Removed', layout: 'Moved only',
    addedNote: 'only in the newer version', removedNote: 'only in the older version',
    layoutNote: 'only its position or its flow\'s path changed',
    otherChanges: 'other changes (see the XML)',
    none: '(none)',
    noChanges: 'The two versions do not differ.',
    element: 'Element', kind: 'Change', details: 'Properties: old → new',
    count: '{n}',
    cannotDraw: 'This version could not be drawn:',
    cannotCompare: 'The versions could not be compared:'
  }
};

const PROPERTIES = {
  name: [ '名称', 'Name' ],
  documentation: [ '说明文档', 'Documentation' ],
  formKey: [ '表单', 'Form' ],
  candidateGroups: [ '候选组', 'Candidate groups' ],
  candidateUsers: [ '候选人', 'Candidate users' ],
  starterGroups: [ '可发起的组', 'Groups who may start' ],
  dueIn: [ '期限（时长）', 'Due in' ],
  dueDate: [ '截止时间（表达式）', 'Due date' ],
  priority: [ '优先级', 'Priority' ],
  retries: [ '尝试次数', 'Attempts' ],
  serviceTaskOperator: [ '服务操作', 'Operator' ],
  resultVariable: [ '结果变量', 'Result variable' ],
  parameter: [ '参数', 'Parameter' ],
  calledDecisionId: [ '决策', 'Decision' ],
  calledElement: [ '被调用的流程', 'Called process' ],
  condition: [ '条件', 'Condition' ],
  default: [ '默认流', 'Default flow' ],
  'timer.timeDuration': [ '定时器（时长）', 'Timer (duration)' ],
  'timer.timeDate': [ '定时器（日期）', 'Timer (date)' ],
  'timer.timeCycle': [ '定时器（循环）', 'Timer (cycle)' ],
  message: [ '消息', 'Message' ],
  messageVariable: [ '消息变量', 'Payload variable' ],
  messagePayload: [ '消息内容', 'Payload expression' ],
  correlation: [ '消息关联', 'Correlation' ],
  script: [ '脚本', 'Script' ],
  scriptFormat: [ '脚本语言', 'Script format' ],
  preScript: [ '之前运行（preScript）', 'Before (preScript)' ],
  postScript: [ '之后运行（postScript）', 'After (postScript)' ],
  sourceRef: [ '来源', 'Source' ],
  targetRef: [ '目标', 'Target' ],
  attachedToRef: [ '附加到', 'Attached to' ],
  cancelActivity: [ '中断活动', 'Interrupting' ],
  isInterrupting: [ '中断', 'Interrupting' ],
  isExecutable: [ '可执行', 'Executable' ],
  loopCharacteristics: [ '多实例/循环', 'Multi-instance / loop' ],
  unitTest: [ '单元测试', 'Unit test' ],
  processRef: [ '流程', 'Process' ],
  messageRef: [ '消息', 'Message' ],
  $type: [ '类型', 'Type' ]
};

const TYPES = {
  Process: [ '流程', 'Process' ], Collaboration: [ '协作', 'Collaboration' ],
  Participant: [ '池', 'Pool' ], Lane: [ '泳道', 'Lane' ],
  StartEvent: [ '开始事件', 'Start event' ], EndEvent: [ '结束事件', 'End event' ],
  IntermediateCatchEvent: [ '中间捕获事件', 'Intermediate catch event' ],
  IntermediateThrowEvent: [ '中间抛出事件', 'Intermediate throw event' ],
  BoundaryEvent: [ '边界事件', 'Boundary event' ],
  Task: [ '任务', 'Task' ], UserTask: [ '用户任务', 'User task' ], ManualTask: [ '手工任务', 'Manual task' ],
  ServiceTask: [ '服务任务', 'Service task' ], ScriptTask: [ '脚本任务', 'Script task' ],
  BusinessRuleTask: [ '业务规则任务', 'Business rule task' ], SendTask: [ '发送任务', 'Send task' ],
  ReceiveTask: [ '接收任务', 'Receive task' ], CallActivity: [ '调用活动', 'Call activity' ],
  SubProcess: [ '子流程', 'Sub-process' ],
  ExclusiveGateway: [ '排他网关', 'Exclusive gateway' ], ParallelGateway: [ '并行网关', 'Parallel gateway' ],
  InclusiveGateway: [ '包容网关', 'Inclusive gateway' ], EventBasedGateway: [ '事件网关', 'Event-based gateway' ],
  ComplexGateway: [ '复杂网关', 'Complex gateway' ],
  SequenceFlow: [ '顺序流', 'Sequence flow' ], MessageFlow: [ '消息流', 'Message flow' ],
  DataObjectReference: [ '数据对象引用', 'Data object reference' ],
  DataStoreReference: [ '数据存储引用', 'Data store reference' ]
};

export function makeLabels(lang = pageLanguage()) {
  const index = lang === 'zh' ? 0 : 1;
  const words = WORDS[lang] || WORDS.zh;
  return {
    lang,
    word: (key, values = {}) => String(words[key] ?? key).replace(/{(\w+)}/g, (w, k) => (k in values ? values[k] : w)),
    /** "candidateGroups" → "候选组 (candidateGroups)"; "parameter to" → "参数 to". */
    property(name) {
      const [ base, ...rest ] = name.split(' ');
      const known = PROPERTIES[name] || PROPERTIES[base];
      if (!known) {
        return name;
      }
      const label = known[index];
      if (PROPERTIES[name]) {
        return name.includes('.') || name === label ? label : `${label} (${name})`;
      }
      return `${label} ${rest.join(' ')}`;
    },
    type(type) {
      const known = TYPES[String(type || '').split(':').pop()];
      return known ? known[index] : String(type || '').split(':').pop();
    }
  };
}

// Chinese for the problems panel and the lint rules' messages (merged into the modeler's
// translate by ../i18n/translate.js; the collector checks every message of ./messages.js).

export const LINT = {
  // the panel
  'Problems': '问题',
  'Checking the diagram…': '正在检查流程图…',
  'No problems found.': '没有发现问题。',
  '{errors} errors, {warnings} warnings': '{errors} 个错误，{warnings} 个警告',
  'Errors block deployment; warnings do not.': '有错误时不能部署；警告不影响部署。',
  'Fix the {count} errors before deploying (see Problems below the diagram).': '部署前请先修正 {count} 个错误（见流程图下方的“问题”）。',
  'error': '错误',
  'warning': '警告',
  'Modeler': '建模器',
  'Server': '服务器',
  'The server could not check the diagram: {message}': '服务器无法检查流程图：{message}',
  'Deployed with warnings:': '已部署，但有以下警告：',
  'Show on the diagram': '在流程图上显示',
  'Process': '流程',

  // bpmn-js-bpmnlint's own strings (its button is hidden, the panel replaces it)
  'Toggle linting overlays': '切换检查标记',
  '{errors} Errors, {warnings} Warnings': '{errors} 个错误，{warnings} 个警告',
  'No Issues': '没有问题',
  'Issues for child elements': '子元素的问题',

  // TowerFlow's rules
  'User task has no form': '用户任务没有表单（任务页面只能点“完成”）',
  'User task has no candidate groups or users and is in no lane': '用户任务没有候选组或候选用户，也不在泳道中（只有管理员能处理）',
  'Gateway has several outgoing flows and no default flow': '网关有多条流出的顺序流，但没有默认流（条件都不成立时流程会出错停下）',
  'Dead end: the element has no outgoing flow and is not an end event': '死路：该元素没有流出的顺序流，也不是结束事件',
  'Element cannot be reached from a start event': '从开始事件无法到达该元素',

  // bpmnlint's rules
  'Sequence flow is missing condition': '顺序流缺少条件（不是默认流时必须有条件）',
  'Process is missing end event': '流程缺少结束事件',
  'Sub process is missing end event': '子流程缺少结束事件',
  'An <Event-based Gateway> must have at least 2 outgoing <Sequence Flows>': '事件网关至少需要 2 条流出的顺序流',
  'A <Sequence Flow> outgoing from an <Event-based Gateway> must not be conditional': '事件网关流出的顺序流不能带条件',
  'Start event is missing event definition': '开始事件缺少事件定义',
  'Element is missing label/name': '元素缺少名称',
  'Link event is missing link name': '链接事件缺少链接名称',
  'Element type <bpmn:ComplexGateway> is discouraged': '不支持复杂网关',
  'SequenceFlow is a duplicate': '顺序流重复',
  'Duplicate outgoing sequence flows': '流出的顺序流重复',
  'Duplicate incoming sequence flows': '流入的顺序流重复',
  'Gateway forks and joins': '网关既分支又汇合',
  'Flow splits implicitly': '流程隐式分支（请用网关分支）',
  'Element overlaps with other element': '元素与其他元素重叠',
  'Element is outside of parent boundary': '元素超出了父元素的边界',
  'Process has multiple blank start events': '流程有多个空开始事件',
  'Sub process has multiple blank start events': '子流程有多个空开始事件',
  'Process is missing start event': '流程缺少开始事件',
  'Sub process is missing start event': '子流程缺少开始事件',
  'Start event must be blank': '子流程的开始事件必须是空开始事件',
  'Gateway is superfluous. It only has one source and target.': '网关多余：它只有一个来源和一个目标',
  'Termination is superfluous.': '终止事件多余',
  'catch': '捕获',
  'throw': '抛出',
  'Link {kind} event with link name <{name}> missing in scope': '范围内缺少链接名称为 <{name}> 的链接{kind}事件',
  'Duplicate link catch event with link name <{name}> in scope': '范围内有重复的链接捕获事件，链接名称为 <{name}>'
};

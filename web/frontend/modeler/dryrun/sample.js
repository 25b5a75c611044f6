// The sample data a dry run starts from: the start form's fields (when the none start event has
// a formKey) and each user task's form fields, with a placeholder value by field type.

import { getProperty } from '../panel/model.js';

const PLACEHOLDERS = { Boolean: true, Integer: 0, Float: 0, Decimal: 0, List: [], Dict: {} };

function placeholder(field) {
  if (Object.prototype.hasOwnProperty.call(PLACEHOLDERS, field.type)) {
    return PLACEHOLDERS[field.type];
  }
  if (field.type === 'Date') {
    return new Date().toISOString().slice(0, 10);
  }
  if (field.type === 'DateTime' || field.type === 'NaiveDateTime') {
    return new Date().toISOString().slice(0, 19);
  }
  return '';
}

function formValues(catalog, formKey) {
  const form = formKey && catalog.form(formKey);
  const values = {};
  (form ? form.fields : []).forEach((field) => {
    values[field.name] = placeholder(field);
  });
  return values;
}

function isNoneStart(bo) {
  return bo.$type === 'bpmn:StartEvent' && !(bo.eventDefinitions && bo.eventDefinitions.length)
    && bo.$parent && bo.$parent.$type === 'bpmn:Process';
}

/** `{"start": {...}, "tasks": {"review": {...}}}` from the diagram and the catalog's forms. */
export function sampleFromDiagram(bpmn) {
  const catalog = bpmn.get('towerflowCatalog');
  const sample = { start: {}, tasks: {} };
  bpmn.get('elementRegistry').forEach((element) => {
    const bo = element.businessObject;
    if (!bo || element.type === 'label') {
      return;
    }
    if (isNoneStart(bo)) {
      Object.assign(sample.start, formValues(catalog, getProperty(bo, 'formKey')));
    } else if (bo.$type === 'bpmn:UserTask' || bo.$type === 'bpmn:ManualTask') {
      sample.tasks[bo.id] = formValues(catalog, getProperty(bo, 'formKey'));
    }
  });
  return sample;
}

/** The textarea's JSON checked before it is sent: `{sample}` or `{error}`. */
export function parseSample(text, translate) {
  let value;
  try {
    value = JSON.parse(text.trim() || '{}');
  } catch (err) {
    return { error: translate('The sample data is not valid JSON: {message}', { message: err.message }) };
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    return { error: translate('The sample data must be a JSON object with "start" and "tasks".') };
  }
  const isObject = (v) => v && typeof v === 'object' && !Array.isArray(v);
  if (value.start !== undefined && !isObject(value.start)) {
    return { error: translate('"start" must be an object of variables.') };
  }
  if (value.tasks !== undefined && (!isObject(value.tasks) || !Object.values(value.tasks).every(isObject))) {
    return { error: translate('"tasks" must map each user task\'s id to an object of variables.') };
  }
  return { sample: value };
}

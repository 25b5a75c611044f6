// bpmn-js's `translate` service, replaced: Chinese on the Chinese pages, the libraries' English
// on the English ones. Every label of the palette, context pad, replace menu, search and the
// properties panel goes through it, and so do TowerFlow's own.

import { pageLanguage } from '../iso8601.js';
import { LINT } from '../lint/zh.js';
import { EVENT_PREFIXES, HEADER_TYPES, LIBRARY, TOWERFLOW, TRY_IT } from './zh.js';

const ZH = { ...LIBRARY, ...TOWERFLOW, ...TRY_IT, ...LINT };
const NON_INTERRUPTING = ' (Non Interrupting)';

function fill(template, replacements) {
  return template.replace(/{([^}]+)}/g, (whole, key) => (
    replacements && replacements[key] !== undefined ? String(replacements[key]) : whole));
}

/** "Timer Boundary Event (Non Interrupting)" and the like, as the panel's header names types. */
function headerType(text) {
  let rest = text;
  let suffix = '';
  if (rest.endsWith(NON_INTERRUPTING)) {
    rest = rest.slice(0, -NON_INTERRUPTING.length);
    suffix = '（非中断）';
  }
  if (HEADER_TYPES[rest]) {
    return HEADER_TYPES[rest] + suffix;
  }
  const prefix = Object.keys(EVENT_PREFIXES).sort((a, b) => b.length - a.length)
    .find((p) => rest.startsWith(p + ' ') && HEADER_TYPES[rest.slice(p.length + 1)]);
  return prefix ? EVENT_PREFIXES[prefix] + HEADER_TYPES[rest.slice(prefix.length + 1)] + suffix : null;
}

/** The Chinese for an English string, or null when there is none. */
export function chinese(template) {
  if (Object.prototype.hasOwnProperty.call(ZH, template)) {
    return ZH[template];
  }
  return headerType(template);
}

export function makeTranslate(lang = pageLanguage()) {
  return function translate(template, replacements) {
    const text = lang === 'zh' ? (chinese(template) ?? template) : template;
    return fill(text, replacements);
  };
}

export default {
  translate: [ 'value', makeTranslate() ]
};

// ISO 8601 timer values as the engine reads them (engine/definitions/validation.py), and
// their meaning in words for the properties panel: "15 分钟后" for PT15M, "每天" for R/P1D.

const NUMBER = '(\\d+(?:[.,]\\d+)?)';
const DURATION = new RegExp(
  `^P(?:${NUMBER}Y)?(?:${NUMBER}M)?(?:${NUMBER}W)?(?:${NUMBER}D)?(?:T(?:${NUMBER}H)?(?:${NUMBER}M)?(?:${NUMBER}S)?)?$`, 'i');
const DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/i;
const ISO_START = /^(R\d*\/|P[\dT]|\d{4})/i;
const ISO_CHARS = /^[0-9A-Za-z:.,+\-/]+$/;
const UNITS = [ 'years', 'months', 'weeks', 'days', 'hours', 'minutes', 'seconds' ];

const WORDS = {
  zh: {
    years: '年', months: '个月', weeks: '周', days: '天', hours: '小时', minutes: '分钟', seconds: '秒',
    every: { years: '每年', months: '每月', weeks: '每周', days: '每天', hours: '每小时', minutes: '每分钟', seconds: '每秒' },
    join: ' ',
    after: (text) => `${text}后`,
    everyN: (text) => `每 ${text}`,
    times: (n) => `，共 ${n} 次`,
    from: (date) => `，自 ${date} 起`,
    until: (date) => `，至 ${date} 止`,
    due: (text) => `任务就绪 ${text}后到期`,
    expression: '表达式：定时器开始时按实例数据计算',
    dueExpression: '表达式：任务就绪时按实例数据计算',
    bad: {
      duration: '不是有效的 ISO 8601 时长（例如 PT15M 或 P2D）',
      date: '不是有效的 ISO 8601 日期时间（例如 2026-12-01T10:00:00）',
      cycle: '不是有效的 ISO 8601 循环（例如 R3/PT1H 或 R/P1D）'
    },
    empty: '未填写',
    utc: '(UTC)'
  },
  en: {
    years: [ 'year', 'years' ], months: [ 'month', 'months' ], weeks: [ 'week', 'weeks' ], days: [ 'day', 'days' ],
    hours: [ 'hour', 'hours' ], minutes: [ 'minute', 'minutes' ], seconds: [ 'second', 'seconds' ],
    every: { years: 'every year', months: 'every month', weeks: 'every week', days: 'every day', hours: 'every hour',
      minutes: 'every minute', seconds: 'every second' },
    join: ' ',
    after: (text) => `in ${text}`,
    everyN: (text) => `every ${text}`,
    times: (n) => `, ${n} ${n === 1 ? 'time' : 'times'}`,
    from: (date) => `, from ${date}`,
    until: (date) => `, until ${date}`,
    due: (text) => `due ${text} after the task is ready`,
    expression: 'expression: computed from the instance data when the timer starts',
    dueExpression: 'expression: computed from the instance data when the task is ready',
    bad: {
      duration: 'not an ISO 8601 duration (for example PT15M or P2D)',
      date: 'not an ISO 8601 date and time (for example 2026-12-01T10:00:00)',
      cycle: 'not an ISO 8601 repeating interval (for example R3/PT1H or R/P1D)'
    },
    empty: 'not set',
    utc: 'UTC'
  }
};

export function pageLanguage() {
  const lang = (typeof document !== 'undefined' && document.documentElement.lang) || 'zh';
  return lang.toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

function words(lang) {
  return WORDS[lang] || WORDS.zh;
}

function toNumber(text) {
  return text === undefined ? 0 : Number(text.replace(',', '.'));
}

/** {years, months, weeks, days, hours, minutes, seconds} or null when not an ISO 8601 duration. */
export function parseDuration(text) {
  const value = (text || '').trim();
  const match = DURATION.exec(value);
  if (!match || value.length < 3 || /T$/i.test(value)) {
    return null;
  }
  const parts = {};
  UNITS.forEach((unit, index) => { parts[unit] = toNumber(match[index + 1]); });
  return UNITS.some((unit) => match[UNITS.indexOf(unit) + 1] !== undefined) ? parts : null;
}

/** A Date (a value without a zone is UTC, as the engine takes it), or null. */
export function parseDate(text) {
  const match = DATE.exec((text || '').trim());
  if (!match) {
    return null;
  }
  const [ , y, mo, d, h = '00', mi = '00', s = '00', zone ] = match;
  let iso = `${y}-${mo}-${d}T${h}:${mi}:${s}`;
  if (!zone || zone.toUpperCase() === 'Z') {
    iso += 'Z';
  } else {
    iso += zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone;
  }
  const date = new Date(iso);
  if (isNaN(date.getTime()) || date.getUTCDate() !== Number(d) && !zone) {
    return null;
  }
  return date;
}

/** {repeat (a number, or null for ever), duration, start, end} or null: R3/PT1H, R/P1D, R/2026-01-01T00:00/P1D. */
export function parseCycle(text) {
  const parts = (text || '').trim().split('/');
  const head = /^R(\d*)$/i.exec(parts[0] || '');
  if (!head || parts.length < 2 || parts.length > 3) {
    return null;
  }
  const repeat = head[1] === '' ? null : Number(head[1]);
  if (parts.length === 2) {
    const duration = parseDuration(parts[1]);
    return duration ? { repeat, duration, start: null, end: null } : null;
  }
  const first = parseDuration(parts[1]);
  if (first) {
    const end = parseDate(parts[2]);
    return end ? { repeat, duration: first, start: null, end } : null;
  }
  const start = parseDate(parts[1]);
  const duration = parseDuration(parts[2]);
  return start && duration ? { repeat, duration, start, end: null } : null;
}

/** The engine's rule: a designer meant an ISO literal (PT15M, R3/PT1H, 2026-12-01...), not a variable. */
export function looksLikeIso(text) {
  return ISO_CHARS.test(text) && ISO_START.test(text);
}

/** The text inside 'quotes' or "quotes", else null. */
export function unquote(text) {
  const match = /^(['"])(.*)\1$/s.exec((text || '').trim());
  return match ? match[2] : null;
}

export function durationText(parts, lang = pageLanguage()) {
  const w = words(lang);
  const shown = UNITS.filter((unit) => parts[unit]).map((unit) => {
    const n = parts[unit];
    if (lang === 'zh') {
      return `${n} ${w[unit]}`;
    }
    return `${n} ${w[unit][n === 1 ? 0 : 1]}`;
  });
  return shown.length ? shown.join(w.join) : (lang === 'zh' ? '0 秒' : '0 seconds');
}

function singleUnit(parts) {
  const used = UNITS.filter((unit) => parts[unit]);
  return used.length === 1 && parts[used[0]] === 1 ? used[0] : null;
}

export function dateText(date, lang = pageLanguage()) {
  const format = new Intl.DateTimeFormat(lang === 'zh' ? 'zh-CN' : 'en-GB', {
    year: 'numeric', month: 'long', day: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false,
    timeZone: 'UTC'
  });
  return `${format.format(date)} ${words(lang).utc}`;
}

function everyText(parts, lang) {
  const w = words(lang);
  const unit = singleUnit(parts);
  return unit ? w.every[unit] : w.everyN(durationText(parts, lang));
}

/**
 * The meaning of a timer value of kind 'duration' | 'date' | 'cycle':
 * `{ text, error, expression }` (error: a message when the value is a broken ISO literal).
 */
export function describeTimer(kind, value, lang = pageLanguage()) {
  const w = words(lang);
  const raw = (value || '').trim();
  if (!raw) {
    return { text: w.empty, error: null, expression: false };
  }
  const quoted = unquote(raw);
  const literal = quoted !== null ? quoted.trim() : raw;
  if (quoted === null && !looksLikeIso(raw)) {
    return { text: w.expression, error: null, expression: true };
  }
  if (kind === 'duration') {
    const parts = parseDuration(literal);
    return parts ? { text: w.after(durationText(parts, lang)), error: null, expression: false }
      : { text: '', error: `${literal}: ${w.bad.duration}`, expression: false };
  }
  if (kind === 'date') {
    const date = parseDate(literal);
    return date ? { text: dateText(date, lang), error: null, expression: false }
      : { text: '', error: `${literal}: ${w.bad.date}`, expression: false };
  }
  const cycle = parseCycle(literal);
  if (!cycle) {
    return { text: '', error: `${literal}: ${w.bad.cycle}`, expression: false };
  }
  let text = everyText(cycle.duration, lang);
  if (cycle.repeat !== null) {
    text += w.times(cycle.repeat);
  }
  if (cycle.start) {
    text += w.from(dateText(cycle.start, lang));
  }
  if (cycle.end) {
    text += w.until(dateText(cycle.end, lang));
  }
  return { text, error: null, expression: false };
}

/** The meaning of a user task's dueIn (an ISO duration counted from when the task is ready). */
export function describeDueIn(value, lang = pageLanguage()) {
  const w = words(lang);
  const raw = (value || '').trim();
  const literal = unquote(raw) ?? raw;
  if (!literal) {
    return { text: '', error: null };
  }
  const parts = parseDuration(literal);
  return parts ? { text: w.due(durationText(parts, lang)), error: null } : { text: '', error: `${literal}: ${w.bad.duration}` };
}

export function dueDateHint(lang = pageLanguage()) {
  return words(lang).dueExpression;
}

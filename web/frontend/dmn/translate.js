// A `translate` service for dmn-js (the diagram-js i18n contract: a template and its
// replacements): the page's language picks the dictionary; English pages keep dmn-js's texts.
import zh from './zh';

const DICTIONARIES = { zh };

export function pageLanguage() {
  const lang = (document.documentElement.getAttribute('lang') || 'en').toLowerCase();
  return lang.split('-')[0];
}

export function makeTranslate(language) {
  const dictionary = DICTIONARIES[language] || {};
  return function translate(template, replacements) {
    const text = Object.prototype.hasOwnProperty.call(dictionary, template) ? dictionary[template] : template;
    return String(text).replace(/{([^}]+)}/g, (whole, key) => {
      return replacements && key in replacements ? replacements[key] : whole;
    });
  };
}

export function translateModule(language) {
  return { translate: ['value', makeTranslate(language)] };
}

// dmn-js 17 writes the column drag handles' tooltip without `translate` ("Move Input",
// "Move Output"); these are put right as the table draws them.
const UNTRANSLATED_TITLES = { 'Move Input': 'Move input column', 'Move Output': 'Move output column' };

export function translateLeftovers(container, translate) {
  const fix = () => {
    container.querySelectorAll('[title^="Move "]').forEach((node) => {
      const text = UNTRANSLATED_TITLES[node.getAttribute('title')];
      if (text) { node.setAttribute('title', translate(text)); }
    });
  };
  new MutationObserver(fix).observe(container, { childList: true, subtree: true });
  fix();
}

// Entry components the TowerFlow groups share, in the properties panel's own markup and classes.

import { useState } from '@bpmn-io/properties-panel/preact/hooks';
import { useService } from 'bpmn-js-properties-panel';

export function splitList(value) {
  return (value || '').split(',').map((v) => v.trim()).filter(Boolean);
}

export function isExpression(value) {
  const text = (value || '').trim();
  return text.startsWith('${') && text.endsWith('}');
}

/**
 * A list of names stored as "a,b" (or one `${expression}`): chips for the chosen ones, and a
 * text input with suggestions (a datalist) to add one; anything may be typed.
 */
export function TokenListEntry(props) {
  const { element, id, label, getValue, setValue, options = [], describe, placeholder, description } = props;
  const translate = useService('translate');
  const [ draft, setDraft ] = useState('');
  const value = getValue(element) || '';
  const expression = isExpression(value);
  const items = expression ? [] : splitList(value);
  const inputId = `bio-properties-panel-${id}`;
  const listId = `${inputId}-options`;
  const known = new Set(options.map((o) => o.value));

  const add = (text) => {
    const typed = (text === undefined ? draft : text).trim();
    if (!typed) {
      return;
    }
    setDraft('');
    if (isExpression(typed) || typed.startsWith('${')) {
      setValue(typed);
      return;
    }
    const next = [ ...items ];
    splitList(typed).forEach((name) => { if (!next.includes(name)) { next.push(name); } });
    setValue(next.join(','));
  };
  const remove = (name) => setValue(items.filter((v) => v !== name).join(','));
  const onKeyDown = (event) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      add(event.target.value);
    }
  };
  const onInput = (event) => {
    const text = event.target.value;
    setDraft(text);
    // a suggestion picked from the list comes as one whole replacement: take it at once
    if ((!event.inputType || event.inputType === 'insertReplacementText') && known.has(text)) {
      add(text);
    }
  };

  return (
    <div class="bio-properties-panel-entry tf-tokens" data-entry-id={ id }>
      <label class="bio-properties-panel-label" for={ inputId }>{ label }</label>
      <div class="tf-token-list" data-testid={ `${id}-chosen` }>
        { expression ? (
          <span class="tf-token tf-token-expression" data-value={ value }>
            <span>{ translate('Expression') }: <code>{ value }</code></span>
            <button type="button" class="tf-token-remove" title={ translate('Remove') }
              aria-label={ `${translate('Remove')} ${value}` } onClick={ () => setValue('') }>×</button>
          </span>
        ) : items.map((name) => (
          <span class="tf-token" data-value={ name } key={ name }>
            <span>{ describe ? describe(name) : name }</span>
            <button type="button" class="tf-token-remove" title={ translate('Remove') }
              aria-label={ `${translate('Remove')} ${name}` } onClick={ () => remove(name) }>×</button>
          </span>
        )) }
        { !expression && !items.length ? <span class="tf-token-none">{ translate('None') }</span> : null }
      </div>
      <div class="tf-token-add">
        <input id={ inputId } class="bio-properties-panel-input" list={ listId } value={ draft }
          autoComplete="off" spellcheck={ false } placeholder={ placeholder }
          onInput={ onInput } onKeyDown={ onKeyDown } />
        <button type="button" class="tf-token-add-button" onClick={ () => add() }>{ translate('Add') }</button>
      </div>
      <datalist id={ listId }>
        { options.map((o) => <option value={ o.value } key={ o.value }>{ o.label }</option>) }
      </datalist>
      { description ? <div class="bio-properties-panel-description">{ description }</div> : null }
    </div>
  );
}

export function isTokenListEdited(node) {
  return !!(node && node.closest && node.closest('.tf-tokens') &&
    node.closest('.tf-tokens').querySelector('.tf-token'));
}

/** A read-only entry: a note, a preview or a meaning shown in the panel. */
export function InfoEntry(props) {
  const { id, children, className = '' } = props;
  return (
    <div class={ `bio-properties-panel-entry tf-info ${className}` } data-entry-id={ id }>{ children }</div>
  );
}

/** The fields of a form: label, type, required. */
export function FormPreview(props) {
  const { form, translate } = props;
  if (!form) {
    return null;
  }
  if (!form.fields.length) {
    return <p class="tf-muted">{ translate('This form has no fields.') }</p>;
  }
  return (
    <table class="tf-form-preview" data-testid="form-preview" data-form={ form.key }>
      <caption>{ translate('Fields of the form {form}', { form: form.key }) }</caption>
      <thead>
        <tr><th>{ translate('Field') }</th><th>{ translate('Type') }</th><th>{ translate('Required') }</th></tr>
      </thead>
      <tbody>
        { form.fields.map((f) => (
          <tr key={ f.name } data-field={ f.name }>
            <td>{ f.label }{ f.label !== f.name ? <code>{ f.name }</code> : null }</td>
            <td>{ translate(f.type) }</td>
            <td>{ f.required ? translate('yes') : translate('no') }</td>
          </tr>
        )) }
      </tbody>
    </table>
  );
}

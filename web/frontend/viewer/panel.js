// A click on an element lists what stands there: on the version page the instances now at it,
// on the instance page the element's visits. The server answers JSON already in the page's
// language: {title, total, empty, more, items: [{url, label, detail, state, stateLabel}]}.

function text(tag, className, value) {
  const node = document.createElement(tag);
  if (className) { node.className = className; }
  node.textContent = value;
  return node;
}

export function panelFor(container, words) {
  const panel = document.createElement('aside');
  panel.className = 'tf-element-panel';
  panel.setAttribute('data-testid', 'element-panel');
  panel.setAttribute('aria-live', 'polite');
  panel.hidden = true;
  container.insertAdjacentElement('afterend', panel);

  function show(answer) {
    panel.replaceChildren();
    const head = document.createElement('div');
    head.className = 'tf-panel-head';
    head.append(text('h3', '', answer.title));
    const close = text('button', 'tf-panel-close', '×');
    close.type = 'button';
    close.title = words.close;
    close.setAttribute('aria-label', words.close);
    close.addEventListener('click', () => { panel.hidden = true; });
    head.append(close);
    panel.append(head);
    if (!answer.items || !answer.items.length) {
      panel.append(text('p', 'muted', answer.empty || ''));
    } else {
      const list = document.createElement('ul');
      answer.items.forEach((item) => {
        const row = document.createElement('li');
        row.setAttribute('data-testid', 'element-item');
        const main = item.url ? text('a', '', item.label) : text('strong', '', item.label);
        if (item.url) { main.href = item.url; }
        row.append(main);
        if (item.stateLabel) {
          const state = text('span', `state ${item.state || ''}`, item.stateLabel);
          row.append(' ', state);
        }
        if (item.detail) { row.append(text('div', 'muted', item.detail)); }
        list.append(row);
      });
      panel.append(list);
      if (answer.more) { panel.append(text('p', 'muted', answer.more)); }
    }
    panel.hidden = false;
  }

  function load(url) {
    return fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' })
      .then((response) => response.json().then((body) => ({ ok: response.ok, body })))
      .then(({ ok, body }) => {
        if (!ok) { throw new Error(body.error || body.message || words.failed); }
        show(body);
      })
      .catch((error) => show({ title: words.failed, items: [], empty: error.message }));
  }

  return { load, element: panel };
}

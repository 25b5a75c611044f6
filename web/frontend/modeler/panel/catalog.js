// What the pickers offer, from the designer's catalog endpoint (GET /designer/catalog.json):
// forms with their fields, groups, users, service operators, deployed processes and decisions.
// Until it has loaded (or when it fails) the pickers still show the values already in the
// diagram and accept typed ones, so nothing is lost.

const EMPTY = { forms: [], groups: [], users: [], operators: [], processes: [], decisions: [] };

export default class Catalog {
  constructor(eventBus) {
    this._eventBus = eventBus;
    this.data = EMPTY;
    this.state = 'empty';
  }

  load(url) {
    this.state = 'loading';
    return fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then((response) => {
        const type = response.headers.get('Content-Type') || '';
        if (!response.ok || type.indexOf('application/json') < 0) {
          throw new Error(String(response.status));
        }
        return response.json();
      })
      .then((data) => {
        this.data = { ...EMPTY, ...data };
        this.state = 'ready';
      })
      .catch((error) => {
        this.state = 'failed';
        this.error = error;
      })
      .then(() => {
        this._eventBus.fire('propertiesPanel.providersChanged');
        this._eventBus.fire('towerflow.catalog.loaded', { state: this.state });
        return this.state;
      });
  }

  form(key) {
    return this.data.forms.find((f) => f.key === key) || null;
  }

  group(id) {
    return this.data.groups.find((g) => g.id === id) || null;
  }

  user(name) {
    return this.data.users.find((u) => u.username === name) || null;
  }

  /** "城市建维主管 (city_director)" for a known group, else the id. */
  groupLabel(id) {
    const group = this.group(id);
    return group && group.label ? `${group.label} (${id})` : id;
  }

  userLabel(name) {
    const user = this.user(name);
    return user && user.display_name ? `${user.display_name} (${name})` : name;
  }
}

Catalog.$inject = [ 'eventBus' ];

// TowerFlow's properties provider, the catalog its pickers read, and a debounce that can flush.
import Catalog from './catalog.js';
import debounceInput from './debounce.js';
import TowerFlowPropertiesProvider from './provider.jsx';

export default {
  __init__: [ 'towerflowPropertiesProvider' ],
  towerflowPropertiesProvider: [ 'type', TowerFlowPropertiesProvider ],
  towerflowCatalog: [ 'type', Catalog ],
  debounceInput: [ 'factory', debounceInput ]
};

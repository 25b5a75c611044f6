// The modeler page's bundle: bpmn-js with TowerFlow's properties panel, linting and simulation (being built).

// The DMN page's bundle: dmn-js with TowerFlow's decision table editing (being built).

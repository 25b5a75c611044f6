"""TowerFlow engine: the runtime around SpiffWorkflow, usable without HTTP."""

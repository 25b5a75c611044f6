"""TowerFlow's engine: a generic BPMN runtime around SpiffWorkflow, usable without HTTP.

``definitions`` (parse, check, version), ``runtime`` (instances, tasks, jobs, messages),
``scripting`` (the sandbox) and ``queries`` (read models) sit on the modules here: the
platform, its settings, the database and tables, identity, the lifecycle listeners and
plug-ins through which a business package (``tower``) extends it. See docs/engine.md.
"""

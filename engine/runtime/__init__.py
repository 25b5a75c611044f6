"""Running instances: the workflow under its row lock, human tasks, jobs and timers, messages,
drafts, files, the outbox and the audit trail."""

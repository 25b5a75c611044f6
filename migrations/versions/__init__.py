"""The revisions, one file each, applied in order by ``towerflow init-db`` (see docs/migrations.md)."""

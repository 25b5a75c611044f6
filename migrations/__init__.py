"""The Alembic migrations of TowerFlow's schema (the engine's tables and the tower plug-in's)."""

from pathlib import Path

LOCATION = Path(__file__).parent

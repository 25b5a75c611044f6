"""TowerFlow's web layer: translates HTTP requests into engine calls and renders answers."""

from .app import create_app

__all__ = ["create_app"]

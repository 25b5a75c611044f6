"""The server-rendered pages: sign-in, inbox, instances, definitions, designer, dashboard."""

from __future__ import annotations

import secrets
from pathlib import Path

from flask import Flask
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from engine.plugins import import_modules
from web.tower import PAGE_MODULES as TOWER_PAGES

from ..assets import register_assets
from ..i18n import init_i18n
from ..labels import register_labels

csrf = CSRFProtect()
login_manager = LoginManager()

# Each module holds one blueprint ``bp``; the order is the navigation's.
PAGE_MODULES = ("web.ui.inbox", "web.ui.start", *TOWER_PAGES, "web.ui.instances", "web.ui.repairs", "web.ui.bulk",
                "web.ui.migration", "web.ui.incidents", "web.ui.definitions",
                "web.ui.designer", "web.ui.dry_run", "web.ui.dmn", "web.ui.compare",
                "web.ui.dashboard", "web.ui.admin", "web.ui.cockpit")


def register_ui(app: Flask, api_blueprints) -> None:
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(app)
    csrf.init_app(app)
    for blueprint in api_blueprints:  # the API authenticates with tokens, not cookies
        csrf.exempt(blueprint)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to see this page.")  # Flask-Login's own is English only
    init_i18n(app)
    register_labels(app)
    register_assets(app)
    from . import auth

    auth.init(app)
    for module in import_modules(PAGE_MODULES, "the pages"):
        app.register_blueprint(module.bp)

    @app.context_processor
    def _navigation():
        return {"nav_endpoints": nav_endpoints(app)}


# Who sees which entry of the top navigation (admins see all); None means every signed-in user.
NAV_GROUPS = {
    "inbox.index": None,
    "start.index": None,
    "demands.index": {"customer_manager", "operator", "supervisor"},
    "difficult_sites.index": {"operator", "regional_manager", "city_director", "supervisor"},
    "contracts.index": {"customer_manager", "supervisor"},
    "service_requests.index": {"operator"},  # enterprise customers: operator users of their company
    "instances.index": None,
    "incidents.index": {"supervisor"},
    "definitions.index": {"designer", "supervisor"},
    "designer.index": {"designer"},
    "dashboard.index": {"supervisor"},
    "admin.users": set(),
}


def nav_endpoints(app: Flask) -> set[str]:
    from flask_login import current_user

    if not current_user.is_authenticated:
        return set()
    actor = current_user.principal
    return {endpoint for endpoint, groups in NAV_GROUPS.items()
            if endpoint in app.view_functions and (groups is None or actor.is_admin or actor.groups & groups)}


def _secret_key(app: Flask) -> str:
    """A key kept in instance/secret_key so sessions survive restarts (when the settings give
    none: ``TOWERFLOW_SECRET_KEY`` becomes ``SECRET_KEY`` in the app factory)."""
    if app.config.get("TESTING"):
        return secrets.token_hex(32)
    path = Path(app.instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()

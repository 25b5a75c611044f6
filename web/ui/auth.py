"""Sign-in and sign-out (Flask-Login), and the language switch."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Flask, flash, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from engine import identity
from engine.models import User
from engine.principal import Principal

from ..i18n import LANGUAGES
from ..metrics import count_signin_failure, count_signin_throttled
from . import login_manager
from .helpers import platform

bp = Blueprint("auth", __name__)


@dataclass
class WebUser(UserMixin):
    """The signed-in user as the pages see it."""

    id: str
    username: str
    display_name: str
    groups: tuple[str, ...]
    tenant: str | None

    @property
    def principal(self) -> Principal:
        return Principal(self.username, frozenset(self.groups), self.tenant)

    @classmethod
    def of(cls, user) -> WebUser:
        return cls(str(user.id), user.username, user.display_name or user.username, tuple(user.group_ids),
                   user.tenant)


@login_manager.user_loader
def load_user(user_id: str) -> WebUser | None:
    """Reload on every request, so a disabled user is signed out at once."""
    with platform().Session() as db:
        user = db.get(User, int(user_id)) if user_id.isdigit() else None
        if user is None or user.disabled:
            return None
        return WebUser.of(user)


class LoginForm(FlaskForm):
    username = StringField("username", validators=[DataRequired()])
    password = PasswordField("password", validators=[DataRequired()])


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        pf = platform()
        try:
            with pf.transaction() as db:  # commits a failure too, so the next attempt waits
                user = identity.sign_in(db, form.username.data.strip(), form.password.data, pf.clock.now())
                web_user = WebUser.of(user) if user is not None else None
        except identity.TooManyAttempts as exc:
            count_signin_throttled("page")
            flash(_("Too many failed sign-ins. Try again in %(seconds)s s.", seconds=exc.retry_after), "error")
            response = make_response(render_template("login.html", form=form), 429)
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        if web_user is not None:
            login_user(web_user)
            return redirect(_safe_next(request.args.get("next")))
        count_signin_failure("page")
        flash(_("Wrong username or password."), "error")
    return render_template("login.html", form=form)


@bp.post("/logout")
def logout():
    logout_user()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.get("/lang/<code>")
def language(code: str):
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(_safe_next(request.args.get("next") or request.referrer))


def _safe_next(target: str | None) -> str:
    """Only follow redirects inside this site."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    if target and target.startswith(request.host_url):
        return target
    return url_for("home")


def init(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.get("/")
    def home():
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login"))
        if "inbox.index" in app.view_functions:
            return redirect(url_for("inbox.index"))
        return render_template("home.html")

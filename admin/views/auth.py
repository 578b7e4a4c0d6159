"""Blueprint "auth": /login, /logout, own password and the login manager."""

import functools
import secrets
import unicodedata
from datetime import timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import (
    Blueprint,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import (
    LoginManager,
    current_user,
    login_required,
    login_user,
    logout_user,
)
from werkzeug.security import check_password_hash, generate_password_hash

from admin import throttle
from admin.sessions import relogin, rotate_session_token
from core import audit
from core.errors import json_error, wants_json
from forms import BylineForm, ChangePasswordForm, EmailForm, LoginForm
from models import User, db, parse_id, utcnow

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"

REMEMBER_DAYS = 14


@bp.record_once
def _configure_sessions(state):
    # The idle timeout: a permanent session expires this long after the last
    # request, because Flask re-sends the cookie on every request.
    config = state.app.config
    config["PERMANENT_SESSION_LIFETIME"] = timedelta(
        minutes=config["SESSION_IDLE_MINUTES"]
    )
    config.setdefault("REMEMBER_COOKIE_DURATION", timedelta(days=REMEMBER_DAYS))


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    # The id is "<user id>:<session token>", in the session cookie and (signed
    # by Flask-Login) in the remember-me cookie alike, so rotating the token at
    # logout, a password change or reset, a deactivation or an admin's «end
    # sessions» turns every earlier cookie of that user into a stranger's.
    uid, _sep, token = user_id.partition(":")
    uid = parse_id(uid)
    if uid is None or not token:
        return None
    user = db.session.get(User, uid)
    if user is None or not secrets.compare_digest(
        user.session_token.encode(), token.encode()
    ):
        return None
    return user


@login_manager.unauthorized_handler
def unauthorized():
    # Autosave and uploads call with fetch(): answer 401 JSON so the page can
    # keep the text and ask the user to log in again, instead of a redirect.
    login_url = url_for("auth.login", next=request.full_path.rstrip("?"))
    if wants_json():
        message = _("Your session has expired. Please log in again.")
        return json_error(message, 401, login_url=login_url)
    flash(_("Please log in to continue."), "warning")
    return redirect(login_url)


def is_safe_next(target: str | None) -> bool:
    """Only follow `next` to a path on this site, never to another host."""
    if not isinstance(target, str) or not target.startswith("/"):
        return False
    # Browsers treat "\" like "/" and silently drop tabs and newlines, so
    # "/\evil" and "/\t/evil" would both become "//evil": a different host.
    if target.startswith("//") or "\\" in target:
        return False
    for ch in target:
        if ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zs"):
            return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def _client_address() -> str:
    # remote_addr is the proxy's address unless TRUSTED_PROXIES wrapped the app
    # in ProxyFix; X-Forwarded-For is never read here, so it cannot be forged.
    return (request.remote_addr or "unknown")[:45]


@functools.cache
def _dummy_hash() -> str:
    # Made with the default method, like real passwords, so that checking it
    # takes as long as checking a real user's password.
    return generate_password_hash(secrets.token_hex(16))


def _password_matches(user: User | None, password: str) -> bool:
    """Check the password; for an unknown name, spend the same time and fail."""
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return False
    return user.check_password(password)


def _refusal(attempt: throttle.Attempt) -> str:
    wait = throttle.minutes(attempt.wait)
    if attempt.scope == "address":
        return ngettext(
            "Too many failed logins from your network. Please wait %(num)d minute "
            "and try again.",
            "Too many failed logins from your network. Please wait %(num)d minutes "
            "and try again.",
            wait,
        )
    return ngettext(
        "Too many failed attempts. Please wait %(num)d minute and try again.",
        "Too many failed attempts. Please wait %(num)d minutes and try again.",
        wait,
    )


def _after_login_url(next_url: str | None) -> str:
    if is_safe_next(next_url):
        return next_url
    return url_for("editor.dashboard")


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = request.args.get("next")
    if current_user.is_authenticated:
        return redirect(_after_login_url(next_url))
    form = LoginForm()
    if form.validate_on_submit():
        username = form.username.data.strip()
        # Throttle on the lowercased name so "Admin" and "admin" share a budget.
        # Unknown names are throttled and answered exactly like real ones, so
        # neither the message, the status nor the timing tells them apart.
        attempt = throttle.begin(username.lower()[:64], _client_address())
        if attempt.refused:
            form.username.errors.append(_refusal(attempt))
            return render_template("admin/login.html", form=form), 429
        user = db.session.scalar(sa.select(User).where(User.username == username))
        if not _password_matches(user, form.password.data):
            throttle.failed(attempt)
            form.password.errors.append(_("Wrong username or password."))
        elif not user.active:
            # Only someone who knows the password learns this.
            throttle.succeeded(attempt)
            form.username.errors.append(_("This account has been deactivated."))
        else:
            throttle.succeeded(attempt)
            user.last_login_at = utcnow()
            db.session.commit()
            session.permanent = True
            login_user(user, remember=form.remember.data)
            return redirect(_after_login_url(next_url))
    return render_template("admin/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    # A copied session cookie or an old remember-me cookie must not outlive the
    # logout (a shared staff-room computer), so every session of the user ends.
    rotate_session_token(current_user._get_current_object())
    db.session.commit()
    logout_user()
    flash(_("You have been logged out on every device."), "info")
    return redirect(url_for("public.home"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        if not user.check_password(form.current_password.data):
            form.current_password.errors.append(_("The current password is wrong."))
        elif form.new_password.data == form.current_password.data:
            form.new_password.errors.append(
                _("The new password must differ from the current one.")
            )
        else:
            user.set_password(form.new_password.data)
            rotate_session_token(user)
            audit.record("password_changed", user.username)
            db.session.commit()
            relogin(user)
            flash(_("Your password has been changed."), "success")
            return redirect(url_for("editor.dashboard"))
    return _account_page(form=form)


def _account_page(form=None, byline_form=None, email_form=None):
    user = current_user._get_current_object()
    return render_template(
        "admin/change_password.html",
        form=form or ChangePasswordForm(formdata=None),
        byline_form=byline_form or BylineForm(obj=user),
        email_form=email_form or EmailForm(obj=user, formdata=None),
    )


@bp.post("/account/password/email")
@login_required
def update_email():
    """Where review notifications reach the user (notify.py)."""
    form = EmailForm()
    if not form.validate_on_submit():
        return _account_page(email_form=form), 422
    current_user.email = form.email.data or None
    db.session.commit()
    flash(_("Your e-mail address has been saved."), "success")
    return redirect(url_for("auth.change_password"))


# Under /account/password: the account page, kept out of robots.txt with it.
@bp.post("/account/password/byline")
@login_required
def update_byline():
    """Each teacher sets the author their new posts start with (署名)."""
    form = BylineForm()
    if not form.validate_on_submit():
        return _account_page(byline_form=form), 422
    user = current_user._get_current_object()
    user.byline = form.byline.data or ""
    db.session.commit()
    flash(_("Your byline has been saved."), "success")
    return redirect(url_for("auth.change_password"))

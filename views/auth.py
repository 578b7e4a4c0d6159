"""Blueprint "auth": /login, /logout, own password and the login manager."""

import math
import secrets
import unicodedata
from datetime import timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import (
    LoginManager,
    current_user,
    login_required,
    login_user,
    logout_user,
)

import audit
from forms import ChangePasswordForm, LoginForm
from models import LoginAttempt, User, db, parse_id, utcnow
from views.errors import wants_json

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"

# Password guessing: failures counted per username and per client address.
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_USERNAME = 5
MAX_FAILURES_PER_IP = 20
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
    # The id is "<user id>:<session token>" so that a password reset or a
    # deactivation ends every existing session of that user.
    uid, _sep, token = user_id.partition(":")
    uid = parse_id(uid)
    if uid is None:
        return None
    user = db.session.get(User, uid)
    if user is None or not token or user.session_token != token:
        return None
    return user


@login_manager.unauthorized_handler
def unauthorized():
    # Autosave and uploads call with fetch(): answer 401 JSON so the page can
    # keep the text and ask the user to log in again, instead of a redirect.
    login_url = url_for("auth.login", next=request.full_path.rstrip("?"))
    if wants_json():
        message = _("Your session has expired. Please log in again.")
        return jsonify(error=message, login_url=login_url), 401
    flash(_("Please log in to continue."), "warning")
    return redirect(login_url)


def rotate_session_token(user: User) -> None:
    """End every session and remember-me cookie of the user."""
    user.session_token = secrets.token_hex(16)


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


def _client_ip() -> str:
    return (request.remote_addr or "unknown")[:45]


def _wait_minutes(column, value, limit: int) -> int:
    """Minutes until fewer than `limit` failures remain in the window, or 0."""
    since = utcnow() - THROTTLE_WINDOW
    times = db.session.scalars(
        sa.select(LoginAttempt.created_at)
        .where(column == value, LoginAttempt.created_at > since)
        .order_by(LoginAttempt.created_at.desc())
        .limit(limit)
    ).all()
    if len(times) < limit:
        return 0
    # When the limit-th most recent failure leaves the window, one more try is allowed.
    remaining = times[-1] + THROTTLE_WINDOW - utcnow()
    return max(1, math.ceil(remaining.total_seconds() / 60))


def _throttle_minutes(username: str) -> int:
    return max(
        _wait_minutes(LoginAttempt.username, username, MAX_FAILURES_PER_USERNAME),
        _wait_minutes(LoginAttempt.ip, _client_ip(), MAX_FAILURES_PER_IP),
    )


def _record_failure(username: str) -> None:
    # Old rows are useless for throttling; dropping them keeps the table small.
    db.session.execute(
        sa.delete(LoginAttempt).where(
            LoginAttempt.created_at < utcnow() - timedelta(days=1)
        )
    )
    db.session.add(LoginAttempt(username=username, ip=_client_ip()))
    db.session.commit()


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
        key = username.lower()[:64]
        wait = _throttle_minutes(key)
        if wait:
            form.username.errors.append(
                _(
                    "Too many failed attempts. Please wait %(minutes)d minutes "
                    "and try again.",
                    minutes=wait,
                )
            )
            return render_template("auth/login.html", form=form), 429
        user = db.session.scalar(sa.select(User).where(User.username == username))
        if user is None or not user.check_password(form.password.data):
            _record_failure(key)
            form.password.errors.append(_("Wrong username or password."))
        elif not user.active:
            form.username.errors.append(_("This account has been deactivated."))
        else:
            db.session.execute(
                sa.delete(LoginAttempt).where(LoginAttempt.username == key)
            )
            user.last_login_at = utcnow()
            db.session.commit()
            session.permanent = True
            login_user(user, remember=form.remember.data)
            return redirect(_after_login_url(next_url))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    flash(_("You have been logged out."), "info")
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
            # The new token ends other sessions; log this one in again with it,
            # keeping a remember-me cookie if the user had one.
            remember_cookie = current_app.config.get(
                "REMEMBER_COOKIE_NAME", "remember_token"
            )
            session.permanent = True
            login_user(user, remember=remember_cookie in request.cookies)
            flash(_("Your password has been changed."), "success")
            return redirect(url_for("editor.dashboard"))
    return render_template("auth/change_password.html", form=form)

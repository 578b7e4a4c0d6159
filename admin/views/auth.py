"""Blueprint "auth": /login (password, then the second factor), /logout, the
account page (own password, second factor, sessions) and the login manager."""

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

from admin import dormant, passwords, sessions, signin, throttle, totp
from admin.sessions import relogin, rotate_session_token
from core import audit, sitedata
from core.errors import json_error, wants_json
from forms import (
    BylineForm,
    ChangePasswordForm,
    ConfirmForm,
    EmailForm,
    LoginForm,
    NewPasswordForm,
    PasswordConfirmForm,
    SecondFactorForm,
)
from models import User, UserSession, db, get_settings, utcnow

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"

REMEMBER_DAYS = sessions.REMEMBER_DAYS
NO_STORE = {"Cache-Control": "no-store"}


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
    # "<user id>:<session token>:<device key>" (admin/sessions.py): a cookie
    # stops working when its device's session ends, or all of the user's do.
    return sessions.load(user_id)


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


# --- what comes before anything else ---------------------------------------------

_STAFF_PREFIXES = ("/editor", "/admin", "/account")
# Open while a new password or the second factor's enrolment is due.
_PASSWORD_STEP = {"auth.forced_password", "auth.logout"}
_ENROLMENT_STEP = {
    "auth.second_factor_setup",
    "auth.start_totp",
    "auth.confirm_totp",
    "auth.recovery_codes",
    "auth.logout",
}


def _staff_page() -> bool:
    path = request.path
    return any(path == p or path.startswith(p + "/") for p in _STAFF_PREFIXES)


@bp.before_app_request
def _account_comes_first():
    """A password of one's own, then the second factor the site requires,
    before any staff page; also note that this device was seen."""
    # Reader pages return before current_user is loaded: no query for them.
    if not _staff_page() or not current_user.is_authenticated:
        return None
    sessions.touch()
    user = current_user._get_current_object()
    if user.needs_setup:
        return None  # the first-run setup (firstrun.py) sets the password
    # The settings as read once per cache version (a policy change moves it).
    settings = sitedata.current().settings
    policy = passwords.Policy.current(settings)
    if passwords.change_reason(user, policy):
        if request.endpoint in _PASSWORD_STEP:
            return None
        message = _("Please choose a new password first.")
        return _first(message, url_for("auth.forced_password"))
    if totp.required_for(user, settings) and not user.has_totp:
        if request.endpoint in _ENROLMENT_STEP:
            return None
        message = _("Please set up the second factor first.")
        return _first(message, url_for("auth.second_factor_setup"))
    left = passwords.days_left(user, policy)
    if left is not None and not session.get("password_warned"):
        session["password_warned"] = True
        flash(_password_warning(left), "warning")
    return None


def _first(message: str, location: str):
    if wants_json():
        return json_error(message, 403, location=location)
    return redirect(location)


def _password_warning(days: int) -> str:
    if days <= 0:
        return _("Your password expires today. Please change it now.")
    return ngettext(
        "Your password expires in %(num)d day. Please change it soon.",
        "Your password expires in %(num)d days. Please change it soon.",
        days,
    )


# --- logging in ---------------------------------------------------------------------


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
    if attempt.scope == "account":
        return ngettext(
            "This account has had too many failed logins lately. Please wait "
            "%(num)d second and try again.",
            "This account has had too many failed logins lately. Please wait "
            "%(num)d seconds and try again.",
            throttle.seconds(attempt.wait),
        )
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


def _failure(user: User | None, username: str, reason: str) -> None:
    """Audit a failed or refused login (its own transaction)."""
    target = user.username if user is not None else username[:64]
    audit.record_now("login_failed", target, user, outcome=audit.FAILURE, detail=reason)


def _begin(user: User | None, username: str) -> throttle.Attempt:
    known = user is not None and signin.is_known(user.id)
    return throttle.begin(
        username.lower()[:64], audit.client_address(), known_device=known
    )


def _refused_detail(attempt: throttle.Attempt) -> str:
    return "account_slowed" if attempt.scope == "account" else "throttled"


def _after_login_url(next_url: str | None) -> str:
    if is_safe_next(next_url):
        return next_url
    return url_for("editor.dashboard")


def _complete_login(user: User, remember: bool, next_url: str | None):
    """Open this device's session: the password (and code) were right."""
    user.last_login_at = utcnow()
    sessions.start(user, remember)
    audit.record("login", user.username, user, detail=passwords.change_reason(user))
    db.session.commit()
    signin.drop()
    session.pop("password_warned", None)
    session.permanent = True
    login_user(user, remember=remember)
    response = redirect(_after_login_url(next_url))
    signin.remember_device(response, user.id)
    return response


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = request.args.get("next")
    if current_user.is_authenticated:
        return redirect(_after_login_url(next_url))
    form = LoginForm()
    if form.validate_on_submit():
        username = form.username.data.strip()
        user = db.session.scalar(sa.select(User).where(User.username == username))
        # Throttle on the lowercased name so "Admin" and "admin" share a budget.
        # Unknown names are throttled and answered exactly like real ones, so
        # neither the message, the status nor the timing tells them apart.
        attempt = _begin(user, username)
        if attempt.refused:
            _failure(user, username, _refused_detail(attempt))
            form.username.errors.append(_refusal(attempt))
            return render_template("admin/login.html", form=form), 429
        if not _password_matches(user, form.password.data):
            throttle.failed(attempt)
            _failure(
                user, username, "unknown_user" if user is None else "wrong_password"
            )
            form.password.errors.append(_("Wrong username or password."))
        elif not user.active:
            # Only someone who knows the password learns this.
            throttle.succeeded(attempt)
            _failure(user, username, "deactivated")
            form.username.errors.append(_("This account has been deactivated."))
        elif dormant.disable_if_dormant(user):
            throttle.succeeded(attempt)
            _failure(user, username, "dormant")  # commits the disabling too
            form.username.errors.append(
                _(
                    "This account was not used for a long time and has been "
                    "deactivated. Ask the site administrator to reactivate it."
                )
            )
        elif user.has_totp:
            # The failures of this pair are cleared only once the code is
            # right too: a wrong code counts like a wrong password.
            throttle.forget(attempt)
            signin.hold(user, form.remember.data, next_url)
            return redirect(url_for("auth.second_factor"))
        else:
            throttle.succeeded(attempt)
            return _complete_login(user, form.remember.data, next_url)
    return render_template("admin/login.html", form=form)


@bp.route("/login/code", methods=["GET", "POST"])
def second_factor():
    """The second step of a login: the code from the authenticator app."""
    held = signin.pending()
    if held is None:
        flash(_("The login has expired. Please log in again."), "warning")
        return redirect(url_for("auth.login"))
    user, data = held
    form = SecondFactorForm()
    if form.validate_on_submit():
        attempt = _begin(user, user.username)
        if attempt.refused:
            _failure(user, user.username, _refused_detail(attempt))
            form.code.errors.append(_refusal(attempt))
            return _render_second_factor(form, 429)
        code = form.code.data
        if totp.verify(user, code):
            pass
        elif totp.use_recovery_code(user, code):
            audit.record("recovery_code_used", user.username, user)
        else:
            db.session.rollback()
            throttle.failed(attempt)
            _failure(user, user.username, "second_factor")
            form.code.errors.append(
                _("This code is not right, or was already used. Try the next one.")
            )
            return _render_second_factor(form, 200)
        throttle.succeeded(attempt)
        return _complete_login(user, data.get("remember", False), data.get("next"))
    return _render_second_factor(form, 200)


def _render_second_factor(form, status):
    return render_template("admin/second_factor.html", form=form), status, NO_STORE


@bp.post("/logout")
@login_required
def logout():
    # This device only: the teacher's other computers and phone stay logged
    # in (the account page ends them all).
    row = sessions.current()
    if row is not None:
        sessions.end(row, "logout")
    audit.record("logout", current_user.username)
    db.session.commit()
    logout_user()
    flash(_("You have been logged out."), "info")
    return redirect(url_for("public.home"))


# --- the account page ---------------------------------------------------------------


def _account_page(form=None, byline_form=None, email_form=None, status=200):
    user = current_user._get_current_object()
    policy = passwords.Policy.current()
    this = sessions.current()
    return (
        render_template(
            "admin/change_password.html",
            form=form or ChangePasswordForm(formdata=None),
            byline_form=byline_form or BylineForm(obj=user),
            email_form=email_form or EmailForm(obj=user, formdata=None),
            password_rules=passwords.describe(policy),
            expires_at=passwords.expires_at(user, policy),
            totp_required=totp.required_for(user),
            codes_left=totp.recovery_codes_left(user) if user.has_totp else 0,
            device_sessions=sessions.live(user),
            this_session=this.id if this else None,
            device_label=sessions.device_label,
            confirm_form=ConfirmForm(),
        ),
        status,
    )


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        problems = passwords.check(form.new_password.data, user)
        if not user.check_password(form.current_password.data):
            form.current_password.errors.append(_("The current password is wrong."))
        elif form.new_password.data == form.current_password.data:
            form.new_password.errors.append(
                _("The new password must differ from the current one.")
            )
        elif problems:
            form.new_password.errors.extend(problems)
        else:
            _set_own_password(user, form.new_password.data, "password_changed")
            flash(_("Your password has been changed."), "success")
            return redirect(url_for("editor.dashboard"))
    return _account_page(form=form)


def _set_own_password(user: User, password: str, action: str) -> None:
    """Change the password, end every other session, keep this one."""
    passwords.change(user, password)
    rotate_session_token(user, "password")
    audit.record(action, user.username)
    db.session.commit()
    relogin(user)


@bp.route("/account/password/new", methods=["GET", "POST"])
@login_required
def forced_password():
    """A password of one's own before anything else: the one an administrator
    set, or one past its age."""
    user = current_user._get_current_object()
    reason = passwords.change_reason(user)
    if reason is None:
        return redirect(url_for("editor.dashboard"))
    form = NewPasswordForm()
    status = 200
    if form.validate_on_submit():
        problems = passwords.check(form.new_password.data, user)
        if user.check_password(form.new_password.data):
            form.new_password.errors.append(
                _("The new password must differ from the current one.")
            )
        elif problems:
            form.new_password.errors.extend(problems)
        else:
            action = (
                "password_expired_changed"
                if reason == "expired"
                else "password_changed"
            )
            _set_own_password(user, form.new_password.data, action)
            flash(_("Your password has been changed."), "success")
            return redirect(url_for("editor.dashboard"))
        status = 422
    elif request.method == "POST":
        status = 422
    page = render_template(
        "admin/forced_password.html",
        form=form,
        reason=reason,
        password_rules=passwords.describe(),
    )
    return page, status, NO_STORE


@bp.post("/account/password/email")
@login_required
def update_email():
    """Where review notifications reach the user (notify.py)."""
    form = EmailForm()
    if not form.validate_on_submit():
        return _account_page(email_form=form, status=422)
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
        return _account_page(byline_form=form, status=422)
    user = current_user._get_current_object()
    user.byline = form.byline.data or ""
    db.session.commit()
    flash(_("Your byline has been saved."), "success")
    return redirect(url_for("auth.change_password"))


# --- own sessions -------------------------------------------------------------------


def _sessions_url():
    return url_for("auth.change_password", _anchor="sessions")


@bp.post("/account/password/sessions/<int:session_id>/end")
@login_required
def end_session(session_id):
    """Log out one other device (a phone left somewhere, a shared computer)."""
    form = ConfirmForm()
    row = db.session.get(UserSession, session_id)
    if row is None or row.user_id != current_user.id:
        return redirect(_sessions_url())
    if not form.validate_on_submit():
        flash(_("The form had expired. Please try again."), "error")
        return redirect(_sessions_url())
    this = sessions.current()
    if row.ended_at is None and (this is None or row.id != this.id):
        sessions.end(row, "ended")
        label = sessions.device_label(row.user_agent) or row.ip
        audit.record("session_ended", current_user.username, detail=label)
        db.session.commit()
        flash(_("That device has been logged out."), "success")
    return redirect(_sessions_url())


@bp.post("/account/password/sessions/end")
@login_required
def end_other_sessions():
    form = ConfirmForm()
    if not form.validate_on_submit():
        flash(_("The form had expired. Please try again."), "error")
        return redirect(_sessions_url())
    user = current_user._get_current_object()
    ended = sessions.end_all(user, "all_ended", keep=sessions.current())
    audit.record("sessions_ended", user.username, detail=f"own: {ended}")
    db.session.commit()
    flash(_("Your sessions on other devices have been ended."), "success")
    return redirect(_sessions_url())


# --- own second factor ----------------------------------------------------------------


def _setup_page(form=None, codes_form=None, off_form=None, status=200):
    user = current_user._get_current_object()
    qr = secret = None
    if totp.secret_of(user) and not user.has_totp:
        secret = totp.secret_of(user)
        uri = totp.provisioning_uri(user, get_settings()["school_name"])
        qr = totp.qr_svg(uri, _("QR code for your authenticator app"))
    page = render_template(
        "admin/second_factor_setup.html",
        form=form or SecondFactorForm(formdata=None),
        codes_form=codes_form or PasswordConfirmForm(formdata=None, prefix="codes"),
        off_form=off_form or PasswordConfirmForm(formdata=None, prefix="off"),
        confirm_form=ConfirmForm(),
        required=totp.required_for(user),
        codes_left=totp.recovery_codes_left(user) if user.has_totp else 0,
        qr=qr,
        secret=secret,
    )
    # The secret is on the page: never keep a copy.
    return page, status, NO_STORE


@bp.get("/account/password/second-factor")
@login_required
def second_factor_setup():
    return _setup_page()


@bp.post("/account/password/second-factor/start")
@login_required
def start_totp():
    form = ConfirmForm()
    user = current_user._get_current_object()
    if form.validate_on_submit() and not user.has_totp:
        totp.begin_enrolment(user)
        db.session.commit()
    return redirect(url_for("auth.second_factor_setup"))


@bp.post("/account/password/second-factor/confirm")
@login_required
def confirm_totp():
    form = SecondFactorForm()
    user = current_user._get_current_object()
    if user.has_totp or not totp.secret_of(user):
        return redirect(url_for("auth.second_factor_setup"))
    if not form.validate_on_submit():
        return _setup_page(form=form, status=422)
    if not totp.confirm(user, form.code.data):
        db.session.rollback()
        form.code.errors.append(
            _(
                "This code is not right. Check that the phone's clock is right "
                "and type the code the app shows now."
            )
        )
        return _setup_page(form=form, status=422)
    codes = totp.make_recovery_codes(user)
    audit.record("totp_enabled", user.username)
    db.session.commit()
    session["recovery_codes"] = codes
    flash(_("The second factor is on."), "success")
    return redirect(url_for("auth.recovery_codes"))


@bp.get("/account/password/second-factor/codes")
@login_required
def recovery_codes():
    """The new recovery codes, shown this once."""
    codes = session.pop("recovery_codes", None)
    if not codes or not current_user.has_totp:
        return redirect(url_for("auth.second_factor_setup"))
    page = render_template("admin/recovery_codes.html", codes=codes)
    return page, 200, NO_STORE


def _password_confirmed(form: PasswordConfirmForm) -> bool:
    if not form.validate_on_submit():
        return False
    if current_user.check_password(form.password.data):
        return True
    form.password.errors.append(_("The password is wrong."))
    return False


@bp.post("/account/password/second-factor/codes/new")
@login_required
def new_recovery_codes():
    form = PasswordConfirmForm(prefix="codes")
    user = current_user._get_current_object()
    if not user.has_totp:
        return redirect(url_for("auth.second_factor_setup"))
    if not _password_confirmed(form):
        return _setup_page(codes_form=form, status=422)
    codes = totp.make_recovery_codes(user)
    audit.record("recovery_codes_made", user.username)
    db.session.commit()
    session["recovery_codes"] = codes
    return redirect(url_for("auth.recovery_codes"))


@bp.post("/account/password/second-factor/off")
@login_required
def turn_off_totp():
    form = PasswordConfirmForm(prefix="off")
    user = current_user._get_current_object()
    if totp.required_for(user):
        flash(_("The site requires a second factor for your account."), "error")
        return redirect(url_for("auth.second_factor_setup"))
    if not totp.secret_of(user):
        return redirect(url_for("auth.second_factor_setup"))
    if user.has_totp and not _password_confirmed(form):
        return _setup_page(off_form=form, status=422)
    enabled = user.has_totp
    totp.turn_off(user)
    if enabled:
        audit.record("totp_disabled", user.username)
    db.session.commit()
    if enabled:
        flash(_("The second factor is off."), "success")
    return redirect(url_for("auth.second_factor_setup"))

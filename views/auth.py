"""Blueprint "auth": /login, /logout and the login manager."""

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
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

from forms import LoginForm
from models import User, db, utcnow

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    # The id is "<user id>:<session token>" so that a password reset or a
    # deactivation ends every existing session of that user.
    uid, _sep, token = user_id.partition(":")
    if not uid.isdigit():
        return None
    user = db.session.get(User, int(uid))
    if user is None or user.session_token != token:
        return None
    return user


@login_manager.unauthorized_handler
def unauthorized():
    # Autosave and uploads call with fetch(): answer 401 JSON so the page can
    # keep the text and ask the user to log in again, instead of a redirect.
    login_url = url_for("auth.login", next=request.full_path.rstrip("?"))
    if request.is_json or request.accept_mimetypes.best == "application/json":
        message = _("Your session has expired. Please log in again.")
        return jsonify(error=message, login_url=login_url), 401
    flash(_("Please log in to continue."), "warning")
    return redirect(login_url)


def is_safe_next(target: str | None) -> bool:
    """Only follow `next` to a path on this site, never to another host."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return False
    if any(ch in target for ch in "\\\r\n\t") or any(ord(ch) < 32 for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("editor.dashboard"))
    form = LoginForm()
    next_url = request.args.get("next")
    if form.validate_on_submit():
        user = db.session.scalar(
            db.select(User).where(User.username == form.username.data.strip())
        )
        if user is None or not user.check_password(form.password.data):
            form.password.errors.append(_("Wrong username or password."))
        elif not user.active:
            form.username.errors.append(_("This account has been deactivated."))
        else:
            user.last_login_at = utcnow()
            db.session.commit()
            login_user(user, remember=form.remember.data)
            if is_safe_next(next_url):
                return redirect(next_url)
            return redirect(url_for("editor.dashboard"))
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
    return render_template("auth/change_password.html")

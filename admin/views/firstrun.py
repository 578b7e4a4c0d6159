"""Blueprint "firstrun", /admin: the first-run setup and clearing the demo."""

from flask import (
    Blueprint,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from admin import accounts, passwords
from admin.sessions import relogin, rotate_session_token
from admin.settings import LogoError, drop_fixed_site_url, save_settings
from core import audit, errors, siteurl
from core.errors import json_error, wants_json
from core.i18n import display_size
from core.permissions import admin_required
from forms import ConfirmForm, SetupForm
from models import Duty, Role, db, get_settings, set_setting
from operations import democlear

bp = Blueprint("firstrun", __name__, url_prefix="/admin")

SCHOOL_FIELDS = ("school_name", "phone", "address", "icp_number", "psb_number")
# Everything staff reach after logging in; the readers' pages, the files
# they show, login and logout stay open.
_GATED_BLUEPRINTS = ("editor", "admin", "firstrun")
_GATED_PREFIXES = ("/editor/", "/admin/", "/account/")


def _gated() -> bool:
    if request.endpoint == "firstrun.setup":
        return False
    return (
        request.blueprint in _GATED_BLUEPRINTS
        or request.path.startswith(_GATED_PREFIXES)
        or request.endpoint == "auth.change_password"
    )


@bp.before_app_request
def _setup_comes_first():
    # Reader pages return before current_user is loaded: no query for them.
    if not _gated() or not current_user.is_authenticated:
        return None
    if not current_user.needs_setup:
        return None
    setup_url = url_for("firstrun.setup")
    if wants_json():
        message = _("Please finish the first-run setup first.")
        return json_error(message, 403, location=setup_url)
    return redirect(setup_url)


def _address_in_use() -> str:
    """The address the admin reached this page at, offered as the site's.

    Not a loopback one: the server's own name is not where readers are, and
    saving it would turn every reader away.
    """
    name = siteurl.hostname(request.host)
    if not name or name in siteurl.LOCAL_HOSTS:
        return ""
    return request.host_url.rstrip("/")


def _render_setup(form: SetupForm, status: int = 200):
    response = render_template(
        "admin/setup.html",
        form=form,
        demo_state=get_settings()["demo_state"],
        password_hint=accounts.password_hint(),
    )
    # The page may carry the passwords just typed back: never keep a copy.
    return response, status, {"Cache-Control": "no-store"}


@bp.route("/setup", methods=["GET", "POST"])
@admin_required  # init-db's generated account is an administrator
def setup():
    user = current_user._get_current_object()
    if not user.needs_setup:
        return redirect(url_for("editor.dashboard"))
    form = SetupForm()
    drop_fixed_site_url(form)
    if request.method == "GET":
        settings = get_settings()
        for key in SCHOOL_FIELDS:
            form[key].data = settings[key]
        if form.site_url:
            form.site_url.data = settings["site_url"] or _address_in_use()
        return _render_setup(form)
    valid = form.validate_on_submit()
    # Checked even when the form is not: every problem is shown at once.
    if not (_check_accounts(form, user) and valid):
        return _render_setup(form, 400)
    new = {key: form[key].data or "" for key in SCHOOL_FIELDS}
    if not new["school_name"]:
        del new["school_name"]  # left for later: keep the current name
    if form.site_url:
        new["site_url"] = form.site_url.data or ""
    _save_accounts(form, user)
    try:
        save_settings(new, form.logo.data)  # commits the accounts too
    except LogoError as error:
        db.session.rollback()
        form.logo.errors.append(str(error))
        return _render_setup(form, 400)
    relogin(user)
    flash(_("Setup is complete. Welcome!"), "success")
    return redirect(url_for("editor.dashboard"))


# The two accounts 分设三员 creates: (form field prefix, its role).
OTHER_ADMINS = (("security", Duty.SECURITY), ("audit", Duty.AUDIT))


def _check_accounts(form: SetupForm, user) -> bool:
    """Names free and not default ones, passwords the policy accepts; the
    errors go on the form's fields."""
    taken = {}  # lower-cased name -> the field that uses it

    def check_name(field, exclude=None) -> None:
        if field.errors or not field.data:
            return
        problem = accounts.username_problem(field.data, exclude)
        if not problem and field.data.lower() in taken:
            problem = _("Give each administrator a user name of their own.")
        if problem:
            field.errors.append(problem)
        taken[field.data.lower()] = field

    def check_password(field, name, account=None) -> None:
        if field.errors or field.data is None:
            return
        if not field.data:
            field.errors.append(_("This field is required."))
            return
        field.errors.extend(passwords.check(field.data, account, username=name))

    check_name(form.username, exclude=user)
    if not form.new_password.errors and user.check_password(form.new_password.data):
        form.new_password.errors.append(
            _("The new password must differ from the current one.")
        )
    check_password(form.new_password, form.username.data, user)
    if form.mode.data == "separate":
        for prefix, _duty in OTHER_ADMINS:
            name = form[f"{prefix}_username"]
            if not name.errors:
                if not name.data:
                    name.errors.append(_("This field is required."))
                else:
                    check_name(name)
            check_password(form[f"{prefix}_password"], name.data)
    return not any(field.errors for field in form)


def _save_accounts(form: SetupForm, user) -> None:
    """Rename the generated administrator, set their password, and share out
    the management roles as chosen (not committed)."""
    single = form.mode.data == "single"
    if user.username != form.username.data:
        audit.record("user_updated", f"{user.username} → {form.username.data}")
        user.username = form.username.data
    passwords.change(user, form.new_password.data)
    rotate_session_token(user)
    user.needs_setup = False
    user.security_admin = user.audit_admin = single
    set_setting("single_admin", "1" if single else "0")
    audit.record("single_admin_changed", "on" if single else "off")
    if not single:
        for prefix, duty in OTHER_ADMINS:
            other = accounts.new_account(
                form[f"{prefix}_username"].data,
                form[f"{prefix}_display_name"].data or form[f"{prefix}_username"].data,
                form[f"{prefix}_password"].data,
                role=Role.MANAGER,
                security_admin=duty == Duty.SECURITY,
                audit_admin=duty == Duty.AUDIT,
            )
            audit.record("user_created", f"{other.username} ({other.role})")
            audit.record("duty_changed", other.username, detail=f"+{duty}")
    audit.record("setup_completed", user.username)


@bp.errorhandler(CSRFError)
def _stale_form(error):
    # A setup page left open past the session's idle time: show what was
    # typed again with a fresh token instead of a bare error page.
    if request.endpoint != "firstrun.setup" or not (
        current_user.is_authenticated and current_user.needs_setup
    ):
        return errors.stale_form()
    form = SetupForm()  # filled in from the request; renders a fresh token
    drop_fixed_site_url(form)
    form.new_password.errors = [
        _("The page was too old to be saved. Check the form and save it again.")
    ]
    return _render_setup(form, 400)


SETTING_LABELS = {
    "school_name": _l("School name"),
    "phone": _l("Contact phone"),
    "address": _l("Address"),
    "footer_text": _l("Footer text"),
    "icp_number": _l("ICP filing number"),
    "psb_number": _l("Public security filing number"),
    "logo_id": _l("Logo"),
}


@bp.get("/demo")
@admin_required
def demo_content():
    plan = democlear.make_plan()
    return render_template(
        "admin/demo.html",
        plan=plan,
        form=ConfirmForm(),
        labels=SETTING_LABELS,
        upload_size=display_size(plan.upload_bytes),
    )


@bp.post("/demo/clear")
@admin_required
def clear_demo():
    form = ConfirmForm()
    if not form.validate_on_submit():
        flash(_("The form had expired. Please try again."), "error")
        return redirect(url_for("firstrun.demo_content"))
    cleared = democlear.clear()
    flash(
        _(
            "The demo content has been cleared: %(posts)d posts, %(sections)d "
            "sections and %(files)d files removed.",
            posts=cleared.posts,
            sections=cleared.sections,
            files=cleared.files,
        ),
        "success",
    )
    return redirect(url_for("firstrun.demo_content"))

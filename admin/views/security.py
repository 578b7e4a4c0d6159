"""Blueprint "security", /admin/security: the security administrator's page
(安全管理员): password and login policy, second factor, dormant accounts,
audit retention; unlocking accounts and resetting a user's second factor."""

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from admin import accounts, throttle, totp
from core import audit
from core.permissions import security_admin_required
from forms import ConfirmForm, SecurityPolicyForm, UnlockForm
from models import User, db, get_settings, set_setting

bp = Blueprint("security", __name__, url_prefix="/admin/security")

# 网络安全法 art. 21: network logs are kept at least six months.
MIN_AUDIT_RETENTION_DAYS = 180
NUMBERS = (
    "password_min_length",
    "password_history",
    "password_max_age_days",
    "password_warn_days",
    "dormant_days",
    "audit_retention_days",
)
CHOICES = ("password_classes", "totp_required")


def _form_from_settings(settings: dict) -> SecurityPolicyForm:
    form = SecurityPolicyForm(formdata=None)
    for key in NUMBERS:
        try:
            form[key].data = int(settings[key])
        except ValueError:
            form[key].data = None
    for key in CHOICES:
        form[key].data = settings[key]
    form.dormant_auto_disable.data = settings["dormant_auto_disable"] == "1"
    return form


def _render(form: SecurityPolicyForm, status: int = 200):
    users = db.session.scalars(
        sa.select(User).where(User.active.is_(True)).order_by(User.username)
    ).all()
    return (
        render_template(
            "admin/security.html",
            form=form,
            failed=throttle.failed_accounts(),
            ceiling=throttle.ACCOUNT_CEILING,
            with_totp=[u for u in users if u.has_totp],
            without_totp=[u for u in users if not u.has_totp],
            required_for=totp.required_for,
            settings=get_settings(),
            unlock_form=UnlockForm(formdata=None),
            confirm_form=ConfirmForm(),
        ),
        status,
    )


@bp.get("")
@security_admin_required
def page():
    return _render(_form_from_settings(get_settings()))


@bp.post("")
@security_admin_required
def save():
    form = SecurityPolicyForm()
    if not form.validate_on_submit():
        return _render(form, 422)
    if form.audit_retention_days.data < MIN_AUDIT_RETENTION_DAYS:
        form.audit_retention_days.errors.append(
            _(
                "Keep audit events at least %(num)d days: the Cybersecurity Law "
                "(网络安全法), article 21, asks for network logs of at least six "
                "months.",
                num=MIN_AUDIT_RETENTION_DAYS,
            )
        )
        return _render(form, 422)
    settings = get_settings()
    new = {key: str(form[key].data) for key in NUMBERS}
    new.update({key: form[key].data for key in CHOICES})
    new["dormant_auto_disable"] = "1" if form.dormant_auto_disable.data else "0"
    changes = [
        f"{key}: {settings[key]} → {value}"
        for key, value in new.items()
        if settings[key] != value
    ]
    if not changes:
        flash(_("Nothing was changed."), "info")
        return redirect(url_for("security.page"))
    for key, value in new.items():
        set_setting(key, value)
    audit.record("policy_changed", "security_policy", detail="; ".join(changes))
    db.session.commit()
    flash(_("The security policy has been saved."), "success")
    return redirect(url_for("security.page"))


@bp.post("/unlock")
@security_admin_required
def unlock():
    """解除锁定: forget an account's failed logins from every address."""
    form = UnlockForm()
    if form.validate_on_submit():
        name = form.username.data.strip().lower()
        forgotten = throttle.unlock(name)
        audit.record("account_unlocked", name, detail=str(forgotten))
        db.session.commit()
        flash(_("The account %(name)s can log in again.", name=name), "success")
    else:
        flash(_("The form had expired. Please try again."), "error")
    return redirect(url_for("security.page", _anchor="failures"))


@bp.post("/users/<int:user_id>/totp/reset")
@security_admin_required
def reset_totp(user_id):
    """A user lost the phone and the recovery codes: they log in with the
    password alone and set the second factor up again."""
    user = db.get_or_404(User, user_id)
    form = ConfirmForm()
    elsewhere = accounts.login_elsewhere(user)
    if not form.validate_on_submit():
        flash(_("The form had expired. Please try again."), "error")
    elif elsewhere:
        flash(elsewhere, "error")
    elif totp.secret_of(user):
        totp.turn_off(user)
        audit.record("totp_reset", user.username)
        db.session.commit()
        flash(
            _("The second factor of %(name)s has been reset.", name=user.username),
            "success",
        )
    return redirect(url_for("security.page", _anchor="second-factor"))

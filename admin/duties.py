"""The separated management roles (三员 of 等保 2.0): who may hold which, and
who may manage whom. Every page that grants a role or touches an account of
a management role asks here, so the rules live in one place.

- The system administrator (Duty.SYSTEM, role "admin") runs the site and
  manages accounts, except accounts holding the security or audit role.
- The security administrator manages those accounts (passwords, the two
  roles themselves), the password and login policy, the word list, unlocks.
- The audit administrator reads and exports the audit log, nothing else.

Without 单人模式 (setting single_admin) the audit role goes with neither of
the others, so no account holds all three; with it one account may. The last
active holder of a role keeps it: the site is never left without one.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from core import audit
from models import Duty, Role, User, db, get_settings, set_setting

LABELS = {
    Duty.SYSTEM: _l("System administrator"),
    Duty.SECURITY: _l("Security administrator"),
    Duty.AUDIT: _l("Audit administrator"),
}
# The roles the system administrator may not grant, remove or override.
GUARDED = (Duty.SECURITY, Duty.AUDIT)


def single_admin(settings: dict | None = None) -> bool:
    return (settings or get_settings())["single_admin"] == "1"


def combination_problem(duties, single: bool | None = None) -> str | None:
    """Why an account may not hold these roles together, or None."""
    if single is None:
        single = single_admin()
    duties = set(duties)
    if single or Duty.AUDIT not in duties or len(duties) == 1:
        return None
    return _(
        "The audit administrator cannot also be the system or security "
        "administrator, unless the site runs in «single administrator mode»."
    )


def forbidden_holders() -> list[User]:
    """Accounts holding roles that only 单人模式 allows together."""
    users = db.session.scalars(
        sa.select(User)
        .where(
            User.audit_admin.is_(True),
            sa.or_(User.role == Role.ADMIN, User.security_admin.is_(True)),
        )
        .order_by(User.username)
    )
    return list(users)


def _holds(duty: str):
    return {
        Duty.SYSTEM: User.role == Role.ADMIN,
        Duty.SECURITY: User.security_admin.is_(True),
        Duty.AUDIT: User.audit_admin.is_(True),
    }[duty]


def active_holders(duty: str) -> list[User]:
    return list(
        db.session.scalars(
            sa.select(User)
            .where(_holds(duty), User.active.is_(True))
            .order_by(User.username)
        )
    )


def is_last_holder(user: User, duty: str) -> bool:
    """True when the user is the only active account holding the role."""
    if not user.active or duty not in user.duties:
        return False
    others = db.session.scalar(
        sa.select(sa.func.count(User.id)).where(
            _holds(duty), User.active.is_(True), User.id != user.id
        )
    )
    return not others


def last_held(user: User) -> list[str]:
    """The roles the site would lose with this account."""
    return [duty for duty in user.duties if is_last_holder(user, duty)]


def last_holder_message(user: User, duty: str) -> str:
    return _(
        "%(name)s is the only active %(role)s: the site needs one. Give the role "
        "to another account first.",
        name=user.username,
        role=LABELS[duty],
    )


def is_guarded(user: User) -> bool:
    """Accounts the system administrator may not manage."""
    return user.security_admin or user.audit_admin


def may_manage(actor: User, target: User) -> bool:
    """May the actor edit, reset, deactivate or log out the target account?

    An account holding the security or audit role is the security
    administrator's to manage; every other account is the system
    administrator's.
    """
    if is_guarded(target):
        return actor.is_security_admin
    return actor.is_admin


def deactivation_problem(actor: User, target: User) -> str | None:
    """Why the actor may not deactivate the target, or None."""
    if target.id == actor.id:
        return _("You cannot deactivate your own account.")
    if not may_manage(actor, target):
        if is_guarded(target):
            return _("Only the security administrator manages this account.")
        return _("Only the system administrator manages this account.")
    for duty in last_held(target):
        return last_holder_message(target, duty)
    return None


def set_duty(actor: User, target: User, duty: str, on: bool) -> str | None:
    """Grant or remove the security or audit role (audited, not committed);
    why it was refused, or None."""
    if duty not in GUARDED or not actor.is_security_admin:
        return _("Only the security administrator grants or removes this role.")
    if (duty in target.duties) == on:
        return None
    if on:
        problem = combination_problem({*target.duties, duty})
        if problem:
            return problem
    elif is_last_holder(target, duty):
        return last_holder_message(target, duty)
    if duty == Duty.SECURITY:
        target.security_admin = on
    else:
        target.audit_admin = on
    audit.record("duty_changed", target.username, detail=("+" if on else "-") + duty)
    return None


def role_problem(actor: User, target: User, role: str) -> str | None:
    """Why the actor may not give the target this role (author, editor,
    admin: admin is the system administrator's duty), or None."""
    if role == target.role:
        return None
    if not actor.is_admin:
        return _("Only the system administrator changes roles.")
    if target.id == actor.id:
        return _("You cannot remove your own administrator role.")
    if role == Role.ADMIN:
        duties = {*target.duties, Duty.SYSTEM}
        return combination_problem(duties)
    if target.role == Role.ADMIN and is_last_holder(target, Duty.SYSTEM):
        return _("The site needs at least one active administrator.")
    return None


def set_single_admin(on: bool) -> str | None:
    """Switch 单人模式 (audited, not committed); why it was refused, or None."""
    if single_admin() == on:
        return None
    if not on:
        holders = forbidden_holders()
        if holders:
            return _(
                "Single administrator mode stays on: %(names)s still hold the "
                "audit role together with another management role. Remove one "
                "of them first.",
                names=", ".join(user.username for user in holders),
            )
    set_setting("single_admin", "1" if on else "0")
    audit.record("single_admin_changed", "on" if on else "off")
    return None


def only_audits(user: User) -> bool:
    """An account that is there to read the audit log and nothing else."""
    return user.duties == (Duty.AUDIT,) and user.role in (Role.AUTHOR, Role.MANAGER)

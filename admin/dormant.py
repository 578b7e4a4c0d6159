"""Dormant accounts: staff who left keep an account nobody uses. Accounts
unused for dormant_days (a setting) are listed on the users page, which
disables them in one step; with dormant_auto_disable, they are disabled the
moment anyone tries them, and when the users page is opened."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from admin import accounts, duties
from models import User, db, get_settings, utcnow


def days(settings: dict | None = None) -> int:
    settings = settings or get_settings()
    try:
        return max(1, int(settings["dormant_days"]))
    except ValueError:
        return 180


def last_used(user: User) -> datetime:
    """When the account was last used: its last login, else its creation."""
    return user.last_login_at or user.created_at


def cutoff(settings: dict | None = None) -> datetime:
    return utcnow() - timedelta(days=days(settings))


def is_dormant(user: User, settings: dict | None = None) -> bool:
    return user.active and last_used(user) < cutoff(settings)


def dormant_users() -> list[User]:
    """Active accounts unused for dormant_days, longest unused first."""
    used = sa.func.coalesce(User.last_login_at, User.created_at)
    return list(
        db.session.scalars(
            sa.select(User)
            .where(User.active.is_(True), used < cutoff())
            .order_by(used, User.id)
        )
    )


def disable_if_dormant(user: User) -> bool:
    """With dormant_auto_disable on, disable a dormant account (audited, not
    committed). True when it was disabled. The last active holder of a
    management role is kept: the site would have nobody to turn it on again."""
    settings = get_settings()
    if settings["dormant_auto_disable"] != "1" or not is_dormant(user, settings):
        return False
    if duties.last_held(user):
        return False
    disable(user, automatic=True)
    return True


def disable_all(actor: User | None) -> list[User]:
    """Disable every dormant account the actor may deactivate (not their
    own, not one they may not manage, not the last holder of a management
    role); with no actor, as dormant_auto_disable does, every one but the
    last holders. Audited, not committed; the accounts disabled."""
    disabled = []
    for user in dormant_users():
        if actor is None:
            refused = bool(duties.last_held(user))
        else:
            refused = duties.deactivation_problem(actor, user) is not None
        if not refused:
            disable(user, automatic=actor is None)
            disabled.append(user)
    return disabled


def disable(user: User, *, automatic: bool = False) -> None:
    """Disable one dormant account and end its sessions (not committed)."""
    accounts.deactivate(
        user, "dormant_disabled", detail="automatic" if automatic else ""
    )
